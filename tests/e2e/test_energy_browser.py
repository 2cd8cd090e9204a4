"""The energy service's pages in headless Chromium against a real `cityos serve` of the demo:
the staff see the storm flag, the forecast chart and the CO2 report; a resident sees the
town's solar power; axe-core finds no serious or critical violation, in Japanese and English.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from a11y import axe_violations, describe

from conftest import CITYOS, system_binary

pytestmark = pytest.mark.e2e
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


@pytest.fixture
def browser() -> Iterator[Any]:
    chromium = system_binary("chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, args=ARGS)
        yield launched
        launched.close()


def test_staff_and_resident_pages(serve: Any, tmp_path: Path, browser: Any) -> None:
    data = tmp_path / "town"
    done = subprocess.run([CITYOS, "init", "--data-dir", str(data)], capture_output=True,
                          text=True, check=True)
    admin = {"Authorization": f"Bearer {done.stdout.strip().splitlines()[-1]}"}
    (data / "cityos.toml").write_text('[services]\nenabled = ["energy"]\ndemo = true\n', "utf-8")
    url = serve(data_dir=data).url
    deadline = time.monotonic() + 120  # the demo's ledger is written in the background
    while not httpx.get(f"{url}/services/v1/energy/report", headers=admin).json()["months"]:
        assert time.monotonic() < deadline, "the energy demo wrote no ledger"
        time.sleep(0.5)
    signup = httpx.post(f"{url}/auth/residents", data={"login": "hanako",
                                                       "password": "hanako-no-himitsu"})
    resident = {"Authorization": f"Bearer {signup.json()['access_token']}"}
    found: dict[str, list[dict[str, Any]]] = {}
    for who, headers, path in (("staff", admin, "/console/energy"),
                               ("resident", resident, "/app/energy")):
        context = browser.new_context(extra_http_headers=headers, bypass_csp=True,
                                      viewport={"width": 1280, "height": 900})
        page = context.new_page()
        for lang in ("ja", "en"):
            page.goto(f"{url}/app/settings?lang={lang}&next={path}")
            page.goto(f"{url}{path}")
            text = page.inner_text("main")
            if who == "staff":
                flag = "暴風の予報" if lang == "ja" else "Storm forecast"
                assert flag in text and "吉川小学校" in text
                assert page.locator("svg[role=img] polyline").count() == 2
                assert "t-CO2" in text
            else:
                assert "kWh" in text and "CO2" in text
            assert "urn:ngsi-ld" not in text
            found[f"{path} ({lang})"] = axe_violations(page)
        context.close()
    assert not any(found.values()), describe(found)
