"""Attribute history in PostgreSQL (`attr_instances`): the temporal API's reads, writes and
aggregation, with the SQLite engine's semantics.

ETSI GS CIM 009 v1.8 §5.6.11–5.6.18, §5.7.3–5.7.4; aggregation (§4.5.19) is one GROUP BY over
integer period buckets in SQL.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import asyncpg
import orjson

from cityos.storage.base import (
    Aggregated,
    Aggregation,
    History,
    Mutation,
    TemporalPage,
    TemporalQuery,
)
from cityos.storage.postgres import _grants, _mutate, _personal
from cityos.storage.postgres._sql import Sql
from cityos.storage.sqlite import _history
from cityos.storage.sqlite._personal import Personal
from cityos.storage.sqlite.temporal import _method_value

_COLUMN = {"observedAt": "observed_at", "createdAt": "created_at", "modifiedAt": "modified_at"}
_STATS = (  # the columns _method_value reads, and which methods need each
    ("count(*)", {"totalCount"}),
    ("count(DISTINCT (num, value_json))", {"distinctCount"}),
    ("count(num)", {"sum", "avg", "min", "max", "sumsq", "stddev"}),
    ("sum(num)", {"sum", "avg", "stddev"}),
    ("min(num)", {"min"}),
    ("max(num)", {"max"}),
    ("sum(num * num)", {"sumsq", "stddev"}),
)


def _stats_sql(methods: list[str]) -> str:
    return ", ".join(expr if used.intersection(methods) else "NULL" for expr, used in _STATS)


def _where(sql: Sql, tenant: str, q: TemporalQuery) -> str:
    col = _COLUMN[q.timeproperty]
    text = f"tenant = {sql.param(tenant)} AND entity_id = ANY({sql.param(q.entity_ids)}::text[])"
    if q.attrs is not None:
        text += f" AND attr = ANY({sql.param(q.attrs)}::text[])"
    if q.timerel == "before":
        text += f" AND {col} < {sql.param(q.time_at)}"
    elif q.timerel == "after":
        text += f" AND {col} >= {sql.param(q.time_at)}"
    elif q.timerel == "between":
        text += f" AND {col} >= {sql.param(q.time_at)} AND {col} < {sql.param(q.end_time_at)}"
    marks = q.history_since or {}
    for entity_id in q.entity_ids if marks else ():
        since = marks.get(entity_id)
        if since is not None:  # rows before a type was removed or the id created again
            text += (f" AND NOT (entity_id = {sql.param(entity_id)} "
                     f"AND iid <= {sql.param(since)})")
    return text


def _of_types(sql: Sql, names: list[str]) -> str:
    """SQL: the instance `a` belongs to an entity with one of these types (name or IRI)."""
    tests = []
    for name in names:
        tests.append(f"(t.type = {sql.param(name)} OR right(t.type, {sql.param(len(name) + 1)}) "
                     f"IN ({sql.param('/' + name)}, {sql.param('#' + name)}))")
    return (f"EXISTS (SELECT 1 FROM entities e JOIN entity_types t ON t.rid = e.rid "
            f"WHERE e.tenant = a.tenant AND e.id = a.entity_id AND t.tenant = a.tenant "
            f"AND ({' OR '.join(tests) or 'false'}))")


def _after_mark(sql: Sql, tenant: str, entity_id: str, writer: str) -> str:
    """SQL: the row is after `entity_id`'s history mark, for the temporal writes of a writer
    with type grants (the history cut off is not theirs to change); "" for the others."""
    if getattr(writer, "types", None) is None:
        return ""
    return (f" AND iid > coalesce((SELECT since FROM history_marks WHERE tenant = "
            f"{sql.param(tenant)} AND entity_id = {sql.param(entity_id)}), 0)")


Row = tuple[str, str, int, bytes]


class TemporalTables:
    """Mixed into `PostgresStore`: needs its `pool`."""

    keep_history_on_delete: bool
    _personal: Personal

    @property
    def pool(self) -> asyncpg.Pool:
        raise NotImplementedError

    def _changed(self, tenant: str) -> None:
        raise NotImplementedError

    async def _released(self, tenant: str, query: TemporalQuery) -> TemporalQuery:
        """`query` without the entities its reader may not see (issue 6)."""
        hidden = await _personal.withheld(self.pool, tenant, query.entity_ids, query.reader) \
            | await _grants.ungranted(self.pool, tenant, query.entity_ids, query.reader)
        ids = [i for i in query.entity_ids if i not in hidden] if hidden else query.entity_ids
        marks: dict[str, int] = {}
        if ids:
            marks = {r[0]: r[1] for r in await self.pool.fetch(
                "SELECT entity_id, since FROM history_marks WHERE tenant = $1 AND "
                "entity_id = ANY($2::text[])", tenant, ids)}
        if not hidden and not marks:
            return query
        return replace(query, entity_ids=ids, history_since=marks or None)

    async def temporal_query(self, tenant: str, query: TemporalQuery) -> TemporalPage:
        if not query.entity_ids or query.attrs == []:
            return TemporalPage({})
        query = await self._released(tenant, query)
        col = _COLUMN[query.timeproperty]
        rows: list[Row] = []
        if query.last_n is not None:  # newest n per attribute: one index scan each
            for entity_id in query.entity_ids:
                for attr in query.attrs or await self._attrs_of(tenant, entity_id, query):
                    sql = Sql()
                    where = _where(sql, tenant, replace(query, entity_ids=[entity_id],
                                                        attrs=[attr]))
                    rows += [tuple(r) for r in await self.pool.fetch(
                        f"SELECT entity_id, attr, {col}, doc FROM attr_instances WHERE {where} "
                        f"ORDER BY {col} DESC, iid DESC LIMIT {sql.param(query.last_n)}",
                        *sql.params)]
            rows.sort(key=lambda r: r[2], reverse=True)
            page = await self._cut(tenant, query, rows)
            for attrs in page.history.values():
                for instances in attrs.values():
                    instances.reverse()  # oldest first, as the representation lists them
            return page
        sql = Sql()
        where = _where(sql, tenant, query)
        if query.limit is None:
            text = (f"SELECT entity_id, attr, {col}, doc FROM attr_instances WHERE {where} "
                    f"ORDER BY entity_id, attr, {col}, iid")
        else:  # the oldest first, across attributes: the page is a span of time
            text = (f"SELECT entity_id, attr, {col}, doc FROM attr_instances WHERE {where} "
                    f"ORDER BY {col}, iid LIMIT {int(query.limit) + 1}")
        found = [tuple(r) for r in await self.pool.fetch(text, *sql.params)]
        return await self._cut(tenant, query, found)  # type: ignore[arg-type]

    async def _cut(self, tenant: str, query: TemporalQuery, rows: list[Row]) -> TemporalPage:
        """Keep at most `query.limit` rows, never splitting one instant (as SQLite's engine)."""
        cut = None
        if query.limit is not None and len(rows) > query.limit:
            beyond = rows[query.limit][2]
            kept = [r for r in rows[:query.limit] if r[2] != beyond] or rows[:query.limit]
            rows, cut = kept, kept[-1][2]
        out: History = {}
        loads = self._personal.decoder(tenant)
        for entity_id, attr, _, doc in rows:
            instance = loads(doc)
            if instance is not None:  # None: sealed under an erased key
                out.setdefault(entity_id, {}).setdefault(attr, []).append(instance)
        page = TemporalPage(out, cut, rows[0][2] if rows and cut is not None else None)
        if cut is not None:
            for entity_id in query.entity_ids:
                have = out.get(entity_id, {})
                missing = [a for a in query.attrs or await self._attrs_of(tenant, entity_id, query)
                           if a not in have]
                if missing:
                    page.empty[entity_id] = missing
        return page

    async def _attrs_of(self, tenant: str, entity_id: str, query: TemporalQuery) -> list[str]:
        """The attributes with history (after the entity's mark), by index seeks (a loose
        index scan)."""
        since = (query.history_since or {}).get(entity_id)
        after = "" if since is None else " AND iid > $3"
        rows = await self.pool.fetch(
            "WITH RECURSIVE a (attr) AS ("
            f" SELECT min(attr) FROM attr_instances WHERE tenant = $1 AND entity_id = $2{after}"
            " UNION ALL"
            " SELECT (SELECT min(attr) FROM attr_instances WHERE tenant = $1 AND entity_id = $2"
            f" AND attr > a.attr{after}) FROM a WHERE a.attr IS NOT NULL"
            ") SELECT attr FROM a WHERE attr IS NOT NULL", tenant, entity_id,
            *(() if since is None else (since,)))
        return [r[0] for r in rows]

    async def prune_history(self, cutoffs: list[tuple[str | None, int]]) -> int:
        named = [name for name, _ in cutoffs if name is not None]
        removed = 0
        for name, cutoff in cutoffs:
            sql = Sql()
            low = sql.param(cutoff)
            if name is None and not named:
                where = "true"
            elif name is not None:
                where = _of_types(sql, [name])
            else:
                where = f"NOT {_of_types(sql, named)}"
            text = (f"DELETE FROM attr_instances WHERE iid IN (SELECT iid FROM attr_instances a "
                    f"WHERE observed_at < {low} AND modified_at < {low} AND {where} LIMIT 5000)")
            while True:  # small transactions
                status = await self.pool.execute(text, *sql.params)
                n = int(status.split()[-1])
                if n == 0:
                    break
                removed += n
        return removed

    async def temporal_aggregate(self, tenant: str, query: TemporalQuery,
                                 aggregation: Aggregation) -> Aggregated:
        out: Aggregated = {}
        if not query.entity_ids or query.attrs == []:
            return out
        query = await self._released(tenant, query)
        col = _COLUMN[query.timeproperty]
        stats = _stats_sql(aggregation.methods)
        async with self.pool.acquire() as conn:
            for entity_id in query.entity_ids:
                for attr in query.attrs or await self._attrs_of(tenant, entity_id, query):
                    one = replace(query, entity_ids=[entity_id], attrs=[attr])
                    sql = Sql()
                    where = _where(sql, tenant, one)
                    first = await conn.fetchrow(
                        f"SELECT {col}, kind FROM attr_instances WHERE {where} "
                        f"ORDER BY {col} LIMIT 1", *sql.params)
                    if first is None:
                        continue
                    low, kind = first
                    start = aggregation.start_ms if aggregation.start_ms is not None else low
                    period = aggregation.period_ms
                    if period is None:  # one period: the asked range, else the data's own
                        high = query.end_time_at or await conn.fetchval(
                            f"SELECT max({col}) FROM attr_instances WHERE {where}",
                            *sql.params) + 1
                        period = max(high - start, 1)
                    bucket = Sql(list(sql.params))
                    b = f"({col} - {bucket.param(start)}::bigint) / {bucket.param(period)}::bigint"
                    attr_out: dict[str, Any] = {"type": kind}
                    for row in await conn.fetch(
                            f"SELECT {b} AS b, {stats} FROM attr_instances WHERE {where} "
                            f"GROUP BY 1 ORDER BY 1", *bucket.params):
                        bucket_start = start + row[0] * period
                        for method in aggregation.methods:
                            value = _method_value(method, tuple(row[1:]))
                            if value is not None:
                                attr_out.setdefault(method, []).append(
                                    [value, bucket_start, bucket_start + period])
                    out.setdefault(entity_id, {})[attr] = attr_out
        return out

    async def add_instances(self, tenant: str, entity_id: str, fn: Mutation,
                            instances: list[tuple[str, dict[str, Any]]],
                            writer: str = "") -> Any:
        async with self.pool.acquire() as conn, conn.transaction():
            result = await self._apply_one(conn, tenant, entity_id, fn, writer)
            if isinstance(result, BaseException):
                return result
            # an instance observed at the same time as a kept one corrects it (§5.6.11
            # update): one value per attribute, dataset and observedAt
            corrected = [(tenant, entity_id, attr, inst.get("datasetId"),
                          _history.to_ms(inst["observedAt"]))
                         for attr, inst in instances if inst.get("observedAt")]
            if corrected:
                await conn.executemany(
                    "DELETE FROM attr_instances WHERE tenant = $1 AND entity_id = $2 AND "
                    "attr = $3 AND dataset_id IS NOT DISTINCT FROM $4 AND observed_at = $5",
                    corrected)
            now = _history.now_iso()
            if instances:
                seal = await self._seal_of(conn, tenant, entity_id)
                await conn.executemany(_mutate.HISTORY_INSERT, [
                    _history.row(tenant, entity_id, a, i, now, seal) for a, i in instances])
        self._changed(tenant)
        return result

    async def _seal_of(self, conn: asyncpg.Connection, tenant: str,
                       entity_id: str) -> _history.Seal | None:
        """How a history row of `entity_id` is stored: sealed when the entity is personal."""
        if self._personal.sealer is None:
            return None
        subject = await conn.fetchval("SELECT subject FROM personal_entities WHERE tenant = $1 "
                                      "AND entity_id = $2", tenant, entity_id)
        return None if subject is None else _mutate.sealing(self._personal, tenant, subject)

    async def _apply_one(self, conn: asyncpg.Connection, tenant: str, entity_id: str,
                         fn: Mutation, writer: str = "") -> Any:
        """`fn` applied to one entity (locked) without recording history; its change-log row
        is written at once."""
        await _mutate.lock(conn, tenant, [entity_id])
        rows = await _mutate.fetch(conn, tenant, [entity_id])
        pending = _mutate.Pending(known_tenant=False)
        result = await _mutate.apply(conn, tenant, entity_id, fn, rows, pending, record=False,
                                     keep=self.keep_history_on_delete,
                                     personal=self._personal, writer=writer)
        await pending.flush(conn)
        return result

    async def delete_instances(self, tenant: str, entity_id: str, attr: str | None = None,
                               instance_id: str | None = None, dataset_id: str | None = None,
                               fn: Mutation | None = None, writer: str = "") -> Any:
        sql = Sql()
        text = (f"DELETE FROM attr_instances WHERE tenant = {sql.param(tenant)} "
                f"AND entity_id = {sql.param(entity_id)}{_after_mark(sql, tenant, entity_id, writer)}")
        if attr is not None:
            text += f" AND attr = {sql.param(attr)}"
        if instance_id is not None:
            text += f" AND instance_id = {sql.param(instance_id)}"
        if dataset_id == "@none":
            text += " AND dataset_id IS NULL"
        elif dataset_id is not None:
            text += f" AND dataset_id = {sql.param(dataset_id)}"
        async with self.pool.acquire() as conn, conn.transaction():
            result = None
            refused = await _grants.history_refusal(conn, tenant, entity_id, writer)
            if refused is not None:
                return refused
            if fn is not None:
                result = await self._apply_one(conn, tenant, entity_id, fn, writer)
                if isinstance(result, BaseException):
                    return result
            status = await conn.execute(text, *sql.params)
        if fn is not None:
            self._changed(tenant)
        return int(status.split()[-1]), result

    async def replace_instance(self, tenant: str, entity_id: str, attr: str, instance_id: str,
                               instance: dict[str, Any], now: str, writer: str = "") -> Any:
        async with self.pool.acquire() as conn, conn.transaction():
            refused = await _grants.history_refusal(conn, tenant, entity_id, writer)
            if refused is not None:
                return refused
            sql = Sql([tenant, entity_id, attr, instance_id])
            found = await conn.fetchrow(
                "SELECT iid, doc FROM attr_instances WHERE tenant = $1 AND entity_id = $2 AND "
                f"attr = $3 AND instance_id = $4{_after_mark(sql, tenant, entity_id, writer)} "
                "FOR UPDATE", *sql.params)
            if found is None:
                return False
            before = self._personal.loads(tenant, found[1]) or {}
            created = before.get("createdAt", now)
            row = _history.row(tenant, entity_id, attr,
                               {**instance, "instanceId": instance_id, "modifiedAt": now}, now)
            doc = orjson.loads(row[-1])
            doc["createdAt"] = created
            body = orjson.dumps(doc)
            num, value_json = row[9], row[10]
            seal = await self._seal_of(conn, tenant, entity_id)
            if seal is not None:
                num, value_json, body = None, None, seal(body)
            await conn.execute(
                "UPDATE attr_instances SET dataset_id = $1, observed_at = $2, modified_at = $3, "
                "kind = $4, num = $5, value_json = $6, doc = $7 WHERE iid = $8",
                row[3], row[5], row[7], row[8], num, value_json, body, found[0])
            return True
