"""The SQLite engine of `Store`: WAL, `synchronous=FULL`, one writer thread, inline readers.

Point reads run on the event loop's own read-only connection (microseconds; WAL readers never
wait for the writer); writes go through `Writer` with group commit.
"""

from __future__ import annotations

import re
import sqlite3
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson

from cityos.storage.base import (
    DELETE,
    KEEP,
    Classifier,
    Entity,
    EntityQuery,
    Mutation,
    NotOwner,
    QueryResult,
    Reader,
    SealedUnreadable,
    Sealer,
    TypeInfo,
    granted_types,
    may_change,
    may_read_types,
    may_write,
    not_granted,
)
from cityos.storage.sqlite import _geo, _grants, _history, _personal, _select, _values, changes
from cityos.storage.sqlite._personal import Personal
from cityos.storage.sqlite.changes import ChangeTables
from cityos.storage.sqlite.logs import LogTables
from cityos.storage.sqlite.schema import migrate
from cityos.storage.sqlite.temporal import TemporalTables
from cityos.storage.sqlite.writer import Alone, Writer

_loads = orjson.loads
_MMAP_BYTES = 256 << 20
# The writer's page cache (KiB; SQLite's default is 2 MB). A write touches pages across the
# entity, history and value B-trees; pages written since the last checkpoint live in the WAL,
# which mmap does not cover, so a cache miss there is a pread: 64 MB cut the writer's system
# time per PATCH by about a sixth on the bench's 500 MB database.
_WRITER_CACHE_KIB = 64 << 10
# Checkpoint the WAL after 10,000 pages (40 MB) instead of SQLite's 1,000: a page dirtied by
# several commits in between is copied back once, and checkpoints run ten times less often.
# In process, PATCH over 100,000 entities: CPU per request −7…9% in interleaved runs; a
# checkpoint then copies more at once (the bench's p99 shows it).
_WAL_CHECKPOINT_PAGES = 10_000
_DEFAULT_SWITCH = 0.005  # CPython's default GIL switch interval
_WRITER_SWITCH = 0.001
_dumps = orjson.dumps


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str, value: str) -> bool:
    try:
        return _compiled(pattern).fullmatch(value) is not None
    except re.error:
        return False


