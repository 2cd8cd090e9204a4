"""`cityos verify --entities` on N entities (issue #19 part 5): load N entities, one write
record each (as N single POSTs would leave), sign a tree head, then time `cityos verify` with
and without `--entities`.

    python -m bench.verify_entities --entities 100000
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cityos.keystore import KeyStore
from cityos.settings import load_settings
from cityos.storage import open_store
from cityos.trust.service import Trust
from cityos.trust.writes import entity_key, write_leaf

TYPE = "https://uri.etsi.org/ngsi-ld/default-context/Shelter"
CAPACITY = "https://uri.etsi.org/ngsi-ld/default-context/capacity"
STAMP = "2026-12-07T00:00:00Z"


def shelter(n: int) -> dict[str, Any]:
    return {"id": f"urn:ngsi-ld:Shelter:{n}", "type": [TYPE], "createdAt": STAMP,
            "modifiedAt": STAMP, "attrs": {CAPACITY: [
                {"type": "Property", "value": 100 + n % 400, "modifiedAt": STAMP}]}}


async def load(data: Path, count: int) -> None:
    settings = load_settings(data, environ={})
    store = open_store(settings.database_url)
    await store.open()
    try:
        trust = await Trust.open(store, settings.trust, settings.public_url,
                                 KeyStore.at(settings.data_dir))
        started = time.perf_counter()
        for first in range(0, count, 1000):
            docs = [shelter(n) for n in range(first, min(first + 1000, count))]
            await store.mutate("", [(e["id"], lambda cur, e=e: (e, None)) for e in docs],
                               writer="org:Bench")
            for doc in docs:
                trust.writes.record(write_leaf(
                    tenant="", who="org:Bench", org="Bench", op="create_entity",
                    method="POST", path="/ngsi-ld/v1/entities", entities=[doc["id"]],
                    status=201, body=b"{}", seal=None), [entity_key("", doc["id"])])
            await trust.writes.flush()
        await trust.checkpoint()
        print(f"loaded {count:,} entities and their write records in "
              f"{time.perf_counter() - started:.1f} s")
    finally:
        await store.close()


def timed(data: Path, *options: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(Path(sys.executable).with_name("cityos")), "verify", "--data-dir", str(data),
                           *options], capture_output=True, text=True)
    took = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024  # the largest so far
    print(f"cityos verify {' '.join(options)}: exit {done.returncode} in {took:.1f} s "
          f"(peak RSS of the children so far {peak} MiB)")
    print("  " + (done.stdout.strip().splitlines() or [done.stderr])[-1][:300])
    return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entities", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "var"
        data.mkdir()
        asyncio.run(load(data, args.entities))
        timed(data)
        timed(data, "--entities")


if __name__ == "__main__":
    main()
