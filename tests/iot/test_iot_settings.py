"""IoT settings are checked when read: a wrong MQTT URL stops the platform with its name."""

from __future__ import annotations

import pytest

from cityos.settings import load_settings


def test_iot_settings_from_the_environment(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(tmp_path, environ={"CITYOS_IOT_MQTT_URL": "mqtt://u:p@broker:1883",
                                                "CITYOS_IOT_LIVENESS_SECONDS": "2.5"})
    assert settings.iot.mqtt_url == "mqtt://u:p@broker:1883"
    assert settings.iot.liveness_seconds == 2.5 and settings.iot.mqtt_topic_prefix == "cityos"


@pytest.mark.parametrize("env", [{"CITYOS_IOT_MQTT_URL": "http://broker"},
                                 {"CITYOS_IOT_LIVENESS_SECONDS": "0"}])
def test_wrong_iot_settings_are_refused(tmp_path, env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"iot\.(mqtt_url|liveness_seconds)"):
        load_settings(tmp_path, environ=env)
