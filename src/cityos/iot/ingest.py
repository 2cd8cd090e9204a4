"""Ingestion: a device's message, authenticated by its token, written to the entity it feeds.

The write takes the broker's own path (`store.mutate` with the NGSI-LD append semantics of
ETSI GS CIM 009 §5.6.3, then `broker.changed`), so history, subscriptions and notifications
follow as for any API write. A refused message leaves the entity untouched and its reason on
the device (`last_error`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cityos.access.monitor import Monitor
from cityos.iot.adapters import PayloadError, read_payload
from cityos.iot.commands import read_result
from cityos.iot.device_types import device_types
from cityos.iot.registry import DeviceRegistry, device_uri
from cityos.ngsi.broker import Broker
from cityos.ngsi.errors import NgsiError
from cityos.ngsi.model import change
from cityos.ngsi.model.read import read_attributes, read_entity
from cityos.ngsi.model.terms import now_iso
from cityos.storage.base import Mutation

log = logging.getLogger("cityos.iot")
REF_DEVICE = "refDevice"  # the entity's Relationship to the device that feeds it


class DeviceAuthError(Exception):
    """No live device has this token (or the token is another device's)."""


class WritesRefused(Exception):
    """The platform refuses writes now (time-stamping down: trust fails closed)."""


@dataclass
class Message:
    """One device message as it arrived (HTTP or MQTT)."""

    token: str
    payload: bytes
    via: str  # "http" | "mqtt"
    device_id: str | None = None  # the device the topic names (MQTT)
    tenant: str | None = None  # the tenant the topic names (MQTT)
    fmt: str | None = None  # the format the request declares (HTTP Content-Type)
    channel: str = "attrs"  # attrs: measurements; cmdexe: a command's result (MQTT)
    device: dict[str, Any] | None = None  # a command: the device, already authorised
    attrs: dict[str, Any] | None = None  # a command: the attributes it sets
    sender: str = ""  # a command: who sent it (the API caller)


@dataclass
class Outcome:
    device_id: str | None
    ok: bool
    error: str = ""
    attrs: list[str] = field(default_factory=list)
    tenant: str = ""  # the device's tenant (when the device is known)


Record = Callable[[dict[str, Any]], None]
# the accepted messages of a batch, by device: [(device, its messages)] → the trust part's
# transparency log (write records, as every NGSI write gets)
Written = Callable[[list[tuple[dict[str, Any], list[Message]]]], None]


class Ingestor:
    """Authenticates, reads and writes device messages; keeps devices' liveness and errors."""

    def __init__(self, broker: Broker, registry: DeviceRegistry, monitor: Monitor,
                 record: Record | None = None,
                 may_write: Callable[[], Awaitable[bool]] | None = None,
                 written: Written | None = None) -> None:
        self.broker = broker
        self.registry = registry
        self.monitor = monitor
        self.record = record
        self.may_write = may_write
        self.written = written
        self.seen: dict[str, tuple[float, int]] = {}  # device id -> (last seen, messages)

    async def ingest(self, messages: list[Message]) -> list[Outcome]:
        """Handle a batch of messages: one store transaction per tenant for the valid ones."""
        if self.may_write is not None and not await self.may_write():
            raise WritesRefused("time-stamping is unavailable, so writes are suspended")
        outcomes: list[Outcome] = []
        writes: dict[str, list[tuple[int, str, Mutation]]] = {}
        devices: dict[int, dict[str, Any]] = {}  # outcome index -> device
        ctx = await self.broker.context(None)
        ref_iri = ctx.expand_term(REF_DEVICE)
        now = now_iso()  # one arrival time for the batch (messages a few ms apart)
        for message in messages:
            outcome, device, attrs = await self._read(message, now)
            outcomes.append(outcome)
            if device is None or attrs is None:
                continue
            uri = device_uri(device["id"])
            entity = read_entity({"id": device["entity_id"], "type": device["entity_type"],
                                  **attrs}, ctx, now)
            extra: dict[str, Any] = {REF_DEVICE: {"type": "Relationship", "object": uri}}
            if device.get("location"):
                extra["location"] = {"type": "GeoProperty", "value": {
                    "type": "Point", "coordinates": device["location"]}}
            ref = read_attributes(extra, ctx, now)
            devices[len(outcomes) - 1] = device
            writes.setdefault(device["tenant"], []).append(
                (len(outcomes) - 1, device["entity_id"],
                 _append(entity, ref, ref_iri, uri, now)))
        for tenant, items in writes.items():
            results = await self.broker.store.mutate(tenant, [(i, fn) for _, i, fn in items])
            written = []
            for (index, entity_id, _), result in zip(items, results, strict=True):
                outcome = outcomes[index]
                if isinstance(result, Exception):
                    reason = str(result) if isinstance(result, NgsiError) else "write failed"
                    outcome.ok, outcome.error = False, reason
                    await self._refused(outcome.device_id or "", reason)
                else:
                    written.append(entity_id)
                    if messages[index].via != "command":  # the device itself was heard
                        self._seen(outcome.device_id or "")
            if written:
                await self.broker.changed(tenant, list(dict.fromkeys(written)))
        self._audit(messages, outcomes)
        if self.written is not None:
            accepted: dict[str, tuple[dict[str, Any], list[Message]]] = {}
            for index, device in devices.items():
                if outcomes[index].ok:
                    accepted.setdefault(device["id"], (device, []))[1].append(messages[index])
            if accepted:
                self.written(list(accepted.values()))
        return outcomes

    async def _read(self, message: Message, now: str
                    ) -> tuple[Outcome, dict[str, Any] | None, dict[str, Any] | None]:
        if message.device is not None:  # a command the platform sends: authorised by the API
            known = message.device
            return Outcome(known["id"], True, attrs=list(message.attrs or {}),
                           tenant=known["tenant"]), known, message.attrs
        device = await self.registry.by_token(message.token)
        named = message.device_id
        if device is None or (named is not None and named != device["id"]) or (
                message.tenant is not None and message.tenant != (device["tenant"] or "default")):
            await self._bad_credential(named, message.via)
            return Outcome(named, False, "unknown device or wrong credential"), None, None
        kind = device_types()[device["device_type"]]
        try:
            if message.channel == "cmdexe":
                attrs = read_result(message.payload, kind, device["id"], now)
            else:
                attrs = read_payload(message.payload, message.fmt or device["format"], kind, now)
        except PayloadError as exc:
            await self._refused(device["id"], str(exc))
            return Outcome(device["id"], False, str(exc)), None, None
        return Outcome(device["id"], True, attrs=list(attrs), tenant=device["tenant"]), device, \
            attrs

    def _seen(self, device_id: str) -> None:
        _, count = self.seen.get(device_id, (0.0, 0))
        self.seen[device_id] = (time.time(), count + 1)

    async def _refused(self, device_id: str, reason: str) -> None:
        """Keep the reason on the device (the latest one) and count the refusal."""
        try:
            device = await self.registry.get(device_id)
        except ValueError:
            return
        await self.registry.update(device_id, last_error=reason[:300], last_error_at=time.time(),
                                   rejected=int(device.get("rejected") or 0) + 1)

    async def _bad_credential(self, device_id: str | None, via: str) -> None:
        """A wrong token: recorded on the device the topic names, and a security alert."""
        if device_id is not None:
            await self._refused(device_id, f"wrong credential ({via}) / 認証情報が不正です")
        await self.monitor.alert("device-credential", device_id or "unknown-device", via=via)

    async def flush_seen(self) -> list[str]:
        """Write the liveness kept in memory to the registry; the devices that came back."""
        seen, self.seen = self.seen, {}
        back = []
        for device_id, (at, count) in seen.items():
            try:
                device = await self.registry.get(device_id)
            except ValueError:
                continue
            if device.get("offline"):
                back.append(device_id)
            await self.registry.update(device_id, last_seen=at, offline=False,
                                       messages=int(device.get("messages") or 0) + count)
        return back

    def _audit(self, messages: list[Message], outcomes: list[Outcome]) -> None:
        """The audit records of an MQTT batch (HTTP requests are audited as every request
        is): one for the accepted messages of each tenant and channel, naming the devices, and
        one per device and status for refused ones, each with the number of messages."""
        if self.record is None:
            return
        groups: dict[tuple[str, str, int, str], list[tuple[Message, str]]] = {}
        for message, outcome in zip(messages, outcomes, strict=True):
            if message.via != "mqtt":
                continue
            who = outcome.device_id or message.device_id or "unknown"
            status = 204 if outcome.ok else 401 if outcome.device_id is None or \
                outcome.error.startswith("unknown device") else 400
            key = (message.tenant or "", message.channel, status, "" if outcome.ok else who)
            groups.setdefault(key, []).append((message, who))
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for (tenant, channel, status, _), group in groups.items():
            devices = list(dict.fromkeys(who for _, who in group))
            self.record({
                "at": at, "who": f"device:{devices[0]}" if len(devices) == 1
                else f"devices:{len(devices)}", "org": "", "ip": "", "tenant": tenant[:64],
                "op": "mqtt_ingest", "method": "PUBLISH",
                "path": f"{tenant}/{devices[0] if len(devices) == 1 else '+'}/{channel}"[:512],
                "entities": [], "devices": devices[:100], "subjects": [], "status": status,
                "messages": len(group), "bytes_in": sum(len(m.payload) for m, _ in group),
                "bytes_out": 0, "ms": 0.0})


def _append(entity: dict[str, Any], ref: dict[str, Any], ref_iri: str, uri: str,
            now: str) -> Mutation:
    """Create the entity on its first message (with the device's location and `refDevice`),
    else append the measurements; `refDevice` is written again only when another device
    feeds the entity now (so that the history holds measurements, not repeats of it)."""

    def apply(cur: dict[str, Any] | None) -> tuple[Any, Any]:
        if cur is None:
            for iri, instances in ref.items():  # a measured location wins over the registered
                entity["attrs"].setdefault(iri, instances)
            return change.create(None, entity, now), None
        attrs = entity["attrs"]
        current = cur["attrs"].get(ref_iri)
        if not current or current[0].get("object") != uri:
            attrs = {**attrs, ref_iri: ref[ref_iri]}
        updated, _ = change.append(cur, entity["id"], attrs, now)
        return updated, None

    return apply
