"""Sending a notification over MQTT (`mqtt://[user[:password]@]host[:port]/topic`, `mqtts://`).

ETSI GS CIM 009 v1.8 §7.3 (MQTT binding): the message is `{"metadata": {headers}, "body":
notification}`; notifierInfo MQTT-Version (mqtt3.1.1, mqtt5.0) and MQTT-QoS (0, 1, 2) choose the
protocol and QoS. QoS defaults to 1 here (not 0): a notification counts as delivered only once
the MQTT broker acknowledged it. The broker's name is resolved and checked by the egress policy
(cityos.egress) and the connection made to the checked address (TLS still verifies the name).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import orjson

from cityos import egress
from cityos.ngsi.notify.http import DeliveryFailed
from cityos.ngsi.notify.render import http_headers

VERSIONS = {"mqtt3.1.1": aiomqtt.ProtocolVersion.V311, "mqtt5.0": aiomqtt.ProtocolVersion.V5}


@dataclass(frozen=True)
class MqttTarget:
    tls: bool
    host: str
    port: int
    username: str | None
    password: str | None
    topic: str
    version: str


def target_of(uri: str, notifier_info: list[Any] | None) -> tuple[MqttTarget, int]:
    """Where to publish and with which QoS; ValueError for a URI that names no topic."""
    parts = urlsplit(uri)
    tls = parts.scheme.lower() == "mqtts"
    topic = unquote(parts.path.lstrip("/"))
    if not parts.hostname or not topic:
        raise ValueError("an MQTT endpoint is mqtt://host[:port]/topic")
    info = {str(i.get("key")): i.get("value") for i in notifier_info or ()
            if isinstance(i, dict)}
    version = str(info.get("MQTT-Version", "mqtt3.1.1"))
    if version not in VERSIONS:
        raise ValueError("MQTT-Version is mqtt3.1.1 or mqtt5.0")
    qos = {"0": 0, "1": 1, "2": 2}.get(str(info.get("MQTT-QoS", 1)), -1)
    if qos < 0:
        raise ValueError("MQTT-QoS is 0, 1 or 2")
    target = MqttTarget(tls, parts.hostname, parts.port or (8883 if tls else 1883),
                        unquote(parts.username) if parts.username else None,
                        unquote(parts.password) if parts.password else None, topic, version)
    return target, qos


def message(sub: dict[str, Any], body: dict[str, Any]) -> bytes:
    return orjson.dumps({"metadata": http_headers(sub), "body": body})


class MqttSender:
    """One connection per MQTT broker and credentials, shared by the subscriptions using it."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._clients: dict[tuple[Any, ...], aiomqtt.Client] = {}
        self._locks: dict[tuple[Any, ...], asyncio.Lock] = {}

    async def send(self, sub: dict[str, Any], body: dict[str, Any]) -> None:
        endpoint = sub["notification"]["endpoint"]
        try:  # EgressRefused is a ValueError too
            egress.policy().target(endpoint["uri"], ("mqtt", "mqtts"))
            target, qos = target_of(endpoint["uri"], endpoint.get("notifierInfo"))
        except ValueError as exc:
            raise DeliveryFailed(str(exc)) from None
        key = (target.tls, target.host, target.port, target.username, target.password,
               target.version)
        try:
            client = await self._client(key, target)
            await client.publish(target.topic, message(sub, body), qos=qos, timeout=self.timeout)
        except egress.EgressRefused as exc:
            raise DeliveryFailed(str(exc)[:300]) from None
        except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
            await self._drop(key)
            raise DeliveryFailed(f"MQTT {target.host}:{target.port}: {exc}"[:300]) from None

    async def _client(self, key: tuple[Any, ...], target: MqttTarget) -> aiomqtt.Client:
        async with self._locks.setdefault(key, asyncio.Lock()):
            client = self._clients.get(key)
            lost = getattr(client, "_disconnected", None)
            if isinstance(lost, asyncio.Future) and lost.done():  # dropped while idle: reconnect
                await self._drop(key)
                client = None
            if client is None:  # to the address the policy checked, not a name resolved later
                address = await egress.policy().resolve(
                    target.host, target.port, "mqtts" if target.tls else "mqtt")
                client = aiomqtt.Client(
                    address, target.port, username=target.username,
                    password=target.password, protocol=VERSIONS[target.version],
                    timeout=self.timeout,
                    tls_context=egress.tls_for(target.host) if target.tls else None)
                await asyncio.wait_for(client.__aenter__(), self.timeout)
                self._clients[key] = client
            return client

    async def _drop(self, key: tuple[Any, ...]) -> None:
        client = self._clients.pop(key, None)
        if client is not None:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)
            # a connection the broker dropped leaves its error in a future nobody awaits
            lost = getattr(client, "_disconnected", None)
            if isinstance(lost, asyncio.Future) and lost.done() and not lost.cancelled():
                lost.exception()

    async def aclose(self) -> None:
        for key in list(self._clients):
            await self._drop(key)
