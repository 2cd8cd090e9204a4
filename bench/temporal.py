"""Temporal API figures (issue 3): aggregation over 100,000 instances, lastN retrieval.

`python -m bench temporal [--instances N] [--repeat R]`

One `cityos serve --open-ngsi` worker on core 0, this client on core 1. One entity gets N
instances of `temperature` one minute apart (appended through the temporal API, 1,000 per
request); then, R times each:

- aggregation: `GET /temporal/entities/{id}?options=aggregatedValues&aggrMethods=avg,max
  &aggrPeriodDuration=PT1H` (every instance, N/60 hourly buckets);
- lastN: `GET /temporal/entities/{id}?lastN=100`;
- raw: the same hourly avg/max as one SQL GROUP BY on a copy of the server's database with
  Python's sqlite3 (the storage engine alone, the floor for the aggregation).

Prints p50/p95 per figure and the ratio aggregation/raw; writes bench/results/temporal-latest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench._server import CLIENT_CORE, SERVER_CORE, Process, free_port, pin_self

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CITYOS = str(Path(sys.executable).with_name("cityos"))
EID = "urn:ngsi-ld:WeatherObserved:bench"
T = "/ngsi-ld/v1/temporal/entities"
START = datetime(2026, 1, 1, tzinfo=UTC)


def _load(client: httpx.Client, instances: int) -> float:
    began = time.perf_counter()
    first = {"id": EID, "type": "WeatherObserved",
             "temperature": {"type": "Property", "value": 0.0, "observedAt": START.isoformat()}}
    client.post(T, json=first).raise_for_status()
    for chunk in range(1, instances, 1000):
        body = {"temperature": [
            {"type": "Property", "value": round(10 + (i % 600) / 37, 2),
             "observedAt": (START + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")}
            for i in range(chunk, min(chunk + 1000, instances))]}
        client.post(f"{T}/{EID}/attrs", json=body).raise_for_status()
    return time.perf_counter() - began


def _times(fn: object, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - began) * 1000)
    return out


def _summary(ms: list[float]) -> dict[str, float]:
    ms = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 2),
            "p95_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.95))], 2),
            "min_ms": round(ms[0], 2)}


def _raw(db: Path, repeat: int) -> list[float]:
    conn = sqlite3.connect(db)
    sql = ("SELECT (observed_at - ?) / 3600000 AS b, avg(num), max(num) FROM attr_instances "
           "WHERE tenant = ? AND entity_id = ? AND attr = ? GROUP BY b ORDER BY b")
    attr = conn.execute("SELECT attr FROM attr_instances LIMIT 1").fetchone()[0]
    start = int(START.timestamp() * 1000)
    tenant = conn.execute("SELECT tenant FROM attr_instances LIMIT 1").fetchone()[0]
    out = _times(lambda: conn.execute(sql, (start, tenant, EID, attr)).fetchall(), repeat)
    conn.close()
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench temporal")
    parser.add_argument("--instances", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args(argv)
    pin_self(CLIENT_CORE)
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cityos-bench-temporal-") as tmp:
        data = Path(tmp) / "var"
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = Process([CITYOS, "serve", "--data-dir", str(data), "--port", str(port),
                          "--open-ngsi"], core=SERVER_CORE, log=Path(tmp) / "server.log",
                         env={"CITYOS_NGSI_TEMPORAL_MAX_INSTANCES": "0"},
                         ready_url=f"{url}/healthz", timeout=120)
        try:
            with httpx.Client(base_url=url, timeout=120) as client:
                load_s = _load(client, args.instances)
                aggr = {"options": "aggregatedValues", "aggrMethods": "avg,max",
                        "aggrPeriodDuration": "PT1H"}
                r = client.get(f"{T}/{EID}", params=aggr)
                r.raise_for_status()
                buckets = len(r.json()["temperature"]["avg"])
                count = client.get(f"{T}/{EID}", params={**aggr, "aggrMethods": "totalCount",
                                                          "aggrPeriodDuration": "P0D"})
                total = count.json()["temperature"]["totalCount"][0][0]
                aggregation = _times(lambda: client.get(f"{T}/{EID}", params=aggr), args.repeat)
                last_n = _times(lambda: client.get(f"{T}/{EID}", params={"lastN": 100}),
                                args.repeat)
        finally:
            server.stop()
        copy = Path(tmp) / "copy.db"
        shutil.copy(data / "cityos.db", copy)
        raw = _raw(copy, args.repeat)
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "loadavg": os.getloadavg(),
        "instances": total, "hourly_buckets": buckets,
        "load_instances_per_s": round(args.instances / load_s),
        "aggregation_avg_max_per_hour": _summary(aggregation),
        "raw_sqlite_group_by": _summary(raw),
        "lastN_100": _summary(last_n),
    }
    result["aggregation_vs_raw"] = round(result["aggregation_avg_max_per_hour"]["p50_ms"]
                                         / max(result["raw_sqlite_group_by"]["p50_ms"], 1e-6), 2)
    (RESULTS / "temporal-latest.json").write_text(json.dumps(result, indent=2))
    print(f"temporal bench: {total} instances ({result['load_instances_per_s']}/s to load), "
          f"load average {result['loadavg'][0]:.2f}")
    for name in ("aggregation_avg_max_per_hour", "raw_sqlite_group_by", "lastN_100"):
        s = result[name]
        print(f"  {name:30s} p50 {s['p50_ms']:8.2f} ms  p95 {s['p95_ms']:8.2f} ms")
    print(f"  aggregation / raw SQLite: {result['aggregation_vs_raw']}×  "
          f"({buckets} hourly buckets; target p95 ≤ 100 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
