"""A day of the service in simulated time: residents book, cars follow the plan.

Bookings, cancellations and the background re-optimisation happen in order of their
simulated minute; each re-optimisation runs for a real time budget while the simulated
clock stands still. The offer latency is measured in real time.
"""

from __future__ import annotations

import heapq
from typing import Any

from cityos.services.ondemand.demand import Ask, day
from cityos.services.ondemand.dispatch import Dispatcher
from cityos.services.ondemand.fleet import Vehicle, demo_fleet
from cityos.services.ondemand.kpi import check_driven, heat_map, kpis
from cityos.services.ondemand.solver import warm_up

REOPT_EVERY = 15.0  # simulated minutes between background re-optimisations


def simulate(requests: int = 300, seed: int = 1, fleet: list[Vehicle] | None = None,
             reopt_seconds: float = 0.3) -> tuple[Dispatcher, dict[str, Any]]:
    """Run one day; returns the dispatcher (every ride and route) and the summary."""
    warm_up()
    fleet = fleet or demo_fleet()
    asks = day(requests, seed)
    d = Dispatcher(fleet, now=min(v.shift_start for v in fleet) - 60)
    events: list[tuple[float, int, str, Any]] = []
    for k, a in enumerate(asks):
        heapq.heappush(events, (a.at, k, "ask", a))
    t, end = d.now, max(v.shift_end for v in fleet)
    while t < end:
        t += REOPT_EVERY
        heapq.heappush(events, (t, len(asks) + int(t), "reopt", None))
    no_show: set[str] = set()
    booked: dict[int, str] = {}
    while events:
        at, k, kind, a = heapq.heappop(events)
        d.advance(at, absent=lambda r: r.id in no_show)
        if kind == "ask":
            ask: Ask = a
            ride = d.new_ride(ask.origin, ask.destination, ask.passengers, ask.wheelchair,
                              ask.earliest, ask.latest, resident=ask.resident)
            offer = d.offer(ride)
            if offer.ok:
                d.confirm(ride.id)
                booked[k] = ride.id
                if ask.no_show:
                    no_show.add(ride.id)
                if ask.cancel_at is not None:
                    heapq.heappush(events, (ask.cancel_at, k, "cancel", ride.id))
        elif kind == "cancel":
            d.cancel(a)
        elif kind == "reopt" and reopt_seconds > 0:
            d.reoptimise(reopt_seconds, seed=seed + k)
    d.advance(24 * 60.0, absent=lambda r: r.id in no_show)
    feasible, violations = check_driven(d)
    out: dict[str, Any] = {"seed": seed, "vehicles": len(fleet), **kpis(d),
                           "feasible": feasible, "violations": violations[:10],
                           "demand_by_area_hour": heat_map(list(d.rides.values()))}
    return d, out
