"""History retention per entity type (`ngsi.history_retention`) over the real app and SQLite."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from cityos.ngsi.retention import parse_rules, prune_once
from cityos.settings import load_settings

T = "/ngsi-ld/v1/temporal/entities"
DAY = 86_400_000


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_rules_are_checked() -> None:
    assert parse_rules(("Sensor=30", "*=365")) == [("Sensor", 30.0), (None, 365.0)]
    assert parse_rules(("https://example.org/Room=1.5",)) == [("https://example.org/Room", 1.5)]
    for bad in ("Sensor", "Sensor=0", "Sensor=-1", "Sensor=x", "=3", "Sensor=1,Sensor=2"):
        with pytest.raises(ValueError, match="history_retention"):
            parse_rules(tuple(bad.split(",")))


def test_a_bad_rule_is_refused_when_settings_are_read(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Sensor=never"):
        load_settings(tmp_path, environ={"CITYOS_NGSI_HISTORY_RETENTION": "Sensor=never"})
    (tmp_path / "cityos.toml").write_text('[ngsi]\nhistory_retention = ["Sensor=30", "*=365"]\n')
    assert load_settings(tmp_path, environ={}).ngsi.history_retention == ("Sensor=30", "*=365")


def test_prune_keeps_what_each_type_rule_keeps(client: TestClient) -> None:
    now = datetime.now(UTC)
    old, future = iso(now - timedelta(days=2000)), iso(now + timedelta(days=5))
    for eid, etype in (("urn:ngsi-ld:Sensor:1", "Sensor"), ("urn:ngsi-ld:Room:1", "Room"),
                       ("urn:ngsi-ld:Bus:1", "Bus")):
        body = {"id": eid, "type": etype, "temp": [
            {"type": "Property", "value": 1, "observedAt": old},
            {"type": "Property", "value": 2, "observedAt": future}]}
        assert client.post(T, json=body).status_code == 201
    store = client.app.state.broker.store  # type: ignore[attr-defined]
    # 31 days from now: Sensor keeps 30 days, every other type (Room) a year, Bus for ever
    # is not expressible with '*' present, so Bus gets its own long rule
    rules = parse_rules(("Sensor=30", "Bus=100000", "*=365"))
    removed = client.portal.call(prune_once, store, rules, int(time.time() * 1000) + 31 * DAY)
    assert removed == 1  # Sensor's old observation; the future one is younger than 30 days

    def values(eid: str) -> list[int]:
        r = client.get(f"{T}/{eid}", params={"attrs": "temp"})
        return [i["value"] for i in r.json().get("temp", [])]

    assert values("urn:ngsi-ld:Sensor:1") == [2]
    # Room's old observation was recorded today: retention counts from the later of the two
    assert values("urn:ngsi-ld:Room:1") == [1, 2]
    assert values("urn:ngsi-ld:Bus:1") == [1, 2]
    # two years on, '*' removes Room's history entirely, Bus keeps its own
    removed = client.portal.call(prune_once, store, rules, int(time.time() * 1000) + 730 * DAY)
    assert values("urn:ngsi-ld:Room:1") == [] and values("urn:ngsi-ld:Bus:1") == [1, 2]
    assert values("urn:ngsi-ld:Sensor:1") == []


def test_deletion_drops_history_when_so_set(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={"CITYOS_STORAGE_KEEP_HISTORY_ON_DELETE": "false"},
                             open_ngsi=True)
    from cityos.app import create_app

    with TestClient(create_app(settings)) as client:
        eid = "urn:ngsi-ld:Sensor:9"
        body = {"id": eid, "type": "Sensor", "temp": 1}
        assert client.post("/ngsi-ld/v1/entities", json=body).status_code == 201
        assert client.delete(f"/ngsi-ld/v1/entities/{eid}").status_code == 204
        assert client.post("/ngsi-ld/v1/entities", json={**body, "temp": 2}).status_code == 201
        r = client.get(f"{T}/{eid}", params={"attrs": "temp"})
        assert [i["value"] for i in r.json()["temp"]] == [2]  # the first life is gone
