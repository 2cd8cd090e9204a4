"""The SQLite attribute-value index (`attr_values`) follows every way a row can change: writes,
deletion, turning personal and back (`reclassify`), and databases migrated from before it."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import orjson

from cityos.storage import EntityQuery, open_store
from cityos.storage.base import DELETE, AttrFilter, Entity
from cityos.storage.sqlite import _values, schema

V = "https://uri.etsi.org/ngsi-ld/default-context/"
T, TEMP, REF = V + "Obs", V + "temperature", V + "refResident"


def obs(n: int, temp: Any) -> Entity:
    return {"id": f"urn:ngsi-ld:Obs:{n}", "type": [T], "attrs": {
        TEMP: [{"type": "Property", "value": temp}],
        REF: [{"type": "Relationship", "object": f"urn:ngsi-ld:Resident:{n}"}]}}


def warm(e: Entity) -> bool:
    return any(isinstance(i.get("value"), int | float) and i["value"] > 20
               for i in e["attrs"].get(TEMP, ()))


def query(selective: bool) -> EntityQuery:
    return EntityQuery(types=[T], predicate=warm, attr_filters=[AttrFilter(TEMP, ">", 20)],
                       limit=100)


async def ids(store: Any, selective: bool = False) -> list[str]:
    saved = _values.SELECTIVE
    _values.SELECTIVE = 2000 if selective else 0
    _values._broad.clear()
    try:
        return [e["id"] for e in (await store.query_entities("", query(selective))).entities]
    finally:
        _values.SELECTIVE = saved


def rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT rid, attr, n, val FROM attr_values ORDER BY 1, 2, 3").fetchall()


class Personal:
    """Obs of resident 1 are personal while `on`."""

    on = True

    def classify(self, tenant: str, entity: Entity) -> tuple[str, str] | None:
        if self.on and entity["id"].endswith(":1"):
            return "res1", "health"
        return None


def test_index_follows_writes_and_turns(tmp_path: Path) -> None:
    asyncio.run(_writes_and_turns(tmp_path))


async def _writes_and_turns(tmp_path: Path) -> None:
    db = tmp_path / "cityos.db"
    store = open_store(f"sqlite:///{db}")
    await store.open()
    classifier = Personal()
    store.set_classifier(classifier)
    try:
        await store.mutate("", [(f"urn:ngsi-ld:Obs:{n}", lambda cur, n=n: (obs(n, 10 + n * 5), None))
                                for n in range(5)])  # 10 15 20 25 30
        assert await ids(store) == ["urn:ngsi-ld:Obs:3", "urn:ngsi-ld:Obs:4"]
        # the personal row (Obs:1) holds no values: they stay inside its (possibly sealed) body
        assert not [r for r in rows(db) if r[0] == 2]
        await store.mutate("", [("urn:ngsi-ld:Obs:0", lambda cur: (obs(0, 21.5), None)),
                                ("urn:ngsi-ld:Obs:4", lambda cur: (obs(4, "hot"), None)),
                                ("urn:ngsi-ld:Obs:3", lambda cur: (DELETE, None))])
        for selective in (False, True):
            assert await ids(store, selective) == ["urn:ngsi-ld:Obs:0"]
        # Obs:1 turns non-personal (the catalog changed): its values are indexed at once
        await store.mutate("", [("urn:ngsi-ld:Obs:1", lambda cur: (obs(1, 99), None))])
        classifier.on = False
        await store.reclassify()
        for selective in (False, True):
            assert await ids(store, selective) == ["urn:ngsi-ld:Obs:0", "urn:ngsi-ld:Obs:1"]
        classifier.on = True
        await store.reclassify()
        assert not [r for r in rows(db) if r[0] == 2]
        assert await ids(store) == ["urn:ngsi-ld:Obs:0"]
    finally:
        await store.close()


def test_migration_indexes_existing_rows(tmp_path: Path) -> None:
    """A database written before migration 13 gets its values indexed by the migration."""
    db = tmp_path / "cityos.db"
    conn = sqlite3.connect(db, isolation_level=None)
    saved = schema.MIGRATIONS[:]
    try:
        del schema.MIGRATIONS[12:]
        schema.migrate(conn)
    finally:
        schema.MIGRATIONS[:] = saved
    for n, temp in enumerate([5, 25, [30], True, "x", 21.5]):
        doc = obs(n, temp)
        rid = conn.execute("INSERT INTO entities (tenant, id, doc) VALUES ('', ?, ?)",
                           (doc["id"], orjson.dumps(doc))).lastrowid
        conn.execute("INSERT INTO entity_types (tenant, type, rid) VALUES ('', ?, ?)", (T, rid))
    conn.execute("INSERT INTO tenants (name, created_at) VALUES ('', '2026-11-22T00:00:00Z')")
    schema.migrate(conn)
    conn.close()
    asyncio.run(_after_migration(db))


async def _after_migration(db: Path) -> None:
    values = {(rid, attr): val for rid, attr, _, val in rows(db)}
    assert [values[(rid, TEMP)] for rid in range(1, 7)] == [5, 25, None, None, "x", 21.5]
    assert values[(1, REF)] is None  # a Relationship: left to the predicate
    store = open_store(f"sqlite:///{db}")
    await store.open()
    try:  # [30] is not a plain value: the predicate decides (and refuses it)
        assert await ids(store) == ["urn:ngsi-ld:Obs:1", "urn:ngsi-ld:Obs:5"]
    finally:
        await store.close()
