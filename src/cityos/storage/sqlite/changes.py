"""The change log (outbox) and the subscriptions' delivery cursors in SQLite.

A row per entity a write created, changed or deleted is appended in the write's own transaction
(`entry`, called from the engine's mutation); deliveries read after their cursor (§5.8.6).
"""

from __future__ import annotations

import sqlite3
import time
from typing import TYPE_CHECKING, Any

import orjson

from cityos.storage.base import Change, Delivery

if TYPE_CHECKING:
    from cityos.storage.sqlite._personal import Personal
    from cityos.storage.sqlite.writer import Writer

INSERT = ("INSERT INTO changes (tenant, entity_id, types, attrs, op, at, prev) "
          "VALUES (?, ?, ?, ?, ?, ?, ?)")
_dumps = orjson.dumps
_loads = orjson.loads
_PRUNE_CHUNK = 20_000
_COMPACT_ROWS = 200_000


def entry(tenant: str, entity_id: str, old_types: list[str] | None,
          old_attrs: dict[str, int] | list[str] | None, new: dict[str, Any] | None,
          old_doc: bytes | None = None) -> tuple[Any, ...]:
    """The change-log row of one written entity: `old_*` as stored before (None: it was absent),
    `new` as written (None: deleted); `old_attrs` maps each attribute to its number of
    instances. Attributes touched by the write carry its modifiedAt.
    The previous instances of updated and deleted attributes come from `old_doc`."""
    at = int(time.time() * 1000)
    if new is None:  # every attribute goes with the entity; "@entity" keeps its own times
        old = _loads(old_doc) if old_doc is not None else {}
        gone = dict(old.get("attrs", {}))
        gone["@entity"] = [{k: old[k] for k in ("createdAt", "modifiedAt") if k in old}]
        return (tenant, entity_id, _dumps(old_types or []), _dumps(dict.fromkeys(old_attrs or (),
                "d")), "d", at, _dumps(gone))
    attrs: dict[str, str] = {}
    stamp = new.get("modifiedAt")
    new_attrs = new.get("attrs", {})
    for iri, instances in new_attrs.items():
        if old_attrs is None or iri not in old_attrs:
            attrs[iri] = "c"
        elif any(i.get("modifiedAt") == stamp for i in instances):
            attrs[iri] = "u"
        elif isinstance(old_attrs, dict) and len(instances) < old_attrs[iri]:
            attrs[iri] = "d"  # some of its instances (datasetIds) were deleted
    for iri in old_attrs or ():
        if iri not in new_attrs:
            attrs[iri] = "d"
    prev = None
    if old_doc is not None and any(o != "c" for o in attrs.values()):
        before = _loads(old_doc).get("attrs", {})
        prev = _dumps({iri: before[iri] for iri, o in attrs.items() if o != "c" and iri in before})
    return (tenant, entity_id, _dumps(new["type"]), _dumps(attrs),
            "c" if old_types is None else "u", at, prev)


def _change(row: tuple[Any, ...], personal: Personal) -> Change:
    seq, tenant, entity_id, types, attrs, op, at, prev = row
    return Change(seq, tenant, entity_id, _loads(types), _loads(attrs), op, at,
                  (personal.loads(tenant, prev) or {}) if prev else {})


def _newest(conn: sqlite3.Connection) -> int:
    # AUTOINCREMENT's high-water mark: never reused, even after every row was pruned
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'changes'").fetchone()
    return 0 if row is None else int(row[0])


