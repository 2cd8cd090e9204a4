"""The energy service's start: when the town names a day-ahead file (option `forecast_file`),
the forecast is issued from it. `issue` is also what `PUT /services/v1/energy/weather` does."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from cityos.services.energy.dayahead import FrameSource, parse
from cityos.services.energy.demo import forecast_entities
from cityos.services.energy.outlook import SiteOutlook, outlook
from cityos.services.runtime import ServiceContext

log = logging.getLogger("cityos.services.energy")
JST = ZoneInfo("Asia/Tokyo")


def _compute(text: str, options: dict[str, object]) -> list[SiteOutlook]:
    return outlook(FrameSource(parse(text)),
                   required_hours=float(options.get("required_hours") or 72.0),  # type: ignore[arg-type]
                   storm_wind=float(options.get("storm_wind") or 20.0))  # type: ignore[arg-type]


async def issue(ctx: ServiceContext, text: str) -> list[SiteOutlook]:
    """Issue the forecast from a day-ahead input (already checked): state and SolarForecast."""
    items = await asyncio.to_thread(_compute, text, ctx.options)
    now = datetime.now(JST)
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
