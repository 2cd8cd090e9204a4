"""The energy service's start: when the town names a day-ahead file (option `forecast_file`),
the forecast is issued from it. `issue` is also what `PUT /services/v1/energy/weather` does."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from cityos.services.energy.dayahead import FrameSource, parse
from cityos.services.energy.demo import forecast_entities
from cityos.services.energy.outlook import SiteOutlook, outlook
from cityos.services.energy.town_forecast import Observation
from cityos.services.runtime import ServiceContext

log = logging.getLogger("cityos.services.energy")
JST = ZoneInfo("Asia/Tokyo")


FRESH = timedelta(hours=2)  # an inverter's reading older than this is not used


def _compute(text: str, options: dict[str, object],
             last: dict[str, Observation]) -> list[SiteOutlook]:
    return outlook(FrameSource(parse(text)), last=last,
                   required_hours=float(options.get("required_hours") or 72.0),  # type: ignore[arg-type]
                   storm_wind=float(options.get("storm_wind") or 20.0))  # type: ignore[arg-type]


def observations(entities: list[dict[str, Any]], now: datetime) -> dict[str, Observation]:
    """The inverters' latest output (normalized PhotovoltaicMeasurement entities), by device
    id, when recent: what smart persistence carries into the first hours of the forecast."""
    out = {}
    for entity in entities:
        power = entity.get("activePower")
        if not isinstance(power, dict) or not isinstance(power.get("value"), int | float):
            continue
        stamp = power.get("observedAt") or power.get("modifiedAt")
        try:
            at = pd.Timestamp(str(stamp))
        except ValueError:
            continue
        if at.tzinfo is None or not timedelta(0) <= now - at.to_pydatetime() <= FRESH:
            continue
        device = str(entity.get("id", "")).rsplit(":", 1)[-1]
        out[device] = Observation(at, float(power["value"]))
    return out


async def issue(ctx: ServiceContext, text: str) -> list[SiteOutlook]:
    """Issue the forecast from a day-ahead input (already checked), blended with the
    inverters' latest readings: state and SolarForecast entities."""
    now = datetime.now(JST)
    try:
        measured = await ctx.client.query("PhotovoltaicMeasurement", key_values=False,
                                          options="sysAttrs")
    except Exception as exc:  # no reading: the cloud model alone
        log.warning("energy: the inverters' readings could not be read: %s", exc)
        measured = []
    items = await asyncio.to_thread(_compute, text, ctx.options, observations(measured, now))
    ctx.state.update(outlook=items, issued=now)
    await ctx.client.upsert(forecast_entities(items, now))
    return items


async def start(ctx: ServiceContext) -> None:
    name = ctx.options.get("forecast_file")
    if not name:
        return
    path = Path(str(name))
    if not path.is_absolute():
        path = ctx.settings.data_dir / path

    async def read() -> None:
        try:
            await issue(ctx, path.read_text("utf-8"))
        except Exception as exc:  # a bad or missing file: logged, the service keeps running
            log.warning("energy: the day-ahead file %s was not used: %s", path, exc)

    ctx.spawn(read())
