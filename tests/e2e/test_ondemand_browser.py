"""ACCEPTANCE (issue 22) in headless Chromium against a real `cityos serve`: a resident books
a ride on her phone and sees the offered pickup window and arrival, confirms; the driver's
page shows the stop; the operator's console shows the trip; her cancellation frees the seat
(a booking refused for want of a car is taken after it)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from a11y import axe_violations, describe

from conftest import CITYOS, system_binary

pytestmark = pytest.mark.e2e
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
API = "/services/v1/ondemand"
SAME = {"origin": "area-001", "destination": "clinic-yono", "passengers": 2}  # as hers


def _cli(*args: str) -> str:
    return subprocess.run([CITYOS, *args], capture_output=True, text=True, check=True).stdout


def _resident(url: str, login: str) -> dict[str, str]:
    r = httpx.post(f"{url}/auth/residents", data={"login": login, "password": f"{login}-no-himitsu"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _wait_ready(url: str, staff: dict[str, str]) -> None:
    """The optimiser's compiled code is loaded in the background after the start."""
    deadline = time.monotonic() + 600
    while not httpx.get(f"{url}{API}/kpis", headers=staff).json().get("optimiserReady"):
        assert time.monotonic() < deadline, "the optimiser never became ready"
        time.sleep(1)


def test_book_offer_driver_console_and_cancel(serve: Any, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    chromium = system_binary("chromium")
    data = tmp_path / "town"
    _cli("init", "--data-dir", str(data))
    password = _cli("staff", "add", "untenshu", "--role", "operator", "--data-dir",
                    str(data)).strip().splitlines()[-1]
    (data / "cityos.toml").write_text(
        '[services]\nenabled = ["ondemand"]\n\n[services.options.ondemand]\n'
        "always_open = true\nreopt_seconds = 0.3\n", "utf-8")
    token = _cli("token", "--staff", "untenshu", "--data-dir", str(data)).strip().splitlines()[-1]
    server = serve("--host", "localhost", data_dir=data)
    url = f"http://localhost:{server.port}"
    _resident(url, "hanako")
    others = _resident(url, "mio")
    _wait_ready(url, {"Authorization": f"Bearer {token}"})
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            phone = browser.new_context(viewport={"width": 360, "height": 740}, locale="ja-JP",
                                        bypass_csp=True)  # axe-core is injected
            page = phone.new_page()
            page.goto(f"{url}/app/signin?next=/app/ondemand")
            page.fill("#login", "hanako")
            page.fill("#password", "hanako-no-himitsu")
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/app/ondemand")
            expect(page.locator("h1")).to_have_text("AIオンデマンド交通")
            found = {"/app/ondemand": axe_violations(page)}
            page.select_option("#origin", "area-001")
            page.select_option("#destination", "clinic-yono")
            page.select_option("#passengers", "2")
            page.click("form.ondemand-book button[type=submit]")
            expect(page.locator(".offer-pickup")).to_contain_text("お迎え")
            expect(page.locator(".offer-arrival")).to_contain_text("到着")
            assert page.evaluate("document.documentElement.scrollWidth") <= 360
            page.screenshot(path=str(tmp_path / "offer.png"), full_page=True)
            found["offer"] = axe_violations(page)
            page.click("text=この内容で予約する")
            expect(page.locator("[role=status]")).to_have_text("予約しました。")
            card = page.locator("#my-rides .ride").first
            expect(card).to_contain_text("予約済み")
            ride = card.get_attribute("data-ride")
            assert ride
            page.screenshot(path=str(tmp_path / "my-rides.png"), full_page=True)

            console = browser.new_context(locale="ja-JP", bypass_csp=True).new_page()
            console.goto(f"{url}/console/ondemand/driver")
            console.fill("#username", "untenshu")
            console.fill("#password", password)
            console.click("form.narrow button[type=submit]")
            console.wait_for_url(f"{url}/console/ondemand/driver")
            cars = [a.get_attribute("href") for a in
                    console.locator("a[href^='/console/ondemand/driver?car=']").all()]
            shown = False
            for href in dict.fromkeys(cars):
                console.goto(f"{url}{href}")
                if console.locator(f"#next-stops [data-ride='{ride}']").count():
                    expect(console.locator(f"#next-stops [data-ride='{ride}']").first) \
                        .to_contain_text("乗車")
                    shown = True
                    break
            assert shown, "no driver's page shows her stop"
            console.screenshot(path=str(tmp_path / "driver.png"), full_page=True)
            found["driver"] = axe_violations(console)
            console.goto(f"{url}/console/ondemand")
            found["console"] = axe_violations(console)
            assert not any(found.values()), describe(found)
            expect(console.locator(f"#trips tr[data-ride='{ride}']")).to_contain_text("予約済み")
            # a caller on the phone: the operator books for her
            console.select_option("#origin", "area-003")
            console.select_option("#destination", "kofudai-station")
            console.click("form.ondemand-book button[type=submit]")
            expect(console.locator(".offer-pickup")).to_contain_text("お迎え")
            console.click("text=この内容で予約する")
            expect(console.locator("[role=status]")).to_have_text("予約しました。")
            expect(console.locator("#trips tbody tr").first).to_contain_text("光風台駅")
            expect(console.locator(f"#trips tr[data-ride='{ride}']")).to_contain_text("予約済み")

            # the cars fill up: a booking like hers is refused
            taken = 0
            while True:
                r = httpx.post(f"{url}{API}/bookings", json=SAME, headers=others)
                if r.status_code == 409:
                    break
                assert r.status_code == 201, r.text
                taken += 1
                assert taken < 120, "the cars never filled up"
            page.goto(f"{url}/app/ondemand")
            page.click(f"[data-ride='{ride}'] button[type=submit]")
            expect(page.locator("[role=status]")).to_have_text("予約を取り消しました。")
            expect(page.locator(f"[data-ride='{ride}']")).to_contain_text("取り消し済み")
            freed = httpx.post(f"{url}{API}/bookings", json=SAME, headers=others)
            assert freed.status_code == 201, freed.text  # her two seats are free again
            console.goto(f"{url}/console/ondemand")
            expect(console.locator(f"#trips tr[data-ride='{ride}']")).to_contain_text(
                "取り消し済み")
            console.screenshot(path=str(tmp_path / "console.png"), full_page=True)
        finally:
            browser.close()
