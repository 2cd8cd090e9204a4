"""Issue #18 items 10 and 11 against a real `cityos serve`: the audit trail records the status
the client got, and bad input — values nested hundreds of levels deep, numbers past 64 bits —
is a clear 400 (never a 500), with nothing written and the good items of a batch written."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from attack_town import V1, Town, attack_template, entity, personal, town  # noqa: F401

from cityos.audit.trail import LOG
from conftest import database_url, stored_log

TOO_DEEP = "nested too deeply"
DEEP = "@@deep:"  # a string that `send` replaces by arrays nested that deep


def deep(levels: int) -> str:
    """A marker for a value nested `levels` arrays deep (JSON encoders recurse: it is spliced
    into the encoded body instead)."""
    return f"{DEEP}{levels}"


def send(at: Town, method: str, who: str, path: str, body: Any) -> Any:
    raw = orjson.dumps(body)
    while (pos := raw.find(b'"' + DEEP.encode())) >= 0:
        end = raw.index(b'"', pos + 1)
        levels = int(raw[pos + 1 + len(DEEP):end])
        raw = raw[:pos] + b"[" * levels + b"1" + b"]" * levels + raw[end + 1:]
    return at.request(method, who, path, content=raw,
                        headers={"Content-Type": "application/json"})


def audited(at: Town, who: str, path: str, wait: float = 10.0) -> list[dict[str, Any]]:
    """The audit records of `who`'s requests to `path` (the trail is written every 0.25 s)."""
    assert at.data_dir is not None
    sub = at.clients.get(who) or f"staff:{who}"  # a company, else a member of staff
    deadline = time.monotonic() + wait
    while True:
        found = [r for r in stored_log(database_url(at.data_dir), LOG)
                 if r["path"] == path and r["who"] == sub]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def assert_bad_request(response: Any, words: str) -> None:
    assert response.status_code == 400, response.text
    problem = response.json()
    text = problem.get("detail") or problem.get("description") or ""
    assert words in text, problem
    assert "Traceback" not in response.text


# item 10: the trail says what the client was told


def test_a_refused_write_to_anothers_personal_entity_is_audited_as_the_403_it_was(
        town: Town) -> None:  # noqa: F811
    town.consent("hanako", "B", "location")
    sighting = personal("BeaconSighting", "audit-403", town.residents["hanako"], rssi=-60)
    assert town.post("B", f"{V1}/entities", json=sighting).status_code == 201, "B writes it"
    path = f"{V1}/entities/{sighting['id']}/attrs"
    refused = town.patch("A", path, json={"rssi": {"type": "Property", "value": -1}})
    assert refused.status_code == 403, refused.text  # A writes every type, but not hers
    records = audited(town, "A", path)
    assert [(r["op"], r["status"]) for r in records] == [("update_attrs", 403)]


def test_every_refusal_is_audited_with_the_status_sent(town: Town) -> None:  # noqa: F811
    """A 400 (bad body), a 404 and a 403 of the gate, each as its client saw it."""
    answers = {}
    for who, path, body in (
            ("A", f"{V1}/entities/urn:ngsi-ld:Alpha:audit-none/attrs", {"x": 1}),  # no entity
            ("viewer", f"{V1}/entities/urn:ngsi-ld:Alpha:audit-viewer/attrs",
             {"x": {"type": "Property", "value": 1}}),  # a viewer may not write
            ("C", f"{V1}/entities/urn:ngsi-ld:Alpha:audit-deep/attrs",
             {"x": {"type": "Property", "value": deep(300)}})):
        answers[(who, path)] = send(town, "PATCH", who, path, body).status_code
    for (who, path), status in answers.items():
        assert status < 500
        assert [r["status"] for r in audited(town, who, path)] == [status], (who, path)


# item 11: deep values


@pytest.mark.parametrize("levels", [65, 300, 1000])
def test_a_deep_value_in_an_entity_is_a_400_and_nothing_is_written(town: Town,  # noqa: F811
                                                                   levels: int) -> None:
    body = entity("Alpha", f"deep-{levels}", load=deep(levels))
    r = send(town, "POST", "A", f"{V1}/entities", body)
    assert_bad_request(r, TOO_DEEP)
    assert "入れ子が深すぎます" in r.json()["detail"]
    assert town.get("A", f"{V1}/entities/{body['id']}").status_code == 404


def test_64_levels_are_still_written(town: Town) -> None:  # noqa: F811
    body = entity("Alpha", "deep-ok", load=deep(60))  # entity, attribute, then 60 arrays
    assert send(town, "POST", "A", f"{V1}/entities", body).status_code == 201


