"""NGSI v2 (Orion's API walkthrough) on the same store as NGSI-LD: what an existing FIWARE
application does, and that NGSI-LD clients see the same data."""

from __future__ import annotations

from typing import Any

from access.secured import Platform

ROOM = {"id": "Room1", "type": "Room",
        "temperature": {"value": 23, "type": "Float", "metadata": {}},
        "pressure": {"value": 720, "type": "Integer"},
        "name": {"value": "会議室", "type": "Text"},
        "location": {"type": "geo:json",
                     "value": {"type": "Point", "coordinates": [135.49, 34.87]}},
        "refBuilding": {"type": "Relationship", "value": "Building1"}}


def _op(p: Platform, **extra: str) -> dict[str, str]:
    return {**p.auth("operator"), **extra}


def _create(p: Platform, body: dict[str, Any], **headers: str) -> Any:
    return p.client.post("/v2/entities", json=body, headers=_op(p, **headers))


def test_create_read_and_the_same_entity_through_ngsi_ld(platform: Platform) -> None:
    p = platform
    made = _create(p, ROOM)
    assert made.status_code == 201, made.text
    assert made.headers["location"] == "/v2/entities/Room1?type=Room"
    got = p.client.get("/v2/entities/Room1", headers=_op(p))
    assert got.status_code == 200
    body = got.json()
    assert body["id"] == "Room1" and body["type"] == "Room"
    assert body["temperature"] == {"type": "Float", "value": 23, "metadata": {}}
    assert body["pressure"]["type"] == "Integer" and body["name"]["type"] == "Text"
    assert body["refBuilding"] == {"type": "Relationship", "value": "Building1", "metadata": {}}
    assert body["location"]["type"] == "geo:json"
    # the NGSI-LD view of the same entity
    ld = p.client.get("/ngsi-ld/v1/entities/urn:ngsi-v2:Room1", headers=_op(p))
    assert ld.status_code == 200, ld.text
    data = ld.json()
    assert data["type"] == "Room" and data["temperature"]["value"] == 23
    assert data["refBuilding"] == {"type": "Relationship", "object": "urn:ngsi-v2:Building1"}
    assert data["location"]["type"] == "GeoProperty"
    # and an NGSI-LD entity is visible through v2, its URI id kept
    ld_made = p.client.post("/ngsi-ld/v1/entities", headers=_op(p), json={
        "id": "urn:ngsi-ld:Room:2", "type": "Room", "temperature": {"type": "Property",
                                                                   "value": 19.5}})
    assert ld_made.status_code == 201, ld_made.text
    kv = p.client.get("/v2/entities/urn:ngsi-ld:Room:2?options=keyValues", headers=_op(p))
    assert kv.json() == {"id": "urn:ngsi-ld:Room:2", "type": "Room", "temperature": 19.5}


def test_already_exists_upsert_and_not_found(platform: Platform) -> None:
    p = platform
    assert _create(p, ROOM).status_code == 201
    again = _create(p, ROOM)
    assert again.status_code == 422
    assert again.json() == {"error": "Unprocessable", "description": "Already Exists"}
    upsert = p.client.post("/v2/entities?options=upsert,keyValues", headers=_op(p),
                           json={"id": "Room1", "type": "Room", "temperature": 30})
    assert upsert.status_code == 204
    kv = p.client.get("/v2/entities/Room1?options=keyValues&attrs=temperature",
                      headers=_op(p)).json()
    assert kv == {"id": "Room1", "type": "Room", "temperature": 30}
    missing = p.client.get("/v2/entities/Nope", headers=_op(p))
    assert missing.status_code == 404 and missing.json()["error"] == "NotFound"
    wrong_type = p.client.get("/v2/entities/Room1?type=Car", headers=_op(p))
    assert wrong_type.status_code == 404


