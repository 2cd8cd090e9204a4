"""NGSI v2 subscriptions: created through /v2, delivered by the one notifier in v2's format."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from access.secured import Platform
from ngsi.notify.conftest import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.down()


def test_subscribe_notify_in_v2_format_update_and_delete(platform: Platform,
                                                         receiver: Receiver) -> None:
    p = platform
    op = {**p.auth("operator"), "Fiware-ServicePath": "/"}
    sub = {"description": "暑い部屋 / hot rooms",
           "subject": {"entities": [{"idPattern": "Room.*", "type": "Room"}],
                       "condition": {"attrs": ["temperature"],
                                     "expression": {"q": "temperature>30"}}},
           "notification": {"http": {"url": receiver.url}, "attrs": ["temperature"],
                            "attrsFormat": "keyValues"},
           "throttling": 0}
    made = p.client.post("/v2/subscriptions", headers=op, json=sub)
    assert made.status_code == 201, made.text
    sub_id = made.headers["location"].rsplit("/", 1)[1]
    assert len(sub_id) == 24
    cool = {"id": "Room1", "type": "Room", "temperature": {"value": 20},
            "pressure": {"value": 700}}
    assert p.client.post("/v2/entities", headers=op, json=cool).status_code == 201
    hot = p.client.patch("/v2/entities/Room1/attrs", headers=op,
                         json={"temperature": {"value": 35}})
    assert hot.status_code == 204
    assert receiver.wait_for(lambda: len(receiver.got) >= 1)
    note = receiver.got[0]
    assert note == {"subscriptionId": sub_id,
                    "data": [{"id": "Room1", "type": "Room", "temperature": 35}]}
    assert receiver.headers[0]["Ngsiv2-AttrsFormat"] == "keyValues"
    shown = p.client.get(f"/v2/subscriptions/{sub_id}", headers=op).json()
    assert shown["id"] == sub_id and shown["status"] == "active"
    assert shown["subject"]["condition"]["attrs"] == ["temperature"]
    assert p.client.get(f"/v2/subscriptions/{sub_id}", headers=op).status_code == 200
    listed = p.client.get("/v2/subscriptions", headers=op).json()
    assert [s["id"] for s in listed] == [sub_id]
    paused = p.client.patch(f"/v2/subscriptions/{sub_id}", headers=op,
                            json={"status": "inactive"})
    assert paused.status_code == 204
    assert p.client.get(f"/v2/subscriptions/{sub_id}", headers=op).json()["status"] == \
        "inactive"
    assert p.client.delete(f"/v2/subscriptions/{sub_id}", headers=op).status_code == 204
    assert p.client.get(f"/v2/subscriptions/{sub_id}", headers=op).status_code == 404


def test_id_pattern_searches_the_id_as_orion_does(platform: Platform,
                                                 receiver: Receiver) -> None:
    """`idPattern` is searched in the id, not matched whole: "Room" selects Room7, as
    GET /v2/entities?idPattern=Room finds it; "^Room$" selects only the id Room."""
    p = platform
    op = {**p.auth("operator"), "Fiware-ServicePath": "/"}
    subs = {}
    for pattern in ("Room", "^Room$"):
        sub = {"subject": {"entities": [{"idPattern": pattern, "type": "Room"}]},
               "notification": {"http": {"url": receiver.url}, "attrsFormat": "keyValues"},
               "throttling": 0}
        made = p.client.post("/v2/subscriptions", headers=op, json=sub)
        assert made.status_code == 201, made.text
        subs[pattern] = made.headers["location"].rsplit("/", 1)[1]
    for room in ("Room7", "Room"):
        made = p.client.post("/v2/entities", headers=op,
                             json={"id": room, "type": "Room", "temperature": {"value": 21}})
        assert made.status_code == 201, made.text
    found = p.client.get("/v2/entities", params={"idPattern": "Room"}, headers=op).json()
    assert sorted(e["id"] for e in found) == ["Room", "Room7"]

    def ids_for(pattern: str) -> list[str]:
        return sorted(e["id"] for n in list(receiver.got) if n["subscriptionId"] == subs[pattern]
                      for e in n["data"])

    assert receiver.wait_for(lambda: ids_for("Room") == ["Room", "Room7"]), receiver.got
    assert receiver.wait_for(lambda: ids_for("^Room$") == ["Room"]), receiver.got
    bad = {"subject": {"entities": [{"idPattern": "Room(", "type": "Room"}]},
           "notification": {"http": {"url": receiver.url}}}
    refused = p.client.post("/v2/subscriptions", headers=op, json=bad)
    assert refused.status_code == 400, refused.text


def test_bad_subscriptions_are_refused(platform: Platform) -> None:
    p = platform
    op = p.auth("operator")
    for body in ({}, {"subject": {"entities": []}, "notification": {"http": {"url": "x"}}},
                 {"subject": {"entities": [{"type": "Room"}]},
                  "notification": {"http": {"url": "http://127.0.0.1:9/n"}}},
                 {"subject": {"entities": [{"id": "R", "type": "Room"}]},
                  "notification": {"http": {"url": "ftp://x/y"}}},
                 {"subject": {"entities": [{"id": "R"}]},
                  "notification": {"http": {"url": "http://127.0.0.1:9/n"}},
                  "expires": "not a date"}):
        got = p.client.post("/v2/subscriptions", headers=op, json=body)
        assert got.status_code == 400, (body, got.text)
        assert got.json()["error"] == "BadRequest"
    assert p.client.get("/v2/subscriptions/nothex", headers=op).status_code == 400
