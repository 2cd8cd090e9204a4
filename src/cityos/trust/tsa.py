"""RFC 3161 time-stamping: the built-in TSA, a client of an external TSA, token verification.

RFC 3161 §2.4 (TimeStampReq/Resp, TSTInfo), RFC 5816 (ESSCertIDv2 signing certificate),
RFC 5652 (CMS SignedData). The built-in TSA is for development and small sites: it is NOT an
accredited time-stamp authority (認定タイムスタンプ); production uses `trust.tsa_url`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import httpx
from asn1crypto import cms, core, tsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cityos import egress
from cityos.trust.ca import CertificateAuthority, issued_by

# the policy of the built-in TSA: a UUID OID (ITU-T X.667), no registration needed
POLICY = "2.25.250818151932151410431129427102837370398"
TST_INFO = "1.2.840.113549.1.9.16.1.4"  # id-ct-TSTInfo


class TimeStampError(ValueError):
    """A token that does not verify, or a TSA that did not answer; `code` names which."""

    def __init__(self, message: str, code: str = "TST_MALFORMED") -> None:
        super().__init__(message)
        self.code = code


def make_tsa_certificate(ca: CertificateAuthority, name: str,
                         years: int = 10) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A TSA certificate from the platform CA: key usage digitalSignature, extended key usage
    timeStamping only, critical (RFC 3161 §2.3)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                                     x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                                     x509.NameAttribute(NameOID.COMMON_NAME,
                                                        f"{name} built-in TSA (not accredited)")]))
            .issuer_name(ca.cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(min(now + dt.timedelta(days=365 * years), ca.cert.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]),
                           critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(ca.key, None if isinstance(ca.key, ed25519.Ed25519PrivateKey)
                  else hashes.SHA256()))
    return cert, key


def request_for(data: bytes, nonce: int | None = None) -> bytes:
    """A DER TimeStampReq over SHA-256(data), asking for the TSA's certificate."""
    return tsp.TimeStampReq({
        "version": "v1",
        "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                            "hashed_message": hashlib.sha256(data).digest()},
        "nonce": nonce, "cert_req": True}).dump()


