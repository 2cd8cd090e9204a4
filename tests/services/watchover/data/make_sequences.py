"""Writes the recorded sequences the watch-over tests replay (run once; output committed).

    python tests/services/watchover/data/make_sequences.py

flapping.csv: one child walking from 光風台駅 (rx-station) to the school gate (rx-gate),
08:00–08:20 JST, both receivers reporting every 5 s while in range; RSSI from a log-distance
path-loss model (−59 dBm at 1 m, exponent 2.2) plus Gaussian noise σ = 5 dB (seed 21).
The receivers are 400 m apart; the child walks at 0.4 m/s.

scripted_day.csv: a scripted school day for three tags (see SOURCES.md).
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

HERE = Path(__file__).parent


def flapping() -> None:
    rng = random.Random(21)
    rows = []
    for step in range(0, 20 * 60 + 1, 5):  # seconds since 08:00
        x = 0.4 * step  # metres from the station toward the gate (400 m)
        for receiver, d in (("rx-station", max(1.0, x)), ("rx-gate", max(1.0, 400 - x))):
            if d > 330:  # out of range
                continue
            rssi = -59 - 22 * math.log10(d) + rng.gauss(0, 5)
            at = f"2026-12-07T08:{step // 60:02d}:{step % 60:02d}+09:00"
            rows.append(("bcn-walker", receiver, round(rssi, 1), at))
    write("flapping.csv", rows)


def scripted_day() -> None:
    rows = []
    day = "2026-12-07T"

    def seen(tag: str, receiver: str, rssi: float, hhmm: str, n: int = 1, gap: int = 20) -> None:
        h, m = map(int, hhmm.split(":"))
        for k in range(n):
            s = h * 3600 + m * 60 + k * gap
            rows.append((tag, receiver, rssi,
                         f"{day}{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}+09:00"))

    # たろう (a child): home street → school gate (登校) → a weak gate sighting in class →
    # gate again (下校) → station → at night seen at the station, outside the safe area
    seen("bcn-taro", "rx-home", -60, "07:30", 6)
    seen("bcn-taro", "rx-gate", -62, "07:55", 4)
    seen("bcn-taro", "rx-gate", -93, "10:15", 2)  # far side of the yard: not a pass
    seen("bcn-taro", "rx-gate", -64, "15:30", 4)
    seen("bcn-taro", "rx-station", -66, "15:50", 6)
    seen("bcn-taro", "rx-home", -58, "16:20", 6)
    seen("bcn-taro", "rx-home", -58, "19:00", 3)
    seen("bcn-taro", "rx-station", -61, "20:40", 8)  # at night, 1.4 km from home
    # きよ (an older resident): town hall, the shelter, then nothing from 10:05
    seen("bcn-kiyo", "rx-townhall", -67, "09:00", 6)
    seen("bcn-kiyo", "rx-shelter", -63, "10:00", 16)
    # a tag whose consent was withdrawn: heard all day, must give nothing
    seen("bcn-noconsent", "rx-gate", -60, "07:50", 5)
    seen("bcn-noconsent", "rx-station", -60, "21:00", 5)
    write("scripted_day.csv", sorted(rows, key=lambda r: r[3]))


def write(name: str, rows: list[tuple[str, str, float, str]]) -> None:
    with (HERE / name).open("w", newline="") as f:
        out = csv.writer(f)
        out.writerow(("tag", "receiver", "rssi", "at"))
        out.writerows(rows)


if __name__ == "__main__":
    flapping()
    scripted_day()
