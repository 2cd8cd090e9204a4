"""Reliable delivery over the real app and a real receiver: outbox, retries, restarts, isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient

from cityos.app import create_app
from cityos.settings import load_settings
from conftest import LOOPBACK, engine_environ

V1 = "/ngsi-ld/v1"


def app_client(data_dir: Path) -> TestClient:
    environ = {**engine_environ(), "CITYOS_EGRESS_ALLOW": LOOPBACK}  # the receiver is local
    settings = load_settings(data_dir, environ=environ, open_ngsi=True, max_body_bytes=65536)
    return TestClient(create_app(settings), raise_server_exceptions=False)


def subscribe(client: TestClient, uri: str, sub_id: str = "urn:ngsi-ld:Subscription:s1",
              **extra: Any) -> str:
    sub = {"id": sub_id, "type": "Subscription", "entities": [{"type": "Shelter"}],
           "notification": {"endpoint": {"uri": uri}, "format": "keyValues"}, **extra}
    r = client.post(f"{V1}/subscriptions", json=sub)
    assert r.status_code == 201, r.text
    return sub_id


def shelter(n: int, occupancy: int) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Shelter:{n:03d}", "type": "Shelter",
            "occupancy": {"type": "Property", "value": occupancy}}


def upsert(client: TestClient, entities: list[dict[str, Any]]) -> None:
    r = client.post(f"{V1}/entityOperations/upsert", json=entities)
    assert r.status_code in (201, 204), r.text


def latest(receiver: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in receiver.entities():
        out[e["id"]] = e["occupancy"]
    return out


def status(client: TestClient, sub_id: str) -> dict[str, Any]:
    r = client.get(f"{V1}/subscriptions/{sub_id}")
    assert r.status_code == 200, r.text
    return dict(r.json()["notification"])


def test_every_change_is_delivered_in_order_with_status(client: TestClient,
                                                       receiver: Any) -> None:
    sub_id = subscribe(client, receiver.url)
    for value in range(5):
        upsert(client, [shelter(1, value), shelter(2, 100 + value)])
    assert receiver.wait_for(lambda: latest(receiver) == {"urn:ngsi-ld:Shelter:001": 4,
                                                          "urn:ngsi-ld:Shelter:002": 104})
    seen = [e["occupancy"] for e in receiver.entities() if e["id"].endswith("001")]
    assert seen == sorted(seen)  # per-subscription order
    assert receiver.wait_for(lambda: status(client, sub_id).get("timesSent", 0) >= 1)
    note = status(client, sub_id)
    assert note["status"] == "ok" and "lastSuccess" in note and "lastNotification" in note
    assert note.get("timesFailed", 0) == 0 and "backlog" not in note
    metrics = client.app.state.broker.notifier.metrics()  # type: ignore[attr-defined]
    assert metrics["subscriptions"] == 1 and metrics["notificationsSent"] >= 1
    assert metrics["failing"] == 0


def test_receiver_down_is_retried_and_reported_then_gets_the_latest_state(
        client: TestClient, receiver: Any) -> None:
    receiver.down()
    sub_id = subscribe(client, receiver.url)
    upsert(client, [shelter(1, 10)])
    assert receiver.wait_for(lambda: status(client, sub_id).get("timesFailed", 0) >= 2)
    note = status(client, sub_id)
    assert note["status"] == "failed" and "lastFailure" in note and note["backlog"] >= 1
    upsert(client, [shelter(1, 11)])
    receiver.up()
    assert receiver.wait_for(lambda: latest(receiver).get("urn:ngsi-ld:Shelter:001") == 11)
    assert receiver.wait_for(lambda: status(client, sub_id)["status"] == "ok")


def test_a_failing_answer_is_retried(client: TestClient, receiver: Any) -> None:
    receiver.fail_next = 2
    subscribe(client, receiver.url)
    upsert(client, [shelter(1, 7)])
    assert receiver.wait_for(lambda: latest(receiver).get("urn:ngsi-ld:Shelter:001") == 7)
    assert receiver.refused == 2


def test_a_hanging_receiver_does_not_hold_up_another(client: TestClient,
                                                    receiver_factory: Any) -> None:
    slow, fast = receiver_factory(), receiver_factory()
    slow.hold.clear()  # the slow receiver answers nothing until released
    subscribe(client, slow.url, "urn:ngsi-ld:Subscription:slow")
    subscribe(client, fast.url, "urn:ngsi-ld:Subscription:fast")
    upsert(client, [shelter(1, 1)])
    upsert(client, [shelter(1, 2)])
    assert fast.wait_for(lambda: latest(fast).get("urn:ngsi-ld:Shelter:001") == 2)
    assert slow.got == []
    slow.hold.set()
    assert slow.wait_for(lambda: latest(slow).get("urn:ngsi-ld:Shelter:001") == 2)


def test_deliveries_resume_after_a_restart(data_dir: Path, receiver: Any) -> None:
    receiver.down()
    with app_client(data_dir) as client:
        subscribe(client, receiver.url)
        upsert(client, [shelter(n, n) for n in range(1, 4)])
        upsert(client, [shelter(1, 50)])
    receiver.up()
    with app_client(data_dir) as client:
        want = {"urn:ngsi-ld:Shelter:001": 50, "urn:ngsi-ld:Shelter:002": 2,
                "urn:ngsi-ld:Shelter:003": 3}
        assert receiver.wait_for(lambda: latest(receiver) == want)


def test_watched_attributes_q_and_deletion_trigger(client: TestClient,
                                                  receiver: Any) -> None:
    subscribe(client, receiver.url, watchedAttributes=["occupancy"], q="occupancy>100",
              notificationTrigger=["attributeCreated", "attributeUpdated", "entityDeleted"])
    upsert(client, [shelter(1, 50)])  # q not met
    r = client.post(f"{V1}/entities/urn:ngsi-ld:Shelter:001/attrs",
                    json={"name": {"type": "Property", "value": "gym"}})  # not watched
    assert r.status_code == 204, r.text
    upsert(client, [shelter(2, 150)])
    assert receiver.wait_for(lambda: "urn:ngsi-ld:Shelter:002" in latest(receiver))
    assert "urn:ngsi-ld:Shelter:001" not in latest(receiver)
    assert client.delete(f"{V1}/entities/urn:ngsi-ld:Shelter:002").status_code == 204
    assert receiver.wait_for(lambda: any("deletedAt" in e for e in receiver.entities()))


def test_paused_and_expired_subscriptions_wait_and_say_so(client: TestClient,
                                                          receiver: Any) -> None:
    sub_id = subscribe(client, receiver.url, isActive=False)
    url = f"{V1}/subscriptions/{sub_id}"
    assert client.get(url).json()["status"] == "paused"
    upsert(client, [shelter(1, 1)])
    r = client.post(f"{V1}/subscriptions", json={
        "type": "Subscription", "entities": [{"type": "Shelter"}], "expiresAt": "2020-01-01T00:00:00Z",
        "notification": {"endpoint": {"uri": receiver.url}}})
    assert r.status_code == 400  # expiresAt must be ahead
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    expired = subscribe(client, receiver.url, "urn:ngsi-ld:Subscription:old", expiresAt=soon)
    assert receiver.wait_for(
        lambda: client.get(f"{V1}/subscriptions/{expired}").json()["status"] == "expired")
    upsert(client, [shelter(1, 2)])
    # a third, active subscription proves the writes were notified meanwhile
    subscribe(client, receiver.url, "urn:ngsi-ld:Subscription:probe",
              entities=[{"type": "Shelter", "id": "urn:ngsi-ld:Shelter:009"}])
    upsert(client, [shelter(9, 9)])
    assert receiver.wait_for(lambda: "urn:ngsi-ld:Shelter:009" in latest(receiver))
    assert {n["subscriptionId"] for n in receiver.got} == {"urn:ngsi-ld:Subscription:probe"}
    assert client.patch(url, json={"isActive": True}).status_code == 204
    assert client.get(url).json()["status"] == "active"
    # what changed while paused is still owed: resumed from the cursor, latest state
    assert receiver.wait_for(lambda: any(n["subscriptionId"] == sub_id for n in receiver.got))
    mine = {e["id"]: e["occupancy"] for n in list(receiver.got)
            if n["subscriptionId"] == sub_id for e in n["data"]}
    assert mine["urn:ngsi-ld:Shelter:001"] == 2


def test_show_changes_and_deletions_carry_previous_values(client: TestClient,
                                                         receiver: Any) -> None:
    subscribe(client, receiver.url, notificationTrigger=[
        "attributeUpdated", "attributeDeleted", "entityDeleted"],
        notification={"endpoint": {"uri": receiver.url}, "showChanges": True})
    entity = {"id": "urn:ngsi-ld:Shelter:001", "type": "Shelter",
              "occupancy": {"type": "Property", "value": 5},
              "operator": {"type": "Relationship", "object": "urn:ngsi-ld:Town:toyono"}}
    assert client.post(f"{V1}/entities", json=entity).status_code == 201
    url = f"{V1}/entities/urn:ngsi-ld:Shelter:001"
    assert client.patch(f"{url}/attrs", json={"occupancy": {"type": "Property",
                                                             "value": 6}}).status_code == 204
    assert receiver.wait_for(lambda: len(receiver.got) == 1)
    updated = receiver.got[0]["data"][0]
    assert updated["occupancy"] == {"type": "Property", "value": 6, "previousValue": 5}
    assert client.delete(f"{url}/attrs/operator").status_code == 204
    assert receiver.wait_for(lambda: len(receiver.got) == 2)
    assert receiver.got[1]["data"][0]["operator"] == {
        "type": "Relationship", "object": "urn:ngsi-ld:null",
        "previousObject": "urn:ngsi-ld:Town:toyono"}
    assert client.delete(url).status_code == 204
    assert receiver.wait_for(lambda: len(receiver.got) == 3)
    gone = receiver.got[2]["data"][0]
    assert "deletedAt" in gone
    assert gone["occupancy"] == {"type": "Property", "value": "urn:ngsi-ld:null",
                                 "previousValue": 6}


def test_pick_keeps_only_the_members_named(client: TestClient, receiver: Any) -> None:
    subscribe(client, receiver.url, notification={"endpoint": {"uri": receiver.url},
                                                  "pick": ["id", "occupancy"]})
    upsert(client, [{**shelter(1, 3), "name": {"type": "Property", "value": "gym"}}])
    assert receiver.wait_for(lambda: receiver.got)
    assert receiver.got[0]["data"] == [{"id": "urn:ngsi-ld:Shelter:001",
                                        "occupancy": {"type": "Property", "value": 3}}]


def test_deleting_an_entity_deletes_its_watched_attributes(client: TestClient,
                                                          receiver: Any) -> None:
    subscribe(client, receiver.url, watchedAttributes=["occupancy"],
              notificationTrigger=["attributeDeleted"],
              notification={"endpoint": {"uri": receiver.url}, "sysAttrs": True})
    upsert(client, [{**shelter(1, 3), "name": {"type": "Property", "value": "gym"}}])
    assert client.delete(f"{V1}/entities/urn:ngsi-ld:Shelter:001").status_code == 204
    assert receiver.wait_for(lambda: receiver.got)
    [gone] = receiver.got[0]["data"]
    assert {"createdAt", "modifiedAt", "deletedAt"} <= set(gone) and "name" not in gone
    assert gone["occupancy"]["value"] == "urn:ngsi-ld:null"
    assert gone["occupancy"]["deletedAt"] == gone["deletedAt"]


def test_a_deleted_dataset_instance_and_datasetid_filter(client: TestClient,
                                                        receiver: Any) -> None:
    subscribe(client, receiver.url, notificationTrigger=["attributeDeleted"],
              q="name==%22gym%22",  # percent-encoded as some clients send it
              notification={"endpoint": {"uri": receiver.url}})
    entity = {"id": "urn:ngsi-ld:Shelter:001", "type": "Shelter", "name": [
        {"type": "Property", "value": "gym"},
        {"type": "Property", "value": "体育館", "datasetId": "urn:ngsi-ld:Dataset:ja"}]}
    assert client.post(f"{V1}/entities", json=entity).status_code == 201
    r = client.delete(f"{V1}/entities/urn:ngsi-ld:Shelter:001/attrs/name",
                      params={"datasetId": "urn:ngsi-ld:Dataset:ja"})
    assert r.status_code == 204, r.text
    assert receiver.wait_for(lambda: receiver.got)
    assert receiver.got[0]["data"][0]["name"] == [
        {"type": "Property", "value": "gym"},
        {"type": "Property", "value": "urn:ngsi-ld:null", "datasetId": "urn:ngsi-ld:Dataset:ja"}]
