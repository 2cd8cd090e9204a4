"""Where a ride can start and end: the town's areas, stations, shelters and everyday places.

Areas, stations and shelters come from the demo town (cityos.town); the clinic and the
shops are demo places of this service (data/places.json, see data/SOURCES.md).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from cityos.services.ondemand.geo import Point
from cityos.town.loader import STATIONS
from cityos.town.places import shelters, town_areas

DATA = Path(__file__).resolve().parent / "data"
KINDS = {
    "area": ("地区", "area"),
    "station": ("駅", "station"),
    "clinic": ("診療所", "clinic"),
    "shop": ("買い物", "shop"),
    "shelter": ("避難所", "shelter"),
    "public": ("公共施設", "public building"),
}


@dataclass(frozen=True)
class Stop:
    """A place where a car stops: `key` is stable (used in bookings and in the API)."""

    key: str
    name: str  # Japanese name as residents know it
    name_en: str
    kind: str  # one of KINDS
    where: Point  # (lon, lat)
    area: str  # the town area it lies in (nearest area centre)


def _nearest_area(p: Point, areas: list[tuple[str, Point]]) -> str:
    return min(areas, key=lambda a: math.hypot(a[1][0] - p[0], a[1][1] - p[1]))[0]


@cache
def all_stops() -> tuple[Stop, ...]:
    """Every stop: areas first (homes), then destinations."""
    areas = [
        (a["name"]["value"], tuple(a["location"]["value"]["coordinates"])) for a in town_areas()
    ]
    out: list[Stop] = []
    for n, (name, where) in enumerate(areas, start=1):
        out.append(Stop(f"area-{n:03d}", name, name, "area", where, name))  # type: ignore[arg-type]
    for key, name, where in STATIONS:
        out.append(Stop(key, name, name.replace("駅", " Station"), "station", where,
                        _nearest_area(where, areas)))  # type: ignore[arg-type]
    for n, s in enumerate(shelters(), start=1):
        where = tuple(s["location"]["value"]["coordinates"])
        name = s["name"]["value"]
        out.append(Stop(f"shelter-{n:02d}", name, name, "shelter", where,  # type: ignore[arg-type]
                        _nearest_area(where, areas)))  # type: ignore[arg-type]
    for row in json.loads((DATA / "places.json").read_text("utf-8")):
        where = (row["lon"], row["lat"])
        out.append(Stop(row["key"], row["name"], row["name_en"], row["kind"], where,
                        _nearest_area(where, areas)))
    return tuple(out)


@cache
def stops_by_key() -> dict[str, Stop]:
    return {s.key: s for s in all_stops()}


def stop(key: str) -> Stop | None:
    """The stop with this key, or None."""
    return stops_by_key().get(key)


def destinations() -> list[Stop]:
    """Where residents ride to, in the order the app lists them."""
    order = ("clinic", "station", "shop", "public", "shelter")
    return sorted((s for s in all_stops() if s.kind != "area"), key=lambda s: order.index(s.kind))


def areas() -> list[Stop]:
    return [s for s in all_stops() if s.kind == "area"]
