"""The temporal API over the real app and SQLite: history of every write, queries, aggregation.

ETSI GS CIM 009 v1.8 §5.6.11–5.6.18, §5.7.3–5.7.4, §4.5.8, §4.5.19.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import pytest
from starlette.testclient import TestClient

V1 = "/ngsi-ld/v1"
T = f"{V1}/temporal/entities"
EID = "urn:ngsi-ld:Vehicle:1"


def history(client: TestClient, attr: str = "speed", **params: Any) -> list[dict[str, Any]]:
    r = client.get(f"{T}/{EID}", params={"attrs": attr, **params})
    assert r.status_code == 200, r.text
    found = r.json().get(attr, [])
    return found if isinstance(found, list) else [found]


def values(client: TestClient, attr: str = "speed") -> list[Any]:
    return [i.get("value", i.get("object")) for i in history(client, attr, timeproperty="modifiedAt")]


def create(client: TestClient, **attrs: Any) -> None:
    body = {"id": EID, "type": "Vehicle", **attrs}
    assert client.post(f"{V1}/entities", json=body).status_code == 201


def test_every_kind_of_write_is_recorded(client: TestClient) -> None:
    create(client, speed={"type": "Property", "value": 1}, brand={"type": "Property", "value": "x"})
    assert values(client) == [1]
    assert client.post(f"{V1}/entities/{EID}/attrs",
                       json={"speed": {"type": "Property", "value": 2}}).status_code == 204
    assert client.patch(f"{V1}/entities/{EID}/attrs",
                        json={"speed": {"type": "Property", "value": 3}}).status_code == 204
    assert client.patch(f"{V1}/entities/{EID}/attrs/speed", json={"value": 4}).status_code == 204
    assert client.patch(f"{V1}/entities/{EID}", json={"speed": 5}).status_code == 204
    assert client.put(f"{V1}/entities/{EID}/attrs/speed",
                      json={"type": "Property", "value": 6}).status_code == 204
    assert client.put(f"{V1}/entities/{EID}", json={"type": "Vehicle", "speed": 7}).status_code == 204
    r = client.post(f"{V1}/entityOperations/upsert",
                    json=[{"id": EID, "type": "Vehicle", "speed": 8}], params={"options": "update"})
    assert r.status_code in (201, 204), r.text
    assert values(client) == [1, 2, 3, 4, 5, 6, 7, 8]
    # brand did not change after the create (until the replace dropped it): one instance
    assert values(client, "brand") == ["x"]
    ids = {i["instanceId"] for i in history(client)}
    assert len(ids) == 8 and all(i.startswith("urn:") for i in ids)


def test_unchanged_instances_are_not_recorded(client: TestClient) -> None:
    create(client, speed=1, brand="x")
    client.post(f"{V1}/entities/{EID}/attrs", json={"speed": 2}, params={"options": "noOverwrite"})
    assert values(client) == [1]
    assert values(client, "brand") == ["x"]


def test_failed_write_leaves_no_history(client: TestClient) -> None:
    create(client, speed=1)
    assert client.post(f"{V1}/entities", json={"id": EID, "type": "Vehicle", "speed": 9}
                       ).status_code == 409
    r = client.patch(f"{V1}/entities/{EID}/attrs/speed", json={"value": 2},
                     params={"type": "Bus"})  # type selector refuses: nothing written
    assert r.status_code == 404
    r = client.post(f"{V1}/entityOperations/create",
                    json=[{"id": EID, "type": "Vehicle", "speed": 10},
                          {"id": "urn:ngsi-ld:Vehicle:2", "type": "Vehicle", "speed": 11}])
    assert r.status_code == 207
    assert values(client) == [1]


def test_entity_deletion_keeps_history_by_default(client: TestClient) -> None:
    create(client, speed=1)
    assert client.patch(f"{V1}/entities/{EID}/attrs", json={
        "speed": {"type": "Property", "value": 2}}).status_code == 204
    assert values(client) == [1, 2]
    assert client.delete(f"{V1}/entities/{EID}").status_code == 204
    create(client, speed=3)  # the id created again: the deleted entity's history is kept in
    assert values(client) == [3]  # the store but not released with the new one (0012)
    assert client.delete(f"{T}/{EID}").status_code == 204
    assert client.get(f"{T}/{EID}").status_code == 404
    assert client.get(f"{V1}/entities/{EID}").status_code == 404
    assert client.delete(f"{T}/{EID}").status_code == 404


def temporal_vehicle(n: int = 3) -> dict[str, Any]:
    return {"id": EID, "type": "Vehicle",
            "speed": [{"type": "Property", "value": 10 * (i + 1),
                       "observedAt": f"2020-08-01T12:0{i}:00Z"} for i in range(n)]}


def test_temporal_create_append_and_timerel(client: TestClient) -> None:
    r = client.post(T, json=temporal_vehicle())
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"{T}/{EID}"
    assert client.get(f"{V1}/entities/{EID}").json()["speed"]["value"] == 30  # newest is current
    r = client.post(T, json={"id": EID, "type": "Vehicle", "speed": {
        "type": "Property", "value": 5, "observedAt": "2020-08-01T11:00:00Z"}})
    assert r.status_code == 204
    assert client.get(f"{V1}/entities/{EID}").json()["speed"]["value"] == 30  # older: kept
    r = client.post(f"{T}/{EID}/attrs", json={"speed": [
        {"type": "Property", "value": 40, "observedAt": "2020-08-01T12:03:00Z"}]})
    assert r.status_code == 204
    assert [i["value"] for i in history(client)] == [5, 10, 20, 30, 40]
    after = history(client, timerel="after", timeAt="2020-08-01T12:01:00Z")
    assert [i["value"] for i in after] == [20, 30, 40]
    before = history(client, timerel="before", timeAt="2020-08-01T12:01:00Z")
    assert [i["value"] for i in before] == [5, 10]
    between = history(client, timerel="between", timeAt="2020-08-01T12:00:00Z",
                      endTimeAt="2020-08-01T12:02:00Z")
    assert [i["value"] for i in between] == [10, 20]
    assert [i["value"] for i in history(client, lastN=2)] == [30, 40]
    r = client.get(f"{T}/{EID}", params={"options": "temporalValues", "lastN": 2})
    assert r.json()["speed"] == {"type": "Property", "values": [
        [30, "2020-08-01T12:02:00Z"], [40, "2020-08-01T12:03:00Z"]]}
    assert client.post(f"{T}/urn:ngsi-ld:Vehicle:404/attrs", json={"speed": 1}).status_code == 404


def test_query_temporal_entities(client: TestClient) -> None:
    client.post(T, json=temporal_vehicle())
    client.post(T, json={**temporal_vehicle(1), "id": "urn:ngsi-ld:Vehicle:2"})
    r = client.get(T, params={"type": "Vehicle", "options": "temporalValues", "count": "true"})
    assert r.status_code == 200 and r.headers["NGSILD-Results-Count"] == "2"
    by_id = {e["id"]: e for e in r.json()}
    assert len(by_id[EID]["speed"]["values"]) == 3
    assert len(by_id["urn:ngsi-ld:Vehicle:2"]["speed"]["values"]) == 1
    r = client.get(T, params={"id": EID, "q": "speed>20", "lastN": 1})
    assert [e["id"] for e in r.json()] == [EID]


def test_instance_modify_and_delete(client: TestClient) -> None:
    client.post(T, json=temporal_vehicle())
    first = history(client)[0]["instanceId"]
    r = client.patch(f"{T}/{EID}/attrs/speed/{first}",
                     json={"type": "Property", "value": 99, "observedAt": "2020-08-01T12:00:00Z"})
    assert r.status_code == 204, r.text
    assert [i["value"] for i in history(client)] == [99, 20, 30]
    assert history(client)[0]["instanceId"] == first
    assert client.delete(f"{T}/{EID}/attrs/speed/{first}").status_code == 204
    assert [i["value"] for i in history(client)] == [20, 30]
    assert client.delete(f"{T}/{EID}/attrs/speed/{first}").status_code == 404
    assert client.patch(f"{T}/{EID}/attrs/speed/{first}", json={"value": 1}).status_code == 404
    assert client.delete(f"{T}/{EID}/attrs/speed").status_code == 204
    # asking for attributes without history: 404 (§5.7.3)
    assert client.get(f"{T}/{EID}", params={"attrs": "speed"}).status_code == 404
    assert client.delete(f"{T}/{EID}/attrs/speed").status_code == 404


METHODS = ["totalCount", "distinctCount", "sum", "avg", "min", "max", "stddev", "sumsq"]


def test_aggregation_matches_python(client: TestClient) -> None:
    readings = [(h, m, float((h * 7 + m * 3) % 11)) for h in range(3) for m in range(0, 60, 7)]
    body = {"id": EID, "type": "Vehicle", "speed": [
        {"type": "Property", "value": v, "observedAt": f"2020-08-01T1{h}:{m:02d}:00Z"}
        for h, m, v in readings]}
    assert client.post(T, json=body).status_code == 201
    r = client.get(f"{T}/{EID}", params={
        "options": "aggregatedValues", "aggrMethods": ",".join(METHODS),
        "aggrPeriodDuration": "PT1H", "timerel": "after", "timeAt": "2020-08-01T10:00:00Z"})
    assert r.status_code == 200, r.text
    speed = r.json()["speed"]
    for h in range(3):
        vals = [v for hh, _, v in readings if hh == h]
        expected = {"totalCount": len(vals), "distinctCount": len(set(vals)), "sum": sum(vals),
                    "avg": statistics.mean(vals), "min": min(vals), "max": max(vals),
                    "stddev": statistics.stdev(vals), "sumsq": sum(v * v for v in vals)}
        for method in METHODS:
            value, start, end = speed[method][h]
            assert math.isclose(value, expected[method], rel_tol=1e-9), method
            assert (start, end) == (f"2020-08-01T1{h}:00:00Z", f"2020-08-01T1{h + 1}:00:00Z")
    r = client.get(f"{T}/{EID}", params={"options": "aggregatedValues", "aggrMethods": "max"})
    assert r.json()["speed"]["max"][0][0] == max(v for _, _, v in readings)


@pytest.mark.parametrize("params", [
    {"timerel": "during", "timeAt": "2020-08-01T12:00:00Z"},
    {"timerel": "after"},
    {"timerel": "after", "timeAt": "yesterday"},
    {"timerel": "between", "timeAt": "2020-08-01T12:00:00Z"},
    {"timeAt": "2020-08-01T12:00:00Z"},
    {"timeproperty": "deletedAt"},
    {"lastN": "0"}, {"lastN": "1.5"},
    {"options": "aggregatedValues"},
    {"options": "aggregatedValues", "aggrMethods": "median"},
    {"options": "aggregatedValues", "aggrMethods": "avg", "aggrPeriodDuration": "1 hour"},
])
def test_bad_temporal_parameters(client: TestClient, params: dict[str, str]) -> None:
    client.post(T, json=temporal_vehicle())
    for url, extra in ((f"{T}/{EID}", {}), (T, {"type": "Vehicle"})):
        r = client.get(url, params={**params, **extra})
        assert r.status_code == 400, (url, params, r.text)
        assert r.json()["type"].endswith("/BadRequestData")


def test_temporal_query_needs_a_selector(client: TestClient) -> None:
    assert client.get(T).status_code == 400
    assert client.get(T, params={"id": EID}).status_code == 400  # type or attrs needed


def test_simplified_keeps_keys_and_dataset_filter(client: TestClient) -> None:
    body = {"id": EID, "type": "Vehicle",
            "note": [{"type": "JsonProperty", "json": {"a": 1}, "observedAt": "2020-08-01T12:00:00Z"}],
            "speed": [{"type": "Property", "value": 1, "observedAt": "2020-08-01T12:00:00Z"},
                      {"type": "Property", "value": 2, "datasetId": "urn:ds:1",
                       "observedAt": "2020-08-01T12:00:00Z"}]}
    assert client.post(T, json=body).status_code == 201
    r = client.get(f"{T}/{EID}", params={"options": "temporalValues", "attrs": "note"})
    assert r.json()["note"]["jsons"] == [[{"json": {"a": 1}}, "2020-08-01T12:00:00Z"]]
    assert [i["value"] for i in history(client, datasetId="urn:ds:1")] == [2]
    assert [i["value"] for i in history(client, datasetId="@none")] == [1]


def test_temporal_update_corrects_instances_observed_at_the_same_time(client: TestClient) -> None:
    def speed(*points: tuple[int, int]) -> dict[str, Any]:
        return {"id": EID, "type": "Vehicle", "speed": [
            {"type": "Property", "value": v, "observedAt": f"2020-09-01T12:0{m}:00Z"}
            for v, m in points]}

    assert client.post(T, json=speed((120, 3), (80, 5))).status_code == 201
    assert client.post(T, json=speed((121, 3), (80, 5), (100, 7))).status_code == 204
    got = client.get(f"{T}/{EID}").json()["speed"]
    assert [(i["value"], i["observedAt"][11:16]) for i in got] == [
        (121, "12:03"), (80, "12:05"), (100, "12:07")]


@pytest.mark.parametrize("path", ["attrs//urn:ngsi-ld:attribute:instance:1", "attrs/%2E%2E",
                                  "attrs/%2E"])
def test_attribute_names_that_are_paths_are_refused(client: TestClient, path: str) -> None:
    assert client.post(T, json=temporal_vehicle()).status_code == 201
    r = client.delete(f"{T}/{EID}/{path}")
    assert r.status_code == 400, r.text
    assert len(history(client)) == 3  # nothing deleted
