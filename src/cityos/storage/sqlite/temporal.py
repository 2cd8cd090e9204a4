"""Attribute history in SQLite (`attr_instances`): the temporal API's reads, writes, aggregation.

ETSI GS CIM 009 v1.8 §5.6.11–5.6.18, §5.7.3–5.7.4; aggregation (§4.5.19) is one GROUP BY over
integer period buckets, so it never decodes an instance.
"""

from __future__ import annotations

import math
import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson

from cityos.storage.base import (
    Aggregated,
    Aggregation,
    History,
    Mutation,
    TemporalPage,
    TemporalQuery,
)
from cityos.storage.sqlite import _grants, _history, _personal

if TYPE_CHECKING:
    from cityos.storage.sqlite._personal import Personal
    from cityos.storage.sqlite.writer import Writer

_COLUMN = {"observedAt": "observed_at", "createdAt": "created_at", "modifiedAt": "modified_at"}


def _where(tenant: str, q: TemporalQuery) -> tuple[str, list[Any]]:
    col = _COLUMN[q.timeproperty]
    sql = f"tenant = ? AND entity_id IN ({','.join('?' * len(q.entity_ids))})"
    args: list[Any] = [tenant, *q.entity_ids]
    if q.attrs is not None:
        sql += f" AND attr IN ({','.join('?' * len(q.attrs))})"
        args += q.attrs
    if q.timerel == "before":
        sql += f" AND {col} < ?"
        args.append(q.time_at)
    elif q.timerel == "after":
        sql += f" AND {col} >= ?"
        args.append(q.time_at)
    elif q.timerel == "between":
        sql += f" AND {col} >= ? AND {col} < ?"
        args += [q.time_at, q.end_time_at]
    marks = q.history_since or {}
    for entity_id in q.entity_ids if marks else ():
        since = marks.get(entity_id)
        if since is not None:  # rows before a type was removed or the id created again
            sql += " AND NOT (entity_id = ? AND iid <= ?)"
            args += [entity_id, since]
    return sql, args


def _of_types(names: list[str]) -> tuple[str, list[Any]]:
    """SQL: the instance `a` belongs to an entity with one of these types (name or IRI)."""
    tests, args = [], []
    for name in names:
        tests.append("(t.type = ? OR substr(t.type, -?) IN (?, ?))")
        args += [name, len(name) + 1, f"/{name}", f"#{name}"]
    return (f"EXISTS (SELECT 1 FROM entities e JOIN entity_types t ON t.rid = e.rid "
            f"WHERE e.tenant = a.tenant AND e.id = a.entity_id AND t.tenant = a.tenant "
            f"AND ({' OR '.join(tests) or '0'}))", args)


