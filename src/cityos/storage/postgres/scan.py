"""Rows `cityos verify` compares with their signed history (trust/state.py): read-only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cityos.storage.postgres.engine import PostgresStore

GrantRow = tuple[str, str, str, str, str, float | None]


async def grant_rows(store: PostgresStore) -> list[GrantRow]:
    """Every row of `grants`: (tenant, recipient, subject, category, purpose, until)."""
    rows = await store.pool.fetch(
        "SELECT tenant, recipient, subject, category, purpose, until FROM grants")
    return [(r[0], r[1], r[2], r[3], r[4], None if r[5] is None else float(r[5])) for r in rows]


# the stored row as `verify` digests it: its document (NULL for a personal row) and its sealed
# body, and its owner
_STATE = ("encode(sha256(convert_to(coalesce(doc::text, ''), 'UTF8') || "
          "coalesce(sealed, ''::bytea)), 'hex'), encode(sha256(convert_to(owner, 'UTF8')), 'hex')")


async def entity_states(store: PostgresStore, tenant: str, ids: list[str]
                        ) -> dict[str, tuple[str, str | None]]:
    """Digest of each stored row's document (as stored: a personal one sealed) and of its
    owner, by entity id; an id not stored is absent."""
    rows = await store.pool.fetch(f"SELECT id, {_STATE} FROM entities WHERE tenant = $1 "
                                  "AND id = ANY($2::text[])", tenant, ids)
    return {r[0]: (r[1], r[2]) for r in rows}


async def all_entity_states(store: PostgresStore, page: int = 5000
                            ) -> AsyncIterator[list[tuple[str, str, tuple[str, str | None]]]]:
    """(tenant, id, state) of every stored entity, a page at a time (by row id)."""
    after = -1
    while True:
        rows = await store.pool.fetch(f"SELECT rid, tenant, id, {_STATE} FROM entities "
                                      "WHERE rid > $1 ORDER BY rid LIMIT $2", after, page)
        if not rows:
            return
        yield [(r[1], r[2], (r[3], r[4])) for r in rows]
        after = rows[-1][0]
