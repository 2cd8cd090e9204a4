"""ACCEPTANCE (issue #18): owners for every resource, against a real `cityos serve`.

Attack 1 — takeover: company C (or a staff operator) redirects, or deletes, company A's
subscription (NGSI-LD and v2) and staff's csource registration and csource subscription. Each
attempt gets the 404 of an id that does not exist, and A's next notification, with the personal
data of a resident who consented to A, still reaches only A's receiver (the resident's access
log names only A).

Attack 2 — secrets: a staff viewer and the other companies list none of A's subscriptions, and
no response, not even a staff admin's, carries a `receiverInfo` or v2 header value.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import attack_town
import httpx
import pytest
from attack_town import LISTENER_PORTS, V1, Town, personal

from ngsi.notify.conftest import Receiver

pytestmark = pytest.mark.e2e
attack_template, town = attack_town.attack_template, attack_town.town  # the fixtures

SECRET = "a-api-key-4f1c9e"  # company B's key for its own receiver
SEEN: list[str] = []  # every response body of this module: the secret must be in none


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    """B's receiver and C's (the attacker's). B subscribes: it reads BeaconSighting (issue 18:
    a company subscribes only to types it may read)."""
    a, c = Receiver(LISTENER_PORTS[0]), Receiver(LISTENER_PORTS[1])  # ports the town allows
    yield a, c
    for r in (a, c):
        r.hold.set()
        r.down()


def _call(town: Town, method: str, who: str, path: str, **kw: Any) -> httpx.Response:
    r = town.request(method, who, path, **kw)
    SEEN.append(r.text)
    return r


def _ld_subscription(name: str, uri: str) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Subscription:{name}", "type": "Subscription",
            "entities": [{"type": "BeaconSighting"}],
            "notification": {"endpoint": {"uri": uri, "accept": "application/json",
                                          "receiverInfo": [{"key": "X-Api-Key",
                                                            "value": SECRET}]}}}


def _access_log_recipients(town: Town, resident: str) -> set[str]:
    r = town.get(resident, "/personal/v1/me/access-log", params={"limit": 200})
    assert r.status_code == 200, r.text
    return {str(e["recipient"]) for e in r.json()["entries"]}


def test_c_cannot_redirect_or_delete_as_ngsi_ld_subscription(
        town: Town, receivers: tuple[Receiver, Receiver]) -> None:
    a_rx, c_rx = receivers
    town.consent("hanako", "B", "location")
    made = _call(town, "POST", "B", f"{V1}/subscriptions",
                 json=_ld_subscription("a-watch", a_rx.url))
    assert made.status_code == 201, made.text
    path = f"{V1}/subscriptions/urn:ngsi-ld:Subscription:a-watch"
    steal = {"notification": {"endpoint": {"uri": c_rx.url, "accept": "application/json"}}}
    for attacker in ("C", "operator"):
        patched = _call(town, "PATCH", attacker, path, json=steal)
        assert patched.status_code == 404, patched.text
        assert patched.json()["type"].endswith("/ResourceNotFound")
        deleted = _call(town, "DELETE", attacker, path)
        assert deleted.status_code == 404, deleted.text
    # A's next write of a consenting resident's data goes to A, and only to A
    sighting = personal("BeaconSighting", "hanako-owners-1", town.residents["hanako"],
                        beacon="gate-3")
    assert _call(town, "POST", "B", f"{V1}/entities", json=sighting).status_code == 201
    assert a_rx.wait_for(lambda: sighting["id"] in [e["id"] for e in a_rx.entities()])
    assert a_rx.headers[-1]["X-Api-Key"] == SECRET  # stored and sent, only never shown
    time.sleep(0.5)
    assert c_rx.got == []
    assert _access_log_recipients(town, "hanako") == {town.clients["B"]}


def test_c_cannot_redirect_or_delete_a_v2_subscription(
        town: Town, receivers: tuple[Receiver, Receiver]) -> None:
    a_rx, c_rx = receivers
    town.consent("taro", "B", "location")
    made = _call(town, "POST", "B", "/v2/subscriptions", json={
        "subject": {"entities": [{"idPattern": "taro-owners", "type": "BeaconSighting"}]},
        "notification": {"httpCustom": {"url": a_rx.url, "headers": {"X-Api-Key": SECRET}}}})
    assert made.status_code == 201, made.text
    path = made.headers["location"]
    for attacker in ("C", "operator"):
        patched = _call(town, "PATCH", attacker, path,
                        json={"notification": {"http": {"url": c_rx.url}}})
        assert patched.status_code == 404, patched.text
        assert patched.json()["error"] == "NotFound"
        assert _call(town, "DELETE", attacker, path).status_code == 404
        # and over NGSI-LD, where v2 subscriptions are kept too
        ld_path = f"{V1}/subscriptions/urn:ngsi-ld:Subscription:{path.rsplit('/', 1)[1]}"
        steal = {"notification": {"endpoint": {"uri": c_rx.url, "accept": "application/json"}}}
        assert _call(town, "PATCH", attacker, ld_path, json=steal).status_code == 404
    sighting = personal("BeaconSighting", "taro-owners-1", town.residents["taro"],
                        beacon="gate-5")
    assert _call(town, "POST", "B", f"{V1}/entities", json=sighting).status_code == 201
    assert a_rx.wait_for(lambda: len(a_rx.got) >= 1)
    assert a_rx.headers[-1]["X-Api-Key"] == SECRET
    time.sleep(0.5)
    assert c_rx.got == []
    assert _access_log_recipients(town, "taro") == {town.clients["B"]}


def test_a_company_cannot_touch_staffs_csource_resources(
        town: Town, receivers: tuple[Receiver, Receiver]) -> None:
    staff_rx, c_rx = receivers
    reg_id = "urn:ngsi-ld:ContextSourceRegistration:town-omega"
    made = _call(town, "POST", "operator", f"{V1}/csourceRegistrations", json={
        "id": reg_id, "type": "ContextSourceRegistration",
        "information": [{"entities": [{"type": "Omega"}]}],
        "endpoint": "http://neighbour-town.invalid/ngsi-ld",
        "contextSourceInfo": [{"key": "X-Api-Key", "value": SECRET}]})
    assert made.status_code == 201, made.text
    sub_id = "urn:ngsi-ld:Subscription:town-omega-sources"
    made = _call(town, "POST", "operator", f"{V1}/csourceSubscriptions", json={
        "id": sub_id, "type": "Subscription", "entities": [{"type": "Omega"}],
        "notification": {"endpoint": {"uri": staff_rx.url, "accept": "application/json",
                                      "receiverInfo": [{"key": "X-Api-Key", "value": SECRET}]}}})
    assert made.status_code == 201, made.text
    assert staff_rx.wait_for(lambda: len(staff_rx.got) == 1)  # newlyMatching: the registration
    # C subscribes to the same registrations: it is told of its own only (it has none)
    spy = _call(town, "POST", "C", f"{V1}/csourceSubscriptions", json={
        "type": "Subscription", "entities": [{"type": "Omega"}],
        "notification": {"endpoint": {"uri": c_rx.url, "accept": "application/json"}}})
    assert spy.status_code == 201, spy.text
    reg_path = f"{V1}/csourceRegistrations/{reg_id}"
    sub_path = f"{V1}/csourceSubscriptions/{sub_id}"
    for attacker in ("C", "A"):
        assert _call(town, "PATCH", attacker, reg_path,
                     json={"endpoint": c_rx.url}).status_code == 404
        assert _call(town, "DELETE", attacker, reg_path).status_code == 404
        assert _call(town, "PATCH", attacker, sub_path, json={"notification": {"endpoint": {
            "uri": c_rx.url, "accept": "application/json"}}}).status_code == 404
        assert _call(town, "DELETE", attacker, sub_path).status_code == 404
    for who in ("viewer", "C"):
        assert _call(town, "GET", who, reg_path).status_code in (403, 404)
        assert _call(town, "GET", who, sub_path).status_code in (403, 404)
    # both are as staff made them: the registration's endpoint, the subscription's receiver
    reg = _call(town, "GET", "operator", reg_path)
    assert reg.status_code == 200 and reg.json()["endpoint"] == \
        "http://neighbour-town.invalid/ngsi-ld"
    sub = _call(town, "GET", "operator", sub_path)
    assert sub.status_code == 200
    assert sub.json()["notification"]["endpoint"]["uri"] == staff_rx.url
    # a change of the registration is told to staff's receiver, not C's
    changed = _call(town, "PATCH", "operator", reg_path,
                    json={"endpoint": "http://neighbour-town.invalid/v2"})
    assert changed.status_code == 204, changed.text
    assert staff_rx.wait_for(lambda: len(staff_rx.got) == 2)
    time.sleep(0.5)
    assert c_rx.got == []  # neither C's PATCHes took, nor does C's own subscription tell
    assert SECRET not in str(staff_rx.got)  # the source's key is not passed on either


def _listed(town: Town, who: str) -> dict[str, httpx.Response]:
    return {path: _call(town, "GET", who, path) for path in (
        f"{V1}/subscriptions", "/v2/subscriptions", f"{V1}/csourceSubscriptions",
        f"{V1}/csourceRegistrations?type=Omega,BeaconSighting")}


def test_nobody_lists_anothers_subscriptions_nor_reads_secrets(town: Town) -> None:
    made = _call(town, "POST", "B", f"{V1}/subscriptions",
                 json=_ld_subscription("a-listed", "http://a-receiver.invalid/notify"))
    assert made.status_code == 201, made.text
    for who in ("viewer", "operator", "C", "A"):
        for path, r in _listed(town, who).items():
            if r.status_code == 200:
                assert "a-listed" not in r.text and "a-watch" not in r.text, (who, path)
            else:  # registrations: a company without a read grant on every type may not list
                assert who in ("C", "A") and "csource" in path and r.status_code == 403, \
                    (who, path, r.text)
    assert _listed(town, "viewer")[f"{V1}/subscriptions"].json() == []
    # a staff admin sees every subscription, each receiverInfo key with its value masked
    shown = _listed(town, "admin")[f"{V1}/subscriptions"].json()
    mine = next(s for s in shown if s["id"] == "urn:ngsi-ld:Subscription:a-listed")
    assert mine["notification"]["endpoint"]["receiverInfo"] == [
        {"key": "X-Api-Key", "value": "********"}]
    one = _call(town, "GET", "admin", f"{V1}/subscriptions/urn:ngsi-ld:Subscription:a-listed")
    assert one.status_code == 200
    assert one.json()["notification"]["endpoint"]["receiverInfo"][0]["value"] == "********"


def test_no_response_carried_a_secret() -> None:
    """Last in this module: every response above, to whoever, without the secret."""
    assert len(SEEN) > 30
    assert not [text for text in SEEN if SECRET in text]
