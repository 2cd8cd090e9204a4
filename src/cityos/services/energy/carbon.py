"""CO2 accounting of the town's own operations (地方公共団体実行計画 事務事業編 style).

Scope 1 (燃料の使用: kerosene, gasoline …) with the fuel factors of data/fuel_factors.tsv;
Scope 2 (電気の使用: electricity bought from the grid) with the retailer's factor of the
fiscal year (data/emission_factors.tsv, or a factor given by the town); avoided emissions of
the town's PV (generation x the same grid factor) reported beside, never subtracted; and the
year's place on a straight path from the base year to the 2030 target and net zero in 2050.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data"
BASE_YEAR = 2013  # 地球温暖化対策計画 / 政府実行計画: reductions counted from FY2013
TARGET_2030 = 0.50  # 政府実行計画: government operations -50 % by FY2030 (vs FY2013)
NET_ZERO_YEAR = 2050


@dataclass(frozen=True)
class GridFactor:
    utility: str
    fiscal_year: int
    basic: float  # kg-CO2/kWh
    adjusted: float
    source: str


@dataclass(frozen=True)
class FuelFactor:
    fuel: str
    name_ja: str
    name_en: str
    unit: str
    kg_per_unit: float


def _rows(name: str) -> list[dict[str, str]]:
    lines = [ln for ln in (DATA / name).read_text("utf-8").splitlines()
             if ln and not ln.startswith("#")]
    return list(csv.DictReader(lines, delimiter="\t"))


@cache
def grid_factors() -> tuple[GridFactor, ...]:
    return tuple(GridFactor(r["utility"], int(r["fiscal_year"]), float(r["basic"]),
                            float(r["adjusted"]), r["source"]) for r in _rows("emission_factors.tsv"))


@cache
def fuel_factors() -> dict[str, FuelFactor]:
    return {r["fuel"]: FuelFactor(r["fuel"], r["name_ja"], r["name_en"], r["unit"],
                                  float(r["kg_co2_per_unit"])) for r in _rows("fuel_factors.tsv")}


def fiscal_year(day: date) -> int:
    """年度: April to March."""
    return day.year if day.month >= 4 else day.year - 1


@dataclass(frozen=True)
class FactorChoice:
    kg_per_kwh: float
    utility: str
    factor_year: int | None  # None: given by the town
    kind: str  # basic, adjusted, given
    source: str
    note_ja: str = ""
    note_en: str = ""


def grid_factor(year: int, utility: str = "関西電力", kind: str = "basic",
                given: float | None = None) -> FactorChoice:
    """The factor for fiscal `year`: the town's own figure if given, else the retailer's row
    for that year, else its latest earlier row (said so in the notes)."""
    if given is not None:
        return FactorChoice(given, utility, None, "given", "cityos.toml")
    rows = sorted((f for f in grid_factors() if f.utility == utility and f.fiscal_year <= year),
                  key=lambda f: f.fiscal_year)
    if not rows:
        raise ValueError(f"no emission factor of {utility} for {year} or before")
    row = rows[-1]
    value = row.adjusted if kind == "adjusted" else row.basic
    if row.fiscal_year == year:
        return FactorChoice(value, utility, row.fiscal_year, kind, row.source)
    return FactorChoice(value, utility, row.fiscal_year, kind, row.source,
                        f"{year}年度の係数が未登録のため{row.fiscal_year}年度の係数を使用",
                        f"no factor for FY{year} on file: FY{row.fiscal_year}'s is used")


@dataclass
class Usage:
    """What one facility used in one month: metered electricity and fuel, its PV output."""

    facility: str
    month: str  # YYYY-MM
    electricity_kwh: float = 0.0  # bought from the grid
    pv_kwh: float = 0.0  # generated
    pv_self_kwh: float = 0.0  # of which used on site
    fuels: dict[str, float] = field(default_factory=dict)  # fuel -> quantity in its unit


@dataclass(frozen=True)
class Line:
    scope: int
    category: str  # 電気, 燃料
    item: str  # fuel key or "electricity"
    label_ja: str
    label_en: str
    quantity: float
    unit: str
    t_co2: float


@dataclass(frozen=True)
class Report:
    fiscal_year: int
    months: list[str]
    lines: list[Line]
    factor: FactorChoice
    pv_kwh: float
    pv_self_kwh: float
    avoided_t: float
    facilities: dict[str, float]  # facility -> t-CO2
    baseline_t: float | None

    @property
    def total_t(self) -> float:
        return sum(line.t_co2 for line in self.lines)

    def scope_t(self, scope: int) -> float:
        return sum(line.t_co2 for line in self.lines if line.scope == scope)

    def path_t(self) -> float | None:
        """The straight roadmap's value for this year: base year -> 2030 target -> 0 in 2050."""
        if self.baseline_t is None:
            return None
        return roadmap(self.baseline_t, self.fiscal_year)

    def path_months(self) -> float:
        """The path's share for the months on file (a year in progress is compared with the
        months it has, not with the whole year)."""
        path = self.path_t()
        return 0.0 if path is None else path * len(self.months) / 12

    def to_json(self) -> dict[str, object]:
        path = self.path_t()
        return {
            "fiscalYear": self.fiscal_year, "months": self.months,
            "gridFactor": {"kgPerKWh": self.factor.kg_per_kwh, "utility": self.factor.utility,
                           "factorYear": self.factor.factor_year, "kind": self.factor.kind,
                           "source": self.factor.source,
                           "note": {"ja": self.factor.note_ja, "en": self.factor.note_en}},
            "lines": [{"scope": ln.scope, "category": ln.category, "item": ln.item,
                       "label": {"ja": ln.label_ja, "en": ln.label_en},
                       "quantity": round(ln.quantity, 2), "unit": ln.unit,
                       "tCO2": round(ln.t_co2, 4)} for ln in self.lines],
            "scope1TCO2": round(self.scope_t(1), 4), "scope2TCO2": round(self.scope_t(2), 4),
            "totalTCO2": round(self.total_t, 4),
            "pv": {"generatedKWh": round(self.pv_kwh, 1), "selfConsumedKWh": round(self.pv_self_kwh, 1),
                   "avoidedTCO2": round(self.avoided_t, 4)},
            "facilities": {k: round(v, 4) for k, v in sorted(self.facilities.items())},
            "roadmap": {"baseYear": BASE_YEAR,
                        "baselineTCO2": None if self.baseline_t is None
                        else round(self.baseline_t, 3),
                        "target2030": TARGET_2030, "netZeroYear": NET_ZERO_YEAR,
                        "pathTCO2": None if path is None else round(path, 3),
                        "pathForMonthsTCO2": None if path is None else round(self.path_months(), 3),
                        "onTrack": None if path is None else self.total_t <= self.path_months()},
        }


