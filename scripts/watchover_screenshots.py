"""Screenshots of the watch-over service in a running demo town (docs/services/img/):

    cityos demo --data-dir var --port 8000 &   # wait until the simulated afternoon (~10 min)
    python scripts/watchover_screenshots.py http://127.0.0.1:8000 var

The guardian's page (the demo resident 花子, on a phone), its notices, and the staff's
receivers page (the demo's operator).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parents[1] / "docs" / "services" / "img"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]


def main(url: str, data_dir: Path) -> None:
    cred = json.loads((data_dir / "town" / "credentials.json").read_text("utf-8"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="ja-JP")
        page = phone.new_page()
        page.goto(f"{url}/app/watchover")
        page.fill("#login", cred["resident"][0])
        page.fill("#password", cred["resident"][1])
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/app/watchover")
        page.screenshot(path=OUT / "watchover-app.png", full_page=True)
        page.locator("#wo-notices").scroll_into_view_if_needed()
        page.evaluate("document.getElementById('wo-notices').scrollIntoView()")
        page.screenshot(path=OUT / "watchover-notices.png")
        desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ja-JP")
        console = desk.new_page()
        console.goto(f"{url}/console/signin")
        console.fill("#username", cred["staff"][0])
        console.fill("#password", cred["staff"][1])
        console.click("button[type=submit]")
        console.wait_for_load_state()
        console.goto(f"{url}/console/watchover")
        console.screenshot(path=OUT / "watchover-console.png", full_page=True)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
