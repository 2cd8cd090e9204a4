"""The watch-over service running in the platform, through its HTTP API: consent, the
volunteer's write-only token, search requests, erasure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.conftest import LOOPBACK, stored_log

from cityos.access.service import resident_principal, staff_principal
from cityos.app import create_app
from cityos.audit.trail import trail_of
from cityos.services.watchover import routes, service
from cityos.services.watchover.model import JST
from cityos.settings import load_settings

API = "/services/v1/watchover"


class Town:
    """The platform with the watch-over service, a guardian, a watched child, staff."""

    def __init__(self, c: TestClient) -> None:
        self.c = c
        self.app: Any = c.app
        self.child = self.run(self._resident("kenta"))
        self.parent = self.run(self._resident("yumi"))
        self.stranger = self.run(self._resident("other"))
        self.admin = self.run(self._staff("admin1", ["admin"]))
        self.clerk = self.run(self._staff("clerk1", ["operator"]))
        self.other_clerk = self.run(self._staff("clerk2", ["operator"]))

    def run(self, coroutine: Any) -> Any:
        assert self.c.portal is not None
        return self.c.portal.call(lambda: coroutine)

    async def _resident(self, login: str) -> dict[str, str]:
        access = self.app.state.access
        resident = await access.residents.add_resident(login, tenant="", password="x" * 16)
        token = await access.issue(resident_principal(resident))
        return {"id": resident["id"], "auth": f"Bearer {token}"}

    async def _staff(self, name: str, roles: list[str]) -> dict[str, str]:
        access = self.app.state.access
        member, _ = await access.book.add_staff(name, roles, tenant="")
        return {"id": name, "auth": f"Bearer {await access.issue(staff_principal(member))}"}

    def as_(self, who: dict[str, str]) -> dict[str, str]:
        return {"Authorization": who["auth"]}

    @property
    def watch(self) -> service.WatchService:
        return self.app.state.services["watchover"].state["service"]  # type: ignore[no-any-return]

    def receiver(self, rid: str, kind: str = "volunteer", site: str | None = None,
                 where: list[float] | None = None) -> str:
        body = {"id": rid, "name": f"受信機 {rid}", "kind": kind,
                "location": where or [135.4377, 34.8986]}
        if site:
            body["site"] = site
        answer = self.c.post(f"{API}/receivers", json=body, headers=self.as_(self.clerk))
        assert answer.status_code == 201, answer.text
        return str(answer.json()["token"])

    def register(self, tag: str = "bcn-kenta", **extra: Any) -> Any:
        return self.c.post(f"{API}/tags", headers=self.as_(self.parent),
                           json={"tag": tag, "person": self.child["id"], "label": "けんた",
                                 **extra})

    def consent(self, state: str = "APPROVED") -> None:
        mine = self.c.get("/personal/v1/me/consents", headers=self.as_(self.child)).json()
        [asked] = [c for c in mine if c["category"] == "location"]
        answer = self.c.patch(f"/personal/v1/me/consents/{asked['id']}", json={"state": state},
                              headers=self.as_(self.child))
        assert answer.status_code == 200, answer.text
        self.run(self.watch.refresh_consents(force=True))

    def sight(self, token: str, tag: str = "bcn-kenta", minutes: float = 0, rssi: float = -60,
              **extra: Any) -> Any:
        at = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).isoformat()
        return self.c.post(f"{API}/sightings", headers={routes.RECEIVER_HEADER: token},
                           json={"sightings": [{"tag": tag, "rssi": rssi, "at": at, **extra}]})

    def stored(self, kind: str) -> list[dict[str, Any]]:
        """What the platform holds of `kind` (read as the service itself: its own rows)."""
        return self.run(self.watch.client.query(kind))  # type: ignore[no-any-return]


@pytest.fixture
def town(data_dir: Path) -> Iterator[Town]:
    environ = {"CITYOS_EGRESS_ALLOW": LOOPBACK, "CITYOS_SERVICES_ENABLED": "watchover"}
    with TestClient(create_app(load_settings(data_dir, environ=environ)),
                    raise_server_exceptions=False) as c:
        yield Town(c)


def test_consent_off_keeps_and_releases_nothing(town: Town) -> None:
    token = town.receiver("phone-1")
    registered = town.register()
    assert registered.status_code == 201, registered.text
    assert registered.json()["consent"] == "waiting"
    assert town.sight(token).status_code == 202
    assert town.stored("BeaconSighting") == [] and town.stored("WatchLastSeen") == []
    seen = town.c.get(f"{API}/tags/bcn-kenta/last-seen", headers=town.as_(town.parent))
    assert seen.json()["lastSeen"] is None
    town.consent("APPROVED")
    town.sight(token, minutes=1)
    [day] = town.stored("BeaconSighting")
    assert day["refResident"] == town.child["id"] and len(day["sightings"]) == 1
    seen = town.c.get(f"{API}/tags/bcn-kenta/last-seen", headers=town.as_(town.parent)).json()
    assert seen["lastSeen"]["receiverName"] == "受信機 phone-1"
    mine = town.run(town.watch.client.consents())  # an organisation lists its own consents
    assert {c["recipientName"] for c in mine} == {"町の見守りサービス"}
    town.consent("WITHDRAWN")  # withdrawn: what was kept is deleted, nothing new is kept
    town.sight(token, minutes=2)
    assert town.stored("BeaconSighting") == [] and town.stored("WatchLastSeen") == []


def test_the_volunteers_token_writes_and_reads_nothing_back(town: Town) -> None:
    token = town.receiver("phone-2")
    town.register()
    town.consent()
    assert town.sight(token).json() == {"received": 1}
    # the answer is the same for a tag nobody registered: it tells the phone nothing
    assert town.sight(token, tag="bcn-unknown").json() == {"received": 1}
    as_bearer = {"Authorization": f"Bearer {token}"}
    as_receiver = {routes.RECEIVER_HEADER: token}
    for path in (f"{API}/tags", f"{API}/notices", f"{API}/tags/bcn-kenta/last-seen",
                 f"{API}/tags/bcn-kenta/day", f"{API}/receivers", f"{API}/search-requests",
                 "/ngsi-ld/v1/entities?type=BeaconSighting",
                 "/ngsi-ld/v1/entities?type=WatchLastSeen",
                 "/ngsi-ld/v1/entities/urn:ngsi-ld:WatchLastSeen:bcn-kenta"):
        for headers in (as_bearer, as_receiver):
            answer = town.c.get(path, headers=headers)
            assert answer.status_code in (401, 403), (path, answer.status_code)
            assert "bcn-kenta" not in answer.text and "kenta" not in answer.text
    assert town.sight("wrt_forged").status_code == 401
    # and another guardian sees nothing of the tag either
    answer = town.c.get(f"{API}/tags/bcn-kenta/last-seen", headers=town.as_(town.stranger))
    assert answer.status_code == 404


def test_a_search_request_opens_the_place_to_named_staff_until_it_expires(
        town: Town, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    token = town.receiver("phone-3")
    town.register()
    town.consent()
    town.sight(token)
    staff_list = town.c.get(f"{API}/search-requests", headers=town.as_(town.clerk))
    assert staff_list.json() == []
    filed = town.c.post(f"{API}/search-requests", headers=town.as_(town.parent),
                        json={"tag": "bcn-kenta", "staff": ["clerk1"], "hours": 2})
    assert filed.status_code == 201, filed.text
    place = f"{API}/search-requests/{filed.json()['id']}/place"
    at = dt.datetime.fromisoformat(filed.json()["filed"])
    clock = [at - dt.timedelta(minutes=5)]  # before it was filed
    monkeypatch.setattr(service, "utcnow", lambda: clock[0])
    assert town.c.get(place, headers=town.as_(town.clerk)).status_code == 403
    clock[0] = at + dt.timedelta(hours=1)  # in force
    opened = town.c.get(place, headers=town.as_(town.clerk))
    assert opened.status_code == 200, opened.text
    assert opened.json()["lastSeen"]["receiverName"] == "受信機 phone-3"
    assert town.c.get(place, headers=town.as_(town.other_clerk)).status_code == 403  # not named
    clock[0] = at + dt.timedelta(hours=2, seconds=1)  # expired
    assert town.c.get(place, headers=town.as_(town.clerk)).status_code == 403
    [(_request, opened_by)] = town.run(town.watch.searches())
    assert [o["staff"] for o in opened_by] == ["clerk1"]  # recorded, once: the one opening
    town.run(trail_of(town.app).flush())
    app_db = town.app.state.settings.database_url  # the platform's own store, either engine
    looks = [(r["who"], r["status"]) for r in stored_log(app_db, "audit")
             if r["path"].endswith("/place") and town.child["id"] in r.get("subjects", [])]
    assert looks == [("staff:clerk1", 200)]  # the audit trail names her for the opening
    # staff never see a place without a request: the receivers' list names no tag
    receivers = town.c.get(f"{API}/receivers", headers=town.as_(town.clerk)).text
    assert "bcn-kenta" not in receivers and town.child["id"] not in receivers


def test_erasing_the_resident_removes_her_sightings(town: Town) -> None:
    token = town.receiver("phone-4")
    town.register()
    town.consent()
    town.sight(token)
    assert town.stored("BeaconSighting") != []
    erased = town.c.post(f"/personal/v1/residents/{town.child['id']}/erasure",
                         json={"confirm": "ERASE"}, headers=town.as_(town.admin))
    assert erased.status_code == 200, erased.text
    for kind in ("BeaconSighting", "WatchLastSeen", "WatchTag"):
        assert town.stored(kind) == [], kind
    town.run(town.watch.load())
    assert "bcn-kenta" not in town.watch.tags
    assert town.c.get(f"{API}/tags", headers=town.as_(town.parent)).json() == []


def test_bad_input_is_a_problem_in_both_languages(town: Town) -> None:
    answer = town.register(tag="x")
    assert answer.status_code == 400
    assert "タグ" in answer.json()["detail"] and "tag id" in answer.json()["detail"]
    token = town.receiver("phone-5")
    answer = town.c.post(f"{API}/sightings", headers={routes.RECEIVER_HEADER: token},
                         json={"sightings": [{"tag": "bcn-kenta", "rssi": "loud"}]})
    assert answer.status_code == 400 and "rssi" in answer.json()["detail"]
    answer = town.c.post(f"{API}/sightings", headers={routes.RECEIVER_HEADER: token},
                         content=b"{not json")
    assert answer.status_code == 400


def test_a_restart_keeps_the_days_sightings_and_moves(town: Town) -> None:
    token = town.receiver("phone-6")
    town.register()
    town.consent()
    town.sight(token)
    ctx = town.app.state.services["watchover"]
    again = service.WatchService(ctx.client)  # the service as a restart makes it
    town.run(again.load())
    town.app.state.services["watchover"].state["service"] = again
    town.sight(town.receiver("phone-7"), minutes=5)  # a second receiver, after the restart
    [day] = town.stored("BeaconSighting")
    assert [row[1] for row in day["sightings"]] == ["urn:ngsi-ld:WatchReceiver:phone-6",
                                                     "urn:ngsi-ld:WatchReceiver:phone-7"]
    [place] = town.stored("WatchLastSeen")
    assert [m["name"] for m in place["moves"]] == ["受信機 phone-6", "受信機 phone-7"]


def test_staff_see_receivers_alive_or_quiet_never_a_tag(town: Town) -> None:
    quiet, beating = town.receiver("phone-8"), town.receiver("phone-9")
    assert quiet and town.c.post(f"{API}/sightings", headers={routes.RECEIVER_HEADER: beating},
                                 json={"sightings": []}).json() == {"received": 0}
    status = {r["id"].rpartition(":")[2]: r["live"] for r in
              town.c.get(f"{API}/receivers", headers=town.as_(town.clerk)).json()}
    assert status == {"phone-8": False, "phone-9": True}
    page = town.c.get("/console/watchover", headers=town.as_(town.clerk))
    assert page.status_code == 200
    assert "受信機 phone-9" in page.text and "稼働中 1 / 2 台" in page.text


def test_the_api_is_in_openapi(town: Town) -> None:
    paths = town.c.get("/openapi.json").json()["paths"]
    for path in ("/sightings", "/tags", "/tags/{tag}/last-seen", "/tags/{tag}/day",
                 "/notices", "/search-requests", "/search-requests/{requestId}/place",
                 "/receivers"):
        assert f"{API}{path}" in paths, path


def test_a_receiver_of_a_strange_shape_is_a_problem_not_a_crash(town: Town) -> None:
    for body in ({"id": "rx-1", "name": "x", "kind": "fixed", "site": {}},
                 {"id": "rx-1", "name": "x", "kind": ["fixed"]},
                 {"id": "", "name": "", "kind": "fixed", "location": []}):
        answer = town.c.post(f"{API}/receivers", json=body, headers=town.as_(town.clerk))
        assert answer.status_code == 400, (body, answer.text)


def test_raw_sightings_are_kept_seven_days_the_last_seen_place_longer(town: Town) -> None:
    town.receiver("phone-10")
    town.register()
    town.consent()
    now = dt.datetime.now(dt.UTC)
    rx = "urn:ngsi-ld:WatchReceiver:phone-10"
    old = [service.Sighting("bcn-kenta", rx, -60.0, now - dt.timedelta(days=d)) for d in (9, 8)]
    town.run(town.watch.ingest([*old, service.Sighting("bcn-kenta", rx, -60.0, now)]))
    assert len(town.stored("BeaconSighting")) == 3  # three JST days
    assert town.run(town.watch.purge(now)) == 2
    [kept] = town.stored("BeaconSighting")
    assert kept["date"] == now.astimezone(JST).date().isoformat()
    assert len(town.stored("WatchLastSeen")) == 1  # 90 days: still here
    assert town.run(town.watch.purge(now + dt.timedelta(days=91))) >= 2  # then it goes too
    assert town.stored("WatchLastSeen") == [] and town.stored("BeaconSighting") == []
