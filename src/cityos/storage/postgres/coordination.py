"""Several processes on one database (issue 10 item 2): leases and change wake-ups.

A lease is a session advisory lock on one long-lived connection of the process: held until
released, or until the process (its connection) dies, when another process may take it. The
`cityos_changes` channel carries the tenants whose change log grew: each process sends one
NOTIFY per tenant after its writes commit (outside them: a notifying transaction's commit takes
a database-wide lock), so a process wakes for writes another process made.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from cityos.storage.postgres._keys import lock_key

log = logging.getLogger("cityos.storage.postgres")
CHANNEL = "cityos_changes"


class Coordination:
    """The process's coordination connection: its leases and its change listeners."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._leases: set[str] = set()
        self._listeners: list[Callable[[str], None]] = []
        self._changed: set[str] = set()  # tenants written since the last NOTIFY
        self._notifier: asyncio.Task[None] | None = None

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._leases.clear()  # a new session holds none of the old one's locks
            self._conn = await asyncpg.connect(self.url, server_settings={
                "application_name": "cityos coordination",
                "synchronous_commit": "off"})  # a wake-up needs no durable commit
            self._conn.add_termination_listener(self._lost)
            if self._listeners:
                await self._conn.add_listener(CHANNEL, self._heard)
        return self._conn

    def _lost(self, _conn: Any) -> None:
        if self._leases:
            log.warning("coordination connection lost: leases %s released", sorted(self._leases))
        self._leases.clear()

    def _heard(self, _conn: Any, _pid: int, _channel: str, tenant: str) -> None:
        for listener in self._listeners:
            try:
                listener(tenant)
            except Exception:  # a listener's bug must not stop the others
                log.exception("change listener failed")

    async def lease(self, name: str) -> bool:
        """Whether this process holds `name` now (taking it when free)."""
        async with self._lock:
            conn = await self._connection()
            if name in self._leases:
                return True
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(f"lease\0{name}")):
                self._leases.add(name)
                return True
            return False

    def holds(self, name: str) -> bool:
        """Whether this process held `name` at its last look (its connection is alive)."""
        return name in self._leases and self._conn is not None and not self._conn.is_closed()

    async def release(self, name: str) -> None:
        async with self._lock:
            if name not in self._leases or self._conn is None or self._conn.is_closed():
                self._leases.discard(name)
                return
            self._leases.discard(name)
            await self._conn.fetchval("SELECT pg_advisory_unlock($1)", lock_key(f"lease\0{name}"))

    async def on_changes(self, listener: Callable[[str], None]) -> None:
        """Call `listener(tenant)` after any process commits a change of `tenant`."""
        async with self._lock:
            first = not self._listeners
            self._listeners.append(listener)
            conn = await self._connection()
            if first:
                await conn.add_listener(CHANNEL, self._heard)

    def changed(self, tenant: str) -> None:
        """A write of `tenant` committed: tell the other processes soon (writes committing
        meanwhile share the NOTIFY)."""
        self._changed.add(tenant)
        if self._notifier is None or self._notifier.done():
            self._notifier = asyncio.create_task(self._notify(), name="cityos change notify")

    async def _notify(self) -> None:
        await asyncio.sleep(0)  # the writes finishing in this turn of the loop come along
        while self._changed:
            tenants = sorted(self._changed)
            self._changed.clear()
            try:
                async with self._lock:
                    conn = await self._connection()
                    await conn.execute("SELECT pg_notify($1, t) FROM unnest($2::text[]) AS t",
                                       CHANNEL, tenants)
            except (OSError, asyncpg.PostgresError):  # the others still poll every second
                log.warning("could not notify other processes of changes", exc_info=True)
                return

    async def close(self) -> None:
        if self._notifier is not None and not self._notifier.done():
            with contextlib.suppress(Exception):
                await self._notifier
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                with contextlib.suppress(Exception):
                    await self._conn.close()
            self._conn = None
            self._leases.clear()
