"""Whose eyes a subscription's notifications pass through (issue 6): its creator's Reader.

The creating principal's reader inputs are kept in the stored subscription (a system member
no request can write); every notification's entities are read from the store through that
Reader, so a withdrawn consent stops the very next notification.
"""

from __future__ import annotations

from typing import Any

from cityos.ngsi.errors import Forbidden
from cityos.ngsi.query.typeexpr import parse_type_expr
from cityos.storage.base import Reader

OWNER = "cityos:owner"  # system member of a stored subscription; never shown


def owner_doc(sub: str, reader: Reader) -> dict[str, Any]:
    """What a subscription keeps of its creator (never `system`: no one subscribes as that)."""
    doc: dict[str, Any] = {"sub": sub, "org": reader.org, "residents": list(reader.residents)}
    if reader.categories is not None:
        doc["categories"] = list(reader.categories)
    if reader.purpose is not None:
        doc["purpose"] = reader.purpose
    return doc


def owner_of(sub: dict[str, Any]) -> tuple[str, Reader]:
    """(principal sub, Reader) of a stored subscription; a subscription without an owner (made
    before issue 6, or without a principal) reads non-personal entities only."""
    doc = sub.get(OWNER)
    if not isinstance(doc, dict):
        return "", Reader()
    categories = doc.get("categories")
    return str(doc.get("sub", "")), Reader(
        org=str(doc.get("org", "")),
        residents=tuple(str(r) for r in doc.get("residents", ())),
        categories=None if categories is None else tuple(str(c) for c in categories),
        purpose=None if doc.get("purpose") is None else str(doc["purpose"]))


async def check_readable(broker: Any, sub: dict[str, Any], reader: Reader) -> None:
    """Refuse (403) a subscription naming an entity type its creator may not read (issue
    18): the types of its selectors, expanded with the subscription's own @context. A
    selector without a type is left to delivery, which reads through the creator's grants."""
    if reader.types is None or reader.system:
        return
    selectors = [s for s in sub.get("entities") or () if isinstance(s, dict) and "type" in s]
    if not selectors:
        return
    ctx = await broker.context(sub.get("jsonldContext"))
    denied = sorted({name for s in selectors for name in parse_type_expr(str(s["type"])).terms()
                     if ctx.expand_term(name) not in reader.types})
    if denied:
        raise Forbidden(f"no read grant for entity type(s) {', '.join(denied)}: a subscription "
                        "cannot notify what its creator may not read")
