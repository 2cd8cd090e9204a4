"""Consents over HTTP: an organisation asks, the resident approves, reads are released and
tracked, the resident withdraws and the next read gets nothing; records are signed."""

from __future__ import annotations

import time

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from access.secured import Platform
from cityos.personal.receipts import verify
from cityos.personal.service import personal_of

SIGHTING = {"id": "urn:ngsi-ld:BeaconSighting:s1", "type": "BeaconSighting",
            "rssi": {"type": "Property", "value": -61},
            "refResident": {"type": "Relationship", "object": ""}}


def _resident_id(platform: Platform) -> str:
    me = platform.client.get("/auth/v1/me", headers=platform.auth("resident")).json()
    return str(me["id"])


def _log(platform: Platform) -> list[dict]:
    """The resident's access log, once the tracker had time to write (it flushes at once
    when asked, so the test needs no sleep)."""
    app = platform.client.app
    assert platform.client.portal is not None
    platform.client.portal.call(personal_of(app).tracker.flush)
    r = platform.client.get("/personal/v1/me/access-log", headers=platform.auth("resident"))
    assert r.status_code == 200, r.text
    return list(r.json()["entries"])


def _query(platform: Platform, org: str) -> httpx.Response:
    return platform.client.get("/ngsi-ld/v1/entities", params={"type": "BeaconSighting"},
                               headers=platform.auth(org))


def test_request_approve_read_withdraw(platform: Platform) -> None:
    client, res = platform.client, _resident_id(platform)
    sighting = {**SIGHTING, "refResident": {"type": "Relationship",
                                            "object": f"urn:ngsi-ld:Resident:{res}"}}
    r = client.post("/ngsi-ld/v1/entities", json=sighting, headers=platform.auth("Writer"))
    assert r.status_code == 201, r.text
    assert _query(platform, "Reader").json() == []  # no consent: nothing personal
    # the reading organisation asks; bad requests are refused clearly
    ask = {"resident": res, "category": "location", "purpose": "ServiceProvision",
           "notice": "見守りのため / for watch-over", "service": "見守り"}
    assert client.post("/personal/v1/consents", json={**ask, "category": "Bad Cat"},
                       headers=platform.auth("Reader")).status_code == 400
    assert client.post("/personal/v1/consents", json={**ask, "resident": "res_nobody"},
                       headers=platform.auth("Reader")).status_code == 404
    r = client.post("/personal/v1/consents", json=ask, headers=platform.auth("Reader"))
    assert r.status_code == 201, r.text
    consent = r.json()
    assert consent["state"] == "REQUESTED" and consent["purpose"] == "dpv:ServiceProvision"
    assert client.post("/personal/v1/consents", json=ask,
                       headers=platform.auth("Reader")).status_code == 409
    assert _query(platform, "Reader").json() == []  # asked is not approved
    mine = client.get("/personal/v1/me/consents", headers=platform.auth("resident")).json()
    assert [c["id"] for c in mine] == [consent["id"]]
    url = f"/personal/v1/me/consents/{consent['id']}"
    assert client.patch(url, json={"state": "MAYBE"},
                        headers=platform.auth("resident")).status_code == 400
    r = client.patch(url, json={"state": "APPROVED"}, headers=platform.auth("resident"))
    assert r.status_code == 200 and r.json()["state"] == "APPROVED", r.text
    released = _query(platform, "Reader").json()
    assert [e["id"] for e in released] == [SIGHTING["id"]]
    assert _query(platform, "Nobody").status_code == 403  # no read grant at all
    got = client.get(f"/ngsi-ld/v1/entities/{SIGHTING['id']}", headers=platform.auth("Reader"))
    assert got.status_code == 200
    log = _log(platform)
    assert len(log) == 2 and [e["via"] for e in log] == ["retrieve", "query"]  # newest first
    page = client.get("/personal/v1/me/access-log", params={"limit": 1, "offset": 1},
                      headers=platform.auth("resident")).json()
    assert [e["via"] for e in page["entries"]] == ["query"] and page["next"] == 2
    assert client.get("/personal/v1/me/access-log", params={"limit": 0},
                      headers=platform.auth("resident")).status_code == 400
    assert log[0]["entity"] == SIGHTING["id"] and log[0]["category"] == "location"
    assert "rssi" in log[0]["attrs"] and log[0]["service"] == "Reader"
    # withdrawal: the very next read gets nothing, and nothing more is logged
    r = client.patch(url, json={"state": "WITHDRAWN"}, headers=platform.auth("resident"))
    assert r.json()["state"] == "WITHDRAWN"
    assert _query(platform, "Reader").json() == []
    assert client.get(f"/ngsi-ld/v1/entities/{SIGHTING['id']}",
                      headers=platform.auth("Reader")).status_code == 404
    assert len(_log(platform)) == 2
    assert client.patch(url, json={"state": "DECLINED"},
                        headers=platform.auth("resident")).status_code == 409
    # every change is a signed TS 27560 record, linked to the one before, in the trust log
    records = client.get(f"{url}/records", headers=platform.auth("resident")).json()
    assert [r["state"] for r in records] == ["REQUESTED", "APPROVED", "WITHDRAWN"]
    assert [r["consent_status"] for r in records] == \
        ["dpv:ConsentRequested", "dpv:ConsentGiven", "dpv:ConsentWithdrawn"]
    assert records[0]["schema_version"] == "ISO/IEC TS 27560:2023"
    assert all(isinstance(r["leafIndex"], int) for r in records)
    key = client.app.state.trust.log.key.public_key()  # type: ignore[attr-defined]
    assert isinstance(key, Ed25519PublicKey) and all(verify(r, key) for r in records)
    forged = {**records[1], "state": "DECLINED"}
    assert not verify(forged, key)
    # another resident's consent is not mine to decide; staff see the resident's side
    assert client.patch(url, json={"state": "APPROVED"},
                        headers=platform.auth("admin")).status_code == 400
    staff = client.get(f"/personal/v1/residents/{res}", headers=platform.auth("operator"))
    assert staff.status_code == 200 and staff.json()["consents"][0]["state"] == "WITHDRAWN"