class TemporalTables:
    """Mixed into `SqliteStore`: needs its `_writer` and read connection `_r`."""

    _writer: Writer
    _personal: Personal

    @property
    def _r(self) -> sqlite3.Connection:
        raise NotImplementedError

    def _released(self, tenant: str, query: TemporalQuery) -> TemporalQuery:
        """`query` without the entities its reader may not see (issue 6)."""
        hidden = _personal.withheld(self._r, tenant, query.entity_ids, query.reader) | \
            _grants.ungranted(self._r, tenant, query.entity_ids, query.reader)
        ids = [i for i in query.entity_ids if i not in hidden] if hidden else query.entity_ids
        marks = _history.marks(self._r, tenant, ids) if ids else {}
        if not hidden and not marks:
            return query
        return replace(query, entity_ids=ids, history_since=marks or None)

    async def temporal_query(self, tenant: str, query: TemporalQuery) -> TemporalPage:
        query = self._released(tenant, query)
        if not query.entity_ids or query.attrs == []:
            return TemporalPage({})
        col = _COLUMN[query.timeproperty]
        rows: list[tuple[str, str, int, bytes]] = []
        if query.last_n is not None:  # newest n per attribute: one index seek each
            for entity_id in query.entity_ids:
                for attr in query.attrs or self._attrs_of(tenant, entity_id, query):
                    where, args = _where(tenant, replace(query, entity_ids=[entity_id],
                                                         attrs=[attr]))
                    rows += self._r.execute(
                        f"SELECT entity_id, attr, {col}, doc FROM attr_instances WHERE {where} "
                        f"ORDER BY {col} DESC, iid DESC LIMIT ?", [*args, query.last_n])
            rows.sort(key=lambda r: r[2], reverse=True)
            page = self._cut(tenant, query, rows)
            for attrs in page.history.values():
                for instances in attrs.values():
                    instances.reverse()  # oldest first, as the representation lists them
            return page
        where, args = _where(tenant, query)
        if query.limit is None:
            sql = (f"SELECT entity_id, attr, {col}, doc FROM attr_instances WHERE {where} "
                   f"ORDER BY entity_id, attr, {col}, iid")
        else:  # the oldest first, across attributes: the page is a span of time
            sql = (f"SELECT entity_id, attr, {col}, doc FROM attr_instances WHERE {where} "
                   f"ORDER BY {col}, iid LIMIT {int(query.limit) + 1}")
        return self._cut(tenant, query, self._r.execute(sql, args).fetchall())

    def _cut(self, tenant: str, query: TemporalQuery,
             rows: list[tuple[str, str, int, bytes]]) -> TemporalPage:
        """Keep at most `query.limit` rows (sorted along the time axis), never splitting one
        instant: what is kept is a whole span of time, as the Content-Range header says."""
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
                missing = [a for a in query.attrs or self._attrs_of(tenant, entity_id, query)
                           if a not in have]
                if missing:
                    page.empty[entity_id] = missing
        return page

    def _attrs_of(self, tenant: str, entity_id: str, query: TemporalQuery) -> list[str]:
        """The attributes with history (after the entity's mark), by index seeks (a DISTINCT
        would read every row)."""
        attrs: list[str] = []
        since = (query.history_since or {}).get(entity_id)
        sql = ("SELECT min(attr) FROM attr_instances WHERE tenant = ? AND entity_id = ? "
               "AND attr > ?" + ("" if since is None else " AND iid > ?"))
        extra = () if since is None else (since,)
        while (row := self._r.execute(sql, (tenant, entity_id, attrs[-1] if attrs else "",
                                            *extra)).fetchone()) and row[0] is not None:
            attrs.append(row[0])
        return attrs

    async def prune_history(self, cutoffs: list[tuple[str | None, int]]) -> int:
        named = [name for name, _ in cutoffs if name is not None]
        removed = 0
        for name, cutoff in cutoffs:
            match, args = _of_types([name] if name is not None else named)
            where = f"{match}" if name is not None else f"NOT {match}"
            if name is None and not named:
                where, args = "1", []
            sql = (f"DELETE FROM attr_instances WHERE iid IN (SELECT iid FROM attr_instances a "
                   f"WHERE observed_at < ? AND modified_at < ? AND {where} LIMIT 5000)")

            def job(conn: sqlite3.Connection, sql: str = sql, cutoff: int = cutoff,
                    args: list[Any] = args) -> int:
                return conn.execute(sql, [cutoff, cutoff, *args]).rowcount

            while (n := await self._writer.submit(job)) > 0:  # small transactions
                removed += n
        return removed

    async def temporal_aggregate(self, tenant: str, query: TemporalQuery,
                                 aggregation: Aggregation) -> Aggregated:
        out: Aggregated = {}
        query = self._released(tenant, query)
        if not query.entity_ids or query.attrs == []:
            return out
        col = _COLUMN[query.timeproperty]
        stats = _stats_sql(aggregation.methods)
        for entity_id in query.entity_ids:
            # one attribute at a time: the sorter then holds small integers, not IRIs
            for attr in query.attrs or self._attrs_of(tenant, entity_id, query):
                where, args = _where(tenant, replace(query, entity_ids=[entity_id],
                                                     attrs=[attr]))
                # min() and max() alone are one index seek each; together they scan
                low = self._r.execute(f"SELECT min({col}) FROM attr_instances WHERE {where}",
                                      args).fetchone()[0]
                if low is None:
                    continue
                kind = self._r.execute(f"SELECT kind FROM attr_instances WHERE {where} LIMIT 1",
                                       args).fetchone()[0]
                start = aggregation.start_ms if aggregation.start_ms is not None else low
                period = aggregation.period_ms
                if period is None:  # one period: the asked range, else the data's own
                    high = query.end_time_at or self._r.execute(
                        f"SELECT max({col}) FROM attr_instances WHERE {where}",
                        args).fetchone()[0] + 1
                    period = max(high - start, 1)
                attr_out: dict[str, Any] = {"type": kind}
                for row in self._r.execute(
                        f"SELECT ({col} - ?) / ? AS b, {stats} FROM attr_instances "
                        f"WHERE {where} GROUP BY b ORDER BY b", [start, period, *args]):
                    bucket_start = start + row[0] * period
                    for method in aggregation.methods:
                        value = _method_value(method, row[1:])
                        if value is not None:
                            attr_out.setdefault(method, []).append(
                                [value, bucket_start, bucket_start + period])
                out.setdefault(entity_id, {})[attr] = attr_out
        return out

    async def add_instances(self, tenant: str, entity_id: str, fn: Mutation,
                            instances: list[tuple[str, dict[str, Any]]],
                            writer: str = "") -> Any:
        from cityos.storage.sqlite.engine import _apply_mutation  # the engine imports us

        personal = self._personal

        def job(conn: sqlite3.Connection) -> Any:
            result = _apply_mutation(conn, tenant, entity_id, fn, record=False,
                                     personal=personal, writer=writer)
            if isinstance(result, BaseException):
                return result
            # an instance observed at the same time as a kept one corrects it (§5.6.11
            # update): one value per attribute, dataset and observedAt
            conn.executemany(
                "DELETE FROM attr_instances WHERE tenant = ? AND entity_id = ? AND attr = ? "
                "AND dataset_id IS ? AND observed_at = ?",
                [(tenant, entity_id, attr, inst.get("datasetId"),
                  _history.to_ms(inst["observedAt"]))
                 for attr, inst in instances if inst.get("observedAt")])
            _history.insert(conn, tenant, entity_id, instances, _history.now_iso(),
                            _seal_of(conn, personal, tenant, entity_id))
            return result

        return await self._writer.submit(job)

    async def delete_instances(self, tenant: str, entity_id: str, attr: str | None = None,
                               instance_id: str | None = None, dataset_id: str | None = None,
                               fn: Mutation | None = None, writer: str = "") -> Any:
        from cityos.storage.sqlite.engine import _apply_mutation

        since, since_args = _history.since_sql(tenant, entity_id, writer)  # not history cut off
        sql = "DELETE FROM attr_instances WHERE tenant = ? AND entity_id = ?" + since
        args: list[Any] = [tenant, entity_id, *since_args]
        if attr is not None:
            sql += " AND attr = ?"
            args.append(attr)
        if instance_id is not None:
            sql += " AND instance_id = ?"
            args.append(instance_id)
        if dataset_id == "@none":
            sql += " AND dataset_id IS NULL"
        elif dataset_id is not None:
            sql += " AND dataset_id = ?"
            args.append(dataset_id)

        personal = self._personal

        def job(conn: sqlite3.Connection) -> Any:
            result = None
            refused = _grants.history_refusal(conn, tenant, entity_id, writer)
            if refused is not None:
                return refused
            if fn is not None:
                result = _apply_mutation(conn, tenant, entity_id, fn, record=False,
                                         personal=personal, writer=writer)
                if isinstance(result, BaseException):
                    return result
            return conn.execute(sql, args).rowcount, result

        return await self._writer.submit(job)

    async def replace_instance(self, tenant: str, entity_id: str, attr: str, instance_id: str,
                               instance: dict[str, Any], now: str, writer: str = "") -> Any:
        personal = self._personal

        def job(conn: sqlite3.Connection) -> Any:
            refused = _grants.history_refusal(conn, tenant, entity_id, writer)
            if refused is not None:
                return refused
            since, since_args = _history.since_sql(tenant, entity_id, writer)
            found = conn.execute("SELECT iid, doc FROM attr_instances WHERE tenant = ? AND "
                                 "entity_id = ? AND attr = ? AND instance_id = ?" + since,
                                 (tenant, entity_id, attr, instance_id, *since_args)
                                 ).fetchone()
            if found is None:
                return False
            before = personal.loads(tenant, found[1]) or {}
            created = before.get("createdAt", now)
            seal = _seal_of(conn, personal, tenant, entity_id)
            row = _history.row(tenant, entity_id, attr,
                               {**instance, "instanceId": instance_id, "modifiedAt": now}, now)
            doc = orjson.loads(row[-1])
            doc["createdAt"] = created
            body = orjson.dumps(doc)
            num, value_json = row[9], row[10]
            if seal is not None:
                num, value_json, body = None, None, seal(body)
            conn.execute("UPDATE attr_instances SET dataset_id = ?, observed_at = ?, "
                         "modified_at = ?, kind = ?, num = ?, value_json = ?, doc = ? "
                         "WHERE iid = ?", (row[3], row[5], row[7], row[8], num, value_json,
                                           body, found[0]))
            return True

        return await self._writer.submit(job)


