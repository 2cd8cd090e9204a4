"""Batch operations: per-entity results (207) and no partial write of a failed entity."""

from __future__ import annotations

from starlette.testclient import TestClient

V1 = "/ngsi-ld/v1"


def entity(n: int, **attrs: object) -> dict[str, object]:
    return {"id": f"urn:ngsi-ld:Meter:{n}", "type": "Meter", **attrs}


def test_create_reports_each_failure_and_writes_the_rest(client: TestClient) -> None:
    client.post(f"{V1}/entities", json=entity(1, kwh=1))
    batch = [entity(1, kwh=2), entity(2, kwh=3), {"id": "urn:ngsi-ld:Meter:3"},
             entity(4, location={"type": "GeoProperty",
                                 "value": {"type": "Point", "coordinates": [500, 91]}})]
    r = client.post(f"{V1}/entityOperations/create", json=batch)
    assert r.status_code == 207
    body = r.json()
    assert body["success"] == ["urn:ngsi-ld:Meter:2"]
    failed = {e["entityId"]: e["error"]["type"].rsplit("/", 1)[1] for e in body["errors"]}
    assert failed == {"urn:ngsi-ld:Meter:1": "AlreadyExists",
                      "urn:ngsi-ld:Meter:3": "BadRequestData",
                      "urn:ngsi-ld:Meter:4": "BadRequestData"}
    kv = client.get(f"{V1}/entities/urn:ngsi-ld:Meter:1", params={"options": "keyValues"}).json()
    assert kv["kwh"] == 1  # the failed create did not touch the existing entity
    assert client.get(f"{V1}/entities/urn:ngsi-ld:Meter:4").status_code == 404


def test_upsert_creates_then_replaces_or_updates(client: TestClient) -> None:
    r = client.post(f"{V1}/entityOperations/upsert", json=[entity(1, kwh=1, volts=100)])
    assert r.status_code == 201 and r.json() == ["urn:ngsi-ld:Meter:1"]
    r = client.post(f"{V1}/entityOperations/upsert", json=[entity(1, kwh=2)])
    assert r.status_code == 204
    kv = client.get(f"{V1}/entities/urn:ngsi-ld:Meter:1", params={"options": "keyValues"}).json()
    assert kv == {"id": "urn:ngsi-ld:Meter:1", "type": "Meter", "kwh": 2}
    r = client.post(f"{V1}/entityOperations/upsert", params={"options": "update"},
                    json=[entity(1, volts=101)])
    assert r.status_code == 204
    kv = client.get(f"{V1}/entities/urn:ngsi-ld:Meter:1", params={"options": "keyValues"}).json()
    assert kv["kwh"] == 2 and kv["volts"] == 101


def test_update_delete_and_merge(client: TestClient) -> None:
    client.post(f"{V1}/entityOperations/create", json=[entity(1, kwh=1), entity(2, kwh=2)])
    r = client.post(f"{V1}/entityOperations/update",
                    json=[entity(1, kwh=10), entity(9, kwh=9)])
    assert r.status_code == 207
    assert r.json()["errors"][0]["entityId"] == "urn:ngsi-ld:Meter:9"
    r = client.post(f"{V1}/entityOperations/merge", json=[entity(2, kwh="urn:ngsi-ld:null",
                                                                 note="ok")])
    assert r.status_code == 204
    kv = client.get(f"{V1}/entities/urn:ngsi-ld:Meter:2", params={"options": "keyValues"}).json()
    assert kv == {"id": "urn:ngsi-ld:Meter:2", "type": "Meter", "note": "ok"}
    r = client.post(f"{V1}/entityOperations/delete",
                    json=["urn:ngsi-ld:Meter:1", "urn:ngsi-ld:Meter:404"])
    assert r.status_code == 207
    assert r.json()["success"] == ["urn:ngsi-ld:Meter:1"]


def test_empty_or_non_array_batch_is_rejected(client: TestClient) -> None:
    assert client.post(f"{V1}/entityOperations/create", json=[]).status_code == 400
    assert client.post(f"{V1}/entityOperations/create", json={"id": "x"}).status_code == 400
