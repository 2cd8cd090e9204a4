"""A served town for the resident app's browser tests: a resident, her beacon sighting
written by the watch-over company, another company asking her consent, a service and a
notice in the catalog."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx

from conftest import CITYOS

V1 = "/ngsi-ld/v1"
FALLBACK = "https://mimamori.example.jp/app"
SERVICE = {"id": "watch-over", "name": {"ja": "見守りサービス", "en": "Watch-over"},
           "field": "safety", "provider": "とよの見守りネット",
           "deepLink": "toyono-mimamori://service/watch-over", "webFallback": FALLBACK,
           "dataCategories": ["location"], "price": {"resident": "free"}, "status": "active",
           "linkVerified": True}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]


def _cli(*args: str) -> str:
    done = subprocess.run([CITYOS, *args], capture_output=True, text=True, check=True)
    return done.stdout


def _org(data: Path, name: str, number: str, **grants: str) -> dict[str, str]:
    out = _cli("org", "add", name, "--corporate-number", number, "--data-dir", str(data),
               *[f"--{mode}={types}" for mode, types in grants.items()])
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _token(url: str, creds: dict[str, str]) -> dict[str, str]:
    r = httpx.post(f"{url}/auth/token", data={"grant_type": "client_credentials",
                                              "client_id": creds["client_id"],
                                              "client_secret": creds["client_secret"]})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


class Town:
    """A served platform: a resident, her beacon sighting written by the watch-over company,
    and another company asking her consent to read it."""

    def __init__(self, serve: Any, tmp_path: Path) -> None:
        data = tmp_path / "town"
        admin = _cli("init", "--data-dir", str(data)).strip().splitlines()[-1]
        beacons = _org(data, "とよの見守りネット", "7000012050002", write="BeaconSighting")
        company = _org(data, "北摂ヘルスケア", "1180301018771", read="BeaconSighting")
        self.server = serve("--host", "localhost", data_dir=data)
        self.url = f"http://localhost:{self.server.port}"
        self.company, writer = _token(self.url, company), _token(self.url, beacons)
        admin_auth = {"Authorization": f"Bearer {admin}"}
        r = httpx.post(f"{self.url}/catalog/v1/services", json=SERVICE, headers=admin_auth)
        assert r.status_code == 201, r.text
        r = httpx.post(f"{self.url}/catalog/v1/notices", headers=admin_auth, json={
            "title": {"ja": "今夜は大雨に注意してください", "en": "Heavy rain tonight"},
            "severity": "warning"})
        assert r.status_code == 201, r.text
        signup = httpx.post(f"{self.url}/auth/residents",
                            data={"login": "hanako", "password": "hanako-no-himitsu"})
        assert signup.status_code == 201, signup.text
        resident = {"Authorization": f"Bearer {signup.json()['access_token']}"}
        self.resident_id = httpx.get(f"{self.url}/auth/v1/me", headers=resident).json()["id"]
        r = httpx.post(f"{self.url}{V1}/entities", headers=writer, json={
            "id": "urn:ngsi-ld:BeaconSighting:hanako-1", "type": "BeaconSighting",
            "rssi": {"type": "Property", "value": -58},
            "refResident": {"type": "Relationship",
                            "object": f"urn:ngsi-ld:Resident:{self.resident_id}"}})
        assert r.status_code == 201, r.text
        r = httpx.post(f"{self.url}/personal/v1/consents", headers=self.company, json={
            "resident": self.resident_id, "category": "location",
            "purpose": "ServiceProvision", "service": "見守り"})
        assert r.status_code == 201, r.text

    def company_reads(self) -> list[str]:
        r = httpx.get(f"{self.url}{V1}/entities", params={"type": "BeaconSighting"},
                      headers={**self.company, "Cityos-Purpose": "ServiceProvision"})
        assert r.status_code == 200, r.text
        return [e["id"] for e in r.json()]

    def add_parent(self) -> str:
        """A second resident who names hanako her family representative; her id."""
        signup = httpx.post(f"{self.url}/auth/residents",
                            data={"login": "hanako-no-haha", "password": "haha-no-himitsu-1"})
        assert signup.status_code == 201, signup.text
        parent = {"Authorization": f"Bearer {signup.json()['access_token']}"}
        r = httpx.post(f"{self.url}/personal/v1/me/representatives", headers=parent,
                       json={"representative": "hanako", "actions": ["view", "consents"]})
        assert r.status_code == 201, r.text
        return str(httpx.get(f"{self.url}/auth/v1/me", headers=parent).json()["id"])


def sign_in(page: Any, url: str, login: str = "hanako",
            password: str = "hanako-no-himitsu") -> None:
    page.goto(f"{url}/app/signin")
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("form[action='/app/signin'] button[type=submit]")
    page.wait_for_url(f"{url}/app")
