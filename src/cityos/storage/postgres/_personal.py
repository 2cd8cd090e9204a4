"""Personal rows in PostgreSQL (issue 6): who may read them, as SQL, as the SQLite engine does.

A personal row has `subject` (not NULL), `category` and `owner` on `entities`; its body is in
`sealed` (bytes, the vault's) instead of `doc` when a sealer is set. The `Reader` becomes one
WHERE clause (owner, own subjects, or an EXISTS on `grants` by its primary key).
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import orjson

from cityos.storage.base import Entity, Reader
from cityos.storage.postgres._sql import Sql
from cityos.storage.sqlite._personal import Personal

_NOBODY = Reader()


def reader_clause(reader: Reader | None, sql: Sql, alias: str = "e") -> str | None:
    """SQL over `alias`'s subject/category/owner columns: the rows `reader` may see; None
    when it sees everything."""
    reader = _NOBODY if reader is None else reader
    if reader.system:
        return None
    a = alias
    ways = [f"{a}.subject IS NULL"]
    if reader.org:
        ways.append(f"{a}.owner = {sql.param(reader.org)}")
    if reader.residents:
        own = f"{a}.subject = ANY({sql.param(list(reader.residents))}::text[])"
        if reader.categories is not None:
            own += f" AND {a}.category = ANY({sql.param(list(reader.categories))}::text[])"
        ways.append(f"({own})")
    if reader.org:
        purpose = (f" AND g.purpose = {sql.param(reader.purpose)}"
                   if reader.purpose is not None else "")
        ways.append(
            f"EXISTS (SELECT 1 FROM grants g WHERE g.tenant = {a}.tenant AND "
            f"g.recipient = {sql.param(reader.org)} AND g.subject = {a}.subject AND "
            f"g.category = {a}.category{purpose} AND (g.until IS NULL OR "
            f"g.until > {sql.param(time.time())}::float8))")
    return f"({' OR '.join(ways)})"


def decode(personal: Personal, tenant: str, doc: str | None, sealed: bytes | None
           ) -> Entity | None:
    """A stored entity: its JSONB text, or its sealed body opened (None: the key is erased)."""
    if sealed is not None:
        return personal.loads(tenant, sealed)  # type: ignore[no-any-return]
    return None if doc is None else orjson.loads(doc)  # type: ignore[no-any-return]


async def has_personal(conn: asyncpg.Connection | asyncpg.Pool, tenant: str,
                       types: list[str] | None) -> bool:
    """Whether `tenant` ever held a personal row of one of `types` (any type: None)."""
    if types is None:
        return bool(await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM personal_types WHERE tenant = $1)", tenant))
    return bool(await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM personal_types WHERE tenant = $1 AND "
        "type = ANY($2::text[]))", tenant, types))


async def mark(conn: asyncpg.Connection, tenant: str, entity_id: str, types: list[str],
               found: tuple[str, str], owner: str | None) -> None:
    """Record a personal row's subject, category and owner, kept after its deletion."""
    await conn.execute("INSERT INTO personal_types (tenant, type) SELECT $1, unnest($2::text[]) "
                       "ON CONFLICT DO NOTHING", tenant, types)
    await conn.execute(
        "INSERT INTO personal_entities (tenant, entity_id, subject, category, owner) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, entity_id) DO UPDATE SET "
        "subject = excluded.subject, category = excluded.category, "
        "owner = coalesce(personal_entities.owner, excluded.owner)",
        tenant, entity_id, found[0], found[1], owner)


async def withheld(conn: asyncpg.Connection | asyncpg.Pool, tenant: str, entity_ids: list[str],
                   reader: Reader | None) -> set[str]:
    """Of `entity_ids`, the personal ones (existing or not) `reader` may not see."""
    sql = Sql([tenant, list(entity_ids)])
    clause = reader_clause(reader, sql, "p")
    if clause is None or not entity_ids:
        return set()
    rows = await conn.fetch(f"SELECT p.entity_id FROM personal_entities p WHERE p.tenant = $1 "
                            f"AND p.entity_id = ANY($2::text[]) AND NOT {clause}", *sql.params)
    return {r[0] for r in rows}


async def erase(conn: asyncpg.Connection, tenant: str, subject: str) -> int:
    """Delete `subject`'s entities, history, change rows, marks and grants; how many entities."""
    ids = [r[0] for r in await conn.fetch(
        "SELECT entity_id FROM personal_entities WHERE tenant = $1 AND subject = $2",
        tenant, subject)]
    status = await conn.execute("DELETE FROM entities WHERE tenant = $1 AND subject = $2",
                                tenant, subject)
    if ids:
        await conn.execute("DELETE FROM attr_instances WHERE tenant = $1 AND "
                           "entity_id = ANY($2::text[])", tenant, ids)
        await conn.execute("DELETE FROM changes WHERE tenant = $1 AND entity_id = ANY($2::text[])",
                           tenant, ids)
    await conn.execute("DELETE FROM personal_entities WHERE tenant = $1 AND subject = $2",
                       tenant, subject)
    await conn.execute("DELETE FROM grants WHERE tenant = $1 AND subject = $2", tenant, subject)
    return int(status.split()[-1])


