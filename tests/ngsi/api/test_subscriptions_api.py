"""Subscriptions and registrations over HTTP: CRUD, PATCH semantics, an on-change notification."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from starlette.testclient import TestClient

V1 = "/ngsi-ld/v1"


class Receiver:
    """A real HTTP endpoint on loopback that keeps the notifications it gets."""

    def __init__(self) -> None:
        got: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                got.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.got = got
        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_subscription_crud_and_patch(client: TestClient) -> None:
    sub = {"id": "urn:ngsi-ld:Subscription:shelters", "type": "Subscription",
           "entities": [{"type": "Shelter"}], "watchedAttributes": ["occupancy"],
           "notification": {"endpoint": {"uri": "http://127.0.0.1:9/none"}}}
    r = client.post(f"{V1}/subscriptions", json=sub)
    assert r.status_code == 201, r.text
    assert client.post(f"{V1}/subscriptions", json=sub).status_code == 409
    url = f"{V1}/subscriptions/urn:ngsi-ld:Subscription:shelters"
    assert client.get(url).json()["watchedAttributes"] == ["occupancy"]
    assert client.patch(url, json={"q": "occupancy>100"}).status_code == 204
    assert client.get(url).json()["q"] == "occupancy>100"
    assert client.patch(url, json={"q": "urn:ngsi-ld:null"}).status_code == 204
    assert "q" not in client.get(url).json()
    assert client.patch(url, json={"id": "urn:ngsi-ld:Subscription:other"}).status_code == 400
    assert client.patch(url, json={}).status_code == 400
    assert [s["id"] for s in client.get(f"{V1}/subscriptions").json()] == [sub["id"]]
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


def test_on_change_notification_reaches_a_real_receiver(client: TestClient) -> None:
    receiver = Receiver()
    try:
        sub = {"type": "Subscription", "entities": [{"type": "Shelter"}],
               "watchedAttributes": ["occupancy"], "q": "occupancy>100",
               "notification": {"endpoint": {"uri": receiver.url}, "format": "keyValues"}}
        assert client.post(f"{V1}/subscriptions", json=sub).status_code == 201
        entity = {"id": "urn:ngsi-ld:Shelter:001", "type": "Shelter",
                  "occupancy": {"type": "Property", "value": 50}}
        assert client.post(f"{V1}/entities", json=entity).status_code == 201
        client.patch(f"{V1}/entities/urn:ngsi-ld:Shelter:001/attrs/occupancy",
                     json={"value": 150})
        deadline = time.monotonic() + 10
        while not receiver.got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.got, "no notification arrived"
        data = receiver.got[-1]["data"]
        assert data == [{"id": "urn:ngsi-ld:Shelter:001", "type": "Shelter", "occupancy": 150}]
    finally:
        receiver.close()


def test_registration_crud(client: TestClient) -> None:
    reg = {"id": "urn:ngsi-ld:ContextSourceRegistration:nose", "type": "ContextSourceRegistration",
           "information": [{"entities": [{"type": "Shelter"}]}],
           "endpoint": "http://127.0.0.1:9/nose"}
    assert client.post(f"{V1}/csourceRegistrations", json=reg).status_code == 201
    url = f"{V1}/csourceRegistrations/urn:ngsi-ld:ContextSourceRegistration:nose"
    assert client.get(url).json()["endpoint"] == "http://127.0.0.1:9/nose"
    assert client.patch(url, json={"endpoint": "http://127.0.0.1:9/nose2"}).status_code == 204
    assert client.get(url).json()["endpoint"] == "http://127.0.0.1:9/nose2"
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404


def test_subscription_validation_and_representation(client: TestClient) -> None:
    base = {"type": "Subscription", "entities": [{"type": "Shelter"}],
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/none"}}}
    bad = [
        {**base, "expiresAt": "2000-01-01T00:00:00Z"},
        {**base, "jsonldContext": "not a uri"},
        {**base, "notificationTrigger": ["entityExploded"]},
        {**base, "notification": {**base["notification"], "pick": ["id"], "omit": ["id"]}},
        {**base, "notification": {**base["notification"], "pick": ["id"],
                                  "attributes": ["occupancy"]}},
    ]
    for body in bad:
        r = client.post(f"{V1}/subscriptions", json=body)
        assert r.status_code == 400, body
    for n in range(3):
        r = client.post(f"{V1}/subscriptions", json={**base, "id": f"urn:ngsi-ld:Subscription:{n}"})
        assert r.status_code == 201, r.text
    one = client.get(f"{V1}/subscriptions/urn:ngsi-ld:Subscription:0").json()
    assert one["status"] == "active" and "isActive" not in one and "createdAt" not in one
    assert one["notificationTrigger"] == ["attributeCreated", "attributeUpdated"]
    r = client.get(f"{V1}/subscriptions", params={"limit": 1, "offset": 1})
    assert [s["id"] for s in r.json()] == ["urn:ngsi-ld:Subscription:1"]
    links = r.headers["link"]
    assert '</ngsi-ld/v1/subscriptions?limit=1&offset=0>; rel="prev"' in links
    assert '</ngsi-ld/v1/subscriptions?limit=1&offset=2>; rel="next"' in links
    url = f"{V1}/subscriptions/urn:ngsi-ld:Subscription:0"
    assert client.patch(url, json={"expiresAt": "2000-01-01T00:00:00Z"}).status_code == 400
    assert client.patch(url, json={"isActive": False}).status_code == 204
    assert client.get(url).json()["status"] == "paused"


def test_a_subscription_reads_in_the_readers_context(client: TestClient) -> None:
    sub = {"id": "urn:ngsi-ld:Subscription:ctx", "type": "Subscription",
           "entities": [{"type": "Shelter"}], "watchedAttributes": ["occupancy"],
           "notification": {"endpoint": {"uri": "http://127.0.0.1:9/none"}},
           "@context": [{"Shelter": "https://example.org/Shelter",
                         "occupancy": "https://example.org/occupancy"}]}
    r = client.post(f"{V1}/subscriptions", content=json.dumps(sub),
                    headers={"Content-Type": "application/ld+json"})
    assert r.status_code == 201, r.text
    got = client.get(f"{V1}/subscriptions/urn:ngsi-ld:Subscription:ctx").json()
    assert got["entities"] == [{"type": "https://example.org/Shelter"}]
    assert got["watchedAttributes"] == ["https://example.org/occupancy"]
