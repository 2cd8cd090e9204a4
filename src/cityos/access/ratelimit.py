"""Per-client rate limits: a token bucket per key (client, staff member or IP address).

Super-city API security (MIC guideline データ連携⑥: load protection); answers carry 429 +
`Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3). Several processes on one database share
the rate: each counts what it allowed (`spent`) and is debited what the others allowed
(`debit`), exchanged about twice a second (access/shared.py), so N processes together allow
about the rate, never N × it; one process (SQLite) counts nothing.
"""

from __future__ import annotations

import time


class RateLimiter:
    """`take(key)` spends one token of `key`'s bucket; returns 0 or the seconds to wait."""

    def __init__(self, rate: float, burst: float, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self.spent: dict[str, int] | None = None  # several processes: tokens taken per key

    def take(self, key: str, rate: float | None = None, burst: float | None = None,
             now: float | None = None) -> float:
        rate = self.rate if rate is None else rate
        burst = self.burst if burst is None else burst
        if rate <= 0:
            return 0.0  # unlimited
        now = time.monotonic() if now is None else now
        tokens, at = self._buckets.get(key, (burst, now))
        tokens = min(burst, tokens + (now - at) * rate)
        if tokens >= 1.0:
            if len(self._buckets) >= self.max_keys:
                self._forget_full(now)
            self._buckets[key] = (tokens - 1.0, now)
            if self.spent is not None:
                self.spent[key] = self.spent.get(key, 0) + 1
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate

    def take_now(self, key: str, now: float) -> bool:
        """The hot path of `take` at the limiter's own rate: True when a token was spent
        (False: ask `take` for how long to wait)."""
        rate = self.rate
        if rate <= 0:
            return True
        found = self._buckets.get(key)
        if found is None:
            return not self.take(key, now=now)
        tokens = found[0] + (now - found[1]) * rate
        if tokens < 1.0:
            return False
        burst = self.burst
        self._buckets[key] = ((burst if tokens > burst else tokens) - 1.0, now)
        if self.spent is not None:
            self.spent[key] = self.spent.get(key, 0) + 1
        return True

    def debit(self, key: str, tokens: int, now: float) -> None:
        """Take `tokens` other processes spent for `key` from its bucket (down to -burst: a
        client over the rate waits at most two bursts' time)."""
        if self.rate <= 0:
            return
        held, at = self._buckets.get(key, (self.burst, now))
        held = min(self.burst, held + (now - at) * self.rate) - tokens
        self._buckets[key] = (max(held, -self.burst), now)

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        self._buckets = {k: (t, at) for k, (t, at) in self._buckets.items()
                         if t + (now - at) * self.rate < self.burst}
