"""Purging by query deletes the personal rows the caller may see, and only those: the company
that wrote a resident's data purges it; another company's purge of the same type leaves it."""

from __future__ import annotations

from access.secured import Platform, platform, prepared  # noqa: F401 - fixtures
from ngsi.test_consent_enforcement import BASE, _resident, add_org, marker, sighting


def test_purge_reaches_the_personal_rows_the_caller_sees(platform: Platform) -> None:  # noqa: F811
    p = platform
    add_org(p, "writer")
    add_org(p, "other")
    res = _resident(p)
    for entity in (sighting(1, res), sighting(2, res), marker(1)):
        made = p.client.post(f"{BASE}/entities", json=entity, headers=p.auth("writer"))
        assert made.status_code == 201, made.text

    def left() -> list[str]:
        got = p.client.get(f"{BASE}/entities", params={"type": "BeaconSighting,Marker"},
                           headers=p.auth("writer"))
        return sorted(e["id"] for e in got.json())

    assert left() == ["urn:ngsi-ld:BeaconSighting:e2e-1", "urn:ngsi-ld:BeaconSighting:e2e-2",
                      "urn:ngsi-ld:Marker:1"]
    # another company cannot see the resident's rows, so its purge cannot delete them
    other = p.client.delete(f"{BASE}/entities", params={"type": "BeaconSighting"},
                            headers=p.auth("other"))
    assert other.status_code == 204, other.text
    assert len(left()) == 3
    mine = p.client.delete(f"{BASE}/entities", params={"type": "BeaconSighting"},
                           headers=p.auth("writer"))
    assert mine.status_code == 204, mine.text
    assert left() == ["urn:ngsi-ld:Marker:1"]
