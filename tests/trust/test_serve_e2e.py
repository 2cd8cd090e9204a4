"""The trust part in a real `cityos serve`: an organisation gets a certificate and seals a
write over HTTP; after the server stops, the evidence and the whole log verify from the CLI;
after a restart the log goes on and the new head extends the old one."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

from cityos.trust.merkle import verify_consistency
from cityos.trust.seal import HEADER, canonical_json, make_seal
from conftest import CITYOS

pytestmark = pytest.mark.e2e
ENTITY = {"id": "urn:ngsi-ld:Shelter:e2e", "type": "Shelter",
          "name": {"type": "Property", "value": "豊能町役場"}}


def _cityos(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([CITYOS, *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_a_sealed_write_through_a_real_server(serve: Any, tmp_path: Path) -> None:
    data = str(tmp_path / "town")
    _cityos("init", "--data-dir", data)
    _cityos("org", "add", "Toyono Mobility", "--corporate-number", "7000012050002",
            "--write", "Shelter", "--read", "Shelter", "--data-dir", data)
    token = _cityos("token", "--data-dir", data, "--org", "Toyono Mobility"
                    ).stdout.strip().splitlines()[-1]
    auth = {"Authorization": f"Bearer {token}"}
    server = serve(data_dir=Path(data))
    key = ed25519.Ed25519PrivateKey.generate()
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "x")]))
           .sign(key, None).public_bytes(serialization.Encoding.PEM).decode())
    made = httpx.post(f"{server.url}/trust/v1/certificates", json={"csr": csr}, headers=auth)
    assert made.status_code == 201, made.text
    cert = x509.load_pem_x509_certificate(made.json()["certificate"].encode())
    seal = make_seal(canonical_json(ENTITY), key, cert)
    r = httpx.post(f"{server.url}/ngsi-ld/v1/entities", content=orjson.dumps(ENTITY),
                   headers={**auth, "Content-Type": "application/json", HEADER: seal})
    assert r.status_code == 201, r.text
    bundle = httpx.get(f"{server.url}/trust/v1/evidence/{ENTITY['id']}", headers=auth)
    assert bundle.status_code == 200, bundle.text
    first = httpx.get(f"{server.url}/trust/v1/log/tree-head", headers=auth).json()
    server.stop()  # the last checkpoint is taken on the way out

    (tmp_path / "bundle.json").write_bytes(bundle.content)
    ca = tmp_path / "ca.pem"
    ca.write_text(_cityos("trust", "ca", "--data-dir", data).stdout)
    checked = _cityos("verify", "--bundle", str(tmp_path / "bundle.json"), "--log-key",
                      first["publicKey"], "--ca", str(ca))
    assert checked.stdout.startswith("OK: 1 records"), checked.stdout
    whole = _cityos("verify", "--data-dir", data, "--log-key", first["publicKey"], "--ca", str(ca))
    assert "1 seals" in whole.stdout, whole.stdout

    again = serve(data_dir=Path(data))
    assert httpx.get(f"{again.url}/version").status_code == 200
    second = httpx.get(f"{again.url}/trust/v1/log/tree-head", headers=auth).json()
    assert second["treeSize"] > first["treeSize"]
    proof = httpx.get(f"{again.url}/trust/v1/log/proof/consistency", headers=auth,
                      params={"first": first["treeSize"], "second": second["treeSize"]}).json()
    verify_consistency(first["treeSize"], second["treeSize"], bytes.fromhex(first["rootHash"]),
                       bytes.fromhex(second["rootHash"]),
                       [bytes.fromhex(h) for h in proof["consistencyPath"]])
