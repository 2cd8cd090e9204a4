"""Issue #18, attacks 7 and 8 against a real `cityos serve` (tests/e2e/attack_town.py):
federation poisoning and query leakage; outbound requests that go anywhere.

The town allows egress to exactly `LISTENER_PORTS` on 127.0.0.1 (its own services); everything
else local, private or link-local is refused, as in a fresh `cityos serve`.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

import attack_town
import pytest
from attack_town import LISTENER_PORTS, V1, Town, entity

from ngsi.notify.conftest import Receiver

town = attack_town.town  # the fixture (one server for this module)
attack_template = attack_town.attack_template

REGS = f"{V1}/csourceRegistrations"
SUBS = f"{V1}/subscriptions"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


class Source:
    """A context source on loopback that records every request it gets (path and query) and
    answers every query with `answer`."""

    def __init__(self, port: int = 0) -> None:
        self.asked: list[str] = []
        self.answer: list[dict[str, Any]] = []
        source = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, payload: Any, status: int = 200) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # query or retrieval
                source.asked.append(self.path)
                if self.path.startswith(f"{V1}/entities/"):
                    wanted = self.path.split("?")[0].rsplit("/", 1)[1]
                    found = [e for e in source.answer if quote(e["id"], safe=":") == wanted]
                    self._reply(found[0] if found else {"type": "NotFound"},
                                200 if found else 404)
                else:
                    self._reply(source.answer)

            def do_POST(self) -> None:  # a batch query, or a notification
                length = int(self.headers.get("content-length", 0))
                source.asked.append(f"{self.path} {self.rfile.read(length).decode()}")
                self._reply(source.answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def source() -> Iterator[Source]:
    """A source on a port the town allows."""
    s = Source(LISTENER_PORTS[0])
    yield s
    s.close()


def _name() -> str:
    return uuid.uuid4().hex[:8]


def registration(endpoint: str, *types: str, **extra: Any) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:ContextSourceRegistration:{_name()}",
            "type": "ContextSourceRegistration", "endpoint": endpoint,
            "information": [{"entities": [{"type": t} for t in types]}], **extra}


def observed(value: Any, at: str) -> dict[str, Any]:
    return {"type": "Property", "value": value, "observedAt": at}


def level_of(town: Town, who: str, path: str, **params: Any) -> list[Any]:
    r = town.get(who, path, params=params)
    assert r.status_code == 200, r.text
    found = r.json() if isinstance(r.json(), list) else [r.json()]
    return [e["level"]["value"] for e in found if "level" in e]


# attack 7: federation poisoning and query leakage -----------------------------------------------
def test_c_registering_for_b_types_serves_only_c(town: Town, source: Source) -> None:
    """C (write `*`) registers its endpoint for Beta and a personal type. B's queries — with
    their private `q` — never reach C's endpoint, and C's answer (a later observedAt) does not
    replace B's value; only a staff admin's approval lets the source serve everyone."""
    beta = f"urn:ngsi-ld:Beta:fed-{_name()}"
    made = town.post("B", f"{V1}/entities", json={
        "id": beta, "type": "Beta", "level": observed(1, "2026-01-01T00:00:00Z")})
    assert made.status_code == 201, made.text
    source.answer = [{"id": beta, "type": "Beta", "level": observed(666, "2030-01-01T00:00:00Z")}]
    reg = registration(source.url, "Beta", "HealthCheckup")
    r = town.post("C", REGS, json=reg)
    assert r.status_code == 201, r.text
    secret = 'level==1|diagnosis=="佐藤さんの血圧"'
    try:
        assert level_of(town, "B", f"{V1}/entities", type="Beta", q=secret) == [1]
        assert level_of(town, "B", f"{V1}/entities/{beta}") == [1]
        assert level_of(town, "B", f"{V1}/entities", type="HealthCheckup") == []
        assert source.asked == [], "B's query reached C's endpoint"

        # a staff admin approves it for everyone: B's queries now go there (the test can fail)
        approved = town.request("PUT", "admin", f"{REGS}/{reg['id']}/approval")
        assert approved.status_code == 204, approved.text
        town.get("B", f"{V1}/entities", params={"type": "Beta", "q": "level==1"})
        assert any("type=Beta" in a for a in source.asked), source.asked

        # C changes its registration afterwards: the approval is gone
        changed = town.patch("C", f"{REGS}/{reg['id']}", json={"registrationName": "mine"})
        assert changed.status_code == 204, changed.text
        source.asked.clear()
        assert level_of(town, "B", f"{V1}/entities", type="Beta", q=secret) == [1]
        assert source.asked == []
    finally:
        town.delete("C", f"{REGS}/{reg['id']}")


def test_only_staff_admins_approve(town: Town, source: Source) -> None:
    reg = registration(source.url, "Gamma")
    assert town.post("C", REGS, json=reg).status_code == 201
    try:
        for who in ("C", "A", "operator"):
            r = town.request("PUT", who, f"{REGS}/{reg['id']}/approval")
            assert r.status_code == 403, (who, r.text)
    finally:
        town.delete("C", f"{REGS}/{reg['id']}")


def test_a_companys_own_source_never_replaces_local_data(town: Town, source: Source) -> None:
    """C's own source is asked for C's own query (it serves C), but its later value does not
    replace the entity A holds here; what the town does not hold is added."""
    gamma = f"urn:ngsi-ld:Gamma:fed-{_name()}"
    made = town.post("A", f"{V1}/entities", json={
        "id": gamma, "type": "Gamma", "level": observed(1, "2026-01-01T00:00:00Z")})
    assert made.status_code == 201, made.text
    source.answer = [{"id": gamma, "type": "Gamma", "level": observed(666, "2030-01-01T00:00:00Z"),
                      "note": {"type": "Property", "value": "from C"}}]
    reg = registration(source.url, "Gamma")
    assert town.post("C", REGS, json=reg).status_code == 201
    try:
        r = town.get("C", f"{V1}/entities", params={"type": "Gamma", "q": "level>0"})
        assert r.status_code == 200, r.text
        mine = [e for e in r.json() if e["id"] == gamma]
        assert source.asked, "C's own query was not forwarded to its own source"
        assert mine and mine[0]["level"]["value"] == 1
        assert mine[0]["note"]["value"] == "from C"
    finally:
        town.delete("C", f"{REGS}/{reg['id']}")


def test_a_company_registers_only_types_it_may_write(town: Town, source: Source) -> None:
    for who, types in (("B", ("Alpha",)), ("B", ("Beta",))):  # B's grants are not `*`
        r = town.post(who, REGS, json=registration(source.url, *types))
        assert r.status_code == 403, (who, types, r.text)


# attack 8: outbound requests go anywhere --------------------------------------------------------
BAD_ENDPOINTS = [
    ("http://127.0.0.1:8080/ngsi", "address", "loopback"),
    ("http://[::1]:8080/ngsi", "address", "loopback"),
    ("http://10.0.0.8:8080", "address", "private"),
    ("http://192.168.10.1", "address", "private"),
    ("http://[fd00::1]:1026", "address", "private"),
    ("http://169.254.169.254/latest/meta-data", "address", "link-local"),
    ("http://0.0.0.0:1026", "address", "unspecified"),
    (f"http://127.0.0.1:{max(LISTENER_PORTS) + 1}", "address", "loopback"),  # not listed
    ("file:///etc/passwd", "scheme", "file"),
    ("gopher://example.jp:70/_SET%20x", "scheme", "gopher"),
    ("http://example.jp/ngsi#", "fragment", "#"),
    ("http://example.jp:25/", "port", "25"),
]


def _refused(r: Any, rule: str, word: str) -> None:
    assert r.status_code == 400, r.text
    problem = r.json()
    assert problem["title"] == "BadRequestData"
    assert f"egress rule: {rule}" in problem["detail"] and word in problem["detail"]
    assert JAPANESE.search(problem["detail"]), problem["detail"]


@pytest.mark.parametrize(("endpoint", "rule", "word"), BAD_ENDPOINTS)
def test_bad_endpoints_are_refused_at_creation(town: Town, source: Source, endpoint: str,
                                               rule: str, word: str) -> None:
    reg = registration(endpoint, "Gamma")
    _refused(town.post("C", REGS, json=reg), rule, word)
    assert town.get("admin", f"{REGS}/{reg['id']}").status_code == 404  # not stored
    sub = {"type": "Subscription", "entities": [{"type": "Alpha"}],
           "notification": {"endpoint": {"uri": endpoint}}}
    _refused(town.post("A", SUBS, json=sub), rule, word)
    # nor can a good one be changed into it
    good = registration(source.url, "Gamma")
    assert town.post("C", REGS, json=good).status_code == 201
    try:
        _refused(town.patch("C", f"{REGS}/{good['id']}", json={"endpoint": endpoint}), rule,
                 word)
    finally:
        town.delete("C", f"{REGS}/{good['id']}")


@pytest.mark.parametrize("key", ["Host", "Transfer-Encoding", "X-Forwarded-For", "Connection"])
def test_caller_set_routing_headers_are_refused(town: Town, source: Source, key: str) -> None:
    reg = registration(source.url, "Gamma",
                       contextSourceInfo=[{"key": key, "value": "internal.example"}])
    _refused(town.post("C", REGS, json=reg), "header", key)
    sub = {"type": "Subscription", "entities": [{"type": "Alpha"}],
           "notification": {"endpoint": {"uri": f"{source.url}/notify",
                                         "receiverInfo": [{"key": key, "value": "x"}]}}}
    _refused(town.post("A", SUBS, json=sub), "header", key)


def test_listed_loopback_endpoints_are_accepted(town: Town, source: Source) -> None:
    """What egress.allow lists is reachable (the town's own services)."""
    reg = registration(source.url, "Gamma",
                       contextSourceInfo=[{"key": "Authorization", "value": "Bearer s"}])
    r = town.post("C", REGS, json=reg)
    assert r.status_code == 201, r.text
    town.delete("C", f"{REGS}/{reg['id']}")


def _wait_for(check: Any, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return bool(check())


def test_a_name_resolving_to_loopback_is_refused_when_sending(town: Town) -> None:
    """DNS rebinding: `localhost` passes the check at creation (names are resolved when
    used), but resolves to loopback: the notification is a failed delivery naming the rule, and
    the listener behind it gets nothing. A listed receiver gets the same notification."""
    hidden = Receiver()  # a port the town does not list
    listed = Receiver(LISTENER_PORTS[1])
    subs = []
    try:
        for uri in (f"http://localhost:{hidden.port}/notify", listed.url):
            r = town.post("A", SUBS, json={"type": "Subscription",
                                           "entities": [{"type": "Alpha"}],
                                           "notification": {"endpoint": {"uri": uri}}})
            assert r.status_code == 201, r.text
            subs.append(r.headers["Location"])
        made = town.post("A", f"{V1}/entities", json=entity("Alpha", f"dns-{_name()}", level=3))
        assert made.status_code == 201, made.text
        assert listed.wait_for(lambda: bool(listed.entities())), "the listed receiver got nothing"

        def failed() -> dict[str, Any]:
            return dict(town.get("admin", subs[0]).json()["notification"])  # staff read it

        assert _wait_for(lambda: failed().get("status") == "failed"), failed()
        assert "loopback" in failed().get("lastError", ""), failed()
        assert hidden.got == []
    finally:
        for location in subs:
            town.delete("A", location)
        hidden.down()
        listed.down()


def test_a_source_named_localhost_is_not_asked(town: Town) -> None:
    hidden = Source()  # a port the town does not list
    gamma = f"urn:ngsi-ld:Gamma:dns-{_name()}"
    hidden.answer = [{"id": gamma, "type": "Gamma", "level": observed(9, "2030-01-01T00:00:00Z")}]
    reg = registration(f"http://localhost:{hidden.port}", "Gamma")
    r = town.post("C", REGS, json=reg)
    assert r.status_code == 201, r.text
    try:
        answer = town.get("C", f"{V1}/entities", params={"type": "Gamma"})
        assert answer.status_code == 200, answer.text
        assert hidden.asked == []
        assert gamma not in [e["id"] for e in answer.json()]
        assert "did not answer" in answer.headers.get("NGSILD-Warning", "")
    finally:
        town.delete("C", f"{REGS}/{reg['id']}")
        hidden.close()
