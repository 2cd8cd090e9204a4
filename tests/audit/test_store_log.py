"""The Store's append-only logs: order, chaining inside the transaction, paging, isolation."""

from __future__ import annotations

import asyncio
from pathlib import Path

from cityos.audit.chain import Entry, link, verify
from cityos.storage import open_store


def test_append_and_read_logs(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = open_store(f"sqlite:///{tmp_path / 'l.db'}")
        await store.open()
        try:
            results = await asyncio.gather(*(store.append_log("a", [f"{i}".encode()], link)
                                             for i in range(50)))
            assert sorted(results) == list(range(1, 51))
            assert await store.append_log("a", [b"x", b"y"], link) == 52
            assert await store.append_log("b", [b"other"], link) == 1
            entries = await store.read_log("a", limit=1000)
            assert [e.seq for e in entries] == list(range(1, 53))
            assert entries[0].prev is None and entries[1].prev == entries[0].hash
            assert verify([Entry(e.seq, e.body, e.prev, e.hash) for e in entries]) == []
            page = await store.read_log("a", after=50, limit=1)
            assert [(e.seq, e.body) for e in page] == [(51, b"x")]
            assert [e.body for e in await store.read_log("b")] == [b"other"]
        finally:
            await store.close()

    asyncio.run(scenario())
