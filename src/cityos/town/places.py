"""Toyono's real places as NGSI-LD entities: the 7 evacuation shelters, the 7 emergency
evacuation sites and the 41 town areas (vendored open data, `data/SOURCES.md`).

Entity types and attribute names follow FIWARE Smart Data Models and the Digital Agency's area
data models where they have one (mapping in docs/demo-town.md).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

GSI = "出典：国土地理院 (Geospatial Information Authority of Japan)"
GEOLONIA = "Geolonia japanese-addresses"
WEST = ("ときわ台", "光風台", "新光風台", "東ときわ台", "吉川")  # 西地区: ~80% of residents
HAZARDS = {"洪水": "flood", "崖崩れ、土石流及び地滑り": "landslide", "高潮": "stormSurge",
           "地震": "earthquake", "津波": "tsunami", "大規模な火事": "largeFire",
           "内水氾濫": "inlandFlooding", "火山現象": "volcano"}


def _data(name: str) -> Any:
    return json.loads(resources.files("cityos.town").joinpath("data", name).read_text("utf-8"))


def _prop(value: Any) -> dict[str, Any]:
    return {"type": "Property", "value": value}


def _point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [lon, lat]}}


def _address(full: str) -> dict[str, Any]:
    street = full.removeprefix("大阪府豊能町")
    return _prop({"addressCountry": "JP", "addressRegion": "大阪府", "addressLocality": "豊能町",
                  "streetAddress": street})


def district_of(area: str) -> str:
    """`west` (西地区) or `east` (東地区) for a town area or address."""
    return "west" if any(area.startswith(w) for w in WEST) else "east"


def shelter_id(common_id: str) -> str:
    return f"urn:ngsi-ld:EvacuationShelter:{common_id}"


def shelters() -> list[dict[str, Any]]:
    out = []
    for feature in _data("evacuation_shelters_273210.geojson")["features"]:
        p = feature["properties"]
        lon, lat = feature["geometry"]["coordinates"]
        street = p["住所"].removeprefix("大阪府豊能町")
        entity = {"id": shelter_id(p["共通ID"]), "type": "EvacuationShelter",
                  "name": _prop(p["施設・場所名"]), "address": _address(p["住所"]),
                  "location": _point(lon, lat), "category": _prop(["designatedShelter"]),
                  "district": _prop(district_of(street)),
                  "occupancy": {**_prop(0), "unitCode": "C62"},
                  "source": _prop(GSI), "dataProvider": _prop("豊能町 / Toyono town")}
        if p.get("受入対象者"):
            entity["acceptedPersons"] = _prop(p["受入対象者"])
        out.append(entity)
    return out


def evacuation_sites() -> list[dict[str, Any]]:
    by_address = {s["address"]["value"]["streetAddress"]: s["id"] for s in shelters()}
    out = []
    for feature in _data("emergency_evacuation_sites_273210.geojson")["features"]:
        p = feature["properties"]
        lon, lat = feature["geometry"]["coordinates"]
        entity = {"id": f"urn:ngsi-ld:EmergencyEvacuationSite:{p['共通ID']}",
                  "type": "EmergencyEvacuationSite", "name": _prop(p["施設・場所名"]),
                  "address": _address(p["住所"]), "location": _point(lon, lat),
                  "hazardType": _prop([HAZARDS[k] for k in HAZARDS if p.get(k) == "1"]),
                  "source": _prop(GSI)}
        shelter = by_address.get(p["住所"].removeprefix("大阪府豊能町"))
        if p.get("指定避難所との住所同一") == "1" and shelter:
            entity["refShelter"] = {"type": "Relationship", "object": shelter}
        out.append(entity)
    return out


def town_areas() -> list[dict[str, Any]]:
    out = []
    for n, row in enumerate(_data("town_areas_centroids.json"), start=1):
        out.append({"id": f"urn:ngsi-ld:TownArea:273210-{n:03d}", "type": "TownArea",
                    "name": _prop(row["town"]), "district": _prop(district_of(row["town"])),
                    "location": _point(row["lng"], row["lat"]), "source": _prop(GEOLONIA)})
    return out


def all_places() -> list[dict[str, Any]]:
    return [*shelters(), *evacuation_sites(), *town_areas()]
