"""The PostgreSQL engine of `Store`: asyncpg pool, JSONB documents, one transaction per write.

Several `cityos serve` processes may share one database: writers of one entity serialise on
an advisory lock, the change log is numbered in commit order by a sequencer (changes.py),
migrations run once under a lock. Decision 0009 says why it is built this way.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from typing import Any

import asyncpg
import orjson

from cityos.storage.base import (
    DELETE,
    Classifier,
    Entity,
    EntityQuery,
    Mutation,
    QueryResult,
    Reader,
    Sealer,
    TypeInfo,
    granted_types,
    may_read_types,
)
from cityos.storage.postgres import _grants, _mutate, _personal, _select
from cityos.storage.postgres._sql import Sql
from cityos.storage.postgres.changes import ChangeTables
from cityos.storage.postgres.coordination import Coordination
from cityos.storage.postgres.logs import LogTables
from cityos.storage.postgres.schema import migrate
from cityos.storage.postgres.shared_counts import SharedCounts
from cityos.storage.postgres.temporal import TemporalTables
from cityos.storage.sqlite._personal import Personal

_loads = orjson.loads
_dumps = orjson.dumps
_FIRST_CHUNK = 64  # rows of the first keyset page a filtered query reads; it grows from there
_MAX_CHUNK = 4096


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A released connection needs no reset (asyncpg's default costs a round trip per use):
    the engine takes only transaction-scoped locks on pooled connections, never LISTENs or
    SETs there, and opens cursors only inside transactions (the coordination connection,
    which holds session locks, is not pooled)."""


