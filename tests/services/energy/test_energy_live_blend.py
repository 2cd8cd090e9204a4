"""The inverters' latest reading pulls the first hours of the forecast toward what is
measured (smart persistence in the blend), less and less with the lead time; stale or
malformed readings are ignored."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd

from cityos.services.energy.dayahead import FrameSource
from cityos.services.energy.runtime import observations
from cityos.services.energy.sites import town_sites
from cityos.services.energy.town_forecast import forecast_system

JST = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 8, 11, 5, tzinfo=JST)


def _clear_day() -> FrameSource:
    index = pd.date_range("2026-12-08 12:00", periods=5, freq="h", tz=JST).tz_convert("UTC")
    return FrameSource(pd.DataFrame({"cloud_cover": 0.0, "temp_air": 8.0, "wind_speed": 2.0,
                                     "storm": 0.0}, index=index))


def _reading(kw: float, at: datetime, device: str = "solar-1") -> dict[str, object]:
    return {"id": f"urn:ngsi-ld:PhotovoltaicMeasurement:{device}",
            "type": "PhotovoltaicMeasurement",
            "activePower": {"type": "Property", "value": kw, "observedAt": at.isoformat()}}


def test_a_dark_reading_lowers_the_next_hours_most() -> None:
    site = town_sites()[0]
    seen = observations([_reading(2.0, NOW - timedelta(minutes=5))], NOW)
    alone = forecast_system(site.system, _clear_day())["kw"].to_numpy()
    blended = forecast_system(site.system, _clear_day(), seen[site.system.device])["kw"]
    drop = 1 - blended.to_numpy() / alone
    assert drop[0] > 0.3  # an hour ahead: persistence weighs about half
    assert drop[0] > drop[3] > 0  # five hours ahead it weighs less


def test_stale_and_malformed_readings_are_ignored() -> None:
    entities = [_reading(2.0, NOW - timedelta(hours=3)),
                _reading(2.0, NOW - timedelta(minutes=1), "solar-2") | {"activePower": "x"},
                {"id": "urn:ngsi-ld:PhotovoltaicMeasurement:solar-4",
                 "activePower": {"value": 3.0, "observedAt": "not a time"}}]
    assert observations(entities, NOW) == {}
