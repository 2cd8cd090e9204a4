"""The change log (outbox) and the subscriptions' delivery cursors in PostgreSQL.

Transactions commit in another order than they take sequence numbers, so a row gets its `seq`
only from the sequencer, once no transaction that could still commit a row before it is
running (its xid is below the oldest running xid): a cursor moved past a row can then never
miss one that commits late. Rows are numbered in (xid, id) order (decision 0009).
"""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from cityos.storage.base import Change, Delivery
from cityos.storage.postgres._keys import lock_key
from cityos.storage.sqlite._personal import Personal

_dumps = orjson.dumps
_loads = orjson.loads
_SEQUENCER = lock_key("cityos:changes:sequencer")
_SEQUENCE_AT_ONCE = 20_000
_PRUNE_CHUNK = 20_000
_COMPACT_ROWS = 200_000


async def sequence(conn: asyncpg.Connection) -> int:
    """Number the rows whose transactions can no longer be overtaken; returns how many. When
    another process is numbering at this moment, leaves it to that one."""
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _SEQUENCER):
            return 0
        ids = await conn.fetchval(
            "SELECT array_agg(id) FROM (SELECT id FROM changes WHERE seq IS NULL AND "
            "xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid, id LIMIT $1) AS s",
            _SEQUENCE_AT_ONCE)
        if not ids:
            return 0
        top = await conn.fetchval("UPDATE change_sequence SET seq = seq + $1 RETURNING seq",
                                  len(ids))
        await conn.execute("UPDATE changes c SET seq = $2 + u.n FROM unnest($1::bigint[]) "
                           "WITH ORDINALITY AS u (id, n) WHERE c.id = u.id",
                           ids, top - len(ids))
        return len(ids)


def _change(row: Any, personal: Personal) -> Change:
    seq, tenant, entity_id, types, attrs, op, at, prev = row
    return Change(seq, tenant, entity_id, _loads(types), _loads(attrs), op, at,
                  (personal.loads(tenant, prev) or {}) if prev else {})


class ChangeTables:
    """Mixed into `PostgresStore`: needs its `pool`."""

    _personal: Personal

    @property
    def pool(self) -> asyncpg.Pool:
        raise NotImplementedError

    async def _sequenced(self, conn: asyncpg.Connection) -> None:
        while await sequence(conn) == _SEQUENCE_AT_ONCE:
            pass

    async def changes_after(self, tenant: str, after: int, limit: int = 500) -> list[Change]:
        async with self.pool.acquire() as conn:
            await self._sequenced(conn)
            rows = await conn.fetch("SELECT seq, tenant, entity_id, types, attrs, op, at, prev "
                                    "FROM changes WHERE tenant = $1 AND seq > $2 "
                                    "ORDER BY seq LIMIT $3", tenant, after, limit)
        return [_change(r, self._personal) for r in rows]

    async def backlog(self, tenant: str, after: int) -> int:
        return int(await self.pool.fetchval(
            "SELECT count(*) FROM changes WHERE tenant = $1 AND (seq > $2 OR seq IS NULL)",
            tenant, after))

    async def start_delivery(self, tenant: str, subscription_id: str) -> int:
        async with self.pool.acquire() as conn:
            await self._sequenced(conn)
            async with conn.transaction():
                seq = int(await conn.fetchval("SELECT seq FROM change_sequence"))
                await conn.execute(
                    "INSERT INTO deliveries (tenant, subscription, seq, state) "
                    "VALUES ($1, $2, $3, '{}') ON CONFLICT (tenant, subscription) DO NOTHING",
                    tenant, subscription_id, seq)
        return seq

    async def save_delivery(self, delivery: Delivery) -> None:
        await self.pool.execute(
            "UPDATE deliveries SET seq = greatest(seq, $1), state = $2 "
            "WHERE tenant = $3 AND subscription = $4",
            delivery.seq, _dumps(delivery.state), delivery.tenant, delivery.subscription_id)

    async def get_delivery(self, tenant: str, subscription_id: str) -> Delivery | None:
        row = await self.pool.fetchrow("SELECT seq, state FROM deliveries WHERE tenant = $1 "
                                       "AND subscription = $2", tenant, subscription_id)
        return None if row is None else Delivery(tenant, subscription_id, row[0],
                                                 _loads(row[1]))

    async def list_deliveries(self) -> list[Delivery]:
        rows = await self.pool.fetch("SELECT tenant, subscription, seq, state FROM deliveries "
                                     "ORDER BY tenant, subscription")
        return [Delivery(t, s, q, _loads(b)) for t, s, q, b in rows]

    async def drop_delivery(self, tenant: str, subscription_id: str) -> None:
        await self.pool.execute("DELETE FROM deliveries WHERE tenant = $1 AND subscription = $2",
                                tenant, subscription_id)

    async def prune_changes(self, compact_over: int = 50_000) -> tuple[int, int]:
        async with self.pool.acquire() as conn:
            await self._sequenced(conn)
            async with conn.transaction():
                # one pruner at a time across processes; the others skip this round
                if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)",
                                           lock_key("cityos:changes:pruner")):
                    return 0, 0
                return await _prune(conn), await _compact(conn, compact_over, self._personal)


