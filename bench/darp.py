"""Dial-a-ride benchmark: solve Cordeau's 42 a/b instances and compare with best-known costs.

Instances and best-known costs: tests/fixtures/darp-cordeau (Cordeau 2006, Operations Research).
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cityos.services.ondemand.checker import check_solution
from cityos.services.ondemand.loader import load_instance
from cityos.services.ondemand.solver import solve

DATA = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "darp-cordeau"


def best_known(data: Path = DATA) -> dict[str, float]:
    """Best known cost per instance name from bks.csv."""
    with open(data / "bks.csv", newline="", encoding="utf-8") as fh:
        return {row["instance"]: float(row["best_known_cost"]) for row in csv.DictReader(fh)}


def run_one(name: str, time_limit: float, seed: int, workers: int, data: Path = DATA) -> dict:
    """Solve one instance and check the result independently."""
    inst = load_instance(data / f"{name}.txt")
    sol = solve(inst, time_limit=time_limit, seed=seed, workers=workers)
    check = check_solution(inst, sol.routes)
    return {
        "instance": name,
        "cost": check.cost,
        "served": check.served,
        "requests": check.requests,
        "seconds": sol.seconds,
        "feasible": check.feasible,
    }


def _row(r: dict, bks: float, markdown: bool) -> str:
    gap = round(100.0 * (r["cost"] - bks) / bks, 2) + 0.0  # no "-0.00"
    cells = [
        r["instance"],
        f"{r['cost']:.2f}",
        f"{bks:.2f}",
        f"{gap:.2f}",
        f"{r['served']}/{r['requests']}",
        f"{r['seconds']:.1f}",
        "yes" if r["feasible"] else "NO",
    ]
    if markdown:
        return "| " + " | ".join(cells) + " |"
    return "{:<8} {:>9} {:>9} {:>7} {:>8} {:>7} {:>6}".format(*cells)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.darp", description=__doc__)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance")
    ap.add_argument("--instances", default="", help="comma-separated names (default: all)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="search processes per instance")
    ap.add_argument("--parallel", type=int, default=1, help="instances solved at the same time")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = ap.parse_args(argv)
    bks = best_known()
    names = [s for s in args.instances.split(",") if s] or list(bks)
    head = ["instance", "cost", "BKS", "gap %", "served", "seconds", "checker ok"]
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    else:
        print("{:<8} {:>9} {:>9} {:>7} {:>8} {:>7} {:>6}".format(*head))
    results = []
    jobs = [(n, args.time_limit, args.seed, args.workers) for n in names]
    if args.parallel > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.parallel, mp_context=ctx) as pool:
            outs = pool.map(run_one, *zip(*jobs, strict=True))
            for r in outs:
                results.append(r)
                print(_row(r, bks[r["instance"]], args.markdown), flush=True)
    else:
        for job in jobs:
            r = run_one(*job)
            results.append(r)
            print(_row(r, bks[r["instance"]], args.markdown), flush=True)
    gaps = [100.0 * (r["cost"] - bks[r["instance"]]) / bks[r["instance"]] for r in results]
    all_ok = all(r["feasible"] and r["served"] == r["requests"] for r in results)
    matched = sum(1 for g in gaps if g < 0.005)
    print(
        f"\nmean gap {sum(gaps) / len(gaps):.2f} %, worst {max(gaps):.2f} %, "
        f"best known matched {matched}/{len(gaps)}, all served and checked: {'yes' if all_ok else 'NO'}"
    )
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
