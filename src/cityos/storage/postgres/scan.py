"""Rows `cityos verify` compares with their signed history (trust/state.py): read-only."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cityos.storage.postgres.engine import PostgresStore

GrantRow = tuple[str, str, str, str, str, float | None]


async def grant_rows(store: PostgresStore) -> list[GrantRow]:
    """Every row of `grants`: (tenant, recipient, subject, category, purpose, until)."""
    rows = await store.pool.fetch(
        "SELECT tenant, recipient, subject, category, purpose, until FROM grants")
    return [(r[0], r[1], r[2], r[3], r[4], None if r[5] is None else float(r[5])) for r in rows]
