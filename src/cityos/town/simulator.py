"""The demo town's simulator: the devices of the town report on an accelerated clock (one real
minute is one simulated hour, starting at 06:00), through the ingestion path a real device
uses: MQTT when `iot.mqtt_url` is set, else HTTP `POST /iot/v1/ingest`.

Runs in a daemon thread of `cityos demo`, as an outside client of the platform.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import random
import threading
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import orjson

from cityos.services.watchover.walks import heard as walkers_heard
from cityos.settings import Settings
from cityos.town.loader import Town
from cityos.town.places import town_areas

log = logging.getLogger("cityos.town")
SPEED = 60.0  # simulated seconds per real second
START_HOUR = 6.0
JST = dt.timezone(dt.timedelta(hours=9))
PERIOD = 2.0  # real seconds between rounds (every device reports once a round)


class SimClock:
    def __init__(self, speed: float = SPEED, start_hour: float = START_HOUR) -> None:
        self.speed = speed
        self.start_hour = start_hour
        self.started = time.monotonic()
        self.day = dt.datetime.now(JST).date()  # the simulated day starts today

    def hour(self) -> float:
        """The simulated hour of the day, 0 ≤ h < 24."""
        return (self.start_hour + (time.monotonic() - self.started) * self.speed / 3600) % 24

    def now(self) -> dt.datetime:
        """The simulated time (JST): today at `start_hour`, then faster; days go on."""
        start = dt.datetime.combine(self.day, dt.time(), JST)
        hours = self.start_hour + (time.monotonic() - self.started) * self.speed / 3600
        return start + dt.timedelta(hours=hours)


def reading(device: dict[str, Any], hour: float, rng: random.Random, beacons: list[str]) -> str:
    """What `device` sends at simulated `hour` (in its own payload format)."""
    kind = device["type"]
    if kind == "people-counter":
        capacity = 60 + sum(map(ord, device["id"])) % 240
        # a town evacuation drill through the afternoon, a few people otherwise
        level = math.exp(-(((hour - 14.0) / 2.5) ** 2))
        count = max(0, int(capacity * level + rng.gauss(0, 3)))
        return f"c|{count}|in|{rng.randint(0, 5)}|out|{rng.randint(0, 5)}"
    if kind == "solar-inverter":
        peak = 10.0 + sum(map(ord, device["id"])) % 40
        sun = max(0.0, math.sin(math.pi * (hour - 6.0) / 12.0))
        limit = peak * device.get("powerLimit", 100.0) / 100.0  # a powerLimit command caps it
        power = min(limit, peak * sun * (0.7 + 0.3 * rng.random()))
        return orjson.dumps({"p": round(power, 2)}).decode()
    if kind == "vehicle-gps":
        lon, lat, passengers = device["position"]
        return f"g|{lon:.6f},{lat:.6f}|s|{device['speed']:.0f}|o|{passengers}"
    # beacon receivers: more sightings by day
    daytime = 1.0 if 7 <= hour <= 19 else 0.2
    seen = rng.randint(0, max(1, int(6 * daytime))) if beacons else 0
    if not seen:
        return "n|0"
    return f"n|{seen}|b|{rng.choice(beacons)}|r|{-rng.randint(55, 95)}"


class Simulator:
    """Drives every demo device: one message each per round, until the process ends."""

    def __init__(self, town: Town, settings: Settings, seed: int = 273210) -> None:
        self.town = town
        self.url = settings.public_url.rstrip("/") + "/iot/v1/ingest"
        self.health = settings.public_url.rstrip("/") + "/healthz"
        self.mqtt_url = settings.iot.mqtt_url
        self.prefix = settings.iot.mqtt_topic_prefix
        self.clock = SimClock()
        self.sightings_url = settings.public_url.rstrip("/") + "/services/v1/watchover/sightings"
        self.data_dir = settings.data_dir
        self.rng = random.Random(seed)
        self.sent = 0
        self.stops = [tuple(a["location"]["value"]["coordinates"]) for a in town_areas()]
        self.stop_names = {a["name"]["value"]: tuple(a["location"]["value"]["coordinates"])
                           for a in town_areas()}
        self._stop = threading.Event()

    def start(self) -> threading.Thread:
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per measurement
        thread = threading.Thread(target=self._run, name="town-simulator", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        self._stop.set()

    def _wait_until_served(self, client: httpx.Client) -> bool:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not self._stop.is_set():
            try:
                if client.get(self.health).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        return False

    def _run(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            if not self._wait_until_served(client):
                return
            send = self._mqtt_sender() if self.mqtt_url else self._http_sender(client)
            while not self._stop.is_set():
                hour = self.clock.hour()
                heard = walkers_heard(hour, self.rng)
                stamp = "TimeInstant|" + self.clock.now().isoformat(timespec="seconds") + "|"
                for device in self.town.devices.values():
                    if device["type"] == "vehicle-gps":
                        self._drive(device)
                    try:
                        payload = reading(device, hour, self.rng, self.town.beacons)
                        if device["type"] == "beacon-receiver":  # the simulated time
                            payload = stamp + payload
                        send(device, payload)
                        for receiver, tag, rssi, _ in heard:  # the watch-over walkers
                            if receiver == device["id"]:
                                send(device, f"{stamp}n|1|b|{tag}|r|{rssi}")
                        self.sent += 1
                    except Exception as exc:  # the platform is restarting: next round
                        log.warning("town simulator: %s could not report: %s", device["id"], exc)
                self._phones(client, [h for h in heard if h[0] not in self.town.devices])
                self._stop.wait(PERIOD)

    def _phones(self, client: httpx.Client,
                heard: list[tuple[str, str, float, tuple[float, float] | None]]) -> None:
        """Sightings of the watch-over's mobile receivers and volunteers' phones: to the
        service's write-only endpoint, with each receiver's token (demo.py keeps them)."""
        if not heard:
            return
        path = self.data_dir / "town" / "watchover-receivers.json"
        tokens = json.loads(path.read_text("utf-8")) if path.is_file() else {}
        at = self.clock.now().isoformat(timespec="seconds")
        for receiver, tag, rssi, where in heard:
            token = tokens.get(receiver)
            if not token:
                continue
            sighting: dict[str, Any] = {"tag": tag, "rssi": rssi, "at": at}
            if where is not None:
                sighting["location"] = list(where)
            try:
                client.post(self.sightings_url, json={"sightings": [sighting]},
                            headers={"Receiver-Token": token})
            except httpx.HTTPError as exc:
                log.warning("town simulator: %s could not report: %s", receiver, exc)

    def _drive(self, car: dict[str, Any]) -> None:
        """Move an on-demand car toward its next stop (a town area), about 30 km/h simulated;
        at a stop, passengers get on or off and the next stop is drawn. When the on-demand
        service runs in this process, the car is where its plan says instead."""
        from cityos.services.ondemand.runtime import planned_position

        planned = planned_position(car["id"])
        if planned is not None:
            lon, lat, aboard, speed = planned
            car["position"], car["speed"] = (lon, lat, aboard), speed
            return
        lon, lat, passengers = car.get("position") or (*car["location"], 0)
        target = car.get("target") or self.rng.choice(self.stops)
        step = 30.0 * PERIOD * SPEED / 3600 / 91.0  # km per round → degrees (roughly, here)
        d_lon, d_lat = target[0] - lon, target[1] - lat
        distance = math.hypot(d_lon, d_lat)
        if distance <= step:
            lon, lat = target
            passengers = max(0, min(8, passengers + self.rng.randint(-2, 2)))
            car["target"], car["speed"] = self.rng.choice(self.stops), 0.0
        else:
            lon, lat = lon + d_lon / distance * step, lat + d_lat / distance * step
            car["target"], car["speed"] = target, 25.0 + self.rng.random() * 15
        car["position"] = (lon, lat, passengers)

    def _obey(self, client: Any, payload: bytes) -> None:
        """A command from the platform (`<device>@<command>|<value>`): act on it, answer."""
        target, _, rest = payload.decode("utf-8", "replace").partition("@")
        command, _, value = rest.partition("|")
        device = self.town.devices.get(target)
        if device is None:
            return
        result = "OK"
        if command == "powerLimit":
            device["powerLimit"] = float(value)
        elif command == "dispatch":
            stop = self.stop_names.get(value)
            if stop is None:
                result = "unknown stop / 停留所がありません"
            else:
                device["target"] = stop
        else:
            result = "unknown command"
        client.publish(f"{self.prefix}/default/{target}/cmdexe",
                       f"{device['token']} {target}@{command}|{result}", qos=1)

    def _http_sender(self, client: httpx.Client) -> Any:
        def send(device: dict[str, Any], payload: str) -> None:
            media = "application/json" if payload.startswith("{") else "text/plain"
            client.post(self.url, content=payload.encode(),
                        headers={"Device-Token": device["token"], "Content-Type": media})

        return send

    def _mqtt_sender(self) -> Any:
        import paho.mqtt.client as paho

        parts = urlsplit(self.mqtt_url)
        client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        if parts.username:
            client.username_pw_set(unquote(parts.username),
                                   unquote(parts.password) if parts.password else None)
        if parts.scheme == "mqtts":
            client.tls_set()
        client.connect(parts.hostname or "127.0.0.1", parts.port or
                       (8883 if parts.scheme == "mqtts" else 1883))
        client.on_connect = lambda c, *_: c.subscribe(f"{self.prefix}/default/+/cmd", qos=1)
        client.on_message = lambda c, _, message: self._obey(c, message.payload)
        client.loop_start()

        def send(device: dict[str, Any], payload: str) -> None:
            client.publish(f"{self.prefix}/default/{device['id']}/attrs",
                           f"{device['token']} {payload}", qos=1)

        return send
