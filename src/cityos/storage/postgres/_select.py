"""SQL for `EntityQuery` on PostgreSQL: in rid (creation) order, pages by keyset (`rid > n`).

Drivers as in the SQLite engine: ids through the (tenant, id) key, a box through the GiST
index of `geo_boxes`, one type through the (tenant, type, rid) key of `entity_types` (already
in rid order, so a page stops early), else the (tenant, rid) index. Attribute filters and the
personal-data filter are SQL conditions on the driver's rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cityos.storage.base import EntityQuery
from cityos.storage.postgres import _filters
from cityos.storage.postgres._grants import type_clause
from cityos.storage.postgres._personal import reader_clause
from cityos.storage.postgres._sql import Sql


@dataclass
class Plan:
    source: str  # FROM ... (aliases e and, for one type, t)
    where: list[str]
    params: list[Any]
    rid: str  # the column that orders rows: e.rid or t.rid (equal, but t.rid is the index)

    def page(self, after: int | None, limit: int | None, offset: int = 0) -> tuple[str, list[Any]]:
        """Rows (rid, doc, sealed) after rid `after`, at most `limit`."""
        sql = Sql(list(self.params))
        where = list(self.where)
        if after is not None:
            where.append(f"{self.rid} > {sql.param(after)}")
        text = (f"SELECT e.rid, e.doc, e.sealed FROM {self.source} WHERE {' AND '.join(where)} "
                f"ORDER BY {self.rid}")
        if limit is not None:
            text += f" LIMIT {sql.param(limit)}"
        if offset:
            text += f" OFFSET {sql.param(offset)}"
        return text, sql.params

    def count(self) -> tuple[str, list[Any]]:
        return (f"SELECT count(*) FROM {self.source} WHERE {' AND '.join(self.where)}",
                self.params)


def plan(tenant: str, query: EntityQuery, *, personal: bool = False) -> Plan:
    """The SQL of `query` except `predicate`, `id_pattern` and the exact `attrs_any` (Python
    tests them), with its reader's condition (issue 6). Rows whose body is not JSONB (sealed
    personal rows, JSON holding U+0000) pass the JSON prefilters on to the exact predicate
    always (a test of the row's own column: free); personal rows (outside the geo index) pass
    the geo prefilter where the tenant's types may be `personal` (an
    OR there would cost the GiST index its use)."""
    sql = Sql()
    t = sql.param(tenant)
    where = []
    types = list(dict.fromkeys(query.types)) if query.types is not None else None
    if types is not None and len(types) == 1 and query.ids is None and query.geo_bbox is None:
        source, rid = "entity_types t JOIN entities e ON e.rid = t.rid", "t.rid"
        where += [f"t.tenant = {t}", f"t.type = {sql.param(types[0])}"]
    else:
        source, rid = "entities e", "e.rid"
        where.append(f"e.tenant = {t}")
        if types is not None:
            where.append(f"EXISTS (SELECT 1 FROM entity_types t WHERE t.rid = e.rid AND "
                         f"t.tenant = {t} AND t.type = ANY({sql.param(types)}::text[]))")
    if query.ids is not None:
        ids = [i for i in query.ids if "\x00" not in i]  # none can be stored
        where.append(f"e.id = ANY({sql.param(ids)}::text[])")
    if query.geo_bbox is not None:
        minx, miny, maxx, maxy = (float(v) for v in query.geo_bbox)
        box = (f"box(point({sql.param(minx)}, {sql.param(miny)}), "
               f"point({sql.param(maxx)}, {sql.param(maxy)}))")
        attr = f" AND g.attr = {sql.param(query.geo_attr)}" if query.geo_attr else ""
        geo = f"EXISTS (SELECT 1 FROM geo_boxes g WHERE g.rid = e.rid AND g.box && {box}{attr})"
        where.append(f"(e.subject IS NOT NULL OR {geo})" if personal else geo)
    clauses = [_filters.filter_sql(f, sql.param) for f in query.attr_filters or ()]
    if query.attrs_any:
        clauses.append(_filters.any_attr_sql(query.attrs_any, sql.param))
    for clause in clauses:
        if clause is not None:
            where.append(f"(e.doc IS NULL OR {clause})")
    who = reader_clause(query.reader, sql)
    if who is not None:
        where.append(who)
    granted = type_clause(query.reader, sql)
    if granted is not None:
        where.append(granted)
    return Plan(source, where, sql.params, rid)
