"""The demo town's fictional organisations (the plan's roles), staff and residents.

Residents get an age and a town area drawn (seeded, so every demo town is the same town) to
match the plan's figures: about half over 65, about 80% in the western district (西地区).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cityos.access.corporate import check_digit
from cityos.town.places import WEST


@dataclass(frozen=True)
class Org:
    name: str
    role: str  # the plan's role (domain ①…⑬)
    read: tuple[str, ...]
    write: tuple[str, ...]


# fictional companies, one per role of the plan's service table
ORGS = (
    Org("豊能防災サービス", "①防災 disaster evacuation, shelter congestion",  # and, as consented,
        ("EvacuationShelter", "EmergencyEvacuationSite", "TownArea", "BeaconSighting"),  # tags
        ("EvacuationShelter",)),
    Org("とよの見守りネット", "②見守り watch-over by beacon sightings",
        ("BeaconReceiver", "EvacuationShelter", "TownArea"), ("BeaconReceiver",)),
    Org("とよのオンデマンド交通", "⑥交通 AI on-demand transport",
        ("TownArea", "EvacuationShelter"), ("Vehicle",)),
    Org("北摂ヘルスケア", "⑧健康 health-checkup analytics", ("TownArea",), ()),
    Org("豊能グリーンエナジー", "⑩エネルギー solar and carbon",
        ("PhotovoltaicMeasurement",), ("PhotovoltaicMeasurement",)),
    Org("能勢おかいもの便", "⑤⑦買い物 shopping support", ("TownArea",), ()),
    Org("とよのコイン", "⑬支払い local digital currency", ("TownArea",), ()),
)
TOUR_ORG = ORGS[0].name  # whose client credentials `cityos demo` prints
STAFF_USER = "toyono-staff"  # an operator of the town office (役場)
DEMO_RESIDENT = "hanako.toyono"  # a resident who can sign in to the app
RESIDENTS = 120  # fictional resident accounts (the town has ~19,000 people)
SEED = 273210  # Toyono's local government code


def corporate_number(n: int) -> str:
    """A well-formed fictional corporate number (法人番号, correct check digit)."""
    base = f"9{SEED:06d}{n:05d}"
    return f"{check_digit(base)}{base}"


@dataclass(frozen=True)
class Resident:
    login: str
    age: int
    area: str
    district: str
    carries_beacon: bool  # a child or an elderly resident who consented to watch-over


def residents(areas: list[str]) -> list[Resident]:
    """The fictional residents: seeded draws of age and area (western district ~80%)."""
    rng = random.Random(SEED)
    west = [a for a in areas if a.startswith(WEST)]
    east = [a for a in areas if not a.startswith(WEST)]
    out = []
    for n in range(1, RESIDENTS + 1):
        age = rng.randint(65, 98) if rng.random() < 0.5 else rng.randint(0, 64)
        area = rng.choice(west if rng.random() < 0.8 else east)
        watched = (age >= 75 or age <= 12) and rng.random() < 0.6
        out.append(Resident(f"resident-{n:03d}", age, area, "west" if area in west else "east",
                            watched))
    return out
