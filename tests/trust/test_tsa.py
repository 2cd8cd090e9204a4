"""RFC 3161 time-stamps: built-in tokens checked by the real `openssl ts -verify`, a real HTTP
TSA for the external client, and fail-closed writes while the TSA is unreachable."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest

from access.secured import Platform
from cityos.trust.ca import CertificateAuthority
from cityos.trust.service import Trust
from cityos.trust.treehead import SignedTreeHead
from cityos.trust.tsa import (
    BuiltInTsa,
    TimeStampError,
    make_tsa_certificate,
    stamp_external,
    verify_token,
)
from conftest import free_port, system_binary

from .platforms import secured_with

DATA = b"127.0.0.1:8000/trust/v1/log\n5\nAAAA\ntimestamp 1\n"


@pytest.fixture(scope="module")
def tsa() -> tuple[CertificateAuthority, BuiltInTsa]:
    ca = CertificateAuthority.create("Test town")
    return ca, BuiltInTsa(*make_tsa_certificate(ca, "Test town"))


def _openssl_ts(tmp: Path, token: bytes, data: bytes, ca_pem: bytes) -> subprocess.CompletedProcess[str]:
    (tmp / "token.tst").write_bytes(token)
    (tmp / "data.txt").write_bytes(data)
    (tmp / "ca.pem").write_bytes(ca_pem)
    return subprocess.run([system_binary("openssl"), "ts", "-verify", "-data", str(tmp / "data.txt"),
                           "-in", str(tmp / "token.tst"), "-token_in", "-CAfile", str(tmp / "ca.pem")],
                          capture_output=True, text=True, timeout=30)


def test_openssl_accepts_tokens_and_rejects_altered_ones(
        tsa: tuple[CertificateAuthority, BuiltInTsa], tmp_path: Path) -> None:
    ca, authority = tsa
    token = authority.token(hashlib.sha256(DATA).digest())
    ok = _openssl_ts(tmp_path, token, DATA, ca.pem())
    assert ok.returncode == 0 and "Verification: OK" in ok.stdout, ok.stderr
    verify_token(token, DATA, [ca.cert])

    # other data
    assert _openssl_ts(tmp_path, token, DATA + b"x", ca.pem()).returncode != 0
    with pytest.raises(TimeStampError, match="other data"):
        verify_token(token, DATA + b"x", [ca.cert])
    # an altered time inside the token (the gen time's last digit)
    at = token.index(b"Z\x02") - 1 if b"Z\x02" in token else token.index(b"Z")  - 1
    altered = token[:at] + bytes([token[at] ^ 1]) + token[at + 1:]
    assert altered != token
    assert _openssl_ts(tmp_path, altered, DATA, ca.pem()).returncode != 0
    with pytest.raises(TimeStampError):
        verify_token(altered, DATA, [ca.cert])
    # an altered signature
    broken = token[:-3] + bytes([token[-3] ^ 0xFF]) + token[-2:]
    assert _openssl_ts(tmp_path, broken, DATA, ca.pem()).returncode != 0
    with pytest.raises(TimeStampError):
        verify_token(broken, DATA, [ca.cert])
    # a TSA certificate from another CA
    other = CertificateAuthority.create("Somewhere else")
    assert _openssl_ts(tmp_path, token, DATA, other.pem()).returncode != 0
    with pytest.raises(TimeStampError, match="trusted CA"):
        verify_token(token, DATA, [other.cert])


@pytest.fixture
def http_tsa(tsa: tuple[CertificateAuthority, BuiltInTsa]) -> Iterator[str]:
    """A real RFC 3161 TSA over HTTP (RFC 3161 §3.4) in a thread."""
    authority = tsa[1]

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = self.headers["Content-Type"] == "application/timestamp-query"
            answer = authority.respond(body) if ok else b"no"
            self.send_response(200 if ok else 415)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    server.shutdown()
    server.server_close()


def test_external_tsa_client(http_tsa: str, tsa: tuple[CertificateAuthority, BuiltInTsa]) -> None:
    token = anyio.run(stamp_external, http_tsa, DATA)
    verify_token(token, DATA, [tsa[0].cert])
    with pytest.raises(TimeStampError, match="unreachable"):
        anyio.run(stamp_external, f"http://127.0.0.1:{free_port()}/tsa", DATA)


def test_platform_stamps_every_tree_head(platform: Platform, tmp_path: Path) -> None:
    admin = platform.auth("admin")
    platform.client.get("/version")
    trust: Trust = platform.client.app.state.trust  # type: ignore[attr-defined]
    assert platform.client.portal is not None
    platform.client.portal.call(trust.checkpoint)
    head = platform.client.get("/trust/v1/log/tree-head", headers=admin).json()
    token = base64.b64decode(head["timeStampToken"])
    body = SignedTreeHead.from_json(head).head.body()
    ca_pem = platform.client.get("/trust/v1/ca", headers=admin).json()["certificate"].encode()
    assert _openssl_ts(tmp_path, token, body, ca_pem).returncode == 0


def test_writes_stop_while_the_tsa_is_unreachable(prepared: tuple[Path, dict[str, Any]],
                                                  tmp_path: Path, http_tsa: str) -> None:
    down = f"http://127.0.0.1:{free_port()}/tsa"
    with secured_with(prepared, tmp_path / "var", tsa_url=down,
                      tsa_max_outage_seconds=0.0) as platform:
        writer = {**platform.auth("Writer"), "Content-Type": "application/json"}

        def write(n: int) -> int:
            return platform.client.post("/ngsi-ld/v1/entities", headers=writer, json={
                "id": f"urn:ngsi-ld:Shelter:{n}", "type": "Shelter"}).status_code

        assert write(1) == 201
        trust: Trust = platform.client.app.state.trust  # type: ignore[attr-defined]
        assert platform.client.portal is not None
        sth = platform.client.portal.call(trust.checkpoint)
        assert sth is not None and "timeStampToken" not in sth.extra  # signed, not stamped
        refused = platform.client.post("/ngsi-ld/v1/entities", headers=writer, json={
            "id": "urn:ngsi-ld:Shelter:2", "type": "Shelter"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["title"] == "ServiceUnavailable"
        assert platform.client.get("/ngsi-ld/v1/entities/urn:ngsi-ld:Shelter:1",
                                   headers=platform.auth("admin")).status_code == 200  # reads go on
        alerts = platform.client.get("/auth/v1/alerts", headers=platform.auth("admin")).json()
        assert any(a["kind"] == "tsa-unreachable" for a in alerts)
        # the TSA is back: the next checkpoint is stamped and writes resume
        trust.stamper.settings = dataclasses.replace(trust.settings, tsa_url=http_tsa)
        sth = platform.client.portal.call(trust.checkpoint)
        assert sth is not None and "timeStampToken" in sth.extra
        assert write(3) == 201