def roadmap(baseline_t: float, year: int) -> float:
    if year <= BASE_YEAR:
        return baseline_t
    target = baseline_t * (1 - TARGET_2030)
    if year <= 2030:
        return baseline_t + (target - baseline_t) * (year - BASE_YEAR) / (2030 - BASE_YEAR)
    if year >= NET_ZERO_YEAR:
        return 0.0
    return target * (NET_ZERO_YEAR - year) / (NET_ZERO_YEAR - 2030)


def _in_year(month: str, year: int) -> bool:
    y, m = (int(x) for x in month.split("-"))
    return fiscal_year(date(y, m, 1)) == year


def yearly_report(usages: list[Usage], year: int, factor: FactorChoice,
                  baseline_t: float | None = None) -> Report:
    """The fiscal year's accounts from the monthly usage of every facility."""
    rows = [u for u in usages if _in_year(u.month, year)]
    fuels = fuel_factors()
    electricity = sum(u.electricity_kwh for u in rows)
    lines: list[Line] = []
    for key, f in fuels.items():
        qty = sum(u.fuels.get(key, 0.0) for u in rows)
        if qty:
            lines.append(Line(1, "燃料", key, f.name_ja, f.name_en, qty, f.unit,
                              qty * f.kg_per_unit / 1000.0))
    unknown = sorted({k for u in rows for k in u.fuels if k not in fuels})
    if unknown:
        raise ValueError(f"unknown fuel(s): {', '.join(unknown)}")
    lines.append(Line(2, "電気", "electricity", "電気（系統から購入）",
                      "electricity bought from the grid", electricity, "kWh",
                      electricity * factor.kg_per_kwh / 1000.0))
    by_facility: dict[str, float] = {}
    for u in rows:
        t = u.electricity_kwh * factor.kg_per_kwh / 1000.0 + sum(
            q * fuels[k].kg_per_unit / 1000.0 for k, q in u.fuels.items())
        by_facility[u.facility] = by_facility.get(u.facility, 0.0) + t
    pv = sum(u.pv_kwh for u in rows)
    return Report(year, sorted({u.month for u in rows}), lines, factor, pv,
                  sum(u.pv_self_kwh for u in rows), pv * factor.kg_per_kwh / 1000.0,
                  by_facility, baseline_t)


def baseline_from(usages: list[Usage], utility: str = "関西電力", kind: str = "basic") -> float | None:
    """FY2013's total from the ledger, when the ledger has all twelve months of it."""
    months = {u.month for u in usages if _in_year(u.month, BASE_YEAR)}
    if len(months) < 12:
        return None
    return yearly_report(usages, BASE_YEAR, grid_factor(BASE_YEAR, utility, kind)).total_t
