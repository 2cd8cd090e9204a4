"""Consent enforced on the NGSI-LD read paths, end to end over HTTP (issue 6): a company's
query, retrieval, batch and temporal queries and its subscription get a resident's data only
while the resident's consent is APPROVED; the access log shows the releases before, none after.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from access.secured import CORPORATE, Platform, platform, prepared  # noqa: F401 - fixtures
from cityos.access.service import Access, org_principal
from cityos.personal.service import personal_of
from ngsi.notify.conftest import Receiver

BASE = "/ngsi-ld/v1"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.down()


def add_org(platform: Platform, name: str) -> str:  # noqa: F811
    """An organisation that reads and writes every type (and so may subscribe): its sub."""

    async def make(access: Access) -> tuple[str, str]:
        org, _ = await access.book.add_org(name, CORPORATE, read=["*"], write=["*"])
        principal = org_principal(org)
        return principal.sub, await access.issue(principal)

    sub, platform.tokens[name] = platform.access(make)
    return sub


def _resident(platform: Platform) -> str:  # noqa: F811
    return str(platform.client.get("/auth/v1/me", headers=platform.auth("resident")).json()["id"])


def sighting(num: int, res: str, rssi: int = -60) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:BeaconSighting:e2e-{num}", "type": "BeaconSighting",
            "rssi": {"type": "Property", "value": rssi},
            "refResident": {"type": "Relationship", "object": f"urn:ngsi-ld:Resident:{res}"}}


def marker(num: int) -> dict[str, Any]:  # non-personal: always delivered, in order
    return {"id": f"urn:ngsi-ld:Marker:{num}", "type": "Marker",
            "n": {"type": "Property", "value": num}}


def reads(platform: Platform, org: str, entity_id: str) -> dict[str, Any]:  # noqa: F811
    """What each read path gives `org` of the personal entity."""
    c, auth = platform.client, platform.auth(org)
    query = c.get(f"{BASE}/entities", params={"type": "BeaconSighting"}, headers=auth)
    batch = c.post(f"{BASE}/entityOperations/query", headers=auth,
                   json={"type": "Query", "entities": [{"type": "BeaconSighting"}]})
    temporal = c.get(f"{BASE}/temporal/entities", params={"type": "BeaconSighting"},
                     headers=auth)
    for r in (query, batch, temporal):
        assert r.status_code == 200, r.text
    return {
        "retrieve": c.get(f"{BASE}/entities/{entity_id}", headers=auth).status_code,
        "temporal-retrieve": c.get(f"{BASE}/temporal/entities/{entity_id}",
                                   headers=auth).status_code,
        "query": [e["id"] for e in query.json()],
        "batch": [e["id"] for e in batch.json()],
        "temporal": [e["id"] for e in temporal.json()],
    }


def access_log(platform: Platform) -> list[dict[str, Any]]:  # noqa: F811
    assert platform.client.portal is not None
    platform.client.portal.call(personal_of(platform.client.app).tracker.flush)
    r = platform.client.get("/personal/v1/me/access-log", headers=platform.auth("resident"))
    assert r.status_code == 200, r.text
    return list(r.json()["entries"])


def test_withdrawal_stops_the_next_read_and_the_subscription(
        platform: Platform, receiver: Receiver) -> None:  # noqa: F811
    c, res = platform.client, _resident(platform)
    add_org(platform, "Care")
    add_org(platform, "Maker")
    eid = "urn:ngsi-ld:BeaconSighting:e2e-1"
    sub = {"type": "Subscription", "entities": [{"type": "BeaconSighting"}, {"type": "Marker"}],
           "notification": {"endpoint": {"uri": receiver.url}}}
    r = c.post(f"{BASE}/subscriptions", json=sub, headers=platform.auth("Care"))
    assert r.status_code == 201, r.text
    shown = c.get(r.headers["location"], headers=platform.auth("Care")).json()
    assert "cityos:owner" not in shown  # kept, never shown
    assert c.post(f"{BASE}/entities", json=sighting(1, res),
                  headers=platform.auth("Maker")).status_code == 201
    assert c.post(f"{BASE}/entities", json=marker(1),
                  headers=platform.auth("Maker")).status_code == 201
    assert receiver.wait_for(lambda: "urn:ngsi-ld:Marker:1" in ids(receiver))
    assert eid not in ids(receiver)  # no consent: the marker came, the sighting did not

    nothing = {"retrieve": 404, "temporal-retrieve": 404, "query": [], "batch": [],
               "temporal": []}
    assert reads(platform, "Care", eid) == nothing
    everything = {"retrieve": 200, "temporal-retrieve": 200, "query": [eid], "batch": [eid],
                  "temporal": [eid]}
    assert reads(platform, "Maker", eid) == everything  # the organisation that wrote it
    assert c.get(f"{BASE}/entities/{eid}", headers=platform.auth("admin")).status_code == 404
    assert access_log(platform) == [] or all(
        e.get("recipient") != "Care" for e in access_log(platform))

    # the resident approves the company's request: every path releases it
    consent = c.post("/personal/v1/consents", headers=platform.auth("Care"), json={
        "resident": res, "category": "location", "purpose": "ServiceProvision"}).json()
    r = c.patch(f"/personal/v1/me/consents/{consent['id']}", json={"state": "APPROVED"},
                headers=platform.auth("resident"))
    assert r.status_code == 200, r.text
    assert reads(platform, "Care", eid) == everything
    assert reads(platform, "Reader", eid) == nothing  # other companies still see nothing
    # a purpose the consent does not name gets nothing
    other = c.get(f"{BASE}/entities/{eid}", headers={**platform.auth("Care"),
                                                     "Cityos-Purpose": "Marketing"})
    assert other.status_code == 404
    assert c.patch(f"{BASE}/entities/{eid}/attrs", json={"rssi": {"type": "Property",
                                                                  "value": -50}},
                   headers=platform.auth("Maker")).status_code == 204
    assert c.post(f"{BASE}/entities", json=marker(2),
                  headers=platform.auth("Maker")).status_code == 201
    assert receiver.wait_for(lambda: "urn:ngsi-ld:Marker:2" in ids(receiver))
    assert eid in ids(receiver)  # the subscription receives it while consented
    released = len(access_log(platform))
    assert released > 0

    # withdrawn: the very next request and the next notification get nothing
    r = c.patch(f"/personal/v1/me/consents/{consent['id']}", json={"state": "WITHDRAWN"},
                headers=platform.auth("resident"))
    assert r.status_code == 200, r.text
    assert reads(platform, "Care", eid) == nothing
    before = len([e for e in receiver.entities() if e["id"] == eid])
    assert c.patch(f"{BASE}/entities/{eid}/attrs", json={"rssi": {"type": "Property",
                                                                  "value": -40}},
                   headers=platform.auth("Maker")).status_code == 204
    assert c.post(f"{BASE}/entities", json=marker(3),
                  headers=platform.auth("Maker")).status_code == 201
    assert receiver.wait_for(lambda: "urn:ngsi-ld:Marker:3" in ids(receiver))
    assert len([e for e in receiver.entities() if e["id"] == eid]) == before
    assert len(access_log(platform)) == released  # no release after the withdrawal


def ids(receiver: Receiver) -> list[str]:
    return [e["id"] for e in receiver.entities()]


def test_open_ngsi_and_staff_see_no_personal_rows(platform: Platform) -> None:  # noqa: F811
    c, res = platform.client, _resident(platform)
    assert c.post(f"{BASE}/entities", json=sighting(2, res),
                  headers=platform.auth("Writer")).status_code == 201
    for who in ("admin", "operator", "viewer"):
        r = c.get(f"{BASE}/entities", params={"type": "BeaconSighting"},
                  headers=platform.auth(who))
        assert r.status_code in (200, 403), r.text
        if r.status_code == 200:
            assert r.json() == []


class Source:
    """A context source on loopback: answers every entity query with `entities`."""

    def __init__(self, entities: list[dict[str, Any]]) -> None:
        body = json.dumps(entities).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_forwarded_answers_pass_the_same_filter(platform: Platform) -> None:  # noqa: F811
    """A context source answering with a resident's personal entity: released only as if it
    were stored here (consent), the source's non-personal entity to everyone."""
    c, res = platform.client, _resident(platform)
    add_org(platform, "Care")
    source = Source([sighting(9, res), marker(9)])
    try:
        reg = {"type": "ContextSourceRegistration", "endpoint": source.url,
               "information": [{"entities": [{"type": "BeaconSighting"}, {"type": "Marker"}]}]}
        r = c.post(f"{BASE}/csourceRegistrations", json=reg, headers=platform.auth("Care"))
        assert r.status_code == 201, r.text
        # a company's source serves only its own requests until a staff admin approves it
        assert c.get(f"{BASE}/entities", params={"type": "BeaconSighting,Marker"},
                     headers=platform.auth("Reader")).json() == []
        approved = c.put(f"{r.headers['location']}/approval", headers=platform.auth("admin"))
        assert approved.status_code in (200, 204), approved.text

        def found(org: str) -> set[str]:
            r = c.get(f"{BASE}/entities", params={"type": "BeaconSighting,Marker"},
                      headers=platform.auth(org))
            assert r.status_code == 200, r.text
            return {e["id"] for e in r.json()}

        def retrieved(org: str) -> int:
            return c.get(f"{BASE}/entities/urn:ngsi-ld:BeaconSighting:e2e-9",
                         headers=platform.auth(org)).status_code

        assert found("Care") == found("Reader") == {"urn:ngsi-ld:Marker:9"}
        assert retrieved("Care") == 404
        consent = c.post("/personal/v1/consents", headers=platform.auth("Care"), json={
            "resident": res, "category": "location", "purpose": "ServiceProvision"}).json()
        assert c.patch(f"/personal/v1/me/consents/{consent['id']}", json={"state": "APPROVED"},
                       headers=platform.auth("resident")).status_code == 200
        assert found("Care") == {"urn:ngsi-ld:Marker:9", "urn:ngsi-ld:BeaconSighting:e2e-9"}
        assert retrieved("Care") == 200
        assert found("Reader") == {"urn:ngsi-ld:Marker:9"}
    finally:
        source.close()
