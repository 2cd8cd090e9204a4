"""Querying entities over HTTP: type, q, geoQ, scopeQ, attrs, pagination and counts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

V1 = "/ngsi-ld/v1"
SHELTERS = [  # real Toyono shelters are used in the demo town; positions here are near them
    ("urn:ngsi-ld:Shelter:001", 135.4710, 34.9210, 120, "/Osaka/Toyono/West"),
    ("urn:ngsi-ld:Shelter:002", 135.4805, 34.9190, 40, "/Osaka/Toyono/West"),
    ("urn:ngsi-ld:Shelter:003", 135.5230, 34.8860, 0, "/Osaka/Toyono/East"),
    ("urn:ngsi-ld:Shelter:004", 135.4200, 34.8100, 75, "/Osaka/Nose"),
]


@pytest.fixture
def town(client: TestClient) -> TestClient:
    batch: list[dict[str, Any]] = [
        {"id": i, "type": "Shelter", "scope": scope,
         "occupancy": {"type": "Property", "value": occ},
         "status": {"type": "Property", "value": "full" if occ > 100 else "open"},
         "address": {"type": "Property", "value": {"town": "Toyono", "district": scope[-4:]}},
         "location": {"type": "GeoProperty", "value": {"type": "Point", "coordinates": [x, y]}}}
        for i, x, y, occ, scope in SHELTERS
    ]
    batch.append({"id": "urn:ngsi-ld:Bus:1", "type": "Bus",
                  "location": {"type": "GeoProperty",
                               "value": {"type": "Point", "coordinates": [135.472, 34.921]}}})
    r = client.post(f"{V1}/entityOperations/create", json=batch)
    assert r.status_code == 201, r.text
    return client


def ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()]


@pytest.mark.parametrize(("q", "expected"), [
    ("occupancy>50", ["001", "004"]),
    ("occupancy==0,40", ["002", "003"]),
    ("occupancy==30..80", ["002", "004"]),
    ('status=="full"', ["001"]),
    ('status!="full";occupancy>0', ["002", "004"]),
    ('(status=="full"|occupancy==0)', ["001", "003"]),
    ('address[district]=="West"', ["001", "002"]),
    ('status~="^op"', ["002", "003", "004"]),
    ("occupancy", ["001", "002", "003", "004"]),
])
def test_q(town: TestClient, q: str, expected: list[str]) -> None:
    got = ids(town.get(f"{V1}/entities", params={"type": "Shelter", "q": q}))
    assert got == [f"urn:ngsi-ld:Shelter:{n}" for n in expected]


def test_invalid_q_is_bad_request(town: TestClient) -> None:
    r = town.get(f"{V1}/entities", params={"type": "Shelter", "q": "occupancy>>(("})
    assert r.status_code == 400
    assert r.json()["type"].rsplit("/", 1)[1] in {"BadRequestData", "InvalidRequest"}


def test_geo_near_within_and_type_filter(town: TestClient) -> None:
    near = town.get(f"{V1}/entities", params={
        "type": "Shelter", "georel": "near;maxDistance==1500", "geometry": "Point",
        "coordinates": json.dumps([135.4710, 34.9210])})
    assert ids(near) == ["urn:ngsi-ld:Shelter:001", "urn:ngsi-ld:Shelter:002"]
    box = [[[135.40, 34.80], [135.50, 34.80], [135.50, 34.93], [135.40, 34.93], [135.40, 34.80]]]
    within = town.get(f"{V1}/entities", params={
        "georel": "within", "geometry": "Polygon", "coordinates": json.dumps(box),
        "type": "Shelter,Bus"})
    assert ids(within) == ["urn:ngsi-ld:Shelter:001", "urn:ngsi-ld:Shelter:002",
                           "urn:ngsi-ld:Shelter:004", "urn:ngsi-ld:Bus:1"]


def test_geo_query_invalid_geometry_is_rejected(town: TestClient) -> None:
    r = town.get(f"{V1}/entities", params={
        "type": "Shelter", "georel": "within", "geometry": "Polygon",
        "coordinates": "[[[135.4,34.8],[135.5,34.8]]]"})
    assert r.status_code == 400


def test_scope_query(town: TestClient) -> None:
    got = ids(town.get(f"{V1}/entities", params={"type": "Shelter", "scopeQ": "/Osaka/Toyono/#"}))
    assert got == [f"urn:ngsi-ld:Shelter:00{n}" for n in (1, 2, 3)]


def test_id_and_id_pattern(town: TestClient) -> None:
    got = ids(town.get(f"{V1}/entities", params={
        "id": "urn:ngsi-ld:Shelter:003,urn:ngsi-ld:Bus:1", "type": "Shelter,Bus"}))
    assert got == ["urn:ngsi-ld:Shelter:003", "urn:ngsi-ld:Bus:1"]
    got = ids(town.get(f"{V1}/entities", params={"idPattern": ".*Shelter:00[12]$",
                                                 "type": "Shelter"}))
    assert got == ["urn:ngsi-ld:Shelter:001", "urn:ngsi-ld:Shelter:002"]


def test_attrs_selects_entities_having_them_and_projects(town: TestClient) -> None:
    r = town.get(f"{V1}/entities", params={"attrs": "status", "type": "Shelter,Bus"})
    body = r.json()
    assert len(body) == 4
    assert all(set(e) == {"id", "type", "scope", "status"} for e in body)


def test_pagination_count_and_links(town: TestClient) -> None:
    r = town.get(f"{V1}/entities", params={"type": "Shelter", "limit": 2, "count": "true"})
    assert r.headers["NGSILD-Results-Count"] == "4"
    assert len(r.json()) == 2
    assert 'rel="next"' in r.headers["link"]
    r2 = town.get(f"{V1}/entities", params={"type": "Shelter", "limit": 2, "offset": 2})
    assert ids(r2) == ["urn:ngsi-ld:Shelter:003", "urn:ngsi-ld:Shelter:004"]
    only_count = town.get(f"{V1}/entities", params={"type": "Shelter", "limit": 0,
                                                    "count": "true"})
    assert only_count.json() == [] and only_count.headers["NGSILD-Results-Count"] == "4"
    bad = town.get(f"{V1}/entities", params={"type": "Shelter", "limit": 0})
    assert bad.status_code == 400


def test_geojson_feature_collection(town: TestClient) -> None:
    r = town.get(f"{V1}/entities", params={"type": "Shelter"},
                 headers={"Accept": "application/geo+json"})
    assert r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 4


def test_post_query(town: TestClient) -> None:
    r = town.post(f"{V1}/entityOperations/query", json={
        "type": "Query", "entities": [{"type": "Shelter"}], "q": "occupancy>50",
        "geoQ": {"georel": "near;maxDistance==2000", "geometry": "Point",
                 "coordinates": [135.4710, 34.9210]}})
    assert ids(r) == ["urn:ngsi-ld:Shelter:001"]


def test_discovery(town: TestClient) -> None:
    types = town.get(f"{V1}/types").json()
    assert sorted(types["typeList"]) == ["Bus", "Shelter"]
    info = town.get(f"{V1}/types/Shelter").json()
    assert info["entityCount"] == 4
    names = {a["attributeName"]: a["attributeTypes"] for a in info["attributeDetails"]}
    assert names["location"] == ["GeoProperty"] and names["occupancy"] == ["Property"]
    attrs = town.get(f"{V1}/attributes").json()["attributeList"]
    assert set(attrs) == {"occupancy", "status", "address", "location"}
    loc = town.get(f"{V1}/attributes/location").json()
    assert loc["attributeCount"] == 5 and sorted(loc["typeNames"]) == ["Bus", "Shelter"]
    assert town.get(f"{V1}/types/Nothing").status_code == 404
