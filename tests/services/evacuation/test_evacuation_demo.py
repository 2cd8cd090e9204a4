"""The demo drill opens every place once and leaves staff's decisions alone."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from cityos.services.evacuation import demo


class FakeClient:
    def __init__(self) -> None:
        self.entities = {
            "s1": {"id": "s1", "type": "EvacuationShelter"},
            "s2": {"id": "s2", "type": "EvacuationShelter", "status": "closed"},
            "e1": {"id": "e1", "type": "EmergencyEvacuationSite"}}
        self.upserted: list[dict[str, Any]] = []

    async def query(self, type: str | None = None, **_: Any) -> list[dict[str, Any]]:
        return [e for e in self.entities.values() if e["type"] == type]

    async def upsert(self, entities: list[dict[str, Any]]) -> None:
        self.upserted.extend(entities)
        for e in entities:
            self.entities[e["id"]]["status"] = e["status"]["value"]


def test_the_drill_opens_places_without_a_state_once() -> None:
    client = FakeClient()
    ctx: Any = SimpleNamespace(client=client)
    asyncio.run(demo.load(ctx))
    assert sorted(e["id"] for e in client.upserted) == ["e1", "s1"]
    assert client.entities["s2"]["status"] == "closed"  # staff closed it: left closed
    asyncio.run(demo.load(ctx))
    assert len(client.upserted) == 2  # idempotent
