"""CO2 accounts: Scope 1 fuels and Scope 2 electricity by fiscal year with the vendored
factors, the PV's avoided emissions beside, the roadmap; and the command's answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityos.cli import app
from cityos.services.energy.carbon import Usage, grid_factor, roadmap, yearly_report


def test_kansai_factor_of_fy2016_is_the_published_one() -> None:
    assert grid_factor(2016).kg_per_kwh == 0.509
    assert grid_factor(2016, kind="adjusted").kg_per_kwh == 0.493
    later = grid_factor(2026)
    assert later.factor_year == 2018 and "2018" in later.note_en


def test_fiscal_year_runs_april_to_march_and_scopes_add_up() -> None:
    rows = [Usage("役場", "2026-03", electricity_kwh=1000.0),  # FY2025: not counted
            Usage("役場", "2026-04", electricity_kwh=10000.0, fuels={"kerosene": 100.0}),
            Usage("吉川小学校", "2027-03", electricity_kwh=2000.0, pv_kwh=3000.0,
                  fuels={"gasoline": 10.0})]
    rep = yearly_report(rows, 2026, grid_factor(2016))
    assert rep.months == ["2026-04", "2027-03"]
    assert rep.scope_t(2) == pytest.approx(12000 * 0.509 / 1000)
    assert rep.scope_t(1) == pytest.approx((100 * 2.49 + 10 * 2.32) / 1000)
    assert rep.total_t == pytest.approx(rep.scope_t(1) + rep.scope_t(2))
    assert rep.avoided_t == pytest.approx(3000 * 0.509 / 1000)
    assert sum(rep.facilities.values()) == pytest.approx(rep.total_t)


def test_roadmap_halves_by_2030_and_reaches_zero_in_2050() -> None:
    assert roadmap(1000.0, 2013) == 1000.0
    assert roadmap(1000.0, 2030) == pytest.approx(500.0)
    assert roadmap(1000.0, 2040) == pytest.approx(250.0)
    assert roadmap(1000.0, 2050) == 0.0


def test_report_command_on_a_ledger_file(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_text("facility,month,electricity_kwh,pv_kwh,pv_self_kwh,kerosene\n"
                      "役場,2016-05,10000,2000,1500,100\n", "utf-8")
    out = CliRunner().invoke(app, ["energy", "report", "--usage", str(ledger), "--year", "2016",
                                   "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert data["totalTCO2"] == pytest.approx(5.09 + 0.249)
    assert data["gridFactor"]["factorYear"] == 2016
    text = CliRunner().invoke(app, ["energy", "report", "--usage", str(ledger), "--year",
                                    "2016"]).stdout
    assert "電気" in text and "灯油" in text


def test_a_bad_ledger_is_one_line_in_both_languages(tmp_path: Path) -> None:
    ledger = tmp_path / "bad.csv"
    ledger.write_text("facility,month,electricity_kwh\n役場,2016-13,abc\n", "utf-8")
    out = CliRunner().invoke(app, ["energy", "report", "--usage", str(ledger), "--year", "2016"])
    assert out.exit_code == 2
    assert "month" in out.output and "行目" in out.output
