"""Acceptance of the risk model on public clinical data (scikit-learn's bundled diabetes data):
`cityos health model fit/evaluate` report the model and the logistic baseline, a model that
loses to the baseline is not saved, an altered model file is not loaded."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import CITYOS


def cityos(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CITYOS, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("diabetes")
    assert cityos("health", "dataset", "--out", str(where), cwd=where).returncode == 0
    return where


def test_fit_saves_a_model_no_worse_than_the_baseline_and_evaluate_reports_both(
        split: Path) -> None:
    done = cityos("health", "model", "fit", "train.csv", "--target", "high_progression",
                  "--out", "risk.joblib", "--approved-by", "豊能町 健康福祉課", "--json",
                  cwd=split)
    assert done.returncode == 0, done.stderr
    fitted = json.loads(done.stdout.splitlines()[0])
    assert fitted["saved"] is True
    assert fitted["model"]["auc"] >= fitted["baseline"]["auc"]
    assert fitted["model"]["brier"] <= fitted["baseline"]["brier"]
    card = json.loads((split / "risk.joblib.card.json").read_text("utf-8"))
    assert card["approvedBy"] == "豊能町 健康福祉課"
    assert "承認者" in (split / "risk.joblib.card.md").read_text("utf-8")

    done = cityos("health", "model", "evaluate", "risk.joblib", "test.csv",
                  "--target", "high_progression", "--json", cwd=split)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    for name in ("model", "baseline"):
        assert 0.75 < out[name]["auc"] <= 1.0  # far better than chance on held-out patients
        assert 0 < out[name]["brier"] < 0.25  # better than always saying 50 %
        assert sum(row["n"] for row in out[name]["calibration"]) == 133
        assert sum(out[name]["confusion"].values()) == 133

    done = cityos("health", "model", "explain", "risk.joblib", "test.csv", "--row", "3",
                  cwd=split)
    assert done.returncode == 0, done.stderr
    assert "リスクを上げています" in done.stdout


def test_a_model_that_loses_to_the_baseline_is_not_saved(split: Path) -> None:
    done = cityos("health", "model", "fit", "train.csv", "--target", "high_progression",
                  "--kind", "boosting", "--out", "boosted.joblib", cwd=split)
    assert done.returncode == 1
    assert "基準" in done.stderr and "baseline; not saved" in done.stderr
    assert not (split / "boosted.joblib").exists()


def test_an_altered_model_file_is_refused(split: Path, tmp_path: Path) -> None:
    done = cityos("health", "model", "fit", "train.csv", "--target", "high_progression",
                  "--kind", "logistic", "--out", str(tmp_path / "m.joblib"), cwd=split)
    assert done.returncode == 0, done.stderr
    with (tmp_path / "m.joblib").open("ab") as f:
        f.write(b"\0")
    done = cityos("health", "model", "evaluate", str(tmp_path / "m.joblib"), "test.csv",
                  "--target", "high_progression", cwd=split)
    assert done.returncode == 2
    assert "SHA-256" in done.stderr and "refusing to load it" in done.stderr
