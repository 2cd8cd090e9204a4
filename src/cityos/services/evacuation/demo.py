"""The demo town's evacuation drill (防災訓練): every shelter and emergency site opened for it,
once (a place staff have opened or closed is left as it is)."""

from __future__ import annotations

from cityos.services.evacuation.source import PLACE_TYPES
from cityos.services.runtime import ServiceContext

EVENT = "豊能町 防災訓練 / Toyono evacuation drill"


async def load(ctx: ServiceContext) -> None:
    # (not `attrs=["status"]`: an NGSI-LD query with attrs leaves out entities without them)
    places = [e for t in PLACE_TYPES for e in await ctx.client.query(t)]
    todo = [{"id": e["id"], "type": e["type"],
             "status": {"type": "Property", "value": "open"},
             "event": {"type": "Property", "value": EVENT}}
            for e in places if "status" not in e]
    if todo:
        await ctx.client.upsert(todo)
