"""Device registry and HTTP ingestion through the real app (in-process, real SQLite, real tokens)."""

from __future__ import annotations

import time
from typing import Any

import orjson

from access.secured import Platform
from cityos.iot.liveness import check_liveness
from cityos.iot.service import iot_of
from cityos.trust.writes import entity_key

V1 = "/iot/v1"
ENTITY = "urn:ngsi-ld:WeatherObserved:kobo-1"


def _add(platform: Platform, label: str = "admin", **extra: Any) -> Any:
    body = {"id": "kobo-1", "type": "env-sensor", "firmware": "1.0.3",
            "location": [135.4412, 34.9007], "expectedInterval": 30, **extra}
    return platform.client.post(f"{V1}/devices", json=body, headers=platform.auth(label))


def _push(platform: Platform, token: str, body: bytes | str, media: str = "text/plain") -> Any:
    return platform.client.post(f"{V1}/ingest", content=body,
                                headers={"Device-Token": token, "Content-Type": media})


def _entity(platform: Platform) -> Any:
    return platform.client.get(f"/ngsi-ld/v1/entities/{ENTITY}", headers=platform.auth("admin"))


def test_register_push_ultralight_and_read_back(platform: Platform) -> None:
    r = _add(platform)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert token.startswith("dk_") and "token" not in platform.client.get(
        f"{V1}/devices/kobo-1", headers=platform.auth("admin")).json()
    assert _push(platform, token, "t|21.5|h|40").status_code == 204
    entity = _entity(platform).json()
    assert entity["type"] == "WeatherObserved"
    assert entity["temperature"]["value"] == 21.5
    assert entity["temperature"]["unitCode"] == "CEL"
    assert entity["relativeHumidity"]["unitCode"] == "P1"
    assert "observedAt" in entity["temperature"]
    assert entity["refDevice"]["object"] == "urn:ngsi-ld:Device:kobo-1"
    assert entity["location"]["value"]["coordinates"] == [135.4412, 34.9007]
    # JSON with the device's own observation time
    r = _push(platform, token, b'{"t": 22, "TimeInstant": "2026-04-01T09:00:00Z"}',
              "application/json")
    assert r.status_code == 204, r.text
    entity = _entity(platform).json()
    assert entity["temperature"]["value"] == 22
    assert entity["temperature"]["observedAt"] == "2026-04-01T09:00:00Z"
    assert entity["relativeHumidity"]["value"] == 40  # untouched


