"""Anonymised extracts (issue #23): pycanon, an independent checker, confirms k-anonymity and
l-diversity on what `cityos privacy extract` writes; opted-out residents are absent; the report
lists the generalisations; the notice lists the items."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pycanon.anonymity as pycanon
import pytest

from cityos.privacy.anonymise import ExtractError, anonymise
from cityos.privacy.cli import research_frame
from cityos.services.health.synthetic import synthetic_checkups, to_csv
from conftest import CITYOS

AREAS = json.loads((Path(__file__).resolve().parents[2] / "src" / "cityos" / "town" / "data"
                    / "town_areas_centroids.json").read_text("utf-8"))
QUASI = ["age", "sex", "area"]


def checkups(people: int = 400, seed: int = 3) -> pd.DataFrame:
    """Synthetic checkups (2 years each) of fictional residents living in Toyono's real areas."""
    rng = np.random.default_rng(seed)
    who = [(f"r{i:04d}", "MF"[int(rng.random() < 0.55)], int(rng.integers(40, 75)),
            AREAS[int(rng.integers(0, len(AREAS)))]["town"]) for i in range(people)]
    frame = pd.read_csv(io.StringIO(to_csv(synthetic_checkups(who, years=2, seed=seed))))
    frame["area"] = frame["resident_id"].map({w[0]: w[3] for w in who})
    return frame


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("extract")
    frame = checkups()
    frame.to_csv(where / "checkups.csv", index=False)
    (where / "opted-out.txt").write_text("r0007\nr0100\n", "utf-8")
    done = subprocess.run(
        [CITYOS, "privacy", "extract", "--input", "checkups.csv", "--k", "5", "--l", "2",
         "--quasi", "age,sex,area", "--sensitive", "hba1c_level",
         "--keep", "bmi,sbp,exam_date", "--opted-out", "opted-out.txt",
         "--out", "extract.csv", "--seed", "1"],
        capture_output=True, text=True, cwd=where, timeout=120)
    assert done.returncode == 0, done.stderr
    return where


def test_pycanon_confirms_k_and_l(written: Path) -> None:
    table = pd.read_csv(written / "extract.csv")
    assert len(table) > 300  # most of the 398 people who stayed in are published
    assert pycanon.k_anonymity(table, QUASI) >= 5
    assert pycanon.l_diversity(table, QUASI, ["hba1c_level"]) >= 2


def test_identifiers_are_gone_and_dates_are_months(written: Path) -> None:
    table = pd.read_csv(written / "extract.csv")
    assert list(table.columns) == ["age", "sex", "area", "hba1c_level", "bmi", "sbp", "exam_date"]
    assert table["exam_date"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert table["age"].str.fullmatch(r"\d{2}-\d{2}|\d{2}\+|\*").all()


def test_an_opted_out_resident_is_absent(written: Path) -> None:
    report = json.loads((written / "extract.report.json").read_text("utf-8"))
    assert report["records"]["optedOutRemoved"] == 2
    assert report["records"]["in"] == 400
    assert report["records"]["out"] + report["records"]["suppressed"] == 398


def test_an_opted_out_resident_is_absent_row_for_row() -> None:
    frame = research_frame(checkups(), one_per_resident=True)
    # the opted-out resident's own record has a value nobody else has: bmi 99 (kept column)
    frame.loc[frame["resident_id"] == "r0007", "bmi"] = 99.0
    kept = anonymise(frame, QUASI, "hba1c_level", 5, 2, keep=["bmi"], opted_out=["r0007"],
                     extreme_share=0.0, seed=1)
    assert 99.0 not in set(kept.table["bmi"])
    assert anonymise(frame, QUASI, "hba1c_level", 5, 2, keep=["bmi"], extreme_share=0.0,
                     seed=1).table["bmi"].max() == 99.0


def test_the_report_lists_the_generalisations(written: Path) -> None:
    report = json.loads((written / "extract.report.json").read_text("utf-8"))
    columns = {g["column"]: g for g in report["generalisations"]}
    assert set(columns) == {"age", "sex", "area", "exam_date"}
    table = pd.read_csv(written / "extract.csv")
    width = int(columns["age"]["ja"].split("歳階級")[0])  # the report says the bands' width
    low, high = table["age"][table["age"] != "80+"].iloc[0].split("-")
    assert int(high) - int(low) + 1 == width  # and the extract has bands of that width
    assert columns["exam_date"]["en"] == "month"
    assert report["achieved"]["k"] >= 5 and report["achieved"]["l"] >= 2
    assert "resident_id" in report["removedColumns"]
    text = (written / "extract.report.md").read_text("utf-8")
    assert "一般化 / generalisations" in text and columns["area"]["ja"] in text


def test_the_public_notice_lists_the_items(written: Path) -> None:
    notice = (written / "extract.notice.md").read_text("utf-8")
    assert "匿名加工情報に含まれる個人に関する情報の項目" in notice
    for item in ("年齢（階級）", "性別", "居住地域", "HbA1c の判定区分", "健診年月"):
        assert item in notice


def test_direct_identifiers_cannot_be_kept() -> None:
    with pytest.raises(ExtractError, match="direct identifiers"):
        anonymise(checkups(40), QUASI, "hba1c", keep=["resident_id"])


def test_too_few_people_is_refused_in_both_languages(tmp_path: Path) -> None:
    checkups(12).to_csv(tmp_path / "few.csv", index=False)
    done = subprocess.run([CITYOS, "privacy", "extract", "--input", "few.csv", "--k", "20",
                           "--out", "x.csv", "--max-suppression", "0"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert "満たせません" in done.stderr and "cannot be met" in done.stderr
    assert not (tmp_path / "x.csv").exists()
