"""What the self-check reads from a platform: its settings, the data dir, the store (accounts,
keys, data catalog, devices), the backup journal and, optionally, `cityos verify`."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cityos.settings import Settings

DAY = 86_400.0
EVIDENCE = Path("compliance") / "evidence.jsonl"
HISTORY = Path("compliance") / "history.jsonl"
LATEST = Path("compliance") / "latest.json"  # the newest run, for the console


@dataclass
class LiveState:
    settings: Settings
    now: float = field(default_factory=time.time)
    verify_ok: bool | None = None  # None: not run
    verify_line: str = ""
    backup_last: dict[str, Any] | None = None
    drill_last: dict[str, Any] | None = None
    key_file: Path | None = None
    key_ages: dict[str, float] = field(default_factory=dict)  # kind -> days of its newest key
    exposed: Path | None = None
    accounts: list[dict[str, Any]] = field(default_factory=list)
    unclassified: list[str] = field(default_factory=list)  # stored types the catalog lacks
    catalog_entries: int = 0
    devices: list[dict[str, Any]] = field(default_factory=list)
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)  # item id -> newest
    packages: dict[str, str] = field(default_factory=dict)  # installed distributions
    advisories: int | None = None  # advisories in the offline database (None: none given)
    vulnerable: list[Any] = field(default_factory=list)  # sbom.Finding of installed versions
    incidents: list[Any] = field(default_factory=list)  # incidents.Incident, drills included
    contacts: list[dict[str, Any]] = field(default_factory=list)  # the contact list

    def age_days(self, at: float | None) -> float | None:
        return None if at is None else (self.now - at) / DAY


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            doc = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(doc, dict):
            out.append(doc)
    return out


def append_jsonl(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "ab") as f:
        f.write(orjson.dumps(doc) + b"\n")


def run_verify(settings: Settings) -> tuple[bool, str]:
    """`cityos verify` on the platform, as its own process: whether it passed, its last line."""
    done = subprocess.run([sys.executable, "-c", "from cityos.cli import main; main()",
                           "verify", "--data-dir", str(settings.data_dir)],
                          capture_output=True, text=True)
    lines = (done.stdout + done.stderr).strip().splitlines()
    return done.returncode == 0, (lines[-1] if lines else "")


async def _from_store(settings: Settings, state: LiveState) -> None:
    from cityos.access.accounts import AccountBook
    from cityos.access.review import review_accounts
    from cityos.iot.registry import DeviceRegistry
    from cityos.personal.datacatalog import DataCatalog
    from cityos.storage import open_store

    store = open_store(settings.database_url)
    await store.open()
    try:
        state.accounts = await review_accounts(
            AccountBook(store), unused_days=settings.access.review_unused_days,
            secret_max_age_days=settings.access.secret_max_age_days, now=state.now)
        catalog = DataCatalog(store)
        await catalog.load()
        state.catalog_entries = len(catalog.entries())
        state.unclassified = sorted({t.type.rsplit("/", 1)[-1]
                                     for t in await store.entity_types("")
                                     if catalog.entry_of(t.type) is None})
        state.devices = await DeviceRegistry(store).list()
    finally:
        await store.close()


def collect(settings: Settings, verify: bool = True,
            advisories: Path | None = None) -> LiveState:
    """The live state of the platform in `settings` (blocking); `advisories`: an offline copy
    of an OSV advisory database to check the installed packages against."""
    from cityos.backup.home import BackupHome
    from cityos.compliance.sbom import audit, installed
    from cityos.keystore import KINDS, KeyStore, exposed

    state = LiveState(settings)
    home = BackupHome.of(settings)
    state.backup_last, state.drill_last = home.last("backup"), home.last("drill")
    state.key_file = home.key_file
    keys = KeyStore.at(settings.data_dir)
    for kind in KINDS:
        newest = keys.newest(kind)
        if newest is not None and newest[1].get("created"):
            state.key_ages[kind] = (state.now - float(newest[1]["created"])) / DAY
    state.exposed = exposed(settings.data_dir)
    asyncio.run(_from_store(settings, state))
    for doc in read_jsonl(settings.data_dir / EVIDENCE):
        item = str(doc.get("item", ""))
        if item and float(doc.get("at", 0)) >= float(state.evidence.get(item, {}).get("at", -1)):
            state.evidence[item] = doc
    from cityos.compliance.incidents import contacts, incidents

    state.incidents, state.contacts = incidents(settings.data_dir), contacts(settings.data_dir)
    state.packages = installed()
    if advisories is not None:
        state.advisories, state.vulnerable = audit(state.packages, advisories)
    if verify:
        state.verify_ok, state.verify_line = run_verify(settings)
    return state
