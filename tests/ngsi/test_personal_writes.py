"""A resident's data is changed through NGSI-LD only by the company that wrote it: a read
consent gives another company no right to rewrite or delete it, and staff (who read no
personal rows there) neither (403, nothing changed), on every write path."""

from __future__ import annotations

from access.secured import Platform, platform, prepared  # noqa: F401 - fixtures
from ngsi.test_consent_enforcement import BASE, _resident, add_org, marker, sighting

ID = "urn:ngsi-ld:BeaconSighting:e2e-1"


def test_only_the_writer_changes_a_residents_data(platform: Platform) -> None:  # noqa: F811
    p = platform
    add_org(p, "writer")
    add_org(p, "other")
    res = _resident(p)
    for entity in (sighting(1, res), marker(1)):
        assert p.client.post(f"{BASE}/entities", json=entity,
                             headers=p.auth("writer")).status_code == 201
    c, other = p.client, p.auth("other")

    def rssi() -> int:
        got = c.get(f"{BASE}/entities/{ID}", headers=p.auth("writer"))
        assert got.status_code == 200, got.text
        return int(got.json()["rssi"]["value"])

    refused = [
        c.patch(f"{BASE}/entities/{ID}/attrs", json={"rssi": {"type": "Property", "value": 0}},
                headers=other),
        c.patch(f"{BASE}/entities/{ID}/attrs/rssi", json={"value": 0}, headers=other),
        c.delete(f"{BASE}/entities/{ID}/attrs/rssi", headers=other),
        c.delete(f"{BASE}/entities/{ID}", headers=other),
    ]
    for r in refused:
        assert r.status_code == 403, r.text
        assert r.json()["type"].endswith("/Forbidden")
    batch = c.post(f"{BASE}/entityOperations/upsert", json=[
        {**sighting(1, res), "rssi": {"type": "Property", "value": 0}}, marker(2)],
        headers=other)
    assert batch.status_code == 207, batch.text
    assert batch.json()["success"] == ["urn:ngsi-ld:Marker:2"]
    assert [e["error"]["status"] for e in batch.json()["errors"]] == [403]
    gone = c.post(f"{BASE}/entityOperations/delete", json=[ID], headers=other)
    assert gone.status_code == 207 and gone.json()["errors"][0]["error"]["status"] == 403
    assert rssi() == -60  # nothing changed
    # non-personal data stays open to any company with a write grant
    assert c.patch(f"{BASE}/entities/urn:ngsi-ld:Marker:1/attrs/n", json={"value": 5},
                   headers=other).status_code == 204
    staff = c.patch(f"{BASE}/entities/{ID}/attrs/rssi", json={"value": -75},
                    headers=p.auth("admin"))
    assert staff.status_code == 403, staff.text
    # the writer may
    assert c.patch(f"{BASE}/entities/{ID}/attrs/rssi", json={"value": -70},
                   headers=p.auth("writer")).status_code == 204
    assert rssi() == -70
    assert c.delete(f"{BASE}/entities/{ID}", headers=p.auth("writer")).status_code == 204
