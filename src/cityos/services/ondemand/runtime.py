"""The service running inside `cityos serve`: one dispatcher per service day (JST), the cars
following the plan, the plan re-optimised in the background, bookings written through the
platform as the residents' personal data (RideRequest, TripRecord with refResident)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import replace
from typing import Any

from cityos.services.client import PlatformError
from cityos.services.ondemand.dispatch import DONE, Dispatcher, Ride
from cityos.services.ondemand.fleet import demo_fleet
from cityos.services.ondemand.geo import SPEED_KMH
from cityos.services.runtime import ServiceContext

log = logging.getLogger("cityos.services.ondemand")
JST = dt.timezone(dt.timedelta(hours=9))
STATE = "dispatcher"


def jst_now() -> dt.datetime:
    return dt.datetime.now(JST)


def minute_of_day(t: dt.datetime | None = None) -> float:
    t = t or jst_now()
    return t.hour * 60 + t.minute + t.second / 60


def iso_of(day: dt.date, minute: float) -> str:
    """An ISO time with the JST offset for a minute of the service day."""
    start = dt.datetime.combine(day, dt.time(0), JST)
    return (start + dt.timedelta(minutes=minute)).isoformat(timespec="seconds")


_LIVE: dict[str, ServiceContext] = {}  # the running service, for the demo's GPS cars


def planned_position(device_id: str) -> tuple[float, float, int, float] | None:
    """Where the plan has the car with GPS device `device_id` now: (lon, lat, people aboard,
    speed km/h), or None when no service in this process plans it (the demo's simulator
    then drives it as before)."""
    ctx = _LIVE.get("ctx")
    d: Dispatcher | None = ctx.state.get(STATE) if ctx is not None else None
    if d is None or device_id not in d.cars:
        return None
    (lon, lat), aboard = d.position(device_id)  # as of the service's last tick (5 s)
    moving = d.moving(device_id)
    return lon, lat, aboard, SPEED_KMH if moving else 0.0


def new_day(ctx: ServiceContext) -> Dispatcher:
    """Today's dispatcher; in the demo (or with always_open) the cars work around the clock."""
    fleet = demo_fleet()
    if ctx.settings.services.demo or ctx.options.get("always_open"):
        fleet = [replace(v, shift_start=0.0, shift_end=24 * 60.0) for v in fleet]
    d = Dispatcher(fleet, now=minute_of_day())
    ctx.state[STATE] = d
    ctx.state["day"] = jst_now().date()
    ctx.state["written"] = {}
    return d


def dispatcher(ctx: ServiceContext) -> Dispatcher:
    """Today's dispatcher, moved on to now (a new one after midnight)."""
    d: Dispatcher | None = ctx.state.get(STATE)
    if d is None or ctx.state.get("day") != jst_now().date():
        d = new_day(ctx)
    before = {r.id: r.status for r in d.rides.values()}
    d.advance(minute_of_day())
    changed = [r for r in d.rides.values() if before.get(r.id) != r.status]
    for ride in changed:
        record(ctx, ride)
    return d


def _entity(ctx: ServiceContext, ride: Ride) -> dict[str, Any]:
    day: dt.date = ctx.state.get("day") or jst_now().date()
    p = {"type": "Property"}
    body: dict[str, Any] = {
        "id": f"urn:ngsi-ld:RideRequest:{day.isoformat()}-{ride.id}", "type": "RideRequest",
        "refResident": {"type": "Relationship", "object": ride.resident},
        "pickup": {**p, "value": ride.origin.name},
        "dropoff": {**p, "value": ride.destination.name},
        "passengers": {**p, "value": ride.passengers},
        "wheelchair": {**p, "value": ride.wheelchair},
        "status": {**p, "value": ride.status},
    }
    if ride.pickup_window:
        body["pickupWindowStart"] = {**p, "value": iso_of(day, ride.pickup_window[0])}
        body["pickupWindowEnd"] = {**p, "value": iso_of(day, ride.pickup_window[1])}
    if ride.arrival_by is not None:
        body["arrivalBy"] = {**p, "value": iso_of(day, ride.arrival_by)}
    return body


def record(ctx: ServiceContext, ride: Ride) -> None:
    """Write the booking (and, once ridden, the trip) through the platform, in the
    background: the resident's answer never waits for it."""
    if not ride.resident or ride.status in ("pending", "refused"):
        return
    ctx.spawn(_write(ctx, ride))


PURPOSE = "ServiceProvision"


async def _ask_consent(ctx: ServiceContext, resident: str) -> None:
    """Ask, once, the manifest's mobility consent: with it the service may read her trips
    back for the town's planning (the platform's consent filter decides every read)."""
    asked: set[str] = ctx.state.setdefault("asked", set())
    if resident in asked:
        return
    asked.add(resident)
    ask = ctx.manifest.consents[0]
    try:
        await ctx.client.ask_consent(resident.rsplit(":", 1)[-1], "mobility", PURPOSE,
                                     service=ctx.manifest.title.ja,
                                     notice=f"{ask.purpose.ja} / {ask.purpose.en}")
    except PlatformError as error:
        if error.status != 409:  # 409: asked before (by an earlier run of the service)
            raise


async def _write(ctx: ServiceContext, ride: Ride) -> None:
    try:
        await ctx.client.upsert([_entity(ctx, ride)])
        assert ride.resident is not None
        await _ask_consent(ctx, ride.resident)
        if ride.status == DONE and ride.pickup_at is not None and ride.dropoff_at is not None:
            day: dt.date = ctx.state.get("day") or jst_now().date()
            p = {"type": "Property"}
            await ctx.client.upsert([{
                "id": f"urn:ngsi-ld:TripRecord:{day.isoformat()}-{ride.id}", "type": "TripRecord",
                "refResident": {"type": "Relationship", "object": ride.resident},
                "originArea": {**p, "value": ride.origin.area},
                "destinationArea": {**p, "value": ride.destination.area},
                "startTime": {**p, "value": iso_of(day, ride.pickup_at)},
                "endTime": {**p, "value": iso_of(day, ride.dropoff_at)},
                "passengers": {**p, "value": ride.passengers}}])
    except Exception as error:  # the platform refused or restarts: the plan goes on
        log.warning("ondemand: could not write ride %s: %r", ride.id, error)


def warm() -> None:
    """Compile (or load from numba's cache) every kernel an offer and a re-plan use."""
    from cityos.services.ondemand.solver import warm_up
    from cityos.services.ondemand.stops import areas, destinations

    warm_up()
    d = Dispatcher(demo_fleet(), now=8 * 60.0)
    for k in range(3):
        d.offer(d.new_ride(areas()[k], destinations()[k]))
    d.reoptimise(0.05)


async def _loop(ctx: ServiceContext) -> None:
    await asyncio.to_thread(warm)  # before it, the first offer would wait for the compiler
    ctx.state["ready"] = True
    ticks = 0
    tick = float(ctx.options.get("tick_seconds", 5.0))
    budget = float(ctx.options.get("reopt_seconds", 1.0))
    while True:
        d = dispatcher(ctx)
        ticks += 1
        if budget > 0 and ticks % 6 == 0 and d.rides:
            await asyncio.to_thread(d.reoptimise, budget, ticks)
        await asyncio.sleep(tick)


async def start(ctx: ServiceContext) -> None:
    new_day(ctx)
    _LIVE["ctx"] = ctx
    ctx.spawn(_loop(ctx))


async def stop(ctx: ServiceContext) -> None:
    ctx.state.pop(STATE, None)
    if _LIVE.get("ctx") is ctx:
        _LIVE.pop("ctx")
