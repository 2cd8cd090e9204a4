"""Per-client rate limits: a token bucket per key (client, staff member or IP address).

Super-city API security (MIC guideline データ連携⑥: load protection); answers carry 429 +
`Retry-After` (RFC 6585 §4, RFC 9110 §10.2.3). Per process: N processes allow N × the rate.
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
        return True

    def _forget_full(self, now: float) -> None:
        """Drop buckets that have refilled: forgetting them changes nothing."""
        self._buckets = {k: (t, at) for k, (t, at) in self._buckets.items()
                         if t + (now - at) * self.rate < self.burst}
