"""`cityos darp`: solve a dial-a-ride instance file and report cost, service and feasibility.

Reads Cordeau's DARP format (Cordeau 2006) or cityos's JSON request form.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from cityos.services.ondemand.checker import check_solution
from cityos.services.ondemand.generate import STYLES, write_instance
from cityos.services.ondemand.loader import load_instance
from cityos.services.ondemand.solver import solve

darp_app = typer.Typer(no_args_is_help=True, add_completion=False, help="Dial-a-ride optimiser")


@darp_app.callback()
def _root() -> None:
    """AI on-demand transport (AIオンデマンド交通): dial-a-ride optimiser."""


@darp_app.command("solve")
def solve_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="instance file")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="seconds of search")] = 10.0,
    seed: Annotated[int, typer.Option("--seed", help="seed of the first search process")] = 0,
    workers: Annotated[int, typer.Option("--workers", help="independent search processes")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Solve one instance; exit status 1 if the checker rejects the result."""
    inst = load_instance(file)
    sol = solve(inst, time_limit=time_limit, seed=seed, workers=workers)
    check = check_solution(inst, sol.routes)
    out = {
        "instance": inst.name,
        "cost": round(check.cost, 6),
        "served": check.served,
        "requests": check.requests,
        "feasible": check.feasible,
        "seconds": round(sol.seconds, 3),
        "routes": sol.routes,
    }
    if as_json:
        typer.echo(orjson.dumps(out).decode())
    else:
        typer.echo(
            f"{inst.name}: cost {check.cost:.2f}, served {check.served}/{check.requests}, "
            f"{len(sol.routes)} vehicles, {sol.seconds:.1f} s, "
            f"checker {'passed' if check.feasible else 'FAILED'}"
        )
        for i, r in enumerate(sol.routes):
            typer.echo(f"  vehicle {i + 1}: 0 " + " ".join(map(str, r)) + f" {inst.end_depot}")
        for v in check.violations:
            typer.echo(f"  violation {v}")
    if not check.feasible:
        raise typer.Exit(1)


@darp_app.command("generate")
def generate_command(
    out: Annotated[Path, typer.Option("--out", help="instance file to write")],
    requests: Annotated[int, typer.Option("--requests", help="number of requests")] = 120,
    vehicles: Annotated[int, typer.Option("--vehicles", help="number of vehicles")] = 11,
    seed: Annotated[int, typer.Option("--seed", help="random seed")] = 0,
    style: Annotated[str, typer.Option("--style", help="pr (Cordeau-Laporte 2003), a or b")] = "pr",
    window: Annotated[int, typer.Option("--window", help="tight time window width, min")] = 15,
) -> None:
    """Write a random instance in Cordeau's format (see generate.py for the recipe)."""
    if style not in STYLES or requests < 2 or vehicles < 1:
        typer.echo("need --style pr|a|b, --requests >= 2 and --vehicles >= 1", err=True)
        raise typer.Exit(2)
    path = write_instance(out, requests, vehicles, seed=seed, style=style, window=window)
    typer.echo(f"{path}: {requests} requests, {vehicles} vehicles, style {style}, seed {seed}")
