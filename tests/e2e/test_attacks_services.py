"""Attacks on the town services (evacuation, watchover, ondemand, wallet …) over HTTP against a
real `cityos serve` of attack_town with the services enabled: staff viewers, residents and
receivers attack the service APIs. Each test is an attack that worked; an `xfail(strict=True)`
one is a hole reported and not yet fixed (it fails loudly once fixed: then drop the mark)."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Iterator
from typing import Any

import attack_town
import httpx
import pytest
from attack_town import STORE_ENGINE, TOWN_EGRESS, V1, Town, _sign_in, personal

from conftest import Server, copy_platform

attack_template = attack_town.attack_template  # the prepared platform (session fixture)
W = "/services/v1/watchover"


@pytest.fixture(scope="module")
def town(attack_template: tuple[Any, dict[str, Any]],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[Town]:
    """attack_town's town with the services under attack running."""
    data_dir = tmp_path_factory.mktemp("services-town") / "var"
    environ = copy_platform(attack_template[0], data_dir)
    url = environ.get("CITYOS_DATABASE_URL") if STORE_ENGINE == "postgresql" else None
    made = attack_template[1]
    server = Server(data_dir, database_url=url, egress_allow=TOWN_EGRESS,
                    env={"CITYOS_SERVICES_ENABLED": "watchover,wallet"})
    try:
        yield Town(server.url, _sign_in(server.url, made), dict(made["residents"]),
                   dict(made["clients"]), data_dir)
    finally:
        server.stop()
        if os.environ.get("CITYOS_KEEP_TOWN") is None:
            shutil.rmtree(data_dir, ignore_errors=True)


def _new_resident(town: Town, login: str) -> tuple[str, str]:
    """A third resident who signs up herself: her token and id."""
    r = httpx.post(f"{town.url}/auth/residents", timeout=30,
                   data={"login": login, "password": f"{login}-no-himitsu-2026"})
    assert r.status_code == 201, r.text
    token = str(r.json()["access_token"])
    me = httpx.get(f"{town.url}/auth/v1/me", headers={"Authorization": f"Bearer {token}"},
                   timeout=30)
    town.tokens[login] = token
    return token, str(me.json()["id"])


@pytest.mark.parametrize("request_id", ["x", "a%20b", "urn:ngsi-ld:Thing:1",
                                        "urn:ngsi-ld:WatchSearchRequest:zz%3Fq=a"])
@pytest.mark.parametrize("who", ["viewer", "operator"])
def test_a_bad_search_request_id_is_a_404_not_a_server_error(town: Town, who: str,
                                                            request_id: str) -> None:
    """Staff opening a search request by a made-up id: before, a non-URN id made the
    service's own broker read fail with 400 and the route answered 500."""
    r = town.get(who, f"{W}/search-requests/{request_id}/place")
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/"), r.headers
    assert "json" in r.headers["content-type"]


def _approve_all(town: Town, who: str) -> None:
    for consent in town.get(who, "/personal/v1/me/consents").json():
        if consent.get("state") == "REQUESTED":
            r = town.patch(who, f"/personal/v1/me/consents/{consent['id']}",
                           json={"state": "APPROVED"})
            assert r.status_code == 200, r.text


