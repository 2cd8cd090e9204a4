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

from cityos.storage.base import (
    DELETE,
    KEEP,
    Mutation,
    NotOwner,
    SealedUnreadable,
    may_change,
    may_write,
    not_granted,
)
from cityos.storage.postgres import _personal
from cityos.storage.postgres._keys import entity_key
from cityos.storage.sqlite import _history, changes
from cityos.storage.sqlite._geo import GEO_SLOTS, bbox, geo_values
from cityos.storage.sqlite._personal import Personal

_loads = orjson.loads
# entity id -> (rid, JSONB text, body kept as bytes (sealed, or JSON holding U+0000), subject,
# category), None when absent
Row = tuple[int, str | None, bytes | None, str | None, str | None, str | None]  # + owner
Rows = dict[str, Row | None]
_NO_PERSONAL = Personal()

HISTORY_INSERT = (
    "INSERT INTO attr_instances (tenant, entity_id, attr, dataset_id, instance_id, observed_at, "
    "created_at, modified_at, kind, num, value_json, doc) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
CHANGE_INSERT = ("INSERT INTO changes (tenant, entity_id, types, attrs, op, at, prev) "
                 "VALUES ($1, $2, $3, $4, $5, $6, $7)")
_CREATE = """
WITH ins AS (
    INSERT INTO entities (tenant, id, doc, sealed, subject, category, owner)
    VALUES ($1, $2, $3::jsonb, $10, $11, $12, $13) RETURNING rid
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
# the CTE and the INSERT see one snapshot: a type kept must be neither deleted nor inserted
# again (a duplicate key before: [A] -> [A, B] failed)
_RETYPE = """
WITH gone AS (DELETE FROM entity_types WHERE rid = $1 AND type <> ALL($3::text[]))
INSERT INTO entity_types (tenant, type, rid) SELECT $2, unnest($3::text[]), $1
ON CONFLICT DO NOTHING
"""
REGEO = """
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
        found = await conn.fetch("SELECT id, rid, doc, sealed, subject, category, owner "
                                 "FROM entities WHERE tenant = $1 AND id = $2", tenant, ids[0])
    else:
        found = await conn.fetch("SELECT id, rid, doc, sealed, subject, category, owner "
                                 "FROM entities WHERE tenant = $1 AND id = ANY($2::text[])",
                                 tenant, ids)
    for entity_id, *row in found:
        rows[entity_id] = tuple(row)  # type: ignore[assignment]
    return rows


def geo_boxes(entity: dict[str, Any]) -> list[list[Any]]:
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
                pending: Pending, *, record: bool = True, keep: bool = True,
                personal: Personal | None = None, writer: str = "") -> Any:
    """Run one item's mutation and write its outcome; `rows` is kept current for the items
    after it. Changed instances go to the history (`record`); deleting the entity drops its
    history unless `keep`; the change-log row goes to `pending`. A personal entity (the
    classifier of `personal`) is stored sealed with its subject, category and owner (`writer`,
    at creation), and kept out of the geo index (as in the SQLite engine)."""
    personal = personal or _NO_PERSONAL
    row = rows[entity_id]
    old_doc: bytes | None = None
    if row is not None:
        old_doc = (row[1] or "").encode() if row[2] is None else personal.plain(tenant, row[2])
        if old_doc is None and not personal.erased(tenant, row[2] or b""):
            return SealedUnreadable(f"entity {entity_id} is sealed under a key this process "
                                    "cannot open (its resident was not erased)")
        if old_doc is None:  # sealed under an erased key: it is gone
            await conn.execute("DELETE FROM entities WHERE rid = $1", row[0])
            row = None
    current = None if old_doc is None else _loads(old_doc)
    was_personal = row is not None and row[3] is not None
    old_types = None if current is None else list(current["type"])
    old_geo = None if current is None or was_personal else geo_values(current)
    old_attrs = None if current is None else {
        k: len(v) for k, v in current.get("attrs", {}).items()}
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
    if was_personal and row is not None and not may_change(writer, row[5]):
        return NotOwner(f"entity {entity_id} holds a resident's data that {writer} did not "
                        "write / 他社が書いた個人データは変更できません")
    if new is DELETE:
        if row is not None:
            await conn.execute("DELETE FROM entities WHERE rid = $1", row[0])
            rows[entity_id] = None
            change = changes.entry(tenant, entity_id, old_types, old_attrs, None, old_doc)
            if was_personal:
                change = _sealed_change(personal, tenant, row[3] or "", change)
            pending.changes.append(change)
        if not keep:
            await pending.flush(conn)  # this job's own earlier instances go too
            await conn.execute("DELETE FROM attr_instances WHERE tenant = $1 AND entity_id = $2",
                               tenant, entity_id)
        return result
    if personal.classifier is not None:
        found = personal.classify(tenant, new)
    else:  # without a classifier a row keeps what it was
        found = (row[3], row[4] or "") if row is not None and row[3] is not None else None
    raw = orjson.dumps(new)
    doc: str | None = raw.decode()
    sealed = None
    subject, category = found if found is not None else (None, None)
    if found is not None and personal.sealer is not None:
        doc, sealed = None, personal.seal(tenant, found[0], raw)
    elif b"\\u0000" in raw:  # JSONB cannot hold U+0000: the JSON kept as bytes, read as such
        doc, sealed = None, raw
    boxes = geo_boxes(new) if found is None else [[], [], [], [], []]
    if row is None:
        if not pending.known_tenant and tenant != "":
            await conn.execute("INSERT INTO tenants (name, created_at) VALUES ($1, $2) "
                               "ON CONFLICT (name) DO NOTHING", tenant,
                               datetime.now(UTC).isoformat())
        pending.known_tenant = True
        rid = await conn.fetchval(_CREATE, tenant, entity_id, doc, new["type"], *boxes, sealed,
                                  subject, category, writer or None)
        await cut_history(conn, tenant, entity_id, None, new["type"], pending)
    else:
        rid = row[0]
        if found is None and not was_personal:
            await conn.execute("UPDATE entities SET doc = $2::jsonb WHERE rid = $1", rid, doc)
        else:
            await conn.execute("UPDATE entities SET doc = $2::jsonb, sealed = $3, subject = $4, "
                               "category = $5 WHERE rid = $1", rid, doc, sealed, subject,
                               category)
        if new["type"] != old_types:
            await cut_history(conn, tenant, entity_id, old_types, new["type"], pending)
            await conn.execute(_RETYPE, rid, tenant, new["type"])
        new_geo = None if found is not None else geo_values(new)
        if new_geo != old_geo:
            await conn.execute(REGEO, rid, *boxes)
    if found is not None:
        await _personal.mark(conn, tenant, entity_id, new["type"], found,
                             writer or None if row is None else None)
    if record:
        pairs = _history.changed(old_doc, new)
        if pairs:
            now = new.get("modifiedAt") or _history.now_iso()
            seal = None if found is None else sealing(personal, tenant, found[0])
            pending.history += [_history.row(tenant, entity_id, a, i, now, seal)
                                for a, i in pairs]
    rows[entity_id] = (rid, doc, sealed, subject, category,
                       (writer or None) if row is None else row[5])
    change = changes.entry(tenant, entity_id, old_types, old_attrs, new, old_doc)
    if found is not None:
        change = _sealed_change(personal, tenant, found[0], change)
    pending.changes.append(change)
    return result


