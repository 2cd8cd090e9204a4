"""Write attribute history out as NGSI-LD temporal entities: normalized, simplified, aggregated.

ETSI GS CIM 009 v1.8 §4.5.8 (temporal representation), §4.5.9 (simplified, temporalValues),
§4.5.19 (aggregated temporal representation).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cityos.ngsi.model.terms import VALUE_KEY, Context
from cityos.ngsi.model.write import View, _render_instance

Entity = dict[str, Any]
Instance = dict[str, Any]
# the member holding [value, time] pairs in the simplified representation, per kind
VALUES_KEY = {"Property": "values", "GeoProperty": "values", "Relationship": "objects",
              "LanguageProperty": "languageMaps", "VocabProperty": "vocabs",
              "JsonProperty": "jsons", "ListProperty": "valueLists",
              "ListRelationship": "objectLists"}
_WRAPPED = frozenset({"LanguageProperty", "JsonProperty", "VocabProperty"})


@lru_cache(maxsize=16384)  # aggregation writes each period boundary once per method and end
def ms_iso(ms: int) -> str:
    """Epoch milliseconds as NGSI-LD writes times: UTC, `Z`, milliseconds when not zero."""
    text = datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{ms % 1000:03d}Z" if ms % 1000 else f"{text}Z"


def instance_time(inst: Instance, timeproperty: str) -> Any:
    if timeproperty == "observedAt":
        return inst.get("observedAt", inst.get("modifiedAt"))
    return inst.get(timeproperty)


def _head(entity: Entity, ctx: Context) -> dict[str, Any]:
    types = [ctx.compact_iri(t) for t in entity["type"]]
    out: dict[str, Any] = {"id": entity["id"], "type": types[0] if len(types) == 1 else types}
    if "scope" in entity:
        out["scope"] = entity["scope"]
    return out


def render_temporal(entity: Entity, history: dict[str, list[Instance]], ctx: Context, *,
                    sys_attrs: bool = False, simplified: bool = False,
                    timeproperty: str = "observedAt") -> dict[str, Any]:
    """One entity with each attribute as its instances over time (oldest first)."""
    out = _head(entity, ctx)
    if sys_attrs:
        for key in ("createdAt", "modifiedAt"):
            if key in entity:
                out[key] = entity[key]
    view = View(sys_attrs=sys_attrs)
    for iri, instances in history.items():
        term = ctx.compact_iri(iri)
        if simplified:
            out[term] = _simplified(instances, ctx, timeproperty)
            continue
        rendered = []
        for inst in instances:
            one = _render_instance(inst, ctx, view)
            one["instanceId"] = inst["instanceId"]
            if timeproperty != "observedAt" and not sys_attrs:
                one[timeproperty] = inst.get(timeproperty)
            rendered.append(one)
        out[term] = rendered
    return out


def _simplified(instances: list[Instance], ctx: Context, timeproperty: str) -> Any:
    """[[value, time], …] per dataset; one object for the default dataset alone (§4.5.9)."""
    groups: dict[str | None, list[Instance]] = {}
    for inst in instances:
        groups.setdefault(inst.get("datasetId"), []).append(inst)
    objects = []
    for dataset_id, members in groups.items():
        kind = members[0].get("type", "Property")
        key = VALUE_KEY.get(kind, "value")
        one: dict[str, Any] = {"type": kind, VALUES_KEY.get(kind, "values"): [
            [_value(m, key, ctx), instance_time(m, timeproperty)] for m in members]}
        if dataset_id is not None:
            one["datasetId"] = dataset_id
        objects.append(one)
    if not objects:  # a page cut them all: the attribute is there, with no values
        return {"type": "Property", "values": []}
    return objects[0] if len(objects) == 1 else objects


def _value(inst: Instance, key: str, ctx: Context) -> Any:
    value = inst.get(key)
    if inst.get("type") == "VocabProperty" and isinstance(value, str | list):
        value = [ctx.compact_vocab_value(v) for v in value] if isinstance(value, list) \
            else ctx.compact_vocab_value(value)
    # as in keyValues (§4.5.4): members that are not plain values keep their key
    return {key: value} if inst.get("type") in _WRAPPED else value


def render_aggregated(entity: Entity, aggregated: dict[str, dict[str, Any]],
                      ctx: Context) -> dict[str, Any]:
    """One entity with each attribute's aggregates as [[value, start, end], …] (§4.5.19)."""
    out = _head(entity, ctx)
    for iri, methods in aggregated.items():
        attr: dict[str, Any] = {"type": methods.get("type", "Property")}
        for method, periods in methods.items():
            if method != "type":
                attr[method] = [[v, ms_iso(lo), ms_iso(hi)] for v, lo, hi in periods]
        out[ctx.compact_iri(iri)] = attr
    return out
