"""The service in a running platform: a resident books through the API and sees her trip,
a cancellation frees the seat, an operator sees the trips and KPIs, bad input is a problem
in Japanese and English, and her booking is written as her personal data through the
platform (the service's own organisation, refResident)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.conftest import LOOPBACK

from cityos.app import create_app
from cityos.settings import load_settings

API = "/services/v1/ondemand"


@pytest.fixture
def town(data_dir: Path) -> Iterator[TestClient]:
    environ = {"CITYOS_EGRESS_ALLOW": LOOPBACK, "CITYOS_SERVICES_ENABLED": "ondemand"}
    app = create_app(load_settings(data_dir, environ=environ))
    with TestClient(app, raise_server_exceptions=False) as c:
        ctx = app.state.services["ondemand"]
        ctx.options["always_open"] = True  # a test at any hour: the cars work all day
        from cityos.services.ondemand.runtime import new_day

        new_day(ctx)
        yield c


def _resident(c: TestClient, login: str) -> dict[str, str]:
    r = c.post("/auth/residents", data={"login": login, "password": f"{login}-no-himitsu-1"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _staff(c: TestClient) -> dict[str, str]:
    from cityos.access.service import staff_principal

    app: Any = c.app

    async def token() -> str:
        member, _ = await app.state.access.book.add_staff("clerk", ["operator"], tenant="")
        return str(await app.state.access.issue(staff_principal(member)))

    assert c.portal is not None
    return {"Authorization": f"Bearer {c.portal.call(token)}"}


def test_a_resident_books_confirms_and_cancels(town: TestClient) -> None:
    hanako = _resident(town, "hanako")
    stops = town.get(f"{API}/stops", headers=hanako).json()
    assert {"clinic", "station", "shop", "shelter", "area"} <= {s["kind"] for s in stops}
    body = {"origin": "area-001", "destination": "clinic-yono", "passengers": 2}
    offer = town.post(f"{API}/offers", json=body, headers=hanako)
    assert offer.status_code == 201, offer.text
    ride = offer.json()["ride"]
    assert ride["status"] == "offered" and ride["pickupWindow"] and ride["arrivalBy"]
    assert town.post(f"{API}/rides/{ride['id']}/confirm", headers=hanako).json()["status"] == \
        "confirmed"
    mine = town.get(f"{API}/trips", headers=hanako).json()
    assert [t["id"] for t in mine] == [ride["id"]]
    other = _resident(town, "mio")
    assert town.get(f"{API}/trips", headers=other).json() == []
    assert town.post(f"{API}/rides/{ride['id']}/cancel", headers=other).status_code == 404
    staff = _staff(town)
    assert [t["id"] for t in town.get(f"{API}/trips", headers=staff).json()] == [ride["id"]]
    kpis = town.get(f"{API}/kpis", headers=staff).json()
    assert kpis["requests"] == 1 and sum(
        sum(h.values()) for h in kpis["demandByAreaHour"].values()) == 1
    gone = town.post(f"{API}/rides/{ride['id']}/cancel", headers=hanako)
    assert gone.json()["status"] == "cancelled"
    assert town.post(f"{API}/rides/{ride['id']}/cancel", headers=hanako).status_code == 409


def test_a_cancellation_frees_the_seats(town: TestClient) -> None:
    hanako = _resident(town, "hanako")
    booked = []
    for _ in range(12):  # three cars of four seats, all at the same time
        r = town.post(f"{API}/bookings", headers=hanako, json={
            "origin": "area-001", "destination": "clinic-yono", "passengers": 4})
        if r.status_code != 201:
            break
        booked.append(r.json()["ride"]["id"])
    assert len(booked) >= 3
    assert r.status_code == 409 and r.json()["ok"] is False
    town.post(f"{API}/rides/{booked[0]}/cancel", headers=hanako)
    again = town.post(f"{API}/bookings", headers=hanako, json={
        "origin": "area-001", "destination": "clinic-yono", "passengers": 4})
    assert again.status_code == 201, again.text


@pytest.mark.parametrize("body", [
    {"origin": "nowhere", "destination": "clinic-yono"},
    {"origin": "area-001", "destination": "area-001"},
    {"origin": "area-001", "destination": "clinic-yono", "passengers": 9},
    {"origin": "area-001", "destination": "clinic-yono", "pickupAfter": "25:99"},
    [1, 2],
])
def test_bad_bookings_are_problems_in_two_languages(town: TestClient, body: Any) -> None:
    r = town.post(f"{API}/offers", json=body, headers=_resident(town, "hanako"))
    assert r.status_code == 400
    detail = r.json()["detail"]
    assert " / " in detail and any(ord(ch) > 0x3000 for ch in detail)


def test_her_booking_is_her_personal_data_written_by_the_service(town: TestClient) -> None:
    hanako = _resident(town, "hanako")
    me = town.get("/auth/v1/me", headers=hanako).json()["id"]
    r = town.post(f"{API}/bookings", headers=hanako, json={
        "origin": "area-001", "destination": "kofudai-station"})
    assert r.status_code == 201
    app: Any = town.app
    ctx = app.state.services["ondemand"]
    for _ in range(50):  # written in the background
        assert town.portal is not None
        found = town.portal.call(lambda: ctx.client.request(
            "GET", "/ngsi-ld/v1/entities", params={"type": "RideRequest"}))
        if found.status_code == 200 and found.json():
            break
        time.sleep(0.1)
    entities = found.json()
    assert entities and entities[0]["refResident"]["object"] == f"urn:ngsi-ld:Resident:{me}"


def test_the_demo_day_fills_the_console_at_once(town: TestClient) -> None:
    from cityos.services.ondemand import demo

    app: Any = town.app
    ctx = app.state.services["ondemand"]
    assert town.portal is not None
    ctx.state["ready"] = True  # as runtime.warm says once the optimiser is compiled
    task = town.portal.call(lambda: _spawn(ctx, demo.load(ctx)))
    staff = _staff(town)
    for _ in range(300):
        kpis = town.get(f"{API}/kpis", headers=staff).json()
        if kpis["requests"]:
            break
        time.sleep(0.1)
    assert kpis["requests"] > 20 and kpis["served"] + kpis["refused"] > 0
    assert town.get("/console/ondemand", headers=staff).status_code == 200
    town.portal.call(lambda: _cancel(task))


async def _spawn(ctx: Any, coroutine: Any) -> Any:
    return ctx.spawn(coroutine)


async def _cancel(task: Any) -> None:
    task.cancel()


def test_her_trip_is_written_as_hers_and_her_consent_is_asked(town: TestClient) -> None:
    from cityos.services.ondemand.runtime import STATE, _write

    hanako = _resident(town, "hanako")
    me = town.get("/auth/v1/me", headers=hanako).json()["id"]
    app: Any = town.app
    ctx = app.state.services["ondemand"]
    assert town.portal is not None
    ride_id = town.post(f"{API}/bookings", headers=hanako, json={
        "origin": "area-001", "destination": "kofudai-station"}).json()["ride"]["id"]
    staff = _staff(town)

    def asked() -> list[dict[str, Any]]:
        return [c for c in town.get("/personal/v1/consents", params={"resident": me},
                                    headers=staff).json() if c["category"] == "mobility"]

    for _ in range(50):  # asked in the background at her first booking
        if asked():
            break
        time.sleep(0.1)
    [consent] = asked()
    assert consent["state"] == "REQUESTED" and consent["recipientName"] == "町のオンデマンド交通"
    d = ctx.state[STATE]
    ride = d.rides[ride_id]
    d.advance(24 * 60.0 - 0.01)
    assert ride.status == "done"

    async def write() -> None:
        await _write(ctx, ride)

    town.portal.call(write)
    [trip] = town.portal.call(lambda: ctx.client.query("TripRecord"))
    assert trip["refResident"] == f"urn:ngsi-ld:Resident:{me}"
    assert trip["originArea"] == "ときわ台五丁目"
    assert len(asked()) == 1  # asked once, not at every write


def test_the_driver_marks_the_pickup_and_the_drop_off(town: TestClient) -> None:
    from cityos.services.ondemand.runtime import STATE

    hanako = _resident(town, "hanako")
    ride = town.post(f"{API}/bookings", headers=hanako, json={
        "origin": "area-001", "destination": "kofudai-station"}).json()["ride"]
    staff = _staff(town)
    page = town.get("/console/ondemand/driver", params={"car": ride["vehicle"]}, headers=staff)
    assert page.status_code == 200 and f'data-ride="{ride["id"]}"' in page.text
    mark = {"car": ride["vehicle"], "ride": ride["id"], "kind": "p"}
    answer = town.post("/console/ondemand/driver/mark", data=mark, headers=staff,
                       follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=marked")
    app: Any = town.app
    d = app.state.services["ondemand"].state[STATE]
    assert d.rides[ride["id"]].status == "onboard"
    assert town.post(f"{API}/rides/{ride['id']}/cancel", headers=hanako).status_code == 409
    town.post("/console/ondemand/driver/mark", data={**mark, "kind": "d"}, headers=staff)
    assert d.rides[ride["id"]].status == "done"
    again = town.post("/console/ondemand/driver/mark", data={**mark, "kind": "d"},
                      headers=staff, follow_redirects=False)
    assert again.headers["location"].endswith("done=gone")  # nothing left to mark


def test_the_demo_cars_gps_follows_the_plan(town: TestClient) -> None:
    from cityos.services.ondemand.fleet import DEPOT
    from cityos.services.ondemand.runtime import STATE, planned_position
    from cityos.town.simulator import Simulator

    assert planned_position("beacon-rx-shelter-1") is None  # not a car of the plan
    assert planned_position("ondemand-car-1") == (*DEPOT, 0, 0.0)  # waiting at the depot
    hanako = _resident(town, "hanako")
    ride = town.post(f"{API}/bookings", headers=hanako, json={
        "origin": "area-040", "destination": "clinic-yono", "passengers": 2}).json()["ride"]
    app: Any = town.app
    d = app.state.services["ondemand"].state[STATE]
    r = d.rides[ride["id"]]
    d.advance((r.planned_pickup or 0) + 0.5)  # just after her pickup: on the way, two aboard
    lon, lat, aboard, _ = planned_position(ride["vehicle"]) or (0, 0, 0, 0)
    assert aboard == 2 and (lon, lat) != DEPOT
    car = {"id": ride["vehicle"], "type": "vehicle-gps", "location": DEPOT}
    Simulator._drive(object.__new__(Simulator), car)  # the demo's simulator moves it there
    assert car["position"] == (lon, lat, 2)
