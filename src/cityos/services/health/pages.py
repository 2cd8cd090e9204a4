"""The resident's health page in the app and the staff's aggregate page in the console
(server-rendered, large text, Japanese first). Staff see aggregates only."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.audit.trail import PRINCIPAL, touch_subjects
from cityos.services.health import service
from cityos.services.health.items import BY_KEY
from cityos.services.health.manifest import MANIFEST
from cityos.services.health.messages import MESSAGES  # noqa: F401 (registers the words)
from cityos.services.health.research import research_state
from cityos.services.health.runtime import model_of
from cityos.services.runtime import ServiceContext, contexts
from cityos.web.console._page import NAV, can_edit, staff_name
from cityos.web.render import render


def _ctx(request: Request) -> ServiceContext | None:
    return contexts(request.app).get(MANIFEST.name)


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


async def resident_page(request: Request) -> Response:
    ctx = _ctx(request)
    principal = request.scope.get(PRINCIPAL)
    resident = principal is not None and principal.kind == "resident"
    values: dict[str, Any] = {"running": ctx is not None, "resident": resident, "lines": [],
                              "risk": None, "plan": [], "nav": "", "number": _number}
    if ctx is None or principal is None or not resident:
        return render(request, "services/health/app.html", values)
    me = str(principal.name)
    touch_subjects(request, me)
    checkups = await service.checkups_of(ctx, me)
    fitted = model_of(ctx)
    found = service.risk(fitted, checkups)
    threshold = fitted.threshold if fitted is not None else 1.0
    outcome = ctx.state.get("outcome", ("", ""))
    values.update({
        "research": await research_state(ctx, me),
        "checkups": checkups,
        "lines": service.trend(checkups),
        "risk": None if found is None else {
            "percent": round(found[0] * 100), "high": found[0] >= threshold,
            "reasons": found[1], "outcome": outcome},
        "model_pending": fitted is None and ctx.settings.services.demo,
        "plan": [(s, ctx.options.get(s.key, s.key))
                 for s in service.plan(checkups, found, threshold)],
    })
    return render(request, "services/health/app.html", values)


async def staff_page(request: Request) -> Response:
    ctx = _ctx(request)
    small = int(ctx.options.get("small_cell", 10)) if ctx is not None else 10
    values: dict[str, Any] = {"nav": NAV, "section": "health", "staff": staff_name(request),
                              "can_edit": can_edit(request), "running": ctx is not None,
                              "cells": [], "small": small, "items": service.ITEMS_SHOWN}
    if ctx is not None:
        cells = service.aggregates(await service.all_checkups(ctx), max(small, 10))
        fitted = model_of(ctx)
        values.update({
            "cells": cells, "counted": sum(c.people for c in cells),
            "hidden": sum(1 for c in cells if c.hidden), "model": fitted,
            "names": BY_KEY})
    return render(request, "services/health/console.html", values)
