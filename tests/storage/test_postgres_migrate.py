"""`cityos migrate-store`: a SQLite database copied into PostgreSQL reads the same through the
Store, row for row (entities, history, logs, change log, cursors, personal rows), and goes on."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from cityos.personal.vault import Vault
from cityos.storage import DELETE, EntityQuery, open_store
from cityos.storage.base import EVERYTHING, Delivery, Reader, Store, TemporalQuery
from cityos.storage.postgres.from_sqlite import TABLES, MigrationError, _verify, migrate

CITYOS = str(Path(sys.executable).with_name("cityos"))
V = "https://example.org/"
T = V + "Sensor"
PERSON = V + "HealthRecord"
SUBJECT = V + "subject"


class Classifier:
    def classify(self, tenant: str, entity: dict[str, Any]) -> tuple[str, str] | None:
        if PERSON not in entity["type"]:
            return None
        return str(entity["attrs"][SUBJECT][0]["value"]), "health"


def sensor(n: int, value: float) -> dict[str, Any]:
    stamp = f"2026-11-22T00:{n % 60:02d}:00.000Z"
    return {"id": f"urn:x:s:{n}", "type": [T], "createdAt": stamp, "modifiedAt": stamp,
            "attrs": {V + "t": [{"type": "Property", "value": value, "observedAt": stamp,
                                 "modifiedAt": stamp}],
                      V + "loc": [{"type": "GeoProperty", "modifiedAt": stamp, "value": {
                          "type": "Point", "coordinates": [135.4 + n / 100, 34.9]}}]}}


def record(n: int, resident: str) -> dict[str, Any]:
    return {"id": f"urn:x:r:{n}", "type": [PERSON], "attrs": {
        SUBJECT: [{"type": "Property", "value": resident}],
        V + "note": [{"type": "Property", "value": "diagnosis"}]}}


async def fill(store: Store) -> None:
    await store.start_delivery("town", "sub")
    for round_ in range(3):
        await store.mutate("town", [(f"urn:x:s:{n}", lambda c, n=n, r=round_: (
            sensor(n, n * 10 + r + 0.5), None)) for n in range(12)])
    await store.mutate("town", [("urn:x:s:11", lambda c: (DELETE, None))])
    await store.mutate("town", [(f"urn:x:r:{n}", lambda c, n=n: (record(n, f"res_{n}"), None))
                                for n in range(3)], writer="org:a")
    odd = {"id": "urn:x:odd", "type": [T], "attrs": {V + "t": [{"type": "Property",
                                                                 "value": "a\u0000b"}]}}
    await store.mutate("town", [("urn:x:odd", lambda c: (odd, None))])  # not for JSONB
    await store.put_grant("town", "res_1", "org:b", "health", "care", None)
    await store.save_delivery(Delivery("town", "sub", 5, {"timesSent": 2}))
    await store.kv_put("contexts", "a", {"x": [1, 2.5, "ü"]})
    await store.append_log("audit", [f"entry {n}".encode() for n in range(10)],
                           lambda prev, body: f"{prev or ''}+{len(body)}")
    await store.prune_log("audit", 4, b"note")


async def snapshot(store: Store) -> dict[str, Any]:
    everything = await store.query_entities("town", EntityQuery(reader=EVERYTHING, limit=1000))
    history = await store.temporal_query("town", TemporalQuery(
        entity_ids=[f"urn:x:s:{n}" for n in range(12)], reader=EVERYTHING))
    return {
        "entities": everything.entities,
        "granted": [e["id"] for e in (await store.query_entities("town", EntityQuery(
            reader=Reader(org="org:b"),
            limit=100))).entities],
        "near": [e["id"] for e in (await store.query_entities("town", EntityQuery(
            geo_bbox=(135.42, 34.0, 135.455, 35.0), geo_attr=V + "loc"))).entities],
        "history": history.history,
        "log": await store.read_log("audit"),
        "checkpoint": await store.log_checkpoint("audit"),
        "changes": await store.changes_after("town", 0, 1000),
        "delivery": await store.get_delivery("town", "sub"),
        "kv": await store.kv_list("contexts"),
        "types": sorted((t.type, t.count) for t in await store.entity_types("town")),
    }


class _Undo(Exception):
    """Leaves a transaction rolled back."""


def open_with(url: str, vault: Vault) -> Any:
    store: Any = open_store(url)
    store.set_classifier(Classifier())
    store.set_sealer(vault)
    return store


def test_a_sqlite_database_reads_the_same_after_migration(postgres_url: str,
                                                          tmp_path: Path) -> None:
    source = tmp_path / "cityos.db"

    async def scenario() -> None:
        vault = Vault.at(tmp_path)
        lite = open_with(f"sqlite:///{source}", vault)
        await lite.open()
        await fill(lite)
        before = await snapshot(lite)
        await lite.close()
        seen: list[tuple[str, int, int]] = []
        counts = await migrate(str(source), postgres_url,
                               lambda t, done, total: seen.append((t, done, total)))
        assert counts["entities"] == 15 and counts["logs"] == 6 and counts["grants"] == 1
        assert ("attr_instances", counts["attr_instances"], counts["attr_instances"]) in seen
        pg = open_with(postgres_url, vault)
        await pg.open()
        try:
            after = await snapshot(pg)
            assert after == before
            # the verification notices a row that differs from the source's
            conn = await asyncpg.connect(postgres_url)
            lite_conn = sqlite3.connect(source)
            try:
                totals = {t.name: lite_conn.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0]
                          for t in TABLES}
                async with conn.transaction():
                    await _verify(conn, lite_conn, totals)  # the copy as made verifies
                    await conn.execute("UPDATE kv SET value = '[]' WHERE key = 'a'")
                    with pytest.raises(MigrationError, match="kv: the copy's checksum differs"):
                        await _verify(conn, lite_conn, totals)
                    raise _Undo
            except _Undo:
                pass
            finally:
                lite_conn.close()
                await conn.close()
            assert before["near"] == ["urn:x:s:2", "urn:x:s:3", "urn:x:s:4", "urn:x:s:5"]
            assert "urn:x:r:1" in before["granted"] and "urn:x:r:0" not in before["granted"]
            # it goes on where SQLite stopped: new rows after the copied ones
            await pg.mutate("town", [("urn:x:s:99", lambda c: (sensor(99, 1.0), None))])
            newest = await pg.changes_after("town", before["changes"][-1].seq)
            assert [c.entity_id for c in newest] == ["urn:x:s:99"]
            assert (await pg.append_log("audit", [b"more"], lambda p, b: f"{p}+{len(b)}")) == 11
            with pytest.raises(MigrationError, match="not empty"):
                await migrate(str(source), postgres_url)
        finally:
            await pg.close()
            vault.close()

    asyncio.run(scenario())


def test_the_command_copies_and_reports(postgres_url: str, tmp_path: Path) -> None:
    source = tmp_path / "cityos.db"

    async def make() -> None:
        store = open_store(f"sqlite:///{source}")
        await store.open()
        await store.mutate("", [(f"urn:x:s:{n}", lambda c, n=n: (sensor(n, n), None))
                                for n in range(50)])
        await store.close()

    asyncio.run(make())
    done = subprocess.run([CITYOS, "migrate-store", "--from", f"sqlite:///{source}",
                           "--to", postgres_url], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "verified" in done.stdout and "entities" in done.stdout
    again = subprocess.run([CITYOS, "migrate-store", "--from", f"sqlite:///{source}",
                            "--to", postgres_url], capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "not empty" in again.stderr + again.stdout
    wrong = subprocess.run([CITYOS, "migrate-store", "--from", postgres_url,
                            "--to", f"sqlite:///{source}"], capture_output=True, text=True)
    assert wrong.returncode == 2
