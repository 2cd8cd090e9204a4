"""The IoT part of one running platform: registry, ingestor, MQTT subscriber and liveness loop.

Started and stopped by the app's lifespan; handlers reach it with `iot_of(app)`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from cityos.access.service import access_of
from cityos.audit.trail import trail_of
from cityos.iot.ingest import Ingestor, Message
from cityos.iot.liveness import check_liveness
from cityos.iot.mqtt import MqttIngestion
from cityos.iot.registry import DeviceRegistry
from cityos.settings import IotSettings
from cityos.trust.writes import entity_key, write_leaf

log = logging.getLogger("cityos.iot")


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

        def written(device: dict[str, Any], messages: list[Message]) -> None:
            trust = getattr(app.state, "trust", None)
            if trust is None:
                return
            tenant, entity = device["tenant"], device["entity_id"]
            via = messages[0].via
            trust.writes.record(write_leaf(
                tenant=tenant, who=f"device:{device['id']}", org=device["owner"],
                op="mqtt_ingest" if via == "mqtt" else "ingest",
                method="PUBLISH" if via == "mqtt" else "POST",
                path=f"{tenant or 'default'}/{device['id']}/attrs" if via == "mqtt"
                else "/iot/v1/ingest",
                entities=[entity], status=204, body=b"\n".join(m.payload for m in messages),
                seal=None), [entity_key(tenant, entity)])

        ingestor = Ingestor(broker, registry, access.monitor,
                            record=lambda r: trail_of(app).record(r), may_write=may_write,
                            written=written)
        return cls(registry, ingestor, app.state.settings.iot)

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


def iot_of(app: Any) -> Iot:
    iot: Iot = app.state.iot
    return iot
