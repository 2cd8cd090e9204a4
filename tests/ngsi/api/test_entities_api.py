"""Entities over HTTP: create, retrieve, representations, attribute operations, tenants."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

V1 = "/ngsi-ld/v1"
CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"


def shelter(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"urn:ngsi-ld:Shelter:{n:03d}",
        "type": "Shelter",
        "name": {"type": "Property", "value": "東ときわ台小学校"},
        "occupancy": {"type": "Property", "value": 10 * n, "unitCode": "IE",
                      "observedAt": "2026-11-21T10:00:00Z"},
        "location": {"type": "GeoProperty",
                     "value": {"type": "Point", "coordinates": [135.47 + n / 1000, 34.92]}},
        **extra,
    }


def create(client: TestClient, entity: dict[str, Any], **headers: str) -> Any:
    return client.post(f"{V1}/entities", json=entity, headers=headers)


def test_create_then_retrieve_round_trips_and_names_the_context(client: TestClient) -> None:
    r = create(client, shelter())
    assert r.status_code == 201
    assert r.headers["location"] == f"{V1}/entities/urn:ngsi-ld:Shelter:001"
    got = client.get(f"{V1}/entities/urn:ngsi-ld:Shelter:001")
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/json"
    assert CORE in got.headers["link"]
    body = got.json()
    assert body["name"]["value"] == "東ときわ台小学校"
    assert body["occupancy"] == {"type": "Property", "value": 10, "unitCode": "IE",
                                 "observedAt": "2026-11-21T10:00:00Z"}
    assert "createdAt" not in body


def test_create_twice_is_already_exists(client: TestClient) -> None:
    assert create(client, shelter()).status_code == 201
    r = create(client, shelter())
    assert r.status_code == 409
    assert r.json()["type"] == "https://uri.etsi.org/ngsi-ld/errors/AlreadyExists"


def test_representations_keyvalues_concise_sysattrs(client: TestClient) -> None:
    create(client, shelter())
    url = f"{V1}/entities/urn:ngsi-ld:Shelter:001"
    kv = client.get(url, params={"options": "keyValues"}).json()
    assert kv["occupancy"] == 10 and kv["location"]["type"] == "Point"
    concise = client.get(url, params={"format": "concise"}).json()
    assert concise["name"] == "東ときわ台小学校"
    assert concise["occupancy"] == {"value": 10, "unitCode": "IE",
                                    "observedAt": "2026-11-21T10:00:00Z"}
    sys_attrs = client.get(url, params={"options": "sysAttrs"}).json()
    assert sys_attrs["createdAt"].endswith("Z") and "modifiedAt" in sys_attrs["name"]


def test_jsonld_accept_puts_context_in_body(client: TestClient) -> None:
    create(client, shelter())
    r = client.get(f"{V1}/entities/urn:ngsi-ld:Shelter:001",
                   headers={"Accept": "application/ld+json"})
    assert r.headers["content-type"] == "application/ld+json"
    assert r.json()["@context"] == CORE


def test_geojson_representation(client: TestClient) -> None:
    create(client, shelter())
    r = client.get(f"{V1}/entities/urn:ngsi-ld:Shelter:001",
                   headers={"Accept": "application/geo+json"})
    feature = r.json()
    assert feature["type"] == "Feature"
    assert feature["geometry"]["type"] == "Point"
    assert feature["properties"]["name"]["value"] == "東ときわ台小学校"


def test_user_context_in_body_expands_and_compacts(client: TestClient) -> None:
    ctx = {"Shelter": "https://smartdatamodels.org/dataModel.Emergency/Shelter",
           "occupancy": "https://smartdatamodels.org/occupancy"}
    entity = {**shelter(), "@context": [ctx]}
    r = client.post(f"{V1}/entities", json=entity,
                    headers={"Content-Type": "application/ld+json"})
    assert r.status_code == 201, r.text
    # without the context, names come back expanded (they are IRIs in the store)
    bare = client.get(f"{V1}/entities/urn:ngsi-ld:Shelter:001").json()
    assert bare["type"] == "https://smartdatamodels.org/dataModel.Emergency/Shelter"
    assert "https://smartdatamodels.org/occupancy" in bare
    # query by the expanded type finds it; by the default-context term it does not
    found = client.get(f"{V1}/entities",
                       params={"type": "https://smartdatamodels.org/dataModel.Emergency/Shelter"})
    assert [e["id"] for e in found.json()] == ["urn:ngsi-ld:Shelter:001"]
    assert client.get(f"{V1}/entities", params={"type": "Shelter"}).json() == []


def test_unknown_entity_is_resource_not_found(client: TestClient) -> None:
    r = client.get(f"{V1}/entities/urn:ngsi-ld:Shelter:404")
    assert r.status_code == 404
    problem = r.json()
    assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/ResourceNotFound"
    assert problem["title"] and problem["detail"]


def test_a_context_that_cannot_be_had_is_ld_context_not_available(client: TestClient) -> None:
    """v1.8.1 §6.3.17 maps LdContextNotAvailable to 504; nothing is written."""
    entity = {**shelter(), "@context": "https://example.org/not-allowed/context.jsonld"}
    r = client.post(f"{V1}/entities", json=entity,
                    headers={"Content-Type": "application/ld+json"})
    assert r.status_code == 504, r.text
    problem = r.json()
    assert problem["type"] == "https://uri.etsi.org/ngsi-ld/errors/LdContextNotAvailable"
    assert "Traceback" not in r.text
    assert client.get(f"{V1}/entities/{entity['id']}").status_code == 404


def test_append_update_partial_and_delete_attributes(client: TestClient) -> None:
    create(client, shelter())
    url = f"{V1}/entities/urn:ngsi-ld:Shelter:001"
    r = client.post(f"{url}/attrs", json={"capacity": {"type": "Property", "value": 300}})
    assert r.status_code == 204
    r = client.post(f"{url}/attrs", params={"options": "noOverwrite"},
                    json={"capacity": {"type": "Property", "value": 1}})
    assert r.status_code == 207
    assert r.json()["notUpdated"][0]["attributeName"] == "capacity"
    r = client.patch(f"{url}/attrs", json={"occupancy": {"type": "Property", "value": 42},
                                           "missing": {"type": "Property", "value": 1}})
    assert r.status_code == 207
    assert r.json()["updated"] == ["occupancy"]
    r = client.patch(f"{url}/attrs/occupancy", json={"value": 43})
    assert r.status_code == 204
    kv = client.get(url, params={"options": "keyValues"}).json()
    assert kv["capacity"] == 300 and kv["occupancy"] == 43 and "missing" not in kv
    assert client.delete(f"{url}/attrs/capacity").status_code == 204
    assert client.delete(f"{url}/attrs/capacity").status_code == 404
    assert "capacity" not in client.get(url).json()


def test_partial_update_keeps_unit_and_created_at(client: TestClient) -> None:
    create(client, shelter())
    url = f"{V1}/entities/urn:ngsi-ld:Shelter:001"
    before = client.get(url, params={"options": "sysAttrs"}).json()["occupancy"]
    client.patch(f"{url}/attrs/occupancy", json={"value": 7})
    after = client.get(url, params={"options": "sysAttrs"}).json()["occupancy"]
    assert after["value"] == 7 and after["unitCode"] == "IE"
    assert after["createdAt"] == before["createdAt"]


def test_multi_attributes_by_dataset_id(client: TestClient) -> None:
    entity = shelter()
    entity["temperature"] = [
        {"type": "Property", "value": 20, "datasetId": "urn:ngsi-ld:Sensor:a"},
        {"type": "Property", "value": 25, "datasetId": "urn:ngsi-ld:Sensor:b"},
    ]
    assert create(client, entity).status_code == 201
    url = f"{V1}/entities/urn:ngsi-ld:Shelter:001"
    assert len(client.get(url).json()["temperature"]) == 2
    r = client.delete(f"{url}/attrs/temperature", params={"datasetId": "urn:ngsi-ld:Sensor:a"})
    assert r.status_code == 204
    left = client.get(url).json()["temperature"]
    assert left["datasetId"] == "urn:ngsi-ld:Sensor:b"
    hits = client.get(f"{V1}/entities", params={"type": "Shelter", "q": "temperature>22"}).json()
    assert len(hits) == 1


def test_duplicate_dataset_ids_are_rejected(client: TestClient) -> None:
    entity = shelter()
    entity["t"] = [{"type": "Property", "value": 1}, {"type": "Property", "value": 2}]
    r = create(client, entity)
    assert r.status_code == 400
    assert client.get(f"{V1}/entities/urn:ngsi-ld:Shelter:001").status_code == 404


def test_merge_patch_deletes_with_ngsi_null(client: TestClient) -> None:
    create(client, shelter())
    url = f"{V1}/entities/urn:ngsi-ld:Shelter:001"
    r = client.patch(url, json={"name": "urn:ngsi-ld:null", "capacity": 120})
    assert r.status_code == 204, r.text
    kv = client.get(url, params={"options": "keyValues"}).json()
    assert "name" not in kv and kv["capacity"] == 120 and kv["occupancy"] == 10


def test_replace_entity_drops_old_attributes(client: TestClient) -> None:
    create(client, shelter())
    url = f"{V1}/entities/urn:ngsi-ld:Shelter:001"
    r = client.put(url, json={"type": "Shelter", "capacity": {"type": "Property", "value": 5}})
    assert r.status_code == 204
    kv = client.get(url, params={"options": "keyValues"}).json()
    assert kv == {"id": "urn:ngsi-ld:Shelter:001", "type": "Shelter", "capacity": 5}


def test_language_property_and_lang(client: TestClient) -> None:
    entity = shelter()
    entity["label"] = {"type": "LanguageProperty",
                       "languageMap": {"ja": "避難所", "en": "Shelter"}}
    create(client, entity)
    url = f"{V1}/entities/urn:ngsi-ld:Shelter:001"
    full = client.get(url).json()["label"]
    assert full["languageMap"]["ja"] == "避難所"
    en = client.get(url, params={"lang": "en"}).json()["label"]
    assert en == {"type": "Property", "value": "Shelter", "lang": "en"}


def test_relationship_and_pick_omit(client: TestClient) -> None:
    create(client, shelter(managedBy={"type": "Relationship",
                                      "object": "urn:ngsi-ld:Organization:toyono"}))
    url = f"{V1}/entities/urn:ngsi-ld:Shelter:001"
    picked = client.get(url, params={"pick": "id,managedBy"}).json()
    assert picked == {"id": "urn:ngsi-ld:Shelter:001",
                      "managedBy": {"type": "Relationship",
                                    "object": "urn:ngsi-ld:Organization:toyono"}}
    omitted = client.get(url, params={"omit": "location,name,occupancy,managedBy"}).json()
    assert omitted == {"id": "urn:ngsi-ld:Shelter:001", "type": "Shelter"}


def test_tenants_are_isolated(client: TestClient) -> None:
    create(client, shelter(), **{"NGSILD-Tenant": "toyono"})
    url = f"{V1}/entities/urn:ngsi-ld:Shelter:001"
    assert client.get(url, headers={"NGSILD-Tenant": "toyono"}).status_code == 200
    assert client.get(url).status_code == 404
    r = client.get(url, headers={"NGSILD-Tenant": "nose"})
    assert r.status_code == 404
    assert r.json()["type"].endswith("NonexistentTenant")


def test_delete_entity(client: TestClient) -> None:
    create(client, shelter())
    url = f"{V1}/entities/urn:ngsi-ld:Shelter:001"
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert client.delete(url).status_code == 404


def test_trailing_slash_is_tolerated(client: TestClient) -> None:
    assert client.post(f"{V1}/entities/", json=shelter()).status_code == 201
    assert client.get(f"{V1}/entities/", params={"type": "Shelter"}).status_code == 200
