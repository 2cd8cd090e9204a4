"""Subscriptions to context source registrations: which registrations a subscription watches,
and the cSourceNotifications sent when they appear, change or stop matching.

ETSI GS CIM 009 v1.8 §5.11 (context source registration subscriptions), §5.2.24
(CsourceNotification, type ContextSourceNotification: `data` holds the registrations, `triggerReason` is newlyMatching,
updated or noLongerMatching). A new subscription is notified at once of the registrations it
matches; one with `timeInterval` is notified of them every interval.

Registrations change rarely and come from staff or companies, not from devices: these
notifications are sent from memory (one attempt with a timeout, the result in the
subscription's status), not through the entity change log that makes entity notifications
survive restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from cityos.ngsi.model.registration import (
    CONTEXT_KEY,
    as_entity,
    compact_registration,
    in_window,
    info_matches,
    time_window,
)
from cityos.ngsi.model.subscription import with_status
from cityos.ngsi.model.terms import now_iso
from cityos.ngsi.notify.http import DeliveryFailed, HttpSender
from cityos.ngsi.ownership import mask_registration, masks_notifications, notified_of
from cityos.ngsi.query.geo import parse_geoq
from cityos.ngsi.query.q import parse_q
from cityos.storage.base import Store

log = logging.getLogger("cityos.ngsi.csource")
Doc = dict[str, Any]
TENANTS = "ngsi.csourceSubscriptions"  # kv: tenant -> True, for the periodic ones at start


def space(tenant: str) -> str:
    return f"ngsi.csourceSubscriptions/{tenant}"


def registrations_space(tenant: str) -> str:
    return f"ngsi.registrations/{tenant}"


class Match:
    """A csource subscription compiled against its own @context (everything expanded)."""

    def __init__(self, sub: Doc, ctx: Any) -> None:
        expand = ctx.expand_term
        self.selectors = [
            ({expand(sel["type"])} if "type" in sel else None,
             {sel["id"]} if "id" in sel else None,
             re.compile(sel["idPattern"]) if "idPattern" in sel else None)
            for sel in sub.get("entities") or ()] or [(None, None, None)]
        watched = sub.get("watchedAttributes")
        self.attrs = {expand(a) for a in watched} if watched else None
        self.filters: list[Callable[[Doc], bool]] = [
            parse_q(sub[name]).bind(expand) for name in ("q", "csf") if name in sub]
        geo = sub.get("geoQ")
        if geo:
            gq = parse_geoq(str(geo["georel"]), str(geo["geometry"]), geo["coordinates"],
                            geo.get("geoproperty"))
            geo_iri = expand(gq.geoproperty)
            self.filters.append(
                lambda e: any(gq.matches(i["value"]) for i in e["attrs"].get(geo_iri, ())))
        self.window = time_window(sub["temporalQ"]) if "temporalQ" in sub else None

    def relevant(self, reg: Doc) -> Doc:
        """The registration as notified: only the RegistrationInfo elements, and in them only
        the entity selectors, that this subscription asks about (§5.11.7)."""
        infos = []
        for info in reg.get("information", ()):
            if not any(info_matches(info, types, ids, pattern, self.attrs)
                       for types, ids, pattern in self.selectors):
                continue
            if info.get("entities"):
                info = {**info, "entities": [
                    sel for sel in info["entities"]
                    if any(info_matches({"entities": [sel]}, types, ids, pattern, None)
                           for types, ids, pattern in self.selectors)]}
            infos.append(info)
        return {**reg, "information": infos}

    def __call__(self, reg: Doc | None, reg_ctx: Any) -> bool:
        if reg is None:
            return False
        if not any(info_matches(info, types, ids, pattern, self.attrs)
                   for info in reg.get("information", ())
                   for types, ids, pattern in self.selectors):
            return False
        if self.window is not None and not in_window(reg, self.window):
            return False
        if self.filters:
            entity = as_entity(reg, reg_ctx.expand_term)
            return all(f(entity) for f in self.filters)
        return True


def is_live(sub: Doc) -> bool:
    return bool(with_status(sub)["status"] == "active")


class CsourceNotifier:
    """Sends cSourceNotifications; one HTTP client, one task per periodic subscription."""

    def __init__(self, store: Store, context: Callable[[Any], Awaitable[Any]],
                 timeout: float = 5.0) -> None:
        self.store = store
        self.context = context
        self.sender = HttpSender(timeout=timeout)
        self._periodic: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._sending: set[asyncio.Task[None]] = set()
        self._in_flight: dict[tuple[str, str], set[asyncio.Task[None]]] = {}
        # status updates read-modify-write the stored subscription: serialised with the API's
        # writes and deletes, so that a late status update never brings a deleted one back
        self._lock = asyncio.Lock()

    async def save(self, tenant: str, sub: Doc) -> None:
        async with self._lock:
            await self.store.kv_put(space(tenant), sub["id"], sub)
        await self.subscribed(tenant, sub)

    async def delete(self, tenant: str, sub_id: str) -> bool:
        async with self._lock:
            found = await self.store.kv_delete(space(tenant), sub_id)
        self.unsubscribed(tenant, sub_id)
        return found

    async def start(self) -> None:
        for tenant, _ in await self.store.kv_list(TENANTS):
            for _, sub in await self.store.kv_list(space(tenant)):
                self._schedule(tenant, sub)

    async def aclose(self) -> None:
        for task in [*self._periodic.values(), *self._sending]:
            task.cancel()
        for task in [*self._periodic.values(), *self._sending]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._periodic.clear()
        await self.sender.aclose()

    async def matching(self, tenant: str, sub: Doc) -> list[Doc]:
        match = Match(sub, await self.context(sub.get(CONTEXT_KEY)))
        found = []
        for _, reg in await self.store.kv_list(registrations_space(tenant)):
            if CONTEXT_KEY in reg and match(reg, await self.context(reg[CONTEXT_KEY])):
                found.append(reg)
        return found

    async def subscribed(self, tenant: str, sub: Doc) -> None:
        """A subscription was created or changed: notify what it matches now, (re)schedule."""
        await self.store.kv_put(TENANTS, tenant, True)
        self._schedule(tenant, sub)
        if is_live(sub):
            regs = await self.matching(tenant, sub)
            if regs:
                self._spawn(tenant, sub, regs, "newlyMatching")

    def unsubscribed(self, tenant: str, sub_id: str) -> None:
        task = self._periodic.pop((tenant, sub_id), None)
        if task is not None:
            task.cancel()

    async def changed(self, tenant: str, before: Doc | None, after: Doc | None) -> None:
        """A registration was created (no `before`), updated, or deleted (no `after`)."""
        subs = await self.store.kv_list(space(tenant))
        if not subs:
            return
        reg = after or before
        assert reg is not None
        reg_ctx = await self.context(reg.get(CONTEXT_KEY))
        for _, sub in subs:
            if not is_live(sub):
                continue
            match = Match(sub, await self.context(sub.get(CONTEXT_KEY)))
            was, now = match(before, reg_ctx), match(after, reg_ctx)
            if now:
                assert after is not None
                self._spawn(tenant, sub, [after], "updated" if was else "newlyMatching")
            elif was:
                assert before is not None
                self._spawn(tenant, sub, [before], "noLongerMatching")

    def _schedule(self, tenant: str, sub: Doc) -> None:
        self.unsubscribed(tenant, sub["id"])
        if "timeInterval" in sub:
            self._periodic[(tenant, sub["id"])] = asyncio.create_task(
                self._every(tenant, sub["id"], float(sub["timeInterval"])),
                name=f"csource periodic {sub['id']}")

    async def _every(self, tenant: str, sub_id: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            sub = await self.store.kv_get(space(tenant), sub_id)
            if sub is None:
                return
            if is_live(sub):
                regs = await self.matching(tenant, sub)
                if regs:
                    await self._send(tenant, sub, regs, "newlyMatching")

    def _spawn(self, tenant: str, sub: Doc, regs: list[Doc], reason: str) -> None:
        task = asyncio.create_task(self._send(tenant, sub, regs, reason))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)
        key = (tenant, sub["id"])
        self._in_flight.setdefault(key, set()).add(task)
        task.add_done_callback(lambda t: self._in_flight.get(key, set()).discard(t))

    async def settled(self, tenant: str, sub_id: str, wait: float = 0.5) -> None:
        """Let notifications already on their way finish (at most `wait` s), so that a read
        right after a notification shows its outcome in the subscription's status."""
        pending = self._in_flight.get((tenant, sub_id))
        if pending:
            await asyncio.wait(list(pending), timeout=wait)

    async def _send(self, tenant: str, sub: Doc, regs: list[Doc], reason: str) -> None:
        # only registrations its owner may see, their secrets masked (cityos.ngsi.ownership)
        regs = [r for r in regs if notified_of(sub, r)]
        if not regs:
            return
        ctx = await self.context(sub.get(CONTEXT_KEY))
        context_url = sub.get(CONTEXT_KEY)
        match = Match(sub, ctx)
        data = [compact_registration(match.relevant(r), ctx.compact_iri) for r in regs]
        if masks_notifications(sub):
            data = [mask_registration(r) for r in data]
        body: Doc = {"id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
                     "type": "ContextSourceNotification", "subscriptionId": sub["id"],
                     "notifiedAt": now_iso(), "triggerReason": reason, "data": data}
        accept = sub["notification"]["endpoint"].get("accept")
        if accept == "application/ld+json":
            body["@context"] = context_url
        at = now_iso()
        error = ""
        try:
            await self.sender.send({**sub, "jsonldContext": context_url}, body)
        except DeliveryFailed as exc:  # unreachable, non-2xx, or refused by the egress policy
            log.info("csource notification to %s failed: %s",
                     sub["notification"]["endpoint"]["uri"], exc)
            error = str(exc) or "failed"
        await self._record(tenant, sub["id"], at, not error, error)

    async def _record(self, tenant: str, sub_id: str, at: str, ok: bool,
                      error: str = "") -> None:
        async with self._lock:
            await self._record_locked(tenant, sub_id, at, ok, error)

    async def _record_locked(self, tenant: str, sub_id: str, at: str, ok: bool,
                             error: str = "") -> None:
        sub = await self.store.kv_get(space(tenant), sub_id)
        if sub is None:  # deleted meanwhile
            return
        note = sub.setdefault("notification", {})
        note["lastNotification"] = at
        note["timesSent"] = int(note.get("timesSent", 0)) + 1
        if ok:
            note["lastSuccess"] = at
            note["status"] = "ok"
            note.pop("lastError", None)
        else:
            note["lastFailure"] = at
            note["timesFailed"] = int(note.get("timesFailed", 0)) + 1
            note["status"] = "failed"
            note["lastError"] = error  # cityos: why (e.g. the egress rule that refused it)
        await self.store.kv_put(space(tenant), sub_id, sub)
