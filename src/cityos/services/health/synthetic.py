"""Synthetic checkup records for tests and the demo town: fictional residents, a few yearly
checkups each, values drawn around the national averages with a slow drift by person.

No real person's data: the numbers come from a seeded random generator, not from any survey.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import numpy as np
import pandas as pd

from cityos.services.health.importer import COLUMNS, Checkup

_PROTEIN = ("-", "±", "+", "2+")


def synthetic_checkups(residents: list[tuple[str, str, int, str]], years: int = 4,
                       last_year: int = 2026, seed: int = 0) -> list[Checkup]:
    """`years` yearly checkups (June–October) for each (resident id, sex, age now, area)."""
    rng = np.random.default_rng(seed)
    out = []
    for resident, sex, age_now, area in residents:
        male = sex == "M"
        base_bmi = rng.normal(23.8 if male else 22.3, 3.2)
        drift = rng.normal(0.15, 0.25)  # BMI units per year
        glyc = rng.normal(0.0, 1.0)  # this person's tendency to high blood sugar
        press = rng.normal(0.0, 1.0)
        smoker = rng.random() < (0.27 if male else 0.08)
        drinks = int(rng.choice([0, 1, 2], p=[0.45, 0.3, 0.25] if male else [0.65, 0.25, 0.1]))
        active = rng.random() < 0.35
        height = rng.normal(167 if male else 154, 6.0)
        # a yearly HbA1c drift nobody measures, faster with obesity (above BMI 25)
        sugar_drift = rng.normal(0.02 + 0.05 * max(base_bmi - 25, 0) / 5, 0.07)
        for k in range(years):
            year = last_year - (years - 1 - k)
            age = age_now - (last_year - year)
            bmi = base_bmi + drift * k + rng.normal(0, 0.3)
            weight = bmi * (height / 100) ** 2
            waist = bmi * (3.5 if male else 3.7) + rng.normal(0, 2.5)
            hba1c = 5.3 + 0.025 * (age - 50) + 0.05 * (bmi - 23) + 0.3 * glyc \
                + 0.04 * k * max(glyc, 0) + sugar_drift * k + rng.normal(0, 0.1)
            fpg = 18 * hba1c - 4 + rng.normal(0, 5)
            sbp = 118 + 0.45 * (age - 50) + 1.2 * (bmi - 23) + 9 * press + rng.normal(0, 6)
            dbp = 0.55 * sbp + 8 + rng.normal(0, 5)
            tg = float(np.exp(rng.normal(4.6 + 0.04 * (bmi - 23) + 0.15 * drinks, 0.4)))
            hdl = 62 - 1.1 * (bmi - 23) - (8 if male else 0) + rng.normal(0, 10)
            ldl = 120 + 1.5 * (bmi - 23) + rng.normal(0, 28)
            alt = float(np.exp(rng.normal(2.9 + 0.05 * (bmi - 23), 0.35)))
            ast = 0.7 * alt + 8 + rng.normal(0, 3)
            ggt = float(np.exp(rng.normal(3.1 + 0.35 * drinks + (0.2 if male else 0), 0.45)))
            egfr = 100 - 0.6 * age + rng.normal(0, 9)
            protein = _PROTEIN[min(3, int(rng.exponential(0.25)))]
            day = dt.date(year, int(rng.integers(6, 11)), int(rng.integers(1, 29)))
            values = {
                "height": round(height, 1), "weight": round(weight, 1), "bmi": round(bmi, 1),
                "waist": round(waist, 1), "sbp": round(sbp), "dbp": round(dbp),
                "fpg": round(fpg), "hba1c": round(hba1c, 1), "tg": round(tg), "hdl": round(hdl),
                "ldl": round(ldl), "ast": round(max(ast, 8)), "alt": round(max(alt, 5)),
                "ggt": round(max(ggt, 8)), "egfr": round(min(max(egfr, 8), 130), 1),
                "urine_protein": float(_PROTEIN.index(protein) if protein != "2+" else 3),
                "smoking": float(smoker), "drinking": float(drinks), "exercise": float(active),
                "walking": float(active or rng.random() < 0.3),
            }
            out.append(Checkup(resident, day, sex, age, {k: float(v) for k, v in values.items()},
                               area))
    return out


_PROTEIN_TEXT = {0.0: "-", 1.0: "±", 2.0: "+", 3.0: "2+", 4.0: "3+"}


def to_csv(checkups: list[Checkup]) -> str:
    """The checkups in the documented CSV layout (header row first)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for c in checkups:
        row: list[object] = [c.resident, c.date.isoformat(), c.sex, c.age]
        for column in COLUMNS[4:]:
            value = c.values.get(column) if column != "area" else None
            if value is None:
                row.append("")
            elif column == "urine_protein":
                row.append(_PROTEIN_TEXT[value])
            elif column in ("smoking", "exercise", "walking", "drinking"):
                row.append(int(value))
            else:
                row.append(f"{value:g}")
        row[-1] = c.area  # the last column
        writer.writerow(row)
    return buf.getvalue()


FEATURES = ("age", "sex", "bmi", "waist", "sbp", "dbp", "fpg", "hba1c", "tg", "hdl", "ldl",
            "ast", "alt", "ggt", "egfr", "urine_protein", "smoking", "drinking", "exercise",
            "walking")
ONSET = "diabetes_3y"


def onset_frame(people: int = 2000, seed: int = 1) -> pd.DataFrame:
    """A synthetic cohort for the demo's risk model: each person's first checkup (features,
    sex 1/2) and whether high blood sugar (HbA1c 6.0% or more, or fasting glucose 110 mg/dL
    or more: 糖尿病予備群 or worse) appeared at the checkup three years later; people already
    there at first are left out."""

    rng = np.random.default_rng(seed)
    who = [(f"p{i}", "MF"[int(rng.random() < 0.55)], int(rng.integers(43, 75)), "")
           for i in range(people)]
    rows = []
    history = synthetic_checkups(who, years=4, last_year=2025, seed=seed)
    for n in range(people):
        first, last = history[4 * n], history[4 * n + 3]
        if first.values["hba1c"] >= 6.0 or first.values["fpg"] >= 110:
            continue
        row: dict[str, float] = {"age": first.age, "sex": 1.0 if first.sex == "M" else 2.0}
        row.update({k: first.values[k] for k in FEATURES if k not in row})
        row[ONSET] = float(last.values["hba1c"] >= 6.0 or last.values["fpg"] >= 110)
        rows.append(row)
    return pd.DataFrame(rows)
