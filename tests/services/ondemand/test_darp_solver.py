"""The ALNS optimiser reaches the proven optimum of a2-16 and every answer passes the checker.

Instance a2-16 of Cordeau (2006); optimum 294.25 (branch-and-cut, Cordeau 2006 Table 3).
"""

from __future__ import annotations

from pathlib import Path

from cityos.services.ondemand.checker import check_solution
from cityos.services.ondemand.loader import load_instance
from cityos.services.ondemand.solver import search, solve

DATA = Path(__file__).resolve().parents[2] / "fixtures" / "darp-cordeau"  # vendored, see SOURCES.md


def test_a2_16_reaches_its_optimum() -> None:
    inst = load_instance(DATA / "a2-16.txt")
    sol = solve(inst, time_limit=20.0, seed=0, workers=2)
    check = check_solution(inst, sol.routes)
    assert check.feasible, check.violations
    assert check.served == 16
    assert round(check.cost, 2) == 294.25


def test_same_seed_same_answer() -> None:
    inst = load_instance(DATA / "b2-20.txt")
    one = search(inst, seed=7, iterations=300)
    two = search(inst, seed=7, iterations=300)
    assert one.routes == two.routes
    assert check_solution(inst, one.routes).feasible


def test_larger_instance_all_served_and_checked() -> None:
    inst = load_instance(DATA / "b5-50.txt")
    sol = search(inst, seed=1, time_limit=3.0)
    check = check_solution(inst, sol.routes)
    assert check.feasible, check.violations
    assert check.served == check.requests == 50
    assert check.cost < 761.4 * 1.05