def test_a_stranger_cannot_watch_a_person_on_her_guardian_s_consent(town: Town) -> None:
    """Hanako registers a tag for Taro, who approves. Mallory (any resident who knows Taro's
    resident id) registers a beacon of her own for Taro: it must wait for Taro's own
    decision about Mallory. Before: it was approved at once, no new question was put to
    Taro, and Mallory read where her beacon (slipped into Taro's bag) was last seen."""
    taro = town.residents["taro"]
    r = town.post("hanako", f"{W}/tags", json={"tag": "tag-hanako-s1", "person": taro,
                                               "label": "taro"})
    assert r.status_code == 201, r.text
    _approve_all(town, "taro")
    _new_resident(town, "mallory")
    asked_before = len(town.get("taro", "/personal/v1/me/consents").json())
    r = town.post("mallory", f"{W}/tags", json={"tag": "tag-mallory-s1", "person": taro,
                                                "label": "target"})
    receiver = town.post("operator", f"{W}/receivers", json={
        "id": "vol-s1", "name": "volunteer", "kind": "volunteer", "location": [139.7, 35.6]})
    assert receiver.status_code == 201, receiver.text
    seen = httpx.post(f"{town.url}{W}/sightings", timeout=30,
                      headers={"Receiver-Token": receiver.json()["token"]},
                      json={"sightings": [{"tag": "tag-mallory-s1", "rssi": -60}]})
    assert seen.status_code == 202, seen.text
    last = town.get("mallory", f"{W}/tags/tag-mallory-s1/last-seen")
    asked_after = len(town.get("taro", "/personal/v1/me/consents").json())
    assert r.status_code == 409 and "別の方が見守りに登録" in r.text, r.text
    assert last.status_code == 404 or last.json().get("lastSeen") is None, last.text
    assert asked_after == asked_before  # nothing to answer: the stranger was refused


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def test_the_reset_code_form_is_throttled_like_sign_in(town: Town) -> None:
    """An anonymous visitor hammering /app/reset: each try costs the server a password-hash
    check (and five wrong ones void a resident's counter code). Before: never throttled,
    every try answered 401; now the sign-in limit per address applies (429, in Japanese).
    (Last in the module: the address stays throttled for a while.)"""
    with httpx.Client(base_url=town.url, timeout=30,
                      headers={"Accept": "text/html", "Accept-Language": "ja"}) as browser:
        csrf = _csrf(browser.get("/app/reset").text)
        statuses = []
        for n in range(60):
            r = browser.post("/app/reset", data={
                "csrf": csrf, "login": f"nobody{n}@example.jp", "code": "AAAA-BBBB-CCCC",
                "password": "atarashii-pass-1"})
            statuses.append(r.status_code)
            if r.status_code == 429:
                assert "しばらく" in r.text, r.text[:500]
                break
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[-1] == 429, statuses


def test_a_company_cannot_pre_claim_a_service_s_personal_entity(town: Town) -> None:
    """Company B (read and write grants on BeaconSighting, no consent from Taro) creates the
    watch-over service's predictable day entity of a tag (BeaconSighting:<tag>-<yyyymmdd>;
    the tag id is what the beacon broadcasts) before the service does. The platform refuses
    the service's write into B's entity (207); before, that made every receiver report with
    the tag answer 500 (the whole batch, other tags' notices too). Now the report is taken
    (202) and B still reads nothing of Taro's sightings."""
    taro = town.residents["taro"]
    r = town.post("hanako", f"{W}/tags", json={"tag": "tag-pre-1", "person": taro,
                                               "label": "taro"})
    assert r.status_code == 201, r.text
    _approve_all(town, "taro")
    today = dt.datetime.now(dt.UTC).date()
    days = {today + dt.timedelta(days=n) for n in (-1, 0, 1)}
    for day in days:
        r = town.post("B", f"{V1}/entities", json=personal(
            "BeaconSighting", f"tag-pre-1-{day:%Y%m%d}", taro, note="claimed"))
        assert r.status_code == 201, r.text
    receiver = town.post("operator", f"{W}/receivers", json={
        "id": "vol-pre", "name": "volunteer", "kind": "volunteer", "location": [139.7, 35.6]})
    assert receiver.status_code == 201, receiver.text
    seen = httpx.post(f"{town.url}{W}/sightings", timeout=30,
                      headers={"Receiver-Token": receiver.json()["token"]},
                      json={"sightings": [{"tag": "tag-pre-1", "rssi": -60,
                                           "location": [139.71, 35.61]}]})
    assert seen.status_code == 202, seen.text
    day = town.get("hanako", f"{W}/tags/tag-pre-1/day")
    assert day.status_code == 200 and day.json()["moves"], day.text  # the guardian sees it
    leaked = []
    for d in days:
        got = town.get("B", f"{V1}/entities/urn:ngsi-ld:BeaconSighting:tag-pre-1-{d:%Y%m%d}",
                       params={"options": "keyValues"})
        if got.status_code == 200 and set(got.json()) - {"id", "type", "refResident", "note"}:
            leaked.append(got.json())
    assert not leaked, leaked
