"""Counts that several processes on one database share (issue 10 item 2): rate limits and the
security monitor count locally and exchange what they counted about twice a second.

Each process keeps one running total per key in `shared_counts`; an exchange adds this
process's new counts and reads the totals other processes changed lately, and hands back the
growth since the previous exchange. No request waits on it: callers exchange in the background.
"""

from __future__ import annotations

import datetime
import secrets
import time

import asyncpg

_LATE = datetime.timedelta(seconds=2)  # a row changed by a transaction still open at a read
_FORGET_SECONDS = 60.0  # rows (and what this process remembers of them) idle this long go


class SharedCounts:
    """Mixed into `PostgresStore`: needs its `pool`."""

    @property
    def pool(self) -> asyncpg.Pool:
        raise NotImplementedError

    _process = ""
    _seen: dict[tuple[str, str], tuple[int, float]]  # (key, process) -> (total, when read)
    _since: datetime.datetime | None = None
    _pruned = 0.0

    async def exchange_counts(self, counts: dict[str, int]) -> dict[str, int]:
        """Add this process's `counts` (events per key since its last exchange) to the shared
        totals; return what the other processes counted per key since this one last asked."""
        if not self._process:
            self._process, self._seen = secrets.token_hex(8), {}
        keys = list(counts)
        async with self.pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "WITH mine AS (INSERT INTO shared_counts (key, process, total, at) "
                "  SELECT k, $1, n, now() FROM unnest($2::text[], $3::bigint[]) AS u(k, n) "
                "  ON CONFLICT (key, process) DO UPDATE "
                "  SET total = shared_counts.total + excluded.total, at = excluded.at) "
                "SELECT now(), s.key, s.process, s.total FROM (SELECT 1) AS one "
                "LEFT JOIN shared_counts s ON s.process <> $1 AND s.at >= $4",
                self._process, keys, [counts[k] for k in keys],
                self._since or datetime.datetime.min.replace(tzinfo=datetime.UTC))
        self._since = rows[0][0] - _LATE
        now = time.monotonic()
        grown: dict[str, int] = {}
        for _, key, process, total in rows:
            if key is None:
                continue
            before = self._seen.get((key, process), (0, now))[0]
            growth = total - before if total >= before else total  # pruned and begun again
            if growth:
                grown[key] = grown.get(key, 0) + growth
            self._seen[(key, process)] = (total, now)
        if now - self._pruned > _FORGET_SECONDS / 2:
            await self._prune(now)
        return grown

    async def _prune(self, now: float) -> None:
        self._pruned = now
        self._seen = {k: v for k, v in self._seen.items() if now - v[1] < _FORGET_SECONDS}
        await self.pool.execute("DELETE FROM shared_counts WHERE at < now() - $1::interval",
                                datetime.timedelta(seconds=_FORGET_SECONDS))
