"""`cityos verify` sees tampering outside the two logs (issue #19, part 5): grants, accounts,
consent records and the data tracker are checked against the signed history of their changes.
Golden tamper fixtures (`fixtures/rows.<what>.<CODE>.sql`, run on a stopped platform's
database) each name the code the first problem must have."""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from cityos.access.accounts import AccountBook
from cityos.audit.chain import link
from cityos.keystore import KeyStore
from cityos.settings import load_settings
from cityos.storage import open_store
from cityos.trust.service import Trust
from cityos.trust.state import record_baseline
from cityos.trust.verify import Problem, Summary, verify_store
from conftest import CITYOS, STORE_ENGINE, copy_platform, database_environ

from .platforms import checkpoint, secured_with
from .test_verify import _verify

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TAMPERS = sorted(p for p in FIXTURES.glob("rows.*.sql") if not p.name.endswith(".pg.sql"))
TRACKER = "personal.access"
ENTITY_TAMPERS = sorted(p for p in FIXTURES.glob("entities.*.sql")
                        if not p.name.endswith(".pg.sql"))
SIGHTING = {"id": "urn:ngsi-ld:BeaconSighting:s1", "type": "BeaconSighting",  # personal
            "rssi": {"type": "Property", "value": -61},
            "refResident": {"type": "Relationship", "object": "urn:ngsi-ld:Resident:res_hanako"}}