@dataclass(frozen=True)
class BuiltInTsa:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def token(self, digest: bytes, nonce: int | None = None,
              at: dt.datetime | None = None) -> bytes:
        """A DER TimeStampToken (CMS ContentInfo) over a SHA-256 digest."""
        when = (at or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        info = tsp.TSTInfo({
            "version": "v1", "policy": POLICY,
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"},
                                "hashed_message": digest},
            "serial_number": secrets.randbits(63), "gen_time": when,
            "accuracy": {"seconds": 1}, "ordering": False, "nonce": nonce})
        content = info.dump()
        cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        acert = ax509.Certificate.load(cert_der)
        signed_attrs = cms.CMSAttributes([
            {"type": "content_type", "values": [TST_INFO]},
            {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
            {"type": "signing_certificate_v2", "values": [{"certs": [{
                "hash_algorithm": {"algorithm": "sha256"},
                "cert_hash": hashlib.sha256(cert_der).digest(),
                "issuer_serial": {"issuer": [ax509.GeneralName({"directory_name": acert.issuer})],
                                  "serial_number": acert.serial_number}}]}]},
        ])
        signature = self.key.sign(signed_attrs.dump(), ec.ECDSA(hashes.SHA256()))
        signed = cms.SignedData({
            "version": "v3",
            "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": TST_INFO,
                                   "content": core.ParsableOctetString(content)},
            "certificates": [acert],
            "signer_infos": [{
                "version": "v1",
                "sid": {"issuer_and_serial_number": {"issuer": acert.issuer,
                                                     "serial_number": acert.serial_number}},
                "digest_algorithm": {"algorithm": "sha256"},
                "signed_attrs": signed_attrs,
                "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                "signature": signature}]})
        return cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump()

    def respond(self, request_der: bytes) -> bytes:
        """A DER TimeStampResp to a DER TimeStampReq (SHA-256 imprints only)."""
        try:
            req = tsp.TimeStampReq.load(request_der)
            imprint = req["message_imprint"]
            if imprint["hash_algorithm"]["algorithm"].native != "sha256" or \
                    len(imprint["hashed_message"].native) != 32:
                return _rejection("bad_alg")
            token = self.token(imprint["hashed_message"].native, req["nonce"].native)
        except (ValueError, TypeError, KeyError):
            return _rejection("bad_request")
        return tsp.TimeStampResp({"status": {"status": "granted"},
                                  "time_stamp_token": cms.ContentInfo.load(token)}).dump()


def _rejection(reason: str) -> bytes:
    return tsp.TimeStampResp({"status": {"status": "rejection",
                                         "fail_info": tsp.PKIFailureInfo({reason})}}).dump()


def token_from_response(response_der: bytes, data: bytes, nonce: int | None) -> bytes:
    """The token of a TSA's answer, checked to be granted and about `data` with our nonce."""
    try:
        resp = tsp.TimeStampResp.load(response_der)
        status = resp["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            raise TimeStampError(f"the TSA refused: {status}", "TSA_REFUSED")
        token = resp["time_stamp_token"].dump()
    except (ValueError, TypeError, KeyError) as exc:
        raise TimeStampError(f"the TSA's answer is not a TimeStampResp: {exc}") from None
    info = token_info(token)
    if info.nonce != nonce:
        raise TimeStampError("the TSA answered another request (nonce)", "TSA_WRONG_ANSWER")
    if info.digest != hashlib.sha256(data).digest():
        raise TimeStampError("the TSA stamped other data", "TSA_WRONG_ANSWER")
    return token


async def stamp_external(url: str, data: bytes, timeout: float = 10.0) -> bytes:
    """Ask an external RFC 3161 TSA (HTTP POST, RFC 3161 §3.4) to stamp `data`."""
    nonce = secrets.randbits(63)
    try:  # the TSA's address passes the egress policy (cityos.egress) like every outbound call
        egress.policy().target(url, ("http", "https"))
        async with egress.client(timeout=timeout) as client:
            answer = await client.post(url, content=request_for(data, nonce),
                                       headers={"Content-Type": "application/timestamp-query"})
    except egress.EgressRefused as exc:
        raise TimeStampError(f"the TSA at {url} is refused: {exc}", "TSA_UNREACHABLE") from None
    except httpx.HTTPError as exc:
        raise TimeStampError(f"the TSA at {url} is unreachable: {type(exc).__name__}",
                             "TSA_UNREACHABLE") from None
    if answer.status_code != 200:
        raise TimeStampError(f"the TSA at {url} answered HTTP {answer.status_code}", "TSA_UNREACHABLE")
    return token_from_response(answer.content, data, nonce)


@dataclass(frozen=True)
class TokenInfo:
    digest: bytes
    gen_time: dt.datetime
    nonce: int | None
    serial: int
    policy: str
    certificates: list[x509.Certificate]


def token_info(token: bytes) -> TokenInfo:
    try:
        info = cms.ContentInfo.load(token)
        signed = info["content"]
        tst = signed["encap_content_info"]["content"].parsed
        imprint = tst["message_imprint"]
        if imprint["hash_algorithm"]["algorithm"].native != "sha256":
            raise TimeStampError("the token's imprint is not SHA-256")
        certs = [x509.load_der_x509_certificate(c.chosen.dump())
                 for c in signed["certificates"]] if signed["certificates"].native else []
        return TokenInfo(imprint["hashed_message"].native, tst["gen_time"].native,
                         tst["nonce"].native, tst["serial_number"].native,
                         tst["policy"].dotted, certs)
    except TimeStampError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise TimeStampError(f"not an RFC 3161 time-stamp token: {exc}") from None


def verify_token(token: bytes, data: bytes, anchors: list[x509.Certificate]) -> TokenInfo:
    """Check a token: its imprint is SHA-256(data), its signature verifies with a TSA
    certificate for time-stamping that one of `anchors` issued (or is). Raises TimeStampError."""
    info = token_info(token)
    if info.digest != hashlib.sha256(data).digest():
        raise TimeStampError("the time-stamp token is over other data", "TST_OTHER_DATA")
    try:
        signed = cms.ContentInfo.load(token)["content"]
        [signer] = list(signed["signer_infos"])
        attrs = signer["signed_attrs"]
        content = signed["encap_content_info"]["content"].contents
        digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
        if digests != [hashlib.sha256(content).digest()]:
            raise TimeStampError("the token's signed digest does not match its content",
                                 "TST_SIGNATURE")
        tsa = next((c for c in info.certificates
                    if c.serial_number == signer["sid"].chosen["serial_number"].native), None)
        if tsa is None:
            raise TimeStampError("the token carries no TSA certificate", "TST_UNTRUSTED_TSA")
        public = tsa.public_key()
        # signed attributes are signed as a SET OF (RFC 5652 §5.4), not with their [0] tag
        to_verify = b"\x31" + attrs.dump()[1:]
        raw = signer["signature"].native
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(raw, to_verify, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(raw, to_verify)
        else:
            raise TimeStampError("unsupported TSA key")
    except TimeStampError:
        raise
    except InvalidSignature:
        raise TimeStampError("the time-stamp token's signature does not verify",
                             "TST_SIGNATURE") from None
    except (ValueError, TypeError, KeyError) as exc:
        raise TimeStampError(f"the time-stamp token is malformed: {exc}") from None
    try:
        eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        eku = None
    if eku is None or list(eku) != [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]:
        raise TimeStampError("the signer is not a time-stamping certificate",
                             "TST_UNTRUSTED_TSA")
    fingerprints = {a.fingerprint(hashes.SHA256()) for a in anchors}
    if tsa.fingerprint(hashes.SHA256()) not in fingerprints and \
            not any(issued_by(tsa, a) for a in anchors):
        raise TimeStampError("the TSA certificate is not from a trusted CA", "TST_UNTRUSTED_TSA")
    if not tsa.not_valid_before_utc <= info.gen_time <= tsa.not_valid_after_utc:
        raise TimeStampError("the token was made outside its TSA certificate's validity",
                             "TST_UNTRUSTED_TSA")
    return info

