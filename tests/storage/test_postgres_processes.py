"""Two `cityos serve` processes on one PostgreSQL database (issue 10): every write through
either is notified once, by one process; when that process is killed mid-load the other takes
the subscription over from its durable cursor and no notification is lost."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from cityos.audit.trail import LOG as AUDIT_LOG
from conftest import CITYOS, stored_log

V1 = "/ngsi-ld/v1"


class Receiver:
    """An HTTP endpoint that counts the entity ids it is notified of."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver.lock:
                    receiver.seen.update(e["id"] for e in body["data"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def counts(self) -> Counter[str]:
        with self.lock:
            return Counter(self.seen)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()
    r.server.server_close()


def wait_until(condition: Callable[[], bool], what: str, limit: float = 90) -> None:
    """A bound on waiting, not a timing assertion: fails only when it never happens."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.1)


def write(url: str, n: int) -> None:
    r = httpx.post(f"{url}{V1}/entities", json={
        "id": f"urn:ngsi-ld:Meter:{n}", "type": "Meter",
        "reading": {"type": "Property", "value": n}}, timeout=30)
    assert r.status_code == 201, r.text


@pytest.mark.e2e
def test_two_processes_notify_once_and_survive_a_kill(serve: Any, postgres_url: str,
                                                      receiver: Receiver, tmp_path: Path) -> None:
    args = ("--open-ngsi", "--database-url", postgres_url)
    one = serve(*args, data_dir=tmp_path / "var")
    two = serve(*args, data_dir=tmp_path / "var")
    r = httpx.post(f"{one.url}{V1}/subscriptions", json={
        "type": "Subscription", "entities": [{"type": "Meter"}],
        "notification": {"endpoint": {"uri": receiver.url}}}, timeout=30)
    assert r.status_code == 201, r.text
    for n in range(40):  # over ~12 s: longer than the 5 s in which every process looks for
        write((one, two)[n % 2].url, n)  # subscriptions to deliver (notify housekeeping)
        time.sleep(0.3)
    first = {f"urn:ngsi-ld:Meter:{n}" for n in range(40)}
    wait_until(lambda: first <= set(receiver.counts()), "all 40 writes notified")
    time.sleep(3)  # room for a second process's duplicates to arrive, were there any
    counts = receiver.counts()
    assert {i: c for i, c in counts.items() if c > 1} == {}  # one process delivers
    # the delivering process (one: it took the lease first) dies mid-load
    load = threading.Thread(target=lambda: [write(two.url, n) for n in range(40, 100)])
    load.start()
    one.proc.kill()
    one.proc.wait()
    load.join()
    rest = {f"urn:ngsi-ld:Meter:{n}" for n in range(40, 100)}
    wait_until(lambda: rest <= set(receiver.counts()), "the other process took over")
    for n in range(40, 100):  # acknowledged writes are all there
        assert httpx.get(f"{two.url}{V1}/entities/urn:ngsi-ld:Meter:{n}").status_code == 200


def _cli(url: str, *args: str) -> str:
    done = subprocess.run([CITYOS, *args], capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "CITYOS_DATABASE_URL": url})
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.e2e
def test_two_processes_share_the_rate_and_the_lockout(serve: Any, postgres_url: str,
                                                      tmp_path: Path) -> None:
    data = tmp_path / "var"
    data.mkdir()
    # a rate slow enough that no token comes back during the test: only the burst counts
    (data / "cityos.toml").write_text("[access]\nrate_per_second = 0.01\nrate_burst = 5\n")
    _cli(postgres_url, "init", "--data-dir", str(data))
    _cli(postgres_url, "org", "add", "Toyono Reader", "--corporate-number", "7000012050002",
         "--read", "Meter", "--data-dir", str(data))
    password = _cli(postgres_url, "staff", "add", "tanaka", "--role", "viewer",
                    "--data-dir", str(data)).strip().splitlines()[-1]
    token = _cli(postgres_url, "token", "--data-dir", str(data), "--org", "Toyono Reader"
                 ).strip().splitlines()[-1]
    one = serve("--database-url", postgres_url, data_dir=data)
    two = serve("--database-url", postgres_url, data_dir=data)
    bearer = {"Authorization": f"Bearer {token}"}

    def read(server: Any) -> int:
        return httpx.get(f"{server.url}{V1}/entities", params={"type": "Meter"},
                         headers=bearer, timeout=30).status_code

    assert [read(one) for _ in range(5)] == [200] * 5  # the client's whole burst, through one
    allowed = 0  # by the other, before it refuses (alone it would allow a burst of 5 more)
    for _ in range(5):
        time.sleep(1)  # the processes exchange what they counted twice a second
        status = read(two)
        if status == 429:
            break
        assert status == 200
        allowed += 1
    assert status == 429 and allowed < 5, (allowed, one.stop()[-3000:])
    assert read(one) == 429

    def login(server: Any, secret: str) -> httpx.Response:
        return httpx.post(f"{server.url}/auth/login", timeout=30,
                          data={"username": "tanaka", "password": secret})

    for n in range(10):  # ten wrong passwords, spread over both processes
        assert login((one, two)[n % 2], "wrong password!").status_code == 401
    for server in (one, two):  # the account is locked on both, the right password too
        r = login(server, password)
        assert r.status_code == 429 and "Retry-After" in r.headers, r.text
    # both fed the audit trail into one transparency log: each record once, and it verifies
    one.stop()
    two.stop()  # each takes a last checkpoint on the way out
    leaves = stored_log(postgres_url, "trust")
    fed = Counter(doc["seq"] for doc in leaves if doc.get("kind") == "audit")
    trail = stored_log(postgres_url, AUDIT_LOG)
    assert len(trail) >= 15 and max(fed.values()) == 1
    assert sorted(fed) == list(range(1, len(trail) + 1))
    checked = subprocess.run([CITYOS, "verify", "--data-dir", str(data)], capture_output=True,
                             text=True, timeout=120, env={"PATH": "/usr/bin:/bin",
                                                          "CITYOS_DATABASE_URL": postgres_url})
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_a_process_with_another_vault_refuses_to_start(serve: Any, postgres_url: str,
                                                       tmp_path: Path) -> None:
    """Processes on one database share DIR/personal (the residents' keys): one started with a
    data directory of its own would seal data no other process can open, so it stops with
    the reason instead of serving."""
    serve("--database-url", postgres_url, data_dir=tmp_path / "one")
    with pytest.raises(RuntimeError) as refused:
        serve("--database-url", postgres_url, data_dir=tmp_path / "other")
    assert "personal/ (keys.db and master.key)" in str(refused.value)
    assert "鍵保管庫" in str(refused.value)
