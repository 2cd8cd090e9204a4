"""Usage metering per organisation (API calls, bytes in and out, per calendar month, UTC) for
billing statements: a small ASGI middleware counts in memory, a background task saves.

The count costs a dict lookup and three additions per request (docs/console.md has the
measurement on the NGSI-LD hot path). Each process saves its own running totals under its
own key, so several `cityos serve` processes on one database never overwrite each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from calendar import timegm
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityos.audit.trail import PRINCIPAL
from cityos.storage.base import Store

SPACE = "catalog.usage"  # kv key: "<YYYY-MM>/<process>/<tenant>/<organisation>"
SAVE_SECONDS = 5.0

log = logging.getLogger("cityos.catalog")


def _month_bounds(now: float) -> tuple[str, float]:
    """The month of `now` (YYYY-MM, UTC) and when the next one starts (epoch seconds)."""
    t = time.gmtime(now)
    year, month = (t.tm_year + 1, 1) if t.tm_mon == 12 else (t.tm_year, t.tm_mon + 1)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}", float(timegm((year, month, 1, 0, 0, 0)))


class UsageMeter:
    """Counts every request an organisation's token made, by month, tenant and organisation."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.process = secrets.token_hex(4)
        self.counts: dict[tuple[str, str, str], list[int]] = {}
        self._month, self._next = _month_bounds(time.time())
        self._task: asyncio.Task[None] | None = None
        self._store: Store | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                receive = self._saving_at_shutdown(receive)
            await self.app(scope, receive, send)
            return
        sent = 0

        async def counting(message: Message) -> None:
            nonlocal sent
            if message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, counting)
        finally:
            principal = scope.get(PRINCIPAL)
            if principal is not None and principal.org:
                self._count(scope, principal.org, sent)

    def _count(self, scope: Scope, org: str, sent: int) -> None:
        now = time.time()
        if now >= self._next:
            self._month, self._next = _month_bounds(now)
        received = tenant = b""
        for name, value in scope["headers"]:
            if name == b"content-length":
                received = value
            elif name == b"ngsild-tenant":
                tenant = value
        key = (self._month, tenant.decode("latin-1")[:64], org)
        row = self.counts.get(key)
        if row is None:
            row = self.counts[key] = [0, 0, 0]
        row[0] += 1
        row[1] += int(received) if received.isdigit() else 0
        row[2] += sent
        if self._task is None or self._task.done():
            state = scope["app"].state
            self._store, state.usage_meter = state.broker.store, self  # the report saves first
            self._task = asyncio.get_running_loop().create_task(self._save_later())

    async def _save_later(self) -> None:
        await asyncio.sleep(SAVE_SECONDS)
        await self.save()

    async def save(self) -> None:
        """Write this process's running totals (blocking work runs on the store's writer)."""
        store = self._store
        if store is None:
            return
        for (month, tenant, org), (calls, bytes_in, bytes_out) in list(self.counts.items()):
            try:
                await store.kv_put(SPACE, f"{month}/{self.process}/{tenant}/{org}",
                                   {"month": month, "tenant": tenant, "organisation": org,
                                    "calls": calls, "bytesIn": bytes_in, "bytesOut": bytes_out})
            except Exception:  # the store is closing: never fail a request for the meter
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
