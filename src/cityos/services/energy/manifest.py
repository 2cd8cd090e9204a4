"""The energy service's manifest: solar forecasts, supply and demand, shelter backup power and
the town's CO2 accounts (plan rows ⑩: 太陽光発電による電力需給予測, CO2排出量シミュレーション)."""

from __future__ import annotations

from cityos.personal.datacatalog import CatalogEntry
from cityos.services.manifest import Manifest, Text, TypeUse

DOC = "town: docs/services/energy.md"

MANIFEST = Manifest(
    name="energy",
    title=Text("エネルギー・脱炭素", "Energy and net zero"),
    summary=Text("公共施設の太陽光発電の予測、電力の需給、避難所の非常用電源の持続時間、"
                 "町のCO2排出量の集計", "Solar forecasts for the public buildings, supply and "
                 "demand, shelter backup power and the town's CO2 accounts"),
    plan_rows=("plan-40", "plan-42"),
    org="町のエネルギー管理",
    reads=(TypeUse("PhotovoltaicMeasurement", "Smart Data Models: dataModel.GreenEnergy/"
                   "PhotovoltaicMeasurement"),
           TypeUse("EvacuationShelter", "town: docs/demo-town.md")),
    writes=(TypeUse("EnergyUsage", DOC), TypeUse("SolarForecast", DOC)),
    catalog=(
        CatalogEntry("EnergyUsage", "non-personal", "", "refResident",
                     "公共施設の月ごとの電力・燃料使用量と太陽光発電量 / a public building's "
                     "monthly electricity, fuel and solar figures"),
        CatalogEntry("SolarForecast", "non-personal", "", "refResident",
                     "公共施設の太陽光発電の予測 / the solar forecast of a public building"),
    ),
    settings={"utility": "関西電力", "factor_kind": "basic", "grid_factor": None,
              "baseline_t_co2": None, "required_hours": 72.0, "storm_wind": 20.0,
              "forecast_file": ""},
    audience="residents",
)