def test_query_language_geo_paging_and_count(platform: Platform) -> None:
    p = platform
    for i in range(5):
        body = {"id": f"Room{i}", "type": "Room", "temperature": {"value": 20 + i},
                "name": {"value": f"room {i}"},
                "location": {"type": "geo:point", "value": f"34.8{i}, 135.4{i}"}}
        assert _create(p, body).status_code == 201
    assert _create(p, {"id": "Car1", "type": "Car", "speed": {"value": 40}}).status_code == 201

    def ids(query: str) -> list[str]:
        got = p.client.get(f"/v2/entities?{query}", headers=_op(p))
        assert got.status_code == 200, got.text
        return sorted(e["id"] for e in got.json())

    assert ids("type=Room&q=temperature>22") == ["Room3", "Room4"]
    assert ids("q=temperature==20..21") == ["Room0", "Room1"]
    assert ids("q=temperature==20,24") == ["Room0", "Room4"]
    assert ids("q=name=='room 2'") == ["Room2"]
    assert ids("q=speed") == ["Car1"]
    assert ids("type=Room&q=!speed;temperature<21") == ["Room0"]
    assert ids("idPattern=^Room[12]") == ["Room1", "Room2"]
    assert ids("type=Car,Room&limit=100") == ["Car1", *[f"Room{i}" for i in range(5)]]
    near = ids("georel=near;maxDistance:1000&geometry=point&coords=34.80,135.40")
    assert near == ["Room0"]
    counted = p.client.get("/v2/entities?type=Room&limit=2&options=count", headers=_op(p))
    assert counted.headers["fiware-total-count"] == "5" and len(counted.json()) == 2
    values = p.client.get("/v2/entities?type=Room&attrs=temperature&options=values&limit=1",
                          headers=_op(p)).json()
    assert values == [[20]]
    point = p.client.get("/v2/entities/Room3/attrs/location", headers=_op(p)).json()
    assert point["type"] == "geo:point" and point["value"] == "34.83, 135.43"
    bad = p.client.get("/v2/entities?q=temperature>>1", headers=_op(p))
    assert bad.status_code == 400 and bad.json()["error"] == "BadRequest"


def test_attributes_update_append_replace_delete(platform: Platform) -> None:
    p = platform
    assert _create(p, ROOM).status_code == 201
    url = "/v2/entities/Room1/attrs"
    patched = p.client.patch(url, headers=_op(p), json={"temperature": {"value": 25.5}})
    assert patched.status_code == 204
    unknown = p.client.patch(url, headers=_op(p), json={"humidity": {"value": 40}})
    assert unknown.status_code == 422
    added = p.client.post(url, headers=_op(p), json={"humidity": {"value": 40}})
    assert added.status_code == 204
    strict = p.client.post(url + "?options=append", headers=_op(p),
                           json={"humidity": {"value": 41}})
    assert strict.status_code == 422
    value = p.client.get(url + "/humidity/value", headers=_op(p))
    assert value.json() == 40
    put_value = p.client.put(url + "/temperature/value", content=b"26",
                             headers=_op(p, **{"Content-Type": "text/plain"}))
    assert put_value.status_code == 204
    assert p.client.get(url + "/temperature", headers=_op(p)).json()["value"] == 26
    assert p.client.delete(url + "/humidity", headers=_op(p)).status_code == 204
    assert p.client.get(url + "/humidity", headers=_op(p)).status_code == 404
    replaced = p.client.put(url, headers=_op(p), json={"only": {"value": "one"}})
    assert replaced.status_code == 204
    assert p.client.get(url + "?options=keyValues", headers=_op(p)).json() == {"only": "one"}
    assert p.client.delete("/v2/entities/Room1", headers=_op(p)).status_code == 204
    assert p.client.get("/v2/entities/Room1", headers=_op(p)).status_code == 404


def test_batch_update_and_query(platform: Platform) -> None:
    p = platform
    batch = {"actionType": "append", "entities": [
        {"id": "Bus1", "type": "Bus", "speed": {"value": 30}},
        {"id": "Bus2", "type": "Bus", "speed": {"value": 50}}]}
    assert p.client.post("/v2/op/update", headers=_op(p), json=batch).status_code == 204
    update = {"actionType": "update", "entities": [
        {"id": "Bus1", "speed": {"value": 35}}, {"id": "Ghost", "speed": {"value": 1}}]}
    refused = p.client.post("/v2/op/update", headers=_op(p), json=update)
    assert refused.status_code == 404
    assert p.client.get("/v2/entities/Bus1/attrs/speed/value", headers=_op(p)).json() == 30
    query = {"entities": [{"idPattern": ".*", "type": "Bus"}],
             "expression": {"q": "speed>40"}, "attrs": ["speed"]}
    found = p.client.post("/v2/op/query?options=keyValues", headers=_op(p), json=query)
    assert found.status_code == 200, found.text
    assert found.json() == [{"id": "Bus2", "type": "Bus", "speed": 50}]
    delete = {"actionType": "delete", "entities": [{"id": "Bus1"}, {"id": "Bus2"}]}
    assert p.client.post("/v2/op/update", headers=_op(p), json=delete).status_code == 204
    assert p.client.get("/v2/entities?type=Bus", headers=_op(p)).json() == []


