"""Screenshots of the staff console for README/docs (Debian Chromium, 1280 × 800).

Starts the demo town (`cityos demo`) in a throw-away data directory, signs in as its staff
operator and saves docs/img/console-*.png once the map shows the town's live data.

    .venv/bin/python scripts/console_screenshots.py [--out docs/img] [--tiles URL|none]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CITYOS = str(ROOT / ".venv" / "bin" / "cityos")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SHOTS = [  # file name, path, language
    ("console-overview.png", "/console", "ja"),
    ("console-map.png", "/console/map", "ja"),
    ("console-map-en.png", "/console/map", "en"),
    ("console-chart.png", "/console/entities/urn:ngsi-ld:PhotovoltaicMeasurement:solar-1", "ja"),
    ("console-services.png", "/console/services", "ja"),
    ("console-notices.png", "/console/notices", "ja"),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_demo(data: Path, tiles: str | None) -> tuple[subprocess.Popen[bytes], str, str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOS_")}
    if tiles is not None:
        env["CITYOS_CONSOLE_TILE_URL"] = "" if tiles == "none" else tiles
    log = data.parent / "demo.log"
    with log.open("w") as out:
        proc = subprocess.Popen([CITYOS, "demo", "--data-dir", str(data), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT,
                                env={**env, "COLUMNS": "300"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                found = re.search(r"username=(toyono-staff)\s+password=(\S+)", log.read_text())
                if found:
                    return proc, url, found[2]
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the demo town did not start in 180 s")


def screenshots(url: str, password: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    made = []
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{url}/console/signin")
            page.fill("#username", "toyono-staff")
            page.fill("#password", password)
            page.click("form.narrow button[type=submit]")
            page.wait_for_url(f"{url}/console")
            time.sleep(20)  # a little history for the charts (1 real minute = 1 town hour)
            for name, path, lang in SHOTS:
                page.goto(f"{url}/app/settings?lang={lang}&next={path}")
                page.wait_for_url(url + path)
                if path == "/console/map":
                    page.wait_for_selector("#town-map[data-count-shelters='7']", timeout=60_000)
                    time.sleep(4)  # tiles, or the plain town once they fail
                target = out / name
                page.screenshot(path=str(target), full_page=False)
                made.append(target)
        finally:
            browser.close()
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--tiles", help="console.tile_url for the shots ('none': no tiles)")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="cityos-console-shots-")) / "var"
    proc, url, password = start_demo(data, args.tiles)
    try:
        for path in screenshots(url, password, args.out):
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    finally:
        proc.terminate()
        proc.wait(30)
        shutil.rmtree(data.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
