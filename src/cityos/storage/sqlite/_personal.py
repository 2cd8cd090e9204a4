"""Personal rows in SQLite (issue 6): who may read them, as SQL, and their sealed bodies.

A personal row has `subject` (not NULL), `category` and `owner` columns on `entities`; the
`Reader` becomes one WHERE clause (owner, own subjects, or a grant: an IN and an EXISTS on
an index of `grants`), so the filter runs inside the query that reads the rows.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from cityos.storage.base import Classifier, Entity, Reader, Sealer

SEALED = 0x01  # first byte of a sealed body: 0x01, subject, 0x00, the sealer's bytes
_loads = orjson.loads
_NOBODY = Reader()


@dataclass
class Personal:
    """The engine's personal-data hooks (both None: no personal rows, bodies as they are)."""

    classifier: Classifier | None = None
    sealer: Sealer | None = None

    def classify(self, tenant: str, entity: Entity) -> tuple[str, str] | None:
        if self.classifier is None:
            return None
        return self.classifier.classify(tenant, entity)

    def seal(self, tenant: str, subject: str, doc: bytes) -> bytes:
        """`doc` as stored for a personal row of `subject` (sealed when a sealer is set)."""
        if self.sealer is None:
            return doc
        return bytes((SEALED,)) + subject.encode() + b"\x00" + self.sealer.seal(tenant, subject,
                                                                                 doc)

    def plain(self, tenant: str, stored: bytes) -> bytes | None:
        """The JSON of a stored body; None when it is sealed under an erased key."""
        if not stored or stored[0] != SEALED:
            return stored
        subject, _, data = stored[1:].partition(b"\x00")
        if self.sealer is None:
            return None
        return self.sealer.open(tenant, subject.decode(), data)

    def erased(self, tenant: str, stored: bytes) -> bool:
        """Whether a stored body that does not open was sealed for an erased subject (then it
        is gone for good); False when its key is merely missing here."""
        subject = self.subject_of(stored)
        return self.sealer is not None and subject is not None and \
            self.sealer.erased(tenant, subject)

    @staticmethod
    def subject_of(stored: bytes) -> str | None:
        """The subject a stored body is sealed for; None when it is not sealed."""
        if not stored or stored[0] != SEALED:
            return None
        return stored[1:].partition(b"\x00")[0].decode()

    def loads(self, tenant: str, stored: bytes) -> Any | None:
        """A stored body decoded; None when it is sealed under an erased key."""
        if not stored or stored[0] != SEALED:
            return _loads(stored)
        data = self.plain(tenant, stored)
        return None if data is None else _loads(data)

    def decoder(self, tenant: str) -> Callable[[bytes], Any | None]:
        """`loads` for one tenant (plain orjson where no row can be sealed)."""
        return lambda stored: self.loads(tenant, stored)


def reader_clause(reader: Reader | None, tenant: str, alias: str = "e",
                  now: float | None = None, public: str | None = None, one_row: bool = False
                  ) -> tuple[str, list[Any]] | None:
    """SQL over `alias`'s tenant/subject/category/owner columns: the rows of `tenant` that
    `reader` may see; None when it sees everything. The grant test (schema 16, 17): when the
    reader holds no grant with an end, an IN probe of the grants without one (one cursor for
    the query); else an EXISTS on the same index (a cursor opened again each row, SQLite 3.40).
    `public`: the test for a row that is not personal (default: a NULL subject). `one_row`:
    for a statement that tests one row (a retrieval by id), the EXISTS alone — the choice
    would cost that statement as much as it saves."""
    reader = _NOBODY if reader is None else reader
    if reader.system:
        return None
    sql, fixed, grant = _clause(reader, alias, public or f"{alias}.subject IS NULL", one_row)
    if not reader.org:
        return sql, list(fixed)
    if one_row:
        return sql, [*fixed, *grant, time.time() if now is None else now]
    return sql, [*fixed, reader.org, tenant, *grant, time.time() if now is None else now,
                 *grant]


