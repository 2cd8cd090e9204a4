"""Hosted @contexts survive a restart of the platform (nothing lost)."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from cityos.app import create_app
from cityos.settings import load_settings
from conftest import engine_environ

V1 = "/ngsi-ld/v1"


def test_hosted_context_survives_restart(data_dir: Path) -> None:
    settings = load_settings(data_dir, environ=engine_environ(), open_ngsi=True)
    ctx = {"@context": {"Shelter": "https://example.org/toyono#Shelter"}}
    with TestClient(create_app(settings)) as c:
        r = c.post(f"{V1}/jsonldContexts", json=ctx)
        assert r.status_code == 201, r.text
        location = r.headers["location"]
    with TestClient(create_app(settings)) as c:
        served = c.get(location)
        assert served.status_code == 200
        assert served.json() == ctx
        listed = c.get(f"{V1}/jsonldContexts").json()
        assert any(location.rsplit("/", 1)[1] in url for url in listed)