async def cut_history(conn: asyncpg.Connection, tenant: str, entity_id: str,
                      old_types: list[str] | None, new_types: list[str],
                      pending: Pending) -> None:
    """Cut the history of `entity_id` off from the temporal API when a write removes one of
    its types or creates it again over history it left (as SQLite's `_history.cut_if_needed`).
    The mark is the newest history row now (identity values are never reused, and rows of
    this entity are written under its lock): the write's own instances come after it."""
    if old_types is None:  # a creation: over history left by a deleted entity of this id?
        if await conn.fetchval("SELECT 1 FROM attr_instances WHERE tenant = $1 AND "
                               "entity_id = $2 LIMIT 1", tenant, entity_id) is None:
            return
    elif set(old_types) <= set(new_types):  # types only added: the history stays
        return
    if pending.history:  # earlier items of this transaction: before the mark
        await conn.executemany(HISTORY_INSERT, pending.history)
        pending.history.clear()
    await conn.execute(
        "INSERT INTO history_marks (tenant, entity_id, since) "
        "SELECT $1, $2, coalesce(max(iid), 0) FROM attr_instances "
        "ON CONFLICT (tenant, entity_id) DO UPDATE SET since = excluded.since",
        tenant, entity_id)


def sealing(personal: Personal, tenant: str, subject: str) -> _history.Seal | None:
    if personal.sealer is None:
        return None
    return lambda data: personal.seal(tenant, subject, data)


def _sealed_change(personal: Personal, tenant: str, subject: str,
                   change: tuple[Any, ...]) -> tuple[Any, ...]:
    """A personal entity's change-log row, its previous instances sealed."""
    if change[6] is None:
        return change
    return (*change[:6], personal.seal(tenant, subject, change[6]))
