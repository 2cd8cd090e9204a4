"""Seals over data: a detached JWS with an unencoded payload over the RFC 8785 canonical JSON
of what is written, signed with an organisation's seal key (ES256 or EdDSA).

RFC 7515 (JWS compact form), RFC 7797 (`b64: false`, detached), RFC 8785 (JCS), RFC 7518 §3.4
(ES256 signatures are r‖s, not DER), RFC 9864 (`Ed25519`; the older `EdDSA` is accepted). Hand-written because it is thirty lines over
`cryptography` and the exact bytes matter; joserfc checks it in the tests.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from typing import Any

import orjson
import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

HEADER = "CityOS-Seal"  # the request header that carries a seal


class SealError(ValueError):
    """A seal that is malformed or does not verify; `code` names what failed."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# Where orjson's sorted output may differ from RFC 8785: escapes (\u…), characters outside the
# BMP (UTF-16 key order), integral floats (120.0), exponent floats, integers past 2^53. They are
# looked for anywhere, strings included (a false alarm only costs the slow path), with substring
# searches: a regex over the whole body costs more than orjson itself.
_NON_BMP = re.compile(rb"[\xf0-\xf7]")
_DIGITS = bytes.maketrans(b"123456789", b"000000000")


def _plain(out: bytes) -> bool:
    if b"\\u" in out or b".0," in out or b".0}" in out or b".0]" in out or out.endswith(b".0"):
        return False
    if not out.isascii() and _NON_BMP.search(out):
        return False
    zeros = out.translate(_DIGITS)
    return not (b"0e" in zeros or b"0E" in zeros or b"0000000000000000" in zeros)


def canonical_json(data: Any) -> bytes:
    """RFC 8785 canonical JSON (what a seal signs). orjson with sorted keys writes the same
    bytes for plain data (checked against `rfc8785` by a property test), 10× faster; anything
    else goes through `rfc8785`."""
    try:
        fast = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        fast = b"\\u"  # not plain: let rfc8785 say why
    if _plain(fast):
        return fast
    try:
        return rfc8785.dumps(data)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise SealError("SEAL_PAYLOAD", f"the data has no canonical JSON form: {exc}") from None


def cert_thumbprint(cert: x509.Certificate) -> str:
    """`x5t#S256`: base64url SHA-256 of the certificate's DER (RFC 7515 §4.1.8)."""
    return b64url(hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest())


def _alg(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
         | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey) -> str:
    return "Ed25519" if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey) \
        else "ES256"


def make_seal(payload: bytes, key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey,
              cert: x509.Certificate) -> str:
    """A compact detached JWS (`header..signature`) over `payload` (already canonical)."""
    header = {"alg": _alg(key), "b64": False, "crit": ["b64"], "x5t#S256": cert_thumbprint(cert)}
    protected = b64url(orjson.dumps(header))
    signing_input = protected.encode("ascii") + b"." + payload
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(signing_input)
    else:
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return f"{protected}..{b64url(signature)}"


@dataclass(frozen=True)
class Seal:
    compact: str
    header: dict[str, Any]
    protected: str
    signature: bytes

    @property
    def thumbprint(self) -> str:
        return str(self.header["x5t#S256"])


def parse_seal(compact: str) -> Seal:
    """Parse a compact detached JWS; checks its form, not its signature."""
    parts = compact.strip().split(".")
    if len(parts) != 3 or parts[1] != "":
        raise SealError("SEAL_MALFORMED", "a seal is a detached JWS: header..signature")
    try:
        header = orjson.loads(unb64url(parts[0]))
        signature = unb64url(parts[2])
    except (ValueError, orjson.JSONDecodeError):
        raise SealError("SEAL_MALFORMED", "the seal's header or signature is not base64url "
                        "JSON") from None
    if not isinstance(header, dict) or header.get("alg") not in ("ES256", "Ed25519", "EdDSA"):
        raise SealError("SEAL_MALFORMED", "the seal's alg must be ES256 or Ed25519 (EdDSA)")
    if header.get("b64") is not False or header.get("crit") != ["b64"]:
        raise SealError("SEAL_MALFORMED", 'the seal needs "b64": false and "crit": ["b64"] '
                        "(RFC 7797)")
    if not isinstance(header.get("x5t#S256"), str):
        raise SealError("SEAL_MALFORMED", "the seal names no certificate (x5t#S256)")
    return Seal(compact.strip(), header, parts[0], signature)


def verify_seal(seal: Seal, payload: bytes, cert: x509.Certificate) -> None:
    """Raise `SealError` unless `cert`'s key made `seal` over `payload` (canonical bytes)."""
    if seal.thumbprint != cert_thumbprint(cert):
        raise SealError("SEAL_CERTIFICATE", "the seal names another certificate")
    public = cert.public_key()
    signing_input = seal.protected.encode("ascii") + b"." + payload
    if _alg(public) != {"EdDSA": "Ed25519"}.get(seal.header["alg"], seal.header["alg"]):  # type: ignore[arg-type]
        raise SealError("SEAL_SIGNATURE", "the seal's alg does not fit the certificate's key")
    try:
        if isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(seal.signature, signing_input)
        elif isinstance(public, ec.EllipticCurvePublicKey) and len(seal.signature) == 64:
            der = encode_dss_signature(int.from_bytes(seal.signature[:32], "big"),
                                       int.from_bytes(seal.signature[32:], "big"))
            public.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        else:
            raise InvalidSignature
    except InvalidSignature:
        raise SealError("SEAL_SIGNATURE", "the seal does not verify over this data") from None
