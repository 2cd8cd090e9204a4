"""Generated Cordeau-style instances load, follow the papers' recipe and are solvable.

Generator: src/cityos/services/ondemand/generate.py (Cordeau & Laporte 2003; Cordeau 2006).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from cityos.services.ondemand.checker import check_solution
from cityos.services.ondemand.generate import generate
from cityos.services.ondemand.loader import load_instance, parse_cordeau
from cityos.services.ondemand.model import route_cost
from cityos.services.ondemand.recombine import add_routes, recombine
from cityos.services.ondemand.solver import search, solve

GENERATED = Path(__file__).resolve().parents[2] / "fixtures" / "darp-generated"


def test_pr_style_follows_the_recipe() -> None:
    inst = parse_cordeau(generate(40, 4, seed=5), name="g40")
    n = inst.requests
    assert (n, inst.vehicles, inst.capacity) == (40, 4, 6)
    assert (inst.max_ride_time, inst.max_route_duration) == (90.0, 480.0)
    assert (inst.x[0], inst.y[0]) == (0.0, 0.0)
    pts = np.r_[inst.x[1:-1], inst.y[1:-1]]
    assert pts.min() >= -10.0 and pts.max() <= 10.0
    width = inst.tw_end - inst.tw_start
    outbound, inbound = np.arange(1, 21), np.arange(21, 41)
    assert (width[outbound] == 1440).all() and (width[outbound + n] == 15).all()
    assert (width[inbound] == 15).all() and (width[inbound + n] == 1440).all()
    assert (inst.tw_end[1 : 2 * n + 1] <= 480).sum() == n  # every tight window inside T
    assert set(inst.load[1 : n + 1]) == {1}
    assert set(inst.service[1 : 2 * n + 1]) == {10.0}


def test_b_style_seats_and_service() -> None:
    inst = parse_cordeau(generate(48, 4, seed=2, style="b"), name="gb")
    seats = inst.load[1:49]
    assert seats.min() >= 1 and seats.max() <= 6 and len(set(seats)) > 1
    assert (inst.service[1:49] == seats).all()
    assert (inst.capacity, inst.max_ride_time, inst.max_route_duration) == (6, 45.0, 720.0)


def test_same_seed_same_file_other_seed_other_file() -> None:
    assert generate(30, 3, seed=1) == generate(30, 3, seed=1)
    assert generate(30, 3, seed=1) != generate(30, 3, seed=2)


def test_small_generated_instance_is_solved_and_checked() -> None:
    inst = parse_cordeau(generate(24, 3, seed=9), name="g24")
    sol = search(inst, seed=0, iterations=3000)
    check = check_solution(inst, sol.routes)
    assert check.feasible, check.violations
    assert check.served == check.requests == 24


def test_checker_accepts_the_solver_on_120_requests() -> None:
    inst = load_instance(GENERATED / "pr-120-11-s1.txt")
    sol = solve(inst, time_limit=4.0, seed=0, workers=1)
    check = check_solution(inst, sol.routes)
    assert check.feasible, check.violations
    assert check.served == check.requests == 120
    assert abs(check.cost - sol.cost) < 1e-6


def test_cli_writes_a_loadable_file(tmp_path: Path) -> None:
    out = tmp_path / "g.txt"
    cmd = [sys.executable, "-c", "from cityos.cli import main; main()", "darp", "generate"]
    args = ["--requests", "30", "--vehicles", "3", "--seed", "4", "--out", str(out)]
    subprocess.run(cmd + args, capture_output=True, text=True, timeout=120, check=True)
    inst = load_instance(out)
    assert (inst.requests, inst.vehicles) == (30, 3)
    assert out.read_text(encoding="utf-8") == generate(30, 3, seed=4)


def test_stored_best_solutions_pass_the_checker_at_their_stated_cost() -> None:
    with open(GENERATED / "best.csv", newline="", encoding="utf-8") as fh:
        best = {row["instance"]: float(row["best_found_cost"]) for row in csv.DictReader(fh)}
    assert len(best) == len(list(GENERATED.glob("pr-*.txt")))
    for name, cost in best.items():
        inst = load_instance(GENERATED / f"{name}.txt")
        doc = json.loads((GENERATED / "best" / f"{name}.json").read_text(encoding="utf-8"))
        check = check_solution(inst, doc["routes"])
        assert check.feasible, (name, check.violations)
        assert check.served == check.requests
        assert abs(check.cost - cost) < 1e-3, name


def test_recombination_picks_the_cheapest_partition_of_pooled_routes() -> None:
    inst = load_instance(GENERATED.parent / "darp-cordeau" / "a2-16.txt")
    one = search(inst, seed=0, iterations=30)
    two = search(inst, seed=5, iterations=2000)
    pool: dict[tuple[int, ...], float] = {}
    for sol in (one, two):
        add_routes(pool, sol.routes, [route_cost(inst, r) for r in sol.routes])
    found = recombine(pool, inst.requests, inst.vehicles, time_limit=10.0)
    assert found is not None
    routes, cost = found
    check = check_solution(inst, routes)
    assert check.feasible and check.served == 16
    assert abs(check.cost - cost) < 1e-6
    assert cost <= min(one.cost, two.cost) + 1e-6
