"""Write internal entities out as NGSI-LD JSON: normalized, concise, keyValues, GeoJSON.

ETSI GS CIM 009 v1.8 §4.5 (representations), §4.15 (lang), §5.7.2 (pick/omit), §4.5.16 (GeoJSON).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from cityos.ngsi.model.projection import Projection
from cityos.ngsi.model.terms import SYSTEM_ATTRS, VALUE_KEY, Context

Entity = dict[str, Any]
Instance = dict[str, Any]
_WRAPPED = frozenset({"LanguageProperty", "JsonProperty", "VocabProperty"})


@dataclass(frozen=True)
class View:
    """How the caller asked to see entities."""

    format: str = "normalized"  # normalized | concise | keyValues
    sys_attrs: bool = False
    attrs: frozenset[str] | None = None  # expanded attribute IRIs to keep
    pick: Projection | None = None  # terms (incl. id, type) to keep, nested for linked entities
    omit: Projection | None = None  # terms to drop (a nested one keeps the member)
    lang: str | None = None
    geometry_property: str = "location"  # term, for GeoJSON
    dataset_ids: frozenset[str | None] | None = None  # instances to keep (None: default one)

    def linked(self, term: str) -> View:
        """The view of the entities that relationship `term` links to (§4.5.23, §4.21)."""
        pick = self.pick.get(term) if self.pick is not None else None
        omit = self.omit.get(term) if self.omit is not None else None
        return replace(self, attrs=None, pick=pick, omit=omit, dataset_ids=None)


def render_entity(entity: Entity, ctx: Context, view: View) -> dict[str, Any]:
    if view is _PLAIN or view == _PLAIN:
        return _render_plain(entity, ctx)
    out: dict[str, Any] = {}
    keep = _keeper(view)
    if keep("id"):
        out["id"] = entity["id"]
    if keep("type"):
        types = [ctx.compact_iri(t) for t in entity["type"]]
        out["type"] = types[0] if len(types) == 1 else types
    if "scope" in entity and keep("scope"):
        scope = entity["scope"]
        out["scope"] = scope[0] if len(scope) == 1 and view.format != "keyValues" else scope
    if view.sys_attrs and view.format != "keyValues":
        for key in SYSTEM_ATTRS:
            if key in entity:
                out[key] = entity[key]
    for iri, instances in entity.get("attrs", {}).items():
        if view.attrs is not None and iri not in view.attrs:
            continue
        term = ctx.compact_iri(iri)
        if not keep(term):
            continue
        if view.dataset_ids is not None:
            instances = [i for i in instances if i.get("datasetId") in view.dataset_ids]
            if not instances:
                continue
        rendered = [_render_instance(inst, ctx, view) for inst in instances]
        if len(rendered) > 1 and view.format == "keyValues":  # §4.5.4 dataset map
            out[term] = {"dataset": {inst.get("datasetId", "@none"): r
                                     for inst, r in zip(instances, rendered, strict=True)}}
        else:
            out[term] = rendered[0] if len(rendered) == 1 else rendered
    return out


_PLAIN = View()
# kinds whose instance renders as its type, its value member and the metadata below
_PLAIN_KINDS = frozenset({"Property", "GeoProperty", "Relationship", "JsonProperty",
                          "ListProperty", "ListRelationship", "LanguageProperty"})
_META = ("datasetId", "observedAt", "unitCode")


def _render_plain(entity: Entity, ctx: Context) -> dict[str, Any]:
    """`render_entity` for the default view (normalized, no system attributes, every
    attribute), the one most requests ask for: the same output with fewer checks."""
    compact = ctx.compact_iri
    types = entity["type"]
    out: dict[str, Any] = {"id": entity["id"], "type": compact(types[0]) if len(types) == 1
                           else [compact(t) for t in types]}
    if "scope" in entity:
        scope = entity["scope"]
        out["scope"] = scope[0] if len(scope) == 1 else scope
    for iri, instances in entity.get("attrs", {}).items():
        if len(instances) == 1:
            out[compact(iri)] = _plain_instance(instances[0], ctx)
        else:
            out[compact(iri)] = [_plain_instance(i, ctx) for i in instances]
    return out


def _plain_instance(inst: Instance, ctx: Context) -> Any:
    kind = inst["type"]
    if kind not in _PLAIN_KINDS or "objectType" in inst or "subattrs" in inst:
        return _render_instance(inst, ctx, _PLAIN)
    value_key = VALUE_KEY[kind]
    out = {"type": kind, value_key: inst[value_key]}
    for key in _META:
        if key in inst:
            out[key] = inst[key]
    return out


def _keeper(view: View) -> Any:
    pick, omit = view.pick, view.omit
    if pick is None and omit is None:
        return lambda name: True
    # omit `a{b}` drops b from what `a` links to, not `a` itself
    return lambda name: (pick is None or name in pick) and \
        (omit is None or name not in omit or omit[name] is not None)


def _language_value(inst: Instance, lang: str) -> tuple[Any, str]:
    """The value for the best language (§4.15): weights first, then RFC 4647 lookup both ways
    (nl-BE finds nl, en finds en-US), then @none, then any language."""
    lmap: dict[str, Any] = inst["languageMap"]
    by_lower = {k.lower(): k for k in lmap}
    ranges: list[tuple[float, int, str]] = []
    for pos, part in enumerate(lang.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 1.0
        if tag and q > 0:
            ranges.append((-q, pos, tag.strip().lower()))
    for _, _, tag in sorted(ranges):
        if tag == "*":
            break
        if tag in by_lower:
            return lmap[by_lower[tag]], by_lower[tag]
        prefix = tag
        while "-" in prefix:  # truncate the range onto a shorter tag
            prefix = prefix.rsplit("-", 1)[0]
            if prefix in by_lower:
                return lmap[by_lower[prefix]], by_lower[prefix]
        longer = next((k for k in by_lower if k.startswith(tag + "-")), None)
        if longer is not None:
            return lmap[by_lower[longer]], by_lower[longer]
    if "@none" in lmap:
        return lmap["@none"], "@none"
    first = next(iter(lmap))
    return lmap[first], first


def _render_instance(inst: Instance, ctx: Context, view: View) -> Any:
    kind = inst["type"]
    value_key = VALUE_KEY[kind]
    value = inst[value_key]
    if kind == "VocabProperty":
        value = ([ctx.compact_vocab_value(v) for v in value] if isinstance(value, list)
                 else ctx.compact_vocab_value(value))
    lang_tag = None
    if kind == "LanguageProperty" and view.lang is not None:
        value, lang_tag = _language_value(inst, view.lang)
        kind, value_key = "Property", "value"
    if view.format == "keyValues":
        # §4.5.4: members that are not plain values keep their key so they stay readable
        return {value_key: value} if kind in _WRAPPED else value
    out: dict[str, Any] = {"type": kind, value_key: value}
    if lang_tag is not None:
        out["lang"] = lang_tag
    for key in ("datasetId", "observedAt", "unitCode"):
        if key in inst:
            out[key] = inst[key]
    if "objectType" in inst:
        ot = inst["objectType"]
        out["objectType"] = [ctx.compact_iri(t) for t in ot] if isinstance(ot, list) \
            else ctx.compact_iri(ot)
    if view.sys_attrs:
        for key in ("createdAt", "modifiedAt"):
            if key in inst:
                out[key] = inst[key]
    for sub_iri, subs in inst.get("subattrs", {}).items():
        rendered = [_render_instance(s, ctx, view) for s in subs]
        out[ctx.compact_iri(sub_iri)] = rendered[0] if len(rendered) == 1 else rendered
    if view.format == "concise":
        del out["type"]
        if kind == "Property" and len(out) == 1 and not isinstance(value, dict):
            return value
        if kind == "GeoProperty" and len(out) == 1:
            return value
    return out


def render_feature(entity: Entity, ctx: Context, view: View) -> dict[str, Any]:
    """One entity as a GeoJSON Feature (§4.5.16)."""
    properties = render_entity(entity, ctx, view)
    entity_id = properties.pop("id", entity["id"])
    geometry = None
    geo_iri = ctx.expand_term(view.geometry_property)
    candidates = [i for i in entity.get("attrs", {}).get(geo_iri, ()) if i["type"] == "GeoProperty"]
    # the default instance (no datasetId) is the entity's geometry; else the first one
    for inst in sorted(candidates, key=lambda i: "datasetId" in i):
        geometry = inst["value"]
        break
    return {"id": entity_id, "type": "Feature", "geometry": geometry, "properties": properties}


def render_feature_collection(entities: list[Entity], ctx: Context, view: View) -> dict[str, Any]:
    return {"type": "FeatureCollection",
            "features": [render_feature(e, ctx, view) for e in entities]}
