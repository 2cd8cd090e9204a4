"""`python -m bench evacuation`: how long the evacuation planner takes to re-plan.

Two sizes: Toyono (41 town areas × 14 shelters and emergency sites, the vendored open data
with the demo's figures) and a synthetic town of 2,000 areas × 200 shelters (seeded points in
a 20 km square, 100-900 people per area, capacities summing to 90% of the people, so some are
reported unassigned). Each solver is timed on the same problem (median of --repeat runs,
distances included; wall and CPU time, since the machine may be shared) and their
person-meters must agree.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

from cityos.services.evacuation import planner, town_data
from cityos.services.evacuation.model import Area, Shelter


def synthetic(n_areas: int, n_shelters: int, seed: int = 21) -> tuple[list[Area], list[Shelter]]:
    rng = random.Random(seed)
    lon0, lat0, span = 135.40, 34.85, 0.2  # ~20 km

    def point() -> tuple[float, float]:
        return lon0 + rng.random() * span, lat0 + rng.random() * span

    areas = [Area(f"a{i}", f"area {i}", *point(), people=rng.randint(100, 900))
             for i in range(n_areas)]
    total = sum(a.people for a in areas)
    weights = [rng.random() + 0.5 for _ in range(n_shelters)]
    shelters = [Shelter(f"s{j}", f"shelter {j}", "EvacuationShelter", *point(),
                        capacity=int(0.9 * total * w / sum(weights)),
                        occupancy=rng.randint(0, 50), hazards=frozenset({"flood"}))
                for j, w in enumerate(weights)]
    return areas, shelters


def _time(areas: list[Area], shelters: list[Shelter], solver: str, repeat: int
          ) -> tuple[float, float, float, int, int]:
    walls, cpus, solves, cost, left = [], [], [], 0, 0
    for _ in range(repeat):
        started, cpu = time.perf_counter(), time.process_time()
        result = planner.plan(areas, shelters, "flood", solver=solver)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        solves.append(result.seconds)
        cost = result.total_person_meters
        left = sum(p for _, p in result.unassigned)
    return (statistics.median(walls), statistics.median(cpus), statistics.median(solves), cost,
            left)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench evacuation")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--areas", type=int, default=2000)
    parser.add_argument("--shelters", type=int, default=200)
    parser.add_argument("--skip-network-simplex-large", action="store_true")
    args = parser.parse_args(argv)
    areas, shelters, _ = town_data.from_town(share=0.25)
    sizes = [("Toyono 41 x 14", areas, shelters, ("network-simplex", "highs")),
             (f"synthetic {args.areas} x {args.shelters}", *synthetic(args.areas, args.shelters),
              ("highs",) if args.skip_network_simplex_large else ("highs", "network-simplex"))]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'problem':28} {'solver':16} {'re-plan s':>10} {'CPU s':>7} {'solve s':>9} "
          f"{'person-meters':>15} {'unassigned':>10}")
    for label, a, s, solvers in sizes:
        costs = set()
        for solver in solvers:
            wall, cpu, solve, cost, left = _time(a, s, solver, args.repeat)
            costs.add(cost)
            print(f"{label:28} {solver:16} {wall:10.3f} {cpu:7.3f} {solve:9.3f} {cost:15,d} "
                  f"{left:10,d}")
        if len(costs) != 1:
            print(f"  DISAGREE: {sorted(costs)}")
            return 1
    return 0
