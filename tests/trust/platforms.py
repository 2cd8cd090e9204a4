"""A secured platform with chosen trust settings, and helpers to drive its trust state."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from starlette.testclient import TestClient

from access.secured import Platform
from cityos.app import create_app
from cityos.audit.trail import trail_of
from cityos.settings import load_settings
from cityos.trust.service import Trust
from conftest import LOOPBACK, copy_platform


@contextlib.contextmanager
def secured_with(prepared: tuple[Path, dict[str, Any]], data_dir: Path,
                 **trust: Any) -> Iterator[Platform]:
    environ = {**copy_platform(prepared[0], data_dir), "CITYOS_EGRESS_ALLOW": LOOPBACK}  # TSAs
    settings = load_settings(data_dir, environ=environ)
    settings = dataclasses.replace(settings, trust=dataclasses.replace(settings.trust, **trust))
    made = prepared[1]
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield Platform(settings, client, made["admin_token"], made["tokens"], made["secrets"],
                       made["passwords"])


def trust_of(platform: Platform) -> Trust:
    return platform.client.app.state.trust  # type: ignore[attr-defined,no-any-return]


def checkpoint(platform: Platform) -> Any:
    """Flush the audit trail and write records, then take a checkpoint now."""
    assert platform.client.portal is not None
    platform.client.portal.call(trail_of(platform.client.app).flush)
    return platform.client.portal.call(trust_of(platform).checkpoint)


def certificate_for(platform: Platform, org_token: str,
                    key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
                    ) -> tuple[x509.Certificate, str]:
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "me")]))
           .sign(key, algorithm).public_bytes(serialization.Encoding.PEM).decode())
    made = platform.client.post("/trust/v1/certificates", headers=platform.auth(org_token),
                                json={"csr": csr})
    assert made.status_code == 201, made.text
    return x509.load_pem_x509_certificate(made.json()["certificate"].encode()), made.json()["serial"]
