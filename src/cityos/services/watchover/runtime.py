"""The watch-over service inside `cityos serve`: loads its state from the platform, follows
the beacon receivers (a subscription to BeaconReceiver), and every `tick_s` applies the clock's
rules (no sighting in the daytime) and, hourly, the retention."""

from __future__ import annotations

import asyncio
import logging
import time

from cityos.services.runtime import ServiceContext
from cityos.services.watchover.service import WatchService, WatchSettings

log = logging.getLogger("cityos.services.watchover")
RELOAD_S = 300.0  # tags erased by the platform, receivers added by the town
PURGE_S = 3600.0


def service_of(ctx: ServiceContext) -> WatchService:
    found = ctx.state.get("service")
    if not isinstance(found, WatchService):
        raise LookupError("the watch-over service is not started")
    return found


async def start(ctx: ServiceContext) -> None:
    service = WatchService(ctx.client, WatchSettings.of(ctx.options))
    ctx.state["service"] = service
    await service.load()
    ctx.state["subscription"] = await ctx.subscribe(["BeaconReceiver"], "notify",
                                                    watched=["lastBeacon"], key_values=False)
    service.tick_s = float(ctx.options.get("tick_s", 60.0))
    ctx.spawn(_clock(service))


async def _clock(service: WatchService) -> None:
    reloaded = purged = time.monotonic()
    while True:
        await asyncio.sleep(service.tick_s)
        try:
            await service.tick(service.now())
            if time.monotonic() - reloaded >= RELOAD_S:
                await service.load()
                reloaded = time.monotonic()
            if time.monotonic() - purged >= PURGE_S:
                await service.purge(service.now())
                purged = time.monotonic()
        except Exception:  # the platform restarting: try again at the next tick
            log.exception("watch-over: the clock's round failed")


async def stop(ctx: ServiceContext) -> None:
    ctx.state.pop("service", None)