@lru_cache(maxsize=1024)
def _clause(reader: Reader, a: str, public: str, one_row: bool
            ) -> tuple[str, tuple[Any, ...], tuple[Any, ...]]:
    """The clause, its parameters before the grant test, and the grant's own (recipient,
    purpose). Only text: nothing here can outlive a withdrawal."""
    ways = [public]
    params: list[Any] = []
    if reader.org:
        ways.append(f"{a}.owner = ?")
        params.append(reader.org)
    if reader.residents:
        own = f"{a}.subject IN ({','.join('?' * len(reader.residents))})"
        params += reader.residents
        if reader.categories is not None:
            own += (f" AND {a}.category IN ({','.join('?' * len(reader.categories))})"
                    if reader.categories else " AND 0")
            params += reader.categories
        ways.append(f"({own})")
    grant: tuple[Any, ...] = ()
    if reader.org:  # CASE: one of the two tests only, chosen once per query
        purpose = reader.purpose is not None
        grant = (reader.org, reader.purpose) if purpose else (reader.org,)
        exists = (f"EXISTS (SELECT 1 FROM grants g INDEXED BY grants_for_readers WHERE "
                  f"g.subject = {a}.subject AND g.category = {a}.category AND g.recipient = ? "
                  f"AND g.tenant = {a}.tenant{' AND g.purpose = ?' if purpose else ''} AND "
                  f"(g.until IS NULL OR g.until > ?))")
        ways.append(exists if one_row else (
            f"CASE WHEN EXISTS (SELECT 1 FROM grants INDEXED BY grants_ending WHERE "
            f"recipient = ? AND tenant = ? AND until IS NOT NULL) THEN {exists} "
            f"ELSE ({a}.subject, {a}.category, ?, {a}.tenant, 1{', ?' if purpose else ''}) IN "
            f"(SELECT subject, category, recipient, tenant, forever"
            f"{', purpose' if purpose else ''} FROM grants) END"))
    return f"({' OR '.join(ways)})", tuple(params), grant


def visible_count(reader: Reader | None, tenant: str,
                  type_iri: str) -> tuple[str, list[Any]] | None:
    """The number of rows of one type `reader` may see, as SQL: the sum of the type's
    `personal_counts` groups (schema 14) its clause passes — a test a group, not a row; the
    type index alone when the type never held a personal row. None: it sees everything."""
    clause = reader_clause(reader, tenant, "c", public="c.personal = 0")
    if clause is None:
        return None
    return (f"SELECT CASE WHEN EXISTS (SELECT 1 FROM personal_types WHERE tenant = ? AND "
            f"type = ?) THEN (SELECT coalesce(sum(c.n), 0) FROM personal_counts c WHERE "
            f"c.tenant = ? AND c.type = ? AND {clause[0]}) ELSE (SELECT count(*) FROM "
            f"entity_types WHERE tenant = ? AND type = ?) END",
            [tenant, type_iri, tenant, type_iri, *clause[1], tenant, type_iri])


def uncount_types(conn: sqlite3.Connection, rid: int) -> None:
    """Before the entity_types rows of `rid` go while its entities row stays (a type change):
    take the row out of those types' `personal_counts` groups (schema 18: no trigger on
    entity_types deletion, which cost every entity's deletion). Blocking (writer)."""
    groups = conn.execute(
        "SELECT t.tenant, t.type, e.subject IS NOT NULL, coalesce(e.subject, ''), CASE WHEN "
        "e.subject IS NULL THEN '' ELSE coalesce(e.category, '') END, CASE WHEN e.subject IS "
        "NULL THEN '' ELSE coalesce(e.owner, '') END FROM entity_types t JOIN entities e ON "
        "e.rid = t.rid WHERE t.rid = ?", (rid,)).fetchall()
    for sql in ("UPDATE personal_counts SET n = n - 1", "DELETE FROM personal_counts"):
        conn.executemany(f"{sql} WHERE tenant = ? AND type = ? AND personal = ? AND subject = ? "
                         f"AND category = ? AND owner = ?{' AND n <= 0' if 'DELETE' in sql else ''}",
                         groups)


