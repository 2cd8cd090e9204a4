"""ACCEPTANCE (issue 21, watch-over): a real `cityos serve` with the service; a parent
registers her child's tag, the child's consent is given, a school-gate receiver reports him;
in headless Chromium on a phone-sized screen the parent sees the last-seen place, the day's
map and the 登校 notice, registers a tag for herself on the page (waiting for her consent), and the
page passes axe-core. The staff console shows the receivers, never the child."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import CITYOS, Server, system_binary

pytestmark = pytest.mark.e2e
API = "/services/v1/watchover"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
sys.path.insert(0, str(Path(__file__).parents[2] / "e2e"))
from a11y import axe_violations, describe  # noqa: E402


def _signup(url: str, login: str) -> dict[str, str]:
    r = httpx.post(f"{url}/auth/residents", data={"login": login, "password": f"{login}-pw-1234"})
    assert r.status_code == 201, r.text
    auth = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return {**auth, "id": httpx.get(f"{url}/auth/v1/me", headers=auth).json()["id"]}


def _h(who: dict[str, str]) -> dict[str, str]:
    return {"Authorization": who["Authorization"]}


def _town(tmp_path: Path) -> tuple[Server, dict[str, Any]]:
    data = tmp_path / "town"
    admin = subprocess.run([CITYOS, "init", "--data-dir", str(data)], capture_output=True,
                           text=True, check=True).stdout.strip().splitlines()[-1]
    server = Server(data, "--host", "localhost", env={"CITYOS_SERVICES_ENABLED": "watchover"})
    url = f"http://localhost:{server.port}"
    staff = {"Authorization": f"Bearer {admin}"}
    parent, child = _signup(url, "yumi"), _signup(url, "kenta")
    r = httpx.post(f"{url}{API}/receivers", headers=staff, json={
        "id": "gate-1", "name": "光風台小学校 校門", "kind": "fixed", "site": "school-gate",
        "location": [135.431589, 34.903408]})
    assert r.status_code == 201, r.text
    gate = r.json()
    r = httpx.post(f"{url}{API}/tags", headers=_h(parent), json={
        "tag": "bcn-kenta", "person": child["id"], "label": "けんた",
        "schoolGates": [gate["id"]], "safeArea": {"center": [135.4305, 34.8992],
                                                  "radiusM": 500}})
    assert r.status_code == 201, r.text
    asked = [c for c in httpx.get(f"{url}/personal/v1/me/consents", headers=_h(child)).json()
             if c["category"] == "location"]
    r = httpx.patch(f"{url}/personal/v1/me/consents/{asked[0]['id']}", headers=_h(child),
                    json={"state": "APPROVED"})
    assert r.status_code == 200, r.text
    now = dt.datetime.now(dt.UTC)
    r = httpx.post(f"{url}{API}/sightings", headers={"Receiver-Token": gate["token"]}, json={
        "sightings": [{"tag": "bcn-kenta", "rssi": -60, "at": now.isoformat()}]})
    assert r.status_code == 202, r.text
    return server, {"url": url, "staff": staff, "parent": parent, "child": child}


def test_the_guardian_sees_the_place_the_map_and_the_notice(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = system_binary("chromium")
    server, town = _town(tmp_path)
    url = town["url"]
    try:
        notices = httpx.get(f"{url}{API}/notices", headers=_h(town["parent"])).json()
        assert [n["kind"] for n in notices] == ["arrived"]
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=ARGS)
            try:
                context = browser.new_context(viewport={"width": 360, "height": 740},
                                              locale="ja-JP", bypass_csp=True)
                page = context.new_page()
                page.goto(f"{url}/app/watchover")
                assert "/app/signin" in page.url
                page.fill("#login", "yumi")
                page.fill("#password", "yumi-pw-1234")
                page.click("button[type=submit]")
                page.wait_for_url(f"{url}/app/watchover")
                sync_api.expect(page.locator("h1")).to_have_text("見守り")
                card = page.locator(".wo-tag").first
                sync_api.expect(card.locator("h3")).to_have_text("けんた")
                sync_api.expect(card.locator(".wo-last")).to_contain_text("光風台小学校 校門")
                sync_api.expect(card.locator("figure.wo-map svg circle")).not_to_have_count(0)
                sync_api.expect(card.locator(".wo-moves li")).to_have_count(1)
                sync_api.expect(page.locator(".wo-notices")).to_contain_text(
                    "けんたさんが")
                sync_api.expect(page.locator(".wo-notices")).to_contain_text("（登校）")
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 360, f"the page is {width}px wide"
                found = {"/app/watchover": axe_violations(page)}

                page.fill("#wo-tag", "bcn-yumi")  # a tag for herself: her own consent
                page.fill("#wo-label", "ゆみ")
                page.click(".wo-register button[type=submit]")
                page.wait_for_url(f"{url}/app/watchover?done=registered")
                sync_api.expect(page.locator("[role=status]").first).to_contain_text(
                    "タグを登録しました")
                waiting = page.locator(".wo-tag", has_text="ゆみ")
                sync_api.expect(waiting).to_contain_text("同意を待っています")
                found["/app/watchover (registered)"] = axe_violations(page)
                assert not any(found.values()), describe(found)
            finally:
                browser.close()
        console = httpx.get(f"{url}/console/watchover", headers=town["staff"])
        assert console.status_code == 200
        assert "光風台小学校 校門" in console.text
        assert "けんた" not in console.text and "bcn-kenta" not in console.text
    finally:
        server.stop()
