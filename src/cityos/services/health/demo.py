"""The demo town's checkups: four yearly checkups for the demo resident (hanako.toyono, whose
blood sugar creeps up towards the line) and for every fictional resident aged 40 or over; written once."""

from __future__ import annotations

import datetime as dt
import json
import random
from importlib import resources

from cityos.services.health.importer import Checkup, entities
from cityos.services.health.synthetic import synthetic_checkups
from cityos.services.runtime import ServiceContext
from cityos.town import people

YEARS = 4


def hanako(resident: str, last_year: int) -> list[Checkup]:
    """The demo resident: 67, slowly gaining weight, HbA1c from 5.4% to 5.8%."""
    rows = (
        (64, 55.1, 24.5, 84.0, 128, 78, 95, 5.4, 138, 58, 131),
        (65, 56.0, 24.9, 86.5, 131, 80, 99, 5.5, 152, 55, 138),
        (66, 56.9, 25.3, 88.0, 134, 82, 103, 5.7, 166, 52, 136),
        (67, 57.6, 25.6, 89.5, 138, 84, 107, 5.8, 181, 49, 138),
    )
    out = []
    for n, (age, weight, bmi, waist, sbp, dbp, fpg, a1c, tg, hdl, ldl) in enumerate(rows):
        out.append(Checkup(resident, dt.date(last_year - 3 + n, 6, 12 + n), "F", age, {
            "height": 150.0, "weight": weight, "bmi": bmi, "waist": waist, "sbp": sbp,
            "dbp": dbp, "fpg": fpg, "hba1c": a1c, "tg": tg, "hdl": hdl, "ldl": ldl,
            "ast": 24.0, "alt": 22.0 + n, "ggt": 28.0, "egfr": 71.0 - n, "urine_protein": 0.0,
            "smoking": 0.0, "drinking": 1.0, "exercise": 0.0, "walking": 1.0},
            "光風台一丁目"))
    return out


def _areas() -> list[str]:
    data = resources.files("cityos.town").joinpath("data", "town_areas_centroids.json")
    return [a["town"] for a in json.loads(data.read_text("utf-8"))]


async def load(ctx: ServiceContext) -> None:
    lookup = ctx.state.get("resident_of_login")
    if lookup is None:
        return
    if await ctx.client.query("HealthCheckup", attrs=["examDate"], limit=1):
        return  # loaded before
    last_year = dt.date.today().year - (1 if dt.date.today().month < 7 else 0)
    rng = random.Random(people.SEED)
    cohort = []
    for r in people.residents(_areas()):
        if r.age < 40:
            continue
        resident = await lookup(r.login)
        if resident is not None:
            cohort.append((resident, "MF"[int(rng.random() < 0.55)], min(r.age, 90), r.area))
    found = synthetic_checkups(cohort, years=YEARS, last_year=last_year, seed=people.SEED)
    demo = await lookup(people.DEMO_RESIDENT)
    if demo is not None:
        found += hanako(demo, last_year)
    await ctx.client.upsert(entities(found))
