"""The Notification a subscription sends: its body and, for HTTP, its headers.

ETSI GS CIM 009 v1.8 §5.2.15 (Notification), §5.8.6, §7.2 (HTTP binding), §7.3 (MQTT binding).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from cityos.ngsi.model.terms import now_iso
from cityos.ngsi.model.write import View, render_entity, render_feature_collection

Entity = dict[str, Any]
FORMATS = {"normalized": "normalized", "concise": "concise", "keyValues": "keyValues",
           "simplified": "keyValues"}
GEOJSON = "application/geo+json"
JSONLD = "application/ld+json"


# the member holding an attribute's value, per attribute type (§4.5.2–4.5.19)
VALUE_MEMBER = {"Relationship": "object", "LanguageProperty": "languageMap",
                "JsonProperty": "json", "VocabProperty": "vocab", "ListProperty": "valueList",
                "ListRelationship": "objectList"}
NULL = "urn:ngsi-ld:null"


@dataclass
class Owed:
    """An entity a notification carries, with what the notified changes did to its attributes
    (IRI -> "c", "u", "d") and their instances before those changes."""

    entity: Entity
    ops: dict[str, str] = field(default_factory=dict)
    prev: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def view_of(sub: dict[str, Any], ctx: Any) -> View:
    params = sub["notification"]
    attrs = params.get("attributes")
    pick, omit = params.get("pick"), params.get("omit")
    datasets = sub.get("datasetId")  # §5.2.12: only these instances ("@none": the default)
    return View(format=FORMATS.get(params.get("format", "normalized"), "normalized"),
                attrs=frozenset(ctx.expand_term(a) for a in attrs) if attrs else None,
                sys_attrs=bool(params.get("sysAttrs")), lang=sub.get("lang"),
                pick=dict.fromkeys(pick) if pick else None,
                omit=dict.fromkeys(omit) if omit else None,
                dataset_ids=frozenset(None if d == "@none" else d for d in datasets)
                if isinstance(datasets, list) else None)


def _previous(term: str, iri: str, inst: dict[str, Any], ctx: Any) -> tuple[str, Any]:
    """The previous* member (previousValue, previousObject …) of an instance, as rendered."""
    kind = inst.get("type", "Property")
    member = VALUE_MEMBER.get(kind, "value")
    shown = render_entity({"id": "", "type": [], "attrs": {iri: [inst]}}, ctx, View())
    value = shown.get(term, {})
    return "previous" + member[0].upper() + member[1:], value.get(member) if isinstance(
        value, dict) else None


def _changes_shown(out: dict[str, Any], owed: Owed, sub: dict[str, Any], ctx: Any,
                   view: View) -> None:
    """Deleted attributes as NGSI-LD Null and, with showChanges, the previous values (§5.8.6).

    A deleted attribute is shown under the attributeDeleted trigger (an entity's deletion
    deletes them all; watchedAttributes narrow them), or for a deleted entity with showChanges."""
    params = sub["notification"]
    show = bool(params.get("showChanges")) and view.format == "normalized"
    deleted_at = owed.entity.get("deletedAt")
    triggers = sub.get("notificationTrigger") or ()
    watched = sub.get("watchedAttributes")
    watched_iris = {ctx.expand_term(w) for w in watched} if watched else None
    for iri, op in owed.ops.items():
        if view.attrs is not None and iri not in view.attrs:
            continue
        old = owed.prev.get(iri) or []
        term = ctx.compact_iri(iri)
        if op == "d":
            narrowed = watched_iris is None or iri in watched_iris
            if not (("attributeDeleted" in triggers and narrowed)
                    or (deleted_at is not None and show)):
                continue
            kind = old[0].get("type", "Property") if old else "Property"
            member = VALUE_MEMBER.get(kind, "value")
            null: Any = {"@none": NULL} if member == "languageMap" else NULL
            if iri in owed.entity.get("attrs", {}):  # some of its instances are left
                _deleted_instances(out, term, owed.entity["attrs"][iri], old, member, null,
                                   view)
                continue
            if view.format == "keyValues":
                out[term] = null
                continue
            attr: dict[str, Any] = {"type": kind, member: null}
            if show and old:
                name, value = _previous(term, iri, old[0], ctx)
                attr[name] = value
            if view.sys_attrs and old:
                attr.update({k: old[0][k] for k in ("createdAt", "modifiedAt") if k in old[0]})
                attr["deletedAt"] = deleted_at or now_iso()
            out[term] = attr
        elif op == "u" and show and old and isinstance(out.get(term), dict):
            name, value = _previous(term, iri, old[0], ctx)
            out[term][name] = value


def _deleted_instances(out: dict[str, Any], term: str, left: list[dict[str, Any]],
                       old: list[dict[str, Any]], member: str, null: Any, view: View) -> None:
    """Instances (datasetIds) deleted from an attribute that keeps others: added as Null."""
    kept = {i.get("datasetId") for i in left}
    gone = [i for i in old if i.get("datasetId") not in kept]
    if not gone or term not in out:
        return
    if view.format == "keyValues":
        shown = out[term]
        if not (isinstance(shown, dict) and "dataset" in shown):
            shown = {"dataset": {left[0].get("datasetId", "@none"): shown}}
        for inst in gone:
            shown["dataset"][inst.get("datasetId", "@none")] = null
        out[term] = shown
        return
    shown_list = out[term] if isinstance(out[term], list) else [out[term]]
    for inst in gone:
        item = {"type": inst.get("type", "Property"), member: null}
        if "datasetId" in inst:
            item["datasetId"] = inst["datasetId"]
        shown_list.append(item)
    out[term] = shown_list


def deleted_stub(entity_id: str, types: list[str], at: str, times: dict[str, Any]) -> Entity:
    """What a notification carries for a deleted entity: id, type, its times, deletedAt."""
    return {"id": entity_id, "type": types, **times, "deletedAt": at, "attrs": {}}


def notification(sub: dict[str, Any], owed: list[Owed], ctx: Any) -> dict[str, Any]:
    """The Notification body (JSON-LD @context added for accept application/ld+json); an NGSI
    v2 subscription's in v2's format."""
    if "v2" in sub:
        from cityos.ngsi.v2.subscriptions import notification as v2_notification

        return v2_notification(sub, [o.entity for o in owed], ctx)
    view = view_of(sub, ctx)
    accept = sub["notification"]["endpoint"].get("accept")
    data: Any
    if accept == GEOJSON:
        data = render_feature_collection([o.entity for o in owed], ctx, view)
    else:
        data = []
        for item in owed:
            out = render_entity(item.entity, ctx, view)
            if view.sys_attrs and view.format == "keyValues":  # the entity's own times
                out.update({k: item.entity[k] for k in ("createdAt", "modifiedAt")
                            if k in item.entity})
            if "deletedAt" in item.entity:
                out["deletedAt"] = item.entity["deletedAt"]
            if item.ops:
                _changes_shown(out, item, sub, ctx, view)
            data.append(out)
    body: dict[str, Any] = {"id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
                            "type": "Notification", "subscriptionId": sub["id"],
                            "notifiedAt": now_iso(), "data": data}
    if accept == JSONLD:
        body["@context"] = sub.get("jsonldContext")
        for entity in data:  # each entity is a JSON-LD document of its own too
            entity["@context"] = body["@context"]
    return body


def http_headers(sub: dict[str, Any]) -> dict[str, str]:
    """Content-Type, the Link to the @context (unless in the body) and receiverInfo."""
    if "v2" in sub:
        from cityos.ngsi.v2.subscriptions import http_headers as v2_headers

        return v2_headers(sub)
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
