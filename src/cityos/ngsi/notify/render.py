"""The Notification a subscription sends: its body and, for HTTP, its headers.

ETSI GS CIM 009 v1.8 §5.2.15 (Notification), §5.8.6, §7.2 (HTTP binding), §7.3 (MQTT binding).
"""

from __future__ import annotations

import uuid
from typing import Any

from cityos.ngsi.model.terms import now_iso
from cityos.ngsi.model.write import View, render_entity, render_feature_collection

Entity = dict[str, Any]
FORMATS = {"normalized": "normalized", "concise": "concise", "keyValues": "keyValues",
           "simplified": "keyValues"}
GEOJSON = "application/geo+json"
JSONLD = "application/ld+json"


def view_of(sub: dict[str, Any], ctx: Any) -> View:
    params = sub["notification"]
    attrs = params.get("attributes")
    return View(format=FORMATS.get(params.get("format", "normalized"), "normalized"),
                attrs=frozenset(ctx.expand_term(a) for a in attrs) if attrs else None,
                sys_attrs=bool(params.get("sysAttrs")), lang=sub.get("lang"))


def deleted_stub(entity_id: str, types: list[str], at: str) -> Entity:
    """What a notification carries for a deleted entity (entityDeleted trigger)."""
    return {"id": entity_id, "type": types, "deletedAt": at, "attrs": {}}


def notification(sub: dict[str, Any], entities: list[Entity], ctx: Any) -> dict[str, Any]:
    """The Notification body (JSON-LD @context added for accept application/ld+json)."""
    view = view_of(sub, ctx)
    accept = sub["notification"]["endpoint"].get("accept")
    data: Any
    if accept == GEOJSON:
        data = render_feature_collection(entities, ctx, view)
    else:
        data = []
        for entity in entities:
            out = render_entity(entity, ctx, view)
            if "deletedAt" in entity:
                out["deletedAt"] = entity["deletedAt"]
            data.append(out)
    body: dict[str, Any] = {"id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
                            "type": "Notification", "subscriptionId": sub["id"],
                            "notifiedAt": now_iso(), "data": data}
    if accept == JSONLD:
        body["@context"] = sub.get("jsonldContext")
    return body


def http_headers(sub: dict[str, Any]) -> dict[str, str]:
    """Content-Type, the Link to the @context (unless in the body) and receiverInfo."""
    endpoint = sub["notification"]["endpoint"]
    accept = endpoint.get("accept") or "application/json"
    headers = {"Content-Type": accept}
    context_url = sub.get("jsonldContext")
    if accept != JSONLD and context_url:
        headers["Link"] = (f'<{context_url}>; rel="http://www.w3.org/ns/json-ld#context"; '
                           'type="application/ld+json"')
    for item in endpoint.get("receiverInfo") or ():
        if isinstance(item, dict) and "key" in item and "value" in item:
            headers[str(item["key"])] = str(item["value"])
    return headers
