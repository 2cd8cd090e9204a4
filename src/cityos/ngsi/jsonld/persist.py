"""Keeps the /jsonldContexts registry in the platform's store, so hosted contexts survive restarts.

The registry reads synchronously from memory; writes go to the store and are awaited by
`flush()` before a route answers, so an acknowledged context is durable.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cityos.storage.base import Store

SPACE = "jsonld-contexts"


class StoreBackend:
    """A `ContextBackend` mirrored in memory and written through to a `Store`'s kv space."""

    def __init__(self, store: Store, tenant_space: str = SPACE) -> None:
        self._store = store
        self._space = tenant_space
        self._records: dict[str, dict[str, Any]] = {}
        self._pending: list[asyncio.Task[Any]] = []

    async def load(self) -> None:
        self._records = {key: value for key, value in await self._store.kv_list(self._space)}

    def get(self, id: str) -> dict[str, Any] | None:
        return self._records.get(id)

    def put(self, id: str, record: dict[str, Any]) -> None:
        self._records[id] = record
        self._schedule(self._store.kv_put(self._space, id, record))

    def delete(self, id: str) -> None:
        self._records.pop(id, None)
        self._schedule(self._store.kv_delete(self._space, id))

    def list(self) -> list[dict[str, Any]]:
        return list(self._records.values())

    def _schedule(self, write: Any) -> None:
        self._pending = [t for t in self._pending if not t.done()]
        self._pending.append(asyncio.get_running_loop().create_task(write))

    async def flush(self) -> None:
        """Wait until every change made so far is committed."""
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)
