"""The demo town's energy data: a simulated week (five days past, today, and a storm
tomorrow), the day-ahead forecast with the shelters' backup-power flags, and the energy ledger
of the current fiscal year and of FY2013 (the roadmap's base year), all written through the
service's own client."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cityos.services.energy import ledger
from cityos.services.energy.balance import supply_demand
from cityos.services.energy.carbon import Usage, fiscal_year
from cityos.services.energy.dayahead import FrameSource
from cityos.services.energy.outlook import SiteOutlook, outlook
from cityos.services.energy.pv import ac_power, clear_sky_ghi
from cityos.services.energy.sites import Site, town_sites
from cityos.services.energy.week import Week, demand, simulate

log = logging.getLogger("cityos.services.energy")
JST = ZoneInfo("Asia/Tokyo")
TOWN_HALL = ("townhall", "豊能町役場", 45.0, 9.0)  # key, name, day kW, night kW (no PV)
MONTHLY_KT = 0.55  # the demo ledger's mean clear-sky index
HEATING_MONTHS = (11, 12, 1, 2, 3)


def demo_week(now: datetime) -> Week:
    today = now.astimezone(JST).date()
    return simulate(today - timedelta(days=5), storm_day=6)


def current_outlook(week: Week, now: datetime, options: dict[str, Any] | None = None
                    ) -> list[SiteOutlook]:
    """The forecast issued now: the rest of the week's day-ahead input."""
    ahead = week.forecast_weather[week.forecast_weather.index > pd.Timestamp(now)]
    opts = options or {}
    return outlook(FrameSource(ahead), required_hours=float(opts.get("required_hours") or 72.0),
                   storm_wind=float(opts.get("storm_wind") or 20.0))


def _month_usage(site: Site | None, month: date, pv: bool) -> tuple[str, Usage]:
    start = pd.Timestamp(month, tz="Asia/Tokyo") + pd.Timedelta(hours=1)
    end = pd.Timestamp(month + timedelta(days=32), tz="Asia/Tokyo").replace(day=1)
    index = pd.date_range(start, end, freq="h", inclusive="left")
    rng = np.random.default_rng(month.year * 100 + month.month)
    label = f"{month:%Y-%m}"
    if site is None:
        key, name, day_kw, night_kw = TOWN_HALL
        local = index - pd.Timedelta(hours=1)
        working = (local.dayofweek < 5) & (local.hour >= 8) & (local.hour < 17)
        load = np.where(working, day_kw, night_kw)
        return key, Usage(name, label, float(load.sum()),
                          fuels={"gasoline": 380.0 + 40 * rng.random(),
                                 "kerosene": 250.0 if month.month in HEATING_MONTHS else 0.0})
    load = demand(site, index, rng)
    heating = 300.0 if month.month in HEATING_MONTHS else 0.0
    if not pv:
        return site.system.device, Usage(site.system.name, label, float(load.sum()),
                                         fuels={"kerosene": heating * 1.3} if heating else {})
    gen = ac_power(site.system, index,
                   clear_sky_ghi(site.system, index).to_numpy() * MONTHLY_KT)
    b = supply_demand(gen, load)
    return site.system.device, Usage(site.system.name, label, b.imported_kwh, b.generation_kwh,
                                     b.self_consumed_kwh,
                                     {"kerosene": heating} if heating else {})


def demo_ledger(today: date) -> list[tuple[str, Usage]]:
    """FY2013 (no PV yet) and the current fiscal year up to last month."""
    rows = []
    fy = fiscal_year(today)
    months = [date(2013 + (m < 4), m, 1) for m in (*range(4, 13), 1, 2, 3)]
    months += [d for d in (date(fy + (m < 4), m, 1) for m in (*range(4, 13), 1, 2, 3))
               if d < today.replace(day=1)]
    for month in months:
        with_pv = month.year > 2013 + 1
        for site in (*town_sites(), None):
            rows.append(_month_usage(site, month, with_pv))
    return rows


def forecast_entities(views: list[SiteOutlook], issued: datetime) -> list[dict[str, Any]]:
    out = []
    for v in views:
        s = v.site.system
        first_day = v.forecast.iloc[:24]
        out.append({
            "id": f"urn:ngsi-ld:SolarForecast:{s.device}", "type": "SolarForecast",
            "name": s.name, "issuedAt": issued.isoformat(),
            "refShelter": {"type": "Relationship", "object": v.site.shelter_id},
            "forecastEnergy24h": round(float(first_day["kw"].sum()), 1),
            "hourlyPower": [round(float(x), 2) for x in first_day["kw"]],
            "backupHours": round(v.autonomy.hours, 1), "stormForecast": v.autonomy.storm,
            "backupFlag": v.autonomy.flag})
    return out


async def load(ctx: Any) -> None:
    """Idempotent: the same entities are upserted at every start."""
    now = datetime.now(JST)
    # pvlib's arithmetic (a few seconds of CPU) off the event loop: the platform keeps serving
    week = await asyncio.to_thread(demo_week, now)
    views = await asyncio.to_thread(current_outlook, week, now, ctx.options)
    ctx.state.update(week=week, now=now, outlook=views, issued=now)
    try:
        await ctx.client.upsert(forecast_entities(views, now))
        await ledger.write(ctx.client, await asyncio.to_thread(demo_ledger, now.date()))
    except Exception:  # the pages still show the week; the ledger waits for the next start
        log.exception("energy demo: could not write the forecasts and the ledger")
