"""`cityos migrate-store`: copy a cityos SQLite database into an empty PostgreSQL one, then
verify it (row counts and a checksum per table, read back from PostgreSQL).

Rows are copied as stored (entity rids, history instance ids, change-log sequences, log
chains, sealed bodies) with COPY, in one PostgreSQL transaction: a failed run leaves the
target empty. The SQLite file is only read, inside one read transaction (a consistent
snapshot even while a server still writes to it).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from cityos.storage.postgres._mutate import geo_boxes
from cityos.storage.sqlite._personal import SEALED

CHUNK = 5000


@dataclass(frozen=True)
class Table:
    """How one table is copied: the SQLite query (rows in a stable order), the PostgreSQL
    columns, the same rows read back in the same order, and a row's canonical form for the
    checksum (JSON documents compared as parsed values: JSONB keeps no key order)."""

    name: str
    source: str
    columns: tuple[str, ...]
    target: str

    def canonical(self, row: tuple[Any, ...]) -> bytes:
        return orjson.dumps([_canonical(v) for v in row], option=orjson.OPT_SORT_KEYS)


def _canonical(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return bytes(value).hex()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _doc(value: Any) -> Any:
    """An entity body as the checksum sees it: parsed JSON, or the sealed bytes."""
    if value is None:
        return None
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return raw.hex() if raw[:1] == bytes((SEALED,)) else orjson.loads(raw)


TABLES = [
    Table("tenants", "SELECT name, created_at FROM tenants ORDER BY name",
          ("name", "created_at"), "SELECT name, created_at FROM tenants ORDER BY name"),
    Table("entities", "SELECT rid, tenant, id, doc, subject, category, owner FROM entities "
          "ORDER BY rid", ("rid", "tenant", "id", "doc", "sealed", "subject", "category", "owner"),
          "SELECT rid, tenant, id, coalesce(doc::text, sealed::text), subject, category, owner "
          "FROM entities ORDER BY rid"),
    Table("entity_types", "SELECT tenant, type, rid FROM entity_types ORDER BY rid, type",
          ("tenant", "type", "rid"),
          "SELECT tenant, type, rid FROM entity_types ORDER BY rid, type"),
    Table("kv", "SELECT space, key, value FROM kv ORDER BY space, key", ("space", "key", "value"),
          "SELECT space, key, value FROM kv ORDER BY space, key"),
    Table("logs", "SELECT log, seq, body, prev, hash FROM logs ORDER BY log, seq",
          ("log", "seq", "body", "prev", "hash"),
          "SELECT log, seq, body, prev, hash FROM logs ORDER BY log, seq"),
    Table("log_checkpoints", "SELECT log, seq, hash, body FROM log_checkpoints ORDER BY log",
          ("log", "seq", "hash", "body"),
          "SELECT log, seq, hash, body FROM log_checkpoints ORDER BY log"),
    Table("log_keys", "SELECT log, key, seq FROM log_keys ORDER BY log, key, seq",
          ("log", "key", "seq"), "SELECT log, key, seq FROM log_keys ORDER BY log, key, seq"),
    Table("attr_instances",
          "SELECT iid, tenant, entity_id, attr, dataset_id, instance_id, observed_at, created_at, "
          "modified_at, kind, num, value_json, doc FROM attr_instances ORDER BY iid",
          ("iid", "tenant", "entity_id", "attr", "dataset_id", "instance_id", "observed_at",
           "created_at", "modified_at", "kind", "num", "value_json", "doc"),
          "SELECT iid, tenant, entity_id, attr, dataset_id, instance_id, observed_at, "
          "created_at, modified_at, kind, num, value_json, doc FROM attr_instances ORDER BY iid"),
    Table("changes", "SELECT seq, tenant, entity_id, types, attrs, op, at, prev FROM changes "
          "ORDER BY seq", ("seq", "tenant", "entity_id", "types", "attrs", "op", "at", "prev"),
          "SELECT seq, tenant, entity_id, types, attrs, op, at, prev FROM changes ORDER BY seq"),
    Table("deliveries", "SELECT tenant, subscription, seq, state FROM deliveries "
          "ORDER BY tenant, subscription", ("tenant", "subscription", "seq", "state"),
          "SELECT tenant, subscription, seq, state FROM deliveries ORDER BY tenant, subscription"),
    Table("personal_entities", "SELECT tenant, entity_id, subject, category, owner FROM "
          "personal_entities ORDER BY tenant, entity_id",
          ("tenant", "entity_id", "subject", "category", "owner"),
          "SELECT tenant, entity_id, subject, category, owner FROM personal_entities "
          "ORDER BY tenant, entity_id"),
    Table("personal_types", "SELECT tenant, type FROM personal_types ORDER BY tenant, type",
          ("tenant", "type"), "SELECT tenant, type FROM personal_types ORDER BY tenant, type"),
    Table("grants", "SELECT tenant, recipient, subject, category, purpose, until FROM grants "
          "ORDER BY tenant, recipient, subject, category, purpose",
          ("tenant", "recipient", "subject", "category", "purpose", "until"),
          "SELECT tenant, recipient, subject, category, purpose, until FROM grants "
          "ORDER BY tenant, recipient, subject, category, purpose"),
    Table("history_marks", "SELECT tenant, entity_id, since FROM history_marks "
          "ORDER BY tenant, entity_id", ("tenant", "entity_id", "since"),
          "SELECT tenant, entity_id, since FROM history_marks ORDER BY tenant, entity_id"),
]
# sort orders in Python where SQLite and PostgreSQL ("C" collation) agree: bytewise
_IDENTITY = {"entities": "rid", "attr_instances": "iid"}

Progress = Callable[[str, int, int], None]  # table, rows done, rows in all


class MigrationError(Exception):
    """The target is not empty, or what was copied does not verify."""


def _source_row(table: Table, row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A SQLite row as PostgreSQL takes it (an entity body goes to doc or sealed)."""
    if table.name == "entities":
        rid, tenant, entity_id, doc, subject, category, owner = row
        raw = doc.encode() if isinstance(doc, str) else bytes(doc)
        if raw[:1] == bytes((SEALED,)) or b"\\u0000" in raw:  # not for JSONB: kept as bytes
            return rid, tenant, entity_id, None, raw, subject, category, owner
        return rid, tenant, entity_id, raw.decode(), None, subject, category, owner
    return tuple(v.encode() if isinstance(v, str) and _is_blob(table, i) else v
                 for i, v in enumerate(row))