def has_personal(conn: sqlite3.Connection, tenant: str, types: list[str] | None) -> bool:
    """Whether `tenant` ever held a personal row of one of `types` (any type: None). The
    engine then adds the reader's clause; a tenant without personal rows keeps its plans."""
    if types is None:
        return conn.execute(_ANY_TYPE, (tenant,)).fetchone() is not None
    return conn.execute(_of_types(len(types)), (tenant, *types)).fetchone() is not None


_ANY_TYPE = "SELECT 1 FROM personal_types WHERE tenant = ? LIMIT 1"


@lru_cache(maxsize=64)
def _of_types(n: int) -> str:
    return f"SELECT 1 FROM personal_types WHERE tenant = ? AND type IN ({','.join('?' * n)})"


def mark(conn: sqlite3.Connection, tenant: str, entity_id: str, types: list[str],
         found: tuple[str, str], owner: str | None) -> None:
    """Record a personal row's subject, category and owner where filters and erasure find
    them, also once the entity is deleted (its history and change rows stay personal)."""
    conn.executemany("INSERT OR IGNORE INTO personal_types (tenant, type) VALUES (?, ?)",
                     [(tenant, t) for t in types])
    conn.execute("INSERT INTO personal_entities (tenant, entity_id, subject, category, owner) "
                 "VALUES (?, ?, ?, ?, ?) ON CONFLICT (tenant, entity_id) DO UPDATE SET "
                 "subject = excluded.subject, category = excluded.category, "
                 "owner = coalesce(personal_entities.owner, excluded.owner)",
                 (tenant, entity_id, found[0], found[1], owner))


def withheld(conn: sqlite3.Connection, tenant: str, entity_ids: list[str],
             reader: Reader | None) -> set[str]:
    """Of `entity_ids`, the personal ones (existing or not) `reader` may not see."""
    clause = reader_clause(reader, tenant, "p")
    if clause is None or not entity_ids:
        return set()
    out: set[str] = set()
    for first in range(0, len(entity_ids), 500):
        chunk = entity_ids[first:first + 500]
        out.update(r[0] for r in conn.execute(
            f"SELECT p.entity_id FROM personal_entities p WHERE p.tenant = ? AND p.entity_id IN "
            f"({','.join('?' * len(chunk))}) AND NOT {clause[0]}", [tenant, *chunk, *clause[1]]))
    return out


def erase(conn: sqlite3.Connection, tenant: str, subject: str) -> tuple[list[int], int]:
    """Delete `subject`'s rows everywhere but the entity tables' own indexes (the engine's
    part): returns the rids of its entities and how many there are. Blocking (writer)."""
    rids = [r[0] for r in conn.execute(
        "SELECT rid FROM entities WHERE tenant = ? AND subject = ?", (tenant, subject))]
    ids = [r[0] for r in conn.execute(
        "SELECT entity_id FROM personal_entities WHERE tenant = ? AND subject = ?",
        (tenant, subject))]
    for first in range(0, len(ids), 500):
        chunk = ids[first:first + 500]
        marks = ",".join("?" * len(chunk))
        conn.execute(f"DELETE FROM attr_instances WHERE tenant = ? AND entity_id IN ({marks})",
                     [tenant, *chunk])
        conn.execute(f"DELETE FROM changes WHERE tenant = ? AND entity_id IN ({marks})",
                     [tenant, *chunk])
    conn.execute("DELETE FROM personal_entities WHERE tenant = ? AND subject = ?",
                 (tenant, subject))
    conn.execute("DELETE FROM grants WHERE tenant = ? AND subject = ?", (tenant, subject))
    return rids, len(rids)


def screen(conn: sqlite3.Connection, personal: Personal, tenant: str, entities: list[Entity],
           reader: Reader | None) -> list[Entity]:
    """Of entities not read from this store (a context source's answer), those `reader` may
    see: personal ones (by the classifier, or a stored personal row of the same id) only
    to their subjects, the stored row's owner and grantees — the same rule as in queries."""
    reader = _NOBODY if reader is None else reader
    if reader.system or not entities:
        return entities
    hidden = withheld(conn, tenant, [e["id"] for e in entities], reader)
    now = time.time()
    out = []
    for entity in entities:
        if entity["id"] in hidden:
            continue
        found = personal.classify(tenant, entity)
        if found is None or _may_read(conn, tenant, entity["id"], found, reader, now):
            out.append(entity)
    return out