def test_malformed_payload_is_refused_whole_and_recorded(platform: Platform) -> None:
    token = _add(platform).json()["token"]
    assert _push(platform, token, "t|21.5").status_code == 204
    for bad in ("t|21.5|h|warm", "t|22|x|1", "t|22|h", "", "t|nan"):
        r = _push(platform, token, bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["detail"].startswith("payload refused")
    assert _entity(platform).json()["temperature"]["value"] == 21.5  # nothing written half
    device = platform.client.get(f"{V1}/devices/kobo-1", headers=platform.auth("admin")).json()
    assert "not a finite number" in device["last_error"] and device["rejected"] == 5
    r = _push(platform, token, b"{not json", "application/json")
    assert r.status_code == 400


def test_wrong_or_disabled_credentials_are_refused(platform: Platform) -> None:
    token = _add(platform).json()["token"]
    assert _push(platform, "dk_" + "x" * 43, "t|1").status_code == 401
    assert platform.client.post(f"{V1}/ingest", content="t|1").status_code == 401
    r = platform.client.patch(f"{V1}/devices/kobo-1", json={"disabled": True},
                              headers=platform.auth("operator"))
    assert r.status_code == 200 and r.json()["disabled"] is True
    time.sleep(2.1)  # the registry caches a device for two seconds across processes
    assert _push(platform, token, "t|1").status_code == 401
    assert _entity(platform).status_code == 404
    alerts = platform.client.get("/auth/v1/alerts?kind=device-credential",
                                 headers=platform.auth("admin")).json()
    assert alerts


def test_rotated_token_replaces_the_old_one(platform: Platform) -> None:
    old = _add(platform).json()["token"]
    r = platform.client.post(f"{V1}/devices/kobo-1/token", headers=platform.auth("admin"))
    new = r.json()["token"]
    assert _push(platform, new, "t|3").status_code == 204
    assert _push(platform, old, "t|4").status_code == 401


def test_organisations_manage_only_their_own_devices(platform: Platform) -> None:
    assert _add(platform, "viewer").status_code == 403
    assert _add(platform, "Reader").status_code == 403
    r = _add(platform, "Writer", owner="someone-else")
    assert r.status_code == 201 and r.json()["owner"] == "Writer"
    r = platform.client.post(f"{V1}/devices", json={"id": "shelter-pc", "type": "people-counter"},
                             headers=platform.auth("admin"))
    assert r.status_code == 201
    mine = platform.client.get(f"{V1}/devices", headers=platform.auth("Writer")).json()
    assert [d["id"] for d in mine] == ["kobo-1"]
    assert platform.client.get(f"{V1}/devices/shelter-pc",
                               headers=platform.auth("Writer")).status_code == 404
    everything = platform.client.get(f"{V1}/devices", headers=platform.auth("viewer")).json()
    assert {d["id"] for d in everything} == {"kobo-1", "shelter-pc"}
    inventory = platform.client.get(f"{V1}/inventory", headers=platform.auth("admin")).json()
    assert inventory["count"] == 2 and inventory["devices"][0]["firmware"] == "1.0.3"


def test_bad_registrations_are_refused(platform: Platform) -> None:
    auth = platform.auth("admin")
    for body in ({"id": "a b", "type": "env-sensor"}, {"id": "x", "type": "toaster"},
                 {"id": "x", "type": "env-sensor", "expectedInterval": 0},
                 {"id": "x", "type": "env-sensor", "location": [500, 1]},
                 {"id": "x", "type": "env-sensor", "entityId": "not a uri"}):
        r = platform.client.post(f"{V1}/devices", json=body, headers=auth)
        assert r.status_code == 400, (body, r.text)
    assert _add(platform).status_code == 201
    assert _add(platform).status_code == 409
    r = platform.client.patch(f"{V1}/devices/kobo-1", json={"owner": "me"}, headers=auth)
    assert r.status_code == 400


def test_a_silent_device_raises_an_offline_alert(platform: Platform) -> None:
    token = _add(platform).json()["token"]
    assert _push(platform, token, "t|5").status_code == 204
    iot = iot_of(platform.client.app)

    async def check(at: float) -> list[str]:
        return await check_liveness(iot.registry, iot.ingestor, iot.ingestor.monitor, now=at)

    assert platform.client.portal is not None
    now = time.time()
    assert platform.client.portal.call(check, now + 59) == []  # within 2 × 30 s
    assert platform.client.portal.call(check, now + 61) == ["kobo-1"]
    device = platform.client.get(f"{V1}/devices/kobo-1", headers=platform.auth("admin")).json()
    assert device["offline"] is True and device["messages"] == 1
    alerts = platform.client.get("/auth/v1/alerts?kind=device-offline",
                                 headers=platform.auth("admin")).json()
    assert [a["subject"] for a in alerts] == ["kobo-1"]
    assert _push(platform, token, "t|6").status_code == 204
    assert platform.client.portal.call(check, time.time()) == []
    device = platform.client.get(f"{V1}/devices/kobo-1", headers=platform.auth("admin")).json()
    assert device["offline"] is False


def test_ingested_writes_are_records_of_the_transparency_log(platform: Platform) -> None:
    token = _add(platform).json()["token"]
    assert _push(platform, token, "t|7|h|30").status_code == 204
    assert _push(platform, token, "t|8|h|31").status_code == 204
    trust = platform.client.app.state.trust  # type: ignore[attr-defined]

    async def leaves() -> list[dict[str, Any]]:
        await trust.writes.flush()
        found = await trust.log.find(entity_key("", ENTITY))
        return [orjson.loads((await trust.log.leaf(i)).body) for i in found]

    assert platform.client.portal is not None
    records = platform.client.portal.call(leaves)
    assert len(records) == 2
    assert {r["who"] for r in records} == {"device:kobo-1"}
    assert records[0]["op"] == "ingest" and records[0]["entities"] == [ENTITY]
    assert token not in orjson.dumps(records).decode()
