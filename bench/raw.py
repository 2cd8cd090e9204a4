"""The raw cost in SQLite: the same rows upserted (and read) directly with sqlite3.

`python -m bench.raw SOURCE_DB WORK_DB BATCH SECONDS` copies the server's database (same
schema, same 100,000 documents), then upserts those documents BATCH per transaction in
the durable settings of `cityos serve` (WAL, synchronous=FULL), then reads them back by id.
Prints one BENCH_JSON line. Run it pinned to the server's core.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time

import orjson


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] if values else 0.0


def main(argv: list[str]) -> None:
    source, work, batch, seconds = argv[0], argv[1], int(argv[2]), float(argv[3])
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    conn = sqlite3.connect(work, isolation_level=None)
    src.backup(conn)
    src.close()
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    rows = conn.execute("SELECT tenant, id, doc FROM entities ORDER BY rid").fetchall()
    # upsert: the same documents, batch per durable transaction, until all or `seconds`
    sql = ("INSERT INTO entities (tenant, id, doc) VALUES (?, ?, ?) "
           "ON CONFLICT (tenant, id) DO UPDATE SET doc = excluded.doc")
    txn_times: list[float] = []
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    for first in range(0, len(rows), batch):
        t0 = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(sql, rows[first:first + batch])
        conn.execute("COMMIT")
        txn_times.append(time.perf_counter() - t0)
        done += len(rows[first:first + batch])
        if time.perf_counter() > deadline:
            break
    upsert_s = time.perf_counter() - start
    # point reads of the same rows, as the GET handler's store call does (row + JSON decode)
    reader = sqlite3.connect(f"file:{work}?mode=ro", uri=True, isolation_level=None)
    ids = [(r[0], r[1]) for r in rows]
    reads = 0
    start = time.perf_counter()
    deadline = start + min(seconds, 3.0)
    while time.perf_counter() < deadline:
        for tenant, entity_id in ids[reads % len(ids):][:1000]:
            doc = reader.execute("SELECT doc FROM entities WHERE tenant = ? AND id = ?",
                                 (tenant, entity_id)).fetchone()[0]
            orjson.loads(doc)
        reads += 1000
    read_s = time.perf_counter() - start
    print("BENCH_JSON " + json.dumps({
        "rows": len(rows), "batch": batch, "upserted": done, "upsert_seconds": upsert_s,
        "upsert_rate": done / upsert_s, "txn_p50_ms": percentile(txn_times, 50) * 1000,
        "txn_p99_ms": percentile(txn_times, 99) * 1000, "reads": reads,
        "read_rate": reads / read_s}))


if __name__ == "__main__":
    main(sys.argv[1:])
