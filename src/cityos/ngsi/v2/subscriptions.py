"""NGSI v2 subscriptions (Orion's /v2/subscriptions), kept as NGSI-LD subscriptions with a
`v2` member, so that one notifier with its outbox, retries and status delivers both.

A v2 subscription's id is 24 hex digits (as Orion's); the NGSI-LD id is
`urn:ngsi-ld:Subscription:<that id>`. Notifications go out in v2's format
(`{"subscriptionId", "data"}` with `Ngsiv2-AttrsFormat`), see notification() below.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos import egress
from cityos.ngsi.api.release import principal_sub, reader_of
from cityos.ngsi.jsonld.context import CORE_CONTEXT_URL
from cityos.ngsi.model.subscription import check_future, with_status
from cityos.ngsi.model.terms import now_iso, parse_datetime
from cityos.ngsi.model.write import View, render_entity
from cityos.ngsi.notify import space
from cityos.ngsi.notify.owner import OWNER, check_readable, owner_doc
from cityos.ngsi.ownership import (
    mask_v2_notification,
    masking,
    owned,
    unmask_v2_notification,
    visible,
)
from cityos.ngsi.v2 import qlang
from cityos.ngsi.v2.entities import _ld_pattern, broker_of
from cityos.ngsi.v2.request import (
    V2Error,
    int_arg,
    json_body,
    json_response,
    tenant_v2,
    v2_endpoint,
)
from cityos.ngsi.v2.translate import V2Invalid, check_name, entity_to_v2, to_ld_id

BASE = "/v2/subscriptions"
LD_PREFIX = "urn:ngsi-ld:Subscription:"
FORMATS = ("normalized", "keyValues", "values")


def _ld_id(request: Request) -> str:
    v2_id = request.path_params["subscriptionId"]
    if not (len(v2_id) == 24 and all(c in "0123456789abcdef" for c in v2_id)):
        raise V2Error(400, "a subscription id is 24 hexadecimal digits")
    return LD_PREFIX + v2_id


def to_ld(body: Any, sub_id: str, tenant: str, service_path: str | None) -> dict[str, Any]:
    """The NGSI-LD subscription that delivers what the v2 subscription `body` asks."""
    if not isinstance(body, dict):
        raise V2Invalid("a subscription is a JSON object")
    subject = body.get("subject")
    notification = body.get("notification")
    if not isinstance(subject, dict) or not isinstance(notification, dict):
        raise V2Invalid("a subscription needs subject and notification")
    entities = subject.get("entities")
    if not isinstance(entities, list) or not entities:
        raise V2Invalid("subject.entities is a non-empty list")
    selectors = [_selector(e) for e in entities]
    condition = subject.get("condition") or {}
    if not isinstance(condition, dict):
        raise V2Invalid("subject.condition is an object")
    http = notification.get("http") or notification.get("httpCustom")
    if not isinstance(http, dict) or not isinstance(http.get("url"), str):
        raise V2Invalid("notification.http.url is required (mqtt is not supported over /v2)")
    url = http["url"]
    if not url.startswith(("http://", "https://")):
        raise V2Invalid("notification.http.url must be an http(s) URL")
    try:  # the egress policy (cityos.egress), checked again when a notification is sent
        egress.policy().target(url, ("http", "https"))
        headers_given = http.get("headers")
        if isinstance(headers_given, dict):
            egress.check_headers([{"key": k, "value": v} for k, v in headers_given.items()],
                                 "notification.http.headers")
    except egress.EgressRefused as exc:
        raise V2Invalid(f"notification.http.url: {exc}" if exc.rule != "header"
                        else str(exc)) from None
    fmt = notification.get("attrsFormat", "normalized")
    if fmt not in FORMATS:
        raise V2Invalid(f"attrsFormat is one of {', '.join(FORMATS)}")
    sub: dict[str, Any] = {"id": sub_id, "type": "Subscription", "entities": selectors,
                           "jsonldContext": CORE_CONTEXT_URL,
                           "notification": {"endpoint": {"uri": url,
                                                         "accept": "application/json"}}}
    headers = http.get("headers")
    if isinstance(headers, dict):
        sub["notification"]["endpoint"]["receiverInfo"] = [
            {"key": str(k), "value": str(v)} for k, v in headers.items()]
    attrs = _names(condition.get("attrs"), "condition.attrs")
    if attrs:
        sub["watchedAttributes"] = attrs
    shown = _names(notification.get("attrs"), "notification.attrs")
    if shown:
        sub["notification"]["attributes"] = shown
    expression = condition.get("expression") or {}
    if not isinstance(expression, dict):
        raise V2Invalid("condition.expression is an object")
    q = qlang.to_ld_q(expression.get("q"), expression.get("mq"))
    if q:
        sub["q"] = q
    geo = qlang.to_ld_geo(expression.get("georel"), expression.get("geometry"),
                          expression.get("coords"))
    if geo:
        sub["geoQ"] = {"georel": geo[0], "geometry": geo[1], "coordinates": geo[2]}
    if "description" in body:
        if not isinstance(body["description"], str) or len(body["description"]) > 1024:
            raise V2Invalid("description is a string of at most 1024 characters")
        sub["description"] = body["description"]
    if "expires" in body:
        if parse_datetime(body["expires"]) is None:
            raise V2Invalid("expires is an ISO 8601 date and time")
        check_future(body["expires"])
        sub["expiresAt"] = body["expires"]
    if "throttling" in body:
        if not isinstance(body["throttling"], int) or body["throttling"] < 0:
            raise V2Invalid("throttling is a whole number of seconds")
        if body["throttling"]:
            sub["throttling"] = body["throttling"]
    status = body.get("status", "active")
    if status not in ("active", "inactive"):
        raise V2Invalid("status is active or inactive")
    sub["isActive"] = status == "active"
    sub["v2"] = {"body": {k: body[k] for k in ("description", "subject", "notification",
                                                 "expires", "throttling") if k in body},
                 "attrsFormat": fmt, "metadata": notification.get("metadata"),
                 "service": tenant, "servicePath": service_path or "/"}
    return sub


def _selector(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise V2Invalid("each of subject.entities is an object")
    if "typePattern" in item:
        raise V2Error(501, "typePattern is not supported", "NotImplemented")
    out: dict[str, Any] = {}
    if "id" in item:
        out["id"] = to_ld_id(check_name(item["id"], "entity id", is_id=True))
    elif isinstance(item.get("idPattern"), str):
        try:
            re.compile(item["idPattern"])
        except re.error:
            raise V2Invalid("idPattern is a regular expression") from None
        # Orion searches the id with the pattern, as GET /v2/entities?idPattern= does here
        out["idPattern"] = _ld_pattern(item["idPattern"])
    else:
        raise V2Invalid("an entity of a subscription has id or idPattern")
    if "type" in item:
        out["type"] = check_name(item["type"], "entity type", is_id=True)
    return out


def _names(value: Any, what: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise V2Invalid(f"{what} is a list of attribute names")
    return [check_name(v, "attribute name") for v in value] or None


def owner_fields(request: Request) -> dict[str, Any]:
    """Who subscribed: notifications release personal data only as that principal may read."""
    return {OWNER: owner_doc(principal_sub(request), reader_of(request))}


async def _shown(request: Request, tenant: str, sub: dict[str, Any]) -> dict[str, Any]:
    """As Orion shows it; header values and a URL password masked (write-only, see
    cityos.ngsi.ownership) unless in open mode."""
    broker = broker_of(request)
    status = await broker.notifier.status(tenant, sub)
    body = dict(sub["v2"]["body"])
    notification = dict(body.get("notification", {}))
    if masking(request):
        notification = mask_v2_notification(notification)
    info = status.get("notification", {})
    for v2_name, ld_name in (("timesSent", "timesSent"), ("lastNotification", "lastNotification"),
                             ("lastSuccess", "lastSuccess"), ("lastFailure", "lastFailure")):
        if ld_name in info:
            notification[v2_name] = info[ld_name]
    body["notification"] = notification
    state = with_status(sub).get("status")
    active = "inactive" if not sub.get("isActive", True) else \
        "expired" if state == "expired" else "active"
    return {"id": sub["id"][len(LD_PREFIX):], **body, "status": active}


@v2_endpoint
async def create_subscription(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_v2(request)
    body = await json_body(request, broker.settings.max_body_bytes)
    v2_id = secrets.token_hex(12)
    sub = to_ld(body, LD_PREFIX + v2_id, tenant, request.headers.get("fiware-servicepath"))
    sub.update(owner_fields(request))
    await check_readable(broker, sub, reader_of(request))  # its types' read grants (issue 18)
    sub["createdAt"] = sub["modifiedAt"] = now_iso()
    await broker.notifier.prepare(tenant, sub["id"])
    await broker.store.kv_put(space(tenant), sub["id"], sub)
    await broker.notifier.subscribed(tenant, sub)
    return Response(status_code=201, headers={"Location": f"{BASE}/{v2_id}"})


async def _v2_subs(request: Request, tenant: str) -> list[dict[str, Any]]:
    return [s for _, s in await broker_of(request).store.kv_list(space(tenant))
            if isinstance(s, dict) and "v2" in s]


@v2_endpoint
async def list_subscriptions(request: Request) -> Response:
    tenant = tenant_v2(request)
    limit = int_arg(request, "limit", 20, 1000)
    offset = int_arg(request, "offset", 0, 10**9)
    subs = visible(request, await _v2_subs(request, tenant))
    page = [await _shown(request, tenant, s) for s in subs[offset:offset + limit]]
    headers = {"Fiware-Total-Count": str(len(subs))} \
        if "count" in (request.query_params.get("options") or "") else None
    return json_response(page, headers=headers)


async def _stored(request: Request, tenant: str) -> dict[str, Any]:
    """The stored subscription, if the caller may see it (its owner or a staff admin); else
    the 404 of a subscription that does not exist."""
    sub = await broker_of(request).store.kv_get(space(tenant), _ld_id(request))
    missing = V2Error(404, "The requested subscription has not been found. Check id")
    if not isinstance(sub, dict) or "v2" not in sub:
        raise missing
    return owned(request, sub, missing)


@v2_endpoint
async def retrieve_subscription(request: Request) -> Response:
    tenant = tenant_v2(request)
    return json_response(await _shown(request, tenant, await _stored(request, tenant)))


@v2_endpoint
async def update_subscription(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_v2(request)
    old = await _stored(request, tenant)
    patch = await json_body(request, broker.settings.max_body_bytes)
    if not isinstance(patch, dict) or not patch:
        raise V2Invalid("a JSON object of the members to change")
    if "notification" in patch:  # masked values sent back as read keep the stored ones
        patch["notification"] = unmask_v2_notification(
            patch["notification"], old["v2"]["body"].get("notification"))
    body = {**old["v2"]["body"], **{k: v for k, v in patch.items() if k != "status"}}
    body["status"] = patch.get("status", "active" if old.get("isActive", True) else "inactive")
    sub = to_ld(body, old["id"], tenant, old["v2"].get("servicePath"))
    sub.update({k: old[k] for k in (OWNER, "createdAt") if k in old})
    await check_readable(broker, sub, reader_of(request))  # its types' read grants (issue 18)
    sub["modifiedAt"] = now_iso()
    await broker.store.kv_put(space(tenant), sub["id"], sub)
    await broker.notifier.subscribed(tenant, sub)
    return Response(status_code=204)


@v2_endpoint
async def delete_subscription(request: Request) -> Response:
    broker = broker_of(request)
    tenant = tenant_v2(request)
    sub = await _stored(request, tenant)
    await broker.store.kv_delete(space(tenant), sub["id"])
    await broker.notifier.unsubscribed(tenant, sub["id"])
    return Response(status_code=204)


# the notification -------------------------------------------------------------------------
def notification(sub: dict[str, Any], entities: list[dict[str, Any]], ctx: Any) -> dict[str, Any]:
    """v2's notification body: {"subscriptionId", "data": [entities in attrsFormat]}."""
    v2 = sub["v2"]
    attrs = sub["notification"].get("attributes")
    fmt = v2.get("attrsFormat", "normalized")
    data: list[Any] = []
    for entity in entities:
        shown = entity_to_v2(render_entity(entity, ctx, View(sys_attrs=True)), attrs=attrs,
                             key_values=fmt != "normalized", metadata=v2.get("metadata"))
        if fmt == "values":
            data.append([v for k, v in shown.items() if k not in ("id", "type")])
        else:
            data.append(shown)
    return {"subscriptionId": sub["id"][len(LD_PREFIX):], "data": data}


def http_headers(sub: dict[str, Any]) -> dict[str, str]:
    v2 = sub["v2"]
    headers = {"Content-Type": "application/json",
               "Ngsiv2-AttrsFormat": v2.get("attrsFormat", "normalized"),
               "Fiware-ServicePath": v2.get("servicePath") or "/"}
    if v2.get("service"):
        headers["Fiware-Service"] = v2["service"]
    for item in sub["notification"]["endpoint"].get("receiverInfo") or ():
        headers[str(item["key"])] = str(item["value"])
    return headers
