"""CORS allow-list: listed origins only; none listed, no CORS headers; '*' refused."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cityos.access.cors import add_cors
from cityos.app import create_app

from .secured import Platform, make_platform

TOWN = "https://app.toyono.example"


@pytest.fixture
def with_cors(prepared: Any, tmp_path: Path) -> Iterator[Platform]:
    yield from make_platform(prepared, tmp_path / "var", cors_origins=(TOWN,))


def test_listed_origin_only(with_cors: Platform) -> None:
    c = with_cors.client
    pre = c.options("/ngsi-ld/v1/entities", headers={
        "Origin": TOWN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, ngsild-tenant"})
    assert pre.status_code == 200 and pre.headers["access-control-allow-origin"] == TOWN
    r = c.get("/ngsi-ld/v1/types", headers={"Origin": TOWN, **with_cors.auth("viewer")})
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == TOWN
    other = c.get("/ngsi-ld/v1/types", headers={"Origin": "https://evil.example",
                                                  **with_cors.auth("viewer")})
    assert "access-control-allow-origin" not in other.headers
    bad = c.options("/ngsi-ld/v1/entities", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert bad.status_code == 400


def test_no_origins_no_cors_and_no_wildcard(platform: Platform) -> None:
    r = platform.client.get("/version", headers={"Origin": TOWN})
    assert "access-control-allow-origin" not in r.headers
    settings = dataclasses.replace(platform.settings, access=dataclasses.replace(
        platform.settings.access, cors_origins=("*",)))
    with pytest.raises(ValueError, match="never"):
        add_cors(create_app(platform.settings), settings)
