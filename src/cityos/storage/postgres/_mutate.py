"""Read-modify-write of entities inside one PostgreSQL transaction (decision 0002's mutations).

Each entity is locked by a transaction-scoped advisory lock on (tenant, id), taken in key
order before it is read, so concurrent writers of one entity — in this process or another,
creating it or changing it — run one after the other, and never deadlock each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from cityos.storage.base import DELETE, KEEP, Mutation
from cityos.storage.postgres._keys import entity_key
from cityos.storage.sqlite import _history, changes
from cityos.storage.sqlite._geo import GEO_SLOTS, bbox, geo_values

_loads = orjson.loads
Rows = dict[str, tuple[int, str] | None]  # entity id -> (rid, stored JSON text) or absent

HISTORY_INSERT = (
    "INSERT INTO attr_instances (tenant, entity_id, attr, dataset_id, instance_id, observed_at, "
    "created_at, modified_at, kind, num, value_json, doc) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
CHANGE_INSERT = ("INSERT INTO changes (tenant, entity_id, types, attrs, op, at, prev) "
                 "VALUES ($1, $2, $3, $4, $5, $6, $7)")
_CREATE = """
WITH ins AS (
    INSERT INTO entities (tenant, id, doc) VALUES ($1, $2, $3::jsonb) RETURNING rid
), types AS (
    INSERT INTO entity_types (tenant, type, rid) SELECT $1, unnest($4::text[]), rid FROM ins
), geo AS (
    INSERT INTO geo_boxes (rid, attr, box)
    SELECT ins.rid, g.attr, box(point(g.x1, g.y1), point(g.x2, g.y2))
    FROM ins, unnest($5::text[], $6::float8[], $7::float8[], $8::float8[], $9::float8[])
        AS g (attr, x1, y1, x2, y2)
)
SELECT rid FROM ins
"""
_RETYPE = """
WITH gone AS (DELETE FROM entity_types WHERE rid = $1)
INSERT INTO entity_types (tenant, type, rid) SELECT $2, unnest($3::text[]), $1
"""
_REGEO = """
WITH gone AS (DELETE FROM geo_boxes WHERE rid = $1)
INSERT INTO geo_boxes (rid, attr, box)
SELECT $1, g.attr, box(point(g.x1, g.y1), point(g.x2, g.y2))
FROM unnest($2::text[], $3::float8[], $4::float8[], $5::float8[], $6::float8[])
    AS g (attr, x1, y1, x2, y2)
"""


@dataclass
class Pending:
    """History and change-log rows of a transaction, inserted together before it commits."""

    known_tenant: bool = False  # the tenant's row exists (else the first creation adds it)
    history: list[tuple[Any, ...]] = field(default_factory=list)
    changes: list[tuple[Any, ...]] = field(default_factory=list)

    async def flush(self, conn: asyncpg.Connection) -> None:
        if self.history:
            await conn.executemany(HISTORY_INSERT, self.history)
            self.history.clear()
        if self.changes:
            await conn.executemany(CHANGE_INSERT, self.changes)
            self.changes.clear()


async def lock(conn: asyncpg.Connection, tenant: str, ids: list[str]) -> None:
    """Take the entities' advisory locks (held to the end of the transaction), in key order."""
    keys = sorted({entity_key(tenant, i) for i in ids})
    if len(keys) == 1:
        await conn.execute("SELECT pg_advisory_xact_lock($1)", keys[0])
    elif keys:
        await conn.execute("SELECT count(pg_advisory_xact_lock(k)) FROM "
                           "(SELECT unnest($1::bigint[]) AS k ORDER BY 1) AS s", keys)


async def fetch(conn: asyncpg.Connection, tenant: str, ids: list[str]) -> Rows:
    """The stored rows of `ids` (after `lock`: nobody else changes them until commit)."""
    rows: Rows = dict.fromkeys(ids)
    if len(ids) == 1:
        found = await conn.fetch("SELECT id, rid, doc FROM entities WHERE tenant = $1 AND id = $2",
                                 tenant, ids[0])
    else:
        found = await conn.fetch("SELECT id, rid, doc FROM entities WHERE tenant = $1 AND "
                                 "id = ANY($2::text[])", tenant, ids)
    for entity_id, rid, doc in found:
        rows[entity_id] = (rid, doc)
    return rows


def _boxes(entity: dict[str, Any]) -> list[list[Any]]:
    """Columns (attrs, min x, min y, max x, max y) of the entity's GeoProperty boxes."""
    cols: list[list[Any]] = [[], [], [], [], []]
    n = 0
    for attr, instances in entity.get("attrs", {}).items():
        for inst in instances:
            if inst.get("type") == "GeoProperty" and n < GEO_SLOTS:
                box = bbox(inst.get("value"))
                if box is not None:
                    n += 1
                    for col, value in zip(cols, (attr, *box), strict=True):
                        col.append(value)
    return cols


async def apply(conn: asyncpg.Connection, tenant: str, entity_id: str, fn: Mutation, rows: Rows,
                pending: Pending, *, record: bool = True, keep: bool = True) -> Any:
    """Run one item's mutation and write its outcome; `rows` is kept current for the items
    after it. Changed instances go to the history (`record`); deleting the entity drops its
    history unless `keep`; the change-log row goes to `pending`."""
    row = rows[entity_id]
    current = None if row is None else _loads(row[1])
    old_types = None if current is None else list(current["type"])
    old_geo = None if current is None else geo_values(current)
    old_attrs = None if current is None else {
        k: len(v) for k, v in current.get("attrs", {}).items()}
    try:
        new, result = fn(current)
    except Exception as exc:  # the caller's verdict on this item (e.g. BadRequestData)
        return exc
    if new is KEEP:
        return result
    if new is DELETE:
        if row is not None:
            await conn.execute("DELETE FROM entities WHERE rid = $1", row[0])
            rows[entity_id] = None
            pending.changes.append(changes.entry(tenant, entity_id, old_types, old_attrs, None,
                                                 row[1]))
        if not keep:
            await pending.flush(conn)  # this job's own earlier instances go too
            await conn.execute("DELETE FROM attr_instances WHERE tenant = $1 AND entity_id = $2",
                               tenant, entity_id)
        return result
    doc = orjson.dumps(new).decode()
    if row is None:
        if not pending.known_tenant and tenant != "":
            await conn.execute("INSERT INTO tenants (name, created_at) VALUES ($1, $2) "
                               "ON CONFLICT (name) DO NOTHING", tenant,
                               datetime.now(UTC).isoformat())
        pending.known_tenant = True
        rid = await conn.fetchval(_CREATE, tenant, entity_id, doc, new["type"], *_boxes(new))
    else:
        rid = row[0]
        await conn.execute("UPDATE entities SET doc = $2::jsonb WHERE rid = $1", rid, doc)
        if new["type"] != old_types:
            await conn.execute(_RETYPE, rid, tenant, new["type"])
        if geo_values(new) != old_geo:
            await conn.execute(_REGEO, rid, *_boxes(new))
    if record:
        pairs = _history.changed(None if row is None else row[1], new)
        if pairs:
            now = new.get("modifiedAt") or _history.now_iso()
            pending.history += [_history.row(tenant, entity_id, a, i, now) for a, i in pairs]
    rows[entity_id] = (rid, doc)
    pending.changes.append(changes.entry(tenant, entity_id, old_types, old_attrs, new,
                                         None if row is None else row[1]))
    return result