class SqliteStore(LogTables, TemporalTables, ChangeTables):
    """A cityos database in one SQLite file."""

    def __init__(self, path: str, synchronous: str = "FULL", read_connections: int = 4,
                 group_commit_max: int = 512, keep_history_on_delete: bool = True) -> None:
        self.path = Path(path)
        self.keep_history_on_delete = keep_history_on_delete  # entity deletion keeps its history
        self.synchronous = synchronous.upper()
        if self.synchronous not in {"FULL", "NORMAL", "EXTRA", "OFF"}:
            raise ValueError(f"sqlite synchronous must be FULL or NORMAL, not {synchronous!r}")
        self._writer = Writer(self._connect_writer, max_batch=group_commit_max)
        self._reader: sqlite3.Connection | None = None
        self._read_lock = threading.Lock()
        self._switch_set = False
        self._personal = Personal()
        self._personal_seen: set[tuple[str, tuple[str, ...] | None]] = set()

    # life cycle ---------------------------------------------------------------------------
    def _connect_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
        conn.execute(f"PRAGMA cache_size=-{_WRITER_CACHE_KIB}")
        conn.execute(f"PRAGMA wal_autocheckpoint={_WAL_CHECKPOINT_PAGES}")
        migrate(conn)
        return conn

    def _connect_reader(self) -> sqlite3.Connection:
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False, cached_statements=256)
        conn.execute("PRAGMA busy_timeout=10000")
        conn.execute("PRAGMA query_only=ON")
        conn.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")  # point reads without a read() each page
        conn.create_function("regexp", 2, _regexp, deterministic=True)
        return conn

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if sys.getswitchinterval() == _DEFAULT_SWITCH:
            # The writer thread gives up the GIL at every SQLite call (several per job); with
            # the default 5 ms interval it then queues behind a busy event loop for up to 5 ms
            # each time. 1 ms measured +25% batch upserts, lower PATCH tail (docs/performance.md).
            sys.setswitchinterval(_WRITER_SWITCH)
            self._switch_set = True
        self._writer.start()
        self._reader = self._connect_reader()

    async def close(self) -> None:
        self._writer.stop()
        if self._switch_set:
            sys.setswitchinterval(_DEFAULT_SWITCH)
            self._switch_set = False
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @property
    def _r(self) -> sqlite3.Connection:
        if self._reader is None:
            raise RuntimeError("store is not open")
        return self._reader

    # personal data (issue 6) ----------------------------------------------------------------
    def set_classifier(self, classifier: Classifier | None) -> None:
        self._personal.classifier = classifier

    def set_sealer(self, sealer: Sealer | None) -> None:
        self._personal.sealer = sealer

    async def put_grant(self, tenant: str, subject: str, recipient: str, category: str,
                        purpose: str, until: float | None) -> None:
        await self._writer.submit(lambda conn: conn.execute(
            "INSERT INTO grants (tenant, recipient, subject, category, purpose, until) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, recipient, subject, category, "
            "purpose) DO UPDATE SET until = excluded.until",
            (tenant, recipient, subject, category, purpose, until)))

    async def drop_grant(self, tenant: str, subject: str, recipient: str, category: str,
                         purpose: str) -> None:
        await self._writer.submit(lambda conn: conn.execute(
            "DELETE FROM grants WHERE tenant = ? AND recipient = ? AND subject = ? AND "
            "category = ? AND purpose = ?", (tenant, recipient, subject, category, purpose)))

    async def erase_subject(self, tenant: str, subject: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            rids, count = _personal.erase(conn, tenant, subject)
            for first in range(0, len(rids), 500):
                chunk = [(rid,) for rid in rids[first:first + 500]]
                # the entity first: its trigger takes it out of personal_counts by its types
                conn.executemany("DELETE FROM entities WHERE rid = ?", chunk)
                conn.executemany("DELETE FROM entity_types WHERE rid = ?", chunk)
            return count

        return await self._writer.submit(job)  # type: ignore[no-any-return]

    async def reclassify(self) -> int:
        personal = self._personal
        changed, after = 0, 0
        while True:  # small transactions: writes go on meanwhile
            def job(conn: sqlite3.Connection, after: int = after) -> tuple[int | None, int]:
                return _personal.reclassify(conn, personal, after, 500)

            last, n = await self._writer.submit(job)
            changed += n
            if last is None:
                break
            after = last
        if changed:
            self._personal_seen.clear()
        return changed

    async def withheld(self, tenant: str, entity_ids: list[str],
                       reader: Reader | None) -> set[str]:
        return (_personal.withheld(self._r, tenant, entity_ids, reader)
                | _grants.ungranted(self._r, tenant, entity_ids, reader))

    async def screen(self, tenant: str, entities: list[Entity],
                     reader: Reader | None) -> list[Entity]:
        return [e for e in _personal.screen(self._r, self._personal, tenant, entities, reader)
                if may_read_types(reader, e.get("type", ()))]

    # entities -----------------------------------------------------------------------------
    async def get_entity(self, tenant: str, entity_id: str,
                         reader: Reader | None = None) -> Entity | None:
        who = _grants.with_types(_personal.reader_clause(reader, tenant, one_row=True), reader)
        if who is None:
            row = self._r.execute("SELECT doc FROM entities WHERE tenant = ? AND id = ?",
                                  (tenant, entity_id)).fetchone()
        else:  # one statement; the grant test runs only for a personal row
            row = self._r.execute(f"SELECT e.doc FROM entities e WHERE e.tenant = ? AND "
                                  f"e.id = ? AND {who[0]}", (tenant, entity_id, *who[1])
                                  ).fetchone()
        return None if row is None else self._personal.loads(tenant, row[0])

    async def tenant_exists(self, tenant: str) -> bool:
        if tenant == "":
            return True
        row = self._r.execute("SELECT 1 FROM tenants WHERE name = ?", (tenant,)).fetchone()
        return row is not None

    async def mutate(self, tenant: str, items: list[tuple[str, Mutation]],
                     writer: str = "") -> list[Any]:
        def job(conn: sqlite3.Connection) -> list[Any]:
            log: list[tuple[Any, ...]] = []  # change-log rows, one statement for the job
            if len(items) == 1:
                [(entity_id, fn)] = items
                out = [_apply_mutation(conn, tenant, entity_id, fn, keep=keep, log=log,
                                       personal=personal, writer=writer)]
            else:
                rows = _prefetch(conn, tenant, list(dict.fromkeys(i for i, _ in items)))
                out = [_apply_mutation(conn, tenant, entity_id, fn, rows, keep=keep, log=log,
                                       personal=personal, writer=writer)
                       for entity_id, fn in items]
            if log:
                conn.executemany(changes.INSERT, log)
            return out

        keep = self.keep_history_on_delete
        personal = self._personal

        return await self._writer.submit(job)  # type: ignore[no-any-return]

    async def query_entities(self, tenant: str, query: EntityQuery) -> QueryResult:
        conn = self._r
        types = granted_types(query.reader, query.types)
        if types is not query.types:  # a reader with type grants (issue 18)
            if not types:
                return QueryResult([], 0 if query.count else None)
            query = replace(query, types=types)
        key = (tenant, None if query.types is None else tuple(query.types))
        if key not in self._personal_seen:
            # Queries over types that never held a personal row keep their plans: run as
            # before, then ask. personal_types only grows, in the transaction of the row that
            # makes it grow, so "none" read after the rows were read means none was among them.
            try:
                result: QueryResult | None = self._query(conn, tenant, query, False)
            except (orjson.JSONDecodeError, sqlite3.OperationalError):
                # a sealed body (orjson, or SQLite's JSON prefilter): personal rows are there
                if not _personal.has_personal(conn, tenant, query.types):
                    raise
                result = None
            if result is not None and not _personal.has_personal(conn, tenant, query.types):
                return result
            if len(self._personal_seen) > 4096:
                self._personal_seen.clear()
            self._personal_seen.add(key)  # from now on filtered at once
        return self._query(conn, tenant, query, True)

    def _query(self, conn: sqlite3.Connection, tenant: str, query: EntityQuery,
               personal: bool) -> QueryResult:
        who = _grants.with_types(_personal.reader_clause(query.reader, tenant)
                                 if personal else None, query.reader)
        decode = self._personal.decoder(tenant) if personal else _loads
        # sealed bodies (only a sealer opens them) must pass the JSON prefilter unread
        sealed = personal and self._personal.sealer is not None
        post = query.predicate is not None or query.attrs_any is not None
        if not post:
            plan = _select.plan(tenant, query, who=who, personal=personal, sealed=sealed)
            total = plan.total(conn) if query.count else None
            rows = plan.page(conn, query.limit, query.offset)
            if not personal:
                return QueryResult([_loads(r[1]) for r in rows], total)
            found = [decode(r[1]) for r in rows]
            return QueryResult([e for e in found if e is not None], total)
        matched = 0
        out: list[Entity] = []
        predicate = query.predicate
        wanted = set(query.attrs_any) if query.attrs_any is not None else None
        stop_at = query.offset + query.limit
        for _rid, doc in _select.filtered_rows(conn, tenant, query, who=who, personal=personal,
                                               sealed=sealed):
            entity = decode(doc)
            if entity is None:
                continue
            if wanted is not None and wanted.isdisjoint(entity.get("attrs", ())):
                continue
            if predicate is not None and not predicate(entity):
                continue
            if query.offset <= matched < stop_at:
                out.append(entity)
            matched += 1
            if matched >= stop_at and not query.count:
                break
        return QueryResult(out, matched if query.count else None)

    async def purge_entities(self, tenant: str, query: EntityQuery, writer: str = "") -> int:
        everything = EntityQuery(**{**query.__dict__, "limit": 1 << 62, "offset": 0, "count": False})
        found = await self.query_entities(tenant, everything)
        ids = [e["id"] for e in found.entities]
        if not ids:
            return 0
        results = await self.mutate(tenant, [(i, lambda cur: (DELETE, cur is not None))
                                             for i in ids], writer=writer)
        return sum(1 for r in results if r is True)

    async def entity_types(self, tenant: str) -> list[TypeInfo]:
        infos: dict[str, TypeInfo] = {}
        decode = self._personal.decoder(tenant)
        for (doc,) in self._r.execute("SELECT doc FROM entities WHERE tenant = ? ORDER BY rid",
                                      (tenant,)):
            entity = decode(doc)
            if entity is None:
                continue
            for type_iri in entity["type"]:
                info = infos.setdefault(type_iri, TypeInfo(type_iri))
                info.count += 1
                for attr, instances in entity.get("attrs", {}).items():
                    kinds = info.attrs.setdefault(attr, set())
                    info.attr_counts[attr] = info.attr_counts.get(attr, 0) + len(instances)
                    for inst in instances:
                        kinds.add(inst.get("type", "Property"))
        return list(infos.values())

    # key/value ----------------------------------------------------------------------------
    async def kv_get(self, space: str, key: str) -> Any | None:
        row = self._r.execute("SELECT value FROM kv WHERE space = ? AND key = ?",
                              (space, key)).fetchone()
        return None if row is None else _loads(row[0])

    async def kv_put(self, space: str, key: str, value: Any) -> None:
        blob = _dumps(value)
        await self._writer.submit(lambda conn: conn.execute(
            "INSERT INTO kv (space, key, value) VALUES (?, ?, ?) "
            "ON CONFLICT (space, key) DO UPDATE SET value = excluded.value", (space, key, blob)))

    async def kv_add(self, space: str, key: str, value: Any) -> Any:
        blob = _dumps(value)

        def job(conn: sqlite3.Connection) -> bytes:
            conn.execute("INSERT INTO kv (space, key, value) VALUES (?, ?, ?) "
                         "ON CONFLICT (space, key) DO NOTHING", (space, key, blob))
            return conn.execute("SELECT value FROM kv WHERE space = ? AND key = ?",
                                (space, key)).fetchone()[0]  # type: ignore[no-any-return]

        return _loads(await self._writer.submit(job))

    async def kv_delete(self, space: str, key: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM kv WHERE space = ? AND key = ?",
                                (space, key)).rowcount > 0

        return await self._writer.submit(job)  # type: ignore[no-any-return]

    async def kv_list(self, space: str) -> list[tuple[str, Any]]:
        rows = self._r.execute("SELECT key, value FROM kv WHERE space = ? ORDER BY key", (space,))
        return [(k, _loads(v)) for k, v in rows]

    async def scrub(self) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("VACUUM")
            for _ in range(100):  # a reader in the middle of a read holds the WAL a moment
                if conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0] == 0:
                    return
                time.sleep(0.05)

        await self._writer.submit(Alone(job))

    # statistics ---------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        return {"commits": self._writer.commits, "jobs": self._writer.jobs}


