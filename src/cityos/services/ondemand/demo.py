"""The demo town's day: simulated residents book through the day, the cars follow the plan,
the KPIs fill in.

The day's demand (demand.py: a morning peak to the clinic) is laid so that its 10:00 is the
moment the demo starts, whatever the hour: the three hours before are replayed at once (so
the console has trips and figures from the first minute), then one booking arrives whenever
its time comes. The simulated residents are not accounts: their bookings are not written as
anyone's personal data.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from cityos.services.ondemand.demand import Ask, day
from cityos.services.ondemand.dispatch import Dispatcher
from cityos.services.ondemand.runtime import STATE, jst_now, minute_of_day, new_day
from cityos.services.runtime import ServiceContext

REQUESTS = 300
ANCHOR = 10 * 60.0  # the demand's 10:00 ...
REPLAY = 180.0  # ... and the three hours before it are replayed at the start


def _book(d: Dispatcher, ask: Ask, offset: float) -> None:
    ride = d.new_ride(ask.origin, ask.destination, ask.passengers, ask.wheelchair,
                      None if ask.earliest is None else ask.earliest + offset,
                      None if ask.latest is None else ask.latest + offset)
    if d.offer(ride).ok:
        d.confirm(ride.id)


def replay(d: Dispatcher, asks: list[Ask], offset: float, until: float) -> int:
    """Book every ask whose (shifted) time is before `until`; returns how many."""
    done = 0
    for ask in asks:
        at = ask.at + offset
        if at > until:
            break
        if at < d.now:
            continue
        d.advance(at)
        _book(d, ask, offset)
        done += 1
    d.advance(until)
    return done


async def load(ctx: ServiceContext) -> None:
    if ctx.state.get("demo"):
        return
    ctx.state["demo"] = True
    for _ in range(1200):  # the optimiser's compiled code first (runtime.warm), then the day
        if ctx.state.get("ready"):
            break
        await asyncio.sleep(0.5)
    now = minute_of_day()
    offset = now - ANCHOR
    asks = [a for a in day(REQUESTS, seed=jst_now().date().toordinal())
            if a.at + offset >= 0 and (a.earliest or a.at) + offset < 24 * 60 - 60]
    d = new_day(ctx)
    fresh = Dispatcher([c.vehicle for c in d.cars.values()], now=max(0.0, now - REPLAY))
    await asyncio.to_thread(replay, fresh, asks, offset, now)
    ctx.state[STATE] = fresh  # only now: the service's clock must not run ahead of the replay
    left = [a for a in asks if a.at + offset > now]
    for ask in left:
        wait = (ask.at + offset - minute_of_day()) * 60.0
        if wait > 0:
            await asyncio.sleep(wait)
        if ctx.state.get(STATE) is not fresh or jst_now().date() != ctx.state.get("day",
                                                                                   dt.date.min):
            return  # a new day began: its own dispatcher
        _book(fresh, ask, offset)
