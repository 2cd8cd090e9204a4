"""Shelters and town areas from NGSI-LD entities (normalized or keyValues), as the platform
holds them and as `cityos.town.places` builds them from the vendored open data.

What the open data has: the 7 designated shelters (指定避難所) with who each accepts
(受入対象者: the two 老人福祉センター are for 高齢者、障害者、妊婦等), the 7 designated emergency
evacuation sites (指定緊急避難場所) with GSI's hazard flags — in Toyono only flood (洪水),
landslide (崖崩れ、土石流及び地滑り) and earthquake (地震) are set; storm surge, tsunami, large
fire, inland flooding and volcano are designated nowhere — and the 41 town areas with a
representative point. A shelter takes the hazards of the emergency site at its address
(`refShelter`, GSI's 指定避難所との住所同一).

What it has not: capacities (収容人数) and people per town area. A shelter's `capacity` and a
town area's `population` attributes, when present, are used; else the DEMO figures below,
which are fictional and said so in the plan's notes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cityos.services.evacuation.model import Area, Shelter

TOWN_POPULATION = 19_000  # people.py: "the town has ~19,000 people"
WEST_SHARE = 0.8  # the plan: about 80% live in the western district (西地区)
WEST = ("ときわ台", "光風台", "新光風台", "東ときわ台", "吉川")
# fictional capacities by kind of facility: (designated shelter, emergency evacuation site)
DEMO_CAPACITY = {"小学校": (600, 1500), "中学校": (600, 1500), "コミュニティセンター": (200, 500),
                 "老人福祉センター": (100, 300)}
DEMO_NOTE = ("capacities and people per area are demo figures (not in the open data) / "
             "収容人数と地区の人数はデモ用の架空の値です（オープンデータにないため）")


def value(entity: dict[str, Any], attr: str, default: Any = None) -> Any:
    """An attribute's value, from normalized ({"value": …} / {"object": …}) or keyValues."""
    found = entity.get(attr, default)
    if isinstance(found, dict) and found.get("type") in ("Property", "GeoProperty",
                                                          "Relationship"):
        return found.get("value", found.get("object", default))
    return found


def _point(entity: dict[str, Any]) -> tuple[float, float]:
    lon, lat = value(entity, "location")["coordinates"][:2]
    return float(lon), float(lat)


def demo_capacity(name: str, kind: str) -> int:
    for key, (shelter, site) in DEMO_CAPACITY.items():
        if key in name:
            return shelter if kind == "EvacuationShelter" else site
    return 200 if kind == "EvacuationShelter" else 500


def demo_population(names: Iterable[str]) -> dict[str, int]:
    """A fictional even split of the town's people: 80% over the western areas, 20% east."""
    names = list(names)
    west = [n for n in names if n.startswith(WEST)]
    east = [n for n in names if not n.startswith(WEST)]
    out = {}
    west_people = round(TOWN_POPULATION * WEST_SHARE)
    for group, total in ((west, west_people), (east, TOWN_POPULATION - west_people)):
        for k, n in enumerate(group):  # the remainder one each to the first areas
            out[n] = total // len(group) + (1 if k < total % len(group) else 0)
    return out


def _int(x: Any, default: int) -> int:
    return int(x) if isinstance(x, int | float) and not isinstance(x, bool) and x >= 0 \
        else default


def shelters_of(entities: Iterable[dict[str, Any]]) -> tuple[list[Shelter], bool]:
    """EvacuationShelter and EmergencyEvacuationSite entities → shelters (sorted by id), and
    whether a demo capacity had to be used."""
    entities = [e for e in entities
                if e.get("type") in ("EvacuationShelter", "EmergencyEvacuationSite")]
    hazards_at: dict[str, frozenset[str]] = {}
    for e in entities:
        ref = value(e, "refShelter")
        if e["type"] == "EmergencyEvacuationSite" and isinstance(ref, str):
            hazards_at[ref] = frozenset(value(e, "hazardType") or ())
    out, demo = [], False
    for e in entities:
        name = str(value(e, "name", e["id"]))
        capacity = value(e, "capacity")
        if not isinstance(capacity, int | float):
            demo = True
        lon, lat = _point(e)
        hazards = (frozenset(value(e, "hazardType") or ()) if e["type"] ==
                   "EmergencyEvacuationSite" else hazards_at.get(e["id"], frozenset()))
        occupancy = max(_int(value(e, "occupancy"), 0), _int(value(e, "staffCount"), 0))
        out.append(Shelter(id=e["id"], name=name, kind=e["type"], lon=lon, lat=lat,
                           capacity=_int(capacity, demo_capacity(name, e["type"])),
                           occupancy=occupancy, open=value(e, "status", "open") != "closed",
                           hazards=hazards, priority=bool(value(e, "acceptedPersons"))))
    return sorted(out, key=lambda s: s.id), demo


def areas_of(entities: Iterable[dict[str, Any]], share: float = 1.0) -> tuple[list[Area], bool]:
    """TownArea entities → areas with `population × share` people each (sorted by id), and
    whether a demo population had to be used."""
    entities = [e for e in entities if e.get("type") == "TownArea"]
    estimate = demo_population(str(value(e, "name", e["id"])) for e in entities)
    out, demo = [], False
    for e in entities:
        name = str(value(e, "name", e["id"]))
        population = value(e, "population")
        if not isinstance(population, int | float):
            demo = True
        lon, lat = _point(e)
        people = round(_int(population, estimate[name]) * share)
        out.append(Area(id=e["id"], name=name, lon=lon, lat=lat, people=people))
    return sorted(out, key=lambda a: a.id), demo


def from_town(share: float = 1.0) -> tuple[list[Area], list[Shelter], bool]:
    """The vendored open data (no platform): areas, shelters, whether demo figures are used."""
    from cityos.town.places import evacuation_sites, shelters, town_areas
    found, demo_s = shelters_of([*shelters(), *evacuation_sites()])
    areas, demo_a = areas_of(town_areas(), share)
    return areas, found, demo_s or demo_a