async def screen(pool: asyncpg.Pool, personal: Personal, tenant: str, entities: list[Entity],
                 reader: Reader | None) -> list[Entity]:
    """Of entities not read from this store (a context source's answer), those `reader` may
    see, by the same rule as queries (the SQLite engine's `screen`)."""
    reader = _NOBODY if reader is None else reader
    if reader.system or not entities:
        return entities
    hidden = await withheld(pool, tenant, [e["id"] for e in entities], reader)
    out = []
    for entity in entities:
        if entity["id"] in hidden:
            continue
        found = personal.classify(tenant, entity)
        if found is None or await _may_read(pool, tenant, entity["id"], found, reader):
            out.append(entity)
    return out


async def _may_read(pool: asyncpg.Pool, tenant: str, entity_id: str, found: tuple[str, str],
                    reader: Reader) -> bool:
    subject, category = found
    if subject in reader.residents and (reader.categories is None
                                        or category in reader.categories):
        return True
    if not reader.org:
        return False
    args: list[Any] = [tenant, reader.org, subject, category, time.time()]
    purpose = ""
    if reader.purpose is not None:
        args.append(reader.purpose)
        purpose = " AND purpose = $6"
    if await pool.fetchval(f"SELECT EXISTS (SELECT 1 FROM grants WHERE tenant = $1 AND "
                           f"recipient = $2 AND subject = $3 AND category = $4 AND "
                           f"(until IS NULL OR until > $5::float8){purpose})", *args):
        return True
    return bool(await pool.fetchval(
        "SELECT EXISTS (SELECT 1 FROM personal_entities WHERE tenant = $1 AND entity_id = $2 "
        "AND owner = $3)", tenant, entity_id, reader.org))


async def reclassify(conn: asyncpg.Connection, personal: Personal, after: int,
                     limit: int) -> tuple[int | None, int]:
    """Classify again the `limit` entity rows after rid `after` (the catalog changed), as the
    SQLite engine does: a row that became personal is sealed with its history and leaves the
    geo index, one no longer personal is opened and indexed. Each entity is locked as a write
    would lock it. Returns (last rid seen or None at the end, rows changed)."""
    from cityos.storage.postgres import _mutate
    from cityos.storage.sqlite import _history

    batch = await conn.fetch("SELECT rid, tenant, id FROM entities WHERE rid > $1 ORDER BY rid "
                             "LIMIT $2", after, limit)
    if not batch:
        return None, 0
    by_tenant: dict[str, list[str]] = {}
    for _rid, tenant, entity_id in batch:
        by_tenant.setdefault(tenant, []).append(entity_id)
    for tenant in sorted(by_tenant):
        await _mutate.lock(conn, tenant, by_tenant[tenant])
    changed = 0
    for rid, tenant, entity_id, doc, sealed, subject, category, owner in await conn.fetch(
            "SELECT rid, tenant, id, doc, sealed, subject, category, owner FROM entities "
            "WHERE rid = ANY($1::bigint[]) ORDER BY rid", [r[0] for r in batch]):
        data = doc.encode() if sealed is None else personal.plain(tenant, sealed)
        if data is None:
            continue  # sealed under an erased key: nothing to classify
        entity = orjson.loads(data)
        found = personal.classify(tenant, entity)
        if (subject, category) == ((found[0], found[1]) if found else (None, None)):
            continue
        changed += 1
        history = await conn.fetch("SELECT iid, doc FROM attr_instances WHERE tenant = $1 AND "
                                   "entity_id = $2", tenant, entity_id)
        if found is not None:
            body = personal.seal(tenant, found[0], data)
            kept_as_bytes = personal.sealer is not None or b"\\u0000" in data
            await conn.execute(
                "UPDATE entities SET doc = $2::jsonb, sealed = $3, subject = $4, category = $5 "
                "WHERE rid = $1", rid, None if kept_as_bytes else data.decode(),
                body if kept_as_bytes else None, found[0], found[1])
            await conn.execute("DELETE FROM geo_boxes WHERE rid = $1", rid)
            await mark(conn, tenant, entity_id, entity["type"], found, owner)
            await conn.executemany(
                "UPDATE attr_instances SET num = NULL, value_json = NULL, doc = $1 WHERE iid = $2",
                [(personal.seal(tenant, found[0], personal.plain(tenant, bytes(d)) or b"{}"), i)
                 for i, d in history])
        else:
            as_bytes = b"\\u0000" in data
            await conn.execute(
                "UPDATE entities SET doc = $2::jsonb, sealed = $3, subject = NULL, "
                "category = NULL WHERE rid = $1", rid, None if as_bytes else data.decode(),
                data if as_bytes else None)
            await conn.execute(_mutate.REGEO, rid, *_mutate.geo_boxes(entity))
            await conn.execute("DELETE FROM personal_entities WHERE tenant = $1 AND "
                               "entity_id = $2", tenant, entity_id)
            opened = []
            for iid, stored in history:
                plain = personal.plain(tenant, bytes(stored))
                if plain is not None:
                    opened.append((*_history.value_columns(orjson.loads(plain)), plain, iid))
            await conn.executemany("UPDATE attr_instances SET num = $1, value_json = $2, "
                                   "doc = $3 WHERE iid = $4", opened)
    return batch[-1][0], changed
