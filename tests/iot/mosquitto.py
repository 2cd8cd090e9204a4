"""A real Mosquitto on a free port for the IoT tests, and a publisher that waits for its acks."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import paho.mqtt.client as paho

from conftest import CITYOS, free_port, system_binary  # tests/conftest.py


class Mosquitto:
    def __init__(self, tmp: Path) -> None:
        self.binary = system_binary("mosquitto")
        self.port = free_port()
        self.conf = tmp / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
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
        self.stop()
        raise RuntimeError("mosquitto did not start")

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def publisher(self) -> paho.Client:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        return client

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def publish(client: paho.Client, topic: str, payload: str | bytes) -> None:
    info = client.publish(topic, payload, qos=1)
    info.wait_for_publish(10)


def cityos_cli(*args: str) -> str:
    """Run `cityos ARGS…`; the last line it printed (a token, when it prints one)."""
    done = subprocess.run([CITYOS, *args], capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]
