"""The account commands as an administrator types them, against a real `cityos serve`."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from cityos.settings import AccessSettings
from conftest import engine_environ

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
CITYOS = str(Path(sys.executable).with_name("cityos"))
SHELTER = {"id": "urn:ngsi-ld:Shelter:001", "type": "Shelter",
           "name": {"type": "Property", "value": "豊能町役場"}}


def cityos(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([CITYOS, *args], capture_output=True, text=True, env={
        "PATH": "/usr/bin:/bin", "COLUMNS": "200", **engine_environ()})
    assert (done.returncode == 0) == ok, done.stdout + done.stderr
    return done


def _kv(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def test_org_staff_and_token_commands(serve: Any, tmp_path: Path) -> None:
    data = str(tmp_path / "town")
    init = _kv(cityos("init", "--data-dir", data).stdout)
    assert init["username"] == "admin" and len(init["password"]) >= 20
    cityos("org", "add", "Bad", "--corporate-number", "1234567890123", "--data-dir", data, ok=False)
    made = _kv(cityos("org", "add", "Toyono Mobility", "--corporate-number", "7000012050002",
                      "--write", "Shelter", "--read", "Shelter", "--data-dir", data).stdout)
    assert made["client_id"].startswith("org_") and made["client_secret"].startswith("cs_")
    listing = cityos("org", "list", "--data-dir", data).stdout
    assert "Toyono Mobility" in listing and made["client_secret"] not in listing
    password = cityos("staff", "add", "tanaka", "--role", "viewer", "--data-dir", data
                      ).stdout.strip().splitlines()[-1]
    assert "tanaka" in cityos("staff", "list", "--data-dir", data).stdout
    review = cityos("accounts", "review", "--data-dir", data, "--json").stdout
    assert "admin-without-second-factor" in review and "Toyono Mobility" in review
    admin_jwt = cityos("token", "--data-dir", data).stdout.strip().splitlines()[-1]
    org_jwt = cityos("token", "--data-dir", data, "--org", "Toyono Mobility"
                     ).stdout.strip().splitlines()[-1]
    server = serve(data_dir=Path(data))
    url = server.url
    v1 = f"{url}/ngsi-ld/v1"
    r = httpx.post(f"{v1}/entities", json=SHELTER, headers={"Authorization": f"Bearer {org_jwt}"})
    assert r.status_code == 201
    r = httpx.post(f"{url}/auth/token", data={"grant_type": "client_credentials",
                                              "client_id": made["client_id"],
                                              "client_secret": made["client_secret"]})
    assert r.status_code == 200 and r.json()["token_type"] == "Bearer"
    r = httpx.post(f"{url}/auth/login", data={"username": "tanaka", "password": password})
    viewer = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert httpx.get(f"{v1}/entities/{SHELTER['id']}", headers=viewer).status_code == 200
    assert httpx.delete(f"{v1}/entities/{SHELTER['id']}", headers=viewer).status_code == 403
    r = httpx.get(f"{url}/auth/v1/alerts", headers={"Authorization": f"Bearer {admin_jwt}"})
    assert r.status_code == 200
    cityos("org", "disable", "Toyono Mobility", "--data-dir", data)
    cityos("staff", "disable", "tanaka", "--data-dir", data)
    r = httpx.post(f"{url}/auth/login", data={"username": "tanaka", "password": password})
    assert r.status_code == 401
    cityos("token", "--data-dir", data, "--org", "Toyono Mobility", ok=False)


def test_access_settings_are_documented() -> None:
    docs = (ROOT / "docs" / "security.md").read_text("utf-8")
    missing = [f.name for f in dataclasses.fields(AccessSettings)
               if f"access.{f.name}" not in docs or f"CITYOS_ACCESS_{f.name.upper()}" not in docs]
    assert not missing
