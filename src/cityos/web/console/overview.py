"""The console's overview: KPIs of the platform (residents, consents, organisations, services,
entities, devices, alerts) and API use per organisation this month."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.access.monitor import list_alerts
from cityos.access.service import access_of
from cityos.catalog.routes import current_month
from cityos.catalog.services import ServiceCatalog
from cityos.catalog.usage import usage_report
from cityos.web.console._page import show, tenant


async def _consents(app: Any, tenant_id: str) -> int | None:
    """Consents given (APPROVED) through Personal-Link; None while it is not running."""
    personal = getattr(app.state, "personal", None)
    if personal is None:
        return None
    return sum(1 for c in await personal.consents.list(tenant_id) if c.get("state") == "APPROVED")


def human_bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    return str(n)


async def overview(request: Request) -> Response:
    app = request.app
    store = app.state.broker.store
    tenant_id = tenant(request)
    access = await access_of(app)
    meter = getattr(app.state, "usage_meter", None)
    if meter is not None:
        await meter.save()
    month = current_month()
    usage = await usage_report(store, month, tenant_id)
    types = await store.entity_types(tenant_id) if await store.tenant_exists(tenant_id) else []
    ctx = await app.state.broker.context(None)
    iot = getattr(app.state, "iot", None)
    devices = await iot.registry.list(tenant_id) if iot is not None else []
    day_ago = time.time() - 86_400
    alerts = [a for a in await list_alerts(store) if a.get("at", 0) >= day_ago]
    kpis = [
        ("console.kpi.residents", len(await access.residents.list_residents()), "/console/accounts"),
        ("console.kpi.consents", await _consents(app, tenant_id), None),
        ("console.kpi.orgs", len(await access.book.list_orgs()), "/console/accounts"),
        ("console.kpi.services", len(await ServiceCatalog(store, tenant_id).list()),
         "/console/services"),
        ("console.kpi.entities", sum(t.count for t in types), "/console/entities"),
        ("console.kpi.devices", f"{len(devices)} ({sum(1 for d in devices if d.get('offline'))})",
         None),
        ("console.kpi.alerts", len(alerts), "/console/alerts"),
    ]
    rows = [{**u, "in": human_bytes(u["bytesIn"]), "out": human_bytes(u["bytesOut"])}
            for u in usage]
    type_rows = sorted(((ctx.compact_iri(t.type), t.count) for t in types),
                       key=lambda r: (-r[1], r[0]))
    return show(request, "overview.html", "overview", {
        "kpis": kpis, "usage": rows, "month": month, "types": type_rows})
