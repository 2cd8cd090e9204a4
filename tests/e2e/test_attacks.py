"""The attacks of issue #18 on a real `cityos serve` over HTTP, each as the attacker sees it.

Company A reads Alpha and writes every type; B reads and writes Beta (and personal types);
C reads Gamma and writes every type (`attack_town.py`). Type grants are applied where data
is released and written, on expanded type IRIs: none of these may hand a company an entity
of a type it was not granted, nor let it write one.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from attack_town import (  # noqa: F401  (attack_template and town: its fixtures)
    LISTENER_PORTS,
    V1,
    Town,
    attack_template,
    entity,
    town,
)

CORE = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context-v1.8.jsonld"
DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"
LD = {"Content-Type": "application/ld+json"}


@pytest.fixture
def city(town: Town) -> Town:  # noqa: F811  (attack_town's server, one per module)
    return town


def _ids(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(e["id"] for e in response.json())


def _made(city: Town, who: str, body: dict[str, Any]) -> None:
    r = city.post(who, f"{V1}/entities", json=body)
    assert r.status_code == 201, r.text


# 3 -------------------------------------------------------------------------------------------
def test_join_does_not_hand_over_a_linked_entity_of_another_type(city: Town) -> None:
    beta = entity("Beta", "join-1", secret="B's own")
    _made(city, "B", beta)
    _made(city, "A", entity("Alpha", "link", refBeta=beta["id"]))
    link = f"{V1}/entities/urn:ngsi-ld:Alpha:link"
    for join in ("inline", "flat"):
        r = city.get("A", f"{link}?join={join}&joinLevel=2")
        assert r.status_code == 200, r.text
        assert "B's own" not in r.text, f"join={join} handed over Beta"
    r = city.get("A", f"{V1}/entities?type=Alpha&join=flat")
    assert r.status_code == 200 and "B's own" not in r.text
    r = city.post("A", f"{V1}/entityOperations/query", json={
        "type": "Query", "entities": [{"type": "Alpha"}], "join": "inline"})
    assert r.status_code == 200 and "B's own" not in r.text
    assert "B's own" in city.get("B", f"{V1}/entities/{beta['id']}").text  # it is there


# 4 -------------------------------------------------------------------------------------------
def test_an_aliased_type_reads_nothing_of_the_type_it_stands_for(city: Town) -> None:
    beta = entity("Beta", "alias-1", secret="aliased away")
    _made(city, "B", beta)
    alias = {"Alpha": f"{DEFAULT}Beta"}
    r = city.post("A", f"{V1}/entityOperations/query", headers=LD, json={
        "type": "Query", "entities": [{"type": "Alpha"}], "@context": [alias, CORE]})
    assert r.status_code == 200 and "aliased away" not in r.text
    # the same alias in a Link header (a context A stored itself: it writes every type)
    stored = city.post("A", f"{V1}/jsonldContexts", json={"@context": alias})
    assert stored.status_code == 201, stored.text
    url = stored.headers["Location"]
    url = url if url.startswith("http") else city.url + url
    link = {"Link": f'<{url}>; rel="http://www.w3.org/ns/json-ld#context"'}
    r = city.get("A", f"{V1}/entities?type=Alpha", headers=link)
    assert r.status_code == 200 and "aliased away" not in r.text
    r = city.get("A", f"{V1}/entities/{beta['id']}", headers=link)
    assert r.status_code == 404 and "aliased away" not in r.text
    r = city.get("A", f"{V1}/entities?type={DEFAULT}Beta")  # the IRI itself
    assert _ids(r) == []
    assert "aliased away" in city.post("B", f"{V1}/entityOperations/query", headers=LD, json={
        "type": "Query", "entities": [{"type": "Alpha"}], "@context": [alias, CORE]}).text


def test_an_aliased_type_writes_nothing_of_the_type_it_stands_for(city: Town) -> None:
    # B writes Beta only: naming A's Alpha through an alias is writing Alpha
    sneaky = {"id": "urn:ngsi-ld:Beta:alias-w", "type": "Beta",
              "@context": [{"Beta": f"{DEFAULT}Alpha"}, CORE]}
    r = city.post("B", f"{V1}/entities", headers=LD, json=sneaky)
    assert r.status_code == 403, r.text
    assert city.get("A", f"{V1}/entities/urn:ngsi-ld:Beta:alias-w").status_code == 404
    assert city.get("admin", f"{V1}/entities/urn:ngsi-ld:Beta:alias-w").status_code == 404
    # in a batch, the aliased item is that item's 403; the honest one is written
    honest = entity("Beta", "alias-ok")
    r = city.post("B", f"{V1}/entityOperations/create", headers=LD, json=[
        {**entity("Beta", "alias-w2"), "@context": [{"Beta": f"{DEFAULT}Alpha"}, CORE]},
        {**honest, "@context": [CORE]}])
    assert r.status_code == 207, r.text
    assert r.json()["success"] == [honest["id"]]
    assert [(e["entityId"], e["error"]["status"]) for e in r.json()["errors"]] == \
        [("urn:ngsi-ld:Beta:alias-w2", 403)]
    # appending to another company's type is refused as well (the type as stored)
    alpha = entity("Alpha", "stored-w", note="A's")
    _made(city, "A", alpha)
    r = city.post("B", f"{V1}/entities/{alpha['id']}/attrs",
                  json={"note": {"type": "Property", "value": "B was here"}})
    assert r.status_code == 403, r.text
    assert city.get("A", f"{V1}/entities/{alpha['id']}").json()["note"]["value"] == "A's"


# 5 -------------------------------------------------------------------------------------------
def test_a_v2_typeless_selector_returns_only_granted_types(city: Town) -> None:
    _made(city, "B", entity("Beta", "v2-1", secret="not for A"))
    _made(city, "A", entity("Alpha", "v2-1"))
    r = city.post("A", "/v2/op/query", json={
        "entities": [{"idPattern": ".*", "type": "Alpha"}, {"idPattern": ".*"}]})
    assert r.status_code == 200, r.text
    assert {e["type"] for e in r.json()} == {"Alpha"}
    assert "not for A" not in r.text
    r = city.get("A", "/v2/entities?limit=1000")
    assert r.status_code == 200 and {e["type"] for e in r.json()} == {"Alpha"}
    r = city.get("A", f"{V1}/entities?idPattern=.*&limit=1000")  # NGSI-LD, no type named
    assert r.status_code == 200 and {e["type"] for e in r.json()} == {"Alpha"}


# 6 -------------------------------------------------------------------------------------------
class _Receiver:
    """Notifications (and writes a context source is sent) on a loopback port the town's
    egress rules allow: every POST's path and body kept, answered 201."""

    def __init__(self, port: int) -> None:
        self.got: list[dict[str, Any]] = []
        self.posts: list[tuple[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"null")
                receiver.posts.append((self.path, body))
                if isinstance(body, dict):
                    receiver.got += body.get("data", [])
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    made = _Receiver(LISTENER_PORTS[2])
    yield made
    made.server.shutdown()
    made.server.server_close()


def test_one_cannot_subscribe_to_what_one_may_not_read(city: Town, receiver: _Receiver) -> None:
    _made(city, "B", entity("Beta", "sub-1", secret="periodic leak"))
    _made(city, "C", entity("Gamma", "sub-1"))
    assert "periodic leak" not in city.get("C", f"{V1}/entities?type=Beta").text
    subscription = {"type": "Subscription", "entities": [{"type": "Beta"}], "timeInterval": 1,
                    "notification": {"endpoint": {"uri": receiver.url,
                                                  "accept": "application/json"}}}
    r = city.post("C", f"{V1}/subscriptions", json=subscription)
    assert r.status_code == 403, r.text
    aliased = {**subscription, "entities": [{"type": "Gamma"}],
               "@context": [{"Gamma": f"{DEFAULT}Beta"}, CORE]}
    assert city.post("C", f"{V1}/subscriptions", headers=LD, json=aliased).status_code == 403
    v2 = {"subject": {"entities": [{"idPattern": ".*", "type": "Beta"}]},
          "notification": {"http": {"url": receiver.url}}}
    assert city.post("C", "/v2/subscriptions", json=v2).status_code == 403
    # what it may read it subscribes to, and gets only that, even through a typeless selector
    mine = {**subscription, "entities": [{"type": "Gamma"}]}
    r = city.post("C", f"{V1}/subscriptions", json=mine)
    assert r.status_code == 201, r.text
    typeless = {"subject": {"entities": [{"idPattern": ".*"}]},
                "notification": {"http": {"url": receiver.url}}}
    r = city.post("C", "/v2/subscriptions", json=typeless)
    assert r.status_code == 201, r.text
    _made(city, "B", entity("Beta", "sub-2", secret="change leak"))
    _made(city, "C", entity("Gamma", "sub-2"))
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
            e["id"].endswith("Gamma:sub-2") for e in receiver.got):
        time.sleep(0.2)
    time.sleep(1.5)  # another period, and the Beta change's turn
    ids = {e["id"] for e in receiver.got}
    assert "urn:ngsi-ld:Gamma:sub-2" in ids or "Gamma:sub-2" in ids
    assert not [i for i in ids if "Beta" in i], ids
    assert "leak" not in json.dumps(receiver.got)
    # PATCHing one's subscription to another's type is refused too
    sub_id = r.headers["Location"].rsplit("/", 1)[-1]
    assert city.patch("C", f"/v2/subscriptions/{sub_id}", json={
        "subject": {"entities": [{"idPattern": ".*", "type": "Beta"}]}}).status_code == 403


