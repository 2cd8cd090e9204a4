"""Personal data through /v2 passes the same consent filter as NGSI-LD (issue 6): released to
its subject, its writer and organisations with a grant, and to nobody else."""

from __future__ import annotations

from access.secured import Platform


def _ids(p: Platform, who: str) -> list[str]:
    got = p.client.get("/v2/entities?type=HealthCheckup", headers=p.auth(who))
    assert got.status_code == 200, got.text
    return [e["id"] for e in got.json()]


def test_personal_entities_over_v2_follow_consent(platform: Platform) -> None:
    p = platform
    me = p.client.get("/auth/v1/me", headers=p.auth("resident")).json()
    resident = me.get("id") or me["sub"].split(":", 1)[1]
    checkup = {"id": "Checkup1", "type": "HealthCheckup",
               "refResident": {"type": "Relationship", "value": f"urn:ngsi-ld:Resident:{resident}"},
               "bloodPressure": {"value": 128}}
    made = p.client.post("/v2/entities", headers=p.auth("Writer"), json=checkup)
    assert made.status_code == 201, made.text
    assert _ids(p, "Reader") == []  # no consent: not even its existence
    assert p.client.get("/v2/entities/Checkup1", headers=p.auth("Reader")).status_code == 404
    reader_sub = "org:" + p.secrets["Reader"][0]
    p.access(lambda a: a.store.put_grant("", resident, reader_sub, "health", "", None))
    assert _ids(p, "Reader") == ["Checkup1"]
    got = p.client.get("/v2/entities/Checkup1/attrs/bloodPressure/value", headers=p.auth("Reader"))
    assert got.json() == 128
    p.access(lambda a: a.store.drop_grant("", resident, reader_sub, "health", ""))
    assert _ids(p, "Reader") == []  # withdrawal holds on the very next request
    # what an organisation may not read it may not change either
    sneak = p.client.patch("/v2/entities/Checkup1/attrs", headers=p.auth("Writer"),
                           json={"bloodPressure": {"value": 90}})
    assert sneak.status_code == 204  # the writer owns it
    other = p.client.post("/v2/op/update", headers=p.auth("Writer"), json={
        "actionType": "append", "entities": [{"id": "Checkup1", "x": {"value": 1}}]})
    assert other.status_code == 204
    stranger = p.client.patch("/v2/entities/Checkup1/attrs", headers=p.auth("ShelterCo"),
                              json={"bloodPressure": {"value": 1}})
    assert stranger.status_code == 404  # no grant on the type, let alone consent: not there
    staff = p.client.patch("/v2/entities/Checkup1/attrs", headers=p.auth("operator"),
                           json={"bloodPressure": {"value": 1}})
    assert staff.status_code == 404  # staff read no personal rows, so cannot change them
    upsert = p.client.post("/v2/entities?options=upsert", headers=p.auth("operator"),
                           json={"id": "Checkup1", "type": "HealthCheckup",
                                 "bloodPressure": {"value": 1}})
    assert upsert.status_code == 422  # not an update of what it cannot see
