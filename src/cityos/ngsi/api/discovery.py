"""HTTP routes for type and attribute discovery: /types, /types/{type}, /attributes, /attributes/{attrId}.

ETSI GS CIM 009 v1.8 §5.7.5–5.7.8 (EntityTypeList, EntityType, EntityTypeInfo, AttributeList,
Attribute).
"""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.entities import broker_of
from cityos.ngsi.api.request import accept_of, bool_param, link_context, tenant_of
from cityos.ngsi.api.respond import ngsi_response
from cityos.ngsi.errors import NonexistentTenant, ResourceNotFound
from cityos.ngsi.model.terms import ENTITY_RESERVED
from cityos.storage.base import TypeInfo


async def _infos(request: Request) -> tuple[list[TypeInfo], Any, str]:
    broker = broker_of(request)
    tenant = tenant_of(request)
    media = accept_of(request)
    ctx = await broker.context(link_context(request))
    if not await broker.store.tenant_exists(tenant):
        raise NonexistentTenant(f"tenant {tenant!r} does not exist")
    return await broker.store.entity_types(tenant), ctx, media


async def list_types(request: Request) -> Response:
    infos, ctx, media = await _infos(request)
    if bool_param(request, "details"):
        data: Any = [{"id": i.type, "type": "EntityType", "typeName": ctx.compact_iri(i.type),
                      "attributeNames": [ctx.compact_iri(a) for a in i.attrs]} for i in infos]
    else:
        data = {"id": f"urn:ngsi-ld:EntityTypeList:{uuid.uuid4()}", "type": "EntityTypeList",
                "typeList": [ctx.compact_iri(i.type) for i in infos]}
    return ngsi_response(data, ctx, media)


async def type_info(request: Request) -> Response:
    infos, ctx, media = await _infos(request)
    wanted = ctx.expand_term(request.path_params["type"])
    info = next((i for i in infos if i.type == wanted), None)
    if info is None:
        raise ResourceNotFound(f"no entity of type {request.path_params['type']}")
    data = {"id": info.type, "type": "EntityTypeInfo", "typeName": ctx.compact_iri(info.type),
            "entityCount": info.count,
            "attributeDetails": [
                {"id": a, "type": "Attribute", "attributeName": ctx.compact_iri(a),
                 "attributeTypes": sorted(kinds)} for a, kinds in info.attrs.items()]}
    return ngsi_response(data, ctx, media)


def _attributes(infos: list[TypeInfo]) -> dict[str, dict[str, Any]]:
    attrs: dict[str, dict[str, Any]] = {}
    for info in infos:
        for attr, kinds in info.attrs.items():
            entry = attrs.setdefault(attr, {"kinds": set(), "types": [], "count": 0})
            entry["kinds"] |= kinds
            entry["types"].append(info.type)
            entry["count"] += info.attr_counts.get(attr, 0)
    return attrs


async def list_attributes(request: Request) -> Response:
    infos, ctx, media = await _infos(request)
    attrs = _attributes(infos)
    if bool_param(request, "details"):
        data: Any = [{"id": a, "type": "Attribute", "attributeName": ctx.compact_iri(a),
                      "typeNames": [ctx.compact_iri(t) for t in e["types"]]}
                     for a, e in attrs.items()]
    else:
        data = {"id": f"urn:ngsi-ld:AttributeList:{uuid.uuid4()}", "type": "AttributeList",
                "attributeList": [ctx.compact_iri(a) for a in attrs]}
    return ngsi_response(data, ctx, media)


async def attribute_info(request: Request) -> Response:
    infos, ctx, media = await _infos(request)
    name = request.path_params["attrId"]
    if name in ENTITY_RESERVED:
        raise ResourceNotFound(f"{name!r} is an entity member, not an attribute")
    wanted = ctx.expand_term(name)
    entry = _attributes(infos).get(wanted)
    if entry is None:
        raise ResourceNotFound(f"no attribute {request.path_params['attrId']}")
    data = {"id": wanted, "type": "Attribute", "attributeName": ctx.compact_iri(wanted),
            "attributeCount": entry["count"], "attributeTypes": sorted(entry["kinds"]),
            "typeNames": [ctx.compact_iri(t) for t in entry["types"]]}
    return ngsi_response(data, ctx, media)
