"""The checkup CSV importer: the documented layout becomes HealthCheckup entities; a bad row is
named in Japanese and English, and nothing is half-imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityos.services.health.importer import (
    CheckupFormatError,
    checkup_of,
    entities,
    read_checkups,
)
from cityos.services.health.items import BY_KEY

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "health" / "checkups.csv"
HEADER = "resident_id,exam_date,sex,age,height,weight,sbp,urine_protein,smoking,drinking\n"


def test_the_sample_becomes_one_entity_per_resident_and_day() -> None:
    found = entities(read_checkups(FIXTURE.read_text("utf-8")))
    assert len(found) == 180
    first = found[0]
    assert first["type"] == "HealthCheckup"
    assert first["refResident"] == {"type": "Relationship",
                                    "object": "urn:ngsi-ld:Resident:resident-000"}
    assert first["examDate"]["value"] == "2024-06-02"
    assert first["area"]["value"] == "切畑"
    assert first["hba1c"]["value"] == 5.6
    assert first["urine_protein"]["value"] == 0.0
    assert checkup_of(first).values["hba1c"] == 5.6


def test_bmi_is_computed_and_answers_are_read_in_japanese() -> None:
    rows = read_checkups(HEADER + "hanako.toyono,2025-07-01,女,67,150,56.3,142,±,いいえ,時々\n")
    (c,) = rows
    assert c.sex == "F"
    assert c.values["bmi"] == 25.0
    assert c.values["urine_protein"] == 1.0
    assert c.values["smoking"] == 0.0 and c.values["drinking"] == 1.0


@pytest.mark.parametrize(("row", "english"), [
    ("x,2025-07-01,F,67,150,56,999,-,0,0", "row 2, column 'sbp': 999 is outside"),
    ("x,2025-13-01,F,67,150,56,120,-,0,0", "row 2, column 'exam_date' is not a date"),
    ("x,2025-07-01,X,67,150,56,120,-,0,0", "row 2, column 'sex' must be M/F"),
    ("x,2025-07-01,F,67,150,56,120,++,0,0", "must be one of"),
    ("x,2025-07-01,F,,150,56,120,-,0,0", "row 2, column 'age' is empty"),
    ("x y,2025-07-01,F,67,150,56,120,-,0,0", "resident id"),
])
def test_a_bad_row_is_named(row: str, english: str) -> None:
    with pytest.raises(CheckupFormatError) as caught:
        read_checkups(HEADER + row + "\n")
    assert english in caught.value.en
    assert "行目" in caught.value.ja or "住民ID" in caught.value.ja


def test_an_unknown_column_is_refused() -> None:
    with pytest.raises(CheckupFormatError, match="unknown columns: blood_type"):
        read_checkups("resident_id,exam_date,sex,age,blood_type\nx,2025-07-01,F,67,A\n")


def test_reference_levels_follow_the_mhlw_values() -> None:
    assert BY_KEY["hba1c"].level(5.5) == 0
    assert BY_KEY["hba1c"].level(5.6) == 1
    assert BY_KEY["hba1c"].level(6.5) == 2
    assert BY_KEY["hdl"].level(39) == 1 and BY_KEY["hdl"].level(40) == 0
    assert BY_KEY["waist"].level(86, "M") == 1 and BY_KEY["waist"].level(86, "F") == 0
    assert BY_KEY["egfr"].level(44) == 2
    assert BY_KEY["sbp"].range_ja() == "130mmHg未満"
