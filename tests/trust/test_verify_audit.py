"""`cityos verify` checks the whole story of the audit trail (issue #19, parts 3 and 6): every
audit record the transparency log took in must still be there. Golden tamper fixtures
(`fixtures/audit.<what>.<CODE>.sql`, run on a stopped platform's database) each name the
code the first problem must have; leaves no tree head signed yet are counted, not blamed."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from cityos.keystore import KeyStore
from cityos.settings import load_settings
from cityos.storage import open_store
from cityos.trust.service import Trust
from cityos.trust.writes import write_leaf
from conftest import CITYOS, copy_platform, sqlite_only

from .test_verify import _verify, template

__all__ = ["template"]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TAMPERS = sorted(FIXTURES.glob("audit.*.sql"))
SQLITE = sqlite_only("tampers with the SQLite file; `cityos verify` reads both engines alike")


def _audit_seqs(data: Path) -> set[int]:
    with sqlite3.connect(data / "cityos.db") as conn:
        return {seq for (seq,) in conn.execute("SELECT seq FROM logs WHERE log = 'audit'")}


def _tampered(template: Path, tmp_path: Path, fixture: Path) -> tuple[Path, int]:
    """A copy of the platform with the fixture's SQL run on it; the first audit seq it took."""
    data = tmp_path / "var"
    shutil.copytree(template, data)
    before = _audit_seqs(data)
    conn = sqlite3.connect(data / "cityos.db", isolation_level=None)
    conn.executescript(fixture.read_text())
    conn.close()
    gone = before - _audit_seqs(data)
    assert gone, f"{fixture.name} deleted nothing"
    return data, min(gone)


def _cityos_verify(data: Path, environ: dict[str, str] | None = None
                   ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CITYOS, "verify", "--data-dir", str(data)], capture_output=True,
                          text=True, timeout=120, env={**os.environ, **(environ or {})})


@SQLITE
@pytest.mark.parametrize("fixture", TAMPERS, ids=[p.name.split(".")[1] for p in TAMPERS])
def test_each_audit_deletion_is_named(template: Path, tmp_path: Path, fixture: Path) -> None:
    assert len(TAMPERS) >= 6
    code = fixture.name.split(".")[2]
    data, first = _tampered(template, tmp_path, fixture)
    problems, _ = _verify(data)
    assert problems, f"{fixture.name}: the deletion went unnoticed"
    assert problems[0].code == code, "\n".join(map(str, problems))
    assert f"audit record {first} " in problems[0].detail or \
        f"audit record {first}" == problems[0].detail.split(" (")[0], problems[0].detail


@SQLITE
def test_a_truncated_trail_with_its_head_moved_back_fails_the_command(template: Path,
                                                                      tmp_path: Path) -> None:
    data, first = _tampered(template, tmp_path,
                            FIXTURES / "audit.truncated-newest-5.AUDIT_TRUNCATED.sql")
    done = _cityos_verify(data)
    # the chain alone is intact (that is the hole this closes) …
    assert re.search(r"OK: \d+ audit records, chain intact", done.stdout), done.stdout
    # … but the records the log took in are missing
    assert done.returncode == 1, done.stdout
    assert re.search(rf"^AUDIT_TRUNCATED at \d+: audit record {first} \(and 4 after it",
                     done.stdout, re.M), done.stdout


def test_unsigned_leaves_are_counted_not_blamed(template: Path, tmp_path: Path) -> None:
    """Leaves after the newest signed tree head were never signed: taking them away cannot be
    proven, so `verify` says how many there are instead of calling it tampering."""
    data = tmp_path / "var"
    environ = copy_platform(template, data)
    settings = load_settings(data, environ=environ)

    async def append_unsigned() -> None:
        store = open_store(settings.database_url)
        await store.open()
        try:
            trust = await Trust.open(store, settings.trust, settings.public_url,
                                     KeyStore.at(settings.data_dir))
            await trust.log.append([write_leaf(
                tenant="", who="org:x", org="x", op="createEntity", method="POST",
                path="/ngsi-ld/v1/entities", entities=[f"urn:ngsi-ld:Shelter:u{n}"], status=201,
                body=b"{}", seal=None) for n in range(3)])
        finally:
            await store.close()

    asyncio.run(append_unsigned())
    done = _cityos_verify(data, environ)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 leaves not yet signed" in done.stdout, done.stdout
