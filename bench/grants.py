"""The cost of type grants in the store (issue 18): reads of a company granted some types
(a `Reader` with `types`: one NOT EXISTS over entity_types_by_rid per row) against the same
reads by a reader of every type (no clause), in the storage engine, in process.

`python -m bench grants [--entities N] [--database-url URL]` — entities of two types, the
restricted reader granted both (so both readers get the same rows: what differs is the
clause). Shapes: one entity by id, a page of a type, a typeless page, a page with a count.
Alternating rounds, best of ROUNDS; CPU µs. Run it on a quiet machine; it is not a test.

`python -m bench grants --http` — the whole request in process (gate, broker, store): GET
of one entity and a query of a type, by a company granted `*` and one granted that type
only (bench/inproc.py's harness). Runs on an older checkout too (edge-checked grants), to
compare before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cityos.storage import open_store
from cityos.storage.base import EntityQuery, Reader, Store

VOCAB = "https://uri.etsi.org/ngsi-ld/default-context/"
TYPES = (VOCAB + "Shelter", VOCAB + "TownArea")
ROUNDS, REPEAT = 7, 40


def entity(num: int) -> dict[str, Any]:
    stamp = "2026-12-07T00:00:00Z"
    return {"id": f"urn:ngsi-ld:Thing:{num}", "type": [TYPES[num % 2]], "createdAt": stamp,
            "modifiedAt": stamp, "attrs": {VOCAB + "name": [
                {"type": "Property", "value": f"name {num}", "modifiedAt": stamp}]}}


async def load(store: Store, entities: int) -> None:
    for first in range(0, entities, 1000):
        docs = [entity(n) for n in range(first, min(first + 1000, entities))]
        await store.mutate("", [(e["id"], lambda cur, e=e: (e, None)) for e in docs])


async def best(run: Callable[[], Awaitable[Any]]) -> float:
    started = time.process_time()
    for _ in range(REPEAT):
        await run()
    return (time.process_time() - started) / REPEAT * 1e6


async def measure(store: Store, entities: int) -> dict[str, dict[str, float]]:
    every, granted = Reader(), Reader(types=frozenset(TYPES))
    one = f"urn:ngsi-ld:Thing:{entities // 2}"
    shapes: dict[str, Callable[[Reader], Awaitable[Any]]] = {
        "retrieve one": lambda r: store.get_entity("", one, r),
        "page of a type (100)": lambda r: store.query_entities(
            "", EntityQuery(types=[TYPES[0]], limit=100, reader=r)),
        "typeless page (100)": lambda r: store.query_entities(
            "", EntityQuery(limit=100, reader=r)),
        "page of a type with count": lambda r: store.query_entities(
            "", EntityQuery(types=[TYPES[0]], limit=100, reader=r, count=True)),
    }
    out: dict[str, dict[str, float]] = {}
    for name, shape in shapes.items():
        times = {"granted": float("inf"), "every": float("inf")}
        for _ in range(ROUNDS):
            for label, reader in (("granted", granted), ("every", every)):
                times[label] = min(times[label], await best(lambda r=reader, s=shape: s(r)))
        times["extra_us"] = times["granted"] - times["every"]
        out[name] = times
        print(f"{name:28} type grants {times['granted']:9.1f} µs   every type "
              f"{times['every']:9.1f} µs   +{times['extra_us']:.1f} µs")
    return out


async def run(entities: int, url: str | None) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="cityos-grants-"))
    store = open_store(url or f"sqlite:///{data / 'cityos.db'}")
    await store.open()
    try:
        await load(store, entities)
        return await measure(store, entities)
    finally:
        await store.close()


async def http(entities: int) -> dict[str, dict[str, float]]:
    from bench.data import sensor
    from bench.inproc import QUIET, call, measure
    from cityos.app import create_app
    from cityos.settings import load_settings

    data = Path(tempfile.mkdtemp(prefix="cityos-grants-http-"))
    app = create_app(load_settings(data, environ={**QUIET,
                                                  "CITYOS_ACCESS_RATE_PER_SECOND": "1e9"}))
    out: dict[str, dict[str, float]] = {}
    async with app.router.lifespan_context(app):
        for first in range(0, entities, 1000):
            docs = [sensor(n) for n in range(first, min(first + 1000, entities))]
            body = json.dumps(docs).encode()
            await call(app, "POST", "/ngsi-ld/v1/entityOperations/upsert", body,
                       auth=await _token(app, "bench-all", ["*"], ["*"]))
        auth = {"every type (*)": await _token(app, "bench-all", ["*"], ["*"]),
                "granted Sensor": await _token(app, "bench-sensor", ["Sensor"], ["Sensor"])}
        entity = "/ngsi-ld/v1/entities/urn:ngsi-ld:Sensor:"
        for label, token in auth.items():
            got = await call(app, "GET", f"{entity}000042", auth=token)
            assert got == 200, (label, got)
        shapes = {
            "GET one entity": lambda t: lambda i: call(
                app, "GET", f"{entity}{(i * 7919) % entities:06d}", auth=t),
            "query type=Sensor (20)": lambda t: lambda i: call(
                app, "GET", "/ngsi-ld/v1/entities", query=b"type=Sensor&q=temperature%3E20",
                auth=t),
        }
        for name, shape in shapes.items():
            times = {label: float("inf") for label in auth}
            for _ in range(3):  # alternating
                for label, token in auth.items():
                    times[label] = min(times[label], await measure(
                        shape(token), 1500 if "GET" in name else 600, concurrent=False))
            out[name] = times
            print(f"{name:28} " + "   ".join(f"{k} {v:8.1f} µs" for k, v in times.items()))
    return out


async def _token(app: Any, name: str, read: list[str], write: list[str]) -> bytes:
    from cityos.access.service import access_of, org_principal

    access = await access_of(app)
    found = [o for o in await access.book.list_orgs() if o["name"] == name]
    org = found[0] if found else (await access.book.add_org(name, "7000012050002", read=read,
                                                            write=write))[0]
    return b"Bearer " + (await access.issue(org_principal(org))).encode()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench grants", description=__doc__)
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    parser.add_argument("--http", action="store_true", help="whole requests, in process")
    args = parser.parse_args(argv)
    if args.http:
        asyncio.run(http(args.entities))
    else:
        asyncio.run(run(args.entities, args.database_url))
    return 0
