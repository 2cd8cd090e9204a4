"""The service's faces in process over the Toyono town: the API (and its ProblemDetails), the
notification route's secret, the resident page, and the console's open/close and counts
(with their refusals: never a 5xx)."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from cityos.app import create_app
from cityos.settings import load_settings
from cityos.town.loader import load_town
from conftest import CITYOS, LOOPBACK

HTML = {"Accept": "text/html,application/xhtml+xml"}
PLAN = "/services/v1/evacuation/plan"


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[tuple[TestClient, list[str], Path]]:
    data = tmp_path_factory.mktemp("evacuation") / "var"
    subprocess.run([CITYOS, "init", "--data-dir", str(data)], check=True, capture_output=True)
    settings = load_settings(data, environ={"CITYOS_EGRESS_ALLOW": LOOPBACK,
                                            "CITYOS_SERVICES_ENABLED": "evacuation"})
    asyncio.run(load_town(settings))
    staff = json.loads((data / "town" / "credentials.json").read_text())["staff"]
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client, staff, data


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no form token"
    return found.group(1)


def _plan(client: TestClient, hazard: str = "flood") -> dict[str, Any]:
    r = client.get(PLAN, params={"hazard": hazard})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_api_plan_and_its_problems(town: tuple[TestClient, list[str], Path]) -> None:
    client, _, _ = town
    by_name = _plan(client, "洪水")
    assert by_name["hazard"] == "flood" and by_name["distance"] == "great-circle"
    assert all("congestion" in s for s in by_name["shelters"])
    assert _plan(client, "any")["hazard"] is None
    r = client.get(PLAN, params={"hazard": "meteor"})
    assert r.status_code == 400
    assert "災害の種類ではありません" in r.json()["detail"] and "not a hazard" in r.json()["detail"]
    tsunami = _plan(client, "tsunami")
    assert tsunami["assignment"] == [] and tsunami["unassigned"]


def test_a_notification_without_the_secret_is_refused(town: tuple[TestClient, list[str], Path]
                                                      ) -> None:
    client, _, _ = town
    r = client.post("/services/v1/evacuation/notify", json={"data": []},
                    headers={"X-Cityos-Service-Token": "guess"})
    assert r.status_code == 401


def test_the_resident_page_says_where_to_go(town: tuple[TestClient, list[str], Path]) -> None:
    client, _, _ = town
    plan = _plan(client)
    area = plan["areas"][0]
    rows = sorted((r for r in plan["assignment"] if r["area"] == area["id"]),
                  key=lambda r: -r["people"])
    name = next(s["name"] for s in plan["shelters"] if s["id"] == rows[0]["shelter"])
    page = client.get("/app/evacuation", params={"hazard": "flood", "area": area["id"]})
    assert page.status_code == 200
    assert f'id="evac-target">{name}<' in page.text
    assert "時点" in page.text and "出典：国土地理院" in page.text
    bare = client.get("/app/evacuation", params={"hazard": "meteor", "area": "nowhere"})
    assert bare.status_code == 200 and 'id="evac-target"' not in bare.text
    none = client.get("/app/evacuation", params={"hazard": "tsunami", "area": area["id"]})
    assert "この災害に指定された避難場所がありません" in none.text


def test_staff_close_a_shelter_and_count(town: tuple[TestClient, list[str], Path]) -> None:
    client, (user, password), data = town
    anonymous = client.get("/console/evacuation", headers=HTML, follow_redirects=False)
    assert anonymous.status_code in (302, 303, 401)
    token = _csrf(client.get("/console/signin", headers=HTML).text)
    r = client.post("/console/signin", headers=HTML, follow_redirects=False, data={
        "csrf": token, "username": user, "password": password, "next": "/console/evacuation"})
    assert r.status_code == 303, r.text
    page = client.get("/console/evacuation", headers=HTML)
    assert page.status_code == 200 and page.text.count('id="shelter-') == 14
    assert "収容人数と地区の人数はデモ用の架空の値です" in page.text  # the plan's note, in Japanese only
    assert "demo figures" not in page.text
    before = _plan(client)
    busiest = max({r["shelter"] for r in before["assignment"]},
                  key=lambda s: sum(r["people"] for r in before["assignment"]
                                    if r["shelter"] == s))
    key = busiest.rsplit(":", 1)[-1]
    r = client.post(f"/console/evacuation/status/{key}", headers=HTML, follow_redirects=False,
                    data={"csrf": _csrf(page.text), "status": "closed", "event": "大雨 12/7"})
    assert r.status_code == 303
    deadline = time.monotonic() + 60
    while True:  # re-planned by the service's worker
        after = _plan(client)
        shelter = next(s for s in after["shelters"] if s["id"] == busiest)
        if not shelter["open"]:
            break
        assert time.monotonic() < deadline, "not re-planned"
        time.sleep(0.2)
    assert not any(r["shelter"] == busiest for r in after["assignment"])
    assert "大雨 12/7" in client.get("/console/evacuation", headers=HTML).text
    count_page = client.get(f"/console/evacuation/count/{key}", headers=HTML)
    assert count_page.status_code == 200
    bad = client.post(f"/console/evacuation/count/{key}", headers=HTML, follow_redirects=False,
                      data={"csrf": _csrf(count_page.text), "delta": "+100"})
    assert bad.status_code == 400
    assert client.get("/console/evacuation/count/nope", headers=HTML).status_code == 404
    r = client.post(f"/console/evacuation/count/{key}", headers=HTML, follow_redirects=False,
                    data={"csrf": _csrf(count_page.text), "delta": "+1"})
    assert r.status_code == 303
    assert 'id="evac-count">1<' in client.get(r.headers["location"], headers=HTML).text
    # the command reads the same platform through the service's client: closed, counted
    out = subprocess.run([CITYOS, "evacuation", "plan", "--data-dir", str(data), "--hazard",
                          "flood", "--json"], capture_output=True, text=True, check=True)
    shelter = next(s for s in json.loads(out.stdout)["shelters"] if s["id"] == busiest)
    assert shelter["open"] is False and shelter["occupancy"] == 1
