"""Several processes on one PostgreSQL database (issue 10): each store below has its own pool
and coordination session, as a separate `cityos serve` process would."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from cityos.storage import open_store
from cityos.storage.base import shared

T = "https://example.org/T"


def entity(num: int) -> dict[str, Any]:
    return {"id": f"urn:x:{num}", "type": [T], "attrs": {
        "https://example.org/a": [{"type": "Property", "value": num}]}}


def put(num: int) -> tuple[str, Any]:
    e = entity(num)
    return e["id"], lambda cur: (e, None)


def test_a_lease_has_one_holder_and_passes_on_when_it_dies(postgres_url: str) -> None:
    async def scenario() -> None:
        one: Any = open_store(postgres_url)
        two: Any = open_store(postgres_url)
        await one.open()
        await two.open()
        try:
            assert await one.lease("delivery:t:sub1")
            assert await one.lease("delivery:t:sub1")  # held: asking again is fine
            assert not await two.lease("delivery:t:sub1")
            assert await two.lease("delivery:t:sub2")  # another name, another holder
            await one.release("delivery:t:sub1")
            assert not one.holds("delivery:t:sub1")
            assert await two.lease("delivery:t:sub1")
            await two.close()  # the holder dies: its session, and so its leases, end
            assert await one.lease("delivery:t:sub1")
            assert await one.lease("delivery:t:sub2")
            assert one.holds("delivery:t:sub2")
        finally:
            await one.close()
            await two.close()

    asyncio.run(scenario())


def test_a_write_in_one_process_wakes_the_other(postgres_url: str) -> None:
    async def scenario() -> None:
        writer: Any = open_store(postgres_url)
        listener: Any = open_store(postgres_url)
        await writer.open()
        await listener.open()
        heard: asyncio.Queue[str] = asyncio.Queue()
        try:
            await listener.on_changes(heard.put_nowait)
            await writer.mutate("toyono", [put(1), put(2)])
            await writer.mutate("", [put(3)])
            got = {await asyncio.wait_for(heard.get(), 30),
                   await asyncio.wait_for(heard.get(), 30)}
            assert got == {"toyono", ""}
            assert heard.empty()  # one notification per tenant and transaction
        finally:
            await writer.close()
            await listener.close()

    asyncio.run(scenario())


def test_a_change_committed_late_is_never_skipped(postgres_url: str) -> None:
    """A transaction that wrote its change row first but commits last: readers must not see
    the later row before it, or a cursor would move past the late one for ever."""
    async def scenario() -> None:
        store: Any = open_store(postgres_url)
        await store.open()
        slow = await asyncpg.connect(postgres_url)
        try:
            cursor = await store.start_delivery("t", "sub")
            tx = slow.transaction()
            await tx.start()  # an in-flight writer: its row has the smaller xid
            await slow.execute("INSERT INTO changes (tenant, entity_id, types, attrs, op, at) "
                               "VALUES ('t', 'urn:x:slow', '[]', '{}', 'c', 0)")
            await store.mutate("t", [put(1)])  # commits first
            assert await store.changes_after("t", cursor) == []  # held back, not skipped
            assert await store.backlog("t", cursor) == 1
            await tx.commit()
            got = await store.changes_after("t", cursor)
            assert [c.entity_id for c in got] == ["urn:x:slow", "urn:x:1"]
            assert got[0].seq < got[1].seq
        finally:
            await slow.close()
            await store.close()

    asyncio.run(scenario())


def test_concurrent_writers_of_one_entity_in_two_processes_are_serialised(
        postgres_url: str) -> None:
    async def scenario() -> None:
        one: Any = open_store(postgres_url)
        two: Any = open_store(postgres_url)
        await one.open()
        await two.open()

        def increment(cur: Any) -> Any:
            n = 0 if cur is None else cur["attrs"]["n"][0]["value"]
            return {"id": "urn:x:c", "type": [T],
                    "attrs": {"n": [{"type": "Property", "value": n + 1}]}}, None

        try:
            await asyncio.gather(*(s.mutate("", [("urn:x:c", increment)])
                                   for _ in range(100) for s in (one, two)))
            got = await one.get_entity("", "urn:x:c")
            assert got["attrs"]["n"][0]["value"] == 200  # created once, no update lost
        finally:
            await one.close()
            await two.close()

    asyncio.run(scenario())


def test_counts_are_exchanged_between_processes(postgres_url: str) -> None:
    async def scenario() -> None:
        one: Any = open_store(postgres_url)
        two: Any = open_store(postgres_url)
        sqlite: Any = open_store("sqlite:///:memory:")
        await one.open()
        await two.open()
        try:
            assert shared(one) is one and shared(sqlite) is None  # one process alone: nothing
            assert await one.exchange_counts({"r\x1forg:a": 3, "v\x1forg:a": 5}) == {}
            assert await two.exchange_counts({"r\x1forg:a": 2}) == {"r\x1forg:a": 3,
                                                                     "v\x1forg:a": 5}
            assert await two.exchange_counts({}) == {}  # nothing new since it last asked
            assert await one.exchange_counts({"r\x1forg:b": 1}) == {"r\x1forg:a": 2}
            assert await one.exchange_counts({"r\x1forg:a": 4}) == {}  # its own are not its news
            assert await two.exchange_counts({}) == {"r\x1forg:b": 1, "r\x1forg:a": 4}
        finally:
            await one.close()
            await two.close()

    asyncio.run(scenario())
