"""What the service achieved: wait, detour, occupancy, km per passenger, refusals, and
demand by town area and hour (the heat map), plus the independent checker on what was driven.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from cityos.services.ondemand.checker import check_solution
from cityos.services.ondemand.dispatch import (
    CANCELLED,
    DECLINED,
    DONE,
    MAX_RIDE,
    NO_SHOW,
    REFUSED,
    Dispatcher,
    Ride,
)
from cityos.services.ondemand.geo import Point, drive_minutes, km_of_minutes, project
from cityos.services.ondemand.model import Instance

EPS = 1e-6


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, math.ceil(q * len(s)) - 1)]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def area_of(ride: Ride) -> str:
    """The area a ride is counted under: the home end of it."""
    return ride.origin.area if ride.origin.kind == "area" else ride.destination.area


def heat_map(rides: list[Ride]) -> dict[str, dict[str, int]]:
    """Requests by area and hour of the asked pickup: {area: {"HH": count}}."""
    out: dict[str, Counter[str]] = {}
    for r in rides:
        out.setdefault(area_of(r), Counter())[f"{int(r.earliest // 60):02d}"] += 1
    return {a: dict(sorted(c.items())) for a, c in sorted(out.items())}


def kept_promise(r: Ride) -> bool:
    """A served ride was picked up in its promised window, arrived in time, rode no longer
    than the maximum ride time."""
    if r.pickup_window is None or r.arrival_by is None or r.pickup_at is None or \
            r.dropoff_at is None:
        return False
    lo, hi = r.pickup_window
    return (lo - EPS <= r.pickup_at <= hi + EPS and r.dropoff_at <= r.arrival_by + EPS
            and r.dropoff_at - r.pickup_at - r.service <= MAX_RIDE + EPS)


def check_driven(d: Dispatcher) -> tuple[bool, list[str]]:
    """The independent checker (checker.py) on every car's driven route: served rides only,
    against the windows promised to them, the car's seats and shift, the maximum ride time."""
    bad: list[str] = []
    for car in d.cars.values():
        v = car.vehicle
        route = [s for s in car.route if d.rides[s[0]].status == DONE]
        ids = list(dict.fromkeys(rid for rid, _ in route))
        if not ids:
            continue
        rides = [d.rides[i] for i in ids]
        n = len(rides)
        rows: list[tuple[float, float, float, int, float, float]] = []
        dx, dy = project(v.depot)
        depot = (dx, dy, 0.0, 0, v.shift_start, v.shift_end)
        for part in ("p", "d"):
            for r in rides:
                x, y = project(r.origin.where if part == "p" else r.destination.where)
                assert r.pickup_window is not None and r.arrival_by is not None
                win = r.pickup_window if part == "p" else (0.0, r.arrival_by)
                load = r.passengers if part == "p" else -r.passengers
                rows.append((x, y, r.service, load, *win))
        inst = Instance.build(v.id, 1, v.capacity, v.shift_end - v.shift_start, MAX_RIDE,
                              [depot, *rows, depot])
        index = {r.id: k for k, r in enumerate(rides)}
        nodes = [index[rid] + 1 + (n if kind == "d" else 0) for rid, kind in route]
        check = check_solution(inst, [nodes])
        bad += [f"{v.id}: {x}" for x in check.violations]
        if not d._fits(v, route):
            bad.append(f"{v.id}: seats or wheelchair places exceeded")
    return not bad, bad


def _driven(d: Dispatcher) -> tuple[float, float]:
    """(vehicle minutes driven, passenger minutes aboard while driving), depot to depot."""
    drive = pax = 0.0
    for car in d.cars.values():
        here: Point = car.vehicle.depot
        aboard = 0
        for rid, kind in car.route[: car.done]:
            r = d.rides[rid]
            to = r.origin.where if kind == "p" else r.drop_point
            m = drive_minutes(here, to)
            drive += m
            pax += m * aboard
            if r.status != NO_SHOW:
                aboard += r.passengers if kind == "p" else -r.passengers
            here = to
        if car.done:
            drive += drive_minutes(here, car.vehicle.depot)
    return drive, pax


def kpis(d: Dispatcher) -> dict[str, Any]:
    """Every figure the console and `cityos ondemand simulate` show."""
    rides = list(d.rides.values())
    served = [r for r in rides if r.status == DONE]
    status = Counter(r.status for r in rides)
    waits = [r.pickup_at - r.earliest for r in served if r.pickup_at is not None]
    detours = [(r.dropoff_at - r.pickup_at - r.service) / r.direct for r in served
               if r.dropoff_at is not None and r.pickup_at is not None and r.direct > 1.0]
    rode = sum(r.dropoff_at - r.pickup_at - r.service for r in served
               if r.dropoff_at is not None and r.pickup_at is not None)
    direct = sum(r.direct for r in served)
    drive, pax = _driven(d)
    people = sum(r.passengers for r in served)
    km = km_of_minutes(drive)
    offers = [r.offer_ms for r in rides if r.offer_ms is not None]
    return {
        "requests": len(rides),
        "served": len(served),
        "passengers": people,
        "refused": status[REFUSED],
        "refused_share": round(status[REFUSED] / len(rides), 3) if rides else 0.0,
        "cancelled": status[CANCELLED] + status[DECLINED],
        "no_shows": status[NO_SHOW],
        "promises_kept": sum(1 for r in served if kept_promise(r)),
        "wait_min_mean": round(_mean(waits), 1),
        "wait_min_p95": round(_pct(waits, 0.95), 1),
        "detour_factor_mean": round(_mean(detours), 2),
        "detour_factor_total": round(rode / direct, 2) if direct else 0.0,
        "occupancy": round(pax / drive, 2) if drive else 0.0,
        "vehicle_km": round(km, 1),
        "km_per_passenger": round(km / people, 2) if people else 0.0,
        "offer_p50_ms": round(_pct(offers, 0.5), 1),
        "offer_p95_ms": round(_pct(offers, 0.95), 1),
        "offer_max_ms": round(max(offers, default=0.0), 1),
        "improvements_kept": d.improved,
        "improvement_saved_km": round(km_of_minutes(d.saved), 1),
    }
