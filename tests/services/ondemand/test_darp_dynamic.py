"""Dynamic mode: a booking made during the day is inserted into the running plan in under a second.

Rolling-horizon insertion on Cordeau (2006) instance a2-16; the started part of the plan stays.
"""

from __future__ import annotations

import time
from pathlib import Path

from cityos.services.ondemand.checker import check_solution
from cityos.services.ondemand.dynamic import Trip, add_trip, improve, insert_trip
from cityos.services.ondemand.loader import load_instance
from cityos.services.ondemand.solver import search

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "darp-cordeau"  # vendored, see SOURCES.md
NOW = 150.0
TRIP = Trip(
    pickup=(1.0, 1.0), dropoff=(-4.0, 3.0), seats=1, service=3.0, pickup_window=(170.0, 185.0)
)


def _started(inst, routes, now):
    check = check_solution(inst, routes)
    return [
        [v for v, t in zip(r, sched[1:-1], strict=False) if t <= now]
        for r, sched in zip(routes, check.schedules, strict=True)
    ]


def test_call_at_mid_morning_is_inserted_fast_and_feasibly() -> None:
    inst = load_instance(DATA / "a2-16.txt")
    plan = search(inst, seed=0, iterations=500).routes
    new_inst, renumbered = add_trip(inst, plan, TRIP)
    assert new_inst.requests == 17
    assert check_solution(new_inst, renumbered).violations == ["unserved: request 17"]
    insert_trip(new_inst, renumbered, 17, now=NOW)  # warm-up: compiled code loaded
    t0 = time.perf_counter()
    routes = insert_trip(new_inst, renumbered, 17, now=NOW)
    assert time.perf_counter() - t0 < 1.0
    assert routes is not None
    check = check_solution(new_inst, routes)
    assert check.feasible, check.violations
    assert check.served == 17


def test_background_improvement_keeps_the_started_part() -> None:
    inst = load_instance(DATA / "a2-16.txt")
    plan = search(inst, seed=0, iterations=200).routes
    new_inst, renumbered = add_trip(inst, plan, TRIP)
    routes = insert_trip(new_inst, renumbered, 17, now=NOW)
    assert routes is not None
    before = check_solution(new_inst, routes).cost
    better = improve(new_inst, routes, now=NOW, time_limit=1.0, seed=1)
    check = check_solution(new_inst, better.routes)
    assert check.feasible, check.violations
    assert check.served == 17 and check.cost <= before + 1e-9
    done = [r for r in _started(new_inst, routes, NOW) if r]
    for prefix in done:
        assert any(r[: len(prefix)] == prefix for r in better.routes)
