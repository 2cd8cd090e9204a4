"""Append-only, hash-chained logs in SQLite (the `logs` table; triggers refuse UPDATE/DELETE).

The `Store` methods `append_log`, `read_log`, `prune_log` and `log_checkpoint`; the chain itself is computed by the caller's
`Chain` function inside the writer's transaction, so sequence and links always agree.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from cityos.storage.base import Chain, LogEntry

if TYPE_CHECKING:
    from cityos.storage.sqlite.writer import Writer


class LogTables:
    """Mixed into `SqliteStore`: needs its `_writer` and read connection `_r`."""

    _writer: Writer

    @property
    def _r(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def append_log(self, log: str, bodies: list[bytes], chain: Chain,
                         keys: list[list[str]] | None = None) -> int:
        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT seq, hash FROM logs WHERE log = ? ORDER BY seq DESC "
                               "LIMIT 1", (log,)).fetchone()
            if row is None:  # empty, or every entry pruned: go on from the checkpoint
                row = conn.execute("SELECT seq, hash FROM log_checkpoints WHERE log = ?",
                                   (log,)).fetchone()
            seq, previous = (0, None) if row is None else (row[0], row[1])
            rows = []
            for body in bodies:
                seq += 1
                link = chain(previous, body)
                rows.append((log, seq, body, previous, link))
                previous = link
            conn.executemany("INSERT INTO logs (log, seq, body, prev, hash) VALUES (?, ?, ?, ?, ?)",
                             rows)
            if keys:
                conn.executemany("INSERT OR IGNORE INTO log_keys (log, key, seq) VALUES (?, ?, ?)",
                                 [(log, key, row[1]) for row, names in zip(rows, keys, strict=True)
                                  for key in names])
            return int(seq)

        return await self._writer.submit(job)  # type: ignore[no-any-return]

    async def read_log_hashes(self, log: str, after: int = 0,
                              limit: int = 1000) -> list[tuple[int, str]]:
        return self._r.execute("SELECT seq, hash FROM logs WHERE log = ? AND seq > ? "
                               "ORDER BY seq LIMIT ?", (log, after, limit)).fetchall()

    async def find_log_keys(self, log: str, key: str, limit: int = 10) -> list[int]:
        rows = self._r.execute("SELECT seq FROM log_keys WHERE log = ? AND key = ? "
                               "ORDER BY seq DESC LIMIT ?", (log, key, limit))
        return [seq for (seq,) in rows]

    async def read_log(self, log: str, after: int = 0, limit: int = 1000) -> list[LogEntry]:
        rows = self._r.execute("SELECT seq, body, prev, hash FROM logs WHERE log = ? AND seq > ? "
                               "ORDER BY seq LIMIT ?", (log, after, limit))
        # a body edited by hand in SQL may come back as TEXT: verification must still see it
        return [LogEntry(seq, body if isinstance(body, bytes) else str(body).encode(), prev, hash_)
                for seq, body, prev, hash_ in rows]

    async def prune_log(self, log: str, through: int, note: bytes) -> int:
        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT hash FROM logs WHERE log = ? AND seq = ?",
                               (log, through)).fetchone()
            if row is None:
                return 0
            conn.execute("INSERT INTO log_checkpoints (log, seq, hash, body) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (log) DO UPDATE SET seq = excluded.seq, "
                         "hash = excluded.hash, body = excluded.body",
                         (log, through, row[0], note))
            conn.execute("DELETE FROM log_keys WHERE log = ? AND seq <= ?", (log, through))
            return conn.execute("DELETE FROM logs WHERE log = ? AND seq <= ?",
                                (log, through)).rowcount

        return await self._writer.submit(job)  # type: ignore[no-any-return]

    async def log_checkpoint(self, log: str) -> LogEntry | None:
        row = self._r.execute("SELECT seq, body, hash FROM log_checkpoints WHERE log = ?",
                              (log,)).fetchone()
        return None if row is None else LogEntry(row[0], bytes(row[1]), None, row[2])
