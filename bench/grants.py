"""The cost of type grants in the store (issue 18): reads of a company granted some types
(a `Reader` with `types`: one NOT EXISTS over entity_types_by_rid per row) against the same
reads by a reader of every type (no clause), in the storage engine, in process.

`python -m bench grants [--entities N] [--database-url URL]` — entities of two types, the
restricted reader granted both (so both readers get the same rows: what differs is the
clause). Shapes: one entity by id, a page of a type, a typeless page, a page with a count.
Alternating rounds, best of ROUNDS; CPU µs. Run it on a quiet machine; it is not a test.
"""

from __future__ import annotations

import argparse
import asyncio
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


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench grants", description=__doc__)
    parser.add_argument("--entities", type=int, default=20_000)
    parser.add_argument("--database-url", default=None, help="default: a new SQLite file")
    args = parser.parse_args(argv)
    asyncio.run(run(args.entities, args.database_url))
    return 0
