"""HTTP routes of the temporal API's consumption: retrieve and query temporal evolution.

ETSI GS CIM 009 v1.8 §5.7.3–5.7.4 (GET /temporal/entities, /temporal/entities/{id},
POST /temporal/entityOperations/query), §4.5.8/4.5.9/4.5.19 (representations), §6.3.10
(a response longer than `ngsi.temporal_max_instances` instances is cut along the time axis:
206 Partial Content with `Content-Range: date-time <start>-<end>/<lastN or *>`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.batch import read_query
from cityos.ngsi.api.entities import broker_of, path_entity_id
from cityos.ngsi.api.release import reader_of, released
from cityos.ngsi.api.request import (
    accept_of,
    entity_page,
    link_context,
    split_list,
    tenant_of,
)
from cityos.ngsi.api.respond import ngsi_response
from cityos.ngsi.api.selection import (
    Selection,
    check_attr_names,
    selection_from_params,
    to_store_query,
)
from cityos.ngsi.errors import BadRequestData, InvalidRequest, NonexistentTenant, ResourceNotFound
from cityos.ngsi.model.projection import Projection, parse_projection
from cityos.ngsi.model.temporal_write import ms_iso, render_aggregated, render_temporal
from cityos.ngsi.model.terms import parse_datetime
from cityos.numbers import bounded_int, bounded_seconds
from cityos.storage.base import Aggregation, TemporalPage, TemporalQuery

Params = Mapping[str, str]
TIMERELS = ("before", "after", "between")
TIMEPROPERTIES = ("observedAt", "createdAt", "modifiedAt")
AGGR_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
TEMPORAL_OPTIONS = frozenset({"temporalValues", "aggregatedValues", "sysAttrs", "normalized"})
_CORE = frozenset({"id", "type", "scope", "createdAt", "modifiedAt"})
_DURATION = re.compile(r"^P(?!$)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?"
                       r"(?:T(?!$)(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
# calendar units taken at fixed length (a year of 365 days, a month of 30)
_UNIT_MS = (365 * 86_400_000, 30 * 86_400_000, 7 * 86_400_000, 86_400_000, 3_600_000, 60_000,
            1000)


def duration_ms(text: str) -> int:
    """An ISO 8601 duration (PT1H, P1D, P1M …) in milliseconds; BadRequestData if it is not one."""
    match = _DURATION.match(text)
    if match is None:
        raise BadRequestData(f"aggrPeriodDuration {text[:50]!r} is not an ISO 8601 duration")
    total = sum(float(g) * unit for g, unit in zip(match.groups(), _UNIT_MS, strict=True) if g)
    return int(bounded_seconds(total / 1000, "aggrPeriodDuration") * 1000)


def _time_ms(params: Params, name: str) -> int | None:
    raw = params.get(name)
    if raw is None:
        return None
    moment = parse_datetime(raw)
    if moment is None:
        raise BadRequestData(f"{name} must be an ISO 8601 date-time, not {raw[:50]!r}")
    return int(moment.timestamp() * 1000)


def _last_n(params: Params) -> int | None:
    raw = params.get("lastN")
    if raw is None:
        return None
    return bounded_int(raw, "lastN", minimum=1)


def temporal_query_of(params: Params, entity_ids: list[str], ctx: Any,
                      limit: int | None = None) -> TemporalQuery:
    """timerel, timeAt, endTimeAt, timeproperty, lastN and attrs as a store query (§4.11)."""
    timerel = params.get("timerel")
    time_at = _time_ms(params, "timeAt")
    end = _time_ms(params, "endTimeAt")
    if timerel is not None:
        if timerel not in TIMERELS:
            raise BadRequestData("timerel must be before, after or between")
        if time_at is None:
            raise BadRequestData("timerel needs timeAt")
        if timerel == "between" and (end is None or end <= time_at):
            raise BadRequestData("timerel=between needs an endTimeAt later than timeAt")
    elif time_at is not None or end is not None:
        raise BadRequestData("timeAt and endTimeAt need timerel")
    timeproperty = params.get("timeproperty", "observedAt")
    if timeproperty not in TIMEPROPERTIES:
        raise BadRequestData("timeproperty must be observedAt, createdAt or modifiedAt")
    attrs = split_list(params.get("attrs"))
    check_attr_names(attrs)
    return TemporalQuery(entity_ids, [ctx.expand_term(a) for a in attrs] if attrs else None,
                         timeproperty, timerel, time_at, end, _last_n(params), limit)


def _options(params: Params) -> set[str]:
    options = set(split_list(params.get("options")) or ())
    unknown = options - TEMPORAL_OPTIONS
    if unknown:
        raise InvalidRequest(f"unknown options {', '.join(sorted(unknown))[:200]}")
    fmt = params.get("format")
    if fmt in ("temporalValues", "simplified"):
        options.add("temporalValues")
    elif fmt == "aggregatedValues":
        options.add("aggregatedValues")
    elif fmt not in (None, "normalized"):
        raise InvalidRequest("format must be normalized, temporalValues or aggregatedValues here")
    if fmt is not None:  # format wins over a representation named in options (§6.3.7)
        chosen = {"temporalValues": "temporalValues", "simplified": "temporalValues",
                  "aggregatedValues": "aggregatedValues"}.get(fmt)
        options -= {"temporalValues", "aggregatedValues"} - {chosen}
    if "aggregatedValues" in options and "temporalValues" in options:
        raise BadRequestData("options ask for more than one representation")
    return options


def _aggregation(params: Params, options: set[str], query: TemporalQuery) -> Aggregation | None:
    methods = split_list(params.get("aggrMethods"))
    if "aggregatedValues" not in options:
        return None
    if not methods:
        raise BadRequestData("options=aggregatedValues needs aggrMethods")
    bogus = [m for m in methods if m not in AGGR_METHODS]
    if bogus:
        raise BadRequestData(f"unknown aggrMethods {', '.join(bogus)[:200]}")
    raw = params.get("aggrPeriodDuration", "P0D")
    period = duration_ms(raw) or None
    start = query.time_at if query.timerel in ("after", "between") else None
    return Aggregation(list(dict.fromkeys(methods)), period, start)


def _projections(params: Params) -> tuple[Projection | None, Projection | None]:
    pick = parse_projection(params["pick"], "pick") if "pick" in params else None
    omit = parse_projection(params["omit"], "omit") if "omit" in params else None
    if (pick is not None or omit is not None) and "attrs" in params:
        raise BadRequestData("pick and omit cannot be used together with attrs")
    if pick is not None and omit is not None and not pick.keys().isdisjoint(omit.keys()):
        raise BadRequestData("a member cannot be both in pick and in omit")
    return pick, omit


def _project(data: dict[str, Any], pick: Projection | None,
             omit: Projection | None) -> dict[str, Any]:
    if pick is not None:
        data = {k: v for k, v in data.items() if k in pick}
    if omit is not None:
        data = {k: v for k, v in data.items() if k not in omit}
    return data


def _check(params: Params, ctx: Any) -> None:
    """Every parameter checked before any work."""
    options = _options(params)
    _aggregation(params, options, temporal_query_of(params, [], ctx))
    _projections(params)


def _content_range(page: TemporalPage, query: TemporalQuery) -> str:
    """Where the cut page lies in time: oldest → newest, or newest → oldest with lastN."""
    assert page.cut is not None and page.first is not None
    if query.last_n is None:
        start = query.time_at if query.timerel in ("after", "between") else page.first
        return f"date-time {ms_iso(start or page.first)}-{ms_iso(page.cut)}/*"
    start = {"between": query.end_time_at, "before": query.time_at}.get(query.timerel or "")
    return f"date-time {ms_iso(start or page.first)}-{ms_iso(page.cut)}/{query.last_n}"


async def _render(request: Request, params: Params, tenant: str, entities: list[dict[str, Any]],
                  ctx: Any, *, drop_empty: bool = False
                  ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    broker = broker_of(request)
    options = _options(params)
    limit = broker.settings.temporal_max_instances or None
    query = temporal_query_of(params, [e["id"] for e in entities], ctx, limit)
    query.reader = reader_of(request)
    pick, omit = _projections(params)
    aggregation = _aggregation(params, options, query)
    if aggregation is not None:
        aggregated = await broker.store.temporal_aggregate(tenant, query, aggregation)
        released(request, tenant, entities, "temporal")
        return [_project(render_aggregated(e, aggregated.get(e["id"], {}), ctx), pick, omit)
                for e in entities], {}
    page = await broker.store.temporal_query(tenant, query)
    history = page.history
    datasets = split_list(params.get("datasetId"))
    if datasets:  # only these instances; "@none" is the default one
        wanted = {None if d == "@none" else d for d in datasets}
        history = {eid: {a: kept for a, insts in attrs.items()
                         if (kept := [i for i in insts if i.get("datasetId") in wanted])}
                   for eid, attrs in history.items()}
    if drop_empty:  # a query lists only entities with instances in the asked window
        entities = [e for e in entities if history.get(e["id"]) or e["id"] in page.empty]
    for entity_id, attrs in page.empty.items():  # cut away by the page: shown empty
        for attr in attrs:
            history.setdefault(entity_id, {}).setdefault(attr, [])
    data = [_project(render_temporal(e, history.get(e["id"], {}), ctx,
                                     sys_attrs="sysAttrs" in options,
                                     simplified="temporalValues" in options,
                                     timeproperty=query.timeproperty), pick, omit)
            for e in entities]
    headers = {"Content-Range": _content_range(page, query)} if page.cut is not None else {}
    released(request, tenant, entities, "temporal")
    return data, headers


async def _query(request: Request, params: Params, sel: Selection, ctx: Any) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    media = accept_of(request)
    local = params.get("local") == "true"  # this broker's own entities only: no selector needed
    if not (sel.type or sel.attrs or sel.q or sel.georel or sel.scope_q or sel.any_of or local):
        raise BadRequestData("a temporal query needs type, attrs, q, a geo-query or scopeQ")
    limit, offset, count = entity_page(request, broker.settings)
    _check(params, ctx)
    if not await broker.store.tenant_exists(tenant):
        raise NonexistentTenant(f"tenant {tenant!r} does not exist")
    query = to_store_query(sel, ctx, limit=limit, offset=offset, count=count)
    query.reader = reader_of(request)
    result = await broker.store.query_entities(tenant, query)
    data, headers = await _render(request, params, tenant, result.entities, ctx, drop_empty=True)
    if result.count is not None:
        headers["NGSILD-Results-Count"] = str(result.count)
    status = 206 if "Content-Range" in headers else 200
    return ngsi_response(data, ctx, media, headers=headers or None, status=status)


async def query_temporal(request: Request) -> Response:
    """GET /temporal/entities."""
    ctx = await broker_of(request).context(link_context(request))
    params = request.query_params
    return await _query(request, params, selection_from_params(params), ctx)


async def query_temporal_post(request: Request) -> Response:
    """POST /temporal/entityOperations/query: a Query object with its temporalQ (§5.2.23)."""
    ctx, data, sel = await read_query(request)
    params = dict(request.query_params)
    temporal_q = data.get("temporalQ", {})
    if not isinstance(temporal_q, dict):
        raise BadRequestData("temporalQ must be an object")
    for key in ("timerel", "timeAt", "endTimeAt", "timeproperty", "lastN"):
        if key in temporal_q:
            value = temporal_q[key]
            if not isinstance(value, str | int) or isinstance(value, bool):
                raise BadRequestData(f"temporalQ.{key} must be a string")
            params[key] = str(value)
    if sel.attrs:
        params["attrs"] = ",".join(sel.attrs)
    return await _query(request, params, sel, ctx)


async def retrieve_temporal(request: Request) -> Response:
    """GET /temporal/entities/{entityId}."""
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    media = accept_of(request)
    ctx = await broker.context(link_context(request))
    params = request.query_params
    _check(params, ctx)
    entity = await broker.store.get_entity(tenant, entity_id, reader_of(request))
    if entity is None:
        raise ResourceNotFound(f"entity {entity_id} not found")
    [data], headers = await _render(request, params, tenant, [entity], ctx)
    if "attrs" in params and data.keys() <= _CORE:
        raise ResourceNotFound(f"entity {entity_id} has no history of these attributes")
    if ("pick" in params or "omit" in params) and not data:
        raise ResourceNotFound(f"pick and omit leave nothing of entity {entity_id}")
    status = 206 if "Content-Range" in headers else 200
    return ngsi_response(data, ctx, media, headers=headers or None, status=status)
