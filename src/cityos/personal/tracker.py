"""The data tracker: every release of a resident's personal data, shown to that resident.

Estonia's data tracker, the information-bank guideline's provision history (提供履歴). One
entry per released entity in the hash-chained store log `personal.access`, indexed by subject
and sealed under the subject's key (erasure shreds the history with the data).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from cityos.audit.chain import link
from cityos.personal.datacatalog import DataCatalog, local_name
from cityos.personal.vault import Vault
from cityos.storage.base import Entity, Store

LOG = "personal.access"
FLUSH_SECONDS = 0.2  # an entry is readable within a second of the release
MAX_PAGE = 200
log = logging.getLogger("cityos.personal")

NameOf = Callable[[str], Awaitable[str]]  # principal sub -> organisation / account name


def subject_key(tenant: str, subject: str) -> str:
    return f"{tenant}\x1f{subject}"


def _attr_names(entity: Entity) -> list[str]:
    attrs = entity.get("attrs")
    if isinstance(attrs, dict):
        return sorted(local_name(a) for a in attrs)
    return sorted(k for k in entity if k not in ("id", "type", "@context", "scope", "createdAt",
                                                 "modifiedAt", "deletedAt"))


class Tracker:
    """`app.state.tracker`: `released` queues (cheap, synchronous); a task writes the queue
    to the store every FLUSH_SECONDS."""

    def __init__(self, store: Store, catalog: DataCatalog, vault: Vault,
                 name_of: NameOf | None = None) -> None:
        self.store = store
        self.catalog = catalog
        self.vault = vault
        self.name_of = name_of
        # (time, recipient, tenant, entity, purpose, via, (subject, category))
        self._pending: list[tuple[float, str, str, Entity, str | None, str,
                                  tuple[str, str]]] = []
        self._task: asyncio.Task[None] | None = None

    def released(self, principal_sub: str, tenant: str, entities: list[Entity], *,
                 purpose: str | None, via: str) -> None:
        """Note that `entities` were sent to `principal_sub` (the contract's tracker hook).
        Only personal entities of a known subject, read by someone else, are kept: the
        others (most of a query's) cost no more than their classification."""
        now = time.time()
        kept = False
        for entity in entities:
            found = self.catalog.classify(tenant, entity)
            if found is None or not found[0] or principal_sub == "resident:" + found[0]:
                continue  # not personal, no known subject, or the subject's own read
            self._pending.append((now, principal_sub, tenant, entity, purpose, via, found))
            kept = True
        if kept and (self._task is None or self._task.done()):
            with contextlib.suppress(RuntimeError):  # no running loop: flush() writes it later
                self._task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        await self.flush()

    async def flush(self) -> None:
        """Write every queued release (one entry per personal entity) in one append."""
        while self._pending:
            batch, self._pending = self._pending, []
            plain: list[tuple[str, str, bytes]] = []
            keys: list[list[str]] = []
            names: dict[str, str] = {}
            for at, who, tenant, entity, purpose, via, (subject, category) in batch:
                if who not in names:
                    names[who] = await self._name(who)
                record = {"at": int(at * 1000), "recipient": who, "service": names[who],
                          "purpose": purpose, "entity": entity.get("id"),
                          "type": [local_name(t) for t in entity.get("type", [])],
                          "category": category, "attrs": _attr_names(entity), "via": via}
                plain.append((tenant, subject, orjson.dumps(record)))
                keys.append([subject_key(tenant, subject)])
            if not plain:
                continue
            def seal_all(items: list[tuple[str, str, bytes]] = plain) -> list[bytes]:
                return [self.vault.seal(*item) for item in items]

            bodies = await asyncio.to_thread(seal_all)
            try:
                await self.store.append_log(LOG, bodies, link, keys)
            except Exception:  # the store is gone: say so loudly, never fail the reads
                log.exception("could not record %d releases in the data tracker", len(bodies))
                return

    def subjects(self, tenant: str, entities: list[Entity]) -> list[str]:
        """The residents whose personal data `entities` hold (for the audit record's
        `subjects`: `touch_subjects(request, *tracker.subjects(tenant, entities))`)."""
        found = (self.catalog.classify(tenant, e) for e in entities)
        return list(dict.fromkeys(f[0] for f in found if f is not None and f[0]))

    async def _name(self, sub: str) -> str:
        if self.name_of is None:
            return ""
        try:
            return await self.name_of(sub)
        except Exception:
            return ""

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()

    async def entries(self, tenant: str, subject: str, *, limit: int = 50,
                      offset: int = 0) -> list[dict[str, Any]]:
        """The subject's access log, newest first (entries whose key was erased are gone)."""
        limit = max(1, min(limit, MAX_PAGE))
        seqs = await self.store.find_log_keys(LOG, subject_key(tenant, subject),
                                              limit=offset + limit)
        out = []
        for seq in seqs[offset:]:
            [entry] = await self.store.read_log(LOG, after=seq - 1, limit=1)
            body = self.vault.open(tenant, subject, entry.body)
            if body is not None:
                out.append({"seq": seq, **orjson.loads(body)})
        return out

    async def count(self, tenant: str, subject: str) -> int:
        """How many releases of the subject's data are recorded (readable ones)."""
        return len(await self.store.find_log_keys(LOG, subject_key(tenant, subject),
                                                  limit=1_000_000))