async def _newest(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT seq FROM change_sequence"))


async def _prune(conn: asyncpg.Connection) -> int:
    """Drop rows every delivery of their tenant is past (all of a tenant without any)."""
    deleted = 0
    newest = await _newest(conn)
    for tenant, first in await conn.fetch("SELECT tenant, min(seq) FROM changes "
                                          "WHERE seq IS NOT NULL GROUP BY tenant"):
        floor = await conn.fetchval("SELECT min(seq) FROM deliveries WHERE tenant = $1", tenant)
        floor = newest if floor is None else floor
        status = await conn.execute("DELETE FROM changes WHERE tenant = $1 AND seq <= $2",
                                    tenant, min(floor, first + _PRUNE_CHUNK))
        deleted += int(status.split()[-1])
    return deleted


async def _compact(conn: asyncpg.Connection, over: int, personal: Personal) -> int:
    """Past `over` undelivered rows keep one row per entity, its newest, carrying the
    attributes and operations of the rows it replaces (as the SQLite engine does)."""
    floor = await conn.fetchval("SELECT min(seq) FROM deliveries")
    floor = await _newest(conn) if floor is None else floor
    pending = await conn.fetchval("SELECT count(*) FROM changes WHERE seq > $1", floor)
    if pending <= over:
        return 0
    groups: dict[tuple[str, str], list[tuple[int, bytes, str, bytes | None]]] = {}
    for seq, tenant, entity_id, attrs, op, prev in await conn.fetch(
            "SELECT seq, tenant, entity_id, attrs, op, prev FROM changes WHERE seq > $1 "
            "ORDER BY seq LIMIT $2", floor, _COMPACT_ROWS):
        groups.setdefault((tenant, entity_id), []).append((seq, attrs, op, prev))
    drop: list[int] = []
    keep: list[tuple[bytes, str, bytes | None, int]] = []
    for (tenant, _id), rows in groups.items():
        if len(rows) < 2:
            continue
        merged: dict[str, str] = {}
        before: dict[str, Any] = {}  # the earliest previous instances are the ones owed
        ops = ""
        subject = None
        for _seq, attrs, op, prev in rows:
            merged.update(_loads(attrs))
            ops += "".join(o for o in op if o not in ops)
            if prev:
                subject = subject or personal.subject_of(prev)
            for iri, instances in ((personal.loads(tenant, prev) if prev else None)
                                   or {}).items():
                before.setdefault(iri, instances)
        drop.extend(row[0] for row in rows[:-1])
        blob = _dumps(before) if before else None
        if blob is not None and subject is not None:
            blob = personal.seal(tenant, subject, blob)
        keep.append((_dumps(merged), ops, blob, rows[-1][0]))
    await conn.executemany("UPDATE changes SET attrs = $1, op = $2, prev = $3 WHERE seq = $4",
                           keep)
    await conn.execute("DELETE FROM changes WHERE seq = ANY($1::bigint[])", drop)
    return len(drop)
