"""Long histories are cut along the time axis (206 + Content-Range), POST temporal query,
pick/omit on temporal representations. ETSI GS CIM 009 v1.8 §6.3.10, §5.7.4, §4.21."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cityos.app import create_app
from cityos.settings import load_settings

V1 = "/ngsi-ld/v1"
T = f"{V1}/temporal/entities"
A = "urn:ngsi-ld:Vehicle:A"
B = "urn:ngsi-ld:Vehicle:B"


@pytest.fixture
def small(tmp_path: Path) -> Iterator[TestClient]:
    """A broker that answers at most 30 instances per temporal response."""
    settings = load_settings(tmp_path / "var", environ={"CITYOS_NGSI_TEMPORAL_MAX_INSTANCES": "30"},
                             open_ngsi=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def at(minute: int, day: int = 1) -> str:
    return f"2020-01-{day:02d}T{minute // 60:02d}:{minute % 60:02d}:00Z"


def temporal_entity(eid: str, n: int, day: int = 1) -> dict[str, Any]:
    return {"id": eid, "type": "Vehicle",
            "speed": [{"type": "Property", "value": i, "observedAt": at(i, day)} for i in range(n)],
            "fuel": [{"type": "Property", "value": 100 - i, "observedAt": at(i, day)}
                     for i in range(n)]}


def test_short_history_is_whole(small: TestClient) -> None:
    assert small.post(T, json=temporal_entity(A, 5)).status_code == 201
    r = small.get(f"{T}/{A}")
    assert r.status_code == 200 and "Content-Range" not in r.headers
    assert len(r.json()["speed"]) == 5 and len(r.json()["fuel"]) == 5


def test_long_history_is_cut_oldest_first(small: TestClient) -> None:
    assert small.post(T, json=temporal_entity(A, 20)).status_code == 201
    r = small.get(f"{T}/{A}")
    assert r.status_code == 206, r.text
    body = r.json()
    # 40 instances, 30 allowed: both attributes are cut at the same instant (minute 14)
    assert [i["value"] for i in body["speed"]] == list(range(15))
    assert [i["value"] for i in body["fuel"]] == [100 - i for i in range(15)]
    assert r.headers["Content-Range"] == f"date-time {at(0)}-{at(14)}/*"
    # the next page starts where this one ended
    r = small.get(f"{T}/{A}", params={"timerel": "after", "timeAt": at(15)})
    assert r.status_code == 200 and [i["value"] for i in r.json()["speed"]] == list(range(15, 20))


def test_last_n_cuts_newest_first(small: TestClient) -> None:
    assert small.post(T, json=temporal_entity(A, 20)).status_code == 201
    r = small.get(f"{T}/{A}", params={"lastN": 20})
    assert r.status_code == 206
    assert [i["value"] for i in r.json()["speed"]] == list(range(5, 20))
    assert r.headers["Content-Range"] == f"date-time {at(19)}-{at(5)}/20"
    r = small.get(f"{T}/{A}", params={"lastN": 20, "timerel": "before", "timeAt": at(30)})
    assert r.headers["Content-Range"] == f"date-time {at(30)}-{at(5)}/20"
    r = small.get(f"{T}/{A}", params={"lastN": 5})  # 10 instances: no cut
    assert r.status_code == 200 and [i["value"] for i in r.json()["speed"]] == list(range(15, 20))


def test_attribute_beyond_the_cut_is_listed_empty(small: TestClient) -> None:
    body = {"id": A, "type": "Vehicle",
            "speed": [{"type": "Property", "value": i, "observedAt": at(i)} for i in range(30)],
            "fuel": [{"type": "Property", "value": i, "observedAt": at(100 + i)} for i in range(30)]}
    assert small.post(T, json=body).status_code == 201
    r = small.get(f"{T}/{A}")
    assert r.status_code == 206 and len(r.json()["speed"]) == 30 and r.json()["fuel"] == []
    r = small.get(f"{T}/{A}", params={"options": "temporalValues"})
    assert r.json()["fuel"] == {"type": "Property", "values": []}


def test_query_cut_spans_entities(small: TestClient) -> None:
    for eid in (A, B):
        assert small.post(T, json=temporal_entity(eid, 10)).status_code == 201
    r = small.get(T, params={"type": "Vehicle"})
    assert r.status_code == 206  # 40 instances over two entities
    assert sum(len(e["speed"]) + len(e["fuel"]) for e in r.json()) <= 30


def test_post_query_with_temporal_q(client: TestClient) -> None:
    assert client.post(T, json=temporal_entity(A, 5, day=1)).status_code == 201
    assert client.post(T, json=temporal_entity(B, 5, day=20)).status_code == 201
    query = {"type": "Query", "entities": [{"type": "Vehicle"}], "attrs": ["speed"],
             "temporalQ": {"timerel": "before", "timeAt": "2020-01-10T00:00:00Z"}}
    r = client.post(f"{V1}/temporal/entityOperations/query", json=query)
    assert r.status_code == 200, r.text
    # B has no instance before the 10th: a temporal query does not list it
    assert [e["id"] for e in r.json()] == [A]
    assert set(r.json()[0]) == {"id", "type", "speed"}
    bad = {**query, "temporalQ": {"timerel": "whenever", "timeAt": "2020-01-10T00:00:00Z"}}
    r = client.post(f"{V1}/temporal/entityOperations/query", json=bad)
    assert r.status_code == 400 and r.json()["type"].endswith("BadRequestData")
    r = client.post(f"{V1}/temporal/entityOperations/query", json={"type": "Nope"})
    assert r.status_code == 400


def test_pick_and_omit(client: TestClient) -> None:
    assert client.post(T, json=temporal_entity(A, 3)).status_code == 201
    r = client.get(f"{T}/{A}", params={"pick": "id,speed"})
    assert r.status_code == 200 and set(r.json()) == {"id", "speed"}
    r = client.get(f"{T}/{A}", params={"omit": "fuel,type"})
    assert set(r.json()) == {"id", "speed"}
    assert client.get(f"{T}/{A}", params={"pick": "nothing"}).status_code == 404
    r = client.get(f"{T}/{A}", params={"pick": "speed", "omit": "speed"})
    assert r.status_code == 400 and r.json()["type"].endswith("BadRequestData")
    r = client.get(f"{T}/{A}", params={"pick": "speed", "attrs": "speed"})
    assert r.status_code == 400 and r.json()["type"].endswith("BadRequestData")
