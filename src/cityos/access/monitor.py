"""Security monitor: lockout with back-off after repeated failed logins, and stored alerts.

MIC Smart City Security Guideline v2.0 都市OS①-4 (monitoring) and ①-3 (authentication).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import Any

import httpx

from cityos import egress
from cityos.storage.base import Store, shared

ALERTS = "audit.alerts"
MAX_LOCK_SECONDS = 86_400.0
_DEDUP_SECONDS = 60.0

log = logging.getLogger("cityos.security")


def locked_for(record: dict[str, Any], now: float) -> float:
    """Seconds the account stays locked (0 when it is not)."""
    return max(0.0, float(record.get("locked_until", 0.0)) - now)


def register_failure(record: dict[str, Any], now: float, after: int, base_seconds: float) -> bool:
    """Count a failed attempt; from the `after`-th one on, lock for base × 2^(extra failures).

    Returns True when this failure locked the account."""
    failures = int(record.get("failures", 0)) + 1
    record["failures"] = failures
    if failures < after:
        return False
    record["locked_until"] = now + min(MAX_LOCK_SECONDS, base_seconds * 2 ** (failures - after))
    return True


def register_success(record: dict[str, Any], now: float) -> None:
    record["failures"] = 0
    record["locked_until"] = 0.0
    record["last_used"] = now


class Monitor:
    """Records alerts in the store (and the log), at most one per kind and subject a minute,
    and posts each to the webhook when one is set."""

    def __init__(self, store: Store, webhook: str = "") -> None:
        self.store = store
        self.webhook = webhook
        self._recent: dict[tuple[str, str], float] = {}
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}
        self._volumes: dict[str, tuple[int, int, float, int]] = {}  # minute, count, baseline, n
        self._posts: set[asyncio.Task[None]] = set()
        self.counted: dict[str, int] | None = None  # several processes: events per shared key

    def volume(self, subject: str, factor: float, floor: int,
               now: float | None = None) -> tuple[int, float] | None:
        """Count a request of `subject`; when a minute ends with more than `factor` × its own
        baseline (an average of its past minutes) and more than `floor` requests, return
        (that minute's count, the baseline). No await: hot path."""
        now = time.monotonic() if now is None else now
        minute = int(now // 60)
        current, count, baseline, minutes = self._volumes.get(subject, (minute, 0, 0.0, 0))
        if self.counted is not None:
            self.counted["v\x1f" + subject] = self.counted.get("v\x1f" + subject, 0) + 1
        if current == minute:
            self._volumes[subject] = (minute, count + 1, baseline, minutes)
            return None
        unusual = minutes >= 3 and count > floor and count > factor * baseline
        before = baseline
        baseline = float(count) if minutes == 0 else 0.8 * baseline + 0.2 * count
        baseline *= 0.8 ** min(minute - current - 1, 60)  # idle minutes count as zeros
        if len(self._volumes) > 10_000:
            self._volumes.clear()
        self._volumes[subject] = (minute, 1, baseline, minutes + 1)
        return (count, round(before, 1)) if unusual else None

    def count(self, kind: str, subject: str, limit: int, window: float = 60.0) -> bool:
        """Count an event; True once `limit` events fell within one window (no await: hot path)."""
        now = time.monotonic()
        start, seen = self._counts.get((kind, subject), (now, 0))
        if now - start > window:
            start, seen = now, 0
        if len(self._counts) > 10_000:
            self._counts.clear()
        self._counts[(kind, subject)] = (start, seen + 1)
        if self.counted is None:
            return seen + 1 == limit
        shared = f"c\x1f{kind}\x1f{subject}"
        self.counted[shared] = self.counted.get(shared, 0) + 1
        return seen + 1 >= limit  # the others' events may have passed the limit: `alert` dedups

    def absorb(self, key: str, events: int, now: float | None = None) -> None:
        """Add what other processes counted (`key` as in `counted`) to this process's view:
        a subject's volume in the current minute, or a kind's events in the current window."""
        now = time.monotonic() if now is None else now
        if key.startswith("v\x1f"):
            subject = key[2:]
            found = self._volumes.get(subject)
            if found is not None and found[0] == int(now // 60):  # else the minute went by
                self._volumes[subject] = (found[0], found[1] + events, found[2], found[3])
        elif key.startswith("c\x1f"):
            kind, _, subject = key[2:].partition("\x1f")
            start, seen = self._counts.get((kind, subject), (now, 0))
            if now - start <= 60.0:  # a window of the default length, as `count`'s callers use
                self._counts[(kind, subject)] = (start, seen + events)

    async def alert(self, kind: str, subject: str, **detail: Any) -> bool:
        """Record an alert; returns False when an identical one was recorded within a minute."""
        now = time.time()
        if now - self._recent.get((kind, subject), -_DEDUP_SECONDS) < _DEDUP_SECONDS:
            return False
        if len(self._recent) > 10_000:
            self._recent.clear()
        self._recent[(kind, subject)] = now
        if not await self._first_of_processes(kind, subject):
            return False
        log.warning("security alert %s: %s %s", kind, subject, detail)
        key = f"{now:017.6f}-{secrets.token_hex(4)}"
        alert = {"at": now, "kind": kind, "subject": subject, "detail": detail}
        await self.store.kv_put(ALERTS, key, alert)
        if self.webhook:
            self._keep(asyncio.get_running_loop().create_task(self._post(alert)))
        return True

    async def _first_of_processes(self, kind: str, subject: str) -> bool:
        """Several processes on one database: whether this one raises the alert (it takes the
        alert's lease and keeps it for the minute); the others seeing the same stay quiet."""
        several = shared(self.store)
        if several is None:
            return True
        name = f"alert\x1f{kind}\x1f{subject}"
        if not await several.lease(name):
            return False
        loop = asyncio.get_running_loop()
        loop.call_later(_DEDUP_SECONDS, lambda: self._keep(loop.create_task(
            several.release(name))))
        return True

    def _keep(self, task: asyncio.Task[None]) -> None:
        self._posts.add(task)
        task.add_done_callback(self._posts.discard)

    async def _post(self, alert: dict[str, Any]) -> None:
        try:  # the webhook passes the egress policy (cityos.egress) like every outbound call
            egress.policy().target(self.webhook, ("http", "https"))
            async with egress.client() as client:  # egress.timeout
                response = await client.post(self.webhook, json={"cityos_alert": alert})
                response.raise_for_status()
        except (httpx.HTTPError, egress.EgressRefused) as exc:
            log.warning("security alert webhook failed: %s", exc)


async def list_alerts(store: Store, kind: str | None = None) -> list[dict[str, Any]]:
    """Every stored alert, oldest first (optionally of one kind)."""
    return [a for _, a in await store.kv_list(ALERTS) if kind is None or a.get("kind") == kind]
