"""Organisations' type grants in PostgreSQL (issue 18), as the SQLite engine's `_grants`.

An entity is released only when every one of its types is granted: `NOT EXISTS` a row of
`entity_types` (by its rid index) outside the grants. No clause for a reader of every type.
"""

from __future__ import annotations

import asyncpg

from cityos.storage.base import NotGranted, Reader, may_write, not_granted
from cityos.storage.postgres._sql import Sql


def type_clause(reader: Reader | None, sql: Sql, alias: str = "e") -> str | None:
    """SQL over `alias`.rid: the rows whose types `reader` may all read; None: every row."""
    if reader is None or reader.system or reader.types is None:
        return None
    if not reader.types:
        return "false"
    return (f"NOT EXISTS (SELECT 1 FROM entity_types gt WHERE gt.rid = {alias}.rid AND "
            f"gt.type <> ALL({sql.param(sorted(reader.types))}::text[]))")


async def ungranted(conn: asyncpg.Connection | asyncpg.Pool, tenant: str, entity_ids: list[str],
                    reader: Reader | None) -> set[str]:
    """Of `entity_ids`, those `reader`'s type grants do not release (a type outside them, or
    no entity row to tell its types by: deny by default)."""
    if reader is None or reader.system or reader.types is None or not entity_ids:
        return set()
    sql = Sql([tenant, [i for i in entity_ids if "\x00" not in i]])
    clause = type_clause(reader, sql)
    rows = await conn.fetch(f"SELECT e.id FROM entities e WHERE e.tenant = $1 AND "
                            f"e.id = ANY($2::text[]) AND {clause}", *sql.params)
    return set(entity_ids) - {r[0] for r in rows}


async def history_refusal(conn: asyncpg.Connection, tenant: str, entity_id: str,
                          writer: str) -> NotGranted | None:
    """Why `writer` may not change `entity_id`'s history (None: it may): a type it has no
    write grant for, or no entity row to tell the types by (deny by default)."""
    if getattr(writer, "types", None) is None:
        return None
    found = await conn.fetchval(
        "SELECT array_agg(t.type) FROM entities e JOIN entity_types t ON t.rid = e.rid "
        "WHERE e.tenant = $1 AND e.id = $2", tenant, entity_id)
    if found is None:
        return NotGranted(f"entity {entity_id} has no stored type to check {writer}'s write "
                          "grants against")
    types = list(found)
    return None if may_write(writer, types) else not_granted(writer, entity_id, types)
