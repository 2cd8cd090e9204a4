"""ACCEPTANCE (issue 24, town currency) against a real `cityos serve` with the wallet
service, in headless Chromium: a clerk registers a shop, its staff member and volunteering
points in the console; the shopkeeper shows a QR payment request on the shop screen; the
resident on her phone types the request's code (a test browser has no camera), confirms,
and both see it paid; then she shows her own code, the shop charges it and she confirms;
the API's balances agree; axe-core finds nothing serious."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a11y import axe_violations, describe
from app_town import ARGS

from conftest import CITYOS, system_binary

pytestmark = pytest.mark.e2e
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
API = "/services/v1/wallet"


def _cli(*args: str) -> str:
    return subprocess.run([CITYOS, *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def town(serve: Any, tmp_path: Path) -> dict[str, Any]:
    data = tmp_path / "town"
    admin = _cli("init", "--data-dir", str(data)).strip().splitlines()[-1]
    password = _cli("staff", "add", "tsuka", "--role", "operator", "--data-dir",
                    str(data)).strip().splitlines()[-1]
    (data / "cityos.toml").write_text('[services]\nenabled = ["wallet"]\n')
    server = serve("--host", "127.0.0.1", data_dir=data)
    residents = {}
    for login in ("hanako", "yaoya"):
        r = httpx.post(f"{server.url}/auth/residents",
                       data={"login": login, "password": f"{login}-no-himitsu"})
        assert r.status_code == 201, r.text
        residents[login] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return {"url": server.url, "admin": {"Authorization": f"Bearer {admin}"},
            "staff": ("tsuka", password), "residents": residents, "data": data}


@pytest.fixture
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = system_binary("chromium")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield launched
        launched.close()


def _resident_signin(page: Any, url: str, login: str, then: str) -> None:
    page.goto(f"{url}{then}")
    assert "/app/signin" in page.url
    page.fill("#login", login)
    page.fill("#password", f"{login}-no-himitsu")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{url}{then}**")


def test_a_qr_payment_between_a_phone_and_a_shop(town: dict[str, Any], browser: Any) -> None:
    url = town["url"]
    found: dict[str, list[dict[str, Any]]] = {}

    clerk = browser.new_context(bypass_csp=True).new_page()  # the town's console (axe: CSP)
    clerk.goto(f"{url}/console/wallet")
    assert "/console/signin" in clerk.url
    clerk.fill("#username", town["staff"][0])
    clerk.fill("#password", town["staff"][1])
    clerk.click("form.narrow button[type=submit]")
    clerk.wait_for_url(f"{url}/console/wallet")
    clerk.fill("#shop-id", "yaoya")
    clerk.fill("#shop-name", "とよの八百屋")
    clerk.click("form[action='/console/wallet/shop'] button[type=submit]")
    clerk.wait_for_selector("#wallet-flash")
    clerk.select_option("#staff-shop", "yaoya")
    clerk.fill("#staff-login", "yaoya")
    clerk.click("form[action='/console/wallet/staff'] button[type=submit]")
    clerk.wait_for_selector("#wallet-flash")
    clerk.fill("#issue-login", "hanako")
    clerk.fill("#issue-amount", "3000")
    clerk.fill("#issue-memo", "ボランティアのポイント")
    clerk.click("form[action='/console/wallet/issue'] button[type=submit]")
    assert "発行しました" in clerk.inner_text("#wallet-flash")
    assert "3,000 円" in clerk.inner_text("#total-issued")
    found["console"] = axe_violations(clerk)

    shop = browser.new_context(bypass_csp=True, viewport={"width": 1024, "height": 768}).new_page()
    _resident_signin(shop, url, "yaoya", "/app/wallet/shop")
    assert "とよの八百屋" in shop.inner_text("h1")
    shop.fill("#shop-amount", "480")
    shop.fill("#shop-memo", "だいこん")
    shop.click("#shop-ask ~ form button[type=submit], form[action^='/app/wallet/shop/requests']"
               " button[type=submit]")
    shop.wait_for_selector("svg.wallet-qr")
    code = shop.inner_text("#shop-code")
    assert len(code) == 9 and code[4] == "-"
    assert shop.get_attribute("#shop-state", "data-state") == "open"
    found["shop QR"] = axe_violations(shop)

    phone = browser.new_context(bypass_csp=True, **PHONE).new_page()  # the resident's phone
    _resident_signin(phone, url, "hanako", "/app/wallet")
    assert "3,000 円" in phone.inner_text("#wallet-total")
    found["wallet"] = axe_violations(phone)
    phone.fill("#wallet-code", code.lower())  # typed by hand, as she reads it
    phone.click("#wallet-pay ~ form button[type=submit], form[action='/app/wallet/pay'] "
                "button[type=submit]")
    phone.wait_for_selector("#wallet-confirm")
    assert phone.inner_text("#wallet-shop") == "とよの八百屋"
    assert "480 円" in phone.inner_text("#wallet-amount")
    found["confirm"] = axe_violations(phone)
    phone.click("#wallet-confirm")
    phone.wait_for_selector("#wallet-paid")
    assert "480 円" in phone.inner_text("#wallet-paid")
    assert "2,520 円" in phone.inner_text("main")
    phone.go_back()  # a second tap on the stale confirmation does not pay twice
    phone.reload()
    assert phone.locator("#wallet-confirm").count() == 0

    shop.click("text=支払われたか確かめる")
    shop.wait_for_selector("#shop-state[data-state=paid]")
    shop.goto(f"{url}/app/wallet/shop")
    assert "480 円" in shop.inner_text("#shop-balance")

    # the other way round: she shows her code, the shop charges it, she confirms
    phone.goto(f"{url}/app/wallet")
    phone.click("#wallet-show")
    phone.wait_for_selector("svg.wallet-qr")
    mine = phone.inner_text("#my-code")
    found["my code"] = axe_violations(phone)
    shop.fill("#charge-code", mine)
    shop.fill("#charge-amount", "120")
    shop.click("form[action^='/app/wallet/shop/charge'] button[type=submit]")
    shop.wait_for_selector("#hold-state[data-state=pending]")
    phone.goto(f"{url}/app/wallet")
    assert "とよの八百屋" in phone.inner_text("#wallet-pending ~ ul")
    found["to confirm"] = axe_violations(phone)
    phone.click("button.wallet-hold-post")
    phone.wait_for_selector("#wallet-flash")
    assert "2,400 円" in phone.inner_text("#wallet-total")
    shop.click("text=支払われたか確かめる")
    shop.wait_for_selector("#hold-state[data-state=posted]")

    balance = httpx.get(f"{url}{API}/balance", headers=town["residents"]["hanako"]).json()
    assert balance["byKind"] == {"money": 0, "points": 2400}
    totals = httpx.get(f"{url}{API}/totals", headers=town["admin"]).json()
    assert (totals["issued"], totals["shops"], totals["residents"]) == (3000, 600, 2400)
    assert not any(found.values()), describe(found)
