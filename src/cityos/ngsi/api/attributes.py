"""HTTP routes for the attributes of one entity: /ngsi-ld/v1/entities/{entityId}/attrs[/{attrId}].

ETSI GS CIM 009 v1.8 §5.6.2–5.6.5, §5.6.19 (append, update, partial update, replace, delete).
An optional `type` selector limits each operation to an entity of those types.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.entities import (
    broker_of,
    path_entity_id,
    unwrap,
    update_result,
    with_path_id,
)
from cityos.ngsi.api.release import writer_of
from cityos.ngsi.api.request import (
    JSON,
    JSONLD,
    MERGE_PATCH,
    bool_param,
    link_context,
    options_of,
    query_param,
    read_body,
    tenant_of,
)
from cityos.ngsi.api.respond import no_content, plain_json
from cityos.ngsi.broker import Broker
from cityos.ngsi.errors import BadRequestData, ResourceNotFound
from cityos.ngsi.model import change
from cityos.ngsi.model.read import (
    attribute_iri,
    read_attribute,
    read_attributes,
    read_instance,
    read_scope,
    read_types,
)
from cityos.ngsi.model.terms import ENTITY_RESERVED, is_uri, now_iso
from cityos.storage.base import KEEP, Mutation


async def _gate(request: Request, broker: Broker, entity_id: str, fn: Mutation) -> Mutation:
    """`fn`, applied only if the entity has one of the types in `?type=` (else 404)."""
    raw = query_param(request, "type")
    if raw is None:
        return fn
    ctx = await broker.context(link_context(request))
    wanted = {ctx.expand_term(t) for t in raw.split(",") if t.strip()}

    def gated(cur: dict[str, Any] | None) -> tuple[Any, Any]:
        if cur is not None and wanted.isdisjoint(cur["type"]):
            raise ResourceNotFound(f"entity {entity_id} of type {raw[:100]} not found")
        return fn(cur)

    return gated


async def _apply(request: Request, broker: Broker, tenant: str, entity_id: str,
                 fn: Mutation) -> Any:
    """Run `fn` on the entity (behind the type selector); its result, or its error raised."""
    [result] = await broker.store.mutate(
        tenant, [(entity_id, await _gate(request, broker, entity_id, fn))],
        writer=writer_of(request))
    return unwrap(result)


async def append_attrs(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    body = await read_body(request, broker.settings.max_body_bytes)
    ctx = await broker.context(body.context)
    no_overwrite = "noOverwrite" in options_of(request)
    now = now_iso()
    data = with_path_id(body.data, entity_id)
    types = read_types(data["type"], ctx) if "type" in data else None
    scope = read_scope(data["scope"]) if "scope" in data else None
    members = {k: v for k, v in data.items() if k not in ENTITY_RESERVED}
    attrs = read_attributes(members, ctx, now)

    def apply(cur: dict[str, Any] | None) -> tuple[Any, Any]:
        entity, outcome = change.append(cur, entity_id, attrs, now, no_overwrite=no_overwrite,
                                        types=types, scope=scope)
        return (entity if outcome.updated or types or scope else KEEP), outcome

    outcome = await _apply(request, broker, tenant, entity_id, apply)
    await broker.changed(tenant, [entity_id])
    if outcome.not_updated:
        return plain_json(update_result(outcome, ctx), status=207)
    return no_content()


async def update_attrs(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    body = await read_body(request, broker.settings.max_body_bytes)
    ctx = await broker.context(body.context)
    now = now_iso()
    data = body.data
    members = {k: v for k, v in data.items() if k not in ENTITY_RESERVED}
    types = read_types(data["type"], ctx) if "type" in data else None
    scope = read_scope(data["scope"]) if "scope" in data else None
    if not members and types is None and scope is None:
        raise BadRequestData("the body names no attribute to update")
    attrs = read_attributes(members, ctx, now, allow_null=True)

    def apply(cur: dict[str, Any] | None) -> tuple[Any, Any]:
        entity, outcome = change.update(cur, entity_id, attrs, now, types=types, scope=scope)
        return (entity if outcome.updated else KEEP), outcome

    outcome = await _apply(request, broker, tenant, entity_id, apply)
    await broker.changed(tenant, [entity_id])
    if outcome.not_updated:
        return plain_json(update_result(outcome, ctx), status=207)
    return no_content()


async def patch_attr(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    name = request.path_params["attrId"]
    body = await read_body(request, broker.settings.max_body_bytes,
                           allow=(JSON, JSONLD, MERGE_PATCH))
    ctx = await broker.context(body.context)
    now = now_iso()
    iri = attribute_iri(name, ctx)
    data = {k: v for k, v in body.data.items() if k != "@context"}
    fragment = _read_fragment(name, data, ctx, now)
    await _apply(request, broker, tenant, entity_id,
                 lambda cur: (change.partial_update(cur, entity_id, iri, fragment, now), None))
    await broker.changed(tenant, [entity_id])
    return no_content()


def _read_fragment(name: str, data: Any, ctx: Any, now: str) -> dict[str, Any]:
    """A partial attribute: may omit `type` and even the value (only sub-attributes)."""
    if not isinstance(data, dict):
        raise BadRequestData("the attribute fragment must be a JSON object")
    if any(k in data for k in ("value", "object", "languageMap", "vocab", "json", "valueList",
                               "objectList")) or "type" in data:
        return read_instance(name, data, ctx, now, allow_null=True)
    fragment: dict[str, Any] = {}
    for key in ("datasetId", "observedAt", "unitCode"):
        if key in data:
            fragment[key] = data[key]
    subs = {k: v for k, v in data.items() if k not in fragment}
    if subs:
        fragment["subattrs"] = read_attributes(subs, ctx, now, allow_null=True, depth=1)
    return fragment


async def replace_attr(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    name = request.path_params["attrId"]
    body = await read_body(request, broker.settings.max_body_bytes)
    ctx = await broker.context(body.context)
    now = now_iso()
    iri = attribute_iri(name, ctx)
    data = {k: v for k, v in body.data.items() if k != "@context"}
    instances = read_attribute(name, data, ctx, now)
    await _apply(request, broker, tenant, entity_id,
                 lambda cur: (change.replace_attribute(cur, entity_id, iri, instances, now), None))
    await broker.changed(tenant, [entity_id])
    return no_content()


async def delete_attr(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    entity_id = path_entity_id(request)
    name = request.path_params["attrId"]
    ctx = await broker.context(link_context(request))
    if name == "scope":
        await _apply(request, broker, tenant, entity_id,
                     lambda cur: (change.delete_scope(cur, entity_id, now_iso()), None))
        await broker.changed(tenant, [entity_id])
        return no_content()
    iri = attribute_iri(name, ctx)
    dataset_id = request.query_params.get("datasetId")
    if dataset_id is not None and not is_uri(dataset_id):
        raise BadRequestData("datasetId must be a URI")
    delete_all = bool_param(request, "deleteAll")
    now = now_iso()
    await _apply(request, broker, tenant, entity_id, lambda cur: (change.delete_attribute(
        cur, entity_id, iri, dataset_id, delete_all, now), None))
    await broker.changed(tenant, [entity_id])
    return no_content()
