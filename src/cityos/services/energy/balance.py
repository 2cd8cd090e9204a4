"""Supply and demand of a public building with PV, and a shelter's backup-power autonomy."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

REQUIRED_HOURS = 72.0  # 内閣府: non-grid power for 72 hours at a disaster base (docs)
STORM_WIND = 20.0  # m/s: mean wind of 大阪府's 暴風警報 criterion on land (docs)


@dataclass(frozen=True)
class Balance:
    """Energy over a period (kWh) of one building or the town's public buildings."""

    generation_kwh: float
    demand_kwh: float
    self_consumed_kwh: float
    surplus_kwh: float  # exported to the grid
    imported_kwh: float  # bought from the grid

    @property
    def self_consumption(self) -> float:
        """Share of the generation used on site."""
        return self.self_consumed_kwh / self.generation_kwh if self.generation_kwh else 0.0

    @property
    def self_sufficiency(self) -> float:
        """Share of the demand met by the building's own PV."""
        return self.self_consumed_kwh / self.demand_kwh if self.demand_kwh else 0.0

    def to_json(self) -> dict[str, float]:
        return {"generationKWh": round(self.generation_kwh, 2),
                "demandKWh": round(self.demand_kwh, 2),
                "selfConsumedKWh": round(self.self_consumed_kwh, 2),
                "surplusKWh": round(self.surplus_kwh, 2),
                "importedKWh": round(self.imported_kwh, 2),
                "selfConsumption": round(self.self_consumption, 3),
                "selfSufficiency": round(self.self_sufficiency, 3)}


def supply_demand(generation_kw: np.ndarray | pd.Series, demand_kw: np.ndarray | pd.Series,
                  hours: float = 1.0) -> Balance:
    """Hourly mean powers (kW) of generation and demand -> the period's balance."""
    gen = np.clip(np.nan_to_num(np.asarray(generation_kw, dtype=float)), 0.0, None)
    dem = np.clip(np.nan_to_num(np.asarray(demand_kw, dtype=float)), 0.0, None)
    used = np.minimum(gen, dem)
    return Balance(float(gen.sum() * hours), float(dem.sum() * hours), float(used.sum() * hours),
                   float((gen - used).sum() * hours), float((dem - used).sum() * hours))


def add(balances: list[Balance]) -> Balance:
    return Balance(*(float(sum(getattr(b, f) for b in balances)) for f in
                     ("generation_kwh", "demand_kwh", "self_consumed_kwh", "surplus_kwh",
                      "imported_kwh")))


@dataclass(frozen=True)
class Autonomy:
    """How long a shelter keeps its critical load on PV + battery once the grid is cut."""

    hours: float  # until the battery is empty (capped at the window)
    whole_window: bool  # the battery never ran out within the window simulated
    cut_at: pd.Timestamp  # when the cut is assumed to start (storm, or now)
    storm: bool  # a storm is forecast in the window
    flag: bool  # storm forecast and fewer hours than required

    def to_json(self) -> dict[str, object]:
        return {"hours": round(self.hours, 1), "wholeWindow": self.whole_window,
                "cutAt": self.cut_at.isoformat(), "storm": self.storm, "flag": self.flag}


def autonomy(pv_kw: pd.Series, storm: pd.Series, battery_kwh: float, backup_kw: float,
             state_of_charge: float = 1.0, required_hours: float = REQUIRED_HOURS,
             window_hours: float = REQUIRED_HOURS, efficiency: float = 0.9) -> Autonomy:
    """Simulate a grid cut from the first storm hour of the forecast (or its first hour):
    each hour the battery gains the PV output beyond the critical load (x efficiency) and
    loses what the PV cannot cover. Past the forecast the PV is taken as zero (cautious)."""
    index = pd.DatetimeIndex(pv_kw.index)
    stormy = np.asarray(storm, dtype=bool)
    start = int(np.argmax(stormy)) if stormy.any() else 0
    pv = np.clip(np.nan_to_num(pv_kw.to_numpy(dtype=float)[start:]), 0.0, None)
    steps = int(window_hours)
    pv = np.concatenate([pv, np.zeros(max(0, steps - len(pv)))])[:steps]
    soc = battery_kwh * state_of_charge
    hours = float(steps)
    whole = True
    for n, gen in enumerate(pv):
        net = gen - backup_kw
        if net >= 0:
            soc = min(battery_kwh, soc + net * efficiency)
            continue
        need = -net
        if soc >= need:
            soc -= need
            continue
        hours = float(n + (soc / need if need else 0.0))
        whole = False
        break
    cut = pd.Timestamp(index[start]) - pd.Timedelta(hours=1)  # start of that hour
    is_storm = bool(stormy.any())
    return Autonomy(float(hours), whole, cut, is_storm, bool(is_storm and hours < required_hours))


def storm_hours(wind_speed: np.ndarray, warning: np.ndarray,
                threshold: float = STORM_WIND) -> np.ndarray:
    return (np.asarray(warning, dtype=float) >= 1) | (np.asarray(wind_speed) >= threshold)
