"""ACCEPTANCE (issue 8): axe-core reports no serious or critical violation on any page of
the resident app, in Japanese and in English, and with large text and high contrast."""

from __future__ import annotations

from pathlib import Path

import pytest
from a11y import axe_violations, describe
from app_town import ARGS, Town, sign_in

from conftest import system_binary

pytestmark = pytest.mark.e2e
SIGNED_OUT = ["/app/signin", "/app/signup", "/app/settings", "/app/offline",
              "/app/signin?next=/app/mydata"]
SIGNED_IN = ["/app", "/app/services/watch-over", "/app/mydata", "/app/mydata/erase",
             "/app/family", "/app/settings?saved=1", "/app/no-such-page"]
LOOKS = {"ja": "lang=ja&size=normal&contrast=normal", "en": "lang=en&size=normal&contrast=normal",
         "ja, large, high contrast": "lang=ja&size=xlarge&contrast=high"}


def test_every_app_page_in_both_languages(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = system_binary("chromium")
    town = Town(serve, tmp_path)
    town.add_parent()
    found: dict[str, list] = {}
    checked = 0
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            for look, query in LOOKS.items():
                context = browser.new_context(bypass_csp=True,
                                              viewport={"width": 360, "height": 740})
                page = context.new_page()
                page.goto(f"{town.url}/app/settings?{query}")
                for path in SIGNED_OUT:
                    page.goto(town.url + path)
                    found[f"{look} {path}"] = axe_violations(page)
                    checked += 1
                sign_in(page, town.url)
                page.goto(f"{town.url}/app/mydata")
                found[f"{look} /app/mydata"] = axe_violations(page)  # waiting or switched
                # a row after htmx: the request answered (first look), or switched (later)
                page.locator(".consent .decide button, .consent button[role=switch]").first.click()
                page.wait_for_selector(".consent [role=status]")
                found[f"{look} /app/mydata (switched)"] = axe_violations(page)
                for path in SIGNED_IN:
                    page.goto(town.url + path)
                    found[f"{look} {path}"] = axe_violations(page)
                    checked += 1
                page.goto(f"{town.url}/app/mydata/erase")
                page.click("button.danger")  # the confirmation's error state
                found[f"{look} erase without confirming"] = axe_violations(page)
                context.close()
        finally:
            browser.close()
    assert checked == len(LOOKS) * (len(SIGNED_OUT) + len(SIGNED_IN))
    failing = {page: v for page, v in found.items() if v}
    assert not failing, describe(failing)


def test_the_check_finds_what_it_should() -> None:
    """A page with an unlabelled input, an image without text and grey-on-white text."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = system_binary("chromium")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            page = browser.new_page()
            page.set_content('<!doctype html><html><title>x</title><main><input type="text">'
                             '<img src="data:,"><p style="color:#ccc">薄い文字</p></main></html>')
            rules = {v["id"] for v in axe_violations(page)}
        finally:
            browser.close()
    assert {"label", "image-alt", "color-contrast"} <= rules, rules
