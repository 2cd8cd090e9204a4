"""A security review's findings on a real `cityos serve` (attack_town): a refused write must
leave no write record in the transparency log (F2), and a family representative sees only the
data categories of the mandate on every /personal/v1/me route (F4)."""

from __future__ import annotations

import json
import time

import attack_town
from attack_town import V1, Town, entity

attack_template, town = attack_town.attack_template, attack_town.town  # the fixtures


def _writers(town: Town, entity_id: str) -> set[str]:
    admin = town.get("admin", f"/trust/v1/evidence/{entity_id}")
    assert admin.status_code == 200, admin.text
    return {json.loads(x["leaf"]).get("org") for x in admin.json()["records"]}


def test_a_refused_write_leaves_no_write_record(town: Town) -> None:
    alpha = entity("Alpha", "f2-oracle", note="v1")
    assert town.post("A", f"{V1}/entities", json=alpha).status_code == 201
    for step in range(2):
        r = town.post("B", f"{V1}/entityOperations/upsert",
                      json=[{"id": alpha["id"], "type": "Beta"}])
        assert r.status_code == 207 and r.json()["success"] == [], r.text
        if step == 0:
            assert town.patch("A", f"{V1}/entities/{alpha['id']}/attrs", json={
                "note": {"type": "Property", "value": "v2"}}).status_code == 204
        time.sleep(0.5)
    time.sleep(1)
    bundle = town.get("B", f"/trust/v1/evidence/{alpha['id']}")
    assert bundle.status_code == 404, bundle.text
    assert _writers(town, alpha["id"]) == {"company-A"}
    missing = "urn:ngsi-ld:Alpha:f2-never-written"
    r = town.post("B", f"{V1}/entityOperations/upsert", json=[{"id": missing, "type": "Alpha"}])
    assert r.status_code == 207 and r.json()["success"] == [], r.text
    assert town.get("admin", f"/trust/v1/evidence/{missing}").status_code == 404


def test_a_partly_refused_batch_records_only_what_it_wrote(town: Town) -> None:
    alpha = entity("Alpha", "f2-partly", note="v1")
    assert town.post("A", f"{V1}/entities", json=alpha).status_code == 201
    beta = entity("Beta", "f2-partly", note="b")
    r = town.post("B", f"{V1}/entityOperations/upsert",
                  json=[beta, {"id": alpha["id"], "type": "Beta"}])
    assert r.status_code == 207 and r.json()["success"] == [beta["id"]], r.text
    assert _writers(town, alpha["id"]) == {"company-A"}
    own = town.get("B", f"/trust/v1/evidence/{beta['id']}")
    assert own.status_code == 200, own.text
    [record] = [json.loads(x["leaf"]) for x in own.json()["records"]]
    assert record["entities"] == [beta["id"]] and record["status"] == 207, record


def test_no_evidence_of_personal_data_the_company_may_not_read(town: Town) -> None:
    """A writes a HealthCheckup about taro, who gave B no consent: B may not read it, so it
    gets no bundle (no state digests of it) either, whatever it tried to write; a write-only
    company keeps the evidence of its own writes to what it may not read (C writes every
    type, reads Gamma)."""
    taro = town.residents["taro"]
    hc = entity("HealthCheckup", "f2-no-consent", refResident=f"urn:ngsi-ld:Resident:{taro}",
                bp="120/80")
    assert town.post("A", f"{V1}/entities", json=hc).status_code == 201
    assert town.get("B", f"{V1}/entities/{hc['id']}").status_code == 404
    town.post("B", f"{V1}/entities/{hc['id']}/attrs", json={"bp": {"type": "Property",
                                                                  "value": "1/1"}})
    time.sleep(0.5)
    assert town.get("B", f"/trust/v1/evidence/{hc['id']}").status_code == 404
    alpha = entity("Alpha", "f2-c-wrote", note="c")
    assert town.post("C", f"{V1}/entities", json=alpha).status_code == 201
    assert town.get("C", f"{V1}/entities/{alpha['id']}").status_code == 404
    own = town.get("C", f"/trust/v1/evidence/{alpha['id']}")
    assert own.status_code == 200, own.text
    assert {json.loads(x["leaf"])["org"] for x in own.json()["records"]} == {"company-C"}
    assert town.get("hanako", f"/trust/v1/evidence/{alpha['id']}").status_code in (403, 404)


def test_a_representative_sees_only_the_categories_of_the_mandate(town: Town) -> None:
    hanako, taro = town.residents["hanako"], town.residents["taro"]
    r = town.post("hanako", "/personal/v1/me/representatives", json={
        "representative": taro, "categories": ["location"], "actions": ["view", "consents"]})
    assert r.status_code == 201, r.text
    consent = town.consent("hanako", "B", "health")
    located = town.consent("hanako", "B", "location")
    hc = entity("HealthCheckup", "f4", refResident=f"urn:ngsi-ld:Resident:{hanako}",
                bp="170/100")
    assert town.post("B", f"{V1}/entities", json=hc).status_code == 201
    assert town.get("B", f"{V1}/entities/{hc['id']}").status_code == 200
    obo = {"Cityos-On-Behalf-Of": hanako}
    time.sleep(1)
    own = town.get("hanako", "/personal/v1/me/access-log")
    assert any(e["category"] == "health" for e in own.json()["entries"]), own.text
    log = town.get("taro", "/personal/v1/me/access-log", headers=obo)
    assert log.status_code == 200 and '"health"' not in log.text, log.text
    consents = town.get("taro", "/personal/v1/me/consents", headers=obo)
    assert consents.status_code == 200, consents.text
    assert {c["id"] for c in consents.json()} == {located}, consents.text
    records = town.get("taro", f"/personal/v1/me/consents/{consent}/records", headers=obo)
    assert records.status_code in (403, 404), records.text
    assert town.get("taro", f"/personal/v1/me/consents/{located}/records",
                    headers=obo).status_code == 200
    withdraw = town.patch("taro", f"/personal/v1/me/consents/{consent}", headers=obo,
                          json={"state": "WITHDRAWN"})
    assert withdraw.status_code in (403, 404), withdraw.text
    data = town.get("taro", "/personal/v1/me/data", headers=obo)
    assert data.status_code == 200 and '"health"' not in data.text, data.text
    for path in ("/personal/v1/me/export", "/personal/v1/me/links",
                 "/personal/v1/me/representatives", "/personal/v1/me"):
        assert town.get("taro", path, headers=obo).status_code == 403, path
