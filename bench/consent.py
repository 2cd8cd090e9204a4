"""The cost of consent enforcement (issue 6): a consent-filtered query over 100,000 personal
entities of 10,000 residents against the same query unfiltered, in the storage engine.

`python -m bench consent [--entities N] [--residents N] [--sealed] [--ending]` — the reading
company holds an APPROVED grant for every resident (until withdrawn; with `--ending`, ending in a
year), so both queries return the same rows: what differs is the filter (owner, own subjects,
the grant: an IN probe for grants without an end, an EXISTS for those with one) inside the SQL. Shapes: a page of a
type, a page with an attribute filter, the same with a count, and one entity by id. Alternating
rounds, best of ROUNDS; CPU time. Target (issue 6): filtered ≤ 1.3× unfiltered.
Writes bench/results/consent-latest.json. Run it on a quiet machine; it is not a test.
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

from cityos.personal.datacatalog import DataCatalog
from cityos.personal.vault import Vault
from cityos.storage import open_store
from cityos.storage.base import EVERYTHING, AttrFilter, EntityQuery, Reader, Store

RESULTS = Path(__file__).parent / "results"
TYPE = "https://uri.etsi.org/ngsi-ld/default-context/HealthObservation"
REF = "https://uri.etsi.org/ngsi-ld/default-context/refResident"
WEIGHT = "https://uri.etsi.org/ngsi-ld/default-context/weight"
WRITER, READER = "org:bench-writer", "org:bench-reader"
ROUNDS, REPEAT = 9, 30


def observation(num: int, resident: str) -> dict[str, Any]:
    stamp = "2026-11-22T00:00:00Z"
    return {"id": f"urn:ngsi-ld:HealthObservation:{num}", "type": [TYPE],
            "createdAt": stamp, "modifiedAt": stamp, "attrs": {
                REF: [{"type": "Relationship", "object": f"urn:ngsi-ld:Resident:{resident}",
                       "modifiedAt": stamp}],
                WEIGHT: [{"type": "Property", "value": 40 + num % 50, "modifiedAt": stamp}]}}


async def load(store: Store, entities: int, residents: int, ending: bool = False) -> None:
    started = time.perf_counter()
    batch = 1000
    for first in range(0, entities, batch):
        docs = [observation(n, f"res_{n % residents:06d}")
                for n in range(first, min(first + batch, entities))]
        await store.mutate("", [(e["id"], lambda cur, e=e: (e, None)) for e in docs],
                           writer=WRITER)
    until = time.time() + 365 * 86400 if ending else None
    await asyncio.gather(*(store.put_grant("", f"res_{r:06d}", READER, "health",
                                           "dpv:HealthcareService", until)
                           for r in range(residents)))
    print(f"loaded {entities:,} entities of {residents:,} residents and their grants "
          f"in {time.perf_counter() - started:.1f} s")


def shapes() -> dict[str, Callable[[Reader], EntityQuery]]:
    def heavy(e: dict[str, Any]) -> bool:
        return any(i.get("value", 0) >= 85 for i in e["attrs"].get(WEIGHT, ()))

    return {
        "page of a type (100)": lambda r: EntityQuery(types=[TYPE], limit=100, reader=r),
        "page, q=weight>=85 (100)": lambda r: EntityQuery(
            types=[TYPE], limit=100, reader=r, predicate=heavy,
            attr_filters=[AttrFilter(WEIGHT, ">=", 85)]),
        "page of a type with count": lambda r: EntityQuery(types=[TYPE], limit=100, reader=r,
                                                           count=True),
        "ids (10)": lambda r: EntityQuery(
            ids=[f"urn:ngsi-ld:HealthObservation:{n * 997}" for n in range(10)], reader=r),
    }


async def best(run: Callable[[], Awaitable[Any]]) -> float:
    """CPU µs of one run, best of one round of REPEAT."""
    started = time.process_time()
    for _ in range(REPEAT):
        await run()
    return (time.process_time() - started) / REPEAT * 1e6


async def measure(store: Store) -> dict[str, dict[str, float]]:
    filtered, unfiltered = Reader(org=READER), EVERYTHING
    out: dict[str, dict[str, float]] = {}
    for name, shape in shapes().items():
        a = await store.query_entities("", shape(filtered))
        b = await store.query_entities("", shape(unfiltered))
        assert [e["id"] for e in a.entities] == [e["id"] for e in b.entities], name
        assert a.count == b.count, name
        times = {"filtered": float("inf"), "unfiltered": float("inf")}
        for _ in range(ROUNDS):  # alternating, so that a busy moment hits both
            for label, reader in (("filtered", filtered), ("unfiltered", unfiltered)):
                query = shape(reader)
                times[label] = min(times[label], await best(
                    lambda q=query: store.query_entities("", q)))
        times["ratio"] = times["filtered"] / times["unfiltered"]
        out[name] = times
        print(f"{name:28} filtered {times['filtered']:9.0f} µs   unfiltered "
              f"{times['unfiltered']:9.0f} µs   ratio {times['ratio']:.2f}")
    one = "urn:ngsi-ld:HealthObservation:4242"
    times = {"filtered": float("inf"), "unfiltered": float("inf")}
    for _ in range(ROUNDS):
        for label, reader in (("filtered", filtered), ("unfiltered", unfiltered)):
            times[label] = min(times[label], await best(
                lambda r=reader: store.get_entity("", one, r)))
    times["ratio"] = times["filtered"] / times["unfiltered"]
    out["retrieve one"] = times
    print(f"{'retrieve one':28} filtered {times['filtered']:9.1f} µs   unfiltered "
          f"{times['unfiltered']:9.1f} µs   ratio {times['ratio']:.2f}")
    return out


async def run(entities: int, residents: int, sealed: bool, ending: bool = False
              ) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="cityos-consent-"))
    store = open_store(f"sqlite:///{data / 'cityos.db'}")
    await store.open()
    vault = Vault.at(data) if sealed else None
    try:
        catalog = DataCatalog(store)
        await catalog.load()  # the demo town's catalog: HealthObservation is personal, health
        store.set_classifier(catalog)
        store.set_sealer(vault)
        await load(store, entities, residents, ending)
        figures = await measure(store)
    finally:
        await store.close()
        if vault is not None:
            vault.close()
    return {"entities": entities, "residents": residents, "sealed": sealed, "ending": ending,
            "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "cpu_us": figures}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench consent")
    parser.add_argument("--entities", type=int, default=100_000)
    parser.add_argument("--residents", type=int, default=10_000)
    parser.add_argument("--sealed", action="store_true",
                        help="bodies sealed with the vault (AES-256-GCM) on both sides")
    parser.add_argument("--ending", action="store_true",
                        help="grants that end (in a year): the EXISTS path, not the IN probe")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.entities, args.residents, args.sealed, args.ending))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "consent-latest.json").write_text(json.dumps(result, indent=2) + "\n")
    worst = max(v["ratio"] for v in result["cpu_us"].values())
    print(f"worst ratio {worst:.2f} (target ≤ 1.30)")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
