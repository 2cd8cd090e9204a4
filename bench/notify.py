"""Notification figures (issue 3): end-to-end latency at a steady write rate, outbox cost.

`python -m bench notify [--rate 1000] [--seconds 10] [--entities 100]`

One `cityos serve --open-ngsi` on core 0; this process on core 1 runs both the writer and the
receiver (one asyncio loop). One subscription (type Counter, keyValues) points at the receiver.
The writer PATCHes one entity's `n` `rate` times a second (paced, up to 64 in flight); each
value is unique, so the receiver knows which write a notification carries. Latency of a write:

- from its request being sent to the receiver getting it (upper bound of commit → receiver:
  it includes the write itself);
- from its acknowledgement to the receiver getting it (lower bound; negative when the
  notification overtook the HTTP response, counted as 0).

Intermediate values of one entity may coalesce into one notification (the delivery renders the
entity's current state); such writes are reported as coalesced, not as latencies.
Also measured: the outbox's cost per written entity (building the change-log row and inserting
it with executemany, on a scratch SQLite file with the engine's settings).
Writes bench/results/notify-latest.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench._server import CLIENT_CORE, SERVER_CORE, Process, free_port, pin_self
from cityos.storage.sqlite import changes
from cityos.storage.sqlite.schema import migrate

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
CITYOS = str(Path(sys.executable).with_name("cityos"))
V1 = "/ngsi-ld/v1"


class Receiver(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive endpoint: 204 to every POST, arrival time per value."""

    arrivals: dict[int, float]
    posts = 0

    def __init__(self) -> None:
        self.buf = b""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self.buf += data
        while True:
            head_end = self.buf.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buf[:head_end].decode("latin-1").lower()
            length = 0
            for line in head.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            end = head_end + 4 + length
            if len(self.buf) < end:
                return
            body, self.buf = self.buf[head_end + 4:end], self.buf[end:]
            Receiver.posts += 1
            for entity in orjson.loads(body)["data"]:
                Receiver.arrivals.setdefault(int(entity["n"]), now)
            self.transport.write(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n")


class RawPool:
    """Keep-alive HTTP/1.1 connections for the paced writes: a few lines of asyncio streams
    cost far less CPU than a full client, so the writer on core 1 is not what is measured."""

    def __init__(self, url: str, size: int) -> None:
        host, port = url.split("//", 1)[1].split(":")
        self.host, self.port, self.size = host, int(port), size
        self.free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = \
            asyncio.Queue()

    async def open(self) -> None:
        for _ in range(self.size):
            self.free.put_nowait(await asyncio.open_connection(self.host, self.port))

    async def patch(self, path: str, body: bytes) -> int:
        reader, writer = await self.free.get()
        try:
            writer.write(f"PATCH {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                         f"Content-Type: application/json\r\nContent-Length: {len(body)}"
                         f"\r\n\r\n".encode() + body)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            return status
        finally:
            self.free.put_nowait((reader, writer))

    def close(self) -> None:
        while not self.free.empty():
            self.free.get_nowait()[1].close()


async def _run(url: str, rate: int, seconds: float, entities: int, port: int,
               subscribe: bool = True) -> dict[str, Any]:
    Receiver.arrivals = {}
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Receiver, "127.0.0.1", port)
    sent: dict[int, float] = {}
    acked: dict[int, float] = {}
    last_of: dict[int, int] = {}  # entity -> newest acknowledged value
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        for k in range(entities):
            r = await client.post(f"{V1}/entities", json={
                "id": f"urn:ngsi-ld:Counter:{k}", "type": "Counter",
                "n": {"type": "Property", "value": -1 - k}})
            r.raise_for_status()
        sub = {"type": "Subscription", "entities": [{"type": "Counter"}],
               "notification": {"endpoint": {"uri": f"http://127.0.0.1:{port}/notify"},
                                "format": "keyValues", "attributes": ["n"]}}
        if subscribe:
            (await client.post(f"{V1}/subscriptions", json=sub)).raise_for_status()
        pool = RawPool(url, 64)
        await pool.open()
        locks = [asyncio.Lock() for _ in range(entities)]  # one write per entity in flight
        total = int(rate * seconds)

        async def write(k: int) -> None:
            async with locks[k % entities]:
                sent[k] = time.perf_counter()
                status = await pool.patch(
                    f"{V1}/entities/urn:ngsi-ld:Counter:{k % entities}/attrs",
                    orjson.dumps({"n": {"type": "Property", "value": k}}))
                if status == 204:
                    acked[k] = time.perf_counter()
                    last_of[k % entities] = max(last_of.get(k % entities, -1), k)

        began = time.perf_counter()
        tasks = []
        for k in range(total):
            delay = began + k / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(write(k)))
        await asyncio.gather(*tasks)
        write_s = time.perf_counter() - began
        pool.close()
        deadline = time.monotonic() + 60
        while subscribe and time.monotonic() < deadline and not all(
                v in Receiver.arrivals for v in last_of.values()):
            await asyncio.sleep(0.05)
    server.close()
    got = [k for k in acked if k in Receiver.arrivals]
    from_sent = [(Receiver.arrivals[k] - sent[k]) * 1000 for k in got]
    from_ack = [max(0.0, (Receiver.arrivals[k] - acked[k]) * 1000) for k in got]
    write_ms = [(acked[k] - sent[k]) * 1000 for k in acked]
    lost = [v for v in last_of.values() if subscribe and v not in Receiver.arrivals]
    return {"writes": total, "acknowledged": len(acked), "write_rate_per_s": round(total / write_s),
            "notifications": Receiver.posts, "entities_notified": len(got),
            "coalesced": len(acked) - len(got), "latest_value_missing": len(lost),
            "latency_from_request": _summary(from_sent), "latency_from_ack": _summary(from_ack),
            "write_latency": _summary(write_ms)}


