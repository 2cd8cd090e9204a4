"""The demo town's walkers: who is heard where, hour by hour of a simulated day (the town
simulator sends these sightings through the receivers, town/simulator.py).

ゆうき (a child) goes by 光風台駅 to 光風台小学校 and back; はるこ (82) goes to the
豊寿荘 centre and ときわ台駅, is seen by a postal bike at 12:15 and then by nobody: at about
15:15 her guardian is told she has not been seen for three daytime hours. けん (78) stays near
永寿荘 by day and at 21:00 is seen at 東能勢中学校, outside his safe area at night.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Leg:
    start: float  # simulated hour (JST), inclusive
    end: float  # exclusive
    receiver: str  # demo device id (fixed) or receiver id (mobile, volunteer: token path)
    rssi: float  # mean dBm
    chance: float = 1.0  # probability of a sighting per round
    location: tuple[float, float] | None = None  # mobile and volunteer receivers


@dataclass(frozen=True)
class Walker:
    tag: str
    login: str  # the demo resident who carries it (town/people.py)
    label: str
    consents: bool
    gate: str | None  # demo device id of the school gate
    home: str | None  # demo device id the night-time safe area is centred on
    radius_m: float
    legs: tuple[Leg, ...]


STATION, SCHOOL = "beacon-rx-kofudai-station", "beacon-rx-shelter-4"  # 光風台小学校
HOJUSO, TOKIWADAI = "beacon-rx-shelter-2", "beacon-rx-tokiwadai-station"
EIJUSO, HIGASHINOSE = "beacon-rx-shelter-6", "beacon-rx-shelter-7"
POSTAL_BIKE, VOLUNTEER = "postal-bike-1", "volunteer-phone-1"

WALKERS = (
    Walker("bcn-demo-yuki", "resident-007", "ゆうき", True, SCHOOL, STATION, 1000.0, (
        Leg(7.30, 7.70, STATION, -62),
        Leg(7.70, 7.90, STATION, -80), Leg(7.70, 7.90, SCHOOL, -79),  # both hear him
        Leg(7.90, 8.10, SCHOOL, -58),  # through the gate: 登校
        Leg(8.10, 15.0, SCHOOL, -93, 0.3),  # in class: heard weakly, no gate pass
        Leg(15.0, 15.2, SCHOOL, -58),  # through the gate: 下校
        Leg(15.3, 15.8, STATION, -63),
        Leg(17.2, 17.5, STATION, -64))),
    Walker("bcn-demo-haruko", "resident-003", "はるこ", True, None, HOJUSO, 800.0, (
        Leg(9.00, 11.0, HOJUSO, -60),
        Leg(11.3, 12.0, TOKIWADAI, -66),
        Leg(12.1, 12.25, POSTAL_BIKE, -71, 1.0, (135.4452, 34.9061)))),  # then nobody
    Walker("bcn-demo-ken", "resident-009", "けん", True, None, EIJUSO, 300.0, (
        Leg(10.0, 12.0, EIJUSO, -61),
        Leg(14.0, 16.5, EIJUSO, -61),
        Leg(21.0, 21.5, HIGASHINOSE, -65),
        Leg(21.1, 21.3, VOLUNTEER, -70, 1.0, (135.4950, 34.9190)))),
    Walker("bcn-demo-sora", "resident-011", "そら", False, None, None, 500.0, (  # no consent
        Leg(7.5, 8.0, STATION, -60),)),
)


def heard(hour: float, rng: random.Random) -> list[tuple[str, str, float,
                                                         tuple[float, float] | None]]:
    """(receiver, tag, rssi, location) of the walkers heard at simulated `hour`."""
    out = []
    h = hour % 24
    for walker in WALKERS:
        for leg in walker.legs:
            if leg.start <= h < leg.end and rng.random() < leg.chance:
                out.append((leg.receiver, walker.tag, round(leg.rssi + rng.gauss(0, 3), 1),
                            leg.location))
    return out
