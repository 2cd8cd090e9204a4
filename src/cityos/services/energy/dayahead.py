"""The forecast input: a pluggable source of hourly cloud-cover (and weather) forecasts.

Offline, a town feeds a day-ahead file (the format below, documented in
docs/services/energy.md); a connector to a weather service implements `WeatherSource` too.

    # cityos energy forecast input v1
    time,cloud_cover,temp_air,wind_speed,storm
    2026-12-08T09:00+09:00,40,8.5,2.0,0

- time: the END of the hour the row describes (ISO 8601 with its UTC offset), hourly;
- cloud_cover: total cloud cover, percent 0-100 (required);
- temp_air (degC, default 15), wind_speed (m/s, default 1): optional;
- storm: 1 when a storm warning (暴風警報 or 特別警報) is forecast for that hour; optional,
  a wind speed at or above the storm threshold counts as a storm too.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

import pandas as pd

COLUMNS = ("time", "cloud_cover", "temp_air", "wind_speed", "storm")
DEFAULTS = {"temp_air": 15.0, "wind_speed": 1.0, "storm": 0.0}
MAX_ROWS = 24 * 16


class ForecastInputError(ValueError):
    """A bad forecast input, with a message in Japanese and English."""

    def __init__(self, ja: str, en: str) -> None:
        super().__init__(f"{ja} / {en}")
        self.ja, self.en = ja, en


class WeatherSource(Protocol):
    def hourly(self) -> pd.DataFrame:
        """Hour-ending rows (tz-aware index): cloud_cover, temp_air, wind_speed, storm."""
        ...


def _number(row: dict[str, str], key: str, line: int, low: float, high: float) -> float:
    raw = (row.get(key) or "").strip()
    if not raw:
        if key in DEFAULTS:
            return DEFAULTS[key]
        raise ForecastInputError(f"{line}行目: {key} がありません",
                                 f"line {line}: {key} is missing")
    try:
        value = float(raw)
    except ValueError:
        raise ForecastInputError(f"{line}行目: {key} が数値ではありません（{raw[:20]}）",
                                 f"line {line}: {key} is not a number ({raw[:20]})") from None
    if not (math.isfinite(value) and low <= value <= high):
        raise ForecastInputError(f"{line}行目: {key} は {low:g}〜{high:g} の範囲で指定してください",
                                 f"line {line}: {key} must be between {low:g} and {high:g}")
    return value


def parse(text: str) -> pd.DataFrame:
    """The rows of a forecast input file, checked; raises ForecastInputError."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ForecastInputError("予報データが空です", "the forecast input is empty")
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    if not reader.fieldnames or "time" not in reader.fieldnames \
            or "cloud_cover" not in reader.fieldnames:
        raise ForecastInputError("見出し行に time と cloud_cover が必要です",
                                 "the header needs time and cloud_cover")
    stamps: list[datetime] = []
    rows: list[dict[str, float]] = []
    for n, row in enumerate(reader, start=2):
        if n - 1 > MAX_ROWS:
            raise ForecastInputError(f"行が多すぎます（最大 {MAX_ROWS} 行）",
                                     f"too many rows (at most {MAX_ROWS})")
        try:
            stamp = datetime.fromisoformat((row.get("time") or "").strip())
        except ValueError:
            raise ForecastInputError(f"{n}行目: 時刻の形式が正しくありません",
                                     f"line {n}: the time is not ISO 8601") from None
        if stamp.tzinfo is None:
            raise ForecastInputError(f"{n}行目: 時刻に時差（+09:00 など）を付けてください",
                                     f"line {n}: the time needs its UTC offset (+09:00)")
        stamps.append(stamp)
        rows.append({"cloud_cover": _number(row, "cloud_cover", n, 0, 100),
                     "temp_air": _number(row, "temp_air", n, -50, 60),
                     "wind_speed": _number(row, "wind_speed", n, 0, 100),
                     "storm": _number(row, "storm", n, 0, 1)})
    index = pd.DatetimeIndex(pd.to_datetime(stamps, utc=True))
    steps = index.to_series().diff().dropna()
    if (steps != pd.Timedelta(hours=1)).any():
        raise ForecastInputError("時刻は1時間ごとに昇順で並べてください",
                                 "times must be hourly and in order")
    return pd.DataFrame(rows, index=index)


@dataclass(frozen=True)
class FileSource:
    """A day-ahead file on disk."""

    path: Path

    def hourly(self) -> pd.DataFrame:
        return parse(self.path.read_text("utf-8"))


@dataclass(frozen=True)
class FrameSource:
    """Rows already in memory (tests, the demo, a connector's output)."""

    frame: pd.DataFrame

    def hourly(self) -> pd.DataFrame:
        return self.frame


def write(frame: pd.DataFrame) -> str:
    """The file form of `frame` (times in JST)."""
    out = ["# cityos energy forecast input v1", ",".join(COLUMNS)]
    for stamp, row in frame.iterrows():
        t = pd.Timestamp(stamp).tz_convert("Asia/Tokyo").isoformat(timespec="minutes")
        out.append(f"{t},{row['cloud_cover']:.0f},{row['temp_air']:.1f},"
                   f"{row['wind_speed']:.1f},{int(row['storm'])}")
    return "\n".join(out) + "\n"
