"""Subscriptions as data: validating a Subscription body and its status (no delivery here).

ETSI GS CIM 009 v1.8 §5.2.12 (Subscription), §5.2.14 (NotificationParams), §5.8 (operations).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from cityos import egress
from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.model.terms import is_uri, is_valid_name, parse_datetime
from cityos.ngsi.query.geo import parse_geoq
from cityos.ngsi.query.q import parse_q
from cityos.ngsi.query.scope import parse_scope_q
from cityos.numbers import bounded_seconds

FORMATS = ("normalized", "concise", "keyValues", "simplified")
ACCEPTS = ("application/json", "application/ld+json", "application/geo+json")
TRIGGERS = frozenset({"entityCreated", "entityUpdated", "entityDeleted", "attributeCreated",
                      "attributeUpdated", "attributeDeleted"})
# members the broker writes itself: never taken from a request
SYSTEM = frozenset({"status", "createdAt", "modifiedAt", "notification.status",
                    "timesSent", "timesFailed", "lastNotification", "lastSuccess",
                    "lastFailure", "cityos:owner"})


def check_subscription(sub: dict[str, Any]) -> None:
    """Raise BadRequestData unless `sub` (compacted, without @context) is a valid Subscription."""
    if sub.get("type") != "Subscription":
        raise BadRequestData('a subscription needs "type": "Subscription"')
    if "id" in sub and not is_uri(sub["id"]):
        raise BadRequestData("the subscription id must be a URI")
    entities, watched = sub.get("entities"), sub.get("watchedAttributes")
    if entities is None and watched is None:
        raise BadRequestData("a subscription needs entities or watchedAttributes")
    if entities is not None:
        _check_selectors(entities)
    if watched is not None:
        if not isinstance(watched, list) or not watched or not all(
                is_valid_name(w) for w in watched):
            raise BadRequestData("watchedAttributes must be a non-empty list of names")
        if "timeInterval" in sub:
            raise BadRequestData("timeInterval and watchedAttributes exclude each other")
    for name in ("timeInterval", "throttling"):
        if name in sub and not _positive(sub[name]):
            raise BadRequestData(f"{name} must be a positive number of seconds")
        if name in sub:
            bounded_seconds(sub[name], name)  # a century at most (no overflowing timer)
    if "expiresAt" in sub and parse_datetime(sub["expiresAt"]) is None:
        raise BadRequestData("expiresAt must be an ISO 8601 date-time")
    if "isActive" in sub and not isinstance(sub["isActive"], bool):
        raise BadRequestData("isActive must be true or false")
    if "jsonldContext" in sub and not is_uri(sub["jsonldContext"]):
        raise BadRequestData("jsonldContext must be the URI of a JSON-LD @context")
    triggers = sub.get("notificationTrigger")
    if triggers is not None and (not isinstance(triggers, list) or not triggers
                                 or not set(map(str, triggers)) <= TRIGGERS):
        raise BadRequestData(f"notificationTrigger lists some of {', '.join(sorted(TRIGGERS))}")
    for name in ("q", "scopeQ", "description", "subscriptionName", "lang"):
        if name in sub and not isinstance(sub[name], str):
            raise BadRequestData(f"{name} must be a string")
    if "q" in sub:
        parse_q(sub["q"])
    if "scopeQ" in sub:
        parse_scope_q(sub["scopeQ"])
    if "geoQ" in sub:
        geo = sub["geoQ"]
        if not isinstance(geo, dict):
            raise BadRequestData("geoQ must be an object")
        coordinates = geo.get("coordinates")
        if not isinstance(coordinates, str | list):
            raise BadRequestData("geoQ.coordinates must be a string or an array")
        parse_geoq(str(geo.get("georel", "")), str(geo.get("geometry", "")), coordinates,
                   geo.get("geoproperty"))
    _check_notification(sub.get("notification"))


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _check_selectors(entities: Any) -> None:
    if not isinstance(entities, list) or not entities:
        raise BadRequestData("entities must be a non-empty list of entity selectors")
    for sel in entities:
        if not isinstance(sel, dict) or not isinstance(sel.get("type"), str):
            raise BadRequestData("each entity selector needs a type")
        if "id" in sel and not is_uri(sel["id"]):
            raise BadRequestData("an entity selector id must be a URI")
        if "idPattern" in sel:
            try:
                re.compile(str(sel["idPattern"]))
            except re.error:
                raise BadRequestData("idPattern is not a valid regular expression") from None


def _check_notification(notification: Any) -> None:
    if not isinstance(notification, dict):
        raise BadRequestData("a subscription needs notification parameters")
    endpoint = notification.get("endpoint")
    if not isinstance(endpoint, dict) or not is_uri(endpoint.get("uri")):
        raise BadRequestData("notification.endpoint.uri must be a URI")
    try:  # the egress policy (cityos.egress), checked again when a notification is sent
        egress.policy().target(str(endpoint["uri"]))
        egress.check_headers(_key_values(endpoint.get("receiverInfo"), "receiverInfo"),
                             "receiverInfo")
    except egress.EgressRefused as exc:
        raise BadRequestData(f"notification.endpoint.uri: {exc}" if exc.rule != "header"
                             else str(exc)) from None
    if endpoint.get("accept", ACCEPTS[0]) not in ACCEPTS:
        raise BadRequestData(f"notification.endpoint.accept must be one of {', '.join(ACCEPTS)}")
    if notification.get("format", "normalized") not in FORMATS:
        raise BadRequestData("notification.format must be normalized, concise or keyValues")
    attrs = notification.get("attributes")
    if attrs is not None and (not isinstance(attrs, list) or not all(
            is_valid_name(a) for a in attrs)):
        raise BadRequestData("notification.attributes must be a list of names")
    members: dict[str, set[str]] = {}
    for name in ("pick", "omit"):  # §4.21 projection of the notified entities
        value = notification.get(name)
        if value is None:
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise BadRequestData(f"notification.{name} must be a list of member names")
        if attrs is not None:
            raise BadRequestData(f"notification.{name} and notification.attributes exclude "
                                 "each other")
        members[name] = set(value)
    if len(members) == 2 and members["pick"] & members["omit"]:
        raise BadRequestData("a member cannot be both picked and omitted")


def _key_values(items: Any, member: str) -> list[Any]:
    if items is None:
        return []
    if not isinstance(items, list) or not all(
            isinstance(i, dict) and isinstance(i.get("key"), str) and "value" in i for i in items):
        raise BadRequestData(f"{member} must be a list of {{key, value}}")
    return items


def check_future(expires_at: Any) -> None:
    """An expiresAt a request sets must be ahead (§5.8.1.4, §5.8.2.4): BadRequestData if not."""
    moment = parse_datetime(expires_at)
    if moment is not None and moment <= datetime.now(UTC):
        raise BadRequestData("expiresAt must be in the future")


def with_status(sub: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """The subscription as read: its `status` (active, paused or expired)."""
    out = dict(sub)
    active = out.get("isActive", True)
    expires = parse_datetime(out.get("expiresAt"))
    if expires is not None and expires <= (now or datetime.now(UTC)):
        out["status"] = "expired"
    else:
        out["status"] = "active" if active else "paused"
    return out
