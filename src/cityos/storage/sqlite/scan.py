"""Rows `cityos verify` compares with their signed history (trust/state.py): read-only."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cityos.storage.sqlite.engine import SqliteStore

GrantRow = tuple[str, str, str, str, str, float | None]


async def grant_rows(store: SqliteStore) -> list[GrantRow]:
    """Every row of `grants`: (tenant, recipient, subject, category, purpose, until)."""
    return [tuple(row) for row in store._r.execute(  # type: ignore[misc]
        "SELECT tenant, recipient, subject, category, purpose, until FROM grants")]


def _state(doc: bytes | str, owner: str | None) -> tuple[str, str | None]:
    raw = doc if isinstance(doc, bytes) else doc.encode("utf-8")
    return (hashlib.sha256(raw).hexdigest(),
            None if owner is None else hashlib.sha256(owner.encode("utf-8")).hexdigest())


async def entity_states(store: SqliteStore, tenant: str, ids: list[str]
                        ) -> dict[str, tuple[str, str | None]]:
    """Digest of each stored row's document (as stored: a personal one sealed) and of its
    owner, by entity id; an id not stored is absent."""
    out: dict[str, tuple[str, str | None]] = {}
    for first in range(0, len(ids), 500):
        chunk = ids[first:first + 500]
        marks = ",".join("?" * len(chunk))
        for entity_id, doc, owner in store._r.execute(
                f"SELECT id, doc, owner FROM entities WHERE tenant = ? AND id IN ({marks})",
                (tenant, *chunk)):
            out[entity_id] = _state(doc, owner)
    return out


async def all_entity_states(store: SqliteStore, page: int = 5000
                            ) -> AsyncIterator[list[tuple[str, str, tuple[str, str | None]]]]:
    """(tenant, id, state) of every stored entity, a page at a time (by row id)."""
    after = -1
    while True:
        rows = store._r.execute("SELECT rid, tenant, id, doc, owner FROM entities WHERE rid > ? "
                                "ORDER BY rid LIMIT ?", (after, page)).fetchall()
        if not rows:
            return
        yield [(tenant, entity_id, _state(doc, owner)) for _, tenant, entity_id, doc, owner
               in rows]
        after = rows[-1][0]
