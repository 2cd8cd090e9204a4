"""Writes through Toyono to what its neighbour Nose holds (§4.3.6, §5.6.x.4): redirected,
exclusive and inclusive registrations, partial failures reported with the source's id, and
loops cut with 508. Two real brokers, issue 4."""

from __future__ import annotations

from typing import Any

import httpx

V1 = "/ngsi-ld/v1"
BUS = "urn:ngsi-ld:Bus:toyono-1"


def bus(eid: str = BUS, **attrs: Any) -> dict[str, Any]:
    return {"id": eid, "type": "Bus", **{k: {"type": "Property", "value": v}
                                         for k, v in attrs.items()}}


def register(on: str, endpoint: str, n: str, mode: str, **info: Any) -> None:
    reg = {"id": f"urn:ngsi-ld:ContextSourceRegistration:{n}", "type": "ContextSourceRegistration",
           "information": [{"entities": [{"type": "Bus"}], **info}], "endpoint": endpoint,
           "mode": mode, "operations": ["redirectionOps"], "management": {"timeout": 1000}}
    r = httpx.post(f"{on}{V1}/csourceRegistrations", json=reg)
    assert r.status_code == 201, r.text


def local(base: str, eid: str = BUS) -> dict[str, Any] | None:
    r = httpx.get(f"{base}{V1}/entities/{eid}", params={"local": "true"})
    return r.json() if r.status_code == 200 else None


def test_redirect_exclusive_and_inclusive_writes(serve: Any) -> None:
    toyono, nose = serve("--open-ngsi"), serve("--open-ngsi")
    t, n = toyono.url, nose.url
    # redirect: the whole bus lives at Nose; Toyono keeps nothing of it
    register(t, n, "redirect", "redirect")
    made = httpx.post(f"{t}{V1}/entities", json=bus(speed=40, seats=20))
    assert made.status_code == 201, made.text
    assert local(t) is None and local(n)["speed"]["value"] == 40
    assert httpx.patch(f"{t}{V1}/entities/{BUS}/attrs", json={
        "speed": {"type": "Property", "value": 45}}).status_code == 204
    assert local(n)["speed"]["value"] == 45
    assert httpx.delete(f"{t}{V1}/entities/{BUS}").status_code == 204
    assert local(n) is None
    httpx.delete(f"{t}{V1}/csourceRegistrations/urn:ngsi-ld:ContextSourceRegistration:redirect")
    # exclusive on `speed`: speed goes to Nose, the rest stays at Toyono
    register(t, n, "exclusive", "exclusive", propertyNames=["speed"])
    assert httpx.post(f"{t}{V1}/entities", json=bus(speed=30, seats=20)).status_code == 201
    here, there = local(t), local(n)
    assert "seats" in here and "speed" not in here
    assert "speed" in there and "seats" not in there
    # and a retrieval through Toyono shows the bus whole again
    whole = httpx.get(f"{t}{V1}/entities/{BUS}").json()
    assert whole["speed"]["value"] == 30 and whole["seats"]["value"] == 20


def test_a_dead_source_is_reported_with_its_registration(
        serve: Any) -> None:
    toyono, nose = serve("--open-ngsi"), serve("--open-ngsi")
    t, n = toyono.url, nose.url
    register(t, n, "inclusive", "inclusive")
    assert httpx.post(f"{t}{V1}/entities", json=bus(speed=10)).status_code == 201
    assert local(t) is not None and local(n) is not None  # both hold it
    nose.stop()
    r = httpx.patch(f"{t}{V1}/entities/{BUS}/attrs", json={
        "speed": {"type": "Property", "value": 11}}, timeout=30)
    assert r.status_code == 207, r.text
    errors = r.json()["errors"]
    assert [e["registrationId"] for e in errors] == [
        "urn:ngsi-ld:ContextSourceRegistration:inclusive"]
    assert local(t)["speed"]["value"] == 11  # the local part was written all the same


def test_two_brokers_redirecting_to_each_other_stop_with_508(serve: Any) -> None:
    toyono, nose = serve("--open-ngsi"), serve("--open-ngsi")
    t, n = toyono.url, nose.url
    register(t, n, "to-nose", "redirect")
    register(n, t, "to-toyono", "redirect")
    r = httpx.post(f"{t}{V1}/entities", json=bus(speed=1), timeout=30)
    assert r.status_code == 508, r.text  # Nose sent it back; Toyono saw itself in Via
    assert r.json()["title"] == "LoopDetected"
    assert local(t) is None and local(n) is None
