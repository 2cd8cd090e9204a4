"""The day-ahead input file: read, checked, and turned into forecasts by the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cityos.cli import app
from cityos.services.energy.dayahead import ForecastInputError, parse

GOOD = ("# cityos energy forecast input v1\ntime,cloud_cover,temp_air,wind_speed,storm\n"
        + "".join(f"2026-12-08T{h:02d}:00+09:00,{10 if h < 12 else 100},8,"
                  f"{2 if h < 12 else 25},{0 if h < 12 else 1}\n" for h in range(1, 24)))


def test_a_good_file_is_read() -> None:
    frame = parse(GOOD)
    assert len(frame) == 23 and str(frame.index.tz) == "UTC"
    assert frame["storm"].sum() == 12


@pytest.mark.parametrize("text, words", [
    ("time,cloud_cover\n2026-12-08T09:00,40\n", "UTC offset"),
    ("time,cloud_cover\n2026-12-08T09:00+09:00,140\n", "between 0 and 100"),
    ("time,cloud_cover\n2026-12-08T09:00+09:00,40\n2026-12-08T11:00+09:00,40\n", "hourly"),
    ("time,wind\n", "cloud_cover"),
])
def test_bad_files_say_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(ForecastInputError) as caught:
        parse(text)
    assert words in caught.value.en and caught.value.ja


def test_forecast_command_flags_the_shelters_before_the_storm(tmp_path: Path) -> None:
    path = tmp_path / "dayahead.csv"
    path.write_text(GOOD, "utf-8")
    out = CliRunner().invoke(app, ["energy", "forecast", str(path), "--json"])
    assert out.exit_code == 0, out.output
    sites = json.loads(out.stdout)["sites"]
    assert len(sites) == 4 and all(s["autonomy"]["flag"] for s in sites)
    morning = [h for h in sites[0]["hourly"] if h["end"].startswith("2026-12-08T11")]
    assert morning[0]["kW"] > 5  # a sunny morning on a 49 kWp roof
    fair = tmp_path / "fair.csv"
    fair.write_text(GOOD.replace(",1\n", ",0\n").replace(",25,", ",2,"), "utf-8")
    out = CliRunner().invoke(app, ["energy", "forecast", str(fair)])
    assert out.exit_code == 0 and "FLAG" not in out.stdout
