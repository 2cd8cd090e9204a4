"""The security committee's report (`cityos compliance --html`) passes axe-core: no serious
or critical violation, in the browser the town's staff use."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from a11y import axe_violations, describe
from app_town import ARGS

from conftest import CITYOS, engine_environ, system_binary

pytestmark = pytest.mark.e2e


def test_the_compliance_report_is_accessible(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = system_binary("chromium")
    env = {**os.environ, **engine_environ()}
    data = tmp_path / "town"
    subprocess.run([CITYOS, "init", "--data-dir", str(data)], check=True, capture_output=True,
                   env=env)
    report = tmp_path / "report.html"
    subprocess.run([CITYOS, "compliance", "--data-dir", str(data), "--no-verify", "--html",
                    str(report), "--town", "豊能町"], capture_output=True, env=env)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = browser.new_context(bypass_csp=True).new_page()
            page.goto(report.as_uri())
            assert page.locator("h1").inner_text().startswith("スマートシティセキュリティガイドライン")
            assert page.locator("tbody th[scope=row]").count() == 55
            found = {"report": axe_violations(page)}
        finally:
            browser.close()
    assert not found["report"], describe(found)
