"""History released under the types it was written under (0012), on every engine: history
written under a type set T_old is released with the entity's current types T_new only when
T_old ⊆ T_new. A write that removes a type, or creates an id again over the history a deleted
entity left, cuts the earlier history off from every temporal read."""

from __future__ import annotations

import asyncio
from typing import Any

from cityos.storage import DELETE, open_store
from cityos.storage.base import Aggregation, Reader, TemporalQuery, Writer

A = "https://example.org/A"
B = "https://example.org/B"
V = "https://example.org/v"
S = "https://example.org/secret"


def entity(name: str, types: list[str], **attrs: Any) -> dict[str, Any]:
    return {"id": f"urn:x:{name}", "type": types, "attrs": {
        k.replace("v", V).replace("secret", S): [{"type": "Property", "value": value}]
        for k, value in attrs.items()}}


def put(e: dict[str, Any]) -> tuple[str, Any]:
    return e["id"], lambda cur: (e, "ok")


def gone(entity_id: str) -> tuple[str, Any]:
    return entity_id, lambda cur: (DELETE, "ok")


def test_history_before_a_removed_type_or_a_re_creation_is_not_released(db: str) -> None:
    async def scenario() -> None:
        s = open_store(db)
        await s.open()
        try:
            async def values(eid: str, reader: Reader | None = None,
                             **kw: Any) -> dict[str, list[Any]]:
                page = await s.temporal_query("", TemporalQuery([eid], reader=reader, **kw))
                return {attr: [i["value"] for i in insts]
                        for attr, insts in page.history.get(eid, {}).items()}

            async def total(eid: str) -> dict[str, Any]:
                out = await s.temporal_aggregate("", TemporalQuery([eid]),
                                                 Aggregation(["totalCount"], None, None))
                return {a: v["totalCount"][0][0] for a, v in out.get(eid, {}).items()}

            # ordinary updates and an added type: the whole history stays
            await s.mutate("", [put(entity("k", [A], v=1, secret="a1"))])
            await s.mutate("", [put(entity("k", [A], v=2, secret="a1"))])
            await s.mutate("", [put(entity("k", [A, B], v=3, secret="a1"))])
            both = Reader(types=frozenset({A, B}))
            assert await values("urn:x:k", both) == {V: [1, 2, 3], S: ["a1"]}

            # a type removed: only what is written from then on
            await s.mutate("", [put(entity("r", [A], v=1, secret="a's"))])
            await s.mutate("", [put(entity("r", [A], v=2, secret="a's"))])
            await s.mutate("", [put(entity("r", [B], v=3))])
            assert await values("urn:x:r") == {V: [3]}
            assert await values("urn:x:r", Reader(types=frozenset({B}))) == {V: [3]}
            assert await values("urn:x:r", attrs=[S]) == {}
            assert await values("urn:x:r", last_n=5) == {V: [3]}
            assert await values("urn:x:r", limit=1) == {V: [3]}  # a page: no empty secret
            page = await s.temporal_query("", TemporalQuery(["urn:x:r"], limit=1))
            assert S not in page.empty.get("urn:x:r", [])
            assert await total("urn:x:r") == {V: 1}
            # a company's temporal writes leave the cut-off rows alone
            assert (await s.delete_instances("", "urn:x:r", S,
                                             writer=Writer("org:b", frozenset({B}))))[0] == 0
            await s.mutate("", [put(entity("r", [B], v=4))])
            assert await values("urn:x:r") == {V: [3, 4]}
            # and a type added back does not bring the older history back
            await s.mutate("", [put(entity("r", [A, B], v=5))])
            assert await values("urn:x:r") == {V: [3, 4, 5]}

            # an id created again after deletion: nothing of the deleted entity's history
            await s.mutate("", [put(entity("d", [A], v=1, secret="a's"))])
            await s.mutate("", [put(entity("d", [A], v=2, secret="a's"))])
            await s.mutate("", [gone("urn:x:d")])
            await s.mutate("", [put(entity("d", [B], v=9))])
            assert await values("urn:x:d") == {V: [9]}
            assert await values("urn:x:d", Reader(types=frozenset({B}))) == {V: [9]}
            assert await total("urn:x:d") == {V: 1}
            # several entities at once: each by its own mark
            page = await s.temporal_query("", TemporalQuery(["urn:x:k", "urn:x:d"]))
            assert {e: sorted(a) for e, a in page.history.items()} == \
                {"urn:x:k": sorted([V, S]), "urn:x:d": [V]}
        finally:
            await s.close()

    asyncio.run(scenario())
