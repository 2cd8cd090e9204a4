"""An OCSP responder for the platform CA's seal certificates, signed by the CA itself.

RFC 6960 §2.2 (good / revoked / unknown), §2.3 (malformedRequest, unauthorized for another
issuer); SHA-1 and SHA-256 certificate ids, answers valid one hour.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509 import ocsp

from cityos.trust.certs import REASONS, CertificateBook, load_pem

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"sha1": hashes.SHA1, "sha256": hashes.SHA256}


def _key_hash(cert: x509.Certificate, algorithm: hashes.HashAlgorithm) -> bytes:
    """Hash of the issuer's public key bits (the BIT STRING of its SubjectPublicKeyInfo)."""
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    from asn1crypto import keys

    bits = keys.PublicKeyInfo.load(spki)["public_key"].contents[1:]  # skip unused-bits octet
    digest = hashes.Hash(algorithm)
    digest.update(bits)
    return digest.finalize()


async def respond(book: CertificateBook, request_der: bytes) -> bytes:
    """The DER OCSPResponse to a DER OCSPRequest."""
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        name = request.hash_algorithm.name
    except (ValueError, TypeError):
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST).public_bytes(serialization.Encoding.DER)
    ca = await book.ca()
    algorithm = _HASHES.get(name)
    if algorithm is None or request.issuer_key_hash != _key_hash(ca.cert, algorithm()):
        return ocsp.OCSPResponseBuilder.build_unsuccessful(
            ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(serialization.Encoding.DER)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    builder = ocsp.OCSPResponseBuilder()
    record: dict[str, Any] | None
    try:
        record = await book.get(format(request.serial_number, "x"))
    except ValueError:
        record = None
    if record is None or record.get("external"):
        builder = builder.add_response_by_hash(
            request.issuer_name_hash, request.issuer_key_hash, request.serial_number,
            algorithm(), ocsp.OCSPCertStatus.UNKNOWN, now, now + dt.timedelta(hours=1),
            None, None)
    else:
        revoked = record["status"] == "revoked"
        builder = builder.add_response(
            load_pem(record["certificate"]), ca.cert, algorithm(),
            ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD,
            now, now + dt.timedelta(hours=1),
            dt.datetime.fromisoformat(record["revokedAt"].replace("Z", "+00:00"))
            if revoked else None,
            REASONS.get(record.get("reason", "")) if revoked else None)
    nonce = next((e.value for e in request.extensions if isinstance(e.value, x509.OCSPNonce)),
                 None)
    if nonce is not None:
        builder = builder.add_extension(nonce, critical=False)
    builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, ca.cert)
    signed = builder.sign(ca.key, None if isinstance(ca.key, ed25519.Ed25519PrivateKey)
                          else hashes.SHA256())
    return signed.public_bytes(serialization.Encoding.DER)
