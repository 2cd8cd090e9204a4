"""ACCEPTANCE (issue #23, health) against a real `cityos serve` over HTTP: staff import the
NHI checkup CSV; in headless Chromium at phone size the resident sees her trend and the reasons
for her risk; the recipient company reads her checkups only while her consent is ON."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from cityos.services.health import card as cards
from cityos.services.health.demo import hanako
from cityos.services.health.model import fit
from cityos.services.health.synthetic import ONSET, onset_frame, to_csv
from conftest import CITYOS, system_binary

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "e2e"))
from a11y import axe_violations  # tests/e2e is no package

pytestmark = pytest.mark.e2e
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
V1 = "/ngsi-ld/v1"


def _cli(*args: str) -> str:
    return subprocess.run([CITYOS, *args], capture_output=True, text=True, check=True).stdout


def _token(url: str, out: str) -> dict[str, str]:
    creds = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    r = httpx.post(f"{url}/auth/token", data={"grant_type": "client_credentials",
                                              "client_id": creds["client_id"],
                                              "client_secret": creds["client_secret"]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_her_trend_and_reasons_on_a_phone_and_consent_off_hides_all(  # type: ignore[no-untyped-def]
        serve, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = system_binary("chromium")
    data = tmp_path / "town"
    admin = _cli("init", "--data-dir", str(data)).strip().splitlines()[-1]
    model = tmp_path / "risk.joblib"
    fitted = fit(onset_frame(600, seed=4), ONSET, ("logistic",))
    cards.save(fitted, model, cards.card_of(fitted, "synthetic cohort", "2022-2025", "test",
                                            "3年以内に血糖が高めになる", dt.datetime.now(dt.UTC)))
    (data / "cityos.toml").write_text(
        f'[services]\nenabled = ["health"]\n\n[services.options.health]\nmodel = "{model}"\n',
        "utf-8")
    company_out = _cli("org", "add", "北摂ヘルスケア", "--corporate-number", "1180301018771",
                       "--data-dir", str(data), "--read=HealthCheckup")
    server = serve("--host", "localhost", data_dir=data)
    url = f"http://localhost:{server.port}"
    signup = httpx.post(f"{url}/auth/residents",
                        data={"login": "hanako", "password": "hanako-no-himitsu"})
    assert signup.status_code == 201, signup.text
    mine = {"Authorization": f"Bearer {signup.json()['access_token']}"}
    resident = httpx.get(f"{url}/auth/v1/me", headers=mine).json()["id"]

    staff = {"Authorization": f"Bearer {admin}", "Content-Type": "text/csv"}
    bad = httpx.post(f"{url}/services/v1/health/checkups", headers=staff,
                     content="resident_id,exam_date,sex,age\nx,2025-13-01,F,60\n")
    assert bad.status_code == 400 and "row 2" in bad.text and "行目" in bad.text
    r = httpx.post(f"{url}/services/v1/health/checkups", headers=staff,
                   content=to_csv(hanako(resident, 2026)).encode())
    assert r.status_code == 200 and r.json() == {"imported": 4}, r.text

    company = _token(url, company_out)

    def company_reads() -> int:
        got = httpx.get(f"{url}{V1}/entities", params={"type": "HealthCheckup"},
                        headers={**company, "Cityos-Purpose": "ServiceProvision"})
        assert got.status_code == 200, got.text
        return len(got.json())

    asked = httpx.post(f"{url}/personal/v1/consents", headers=company, json={
        "resident": resident, "category": "health", "purpose": "ServiceProvision",
        "service": "健診サポート"})
    assert asked.status_code == 201, asked.text
    assert company_reads() == 0  # asked, not given

    def decide(state: str) -> None:
        r = httpx.patch(f"{url}/personal/v1/me/consents/{asked.json()['id']}", headers=mine,
                        json={"state": state})
        assert r.status_code == 200, r.text

    decide("APPROVED")
    assert company_reads() == 4
    decide("WITHDRAWN")
    assert company_reads() == 0  # consent OFF: everything hidden from the company

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page: Any = browser.new_context(viewport={"width": 360, "height": 740},
                                            locale="ja-JP", bypass_csp=True).new_page()
            page.goto(f"{url}/app/signin")
            page.fill("#login", "hanako")
            page.fill("#password", "hanako-no-himitsu")
            page.click("form[action='/app/signin'] button[type=submit]")
            page.wait_for_url(f"{url}/app")
            page.goto(f"{url}/app/health")
            hba1c = page.locator("section.hl-item", has=page.locator("#hl-item-hba1c"))
            rows = hba1c.locator("tbody tr")
            assert rows.count() == 4
            assert "5.4" in rows.nth(0).inner_text() and "5.8" in rows.nth(3).inner_text()
            assert "注意" in rows.nth(3).inner_text()
            assert "基準範囲" in hba1c.inner_text()
            reasons = page.locator(".hl-reasons li")
            assert reasons.count() >= 1
            assert "リスクを上げています" in reasons.first.inner_text()
            assert page.locator("#hl-risk-card").is_visible()
            # phone-sized: nothing wider than the screen, text at least 16 px
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360
            size = page.evaluate(
                "parseFloat(getComputedStyle(document.querySelector('.hl-reasons li')).fontSize)")
            assert size >= 16
            found = axe_violations(page)
            assert not found, found  # WCAG 2.2 AA: no serious or critical violation
        finally:
            browser.close()
