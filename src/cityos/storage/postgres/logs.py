"""Append-only, hash-chained logs in PostgreSQL (triggers refuse UPDATE, TRUNCATE and DELETE
past the checkpoint). Appends to one log serialise on an advisory lock, so that sequence and
links agree when several processes append at once.
"""

from __future__ import annotations

import asyncpg

from cityos.storage.base import Chain, LogEntry
from cityos.storage.postgres._keys import lock_key


class LogTables:
    """Mixed into `PostgresStore`: needs its `pool`."""

    @property
    def pool(self) -> asyncpg.Pool:
        raise NotImplementedError

    async def append_log(self, log: str, bodies: list[bytes], chain: Chain,
                         keys: list[list[str]] | None = None) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(f"log\0{log}"))
            row = await conn.fetchrow("SELECT seq, hash FROM logs WHERE log = $1 "
                                      "ORDER BY seq DESC LIMIT 1", log)
            if row is None:  # empty, or every entry pruned: go on from the checkpoint
                row = await conn.fetchrow("SELECT seq, hash FROM log_checkpoints WHERE log = $1",
                                          log)
            seq, previous = (0, None) if row is None else (row[0], row[1])
            rows = []
            for body in bodies:
                seq += 1
                link = chain(previous, body)
                rows.append((log, seq, body, previous, link))
                previous = link
            await conn.executemany("INSERT INTO logs (log, seq, body, prev, hash) "
                                   "VALUES ($1, $2, $3, $4, $5)", rows)
            if keys:
                await conn.executemany(
                    "INSERT INTO log_keys (log, key, seq) VALUES ($1, $2, $3) "
                    "ON CONFLICT DO NOTHING",
                    [(log, key, r[1]) for r, names in zip(rows, keys, strict=True)
                     for key in names])
            return int(seq)

    async def read_log_hashes(self, log: str, after: int = 0,
                              limit: int = 1000) -> list[tuple[int, str]]:
        rows = await self.pool.fetch("SELECT seq, hash FROM logs WHERE log = $1 AND seq > $2 "
                                     "ORDER BY seq LIMIT $3", log, after, limit)
        return [(r[0], r[1]) for r in rows]

    async def find_log_keys(self, log: str, key: str, limit: int = 10) -> list[int]:
        rows = await self.pool.fetch("SELECT seq FROM log_keys WHERE log = $1 AND key = $2 "
                                     "ORDER BY seq DESC LIMIT $3", log, key, limit)
        return [r[0] for r in rows]

    async def read_log(self, log: str, after: int = 0, limit: int = 1000) -> list[LogEntry]:
        rows = await self.pool.fetch("SELECT seq, body, prev, hash FROM logs WHERE log = $1 "
                                     "AND seq > $2 ORDER BY seq LIMIT $3", log, after, limit)
        return [LogEntry(r[0], bytes(r[1]), r[2], r[3]) for r in rows]

    async def prune_log(self, log: str, through: int, note: bytes) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_key(f"log\0{log}"))
            found = await conn.fetchval("SELECT hash FROM logs WHERE log = $1 AND seq = $2",
                                        log, through)
            if found is None:
                return 0
            await conn.execute(
                "INSERT INTO log_checkpoints (log, seq, hash, body) VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (log) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
                "body = excluded.body", log, through, found, note)
            await conn.execute("DELETE FROM log_keys WHERE log = $1 AND seq <= $2", log, through)
            status = await conn.execute("DELETE FROM logs WHERE log = $1 AND seq <= $2",
                                        log, through)
            return int(status.split()[-1])

    async def log_checkpoint(self, log: str) -> LogEntry | None:
        row = await self.pool.fetchrow("SELECT seq, body, hash FROM log_checkpoints "
                                       "WHERE log = $1", log)
        return None if row is None else LogEntry(row[0], bytes(row[1]), None, row[2])
