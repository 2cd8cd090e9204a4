"""How full a shelter is, as Japanese towns' congestion displays say it: 空き / やや混雑 /
混雑 / 満員 (docs/services/evacuation.md gives the thresholds)."""

from __future__ import annotations

from dataclasses import dataclass

SOME, BUSY = 0.5, 0.8  # occupancy / capacity from which a shelter is やや混雑, 混雑


@dataclass(frozen=True)
class Level:
    key: str  # vacant, some, busy, full
    ja: str
    en: str


VACANT = Level("vacant", "空き", "Space available")
SOMEWHAT = Level("some", "やや混雑", "Somewhat crowded")
CROWDED = Level("busy", "混雑", "Crowded")
FULL = Level("full", "満員", "Full")
LEVELS = (VACANT, SOMEWHAT, CROWDED, FULL)


def level(occupancy: int, capacity: int) -> Level:
    """空き below half full, やや混雑 from 50%, 混雑 from 80%, 満員 at capacity (or none)."""
    if capacity <= 0 or occupancy >= capacity:
        return FULL
    ratio = occupancy / capacity
    return CROWDED if ratio >= BUSY else SOMEWHAT if ratio >= SOME else VACANT
