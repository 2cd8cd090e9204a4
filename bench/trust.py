"""Trust figures (issue 7): what sealing and logging add to batch upserts, and how long
verifying a transparency log of 1,000,000 leaves takes.

`python -m bench trust [--leaves N] [--batches B] [--only upsert|verify]`

- upsert: CPU time per entity of `POST /ngsi-ld/v1/entityOperations/upsert` (100 entities a
  request, many in flight so group commit works), the ASGI app called in process as
  bench/inproc.py does, best of 3 rounds, in four variants measured in alternation: the write
  path without the trust hook, with it (a write record per request, appended in batches),
  and, through the gate with an organisation's token, unsealed and sealed (a detached JWS over
  the RFC 8785 form of the 100 entities, verified against the certificate).
- verify: N audit records appended to a fresh store and fed into the log (with a signed,
  time-stamped tree head every N/10), then the whole-log verification of `cityos verify`
  (re-hash, links, roots, heads, tokens, each audit leaf against the audit trail), wall time.

Prints one BENCH_JSON line and writes bench/results/trust-latest.json.
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

import orjson

from bench.data import sensor
from bench.inproc import call, measure

RESULTS = Path(__file__).resolve().parent / "results"
UPSERT = "/ngsi-ld/v1/entityOperations/upsert"


def _batch(i: int, size: int = 100) -> list[dict[str, Any]]:
    first = (i * size) % 20_000
    return [sensor(k, (i + k) % 40 + 0.5) for k in range(first, first + size)]


async def _org_token_and_seal(app: Any) -> tuple[bytes, Callable[[bytes], bytes]]:
    """An organisation with write access, its token, and a sealing function with its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from cityos.access.service import access_of, org_principal
    from cityos.trust.seal import canonical_json, make_seal

    access = await access_of(app)
    org, _secret = await access.book.add_org("BenchCo", "7000012050002", write=["*"])
    token = b"Bearer " + (await access.issue(org_principal(org))).encode()
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "b")]))
           .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    issued = await app.state.trust.certs.issue(org, csr)
    cert = issued.certificate

    def seal(body: bytes) -> bytes:
        return make_seal(canonical_json(orjson.loads(body)), key, cert).encode()

    return token, seal


async def _call_with(app: Any, body: bytes, auth: bytes = b"", seal: bytes = b"") -> int:
    if not seal:
        return await call(app, "POST", UPSERT, body, auth=auth)
    # bench.inproc.call has no extra headers: add the seal through a thin ASGI wrapper
    async def sealed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope = dict(scope, headers=[*scope["headers"], (b"cityos-seal", seal)])
        await app(scope, receive, send)

    return await call(sealed, "POST", UPSERT, body, auth=auth)


async def upsert_figures(work: Path, batches: int, rounds: int = 5) -> dict[str, float]:
    import cityos.app as app_module
    from cityos.settings import load_settings

    bodies = [orjson.dumps(_batch(i)) for i in range(batches)]
    real = app_module.with_trust
    out: dict[str, float] = {}
    # one database each, so that no variant waits for another's writer
    app_module.with_trust = lambda op: op  # type: ignore[assignment]
    bare = app_module.create_app(load_settings(work / "bare", environ={}, open_ngsi=True))
    app_module.with_trust = real
    hooked = app_module.create_app(load_settings(work / "hooked", environ={}, open_ngsi=True))
    gated = app_module.create_app(load_settings(
        work / "gated", environ={"CITYOS_ACCESS_RATE_PER_SECOND": "1e9"}))
    async with bare.router.lifespan_context(bare), hooked.router.lifespan_context(hooked), \
            gated.router.lifespan_context(gated):
        token, seal = await _org_token_and_seal(gated)
        seals = [seal(b) for b in bodies[:batches]]
        for i in range(batches):  # entities exist: every variant updates them
            for app, auth in ((bare, b""), (hooked, b""), (gated, token)):
                if await _call_with(app, bodies[i], auth) >= 300:
                    raise RuntimeError("the first upserts failed")

        def variant(app: Any, auth: bytes = b"", sealed: bool = False
                    ) -> Callable[[int], Awaitable[int]]:
            return lambda i: _call_with(app, bodies[i % batches], auth,
                                        seals[i % batches] if sealed else b"")

        variants = {"upsert_without_trust": variant(bare), "upsert_with_trust": variant(hooked),
                    "upsert_org_unsealed": variant(gated, token),
                    "upsert_org_sealed": variant(gated, token, sealed=True)}
        best = dict.fromkeys(variants, float("inf"))
        for _ in range(rounds):  # alternate, so that other work on the machine weighs on all
            for name, make in variants.items():
                best[name] = min(best[name], await measure(make, batches, concurrent=True) / 100)
        out.update(best)
        await hooked.state.trust.writes.flush()
    out["logging_overhead"] = out["upsert_with_trust"] / out["upsert_without_trust"] - 1
    out["sealing_overhead"] = out["upsert_org_sealed"] / out["upsert_org_unsealed"] - 1
    return out


def _audit_record(n: int) -> dict[str, Any]:
    return {"at": "2026-11-22T00:00:00.000Z", "who": "org:bench", "org": "BenchCo",
            "ip": "127.0.0.1", "tenant": "", "op": "batch_upsert", "method": "POST",
            "path": UPSERT, "entities": [f"urn:ngsi-ld:Sensor:{n % 100_000:06d}"],
            "status": 201, "bytes_in": 2900, "bytes_out": 0, "ms": 1.5}


async def verify_figures(work: Path, leaves: int) -> dict[str, float]:
    from cityos.audit.chain import canonical, link
    from cityos.audit.trail import LOG as AUDIT_LOG
    from cityos.settings import load_settings
    from cityos.storage import open_store
    from cityos.trust.service import Trust
    from cityos.trust.verify import verify_store

    settings = load_settings(work / "log", environ={})
    store = open_store(settings.database_url)
    await store.open()
    try:
        trust = await Trust.open(store, settings.trust, settings.public_url)
        began = time.perf_counter()
        step = max(1, leaves // 10)
        for first in range(0, leaves, 10_000):  # audit records, fed into the log as in serve
            count = min(10_000, leaves - first)
            await store.append_log(AUDIT_LOG, [canonical(_audit_record(first + k))
                                               for k in range(count)], link)
            await trust.feed()
            if (first + count) % step == 0 or first + count == leaves:
                await trust.checkpoint()
        built = time.perf_counter() - began
        began = time.perf_counter()
        problems, summary = await verify_store(store, trust.log, trust.certs)
        took = time.perf_counter() - began
        if problems or summary.leaves != leaves:
            raise RuntimeError(f"verification failed: {problems[:3]}")
        if summary.audit != leaves:
            raise RuntimeError(f"only {summary.audit} audit leaves were checked")
        return {"leaves": leaves, "heads": summary.heads, "build_seconds": round(built, 1),
                "verify_seconds": round(took, 2), "leaves_per_second": round(leaves / took)}
    finally:
        await store.close()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench trust")
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=40, help="upserts of 100 per round")
    parser.add_argument("--only", choices=("upsert", "verify"), help="one of the two figures")
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        result: dict[str, float] = {}
        if args.only != "verify":
            result.update(asyncio.run(upsert_figures(Path(tmp) / "upsert", args.batches)))
        if args.only != "upsert":
            result.update(asyncio.run(verify_figures(Path(tmp), args.leaves)))
    print("BENCH_JSON " + json.dumps(result))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "trust-latest.json").write_text(json.dumps(result, indent=2) + "\n")
