"""Sealed settlement statements (eシール): the service's organisation holds a P-256 key of its
own (DATA_DIR/services/wallet/seal-key.pem, 0600) and a seal certificate the platform CA
issued for it through the trust API (POST /trust/v1/certificates with a CSR); a statement is
sealed as a detached JWS over its RFC 8785 canonical JSON (docs/trust.md, seals over data).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cityos.services.runtime import ServiceContext
from cityos.trust.seal import make_seal

_LOCK = asyncio.Lock()


def _paths(ctx: ServiceContext) -> tuple[Path, Path]:
    folder = ctx.settings.data_dir / "services" / "wallet"
    return folder / "seal-key.pem", folder / "seal-cert.pem"


def _key(path: Path) -> ec.EllipticCurvePrivateKey:
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        return loaded
    key = ec.generate_private_key(ec.SECP256R1())
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    return key


async def seal_material(ctx: ServiceContext) -> tuple[ec.EllipticCurvePrivateKey,
                                                       x509.Certificate, str]:
    """The key, its seal certificate and the certificate's PEM (asked for once)."""
    key_path, cert_path = _paths(ctx)
    async with _LOCK:
        key = await asyncio.to_thread(_key, key_path)
        if not cert_path.exists():
            csr = (x509.CertificateSigningRequestBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                                               ctx.manifest.org)]))
                   .sign(key, hashes.SHA256()))
            response = await ctx.client.request("POST", "/trust/v1/certificates", json={
                "csr": csr.public_bytes(serialization.Encoding.PEM).decode()})
            cert_path.write_text(response.json()["certificate"])
        pem = cert_path.read_text()
    return key, x509.load_pem_x509_certificate(pem.encode()), pem


async def sealed(ctx: ServiceContext, statement: dict[str, Any]) -> dict[str, Any]:
    """The statement with its seal and the seal certificate (verify with
    `cityos.trust.seal.verify_seal` over `rfc8785.dumps(statement)`)."""
    key, cert, pem = await seal_material(ctx)
    return {"statement": statement, "seal": make_seal(rfc8785.dumps(statement), key, cert),
            "certificate": pem}
