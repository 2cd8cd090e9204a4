"""The IoT part of one running platform: registry, ingestor, MQTT subscriber and liveness loop.

Started and stopped by the app's lifespan; handlers reach it with `iot_of(app)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import aiomqtt

from cityos.access.service import access_of
from cityos.audit.trail import trail_of
from cityos.iot.adapters import PayloadError, now_z
from cityos.iot.commands import PENDING, check_command, command_message, status_attr
from cityos.iot.device_types import device_types
from cityos.iot.ingest import Ingestor, Message
from cityos.iot.liveness import check_liveness
from cityos.iot.mqtt import MqttIngestion, device_topic
from cityos.iot.registry import DeviceRegistry
from cityos.settings import IotSettings
from cityos.trust.writes import MAX_IDS, entity_key, write_leaf

log = logging.getLogger("cityos.iot")


class CommandError(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Iot:
    def __init__(self, registry: DeviceRegistry, ingestor: Ingestor,
                 settings: IotSettings) -> None:
        self.registry = registry
        self.ingestor = ingestor
        self.settings = settings
        self.mqtt: MqttIngestion | None = None
        self._liveness: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, app: Any) -> Iot:
        broker = app.state.broker
        access = await access_of(app)
        registry = DeviceRegistry(broker.store)

        async def may_write() -> bool:
            trust = getattr(app.state, "trust", None)
            stamper = getattr(trust, "stamper", None)
            return True if stamper is None else bool(await stamper.check())

        def written(accepted: list[tuple[dict[str, Any], list[Message]]]) -> None:
            trust = getattr(app.state, "trust", None)
            if trust is not None:
                for leaf, keys in write_records(accepted):
                    trust.writes.record(leaf, keys)

        ingestor = Ingestor(broker, registry, access.monitor,
                            record=lambda r: trail_of(app).record(r), may_write=may_write,
                            written=written)
        return cls(registry, ingestor, app.state.settings.iot)

    async def send_command(self, device: dict[str, Any], command: str, value: Any,
                           sender: str = "") -> dict[str, Any]:
        """Set the command attribute (status PENDING) on the device's entity through the
        write path, then deliver the command over MQTT. CommandError when it cannot be sent."""
        kind = device_types()[device["device_type"]]
        try:
            value = check_command(kind, command, value)
        except PayloadError as exc:
            raise CommandError(400, str(exc)) from None
        if self.mqtt is None or self.mqtt.client is None:
            raise CommandError(503, "commands travel over MQTT: iot.mqtt_url is not set or its "
                                    "broker is unreachable / MQTTブローカーに接続していません")
        text = command_message(device["id"], command, value)
        now = now_z()
        attrs = {command: {"type": "Property", "value": value, "observedAt": now},
                 status_attr(command): {"type": "Property", "value": PENDING, "observedAt": now}}
        [outcome] = await self.ingestor.ingest([Message("", text.encode(), "command",
                                                        device=device, attrs=attrs,
                                                        sender=sender)])
        if not outcome.ok:
            raise CommandError(400, outcome.error)
        topic = device_topic(self.settings.mqtt_topic_prefix, device["tenant"], device["id"],
                             "cmd")
        try:
            await self.mqtt.publish(topic, text)
        except aiomqtt.MqttError as exc:
            raise CommandError(503, f"the MQTT broker did not take the command: {exc}") from None
        return {"device": device["id"], "entity": device["entity_id"], "command": command,
                "value": value, "status": PENDING, "topic": topic}

    def start(self) -> None:
        if self.settings.mqtt_url:
            self.mqtt = MqttIngestion(self.settings.mqtt_url, self.settings.mqtt_topic_prefix,
                                      self.ingestor)
            self.mqtt.start()
        self._liveness = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.liveness_seconds)
            try:
                await check_liveness(self.registry, self.ingestor, self.ingestor.monitor)
            except Exception:
                log.exception("device liveness check failed")

    async def aclose(self) -> None:
        if self.mqtt is not None:
            await self.mqtt.aclose()
        if self._liveness is not None:
            self._liveness.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._liveness
        with contextlib.suppress(Exception):
            await self.ingestor.flush_seen()


def write_records(accepted: list[tuple[dict[str, Any], list[Message]]]
                  ) -> list[tuple[bytes, list[str]]]:
    """Transparency-log leaves for a batch's accepted messages: one per tenant and channel
    (and per 1,000 entities), naming who sent them, the entities written and the digest of
    the payloads (never a token); indexed by entity for evidence."""
    groups: dict[tuple[str, str], list[tuple[dict[str, Any], list[Message]]]] = {}
    for device, messages in accepted:
        groups.setdefault((device["tenant"], messages[0].via), []).append((device, messages))
    out = []
    for (tenant, via), group in groups.items():
        for start in range(0, len(group), MAX_IDS):
            part = group[start:start + MAX_IDS]
            first, messages = part[0]
            single = len(part) == 1
            who = messages[0].sender or (f"device:{first['id']}" if single
                                         else f"devices:{len(part)}")
            op, method, path = {
                "mqtt": ("mqtt_ingest", "PUBLISH",
                         f"{tenant or 'default'}/{first['id'] if single else '+'}/attrs"),
                "command": ("device_command", "POST", f"/iot/v1/devices/{first['id']}/commands"),
            }.get(via, ("ingest", "POST", "/iot/v1/ingest"))
            entities = list(dict.fromkeys(d["entity_id"] for d, _ in part))
            body = b"\n".join(m.payload for _, ms in part for m in ms)
            out.append((write_leaf(
                tenant=tenant, who=who, org=first["owner"] if single else "", op=op,
                method=method, path=path, entities=entities, status=204, body=body, seal=None),
                [entity_key(tenant, e) for e in entities]))
    return out


def iot_of(app: Any) -> Iot:
    iot: Iot = app.state.iot
    return iot