def _may_read(conn: sqlite3.Connection, tenant: str, entity_id: str, found: tuple[str, str],
              reader: Reader, now: float) -> bool:
    subject, category = found
    if subject in reader.residents and (reader.categories is None
                                        or category in reader.categories):
        return True
    if not reader.org:
        return False
    if reader.purpose is None:
        grant = ("SELECT 1 FROM grants WHERE tenant = ? AND recipient = ? AND subject = ? AND "
                 "category = ? AND (until IS NULL OR until > ?)", [tenant, reader.org, subject,
                                                                    category, now])
    else:
        grant = ("SELECT 1 FROM grants WHERE tenant = ? AND recipient = ? AND subject = ? AND "
                 "category = ? AND purpose = ? AND (until IS NULL OR until > ?)",
                 [tenant, reader.org, subject, category, reader.purpose, now])
    if conn.execute(*grant).fetchone() is not None:
        return True
    return conn.execute("SELECT 1 FROM personal_entities WHERE tenant = ? AND entity_id = ? "
                        "AND owner = ?", (tenant, entity_id, reader.org)).fetchone() is not None


def reclassify(conn: sqlite3.Connection, personal: Personal, after: int,
               limit: int) -> tuple[int | None, int]:
    """Classify again the `limit` entity rows after rid `after` (the catalog changed): a row
    that became personal is sealed with its history and leaves the geo index, one that is no
    longer personal is opened and indexed. Returns (last rid seen or None at the end, rows
    changed). Blocking (writer)."""
    from cityos.storage.sqlite import _geo, _history

    rows = conn.execute("SELECT rid, tenant, id, doc, subject, category, owner FROM entities "
                        "WHERE rid > ? ORDER BY rid LIMIT ?", (after, limit)).fetchall()
    changed = 0
    for rid, tenant, entity_id, stored, subject, category, owner in rows:
        data = personal.plain(tenant, stored)
        if data is None:
            continue  # sealed under an erased key: nothing to classify
        entity = _loads(data)
        found = personal.classify(tenant, entity)
        if (subject, category) == ((found[0], found[1]) if found else (None, None)):
            continue
        changed += 1
        history = conn.execute("SELECT iid, doc FROM attr_instances WHERE tenant = ? AND "
                               "entity_id = ?", (tenant, entity_id)).fetchall()
        if found is not None:
            conn.execute("UPDATE entities SET doc = ?, subject = ?, category = ? WHERE rid = ?",
                         (personal.seal(tenant, found[0], data), found[0], found[1], rid))
            if subject is None:
                _geo.unindex_first(conn, rid, len(_geo.geo_values(entity)))
            mark(conn, tenant, entity_id, entity["type"], found, owner)
            conn.executemany(
                "UPDATE attr_instances SET num = NULL, value_json = NULL, doc = ? WHERE iid = ?",
                [(personal.seal(tenant, found[0], personal.plain(tenant, doc) or b"{}"), iid)
                 for iid, doc in history])
        else:
            conn.execute("UPDATE entities SET doc = ?, subject = NULL, category = NULL "
                         "WHERE rid = ?", (data, rid))
            _geo.index(conn, rid, entity)
            conn.execute("DELETE FROM personal_entities WHERE tenant = ? AND entity_id = ?",
                         (tenant, entity_id))
            opened = []
            for iid, doc in history:
                plain = personal.plain(tenant, doc)
                if plain is not None:
                    opened.append((*_history.value_columns(_loads(plain)), plain, iid))
            conn.executemany("UPDATE attr_instances SET num = ?, value_json = ?, doc = ? "
                             "WHERE iid = ?", opened)
    return (rows[-1][0] if rows else None), changed
