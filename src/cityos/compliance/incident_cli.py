"""`cityos incident …`: the incident register — open, record each stage, list, contacts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer

from cityos.cli_errors import fail
from cityos.compliance.incidents import (
    SEVERITY_JA,
    STAGE_JA,
    IncidentError,
    add_step,
    contacts,
    incidents,
    open_incident,
    set_contact,
)
from cityos.compliance.report import jst

incident_app = typer.Typer(no_args_is_help=True,
                           help="the incident register: detect, report, contain, recover, lessons")
DataDir = Annotated[Path, typer.Option("--data-dir", help="where the platform keeps its data")]
By = Annotated[str, typer.Option("--by", help="who records it")]


def _platform(data_dir: Path) -> None:
    if not data_dir.is_dir():
        fail(f"{data_dir} にプラットフォームがありません", f"{data_dir} holds no platform")


def _guard(error: IncidentError) -> None:
    ja, _, en = str(error).partition(" / ")
    fail(ja, en or ja)


@incident_app.command("open")
def open_cmd(title: Annotated[str, typer.Argument(help="what happened, in a line")],
             severity: Annotated[str, typer.Option(
                 "--severity", help="low, medium, high or critical")] = "medium",
             drill: Annotated[bool, typer.Option(
                 "--drill", help="a drill (訓練), not a real incident")] = False,
             note: Annotated[str, typer.Option("--note", help="how it was detected")] = "",
             by: By = "", data_dir: DataDir = Path("var")) -> None:
    """Open an incident (or a drill) at its first stage, detect (検知); prints its id."""
    _platform(data_dir)
    try:
        made = open_incident(data_dir, title, severity, drill, by, note)
    except IncidentError as exc:
        _guard(exc)
    print(f"{made.id}: {'訓練' if drill else 'インシデント'}を登録しました / opened")


@incident_app.command("step")
def step_cmd(incident: Annotated[str, typer.Argument(help="its id, INC-…")],
             stage: Annotated[str, typer.Option(
                 "--stage", help="detect, report, contain, recover or lessons")],
             note: Annotated[str, typer.Option("--note", help="what was done")],
             by: By = "", data_dir: DataDir = Path("var")) -> None:
    """Record a stage: report (報告), contain (封じ込め), recover (復旧), lessons (振り返り)."""
    _platform(data_dir)
    try:
        done = add_step(data_dir, incident, stage, note, by)
    except IncidentError as exc:
        _guard(exc)
    print(f"{done.id}: {STAGE_JA[stage]} を記録しました / {stage} recorded"
          + (" — 完了 / closed" if done.closed else ""))


@incident_app.command("list")
def list_cmd(json: Annotated[bool, typer.Option("--json", help="as JSON")] = False,
             data_dir: DataDir = Path("var")) -> None:
    """Every incident and drill with its stage, and the contact list."""
    _platform(data_dir)
    found = incidents(data_dir)
    if json:
        print(orjson.dumps({"incidents": [i.to_json() for i in found],
                            "contacts": contacts(data_dir)}, option=orjson.OPT_INDENT_2).decode())
        return
    for i in found:
        kind = "訓練" if i.drill else "インシデント"
        print(f"{i.id}\t{kind}\t重大度 {SEVERITY_JA.get(i.severity, i.severity)}\t"
              f"{STAGE_JA.get(i.stage, i.stage)}\t{jst(i.opened)}\t{i.title}")
    for c in contacts(data_dir):
        print(f"連絡先 / contact\t{c['name']}\t{c.get('role', '')}\t{c['reach']}")
    if not found:
        print("記録はありません / no incidents recorded")


@incident_app.command("contact")
def contact_cmd(name: Annotated[str, typer.Argument(help="the person or organisation")],
                role: Annotated[str, typer.Option(
                    "--role", help="their part, e.g. 情報政策課 責任者, 委託先 SOC")] = "",
                reach: Annotated[str, typer.Option(
                    "--reach", help="phone and e-mail; empty removes the contact")] = "",
                data_dir: DataDir = Path("var")) -> None:
    """Add, change or remove (no --reach) a contact of the incident response (連絡体制)."""
    _platform(data_dir)
    try:
        set_contact(data_dir, name, role, reach)
    except IncidentError as exc:
        _guard(exc)
    print(f"{name}: 連絡先を{'登録' if reach else '削除'}しました / contact "
          f"{'saved' if reach else 'removed'}")
