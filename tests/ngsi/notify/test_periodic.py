"""timeInterval (periodic) subscriptions and throttling (§5.8.6)."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from typing import Any

from starlette.testclient import TestClient

V1 = "/ngsi-ld/v1"


def _subscribe(client: TestClient, uri: str, **extra: Any) -> None:
    sub = {"type": "Subscription", "entities": [{"type": "Shelter"}],
           "notification": {"endpoint": {"uri": uri}, "format": "keyValues"}, **extra}
    r = client.post(f"{V1}/subscriptions", json=sub)
    assert r.status_code == 201, r.text


def _occupancy(client: TestClient, n: int, value: int) -> None:
    r = client.post(f"{V1}/entityOperations/upsert", json=[
        {"id": f"urn:ngsi-ld:Shelter:{n}", "type": "Shelter",
         "occupancy": {"type": "Property", "value": value}}])
    assert r.status_code in (201, 204), r.text


def _at(notification: dict[str, Any]) -> float:
    return datetime.fromisoformat(notification["notifiedAt"].replace("Z", "+00:00")).timestamp()


def test_time_interval_sends_every_selected_entity_without_changes(client: TestClient,
                                                                   receiver: Any) -> None:
    _occupancy(client, 1, 10)
    _occupancy(client, 2, 20)
    client.post(f"{V1}/entities", json={"id": "urn:ngsi-ld:School:1", "type": "School"})
    _subscribe(client, receiver.url, timeInterval=1)
    assert receiver.wait_for(lambda: len(receiver.got) >= 2)
    for notification in receiver.got[:2]:
        assert sorted(e["id"] for e in notification["data"]) == [
            "urn:ngsi-ld:Shelter:1", "urn:ngsi-ld:Shelter:2"]
    assert _at(receiver.got[1]) - _at(receiver.got[0]) >= 0.99


def test_throttling_spaces_notifications_and_keeps_the_latest(client: TestClient,
                                                             receiver: Any) -> None:
    _subscribe(client, receiver.url, throttling=1)
    for value in range(6):
        _occupancy(client, 1, value)
    assert receiver.wait_for(lambda: any(e["occupancy"] == 5 for e in receiver.entities()))
    times = [_at(n) for n in receiver.got]
    assert all(b - a >= 0.99 for a, b in pairwise(times))
