"""The service's view of the coming hours: each PV system's forecast and each shelter's
backup-power autonomy, flagged when a storm is forecast and the power would not last."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cityos.services.energy.balance import REQUIRED_HOURS, STORM_WIND, Autonomy, autonomy
from cityos.services.energy.dayahead import WeatherSource
from cityos.services.energy.sites import Site, town_sites
from cityos.services.energy.town_forecast import Observation, forecast_system


@dataclass(frozen=True)
class SiteOutlook:
    site: Site
    forecast: pd.DataFrame  # clear_ghi, ghi, kw, storm, wind_speed per hour-ending
    autonomy: Autonomy

    @property
    def energy_kwh(self) -> float:
        return float(self.forecast["kw"].sum())

    def to_json(self) -> dict[str, object]:
        s = self.site.system
        return {
            "device": s.device, "place": s.name, "shelter": self.site.shelter_id,
            "kwp": s.kwp, "batteryKWh": s.battery_kwh, "backupKW": s.backup_kw,
            "forecastKWh": round(self.energy_kwh, 1),
            "hourly": [{"end": pd.Timestamp(t).tz_convert("Asia/Tokyo").isoformat(),
                        "kW": round(float(r["kw"]), 2), "storm": bool(r["storm"])}
                       for t, r in self.forecast.iterrows()],
            "autonomy": self.autonomy.to_json(),
        }


def outlook(source: WeatherSource, sites: tuple[Site, ...] | None = None,
            last: dict[str, Observation] | None = None,
            state_of_charge: dict[str, float] | None = None,
            required_hours: float = REQUIRED_HOURS,
            storm_wind: float = STORM_WIND) -> list[SiteOutlook]:
    """Forecast every site and simulate a grid cut at the first storm hour (or now)."""
    out = []
    for site in sites or town_sites():
        s = site.system
        fc = forecast_system(s, source, (last or {}).get(s.device), storm_wind)
        soc = (state_of_charge or {}).get(s.device, 1.0)
        aut = autonomy(fc["kw"], fc["storm"], s.battery_kwh, s.backup_kw, soc,
                       required_hours=required_hours)
        out.append(SiteOutlook(site, fc, aut))
    return out
