"""Dial-a-ride benchmark: Cordeau's 42 a/b instances and cityos's larger generated instances.

- a/b set: tests/fixtures/darp-cordeau (Cordeau 2006), gap to the best known cost (bks.csv).
- generated set: tests/fixtures/darp-generated (`cityos darp generate`, Cordeau-Laporte 2003
  recipe, 96-200 requests), gap to the best cost found by this solver over all runs made so
  far (best.csv; the routes are in best/<name>.json and the tests check them). There is no
  published best known cost for these instances: a gap of 0 means "as good as our best run",
  not "optimal".

`--record` writes a run's solution to best/ and best.csv when it beats the stored one.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import resource
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from cityos.services.ondemand.checker import check_solution
from cityos.services.ondemand.loader import load_instance
from cityos.services.ondemand.solver import solve

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
DATA = FIXTURES / "darp-cordeau"
GENERATED = FIXTURES / "darp-generated"
HEAD = [
    "instance",
    "n",
    "cost",
    "ref",
    "ref is",
    "gap %",
    "served",
    "seconds",
    "cpu s",
    "checker ok",
]
FMT = "{:<14} {:>4} {:>9} {:>9} {:>6} {:>7} {:>8} {:>7} {:>6} {:>6}"


def best_known(data: Path = DATA) -> dict[str, float]:
    """Best known cost per instance name from bks.csv."""
    with open(data / "bks.csv", newline="", encoding="utf-8") as fh:
        return {row["instance"]: float(row["best_known_cost"]) for row in csv.DictReader(fh)}


def best_found(data: Path = GENERATED) -> dict[str, float]:
    """Our best cost per generated instance from best.csv."""
    with open(data / "best.csv", newline="", encoding="utf-8") as fh:
        return {row["instance"]: float(row["best_found_cost"]) for row in csv.DictReader(fh)}


def references() -> dict[str, tuple[float, str, Path]]:
    """instance -> (reference cost, "BKS" or "ours", folder)."""
    out = {k: (v, "BKS", DATA) for k, v in best_known().items()}
    out.update({k: (v, "ours", GENERATED) for k, v in best_found().items()})
    return out


def run_one(name: str, time_limit: float, seed: int, workers: int, data: Path = DATA) -> dict:
    """Solve one instance and check the result independently."""
    inst = load_instance(data / f"{name}.txt")
    cpu0 = _cpu()
    sol = solve(inst, time_limit=time_limit, seed=seed, workers=workers)
    check = check_solution(inst, sol.routes)
    return {
        "instance": name,
        "cost": check.cost,
        "served": check.served,
        "requests": check.requests,
        "seconds": sol.seconds,
        "cpu": _cpu() - cpu0,
        "feasible": check.feasible,
        "routes": sol.routes,
    }


def _cpu() -> float:
    """CPU seconds used by this process and its finished children (the search processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def record(r: dict, time_limit: float, seed: int, workers: int) -> bool:
    """Store a generated instance's solution if it beats the stored best; True if stored."""
    best = best_found()
    name = r["instance"]
    if not (r["feasible"] and r["served"] == r["requests"]) or r["cost"] >= best[name] - 1e-6:
        return False
    best[name] = round(r["cost"], 4)
    with open(GENERATED / "best.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["instance", "best_found_cost"])
        for k in sorted(best):
            w.writerow([k, f"{best[k]:.4f}"])
    note = {"cost": best[name], "time_limit": time_limit, "seed": seed, "workers": workers}
    doc = {**note, "routes": r["routes"]}
    (GENERATED / "best" / f"{name}.json").write_text(json.dumps(doc) + "\n", encoding="utf-8")
    return True


def _gap(r: dict, ref: float) -> float:
    return round(100.0 * (r["cost"] - ref) / ref, 2) + 0.0  # no "-0.00"


def _row(r: dict, ref: tuple[float, str, Path], markdown: bool) -> str:
    cells = [
        r["instance"],
        str(r["requests"]),
        f"{r['cost']:.2f}",
        f"{ref[0]:.2f}",
        ref[1],
        f"{_gap(r, ref[0]):.2f}",
        f"{r['served']}/{r['requests']}",
        f"{r['seconds']:.1f}",
        f"{r['cpu']:.0f}",
        "yes" if r["feasible"] else "NO",
    ]
    if markdown:
        return "| " + " | ".join(cells) + " |"
    return FMT.format(*cells)


def _summary(label: str, rows: list[dict], refs: dict) -> str:
    gaps = [_gap(r, refs[r["instance"]][0]) for r in rows]
    matched = sum(1 for g in gaps if g < 0.005)
    return (
        f"{label}: mean gap {sum(gaps) / len(gaps):.2f} %, worst {max(gaps):.2f} %, "
        f"reference matched {matched}/{len(gaps)}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.darp", description=__doc__)
    ap.add_argument("--time-limit", type=float, default=60.0, help="seconds per instance")
    ap.add_argument("--instances", default="", help="comma-separated names (default: --set)")
    ap.add_argument("--set", choices=("ab", "generated", "all"), default="all")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="search processes per instance")
    ap.add_argument("--parallel", type=int, default=1, help="instances solved at the same time")
    ap.add_argument("--markdown", action="store_true", help="print a Markdown table")
    ap.add_argument("--record", action="store_true", help="store new best generated solutions")
    args = ap.parse_args(argv)
    refs = references()
    names = [s for s in args.instances.split(",") if s]
    if not names:
        names = [
            k for k, v in refs.items() if args.set == "all" or (v[1] == "BKS") == (args.set == "ab")
        ]
    unknown = [n for n in names if n not in refs]
    if unknown:
        print(f"unknown instance(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    if args.markdown:
        print("| " + " | ".join(HEAD) + " |")
        print("|" + "---|" * len(HEAD))
    else:
        print(FMT.format(*HEAD))
    results = []
    jobs = [(n, args.time_limit, args.seed, args.workers, refs[n][2]) for n in names]

    def done(r: dict) -> None:
        results.append(r)
        print(_row(r, refs[r["instance"]], args.markdown), flush=True)
        if args.record and refs[r["instance"]][1] == "ours" and record(r, *jobs[0][1:4]):
            print(f"  (stored as the new best for {r['instance']})", flush=True)

    if args.parallel > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=args.parallel, mp_context=ctx) as pool:
            for r in pool.map(run_one, *zip(*jobs, strict=True)):
                done(r)
    else:
        for job in jobs:
            done(run_one(*job))
    print()
    for label, kind in (("a/b set vs BKS", "BKS"), ("generated set vs our best", "ours")):
        rows = [r for r in results if refs[r["instance"]][1] == kind]
        if rows:
            print(_summary(label, rows, refs))
    all_ok = all(r["feasible"] and r["served"] == r["requests"] for r in results)
    print(f"all served and checked: {'yes' if all_ok else 'NO'}")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
