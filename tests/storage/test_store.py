"""The `Store` contract, run against every engine from one parametrised fixture (`db`)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cityos.storage import DELETE, KEEP, EntityQuery, open_store
from cityos.storage.base import AttrFilter

T = "https://example.org/T"
U = "https://example.org/U"
LOC = "https://uri.etsi.org/ngsi-ld/location"


def entity(num: int, type_: str = T, lon: float | None = None, **attrs: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"id": f"urn:x:{num}", "type": [type_], "attrs": {
        k: [{"type": "Property", "value": v}] for k, v in attrs.items()}}
    if lon is not None:
        e["attrs"][LOC] = [{"type": "GeoProperty",
                            "value": {"type": "Point", "coordinates": [lon, 34.9]}}]
    return e


def put(e: dict[str, Any]) -> tuple[str, Any]:
    return e["id"], lambda cur: (e, "ok")


def run(coro: Any) -> Any:
    return asyncio.run(coro)



def test_mutations_are_atomic_per_item_and_durable(db: str) -> None:
    async def scenario() -> None:
        s = open_store(db)
        await s.open()

        def boom(cur: Any) -> Any:
            raise ValueError("refused")

        results = await s.mutate("", [put(entity(1, a=1)), ("urn:x:2", boom), put(entity(3))])
        assert results[0] == "ok" and isinstance(results[1], ValueError) and results[2] == "ok"
        await s.close()
        s = open_store(db)  # reopen: what was acknowledged is there
        await s.open()
        assert (await s.get_entity("", "urn:x:1"))["attrs"]  # type: ignore[index]
        assert await s.get_entity("", "urn:x:2") is None
        assert await s.get_entity("", "urn:x:3") is not None
        await s.close()

    run(scenario())


def test_keep_and_delete(db: str) -> None:
    async def scenario() -> None:
        s = open_store(db)
        await s.open()
        await s.mutate("", [put(entity(1, a=1))])
        assert await s.mutate("", [("urn:x:1", lambda cur: (KEEP, cur["attrs"]))]) != [None]
        assert await s.mutate("", [("urn:x:1", lambda cur: (DELETE, True))]) == [True]
        assert await s.get_entity("", "urn:x:1") is None
        await s.close()

    run(scenario())


def test_concurrent_writers_share_commits(db: str) -> None:
    async def scenario() -> None:
        s = open_store(db)
        await s.open()
        await asyncio.gather(*(s.mutate("", [put(entity(i, a=i))]) for i in range(500)))
        stats = s.stats()  # type: ignore[attr-defined]
        assert stats["jobs"] == 500
        if db.startswith("sqlite"):  # one writer, group commit: several requests per transaction
            assert stats["commits"] < 500
        found = await s.query_entities("", EntityQuery(types=[T], limit=1000, count=True))
        assert found.count == 500
        await s.close()

    run(scenario())


def test_read_modify_write_is_serialised(db: str) -> None:
    async def scenario() -> None:
        s = open_store(db)
        await s.open()
        await s.mutate("", [put(entity(1, n=0))])

        def increment(cur: Any) -> Any:
            new = {**cur, "attrs": {**cur["attrs"]}}
            n = cur["attrs"]["n"][0]["value"]
            new["attrs"]["n"] = [{"type": "Property", "value": n + 1}]
            return new, None

        await asyncio.gather(*(s.mutate("", [("urn:x:1", increment)]) for _ in range(200)))
        got = await s.get_entity("", "urn:x:1")
        assert got["attrs"]["n"][0]["value"] == 200  # type: ignore[index]
        await s.close()

    run(scenario())


def test_queries_use_types_ids_patterns_geo_and_tenants(db: str) -> None:
    async def scenario() -> None:
        s = open_store(db)
        await s.open()
        await s.mutate("", [put(entity(i, T if i % 2 else U, lon=135.0 + i / 100, a=i))
                            for i in range(1, 21)])
        await s.mutate("toyono", [put(entity(99, T))])

        async def ids(**kw: Any) -> list[str]:
            kw.setdefault("limit", 100)
            return [e["id"] for e in (await s.query_entities("", EntityQuery(**kw))).entities]

        assert len(await ids(types=[T])) == 10
        assert await ids(ids=["urn:x:3", "urn:x:4"], types=[T]) == ["urn:x:3"]
        assert await ids(id_pattern=r"urn:x:1\d") == [f"urn:x:{i}" for i in range(10, 20)]
        assert await ids(geo_bbox=(135.045, 34.0, 135.075, 35.0), geo_attr=LOC) == \
            ["urn:x:5", "urn:x:6", "urn:x:7"]
        assert await ids(predicate=lambda e: e["attrs"]["a"][0]["value"] > 18) == \
            ["urn:x:19", "urn:x:20"]
        page = await s.query_entities("", EntityQuery(types=[T], limit=3, offset=3, count=True))
        assert [e["id"] for e in page.entities] == ["urn:x:7", "urn:x:9", "urn:x:11"]
        assert page.count == 10
        assert await s.tenant_exists("toyono") and not await s.tenant_exists("nose")
        other = await s.query_entities("toyono", EntityQuery(limit=10))
        assert [e["id"] for e in other.entities] == ["urn:x:99"]
        assert await s.purge_entities("", EntityQuery(types=[U])) == 10
        assert len(await ids()) == 10
        await s.close()

    run(scenario())


def test_geo_index_follows_updates(db: str) -> None:
    async def scenario() -> None:
        s = open_store(db)
        await s.open()
        await s.mutate("", [put(entity(1, lon=135.0))])
        await s.mutate("", [put(entity(1, lon=136.0))])
        box_old = EntityQuery(geo_bbox=(134.9, 34.0, 135.1, 35.0), geo_attr=LOC)
        box_new = EntityQuery(geo_bbox=(135.9, 34.0, 136.1, 35.0), geo_attr=LOC)
        assert (await s.query_entities("", box_old)).entities == []
        assert len((await s.query_entities("", box_new)).entities) == 1
        await s.mutate("", [("urn:x:1", lambda cur: (DELETE, None))])
        assert (await s.query_entities("", box_new)).entities == []
        await s.close()

    run(scenario())


def test_kv_documents(db: str) -> None:
    async def scenario() -> None:
        s = open_store(db)
        await s.open()
        await s.kv_put("contexts", "a", {"x": 1})
        await s.kv_put("contexts", "a", {"x": 2})
        assert await s.kv_get("contexts", "a") == {"x": 2}
        assert await s.kv_list("contexts") == [("a", {"x": 2})]
        assert await s.kv_delete("contexts", "a") and not await s.kv_delete("contexts", "a")
        await s.close()

    run(scenario())


def test_kv_add_keeps_the_first_value_across_processes(db: str) -> None:
    """Two stores on one database (as two cityos processes) race to make a shared secret:
    both end up with the same one, the first that was stored."""
    async def scenario() -> None:
        a, b = open_store(db), open_store(db)
        await a.open()
        await b.open()
        try:
            got = await asyncio.gather(*(s.kv_add("secrets", "hmac", {"key": n})
                                         for n, s in enumerate([a, b, a, b])))
            assert len({g["key"] for g in got}) == 1
            assert await a.kv_get("secrets", "hmac") == await b.kv_get("secrets", "hmac") \
                == got[0]
            assert await b.kv_add("secrets", "hmac", {"key": "later"}) == got[0]
        finally:
            await a.close()
            await b.close()

    run(scenario())


def test_sqlite_is_wal_and_durable(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"

    async def scenario() -> None:
        s = open_store(f"sqlite:///{path}")
        await s.open()
        await s.close()

    run(scenario())
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    with pytest.raises(RuntimeError, match="newer than this cityos"):
        run(scenario())


def test_any_text_is_stored_and_found(db: str) -> None:
    """U+0000 and other control characters in values (PostgreSQL's JSONB cannot hold U+0000)."""
    async def scenario() -> None:
        s = open_store(db)
        await s.open()
        odd = "a\u0000b\u0001\U0001f600"
        await s.mutate("", [put(entity(1, a=odd)), put(entity(2, a="plain"))])
        got = await s.get_entity("", "urn:x:1")
        assert got is not None and got["attrs"]["a"][0]["value"] == odd
        found = await s.query_entities("", EntityQuery(
            types=[T], predicate=lambda e: e["attrs"]["a"][0]["value"] == odd,
            attr_filters=[AttrFilter("a", "==", odd)]))
        assert [e["id"] for e in found.entities] == ["urn:x:1"]
        await s.mutate("", [("urn:x:1", lambda cur: ({**cur, "attrs": {"a": [
            {"type": "Property", "value": "plain"}]}}, None))])  # and back to JSON
        found = await s.query_entities("", EntityQuery(attr_filters=[AttrFilter("a", "==", "plain")],
                                                       predicate=lambda e: True, limit=10))
        assert [e["id"] for e in found.entities] == ["urn:x:1", "urn:x:2"]
        await s.close()

    run(scenario())
