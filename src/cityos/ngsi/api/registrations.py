"""HTTP routes for /ngsi-ld/v1/csourceRegistrations: register, discover, update, delete.

ETSI GS CIM 009 v1.8 §5.9 (registration), §5.10 (discovery), §6.8–6.9. Registrations are kept
per tenant with entity types and attribute names expanded (shown compacted with the reader's
@context) and can be discovered; cityos does not yet forward queries to the sources.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.entities import broker_of
from cityos.ngsi.api.registration_rules import after_change, check_registrar
from cityos.ngsi.api.release import principal_sub
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
from cityos.ngsi.api.respond import ngsi_response, no_content, with_page_links
from cityos.ngsi.api.stored import owned_document
from cityos.ngsi.broker import Broker
from cityos.ngsi.errors import AlreadyExists, BadRequestData, ResourceNotFound
from cityos.ngsi.model.patch import patch_members
from cityos.ngsi.model.registration import (
    CONTEXT_KEY,
    OWNER_KEY,
    SYSTEM,
    as_entity,
    check_registration,
    compact_registration,
    expand_registration,
    in_window,
    info_matches,
    time_window,
)
from cityos.ngsi.model.terms import is_uri, now_iso
from cityos.ngsi.ownership import mask_registration, masking, unmask_registration, visible
from cityos.ngsi.query.geo import parse_geoq
from cityos.ngsi.query.q import parse_q

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
    url, ctx = await broker.context_url(body.context)
    reg = expand_registration(reg, ctx.expand_term)
    await check_registrar(request, reg)  # only types it may write (issue #18)
    reg[CONTEXT_KEY] = url
    reg[OWNER_KEY] = principal_sub(request)  # whose requests it serves (registration.serves)
    reg["createdAt"] = reg["modifiedAt"] = now_iso()
    await broker.store.kv_put(space(tenant), reg["id"], reg)
    await broker.registrations_changed(tenant, None, reg)
    return Response(status_code=201, headers={"Location": f"{BASE}/{quote(reg['id'], safe=':')}"})


async def _legacy(broker: Broker, reg: dict[str, Any]) -> dict[str, Any]:
    """Registrations stored before cityos kept them expanded (terms + jsonldContext)."""
    if CONTEXT_KEY in reg:
        return reg
    url = reg.pop("jsonldContext", None)
    ctx = await broker.context(url)
    return {**expand_registration(reg, ctx.expand_term), CONTEXT_KEY: url}


def shown(reg: dict[str, Any], ctx: Any, *, sys_attrs: bool = False,
          mask: bool = True) -> dict[str, Any]:
    """As read; with `mask`, contextSourceInfo values and an endpoint password masked
    (write-only, cityos.ngsi.ownership)."""
    out = compact_registration(reg, ctx.compact_iri, sys_attrs=sys_attrs)
    return mask_registration(out) if mask else out


async def query_registrations(request: Request) -> Response:
    """Context source discovery (§5.10.2): registrations that may hold the asked entities."""
    broker = broker_of(request)
    tenant = tenant_of(request)
    media = accept_of(request)
    ctx = await broker.context(link_context(request))
    params = request.query_params
    type_list = [t for part in split_list(params.get("type")) or () for t in part.split("|")]
    attr_list = split_list(params.get("attrs"))
    if not (type_list or attr_list or any(p in params for p in (
            "id", "idPattern", "q", "csf", "georel", "timerel"))):
        raise BadRequestData("discovery needs type, attrs, id, idPattern, q, csf, a geo-query "
                             "or a temporal query")
    types = {ctx.expand_term(t) for t in type_list} or None
    ids = set(split_list(params.get("id")) or ()) or None
    for entity_id in ids or ():
        if not is_uri(entity_id):
            raise BadRequestData(f"id {entity_id[:200]!r} is not a URI")
    pattern = _pattern(params.get("idPattern"))
    attrs = {ctx.expand_term(a) for a in attr_list or ()} or None
    filters = []
    for name in ("q", "csf"):
        if name in params:
            filters.append(parse_q(params[name]).bind(ctx.expand_term))
    if "georel" in params or "geometry" in params or "coordinates" in params:
        if not all(k in params for k in ("georel", "geometry", "coordinates")):
            raise BadRequestData("a geo-query needs georel, geometry and coordinates")
        gq = parse_geoq(params["georel"], params["geometry"], params["coordinates"],
                        params.get("geoproperty"))
        geo_iri = ctx.expand_term(gq.geoproperty)
        filters.append(lambda e: any(gq.matches(i["value"]) for i in e["attrs"].get(geo_iri, ())))
    window = time_window(params)
    limit, offset, count = page_params(request, broker.settings)
    sys_attrs = "sysAttrs" in (split_list(params.get("options")) or ())
    found = []
    for stored in visible(request, [v for _, v in await broker.store.kv_list(space(tenant))]):
        reg = await _legacy(broker, stored)
        if not any(info_matches(i, types, ids, pattern, attrs) for i in reg["information"]):
            continue
        if window is not None and not in_window(reg, window):
            continue
        if filters:  # its own members are named in the @context it was written with
            entity = as_entity(reg, (await broker.context(reg.get(CONTEXT_KEY))).expand_term)
            if not all(f(entity) for f in filters):
                continue
        found.append(reg)
    headers = {"NGSILD-Results-Count": str(len(found))} if count else None
    mask = masking(request)
    page = [shown(r, ctx, sys_attrs=sys_attrs, mask=mask) for r in found[offset:offset + limit]]
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in ("limit", "offset")]
    return with_page_links(ngsi_response(page, ctx, media, headers=headers), BASE, limit, offset,
                           len(found), JSONLD, kept)


def _pattern(raw: str | None) -> re.Pattern[str] | None:
    if raw is None:
        return None
    try:
        return re.compile(raw)
    except re.error:
        raise BadRequestData("idPattern is not a valid regular expression") from None


async def _stored(request: Request, broker: Broker, tenant: str, reg_id: str) -> dict[str, Any]:
    """The stored registration, if the caller may see it (its owner or a staff admin); else
    the 404 of a registration that does not exist."""
    found = await owned_document(request, broker.store, space(tenant), reg_id, "registration")
    return await _legacy(broker, found)


async def retrieve_registration(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    reg_id = _registration_id(request)
    media = accept_of(request)
    ctx = await broker.context(link_context(request))
    sys_attrs = "sysAttrs" in (split_list(request.query_params.get("options")) or ())
    reg = await _stored(request, broker, tenant, reg_id)
    return ngsi_response(shown(reg, ctx, sys_attrs=sys_attrs, mask=masking(request)), ctx, media)


async def update_registration(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    reg_id = _registration_id(request)
    body = await read_body(request, broker.settings.max_body_bytes,
                           allow=(JSON, JSONLD, MERGE_PATCH))
    before = await _stored(request, broker, tenant, reg_id)
    ctx = await broker.context(body.context if body.context is not None
                               else before.get(CONTEXT_KEY))
    # the patch is written in its own @context: compare and merge in expanded form; masked
    # values sent back as read keep the stored ones
    patch = unmask_registration({k: v for k, v in body.data.items() if k != "@context"}, before)
    if "information" in patch:
        check_registration({**before, "information": patch["information"]})
        patch["information"] = expand_registration(patch, ctx.expand_term)["information"]
    reg = patch_members(before, patch, reg_id, "registration", SYSTEM)
    check_registration(reg)
    await check_registrar(request, reg)  # only types it may write (issue #18)
    reg = after_change(reg, principal_sub(request))
    reg["modifiedAt"] = now_iso()
    await broker.store.kv_put(space(tenant), reg_id, reg)
    await broker.registrations_changed(tenant, before, reg)
    return no_content()


async def delete_registration(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    reg_id = _registration_id(request)
    before = await _stored(request, broker, tenant, reg_id)
    if not await broker.store.kv_delete(space(tenant), reg_id):
        raise ResourceNotFound(f"registration {reg_id} not found")
    await broker.registrations_changed(tenant, before, None)
    return no_content()
