"""The usage meter's cost on the NGSI-LD hot path: CPU per in-process GET of one entity with an
organisation's token, the same app with and without the meter (alternating rounds, best of 12).

`python -m bench.usage_meter` — prints both figures and the difference (docs/console.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.inproc import call
from cityos.access.service import Access, org_principal
from cityos.app import create_app
from cityos.catalog.usage import UsageMeter
from cityos.settings import Settings, load_settings
from cityos.storage import open_store

ENTITY = "/ngsi-ld/v1/entities/urn:ngsi-ld:Sensor:1"
ROUNDS, N = 12, 2000


async def _token(settings: Settings) -> str:
    store = open_store(settings.database_url)
    await store.open()
    try:
        access = await Access.create(store, settings.access)
        org, _ = await access.book.add_org("Bench", "7000012050002", read=["*"], write=["*"])
        return await access.issue(org_principal(org))
    finally:
        await store.close()


def _app(settings: Settings, meter: bool) -> Any:
    app = create_app(settings)
    if not meter:
        app.user_middleware = [m for m in app.user_middleware if m.cls is not UsageMeter]
    return app


async def main() -> None:
    data = Path(tempfile.mkdtemp(prefix="cityos-meter-")) / "var"
    data.mkdir()
    settings = load_settings(data, environ={})
    settings = dataclasses.replace(settings, access=dataclasses.replace(
        settings.access, rate_per_second=0.0, volume_floor=10**9))
    auth = f"Bearer {await _token(settings)}".encode()
    apps = {"with the meter": _app(settings, True), "without": _app(settings, False)}
    async with contextlib.AsyncExitStack() as stack:
        for app in apps.values():
            await stack.enter_async_context(app.router.lifespan_context(app))
        body = b'{"id":"urn:ngsi-ld:Sensor:1","type":"Sensor","t":{"type":"Property","value":1}}'
        assert await call(apps["without"], "POST", "/ngsi-ld/v1/entities", body, auth=auth) == 201
        best = dict.fromkeys(apps, float("inf"))
        for _ in range(ROUNDS):
            for name, app in apps.items():
                for _ in range(200):
                    await call(app, "GET", ENTITY, auth=auth)
                started = time.process_time()
                for _ in range(N):
                    await call(app, "GET", ENTITY, auth=auth)
                best[name] = min(best[name], (time.process_time() - started) / N * 1e6)
    for name, micros in best.items():
        print(f"{name}: {micros:.1f} µs CPU per GET")
    extra = best["with the meter"] - best["without"]
    print(f"the meter: {extra:+.1f} µs ({extra / best['without'] * 100:+.1f}%)")


if __name__ == "__main__":
    asyncio.run(main())
