"""The console's security self-check page: the newest `cityos compliance` run, what needs
action, the open evidence tasks, and whether it is getting better (the runs' history); and
the incident register's page (incidents and drills with their stages, the contacts)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.compliance.state import HISTORY, LATEST
from cityos.web.console._page import show

JST = timezone(timedelta(hours=9), "JST")


def _when(at: float) -> str:
    return datetime.fromtimestamp(at, JST).strftime("%Y-%m-%d %H:%M")


def _read(data_dir: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    try:
        latest = orjson.loads((data_dir / LATEST).read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        latest = None
    history = []
    try:
        for line in (data_dir / HISTORY).read_bytes().splitlines():
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(doc, dict) and isinstance(doc.get("summary"), dict):
                history.append(doc)
    except FileNotFoundError:
        pass
    return latest if isinstance(latest, dict) else None, history


def _open(summary: dict[str, Any]) -> int:
    return int(summary.get("ng", 0)) + int(summary.get("warn", 0))


async def compliance_page(request: Request) -> Response:
    latest, history = await asyncio.to_thread(_read, request.app.state.settings.data_dir)
    if latest is None:
        return show(request, "compliance.html", "compliance", {"latest": None})
    items = latest.get("items", [])
    trend = None
    if len(history) >= 2:
        before, now = _open(history[-2]["summary"]), _open(history[-1]["summary"])
        trend = ("better" if now < before else "worse" if now > before else "same",
                 before, now)
    past = [{"when": _when(float(h.get("at", 0))), "s": h["summary"]}
            for h in reversed(history[-12:])]
    return show(request, "compliance.html", "compliance", {
        "latest": latest, "when": _when(float(latest.get("checkedAt", 0))),
        "summary": latest.get("summary", {}), "trend": trend, "history": past,
        "fix": [i for i in items if i.get("status") in ("ng", "warn")],
        "tasks": [i for i in items if i.get("task") and not i.get("evidence")],
        "items": items})


async def incidents_page(request: Request) -> Response:
    from cityos.compliance.incidents import contacts, incidents

    data_dir = request.app.state.settings.data_dir
    found = await asyncio.to_thread(incidents, data_dir)
    people = await asyncio.to_thread(contacts, data_dir)
    rows = [{"id": i.id, "title": i.title, "drill": i.drill, "severity": i.severity,
             "stage": i.stage, "opened": _when(i.opened),
             "steps": [{"stage": str(s["stage"]), "note": str(s.get("note") or ""),
                        "by": str(s.get("by") or ""), "when": _when(float(s.get("at") or 0))}
                       for s in i.steps]}
            for i in reversed(found)]
    return show(request, "incidents.html", "incidents", {"incidents": rows, "contacts": people})
