"""Shelter backup power: the flag goes up in the forecasts that cover the demo's storm day,
and only there; supply and demand add up."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from cityos.services.energy.balance import autonomy, supply_demand
from cityos.services.energy.dayahead import FrameSource
from cityos.services.energy.outlook import outlook
from cityos.services.energy.week import STORM_DAY, simulate


@pytest.fixture(scope="module")
def week():  # type: ignore[no-untyped-def]
    return simulate(date(2026, 11, 30))


def _day_ahead(week, day: int):  # type: ignore[no-untyped-def]
    return outlook(FrameSource(week.forecast_weather.iloc[day * 24:(day + 2) * 24]))


def test_the_storm_raises_the_flag_the_day_before(week) -> None:  # type: ignore[no-untyped-def]
    views = _day_ahead(week, STORM_DAY - 1)
    assert views and all(v.autonomy.storm and v.autonomy.flag for v in views)
    cut = views[0].autonomy.cut_at.tz_convert("Asia/Tokyo")
    assert cut.date() == week.storm_date()


def test_fair_days_raise_no_flag(week) -> None:  # type: ignore[no-untyped-def]
    for day in (0, 5):
        assert not any(v.autonomy.flag for v in _day_ahead(week, day))


def test_the_storm_day_makes_far_less_power(week) -> None:  # type: ignore[no-untyped-def]
    for kw in week.actual_kw.values():
        daily = [kw.iloc[d * 24:(d + 1) * 24].sum() for d in range(7)]
        assert daily[STORM_DAY] < 0.4 * min(daily[0], daily[5])


def test_a_big_enough_battery_lasts_through_the_storm() -> None:
    index = pd.date_range("2026-12-03 01:00", periods=72, freq="h", tz="Asia/Tokyo")
    pv = pd.Series(0.0, index=index)
    storm = pd.Series(True, index=index)
    small = autonomy(pv, storm, battery_kwh=10, backup_kw=2)
    big = autonomy(pv, storm, battery_kwh=150, backup_kw=2)
    assert small.flag and small.hours == pytest.approx(5.0)
    assert not big.flag and big.whole_window


def test_supply_and_demand_add_up() -> None:
    gen = np.array([0.0, 5.0, 10.0, 2.0])
    dem = np.array([3.0, 3.0, 3.0, 3.0])
    b = supply_demand(gen, dem)
    assert b.self_consumed_kwh == 8.0 and b.surplus_kwh == 9.0 and b.imported_kwh == 4.0
    assert b.self_consumed_kwh + b.surplus_kwh == b.generation_kwh
    assert b.self_consumed_kwh + b.imported_kwh == b.demand_kwh
