"""The recorded sequences (data/, see data/SOURCES.md) and the scripted day's town."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from cityos.services.watchover.model import Receiver, SafeArea, Sighting, Tag

DATA = Path(__file__).parent / "data"
HOME = (135.4300, 34.8990)
RECEIVERS = {
    "rx-home": Receiver("rx-home", "自宅近くの通学路", "fixed", "street", (135.4305, 34.8992)),
    "rx-gate": Receiver("rx-gate", "吉川小学校 校門", "fixed", "school-gate", (135.4330, 34.9010)),
    "rx-station": Receiver("rx-station", "光風台駅", "fixed", "station", (135.4377, 34.8986)),
    "rx-townhall": Receiver("rx-townhall", "豊能町役場", "fixed", "town-hall", (135.4943, 34.9180)),
    "rx-shelter": Receiver("rx-shelter", "ふれあい会館", "fixed", "shelter", (135.4600, 34.9100)),
}
TAGS = {
    "bcn-taro": Tag("bcn-taro", "resident-taro", "resident-parent", "たろう", ("rx-gate",),
                    SafeArea(HOME, 400.0), consent=True),
    "bcn-kiyo": Tag("bcn-kiyo", "resident-kiyo", "resident-daughter", "きよ", (),
                    SafeArea((135.4943, 34.9180), 5000.0), consent=True),
    "bcn-noconsent": Tag("bcn-noconsent", "resident-n", "resident-m", "のぞみ", ("rx-gate",),
                         SafeArea(HOME, 400.0), consent=False),
}
DAY_START = dt.datetime.fromisoformat("2026-12-07T06:00:00+09:00")
DAY_END = dt.datetime.fromisoformat("2026-12-07T23:59:00+09:00")


def load(name: str) -> list[Sighting]:
    with (DATA / name).open() as f:
        return [Sighting(r["tag"], r["receiver"], float(r["rssi"]),
                         dt.datetime.fromisoformat(r["at"])) for r in csv.DictReader(f)]
