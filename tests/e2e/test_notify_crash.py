"""ACCEPTANCE (issue 3): no acknowledged change loses its notification across crashes.

While a client writes 10,000 changes over HTTP to a real `cityos serve`, the broker is killed with
SIGKILL twice and restarted on the same data directory, and the receiver is down for a while. In
the end the receiver holds, for every entity, at least the latest acknowledged value (duplicates
are allowed and intermediate values may coalesce, loss is not).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
V1 = "/ngsi-ld/v1"
ENTITIES = 100
PER_REQUEST = 10
REQUESTS = 1000  # 10,000 changes


class Receiver:
    """The subscriber's HTTP endpoint: the newest value it got per entity."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/notify"
        self.latest: dict[str, int] = {}
        self.notifications = 0
        self.lock = threading.Lock()
        self.start()

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                with receiver.lock:
                    receiver.notifications += 1
                    for e in body["data"]:
                        receiver.latest[e["id"]] = max(receiver.latest.get(e["id"], -1), e["n"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Writer(threading.Thread):
    """Writes batches of increasing values; remembers what the broker acknowledged."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.url = ""
        self.acked: dict[str, int] = {}
        self.done_requests = 0
        self.failed_requests = 0
        self.ready = threading.Event()  # a live broker URL is set

    def run(self) -> None:
        with httpx.Client(timeout=10) as http:
            for i in range(REQUESTS):
                first = (i % (ENTITIES // PER_REQUEST)) * PER_REQUEST
                batch = [{"id": f"urn:ngsi-ld:Counter:{k:03d}", "type": "Counter",
                          "n": {"type": "Property", "value": i}}
                         for k in range(first, first + PER_REQUEST)]
                self.ready.wait()
                try:
                    r = http.post(f"{self.url}{V1}/entityOperations/upsert", json=batch)
                except httpx.HTTPError:
                    self.failed_requests += 1  # never acknowledged: nothing is owed
                else:
                    if r.status_code in (201, 204):
                        for e in batch:
                            self.acked[e["id"]] = i
                    else:
                        self.failed_requests += 1
                self.done_requests += 1


def test_every_acknowledged_change_is_notified_across_two_sigkills(serve: Any,
                                                                    tmp_path: Path) -> None:
    data = tmp_path / "town"
    receiver = Receiver()
    server = serve("--open-ngsi", data_dir=data)
    sub = {"id": "urn:ngsi-ld:Subscription:crash", "type": "Subscription",
           "entities": [{"type": "Counter"}],
           "notification": {"endpoint": {"uri": receiver.url}, "format": "keyValues"}}
    assert httpx.post(f"{server.url}{V1}/subscriptions", json=sub).status_code == 201
    writer = Writer()
    writer.url = server.url
    writer.ready.set()
    writer.start()

    def at(requests: int) -> None:
        while writer.done_requests < requests and writer.is_alive():
            time.sleep(0.01)

    def crash_and_restart() -> Any:
        writer.ready.clear()
        server.proc.kill()  # SIGKILL: no shutdown, whatever was in flight is lost
        server.proc.wait()
        again = serve("--open-ngsi", data_dir=data)
        writer.url = again.url
        writer.ready.set()
        return again

    # request i writes group i % 10: the last five groups' final values (requests 990-994) are
    # acknowledged while the receiver is down and before the second kill, so only what the
    # broker made durable with them can still deliver them
    at(300)
    server = crash_and_restart()
    at(500)
    receiver.stop()
    at(995)
    server = crash_and_restart()
    writer.join(120)
    receiver.start()
    assert not writer.is_alive()
    assert len(writer.acked) == ENTITIES and writer.done_requests == REQUESTS

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with receiver.lock:
            missing = {k: v for k, v in writer.acked.items() if receiver.latest.get(k, -1) < v}
        if not missing:
            break
        time.sleep(0.2)
    assert not missing, f"{len(missing)} entities lack their latest acknowledged change"
    note = httpx.get(f"{server.url}{V1}/subscriptions/{sub['id']}").json()["notification"]
    assert note["timesFailed"] >= 1  # the receiver really was down
    receiver.stop()
