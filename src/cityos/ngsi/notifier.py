"""Sending notifications: after a write, each matching subscription POSTs the entity to its endpoint.

ETSI GS CIM 009 v1.8 §5.8.6 (notification behaviour), §5.2.15 (Notification), §7.2 (HTTP binding).
On-change subscriptions only; periodic ones (timeInterval) and throttling are not sent yet.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from cityos.ngsi.model.subscription import with_status
from cityos.ngsi.model.terms import now_iso
from cityos.ngsi.model.write import View, render_entity
from cityos.ngsi.query.q import parse_q
from cityos.ngsi.query.typeexpr import parse_type_expr
from cityos.storage.base import Store

log = logging.getLogger("cityos.ngsi.notifier")
Entity = dict[str, Any]
FORMATS = {"normalized": "normalized", "concise": "concise", "keyValues": "keyValues",
           "simplified": "keyValues"}


def space(tenant: str) -> str:
    return f"ngsi.subscriptions/{tenant}"


class Notifier:
    """Keeps each tenant's subscriptions in memory (reloaded when they change) and sends."""

    def __init__(self, store: Store, context: Callable[[Any], Any], timeout: float = 5.0,
                 refresh: float = 5.0) -> None:
        self.store = store
        self.refresh = refresh
        self._read_at: dict[str, float] = {}
        self.context = context  # async: @context value -> ActiveContext
        self.timeout = timeout
        self._subs: dict[str, list[dict[str, Any]]] = {}
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._contexts: dict[tuple[str, str], Any] = {}

    def remember(self, tenant: str, sub_id: str, ctx: Any) -> None:
        """The resolved @context of a subscription, as it was written."""
        self._contexts[(tenant, sub_id)] = ctx

    def forget(self, tenant: str) -> None:
        """Subscriptions of `tenant` changed: read them again on the next write."""
        self._subs.pop(tenant, None)

    async def _subscriptions(self, tenant: str) -> list[dict[str, Any]]:
        # re-read now and then: other cityos processes sharing the store change them too
        now = time.monotonic()
        if tenant not in self._subs or now - self._read_at.get(tenant, 0.0) > self.refresh:
            self._subs[tenant] = [v for _, v in await self.store.kv_list(space(tenant))]
            self._read_at[tenant] = now
        return self._subs[tenant]

    async def changed(self, tenant: str, entity_ids: list[str]) -> None:
        """Entities were written: notify the subscriptions they match (in the background)."""
        subs = [s for s in await self._subscriptions(tenant)
                if "timeInterval" not in s and with_status(s)["status"] == "active"]
        if not subs or not entity_ids:
            return
        entities = [e for e in [await self.store.get_entity(tenant, i) for i in entity_ids] if e]
        for sub in subs:
            ctx = self._contexts.get((tenant, sub["id"]))
            if ctx is None:  # e.g. after a restart
                ctx = await self.context(sub.get("jsonldContext"))
                self._contexts[(tenant, sub["id"])] = ctx
            matched = [e for e in entities if _matches(sub, e, ctx)]
            if matched:
                task = asyncio.create_task(self._send(sub, matched, ctx))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _send(self, sub: dict[str, Any], entities: list[Entity], ctx: Any) -> None:
        params = sub["notification"]
        attrs = params.get("attributes")
        view = View(format=FORMATS.get(params.get("format", "normalized"), "normalized"),
                    attrs=frozenset(ctx.expand_term(a) for a in attrs) if attrs else None,
                    sys_attrs=bool(params.get("sysAttrs")))
        body: dict[str, Any] = {"id": f"urn:ngsi-ld:Notification:{uuid.uuid4()}",
                                "type": "Notification", "subscriptionId": sub["id"],
                                "notifiedAt": now_iso(),
                                "data": [render_entity(e, ctx, view) for e in entities]}
        endpoint = params["endpoint"]
        headers = {"Content-Type": "application/json"}
        context_url = sub.get("jsonldContext")
        if endpoint.get("accept") == "application/ld+json":
            headers["Content-Type"] = "application/ld+json"
            body["@context"] = context_url
        elif context_url:
            headers["Link"] = (f'<{context_url}>; rel="http://www.w3.org/ns/json-ld#context"; '
                               'type="application/ld+json"')
        for item in endpoint.get("receiverInfo") or ():
            if isinstance(item, dict) and "key" in item and "value" in item:
                headers[str(item["key"])] = str(item["value"])
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout)
        try:
            await self._client.post(endpoint["uri"], content=orjson.dumps(body), headers=headers)
        except httpx.HTTPError as exc:
            log.warning("notification for %s to %s failed: %s", sub["id"], endpoint["uri"], exc)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()


def _changed_attrs(entity: Entity) -> set[str]:
    """Attributes the last write touched: their instances carry the entity's modifiedAt."""
    stamp = entity.get("modifiedAt")
    return {iri for iri, instances in entity.get("attrs", {}).items()
            if any(i.get("modifiedAt") == stamp for i in instances)}


def _matches(sub: dict[str, Any], entity: Entity, ctx: Any) -> bool:
    selectors = sub.get("entities")
    if selectors and not any(_selected(s, entity, ctx) for s in selectors):
        return False
    watched = sub.get("watchedAttributes")
    if watched and not {ctx.expand_term(w) for w in watched} & _changed_attrs(entity):
        return False
    return "q" not in sub or bool(parse_q(sub["q"]).bind(ctx.expand_term)(entity))


def _selected(sel: dict[str, Any], entity: Entity, ctx: Any) -> bool:
    if "id" in sel and sel["id"] != entity["id"]:
        return False
    if "idPattern" in sel and re.fullmatch(str(sel["idPattern"]), entity["id"]) is None:
        return False
    return bool(parse_type_expr(sel["type"]).bind(ctx.expand_term)(entity["type"]))
