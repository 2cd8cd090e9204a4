"""Reads checkup records from the CSV layout documented in docs/services/health.md and turns
them into HealthCheckup entities (NGSI-LD, normalized), one per resident and checkup date.

Only CSV: the MHLW 特定健診 XML (HL7 CDA R2 with JLAC10 item codes) is not read yet; a town
converts it with its NHI system's CSV export (the layout below names the same items).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cityos.services.health.items import MEASURES, URINE_PROTEIN

REQUIRED = ("resident_id", "exam_date", "sex", "age")
OPTIONAL_NUMBERS = tuple(item.key for item in MEASURES)
QUESTION_COLUMNS = ("smoking", "drinking", "exercise", "walking")
COLUMNS = (*REQUIRED, "height", "weight", *OPTIONAL_NUMBERS, "urine_protein",
           *QUESTION_COLUMNS, "area")
_RESIDENT = re.compile(r"^[A-Za-z0-9._@-]{1,128}$")
_YES = {"1", "yes", "y", "true", "はい", "有"}
_NO = {"0", "no", "n", "false", "いいえ", "無"}
_DRINKING = {"0": 0, "rarely": 0, "ほとんど飲まない": 0, "1": 1, "sometimes": 1, "時々": 1,
             "2": 2, "daily": 2, "毎日": 2}
# Values outside these bounds are typing errors, not people (checked before anything is kept).
_PLAUSIBLE = {"age": (0, 120), "height": (80, 230), "weight": (20, 250), "bmi": (10, 70),
              "waist": (40, 200), "sbp": (60, 260), "dbp": (30, 160), "fpg": (30, 600),
              "hba1c": (3, 20), "tg": (10, 3000), "hdl": (5, 200), "ldl": (10, 500),
              "ast": (1, 2000), "alt": (1, 2000), "ggt": (1, 3000), "egfr": (1, 200)}


class CheckupFormatError(ValueError):
    """A row the importer cannot read; `ja` and `en` say which row and why."""

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(en)
        self.ja, self.en = ja, en


@dataclass
class Checkup:
    """One resident's checkup on one day, as read from a CSV row."""

    resident: str
    date: dt.date
    sex: str  # "M" or "F"
    age: int
    values: dict[str, float] = field(default_factory=dict)  # measures, urine_protein, answers
    area: str = ""  # the town area (町丁目) of her address, as the NHI system exports it

    @property
    def entity_id(self) -> str:
        return f"urn:ngsi-ld:HealthCheckup:{self.resident}-{self.date.isoformat()}"

    def entity(self) -> dict[str, Any]:
        """The HealthCheckup entity (normalized NGSI-LD, core @context)."""
        out: dict[str, Any] = {
            "id": self.entity_id, "type": "HealthCheckup",
            "refResident": {"type": "Relationship",
                            "object": f"urn:ngsi-ld:Resident:{self.resident}"},
            "examDate": {"type": "Property", "value": self.date.isoformat()},
            "sex": {"type": "Property", "value": self.sex},
            "age": {"type": "Property", "value": self.age},
        }
        for key, value in self.values.items():
            out[key] = {"type": "Property", "value": value}
        if self.area:
            out["area"] = {"type": "Property", "value": self.area}
        return out


def checkup_of(entity: dict[str, Any]) -> Checkup:
    """A Checkup back from a HealthCheckup entity (normalized or keyValues)."""
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return value.get("value", value.get("object"))
        return value

    ref = str(plain(entity["refResident"]))
    values = {k: float(plain(v)) for k, v in entity.items()
              if k in (*OPTIONAL_NUMBERS, "urine_protein", *QUESTION_COLUMNS, "height", "weight")
              and plain(v) is not None}
    return Checkup(ref.rsplit(":", 1)[-1], dt.date.fromisoformat(str(plain(entity["examDate"]))),
                   str(plain(entity["sex"])), int(plain(entity["age"])), values,
                   str(plain(entity.get("area")) or ""))


def _where(n: int, column: str) -> tuple[str, str]:
    return f"{n}行目の「{column}」", f"row {n}, column '{column}'"


