"""Screenshots of the evacuation service for README/docs (Debian Chromium): the resident page
on a phone and the staff console, from a running demo town.

    .venv/bin/python scripts/evacuation_screenshots.py URL DATA_DIR [--out docs/img]

URL is the demo's address (e.g. http://127.0.0.1:8000), DATA_DIR its `--data-dir` (for the
staff operator's password in DATA_DIR/town/credentials.json). Taken best some 6-9 minutes
after `cityos demo` starts, when the simulated drill fills the shelters.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
AREA = "urn:ngsi-ld:TownArea:273210-001"  # ときわ台五丁目


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    user, password = json.loads((args.data_dir / "town" / "credentials.json").read_text())["staff"]
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                    has_touch=True, device_scale_factor=2).new_page()
        phone.goto(f"{args.url}/app/evacuation?hazard=flood&area={AREA}")
        phone.wait_for_selector("#evac-map path.evac-line")
        phone.locator("#evac-go").scroll_into_view_if_needed()
        phone.screenshot(path=str(args.out / "evacuation-app.png"), full_page=False)
        desk = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        desk.goto(f"{args.url}/console/evacuation")
        desk.fill("#username", user)
        desk.fill("#password", password)
        desk.click("form.narrow button[type=submit]")
        desk.wait_for_url(f"{args.url}/console/evacuation")
        desk.locator("#evac-log").scroll_into_view_if_needed()
        desk.screenshot(path=str(args.out / "evacuation-console.png"), full_page=False)
        browser.close()


if __name__ == "__main__":
    main()
