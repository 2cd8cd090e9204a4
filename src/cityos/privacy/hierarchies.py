"""Generalisation hierarchies for quasi-identifiers: each level replaces a value by a coarser
one (age → 5-year band → 10-year band → 20-year band → *, area → town name → district → *, date → month →
year → *). Level 0 is the least general a town publishes; the last level hides the column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

HIDDEN = "*"


@dataclass(frozen=True)
class Hierarchy:
    """A column's generalisation levels, each a function on the column and a description."""

    column: str
    levels: tuple[tuple[str, str, Callable[[pd.Series], pd.Series]], ...]  # (ja, en, apply)

    def apply(self, values: pd.Series, level: int) -> pd.Series:
        return self.levels[level][2](values)

    def describe(self, level: int) -> tuple[str, str]:
        ja, en, _ = self.levels[level]
        return ja, en


def _band(width: int, top: int) -> Callable[[pd.Series], pd.Series]:
    def apply(values: pd.Series) -> pd.Series:
        ages = pd.to_numeric(values, errors="coerce")
        low = (ages // width * width).clip(upper=top)
        out = low.astype("Int64").astype(str) + "-" + (low + width - 1).astype("Int64").astype(str)
        out[ages >= top] = f"{top}+"
        out[ages.isna()] = HIDDEN
        return out
    return apply


def _hide(values: pd.Series) -> pd.Series:
    return pd.Series(HIDDEN, index=values.index)


def _month(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce").dt.strftime("%Y-%m").fillna(HIDDEN)


def _year(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, errors="coerce").dt.strftime("%Y").fillna(HIDDEN)


def _same(values: pd.Series) -> pd.Series:
    return values.astype(str)


def toyono_district(area: str) -> str:
    """西地区 or 東地区 for one of Toyono's town areas (cityos.town.places)."""
    from cityos.town.places import district_of
    return "西地区" if district_of(str(area)) == "west" else "東地区"


_CHOME = re.compile(r"[一二三四五六七八九十0-9０-９]+丁目$")


def _without_chome(values: pd.Series) -> pd.Series:
    return values.astype(str).str.replace(_CHOME, "", regex=True)


def area_hierarchy(district: Callable[[str], str] = toyono_district) -> Hierarchy:
    return Hierarchy("area", (
        ("町丁目", "town area with chōme", _same),
        ("町名（丁目を除く）", "town area without chōme", _without_chome),
        ("地区（西地区・東地区）", "district (west / east)",
         lambda v: v.astype(str).map(district)),
        ("削除", "removed", _hide),
    ))


AGE = Hierarchy("age", (
    ("5歳階級（85歳以上は一括）", "5-year bands (85 and over together)", _band(5, 85)),
    ("10歳階級（80歳以上は一括）", "10-year bands (80 and over together)", _band(10, 80)),
    ("20歳階級（80歳以上は一括）", "20-year bands (80 and over together)", _band(20, 80)),
    ("削除", "removed", _hide),
))
SEX = Hierarchy("sex", (("そのまま", "kept", _same), ("削除", "removed", _hide)))
DATE = Hierarchy("exam_date", (
    ("年月", "month", _month), ("年", "year", _year), ("削除", "removed", _hide),
))


def categorical(column: str) -> Hierarchy:
    """Any other quasi-identifier: kept as it is, or removed."""
    return Hierarchy(column, (("そのまま", "kept", _same), ("削除", "removed", _hide)))


def hierarchy_of(column: str, district: Callable[[str], str] = toyono_district) -> Hierarchy:
    """The documented hierarchy of a quasi-identifier column."""
    known = {"age": AGE, "sex": SEX, "exam_date": DATE}
    if column == "area":
        return area_hierarchy(district)
    if column in known:
        return known[column]
    if column.endswith("_date"):
        return Hierarchy(column, DATE.levels)
    return categorical(column)