class ChangeTables:
    """Mixed into `SqliteStore`: needs its `_writer` and read connection `_r`."""

    _writer: Writer
    _personal: Personal

    @property
    def _r(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def changes_after(self, tenant: str, after: int, limit: int = 500) -> list[Change]:
        rows = self._r.execute("SELECT seq, tenant, entity_id, types, attrs, op, at, prev "
                               "FROM changes "
                               "WHERE seq > ? AND tenant = ? ORDER BY seq LIMIT ?",
                               (after, tenant, limit))
        personal = self._personal
        return [_change(r, personal) for r in rows]

    async def backlog(self, tenant: str, after: int) -> int:
        row = self._r.execute("SELECT count(*) FROM changes WHERE seq > ? AND tenant = ?",
                              (after, tenant)).fetchone()
        return int(row[0])

    async def start_delivery(self, tenant: str, subscription_id: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            seq = _newest(conn)
            conn.execute("INSERT INTO deliveries (tenant, subscription, seq, state) "
                         "VALUES (?, ?, ?, '{}') ON CONFLICT (tenant, subscription) DO NOTHING",
                         (tenant, subscription_id, seq))
            return seq

        return await self._writer.submit(job)  # type: ignore[no-any-return]

    async def save_delivery(self, delivery: Delivery) -> None:
        blob = _dumps(delivery.state)
        await self._writer.submit(lambda conn: conn.execute(
            "UPDATE deliveries SET seq = max(seq, ?), state = ? "
            "WHERE tenant = ? AND subscription = ?",
            (delivery.seq, blob, delivery.tenant, delivery.subscription_id)))

    async def get_delivery(self, tenant: str, subscription_id: str) -> Delivery | None:
        row = self._r.execute("SELECT seq, state FROM deliveries WHERE tenant = ? AND "
                              "subscription = ?", (tenant, subscription_id)).fetchone()
        return None if row is None else Delivery(tenant, subscription_id, row[0], _loads(row[1]))

    async def list_deliveries(self) -> list[Delivery]:
        rows = self._r.execute("SELECT tenant, subscription, seq, state FROM deliveries")
        return [Delivery(t, s, q, _loads(b)) for t, s, q, b in rows]

    async def drop_delivery(self, tenant: str, subscription_id: str) -> None:
        await self._writer.submit(lambda conn: conn.execute(
            "DELETE FROM deliveries WHERE tenant = ? AND subscription = ?",
            (tenant, subscription_id)))

    async def prune_changes(self, compact_over: int = 50_000) -> tuple[int, int]:
        personal = self._personal

        def job(conn: sqlite3.Connection) -> tuple[int, int]:
            return _prune(conn), _compact(conn, compact_over, personal)

        return await self._writer.submit(job)  # type: ignore[no-any-return]


def _prune(conn: sqlite3.Connection) -> int:
    """Drop rows every delivery of their tenant is past (all of a tenant without any)."""
    deleted = 0
    newest = _newest(conn)
    for tenant, first in conn.execute("SELECT tenant, min(seq) FROM changes GROUP BY tenant"
                                      ).fetchall():
        row = conn.execute("SELECT min(seq) FROM deliveries WHERE tenant = ?", (tenant,)
                           ).fetchone()
        floor = newest if row[0] is None else row[0]
        deleted += conn.execute("DELETE FROM changes WHERE seq <= ? AND tenant = ?",
                                (min(floor, first + _PRUNE_CHUNK), tenant)).rowcount
    return deleted


def _compact(conn: sqlite3.Connection, over: int, personal: Personal | None = None) -> int:
    """Bounded backlog: past `over` undelivered rows, keep one row per entity — its newest, with
    the attributes and operations of the rows it replaces — so that the log holds at most one
    row per changed entity. Deliveries render the entity's current state, so nothing is lost:
    a receiver gets the latest state once instead of every intermediate one."""
    row = conn.execute("SELECT min(seq) FROM deliveries").fetchone()
    floor = row[0] if row[0] is not None else _newest(conn)
    pending = conn.execute("SELECT count(*) FROM changes WHERE seq > ?", (floor,)).fetchone()[0]
    if pending <= over:
        return 0
    groups: dict[tuple[str, str], list[tuple[int, bytes, str, bytes | None]]] = {}
    for seq, tenant, entity_id, attrs, op, prev in conn.execute(
            "SELECT seq, tenant, entity_id, attrs, op, prev FROM changes WHERE seq > ? "
            "ORDER BY seq LIMIT ?", (floor, _COMPACT_ROWS)):
        groups.setdefault((tenant, entity_id), []).append((seq, attrs, op, prev))
    drop: list[tuple[int]] = []
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
            if prev and personal is not None:
                subject = subject or personal.subject_of(prev)
            opened = (personal.loads(tenant, prev) if personal is not None else _loads(prev)
                      ) if prev else None
            for iri, instances in (opened or {}).items():
                before.setdefault(iri, instances)
        drop.extend((row[0],) for row in rows[:-1])
        blob = _dumps(before) if before else None
        if blob is not None and subject is not None and personal is not None:
            blob = personal.seal(tenant, subject, blob)
        keep.append((_dumps(merged), ops, blob, rows[-1][0]))
    conn.executemany("UPDATE changes SET attrs = ?, op = ?, prev = ? WHERE seq = ?", keep)
    conn.executemany("DELETE FROM changes WHERE seq = ?", drop)
    return len(drop)
