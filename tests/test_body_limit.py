"""No route buffers a body beyond the platform's limit (`ngsi.max_body_bytes`), public routes
included: a real `cityos serve`, bodies declared too large and chunked bodies that grow too
large get 413 ProblemDetails, and the server goes on serving."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson

from conftest import CITYOS, engine_environ

LIMIT = 1_048_576  # the default


def chunks(total: int, size: int = 65_536) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


def test_oversized_bodies_are_refused_on_every_route(serve: Any, tmp_path: Path) -> None:
    server = serve("--open-ngsi", data_dir=tmp_path / "town")
    token = subprocess.run([CITYOS, "token", "--data-dir", str(tmp_path / "town")],
                           capture_output=True, text=True, check=True,
                           env={"PATH": "/usr/bin:/bin", **engine_environ()}
                           ).stdout.strip().splitlines()[-1]
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        # declared: refused before anything reads it (a public route)
        big = http.post("/auth/token", content=b"x" * (LIMIT + 1),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert big.status_code == 413
        assert big.json()["type"].endswith("PayloadTooLarge")
        # chunked, no Content-Length: cut off once past the limit
        for path, ctype in (("/auth/token", "application/x-www-form-urlencoded"),
                            ("/v2/entities", "application/json")):
            r = http.post(path, content=chunks(8 * LIMIT), headers={"Content-Type": ctype})
            assert r.status_code == 413, (path, r.status_code, r.text)
            body = r.json()  # ProblemDetails, and Orion's shape under /v2
            detail = body["description"] if path.startswith("/v2") else body["detail"]
            assert "上限" in detail
            assert body.get("status", 413) == 413 and body.get("error", "RequestEntityTooLarge") \
                == "RequestEntityTooLarge"
        # NGSI-LD refuses chunked bodies altogether (§6.3.4: 411)
        r = http.post("/ngsi-ld/v1/entities", content=chunks(8 * LIMIT),
                      headers={"Content-Type": "application/json"})
        assert r.status_code == 411
        # a chunked body within the limit is read as before
        entity = {"id": "Shelter1", "type": "Shelter", "name": {"value": "豊能町役場"}}
        ok = http.post("/v2/entities", content=iter([orjson.dumps(entity)]),
                       headers={"Content-Type": "application/json"})
        assert ok.status_code == 201, ok.text
        assert http.get("/v2/entities/Shelter1").json()["name"]["value"] == "豊能町役場"
        assert http.get("/healthz").status_code == 200
