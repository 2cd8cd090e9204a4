"""Load generation: `wrk` with the Lua scripts in bench/lua, or a Python client if wrk is absent.

Both print one `BENCH_JSON {...}` line (requests, duration, latency percentiles in µs) that
`run` parses; the client runs in its own process pinned to the client core.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench._server import CLIENT_CORE, pinned

LUA = Path(__file__).with_name("lua")


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    tool: str

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def tool() -> str:
    """`wrk` if installed; BENCH_LOAD=python forces the fallback client."""
    if os.environ.get("BENCH_LOAD") == "python":
        return "python"
    return "wrk" if shutil.which("wrk") else "python"


def _client(argv: list[str], seconds: float,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(pinned(argv, CLIENT_CORE), capture_output=True, text=True,
                          timeout=seconds + 60, cwd=Path(__file__).resolve().parents[1],
                          env={**os.environ, **env} if env else None)


def run(workload: str, url: str, args: list[str], *, connections: int, seconds: float,
        threads: int = 1, timeout_s: int = 5, authorization: str = "") -> LoadResult:
    """Drive `url` with `workload` (get, patch, query, upsert) for `seconds`; `authorization`
    is sent as the Authorization header of GETs (through the environment, not the argv)."""
    env = {"BENCH_AUTHORIZATION": authorization} if authorization else None
    if tool() == "wrk":
        script = LUA / f"{workload}.lua"
        combined = script.read_text() + "\n" + (LUA / "common.lua").read_text()
        with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="cityos-bench-") as tmp:
            tmp.write(combined)
            tmp.flush()
            argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
                    "--timeout", f"{timeout_s}s", "--latency", "-s", tmp.name, url, "--", *args]
            out = _client(argv, seconds, env)
    else:
        out = _client([sys.executable, "-m", "bench._pyload", workload, url, str(connections),
                       str(seconds), *args], seconds, env)
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            data = json.loads(line[len("BENCH_JSON "):])
            break
    else:
        raise RuntimeError(f"load generator failed ({out.returncode}): {out.stdout[-2000:]} "
                           f"{out.stderr[-2000:]}")
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors",
                                   "status_errors", "timeouts"))
    return LoadResult(requests=data["requests"], seconds=data["duration_us"] / 1e6,
                      p50_ms=data["p50"] / 1000, p95_ms=data["p95"] / 1000,
                      p99_ms=data["p99"] / 1000, errors=errors, tool=tool())


def pooled(results: list[LoadResult]) -> LoadResult:
    """Several slices of one workload as one: total rate; the slices' median percentiles."""
    def median(values: list[float]) -> float:
        values = sorted(values)
        return values[len(values) // 2]

    return LoadResult(requests=sum(r.requests for r in results),
                      seconds=sum(r.seconds for r in results),
                      p50_ms=median([r.p50_ms for r in results]),
                      p95_ms=median([r.p95_ms for r in results]),
                      p99_ms=median([r.p99_ms for r in results]),
                      errors=sum(r.errors for r in results), tool=results[0].tool)
