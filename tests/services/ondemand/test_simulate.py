"""A day's simulation: every served ride kept its promise and the checker accepts the routes."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from cityos.cli import app
from cityos.services.ondemand.demand import day
from cityos.services.ondemand.simulate import simulate


def test_demand_peaks_in_the_morning_towards_the_clinic() -> None:
    asks = day(300, seed=1)
    morning = [a for a in asks if 8 * 60 <= (a.earliest or a.at + 10) < 11 * 60]
    evening = [a for a in asks if 16 * 60 <= (a.earliest or a.at + 10) < 19 * 60]
    assert len(morning) > 1.5 * len(evening)
    to_clinic = sum(1 for a in morning if a.destination.kind == "clinic")
    assert to_clinic > 0.3 * len(morning)


def test_a_day_keeps_every_promise() -> None:
    _, out = simulate(80, seed=3, reopt_seconds=0.1)
    assert out["feasible"], out["violations"]
    assert out["served"] > 40
    assert out["promises_kept"] == out["served"]
    assert out["requests"] == 80 == sum(
        out[k] for k in ("served", "refused", "cancelled", "no_shows"))
    assert sum(sum(h.values()) for h in out["demand_by_area_hour"].values()) == 80


def test_the_simulate_command_prints_the_figures() -> None:
    result = CliRunner().invoke(app, ["ondemand", "simulate", "--requests", "40", "--seed", "2",
                                      "--reopt-seconds", "0.05", "--json"])
    assert result.exit_code == 0, result.output
    out = orjson.loads(result.output)
    for key in ("requests", "served", "feasible", "offer_p95_ms", "wait_min_mean",
                "detour_factor_mean", "occupancy", "km_per_passenger", "refused"):
        assert key in out
    assert out["feasible"] is True and out["requests"] == 40


def test_after_a_no_show_the_car_goes_on_with_its_stops() -> None:
    d, out = simulate(300, seed=2, reopt_seconds=0)
    assert out["no_shows"] > 0 and out["feasible"]
    for car in d.cars.values():  # by midnight every car made every stop it had planned
        assert car.done == len(car.route), car.vehicle.id