def _summary(ms: list[float]) -> dict[str, float]:
    if not ms:
        return {}
    ms = sorted(ms)
    return {"p50_ms": round(statistics.median(ms), 2),
            "p99_ms": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 2),
            "max_ms": round(ms[-1], 2)}


def _outbox_cost(rows: int = 20_000) -> float:
    """Microseconds per entity to build and insert its change-log row (one executemany): an
    update of one attribute of a five-attribute entity."""
    with tempfile.TemporaryDirectory(prefix="cityos-bench-outbox-") as tmp:
        conn = sqlite3.connect(Path(tmp) / "db.sqlite", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        migrate(conn)
        def entity(stamp: str, updated: int) -> dict[str, Any]:
            return {"id": "x", "type": ["https://example.org/Counter"], "modifiedAt": stamp,
                    "attrs": {f"https://example.org/a{i}": [{
                        "type": "Property", "value": i,
                        "modifiedAt": stamp if i < updated else "2025-01-01T00:00:00.000Z"}]
                        for i in range(5)}}

        # an update of one attribute of five: its previous instance is kept (showChanges)
        old_doc = orjson.dumps(entity("2025-01-01T00:00:00.000Z", 5))
        new = entity("2026-01-01T00:00:00.000Z", 1)
        old_attrs = dict.fromkeys(new["attrs"], 1)
        best = float("inf")
        for _ in range(5):
            began = time.perf_counter()
            conn.execute("BEGIN")
            conn.executemany(changes.INSERT, [
                changes.entry("", f"urn:x:{i}", new["type"], old_attrs, new, old_doc)
                for i in range(rows)])
            conn.execute("COMMIT")
            best = min(best, (time.perf_counter() - began) / rows * 1e6)
        conn.close()
    return round(best, 2)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench notify")
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--entities", type=int, default=100)
    parser.add_argument("--no-subscription", action="store_true",
                        help="the same writes without a subscription (what notifying costs)")
    args = parser.parse_args(argv)
    pin_self(CLIENT_CORE)
    RESULTS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cityos-bench-notify-") as tmp:
        port = free_port()
        receiver = free_port()
        url = f"http://127.0.0.1:{port}"
        server = Process([CITYOS, "serve", "--data-dir", str(Path(tmp) / "var"), "--port",
                          str(port), "--open-ngsi"], core=SERVER_CORE,
                         log=Path(tmp) / "server.log", ready_url=f"{url}/healthz", timeout=120,
                         env={"CITYOS_EGRESS_ALLOW": f"127.0.0.1:{receiver}"})  # the receiver
        try:
            result = asyncio.run(_run(url, args.rate, args.seconds, args.entities, receiver,
                                      subscribe=not args.no_subscription))
        finally:
            server.stop()
    result = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
              "loadavg": os.getloadavg(), "rate_per_s": args.rate, **result,
              "outbox_us_per_entity": _outbox_cost()}
    (RESULTS / "notify-latest.json").write_text(json.dumps(result, indent=2))
    print(f"notify bench: {result['writes']} writes at {result['write_rate_per_s']}/s "
          f"(target {args.rate}/s), {result['notifications']} notifications carrying "
          f"{result['entities_notified']} writes ({result['coalesced']} coalesced), "
          f"load average {result['loadavg'][0]:.2f}")
    for name in ("latency_from_request", "latency_from_ack", "write_latency"):
        s = result[name]
        print(f"  {name:22s} p50 {s.get('p50_ms', 0):8.2f} ms  p99 {s.get('p99_ms', 0):8.2f} ms"
              f"  max {s.get('max_ms', 0):8.2f} ms")
    print(f"  latest value of an entity never notified: {result['latest_value_missing']} "
          f"(must be 0); outbox {result['outbox_us_per_entity']} µs per written entity; "
          "target p99 ≤ 50 ms")
    return 0 if result["latest_value_missing"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