def test_expiry_ends_the_release(platform: Platform) -> None:
    client, res = platform.client, _resident_id(platform)
    sighting = {**SIGHTING, "refResident": {"type": "Property", "value": res}}  # a plain id
    assert client.post("/ngsi-ld/v1/entities", json=sighting,
                       headers=platform.auth("Writer")).status_code == 201
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    consent = client.post("/personal/v1/consents", headers=platform.auth("Reader"), json={
        "resident": res, "category": "location", "purpose": "ServiceProvision",
        "until": until}).json()
    client.patch(f"/personal/v1/me/consents/{consent['id']}", json={"state": "APPROVED"},
                 headers=platform.auth("resident"))
    assert len(_query(platform, "Reader").json()) == 1
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _query(platform, "Reader").json():
        time.sleep(0.2)
    assert _query(platform, "Reader").json() == []  # the grant ended on time, in SQL
    mine = client.get("/personal/v1/me/consents", headers=platform.auth("resident")).json()
    assert mine[0]["state"] == "EXPIRED"  # shown at once; the sweep records it
    assert platform.client.portal is not None
    assert platform.client.portal.call(personal_of(client.app).consents.expire) == 1
    records = client.get(f"/personal/v1/me/consents/{consent['id']}/records",
                         headers=platform.auth("resident")).json()
    assert [r["consent_status"] for r in records][-1] == "dpv:ConsentExpired"
    assert records[-1]["event"]["event_by"] == "system"
    assert client.patch(f"/personal/v1/me/consents/{consent['id']}", json={
        "state": "APPROVED"}, headers=platform.auth("resident")).status_code == 409


def test_catalog_is_read_by_all_and_changed_by_staff(platform: Platform) -> None:
    client = platform.client
    r = client.get("/personal/v1/catalog", headers=platform.auth("resident"))
    assert r.status_code == 200
    assert "location" in r.json()["categories"]
    body = {"classification": "personal", "category": "energy", "subject_attr": "owner"}
    assert client.put("/personal/v1/catalog/MeterReading", json=body,
                      headers=platform.auth("Reader")).status_code == 403
    assert client.put("/personal/v1/catalog/MeterReading", json={"classification": "x"},
                      headers=platform.auth("operator")).status_code == 400
    r = client.put("/personal/v1/catalog/MeterReading", json=body,
                   headers=platform.auth("operator"))
    assert r.status_code == 200 and r.json()["categoryLabel"].startswith("エネルギー")
    types = [e["type"] for e in client.get("/personal/v1/catalog",
                                           headers=platform.auth("Reader")).json()["entries"]]
    assert "MeterReading" in types
    assert client.delete("/personal/v1/catalog/MeterReading",
                         headers=platform.auth("operator")).status_code == 204
    assert client.delete("/personal/v1/catalog/MeterReading",
                         headers=platform.auth("operator")).status_code == 404


def test_a_catalog_change_reclassifies_stored_rows(platform: Platform) -> None:
    client, res = platform.client, _resident_id(platform)
    reading = {"id": "urn:ngsi-ld:MeterReading:m1", "type": "MeterReading",
               "kwh": {"type": "Property", "value": 3.2},
               "owner": {"type": "Property", "value": res}}
    assert client.post("/ngsi-ld/v1/entities", json=reading,
                       headers=platform.auth("Writer")).status_code == 201

    def seen() -> list[str]:
        r = client.get("/ngsi-ld/v1/entities", params={"type": "MeterReading"},
                       headers=platform.auth("Reader"))
        return [e["id"] for e in r.json()]

    assert seen() == ["urn:ngsi-ld:MeterReading:m1"]  # not in the catalog: not personal
    r = client.put("/personal/v1/catalog/MeterReading", headers=platform.auth("operator"),
                   json={"classification": "personal", "category": "energy",
                         "subject_attr": "owner"})
    assert r.status_code == 200 and r.json()["reclassified"] == 1
    assert seen() == []  # personal from the next read on
    mine = client.get("/personal/v1/me/data", headers=platform.auth("resident")).json()
    assert [(e["id"], e["category"]) for e in mine] == [("urn:ngsi-ld:MeterReading:m1",
                                                         "energy")]
    assert client.delete("/personal/v1/catalog/MeterReading",
                         headers=platform.auth("operator")).status_code == 204
    assert seen() == ["urn:ngsi-ld:MeterReading:m1"]
