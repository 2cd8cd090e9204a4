"""Screenshots of the resident app for README/docs, and its server time per page.

Starts the demo town (`cityos demo`) in a throw-away data directory, gives its demo resident
a little history (a company asks for her location, she says yes, it reads twice), then:
- saves phone-sized screenshots under docs/img/ (Debian Chromium, 360 × 740),
- asks each page 30 times and prints the server time the pages report (Server-Timing).

    .venv/bin/python scripts/screenshots.py [--out docs/img] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
CITYOS = str(ROOT / ".venv" / "bin" / "cityos")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
PAGES = ["/app", "/app/mydata", "/app/services/plan-03", "/app/family", "/app/settings",
         "/app/mydata/erase"]
SHOTS = [  # file name, path, display settings
    ("app-signin.png", "/app/signin", "lang=ja&size=normal&contrast=normal", False),
    ("app-home.png", "/app", "lang=ja&size=normal&contrast=normal", True),
    ("app-mydata.png", "/app/mydata", "lang=ja&size=normal&contrast=normal", True),
    ("app-mydata-en.png", "/app/mydata", "lang=en&size=normal&contrast=normal", True),
    ("app-home-large.png", "/app", "lang=ja&size=xlarge&contrast=high", True),
    ("app-settings.png", "/app/settings", "lang=ja&size=large&contrast=normal", True),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> str:
    return subprocess.run([CITYOS, *args], capture_output=True, text=True, check=True).stdout


def _org(data: Path, name: str, number: str, read: str, write: str) -> dict[str, str]:
    out = _cli("org", "add", name, "--corporate-number", number, "--data-dir", str(data),
               f"--read={read}", f"--write={write}")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _token(url: str, creds: dict[str, str]) -> dict[str, str]:
    r = httpx.post(f"{url}/auth/token", data={"grant_type": "client_credentials", **{
        k: creds[k] for k in ("client_id", "client_secret")}})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def start_demo(data: Path) -> tuple[subprocess.Popen[str], str]:
    from cityos.town import people

    _cli("init", "--data-dir", str(data))
    # the demo's own companies, registered first so that this script holds their secrets
    orgs = {org.name: n for n, org in enumerate(people.ORGS, start=1)}
    creds = {
        "watch": _org(data, "とよの見守りネット", people.corporate_number(orgs["とよの見守りネット"]),
                      "BeaconReceiver,EvacuationShelter,TownArea", "BeaconReceiver,BeaconSighting"),
        "health": _org(data, "北摂ヘルスケア", people.corporate_number(orgs["北摂ヘルスケア"]),
                       "TownArea,BeaconSighting", ""),
    }
    (data / "screenshot-orgs.json").write_text(json.dumps(creds), "utf-8")
    port = _free_port()
    proc = subprocess.Popen([CITYOS, "demo", "--data-dir", str(data), "--host", "localhost",
                             "--port", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)
    url = f"http://localhost:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the demo town did not start in 180 s")


def give_history(data: Path, url: str) -> tuple[str, str]:
    """The demo resident's login, and a consent, two reads and a pending request."""
    login, password = json.loads((data / "town" / "credentials.json").read_text())["resident"]
    creds = json.loads((data / "screenshot-orgs.json").read_text())
    watch, health = _token(url, creds["watch"]), _token(url, creds["health"])
    r = httpx.post(f"{url}/auth/residents/login", data={"login": login, "password": password})
    resident = {"Authorization": f"Bearer {r.json()['access_token']}"}
    me = httpx.get(f"{url}/auth/v1/me", headers=resident).json()["id"]
    httpx.post(f"{url}/ngsi-ld/v1/entities", headers=watch, json={
        "id": "urn:ngsi-ld:BeaconSighting:demo-hanako", "type": "BeaconSighting",
        "rssi": {"type": "Property", "value": -62},
        "refResident": {"type": "Relationship", "object": f"urn:ngsi-ld:Resident:{me}"}})
    asked = httpx.post(f"{url}/personal/v1/consents", headers=health, json={
        "resident": me, "category": "location", "purpose": "ServiceProvision",
        "service": "健診の送迎"}).json()
    httpx.patch(f"{url}/personal/v1/me/consents/{asked['id']}", headers=resident,
                json={"state": "APPROVED"})
    for _ in range(2):
        httpx.get(f"{url}/ngsi-ld/v1/entities", params={"type": "BeaconSighting"},
                  headers={**health, "Cityos-Purpose": "ServiceProvision"})
    httpx.post(f"{url}/personal/v1/consents", headers=watch, json={
        "resident": me, "category": "health", "purpose": "ServiceProvision",
        "service": "見守り"})
    time.sleep(1.5)  # the tracker writes within a second
    return login, password


def screenshots(url: str, login: str, password: str, out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    made = []
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        try:
            for name, path, look, signed_in in SHOTS:
                context = browser.new_context(viewport={"width": 360, "height": 740},
                                              device_scale_factor=2)
                page = context.new_page()
                page.goto(f"{url}/app/settings?{look}")
                if signed_in:
                    page.goto(f"{url}/app/signin")
                    page.fill("#login", login)
                    page.fill("#password", password)
                    page.click("form[action='/app/signin'] button[type=submit]")
                    page.wait_for_url(f"{url}/app")
                page.goto(url + path)
                target = out / name
                page.screenshot(path=str(target), full_page=path == "/app/mydata")
                made.append(target)
                context.close()
        finally:
            browser.close()
    return made


def server_times(url: str, login: str, password: str, rounds: int = 30) -> dict[str, Any]:
    """Server time per page (ms) as the pages report it, median and 95th percentile."""
    with httpx.Client(base_url=url, headers={"Accept": "text/html"}) as client:
        page = client.get("/app/signin").text
        csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        client.post("/app/signin", data={"csrf": csrf, "login": login, "password": password})
        figures = {}
        for path in PAGES:
            times = []
            for _ in range(rounds):
                r = client.get(path)
                r.raise_for_status()
                times.append(float(r.headers["server-timing"].split("dur=")[1]))
                time.sleep(0.05)  # under the per-account rate limit
            times.sort()
            figures[path] = {"median": statistics.median(times),
                             "p95": times[int(len(times) * 0.95) - 1], "max": times[-1]}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    parser.add_argument("--keep", type=Path, help="use (and keep) this data directory")
    args = parser.parse_args()
    data = args.keep or Path(tempfile.mkdtemp(prefix="cityos-shots-")) / "var"
    proc, url = start_demo(data)
    try:
        login, password = give_history(data, url)
        for path in screenshots(url, login, password, args.out):
            print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
        print("server time per page (ms, Server-Timing, 30 requests each):")
        for path, f in server_times(url, login, password).items():
            print(f"  {path:<24} median {f['median']:6.1f}  p95 {f['p95']:6.1f}  "
                  f"max {f['max']:6.1f}")
    finally:
        proc.terminate()
        proc.wait(30)
        if args.keep is None:
            shutil.rmtree(data.parent, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
