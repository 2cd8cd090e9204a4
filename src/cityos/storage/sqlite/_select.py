"""SQL for `EntityQuery`: index-driven, in rowid (creation) order, never sorting the documents.

Each shape gets a driver the planner cannot get wrong: the ids' unique index, the R*Tree, the
(tenant, type, rid) primary key of `entity_types` (one stream per type, merged by rid) or the
(tenant, rid) index; other conditions filter the driver's rows.
"""

from __future__ import annotations

import heapq
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from cityos.storage.base import EntityQuery
from cityos.storage.sqlite import _filters, _geo, _values
from cityos.storage.sqlite._grants import type_clause
from cityos.storage.sqlite._personal import visible_count

Row = tuple[int, bytes]


@dataclass
class Plan:
    streams: list[tuple[str, list[Any]]]  # each ordered by rid; several are merged
    count: tuple[str, list[Any]]  # the number of rows all streams yield together

    def rows(self, conn: sqlite3.Connection) -> Iterator[Row]:
        if len(self.streams) == 1:
            sql, params = self.streams[0]
            return conn.execute(sql, params)  # type: ignore[return-value]
        return _merged([conn.execute(sql, params) for sql, params in self.streams])

    def page(self, conn: sqlite3.Connection, limit: int, offset: int) -> list[Row]:
        if len(self.streams) == 1:
            sql, params = self.streams[0]
            return conn.execute(f"{sql} LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
        out = []
        for n, row in enumerate(self.rows(conn)):
            if n >= offset + limit:
                break
            if n >= offset:
                out.append(row)
        return out

    def total(self, conn: sqlite3.Connection) -> int:
        sql, params = self.count
        return int(conn.execute(sql, params).fetchone()[0])


def _merged(cursors: list[sqlite3.Cursor]) -> Iterator[Row]:
    last = None
    for row in heapq.merge(*cursors, key=lambda r: r[0]):
        if row[0] != last:  # an entity with several of the asked types comes once
            last = row[0]
            yield row


# Candidates decoded and tested in Python before the JSON prefilter of `_filters` takes over:
# twice the rows a page needs, at most PYTHON_FIRST. The prefilter parses each document in
# SQLite (json_each), so a row that passes it is parsed twice: when most rows match (a page of
# a broad query) Python alone is cheaper; when few do (a selective one) the prefilter is.
# Comparisons the attribute-value index decides (`_values`) cost one seek a row and apply from
# the first row; a selective one drives the query from that index (non-personal rows only).
PYTHON_FIRST = 256


def filtered_rows(conn: sqlite3.Connection, tenant: str, query: EntityQuery, *,
                  who: Where | None = None, personal: bool = False,
                  sealed: bool = False) -> Iterator[Row]:
    """The rows of `query` for an exact predicate to test, in rid order: the first
    candidates without the JSON prefilter, the rest with it (`plan` for `who`, `personal`)."""
    rids = None
    if query.attr_filters and not personal:
        rids = _values.selective(conn, query.attr_filters)
    first = min(PYTHON_FIRST, 2 * (query.offset + query.limit) + 16)
    if first <= 0 or not (query.attrs_any or any(
            _values.test(f) is None for f in query.attr_filters or ())):
        yield from plan(tenant, query, who=who, personal=personal, sealed=sealed,
                        rids=rids).rows(conn)
        return
    bare = replace(query, attrs_any=None, attr_filters=[
        f for f in query.attr_filters or () if _values.test(f) is not None] or None)
    last = None
    for n, row in enumerate(plan(tenant, bare, who=who, personal=personal, sealed=sealed,
                                 rids=rids).rows(conn), start=1):
        yield row
        last = row[0]
        if n >= first:
            break
    else:
        return  # every candidate seen
    yield from plan(tenant, query, after=last, who=who, personal=personal,
                    sealed=sealed, rids=rids).rows(conn)


Where = tuple[str, list[Any]]  # an SQL condition over `e` and its parameters


def plan(tenant: str, query: EntityQuery, *, after: int | None = None,
         who: Where | None = None, personal: bool = False, sealed: bool = False,
         rids: list[int] | None = None) -> Plan:
    """The SQL of `query`; with `after`, only rows after that rid; `who`: the reader's
    condition (issue 6). Where rows may be `personal` (outside the geo and value indexes) the
    geo prefilter, where they may be `sealed` the JSON prefilter, pass every personal row on
    to the exact predicate. `rids`: the only rows that can match (sorted; they drive the plan)."""
    filters: list[str] = []
    params: list[Any] = []
    if who is not None:
        filters.append(who[0])
        params.extend(who[1])
    if query.id_pattern is not None:
        filters.append("regexp(?, e.id)")
        params.append(query.id_pattern)
    # (clause, whether personal rows must pass it unread): a personal row has no indexed
    # values, and a sealed one no JSON SQLite can read
    clauses: list[tuple[Where | None, bool]] = []
    for f in query.attr_filters or ():
        indexed = _values.clause(f)
        clauses.append((indexed, personal) if indexed is not None
                       else (_filters.filter_sql(f), sealed))
    if query.attrs_any:
        clauses.append((_filters.any_attr_sql(query.attrs_any), sealed))
    for found, passes in clauses:
        if found is not None:
            filters.append(f"(e.subject IS NOT NULL OR {found[0]})" if passes else found[0])
            params.extend(found[1])
    types = query.types
    if query.ids is not None or query.geo_bbox is not None or rids is not None:
        where = ["+e.tenant = ?"]
        wparams: list[Any] = [tenant]
        if rids is not None:
            where.append(f"e.rid IN ({','.join(map(str, rids))})" if rids else "0")
        if query.ids is not None:
            where.append(f"e.rid IN (SELECT rid FROM entities WHERE tenant = ? AND id IN "
                         f"({','.join('?' * len(query.ids))}))")
            wparams += [tenant, *query.ids]
        if query.geo_bbox is not None:
            clause, geo_params = _geo.bbox_clause(query.geo_bbox, query.geo_attr)
            if personal:  # both sides by rid, so the R*Tree still drives the plan
                clause = (f"({clause} OR e.rid IN (SELECT rid FROM entities WHERE tenant = ? "
                          f"AND subject IS NOT NULL))")
                geo_params = [*geo_params, tenant]
            where.append(clause)
            wparams += geo_params
        if types is not None:
            where.append(_types_exist(len(types)))
            wparams += [tenant, *types]
        if after is not None:
            where.append("e.rid > ?")
            wparams.append(after)
        sql = _sql("entities e", [*where, *filters])
        return Plan([(sql, [*wparams, *params])], _count(sql, [*wparams, *params]))
    if types is not None:
        streams = []
        from_rid = ([] if after is None else ["t.rid > ?"], [] if after is None else [after])
        for type_iri in dict.fromkeys(types):
            streams.append((
                "SELECT e.rid, e.doc FROM entity_types t CROSS JOIN entities e ON e.rid = t.rid "
                f"WHERE {' AND '.join(['t.tenant = ?', 't.type = ?', *from_rid[0], *filters])} "
                "ORDER BY t.rid", [tenant, type_iri, *from_rid[1], *params]))
        in_types = f"type IN ({','.join('?' * len(types))})"
        if not filters:  # the index alone
            count = (f"SELECT count(DISTINCT rid) FROM entity_types WHERE tenant = ? AND {in_types}",
                     [tenant, *types])
        elif who is not None and filters == [who[0]] and \
                who == type_clause(query.reader):  # issue 18 (type grants alone): the index
            granted = type_clause(query.reader, "t")
            assert granted is not None
            count = (f"SELECT count(DISTINCT t.rid) FROM entity_types t WHERE t.tenant = ? AND "
                     f"t.{in_types} AND {granted[0]}", [tenant, *types, *granted[1]])
        elif who is not None and filters == [who[0]] and len(set(types)) == 1 and \
                type_clause(query.reader) is None:  # issue 6 (the consent filter alone)
            count = visible_count(query.reader, tenant, types[0]) or (
                f"SELECT count(DISTINCT rid) FROM entity_types WHERE tenant = ? AND {in_types}",
                [tenant, *types])
        else:
            count = (f"SELECT count(*) FROM entities e WHERE +e.tenant = ? AND e.rid IN "
                     f"(SELECT rid FROM entity_types WHERE tenant = ? AND {in_types}) AND "
                     f"{' AND '.join(filters)}", [tenant, tenant, *types, *params])
        return Plan(streams, count)
    start = ([] if after is None else ["e.rid > ?"], [] if after is None else [after])
    sql = _sql("entities e", ["e.tenant = ?", *start[0], *filters])
    return Plan([(sql, [tenant, *start[1], *params])], _count(sql, [tenant, *start[1], *params]))


def _types_exist(n: int) -> str:
    return (f"EXISTS (SELECT 1 FROM entity_types t WHERE t.tenant = ? AND t.type IN "
            f"({','.join('?' * n)}) AND t.rid = e.rid)")


def _sql(source: str, where: list[str]) -> str:
    return f"SELECT e.rid, e.doc FROM {source} WHERE {' AND '.join(where)} ORDER BY e.rid"


def _count(sql: str, params: list[Any]) -> tuple[str, list[Any]]:
    return f"SELECT count(*) FROM ({sql.replace('e.rid, e.doc', 'e.rid', 1)})", params
