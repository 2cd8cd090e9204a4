"""The real `cityos serve` process over HTTP: first start, deny-by-default, restarts keep data."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import CITYOS

pytestmark = pytest.mark.e2e
V1 = "/ngsi-ld/v1"
ENTITY = {"id": "urn:ngsi-ld:Shelter:001", "type": "Shelter",
          "name": {"type": "Property", "value": "豊能町役場"}}


def test_init_prints_the_admin_token_once(tmp_path: Path) -> None:
    first = subprocess.run([CITYOS, "init", "--data-dir", str(tmp_path / "v")],
                           capture_output=True, text=True, check=True)
    token = first.stdout.strip().splitlines()[-1]
    assert token.startswith("cityos_") and len(token) > 40
    again = subprocess.run([CITYOS, "init", "--data-dir", str(tmp_path / "v")],
                           capture_output=True, text=True, check=True)
    assert token not in again.stdout and "already" in again.stdout
    assert token not in (tmp_path / "v" / "access" / "admin-token.sha256").read_text()


def test_deny_by_default_then_token_then_restart(serve, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "town"
    init = subprocess.run([CITYOS, "init", "--data-dir", str(data)],
                          capture_output=True, text=True, check=True)
    token = init.stdout.strip().splitlines()[-1]
    server = serve(data_dir=data)
    url = server.url
    assert httpx.get(f"{url}/version").json()["openNgsi"] is False
    r = httpx.post(f"{url}{V1}/entities", json=ENTITY)
    assert r.status_code == 401 and r.json()["title"] == "Unauthorized"
    r = httpx.post(f"{url}{V1}/entities", json=ENTITY,
                   headers={"Authorization": "Bearer cityos_forged"})
    assert r.status_code == 401
    auth = {"Authorization": f"Bearer {token}"}
    assert httpx.post(f"{url}{V1}/entities", json=ENTITY, headers=auth).status_code == 201
    server.stop()
    again = serve(data_dir=data)
    r = httpx.get(f"{again.url}{V1}/entities/urn:ngsi-ld:Shelter:001", headers=auth)
    assert r.status_code == 200 and r.json()["name"]["value"] == "豊能町役場"


def test_open_ngsi_is_loud(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve("--open-ngsi")
    assert httpx.post(f"{server.url}{V1}/entities", json=ENTITY).status_code == 201
    assert httpx.get(f"{server.url}/version").json()["openNgsi"] is True
    assert "OPEN NGSI-LD" in server.stop()


def test_openapi_describes_every_route(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    ops = {(m.upper(), p) for p, item in spec["paths"].items() for m in item}
    assert ("GET", "/ngsi-ld/v1/entities/{entityId}") in ops
    assert ("POST", "/ngsi-ld/v1/entityOperations/upsert") in ops
    assert len(ops) >= 25