class PostgresStore(LogTables, TemporalTables, ChangeTables, SharedCounts):
    """A cityos database in PostgreSQL (`postgresql://user@host/db`)."""

    def __init__(self, url: str, synchronous: str = "FULL", pool_size: int = 10,
                 keep_history_on_delete: bool = True, **_: object) -> None:
        self.url = url
        self.keep_history_on_delete = keep_history_on_delete
        # FULL: a write is acknowledged once its WAL is flushed (synchronous_commit on); NORMAL
        # acknowledges before the flush (at most the last moment's writes lost in a crash)
        self.synchronous_commit = "off" if synchronous.upper() in {"NORMAL", "OFF"} else "on"
        self.pool_size = pool_size
        self._pool: asyncpg.Pool | None = None
        self._tenants: set[str] = {""}
        self._personal = Personal()
        self._coordination = Coordination(url)
        self.commits = 0

    # life cycle ---------------------------------------------------------------------------
    async def open(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        self._pool = await asyncpg.create_pool(
            self.url, min_size=1, max_size=self.pool_size, statement_cache_size=512,
            reset=_keep_session,
            server_settings={"synchronous_commit": self.synchronous_commit,
                             "application_name": "cityos"})

    async def close(self) -> None:
        await self._coordination.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    # entities -----------------------------------------------------------------------------
    async def get_entity(self, tenant: str, entity_id: str,
                         reader: Reader | None = None) -> Entity | None:
        if "\x00" in entity_id:  # PostgreSQL's text cannot hold U+0000: no such entity
            return None
        sql = Sql([tenant, entity_id])
        who = [c for c in (_personal.reader_clause(reader, sql),
                           _grants.type_clause(reader, sql)) if c is not None]
        row = await self.pool.fetchrow(
            "SELECT e.doc, e.sealed FROM entities e WHERE e.tenant = $1 AND e.id = $2"
            + "".join(f" AND {c}" for c in who), *sql.params)
        return None if row is None else _personal.decode(self._personal, tenant, row[0], row[1])

    async def tenant_exists(self, tenant: str) -> bool:
        if tenant == "":
            return True
        return bool(await self.pool.fetchval("SELECT EXISTS (SELECT 1 FROM tenants WHERE name = $1)",
                                             tenant))

    async def mutate(self, tenant: str, items: list[tuple[str, Mutation]],
                     writer: str = "") -> list[Any]:
        ids = list(dict.fromkeys(i for i, _ in items))
        pending = _mutate.Pending(known_tenant=tenant in self._tenants)
        async with self.pool.acquire() as conn, conn.transaction():
            await _mutate.lock(conn, tenant, ids)
            rows = await _mutate.fetch(conn, tenant, ids)
            out = [await _mutate.apply(conn, tenant, entity_id, fn, rows, pending,
                                       keep=self.keep_history_on_delete,
                                       personal=self._personal, writer=writer)
                   for entity_id, fn in items]
            wrote = bool(pending.changes)
            await pending.flush(conn)
        self.commits += 1
        if pending.known_tenant:
            self._tenants.add(tenant)
        if wrote:
            self._changed(tenant)
        return out

    def _changed(self, tenant: str) -> None:
        """Committed change-log rows of `tenant`: other processes' workers are woken."""
        self._coordination.changed(tenant)

    async def query_entities(self, tenant: str, query: EntityQuery) -> QueryResult:
        types = granted_types(query.reader, query.types)
        if types is not query.types:  # a reader with type grants (issue 18)
            if not types:
                return QueryResult([], 0 if query.count else None)
            query = replace(query, types=types)
        personal = (query.geo_bbox is not None
                    and await _personal.has_personal(self.pool, tenant, query.types))
        plan = _select.plan(tenant, query, personal=personal)
        pattern = None
        if query.id_pattern is not None:
            pattern = _compiled(query.id_pattern)
            if pattern is None:  # not a regular expression: it matches nothing
                return QueryResult([], 0 if query.count else None)
        # `attrs` in SQL passes personal rows, whose sealed bodies it cannot look into
        wanted = set(query.attrs_any) if query.attrs_any is not None else None
        if query.predicate is None and pattern is None and wanted is None:
            sql, params = plan.page(None, query.limit, query.offset)
            rows = await self.pool.fetch(sql, *params)
            total = None
            if query.count:
                count_sql, count_params = plan.count()
                total = int(await self.pool.fetchval(count_sql, *count_params))
            found = [self._decode(tenant, r) for r in rows]
            return QueryResult([e for e in found if e is not None], total)
        matched = 0
        out: list[Entity] = []
        stop_at = query.offset + query.limit
        after: int | None = None
        chunk = min(_FIRST_CHUNK, max(stop_at * 2, 16))
        while True:
            sql, params = plan.page(after, chunk)
            rows = await self.pool.fetch(sql, *params)
            for row in rows:
                after = row[0]
                entity = self._decode(tenant, row)
                if entity is None:
                    continue
                if pattern is not None and pattern.fullmatch(entity["id"]) is None:
                    continue
                if wanted is not None and wanted.isdisjoint(entity.get("attrs", ())):
                    continue
                if query.predicate is not None and not query.predicate(entity):
                    continue
                if query.offset <= matched < stop_at:
                    out.append(entity)
                matched += 1
                if matched >= stop_at and not query.count:
                    return QueryResult(out, None)
            if len(rows) < chunk:
                return QueryResult(out, matched if query.count else None)
            chunk = min(chunk * 4, _MAX_CHUNK)

    def _decode(self, tenant: str, row: Any) -> Entity | None:
        if row[2] is None:
            return _loads(row[1])  # type: ignore[no-any-return]
        return _personal.decode(self._personal, tenant, row[1], row[2])

    async def purge_entities(self, tenant: str, query: EntityQuery, writer: str = "") -> int:
        everything = EntityQuery(**{**query.__dict__, "limit": 1 << 62, "offset": 0,
                                    "count": False})
        found = await self.query_entities(tenant, everything)
        ids = [e["id"] for e in found.entities]
        if not ids:
            return 0
        results = await self.mutate(tenant, [(i, lambda cur: (DELETE, cur is not None))
                                             for i in ids], writer=writer)
        return sum(1 for r in results if r is True)

    async def entity_types(self, tenant: str) -> list[TypeInfo]:
        infos: dict[str, TypeInfo] = {}
        async with self.pool.acquire() as conn, conn.transaction():
            async for row in conn.cursor("SELECT rid, doc, sealed FROM entities "
                                         "WHERE tenant = $1 ORDER BY rid", tenant,
                                         prefetch=1000):
                entity = self._decode(tenant, row)
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

    # personal data (issue 6) --------------------------------------------------------------
    def set_classifier(self, classifier: Classifier | None) -> None:
        self._personal.classifier = classifier

    def set_sealer(self, sealer: Sealer | None) -> None:
        self._personal.sealer = sealer

    async def put_grant(self, tenant: str, subject: str, recipient: str, category: str,
                        purpose: str, until: float | None) -> None:
        await self.pool.execute(
            "INSERT INTO grants (tenant, recipient, subject, category, purpose, until) "
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, recipient, subject, category, "
            "purpose) DO UPDATE SET until = excluded.until",
            tenant, recipient, subject, category, purpose, until)

    async def drop_grant(self, tenant: str, subject: str, recipient: str, category: str,
                         purpose: str) -> None:
        await self.pool.execute(
            "DELETE FROM grants WHERE tenant = $1 AND recipient = $2 AND subject = $3 AND "
            "category = $4 AND purpose = $5", tenant, recipient, subject, category, purpose)

    async def erase_subject(self, tenant: str, subject: str) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            return await _personal.erase(conn, tenant, subject)

    async def reclassify(self) -> int:
        changed, after = 0, 0
        while True:  # small transactions: writes go on meanwhile
            async with self.pool.acquire() as conn, conn.transaction():
                last, n = await _personal.reclassify(conn, self._personal, after, 500)
            changed += n
            if last is None:
                return changed
            after = last

    async def withheld(self, tenant: str, entity_ids: list[str],
                       reader: Reader | None) -> set[str]:
        return await _personal.withheld(self.pool, tenant, entity_ids, reader) | \
            await _grants.ungranted(self.pool, tenant, entity_ids, reader)

    async def screen(self, tenant: str, entities: list[Entity],
                     reader: Reader | None) -> list[Entity]:
        return [e for e in await _personal.screen(self.pool, self._personal, tenant, entities,
                                                   reader)
                if may_read_types(reader, e.get("type", ()))]

    # key/value ----------------------------------------------------------------------------
    async def kv_get(self, space: str, key: str) -> Any | None:
        value = await self.pool.fetchval("SELECT value FROM kv WHERE space = $1 AND key = $2",
                                         space, key)
        return None if value is None else _loads(value)

    async def kv_put(self, space: str, key: str, value: Any) -> None:
        await self.pool.execute("INSERT INTO kv (space, key, value) VALUES ($1, $2, $3) "
                                "ON CONFLICT (space, key) DO UPDATE SET value = excluded.value",
                                space, key, _dumps(value))

    async def kv_add(self, space: str, key: str, value: Any) -> Any:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("INSERT INTO kv (space, key, value) VALUES ($1, $2, $3) "
                               "ON CONFLICT (space, key) DO NOTHING", space, key, _dumps(value))
            stored = await conn.fetchval("SELECT value FROM kv WHERE space = $1 AND key = $2",
                                         space, key)
        return _loads(stored)

    async def kv_delete(self, space: str, key: str) -> bool:
        status = await self.pool.execute("DELETE FROM kv WHERE space = $1 AND key = $2",
                                         space, key)
        return bool(status != "DELETE 0")

    async def kv_list(self, space: str) -> list[tuple[str, Any]]:
        rows = await self.pool.fetch("SELECT key, value FROM kv WHERE space = $1 ORDER BY key",
                                     space)
        return [(k, _loads(v)) for k, v in rows]

    async def scrub(self) -> None:
        await self.pool.execute("VACUUM FULL kv")

    # several processes on one database (issue 10) -----------------------------------------
    async def lease(self, name: str) -> bool:
        """Whether this process holds the lease `name` (e.g. a subscription's delivery), taking
        it when free; held until `release`, `close` or the process's death."""
        return await self._coordination.lease(name)

    def holds(self, name: str) -> bool:
        """Whether this process still holds `name` (its coordination session is alive)."""
        return self._coordination.holds(name)

    async def release(self, name: str) -> None:
        await self._coordination.release(name)

    async def on_changes(self, listener: Callable[[str], None]) -> None:
        """Call `listener(tenant)` after any process commits a change of `tenant`."""
        await self._coordination.on_changes(listener)

    # statistics ---------------------------------------------------------------------------
    def stats(self) -> dict[str, int]:
        return {"commits": self.commits, "jobs": self.commits}