def _seal_of(conn: sqlite3.Connection, personal: Personal, tenant: str,
             entity_id: str) -> _history.Seal | None:
    """How a history row of `entity_id` is stored: sealed when the entity is personal."""
    if personal.sealer is None:
        return None
    row = conn.execute("SELECT subject FROM personal_entities WHERE tenant = ? AND "
                       "entity_id = ?", (tenant, entity_id)).fetchone()
    if row is None:
        return None
    subject = row[0]
    return lambda data: personal.seal(tenant, subject, data)


_STATS = (  # the columns _method_value reads, and which methods need each
    ("count(*)", {"totalCount"}),
    ("count(DISTINCT coalesce(num, value_json))", {"distinctCount"}),  # reads the table
    ("count(num)", {"sum", "avg", "min", "max", "sumsq", "stddev"}),
    ("sum(num)", {"sum", "avg", "stddev"}),
    ("min(num)", {"min"}),
    ("max(num)", {"max"}),
    ("sum(num * num)", {"sumsq", "stddev"}),
)


def _stats_sql(methods: list[str]) -> str:
    """Only the aggregates asked for: the others are NULL and cost nothing."""
    return ", ".join(expr if used.intersection(methods) else "NULL" for expr, used in _STATS)


def _method_value(method: str, stats: tuple[Any, ...]) -> Any:
    total, distinct, n, total_sum, low, high, sumsq = stats
    if method == "totalCount":
        return total
    if method == "distinctCount":
        return distinct
    if n == 0:
        return None
    if method == "sum":
        return total_sum
    if method == "avg":
        return total_sum / n
    if method == "min":
        return low
    if method == "max":
        return high
    if method == "sumsq":
        return sumsq
    if method == "stddev":  # sample standard deviation, as PostgreSQL's stddev
        if n < 2:
            return 0.0
        return math.sqrt(max(sumsq - total_sum * total_sum / n, 0.0) / (n - 1))
    return None
