"""What the health service computes for its faces, from checkups read through its platform
client: a resident's trend against the reference ranges, her risk and its reasons, a health
plan; and the population's aggregates with small cells suppressed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cityos.services.health.explain import Reason, reasons
from cityos.services.health.importer import Checkup, checkup_of
from cityos.services.health.items import MEASURES, URINE_PROTEIN, Item
from cityos.services.health.model import Fitted
from cityos.services.runtime import ServiceContext

_PROTEIN_TEXT = {v: k for k, v in URINE_PROTEIN.items() if k not in ("−", "1+")}
AGE_BANDS = ((40, 49), (50, 59), (60, 69), (70, 74), (75, 130))  # 75+: 後期高齢者健診


async def checkups_of(ctx: ServiceContext, resident: str) -> list[Checkup]:
    """Her checkups, oldest first, as the service may read them."""
    found = await ctx.client.query(
        "HealthCheckup", q=f'refResident=="urn:ngsi-ld:Resident:{resident}"')
    return sorted((checkup_of(e) for e in found), key=lambda c: c.date)


async def all_checkups(ctx: ServiceContext) -> list[Checkup]:
    return [checkup_of(e) for e in await ctx.client.query("HealthCheckup")]


@dataclass
class Line:
    """One item's values over the years, with the reference range and her latest level."""

    item: Item
    values: list[tuple[int, float, int]]  # (year, value, level 0/1/2)
    range_ja: str
    range_en: str

    @property
    def latest_level(self) -> int:
        return self.values[-1][2] if self.values else 0

    @property
    def change(self) -> float | None:
        return self.values[-1][1] - self.values[-2][1] if len(self.values) > 1 else None


def trend(checkups: list[Checkup]) -> list[Line]:
    """Every measured item over the years (one value a year: that year's last checkup)."""
    if not checkups:
        return []
    sex = checkups[-1].sex
    by_year = {c.date.year: c for c in checkups}
    lines = []
    for item in MEASURES:
        values = [(year, c.values[item.key], item.level(c.values[item.key], c.sex))
                  for year, c in sorted(by_year.items()) if item.key in c.values]
        if values:
            lines.append(Line(item, values, item.range_ja(sex), item.range_en(sex)))
    return lines


def protein_text(value: float | None) -> str:
    return "" if value is None else _PROTEIN_TEXT.get(int(value), "")


def features_of(checkup: Checkup) -> dict[str, Any]:
    return {"age": checkup.age, "sex": 1.0 if checkup.sex == "M" else 2.0, **checkup.values}


def risk(fitted: Fitted | None, checkups: list[Checkup]) -> tuple[float, list[Reason]] | None:
    """Her risk from her latest checkup and its reasons; None without a model or checkups."""
    if fitted is None or not checkups:
        return None
    return reasons(fitted, features_of(checkups[-1]))


@dataclass(frozen=True)
class Suggestion:
    key: str  # exercise_class, dietitian, clinic, quit_smoking: the setting with its name
    why_ja: str
    why_en: str


def plan(checkups: list[Checkup], found: tuple[float, list[Reason]] | None,
         threshold: float) -> list[Suggestion]:
    """The town's services that fit her latest checkup and her risk."""
    if not checkups:
        return []
    last = checkups[-1]
    lines = {line.item.key: line for line in trend(checkups)}
    referral = [lines[k].item.ja for k in lines if lines[k].latest_level == 2]
    out = []
    if referral:
        out.append(Suggestion("clinic", f"{'、'.join(referral)}が受診をすすめる値です。",
                              "some values are at the level where a visit is advised."))
    elif found is not None and found[0] >= threshold:
        out.append(Suggestion("clinic", "リスクが高めです。一度相談しておくと安心です。",
                              "your risk is high; a talk with your doctor helps."))
    food = [lines[k].item.ja for k in ("hba1c", "fpg", "tg", "ldl", "waist", "bmi")
            if k in lines and lines[k].latest_level >= 1]
    if food:
        out.append(Suggestion("dietitian", f"{'、'.join(food)}は食事で改善できます。",
                              "these values improve with what you eat."))
    if not last.values.get("exercise") or ("bmi" in lines and lines["bmi"].latest_level):
        out.append(Suggestion("exercise_class", "体を動かす習慣で、血糖・血圧・体重が下がります。",
                              "regular exercise lowers blood sugar, pressure and weight."))
    if last.values.get("smoking"):
        out.append(Suggestion("quit_smoking", "たばこは多くの病気のリスクを上げます。",
                              "smoking raises the risk of many diseases."))
    return out


@dataclass
class Cell:
    """One aggregate cell: people counted, and the share at guidance level or above per item;
    `hidden` when fewer than the small-cell limit (its numbers are then not shown)."""

    label_ja: str
    label_en: str
    people: int
    shares: dict[str, float]
    hidden: bool


ITEMS_SHOWN = ("bmi", "sbp", "hba1c", "ldl")


def aggregates(checkups: list[Checkup], small_cell: int = 10) -> list[Cell]:
    """Latest checkup of each resident, by sex and age band; a cell of fewer than
    `small_cell` people shows no number (its count is hidden too)."""
    latest: dict[str, Checkup] = {}
    for c in sorted(checkups, key=lambda c: c.date):
        latest[c.resident] = c
    by_key = {m.key: m for m in MEASURES}
    cells = []
    for sex, sex_ja, sex_en in (("M", "男性", "men"), ("F", "女性", "women")):
        for low, high in AGE_BANDS:
            group = [c for c in latest.values() if c.sex == sex and low <= c.age <= high]
            shares = {}
            for key in ITEMS_SHOWN:
                with_value = [c for c in group if key in c.values]
                over = [c for c in with_value if by_key[key].level(c.values[key], c.sex) >= 1]
                shares[key] = len(over) / len(with_value) if with_value else 0.0
            hidden = len(group) < small_cell
            ja, en = (f"{low}歳以上", f"{low} and over") if high >= 130 else \
                (f"{low}〜{high}歳", f"{low}–{high}")
            cells.append(Cell(f"{sex_ja} {ja}", f"{sex_en} {en}",
                              0 if hidden else len(group), {} if hidden else shares, hidden))
    return cells
