"""Devices publish over a real Mosquitto to a real `cityos serve`; read back over the API.

Acceptance of the IoT issue: the entity updates; a malformed payload is refused and recorded;
wrong credentials are ignored and recorded; a device that stops reporting raises an alert.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from iot.mosquitto import Mosquitto, cityos_cli, publish
from iot.polling import until

TOPIC = "cityos/default/{}/attrs"


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    m = Mosquitto(tmp_path)
    yield m
    m.stop()




def test_devices_over_mqtt(serve, mosquitto: Mosquitto, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "town"
    admin = cityos_cli("init", "--data-dir", str(data))
    quick = cityos_cli("device", "add", "kobo-1", "--type", "env-sensor", "--interval", "1",
                    "--data-dir", str(data))
    cityos_cli("device", "add", "kobo-2", "--type", "env-sensor", "--interval", "3600",
            "--data-dir", str(data))
    (data / "cityos.toml").write_text(
        f'[iot]\nmqtt_url = "{mosquitto.url}"\nliveness_seconds = 0.5\n')
    server = serve(data_dir=data)
    auth = {"Authorization": f"Bearer {admin}"}

    def get(path: str) -> httpx.Response:
        return httpx.get(server.url + path, headers=auth, timeout=10)

    def entity(n: int) -> httpx.Response:
        return get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:WeatherObserved:kobo-{n}")

    device = mosquitto.publisher()
    try:
        # the server subscribes shortly after it starts: publish until the entity shows up
        def arrived() -> bool:
            publish(device, TOPIC.format("kobo-1"), f"{quick} t|21.5|h|40")
            return entity(1).status_code == 200

        assert until(arrived), "the measurement never reached the entity"
        body = entity(1).json()
        assert body["temperature"]["value"] == 21.5 and body["temperature"]["unitCode"] == "CEL"
        assert body["refDevice"]["object"] == "urn:ngsi-ld:Device:kobo-1"
        publish(device, TOPIC.format("kobo-1"), f"{quick} t|23|h|41")
        assert until(lambda: entity(1).json()["temperature"]["value"] == 23)
        history = get("/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:WeatherObserved:kobo-1"
                      "?attrs=temperature&timerel=after&timeAt=2000-01-01T00:00:00Z").json()
        assert len(history["temperature"]) >= 2

        # malformed: refused whole, reason recorded, entity unchanged
        publish(device, TOPIC.format("kobo-1"), f"{quick} t|24|h|damp")
        last_error = lambda: get("/iot/v1/devices/kobo-1").json()["last_error"]  # noqa: E731
        assert "not a number" in (until(last_error) or "")
        assert entity(1).json()["temperature"]["value"] == 23

        # wrong credentials: kobo-1's token on kobo-2's topic, and a made-up token
        publish(device, TOPIC.format("kobo-2"), f"{quick} t|99")
        publish(device, TOPIC.format("kobo-2"), "dk_madeup t|98")
        assert "wrong credential" in (until(
            lambda: get("/iot/v1/devices/kobo-2").json()["last_error"]) or "")
        assert entity(2).status_code == 404
        assert until(lambda: get("/auth/v1/alerts?kind=device-credential").json())

        # kobo-1 (every second) stops reporting: offline alert; kobo-2 (hourly) is not overdue
        def offline() -> list[str]:
            alerts = get("/auth/v1/alerts?kind=device-offline").json()
            return [a["subject"] for a in alerts]

        assert until(offline) == ["kobo-1"]
        assert get("/iot/v1/devices/kobo-1").json()["offline"] is True
        assert get("/iot/v1/devices/kobo-2").json()["offline"] is False
    finally:
        device.loop_stop()
        device.disconnect()