_Row = tuple[int, bytes, str | None, str | None, str | None]  # rid, stored doc, subject, category, owner
_Rows = dict[str, _Row | None]
_PREFETCH_CHUNK = 500


def _prefetch(conn: sqlite3.Connection, tenant: str, ids: list[str]) -> _Rows:
    """The stored rows of a job's entities in a few statements instead of one per item."""
    rows: _Rows = dict.fromkeys(ids)
    for first in range(0, len(ids), _PREFETCH_CHUNK):
        chunk = ids[first:first + _PREFETCH_CHUNK]
        for entity_id, rid, doc, subject, category, owner in conn.execute(
                f"SELECT id, rid, doc, subject, category, owner FROM entities WHERE tenant = ? "
                f"AND id IN ({','.join('?' * len(chunk))})", [tenant, *chunk]):
            rows[entity_id] = (rid, doc, subject, category, owner)
    return rows


def _apply_mutation(conn: sqlite3.Connection, tenant: str, entity_id: str, fn: Mutation,
                    rows: _Rows | None = None, *, record: bool = True, keep: bool = True,
                    log: list[tuple[Any, ...]] | None = None, personal: Personal | None = None,
                    writer: str = "") -> Any:
    """Run one item's mutation and write its outcome; `rows` (prefetched) is kept current.

    The instances it changes go to the history (`record`); deleting the entity drops its
    history unless `keep`. The change-log row goes to `log` (the caller inserts it), else
    straight to the table. A personal entity (`personal`'s classifier) is stored sealed, with
    its subject, category and owner (`writer`, at creation), and kept out of the geo index."""
    if rows is None:
        row: _Row | None = conn.execute(
            "SELECT rid, doc, subject, category, owner FROM entities WHERE tenant = ? AND id = ?",
            (tenant, entity_id)).fetchone()
    else:
        row = rows[entity_id]
    personal = personal or _NO_PERSONAL
    old_doc = None if row is None else personal.plain(tenant, row[1])
    if row is not None and old_doc is None:  # sealed under an erased key: it is gone
        if not personal.erased(tenant, row[1]):  # or its key is missing: change nothing
            return SealedUnreadable(f"entity {entity_id} is sealed under a key this process "
                                    "cannot open (its resident was not erased)")
        conn.execute("DELETE FROM entities WHERE rid = ?", (row[0],))
        conn.execute("DELETE FROM entity_types WHERE rid = ?", (row[0],))
        row = None
    current = None if old_doc is None else _loads(old_doc)
    was_personal = row is not None and row[2] is not None
    # what the indexes hold, taken before `fn` (which may change `current` in place)
    old_types = None if current is None else list(current["type"])
    old_geo = None if current is None or was_personal else _geo.geo_values(current)
    old_attrs = None if current is None else {  # attribute -> its number of instances
        k: len(v) for k, v in current.get("attrs", {}).items()}
    old_values = None if current is None or was_personal else _values.of(current)
    if not may_write(writer, old_types):  # another's type: refused before it is even read
        return not_granted(writer, entity_id, old_types or [])
    try:
        new, result = fn(current)
    except Exception as exc:  # the caller's verdict on this item (e.g. BadRequestData)
        return exc
    if new is KEEP:
        return result
    if new is not DELETE and not may_write(writer, new["type"]):  # e.g. an aliased type
        return not_granted(writer, entity_id, new["type"])
    # after the mutation's own verdict (e.g. AlreadyExists), before anything is written
    if was_personal and row is not None and not may_change(writer, row[4]):
        return NotOwner(f"entity {entity_id} holds a resident's data that {writer} did not "
                        "write / 他社が書いた個人データは変更できません")
    if new is DELETE:
        if row is not None:
            rid = row[0]
            conn.execute("DELETE FROM entities WHERE rid = ?", (rid,))
            conn.execute("DELETE FROM entity_types WHERE rid = ?", (rid,))
            _geo.unindex_first(conn, rid, len(old_geo or ()))
            if rows is not None:
                rows[entity_id] = None
            change = changes.entry(tenant, entity_id, old_types, old_attrs, None, old_doc)
            if was_personal:
                change = _sealed_change(personal, tenant, row[2] or "", change)
            _log_change(conn, log, change)
        if not keep:
            _history.forget(conn, tenant, entity_id)
        return result
    if personal.classifier is not None:
        found = personal.classify(tenant, new)
    else:  # without a classifier a row keeps what it was
        found = (row[2], row[3] or "") if row is not None and row[2] is not None else None
    doc = _dumps(new)
    stored = doc if found is None else personal.seal(tenant, found[0], doc)
    subject, category = found if found is not None else (None, None)
    if row is None:
        _ensure_tenant(conn, tenant)
        rid = conn.execute("INSERT INTO entities (tenant, id, doc, subject, category, owner) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (tenant, entity_id, stored, subject,
                                                         category, writer or None)
                           ).lastrowid or 0
        conn.executemany("INSERT INTO entity_types (tenant, type, rid) VALUES (?, ?, ?)",
                         [(tenant, t, rid) for t in new["type"]])
        _history.cut_if_needed(conn, tenant, entity_id, None, new["type"])
        if found is None:
            _geo.index(conn, rid, new)
            _values.reindex(conn, rid, None, _values.of(new))
    else:
        rid = row[0]
        if found is None and not was_personal:
            conn.execute("UPDATE entities SET doc = ? WHERE rid = ?", (stored, rid))
        else:
            conn.execute("UPDATE entities SET doc = ?, subject = ?, category = ? WHERE rid = ?",
                         (stored, subject, category, rid))
        if new["type"] != old_types:
            _history.cut_if_needed(conn, tenant, entity_id, old_types, new["type"])
            _personal.uncount_types(conn, rid)
            conn.execute("DELETE FROM entity_types WHERE rid = ?", (rid,))
            conn.executemany("INSERT INTO entity_types (tenant, type, rid) VALUES (?, ?, ?)",
                             [(tenant, t, rid) for t in new["type"]])
        new_geo = None if found is not None else _geo.geo_values(new)
        if new_geo != old_geo:
            _geo.unindex_first(conn, rid, len(old_geo or ()))
            if found is None:
                _geo.index(conn, rid, new)
        if found is None and not was_personal:  # the turns are the schema's triggers'
            _values.reindex(conn, rid, old_values, _values.of(new))
    if found is not None:
        _personal.mark(conn, tenant, entity_id, new["type"], found,
                       writer or None if row is None else None)
    if record:
        seal = None if found is None else _sealing(personal, tenant, found[0])
        _history.record(conn, tenant, entity_id, old_doc, new, seal)
    if rows is not None:
        rows[entity_id] = (rid, stored, subject, category,
                           (writer or None) if row is None else row[4])
    change = changes.entry(tenant, entity_id, old_types, old_attrs, new, old_doc)
    if found is not None:
        change = _sealed_change(personal, tenant, found[0], change)
    _log_change(conn, log, change)
    return result


_NO_PERSONAL = Personal()


def _sealing(personal: Personal, tenant: str, subject: str) -> Any:
    return lambda data: personal.seal(tenant, subject, data)


def _sealed_change(personal: Personal, tenant: str, subject: str,
                   change: tuple[Any, ...]) -> tuple[Any, ...]:
    """A personal entity's change-log row, its previous instances sealed."""
    if change[6] is None:
        return change
    return (*change[:6], personal.seal(tenant, subject, change[6]))


def _log_change(conn: sqlite3.Connection, log: list[tuple[Any, ...]] | None,
                row: tuple[Any, ...]) -> None:
    if log is None:
        conn.execute(changes.INSERT, row)
    else:
        log.append(row)


def _ensure_tenant(conn: sqlite3.Connection, tenant: str) -> None:
    if tenant == "":
        return
    conn.execute("INSERT OR IGNORE INTO tenants (name, created_at) VALUES (?, ?)",
                 (tenant, datetime.now(UTC).isoformat()))
