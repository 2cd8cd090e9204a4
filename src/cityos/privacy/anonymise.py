"""Anonymised extracts (匿名加工情報) from a table of personal records: opted-out people
removed, direct identifiers deleted, quasi-identifiers generalised along documented
hierarchies (the least general combination that works), rare records suppressed, extreme
values top- and bottom-coded, rows shuffled; k-anonymity and l-diversity checked.

Processing standards: APPI Art. 43(1) and PPC Rules Art. 34 (1 delete identifiers, 2 delete
individual identification codes, 3 delete linking codes, 4 delete idiosyncratic values, 5 other
appropriate measures); see docs/privacy.md for how each is met.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cityos.privacy.hierarchies import Hierarchy, hierarchy_of, toyono_district

# Columns that identify a person by themselves or link to other data: always deleted.
DIRECT_IDENTIFIERS = frozenset({
    "resident_id", "id", "name", "name_kana", "address", "phone", "email", "birth_date",
    "insurer_number", "insured_number", "mynumber", "my_number", "entity_id", "refResident",
})
RESIDENT = "resident_id"


class ExtractError(ValueError):
    """An extract that cannot be made as asked; `ja` and `en` say why."""

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja, self.en = ja, en


@dataclass
class Extract:
    """The anonymised table and what was done to make it."""

    table: pd.DataFrame
    k: int
    l_div: int
    quasi: list[str]
    sensitive: str
    levels: dict[str, int]
    hierarchies: dict[str, Hierarchy]
    records_in: int
    opted_out: int
    suppressed: int
    removed_columns: list[str]
    coded: dict[str, tuple[float, float]] = field(default_factory=dict)  # column: (low, high)

    @property
    def classes(self) -> pd.Series:
        """Size of each equivalence class (rows sharing all quasi-identifier values)."""
        return self.table.groupby(self.quasi, dropna=False).size()

    @property
    def achieved_k(self) -> int:
        return int(self.classes.min()) if len(self.table) else 0

    @property
    def achieved_l(self) -> int:
        if not len(self.table):
            return 0
        return int(self.table.groupby(self.quasi, dropna=False)[self.sensitive].nunique().min())


def _failing(table: pd.DataFrame, quasi: list[str], sensitive: str, k: int, l_div: int,
             people: pd.Series | None) -> pd.Series:
    """True for each row whose equivalence class has fewer than k rows (and, when the rows
    say whose they are, fewer than k different people) or fewer than l sensitive values."""
    groups = table.groupby(quasi, dropna=False)
    size = groups[sensitive].transform("size")
    distinct = groups[sensitive].transform("nunique")
    failing = (size < k) | (distinct < l_div)
    if people is not None:
        persons = people.groupby([table[q] for q in quasi], dropna=False).transform("nunique")
        failing |= persons < k
    return failing


def _code_extremes(table: pd.DataFrame, columns: Iterable[str], share: float
                   ) -> dict[str, tuple[float, float]]:
    """Top- and bottom-code numeric columns at the `share` and 1-`share` quantiles (a value
    only one person has can single her out: 特異な記述の削除)."""
    coded = {}
    for column in columns:
        if not pd.api.types.is_numeric_dtype(table[column]):
            continue
        low = float(table[column].quantile(share, interpolation="lower"))
        high = float(table[column].quantile(1 - share, interpolation="higher"))
        table[column] = table[column].clip(lower=low, upper=high)
        coded[column] = (low, high)
    return coded


def anonymise(frame: pd.DataFrame, quasi: list[str], sensitive: str, k: int = 5,
              l_div: int = 2, keep: Iterable[str] = (), opted_out: Iterable[str] = (),
              max_suppression: float = 0.05, extreme_share: float = 0.01,
              district: Callable[[str], str] = toyono_district, seed: int | None = None
              ) -> Extract:
    """The anonymised extract of `frame`: only the quasi-identifiers, the sensitive column and
    the `keep` columns survive; the least general hierarchy levels are chosen whose
    suppression stays within `max_suppression` of the rows; `seed` None shuffles with a
    secret seed (tests pass one)."""
    if k < 2 or l_div < 1:
        raise ExtractError("k は2以上、l は1以上にしてください", "k must be 2 or more, l 1 or more")
    columns = [*quasi, sensitive, *keep]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ExtractError(f"列がありません: {', '.join(missing)}",
                           f"missing columns: {', '.join(missing)}")
    direct = [c for c in columns if c in DIRECT_IDENTIFIERS]
    if direct:
        raise ExtractError(f"直接の識別子は出力できません: {', '.join(direct)}",
                           f"direct identifiers cannot be in an extract: {', '.join(direct)}")
    out_of = set(opted_out)
    if out_of and RESIDENT not in frame.columns:
        raise ExtractError("オプトアウトの確認に resident_id 列が必要です",
                           "the resident_id column is needed to remove opted-out residents")
    staying = frame[~frame[RESIDENT].astype(str).isin(out_of)] if out_of else frame
    table = staying[columns].copy().reset_index(drop=True)
    people = (staying[RESIDENT].astype(str).reset_index(drop=True)
              if RESIDENT in staying.columns else None)
    removed = [c for c in frame.columns if c not in columns]
    coded = _code_extremes(table, [c for c in keep if c not in quasi], extreme_share)
    hierarchies = {q: hierarchy_of(q, district) for q in quasi}
    dates = {c: hierarchy_of(c) for c in keep if c.endswith("_date") and c not in quasi}
    for column, dated in dates.items():  # kept dates: the month only
        table[column] = dated.apply(table[column], 0)
    allowed = int(max_suppression * len(table))
    best: tuple[tuple[int, int, int], tuple[int, ...], pd.DataFrame, pd.Series] | None = None
    for levels in sorted(itertools.product(*(range(len(hierarchies[q].levels)) for q in quasi)),
                         key=lambda lv: (sum(lv), lv)):
        if best is not None and sum(levels) > best[0][0]:
            break  # every combination of the least total generality has been tried
        general = table.copy()
        for q, level in zip(quasi, levels, strict=True):
            general[q] = hierarchies[q].apply(table[q], level)
        failing = _failing(general, quasi, sensitive, k, l_div, people)
        lost = int(failing.sum())
        # among the least general: fewest columns removed outright, then fewest rows lost
        removed_outright = sum(level == len(hierarchies[q].levels) - 1
                               for q, level in zip(quasi, levels, strict=True))
        rank = (sum(levels), removed_outright, lost)
        if lost <= allowed and (best is None or rank < best[0]):
            best = (rank, levels, general, failing)
    if best is None:
        raise ExtractError(f"k={k}, l={l_div} を満たせません（データが少なすぎます）",
                           f"k={k}, l={l_div} cannot be met (too few records)")
    (_, _, lost), levels, general, failing = best
    kept = general[~failing]
    rng = np.random.default_rng(seed if seed is not None else secrets.randbits(64))
    kept = kept.iloc[rng.permutation(len(kept))].reset_index(drop=True)
    return Extract(kept, k, l_div, list(quasi), sensitive,
                   {**dict(zip(quasi, levels, strict=True)), **dict.fromkeys(dates, 0)},
                   {**hierarchies, **dates}, len(frame), len(frame) - len(staying), lost,
                   removed, coded)
