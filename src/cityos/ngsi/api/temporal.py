"""HTTP routes of the temporal API's provision: create, append, delete, modify instances.

ETSI GS CIM 009 v1.8 §5.6.11–5.6.18, §6.18–6.22. Consumption (queries) is in temporal_read.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.entities import broker_of, path_entity_id, unwrap
from cityos.ngsi.api.release import writer_of
from cityos.ngsi.api.request import (
    JSON,
    JSONLD,
    MERGE_PATCH,
    bool_param,
    link_context,
    read_body,
    tenant_of,
)
from cityos.ngsi.api.respond import no_content
from cityos.ngsi.errors import BadRequestData, ResourceNotFound
from cityos.ngsi.model import change
from cityos.ngsi.model.read import attribute_iri, read_instance, read_scope, read_types
from cityos.ngsi.model.terms import ENTITY_RESERVED, is_uri, now_iso, parse_datetime
from cityos.storage.base import DELETE, KEEP

BASE = "/ngsi-ld/v1"


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

    created = unwrap(await broker.store.add_instances(tenant, entity_id, apply, instances,
                                                      writer=writer_of(request)))
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

    unwrap(await broker.store.add_instances(tenant, entity_id, apply, instances,
                                            writer=writer_of(request)))
    await broker.changed(tenant, [entity_id])
    return no_content()


async def delete_temporal(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    removed, existed = unwrap(await broker.store.delete_instances(
        tenant, entity_id, fn=lambda cur: (KEEP if cur is None else DELETE, cur is not None),
        writer=writer_of(request)))
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
        tenant, entity_id, attr=iri, dataset_id=dataset, fn=_exists(entity_id),
        writer=writer_of(request)))
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
    if not unwrap(await broker.store.replace_instance(tenant, entity_id, iri, instance_id,
                                                      instance, now, writer=writer_of(request))):
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
        tenant, entity_id, attr=iri, instance_id=instance_id, writer=writer_of(request)))
    if not removed:
        raise ResourceNotFound(f"instance {instance_id[:200]} not found")
    return no_content()
