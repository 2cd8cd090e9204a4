"""What the pages and the API show, computed from the service's state (the week's data and
the current forecast) and its ledger: plain dictionaries, times in JST, no identifiers."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cityos.services.energy import carbon
from cityos.services.energy.balance import add, supply_demand
from cityos.services.energy.outlook import SiteOutlook
from cityos.services.energy.week import Week

JST = ZoneInfo("Asia/Tokyo")
HOUSEHOLD_KWH_DAY = 12.0  # a household's daily use, roughly 4,300 kWh a year (assumption)
WEEKDAYS = "月火水木金土日"


def day_label(day: pd.Timestamp | datetime, lang: str) -> str:
    d = pd.Timestamp(day)
    if lang == "en":
        return d.strftime("%a %d %b")
    return f"{d.month}月{d.day}日（{WEEKDAYS[d.dayofweek]}）"


def time_label(stamp: pd.Timestamp, lang: str) -> str:
    t = pd.Timestamp(stamp).tz_convert(JST)
    return f"{day_label(t, lang)} {t.hour}:00" if lang == "en" else \
        f"{day_label(t, lang)} {t.hour}時"


def week_days(week: Week, now: datetime, lang: str) -> list[dict[str, Any]]:
    """Per day and site: forecast and (for hours already past) actual generation, demand."""
    rows = []
    index = pd.DatetimeIndex(week.weather.index)
    past = index <= pd.Timestamp(now)
    for d in range(7):
        in_day = (np.arange(len(index)) // 24) == d
        day_start = index[d * 24] - pd.Timedelta(hours=1)
        sites = []
        for site in week.sites:
            dev = site.system.device
            done = in_day & past
            sites.append({
                "place": site.system.name,
                "forecast": round(float(week.forecast_kw[dev][in_day].sum()), 1),
                "actual": round(float(week.actual_kw[dev][done].sum()), 1) if done.any()
                else None,
                "complete": bool(done.sum() == in_day.sum())})
        rows.append({"day": day_label(day_start.tz_convert(JST), lang),
                     "storm": bool(week.weather["storm"].to_numpy()[in_day].any()),
                     "sites": sites})
    return rows


def balances(week: Week, now: datetime) -> dict[str, Any]:
    """Supply and demand of each building over the hours already past."""
    index = pd.DatetimeIndex(week.weather.index)
    past = index <= pd.Timestamp(now)
    per = []
    for site in week.sites:
        dev = site.system.device
        per.append((site.system.name, supply_demand(week.actual_kw[dev][past],
                                                    week.demand_kw[dev][past])))
    total = add([b for _, b in per])
    return {"sites": [{"place": name, **b.to_json()} for name, b in per],
            "total": total.to_json(), "hours": int(past.sum())}


def shelters(views: list[SiteOutlook], lang: str) -> list[dict[str, Any]]:
    out = []
    for v in views:
        a = v.autonomy
        out.append({"place": v.site.system.name, "batteryKWh": v.site.system.battery_kwh,
                    "backupKW": v.site.system.backup_kw, "hours": round(a.hours, 1),
                    "wholeWindow": a.whole_window, "storm": a.storm, "flag": a.flag,
                    "cutAt": time_label(a.cut_at, lang)
                    if a.storm else "",
                    "forecastKWh": round(v.energy_kwh, 1)})
    return out


def chart(week: Week, now: datetime) -> dict[str, Any]:
    """The town's hourly total: forecast and actual (kW), for a small SVG line chart."""
    index = pd.DatetimeIndex(week.weather.index)
    forecast = sum(s.to_numpy() for s in week.forecast_kw.values())
    actual = sum(s.to_numpy() for s in week.actual_kw.values())
    past = index <= pd.Timestamp(now)
    width, height = 700.0, 200.0
    top = float(max(np.max(forecast), np.max(actual), 1.0))

    def points(values: np.ndarray, mask: np.ndarray) -> str:
        return " ".join(f"{i * width / (len(values) - 1):.1f},{height - v / top * height:.1f}"
                        for i, (v, m) in enumerate(zip(values, mask, strict=True)) if m)

    return {"forecast": points(np.asarray(forecast), np.ones(len(index), dtype=bool)),
            "actual": points(np.asarray(actual), past), "width": width, "height": height,
            "top": round(top), "days": [i * width / 7 for i in range(8)]}


def co2(usages: list[carbon.Usage], year: int, options: dict[str, Any]) -> dict[str, Any]:
    choice = carbon.grid_factor(year, options.get("utility", "関西電力"),
                                options.get("factor_kind", "basic"), options.get("grid_factor"))
    baseline = options.get("baseline_t_co2") or carbon.baseline_from(usages)
    return carbon.yearly_report(usages, year, choice, baseline).to_json()


def resident_summary(week: Week, now: datetime, report: dict[str, Any] | None,
                     views: list[SiteOutlook], lang: str) -> dict[str, Any]:
    index = pd.DatetimeIndex(week.weather.index)
    past = index <= pd.Timestamp(now)
    made = float(sum(s[past].sum() for s in week.actual_kw.values()))
    factor = report["gridFactor"]["kgPerKWh"] if report else 0.35
    tomorrow = [v for v in views if v.autonomy.storm]
    return {"kwh": round(made), "households": round(made / HOUSEHOLD_KWH_DAY),
            "co2kg": round(made * factor), "days": int(past.sum() // 24),
            "yearKWh": round(report["pv"]["generatedKWh"]) if report else None,
            "yearCO2t": report["pv"]["avoidedTCO2"] if report else None,
            "fy": report["fiscalYear"] if report else None,
            "storm": bool(tomorrow),
            "stormAt": time_label(tomorrow[0].autonomy.cut_at, lang)
            if tomorrow else ""}
