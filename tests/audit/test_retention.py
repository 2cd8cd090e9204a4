"""Audit retention (old records pruned behind a checkpoint, the rest still verifies) and the
data subjects each record names."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from starlette.requests import Request

from access.secured import Platform
from cityos.access.resident_routes import OPERATIONS as RESIDENT_OPERATIONS
from cityos.audit.chain import Entry, canonical, link, verify
from cityos.audit.retention import prune_audit
from cityos.audit.trail import HEAD, LOG, AuditTrail, build_record, touch_subjects
from cityos.storage import open_store
from conftest import database_url, stored_log

CITYOS = str(Path(sys.executable).with_name("cityos"))
DAY = 86_400.0
NOW = 1_800_000_000.0  # 2027-01-15


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at))


def _record(days_ago: float, n: int) -> bytes:
    return canonical({"at": _iso(NOW - days_ago * DAY), "who": f"staff:u{n}", "status": 200})


async def _fill(store, ages: list[float]) -> None:  # type: ignore[no-untyped-def]
    seq = await store.append_log(LOG, [_record(a, i) for i, a in enumerate(ages)], link)
    [last] = await store.read_log(LOG, after=seq - 1, limit=1)
    await store.kv_put(*HEAD, {"seq": last.seq, "hash": last.hash})


async def _verify(store) -> list[str]:  # type: ignore[no-untyped-def]
    entries = [Entry(e.seq, e.body, e.prev, e.hash) for e in await store.read_log(LOG)]
    head = await store.kv_get(*HEAD)
    checkpoint = await store.log_checkpoint(LOG)
    start = None if checkpoint is None else (checkpoint.seq, checkpoint.hash)
    return [p.code for p in verify(entries, (head["seq"], head["hash"]), start)]


def test_old_records_are_pruned_and_the_rest_verifies(tmp_path: Path) -> None:
    db = tmp_path / "cityos.db"

    async def scenario() -> None:
        store = open_store(f"sqlite:///{db}")
        await store.open()
        try:
            await _fill(store, [400, 200, 91, 89, 10, 0])
            assert await prune_audit(store, 0, now=NOW) == 0  # 0 = keep everything
            assert await prune_audit(store, 90, now=NOW) == 3
            assert [e.seq for e in await store.read_log(LOG)] == [4, 5, 6]
            checkpoint = await store.log_checkpoint(LOG)
            assert checkpoint is not None and checkpoint.seq == 3
            assert orjson.loads(checkpoint.body)["retention_days"] == 90
            assert await _verify(store) == []
            assert await prune_audit(store, 90, now=NOW) == 0  # nothing more is that old
            await _fill(store, [0])  # appending goes on from the newest record
            assert await _verify(store) == []
            assert await prune_audit(store, 1, now=NOW + 30 * DAY) == 4  # everything
            assert await store.read_log(LOG) == []
            await _fill(store, [-30])  # …and from the checkpoint once the log is empty
            assert [e.seq for e in await store.read_log(LOG)] == [8]
            assert await _verify(store) == []
        finally:
            await store.close()

    asyncio.run(scenario())
    with sqlite3.connect(db) as conn:  # below the checkpoint only: kept records stay kept
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM logs WHERE log = ? AND seq = 8", (LOG,))
        with pytest.raises(sqlite3.DatabaseError, match="forward"):
            conn.execute("UPDATE log_checkpoints SET seq = 2 WHERE log = ?", (LOG,))
        with pytest.raises(sqlite3.DatabaseError, match="kept"):
            conn.execute("DELETE FROM log_checkpoints")


def test_the_trail_prunes_by_its_setting(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = open_store(f"sqlite:///{tmp_path / 'cityos.db'}")
        await store.open()
        try:
            await _fill(store, [(NOW - time.time()) / DAY + 40])  # 40 days old today
            trail = AuditTrail(store, retention_days=30)
            trail.record({"at": _iso(time.time()), "who": "anonymous", "status": 200})
            await trail.flush()
            assert [e.seq for e in await store.read_log(LOG)] == [2]
            assert await _verify(store) == []
        finally:
            await store.close()

    asyncio.run(scenario())


def _cityos(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CITYOS, *args], capture_output=True, text=True)


def test_prune_verify_and_export_commands(tmp_path: Path) -> None:
    data = tmp_path / "var"
    assert _cityos("init", "--data-dir", str(data)).returncode == 0

    async def fill() -> None:
        store = open_store(database_url(data))
        await store.open()
        try:
            old = (NOW - time.time()) / DAY  # days from now back to NOW
            await _fill(store, [old + 100, old + 50, old + 1])
        finally:
            await store.close()

    asyncio.run(fill())
    pruned = _cityos("audit", "prune", "--days", "30", "--data-dir", str(data))
    assert pruned.returncode == 0 and "2 audit records removed" in pruned.stderr
    checked = _cityos("verify", "--data-dir", str(data))
    assert checked.returncode == 0, checked.stdout
    assert "1 audit records" in checked.stdout and "checkpoint after seq 2" in checked.stdout
    export = tmp_path / "audit.jsonl"
    assert _cityos("audit", "export", "--output", str(export), "--data-dir", str(data)
                   ).returncode == 0
    assert orjson.loads(export.read_bytes().splitlines()[0])["checkpoint"]["seq"] == 2
    assert _cityos("verify", "--file", str(export)).returncode == 0
    cut = b"\n".join(export.read_bytes().splitlines()[1:]) + b"\n"  # the checkpoint dropped
    export.write_bytes(cut)
    lost = _cityos("verify", "--file", str(export))
    assert lost.returncode == 1 and "AUDIT_DELETED" in lost.stdout


def test_records_name_the_residents_whose_data_was_touched(platform: Platform) -> None:
    me = platform.client.get("/auth/v1/me", headers=platform.auth("resident")).json()
    platform.client.get("/auth/v1/alerts", headers=platform.auth("admin"))
    platform.client.__exit__(None, None, None)  # stop the app: the trail is flushed
    records = stored_log(platform.settings.database_url, LOG)
    by_op = {r["op"]: r for r in records}
    assert by_op["who_am_i"]["subjects"] == [me["id"]]
    assert by_op["who_am_i"]["who"] == f"resident:{me['id']}"
    assert by_op["security_alerts"]["subjects"] == []


def test_handlers_name_further_data_subjects() -> None:
    op = next(o for o in RESIDENT_OPERATIONS if o.path == "/auth/v1/me")
    request = Request({"type": "http", "method": "GET", "path": "/auth/v1/me", "headers": [],
                       "path_params": {}, "query_string": b""})
    touch_subjects(request, "res_a", "res_b")
    touch_subjects(request, "res_a")
    record = build_record(op, request, 200, 0, time.perf_counter())
    assert record["subjects"] == ["res_a", "res_b"]
