"""The change log (outbox) and delivery cursors of the `Store`, against every engine."""

from __future__ import annotations

import asyncio
from typing import Any

from cityos.storage import DELETE, KEEP, open_store
from cityos.storage.base import Delivery

T = "https://example.org/T"
A = "https://example.org/a"
B = "https://example.org/b"


def doc(num: int, stamp: str, **attrs: Any) -> dict[str, Any]:
    stamp = f"2026-01-01T00:00:{int(stamp[1:]):02d}Z"
    return {"id": f"urn:x:{num}", "type": [T], "modifiedAt": stamp,
            "attrs": {k: [{"type": "Property", "value": v, "modifiedAt": stamp}]
                      for k, v in attrs.items()}}



def test_writes_append_one_change_per_entity_in_their_transaction(db: str) -> None:
    async def scenario() -> None:
        s = open_store(db)
        await s.open()
        cursor = await s.start_delivery("t", "sub")

        def boom(cur: Any) -> Any:
            raise ValueError("refused")

        await s.mutate("t", [("urn:x:1", lambda c: (doc(1, "s1", **{A: 1}), None)),
                             ("urn:x:2", boom), ("urn:x:3", lambda c: (KEEP, None))])

        def update(cur: Any) -> Any:
            new = doc(1, "s2", **{B: 2})
            new["attrs"][A] = cur["attrs"][A]  # kept as it was: not touched by this write
            return new, None

        await s.mutate("t", [("urn:x:1", update)])
        await s.mutate("t", [("urn:x:1", lambda c: (DELETE, None))])
        await s.mutate("other", [("urn:x:1", lambda c: (doc(1, "s1", **{A: 1}), None))])
        changes = await s.changes_after("t", cursor)
        assert [(c.entity_id, c.op, c.attrs) for c in changes] == [
            ("urn:x:1", "c", {A: "c"}), ("urn:x:1", "u", {B: "c"}), ("urn:x:1", "d", {A: "d", B: "d"})]
        assert changes[-1].types == [T]
        assert set(changes[-1].prev) == {A, B, "@entity"}  # a deleted entity keeps them all
        assert changes[1].prev == {}  # only created attributes: nothing was before
        assert await s.backlog("t", cursor) == 3
        await s.close()
        s = open_store(db)  # durable, and the sequence goes on after a restart
        await s.open()
        assert [c.seq for c in await s.changes_after("t", cursor)] == [c.seq for c in changes]
        await s.close()

    asyncio.run(scenario())


def test_cursors_prune_and_compaction_bound_the_log(db: str) -> None:
    async def scenario() -> None:
        s = open_store(db)
        await s.open()
        await s.start_delivery("t", "sub")
        for value in range(30):
            await s.mutate("t", [(f"urn:x:{n}", lambda c, v=value, n=n: (doc(n, f"s{v}", **{A: v}), None))
                                 for n in range(3)])
        first = await s.changes_after("t", 0, limit=1000)
        assert len(first) == 90
        delivery = await s.get_delivery("t", "sub")
        assert delivery is not None
        await s.save_delivery(Delivery("t", "sub", first[9].seq, {"timesSent": 1}))
        assert await s.prune_changes(compact_over=1000) == (10, 0)
        pruned, merged = await s.prune_changes(compact_over=5)
        assert pruned == 0 and merged == 80 - 3
        left = await s.changes_after("t", 0, limit=1000)
        assert [c.entity_id for c in left] == ["urn:x:0", "urn:x:1", "urn:x:2"]
        assert left[-1].seq == first[-1].seq  # the newest row of each entity is kept
        await s.save_delivery(Delivery("t", "sub", 5, {}))  # a cursor never moves back
        got = await s.get_delivery("t", "sub")
        assert got is not None and got.seq == first[9].seq and got.state == {}
        await s.drop_delivery("t", "sub")
        assert await s.prune_changes() == (3, 0)  # nobody left to deliver to
        assert await s.list_deliveries() == []
        await s.close()

    asyncio.run(scenario())