def test_a_batch_writes_the_good_items_and_names_the_deep_one(town: Town) -> None:  # noqa: F811
    good1, good2 = entity("Alpha", "batch-good-1", n=1), entity("Alpha", "batch-good-2", n=2)
    bad = entity("Alpha", "batch-deep", n=deep(300))
    r = send(town, "POST", "A", f"{V1}/entityOperations/create", [good1, bad, good2])
    assert r.status_code == 207, r.text
    body = r.json()
    assert sorted(body["success"]) == [good1["id"], good2["id"]]
    [error] = body["errors"]
    assert error["entityId"] == bad["id"] and error["error"]["status"] == 400
    assert TOO_DEEP in error["error"]["detail"]
    assert town.get("A", f"{V1}/entities/{good2['id']}").status_code == 200
    assert town.get("A", f"{V1}/entities/{bad['id']}").status_code == 404


@pytest.mark.parametrize(("method", "path", "body"), [
    ("post", f"{V1}/temporal/entities",
     {"id": "urn:ngsi-ld:Alpha:temporal-deep", "type": "Alpha",
      "n": [{"type": "Property", "value": deep(300), "observedAt": "2026-01-01T00:00:00Z"}]}),
    ("post", f"{V1}/subscriptions",
     {"type": "Subscription", "entities": [{"type": "Alpha"}], "description": "deep",
      "notification": {"endpoint": {"uri": "http://127.0.0.1:9/n"}}, "x": deep(300)}),
    ("post", "/v2/entities", {"id": "v2-deep", "type": "Alpha", "n": {"value": deep(300)}}),
    ("patch", f"{V1}/entities/urn:ngsi-ld:Alpha:deep-ok/attrs",
     {"load": {"type": "Property", "value": deep(300)}}),
])
def test_a_deep_body_is_a_400_on_every_kind_of_write(town: Town, method: str, path: str,  # noqa: F811
                                                    body: Any) -> None:
    r = send(town, method.upper(), "A", path, body)
    assert_bad_request(r, TOO_DEEP)


# item 11: numbers past what the store holds


@pytest.mark.parametrize("query", [
    "type=Alpha&offset=9223372036854775808",
    "type=Alpha&limit=99999999999999999999",
    "type=Alpha&offset=" + "9" * 5000,
])
def test_a_huge_page_parameter_is_a_400(town: Town, query: str) -> None:  # noqa: F811
    r = town.get("A", f"{V1}/entities?{query}")
    assert r.status_code == 400, r.text
    assert "Traceback" not in r.text


@pytest.mark.parametrize(("query", "words"), [
    ("lastN=99999999999999999999", "lastN"),
    ("options=aggregatedValues&aggrMethods=sum&aggrPeriodDuration=P99999999999999Y",
     "aggrPeriodDuration"),
    ("timerel=after&timeAt=9999-12-31T23:59:59-05:00", "timeAt"),
])
def test_a_huge_temporal_parameter_is_a_400(town: Town, query: str, words: str) -> None:  # noqa: F811
    made = town.post("A", f"{V1}/temporal/entities", json={
        "id": "urn:ngsi-ld:Alpha:temporal-numbers", "type": "Alpha",
        "n": [{"type": "Property", "value": 1, "observedAt": "2026-01-01T00:00:00Z"}]})
    assert made.status_code in (201, 204), made.text
    r = town.get("admin", f"{V1}/temporal/entities/urn:ngsi-ld:Alpha:temporal-numbers?{query}")
    assert_bad_request(r, words)


def test_a_huge_v2_offset_is_a_400(town: Town) -> None:  # noqa: F811
    r = town.get("admin", "/v2/entities?offset=" + "9" * 5000)
    assert r.status_code == 400, r.text


def test_integers_past_64_bits_in_values_and_filters_are_answered(town: Town) -> None:  # noqa: F811
    raw = (b'{"id": "urn:ngsi-ld:Alpha:u64", "type": "Alpha", "n": {"type": "Property", '
           b'"value": 18446744073709551615}}')
    made = town.post("A", f"{V1}/entities", content=raw,
                     headers={"Content-Type": "application/json"})
    assert made.status_code == 201, made.text
    for q in ("n==18446744073709551615", "n>9223372036854775807",
              "n==99999999999999999999999", "n<-99999999999999999999999"):
        r = town.get("A", f"{V1}/entities", params={"type": "Alpha", "q": q})
        assert r.status_code == 200, (q, r.text)
