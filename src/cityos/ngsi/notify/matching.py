"""Which changes a subscription is owed: entity selectors, watchedAttributes and
notificationTrigger on the change-log row, then q, geoQ and scopeQ on the entity's current state.

ETSI GS CIM 009 v1.8 §5.8.6 (notification behaviour), §5.2.12 (Subscription).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from cityos.ngsi.api.selection import Selection, to_store_query
from cityos.ngsi.query.typeexpr import parse_type_expr
from cityos.storage.base import Change, EntityQuery

Entity = dict[str, Any]
# §5.2.12: without notificationTrigger, creating and updating attributes notify
DEFAULT_TRIGGERS = ("attributeCreated", "attributeUpdated")
_ATTR_TRIGGER = {"c": "attributeCreated", "u": "attributeUpdated", "d": "attributeDeleted"}


class Matcher:
    """One subscription's criteria, compiled once against its @context."""

    def __init__(self, sub: dict[str, Any], ctx: Any) -> None:
        expand = ctx.expand_term
        self.selectors = [_selector(s, expand) for s in sub.get("entities") or ()]
        watched = sub.get("watchedAttributes")
        self.watched = frozenset(expand(w) for w in watched) if watched else None
        self.triggers = frozenset(sub.get("notificationTrigger") or DEFAULT_TRIGGERS)
        geo = sub.get("geoQ") or {}
        q = sub.get("q")
        # a q in a body is sometimes sent percent-encoded, as in a URL (`name=="Eiffel%20Tower"`)
        self.selection = Selection(q=unquote(q) if isinstance(q, str) else None,
                                   scope_q=sub.get("scopeQ"),
                                   georel=geo.get("georel"), geometry=geo.get("geometry"),
                                   coordinates=geo.get("coordinates"),
                                   geoproperty=geo.get("geoproperty"))
        self.state: Callable[[Entity], bool] | None = to_store_query(
            self.selection, ctx, limit=1, offset=0, count=False).predicate
        self.ctx = ctx
        self.sub = sub

    def owed(self, change: Change) -> bool:
        """The change-log row is one this subscription notifies about (before q, geoQ, scopeQ)."""
        if self.selectors and not any(s(change.entity_id, change.types) for s in self.selectors):
            return False
        triggers, op = self.triggers, change.op
        if "d" in op and "entityDeleted" in triggers:
            return True
        if "c" in op and "entityCreated" in triggers and self.watched is None:
            return True
        attrs = change.attrs
        if self.watched is not None:
            attrs = {a: o for a, o in attrs.items() if a in self.watched}
        if "u" in op and "entityUpdated" in triggers and attrs:
            return True
        return any(_ATTR_TRIGGER[o] in triggers for o in attrs.values())

    def matches(self, entity: Entity) -> bool:
        """The entity's current state satisfies q, geoQ and scopeQ."""
        return self.state is None or self.state(entity)

    def query(self, limit: int, offset: int) -> EntityQuery:
        """All entities the subscription selects (periodic notifications, §5.8.6 timeInterval)."""
        alternatives = [Selection(type=s.get("type"), ids=[s["id"]] if "id" in s else None,
                                  id_pattern=s.get("idPattern"))
                        for s in self.sub.get("entities") or ()]
        selection = Selection(**{**self.selection.__dict__, "any_of": alternatives or None})
        return to_store_query(selection, self.ctx, limit=limit, offset=offset, count=False)


def _selector(sel: dict[str, Any], expand: Callable[[str], str]) -> Callable[[str, list[str]], bool]:
    entity_id = sel.get("id")
    pattern = re.compile(str(sel["idPattern"])) if "idPattern" in sel else None
    # an NGSI v2 subscription may leave the type out: any type
    types = parse_type_expr(sel["type"]).bind(expand) if "type" in sel else bool

    def selected(eid: str, entity_types: list[str]) -> bool:
        if entity_id is not None and entity_id != eid:
            return False
        if pattern is not None and pattern.fullmatch(eid) is None:
            return False
        return bool(types(entity_types))

    return selected