def _number(text: str, n: int, column: str) -> float:
    where_ja, where_en = _where(n, column)
    try:
        value = float(text)
    except ValueError:
        raise CheckupFormatError(f"{where_ja}が数値ではありません: {text!r}",
                                 f"{where_en} is not a number: {text!r}") from None
    low, high = _PLAUSIBLE.get(column, (float("-inf"), float("inf")))
    if not low <= value <= high:
        raise CheckupFormatError(f"{where_ja}の値 {text} はありえない範囲です（{low}〜{high}）",
                                 f"{where_en}: {text} is outside {low}–{high}")
    return value


def _answer(text: str, n: int, column: str) -> float:
    low = text.strip().lower()
    if column == "drinking" and low in _DRINKING:
        return float(_DRINKING[low])
    if column != "drinking" and low in _YES | _NO:
        return 1.0 if low in _YES else 0.0
    where_ja, where_en = _where(n, column)
    raise CheckupFormatError(f"{where_ja}の回答 {text!r} が読めません",
                             f"{where_en}: cannot read the answer {text!r}")


def _row(row: dict[str, str], n: int) -> Checkup:
    for column in REQUIRED:
        if not (row.get(column) or "").strip():
            where_ja, where_en = _where(n, column)
            raise CheckupFormatError(f"{where_ja}が空です", f"{where_en} is empty")
    resident = row["resident_id"].strip()
    if not _RESIDENT.match(resident):
        raise CheckupFormatError(f"{n}行目の住民IDに使えない文字があります",
                                 f"row {n}: the resident id has characters not allowed")
    try:
        date = dt.date.fromisoformat(row["exam_date"].strip())
    except ValueError:
        ja, en = _where(n, "exam_date")
        raise CheckupFormatError(f"{ja}が日付(YYYY-MM-DD)ではありません",
                                 f"{en} is not a date (YYYY-MM-DD)") from None
    sex = {"m": "M", "1": "M", "男": "M", "f": "F", "2": "F", "女": "F"}.get(
        row["sex"].strip().lower())
    if sex is None:
        ja, en = _where(n, "sex")
        raise CheckupFormatError(f"{ja}は M/F（1/2, 男/女）で書いてください",
                                 f"{en} must be M/F (1/2)")
    age = int(_number(row["age"].strip(), n, "age"))
    values: dict[str, float] = {}
    for column in ("height", "weight", *OPTIONAL_NUMBERS):
        text = (row.get(column) or "").strip()
        if text:
            values[column] = _number(text, n, column)
    if "bmi" not in values and "height" in values and "weight" in values:
        values["bmi"] = round(values["weight"] / (values["height"] / 100) ** 2, 1)
    protein = (row.get("urine_protein") or "").strip()
    if protein:
        if protein not in URINE_PROTEIN:
            ja, en = _where(n, "urine_protein")
            raise CheckupFormatError(f"{ja}は − ± + 2+ 3+ のどれかです",
                                     f"{en} must be one of - ± + 2+ 3+")
        values["urine_protein"] = float(URINE_PROTEIN[protein])
    for column in QUESTION_COLUMNS:
        text = (row.get(column) or "").strip()
        if text:
            values[column] = _answer(text, n, column)
    area = (row.get("area") or "").strip()
    if len(area) > 64:
        raise CheckupFormatError(f"{n}行目の地域名が長すぎます", f"row {n}: the area is too long")
    return Checkup(resident, date, sex, age, values, area)


def read_checkups(text: str) -> list[Checkup]:
    """Every row of a checkup CSV (UTF-8, header row first); raises CheckupFormatError on the
    first row it cannot read, naming the row and column."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise CheckupFormatError(f"必要な列がありません: {', '.join(missing)}",
                                 f"missing columns: {', '.join(missing)}")
    unknown = [c for c in reader.fieldnames or () if c not in COLUMNS]
    if unknown:
        raise CheckupFormatError(f"知らない列があります: {', '.join(unknown)}",
                                 f"unknown columns: {', '.join(unknown)}")
    return [_row(row, n) for n, row in enumerate(reader, start=2)]


def entities(checkups: Iterable[Checkup]) -> list[dict[str, Any]]:
    """The HealthCheckup entities of the checkups (a later row for the same day wins)."""
    return list({c.entity_id: c.entity() for c in checkups}.values())
