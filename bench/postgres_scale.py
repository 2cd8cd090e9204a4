"""PostgreSQL scale figures of issue 10: several `cityos serve` processes on one database, and
one database at 1,000,000 entities and 10,000,000 temporal instances against 10,000.

    python -m bench.postgres_scale processes --url postgresql://… [--procs 1,2,4]
    python -m bench.postgres_scale scale --url postgresql://… --entities 1000000 \
        --instances 10000000

`processes` loads the bench data set (bench/data.py) once, then drives GET, PATCH and a
type+q query with wrk against every process at once (connections split evenly) and adds the
rates. `scale` loads entities through the API (batch upserts), generates the history straight
into `attr_instances` with COPY (the API path writes ~1,000 instances/s here: 10M would take
hours), each row built from one the API wrote, and times single requests over HTTP (p50 of
sequential requests on one connection) and the broker's RSS. The database is the caller's
(`--url`, emptied first); the processes are unpinned: on 2 cores they share both with wrk.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import orjson

from bench import _load
from bench._server import cityos_argv, free_port
from bench.data import N, sensor
from bench.ngsi import _loader

V1 = "/ngsi-ld/v1"
QUERY = f"{V1}/entities?type=Sensor&q=temperature%3E35&limit=20"


async def _empty(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


class Broker:
    """One `cityos serve --open-ngsi` process on the database."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.port = free_port()
        self.log = open(data_dir.with_suffix(f".{self.port}.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [*cityos_argv(), "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1",
             "--port", str(self.port), "--open-ngsi", "--database-url", url],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "CITYOS_ACCESS_RATE_PER_SECOND": "0"})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if _get(self.port, "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("cityos serve did not start")

    @property
    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _get(port: int, path: str, conn: http.client.HTTPConnection | None = None
         ) -> tuple[int, bytes]:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    if own:
        conn.close()
    return resp.status, body


def _p50(port: int, paths: list[str]) -> float:
    """Median milliseconds of GETs of `paths`, one after another on one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    took = []
    for path in paths:
        start = time.perf_counter()
        status, _ = _get(port, path, conn)
        took.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
    conn.close()
    return statistics.median(took)


# several processes ---------------------------------------------------------------------------
def processes(url: str, counts: list[int], seconds: float, connections: int) -> None:
    asyncio.run(_empty(url))
    with tempfile.TemporaryDirectory(prefix="cityos-pgbench-") as tmp:
        data = Path(tmp) / "var"
        first = Broker(url, data)
        try:
            rate, failed = _loader(first.port, N)
            print(f"loaded {N:,} entities through one process: {rate:,.0f}/s ({failed} failed)")
        finally:
            first.stop()
        for count in counts:
            brokers = [Broker(url, data) for _ in range(count)]
            try:
                for workload, args in (("get", [str(N), f"{V1}/entities/urn:ngsi-ld:Sensor:"]),
                                       ("patch", [str(N)]), ("query", [QUERY])):
                    each = max(1, connections // count)
                    with ThreadPoolExecutor(count) as pool:
                        results = list(pool.map(lambda b, w=workload, a=args, c=each: _load.run(
                            w, f"http://127.0.0.1:{b.port}", a, connections=c,
                            seconds=seconds), brokers))
                    total = sum(r.rate for r in results)
                    p50 = statistics.median(r.p50_ms for r in results)
                    errors = sum(r.errors for r in results)
                    print(f"{count} process(es) {workload:6s} {total:8,.0f} req/s  p50 {p50:6.2f} ms"
                          f"  errors {errors}  load {os.getloadavg()[0]:.2f}", flush=True)
            finally:
                for b in brokers:
                    b.stop()


# one database at scale -----------------------------------------------------------------------
async def _history(url: str, entities: int, per_entity: int) -> float:
    """Copy `entities` × `per_entity` temperature instances into attr_instances, each row built
    from the newest one the API wrote; returns rows/s."""
    conn = await asyncpg.connect(url)
    try:
        cols = ["tenant", "entity_id", "attr", "dataset_id", "instance_id", "observed_at",
                "created_at", "modified_at", "kind", "num", "value_json", "doc"]
        row = await conn.fetchrow(f"SELECT {', '.join(cols)} FROM attr_instances "
                                  "ORDER BY iid DESC LIMIT 1")
        if row is None:
            raise RuntimeError("no instance written through the API to copy from")
        template = orjson.loads(row["doc"])
        start = time.perf_counter()
        base = 1_700_000_000_000
        stamps = [datetime.fromtimestamp((base + k * 60_000) / 1000, UTC).isoformat(
            timespec="milliseconds").replace("+00:00", "Z") for k in range(per_entity)]
        for e in range(entities):
            entity_id = sensor(e)["id"]
            records = []
            for k in range(per_entity):
                at = base + k * 60_000
                value = float(k % 40) + 0.5
                stamp = stamps[k]
                doc = {**template, "value": value, "instanceId": f"urn:ngsi-ld:{uuid.uuid4()}"}
                for key in ("observedAt", "createdAt", "modifiedAt"):
                    if key in doc:
                        doc[key] = stamp
                records.append((row["tenant"], entity_id, row["attr"], row["dataset_id"],
                                doc["instanceId"], at, at, at, row["kind"], value,
                                orjson.dumps(value) if row["value_json"] is not None else None,
                                orjson.dumps(doc)))
            await conn.copy_records_to_table("attr_instances", records=records, columns=cols)
            if e % 1000 == 999:
                print(f"  history of {e + 1:,} entities ({(e + 1) * per_entity:,} rows)",
                      flush=True)
        await conn.execute("ANALYZE attr_instances")
        return entities * per_entity / (time.perf_counter() - start)
    finally:
        await conn.close()


def _measure(broker: Broker, entities: int, label: str, warm: int = 200) -> dict[str, Any]:
    import random

    rng = random.Random(7)
    gets = [f"{V1}/entities/{sensor(rng.randrange(entities))['id']}" for _ in range(2000)]
    gets = gets + [f"{V1}/entities/{sensor(rng.randrange(entities))['id']}"
                   for _ in range(warm)]  # warming reads other rows than the measured ones
    gets = gets[2000:] + gets[:2000]
    temporal = [f"{V1}/temporal/entities/{sensor(rng.randrange(10))['id']}"
                f"?attrs=temperature&lastN=100" for _ in range(300)]
    _p50(broker.port, gets[:warm] + [QUERY] * 20 + temporal[:20])  # warm
    out = {"label": label, "get_ms": _p50(broker.port, gets[warm:]),
           "query_ms": _p50(broker.port, [QUERY] * 500),
           "temporal_ms": _p50(broker.port, temporal),
           "rss_mb": broker.rss_mb, "load": os.getloadavg()[0]}
    print(f"{label}: GET {out['get_ms']:.2f} ms, type+q {out['query_ms']:.2f} ms, temporal "
          f"lastN=100 {out['temporal_ms']:.2f} ms, RSS {out['rss_mb']:.0f} MB, "
          f"load {out['load']:.2f}", flush=True)
    return out


def scale(url: str, entities: int, instances: int, small: int) -> None:
    per_entity = 1000
    with tempfile.TemporaryDirectory(prefix="cityos-pgscale-") as tmp:
        for n, total in ((small, small), (entities, instances)):
            asyncio.run(_empty(url))
            broker = Broker(url, Path(tmp) / f"var{n}")
            try:
                start = time.perf_counter()
                rate, failed = _loader(broker.port, n)
                print(f"{n:,} entities through the API in {time.perf_counter() - start:.0f} s "
                      f"({rate:,.0f}/s, {failed} failed)", flush=True)
                for k in range(3):  # instances the API writes, the COPY's template
                    conn = http.client.HTTPConnection("127.0.0.1", broker.port, timeout=60)
                    conn.request("PATCH", f"{V1}/entities/{sensor(0)['id']}/attrs/temperature",
                                 orjson.dumps({"value": k + 0.5}),
                                 {"Content-Type": "application/json"})
                    conn.getresponse().read()
                    conn.close()
                start = time.perf_counter()
                rows = asyncio.run(_history(url, max(1, total // per_entity), per_entity))
                print(f"{total:,} instances by COPY in {time.perf_counter() - start:.0f} s "
                      f"({rows:,.0f}/s)", flush=True)
                _measure(broker, n, f"{n:,} entities, {total:,} instances")
            finally:
                broker.stop()


def measure(url: str, entities: int, warm: int) -> None:
    """Time the requests again on a database `scale` left behind (its last phase)."""
    with tempfile.TemporaryDirectory(prefix="cityos-pgscale-") as tmp:
        broker = Broker(url, Path(tmp) / "var")
        try:
            _measure(broker, entities, f"{entities:,} entities (again, {warm:,} warming reads)",
                     warm=warm)
        finally:
            broker.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.postgres_scale")
    sub = parser.add_subparsers(dest="what", required=True)
    p = sub.add_parser("processes")
    p.add_argument("--url", required=True)
    p.add_argument("--procs", default="1,2,4")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--connections", type=int, default=32)
    s = sub.add_parser("scale")
    s.add_argument("--url", required=True)
    s.add_argument("--entities", type=int, default=1_000_000)
    s.add_argument("--instances", type=int, default=10_000_000)
    s.add_argument("--small", type=int, default=10_000)
    m = sub.add_parser("measure")
    m.add_argument("--url", required=True)
    m.add_argument("--entities", type=int, required=True)
    m.add_argument("--warm", type=int, default=20_000)
    args = parser.parse_args(argv)
    print(f"== {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    if args.what == "processes":
        processes(args.url, [int(c) for c in args.procs.split(",")], args.seconds,
                  args.connections)
    elif args.what == "measure":
        measure(args.url, args.entities, args.warm)
    else:
        scale(args.url, args.entities, args.instances, args.small)
    return 0


if __name__ == "__main__":
    sys.exit(main())
