"""Organisations' type grants in SQLite (issue 18): which rows a `Reader` may read, as SQL.

An entity is released only when every one of its types is granted: one seek of
`entity_types_by_rid` per row (`NOT EXISTS` a type outside the grants). A reader granted every
type (`types` None, staff, residents, the platform) gets no clause at all.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from typing import Any

from cityos.storage.base import NotGranted, Reader, may_write, not_granted


def type_clause(reader: Reader | None, alias: str = "e") -> tuple[str, list[Any]] | None:
    """SQL over `alias`.rid: the rows whose types `reader` may all read; None: every row."""
    if reader is None or reader.system or reader.types is None:
        return None
    if not reader.types:
        return "0", []
    granted = sorted(reader.types)
    return _clause(alias, len(granted)), granted


@lru_cache(maxsize=256)
def _clause(alias: str, n: int) -> str:
    return (f"NOT EXISTS (SELECT 1 FROM entity_types gt INDEXED BY entity_types_by_rid WHERE "
            f"gt.rid = {alias}.rid AND gt.type NOT IN ({','.join('?' * n)}))")


def with_types(who: tuple[str, list[Any]] | None,
               reader: Reader | None) -> tuple[str, list[Any]] | None:
    """The reader's personal-data condition `who` and its type condition together."""
    types = type_clause(reader)
    if types is None:
        return who
    if who is None:
        return types
    return f"{who[0]} AND {types[0]}", [*who[1], *types[1]]


def ungranted(conn: sqlite3.Connection, tenant: str, entity_ids: list[str],
              reader: Reader | None) -> set[str]:
    """Of `entity_ids`, those `reader`'s type grants do not release: an entity with a type
    outside them, and one whose types are unknown (no entity row: only its history and change
    rows are left) — deny by default."""
    if reader is None or reader.system or reader.types is None or not entity_ids:
        return set()
    clause = type_clause(reader)
    assert clause is not None
    out = set(entity_ids)
    for first in range(0, len(entity_ids), 500):
        chunk = entity_ids[first:first + 500]
        out.difference_update(r[0] for r in conn.execute(
            f"SELECT e.id FROM entities e WHERE e.tenant = ? AND e.id IN "
            f"({','.join('?' * len(chunk))}) AND {clause[0]}", [tenant, *chunk, *clause[1]]))
    return out


def stored_types(conn: sqlite3.Connection, tenant: str, entity_id: str) -> list[str] | None:
    """The stored entity's types; None when there is no such entity."""
    row = conn.execute("SELECT rid FROM entities WHERE tenant = ? AND id = ?",
                       (tenant, entity_id)).fetchone()
    if row is None:
        return None
    return [r[0] for r in conn.execute("SELECT type FROM entity_types WHERE rid = ?", (row[0],))]


def history_refusal(conn: sqlite3.Connection, tenant: str, entity_id: str,
                    writer: str) -> NotGranted | None:
    """Why `writer` may not change `entity_id`'s history (None: it may): a type it has no
    write grant for, or no entity row to tell the types by (deny by default)."""
    if getattr(writer, "types", None) is None:
        return None
    types = stored_types(conn, tenant, entity_id)
    if types is None:
        return NotGranted(f"entity {entity_id} has no stored type to check {writer}'s write "
                          "grants against")
    return None if may_write(writer, types) else not_granted(writer, entity_id, types)
