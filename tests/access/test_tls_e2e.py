"""`cityos serve --tls-cert --tls-key`: HTTPS with HSTS, plain HTTP refused (not redirected)."""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

pytestmark = pytest.mark.e2e
CITYOS = str(Path(sys.executable).with_name("cityos"))


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    from conftest import free_port  # type: ignore[import-not-found]

    cert, key = _self_signed(tmp_path)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOS_")}
    proc = subprocess.Popen([CITYOS, "serve", "--data-dir", str(tmp_path / "var"), "--port",
                             str(port), "--tls-cert", str(cert), "--tls-key", str(key)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[0]
            try:
                if httpx.get(f"https://127.0.0.1:{port}/healthz", verify=str(cert),
                             timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield f"https://127.0.0.1:{port}", f"http://127.0.0.1:{port}", cert
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_https_with_hsts_and_plain_http_refused(tls_server: tuple[str, str, Path]) -> None:
    https, http, cert = tls_server
    r = httpx.get(f"{https}/version", verify=str(cert))
    assert r.status_code == 200 and r.headers["strict-transport-security"] == "max-age=31536000"
    r = httpx.get(f"{https}/ngsi-ld/v1/types", verify=str(cert))
    assert r.status_code == 401 and "strict-transport-security" in r.headers
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{http}/version", timeout=5)


def test_half_a_tls_configuration_is_refused(tmp_path: Path) -> None:
    cert, _ = _self_signed(tmp_path)
    done = subprocess.run([CITYOS, "serve", "--data-dir", str(tmp_path / "v"), "--tls-cert",
                           str(cert)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--tls-key" in done.stderr
