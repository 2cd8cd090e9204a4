"""Rate limits and the security monitor across several processes on one database (issue 10).

Every half second each process sends what it counted (tokens its limiters allowed, requests and
events its monitor saw) and takes in what the others counted (`SharedStore.exchange_counts`), so
N processes together allow about the configured rate and see a client's whole volume. Nothing
of this runs on a request's path; with SQLite (one process) it does not run at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from cityos.access.monitor import Monitor
from cityos.access.ratelimit import RateLimiter
from cityos.storage.base import SharedStore

EXCHANGE_SECONDS = 0.5
_LIMITER = "r\x1f"  # key prefixes of the limiters' counts (the monitor's begin "v" and "c")
_LOGIN = "l\x1f"

log = logging.getLogger("cityos.access")


class CountExchange:
    """This process's side of the exchange: started with `Access`, stopped with the app."""

    def __init__(self, store: SharedStore, limiter: RateLimiter, login_limiter: RateLimiter,
                 monitor: Monitor) -> None:
        self.store = store
        self.parts = ((_LIMITER, limiter), (_LOGIN, login_limiter))
        self.monitor = monitor
        for _, part in self.parts:
            part.spent = {}
        monitor.counted = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="cityos counts")

    async def exchange(self) -> None:
        """One exchange: send this process's counts, apply the others'."""
        counts: dict[str, int] = {}
        for prefix, part in self.parts:
            spent, part.spent = part.spent or {}, {}
            counts.update((prefix + k, n) for k, n in spent.items())
        counted, self.monitor.counted = self.monitor.counted or {}, {}
        counts.update(counted)
        try:
            others = await self.store.exchange_counts(counts)
        except Exception:
            self._put_back(counts)  # sent with the next exchange
            raise
        now = time.monotonic()
        limiters = dict(self.parts)
        for key, events in others.items():
            limiter = limiters.get(key[:2])
            if limiter is not None:
                limiter.debit(key[2:], events, now)
            else:
                self.monitor.absorb(key, events, now)

    def _put_back(self, counts: dict[str, int]) -> None:
        for key, n in counts.items():
            for prefix, part in self.parts:
                if key.startswith(prefix) and part.spent is not None:
                    part.spent[key[2:]] = part.spent.get(key[2:], 0) + n
                    break
            else:
                if self.monitor.counted is not None:
                    self.monitor.counted[key] = self.monitor.counted.get(key, 0) + n

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(EXCHANGE_SECONDS)
            try:
                await self.exchange()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is away: count on, exchange when it is back
                log.warning("could not exchange rate and monitor counts", exc_info=True)
                await asyncio.sleep(5)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
