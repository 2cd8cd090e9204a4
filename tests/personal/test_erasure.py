"""Export and erasure: everything about a resident in one JSON document; after erasure no
plaintext of their personal attributes in the database files or a backup taken before, and
the backup's sealed copy cannot be opened (the key is gone)."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

from access.secured import Platform
from cityos.personal.service import personal_of
from cityos.personal.vault import Vault
from cityos.storage import open_store
from cityos.storage.base import EVERYTHING
from conftest import sqlite_only

SECRET = "Zq9-DISTINCTIVE-ALLERGY-buckwheat"
ENTITY = "urn:ngsi-ld:HealthCheckup:hanako-2026"


def _raw_files(data_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in data_dir.glob("cityos.db*")}


@sqlite_only("reads the SQLite files' raw bytes for plaintext")
def test_export_then_erase(platform: Platform, tmp_path: Path) -> None:
    client = platform.client
    me = client.get("/auth/v1/me", headers=platform.auth("resident")).json()
    res = me["id"]
    checkup = {"id": ENTITY, "type": "HealthCheckup",
               "allergy": {"type": "Property", "value": SECRET},
               "refResident": {"type": "Relationship", "object": f"urn:ngsi-ld:Resident:{res}"}}
    assert client.post("/ngsi-ld/v1/entities", json=checkup,
                       headers=platform.auth("Writer")).status_code == 201
    r = client.patch(f"/ngsi-ld/v1/entities/{ENTITY}/attrs", headers=platform.auth("Writer"),
                     json={"allergy": {"type": "Property", "value": SECRET + "-and-wheat"}})
    assert r.status_code == 204, r.text
    consent = client.post("/personal/v1/consents", headers=platform.auth("Reader"), json={
        "resident": res, "category": "health", "purpose": "HealthcareService"}).json()
    client.patch(f"/personal/v1/me/consents/{consent['id']}", json={"state": "APPROVED"},
                 headers=platform.auth("resident"))
    assert client.get(f"/ngsi-ld/v1/entities/{ENTITY}",
                      headers=platform.auth("Reader")).status_code == 200
    # export: one JSON download with everything
    r = client.get("/personal/v1/me/export", headers=platform.auth("resident"))
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    doc = r.json()
    assert doc["account"]["id"] == res and "password" in doc["account"]
    assert SECRET in r.text and [e["id"] for e in doc["entities"]] == [ENTITY]
    assert doc["consents"][0]["state"] == "APPROVED"
    assert [c["state"] for c in doc["consents"][0]["recordsDetail"]] == ["REQUESTED", "APPROVED"]
    assert [e["entity"] for e in doc["accessLog"]] == [ENTITY]
    assert "$argon2" not in r.text  # no secrets in the export
    # at rest the personal attribute is sealed already; a backup is a copy of the files
    data_dir = platform.settings.data_dir
    assert platform.client.portal is not None
    platform.client.portal.call(personal_of(client.app).tracker.flush)
    backup = tmp_path / "backup"
    backup.mkdir()
    for name in _raw_files(data_dir):
        shutil.copy2(data_dir / name, backup / name)
    before = b"".join(_raw_files(backup).values())
    assert ENTITY.encode() in before and SECRET.encode() not in before
    # erasure needs its confirmation, then takes everything
    assert client.post("/personal/v1/me/erasure", json={},
                       headers=platform.auth("resident")).status_code == 400
    r = client.post("/personal/v1/me/erasure", json={"confirm": "消去"},
                    headers=platform.auth("resident"))
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["entitiesDeleted"] == 1 and done["keyDestroyed"] and done["accountClosed"]
    assert done["consentsWithdrawn"] == 1
    assert client.get(f"/ngsi-ld/v1/entities/{ENTITY}",
                      headers=platform.auth("Reader")).status_code == 404
    for raw in (*_raw_files(data_dir).values(), *_raw_files(backup).values()):
        assert SECRET.encode() not in raw
    # the backup still holds the sealed row, but nobody can open it any more
    vault = Vault.at(data_dir)

    async def read_backup() -> object:
        store = open_store(f"sqlite:///{backup / 'cityos.db'}")
        await store.open()
        try:
            store.set_sealer(vault)
            return await store.get_entity("", ENTITY, EVERYTHING)
        finally:
            await store.close()

    assert asyncio.run(read_backup()) is None
    vault.close()
    # the account is closed: its token stops working (the gate re-reads accounts within
    # two seconds), its password no longer signs in
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and \
            client.get("/auth/v1/me", headers=platform.auth("resident")).status_code != 401:
        time.sleep(0.2)
    assert client.get("/personal/v1/me", headers=platform.auth("resident")).status_code == 401
    r = client.post("/auth/residents/login", data={"login": "hanako@example.jp",
                                                   "password": "hanako-no-himitsu"})
    assert r.status_code == 401


def test_staff_erase_a_resident_at_the_town_office(platform: Platform) -> None:
    client = platform.client
    r = client.post("/auth/residents", data={"login": "leaving", "password": "leaving-town-2026"})
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    res = client.get("/auth/v1/me", headers=auth).json()["id"]
    assert client.post("/ngsi-ld/v1/entities", headers=platform.auth("Writer"), json={
        "id": "urn:ngsi-ld:Purchase:p1", "type": "Purchase",
        "item": {"type": "Property", "value": SECRET},
        "refResident": {"type": "Property", "value": res}}).status_code == 201
    url = f"/personal/v1/residents/{res}/erasure"
    assert client.post(url, json={"confirm": "ERASE"},
                       headers=platform.auth("operator")).status_code == 403  # admins only
    assert client.post(url, json={}, headers=platform.auth("admin")).status_code == 400
    assert client.post("/personal/v1/residents/res_none/erasure", json={"confirm": "ERASE"},
                       headers=platform.auth("admin")).status_code == 404
    r = client.post(url, json={"confirm": "ERASE"}, headers=platform.auth("admin"))
    assert r.status_code == 200 and r.json()["entitiesDeleted"] == 1
    assert client.get(f"/personal/v1/residents/{res}",
                      headers=platform.auth("viewer")).json()["account"]["login"] is None
