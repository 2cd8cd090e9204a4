"""Runs a delivery worker per subscription, wakes them after writes, prunes the change log.

ETSI GS CIM 009 v1.8 §5.8.6. Writes never wait for delivery: `changed` only sets events; the
change itself is already in the durable change log (the store's outbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from cityos.ngsi.notify.http import HttpSender
from cityos.ngsi.notify.worker import Worker
from cityos.ngsi.ports import Tracker, TypeGrants, tracker_of, type_grants_of
from cityos.storage.base import Delivery, Store, shared

log = logging.getLogger("cityos.ngsi.notify")
HOUSEKEEPING = 5.0  # seconds between prunes of the change log
COMPACT_OVER = 50_000  # undelivered rows past which the log keeps one row per entity


def space(tenant: str) -> str:
    """The key/value space holding `tenant`'s subscriptions."""
    return f"ngsi.subscriptions/{tenant}"


class Notifier:
    def __init__(self, store: Store, context: Callable[[Any], Awaitable[Any]],
                 timeout: float = 5.0) -> None:
        self.store = store
        self.context = context  # async: @context value -> ActiveContext
        self.timeout = timeout
        self.workers: dict[tuple[str, str], Worker] = {}
        self._contexts: dict[tuple[str, str], Any] = {}
        self._senders: dict[str, Any] = {}
        self._housekeeper: asyncio.Task[None] | None = None
        self.pruned = 0
        self.compacted = 0
        self.compact_over = COMPACT_OVER
        self.state: Any = None  # the app's state: its `tracker` hears of every release

    def tracker(self) -> Tracker:
        """The data tracker installed now (personal/ replaces the default on app.state)."""
        return tracker_of(self.state)

    def type_grants(self) -> TypeGrants:
        """Subscribers' read grants now (access/ installs them on app.state; issue 18)."""
        return type_grants_of(self.state)

    def remember(self, tenant: str, sub_id: str, ctx: Any) -> None:
        """The resolved @context of a subscription, as it was written."""
        self._contexts[(tenant, sub_id)] = ctx

    async def start(self) -> None:
        """Resume every subscription from its durable cursor (after a restart or a crash)."""
        subs: dict[str, dict[str, Any]] = {}
        deliveries = await self.store.list_deliveries()
        for tenant in {d.tenant for d in deliveries}:
            subs.update({f"{tenant}\n{k}": v for k, v in await self.store.kv_list(space(tenant))})
        for delivery in deliveries:
            sub = subs.get(f"{delivery.tenant}\n{delivery.subscription_id}")
            if sub is None:  # deleted while its cursor was being created: let the log go
                await self.store.drop_delivery(delivery.tenant, delivery.subscription_id)
            else:
                await self._start_worker(delivery.tenant, sub, delivery)
        several = shared(self.store)
        if several is not None:  # other processes' writes (PostgreSQL)
            await several.on_changes(self._heard)
        self._housekeeper = asyncio.create_task(self._housekeeping(), name="notify housekeeping")

    def _heard(self, tenant: str) -> None:
        for (t, _), worker in self.workers.items():
            if t == tenant:
                worker.wake()

    def _lease_name(self, tenant: str, sub_id: str) -> str:
        return f"delivery\0{tenant}\0{sub_id}"

    async def _lease(self, tenant: str, sub_id: str) -> bool:
        """Whether this process delivers the subscription. Several processes on one database
        (PostgreSQL) each try its lease and exactly one holds it until it stops or dies; an
        engine without leases (SQLite: one process) always delivers (docs/decisions/0009)."""
        several = shared(self.store)
        return True if several is None else await several.lease(self._lease_name(tenant, sub_id))

    async def _release(self, tenant: str, sub_id: str) -> None:
        several = shared(self.store)
        if several is not None:
            await several.release(self._lease_name(tenant, sub_id))

    async def prepare(self, tenant: str, sub_id: str) -> None:
        """Before a new subscription is stored: its cursor, at the newest change, so that every
        change committed after it is owed a notification."""
        await self.store.start_delivery(tenant, sub_id)

    async def subscribed(self, tenant: str, sub: dict[str, Any]) -> None:
        """A subscription was created or updated: (re)start its worker with the new document."""
        worker = self.workers.get((tenant, sub["id"]))
        if worker is not None:
            worker.update(sub, await self._context(tenant, sub))
            return
        delivery = await self.store.get_delivery(tenant, sub["id"])
        if delivery is None:
            await self.prepare(tenant, sub["id"])
            delivery = await self.store.get_delivery(tenant, sub["id"])
        assert delivery is not None
        await self._start_worker(tenant, sub, delivery)

    async def unsubscribed(self, tenant: str, sub_id: str) -> None:
        worker = self.workers.pop((tenant, sub_id), None)
        if worker is not None:
            await worker.stop()
            await self._release(tenant, sub_id)
        self._contexts.pop((tenant, sub_id), None)
        await self.store.drop_delivery(tenant, sub_id)

    async def changed(self, tenant: str, entity_ids: list[str]) -> None:
        """Entities of `tenant` were written: wake its workers (they read the change log)."""
        if not entity_ids:
            return
        for (t, _), worker in self.workers.items():
            if t == tenant:
                worker.wake()

    async def status(self, tenant: str, sub: dict[str, Any]) -> dict[str, Any]:
        """`sub` with its delivery state: notification.timesSent … status, and the backlog of
        change-log rows its worker has still to look at (cityos extension, when not zero)."""
        worker = self.workers.get((tenant, sub["id"]))  # this process's state is the newest
        delivery = worker.delivery if worker is not None else await self.store.get_delivery(
            tenant, sub["id"])
        if delivery is None:
            return sub
        notification = dict(sub.get("notification") or {})
        state = delivery.state
        for key in ("timesSent", "timesFailed", "lastNotification", "lastSuccess",
                    "lastFailure", "status", "lastError"):  # lastError: cityos, why it failed
            if key in state:
                notification[key] = state[key]
        backlog = await self.store.backlog(tenant, delivery.seq)
        if backlog:
            notification["backlog"] = backlog
        return {**sub, "notification": notification}

    def metrics(self) -> dict[str, int]:
        """Counters over this process's workers, for whoever exposes metrics."""
        out = {"subscriptions": len(self.workers), "notificationsSent": 0,
               "notificationsFailed": 0, "failing": 0, "pruned": self.pruned,
               "compacted": self.compacted}
        for worker in self.workers.values():
            out["notificationsSent"] += worker.delivery.state.get("timesSent", 0)
            out["notificationsFailed"] += worker.delivery.state.get("timesFailed", 0)
            out["failing"] += worker.failures > 0
        return out

    async def context_of(self, tenant: str, sub: dict[str, Any]) -> Any:
        """The @context a subscription's terms were written with."""
        return await self._context(tenant, sub)

    async def _context(self, tenant: str, sub: dict[str, Any]) -> Any:
        ctx = self._contexts.get((tenant, sub["id"]))
        if ctx is None:  # e.g. after a restart
            ctx = await self.context(sub.get("jsonldContext"))
            self._contexts[(tenant, sub["id"])] = ctx
        return ctx

    def _sender(self, sub: dict[str, Any]) -> Any:
        scheme = str(sub["notification"]["endpoint"]["uri"]).split(":", 1)[0].lower()
        kind = "mqtt" if scheme in ("mqtt", "mqtts") else "http"
        if kind not in self._senders:
            if kind == "mqtt":
                from cityos.ngsi.notify.mqtt import MqttSender

                self._senders[kind] = MqttSender(timeout=self.timeout)
            else:
                self._senders[kind] = HttpSender(timeout=self.timeout)
        return self._senders[kind]

    async def _start_worker(self, tenant: str, sub: dict[str, Any], delivery: Delivery) -> None:
        if (tenant, sub["id"]) in self.workers:
            return
        try:
            ctx = await self._context(tenant, sub)
        except Exception:  # an @context that cannot be fetched now: housekeeping retries
            log.exception("subscription %s: its @context is not available", sub["id"])
            return
        if (tenant, sub["id"]) in self.workers:  # started meanwhile
            return
        if not await self._lease(tenant, sub["id"]):  # another process delivers it
            return
        if (tenant, sub["id"]) in self.workers:
            return
        worker = Worker(self.store, _Dispatch(self), sub, ctx, delivery, self.tracker,
                        self.type_grants)
        self.workers[(tenant, sub["id"])] = worker
        worker.start()

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(HOUSEKEEPING)
            try:
                pruned, compacted = await self.store.prune_changes(self.compact_over)
                self.pruned += pruned
                self.compacted += compacted
                # many distinct entities behind: compacting again soon would gain little
                if compacted and compacted < self.compact_over // 2:
                    self.compact_over *= 2
                elif pruned and not compacted:
                    self.compact_over = COMPACT_OVER
                if compacted:
                    log.warning("change log compacted: %d rows merged into newer rows of the "
                                "same entity (receivers behind)", compacted)
                await self._adopt()
            except Exception:
                log.exception("notification housekeeping failed")

    async def _adopt(self) -> None:
        """Start workers for subscriptions this process does not run yet (a failed start, or
        another process's that ended), and with several processes follow what the others did
        to the subscriptions this one delivers."""
        if getattr(self.store, "lease", None) is not None:
            await self._follow()
        for delivery in await self.store.list_deliveries():
            if (delivery.tenant, delivery.subscription_id) in self.workers:
                continue
            sub = await self.store.kv_get(space(delivery.tenant), delivery.subscription_id)
            if sub is not None:
                await self._start_worker(delivery.tenant, sub, delivery)

    async def _follow(self) -> None:
        """Several processes: a subscription updated or deleted through another process, or
        a lease lost with the database connection, reaches this process's worker here."""
        several = shared(self.store)
        for (tenant, sub_id), worker in list(self.workers.items()):
            sub = await self.store.kv_get(space(tenant), sub_id)
            lost = several is not None and not several.holds(self._lease_name(tenant, sub_id))
            if sub is None or lost:
                self.workers.pop((tenant, sub_id), None)
                await worker.stop()
                if not lost:
                    await self._release(tenant, sub_id)
            elif sub != worker.sub:
                worker.update(sub, await self._context(tenant, sub))

    async def aclose(self) -> None:
        if self._housekeeper is not None:
            self._housekeeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeper
        for worker in list(self.workers.values()):
            await worker.stop()
        self.workers.clear()
        for sender in self._senders.values():
            await sender.aclose()


class _Dispatch:
    """Sends through the sender of the subscription's endpoint scheme (it may be PATCHed)."""

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    async def send(self, sub: dict[str, Any], body: dict[str, Any]) -> None:
        await self.notifier._sender(sub).send(sub, body)
