"""Device commands over a real Mosquitto: set through the API, delivered to the device over MQTT,
answered by the device; the entity shows the command and its status throughout."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import paho.mqtt.client as paho
import pytest

from iot.mosquitto import Mosquitto, cityos_cli, publish
from iot.polling import until


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    m = Mosquitto(tmp_path)
    yield m
    m.stop()



def test_a_command_reaches_the_device_and_its_answer_the_entity(  # type: ignore[no-untyped-def]
        serve, mosquitto: Mosquitto, tmp_path: Path) -> None:
    data = tmp_path / "town"
    admin = cityos_cli("init", "--data-dir", str(data))
    token = cityos_cli("device", "add", "solar-9", "--type", "solar-inverter", "--data-dir", str(data))
    (data / "cityos.toml").write_text(f'[iot]\nmqtt_url = "{mosquitto.url}"\n')
    server = serve(data_dir=data)
    auth = {"Authorization": f"Bearer {admin}"}
    entity = f"{server.url}/ngsi-ld/v1/entities/urn:ngsi-ld:PhotovoltaicMeasurement:solar-9"

    received: list[str] = []
    ready = threading.Event()
    device = paho.Client(paho.CallbackAPIVersion.VERSION2)
    device.on_subscribe = lambda *a: ready.set()
    device.on_message = lambda c, u, m: received.append(m.payload.decode())
    device.connect("127.0.0.1", mosquitto.port)
    device.subscribe("cityos/default/solar-9/cmd", qos=1)
    device.loop_start()
    try:
        assert ready.wait(10)

        def command(body: object) -> httpx.Response:
            return httpx.post(f"{server.url}/iot/v1/devices/solar-9/commands", json=body,
                              headers=auth, timeout=10)

        # the server subscribes to the broker shortly after it starts
        sent = until(lambda: command({"command": "powerLimit", "value": 50}).status_code == 202)
        assert sent, command({"command": "powerLimit", "value": 50}).text
        assert until(lambda: "solar-9@powerLimit|50" in received)
        body = httpx.get(entity, headers=auth).json()
        assert body["powerLimit"]["value"] == 50
        assert body["powerLimitStatus"]["value"] == "PENDING"
        # the device answers with its own token
        publish(device, "cityos/default/solar-9/cmdexe", f"{token} solar-9@powerLimit|OK")
        assert until(lambda: httpx.get(entity, headers=auth).json()
                     ["powerLimitStatus"]["value"] == "OK")
        # refused: an undeclared command, a wrong value; nothing is sent or written
        assert command({"command": "explode", "value": 1}).status_code == 400
        assert command({"command": "powerLimit", "value": "max"}).status_code == 400
        assert command({"value": 1}).status_code == 400
        assert httpx.get(entity, headers=auth).json()["powerLimit"]["value"] == 50
        # an answer with a wrong token is ignored and recorded
        publish(device, "cityos/default/solar-9/cmdexe", "dk_forged solar-9@powerLimit|FAIL")
        assert "wrong credential" in (until(lambda: httpx.get(
            f"{server.url}/iot/v1/devices/solar-9", headers=auth).json()["last_error"]) or "")
        assert httpx.get(entity, headers=auth).json()["powerLimitStatus"]["value"] == "OK"
    finally:
        device.loop_stop()
        device.disconnect()


def test_commands_need_mqtt(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "town"
    admin = cityos_cli("init", "--data-dir", str(data))
    cityos_cli("device", "add", "solar-9", "--type", "solar-inverter", "--data-dir", str(data))
    server = serve(data_dir=data)
    r = httpx.post(f"{server.url}/iot/v1/devices/solar-9/commands",
                   json={"command": "powerLimit", "value": 50},
                   headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 503 and "MQTT" in r.json()["detail"]
    r = httpx.get(f"{server.url}/ngsi-ld/v1/entities/urn:ngsi-ld:PhotovoltaicMeasurement:solar-9",
                  headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 404  # nothing written
