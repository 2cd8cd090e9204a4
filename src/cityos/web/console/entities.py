"""The console's entity browser: kinds of data with counts, entities of a kind, one entity with
its attributes and time-series charts of its numeric history (read from the temporal store)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.errors import NgsiError, ResourceNotFound
from cityos.ngsi.model.write import View, render_entity
from cityos.numbers import bounded_int
from cityos.storage.base import EntityQuery, TemporalQuery
from cityos.web.console._page import show, tenant
from cityos.web.console.chart import Series, line_chart
from cityos.web.i18n import translator
from cityos.web.render import prefs_of

PAGE = 50
HISTORY = 120  # newest instances per attribute in a chart


async def entity_list(request: Request) -> Response:
    store = request.app.state.broker.store
    tenant_id = tenant(request)
    ctx = await request.app.state.broker.context(None)
    exists = await store.tenant_exists(tenant_id)
    types = sorted((ctx.compact_iri(t.type), t.count) for t in
                    (await store.entity_types(tenant_id) if exists else []))
    chosen = request.query_params.get("type", "")
    try:
        offset = bounded_int(request.query_params.get("offset", "0"), "offset")
    except NgsiError:  # a page: a bad offset shows the first one
        offset = 0
    rows: list[dict[str, Any]] = []
    total = 0
    if chosen and exists:
        found = await store.query_entities(tenant_id, EntityQuery(
            types=[ctx.expand_term(chosen)], limit=PAGE, offset=offset, count=True))
        total = found.count or 0
        for entity in found.entities:
            shown = render_entity(entity, ctx, View(format="keyValues", sys_attrs=True))
            name = shown.get("name")
            rows.append({"id": entity["id"], "name": name if isinstance(name, str) else "",
                         "modifiedAt": entity.get("modifiedAt", "")})
    return show(request, "entities.html", "entities", {
        "types": types, "chosen": chosen, "rows": rows, "total": total, "offset": offset,
        "page": PAGE})


def _epoch(text: str) -> float | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


async def _charts(request: Request, entity: dict[str, Any], ctx: Any, t: Any) -> list[str]:
    numeric = [iri for iri, insts in entity.get("attrs", {}).items()
               if any(isinstance(i.get("value"), int | float) and not isinstance(i.get("value"), bool)
                      for i in insts)]
    if not numeric:
        return []
    page = await request.app.state.broker.store.temporal_query(tenant(request), TemporalQuery(
        entity_ids=[entity["id"]], attrs=numeric, last_n=HISTORY))
    charts = []
    for iri, instances in sorted(page.history.get(entity["id"], {}).items()):
        points = []
        for inst in instances:
            value, at = inst.get("value"), _epoch(inst.get("observedAt") or inst.get("modifiedAt", ""))
            if isinstance(value, int | float) and not isinstance(value, bool) and at is not None:
                points.append((at, float(value)))
        if len(points) < 2:
            continue
        points.sort()
        unit = next((i.get("unitCode", "") for i in reversed(instances) if i.get("unitCode")), "")
        series = Series(ctx.compact_iri(iri), unit, points)
        title = t("console.entity.chart", attr=series.attr, n=len(points),
                  low=f"{series.low:g}", high=f"{series.high:g}")
        charts.append(line_chart(series, title))
    return charts


async def entity_page(request: Request) -> Response:
    store = request.app.state.broker.store
    entity_id = request.path_params["entityId"]
    ctx = await request.app.state.broker.context(None)
    entity = await store.get_entity(tenant(request), entity_id) \
        if await store.tenant_exists(tenant(request)) else None
    if entity is None:
        raise ResourceNotFound(f"no entity {entity_id[:200]!r}")
    shown = render_entity(entity, ctx, View(format="normalized", sys_attrs=True))
    attrs = [(k, orjson.dumps(v, option=orjson.OPT_INDENT_2).decode()[:4000])
             for k, v in shown.items() if k not in ("id", "type")]
    t = translator(prefs_of(request.scope).lang)
    types = [ctx.compact_iri(x) for x in entity["type"]]
    return show(request, "entity.html", "entities", {
        "entity_id": entity_id, "types": types, "attrs": attrs,
        "charts": await _charts(request, entity, ctx, t)})
