"""HTTP routes for /ngsi-ld/v1/subscriptions: create, query, retrieve, update, delete.

ETSI GS CIM 009 v1.8 §5.8.1–5.8.5, §6.10–6.11. Subscriptions are kept per tenant in the
store's key/value space; `ngsi.notify` delivers what they ask for.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from cityos.ngsi.api.entities import broker_of
from cityos.ngsi.api.release import principal_sub, reader_of
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
from cityos.ngsi.errors import AlreadyExists, NgsiError, ResourceNotFound
from cityos.ngsi.model.patch import patch_members
from cityos.ngsi.model.subscription import (
    SYSTEM,
    check_future,
    check_subscription,
    with_status,
)
from cityos.ngsi.model.terms import now_iso
from cityos.ngsi.notify import space
from cityos.ngsi.notify.matching import DEFAULT_TRIGGERS
from cityos.ngsi.notify.owner import OWNER, check_readable, owner_doc
from cityos.ngsi.ownership import (
    mask_notification,
    mask_v2_member,
    masking,
    unmask_notification,
    visible,
)

BASE = "/ngsi-ld/v1/subscriptions"


def _subscription_id(request: Request) -> str:
    return path_uri(request, "subscriptionId", "subscription")


async def _context_url(broker: Broker, tenant: str, sub_id: str, value: Any) -> str:
    """The subscription's jsonldContext; the notifier keeps the resolved context, so that
    notifying does not count as a use of it."""
    url, ctx = await broker.context_url(value)
    broker.notifier.remember(tenant, sub_id, ctx)
    return url


async def _notification_context(broker: Broker, tenant: str, sub: dict[str, Any],
                                body_context: Any) -> None:
    """jsonldContext as given (it must resolve now: LdContextNotAvailable if not), else the
    request's @context (§5.2.12)."""
    given = sub.get("jsonldContext")
    if isinstance(given, str):
        await broker.context(given)
        if body_context is None:
            sub["jsonldContext"] = await _context_url(broker, tenant, sub["id"], given)
            return
    url = await _context_url(broker, tenant, sub["id"], body_context)
    sub.setdefault("jsonldContext", url)


async def _shown(broker: Broker, tenant: str, sub: dict[str, Any], ctx: Any,
                 mask: bool = True) -> dict[str, Any]:
    """A stored subscription as read (§5.2.12): its delivery status, the default
    notificationTrigger, its type and attribute names compacted with the reader's @context;
    createdAt and modifiedAt are system attributes, not shown; with `mask`, receiverInfo
    values and an endpoint password are masked (write-only, cityos.ngsi.ownership)."""
    out = {k: v for k, v in (await broker.notifier.status(tenant, sub)).items()
           if k not in ("createdAt", "modifiedAt", OWNER)}
    if mask and "notification" in out:
        out["notification"] = mask_notification(out["notification"])
    if mask and "v2" in out:  # made over /v2: its v2 form holds the same header values
        out["v2"] = mask_v2_member(out["v2"])
    out.setdefault("notificationTrigger", list(DEFAULT_TRIGGERS))
    try:
        own = await broker.notifier.context_of(tenant, sub)
    except NgsiError:  # its @context cannot be had now: show the terms as written
        return with_status(out)

    def term(name: Any) -> Any:
        if not isinstance(name, str) or any(c in name for c in ",;|()!"):
            return name  # a type expression: left as written
        return ctx.compact_iri(own.expand_term(name))

    if isinstance(out.get("entities"), list):
        out["entities"] = [{**e, "type": term(e.get("type"))} if isinstance(e, dict) else e
                           for e in out["entities"]]
    if isinstance(out.get("watchedAttributes"), list):
        out["watchedAttributes"] = [term(a) for a in out["watchedAttributes"]]
    notification = out.get("notification")
    if isinstance(notification, dict) and isinstance(notification.get("attributes"), list):
        out["notification"] = {**notification,
                               "attributes": [term(a) for a in notification["attributes"]]}
    return with_status(out)


