"""IoT ingestion figures (issue 9): sustained MQTT ingestion into the broker.

`python -m bench iot [--devices 200] [--rate 4000] [--seconds 10]`

A Mosquitto and this process (the devices) on core 1; one `cityos serve` with `iot.mqtt_url`
on core 0. `--devices` env-sensor devices are registered; the publisher sends `--rate`
UltraLight messages a second for `--seconds` (each `t|…|h|…`: two measurements), round-robin
over the devices, QoS 1 (the broker acknowledges every message). The platform writes each
measurement through the broker's write path (entity, attribute history, change log, audit).

The figure is measurements written per second: the measurements the platform counted as
written (device message counters) over the time from the first publication until the last
was written. Messages lost on the way would show as written < sent.
Writes bench/results/iot-latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as paho

from bench._profile import Profiler
from bench._server import CLIENT_CORE, SERVER_CORE, Process, admin_token, free_port, pin_self
from cityos.iot.registry import DeviceRegistry
from cityos.settings import load_settings
from cityos.storage import open_store

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CITYOS = str(Path(sys.executable).with_name("cityos"))
MEASURES_PER_MESSAGE = 2


async def _register(data_dir: Path, devices: int) -> list[tuple[str, str]]:
    settings = load_settings(data_dir, environ={})
    store = open_store(settings.database_url)
    await store.open()
    try:
        registry = DeviceRegistry(store)
        out = []
        for n in range(devices):
            device, token = await registry.add(f"bench-{n:05d}", "env-sensor",
                                               expected_interval=3600)
            out.append((device["id"], token))
        return out
    finally:
        await store.close()


def _written(url: str, auth: dict[str, str]) -> int:
    for _ in range(20):
        r = httpx.get(f"{url}/iot/v1/devices", headers=auth, timeout=30)
        if r.status_code == 200:
            return sum(int(d["messages"] or 0) for d in r.json())
        time.sleep(0.5)  # e.g. the token's account is looked up while the server starts
    raise RuntimeError(f"GET /iot/v1/devices answered {r.status_code}: {r.text[:300]}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench iot")
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--rate", type=int, default=4000, help="messages per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--profile", action="store_true", help="py-spy the server meanwhile")
    args = parser.parse_args(argv)
    pin_self(CLIENT_CORE)
    with tempfile.TemporaryDirectory(prefix="cityos-bench-iot-") as tmp:
        root = Path(tmp)
        data = root / "var"
        subprocess.run([CITYOS, "init", "--data-dir", str(data)], check=True,
                       capture_output=True)
        devices = asyncio.run(_register(data, args.devices))
        mqtt_port, port = free_port(), free_port()
        conf = root / "mosquitto.conf"
        conf.write_text(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\n"
                        "max_queued_messages 0\nmax_inflight_messages 0\n")
        (data / "cityos.toml").write_text(
            f'[iot]\nmqtt_url = "mqtt://127.0.0.1:{mqtt_port}"\nliveness_seconds = 0.5\n')
        with Process(["mosquitto", "-c", str(conf)], core=CLIENT_CORE, log=root / "mq.log"), \
                Process([CITYOS, "serve", "--data-dir", str(data), "--port", str(port)],
                        core=SERVER_CORE, log=root / "serve.log",
                        ready_url=f"http://127.0.0.1:{port}/healthz", timeout=60) as server:
            url = f"http://127.0.0.1:{port}"
            auth = {"Authorization": f"Bearer {admin_token(data)}"}
            client = paho.Client(paho.CallbackAPIVersion.VERSION2)
            client.max_inflight_messages_set(1000)
            client.max_queued_messages_set(0)
            client.connect("127.0.0.1", mqtt_port)
            client.loop_start()
            # warm-up: one message per device (creates the entities) until all are written
            for device_id, token in devices:
                client.publish(f"cityos/default/{device_id}/attrs", f"{token} t|20|h|50", qos=1)
            deadline = time.monotonic() + 60
            while _written(url, auth) < len(devices) and time.monotonic() < deadline:
                time.sleep(0.5)
            base = _written(url, auth)
            total = int(args.rate * args.seconds)
            started = time.perf_counter()

            def load() -> None:
                for n in range(total):
                    due = started + n / args.rate
                    if (wait := due - time.perf_counter()) > 0:
                        time.sleep(wait)
                    device_id, token = devices[n % len(devices)]
                    client.publish(f"cityos/default/{device_id}/attrs",
                                   f"{token} t|{20 + n % 10}|h|{40 + n % 7}", qos=1)

            if args.profile:
                Profiler(RESULTS, args.seconds).record("iot", server.pid, load)
            else:
                load()
            sent_in = time.perf_counter() - started
            last, last_change = base, time.perf_counter()
            while time.perf_counter() - last_change < 5:
                now_written = _written(url, auth)
                if now_written != last:
                    last, last_change = now_written, time.perf_counter()
                if last - base >= total:
                    break
                time.sleep(0.25)
            elapsed = last_change - started
            written = last - base
            client.loop_stop()
            client.disconnect()
    result: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "devices": args.devices, "rate_asked": args.rate, "seconds": args.seconds,
        "messages_sent": total, "publish_seconds": round(sent_in, 2),
        "messages_written": written,
        "measurements_written": written * MEASURES_PER_MESSAGE,
        "elapsed_seconds": round(elapsed, 2),
        "measurements_per_second": round(written * MEASURES_PER_MESSAGE / elapsed),
        "note": "elapsed ends at the liveness flush (every 0.5 s) that counted the last write",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "iot-latest.json").write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0 if written == total else 1
