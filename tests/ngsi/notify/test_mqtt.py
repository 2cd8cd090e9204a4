"""MQTT notifications against a real Mosquitto started on a free port (§7.3 MQTT binding)."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from starlette.testclient import TestClient

from cityos.app import create_app
from cityos.settings import load_settings
from conftest import engine_environ, free_port, system_binary  # tests/conftest.py

V1 = "/ngsi-ld/v1"
TOPIC = "cityos/shelters"


class Mosquitto:
    def __init__(self, tmp: Path) -> None:
        self.binary = system_binary("mosquitto")
        self.port = free_port()
        self.conf = tmp / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            probe = paho.Client(paho.CallbackAPIVersion.VERSION2)
            try:
                probe.connect("127.0.0.1", self.port)
                probe.disconnect()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


class Listener:
    """A real MQTT subscriber keeping the messages published on TOPIC."""

    def __init__(self, port: int) -> None:
        self.messages: list[dict[str, Any]] = []
        self.ready = threading.Event()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *a: c.subscribe(TOPIC, qos=1)
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = lambda c, u, m: self.messages.append(orjson.loads(m.payload))
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(10)

    def wait_for(self, check: Any, seconds: float = 30) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not check():
            time.sleep(0.05)
        return bool(check())

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    m = Mosquitto(tmp_path)
    m.start()
    yield m
    m.stop()


def subscribe(client: TestClient, port: int, **notification: Any) -> None:
    sub = {"id": "urn:ngsi-ld:Subscription:mqtt", "type": "Subscription",
           "entities": [{"type": "Shelter"}],
           "notification": {"endpoint": {"uri": f"mqtt://127.0.0.1:{port}/{TOPIC}",
                                         **notification}}}
    r = client.post(f"{V1}/subscriptions", json=sub)
    assert r.status_code == 201, r.text


def occupancy(client: TestClient, value: int) -> None:
    r = client.post(f"{V1}/entityOperations/upsert", json=[
        {"id": "urn:ngsi-ld:Shelter:001", "type": "Shelter",
         "occupancy": {"type": "Property", "value": value}}])
    assert r.status_code in (201, 204), r.text


def test_a_change_is_published_with_metadata_and_body(client: TestClient,
                                                      mosquitto: Mosquitto) -> None:
    listener = Listener(mosquitto.port)
    try:
        subscribe(client, mosquitto.port, receiverInfo=[{"key": "X-Town", "value": "toyono"}],
                  notifierInfo=[{"key": "MQTT-QoS", "value": 1}])
        occupancy(client, 42)
        assert listener.wait_for(lambda: listener.messages)
        msg = listener.messages[0]
        assert msg["metadata"]["Content-Type"] == "application/json"
        assert msg["metadata"]["X-Town"] == "toyono"
        assert msg["body"]["type"] == "Notification"
        assert msg["body"]["subscriptionId"] == "urn:ngsi-ld:Subscription:mqtt"
        assert msg["body"]["data"][0]["occupancy"]["value"] == 42
    finally:
        listener.close()


def test_mqtt_broker_down_then_back_gets_the_latest_state(client: TestClient,
                                                          mosquitto: Mosquitto) -> None:
    mosquitto.stop()
    subscribe(client, mosquitto.port)
    occupancy(client, 1)
    occupancy(client, 2)
    url = f"{V1}/subscriptions/urn:ngsi-ld:Subscription:mqtt"
    deadline = time.monotonic() + 30
    while client.get(url).json()["notification"].get("timesFailed", 0) < 1:
        assert time.monotonic() < deadline, "no failure recorded"
        time.sleep(0.1)
    assert client.get(url).json()["notification"]["status"] == "failed"
    mosquitto.start()
    listener = Listener(mosquitto.port)
    try:
        assert listener.wait_for(lambda: any(
            m["body"]["data"][0]["occupancy"]["value"] == 2 for m in listener.messages))
    finally:
        listener.close()


def test_a_broker_named_localhost_is_refused_when_not_allowed(data_dir: Path,
                                                              mosquitto: Mosquitto) -> None:
    """Issue #18: the broker's name is resolved and checked when connecting; a town that does
    not list loopback publishes nothing there, and the failure names the egress rule."""
    settings = load_settings(data_dir, environ=engine_environ(), open_ngsi=True)  # no allow
    listener = Listener(mosquitto.port)
    try:
        with TestClient(create_app(settings), raise_server_exceptions=False) as app:
            literal = {"id": "urn:ngsi-ld:Subscription:literal", "type": "Subscription",
                       "entities": [{"type": "Shelter"}], "notification": {"endpoint": {
                           "uri": f"mqtt://127.0.0.1:{mosquitto.port}/{TOPIC}"}}}
            refused = app.post(f"{V1}/subscriptions", json=literal)
            assert refused.status_code == 400 and "loopback" in refused.json()["detail"]
            sub = {"id": "urn:ngsi-ld:Subscription:mqtt", "type": "Subscription",
                   "entities": [{"type": "Shelter"}], "notification": {"endpoint": {
                       "uri": f"mqtt://localhost:{mosquitto.port}/{TOPIC}"}}}
            assert app.post(f"{V1}/subscriptions", json=sub).status_code == 201
            occupancy(app, 7)
            url = f"{V1}/subscriptions/urn:ngsi-ld:Subscription:mqtt"
            deadline = time.monotonic() + 30
            while app.get(url).json()["notification"].get("status") != "failed":
                assert time.monotonic() < deadline, "no failure recorded"
                time.sleep(0.1)
            assert "egress rule: address" in app.get(url).json()["notification"]["lastError"]
        assert listener.messages == []
    finally:
        listener.close()
