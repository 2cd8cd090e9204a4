"""`cityos ondemand`: the on-demand transport service (a day simulation for planning)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

ondemand_app = typer.Typer(no_args_is_help=True, add_completion=False,
                           help="AI on-demand transport (AIオンデマンド交通)")


@ondemand_app.callback()
def _root() -> None:
    """AI on-demand transport (AIオンデマンド交通): bookings, dispatch, KPIs."""


def _hm(minute: float) -> str:
    return f"{int(minute // 60):02d}:{int(minute % 60):02d}"


@ondemand_app.command("simulate")
def simulate_command(
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="the platform's data folder (not needed: the town's places are built in)")] = None,
    requests: Annotated[int, typer.Option("--requests", min=1, max=5000,
                                          help="ride requests in the day")] = 300,
    seed: Annotated[int, typer.Option("--seed", help="seed of the day's demand")] = 1,
    vehicles: Annotated[int | None, typer.Option("--vehicles", min=1, max=50,
                                                 help="cars (default: the town's fleet)")] = None,
    reopt: Annotated[float, typer.Option("--reopt-seconds", min=0.0, max=30.0,
                                         help="background re-optimisation budget")] = 0.3,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Simulate one service day; exit status 1 if the checker rejects what was driven."""
    from dataclasses import replace

    from cityos.services.ondemand.fleet import demo_fleet
    from cityos.services.ondemand.simulate import simulate

    del data_dir  # the demo town's places come with cityos
    fleet = demo_fleet()
    if vehicles is not None:
        fleet = [replace(fleet[k % len(fleet)], id=f"ondemand-car-{k + 1}")
                 for k in range(vehicles)]
    _, out = simulate(requests, seed, fleet, reopt)
    if as_json:
        typer.echo(orjson.dumps(out).decode())
    else:
        typer.echo(
            f"{out['requests']} requests: {out['served']} served, {out['refused']} refused, "
            f"{out['cancelled']} cancelled, {out['no_shows']} no-shows; "
            f"checker {'passed' if out['feasible'] else 'FAILED'}\n"
            f"wait {out['wait_min_mean']} min (p95 {out['wait_min_p95']}), "
            f"detour ×{out['detour_factor_mean']}, occupancy {out['occupancy']}, "
            f"{out['km_per_passenger']} km per passenger, "
            f"offer p95 {out['offer_p95_ms']} ms"
        )
        for v in out["violations"]:
            typer.echo(f"  violation {v}")
    if not out["feasible"]:
        raise typer.Exit(1)
