"""A day of ride requests for the demo town: more in the morning, to the clinic.

Seeded and reproducible. Homes: the town's areas, most people in the west (ときわ台,
光風台, 新光風台, 東ときわ台, 吉川) as in the demo population; destinations by hour: the
clinic in the morning, shops and the station around midday, home in the afternoon.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from cityos.services.ondemand.stops import Stop, areas, destinations
from cityos.town.places import WEST

# requests per hour of the day (relative), 7:00-18:59: a morning peak, a small noon one
HOURLY = {7: 6, 8: 14, 9: 15, 10: 11, 11: 8, 12: 7, 13: 8, 14: 8, 15: 9, 16: 7, 17: 5, 18: 2}
ADVANCE = 0.4  # share booked ahead (for a window later in the day), the rest "now"
WHEELCHAIR = 0.05
NO_SHOW = 0.03
CANCEL = 0.05


@dataclass(frozen=True)
class Ask:
    """One resident's request as it arrives: when it is made and what is asked."""

    at: float  # minute of the day the booking is made
    origin: Stop
    destination: Stop
    passengers: int
    wheelchair: bool
    earliest: float | None  # pickup window asked (None: as soon as possible)
    latest: float | None
    resident: str
    no_show: bool  # the simulation's coin: nobody comes to the car
    cancel_at: float | None  # ... or the booking is cancelled at this minute


def _purpose(hour: int, rng: random.Random) -> str:
    if hour < 11:
        return rng.choices(["clinic", "station", "shop", "public", "home"], [50, 20, 10, 8, 12])[0]
    if hour < 14:
        return rng.choices(["clinic", "station", "shop", "public", "home"], [15, 15, 30, 10, 30])[0]
    return rng.choices(["clinic", "station", "shop", "public", "home"], [8, 15, 17, 5, 55])[0]


def day(requests: int, seed: int = 1) -> list[Ask]:
    """`requests` asks over one day, sorted by the time they are made."""
    rng = random.Random(seed)
    homes = areas()
    weights = [4.0 if h.name.startswith(WEST) else 1.0 for h in homes]
    by_kind: dict[str, list[Stop]] = {}
    for d in destinations():
        by_kind.setdefault(d.kind, []).append(d)
    hours = list(HOURLY)
    out: list[Ask] = []
    for k in range(requests):
        hour = rng.choices(hours, [HOURLY[h] for h in hours])[0]
        pickup = hour * 60 + rng.uniform(0, 60)
        home = rng.choices(homes, weights)[0]
        purpose = _purpose(hour, rng)
        if purpose == "home":
            place = rng.choice([*by_kind["clinic"], *by_kind["shop"], *by_kind["station"]])
            origin, destination = place, home
        else:
            near = sorted(by_kind[purpose], key=lambda s: math.dist(s.where, home.where))
            destination = near[0] if rng.random() < 0.7 else rng.choice(near)
            origin = home
        passengers = rng.choices([1, 2, 3], [80, 16, 4])[0]
        wheelchair = rng.random() < WHEELCHAIR
        if rng.random() < ADVANCE:
            at = max(6 * 60.0, pickup - rng.uniform(30, 240))
            earliest, latest = float(math.floor(pickup)), float(math.floor(pickup) + 30)
        else:
            at, earliest, latest = pickup - 10, None, None
        cancel = rng.random() < CANCEL
        out.append(Ask(at, origin, destination, passengers, wheelchair, earliest, latest,
                       f"resident-{k % 97:03d}", rng.random() < NO_SHOW,
                       rng.uniform(at + 1, pickup) if cancel and pickup > at + 2 else None))
    return sorted(out, key=lambda a: a.at)
