"""The Personal-Link state of one running platform: catalog, vault, consents, tracker, family,
links; `install(app)` sets the storage classifier and sealer and `app.state.tracker`.

Called from the app's lifespan once the store and trust are open; `close` flushes the tracker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cityos.personal.consents import ConsentBook
from cityos.personal.datacatalog import DataCatalog
from cityos.personal.family import Family
from cityos.personal.links import Links
from cityos.personal.reader import ConsentReaders
from cityos.personal.tracker import Tracker
from cityos.personal.vault import Vault, VaultError
from cityos.settings import PersonalSettings
from cityos.storage.base import Store

log = logging.getLogger("cityos.personal")


@dataclass
class Personal:
    settings: PersonalSettings
    store: Store
    catalog: DataCatalog
    vault: Vault
    consents: ConsentBook
    tracker: Tracker
    family: Family
    links: Links
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    async def run(self) -> None:
        """Mark ended consents EXPIRED now and then (their grants ended on time already)."""
        while True:
            await asyncio.sleep(self.settings.expiry_seconds)
            try:
                await self.consents.expire()
            except Exception:
                log.exception("consent expiry sweep failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.tracker.close()
        self.store.set_sealer(None)
        self.vault.close()


async def _org_name(app: Any, sub: str) -> str:
    kind, _, name = sub.partition(":")
    if kind != "org":
        return ""
    from cityos.access.service import access_of

    org = await (await access_of(app)).book.org_by_client(name)
    return str(org.get("name", "")) if org else ""


async def _one_vault(store: Store, vault: Vault, data_dir: Any) -> None:
    """Refuse to run with a vault other than the platform's: every process on one database
    must share `DIR/personal` (its keys and master key). With a vault of its own a process
    could read no resident's sealed data and would seal new data no other process can open."""
    held = await store.kv_add("personal", "vault", {"id": vault.identity})
    if held.get("id") != vault.identity:
        vault.close()
        raise VaultError(
            f"{data_dir}/personal の鍵保管庫がこのデータベースのものと異なります。同じデータベースを使う"
            "すべての cityos プロセスで personal/ (keys.db と master.key) を共有してください / the "
            f"vault in {data_dir}/personal is not this database's: every cityos process on one "
            "database must share personal/ (keys.db and master.key)")


def _ledger(settings: Any) -> Callable[[str, str, float], None]:
    """Write each erasure to the erasure ledger beside the backups, so that a restore of a
    backup taken before it erases the resident again (cityos.backup.home)."""
    from cityos.backup.home import BackupHome

    home = BackupHome.of(settings)

    def record(tenant: str, subject: str, at: float) -> None:
        try:
            home.record_erasures([(tenant, subject, at)])
        except OSError as exc:  # the erasure itself stands; the next backup records it
            log.error("cannot write the erasure ledger in %s (%s): the next `cityos backup` "
                      "records the erasure / 消去台帳に書けません", home.directory, exc)

    return record


async def install(app: Any) -> Personal:
    """Open Personal-Link for `app` (store and trust open): classifier and sealer on the store,
    the tracker on `app.state.tracker`, the state on `app.state.personal`."""
    settings = app.state.settings
    store: Store = app.state.broker.store
    catalog = DataCatalog(store)
    await catalog.load()
    vault = await asyncio.to_thread(Vault.at, settings.data_dir, settings.personal.master_key)
    await _one_vault(store, vault, settings.data_dir)
    vault.on_erase = _ledger(settings)
    trust = app.state.trust
    consents = ConsentBook(store, vault, trust.log.key, trust.log)
    family = Family(store)
    await family.load()

    async def name_of(sub: str) -> str:
        return await _org_name(app, sub)

    tracker = Tracker(store, catalog, vault, name_of)
    personal = Personal(settings.personal, store, catalog, vault, consents, tracker, family,
                        Links(store))
    store.set_classifier(catalog)
    store.set_sealer(vault)
    app.state.tracker = tracker
    app.state.readers = ConsentReaders()  # each request's consent Reader (ngsi/ports.py)
    app.state.personal = personal
    personal._task = asyncio.get_running_loop().create_task(personal.run())
    return personal


def personal_of(app: Any) -> Personal:
    """The app's Personal-Link state (RuntimeError before the lifespan opened it)."""
    personal: Personal | None = getattr(app.state, "personal", None)
    if personal is None:
        raise RuntimeError("Personal-Link is not running")
    return personal
