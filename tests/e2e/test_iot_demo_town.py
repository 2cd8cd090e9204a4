"""`cityos demo`: the Toyono demo town is served with live device data, and survives a restart.

Acceptance of the IoT / demo-town issue, read through the NGSI-LD API as the staff console will.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from conftest import CITYOS, free_port
from iot.polling import until
from ngsi.notify.conftest import Receiver


class Demo:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOS_")}
        self.log = data_dir.parent / f"demo-{time.monotonic_ns()}.log"
        self.out = self.log.open("w")
        self.proc = subprocess.Popen([CITYOS, "demo", "--data-dir", str(data_dir), "--port",
                                      str(port)], stdout=self.out, stderr=subprocess.STDOUT,
                                     env={**env, "COLUMNS": "300"})
        assert until(self.healthy, 120), self.text()

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"cityos demo exited: {self.text()}")
        try:
            return httpx.get(self.url + "/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def text(self) -> str:
        return self.log.read_text("utf-8")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)
        self.out.close()



def _login(demo: Demo) -> dict[str, str]:
    found = re.search(r"username=(\S+)\s+password=(\S+)", demo.text().split("Tour")[0]
                      .split("staff (operator)")[1])
    assert found, demo.text()
    r = httpx.post(demo.url + "/auth/login", data={"username": found[1], "password": found[2]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_demo_town_lives_and_survives_a_restart(tmp_path: Path) -> None:
    data = tmp_path / "var"
    port = free_port()
    demo = Demo(data, port)
    try:
        text = demo.text()
        assert "client_secret=cs_" in text and "Tour / ツアー" in text and "出典：国土地理院" in text
        auth = _login(demo)

        def get(path: str) -> Any:
            r = httpx.get(demo.url + path, headers=auth, timeout=10)
            assert r.status_code == 200, (path, r.text)
            return r.json()

        shelters = get("/ngsi-ld/v1/entities?type=EvacuationShelter&limit=100")
        assert len(shelters) == 7
        assert "吉川小学校" in {s["name"]["value"] for s in shelters}
        assert len(get("/ngsi-ld/v1/entities?type=EmergencyEvacuationSite&limit=100")) == 7
        assert len(get("/ngsi-ld/v1/entities?type=TownArea&limit=100")) == 41
        # the simulator's devices feed the town through the ingestion path
        assert until(lambda: all("refDevice" in s and "observedAt" in s["occupancy"]
                                 for s in get("/ngsi-ld/v1/entities?type=EvacuationShelter"
                                              "&limit=100")))
        assert until(lambda: len(get("/ngsi-ld/v1/entities?type=PhotovoltaicMeasurement")) == 4)
        assert until(lambda: get("/ngsi-ld/v1/entities?type=BeaconReceiver&limit=100"))
        cars = until(lambda: get("/ngsi-ld/v1/entities?type=Vehicle&georel=within&geometry="
                                 "Polygon&coordinates=[[[135.3,34.8],[135.6,34.8],[135.6,35.0],"
                                 "[135.3,35.0],[135.3,34.8]]]"))
        assert len(cars) == 3 and all(c["speed"]["unitCode"] == "KMH" for c in cars)
        history = "/ngsi-ld/v1/temporal/entities/urn:ngsi-ld:PhotovoltaicMeasurement:solar-1" \
                  "?attrs=activePower&timerel=after&timeAt=2000-01-01T00:00:00Z"
        assert until(lambda: len(get(history).get("activePower", [])) >= 3)
        devices = get("/iot/v1/devices")
        assert len(devices) == 23 and all(d["owner"] for d in devices)
        before = len(get(history)["activePower"])
        # the demo allows loopback egress (a fresh `cityos serve` does not): a receiver on this
        # machine gets the town's notifications
        receiver = Receiver()
        try:
            r = httpx.post(demo.url + "/ngsi-ld/v1/subscriptions", headers=auth, timeout=10,
                           json={"type": "Subscription", "entities": [{"type": "EvacuationShelter"}],
                                 "notification": {"endpoint": {"uri": receiver.url}}})
            assert r.status_code == 201, r.text
            assert receiver.wait_for(lambda: bool(receiver.entities())), "no notification"
        finally:
            receiver.down()
    finally:
        demo.stop()

    again = Demo(data, port)
    try:
        auth = _login(again)  # the same demo logins are printed again
        r = httpx.get(again.url + history, headers=auth, timeout=10)
        assert len(r.json()["activePower"]) >= before  # history kept
        r = httpx.get(again.url + "/ngsi-ld/v1/entities?type=EvacuationShelter&limit=100",
                      headers=auth)
        assert len(r.json()) == 7  # loaded once, not twice
        assert len(httpx.get(again.url + "/iot/v1/devices", headers=auth).json()) == 23
        # the devices report again after the restart, with the tokens the town kept
        assert until(lambda: len(httpx.get(again.url + history, headers=auth).json()
                                  ["activePower"]) > before)
    finally:
        again.stop()
