"""HTTP routes of the temporal API under /ngsi-ld/v1/temporal/entities.

ETSI GS CIM 009 v1.8 §5.6.11–5.6.18 (temporal provision), §5.7.3–5.7.4 (temporal consumption),
§6.18–6.22 (HTTP binding).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.entities import broker_of, path_entity_id, unwrap
from cityos.ngsi.api.request import (
    JSON,
    JSONLD,
    MERGE_PATCH,
    accept_of,
    bool_param,
    entity_page,
    int_param,
    link_context,
    read_body,
    split_list,
    tenant_of,
)
from cityos.ngsi.api.respond import ngsi_response, no_content
from cityos.ngsi.api.selection import check_attr_names, selection_from_params, to_store_query
from cityos.ngsi.errors import BadRequestData, InvalidRequest, NonexistentTenant, ResourceNotFound
from cityos.ngsi.model import change
from cityos.ngsi.model.read import attribute_iri, read_instance, read_scope, read_types
from cityos.ngsi.model.temporal_write import render_aggregated, render_temporal
from cityos.ngsi.model.terms import ENTITY_RESERVED, is_uri, now_iso, parse_datetime
from cityos.storage.base import DELETE, KEEP, Aggregation, TemporalQuery

BASE = "/ngsi-ld/v1"
TIMERELS = ("before", "after", "between")
TIMEPROPERTIES = ("observedAt", "createdAt", "modifiedAt")
AGGR_METHODS = ("totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq")
TEMPORAL_OPTIONS = frozenset({"temporalValues", "aggregatedValues", "sysAttrs", "normalized"})
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
    return int(sum(float(g) * unit for g, unit in zip(match.groups(), _UNIT_MS, strict=True) if g))


def _time_ms(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    moment = parse_datetime(raw)
    if moment is None:
        raise BadRequestData(f"{name} must be an ISO 8601 date-time, not {raw[:50]!r}")
    return int(moment.timestamp() * 1000)


def temporal_query_of(request: Request, entity_ids: list[str], ctx: Any) -> TemporalQuery:
    """timerel, timeAt, endTimeAt, timeproperty, lastN and attrs as a store query (§4.11)."""
    params = request.query_params
    timerel = params.get("timerel")
    time_at = _time_ms(request, "timeAt")
    end = _time_ms(request, "endTimeAt")
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
    last_n = int_param(request, "lastN", 0, minimum=1) if "lastN" in params else None
    attrs = split_list(params.get("attrs"))
    check_attr_names(attrs)
    return TemporalQuery(entity_ids, [ctx.expand_term(a) for a in attrs] if attrs else None,
                         timeproperty, timerel, time_at, end, last_n)


def _options(request: Request) -> set[str]:
    options = set(split_list(request.query_params.get("options")) or ())
    unknown = options - TEMPORAL_OPTIONS
    if unknown:
        raise InvalidRequest(f"unknown options {', '.join(sorted(unknown))[:200]}")
    if request.query_params.get("format") == "temporalValues":
        options.add("temporalValues")
    elif request.query_params.get("format") not in (None, "normalized"):
        raise InvalidRequest("format must be normalized or temporalValues here")
    if "aggregatedValues" in options and "temporalValues" in options:
        raise BadRequestData("options ask for more than one representation")
    return options


def _aggregation(request: Request, options: set[str], query: TemporalQuery) -> Aggregation | None:
    methods = split_list(request.query_params.get("aggrMethods"))
    if "aggregatedValues" not in options:
        return None
    if not methods:
        raise BadRequestData("options=aggregatedValues needs aggrMethods")
    bogus = [m for m in methods if m not in AGGR_METHODS]
    if bogus:
        raise BadRequestData(f"unknown aggrMethods {', '.join(bogus)[:200]}")
    raw = request.query_params.get("aggrPeriodDuration", "P0D")
    period = duration_ms(raw) or None
    start = query.time_at if query.timerel in ("after", "between") else None
    return Aggregation(list(dict.fromkeys(methods)), period, start)


async def _render(request: Request, tenant: str, entities: list[dict[str, Any]],
                  ctx: Any) -> list[dict[str, Any]]:
    broker = broker_of(request)
    options = _options(request)
    query = temporal_query_of(request, [e["id"] for e in entities], ctx)
    aggregation = _aggregation(request, options, query)
    if aggregation is not None:
        aggregated = await broker.store.temporal_aggregate(tenant, query, aggregation)
        return [render_aggregated(e, aggregated.get(e["id"], {}), ctx) for e in entities]
    history = await broker.store.temporal_query(tenant, query)
    datasets = split_list(request.query_params.get("datasetId"))
    if datasets:  # only these instances; "@none" is the default one
        wanted = {None if d == "@none" else d for d in datasets}
        history = {eid: {a: kept for a, insts in attrs.items()
                         if (kept := [i for i in insts if i.get("datasetId") in wanted])}
                   for eid, attrs in history.items()}
    return [render_temporal(e, history.get(e["id"], {}), ctx, sys_attrs="sysAttrs" in options,
                            simplified="temporalValues" in options,
                            timeproperty=query.timeproperty) for e in entities]


# consumption ---------------------------------------------------------------------------------
async def query_temporal(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    media = accept_of(request)
    ctx = await broker.context(link_context(request))
    sel = selection_from_params(request.query_params)
    if not (sel.type or sel.attrs or sel.q or sel.georel or sel.scope_q):
        raise BadRequestData("a temporal query needs type, attrs, q, a geo-query or scopeQ")
    limit, offset, count = entity_page(request, broker.settings)
    temporal_query_of(request, [], ctx)  # parameters checked before any work
    _aggregation(request, _options(request), TemporalQuery([]))
    if not await broker.store.tenant_exists(tenant):
        raise NonexistentTenant(f"tenant {tenant!r} does not exist")
    result = await broker.store.query_entities(
        tenant, to_store_query(sel, ctx, limit=limit, offset=offset, count=count))
    data = await _render(request, tenant, result.entities, ctx)
    headers = {"NGSILD-Results-Count": str(result.count)} if result.count is not None else None
    return ngsi_response(data, ctx, media, headers=headers)


async def retrieve_temporal(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    media = accept_of(request)
    ctx = await broker.context(link_context(request))
    temporal_query_of(request, [], ctx)
    _aggregation(request, _options(request), TemporalQuery([]))
    entity = await broker.store.get_entity(tenant, entity_id)
    if entity is None:
        raise ResourceNotFound(f"entity {entity_id} not found")
    [data] = await _render(request, tenant, [entity], ctx)
    if "attrs" in request.query_params and data.keys() <= {"id", "type", "scope"}:
        raise ResourceNotFound(f"entity {entity_id} has no history of these attributes")
    return ngsi_response(data, ctx, media)


# provision -----------------------------------------------------------------------------------
def _read_history(data: dict[str, Any], ctx: Any, now: str) -> list[tuple[str, dict[str, Any]]]:
    """Every instance of a temporal entity fragment: attribute -> instance or list of them."""
    out: list[tuple[str, dict[str, Any]]] = []
    for name, raw in data.items():
        if name in ENTITY_RESERVED:
            continue
        iri = attribute_iri(name, ctx)
        items = raw if isinstance(raw, list) and raw else [raw]
        out += [(iri, read_instance(name, item, ctx, now)) for item in items]
    return out


def _latest(instances: list[tuple[str, dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The newest instance per attribute and dataset: what the entity shows now."""
    best: dict[tuple[str, Any], dict[str, Any]] = {}
    for iri, inst in instances:
        key = (iri, inst.get("datasetId"))
        if key not in best or _newer(inst, best[key]):
            best[key] = inst
    attrs: dict[str, list[dict[str, Any]]] = {}
    for (iri, _), inst in best.items():
        attrs.setdefault(iri, []).append(dict(inst))
    return attrs