_BLOBS = {"kv": {2}, "logs": {2}, "log_checkpoints": {3}, "attr_instances": {11, 12},
          "changes": {3, 4, 7}, "deliveries": {3}}


def _is_blob(table: Table, index: int) -> bool:
    return index in _BLOBS.get(table.name, ())


def _checksum_row(table: Table, row: tuple[Any, ...], *, target: bool) -> bytes:
    values = list(row)
    if table.name == "entities":
        values[3] = _doc(values[3]) if not target else _target_doc(values[3])
    for i in _BLOBS.get(table.name, ()):
        if isinstance(values[i], str):
            values[i] = values[i].encode()
    return table.canonical(tuple(values))


def _target_doc(text: str | None) -> Any:
    if text is None:
        return None
    if text.startswith("\\x"):  # bytea::text of a body kept as bytes
        return _doc(bytes.fromhex(text[2:]))
    return orjson.loads(text)


def _chunks(cursor: sqlite3.Cursor) -> Iterator[list[tuple[Any, ...]]]:
    while rows := cursor.fetchmany(CHUNK):
        yield rows


async def migrate(source: str, target: str, progress: Progress | None = None) -> dict[str, int]:
    """Copy the SQLite file `source` into the PostgreSQL database `target` (schema created,
    no data yet) and verify; returns the rows copied per table."""
    from cityos.storage.postgres.engine import PostgresStore
    from cityos.storage.sqlite.engine import SqliteStore

    store = SqliteStore(source)  # brings the file to this version's schema, then only reads
    await store.open()
    await store.close()
    pg = PostgresStore(target)
    await pg.open()
    await pg.close()
    lite = sqlite3.connect(f"file:{source}?mode=ro", uri=True, isolation_level=None)
    conn = await asyncpg.connect(target)
    try:
        lite.execute("BEGIN")  # one snapshot for the copy and its verification
        for name in ("entities", "logs", "attr_instances", "changes", "kv"):
            if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {name})"):
                raise MigrationError(f"the target database is not empty ({name} has rows): "
                                     "migrate into a new database")
        totals = {t.name: lite.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0]
                  for t in TABLES}
        async with conn.transaction():
            for table in TABLES:
                done = 0
                for rows in _chunks(lite.execute(table.source)):
                    await conn.copy_records_to_table(
                        table.name, records=[_source_row(table, r) for r in rows],
                        columns=list(table.columns))
                    done += len(rows)
                    if progress is not None:
                        progress(table.name, done, totals[table.name])
                if progress is not None and not done:
                    progress(table.name, 0, 0)
            await _derive(conn, lite)
            await _verify(conn, lite, totals)
        return totals
    finally:
        lite.close()
        await conn.close()


