"""Dispatch as a dynamic dial-a-ride problem: offers at once, re-optimisation in the background.

Each booking is inserted at once into the car where it costs least (dynamic.insert_trip on
that car's own instance: its seats, wheelchair places, shift); the offer is the planned
pickup narrowed to a promised window, and an arrival time. Once promised, a window is part
of the instance, so no later plan can break it. `reoptimise` runs the optimiser
(dynamic.improve) over the whole fleet and keeps its plan only if it is cheaper, keeps every
car's started stops, and passes the independent checker car by car.

Time is minutes after midnight (JST) of the service day; travel time from geo.py.
Cars leave a stop just in time for the next one, so a car that has not left is where the
plan says it is; once it has left, its next stop is pinned.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from cityos.services.ondemand.checker import check_solution
from cityos.services.ondemand.dynamic import freeze, improve, insert_trip
from cityos.services.ondemand.fleet import Vehicle
from cityos.services.ondemand.geo import Point, drive_minutes, project
from cityos.services.ondemand.model import Instance, route_cost
from cityos.services.ondemand.stops import Stop

SERVICE = 1.0  # minutes to get on or off
SERVICE_WHEELCHAIR = 4.0  # with the ramp
MAX_RIDE = 45.0  # no one rides longer (minutes), whatever else is promised
PROMISE_BEFORE = 5.0  # the promised pickup window opens this long before the planned time
PROMISE_WIDTH = 15.0  # ... and is this wide
EXTRA_RIDE = 10.0  # asked arrival: the slot's latest pickup + direct ride + this
SLOT, SLOT_STEP = 20.0, 15.0  # the asked window is tried in slots this wide, this far apart
ARRIVAL_MARGIN = 5.0  # promised arrival: planned arrival + this (within what was asked)
NOW_LEAD = 10.0  # "now" means a pickup from now + this ...
NOW_WAIT = 50.0  # ... to that + this
HOLD = 3.0  # an offer not confirmed within this many minutes is withdrawn

PENDING, OFFERED, CONFIRMED, ONBOARD, DONE = "pending", "offered", "confirmed", "onboard", "done"
REFUSED, DECLINED, CANCELLED, NO_SHOW = "refused", "declined", "cancelled", "no_show"
LIVE = (OFFERED, CONFIRMED, ONBOARD)
Stopref = tuple[str, str]  # (ride id, "p" pickup | "d" drop-off)


@dataclass
class Ride:
    """A booking and what became of it. Windows and times in minutes of the service day."""

    id: str
    origin: Stop
    destination: Stop
    passengers: int
    wheelchair: bool
    earliest: float  # asked pickup window
    latest: float
    booked_at: float
    arrive_by: float | None = None  # asked latest arrival, if any
    resident: str | None = None
    status: str = PENDING
    vehicle: str | None = None
    pickup_window: tuple[float, float] | None = None  # promised
    arrival_by: float | None = None  # promised
    planned_pickup: float | None = None
    planned_dropoff: float | None = None
    pickup_at: float | None = None  # done (or the car's pinned next stop: see `pinned`)
    dropoff_at: float | None = None
    offered_at: float | None = None
    offer_ms: float | None = None
    pinned: dict[str, float] = field(default_factory=dict)  # stop kind -> fixed time
    slot: tuple[float, float] | None = None  # the part of the asked window being tried

    @property
    def service(self) -> float:
        return SERVICE_WHEELCHAIR if self.wheelchair else SERVICE

    @property
    def direct(self) -> float:
        """Minutes of driving straight from origin to destination."""
        return drive_minutes(self.origin.where, self.destination.where)

    @property
    def drop_point(self) -> Point:
        """Where the drop-off stop is: for a no-show, where the car waited in vain."""
        return self.origin.where if self.status == NO_SHOW else self.destination.where

    def asked_pickup(self) -> tuple[float, float]:
        return self.slot or (self.earliest, self.latest)

    def asked_dropoff(self) -> tuple[float, float]:
        earliest, latest = self.asked_pickup()
        lo = earliest + self.service + self.direct
        hi = math.ceil(latest + self.service + self.direct + EXTRA_RIDE)
        if self.arrive_by is not None:
            hi = min(hi, math.floor(self.arrive_by))
        return lo, float(hi)

    def windows(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """(pickup, drop-off) windows the plan must meet: pinned, else promised, else asked."""
        pick = self.pickup_window or self.asked_pickup()
        drop = self.asked_dropoff()
        if self.arrival_by is not None:
            drop = (drop[0], self.arrival_by)
        if "p" in self.pinned:
            t = self.pinned["p"]
            pick = (t, t)
            drop = (min(drop[0], t + self.service), drop[1])
        if "d" in self.pinned:
            t = self.pinned["d"]
            drop = (t, t)
        return pick, drop


@dataclass
class Offer:
    """What the resident sees before confirming (or why not)."""

    ride: Ride
    ok: bool
    pickup_window: tuple[float, float] | None = None
    arrival_by: float | None = None
    vehicle: str | None = None
    ms: float = 0.0


@dataclass
class Car:
    vehicle: Vehicle
    route: list[Stopref] = field(default_factory=list)  # every stop, done ones included
    done: int = 0  # route[:done] have happened


class Dispatcher:
    """The live plan of one service day: thread-safe; all times in minutes of that day."""

    def __init__(self, fleet: list[Vehicle], now: float = 0.0) -> None:
        self.cars = {v.id: Car(v) for v in fleet}
        self.rides: dict[str, Ride] = {}
        self.now = now
        self.version = 0  # bumped by every change of the plan
        self.lock = threading.RLock()
        self.improved = 0  # background improvements kept
        self.saved = 0.0  # minutes of driving they saved
        self._seq = itertools.count(1)

    # --- instances -----------------------------------------------------------------------
    def _kept(self, car: Car) -> list[Stopref]:
        """The car's stops the optimiser must see: pending ones and the last stop done."""
        keep = {rid for rid, _ in car.route[car.done :]}
        if car.done:
            keep.add(car.route[car.done - 1][0])
        return [s for s in car.route if s[0] in keep]

    def _rows(self, rides: list[Ride], after: float) -> list[tuple[float, float, float, int,
                                                                   float, float]]:
        picks, drops = [], []
        for r in rides:
            (pe, pl), (de, dl) = r.windows()
            if "p" not in r.pinned:
                pe = max(pe, after)
            if "d" not in r.pinned:
                de = max(de, after)
            ox, oy = project(r.origin.where)
            dx, dy = project(r.drop_point)
            picks.append((ox, oy, r.service, r.passengers, pe, pl))
            # a no-show's drop-off is where the car waited: no time of its own
            drops.append((dx, dy, 0.0 if r.status == NO_SHOW else r.service, -r.passengers,
                          de, dl))
        return [*picks, *drops]

    def _instance(self, vehicles: list[Vehicle], rides: list[Ride], after: float) -> Instance:
        """An optimiser instance for `rides` on `vehicles` (one depot, the largest car)."""
        start = min(v.shift_start for v in vehicles)
        end = max(v.shift_end for v in vehicles)
        dx, dy = project(vehicles[0].depot)
        depot = (dx, dy, 0.0, 0, start, end)
        rows = [depot, *self._rows(rides, after), depot]
        return Instance.build("ondemand", len(vehicles), max(v.capacity for v in vehicles),
                              end - start, MAX_RIDE, rows)

    @staticmethod
    def _nodes(route: list[Stopref], index: dict[str, int], n: int) -> list[int]:
        return [index[rid] + 1 + (n if kind == "d" else 0) for rid, kind in route]

    def _car_view(self, car: Car, extra: Ride | None = None,
                  at: float | None = None) -> tuple[Instance, list[Ride], list[Stopref], float]:
        """The car's own instance (pending stops after its free time), its rides and route."""
        route = self._kept(car)
        ids = list(dict.fromkeys(rid for rid, _ in route))
        rides = [self.rides[i] for i in ids] + ([extra] if extra else [])
        free = self._free_at(car, at)
        return self._instance([car.vehicle], rides, free), rides, route, free

    def _free_at(self, car: Car, at: float | None = None) -> float:
        """When the car can first change its plan: now (or `at`, the car's own time while it
        makes its stops), or when it reaches its pinned stop."""
        t = self.now if at is None else at
        if car.done:
            rid, kind = car.route[car.done - 1]
            t = max(t, self.rides[rid].pinned[kind] + self.rides[rid].service)
        for rid, kind in car.route[car.done :]:
            pin = self.rides[rid].pinned.get(kind)
            if pin is not None:
                t = max(t, pin)
        return t

    # --- schedule ------------------------------------------------------------------------
    def _schedule(self, car: Car, at: float | None = None) -> None:
        """Store planned times of the car's pending stops (the plan the car follows)."""
        inst, rides, route, _ = self._car_view(car, at=at)
        if not route:
            return
        index = {r.id: k for k, r in enumerate(rides)}
        nodes = self._nodes(route, index, len(rides))
        timed, _ = freeze(inst, [nodes], math.inf)
        if not all(math.isfinite(float(timed.tw_start[v])) for v in nodes):
            raise RuntimeError(f"{car.vehicle.id}: the plan has no schedule")  # never expected
        for (rid, kind), v in zip(route, nodes, strict=True):
            ride = self.rides[rid]
            t = float(timed.tw_start[v])
            if kind == "p" and ride.pickup_at is None:
                ride.planned_pickup = t
            elif kind == "d" and ride.dropoff_at is None:
                ride.planned_dropoff = t

    def _fits(self, vehicle: Vehicle, route: list[Stopref],
              extra: Ride | None = None) -> bool:
        """Seats and wheelchair places are never exceeded along the route."""
        seats = chairs = 0
        for rid, kind in route:
            r = extra if extra is not None and rid == extra.id else self.rides[rid]
            sign = 1 if kind == "p" else -1
            chair = 1 if r.wheelchair else 0
            chairs += sign * chair
            seats += sign * (r.passengers - chair)
            if seats > vehicle.seats or chairs > vehicle.wheelchair:
                return False
        return True

    # --- time passes ---------------------------------------------------------------------
    def advance(self, now: float, absent: Callable[[Ride], bool] | None = None) -> list[Stopref]:
        """Let the cars follow the plan up to `now`; returns the stops that happened.

        `absent(ride)` says, at a pickup, that nobody came (a no-show): the car leaves and
        the seat is free again.
        """
        happened: list[Stopref] = []
        with self.lock:
            self.now = max(self.now, now)
            for car in self.cars.values():  # first what happened, then what changes the plan
                happened += self._run(car, self.now, absent)
            if happened:
                self.version += 1
            for rid, ride in list(self.rides.items()):
                if ride.status == OFFERED and ride.offered_at is not None and \
                        self.now > ride.offered_at + HOLD and "p" not in ride.pinned:
                    self._drop(rid, DECLINED)
        return happened

    def _run(self, car: Car, until: float, absent: Callable[[Ride], bool] | None,
             only: int | None = None) -> list[Stopref]:
        """The car makes its planned stops up to `until` (or just `only` of them)."""
        happened: list[Stopref] = []
        while car.done < len(car.route) and (only is None or len(happened) < only):
            rid, kind = car.route[car.done]
            ride = self.rides[rid]
            t = ride.planned_pickup if kind == "p" else ride.planned_dropoff
            if t is None or (only is None and t > until):
                break
            ride.pinned[kind] = t
            if kind == "p":
                ride.pickup_at = t
                if absent is not None and absent(ride):
                    ride.status = NO_SHOW  # the drop-off becomes "leave right here"
                    ride.pinned["d"] = ride.dropoff_at = t + ride.service
                    ride.planned_dropoff = ride.dropoff_at
                    k = car.route.index((rid, "d"))
                    car.route.insert(car.done + 1, car.route.pop(k))
                    car.done += 1
                    happened.append((rid, kind))
                    # the stops after it are planned anew from the car's time, before they happen
                    self._schedule(car, at=t)
                    continue
                else:
                    ride.status = ONBOARD
            else:
                ride.dropoff_at = t
                if ride.status != NO_SHOW:
                    ride.status = DONE
            car.done += 1
            happened.append((rid, kind))
        self._pin_next(car)
        return happened

    def _pin_next(self, car: Car) -> None:
        """Pin the car's next stop once it must have left for it."""
        if car.done >= len(car.route):
            return
        rid, kind = car.route[car.done]
        ride = self.rides[rid]
        t = ride.planned_pickup if kind == "p" else ride.planned_dropoff
        if t is None or kind in ride.pinned:
            return
        if car.done:
            prid, pkind = car.route[car.done - 1]
            prev = self.rides[prid]
            here = prev.origin.where if pkind == "p" else prev.drop_point
        else:
            here = car.vehicle.depot
        here_to = ride.origin.where if kind == "p" else ride.drop_point
        if self.now >= t - drive_minutes(here, here_to):
            ride.pinned[kind] = t

    # --- bookings ------------------------------------------------------------------------
    def new_ride(self, origin: Stop, destination: Stop, passengers: int = 1,
                 wheelchair: bool = False, earliest: float | None = None,
                 latest: float | None = None, arrive_by: float | None = None,
                 resident: str | None = None, ride_id: str | None = None) -> Ride:
        """A booking asked at the current time (pickup "now" when no window is given)."""
        if earliest is None:
            earliest = math.ceil(self.now + NOW_LEAD)
        if latest is None:
            latest = earliest + NOW_WAIT
        rid = ride_id or f"r{next(self._seq):05d}"
        return Ride(rid, origin, destination, passengers, wheelchair, float(earliest),
                    float(latest), self.now, arrive_by=arrive_by, resident=resident)

    def offer(self, ride: Ride) -> Offer:
        """Insert the ride where it costs least and promise a pickup window and an arrival.

        The ride is held in the plan (status offered) until confirm(), cancel() or HOLD
        minutes pass; if no car can take it, it is refused.
        """
        t0 = time.perf_counter()
        with self.lock:
            self.rides[ride.id] = ride
            best = None
            for slot in self._slots(ride):
                ride.slot = slot
                best = self._cheapest(ride)
                if best is not None:
                    break
            if best is None:
                ride.status = REFUSED
                return Offer(ride, False, ms=self._ms(ride, t0))
            _, car, new_route = best
            # the stops done stay first, in the order they happened
            car.route = car.route[: car.done] + [s for s in new_route
                                                  if s not in car.route[: car.done]]
            ride.vehicle = car.vehicle.id
            ride.status = OFFERED
            ride.offered_at = self.now
            self._schedule(car)
            self._promise(ride)
            self.version += 1
            return Offer(ride, True, ride.pickup_window, ride.arrival_by, car.vehicle.id,
                         self._ms(ride, t0))

    @staticmethod
    def _slots(ride: Ride) -> list[tuple[float, float]]:
        """The asked pickup window in SLOT-wide parts, earliest first (shorter waits and
        shorter rides than the whole window at once)."""
        out = []
        lo = ride.earliest
        while True:
            hi = min(ride.latest, lo + SLOT)
            out.append((lo, hi))
            if hi >= ride.latest:
                return out
            lo += SLOT_STEP

    def _cheapest(self, ride: Ride) -> tuple[float, Car, list[Stopref]] | None:
        """The car where the ride costs least to insert, and its new route (or None)."""
        best: tuple[float, Car, list[Stopref]] | None = None
        for car in self.cars.values():
            v = car.vehicle
            if (ride.wheelchair and v.wheelchair < 1) or \
                    ride.passengers - (1 if ride.wheelchair else 0) > v.seats:
                continue
            if self._free_at(car) >= min(v.shift_end, ride.asked_pickup()[1]):
                continue
            inst, rides, route, free = self._car_view(car, ride)
            index = {r.id: k for k, r in enumerate(rides)}
            n = len(rides)
            nodes = self._nodes(route, index, n)
            out = insert_trip(inst, [nodes] if nodes else [], n, now=free)
            if out is None:
                continue
            new_nodes = out[0]
            back = {k + 1: (r.id, "p") for k, r in enumerate(rides)}
            back |= {k + 1 + n: (r.id, "d") for k, r in enumerate(rides)}
            new_route = [back[x] for x in new_nodes]
            if not self._fits(v, new_route):
                continue
            delta = route_cost(inst, new_nodes) - (route_cost(inst, nodes) if nodes else 0.0)
            if best is None or delta < best[0] - 1e-9:
                best = (delta, car, new_route)
        return best

    @staticmethod
    def _ms(ride: Ride, t0: float) -> float:
        ride.offer_ms = (time.perf_counter() - t0) * 1000.0
        return ride.offer_ms

    def _promise(self, ride: Ride) -> None:
        """Narrow the ride's windows around its planned times: the plan still meets them."""
        bp, bd = ride.planned_pickup, ride.planned_dropoff
        assert bp is not None and bd is not None
        earliest, latest = ride.asked_pickup()
        lo = max(earliest, math.floor(bp) - PROMISE_BEFORE)
        hi = min(latest, lo + PROMISE_WIDTH)
        _, asked_hi = ride.asked_dropoff()
        arrive = min(asked_hi, math.ceil(max(bd, hi + ride.service + ride.direct)) +
                     ARRIVAL_MARGIN)
        ride.pickup_window = (lo, max(hi, bp))
        ride.arrival_by = max(arrive, bd)

    def confirm(self, ride_id: str) -> bool:
        """The resident accepts the offer: the promise holds from now on."""
        with self.lock:
            ride = self.rides.get(ride_id)
            if ride is None or ride.status != OFFERED:
                return False
            ride.status = CONFIRMED
            return True

    def cancel(self, ride_id: str) -> bool:
        """Cancel before pickup (or withdraw an offer): the seats are free at once."""
        with self.lock:
            ride = self.rides.get(ride_id)
            if ride is None or ride.status not in (OFFERED, CONFIRMED) or "p" in ride.pinned:
                return False
            self._drop(ride_id, CANCELLED if ride.status == CONFIRMED else DECLINED)
            return True

    def _drop(self, ride_id: str, status: str) -> None:
        ride = self.rides[ride_id]
        ride.status = status
        ride.planned_pickup = ride.planned_dropoff = None
        car = self.cars.get(ride.vehicle or "")
        if car is not None:
            car.route = [s for s in car.route if s[0] != ride_id]
            self._schedule(car)
        self.version += 1

    def mark(self, ride_id: str, kind: str, absent: bool = False) -> bool:
        """The driver marks the car's next stop done: pickup ("p"), drop-off ("d") or, at a
        pickup, a no-show. The stop is recorded at its planned time (the plan is the clock
        the promises were made on); a no-show frees the seats at once."""
        with self.lock:
            ride = self.rides.get(ride_id)
            if ride is None or ride.vehicle is None or kind not in ("p", "d"):
                return False
            car = self.cars[ride.vehicle]
            if car.done >= len(car.route) or car.route[car.done] != (ride_id, kind):
                return False
            if absent and kind != "p":
                return False
            self._run(car, math.inf, (lambda r: r.id == ride_id) if absent else None, only=1)
            self.version += 1
            return True

    # --- background re-optimisation ------------------------------------------------------
    def reoptimise(self, seconds: float = 1.0, seed: int = 0) -> bool:
        """Improve the whole plan for `seconds`; keep it only if it is cheaper and sound.

        Safe to run in a worker thread while bookings go on: a plan computed on an older
        version is dropped.
        """
        with self.lock:
            cars = list(self.cars.values())
            if len({c.vehicle.depot for c in cars}) != 1:
                return False  # the optimiser has one depot: plan each car on its own then
            views = {c.vehicle.id: self._kept(c) for c in cars}
            ids = list(dict.fromkeys(rid for c in cars for rid, _ in views[c.vehicle.id]))
            if not ids:
                return False
            rides = [replace(self.rides[i], pinned=dict(self.rides[i].pinned)) for i in ids]
            index = {r.id: k for k, r in enumerate(rides)}
            n = len(rides)
            now = self.now
            inst = self._instance([c.vehicle for c in cars], rides, now)
            routes = [self._nodes(views[c.vehicle.id], index, n) for c in cars]
            prefixes = {c.vehicle.id: self._nodes([s for s in views[c.vehicle.id]
                                                   if s[1] in self.rides[s[0]].pinned],
                                                  index, n) for c in cars}
            before = sum(route_cost(inst, r) for r in routes if r)
            version = self.version
        sol = improve(inst, routes, now=now, time_limit=seconds, seed=seed)
        if sol.unserved:
            return False
        back = {k + 1: (r.id, "p") for k, r in enumerate(rides)}
        back |= {k + 1 + n: (r.id, "d") for k, r in enumerate(rides)}
        with self.lock:
            if self.version != version:
                return False
            old = {c.vehicle.id: list(c.route) for c in cars}
            for plan in self._assignments(cars, prefixes, sol.routes):
                after = sum(route_cost(inst, r) for r in plan.values() if r)
                if after >= before - 1e-6:
                    return False
                for car in cars:
                    new = [back[x] for x in plan[car.vehicle.id]]
                    car.route = car.route[: car.done] + [s for s in new
                                                          if s not in car.route[: car.done]]
                if all(self._fits(c.vehicle, c.route) and self.car_feasible(c) for c in cars):
                    for car in cars:
                        for rid, _ in car.route[car.done :]:
                            self.rides[rid].vehicle = car.vehicle.id
                        self._schedule(car)
                    self.version += 1
                    self.improved += 1
                    self.saved += before - after
                    return True
                for car in cars:
                    car.route = old[car.vehicle.id]
            return False

    @staticmethod
    def _assignments(cars: list[Car], prefixes: dict[str, list[int]],
                     routes: list[list[int]]) -> list[dict[str, list[int]]]:
        """Ways to give the new routes to the cars: a car that has started keeps its started
        stops; the others take the remaining routes in every order (at most 120 tried)."""
        plan: dict[str, list[int]] = {}
        left = [list(r) for r in routes]
        for car in cars:
            p = prefixes[car.vehicle.id]
            if not p:
                continue
            match = [r for r in left if r[: len(p)] == p]
            if len(match) != 1:
                return []
            plan[car.vehicle.id] = match[0]
            left.remove(match[0])
        free = [c.vehicle.id for c in cars if c.vehicle.id not in plan]
        if len(left) > len(free):
            return []
        left += [[] for _ in range(len(free) - len(left))]
        out = []
        for order in itertools.islice(itertools.permutations(left), 120):
            out.append(plan | dict(zip(free, order, strict=True)))
        return out

    # --- checks --------------------------------------------------------------------------
    def car_feasible(self, car: Car) -> bool:
        """The independent checker on the car's own instance (pending part of the plan)."""
        inst, rides, route, _ = self._car_view(car)
        if not route:
            return True
        index = {r.id: k for k, r in enumerate(rides)}
        check = check_solution(inst, [self._nodes(route, index, len(rides))])
        return check.feasible and self._fits(car.vehicle, route)

    def feasible(self) -> bool:
        with self.lock:
            return all(self.car_feasible(c) for c in self.cars.values())

    def next_stops(self, vehicle_id: str, count: int = 4) -> list[tuple[Ride, str, float]]:
        """The car's next stops: (ride, "p" | "d", planned time)."""
        with self.lock:
            car = self.cars[vehicle_id]
            out = []
            for rid, kind in car.route[car.done :][:count]:
                r = self.rides[rid]
                t = r.planned_pickup if kind == "p" else r.planned_dropoff
                out.append((r, kind, t if t is not None else math.nan))
            return out

    def moving(self, vehicle_id: str) -> bool:
        """Whether the car is driving now (it has left for its next stop)."""
        with self.lock:
            car = self.cars[vehicle_id]
            if car.done >= len(car.route):
                return False
            rid, kind = car.route[car.done]
            return kind in self.rides[rid].pinned

    def position(self, vehicle_id: str) -> tuple[Point, int]:
        """Where the car is now (following its plan) and how many people are aboard."""
        with self.lock:
            car = self.cars[vehicle_id]
            here = car.vehicle.depot
            aboard = 0
            for rid, kind in car.route[: car.done]:
                r = self.rides[rid]
                here = r.origin.where if kind == "p" else r.drop_point
                if r.status != NO_SHOW:
                    aboard += r.passengers if kind == "p" else -r.passengers
            if car.done < len(car.route):
                rid, kind = car.route[car.done]
                r = self.rides[rid]
                to = r.origin.where if kind == "p" else r.drop_point
                t = r.planned_pickup if kind == "p" else r.planned_dropoff
                if t is not None:
                    need = drive_minutes(here, to)
                    gone = self.now - (t - need)
                    if need > 0 and gone > 0:
                        f = min(1.0, gone / need)
                        here = (here[0] + (to[0] - here[0]) * f, here[1] + (to[1] - here[1]) * f)
            return here, aboard
