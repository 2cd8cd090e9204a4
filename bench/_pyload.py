"""Fallback load generator when `wrk` is not installed: asyncio keep-alive connections.

`python -m bench._pyload WORKLOAD URL CONNECTIONS SECONDS [ARGS...]`; the same workloads and
output (one BENCH_JSON line) as the Lua scripts in bench/lua. Slower than wrk: the bench says
which one it used.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from bench.data import sensor

Request = tuple[str, str, bytes]
AUTHORIZATION = os.environ.get("BENCH_AUTHORIZATION", "")  # sent when set (as get.lua does)


def workload(name: str, args: list[str]) -> Callable[[int], Request]:
    if name == "get":
        n, prefix = int(args[0]), args[1]
        return lambda i: ("GET", f"{prefix}{random.randrange(n):06d}", b"")
    if name == "patch":
        n = int(args[0])
        return lambda i: ("PATCH", f"/ngsi-ld/v1/entities/urn:ngsi-ld:Sensor:"
                          f"{random.randrange(n):06d}/attrs/temperature",
                          b'{"value": %d.5}' % (i % 40))
    if name == "query":
        return lambda i: ("GET", args[0], b"")
    if name == "upsert":
        n, b = int(args[0]), int(args[1])
        chunks = n // b
        start = random.randrange(chunks)

        def upsert(i: int) -> Request:
            first = ((start + i) % chunks) * b
            body = json.dumps([sensor(first + k, (i + k) % 40 + 0.5) for k in range(b)])
            return "POST", "/ngsi-ld/v1/entityOperations/upsert", body.encode()
        return upsert
    raise SystemExit(f"unknown workload {name}")


async def connection(host: str, port: int, make: Callable[[int], Request], counter: list[int],
                     latencies: list[float], errors: list[int], stop: float) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    while time.monotonic() < stop:
        counter[0] += 1
        method, path, body = make(counter[0])
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        if AUTHORIZATION:
            head += f"Authorization: {AUTHORIZATION}\r\n"
        t0 = time.perf_counter()
        writer.write(head.encode() + b"\r\n" + body)
        status_line = await reader.readline()
        length = 0
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await reader.readexactly(length)
        latencies.append(time.perf_counter() - t0)
        if not status_line.split(b" ")[1].startswith((b"2",)):
            errors[0] += 1
    writer.close()


async def main(argv: list[str]) -> None:
    name, url, conns, seconds, *args = argv
    parts = urlsplit(url)
    make = workload(name, args)
    counter, latencies, errors = [0], [], [0]
    start = time.monotonic()
    stop = start + float(seconds)
    await asyncio.gather(*(connection(parts.hostname or "127.0.0.1", parts.port or 80, make,
                                      counter, latencies, errors, stop)
                           for _ in range(int(conns))))
    elapsed = time.monotonic() - start
    lat = sorted(latencies) or [0.0]

    def pct(p: float) -> int:
        return int(lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1e6)

    print("BENCH_JSON " + json.dumps({
        "requests": len(latencies), "duration_us": int(elapsed * 1e6), "bytes": 0,
        "p50": pct(50), "p90": pct(90), "p95": pct(95), "p99": pct(99),
        "mean": sum(lat) / len(lat) * 1e6, "max": int(lat[-1] * 1e6), "connect_errors": 0,
        "read_errors": 0, "write_errors": 0, "status_errors": errors[0], "timeouts": 0}))


if __name__ == "__main__":
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(sys.argv[1:]))
