"""Family representatives (家族代理) and linked company IDs over HTTP."""

from __future__ import annotations

from starlette.requests import Request

from access.secured import Platform
from cityos.access.tokens import Principal
from cityos.audit.trail import PRINCIPAL
from cityos.personal.reader import reader_for
from cityos.storage.base import Reader


def _reader(platform: Platform, resident: str, on_behalf: str | None) -> Reader:
    """The Reader the NGSI read paths get for this resident's request."""
    headers = [] if on_behalf is None else [(b"cityos-on-behalf-of", on_behalf.encode())]
    return reader_for(Request({"type": "http", "headers": headers, "app": platform.client.app,
                               PRINCIPAL: Principal(sub=f"resident:{resident}", tenant="",
                                                    roles=("resident",))}))


def _signup(platform: Platform, login: str) -> tuple[str, dict[str, str]]:
    r = platform.client.post("/auth/residents", data={"login": login,
                                                      "password": "a-long-enough-password"})
    assert r.status_code == 201, r.text
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return platform.client.get("/auth/v1/me", headers=auth).json()["id"], auth


def test_representative_acts_within_the_mandate(platform: Platform) -> None:
    client = platform.client
    grandma = client.get("/auth/v1/me", headers=platform.auth("resident")).json()["id"]
    son, son_auth = _signup(platform, "taro.son")
    stranger, stranger_auth = _signup(platform, "stranger")
    for n, kind in enumerate(("BeaconSighting",
                             "HealthCheckup")):
        entity = {"id": f"urn:ngsi-ld:{kind}:g{n}", "type": kind,
                  "note": {"type": "Property", "value": "x"},
                  "refResident": {"type": "Relationship",
                                  "object": f"urn:ngsi-ld:Resident:{grandma}"}}
        assert client.post("/ngsi-ld/v1/entities", json=entity,
                           headers=platform.auth("Writer")).status_code == 201
    consent = client.post("/personal/v1/consents", headers=platform.auth("Reader"), json={
        "resident": grandma, "category": "location", "purpose": "ServiceProvision"}).json()
    on_behalf = {**son_auth, "Cityos-On-Behalf-Of": grandma}
    # no mandate yet: the son can neither see nor decide
    assert client.get("/personal/v1/me/consents", headers=on_behalf).status_code == 403
    assert _reader(platform, son, grandma) == Reader()  # nothing personal
    bad = client.post("/personal/v1/me/representatives", headers=platform.auth("resident"),
                      json={"representative": "taro.son", "actions": ["drive"]})
    assert bad.status_code == 400
    r = client.post("/personal/v1/me/representatives", headers=platform.auth("resident"),
                    json={"representative": "taro.son", "categories": ["location"],
                          "actions": ["view", "consents"], "until": "2099-01-01T00:00:00Z"})
    assert r.status_code == 201, r.text
    # within the mandate: her location data and her consents; not her health data
    assert _reader(platform, son, grandma) == Reader(residents=(grandma,),
                                                     categories=("location",))
    assert _reader(platform, son, None) == Reader(residents=(son,))  # as himself
    seen = client.get("/personal/v1/me/data", headers=on_behalf).json()
    assert [(e["id"], e["category"]) for e in seen] == [("urn:ngsi-ld:BeaconSighting:g0",
                                                         "location")]
    assert seen[0]["attrs"]["note"] == "x"
    own = client.get("/personal/v1/me/data", headers=platform.auth("resident")).json()
    assert sorted(e["category"] for e in own) == ["health", "location"]
    assert _reader(platform, stranger, grandma) == Reader()
    r = client.patch(f"/personal/v1/me/consents/{consent['id']}", json={"state": "APPROVED"},
                     headers=on_behalf)
    assert r.status_code == 200 and r.json()["state"] == "APPROVED"
    records = client.get(f"/personal/v1/me/consents/{consent['id']}/records",
                         headers=platform.auth("resident")).json()
    assert records[-1]["event"]["event_by_role"] == "representative"
    assert records[-1]["event"]["event_by"] == f"resident:{son}"
    # a stranger has no mandate; export and erasure are never done on someone's behalf
    assert client.patch(f"/personal/v1/me/consents/{consent['id']}", json={
        "state": "WITHDRAWN"}, headers={**stranger_auth, "Cityos-On-Behalf-Of": grandma}
    ).status_code == 403
    assert client.get("/personal/v1/me/export", headers=on_behalf).status_code == 403
    assert client.post("/personal/v1/me/erasure", headers=on_behalf,
                       json={"confirm": "ERASE"}).status_code == 403
    both = client.get("/personal/v1/me/representatives", headers=son_auth).json()
    assert [m["subject"] for m in both["iActFor"]] == [grandma]
    # the resident (or staff) ends the mandate: effective at once
    assert client.delete(f"/personal/v1/me/representatives/{son}",
                         headers=platform.auth("resident")).status_code == 204
    assert client.get("/personal/v1/me/consents", headers=on_behalf).status_code == 403
    r = client.post(f"/personal/v1/residents/{grandma}/representatives",
                    headers=platform.auth("operator"),
                    json={"representative": son, "actions": ["view"]})
    assert r.status_code == 201 and r.json()["by"] == "staff:operator"
    assert client.get("/personal/v1/me/consents", headers=on_behalf).status_code == 200
    assert client.patch(f"/personal/v1/me/consents/{consent['id']}", json={
        "state": "WITHDRAWN"}, headers=on_behalf).status_code == 403  # view only
    assert stranger


def test_company_ids_name_the_resident(platform: Platform) -> None:
    client = platform.client
    res = client.get("/auth/v1/me", headers=platform.auth("resident")).json()["id"]
    r = client.post("/personal/v1/me/links/companies", headers=platform.auth("resident"),
                    json={"org": "Reader", "customerId": "C-00042"})
    assert r.status_code == 201, r.text
    assert client.post("/personal/v1/me/links/companies", headers=platform.auth("resident"),
                       json={"org": "No Such Co", "customerId": "1"}).status_code == 404
    assert client.post("/personal/v1/me/links/companies", headers=platform.auth("resident"),
                       json={"org": "Reader", "customerId": "bad id!"}).status_code == 400
    links = client.get("/personal/v1/me/links", headers=platform.auth("resident")).json()
    assert links["companies"][0]["customerId"] == "C-00042"
    # the organisation asks by the number it knows; another organisation cannot use it
    r = client.post("/personal/v1/consents", headers=platform.auth("Reader"), json={
        "customerId": "C-00042", "category": "purchase", "purpose": "ServiceProvision"})
    assert r.status_code == 201 and r.json()["subject"] == res
    assert client.post("/personal/v1/consents", headers=platform.auth("ShelterCo"), json={
        "customerId": "C-00042", "category": "purchase", "purpose": "ServiceProvision"}
    ).status_code in (403, 404)
    mine = client.get("/personal/v1/consents", headers=platform.auth("Reader")).json()
    assert [c["subject"] for c in mine] == [res]
    client_id = links["companies"][0]["clientId"]
    assert client.delete("/personal/v1/me/links/companies", params={
        "clientId": client_id, "customerId": "C-00042"},
        headers=platform.auth("resident")).status_code == 204
    assert client.post("/personal/v1/consents", headers=platform.auth("Reader"), json={
        "customerId": "C-00042", "category": "location", "purpose": "ServiceProvision"}
    ).status_code == 404
