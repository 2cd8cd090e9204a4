"""One subscription's delivery loop: read the change log after its cursor, notify, advance.

ETSI GS CIM 009 v1.8 §5.8.6. At least once, in order: the cursor moves only after the receiver
accepted. Entities are rendered as they are now, so a backlog coalesces to the latest state of
each entity (the bounded-backlog policy, docs/api.md). Retries back off exponentially with jitter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Protocol

from cityos.ngsi.model.subscription import with_status
from cityos.ngsi.model.terms import now_iso
from cityos.ngsi.notify.http import DeliveryFailed
from cityos.ngsi.notify.matching import Matcher
from cityos.ngsi.notify.owner import owner_of
from cityos.ngsi.notify.render import Owed, deleted_stub, notification
from cityos.ngsi.ports import EVERY_TYPE, NULL_TRACKER, Tracker, TypeGrants
from cityos.storage.base import Change, Delivery, Reader, Store, may_read_types

log = logging.getLogger("cityos.ngsi.notify")
Entity = dict[str, Any]
POLL = 1.0  # seconds between looks at the change log when nobody wakes the worker
BATCH = 200  # change-log rows per notification at most
# seconds: cursor and counters are saved at most this often while notifications flow (a crash
# may then repeat up to this much, never lose it); a failure is saved at once
SAVE_EVERY = 0.5
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 60.0
PAGE = 500


class Sender(Protocol):
    async def send(self, sub: dict[str, Any], body: dict[str, Any]) -> None: ...


def backoff(failures: int) -> float:
    """Seconds before retry number `failures`: doubling up to a minute, with jitter (50–100%)."""
    cap = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** min(failures - 1, 16))
    return cap * (0.5 + random.random() / 2)


def _ms_iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Worker:
    """Delivers one subscription; independent of every other (a dead receiver stalls only it)."""

    def __init__(self, store: Store, sender: Sender, sub: dict[str, Any], ctx: Any,
                 delivery: Delivery, tracker: Callable[[], Tracker] = lambda: NULL_TRACKER,
                 grants: Callable[[], TypeGrants] = lambda: EVERY_TYPE
                 ) -> None:
        self.store = store
        self.sender = sender
        self.tracker = tracker  # the data tracker told of what each notification released
        self.grants = grants  # the subscriber's read grants, asked before each delivery
        self.delivery = delivery
        self.failures = 0
        self._wake = asyncio.Event()  # new changes may be there
        self._kick = asyncio.Event()  # the subscription changed: stop any pause
        self._task: asyncio.Task[None] | None = None
        self._dirty = False
        self._saved_at = 0.0
        self.update(sub, ctx)
        # periodic notifications start one interval after the subscription does
        self._last_sent = time.monotonic() if "timeInterval" in sub else 0.0

    @property
    def tenant(self) -> str:
        return self.delivery.tenant

    def update(self, sub: dict[str, Any], ctx: Any) -> None:
        self.sub = sub
        self.owner, self.reader = owner_of(sub)  # personal entities as its creator may see them
        self.matcher = Matcher(sub, ctx)
        self.ctx = ctx
        self.failures = 0
        self._kick.set()
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"notify {self.sub['id']}")

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._dirty:
            await self._save()

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug or a store error: keep the worker alive, retry later
                log.exception("delivery of %s failed unexpectedly", self.sub.get("id"))
                await self._pause(POLL)

    async def _pause(self, seconds: float) -> None:
        """Sleep, cut short only by a change of the subscription."""
        self._kick.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._kick.wait(), seconds)

    async def _nap(self, seconds: float) -> None:
        """Sleep until woken by a write, or `seconds`."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    async def _step(self) -> None:
        if with_status(self.sub)["status"] != "active":
            await self._save_if_dirty()
            await self._pause(POLL)
            return
        if "timeInterval" in self.sub:
            await self._periodic()
            return
        throttle = self.sub.get("throttling")
        if throttle:
            wait = self._last_sent + float(throttle) - time.monotonic()
            if wait > 0:
                await self._pause(wait)
                return
        self._wake.clear()
        batch = await self.store.changes_after(self.tenant, self.delivery.seq, BATCH)
        if not batch:
            await self._save_if_dirty()
            await self._nap(POLL)
            return
        entities = await self._owed(batch)
        if not entities:
            self.delivery.seq = batch[-1].seq
            self._dirty = True
            await self._save_if_dirty()
            return
        if await self._send(entities):
            self.delivery.seq = batch[-1].seq
            self._dirty = True
            await self._save_if_dirty()
        else:
            await self._save()
            await self._pause(backoff(self.failures))

    async def _owed(self, batch: list[Change]) -> list[Owed]:
        """The entities `batch` owes a notification for, once each, in the order of their last
        change, as they are now (deleted ones as a stub), with what the changes did to their
        attributes and the attributes' previous instances (the earliest, for showChanges)."""
        last: dict[str, Change] = {}
        for change in batch:
            if self.matcher.owed(change):
                last.pop(change.entity_id, None)
                last[change.entity_id] = change
        if not last:
            return []
        ops: dict[str, dict[str, str]] = {}
        prev: dict[str, dict[str, Any]] = {}
        for change in batch:
            if change.entity_id in last:
                ops.setdefault(change.entity_id, {}).update(change.attrs)
                before = prev.setdefault(change.entity_id, {})
                for iri, instances in change.prev.items():
                    before.setdefault(iri, instances)
        out: list[Owed] = []
        hidden: set[str] | None = None
        reader = await self._reader()
        for entity_id, change in last.items():
            entity = await self.store.get_entity(self.tenant, entity_id, reader)
            if entity is None:
                if hidden is None:  # personal ones not for this subscriber, deleted or not
                    gone = [i for i, c in last.items() if "d" in c.op]
                    hidden = await self.store.withheld(self.tenant, gone, self.reader)
                # a deleted entity's types are the change row's (no entity row to ask)
                if "d" in change.op and entity_id not in hidden and \
                        may_read_types(reader, change.types):
                    stub = deleted_stub(entity_id, change.types, _ms_iso(change.at),
                                        (change.prev.get("@entity") or [{}])[0])
                    out.append(Owed(stub, {a: "d" for a in change.prev if a != "@entity"},
                                    change.prev))
            elif self.matcher.matches(entity):
                out.append(Owed(entity, ops[entity_id], prev[entity_id]))
        return out

    async def _reader(self) -> Reader:
        """The subscriber's Reader now: its consents (kept in the subscription) and its
        current read grants (issue 18: a grant revoked stops the next notification)."""
        if not self.owner:
            return self.reader
        types = await self.grants().reads(self.owner)
        return self.reader if types is None else replace(self.reader, types=types)

    async def _send(self, entities: list[Owed]) -> bool:
        state = self.delivery.state
        stamp = now_iso()
        state["timesSent"] = state.get("timesSent", 0) + 1
        state["lastNotification"] = stamp
        try:
            await self.sender.send(self.sub, notification(self.sub, entities, self.ctx))
        except DeliveryFailed as exc:
            self.failures += 1
            state["timesFailed"] = state.get("timesFailed", 0) + 1
            state["lastFailure"] = stamp
            state["status"] = "failed"
            state["lastError"] = str(exc)
            log.warning("notification of %s failed (%d in a row): %s", self.sub["id"],
                        self.failures, exc)
            return False
        self.failures = 0
        self.tracker().released(self.owner, self.tenant,
                                [o.entity for o in entities if "deletedAt" not in o.entity],
                                purpose=self.reader.purpose, via="notification")
        self._last_sent = time.monotonic()
        state["lastSuccess"] = stamp
        state["status"] = "ok"
        state.pop("lastError", None)
        return True

    async def _periodic(self) -> None:
        """timeInterval: every entity selected, every interval, whatever changed (§5.8.6)."""
        interval = float(self.sub["timeInterval"])
        wait = self._last_sent + interval - time.monotonic()
        if wait > 0:
            await self._pause(wait)
            return
        entities: list[Owed] = []
        offset = 0
        reader = await self._reader()
        while True:
            query = self.matcher.query(PAGE, offset)
            query.reader = reader
            page = await self.store.query_entities(self.tenant, query)
            entities += [Owed(e) for e in page.entities]
            if len(page.entities) < PAGE:
                break
            offset += PAGE
        self._last_sent = time.monotonic()
        if entities:
            await self._send(entities)
        # periodic notifications owe nothing to the change log: keep the cursor at its end
        batch = await self.store.changes_after(self.tenant, self.delivery.seq, 100_000)
        if batch:
            self.delivery.seq = batch[-1].seq
        await self._save()

    async def _save(self) -> None:
        await self.store.save_delivery(self.delivery)
        self._dirty = False
        self._saved_at = time.monotonic()

    async def _save_if_dirty(self) -> None:
        if self._dirty and time.monotonic() - self._saved_at >= SAVE_EVERY:
            await self._save()