def _newer(inst: dict[str, Any], than: dict[str, Any]) -> bool:
    a, b = parse_datetime(inst.get("observedAt")), parse_datetime(than.get("observedAt"))
    return a is None or b is None or a >= b


def _merge_latest(cur: dict[str, Any], latest: dict[str, list[dict[str, Any]]], now: str) -> None:
    attrs = cur.setdefault("attrs", {})
    for iri, instances in latest.items():
        current = attrs.setdefault(iri, [])
        for inst in instances:
            same = [i for i, old in enumerate(current) if old.get("datasetId") == inst.get("datasetId")]
            if not same:
                current.append(inst)
            elif _newer(inst, current[same[0]]):
                inst["createdAt"] = current[same[0]].get("createdAt", now)
                current[same[0]] = inst
    cur["modifiedAt"] = now


async def create_temporal(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    body = await read_body(request, broker.settings.max_body_bytes)
    ctx = await broker.context(body.context)
    data = body.data
    entity_id = data.get("id")
    if not isinstance(entity_id, str) or not is_uri(entity_id):
        raise BadRequestData("the temporal entity needs an id that is a URI")
    if "type" not in data:
        raise BadRequestData("the temporal entity has no 'type'")
    types = read_types(data["type"], ctx)
    scope = read_scope(data["scope"]) if "scope" in data else None
    now = now_iso()
    instances = _read_history(data, ctx, now)
    latest = _latest(instances)

    def apply(cur: dict[str, Any] | None) -> tuple[Any, Any]:
        if cur is None:
            entity: dict[str, Any] = {"id": entity_id, "type": types, "attrs": latest}
            if scope is not None:
                entity["scope"] = scope
            return change.new_entity(entity, now), True
        cur["type"] = list(dict.fromkeys([*cur["type"], *types]))
        _merge_latest(cur, latest, now)
        return cur, False

    created = unwrap(await broker.store.add_instances(tenant, entity_id, apply, instances))
    await broker.changed(tenant, [entity_id])
    if created:
        return Response(status_code=201, headers={
            "Location": f"{BASE}/temporal/entities/{quote(entity_id, safe=':')}"})
    return no_content()


async def append_temporal(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    body = await read_body(request, broker.settings.max_body_bytes)
    ctx = await broker.context(body.context)
    now = now_iso()
    instances = _read_history(body.data, ctx, now)
    latest = _latest(instances)

    def apply(cur: dict[str, Any] | None) -> tuple[Any, Any]:
        entity = change.must_exist(cur, entity_id)
        _merge_latest(entity, latest, now)
        return entity, None

    unwrap(await broker.store.add_instances(tenant, entity_id, apply, instances))
    await broker.changed(tenant, [entity_id])
    return no_content()


async def delete_temporal(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    removed, existed = unwrap(await broker.store.delete_instances(
        tenant, entity_id, fn=lambda cur: (KEEP if cur is None else DELETE, cur is not None)))
    if not removed and not existed:
        raise ResourceNotFound(f"temporal entity {entity_id} not found")
    return no_content()


def _exists(entity_id: str) -> Any:
    def check(cur: dict[str, Any] | None) -> tuple[Any, Any]:
        change.must_exist(cur, entity_id)
        return KEEP, None

    return check


async def delete_temporal_attr(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    ctx = await broker.context(link_context(request))
    iri = attribute_iri(request.path_params["attrId"], ctx)
    dataset_id = request.query_params.get("datasetId")
    if dataset_id is not None and not is_uri(dataset_id):
        raise BadRequestData("datasetId must be a URI")
    dataset = None if bool_param(request, "deleteAll") else (dataset_id or "@none")
    removed, _ = unwrap(await broker.store.delete_instances(
        tenant, entity_id, attr=iri, dataset_id=dataset, fn=_exists(entity_id)))
    if not removed:
        raise ResourceNotFound(f"attribute {request.path_params['attrId'][:100]} has no history")
    return no_content()


def _instance_id(request: Request) -> str:
    instance_id: str = request.path_params["instanceId"]
    if not is_uri(instance_id):
        raise BadRequestData("instanceId must be a URI")
    return instance_id


async def modify_instance(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    instance_id = _instance_id(request)
    name = request.path_params["attrId"]
    body = await read_body(request, broker.settings.max_body_bytes,
                           allow=(JSON, JSONLD, MERGE_PATCH))
    ctx = await broker.context(body.context)
    iri = attribute_iri(name, ctx)
    data = {k: v for k, v in body.data.items() if k != "@context"}
    if name in data and isinstance(data[name], dict | list):  # {attr: instance} form
        data = data[name][0] if isinstance(data[name], list) and data[name] else data[name]
    now = now_iso()
    instance = read_instance(name, data, ctx, now)
    if not await broker.store.replace_instance(tenant, entity_id, iri, instance_id, instance, now):
        raise ResourceNotFound(f"instance {instance_id[:200]} not found")
    return no_content()


async def delete_instance(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    instance_id = _instance_id(request)
    ctx = await broker.context(link_context(request))
    iri = attribute_iri(request.path_params["attrId"], ctx)
    removed, _ = unwrap(await broker.store.delete_instances(
        tenant, entity_id, attr=iri, instance_id=instance_id))
    if not removed:
        raise ResourceNotFound(f"instance {instance_id[:200]} not found")
    return no_content()
