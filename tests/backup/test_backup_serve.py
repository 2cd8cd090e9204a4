"""Backup of a real `cityos serve` while writes go on, then restore and verify, on SQLite and
on PostgreSQL; a tampered backup is refused with nothing written."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backup.sealing import reseal, unpack
from conftest import CITYOS, STORE_ENGINE, drop_database, new_database, sqlite_only

pytestmark = pytest.mark.e2e
V1 = "/ngsi-ld/v1"


def _shelter(n: int) -> dict[str, object]:
    return {"id": f"urn:ngsi-ld:Shelter:{n:05d}", "type": "Shelter",
            "name": {"type": "Property", "value": f"避難所 {n}"}}


def _cityos(*args: str, url: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CITYOS_DATABASE_URL"}
    if url:
        env["CITYOS_DATABASE_URL"] = url
    return subprocess.run([CITYOS, *args], capture_output=True, text=True, env=env)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[tuple[str, str, str]]:
    """(engine, the platform's database URL, an empty database to restore into)."""
    if request.param == "sqlite":
        if STORE_ENGINE == "postgresql":  # `serve` puts every server on PostgreSQL then
            pytest.skip("the suite runs on PostgreSQL: the [postgresql] case covers it")
        yield "sqlite", "", ""
        return
    server = str(request.getfixturevalue("postgres_server"))
    source, target = new_database(server), new_database(server)
    yield "postgresql", source, target
    drop_database(server, source)
    drop_database(server, target)


def _written(url: str, auth: dict[str, str]) -> set[str]:
    found: set[str] = set()
    offset = 0
    while True:
        page = httpx.get(f"{url}{V1}/entities", params={"type": "Shelter", "limit": 1000,
                                                         "offset": offset}, headers=auth).json()
        found |= {e["id"] for e in page}
        if len(page) < 1000:
            return found
        offset += 1000


def test_backup_while_writing_restore_verify(serve, tmp_path: Path,  # type: ignore[no-untyped-def]
                                             engine: tuple[str, str, str]) -> None:
    kind, source_url, target_url = engine
    data = tmp_path / "town"
    data.mkdir(mode=0o700)
    (data / "cityos.toml").write_text("[trust]\ncheckpoint_seconds = 0.5\n")
    db_args = ("--database-url", source_url) if source_url else ()
    init = _cityos("init", "--data-dir", str(data), *db_args)
    assert init.returncode == 0, init.stderr
    auth = {"Authorization": f"Bearer {init.stdout.strip().splitlines()[-1]}"}
    server = serve(*db_args, data_dir=data)
    for n in range(20):  # written before the backup: all of them must come back
        assert httpx.post(f"{server.url}{V1}/entities", json=_shelter(n),
                          headers=auth).status_code == 201
    head = httpx.get(f"{server.url}/trust/v1/log/tree-head", headers=auth).json()
    assert head["treeSize"] > 0
    stop, acknowledged = threading.Event(), []

    def write() -> None:  # writes go on through the whole backup
        n = 1000
        with httpx.Client(base_url=server.url, headers=auth) as client:
            while not stop.is_set():
                if client.post(f"{V1}/entities", json=_shelter(n)).status_code == 201:
                    acknowledged.append(n)
                n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        while len(acknowledged) < 5:  # the writer is under way
            stop.wait(0.05)
        made = _cityos("backup", "--data-dir", str(data), "--out-dir", str(tmp_path / "gens"),
                       "--keep", "2", url=source_url)
        during = len(acknowledged)
    finally:
        stop.set()
        writer.join()
    assert made.returncode == 0, made.stderr
    assert during > 5  # writes were acknowledged while the backup ran
    assert "新しいバックアップ鍵" in made.stdout and "backed up" in made.stdout
    backup = next((tmp_path / "gens").glob("cityos-*.cityosbk"))
    key = tmp_path / "town.backup" / "backup.key"
    assert key.stat().st_mode & 0o077 == 0
    manifest = unpack(backup, key, tmp_path / "peek")
    paths = {f["path"] for f in manifest["files"]}  # type: ignore[union-attr]
    assert {"cityos.toml", "access/admin-token.sha256"} <= paths
    assert any(p.startswith("keys/log/") for p in paths) and "backup.key" not in str(paths)
    assert manifest["engine"] == kind and manifest["treeHead"]["treeSize"] >= head["treeSize"]  # type: ignore[index]
    assert ("cityos.db" if kind == "sqlite" else "database.pgdump") in paths
    # restore into a new data dir: verified, and every write made before the backup is there
    new = tmp_path / "restored"
    restored = _cityos("restore", str(backup), "--data-dir", str(new), "--backup-home",
                       str(tmp_path / "town.backup"),
                       *(("--database-url", target_url) if target_url else ()))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "restored" in restored.stdout and "OK: transparency log of" in restored.stdout
    again = serve(*(("--database-url", target_url) if target_url else ()), data_dir=new)
    back = _written(again.url, auth)  # the admin token came back with the data dir
    assert {_shelter(n)["id"] for n in range(20)} <= back
    assert len(back) >= 20 and back <= {_shelter(n)["id"] for n in
                                        [*range(20), *acknowledged]}
    assert (new / "cityos.toml").read_text() == (data / "cityos.toml").read_text()
    # the restore drill restores into a temporary place (on PostgreSQL a scratch database
    # beside the platform's) and notes the day
    drill = _cityos("restore-drill", "--data-dir", str(data), url=source_url)
    assert drill.returncode == 0, drill.stderr
    assert "restore drill passed" in drill.stdout and backup.name in drill.stdout
    assert '"kind":"drill"' in (tmp_path / "town.backup" / "journal.jsonl").read_text()
    # into a database that is not empty: refused, and the database is left as it was
    again.stop()
    refused = _cityos("restore", str(backup), "--data-dir", str(tmp_path / "twice"),
                      "--backup-home", str(tmp_path / "town.backup"),
                      *(("--database-url", target_url) if target_url else ()))
    if kind == "postgresql":
        assert refused.returncode == 1 and "not empty" in refused.stderr
        assert not (tmp_path / "twice").exists()


def _tamper_leaf(data: Path) -> None:
    conn = sqlite3.connect(data / "cityos.db")
    conn.execute("DROP TRIGGER logs_no_update")
    conn.execute("UPDATE logs SET body = CAST(replace(CAST(body AS TEXT), 'Shelter', 'Shelteq') "
                 "AS BLOB) WHERE log = 'trust' AND CAST(body AS TEXT) LIKE '%Shelter%'")
    assert conn.total_changes > 0
    conn.commit()
    conn.close()


@sqlite_only("rewrites a log leaf in the backed-up SQLite file")
def test_tampered_backups_are_refused(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "town"
    init = _cityos("init", "--data-dir", str(data))
    auth = {"Authorization": f"Bearer {init.stdout.strip().splitlines()[-1]}"}
    server = serve(data_dir=data)
    for n in range(3):
        httpx.post(f"{server.url}{V1}/entities", json=_shelter(n), headers=auth)
    assert httpx.get(f"{server.url}/trust/v1/log/tree-head", headers=auth).status_code == 200
    backup = tmp_path / "one.cityosbk"
    assert _cityos("backup", "--data-dir", str(data), "--out", str(backup)).returncode == 0
    key = tmp_path / "town.backup" / "backup.key"
    home = ("--backup-home", str(tmp_path / "town.backup"))
    # one byte changed in the file
    flipped = tmp_path / "flipped.cityosbk"
    raw = bytearray(backup.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    flipped.write_bytes(bytes(raw))
    # re-sealed with the key by an insider: a file changed, the manifest left alone
    shown = reseal(backup, key, tmp_path / "w1", lambda d: (
        d / "access" / "admin-token.sha256").write_text("0" * 64), fix_digests=False)
    # … the log rewritten and the manifest's digests made to match: only verify can tell
    forged = reseal(backup, key, tmp_path / "w2", _tamper_leaf, fix_digests=True)
    for bad, ja, en in ((flipped, "改ざん", "altered"), (shown, "SHA-256", "does not match"),
                        (forged, "検証", "does not verify")):
        new = tmp_path / f"new-{bad.stem}"
        done = _cityos("restore", str(bad), "--data-dir", str(new), *home)
        assert done.returncode == 1, done.stdout
        assert ja in done.stderr and en in done.stderr and "Traceback" not in done.stderr
        assert not new.exists()  # nothing written
        assert not [p for p in tmp_path.iterdir() if ".restoring-" in p.name]
    assert "LEAF_MODIFIED" in done.stderr or "TREE_HEAD" in done.stderr
    # another key: a clear word, not a crash
    other = tmp_path / "other.key"
    other.write_text("A" * 43 + "=\n")
    done = _cityos("restore", str(backup), "--data-dir", str(tmp_path / "x"), "--key-file",
                   str(other))
    assert done.returncode == 1 and "another key" in done.stderr
    # the genuine one restores
    done = _cityos("restore", str(backup), "--data-dir", str(tmp_path / "good"), *home)
    assert done.returncode == 0, done.stderr


def test_backup_usage_errors_are_one_bilingual_line(tmp_path: Path) -> None:
    data = tmp_path / "town"
    none = _cityos("backup", "--data-dir", str(data), "--out", str(tmp_path / "b.cityosbk"))
    assert none.returncode == 2 and "cityos init" in none.stderr  # no platform there
    assert _cityos("init", "--data-dir", str(data)).returncode == 0
    both = _cityos("backup", "--data-dir", str(data))
    assert both.returncode == 2 and "--out-dir" in both.stderr and "どちらか" in both.stderr
    inside = _cityos("backup", "--data-dir", str(data), "--out", str(tmp_path / "b.cityosbk"),
                     "--key-file", str(data / "backup.key"))
    assert inside.returncode == 1 and "must not be inside the data dir" in inside.stderr
    assert not (data / "backup.key").exists()
    into = _cityos("backup", "--data-dir", str(data), "--out", str(data / "b.cityosbk"))
    assert into.returncode == 1 and "inside the data dir" in into.stderr
    missing = _cityos("restore", str(tmp_path / "nothing.cityosbk"), "--data-dir",
                      str(tmp_path / "new"))
    assert missing.returncode == 2 and "no backup file" in missing.stderr
    for result in (none, both, inside, into, missing):
        assert "Traceback" not in result.stderr and result.stderr.count("\n") == 1
