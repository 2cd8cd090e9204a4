"""The MQTT side of ingestion: one subscriber on the town's broker (Mosquitto) for every device.

Topic `<prefix>/<tenant>/<device-id>/attrs` (`default` names the default tenant). The broker's
own authentication cannot be seen by a subscriber, so the device's token travels in the
message: `<token> <payload>` (one space), the payload in the device's format. Use the broker's
ACLs so that only devices publish and only cityos subscribes (docs/iot.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from urllib.parse import unquote, urlsplit

import aiomqtt

from cityos.iot.ingest import Ingestor, Message, WritesRefused

log = logging.getLogger("cityos.iot.mqtt")
BATCH = 500  # messages handled in one store transaction at most
CHANNELS = ("attrs", "cmdexe")  # what devices publish: measurements, command results
SHARE = "cityos-ingest"  # the shared-subscription group of every cityos process
QUEUE = 20_000  # messages waiting at most (a full queue slows the subscriber: back-pressure)


def parse_message(topic: str, payload: bytes, prefix: str) -> Message | None:
    """The message a publication carries; None when the topic is not a device's attrs (or
    command result) topic."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != prefix or parts[3] not in CHANNELS:
        return None
    token, _, body = payload.partition(b" ")
    return Message(token.decode("latin-1"), body, "mqtt", device_id=parts[2], tenant=parts[1],
                   channel=parts[3])


def device_topic(prefix: str, tenant: str, device_id: str, channel: str) -> str:
    return f"{prefix}/{tenant or 'default'}/{device_id}/{channel}"


class MqttIngestion:
    """Subscribes to every device topic and hands messages to the ingestor in batches;
    reconnects (with back-off) whenever the broker goes away."""

    def __init__(self, url: str, prefix: str, ingestor: Ingestor) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError("iot.mqtt_url is mqtt://[user:password@]host[:port]")
        self.tls = parts.scheme == "mqtts"
        self.host = parts.hostname
        self.port = parts.port or (8883 if self.tls else 1883)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.prefix = prefix
        self.ingestor = ingestor
        self.connected = asyncio.Event()
        self.client: aiomqtt.Client | None = None
        self._queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._subscribe()), loop.create_task(self._work())]

    async def _subscribe(self) -> None:
        delay = 0.5
        while True:
            try:
                async with aiomqtt.Client(
                        self.host, self.port, username=self.username, password=self.password,
                        identifier=None, clean_session=True,
                        tls_context=ssl.create_default_context() if self.tls else None) as client:
                    # a shared subscription: several cityos processes behind a load balancer
                    # share the devices' messages instead of each writing every one
                    for channel in CHANNELS:
                        await client.subscribe(f"$share/{SHARE}/{self.prefix}/+/+/{channel}",
                                               qos=1)
                    self.client = client
                    self.connected.set()
                    log.info("MQTT ingestion subscribed at %s:%s", self.host, self.port)
                    delay = 0.5
                    async for publication in client.messages:
                        payload = publication.payload
                        if not isinstance(payload, bytes | bytearray):
                            continue
                        message = parse_message(str(publication.topic), bytes(payload),
                                                self.prefix)
                        if message is not None:
                            await self._queue.put(message)
            except aiomqtt.MqttError as exc:
                self.connected.clear()
                self.client = None
                log.warning("MQTT ingestion: broker %s:%s unreachable (%s); retrying in %.0f s",
                            self.host, self.port, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def publish(self, topic: str, payload: str) -> None:
        """Publish to a device (QoS 1: returns once the broker has it); MqttError if the
        broker is not reachable now."""
        client = self.client
        if client is None:
            raise aiomqtt.MqttError("not connected to the MQTT broker")
        await client.publish(topic, payload, qos=1, timeout=10)

    async def _work(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self.ingestor.ingest(batch)
            except WritesRefused:
                log.warning("MQTT ingestion: %d messages dropped, writes are suspended",
                            len(batch))
            except Exception:
                log.exception("MQTT ingestion failed on a batch of %d messages", len(batch))

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
