"""Forecast each of the town's PV systems from a weather source (and, when the inverters
have reported recently, the last measured clear-sky index: the blend of evaluation.py)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cityos.services.energy.balance import STORM_WIND, storm_hours
from cityos.services.energy.dayahead import WeatherSource
from cityos.services.energy.forecast import KT_MAX, Blend, CloudModel
from cityos.services.energy.pv import PVSystem, ac_power, clear_sky_ghi

# fitted on the training days of evaluation.py (Miami TMY2, days 1-15); `python -m bench
# energy` prints the same numbers. Carried to Toyono as they are: a transfer assumption.
TRAINED = CloudModel(a=0.919, b=0.429, p=3.166)
STORM_KT = 0.15  # clear-sky index cap in storm hours: the cover model cannot see thick cloud
BLEND = Blend({1: 0.5, 3: 0.25, 6: 0.15, 24: 0.2})


def persistence_weight(hours_ahead: float) -> float:
    """The blend weight for a lead time, from the horizons it was fitted on (piecewise)."""
    marks = sorted(BLEND.weights)
    return float(np.interp(hours_ahead, marks, [BLEND.weights[h] for h in marks]))


@dataclass(frozen=True)
class Observation:
    """The last measured output of a system: when and how much (kW, mean of the hour)."""

    at: pd.Timestamp
    kw: float


def forecast_system(system: PVSystem, source: WeatherSource,
                    last: Observation | None = None, storm_wind: float = STORM_WIND
                    ) -> pd.DataFrame:
    """Hourly forecast rows: clear-sky GHI, forecast GHI and AC power (kW) per hour-ending."""
    weather = source.hourly()
    index = pd.DatetimeIndex(weather.index)
    clear = clear_sky_ghi(system, index).to_numpy()
    kt = TRAINED.kt(weather["cloud_cover"].to_numpy())
    if last is not None:
        at = pd.DatetimeIndex([last.at])
        clear_kw = float(ac_power(system, at, clear_sky_ghi(system, at).to_numpy()).iloc[0])
        if clear_kw >= 0.05 * system.kwp:  # daylight: the power clear-sky index means something
            kt_obs = min(max(last.kw, 0.0) / clear_kw, KT_MAX)
            lead = (index - last.at).total_seconds().to_numpy() / 3600.0
            w = np.array([persistence_weight(max(h, 1.0)) for h in lead])
            kt = w * kt_obs + (1 - w) * kt
    stormy = storm_hours(weather["wind_speed"].to_numpy(), weather["storm"].to_numpy(),
                         storm_wind)
    kt = np.where(stormy, np.minimum(kt, STORM_KT), kt)
    ghi = kt * clear
    kw = ac_power(system, index, ghi, weather["temp_air"], weather["wind_speed"])
    return pd.DataFrame({"clear_ghi": clear, "ghi": ghi, "kw": kw.to_numpy(),
                         "storm": stormy,
                         "wind_speed": weather["wind_speed"].to_numpy()}, index=index)
