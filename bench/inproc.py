"""CPU time per request of the ASGI app called in process (no sockets): stable on a shared machine.

`python -m bench.inproc SOURCE_DB WORK_DIR N DOC` copies the server's database, builds the cityos
app on it (open NGSI-LD) and the bare endpoint (returning DOC), and measures `time.process_time` per
request, best of 3 rounds, for the bench's workloads. Prints one BENCH_JSON line.
Run it pinned to the server's core.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson

from bench.bare import make_app
from bench.data import sensor

ENTITY = "/ngsi-ld/v1/entities/urn:ngsi-ld:Sensor:"
App = Callable[..., Awaitable[None]]
# The transparency log takes audit records in and signs heads in the background; over HTTP that
# is part of each figure, here it would land in some rounds and not others (and two apps on one
# database would each take in the other's records), so it waits until the measurement is over.
QUIET = {"CITYOS_TRUST_FEED_SECONDS": "3600", "CITYOS_TRUST_CHECKPOINT_SECONDS": "3600"}


async def call(app: App, method: str, path: str, body: bytes = b"", query: bytes = b"",
               auth: bytes = b"") -> int:
    headers = [(b"host", b"bench")]
    if auth:
        headers.append((b"authorization", auth))
    if body:
        headers += [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
             "scheme": "http", "query_string": query, "headers": headers,
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


async def measure(make: Callable[[int], Awaitable[int]], n: int, *, concurrent: bool) -> float:
    """Best of 3 rounds of n requests: CPU µs per request (all threads of this process)."""
    for i in range(max(1, n // 5)):  # warm up
        if await make(i) >= 300:
            raise RuntimeError("the warm-up request failed")
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        if concurrent:  # writes: many in flight, as over HTTP, so group commit works
            await asyncio.gather(*(make(i) for i in range(n)))
        else:
            for i in range(n):
                await make(i)
        best = min(best, (time.process_time() - start) / n * 1e6)
    return best


async def run(source: str, work: Path, n: int, doc: Any) -> dict[str, float]:
    from cityos.app import create_app
    from cityos.cli import _tune_gc
    from cityos.settings import load_settings

    work.mkdir(parents=True, exist_ok=True)
    vault = Path(source).parent / "personal"  # the residents' keys go with their database
    if vault.is_dir():
        shutil.copytree(vault, work / "personal", dirs_exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(work / "cityos.db")
    src.backup(dst)
    src.close()
    dst.close()
    app = create_app(load_settings(work, environ=QUIET, open_ngsi=True))
    out: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        _tune_gc()  # as `cityos serve` does: the figures are the served app's
        status = await call(app, "GET", f"{ENTITY}000042")
        if status != 200:
            raise RuntimeError(f"GET answered {status}")

        def get(i: int) -> Awaitable[int]:
            return call(app, "GET", f"{ENTITY}{random.randrange(n):06d}")

        def patch(i: int) -> Awaitable[int]:
            return call(app, "PATCH", f"{ENTITY}{random.randrange(n):06d}/attrs/temperature",
                        b'{"value": %d.5}' % (i % 40))

        def query(i: int) -> Awaitable[int]:
            return call(app, "GET", "/ngsi-ld/v1/entities",
                        query=b"type=Sensor&q=temperature%3E20")

        def upsert(i: int) -> Awaitable[int]:
            first = (i * 100) % n
            body = orjson.dumps([sensor(k, (i + k) % 40 + 0.5) for k in range(first, first + 100)])
            return call(app, "POST", "/ngsi-ld/v1/entityOperations/upsert", body)

        # the token's cost first, while neither app has background work left from writes
        out["get_open"], out["get_token"] = await _secured_get(work, n, get)
        out["get"] = await measure(get, 3000, concurrent=False)
        out["patch"] = await measure(patch, 2000, concurrent=True)
        out["query"] = await measure(query, 1000, concurrent=False)
        out["upsert_per_entity"] = await measure(upsert, 40, concurrent=True) / 100
    bare = make_app(doc)

    def bare_get(i: int) -> Awaitable[int]:
        return call(bare, "GET", f"{ENTITY}{i:06d}")

    out["bare"] = await measure(bare_get, 3000, concurrent=False)
    return out


async def _secured_get(work: Path, n: int,
                       open_get: Callable[[int], Awaitable[int]]) -> tuple[float, float]:
    """GET as the first admin with a bearer token, through the gate (a second app on the same
    database, without --open-ngsi), measured in alternation with `open_get`: (open, token)."""
    from cityos.access.service import access_of, staff_principal
    from cityos.app import create_app
    from cityos.settings import load_settings

    # the rate limit stays in the path, high enough not to refuse the bench
    app = create_app(load_settings(work, environ={**QUIET, "CITYOS_ACCESS_RATE_PER_SECOND": "1e9"}))
    async with app.router.lifespan_context(app):
        access = await access_of(app)
        admin = await access.book.first_admin()
        if admin is None:
            raise RuntimeError("the bench database has no admin")
        auth = b"Bearer " + (await access.issue(staff_principal(admin))).encode()
        status = await call(app, "GET", f"{ENTITY}000042", auth=auth)
        if status != 200:
            raise RuntimeError(f"GET with a token answered {status}")

        def get(i: int) -> Awaitable[int]:
            return call(app, "GET", f"{ENTITY}{random.randrange(n):06d}", auth=auth)

        best = (float("inf"), float("inf"))
        for _ in range(3):  # alternate, so that other work on the machine weighs on both
            best = (min(best[0], await measure(open_get, 2000, concurrent=False)),
                    min(best[1], await measure(get, 2000, concurrent=False)))
        return best


def main(argv: list[str]) -> None:
    source, work, n = argv[0], Path(argv[1]), int(argv[2])
    doc = orjson.loads(Path(argv[3]).read_bytes())
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print("BENCH_JSON " + json.dumps(asyncio.run(run(source, work, n, doc))))


if __name__ == "__main__":
    main(sys.argv[1:])
