"""kill -9 during writes (issue #19, part 4): a real `cityos serve` is killed while 4 threads
create entities (3 rounds) and then while they upsert batches (a 4th round). Every write the
server acknowledged must be stored with its write record in the transparency log and its
audit record; `cityos verify` is clean afterwards, and names a deliberate deletion."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from cityos.storage import open_store
from cityos.storage.base import EVERYTHING
from conftest import CITYOS, STORE_ENGINE, database_url

pytestmark = pytest.mark.e2e
THREADS = 4
WRITING_SECONDS = 1.5
BATCH = 20


def _cityos(data: Path, *args: str) -> str:
    done = subprocess.run([CITYOS, *args, "--data-dir", str(data)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _entity(entity_id: str) -> dict[str, Any]:
    return {"id": entity_id, "type": "Sensor", "count": {"type": "Property", "value": 1}}


def _write_until_killed(url: str, token: str, name: str, batch: bool, acked: list[str]) -> None:
    """Create (or upsert batches of) entities until the server is gone; keep what was acked."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        for n in range(100_000):
            ids = [f"urn:ngsi-ld:Sensor:{name}-{n}-{i}" for i in range(BATCH if batch else 1)]
            try:
                if batch:
                    r = client.post("/ngsi-ld/v1/entityOperations/upsert",
                                    content=orjson.dumps([_entity(i) for i in ids]))
                else:
                    r = client.post("/ngsi-ld/v1/entities", content=orjson.dumps(_entity(ids[0])))
            except httpx.HTTPError:
                return  # killed: this one was never acknowledged
            assert r.status_code in (201, 204), r.text
            acked.extend(ids)


def _round(serve: Any, data: Path, token: str, number: int, batch: bool) -> list[str]:
    server = serve(data_dir=data)
    acked: list[list[str]] = [[] for _ in range(THREADS)]
    threads = [threading.Thread(target=_write_until_killed, args=(
        server.url, token, f"r{number}t{t}", batch, acked[t])) for t in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(WRITING_SECONDS)
    server.proc.kill()  # SIGKILL: no lifespan, no last flush
    server.proc.wait()
    server.stop()
    for t in threads:
        t.join(30)
    return [i for part in acked for i in part]


def _stored(url: str, ids: list[str]) -> tuple[list[str], set[str], set[str]]:
    """(acked ids not stored, ids named by write records, ids named by audit records of 2xx)."""

    async def read() -> tuple[list[str], set[str], set[str]]:
        store = open_store(url)
        await store.open()
        try:
            lost = [i for i in ids if await store.get_entity("", i, EVERYTHING) is None]
            written: set[str] = set()
            audited: set[str] = set()
            for log, into in (("trust", written), ("audit", audited)):
                after = 0
                while page := await store.read_log(log, after=after, limit=5000):
                    for entry in page:
                        doc = orjson.loads(entry.body)
                        if doc.get("kind", "write") == "write" and 200 <= doc.get("status", 0) < 300:
                            into.update(doc.get("entities", ()))
                    after = page[-1].seq
            return lost, written, audited
        finally:
            await store.close()

    return asyncio.run(read())


def test_no_acknowledged_write_loses_its_records_to_kill_9(serve: Any, tmp_path: Path) -> None:
    data = tmp_path / "town"
    _cityos(data, "init")
    (data / "cityos.toml").write_text("[access]\nrate_per_second = 0\n")  # 4 busy writers
    _cityos(data, "org", "add", "Counter Co", "--corporate-number", "7000012050002",
            "--write", "Sensor", "--read", "Sensor")
    token = _cityos(data, "token", "--org", "Counter Co").strip().splitlines()[-1]
    acked: list[str] = []
    for number in range(4):
        acked += _round(serve, data, token, number, batch=number == 3)
    assert len(acked) > 40, "too few writes to say anything"
    serve(data_dir=data).stop()  # a clean start and stop: the last checkpoint signs everything
    url = database_url(data)
    lost, written, audited = _stored(url, acked)
    assert lost == [], f"{len(lost)} of {len(acked)} acknowledged writes lost"
    assert [i for i in acked if i not in written] == [], "acknowledged writes without write records"
    assert [i for i in acked if i not in audited] == [], "acknowledged writes without audit records"
    env = {**os.environ, "CITYOS_DATABASE_URL": url} if not url.startswith("sqlite") \
        else dict(os.environ)
    done = subprocess.run([CITYOS, "verify", "--data-dir", str(data)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 leaves not yet signed" in done.stdout, done.stdout
    if STORE_ENGINE == "postgresql":
        return  # the deliberate deletion below edits the SQLite file
    with sqlite3.connect(data / "cityos.db", isolation_level=None) as conn:
        conn.execute("DROP TRIGGER logs_no_delete")
        seq = conn.execute("SELECT MAX(seq) / 2 FROM logs WHERE log = 'audit'").fetchone()[0]
        conn.execute("DELETE FROM logs WHERE log = 'audit' AND seq = ?", (seq,))
    done = subprocess.run([CITYOS, "verify", "--data-dir", str(data)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 1, done.stdout
    assert f"AUDIT_DELETED at seq {seq + 1}" in done.stdout, done.stdout  # the chain's check
    assert f": audit record {seq} is gone" in done.stdout, done.stdout  # the log's check
