"""A simulated week of the demo town: weather (with a storm day), what the PV systems make,
what the public buildings use, and the day-ahead forecasts the service made for it.

Deterministic (seeded): the demo, the tests and the docs see the same week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from cityos.services.energy.dayahead import FrameSource
from cityos.services.energy.pv import ac_power, clear_sky_ghi
from cityos.services.energy.sites import Site, town_sites
from cityos.services.energy.town_forecast import TRAINED, forecast_system

# the week's sky: mean cloud cover (%) per day; the storm day (default index 3) is overcast
DAILY_COVER = (10.0, 35.0, 70.0, 45.0, 55.0, 15.0, 25.0)
STORM_DAY = 3
STORM_WIND = 24.0  # m/s on the storm day's afternoon and night


@dataclass(frozen=True)
class Week:
    start: date
    storm_day: int
    weather: pd.DataFrame  # actual: cloud_cover, temp_air, wind_speed, storm
    forecast_weather: pd.DataFrame  # what the day-ahead input said
    actual_kw: dict[str, pd.Series]  # device -> hourly mean AC power
    forecast_kw: dict[str, pd.Series]
    demand_kw: dict[str, pd.Series]
    sites: tuple[Site, ...]

    def storm_date(self) -> date:
        return self.start + pd.Timedelta(days=self.storm_day)


def demand(site: Site, index: pd.DatetimeIndex, rng: np.random.Generator) -> pd.Series:
    """A public building's load: base load, a weekday 08:00-17:00 plateau, a little noise."""
    local = index.tz_convert("Asia/Tokyo") - pd.Timedelta(hours=1)  # the hour's start
    working = (local.dayofweek < 5) & (local.hour >= 8) & (local.hour < 17)
    level = np.where(working, site.demand_kw_day, site.demand_kw_night)
    return pd.Series(np.clip(level * (1 + rng.normal(0, 0.08, len(index))), 0, None), index=index)


def weather_of(start: date, rng: np.random.Generator, noise: float,
               storm_day: int = STORM_DAY) -> pd.DataFrame:
    index = pd.date_range(pd.Timestamp(start, tz="Asia/Tokyo") + pd.Timedelta(hours=1),
                          periods=24 * 7, freq="h")
    day = np.arange(len(index)) // 24
    cover = np.clip(np.array(DAILY_COVER)[day] + rng.normal(0, noise, len(index)), 0, 100)
    hour = (np.arange(len(index)) % 24)
    temp = 8.0 + 5.0 * np.sin(np.pi * (hour - 8) / 12).clip(0) - 3 * (np.array(DAILY_COVER)[day] / 100)
    storm = (day == storm_day) & (hour >= 12) | (day == storm_day + 1) & (hour < 3)
    wind = np.where(storm, STORM_WIND, 2.0 + rng.random(len(index)))
    cover = np.where(day == storm_day, 100.0, cover)
    return pd.DataFrame({"cloud_cover": cover, "temp_air": temp, "wind_speed": wind,
                         "storm": storm.astype(float)}, index=index.tz_convert("UTC"))


def simulate(start: date, seed: int = 273210, storm_day: int = STORM_DAY) -> Week:
    """The week from `start` (JST midnight), its storm on day `storm_day` (0-6)."""
    rng = np.random.default_rng(seed)
    actual = weather_of(start, rng, noise=12.0, storm_day=storm_day)
    forecast = actual.copy()  # the day-ahead input: the same sky with a forecast's error
    forecast["cloud_cover"] = np.clip(actual["cloud_cover"] + rng.normal(0, 15.0, len(actual)),
                                      0, 100)
    forecast.loc[actual["storm"] > 0, "cloud_cover"] = 100.0
    sites = town_sites()
    index = pd.DatetimeIndex(actual.index)
    actual_kw: dict[str, pd.Series] = {}
    forecast_kw: dict[str, pd.Series] = {}
    demand_kw: dict[str, pd.Series] = {}
    for site in sites:
        s = site.system
        clear = clear_sky_ghi(s, index).to_numpy()
        kt = TRAINED.kt(actual["cloud_cover"].to_numpy()) * (1 + rng.normal(0, 0.05, len(index)))
        kt = np.where(actual["storm"].to_numpy() > 0, 0.08, kt)  # rain bands: dark
        actual_kw[s.device] = ac_power(s, index, kt * clear, actual["temp_air"],
                                       actual["wind_speed"])
        forecast_kw[s.device] = forecast_system(s, FrameSource(forecast))["kw"]
        demand_kw[s.device] = demand(site, index, rng)
    return Week(start, storm_day, actual, forecast, actual_kw, forecast_kw, demand_kw, sites)
