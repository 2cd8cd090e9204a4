"""The incident register (インシデント対応): each incident or drill with its stages — detect,
report, contain, recover, lessons — and the contacts to call, kept in the data dir
(`incidents/register.jsonl`, append-only events; backed up with it).

Read by `cityos compliance` (インシデント対応①②④) and the console's incident page.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cityos.compliance.state import append_jsonl, read_jsonl

REGISTER = Path("incidents") / "register.jsonl"
STAGES = ("detect", "report", "contain", "recover", "lessons")
STAGE_JA = {"detect": "検知", "report": "報告", "contain": "封じ込め", "recover": "復旧",
            "lessons": "振り返り"}
SEVERITIES = ("low", "medium", "high", "critical")
SEVERITY_JA = {"low": "低", "medium": "中", "high": "高", "critical": "重大"}


class IncidentError(ValueError):
    """A wrong id, stage or severity (message Japanese / English)."""


@dataclass
class Incident:
    id: str
    title: str
    severity: str
    drill: bool
    opened: float
    by: str
    steps: list[dict[str, Any]] = field(default_factory=list)

    @property
    def stage(self) -> str:
        return str(self.steps[-1]["stage"]) if self.steps else "detect"

    @property
    def closed(self) -> bool:
        return any(s["stage"] == "lessons" for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "severity": self.severity,
                "drill": self.drill, "opened": self.opened, "by": self.by, "stage": self.stage,
                "closed": self.closed, "steps": self.steps}


def _events(data_dir: Path) -> list[dict[str, Any]]:
    return read_jsonl(data_dir / REGISTER)


def incidents(data_dir: Path) -> list[Incident]:
    """Every incident and drill, oldest first, with its steps."""
    found: dict[str, Incident] = {}
    for e in _events(data_dir):
        if e.get("event") == "open":
            found[str(e["id"])] = Incident(str(e["id"]), str(e.get("title", "")),
                                           str(e.get("severity", "medium")),
                                           bool(e.get("drill")), float(e.get("at", 0)),
                                           str(e.get("by", "")))
        elif e.get("event") == "step" and str(e.get("id")) in found:
            found[str(e["id"])].steps.append({k: e.get(k) for k in ("stage", "note", "by", "at")})
    return list(found.values())


def contacts(data_dir: Path) -> list[dict[str, Any]]:
    """The contact list (連絡体制), the newest entry of each name; removed ones left out."""
    found: dict[str, dict[str, Any]] = {}
    for e in _events(data_dir):
        if e.get("event") == "contact":
            found[str(e.get("name", ""))] = e
    return [c for c in found.values() if c.get("reach")]


def open_incident(data_dir: Path, title: str, severity: str = "medium", drill: bool = False,
                  by: str = "", note: str = "") -> Incident:
    if severity not in SEVERITIES:
        raise IncidentError(f"重大度は {', '.join(SEVERITIES)} のいずれかです / severity is one "
                            f"of {', '.join(SEVERITIES)}")
    if not title.strip():
        raise IncidentError("件名を書いてください / give a title")
    now = time.time()
    ident = f"INC-{time.strftime('%Y%m%d', time.localtime(now))}-{secrets.token_hex(2)}"
    append_jsonl(data_dir / REGISTER, {"event": "open", "id": ident, "title": title.strip(),
                                       "severity": severity, "drill": drill, "by": by,
                                       "at": now})
    append_jsonl(data_dir / REGISTER, {"event": "step", "id": ident, "stage": "detect",
                                       "note": note or title.strip(), "by": by, "at": now})
    return next(i for i in incidents(data_dir) if i.id == ident)


def add_step(data_dir: Path, ident: str, stage: str, note: str, by: str = "") -> Incident:
    if stage not in STAGES:
        raise IncidentError(f"段階は {', '.join(STAGES)} のいずれかです / the stage is one of "
                            f"{', '.join(STAGES)}")
    found = {i.id: i for i in incidents(data_dir)}
    if ident not in found:
        raise IncidentError(f"{ident} という記録はありません / no incident {ident}")
    if not note.strip():
        raise IncidentError("--note に何をしたかを書いてください / --note must say what was done")
    append_jsonl(data_dir / REGISTER, {"event": "step", "id": ident, "stage": stage,
                                       "note": note.strip(), "by": by, "at": time.time()})
    return {i.id: i for i in incidents(data_dir)}[ident]


def set_contact(data_dir: Path, name: str, role: str, reach: str) -> None:
    """Add or change a contact (`reach` empty: remove it)."""
    if not name.strip():
        raise IncidentError("名前を書いてください / give a name")
    append_jsonl(data_dir / REGISTER, {"event": "contact", "name": name.strip(),
                                       "role": role.strip(), "reach": reach.strip(),
                                       "at": time.time()})
