"""Dynamic dial-a-ride: insert a booking that arrives during the day into the running plan.

Rolling-horizon re-optimisation (Madsen et al. 1995; Berbeglia et al. 2010 survey of dynamic PDPs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from cityos.services.ondemand._insert import INF, best_insertion, make_scratch
from cityos.services.ondemand._route import eval_path, make_problem
from cityos.services.ondemand.model import Instance, Solution, solution_cost
from cityos.services.ondemand.solver import search


@dataclass(frozen=True)
class Trip:
    """A new booking: where and when to pick up and drop off, and how many seats."""

    pickup: tuple[float, float]
    dropoff: tuple[float, float]
    seats: int = 1
    service: float = 0.0
    pickup_window: tuple[float, float] = (0.0, 1440.0)
    dropoff_window: tuple[float, float] = (0.0, 1440.0)


def add_trip(
    inst: Instance, routes: list[list[int]], trip: Trip
) -> tuple[Instance, list[list[int]]]:
    """The instance with `trip` as request n+1, and `routes` renumbered to match (not inserted)."""
    n = inst.requests
    rows = [
        (
            float(inst.x[v]),
            float(inst.y[v]),
            float(inst.service[v]),
            int(inst.load[v]),
            float(inst.tw_start[v]),
            float(inst.tw_end[v]),
        )
        for v in range(len(inst.x))
    ]
    pick = (*trip.pickup, trip.service, trip.seats, *trip.pickup_window)
    drop = (*trip.dropoff, trip.service, -trip.seats, *trip.dropoff_window)
    new_rows = [*rows[: n + 1], pick, *rows[n + 1 : 2 * n + 1], drop, rows[-1]]
    new = Instance.build(
        inst.name,
        inst.vehicles,
        inst.capacity,
        inst.max_route_duration,
        inst.max_ride_time,
        new_rows,
    )
    renumber = [[v if v <= n else v + 1 for v in r] for r in routes]
    return new, renumber


def freeze(inst: Instance, routes: list[list[int]], now: float) -> tuple[Instance, np.ndarray]:
    """Pin what has happened by `now`: visits already started keep their times, the rest start later.

    Returns the pinned instance and a mask of requests that must stay where they are.
    """
    problem = make_problem(inst)
    size = len(inst.x) + 2
    scratch = make_scratch(size)
    b_arr, w_arr, d_arr, pos = scratch[0], scratch[1], scratch[2], scratch[3]
    e, l = inst.tw_start.copy(), inst.tw_end.copy()
    fixed = np.zeros(inst.requests + 1, dtype=np.bool_)
    frozen: set[int] = set()
    for r in routes:
        path = np.array([0, *r, inst.end_depot], dtype=np.int64)
        if not r or not eval_path(path, len(path), problem, b_arr, w_arr, d_arr, pos):
            continue
        for k, v in enumerate(r, start=1):
            if b_arr[k] <= now:
                e[v] = l[v] = b_arr[k]
                frozen.add(v)
                fixed[v if v <= inst.requests else v - inst.requests] = True
    for v in range(1, 2 * inst.requests + 1):
        if v not in frozen:
            e[v] = max(e[v], now)
    return replace(inst, tw_start=e, tw_end=l), fixed


def insert_trip(
    inst: Instance, routes: list[list[int]], request: int, now: float = 0.0
) -> list[list[int]] | None:
    """Cheapest feasible insertion of `request` after everything started by `now`, or None."""
    pinned, _ = freeze(
        inst, [[v for v in r if v not in (request, request + inst.requests)] for r in routes], now
    )
    problem = make_problem(pinned)
    scratch = make_scratch(len(inst.x) + 2)
    full = [list(r) for r in routes] + [[] for _ in range(inst.vehicles - len(routes))]
    best = (INF, -1, -1, -1)
    for ri, r in enumerate(full):
        path = np.array([0, *r, inst.end_depot], dtype=np.int64)
        first = sum(
            1 for v in r if pinned.tw_start[v] == pinned.tw_end[v] and pinned.tw_end[v] <= now
        )
        delta, a, b = best_insertion(path, len(path), request, problem, scratch, best[0], first)
        if delta < best[0]:
            best = (delta, a, b, ri)
    _, a, b, ri = best
    if ri < 0:
        return None
    r = full[ri]
    out: list[int] = []
    for k, v in enumerate([0, *r, inst.end_depot]):
        out.append(v)
        if k == a:
            out.append(request)
        if k == b:
            out.append(request + inst.requests)
    full[ri] = out[1:-1]
    return [x for x in full if x]


def improve(
    inst: Instance,
    routes: list[list[int]],
    now: float = 0.0,
    time_limit: float = 5.0,
    seed: int = 0,
) -> Solution:
    """Re-optimise the part of the plan not yet started by `now` (run it in a worker thread)."""
    t0 = time.perf_counter()
    pinned, fixed = freeze(inst, routes, now)
    sol = search(pinned, seed=seed, time_limit=time_limit, start=routes, fixed=fixed)
    sol.cost = solution_cost(inst, sol.routes)
    sol.seconds = time.perf_counter() - t0
    return sol