@pytest.fixture(scope="module")
def rows_template(prepared: tuple[Path, dict[str, Any]],
                  tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A platform with two consents (one approved, one withdrawn), five data-tracker entries,
    write records, and a signed tree head over all of it."""
    data = tmp_path_factory.mktemp("rows-template") / "var"
    with secured_with(prepared, data) as platform:
        app: Any = platform.client.app
        portal = platform.client.portal
        assert portal is not None
        consents = app.state.personal.consents

        async def consent(recipient: str, final: str) -> None:
            made = await consents.request("", subject="res_hanako", recipient=recipient,
                                          category="location", purpose="ServiceProvision")
            await consents.decide("", made["id"], "APPROVED", by="res_hanako")
            if final != "APPROVED":
                await consents.decide("", made["id"], final, by="res_hanako")

        async def releases() -> None:
            vault = app.state.personal.vault
            bodies = [vault.seal("", "res_hanako", orjson.dumps({"at": n, "recipient": "Reader",
                                                                 "entity": f"urn:x:{n}"}))
                      for n in range(5)]
            await app.state.broker.store.append_log(TRACKER, bodies, link,
                                                    [["\x1fres_hanako"]] * 5)

        portal.call(consent, "Reader", "APPROVED")
        portal.call(consent, "ShelterCo", "WITHDRAWN")
        portal.call(releases)
        headers = {**platform.auth("Writer"), "Content-Type": "application/json"}
        assert platform.client.post("/ngsi-ld/v1/entities", content=orjson.dumps(
            {"id": "urn:ngsi-ld:Shelter:1", "type": "Shelter"}), headers=headers
        ).status_code == 201
        assert platform.client.post("/ngsi-ld/v1/entities", content=orjson.dumps(SIGHTING),
                                    headers=headers).status_code == 201
        checkpoint(platform)
    return data


def _tamper(data: Path, sql: str) -> None:
    if STORE_ENGINE == "postgresql":
        import asyncpg

        async def run() -> None:
            url = database_environ(data)["CITYOS_DATABASE_URL"]
            conn = await asyncpg.connect(url)
            try:
                await conn.execute("ALTER TABLE logs DISABLE TRIGGER USER; " + sql)
            finally:
                await conn.close()

        asyncio.run(run())
        return
    conn = sqlite3.connect(data / "cityos.db", isolation_level=None)
    conn.executescript(sql)
    conn.close()


def _fixture_sql(fixture: Path) -> str:
    if STORE_ENGINE != "postgresql":
        return fixture.read_text()
    pg = fixture.with_name(fixture.name[:-4] + ".pg.sql")
    if pg.exists():
        return pg.read_text()
    if "json_set" in fixture.read_text() or "X'00'" in fixture.read_text():
        pytest.skip(f"SQLite only: {fixture.name} edits SQLite's JSON / blobs")
    return "\n".join(line for line in fixture.read_text().splitlines()
                     if not line.startswith("DROP TRIGGER"))


def _copy(template: Path, tmp_path: Path) -> Path:
    data = tmp_path / "var"
    copy_platform(template, data)
    return data


def _cityos_verify(data: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CITYOS, "verify", "--data-dir", str(data), *options],
                          capture_output=True,
                          text=True, timeout=120, env={**os.environ, **database_environ(data)})


def test_the_intact_platform_verifies_with_its_rows_checked(rows_template: Path,
                                                            tmp_path: Path) -> None:
    data = _copy(rows_template, tmp_path)
    problems, summary = _verify(data)
    assert problems == []
    # 8 accounts (4 staff, 4 organisations) and one live grant match their signed history
    assert summary.rows == 9 and summary.rows_unsigned == 0 and summary.rows_unrecorded == 0
    assert summary.tracker_unlogged == 0
    done = _cityos_verify(data)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 grants and accounts as signed" in done.stdout, done.stdout


@pytest.mark.parametrize("fixture", TAMPERS, ids=[p.name.split(".")[1] for p in TAMPERS])
def test_each_tampering_is_named(rows_template: Path, tmp_path: Path, fixture: Path) -> None:
    assert len(TAMPERS) >= 13
    code = fixture.name.split(".")[2]
    data = _copy(rows_template, tmp_path)
    _tamper(data, _fixture_sql(fixture))
    problems, _ = _verify(data)
    assert problems, f"{fixture.name}: the tampering went unnoticed"
    assert problems[0].code == code, "\n".join(map(str, problems))
    done = _cityos_verify(data)
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(rf"^{code} at \d+: ", done.stdout, re.M), done.stdout


def test_a_relinked_tracker_is_caught_by_the_head_the_log_took_in(rows_template: Path,
                                                                  tmp_path: Path) -> None:
    """A careful tamperer edits an entry and recomputes the chain after it: the chain is
    intact, but the log holds the tracker's head as it was."""
    data = _copy(rows_template, tmp_path)
    if STORE_ENGINE == "postgresql":
        pytest.skip("SQLite only: rewrites the SQLite file's tracker chain")
    conn = sqlite3.connect(data / "cityos.db", isolation_level=None)
    conn.execute("DROP TRIGGER IF EXISTS logs_no_update")
    rows = conn.execute("SELECT seq, body FROM logs WHERE log = ? ORDER BY seq",
                        (TRACKER,)).fetchall()
    prev = None
    for seq, body in rows:
        body = body if seq != 2 else b"\x00" + body
        new = link(prev, body)
        conn.execute("UPDATE logs SET body = ?, prev = ?, hash = ? WHERE log = ? AND seq = ?",
                     (body, prev, new, TRACKER, seq))
        prev = new
    conn.close()
    problems, _ = _verify(data)
    assert [p.code for p in problems] == ["TRACKER_MODIFIED"], problems
    assert "was rewritten" in problems[0].detail


def test_changes_after_the_last_signed_head_are_counted_not_blamed(rows_template: Path,
                                                                   tmp_path: Path) -> None:
    """An organisation's grants changed with the platform stopped (`cityos access grant`):
    its leaf is not signed yet, so `verify` counts it instead of calling the row forged."""
    data = _copy(rows_template, tmp_path)
    settings = load_settings(data, environ=database_environ(data))

    async def change() -> None:
        store = open_store(settings.database_url)
        await store.open()
        try:
            await AccountBook(store).grant("Nobody", read=["Shelter"])
        finally:
            await store.close()

    asyncio.run(change())
    problems, summary = _verify(data)
    assert problems == [] and summary.rows_unsigned == 1, problems
    done = _cityos_verify(data)
    assert done.returncode == 0, done.stdout
    assert "1 changes of grants and accounts not yet signed" in done.stdout, done.stdout


def test_a_second_baseline_is_reported(rows_template: Path, tmp_path: Path) -> None:
    """The baseline is recorded once; a tamperer removing its marker to have the platform
    bless forged rows at the next start leaves a second one in the log."""
    data = _copy(rows_template, tmp_path)
    _tamper(data, "INSERT INTO grants (tenant, recipient, subject, category, purpose, until) "
                  "VALUES ('', 'Nobody', 'res_hanako', 'location', 'dpv:X', NULL); "
                  "DELETE FROM kv WHERE space = 'trust.state';")
    settings = load_settings(data, environ=database_environ(data))

    async def restart() -> bool:
        store = open_store(settings.database_url)
        await store.open()
        try:
            return await record_baseline(store)
        finally:
            await store.close()

    assert asyncio.run(restart())
    problems, _ = _verify(data)
    assert problems and problems[0].code == "STATE_REBASELINED", problems



def _verify_entities(data: Path) -> tuple[list[Problem], Summary]:
    settings = load_settings(data, environ=database_environ(data))

    async def main() -> tuple[list[Problem], Summary]:
        store = open_store(settings.database_url)
        await store.open()
        try:
            trust = await Trust.open(store, settings.trust, settings.public_url,
                                     KeyStore.at(settings.data_dir))
            return await verify_store(store, trust.log, trust.certs,
                                      log_keys=trust.public_keys(), entities=True)
        finally:
            await store.close()

    return asyncio.run(main())


def test_entities_as_written_verify(rows_template: Path, tmp_path: Path) -> None:
    data = _copy(rows_template, tmp_path)
    problems, summary = _verify_entities(data)
    assert problems == []
    assert summary.entities == 2 and summary.entities_unrecorded == 0
    done = _cityos_verify(data, "--entities")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 entities as written" in done.stdout, done.stdout


@pytest.mark.parametrize("fixture", ENTITY_TAMPERS,
                         ids=[p.name.split(".")[1] for p in ENTITY_TAMPERS])
def test_each_entity_tampering_is_named(rows_template: Path, tmp_path: Path,
                                        fixture: Path) -> None:
    assert len(ENTITY_TAMPERS) >= 3
    code = fixture.name.split(".")[2]
    data = _copy(rows_template, tmp_path)
    _tamper(data, _fixture_sql(fixture))
    assert _verify(data)[0] == []  # without --entities the entities are not read
    problems, _ = _verify_entities(data)
    assert problems, f"{fixture.name}: the tampering went unnoticed"
    assert problems[0].code == code, "\n".join(map(str, problems))
    done = _cityos_verify(data, "--entities")
    assert done.returncode == 1, done.stdout + done.stderr
    assert re.search(rf"^{code} at \d+: ", done.stdout, re.M), done.stdout


def test_ordinary_writes_leave_nothing_to_report(prepared: tuple[Path, dict[str, Any]],
                                                 tmp_path: Path) -> None:
    """Creates, updates, batch upserts and deletions through the API: every entity is as its
    last write record says (no false alarm), the deleted ones are not looked for."""
    data = tmp_path / "var"
    with secured_with(prepared, data) as platform:
        client = platform.client
        headers = {**platform.auth("Writer"), "Content-Type": "application/json"}
        for n in range(1, 4):
            assert client.post("/ngsi-ld/v1/entities", headers=headers, content=orjson.dumps(
                {"id": f"urn:ngsi-ld:Shelter:{n}", "type": "Shelter"})).status_code == 201
        assert client.post("/ngsi-ld/v1/entities/urn:ngsi-ld:Shelter:1/attrs", headers=headers,
                            content=orjson.dumps({"capacity": {"type": "Property",
                                                               "value": 7}})).status_code == 204
        batch = [{"id": f"urn:ngsi-ld:Shelter:{n}", "type": "Shelter",
                  "capacity": {"type": "Property", "value": n}} for n in range(2, 7)]
        assert client.post("/ngsi-ld/v1/entityOperations/upsert", headers=headers,
                           content=orjson.dumps(batch)).status_code in (201, 204)
        assert client.post("/ngsi-ld/v1/entityOperations/delete", headers=headers,
                           content=orjson.dumps(["urn:ngsi-ld:Shelter:5"])).status_code == 204
        assert client.delete("/ngsi-ld/v1/entities/urn:ngsi-ld:Shelter:6",
                             headers=platform.auth("Writer")).status_code == 204
    problems, summary = _verify_entities(data)
    assert problems == [], problems
    assert summary.entities == 4 and summary.entities_unrecorded == 0
    _tamper(data, "UPDATE entities SET owner = 'org:Nobody' "
                  "WHERE id = 'urn:ngsi-ld:Shelter:4'")
    assert [p.code for p in _verify_entities(data)[0]] == ["OWNER_MODIFIED"]
