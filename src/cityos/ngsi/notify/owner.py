"""Whose eyes a subscription's notifications pass through (issue 6): its creator's Reader.

The creating principal's reader inputs are kept in the stored subscription (a system member
no request can write); every notification's entities are read from the store through that
Reader, so a withdrawn consent stops the very next notification.
"""

from __future__ import annotations

from typing import Any

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