def test_types(platform: Platform) -> None:
    p = platform
    assert _create(p, ROOM).status_code == 201
    types = p.client.get("/v2/types", headers=_op(p)).json()
    room = next(t for t in types if t["type"] == "Room")
    assert room["count"] == 1 and room["attrs"]["refBuilding"] == {"types": ["Relationship"]}
    one = p.client.get("/v2/types/Room", headers=_op(p))
    assert one.status_code == 200 and one.json()["count"] == 1
    assert p.client.get("/v2/types/Nothing", headers=_op(p)).status_code == 404


def test_fiware_service_selects_the_tenant_and_is_checked_by_the_gate(
        platform: Platform) -> None:
    p = platform
    admin = {**p.auth("admin"), "Fiware-Service": "town_b"}
    assert p.client.post("/v2/entities", headers=admin, json=ROOM).status_code == 201
    # the same entity is in tenant town_b for NGSI-LD, not in the default tenant
    ld = p.client.get("/ngsi-ld/v1/entities/urn:ngsi-v2:Room1",
                      headers={**p.auth("admin"), "NGSILD-Tenant": "town_b"})
    assert ld.status_code == 200
    assert p.client.get("/v2/entities/Room1", headers=p.auth("admin")).status_code == 404
    # an operator bound to the default tenant may not reach town_b through Fiware-Service,
    # nor smuggle it past the gate beside an NGSILD-Tenant it may use
    probe = p.client.get("/v2/entities/Room1", headers=_op(p, **{"Fiware-Service": "town_b"}))
    assert probe.status_code == 403
    mixed = p.client.get("/v2/entities/Room1",
                         headers=_op(p, **{"Fiware-Service": "town_b", "NGSILD-Tenant": ""}))
    assert mixed.status_code == 403
    assert p.client.get("/v2/entities").status_code == 401


def test_service_path_is_an_ngsi_ld_scope(platform: Platform) -> None:
    p = platform
    parks = _create(p, {"id": "Park1", "type": "Park"}, **{"Fiware-ServicePath": "/toyono/parks"})
    assert parks.status_code == 201
    assert _create(p, {"id": "Park2", "type": "Park"},
                   **{"Fiware-ServicePath": "/nose/parks"}).status_code == 201

    def ids(path: str) -> list[str]:
        got = p.client.get("/v2/entities?type=Park", headers=_op(p, **{"Fiware-ServicePath": path}))
        assert got.status_code == 200, got.text
        return sorted(e["id"] for e in got.json())

    assert ids("/toyono/parks") == ["Park1"]
    assert ids("/#") == ["Park1", "Park2"]
    assert ids("/nose/#") == ["Park2"]
    ld = p.client.get("/ngsi-ld/v1/entities/urn:ngsi-v2:Park1", headers=_op(p)).json()
    assert ld["scope"] == "/toyono/parks"
    bad = p.client.get("/v2/entities", headers=_op(p, **{"Fiware-ServicePath": "no-slash"}))
    assert bad.status_code == 400


def test_organisations_type_grants_hold_over_v2(platform: Platform) -> None:
    p = platform
    co = p.auth("ShelterCo")  # may read and write Shelter only
    shelter = {"id": "S1", "type": "Shelter", "capacity": {"value": 120}}
    assert p.client.post("/v2/entities", headers=co, json=shelter).status_code == 201
    assert _create(p, ROOM).status_code == 201
    assert p.client.post("/v2/entities", headers=co, json={**ROOM, "id": "R9"}).status_code == 403
    assert p.client.post("/v2/entities", headers=co, json={"id": "T1"}).status_code == 403  # Thing
    assert p.client.get("/v2/entities/S1", headers=co).status_code == 200
    assert p.client.get("/v2/entities/Room1", headers=co).status_code == 404  # not for it
    assert p.client.get("/v2/entities?type=Shelter", headers=co).status_code == 200
    every = p.client.get("/v2/entities", headers=co)  # no type named: what it may read
    assert every.status_code == 200 and [e["id"] for e in every.json()] == ["S1"]
    sneak = {"actionType": "append", "entities": [{"id": "Room1", "x": {"value": 1}}]}
    assert p.client.post("/v2/op/update", headers=co, json=sneak).status_code == 403
    query = {"entities": [{"idPattern": ".*", "type": "Shelter"}]}
    found = p.client.post("/v2/op/query", headers=co, json=query)
    assert found.status_code == 200 and [e["id"] for e in found.json()] == ["S1"]
    found = p.client.post("/v2/op/query", headers=co, json={})
    assert found.status_code == 200 and [e["id"] for e in found.json()] == ["S1"]
    assert "x" not in p.client.get("/v2/entities/Room1", headers=_op(p)).json()  # refused
