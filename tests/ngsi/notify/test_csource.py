"""Subscriptions to context source registrations (/csourceSubscriptions) with a real receiver:
initial, newlyMatching, updated, noLongerMatching and periodic cSourceNotifications, status.
ETSI GS CIM 009 v1.8 §5.11."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from .conftest import Receiver

V1 = "/ngsi-ld/v1"
CS = f"{V1}/csourceSubscriptions"
R = f"{V1}/csourceRegistrations"
REG = "urn:ngsi-ld:ContextSourceRegistration:nose"


def register(client: TestClient, entity_type: str = "Shelter") -> None:
    body = {"id": REG, "type": "ContextSourceRegistration", "endpoint": "http://127.0.0.1:9/nose",
            "information": [{"entities": [{"type": entity_type}]}, {"entities": [{"type": "Bus"}]}]}
    assert client.post(R, json=body).status_code == 201


def subscribe(client: TestClient, receiver_url: str, n: int = 1, **extra: Any) -> str:
    sid = f"urn:ngsi-ld:Subscription:cs{n}"
    body = {"id": sid, "type": "Subscription", "entities": [{"type": "Shelter"}],
            "notification": {"endpoint": {"uri": receiver_url}}, **extra}
    r = client.post(CS, json=body)
    assert r.status_code == 201, r.text
    return sid


def reasons(receiver: Receiver) -> list[str]:
    return [n["triggerReason"] for n in receiver.got]


def test_lifecycle_of_a_matching_registration(client: TestClient, receiver: Receiver) -> None:
    register(client)
    sid = subscribe(client, receiver.url)
    assert receiver.wait_for(lambda: reasons(receiver) == ["newlyMatching"])  # initial
    first = receiver.got[0]
    assert first["type"] == "ContextSourceNotification" and first["subscriptionId"] == sid
    # only the RegistrationInfo the subscription asks about (Shelter, not Bus)
    assert first["data"][0]["information"] == [{"entities": [{"type": "Shelter"}]}]
    patch = {"endpoint": "http://127.0.0.1:9/nose2"}
    assert client.patch(f"{R}/{REG}", json=patch).status_code == 204
    assert receiver.wait_for(lambda: reasons(receiver)[-1:] == ["updated"])
    assert receiver.got[-1]["data"][0]["endpoint"] == "http://127.0.0.1:9/nose2"
    patch = {"information": [{"entities": [{"type": "Bus"}]}]}
    assert client.patch(f"{R}/{REG}", json=patch).status_code == 204
    assert receiver.wait_for(lambda: reasons(receiver)[-1:] == ["noLongerMatching"])
    status = client.get(f"{CS}/{sid}").json()
    assert status["notification"]["status"] == "ok" and status["notification"]["timesSent"] == 3
    assert "lastSuccess" in status["notification"]
    # deleted: nothing more
    assert client.delete(f"{CS}/{sid}").status_code == 204
    assert client.get(f"{CS}/{sid}").status_code == 404
    assert client.delete(f"{R}/{REG}").status_code == 204
    register(client)
    assert not receiver.wait_for(lambda: len(receiver.got) > 3, seconds=1)


def test_failures_are_reported_and_paused_ones_stay_quiet(client: TestClient,
                                                         receiver: Receiver) -> None:
    sid = subscribe(client, "http://127.0.0.1:9/nobody")
    quiet = subscribe(client, receiver.url, n=2, isActive=False)
    register(client)

    def failed() -> bool:
        return "lastFailure" in client.get(f"{CS}/{sid}").json()["notification"]

    assert receiver.wait_for(failed)
    assert client.get(f"{CS}/{sid}").json()["notification"]["status"] == "failed"
    assert client.get(f"{CS}/{quiet}").json()["status"] == "paused"
    assert receiver.got == []


def test_periodic_notifications(client: TestClient, receiver: Receiver) -> None:
    register(client)
    subscribe(client, receiver.url, timeInterval=1)
    assert receiver.wait_for(lambda: len(receiver.got) >= 3, seconds=10)
    assert set(reasons(receiver)) == {"newlyMatching"}


def test_bad_subscriptions_are_refused(client: TestClient) -> None:
    base = {"type": "Subscription", "entities": [{"type": "Shelter"}],
            "notification": {"endpoint": {"uri": "http://127.0.0.1:9/x"}}}
    for bad in ({**base, "type": "Nope"}, {**base, "q": "((("},
                {**base, "temporalQ": {"timerel": "later"}},
                {k: v for k, v in base.items() if k != "notification"}):
        r = client.post(CS, json=bad)
        assert r.status_code == 400 and r.json()["type"].endswith("BadRequestData"), bad
    assert client.get(f"{CS}/not-a-uri").status_code == 400
    assert client.get(f"{CS}/urn:ngsi-ld:Subscription:none").status_code == 404
