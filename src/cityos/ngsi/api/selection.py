"""Turning query parameters (GET /entities, POST /entityOperations/query) into a store query.

ETSI GS CIM 009 v1.8 §5.7.2 (query entities), §4.9 q, §4.10 geoQ, §4.19 scopeQ, §4.17 types.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.jsonld.context import ActiveContext
from cityos.ngsi.model.terms import ENTITY_RESERVED, is_uri, is_valid_name
from cityos.ngsi.query.geo import parse_geoq
from cityos.ngsi.query.prefilter import attr_filters
from cityos.ngsi.query.q import parse_q
from cityos.ngsi.query.scope import parse_scope_q
from cityos.ngsi.query.typeexpr import parse_type_expr
from cityos.storage.base import EntityQuery

Entity = dict[str, Any]


@dataclass
class Selection:
    """Which entities a query selects, as the caller wrote it (terms, not IRIs)."""

    type: str | None = None
    ids: list[str] | None = None
    id_pattern: str | None = None
    attrs: list[str] | None = None
    q: str | None = None
    georel: str | None = None
    geometry: str | None = None
    coordinates: Any = None
    geoproperty: str | None = None
    scope_q: str | None = None
    any_of: list[Selection] | None = None  # several entity selectors (POST query): OR

    def is_empty(self) -> bool:
        return not (self.type or self.ids or self.id_pattern or self.attrs or self.q
                    or self.georel or self.scope_q or self.any_of)


def selection_from_params(params: Any) -> Selection:
    def listed(name: str) -> list[str] | None:
        raw = params.get(name)
        if raw is None:
            return None
        items = [v.strip() for v in raw.split(",") if v.strip()]
        if not items:
            raise BadRequestData(f"{name} must not be empty")
        return items

    check_attr_names(listed("attrs"))
    geo = [params.get(k) for k in ("georel", "geometry", "coordinates")]
    if any(g is not None for g in geo) and not all(g is not None for g in geo):
        raise BadRequestData("a geo-query needs georel, geometry and coordinates together")
    return Selection(
        type=params.get("type"), ids=listed("id"), id_pattern=params.get("idPattern"),
        attrs=listed("attrs"), q=params.get("q"), georel=geo[0], geometry=geo[1],
        coordinates=geo[2], geoproperty=params.get("geoproperty"), scope_q=params.get("scopeQ"),
    )


def check_attr_names(names: list[str] | None) -> None:
    """`attrs` names attributes: core members such as id or type are not attributes."""
    for name in names or ():
        if name in ENTITY_RESERVED or not is_valid_name(name):
            raise BadRequestData(f"attrs: {name[:100]!r} is not an attribute name")


def to_store_query(sel: Selection, ctx: ActiveContext, *, limit: int, offset: int,
                   count: bool) -> EntityQuery:
    """Use the store's indexes for ids, types and geo boxes; compile the rest to one predicate."""
    predicates: list[Callable[[Entity], bool]] = []
    query = EntityQuery(limit=limit, offset=offset, count=count)
    if sel.ids is not None:
        for entity_id in sel.ids:
            if not is_uri(entity_id):
                raise BadRequestData(f"id {entity_id[:200]!r} is not a URI")
        query.ids = sel.ids
    if sel.id_pattern is not None:
        try:
            re.compile(sel.id_pattern)
        except re.error as exc:
            raise BadRequestData(f"idPattern is not a valid regular expression: {exc}") from None
        query.id_pattern = sel.id_pattern
    if sel.type is not None:
        expr = parse_type_expr(sel.type)
        simple = expr.simple_any()
        if simple is not None:
            query.types = [ctx.expand_term(t) for t in simple]
        else:
            type_pred = expr.bind(ctx.expand_term)
            predicates.append(lambda e: type_pred(e["type"]))
    if sel.any_of:
        matchers = [_selector(alt, ctx) for alt in sel.any_of]
        predicates.append(lambda e: any(m(e) for m in matchers))
    if sel.attrs is not None:
        query.attrs_any = [ctx.expand_term(a) for a in sel.attrs]
    if sel.q is not None:
        q = parse_q(sel.q)
        predicates.append(q.bind(ctx.expand_term))
        query.attr_filters = attr_filters(q, ctx.expand_term)
    if sel.scope_q is not None:
        scope_pred = parse_scope_q(sel.scope_q)
        predicates.append(lambda e: scope_pred(e.get("scope")))
    if sel.georel is not None:
        gq = parse_geoq(sel.georel, sel.geometry or "", sel.coordinates, sel.geoproperty)
        geo_iri = ctx.expand_term(gq.geoproperty)
        box = gq.bbox()
        if box != (-180.0, -90.0, 180.0, 90.0):
            query.geo_bbox = box
            query.geo_attr = geo_iri

        def geo_pred(e: Entity, _iri: str = geo_iri, _gq: Any = gq) -> bool:
            return any(inst.get("type") == "GeoProperty" and _gq.matches(inst["value"])
                       for inst in e.get("attrs", {}).get(_iri, ()))

        predicates.append(geo_pred)
    if predicates:
        if len(predicates) == 1:
            query.predicate = predicates[0]
        else:
            preds = tuple(predicates)
            query.predicate = lambda e: all(p(e) for p in preds)
    return query


def _selector(sel: Selection, ctx: ActiveContext) -> Callable[[Entity], bool]:
    """One EntitySelector {id, idPattern, type} as a predicate (§5.2.33)."""
    ids = set(sel.ids) if sel.ids else None
    for entity_id in ids or ():
        if not is_uri(entity_id):
            raise BadRequestData(f"id {entity_id[:200]!r} is not a URI")
    pattern = None
    if sel.id_pattern is not None:
        try:
            pattern = re.compile(sel.id_pattern)
        except re.error as exc:
            raise BadRequestData(f"idPattern is not a valid regular expression: {exc}") from None
    type_pred = parse_type_expr(sel.type).bind(ctx.expand_term) if sel.type else None

    def match(e: Entity) -> bool:
        return ((ids is None or e["id"] in ids)
                and (pattern is None or pattern.fullmatch(e["id"]) is not None)
                and (type_pred is None or type_pred(e["type"])))

    return match
