"""A resident erased after a backup stays erased when that older backup is restored: the
erasure ledger in the backup home is applied on restore."""

from __future__ import annotations

import os
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from access.secured import Platform
from cityos.app import create_app
from cityos.backup.home import BackupHome
from cityos.backup.restore import RestoreError, restore
from cityos.backup.snapshot import engine_of, make_backup
from cityos.personal.vault import Vault
from cityos.settings import load_settings
from conftest import LOOPBACK, STORE_ENGINE, drop_database, new_database

SECRET = "Zq9-DISTINCTIVE-ALLERGY-buckwheat"
ENTITY = "urn:ngsi-ld:HealthCheckup:hanako-2026"


def test_an_erased_resident_stays_erased_after_restoring_an_older_backup(
        platform: Platform, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    client = platform.client
    me = client.get("/auth/v1/me", headers=platform.auth("resident")).json()
    res = me["id"]
    assert client.post("/ngsi-ld/v1/entities", headers=platform.auth("Writer"), json={
        "id": ENTITY, "type": "HealthCheckup", "allergy": {"type": "Property", "value": SECRET},
        "refResident": {"type": "Relationship", "object": f"urn:ngsi-ld:Resident:{res}"}}
    ).status_code == 201
    settings = platform.settings
    old = make_backup(settings, tmp_path / "before-erasure.cityosbk", None)  # while serving
    r = client.post("/personal/v1/me/erasure", json={"confirm": "消去"},
                    headers=platform.auth("resident"))
    assert r.status_code == 200 and r.json()["keyDestroyed"]
    home = BackupHome.of(settings)
    ledger = [orjson.loads(line) for line in home.ledger.read_bytes().splitlines()]
    assert [d["subject"] for d in ledger] == [res]  # written at erasure, outside the data dir
    assert not home.ledger.resolve().is_relative_to(settings.data_dir.resolve())

    environ = {"CITYOS_EGRESS_ALLOW": LOOPBACK}
    target_url = ""
    if engine_of(settings) == "postgresql":
        server = str(request.getfixturevalue("postgres_server"))
        target_url = new_database(server)
        request.addfinalizer(lambda: drop_database(server, target_url))
        environ["CITYOS_DATABASE_URL"] = target_url
    new = tmp_path / "restored"
    done = restore(old.path, new, home, target_url)
    assert done.reerased == 1 and "OK:" in done.verify_output
    vault = Vault.at(new)
    try:
        assert not vault.has_key("", res) and vault.erased("", res)
    finally:
        vault.close()
    # what people notice on the restored platform: the data and the account are gone
    restored = load_settings(new, environ=environ)
    with TestClient(create_app(restored), raise_server_exceptions=False) as again:
        assert again.get(f"/ngsi-ld/v1/entities/{ENTITY}",
                         headers=platform.auth("Reader")).status_code == 404
        r = again.post("/auth/residents/login", data={"login": "hanako@example.jp",
                                                      "password": "hanako-no-himitsu"})
        assert r.status_code == 401
        assert again.get("/personal/v1/me", headers=platform.auth("resident")).status_code == 401
    # without the ledger the same backup would have brought her back: the ledger is what works
    bare = BackupHome(tmp_path / "no-ledger", home.key_file)
    if STORE_ENGINE == "sqlite" and engine_of(settings) == "sqlite":
        done = restore(old.path, tmp_path / "naive", bare)
        assert done.reerased == 0
        naive = Vault.at(tmp_path / "naive")
        try:
            assert naive.has_key("", res)
        finally:
            naive.close()
    with pytest.raises(RestoreError):  # the target must be new
        restore(old.path, new, home, target_url)
    assert os.listdir(new)
