"""HTTP routes for /ngsi-ld/v1/csourceRegistrations: register, discover, update, delete.

ETSI GS CIM 009 v1.8 §5.9 (registration), §5.10 (discovery), §6.8–6.9. Registrations are kept
per tenant and can be discovered; cityos does not yet forward queries to the sources.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.entities import broker_of
from cityos.ngsi.api.request import (
    JSON,
    JSONLD,
    MERGE_PATCH,
    accept_of,
    link_context,
    page_params,
    path_uri,
    read_body,
    split_list,
    tenant_of,
)
from cityos.ngsi.api.respond import ngsi_response, no_content
from cityos.ngsi.api.stored import stored_document
from cityos.ngsi.broker import Broker
from cityos.ngsi.errors import AlreadyExists, ResourceNotFound
from cityos.ngsi.model.patch import patch_members
from cityos.ngsi.model.registration import (
    SYSTEM,
    check_registration,
    registered_attrs,
    registered_types,
)
from cityos.ngsi.model.terms import now_iso

BASE = "/ngsi-ld/v1/csourceRegistrations"


def space(tenant: str) -> str:
    return f"ngsi.registrations/{tenant}"


def _registration_id(request: Request) -> str:
    return path_uri(request, "registrationId", "registration")


async def create_registration(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    body = await read_body(request, broker.settings.max_body_bytes)
    reg = {k: v for k, v in body.data.items() if k != "@context" and k not in SYSTEM}
    reg.setdefault("id", f"urn:ngsi-ld:ContextSourceRegistration:{uuid.uuid4()}")
    check_registration(reg)
    if await broker.store.kv_get(space(tenant), reg["id"]) is not None:
        raise AlreadyExists(f"registration {reg['id']} already exists")
    reg["jsonldContext"], _ = await broker.context_url(body.context)
    reg["createdAt"] = reg["modifiedAt"] = now_iso()
    await broker.store.kv_put(space(tenant), reg["id"], reg)
    return Response(status_code=201, headers={"Location": f"{BASE}/{quote(reg['id'], safe=':')}"})


async def query_registrations(request: Request) -> Response:
    """Context source discovery (§5.10.2): registrations naming the asked types/ids/attrs."""
    broker = broker_of(request)
    tenant = tenant_of(request)
    media = accept_of(request)
    ctx = await broker.context(link_context(request))
    params = request.query_params
    types = {ctx.expand_term(t) for t in split_list(params.get("type")) or ()}
    ids = set(split_list(params.get("id")) or ())
    pattern = params.get("idPattern")
    attrs = {ctx.expand_term(a) for a in split_list(params.get("attrs")) or ()}
    limit, offset, count = page_params(request, broker.settings)
    found = []
    for _, reg in await broker.store.kv_list(space(tenant)):
        reg_ctx = await broker.context(reg.get("jsonldContext"))
        if types and types.isdisjoint(reg_ctx.expand_term(t) for t in registered_types(reg)):
            continue
        if attrs and attrs.isdisjoint(reg_ctx.expand_term(a) for a in registered_attrs(reg)):
            continue
        if ids or pattern:
            sels = [s for i in reg["information"] for s in i.get("entities") or ()]
            if not any(_may_hold(s, ids, pattern) for s in sels):
                continue
        found.append(reg)
    headers = {"NGSILD-Results-Count": str(len(found))} if count else None
    return ngsi_response(found[offset:offset + limit], ctx, media, headers=headers)


def _may_hold(sel: dict[str, Any], ids: set[str], pattern: str | None) -> bool:
    if "id" in sel:
        return (not ids or sel["id"] in ids) and (
            pattern is None or re.fullmatch(pattern, sel["id"]) is not None)
    if "idPattern" in sel and ids:
        return any(re.fullmatch(str(sel["idPattern"]), i) for i in ids)
    return True


async def _stored(broker: Broker, tenant: str, reg_id: str) -> dict[str, Any]:
    return await stored_document(broker.store, space(tenant), reg_id, "registration")


async def retrieve_registration(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    reg_id = _registration_id(request)
    media = accept_of(request)
    ctx = await broker.context(link_context(request))
    return ngsi_response(await _stored(broker, tenant, reg_id), ctx, media)


async def update_registration(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    reg_id = _registration_id(request)
    body = await read_body(request, broker.settings.max_body_bytes,
                           allow=(JSON, JSONLD, MERGE_PATCH))
    reg = patch_members(await _stored(broker, tenant, reg_id), body.data, reg_id, "registration",
                        SYSTEM)
    check_registration(reg)
    if body.context is not None:
        reg["jsonldContext"], _ = await broker.context_url(body.context)
    reg["modifiedAt"] = now_iso()
    await broker.store.kv_put(space(tenant), reg_id, reg)
    return no_content()


async def delete_registration(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    reg_id = _registration_id(request)
    if not await broker.store.kv_delete(space(tenant), reg_id):
        raise ResourceNotFound(f"registration {reg_id} not found")
    return no_content()
