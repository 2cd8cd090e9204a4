"""`cityos evacuation plan`: the evacuation plan as a table or as one JSON object.

With `--data-dir` it starts that platform in process and reads shelters, emergency sites, town
areas and occupancy through the evacuation service's own client (its grants, the audit
trail); without it, the town's vendored open data with the demo figures.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from cityos.cli_errors import existing_platform, fail
from cityos.services.evacuation import planner, town_data
from cityos.services.evacuation.distances import RoadGraph
from cityos.services.evacuation.model import DEFAULTS, HAZARD_NAMES, Area, Plan, Shelter, hazard_of

evacuation_app = typer.Typer(no_args_is_help=True, add_completion=False,
                             help="Evacuation guidance (避難誘導)")


@evacuation_app.callback()
def _root() -> None:
    """Evacuation guidance (避難誘導): which shelter each town area goes to."""


async def _from_platform(data_dir: Path, share: float | None
                         ) -> tuple[list[Area], list[Shelter], bool]:
    from cityos.services.evacuation.manifest import MANIFEST
    from cityos.services.evacuation.source import read_inputs
    from cityos.services.runtime import open_platform, options_of
    from cityos.settings import load_settings

    settings = load_settings(data_dir)
    async with open_platform(settings, MANIFEST.name) as platform:
        ctx = platform.context(MANIFEST.name)
        chosen = share if share is not None else float(options_of(MANIFEST, settings)["share"])
        return await read_inputs(ctx.client, chosen)


def _table(plan: Plan) -> str:
    names = {s.id: s.name for s in plan.shelters} | {a.id: a.name for a in plan.areas}
    hazard = HAZARD_NAMES[plan.hazard][0] if plan.hazard else "すべて / any"
    lines = [f"災害 hazard: {hazard}  距離 distance: {plan.distance}  "
             f"人・m person-meters: {plan.total_person_meters:,}"]
    lines += [f"  {names[a]} → {names[s]}: {p:,} 人" for a, s, p in plan.assignment]
    lines += [f"  {names[a]}: {p:,} 人 入れる避難所なし / no place" for a, p in plan.unassigned]
    lines += [f"  注 note: {n}" for n in plan.notes]
    return "\n".join(lines)


@evacuation_app.command("plan")
def plan_command(
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="the platform to read (default: the vendored open data)")] = None,
    hazard: Annotated[str | None, typer.Option(
        "--hazard", help="flood, landslide, earthquake … or 洪水 …; default: any")] = None,
    share: Annotated[float | None, typer.Option(
        "--share", help="part of each area's people to place (default: the setting, 0.25)")
    ] = None,
    roads: Annotated[Path | None, typer.Option(
        "--roads", help="a road graph: GeoJSON lines or an OSM XML extract")] = None,
    solver: Annotated[str, typer.Option(
        "--solver", help="auto, network-simplex or highs")] = "auto",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Plan which shelter each town area's people go to (minimum person-distance)."""
    chosen = hazard_of(hazard) if hazard else None
    if hazard and chosen is None:
        fail(f"--hazard {hazard} は災害の種類ではありません({', '.join(HAZARD_NAMES)})",
             f"--hazard {hazard} is not a hazard (one of {', '.join(HAZARD_NAMES)})")
    if share is not None and not 0 <= share <= 1:
        fail("--share は 0 から 1 の数です", "--share is a number from 0 to 1")
    if solver not in planner.SOLVERS:
        fail(f"--solver は {', '.join(planner.SOLVERS)} のいずれかです",
             f"--solver is one of {', '.join(planner.SOLVERS)}")
    graph = None
    if roads is not None:
        try:
            graph = RoadGraph.load(roads)
        except (OSError, ValueError, KeyError) as exc:
            fail(f"--roads {roads} を読めません", f"cannot read --roads {roads}: {exc}")
    if data_dir is not None:
        existing_platform(data_dir, (data_dir / "cityos.db").exists())
        areas, shelters, demo = asyncio.run(_from_platform(data_dir, share))
    else:
        areas, shelters, demo = town_data.from_town(
            share if share is not None else float(DEFAULTS["share"]))
    result = planner.plan(areas, shelters, chosen, roads=graph, solver=solver)
    if demo:
        result.notes.append(town_data.DEMO_NOTE)
    if as_json:
        out: dict[str, Any] = result.to_json()
        typer.echo(orjson.dumps(out).decode())
    else:
        typer.echo(_table(result))
