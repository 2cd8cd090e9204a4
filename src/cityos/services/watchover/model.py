"""The watch-over service's data: receivers, tags, sightings, last-seen places and notices.

Plain values, no platform: the rules (`lastseen.py`, `rules.py`) work on these, and the
service turns them into NGSI-LD entities (`entities.py`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Literal

JST = dt.timezone(dt.timedelta(hours=9), "JST")
ReceiverKind = Literal["fixed", "mobile", "volunteer"]
RECEIVER_KINDS: tuple[str, ...] = ("fixed", "mobile", "volunteer")
# where a fixed receiver stands (the Kakogawa model: schools, stations, shelters, town hall)
SITES: dict[str, tuple[str, str]] = {
    "school-gate": ("校門", "school gate"),
    "station": ("駅", "station"),
    "shelter": ("避難所", "shelter"),
    "town-hall": ("役場", "town hall"),
    "street": ("通学路", "street"),
    "official-car": ("公用車", "official car"),
    "postal-bike": ("郵便バイク", "postal bike"),
    "volunteer": ("見守りボランティア", "volunteer"),
}
EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Receiver:
    """A BLE receiver: fixed at a place, mobile (on a car or a bike: its location is sent
    with each sighting) or a volunteer's phone (write-only, never told whom it saw)."""

    id: str
    name: str  # what a guardian reads ("光風台駅", "吉川小学校 校門")
    kind: ReceiverKind = "fixed"
    site: str = "street"  # a key of SITES
    location: tuple[float, float] | None = None  # lon, lat (None: mobile, from the sighting)


@dataclass(frozen=True)
class Sighting:
    """One receiver heard one tag: the raw record (kept `sightings_days`, default 7)."""

    tag: str
    receiver: str
    rssi: float  # dBm, e.g. -62
    at: dt.datetime  # timezone-aware
    location: tuple[float, float] | None = None  # lon, lat where a mobile receiver was


@dataclass(frozen=True)
class SafeArea:
    """Where the watched person is expected at night: a circle around home."""

    center: tuple[float, float]  # lon, lat
    radius_m: float

    def contains(self, point: tuple[float, float]) -> bool:
        return distance_m(self.center, point) <= self.radius_m


@dataclass(frozen=True)
class Tag:
    """A beacon tag a guardian registered for a watched person, with consent."""

    id: str  # the tag's BLE identifier as printed on it ("bcn-…")
    person: str  # the watched resident's id
    guardian: str  # the resident who registered it and gets the notices
    label: str = ""  # how the guardian calls the person ("たろう")
    school_gates: tuple[str, ...] = ()  # receiver ids at the person's school gate(s)
    safe_area: SafeArea | None = None
    consent: bool = False  # the person's (for a child, the parent's) consent is in force


@dataclass(frozen=True)
class Place:
    """Where a tag is taken to be: the receiver that won (hysteresis), since when, and the
    last time any sighting confirmed it."""

    receiver: str
    since: dt.datetime
    seen_at: dt.datetime
    location: tuple[float, float] | None = None


@dataclass(frozen=True)
class Move:
    """The last-seen place changed (what the day's history map draws)."""

    tag: str
    at: dt.datetime
    receiver: str
    previous: str | None
    location: tuple[float, float] | None = None


NoticeKind = Literal["arrived", "left", "not-seen", "outside-at-night"]


@dataclass(frozen=True)
class Notice:
    """What the guardian is told."""

    tag: str
    kind: NoticeKind
    at: dt.datetime
    receiver: str | None = None
    since: dt.datetime | None = None  # not-seen: the last sighting
    details: dict[str, str] = field(default_factory=dict)

    def key(self) -> str:
        """Stable identity (a notice is stored once)."""
        return f"{self.tag}:{self.kind}:{int(self.at.timestamp())}"


def distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres between two lon/lat points."""
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + \
        math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def jst(at: dt.datetime) -> dt.datetime:
    return at.astimezone(JST)
