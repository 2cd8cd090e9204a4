"""ACCEPTANCE (issue 6): a resident withdraws consent; the company's next query and its
subscription stop receiving that resident's data; the access log shows the releases before
(one entry per release), none after. A real `cityos serve`, a real HTTP receiver."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

# not `from conftest import …`: in a full run another folder's conftest may own that name
CITYOS = str(Path(sys.executable).with_name("cityos"))

pytestmark = pytest.mark.e2e
V1 = "/ngsi-ld/v1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """The company's notification endpoint: every entity it was sent, in order."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/notify"
        self.got: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with receiver.lock:
                    receiver.got += body["data"]
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def ids(self) -> list[str]:
        with self.lock:
            return [e["id"] for e in self.got]

    def wait_for(self, entity_id: str) -> None:
        deadline = time.monotonic() + 60
        while entity_id not in self.ids():
            assert time.monotonic() < deadline, f"{entity_id} was never notified"
            time.sleep(0.05)


def _org(data: Path, name: str, number: str, **grants: str) -> dict[str, str]:
    args = [f"--{mode}={types}" for mode, types in grants.items()]
    out = subprocess.run([CITYOS, "org", "add", name, "--corporate-number", number,
                          "--data-dir", str(data), *args], capture_output=True, text=True,
                         check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _token(url: str, creds: dict[str, str]) -> dict[str, str]:
    r = httpx.post(f"{url}/auth/token", data={"grant_type": "client_credentials",
                                              "client_id": creds["client_id"],
                                              "client_secret": creds["client_secret"]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_withdrawal_stops_queries_and_notifications(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "town"
    subprocess.run([CITYOS, "init", "--data-dir", str(data)], capture_output=True, check=True)
    types = "BeaconSighting,EvacuationShelter"
    watch = _org(data, "とよの見守りネット", "7000012050002", write=types)
    company = _org(data, "Analytics Co", "1180301018771", read=types, write="*")  # subscribes
    server = serve(data_dir=data)
    url, receiver = server.url, Receiver()
    writer, reader = _token(url, watch), _token(url, company)
    signup = httpx.post(f"{url}/auth/residents", data={"login": "hanako",
                                                       "password": "hanako-no-himitsu"})
    resident = {"Authorization": f"Bearer {signup.json()['access_token']}"}
    res = httpx.get(f"{url}/auth/v1/me", headers=resident).json()["id"]
    sighting = "urn:ngsi-ld:BeaconSighting:hanako-1"

    def write_sighting(rssi: int) -> None:
        r = httpx.post(f"{url}{V1}/entityOperations/upsert", headers=writer, json=[{
            "id": sighting, "type": "BeaconSighting",
            "rssi": {"type": "Property", "value": rssi},
            "refResident": {"type": "Relationship", "object": f"urn:ngsi-ld:Resident:{res}"}}])
        assert r.status_code in (201, 204), r.text

    def marker(n: int) -> str:
        """A non-personal write after the personal one: once it is notified, the personal
        change before it has been through the subscription (deliveries keep write order)."""
        shelter = f"urn:ngsi-ld:EvacuationShelter:marker-{n}"
        r = httpx.post(f"{url}{V1}/entities", headers=writer, json={
            "id": shelter, "type": "EvacuationShelter",
            "occupancy": {"type": "Property", "value": n}})
        assert r.status_code == 201, r.text
        receiver.wait_for(shelter)
        return shelter

    def query() -> list[str]:
        r = httpx.get(f"{url}{V1}/entities", params={"type": "BeaconSighting"}, headers=reader)
        assert r.status_code == 200, r.text
        return [e["id"] for e in r.json()]

    def access_log() -> list[dict[str, Any]]:
        r = httpx.get(f"{url}/personal/v1/me/access-log", params={"limit": 200},
                      headers=resident)
        assert r.status_code == 200, r.text
        return list(r.json()["entries"])

    r = httpx.post(f"{url}{V1}/subscriptions", headers=reader, json={
        "type": "Subscription", "entities": [{"type": "BeaconSighting"},
                                             {"type": "EvacuationShelter"}],
        "notification": {"endpoint": {"uri": receiver.url, "accept": "application/json"}}})
    assert r.status_code == 201, r.text
    # no consent: nothing of hanako's reaches the company
    write_sighting(-70)
    marker(1)
    assert sighting not in receiver.ids() and query() == []
    # she approves the company's request: the query and the subscription get her data
    consent = httpx.post(f"{url}/personal/v1/consents", headers=reader, json={
        "resident": res, "category": "location", "purpose": "ServiceProvision",
        "notice": "見守りの分析 / watch-over analytics"}).json()
    r = httpx.patch(f"{url}/personal/v1/me/consents/{consent['id']}", headers=resident,
                    json={"state": "APPROVED"})
    assert r.status_code == 200, r.text
    write_sighting(-61)
    receiver.wait_for(sighting)
    assert query() == [sighting]
    releases = 1 + receiver.ids().count(sighting)  # the query, and every notification
    deadline = time.monotonic() + 30
    while len(access_log()) < releases and time.monotonic() < deadline:
        time.sleep(0.1)
    log = access_log()
    assert len(log) == releases
    assert {e["via"] for e in log} == {"query", "notification"}
    assert all(e["entity"] == sighting and e["service"] == "Analytics Co" for e in log)
    # she withdraws: the very next query and every later notification get nothing of hers
    r = httpx.patch(f"{url}/personal/v1/me/consents/{consent['id']}", headers=resident,
                    json={"state": "WITHDRAWN"})
    assert r.json()["state"] == "WITHDRAWN"
    assert query() == []
    notified = receiver.ids().count(sighting)
    write_sighting(-55)
    marker(2)
    assert receiver.ids().count(sighting) == notified
    assert [e for e in receiver.got if e["id"] == sighting][-1]["rssi"]["value"] == -61
    assert len(access_log()) == releases  # the releases before, none after
