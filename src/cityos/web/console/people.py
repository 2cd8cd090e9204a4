"""The console's organisations and accounts page, and its alerts page."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from starlette.requests import Request
from starlette.responses import Response

from cityos.access.monitor import list_alerts
from cityos.access.service import access_of
from cityos.catalog.routes import current_month
from cityos.catalog.usage import usage_report
from cityos.web.console._page import show, tenant
from cityos.web.pages import form_of

JST = timezone(timedelta(hours=9), "JST")
MAX_ALERTS = 200


async def accounts_page(request: Request) -> Response:
    access = await access_of(request.app)
    usage = {u["organisation"]: u["calls"]
             for u in await usage_report(request.app.state.broker.store, current_month(),
                                         tenant(request))}
    orgs = [{"name": o["name"], "corporate": o.get("corporate_number", ""),
             "read": ", ".join(o.get("grants", {}).get("read", [])) or "—",
             "write": ", ".join(o.get("grants", {}).get("write", [])) or "—",
             "disabled": bool(o.get("disabled")), "calls": usage.get(o["name"], 0)}
            for o in await access.book.list_orgs()]
    staff = [{"name": s["username"], "roles": ", ".join(s.get("roles", [])),
              "disabled": bool(s.get("disabled"))} for s in await access.book.list_staff()]
    residents = len(await access.residents.list_residents())
    return show(request, "accounts.html", "accounts", {
        "orgs": sorted(orgs, key=lambda o: o["name"]),
        "staff_rows": sorted(staff, key=lambda s: s["name"]), "residents": residents})


async def resident_reset_code(request: Request) -> Response:
    """The help desk: a one-time code for a resident who forgot her password, shown once to
    the clerk (who checked who she is) to hand over on paper. The request is audited."""
    login = (await form_of(request)).get("login", "").strip()
    access = await access_of(request.app)
    resident = await access.residents.by_login(login) if login else None
    if resident is None or resident.get("disabled") or \
            (resident.get("tenant", "") != tenant(request) and tenant(request) != "*"):
        return show(request, "reset_code.html", "accounts", {"login": login, "code": "",
                                                             "error": True}, status=404)
    code = await access.residents.issue_reset_code(resident["id"])
    return show(request, "reset_code.html", "accounts", {"login": resident["login"],
                                                         "code": code, "error": False},
                headers={"Cache-Control": "no-store"})


async def alerts_page(request: Request) -> Response:
    alerts = (await list_alerts(request.app.state.broker.store))[-MAX_ALERTS:]
    rows = [{"at": datetime.fromtimestamp(a.get("at", 0), JST).strftime("%Y-%m-%d %H:%M:%S"),
             "kind": a.get("kind", ""), "subject": a.get("subject", ""),
             "detail": ", ".join(f"{k}={v}" for k, v in (a.get("detail") or {}).items())}
            for a in reversed(alerts)]
    return show(request, "alerts.html", "alerts", {"alerts": rows})
