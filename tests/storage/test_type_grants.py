"""Type grants in the store (issue 18), on every engine: a `Reader` with `types` gets only
entities whose types are all granted, on every read path; a `Writer` with `types` changes
only entities whose stored and written types are all granted (`NotGranted` per item)."""

from __future__ import annotations

import asyncio
from typing import Any

from cityos.storage import DELETE, EntityQuery, open_store
from cityos.storage.base import NotGranted, Reader, TemporalQuery, Writer

A = "https://example.org/A"
B = "https://example.org/B"
C = "https://example.org/C"


def entity(name: str, *types: str, value: int = 1) -> dict[str, Any]:
    return {"id": f"urn:x:{name}", "type": list(types), "attrs": {
        "https://example.org/v": [{"type": "Property", "value": value,
                                   "createdAt": "2026-01-01T00:00:00Z",
                                   "modifiedAt": "2026-01-01T00:00:00Z"}]}}


def put(e: dict[str, Any]) -> tuple[str, Any]:
    return e["id"], lambda cur: (e, "ok")


def test_a_reader_gets_only_entities_whose_types_it_may_all_read(db: str) -> None:
    async def scenario() -> None:
        s = open_store(db)
        await s.open()
        try:
            stored = [entity("a", A), entity("b", B), entity("ab", A, B), entity("c", C)]
            assert await s.mutate("", [put(e) for e in stored]) == ["ok"] * 4
            only_a = Reader(types=frozenset({A}))

            async def ids(reader: Reader | None, **query: Any) -> tuple[list[str], int | None]:
                found = await s.query_entities("", EntityQuery(reader=reader, count=True,
                                                               limit=100, **query))
                return sorted(e["id"] for e in found.entities), found.count

            assert await ids(only_a) == (["urn:x:a"], 1)  # typeless
            assert await ids(only_a, types=[A, B]) == (["urn:x:a"], 1)  # not the A-and-B one
            assert await ids(only_a, types=[B, C]) == ([], 0)  # nothing granted: no SQL at all
            assert await ids(only_a, ids=["urn:x:a", "urn:x:ab"]) == (["urn:x:a"], 1)
            assert await ids(only_a, id_pattern="urn:x:.*") == (["urn:x:a"], 1)
            assert await ids(only_a, predicate=lambda e: True) == (["urn:x:a"], 1)
            both = Reader(types=frozenset({A, B}))
            assert await ids(both) == (["urn:x:a", "urn:x:ab", "urn:x:b"], 3)
            page = await s.query_entities("", EntityQuery(reader=both, limit=1, offset=1,
                                                          count=True))
            assert [e["id"] for e in page.entities] == ["urn:x:b"] and page.count == 3
            assert await ids(Reader(types=frozenset())) == ([], 0)
            assert (await ids(Reader()))[1] == 4  # None: every type, no clause
            assert await s.get_entity("", "urn:x:a", only_a) is not None
            assert await s.get_entity("", "urn:x:ab", only_a) is None
            assert await s.get_entity("", "urn:x:ab", both) is not None
            # temporal reads, withheld and foreign answers go by the same rule
            assert await s.withheld("", ["urn:x:a", "urn:x:ab", "urn:x:gone"], only_a) == \
                {"urn:x:ab", "urn:x:gone"}  # a deleted entity's types are unknown: withheld
            assert await s.withheld("", ["urn:x:ab"], None) == set()
            history = await s.temporal_query("", TemporalQuery(
                entity_ids=["urn:x:a", "urn:x:ab"], reader=only_a))
            assert set(history.history) <= {"urn:x:a"}
            foreign = [entity("f1", A), entity("f2", A, C)]
            assert [e["id"] for e in await s.screen("", foreign, only_a)] == ["urn:x:f1"]
        finally:
            await s.close()

    asyncio.run(scenario())


def test_a_writer_changes_only_entities_whose_types_it_may_all_write(db: str) -> None:
    async def scenario() -> None:
        s = open_store(db)
        await s.open()
        try:
            await s.mutate("", [put(entity("b", B)), put(entity("a", A))])
            writer = Writer("org:x", frozenset({A}))
            out = await s.mutate("", [
                put(entity("new-a", A)),  # granted
                put(entity("new-ab", A, B)),  # a type written that is not granted
                ("urn:x:b", lambda cur: ({**cur, "type": [A]}, "ok")),  # stored type B
                ("urn:x:b", lambda cur: (DELETE, "ok")),
                ("urn:x:a", lambda cur: ({**cur, "type": [A, C]}, "ok")),  # adding a type
            ], writer=writer)
            assert out[0] == "ok"
            assert [type(o) for o in out[1:]] == [NotGranted] * 4
            assert "https://example.org/B" in str(out[1])
            assert await s.get_entity("", "urn:x:new-ab") is None
            stored_b = await s.get_entity("", "urn:x:b")
            assert stored_b is not None and stored_b["type"] == [B]
            stored_a = await s.get_entity("", "urn:x:a")
            assert stored_a is not None and stored_a["type"] == [A]
            # history: refused on another's type, and where no entity tells the types
            refused = await s.delete_instances("", "urn:x:b", writer=writer)
            assert isinstance(refused, NotGranted)
            assert isinstance(await s.delete_instances("", "urn:x:none", writer=writer),
                              NotGranted)
            assert isinstance(await s.replace_instance("", "urn:x:b", "https://example.org/v",
                                                       "urn:i", {}, "2026-01-01T00:00:00Z",
                                                       writer=writer), NotGranted)
            assert not isinstance(await s.delete_instances("", "urn:x:a", writer=writer),
                                  NotGranted)
            # a purge deletes what it may write only
            purged = await s.purge_entities("", EntityQuery(), writer=writer)
            assert purged == 2  # urn:x:a and urn:x:new-a
            assert await s.get_entity("", "urn:x:b") is not None
            # "" (the platform) and a writer without type grants write anything
            assert await s.mutate("", [("urn:x:b", lambda cur: (DELETE, "ok"))],
                                  writer=Writer("org:y")) == ["ok"]
        finally:
            await s.close()

    asyncio.run(scenario())
