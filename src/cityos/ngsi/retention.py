"""How long attribute history is kept, per entity type (`ngsi.history_retention`).

Rules are `Type=days` entries, `*` for every type without its own rule, e.g.
`history_retention = ["WeatherObserved=30", "*=365"]`; no rule for a type means its history
is kept for ever. An instance is removed once both its observedAt and the time it was recorded
are older than the rule's days. Pruning runs when the broker starts and then every hour, in
small transactions so that writes never wait long behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from cityos.ngsi.model.terms import is_valid_name
from cityos.storage.base import Store

log = logging.getLogger("cityos.ngsi.retention")
DAY_MS = 86_400_000
Rule = tuple[str | None, float]  # (type name or IRI, None = every other type; days)


def parse_rules(entries: tuple[str, ...]) -> list[Rule]:
    """`Type=days` entries as rules; ValueError names the entry that is wrong."""
    rules: list[Rule] = []
    seen: set[str | None] = set()
    for entry in entries:
        name, sep, days_text = entry.partition("=")
        name = name.strip()
        try:
            days = float(days_text)
        except ValueError:
            days = -1.0
        if not sep or days <= 0 or not (name == "*" or is_valid_name(name) or ":" in name):
            raise ValueError(f"ngsi.history_retention: {entry!r} is not Type=days "
                             "(days > 0; '*' for every other type)")
        type_name = None if name == "*" else name
        if type_name in seen:
            raise ValueError(f"ngsi.history_retention: {name!r} is given twice")
        seen.add(type_name)
        rules.append((type_name, days))
    return rules


async def prune_once(store: Store, rules: list[Rule], now_ms: int | None = None) -> int:
    """Remove the instances the rules no longer keep; returns how many were removed."""
    if not rules:
        return 0
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    cutoffs = [(name, now_ms - int(days * DAY_MS)) for name, days in rules]
    return await store.prune_history(cutoffs)


class Retention:
    """The hourly pruning task of one broker."""

    def __init__(self, store: Store, entries: tuple[str, ...], interval: float = 3600.0) -> None:
        self.store = store
        self.rules = parse_rules(entries)
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.rules and self._task is None:
            self._task = asyncio.create_task(self._run(), name="history-retention")

    async def _run(self) -> None:
        while True:
            try:
                removed = await prune_once(self.store, self.rules)
                if removed:
                    log.info("history retention removed %d attribute instances", removed)
            except Exception:  # keep pruning next hour; the error is logged, not raised
                log.exception("history retention failed")
            await asyncio.sleep(self.interval)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
