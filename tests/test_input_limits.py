"""Bad input on every declared operation (issue #18 item 11), in-process over a real SQLite
file (or PostgreSQL: `client`'s engines): a body nested hundreds of levels deep and numbers past
64 bits are answered with a 4xx that says so, never a 5xx. The lists of operations come from
the app's declared operations, so a new route is covered by construction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from cityos.access.gate import create_admin_token
from cityos.app import all_operations, create_app
from cityos.operations import Operation
from cityos.settings import load_settings
from conftest import engine_environ

OPERATIONS = all_operations()
JSON_BODIES = [op for op in OPERATIONS if op.body is not None
               and any("json" in t for t in op.body_types)]
NUMERIC = {"offset", "limit", "lastN", "joinLevel", "after", "first", "second", "leafIndex",
           "treeSize"}
HUGE = ("99999999999999999999", "9223372036854775808", "9" * 5000, "-9223372036854775809")
NUMBER_PARAMS = [(op, p.name) for op in OPERATIONS for p in op.params if p.where == "query"
                 and (p.schema.get("type") in ("integer", "number") or p.name in NUMERIC)
                 and p.name != "count"]


def _id(op: Operation) -> str:
    return f"{op.method} {op.path}"


def _path(op: Operation) -> str:
    return re.sub(r"\{[^}]+\}", "urn:ngsi-ld:Limits:x", op.path)


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"1" + b"]" * levels


def deep_body(op: Operation, levels: int) -> bytes:
    """A body of the operation's shape (an array for batches) holding a value `levels` deep."""
    one = orjson.dumps({"id": "urn:ngsi-ld:Limits:deep", "type": "Limits",
                        "name": "deep", "deep": {"type": "Property", "value": "@@"}})
    one = one.replace(b'"@@"', _deep(levels))
    return b"[" + one + b"]" if (op.body or {}).get("type") == "array" else one


@pytest.fixture(scope="module")
def admin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    data_dir: Path = tmp_path_factory.mktemp("limits") / "var"
    settings = load_settings(data_dir, environ=engine_environ(), open_ngsi=True,
                             max_body_bytes=1 << 20)
    token = create_admin_token(data_dir)
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c, {"Authorization": f"Bearer {token}"}


def test_the_lists_cover_the_declared_operations() -> None:
    assert len(JSON_BODIES) > 60
    assert {"offset", "limit", "lastN"} <= {name for _, name in NUMBER_PARAMS}


@pytest.mark.parametrize("op", JSON_BODIES, ids=_id)
def test_a_deep_body_is_refused_on_every_operation(
        admin: tuple[TestClient, dict[str, str]], op: Operation) -> None:
    client, auth = admin
    media = next(t for t in op.body_types if "json" in t)
    body = deep_body(op, 300)
    if media == "application/ld+json":
        body = body.replace(b'{"id"', b'{"@context":"https://uri.etsi.org/ngsi-ld/v1/'
                                      b'ngsi-ld-core-context-v1.8.jsonld","id"', 1)
    r = client.request(op.method, _path(op), content=body,
                       headers={**auth, "Content-Type": media})
    assert r.status_code < 500, (r.status_code, r.text[:300])
    assert "Traceback" not in r.text
    if r.status_code == 207:  # a batch: the deep item is its error, nothing was written
        assert r.json()["success"] == [] and "nested too deeply" in r.text
    elif r.status_code < 300:  # only where a body that is not JSON at all is ignored too
        garbage = client.request(op.method, _path(op), content=b"{not json",
                                 headers={**auth, "Content-Type": media})
        assert garbage.status_code == r.status_code, (r.status_code, r.text[:300])
    else:
        assert 400 <= r.status_code < 500


@pytest.mark.parametrize(("op", "name"), NUMBER_PARAMS, ids=lambda v: v if isinstance(v, str)
                         else _id(v))
def test_a_huge_number_in_a_parameter_is_a_400(
        admin: tuple[TestClient, dict[str, str]], op: Operation, name: str) -> None:
    client, auth = admin
    # the other parameters it needs, valid, so that only `name` is wrong
    base = {p.name: "1" for p in op.params if p.where == "query" and p.name != name
            and (p.required or p.name in NUMERIC)}
    if any(p.name == "type" for p in op.params):
        base["type"] = "Limits"
    fine = client.request(op.method, _path(op), params={**base, name: "1"}, headers=auth)
    for huge in HUGE:
        r = client.request(op.method, _path(op), params={**base, name: huge}, headers=auth)
        assert 400 <= r.status_code < 500, (huge[:30], r.status_code, r.text[:300])
        if fine.status_code < 300:  # the same request with name=1 is answered: huge is refused
            assert r.status_code == 400, (huge[:30], r.text[:300])
            assert name in r.text


U64 = (b'{"id": "urn:ngsi-ld:Limits:u64", "type": "Limits", "n": {"type": "Property", '
       b'"value": 18446744073709551615, "observedAt": "2026-01-01T00:00:00Z"}, '
       b'"m": {"type": "Property", "value": {"x": [9223372036854775808]}}}')


def test_integers_past_int64_are_kept_and_compared(client: TestClient) -> None:
    """JSON allows any integer; SQLite and PostgreSQL hold 64 bits: values past them are kept
    as sent and filters compare with them (and with numbers past them) without a 5xx."""
    v1 = "/ngsi-ld/v1"
    made = client.post(f"{v1}/entities", content=U64,
                       headers={"Content-Type": "application/json"})
    assert made.status_code == 201, made.text
    got = client.get(f"{v1}/entities/urn:ngsi-ld:Limits:u64", params={"options": "keyValues"})
    assert got.status_code == 200 and b"18446744073709551615" in got.content
    for q, found in (("n==18446744073709551615", 1), ("n>9223372036854775807", 1),
                     ("n==99999999999999999999999", 0), ("n<-99999999999999999999999", 0),
                     ("n==1..18446744073709551615", 1), ("m.x==9223372036854775808", None)):
        r = client.get(f"{v1}/entities", params={"type": "Limits", "q": q})
        assert r.status_code == 200, (q, r.text)
        if found is not None:
            assert len(r.json()) == found, (q, r.text)
    temporal = client.get(f"{v1}/temporal/entities/urn:ngsi-ld:Limits:u64", params={
        "options": "aggregatedValues", "aggrMethods": "sum,avg,min,max,stddev,sumsq"})
    assert temporal.status_code == 200, temporal.text
