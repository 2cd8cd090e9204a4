"""Nothing personal in clear in the transparency log (issue #19, part 2): a company seals a
write of a resident's health checkup; the write record keeps the payload's digest and the
payload sealed under the resident's key. A staff viewer (404 on the entity) reads neither the
evidence's nor the leaf's payload; the writer, who may read the entity, gets it beside the
leaf and the seal verifies; the database files never hold it; after the resident's erasure
nobody gets it and the bundle still verifies (digests and proofs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric import ec

from access.secured import Platform
from cityos.personal.service import personal_of
from cityos.trust.evidence import verify_bundle
from cityos.trust.seal import HEADER, canonical_json, make_seal
from conftest import sqlite_only

from .platforms import certificate_for, checkpoint

DIAGNOSIS = "Zq7-DISTINCTIVE-DIAGNOSIS-type2-diabetes"
ENTITY = "urn:ngsi-ld:HealthCheckup:hanako-sealed"


def _write_sealed_checkup(platform: Platform) -> dict[str, Any]:
    client = platform.client
    # the writer may read what it writes (type grants apply to one's own rows too)
    platform.access(lambda a: a.book.grant("Writer", read=["HealthCheckup"]))
    res = client.get("/auth/v1/me", headers=platform.auth("resident")).json()["id"]
    checkup = {"id": ENTITY, "type": "HealthCheckup",
               "diagnosis": {"type": "Property", "value": DIAGNOSIS},
               "refResident": {"type": "Relationship", "object": f"urn:ngsi-ld:Resident:{res}"}}
    key = ec.generate_private_key(ec.SECP256R1())
    cert, _ = certificate_for(platform, "Writer", key)
    r = client.post("/ngsi-ld/v1/entities", content=orjson.dumps(checkup), headers={
        **platform.auth("Writer"), "Content-Type": "application/json",
        HEADER: make_seal(canonical_json(checkup), key, cert)})
    assert r.status_code == 201, r.text
    checkpoint(platform)
    return {"resident": res, "payload": canonical_json(checkup).decode()}


def _evidence(platform: Platform, who: str) -> dict[str, Any]:
    r = platform.client.get(f"/trust/v1/evidence/{ENTITY}", headers=platform.auth(who))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_a_staff_viewer_reads_no_personal_payload_in_the_log(platform: Platform) -> None:
    written = _write_sealed_checkup(platform)
    client = platform.client
    assert client.get(f"/ngsi-ld/v1/entities/{ENTITY}",
                      headers=platform.auth("viewer")).status_code == 404
    bundle = _evidence(platform, "viewer")
    assert DIAGNOSIS not in orjson.dumps(bundle).decode()
    [item] = bundle["records"]
    leaf = orjson.loads(item["leaf"])
    assert "payload" not in leaf and "payload" not in item
    assert leaf["seal"] and len(leaf["payloadDigest"]) == 64 and leaf["sealedPayload"]
    assert verify_bundle(bundle) == []  # digests and proofs hold; the seal is not opened
    r = client.get(f"/trust/v1/log/leaves/{item['leafIndex']}", headers=platform.auth("admin"))
    assert r.status_code == 200 and DIAGNOSIS not in r.text and "payload" not in r.json()
    # the writer may read the entity: the payload comes beside the leaf, the seal verifies
    mine = _evidence(platform, "Writer")
    assert mine["records"][0]["payload"] == written["payload"]
    assert verify_bundle(mine) == []
    forged = orjson.loads(orjson.dumps(mine))
    forged["records"][0]["payload"] = written["payload"].replace("diabetes", "healthy!")
    assert [p.code for p in verify_bundle(forged)] == ["PAYLOAD_MODIFIED"]


@sqlite_only("reads the SQLite files' raw bytes (database and WAL) for plaintext")
def test_the_payload_is_in_no_database_file_and_gone_after_erasure(platform: Platform) -> None:
    written = _write_sealed_checkup(platform)
    assert platform.client.portal is not None
    platform.client.portal.call(personal_of(platform.client.app).tracker.flush)
    data: Path = platform.settings.data_dir
    files = {p.name: p.read_bytes() for p in data.glob("cityos.db*")}
    assert "cityos.db-wal" in files or "cityos.db" in files
    assert not [name for name, raw in files.items() if DIAGNOSIS.encode() in raw]
    r = platform.client.post(f"/personal/v1/residents/{written['resident']}/erasure",
                             json={"confirm": "ERASE"}, headers=platform.auth("admin"))
    assert r.status_code == 200, r.text
    after = _evidence(platform, "Writer")  # the writer's records stay, the values are gone
    assert DIAGNOSIS not in orjson.dumps(after).decode()
    assert "payload" not in after["records"][0]
    assert verify_bundle(after) == []
