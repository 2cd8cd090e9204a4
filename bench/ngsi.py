"""NGSI-LD broker figures of issue 2: GET, PATCH, query, batch upsert, each against its raw cost.

One `cityos serve --open-ngsi` worker pinned to core 0, `wrk` pinned to core 1; raw costs
measured in the same run: a bare Starlette+orjson endpoint under the same uvicorn settings
(bench/bare.py) and the same rows upserted/read directly with sqlite3 (bench/raw.py).
Issue 5's line: GET with a bearer token through the gate (a second server without
--open-ngsi on the same data dir) against the open server, in alternating slices.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import _load
from bench._profile import Profiler
from bench._server import (
    SERVER_CORE,
    admin_token,
    bare_server,
    cityos_server,
    free_port,
    pin_self,
    pinned,
)
from bench.data import CATEGORIES, N, sensor

RESULTS = Path(__file__).with_name("results")
BATCH = 100
ENTITY_PATH = "/ngsi-ld/v1/entities/urn:ngsi-ld:Sensor:"
QUERY_BROAD = "/ngsi-ld/v1/entities?type=Sensor&q=temperature%3E20"
QUERY_SELECTIVE = "/ngsi-ld/v1/entities?type=Sensor&q=category%3D%3D42"


@dataclass
class Figure:
    name: str
    unit: str
    rate: float
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    baseline_name: str
    baseline_rate: float | None
    target: str
    met: bool | None
    errors: int = 0
    notes: list[str] = field(default_factory=list)
    cpu_us: float | None = None  # CPU per request (per entity for upserts), in process

    @property
    def ratio(self) -> float | None:
        return self.rate / self.baseline_rate if self.baseline_rate else None


def _loader(port: int, n: int, workers: int = 8) -> tuple[float, int]:
    """Create the N-entity data set with batch upserts of BATCH; returns (entities/s, failures)."""
    chunks = list(range(0, n, BATCH))
    conns: dict[int, http.client.HTTPConnection] = {}
    failures = 0

    def post(first: int) -> int:
        import threading

        key = threading.get_ident()
        conn = conns.get(key)
        if conn is None:
            conn = conns[key] = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        body = orjson.dumps([sensor(i) for i in range(first, min(first + BATCH, n))])
        conn.request("POST", "/ngsi-ld/v1/entityOperations/upsert", body,
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        resp.read()
        return 0 if resp.status in (201, 204) else 1

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        failures = sum(pool.map(post, chunks))
    elapsed = time.perf_counter() - start
    for conn in conns.values():
        conn.close()
    return n / elapsed, failures


def _get(port: int, path: str,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, dict(resp.getheaders()), body


def _drive(name: str, workload: str, url: str, args: list[str], *, connections: int,
           seconds: float, profiler: Profiler | None, pid: int) -> _load.LoadResult:
    _load.run(workload, url, args, connections=connections, seconds=1)  # warm up
    result = _load.run(workload, url, args, connections=connections, seconds=seconds)
    if profiler is not None:
        profiler.record(name, pid, lambda: _load.run(workload, url, args,
                                                     connections=connections, seconds=seconds))
    return result


def _alternate(targets: list[tuple[str, str]], n: int, seconds: float,
               slice_s: float = 2.0) -> list[_load.LoadResult]:
    """GET on each (url, authorization) target in alternating slices, so that other work on a
    shared machine weighs on all alike; returns the pooled result of each."""
    args = [str(n), ENTITY_PATH]
    for url, auth in targets:
        _load.run("get", url, args, connections=32, seconds=1, authorization=auth)  # warm up
    runs: list[list[_load.LoadResult]] = [[] for _ in targets]
    for _ in range(max(1, round(seconds / slice_s))):
        for (url, auth), slices in zip(targets, runs, strict=True):
            slices.append(_load.run("get", url, args, connections=32, seconds=slice_s,
                                    authorization=auth))
    return [_load.pooled(slices) for slices in runs]


def _gate(tmp: Path, url: str, n: int, seconds: float) -> tuple[_load.LoadResult,
                                                                 _load.LoadResult]:
    """Issue 5's bench: GET as the first admin with a bearer token through the gate (a second
    server on the same data dir, without --open-ngsi), alternating with the open server."""
    port = free_port()
    # the rate limit stays on the path, high enough not to refuse the bench's client
    with cityos_server(tmp / "data", port, tmp / "secured.log", open_ngsi=False,
                       env={"CITYOS_ACCESS_RATE_PER_SECOND": "1e9"}):
        auth = "Bearer " + admin_token(tmp / "data")
        status, _, _ = _get(port, ENTITY_PATH + "000042", {"Authorization": auth})
        if status != 200:
            raise RuntimeError(f"GET with the admin's token answered {status}")
        status, _, _ = _get(port, ENTITY_PATH + "000042")
        if status != 401:
            raise RuntimeError(f"GET without a token answered {status}, not 401")
        open_get, token_get = _alternate([(url, ""), (f"http://127.0.0.1:{port}", auth)], n,
                                         seconds)
    return open_get, token_get


def _inproc(tmp: Path, n: int) -> dict[str, float]:
    """CPU µs per request of the app called in process (bench/inproc.py), on the server core."""
    out = subprocess.run(
        pinned([sys.executable, "-m", "bench.inproc", str(tmp / "data" / "cityos.db"),
                str(tmp / "inproc"), str(n), str(tmp / "doc.json")], SERVER_CORE),
        capture_output=True, text=True, timeout=600, cwd=Path(__file__).resolve().parents[1])
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
    if not line:
        print(f"in-process measurement failed: {out.stderr[-1000:]}", file=sys.stderr)
        return {}
    return json.loads(line[0][len("BENCH_JSON "):])  # type: ignore[no-any-return]


def _machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    loops = []
    for mod in ("uvloop", "httptools"):
        try:
            __import__(mod)
            loops.append(mod)
        except ImportError:
            pass
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "src"],
                               capture_output=True, text=True, timeout=10).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", []
    return {"commit": commit, "uncommitted_src_files": len(dirty),
            "cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
            "server_stack": "uvicorn " + "+".join(loops or ["asyncio", "h11"]),
            "load_generator": _load.tool()}


def _cpu_times() -> list[int]:
    """Aggregate jiffies from /proc/stat: user nice system idle iowait irq softirq steal."""
    try:
        return [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    except OSError:
        return [0] * 8


def _contention(before: list[int], after: list[int]) -> dict[str, float]:
    delta = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(delta) or 1
    return {"busy_pct": 100 * (total - delta[3] - delta[4]) / total,
            "steal_pct": 100 * delta[7] / total}


def run(seconds: float, n: int, profile: bool) -> dict[str, Any]:
    pin_self()
    load_before = os.getloadavg()[0]
    if load_before > 1.0:
        print(f"warning: load average {load_before:.1f} before the run: other work shares "
              "these cores, the figures will be low and noisy")
    cpu_before = _cpu_times()
    tmp = Path(tempfile.mkdtemp(prefix="cityos-bench-"))
    RESULTS.mkdir(exist_ok=True)
    profiler = Profiler(RESULTS, seconds) if profile else None
    figures: list[Figure] = []
    info: dict[str, Any] = {"machine": _machine(), "entities": n, "batch": BATCH,
                            "seconds_per_figure": seconds}
    tool = info["machine"]["load_generator"]
    print(f"load generator: {tool}" + ("" if tool == "wrk" else
                                       " (wrk not installed: Python client, slower)"))
    cpu: dict[str, float] = {}
    try:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with cityos_server(tmp / "data", port, tmp / "server.log") as server:
            t0 = time.perf_counter()
            load_rate, failures = _loader(port, n)
            _, headers, _ = _get(port, "/ngsi-ld/v1/entities?type=Sensor&count=true&limit=0")
            count = int({k.lower(): v for k, v in headers.items()}.get("ngsild-results-count", -1))
            print(f"loaded {count} entities in {time.perf_counter() - t0:.1f} s "
                  f"({load_rate:,.0f} entities/s through the API, 8 connections, "
                  f"{failures} failed requests)")
            info["load"] = {"entities": count, "rate": load_rate, "failures": failures}
            status, _, doc = _get(port, ENTITY_PATH + "000042")
            if status != 200:
                raise RuntimeError(f"GET of a loaded entity answered {status}")
            (tmp / "doc.json").write_bytes(doc)
            info["get_document_bytes"] = len(doc)

            bare_port = free_port()
            with bare_server(tmp / "doc.json", bare_port, tmp / "bare.log"):
                get, bare = _alternate([(url, ""), (f"http://127.0.0.1:{bare_port}", "")], n,
                                       seconds)
            if profiler is not None:
                profiler.record("get", server.pid, lambda: _load.run(
                    "get", url, [str(n), ENTITY_PATH], connections=32, seconds=seconds))
            print(f"GET        {get.rate:9,.0f} req/s")
            print(f"bare       {bare.rate:9,.0f} req/s")
            gate_open, gate_token = _gate(tmp, url, n, seconds)
            print(f"GET, token {gate_token.rate:9,.0f} req/s (open {gate_open.rate:,.0f} req/s "
                  "in the same slices)")
            broad = _drive("query", "query", url, [QUERY_BROAD], connections=32,
                           seconds=seconds, profiler=profiler, pid=server.pid)
            print(f"query      {broad.rate:9,.0f} req/s")
            selective = _drive("query-selective", "query", url, [QUERY_SELECTIVE],
                               connections=2, seconds=seconds, profiler=profiler,
                               pid=server.pid)
            print(f"query sel. {selective.rate:9,.1f} req/s")
            _, _, page = _get(port, QUERY_BROAD)
            _, _, sel_page = _get(port, QUERY_SELECTIVE)
            patch = _drive("patch", "patch", url, [str(n)], connections=64, seconds=seconds,
                           profiler=profiler, pid=server.pid)
            print(f"PATCH      {patch.rate:9,.0f} req/s")
            upsert = _drive("upsert", "upsert", url, [str(n), str(BATCH)], connections=8,
                            seconds=seconds, profiler=profiler, pid=server.pid)
            print(f"upsert     {upsert.rate * BATCH:9,.0f} entities/s")
        # raw costs, on the server's core, with the server stopped
        raw_out = subprocess.run(
            pinned([sys.executable, "-m", "bench.raw", str(tmp / "data" / "cityos.db"),
                    str(tmp / "raw.db"), str(BATCH), str(seconds)], SERVER_CORE),
            capture_output=True, text=True, timeout=seconds * 3 + 120,
            cwd=Path(__file__).resolve().parents[1])
        raw_line = [ln for ln in raw_out.stdout.splitlines() if ln.startswith("BENCH_JSON ")]
        if not raw_line:
            raise RuntimeError(f"bench.raw failed: {raw_out.stderr[-2000:]}")
        raw = json.loads(raw_line[0][len("BENCH_JSON "):])
        print(f"raw SQLite upsert {raw['upsert_rate']:9,.0f} entities/s, "
              f"point read+decode {raw['read_rate']:9,.0f}/s")
        info["raw_sqlite"] = raw
        cpu = _inproc(tmp, n)
        info["cpu_us_in_process"] = cpu
        if cpu:
            print("CPU per request in process: " + ", ".join(
                f"{k} {v:.1f} µs" for k, v in cpu.items()))
            if cpu.get("get_open"):
                print(f"token verification and policy in process: "
                      f"{cpu['get_token'] / cpu['get_open'] - 1:+.0%} of GET's CPU")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    ratio_get = get.rate / bare.rate if bare.rate else 0.0
    figures.append(Figure(
        "single-entity GET", "req/s", get.rate, get.p50_ms, get.p95_ms, get.p99_ms,
        "bare Starlette+orjson endpoint", bare.rate, "≥ 6,000/s and ≥ 50% of bare",
        get.rate >= 6000 and ratio_get >= 0.5, get.errors,
        [f"{len(doc)}-byte document, random entity of {n:,}"]))
    token_ratio = gate_token.rate / gate_open.rate if gate_open.rate else 0.0
    figures.append(Figure(
        "single-entity GET with a bearer token", "req/s", gate_token.rate, gate_token.p50_ms,
        gate_token.p95_ms, gate_token.p99_ms, "GET with --open-ngsi", gate_open.rate,
        "token + policy ≤ 15% of the cost", token_ratio >= 1 / 1.15, gate_token.errors,
        [f"first admin's token, alternating with --open-ngsi ({gate_open.rate:,.0f} req/s "
         f"then); cost +{(1 / token_ratio - 1) if token_ratio else 0:.0%}"]))
    figures.append(Figure(
        "bare endpoint (raw HTTP cost)", "req/s", bare.rate, bare.p50_ms, bare.p95_ms,
        bare.p99_ms, "", None, "(baseline)", None, bare.errors))
    figures.append(Figure(
        "PATCH /entities/{id}/attrs/{attr}", "req/s", patch.rate, patch.p50_ms, patch.p95_ms,
        patch.p99_ms, "bare endpoint", bare.rate, "≥ 3,000/s", patch.rate >= 3000,
        patch.errors, [f"random entity of {n:,}, durable (synchronous=FULL), 64 connections"]))
    figures.append(Figure(
        "query type+q, page of 20", "req/s", broad.rate, broad.p50_ms, broad.p95_ms,
        broad.p99_ms, "bare endpoint", bare.rate, "≥ 3,000/s, p95 ≤ 20 ms",
        broad.rate >= 3000 and broad.p95_ms <= 20, broad.errors,
        [f"type=Sensor&q=temperature>20 (half of {n:,} match), "
         f"{len(orjson.loads(page))} returned"]))
    figures.append(Figure(
        "query type+q, selective (extra)", "req/s", selective.rate, selective.p50_ms,
        selective.p95_ms, selective.p99_ms, "bare endpoint", bare.rate,
        "(same target, reported honestly)", selective.rate >= 3000 and selective.p95_ms <= 20,
        selective.errors,
        [f"type=Sensor&q=category==42 ({n // CATEGORIES} of {n:,} match), "
         f"{len(orjson.loads(sel_page))} returned, 2 connections"]))
    upsert_rate = upsert.rate * BATCH
    figures.append(Figure(
        f"batch upsert ({BATCH}/request)", "entities/s", upsert_rate, upsert.p50_ms,
        upsert.p95_ms, upsert.p99_ms, f"raw sqlite3 upsert, {BATCH}/transaction",
        raw["upsert_rate"], "≥ 50% of raw SQLite", upsert_rate >= 0.5 * raw["upsert_rate"],
        upsert.errors, ["replace of existing entities, 8 connections"]))
    figures.append(Figure(
        f"raw SQLite upsert ({BATCH}/txn)", "entities/s", raw["upsert_rate"], raw["txn_p50_ms"],
        None, raw["txn_p99_ms"], "", None, "(baseline)", None, 0,
        ["latency is per transaction"]))
    info["machine"]["loadavg_before"] = load_before
    info["machine"]["loadavg_after"] = os.getloadavg()[0]
    info["machine"].update(_contention(cpu_before, _cpu_times()))
    cpu_of = {"single-entity GET": "get", "bare endpoint (raw HTTP cost)": "bare",
              "single-entity GET with a bearer token": "get_token",
              "PATCH /entities/{id}/attrs/{attr}": "patch", "query type+q, page of 20": "query",
              f"batch upsert ({BATCH}/request)": "upsert_per_entity"}
    for f in figures:
        f.cpu_us = cpu.get(cpu_of.get(f.name, ""))
    return {"when": datetime.now(UTC).isoformat(timespec="seconds"), **info,
            "figures": [{**asdict(f), "ratio": f.ratio} for f in figures]}


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def table(report: dict[str, Any]) -> str:
    lines = ["| figure | rate | p50 ms | p95 ms | p99 ms | ratio to raw | target | met "
             "| CPU µs in process |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: |"]
    for f in report["figures"]:
        met = "–" if f["met"] is None else ("yes" if f["met"] else "**no**")
        ratio = "–" if f["ratio"] is None else f"{f['ratio']:.0%} of {f['baseline_name']}"
        errors = f" ({f['errors']} errors)" if f["errors"] else ""
        lines.append(f"| {f['name']} | {f['rate']:,.0f} {f['unit']}{errors} | "
                     f"{_fmt(f['p50_ms'], '.2f')} | {_fmt(f['p95_ms'], '.2f')} | "
                     f"{_fmt(f['p99_ms'], '.2f')} | {ratio} | {f['target']} | {met} | "
                     f"{_fmt(f['cpu_us'], '.1f')} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench ngsi", description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="load per figure (8)")
    parser.add_argument("--entities", type=int, default=N, help=f"data set size ({N:,})")
    parser.add_argument("--profile", action="store_true",
                        help="also run each figure under py-spy; profiles in bench/results/")
    args = parser.parse_args(argv)
    if args.entities % BATCH or args.entities < 10 * CATEGORIES // 10:
        parser.error(f"--entities must be a multiple of {BATCH}, at least {CATEGORIES}")
    report = run(args.seconds, args.entities, args.profile)
    print()
    m = report["machine"]
    print(f"{m['cpu']}, {m['cores']} cores, Python {m['python']}, SQLite {m['sqlite']}, "
          f"{m['server_stack']}, load by {m['load_generator']}; load average "
          f"{m['loadavg_before']:.1f} before, {m['loadavg_after']:.1f} after, "
          f"CPU steal {m['steal_pct']:.0f}%; commit {m['commit']}"
          + (f" + {m['uncommitted_src_files']} uncommitted files under src/"
             if m["uncommitted_src_files"] else ""))
    print(table(report))
    stamp = report["when"].replace(":", "").replace("-", "")
    for name in (f"ngsi-{stamp}.json", "ngsi-latest.json"):
        (RESULTS / name).write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    print(f"\nresults: {RESULTS / 'ngsi-latest.json'}")
    return 0