# 9 -------------------------------------------------------------------------------------------
def test_a_company_patches_an_attribute_of_its_own_entity(city: Town) -> None:
    mine = entity("Beta", "patch-1", level=1)
    _made(city, "B", mine)
    r = city.patch("B", f"{V1}/entities/{mine['id']}/attrs/level",
                   json={"type": "Property", "value": 2})
    assert r.status_code == 204, r.text
    assert city.get("B", f"{V1}/entities/{mine['id']}").json()["level"]["value"] == 2


# forwarding ----------------------------------------------------------------------------------
def test_a_write_one_may_not_make_is_not_forwarded_to_a_context_source(
        city: Town, receiver: _Receiver) -> None:
    """A registered source takes writes of its types for the town: a company without a write
    grant for the type must not reach it that way either."""
    reg = {"id": "urn:ngsi-ld:ContextSourceRegistration:attack-delta",
           "type": "ContextSourceRegistration", "information": [{"entities": [{"type": "Delta"}]}],
           "endpoint": receiver.base, "mode": "redirect", "operations": ["redirectionOps"],
           "management": {"timeout": 2000}}
    made = city.post("admin", f"{V1}/csourceRegistrations", json=reg)
    assert made.status_code == 201, made.text
    try:
        delta = entity("Delta", "fwd-1", note="B was here")
        r = city.post("B", f"{V1}/entities", json=delta)  # B writes Beta (and personal) only
        assert r.status_code == 403, r.text
        r = city.post("B", f"{V1}/entityOperations/upsert", json=[delta])
        assert r.status_code == 207 and r.json()["errors"][0]["error"]["status"] == 403, r.text
        assert "B was here" not in json.dumps(receiver.posts)
        # a company granted every type is forwarded as before
        r = city.post("A", f"{V1}/entities", json=entity("Delta", "fwd-2", note="A's"))
        assert r.status_code == 201, r.text
        assert "A's" in json.dumps(receiver.posts)
    finally:
        city.delete("admin", f"{V1}/csourceRegistrations/{reg['id']}")
