"""Rows `cityos verify` compares with their signed history (trust/state.py): read-only."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cityos.storage.sqlite.engine import SqliteStore

GrantRow = tuple[str, str, str, str, str, float | None]


async def grant_rows(store: SqliteStore) -> list[GrantRow]:
    """Every row of `grants`: (tenant, recipient, subject, category, purpose, until)."""
    return [tuple(row) for row in store._r.execute(  # type: ignore[misc]
        "SELECT tenant, recipient, subject, category, purpose, until FROM grants")]
