"""Every request lands in the audit trail — who, org, tenant, operation, ids, outcome, sizes —
without secrets or values; the SQLite log refuses edits; `cityos verify` finds tampering."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import asyncpg
import orjson

from access.secured import Platform
from cityos.audit.trail import LOG
from conftest import sqlite_only, stored_log

CITYOS = str(Path(sys.executable).with_name("cityos"))
V1 = "/ngsi-ld/v1"
SHELTER = {"id": "urn:ngsi-ld:Shelter:001", "type": "Shelter",
           "name": {"type": "Property", "value": "豊能町役場 secret-value"}}


def _use(platform: Platform) -> None:
    c = platform.client
    client_id, secret = platform.secrets["Writer"]
    token = c.post("/auth/token", data={"grant_type": "client_credentials",
                                        "client_id": client_id, "client_secret": secret})
    auth = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert c.post(f"{V1}/entities", json=SHELTER, headers=auth).status_code == 201
    assert c.get(f"{V1}/entities/{SHELTER['id']}?q=name==%22Taro%22",  # q is not for retrieval
                 headers=platform.auth("viewer")).status_code == 400
    assert c.get(f"{V1}/entities").status_code == 401
    assert c.get(f"{V1}/types", headers={**platform.auth("admin-a"), "NGSILD-Tenant": "x"}
                 ).status_code == 403
    c.post("/auth/login", data={"username": "viewer", "password": "wrong-password!"})
    assert c.post(f"{V1}/entityOperations/delete", json=[SHELTER["id"]],
                  headers=platform.auth("operator")).status_code == 204


def test_every_request_is_recorded_without_secrets(platform: Platform) -> None:
    _use(platform)
    platform.client.__exit__(None, None, None)  # stop the app: the trail is flushed
    records = stored_log(platform.settings.database_url, LOG)
    ops = [(r["op"], r["status"], r["who"]) for r in records]
    assert ops[0] == ("issue_client_token", 200, "anonymous")
    assert ops[1] == ("create_entity", 201, f"org:{platform.secrets['Writer'][0]}")
    assert records[1]["org"] == "Writer" and records[1]["entities"] == [SHELTER["id"]]
    assert records[1]["bytes_in"] > 0 and records[1]["ip"] == "testclient"
    assert ops[2][:2] == ("retrieve_entity", 400)  # refused before the gate: still recorded
    assert ops[3] == ("query_entities", 401, "anonymous")
    assert ops[4] == ("list_types", 403, "staff:admin-a") and records[4]["tenant"] == "x"
    assert ops[5] == ("staff_login", 401, "anonymous")
    assert ops[6] == ("batch_delete", 204, "staff:operator")
    assert records[6]["entities"] == [SHELTER["id"]]
    text = orjson.dumps(records).decode()
    for secret in (platform.secrets["Writer"][1], "wrong-password!", "secret-value", "Taro",
                   platform.tokens["viewer"], platform.passwords["viewer"]):
        assert secret not in text


def test_the_log_refuses_updates_and_deletes(platform: Platform) -> None:
    _use(platform)
    platform.client.__exit__(None, None, None)
    statements = ("UPDATE logs SET body = '\\x00' WHERE seq = 1", "DELETE FROM logs WHERE seq = 1")
    url = platform.settings.database_url
    if url.startswith("postgresql"):
        async def refused(statement: str) -> str:
            conn = await asyncpg.connect(url)
            try:
                await conn.execute(statement)
            except asyncpg.PostgresError as exc:
                return str(exc)
            finally:
                await conn.close()
            raise AssertionError(f"{statement} was allowed")

        for statement in statements:
            assert "append-only" in asyncio.run(refused(statement))
        return
    with sqlite3.connect(platform.settings.data_dir / "cityos.db") as conn:
        for statement in statements:
            try:
                conn.execute(statement.replace("'\\x00'", "x'00'"))
            except sqlite3.IntegrityError as exc:
                assert "append-only" in str(exc)
            else:
                raise AssertionError(f"{statement} was allowed")


def _verify(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CITYOS, "verify", "--data-dir", str(data_dir)],
                          capture_output=True, text=True)


def _tamper(db: Path, *statements: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER logs_no_update")
        conn.execute("DROP TRIGGER logs_no_delete")
        for statement in statements:
            conn.execute(statement)


@sqlite_only("tampers with the log in the SQLite file")
def test_cityos_verify_detects_edits_deletes_reorders_and_truncation(
        platform: Platform, tmp_path: Path) -> None:
    _use(platform)
    platform.client.__exit__(None, None, None)
    data = platform.settings.data_dir
    ok = _verify(data)
    assert ok.returncode == 0 and "OK: 7 audit records" in ok.stdout
    export = tmp_path / "audit.jsonl"
    done = subprocess.run([CITYOS, "audit", "export", "--data-dir", str(data), "--output",
                           str(export)], capture_output=True, text=True)
    assert done.returncode == 0 and len(export.read_bytes().splitlines()) == 7
    assert subprocess.run([CITYOS, "verify", "--file", str(export)]).returncode == 0
    cases = {
        "AUDIT_EDITED": ["UPDATE logs SET body = replace(body, '403', '200') WHERE seq = 5"],
        "AUDIT_DELETED": ["DELETE FROM logs WHERE seq = 3"],
        "AUDIT_REORDERED": ["UPDATE logs SET seq = 100 WHERE seq = 2",
                            "UPDATE logs SET seq = 2 WHERE seq = 3",
                            "UPDATE logs SET seq = 3 WHERE seq = 100"],
        "AUDIT_TRUNCATED": ["DELETE FROM logs WHERE seq = 7"],
    }
    for code, statements in cases.items():
        copy = tmp_path / code
        shutil.copytree(data, copy)  # the database with its WAL
        _tamper(copy / "cityos.db", *statements)
        result = _verify(copy)
        assert result.returncode == 1, (code, result.stdout, result.stderr)
        assert result.stdout.splitlines()[0].startswith(code), (code, result.stdout)
