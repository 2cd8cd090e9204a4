"""Security monitor: id scans raise an alert, and every alert reaches the webhook."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from .secured import Platform, make_platform


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Hook.received = []
    yield f"http://127.0.0.1:{server.server_address[1]}/alerts"
    server.shutdown()
    server.server_close()


@pytest.fixture
def watched(prepared: Any, tmp_path: Path, webhook: str) -> Iterator[Platform]:
    yield from make_platform(prepared, tmp_path / "var", alert_webhook=webhook,
                             scan_404_per_minute=5)


def test_id_scans_raise_an_alert_sent_to_the_webhook(watched: Platform) -> None:
    for n in range(6):
        r = watched.client.get(f"/ngsi-ld/v1/entities/urn:ngsi-ld:Shelter:{n}",
                               headers=watched.auth("viewer"))
        assert r.status_code == 404
    alerts = watched.client.get("/auth/v1/alerts?kind=id-scan",
                                headers=watched.auth("admin")).json()
    assert [(a["subject"], a["detail"]["per_minute"]) for a in alerts] == [("staff:viewer", 5)]
    deadline = time.monotonic() + 5
    while not _Hook.received and time.monotonic() < deadline:
        watched.client.get("/version")  # let the app's loop run the webhook task
        time.sleep(0.05)
    assert [h["cityos_alert"]["kind"] for h in _Hook.received] == ["id-scan"]
    assert _Hook.received[0]["cityos_alert"]["subject"] == "staff:viewer"


def test_unusual_volume_against_the_clients_own_baseline() -> None:
    from cityos.access.monitor import Monitor

    monitor = Monitor(store=None)  # type: ignore[arg-type]  # counting needs no store
    found = []
    minute = 60.0
    for m in range(8):
        per_minute = 400 if m == 5 else 20
        for i in range(per_minute):
            result = monitor.volume("org:a", factor=5.0, floor=100, now=m * minute + i * 0.01)
            if result is not None:
                found.append((m, result))
    assert found == [(6, (400, 20.0))]  # seen when the busy minute is over
    quiet = [monitor.volume("org:b", 5.0, 100, now=m * minute) for m in range(10)]
    assert quiet == [None] * 10
