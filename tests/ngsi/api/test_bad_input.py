"""Bad input gets a clear ProblemDetails error, never a 5xx, and never a partial write."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

V1 = "/ngsi-ld/v1"
PROBLEM_TYPES = ("BadRequestData", "InvalidRequest", "UnsupportedMediaType", "PayloadTooLarge",
                 "NotAcceptable", "LengthRequired", "ResourceNotFound", "AlreadyExists",
                 "LdContextNotAvailable", "OperationNotSupported")


def assert_problem(r, status: int | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert r.status_code < 500, r.text
    if status is not None:
        assert r.status_code == status, r.text
    problem = r.json()
    assert problem["type"].rsplit("/", 1)[1] in PROBLEM_TYPES
    assert problem["title"] and problem["detail"] and problem["title"] != problem["detail"]
    assert "Traceback" not in r.text
    return problem


def count(client: TestClient) -> int:
    r = client.get(f"{V1}/entities", params={"idPattern": ".*", "limit": 0, "count": "true"})
    return int(r.headers["NGSILD-Results-Count"])


@pytest.mark.parametrize("body", [
    b"{", b"[1, 2", b'{"id": "urn:x:1", "type": "T",}', b"\xff\xfe", b"null", b"42", b'"text"',
])
def test_malformed_json(client: TestClient, body: bytes) -> None:
    r = client.post(f"{V1}/entities", content=body, headers={"Content-Type": "application/json"})
    assert_problem(r, 400)
    assert count(client) == 0


def test_wrong_media_types(client: TestClient) -> None:
    r = client.post(f"{V1}/entities", content=b'{"id":"urn:x:1","type":"T"}',
                    headers={"Content-Type": "text/plain"})
    assert_problem(r, 415)
    r = client.get(f"{V1}/entities/urn:x:1", headers={"Accept": "text/html"})
    assert_problem(r, 406)


def test_huge_payload_is_413_and_nothing_is_written(client: TestClient) -> None:
    big = {"id": "urn:x:1", "type": "T", "blob": {"type": "Property", "value": "x" * 70_000}}
    r = client.post(f"{V1}/entities", json=big)
    assert_problem(r, 413)
    assert count(client) == 0


def test_deep_nesting_is_rejected(client: TestClient) -> None:
    value = "[" * 2000 + "1" + "]" * 2000
    body = json.dumps({"id": "urn:x:1", "type": "T", "deep": {"type": "Property", "value": 1}})
    body = body[:-1] + ', "deeper": ' + value + "}"
    r = client.post(f"{V1}/entities", content=body.encode(),
                    headers={"Content-Type": "application/json"})
    assert_problem(r, 400)
    sub: dict = {"type": "Property", "value": 1}
    for _ in range(20):
        sub = {"type": "Property", "value": 1, "meta": sub}
    r = client.post(f"{V1}/entities", json={"id": "urn:x:2", "type": "T", "a": sub})
    assert_problem(r, 400)
    assert count(client) == 0


@pytest.mark.parametrize("geometry", [
    {"type": "Point", "coordinates": [200, 10]},
    {"type": "Point", "coordinates": "here"},
    {"type": "LineString", "coordinates": [[1, 2]]},
    {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1]]]},
    {"type": "Circle", "coordinates": [1, 2]},
])
def test_invalid_geometries(client: TestClient, geometry: dict) -> None:
    r = client.post(f"{V1}/entities", json={
        "id": "urn:x:1", "type": "T", "location": {"type": "GeoProperty", "value": geometry}})
    assert_problem(r, 400)
    assert count(client) == 0


@pytest.mark.parametrize("entity", [
    {"type": "T"},
    {"id": "not a uri", "type": "T"},
    {"id": "urn:x:1"},
    {"id": "urn:x:1", "type": "T", "a": {"type": "Property"}},
    {"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": None}},
    {"id": "urn:x:1", "type": "T", "r": {"type": "Relationship", "object": "no uri"}},
    {"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1, "observedAt": "now"}},
    {"id": "urn:x:1", "type": "T", "a": {"type": "Property", "value": 1, "datasetId": "x"}},
    {"id": "urn:x:1", "type": "T", "bad name": 1},
])
def test_invalid_entities(client: TestClient, entity: dict) -> None:
    assert_problem(client.post(f"{V1}/entities", json=entity), 400)
    assert count(client) == 0


@pytest.mark.parametrize("params", [
    {"type": "T", "q": "a=="},
    {"type": "T", "q": "((a==1)"},
    {"type": "T", "limit": "-1"},
    {"type": "T", "limit": "abc"},
    {"type": "T", "limit": "100000"},
    {"type": "T", "options": "bogus"},
    {"type": "T", "georel": "near", "geometry": "Point", "coordinates": "[1,2]"},
    {"type": "T", "georel": "within", "geometry": "Point"},
    {"idPattern": "([a-"},
    {"id": "not a uri", "type": "T"},
])
def test_invalid_queries(client: TestClient, params: dict) -> None:
    assert_problem(client.get(f"{V1}/entities", params=params), 400)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                    | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=20))
def test_random_bodies_never_5xx(client: TestClient, body: object) -> None:
    for path in (f"{V1}/entities", f"{V1}/entityOperations/upsert",
                 f"{V1}/entities/urn:x:1/attrs"):
        r = client.post(path, content=json.dumps(body).encode(),
                        headers={"Content-Type": "application/json"})
        assert r.status_code < 500, (path, body, r.text)
