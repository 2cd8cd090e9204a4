"""Owners × callers × actions for every kind of owned resource (issue #18).

A company (reads and writes every type) makes a subscription (NGSI-LD), a v2 subscription, a
csource registration and a csource subscription; then each caller — the owner, another such
company, a company that reads every type, staff viewer, operator and admin, a resident — reads,
lists, changes and deletes it. `EXPECTED` is the whole table, the same for every kind.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.testclient import TestClient

from cityos.access.service import org_principal
from cityos.app import create_app
from cityos.audit.trail import LOG
from cityos.ngsi.notify import space
from conftest import stored_log
from ngsi.notify.conftest import Receiver

from .secured import CORPORATE, Platform

V1 = "/ngsi-ld/v1"
SECRET = "owner-key-7d2a"
STEAL = "https://other.invalid/steal"
LISTED, UNLISTED = "listed", "not listed"
ACTIONS = ("read", "list", "change", "delete")
# caller -> (read, list, change, delete); 404: as an id that does not exist
EXPECTED: dict[str, tuple[int, str | int, int, int]] = {
    "owner": (200, LISTED, 204, 204),
    "other company": (404, UNLISTED, 404, 404),
    "Reader": (404, UNLISTED, 403, 403),  # reads every type; may not write at all
    "viewer": (404, UNLISTED, 403, 403),  # staff viewers never write
    "operator": (404, UNLISTED, 404, 404),
    "admin": (200, LISTED, 204, 204),
    "resident": (403, 403, 403, 403),  # residents have no NGSI API at all
}


@dataclasses.dataclass(frozen=True)
class Kind:
    """One kind of owned resource: how to make one, where it lives, how to change it."""

    name: str
    collection: str
    body: dict[str, Any]
    change: dict[str, Any]
    list_query: str = ""
    v2: bool = False

    def make(self, p: Platform, who: dict[str, str], n: int) -> str:
        body = dict(self.body)
        if not self.v2:
            body["id"] = f"{self.body['id']}-{n}"
        made = p.client.post(self.collection, json=body, headers=who)
        assert made.status_code == 201, made.text
        return str(made.headers["location"])


def _endpoint(uri: str) -> dict[str, Any]:
    return {"uri": uri, "accept": "application/json",
            "receiverInfo": [{"key": "X-Api-Key", "value": SECRET}]}


KINDS = (
    Kind("subscription", f"{V1}/subscriptions",
         {"id": "urn:ngsi-ld:Subscription:owned", "type": "Subscription",
          "entities": [{"type": "Shelter"}],
          "notification": {"endpoint": _endpoint("https://owner.invalid/notify")}},
         {"notification": {"endpoint": {"uri": STEAL, "accept": "application/json"}}}),
    Kind("v2 subscription", "/v2/subscriptions",
         {"subject": {"entities": [{"idPattern": ".*", "type": "Shelter"}]},
          "notification": {"httpCustom": {"url": "https://owner.invalid/v2",
                                          "headers": {"X-Api-Key": SECRET}}}},
         {"notification": {"http": {"url": STEAL}}}, v2=True),
    Kind("registration", f"{V1}/csourceRegistrations",
         {"id": "urn:ngsi-ld:ContextSourceRegistration:owned",
          "type": "ContextSourceRegistration",
          "information": [{"entities": [{"type": "OwnedThing"}]}],
          "endpoint": "https://source.invalid/ngsi-ld", "mode": "redirect",
          "operations": ["redirectionOps"],
          "contextSourceInfo": [{"key": "X-Api-Key", "value": SECRET}]},
         {"endpoint": STEAL}, list_query="?type=OwnedThing"),
    Kind("csource subscription", f"{V1}/csourceSubscriptions",
         {"id": "urn:ngsi-ld:Subscription:owned-sources", "type": "Subscription",
          "entities": [{"type": "OwnedThing"}],
          "notification": {"endpoint": _endpoint("https://owner.invalid/sources")}},
         {"notification": {"endpoint": {"uri": STEAL, "accept": "application/json"}}}),
)


def _company(p: Platform, name: str) -> tuple[dict[str, str], str]:
    """An organisation that reads and writes every type: its Authorization header and sub."""

    async def add(access: Any) -> tuple[str, str]:
        org, _ = await access.book.add_org(name, CORPORATE, read=["*"], write=["*"])
        principal = org_principal(org)
        return await access.issue(principal), principal.sub

    token, sub = p.access(add)
    return {"Authorization": f"Bearer {token}"}, sub


def _cells(p: Platform, kind: Kind, path: str, who: dict[str, str],
           texts: list[str]) -> list[str | int]:
    read = p.client.get(path, headers=who)
    listed = p.client.get(kind.collection + kind.list_query, headers=who)
    changed = p.client.patch(path, json=kind.change, headers=who)
    texts += [read.text, listed.text, changed.text]
    shown: str | int = listed.status_code
    if listed.status_code == 200:
        shown = LISTED if path.rsplit("/", 1)[1] in listed.text else UNLISTED
    return [read.status_code, shown, changed.status_code]


def test_owner_matrix(platform: Platform) -> None:
    p = platform
    owner, owner_sub = _company(p, "Owner Co")
    other, _ = _company(p, "Other Co")
    callers = {"owner": owner, "other company": other, "Reader": p.auth("Reader"),
               "viewer": p.auth("viewer"), "operator": p.auth("operator"),
               "admin": p.auth("admin"), "resident": p.auth("resident")}
    failures: list[str] = []
    texts: list[str] = []
    acted_on: set[str] = set()  # what the admin read, changed and deleted of the company's
    for kind in KINDS:
        path = kind.make(p, owner, 1)
        acted_on.add(path)
        got: dict[str, list[str | int]] = {}
        for label in ("other company", "Reader", "viewer", "operator", "resident"):
            got[label] = _cells(p, kind, path, callers[label], texts)
            gone = p.client.delete(path, headers=callers[label])
            texts.append(gone.text)
            got[label].append(gone.status_code)
        # nothing the others tried changed it: the owner reads it as made
        before = p.client.get(path, headers=owner)
        assert before.status_code == 200 and STEAL not in before.text, (kind.name, before.text)
        assert "X-Api-Key" in before.text  # the key is shown, its value masked
        for label in ("owner", "admin"):
            got[label] = _cells(p, kind, path, callers[label], texts)
            mine = path if label == "admin" else kind.make(p, owner, 2)
            gone = p.client.delete(mine, headers=callers[label])
            got[label].append(gone.status_code)
            assert p.client.get(mine, headers=owner).status_code == 404
        for label, cells in got.items():
            for action, cell, want in zip(ACTIONS, cells, EXPECTED[label], strict=True):
                if cell != want:
                    failures.append(f"{kind.name}: {label} {action} → {cell}, not {want}")
    assert not failures, "\n".join(failures)
    assert not [t for t in texts if SECRET in t], "a write-only value was shown"
    # the admin's read, change and delete of the company's resources name their owner
    p.client.__exit__(None, None, None)  # stop the app: the trail is flushed
    records = stored_log(p.settings.database_url, LOG)
    admins = [r for r in records if r["who"] == "staff:admin" and r["path"] in acted_on]
    assert sorted(r["method"] for r in admins) == sorted(["DELETE", "GET", "PATCH"] * 4)
    assert {r.get("owner") for r in admins} == {owner_sub}
    assert not [r for r in records if r["who"] == owner_sub and "owner" in r]


def test_a_resource_without_an_owner_is_for_admins_only(platform: Platform) -> None:
    """Made before owners were recorded: only staff admins see it."""
    p = platform
    sub = {"id": "urn:ngsi-ld:Subscription:legacy", "type": "Subscription",
           "entities": [{"type": "Shelter"}],
           "notification": {"endpoint": {"uri": "https://old.invalid/n",
                                         "accept": "application/json"}}}

    async def store_it(access: Any) -> None:
        await access.store.kv_put(space(""), sub["id"], sub)

    p.access(store_it)
    path = f"{V1}/subscriptions/{sub['id']}"
    for who in ("operator", "viewer", "Reader"):
        assert p.client.get(path, headers=p.auth(who)).status_code == 404
        assert p.client.get(f"{V1}/subscriptions", headers=p.auth(who)).json() == []
    assert p.client.get(path, headers=p.auth("operator")).status_code == 404
    assert p.client.patch(path, json={"description": "mine now"},
                          headers=p.auth("operator")).status_code == 404
    assert p.client.get(path, headers=p.auth("admin")).status_code == 200


def test_open_ngsi_mode_shows_everything_as_stored(platform: Platform) -> None:
    """Without access control (ETSI conformance runs) subscriptions read back as posted."""
    settings = dataclasses.replace(platform.settings, ngsi=dataclasses.replace(
        platform.settings.ngsi, open_ngsi=True))
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        posted = {**KINDS[0].body, "id": "urn:ngsi-ld:Subscription:open"}
        assert client.post(f"{V1}/subscriptions", json=posted).status_code == 201
        listed = client.get(f"{V1}/subscriptions").json()
        assert [s["id"] for s in listed] == ["urn:ngsi-ld:Subscription:open"]
        shown = client.get(f"{V1}/subscriptions/urn:ngsi-ld:Subscription:open").json()
        assert shown["notification"]["endpoint"]["receiverInfo"] == [
            {"key": "X-Api-Key", "value": SECRET}]
        changed = client.patch(f"{V1}/subscriptions/urn:ngsi-ld:Subscription:open",
                               json={"description": "anyone may"})
        assert changed.status_code == 204


def test_masked_values_sent_back_keep_the_stored_ones(platform: Platform) -> None:
    """A read-modify-write of one's own subscription: the masked header value sent back means
    the stored one, which the receiver still gets; a password in an MQTT URI reads masked."""
    p = platform
    op = p.auth("operator")
    receiver = Receiver()
    try:
        made = p.client.post(f"{V1}/subscriptions", headers=op, json={
            "id": "urn:ngsi-ld:Subscription:round-trip", "type": "Subscription",
            "entities": [{"type": "Shelter"}],
            "notification": {"endpoint": _endpoint("https://before.invalid/notify")}})
        assert made.status_code == 201, made.text
        path = f"{V1}/subscriptions/urn:ngsi-ld:Subscription:round-trip"
        notification = p.client.get(path, headers=op).json()["notification"]
        assert notification["endpoint"]["receiverInfo"] == [
            {"key": "X-Api-Key", "value": "********"}]
        endpoint = {**notification["endpoint"], "uri": receiver.url}
        changed = p.client.patch(path, headers=op, json={"notification": {
            "endpoint": {k: endpoint[k] for k in ("uri", "accept", "receiverInfo")}}})
        assert changed.status_code == 204, changed.text
        shelter = {"id": "urn:ngsi-ld:Shelter:round-trip", "type": "Shelter",
                   "capacity": {"type": "Property", "value": 40}}
        assert p.client.post(f"{V1}/entities", headers=op, json=shelter).status_code == 201
        assert receiver.wait_for(lambda: len(receiver.got) >= 1)
        assert receiver.headers[0]["X-Api-Key"] == SECRET
    finally:
        receiver.down()
    mqtt = p.client.post(f"{V1}/subscriptions", headers=op, json={
        "id": "urn:ngsi-ld:Subscription:mqtt", "type": "Subscription",
        "entities": [{"type": "Shelter"}],
        "notification": {"endpoint": {"uri": "mqtt://town:hunter2@broker.invalid:1883/shelters",
                                      "accept": "application/json"}}})
    assert mqtt.status_code == 201, mqtt.text
    shown = p.client.get(f"{V1}/subscriptions/urn:ngsi-ld:Subscription:mqtt", headers=op)
    assert shown.json()["notification"]["endpoint"]["uri"] == \
        "mqtt://town:********@broker.invalid:1883/shelters"
    assert "hunter2" not in p.client.get(f"{V1}/subscriptions", headers=op).text
