"""The whole app on PostgreSQL: `CITYOS_DATABASE_URL` selects the engine, entities round-trip
over HTTP, a type+q query and a subscription's change log work through it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from starlette.testclient import TestClient

from cityos.app import create_app
from cityos.settings import load_settings
from cityos.storage.postgres.engine import PostgresStore

V1 = "/ngsi-ld/v1"
CITYOS = str(Path(sys.executable).with_name("cityos"))


def test_the_app_runs_on_the_database_url(postgres_url: str, tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "var", environ={"CITYOS_DATABASE_URL": postgres_url},
                             open_ngsi=True)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        assert isinstance(client.app.state.broker.store, PostgresStore)  # type: ignore[attr-defined]
        assert client.get("/version").json()["storage"] == "postgresql"
        for n in range(1, 6):
            r = client.post(f"{V1}/entities", json={
                "id": f"urn:ngsi-ld:Shelter:{n}", "type": "Shelter",
                "occupancy": {"type": "Property", "value": n * 10},
                "location": {"type": "GeoProperty",
                             "value": {"type": "Point", "coordinates": [135.4 + n / 100, 34.9]}}})
            assert r.status_code == 201, r.text
        got = client.get(f"{V1}/entities/urn:ngsi-ld:Shelter:3")
        assert got.status_code == 200 and got.json()["occupancy"]["value"] == 30
        found = client.get(f"{V1}/entities", params={"type": "Shelter", "q": "occupancy>25",
                                                    "count": "true"})
        assert found.status_code == 200
        assert [e["id"] for e in found.json()] == [f"urn:ngsi-ld:Shelter:{n}" for n in (3, 4, 5)]
        assert found.headers["NGSILD-Results-Count"] == "3"
        near = client.get(f"{V1}/entities", params={
            "type": "Shelter", "georel": "near;maxDistance==1200", "geometry": "Point",
            "coordinates": "[135.42,34.9]"})
        assert [e["id"] for e in near.json()] == [f"urn:ngsi-ld:Shelter:{n}" for n in (1, 2, 3)]
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:  # restart
        assert client.get(f"{V1}/entities/urn:ngsi-ld:Shelter:5").status_code == 200


def test_a_password_in_the_database_url_is_never_printed(postgres_url: str,
                                                         tmp_path: Path) -> None:
    # the test server trusts local connections: the password is carried, never checked
    parts = urlsplit(postgres_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    url = urlunsplit(parts._replace(netloc=f"postgres:hunter2-secret@{host}",
                                    query=parts.query + "&password=hunter3-secret"))
    done = subprocess.run([CITYOS, "init", "--data-dir", str(tmp_path / "var"),
                           "--database-url", url], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Platform created" in done.stdout and "postgres:***@" in done.stdout
    assert "hunter2" not in done.stdout + done.stderr
    assert "hunter3" not in done.stdout + done.stderr


def test_serve_creates_a_new_platform_on_an_empty_database(serve: Any, postgres_url: str,
                                                           tmp_path: Path) -> None:
    """As on SQLite, `cityos serve` on a new data directory creates the platform — here in an
    empty PostgreSQL database — and a second process on the same directory does not again."""
    data = tmp_path / "town"
    one = serve("--database-url", postgres_url, data_dir=data)
    two = serve("--database-url", postgres_url, data_dir=data)
    env = {"PATH": "/usr/bin:/bin", "CITYOS_DATABASE_URL": postgres_url}
    token = subprocess.run([CITYOS, "token", "--data-dir", str(data)], capture_output=True,
                           text=True, timeout=120, env=env)
    assert token.returncode == 0, token.stdout + token.stderr
    bearer = {"Authorization": f"Bearer {token.stdout.strip().splitlines()[-1]}"}
    for server in (one, two):
        assert httpx.get(f"{server.url}/auth/v1/alerts", headers=bearer).status_code == 200
    assert "New platform" in one.stop() and "New platform" not in two.stop()
