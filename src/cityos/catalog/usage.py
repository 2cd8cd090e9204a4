"""Usage metering per organisation (API calls, bytes in and out, per calendar month, UTC) for
billing statements, derived from the audit trail: each audit record, as it is made, adds to
in-memory counters; a background task saves them.

The audit record already holds the organisation, tenant, time and sizes, so metering costs the
hot path one call and a few dict operations (docs/console.md has the measurement). Each process
saves its own running totals under its own key, so several `cityos serve` processes on one
database never overwrite each other. `UsageMeter` is an ASGI middleware only to hook the app's
start (register with the trail) and end (save what is left); requests pass straight through.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityos.storage.base import Store

SPACE = "catalog.usage"  # kv key: "<YYYY-MM>/<process>/<tenant>/<organisation>"
SAVE_SECONDS = 5.0

log = logging.getLogger("cityos.catalog")


class UsageMeter:
    """Counts every audited request made with an organisation's token."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.process = secrets.token_hex(4)
        self.counts: dict[tuple[str, str, str], list[int]] = {}
        self._task: asyncio.Task[None] | None = None
        self._app_state: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            self._app_state = scope["app"].state
            self._app_state.usage_meter = self
            self._app_state.audit_watchers = [*getattr(self._app_state, "audit_watchers", ()),
                                              self.count]
            receive = self._saving_at_shutdown(receive)
        await self.app(scope, receive, send)

    def count(self, record: dict[str, Any]) -> None:
        """An audit record was made (the trail calls this; no await, nothing slow)."""
        org = record["org"]
        if not org:
            return
        key = (record["at"][:7], record["tenant"], org)
        row = self.counts.get(key)
        if row is None:
            row = self.counts[key] = [0, 0, 0]
        row[0] += 1
        row[1] += record["bytes_in"]
        row[2] += record["bytes_out"]
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._save_later())

    async def _save_later(self) -> None:
        await asyncio.sleep(SAVE_SECONDS)
        await self.save()

    async def save(self) -> None:
        """Write this process's running totals."""
        if self._app_state is None:
            return
        store: Store = self._app_state.broker.store
        for (month, tenant, org), (calls, bytes_in, bytes_out) in list(self.counts.items()):
            try:
                await store.kv_put(SPACE, f"{month}/{self.process}/{tenant}/{org}",
                                   {"month": month, "tenant": tenant, "organisation": org,
                                    "calls": calls, "bytesIn": bytes_in, "bytesOut": bytes_out})
            except Exception:  # the store is closing: never fail anything for the meter
                log.exception("could not save usage counts")
                return

    def _saving_at_shutdown(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                if self._task is not None and not self._task.done():
                    self._task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._task
                await self.save()
            return message

        return wrapped


async def usage_report(store: Store, month: str, tenant: str | None = None) -> list[dict[str, Any]]:
    """Per organisation: API calls and bytes in `month` (YYYY-MM), summed over processes,
    largest first; `tenant` None means every tenant."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for _, row in await store.kv_list(SPACE):
        if row["month"] != month or (tenant is not None and row["tenant"] != tenant):
            continue
        key = (row["tenant"], row["organisation"])
        total = totals.setdefault(key, {"organisation": row["organisation"],
                                        "tenant": row["tenant"], "month": month,
                                        "calls": 0, "bytesIn": 0, "bytesOut": 0})
        for name in ("calls", "bytesIn", "bytesOut"):
            total[name] += row[name]
    return sorted(totals.values(), key=lambda r: (-r["calls"], r["organisation"]))
