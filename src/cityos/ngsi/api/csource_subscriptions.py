"""HTTP routes for /ngsi-ld/v1/csourceSubscriptions: subscribe to context source registrations.

ETSI GS CIM 009 v1.8 §5.11 (create, update, retrieve, query, delete), §6.11–6.12. The
subscription is kept with the @context it was written in (never shown), and notified by
cityos.ngsi.csource.
"""

from __future__ import annotations

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
    tenant_of,
)
from cityos.ngsi.api.respond import ngsi_response, no_content, with_page_links
from cityos.ngsi.api.stored import owned_document
from cityos.ngsi.broker import Broker
from cityos.ngsi.csource import space
from cityos.ngsi.errors import AlreadyExists, BadRequestData, ResourceNotFound
from cityos.ngsi.model.patch import patch_members
from cityos.ngsi.model.registration import CONTEXT_KEY, time_window
from cityos.ngsi.model.subscription import SYSTEM, check_future, check_subscription, with_status
from cityos.ngsi.model.terms import now_iso
from cityos.ngsi.notify.owner import OWNER
from cityos.ngsi.ownership import (
    mask_notification,
    masking,
    owner_field,
    unmask_notification,
    visible,
)

BASE = "/ngsi-ld/v1/csourceSubscriptions"


def _check(sub: dict[str, Any]) -> None:
    check_subscription(sub)
    if "temporalQ" in sub:
        if not isinstance(sub["temporalQ"], dict):
            raise BadRequestData("temporalQ must be an object")
        time_window(sub["temporalQ"])
    if "csf" in sub and not isinstance(sub["csf"], str):
        raise BadRequestData("csf must be a string")


def _shown(sub: dict[str, Any], mask: bool = True) -> dict[str, Any]:
    """As read: without its @context and owner; with `mask`, receiverInfo values and an
    endpoint password masked (write-only, cityos.ngsi.ownership)."""
    out = {k: v for k, v in sub.items()
           if k not in (CONTEXT_KEY, "createdAt", "modifiedAt", OWNER)}
    if mask and "notification" in out:
        out["notification"] = mask_notification(out["notification"])
    return with_status(out)


async def _stored(request: Request, broker: Broker, tenant: str,
                  sub_id: str) -> dict[str, Any]:
    """The stored subscription, if the caller may see it (its owner or a staff admin); else
    the 404 of a subscription that does not exist."""
    return await owned_document(request, broker.store, space(tenant), sub_id, "subscription")


def _subscription_id(request: Request) -> str:
    return path_uri(request, "subscriptionId", "subscription")


async def create_csource_subscription(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    body = await read_body(request, broker.settings.max_body_bytes)
    sub = {k: v for k, v in body.data.items() if k != "@context" and k not in SYSTEM}
    sub.setdefault("id", f"urn:ngsi-ld:Subscription:{uuid.uuid4()}")
    _check(sub)
    check_future(sub.get("expiresAt"))
    if await broker.store.kv_get(space(tenant), sub["id"]) is not None:
        raise AlreadyExists(f"subscription {sub['id']} already exists")
    sub[CONTEXT_KEY], _ = await broker.context_url(body.context)
    sub["createdAt"] = sub["modifiedAt"] = now_iso()
    sub.update(owner_field(request))  # who may see, change and delete it (issue #18)
    await broker.csource.save(tenant, sub)
    return Response(status_code=201,
                    headers={"Location": f"{BASE}/{quote(sub['id'], safe=':')}"})


async def query_csource_subscriptions(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    media = accept_of(request)
    ctx = await broker.context(link_context(request))
    limit, offset, count = page_params(request, broker.settings)
    subs = visible(request, [v for _, v in await broker.store.kv_list(space(tenant))])
    headers = {"NGSILD-Results-Count": str(len(subs))} if count else None
    mask = masking(request)
    response = ngsi_response([_shown(s, mask) for s in subs[offset:offset + limit]], ctx, media,
                             headers=headers)
    return with_page_links(response, BASE, limit, offset, len(subs), JSONLD)


async def retrieve_csource_subscription(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    sub_id = _subscription_id(request)
    media = accept_of(request)
    ctx = await broker.context(link_context(request))
    await _stored(request, broker, tenant, sub_id)  # not another's: 404 before waiting
    await broker.csource.settled(tenant, sub_id)
    sub = await _stored(request, broker, tenant, sub_id)
    return ngsi_response(_shown(sub, masking(request)), ctx, media)


async def update_csource_subscription(request: Request) -> Response:
    """PATCH: the members given replace the stored ones; NGSI-LD Null removes one."""
    broker = broker_of(request)
    tenant = tenant_of(request)
    sub_id = _subscription_id(request)
    body = await read_body(request, broker.settings.max_body_bytes,
                           allow=(JSON, JSONLD, MERGE_PATCH))
    before = await _stored(request, broker, tenant, sub_id)
    if "notification" in body.data:  # masked values sent back as read keep the stored ones
        body.data["notification"] = unmask_notification(body.data["notification"],
                                                        before.get("notification"))
    sub = patch_members(before, body.data, sub_id, "subscription", SYSTEM | {CONTEXT_KEY})
    _check(sub)
    if "expiresAt" in body.data:
        check_future(sub.get("expiresAt"))
    if body.context is not None:
        sub[CONTEXT_KEY], _ = await broker.context_url(body.context)
    sub["modifiedAt"] = now_iso()
    await broker.csource.save(tenant, sub)
    return no_content()


async def delete_csource_subscription(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    sub_id = _subscription_id(request)
    await _stored(request, broker, tenant, sub_id)
    if not await broker.csource.delete(tenant, sub_id):
        raise ResourceNotFound(f"subscription {sub_id} not found")
    return no_content()