async def create_subscription(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    body = await read_body(request, broker.settings.max_body_bytes)
    sub = {k: v for k, v in body.data.items() if k != "@context" and k not in SYSTEM}
    sub.setdefault("id", f"urn:ngsi-ld:Subscription:{uuid.uuid4()}")
    check_subscription(sub)
    check_future(sub.get("expiresAt"))
    if await broker.store.kv_get(space(tenant), sub["id"]) is not None:
        raise AlreadyExists(f"subscription {sub['id']} already exists")
    await _notification_context(broker, tenant, sub, body.context)
    await check_readable(broker, sub, reader_of(request))  # its types' read grants (issue 18)
    sub["createdAt"] = sub["modifiedAt"] = now_iso()
    sub[OWNER] = owner_doc(principal_sub(request), reader_of(request))  # whose eyes (issue 6)
    await broker.notifier.prepare(tenant, sub["id"])  # owed every change from now on
    await broker.store.kv_put(space(tenant), sub["id"], sub)
    await broker.notifier.subscribed(tenant, sub)
    return Response(status_code=201,
                    headers={"Location": f"{BASE}/{quote(sub['id'], safe=':')}"})


async def query_subscriptions(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    media = accept_of(request)
    ctx = await broker.context(link_context(request))
    limit, offset, count = page_params(request, broker.settings)
    subs = visible(request, [v for _, v in await broker.store.kv_list(space(tenant))])
    headers = {"NGSILD-Results-Count": str(len(subs))} if count else {}
    mask = masking(request)
    page = [await _shown(broker, tenant, s, ctx, mask) for s in subs[offset:offset + limit]]
    return with_page_links(ngsi_response(page, ctx, media, headers=headers), BASE, limit, offset,
                           len(subs), media)


async def _stored(request: Request, broker: Broker, tenant: str, sub_id: str) -> dict[str, Any]:
    """The stored subscription, if the caller may see it (its owner or a staff admin); else
    the 404 of a subscription that does not exist."""
    return await owned_document(request, broker.store, space(tenant), sub_id, "subscription")


async def retrieve_subscription(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    sub_id = _subscription_id(request)
    media = accept_of(request)
    ctx = await broker.context(link_context(request))
    sub = await _stored(request, broker, tenant, sub_id)
    return ngsi_response(await _shown(broker, tenant, sub, ctx, masking(request)), ctx, media)


async def update_subscription(request: Request) -> Response:
    """PATCH: the members given replace the stored ones; NGSI-LD Null removes one (§5.8.2)."""
    broker = broker_of(request)
    tenant = tenant_of(request)
    sub_id = _subscription_id(request)
    body = await read_body(request, broker.settings.max_body_bytes,
                           allow=(JSON, JSONLD, MERGE_PATCH))
    before = await _stored(request, broker, tenant, sub_id)
    if "notification" in body.data:  # masked values sent back as read keep the stored ones
        body.data["notification"] = unmask_notification(body.data["notification"],
                                                        before.get("notification"))
    sub = patch_members(before, body.data, sub_id, "subscription", SYSTEM)
    check_subscription(sub)
    if "expiresAt" in body.data:
        check_future(sub.get("expiresAt"))
    if body.context is not None or "jsonldContext" in body.data:
        if "jsonldContext" not in body.data:
            sub.pop("jsonldContext", None)  # the new @context replaces it
        await _notification_context(broker, tenant, sub, body.context)
    await check_readable(broker, sub, reader_of(request))  # its types' read grants (issue 18)
    sub["modifiedAt"] = now_iso()
    await broker.store.kv_put(space(tenant), sub_id, sub)
    await broker.notifier.subscribed(tenant, sub)
    return no_content()


async def delete_subscription(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    sub_id = _subscription_id(request)
    await _stored(request, broker, tenant, sub_id)
    if not await broker.store.kv_delete(space(tenant), sub_id):
        raise ResourceNotFound(f"subscription {sub_id} not found")
    await broker.notifier.unsubscribed(tenant, sub_id)
    return no_content()