async def _derive(conn: asyncpg.Connection, lite: sqlite3.Connection) -> None:
    """What PostgreSQL keeps its own way: the geo boxes (from the documents), the identity
    counters, the change log's high-water mark (numbered rows: none is waiting)."""
    cols: list[list[Any]] = [[], [], [], [], [], []]  # rid, attr, min x, min y, max x, max y
    async for rid, doc in _entity_docs(conn):
        boxes = geo_boxes(orjson.loads(doc))
        cols[0] += [rid] * len(boxes[0])
        for col, values in zip(cols[1:], boxes, strict=True):
            col += values
        if len(cols[0]) >= CHUNK:
            await _insert_boxes(conn, cols)
            cols = [[], [], [], [], [], []]
    await _insert_boxes(conn, cols)
    for table, column in _IDENTITY.items():
        await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                           f"greatest((SELECT max({column}) FROM {table}), 1))")
    row = lite.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    await conn.execute("UPDATE change_sequence SET seq = $1", row[0] if row else 0)


async def _insert_boxes(conn: asyncpg.Connection, cols: list[list[Any]]) -> None:
    if cols[0]:
        await conn.execute(
            "INSERT INTO geo_boxes (rid, attr, box) SELECT g.rid, g.attr, "
            "box(point(g.x1, g.y1), point(g.x2, g.y2)) FROM unnest($1::bigint[], $2::text[], "
            "$3::float8[], $4::float8[], $5::float8[], $6::float8[]) AS g (rid, attr, x1, y1, x2, y2)",
            *cols)


async def _entity_docs(conn: asyncpg.Connection) -> Any:
    async for row in conn.cursor("SELECT rid, doc FROM entities WHERE doc IS NOT NULL AND "
                                 "subject IS NULL ORDER BY rid", prefetch=CHUNK):
        yield row[0], row[1]


async def _verify(conn: asyncpg.Connection, lite: sqlite3.Connection,
                  totals: dict[str, int]) -> None:
    for table in TABLES:
        copied = await conn.fetchval(f"SELECT count(*) FROM {table.name}")
        if copied != totals[table.name]:
            raise MigrationError(f"{table.name}: {totals[table.name]} rows in SQLite, "
                                 f"{copied} in PostgreSQL")
        source, target = hashlib.sha256(), hashlib.sha256()
        for rows in _chunks(lite.execute(table.source)):
            for r in rows:
                source.update(_checksum_row(table, r, target=False))
        async for r in conn.cursor(table.target, prefetch=CHUNK):
            target.update(_checksum_row(table, tuple(r), target=True))
        if source.digest() != target.digest():
            raise MigrationError(f"{table.name}: the copy's checksum differs from the source's")
