"""The platform CA and organisation seal certificates (企業実在性証明), as X.509.

RFC 5280 profiles; the organisation is named by `organizationIdentifier` (2.5.4.97) =
`NTRJP-` + its 13-digit corporate number (法人番号), the ETSI EN 319 412-1 §5.1.4 form that
Japanese e-seal certificates use. Blocking (key generation, signing): cheap enough inline.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from cityos.access.corporate import InvalidCorporateNumber, validate_corporate_number

PREFIX = "NTRJP-"
CA_YEARS = 20
SealKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
SealPublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class CertificateError(ValueError):
    """A certificate, CSR or key that cannot be used, with the reason."""


def org_identifier(corporate_number: str) -> str:
    """`NTRJP-` + the corporate number, whose check digit is validated."""
    return PREFIX + validate_corporate_number(corporate_number)


def corporate_number_of(cert: x509.Certificate) -> str:
    """The validated corporate number a certificate names (its organizationIdentifier)."""
    values = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    if len(values) != 1 or not str(values[0].value).startswith(PREFIX):
        raise CertificateError("the certificate names no organizationIdentifier NTRJP-…")
    try:
        return validate_corporate_number(str(values[0].value)[len(PREFIX):])
    except InvalidCorporateNumber as exc:
        raise CertificateError(f"organizationIdentifier: {exc}") from None


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _sha256_for(key: SealKey) -> hashes.SHA256 | None:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


@dataclass(frozen=True)
class CertificateAuthority:
    cert: x509.Certificate
    key: SealKey

    @classmethod
    def create(cls, name: str, now: dt.datetime | None = None) -> CertificateAuthority:
        """A new self-signed platform root (ECDSA P-256) for `name` (the municipality)."""
        start = now or _now()
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                             x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Platform CA")])
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(start - dt.timedelta(minutes=5))
                .not_valid_after(start + dt.timedelta(days=365 * CA_YEARS))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                             False, False), critical=True)
                .add_extension(ski, critical=False)
                .sign(key, hashes.SHA256()))
        return cls(cert, key)

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        """A CA from PEM files (e.g. the municipality's own): it must be a CA and match its key."""
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
            key = serialization.load_pem_private_key(key_pem, password=None)
        except ValueError as exc:
            raise CertificateError(f"not a PEM certificate and key: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey):
            raise CertificateError("the CA key must be ECDSA or Ed25519")
        pub = serialization.PublicFormat.SubjectPublicKeyInfo
        if (key.public_key().public_bytes(serialization.Encoding.DER, pub)
                != cert.public_key().public_bytes(serialization.Encoding.DER, pub)):
            raise CertificateError("the key does not belong to the certificate")
        try:
            if not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
                raise CertificateError("the certificate is not a CA certificate")
        except x509.ExtensionNotFound:
            raise CertificateError("the certificate is not a CA certificate") from None
        return cls(cert, key)

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())

    def issue_seal(self, *, org_name: str, corporate_number: str, public_key: SealPublicKey,
                   days: int, crl_url: str, now: dt.datetime | None = None) -> x509.Certificate:
        """An organisation seal certificate: digitalSignature + nonRepudiation for the key."""
        if not isinstance(public_key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
            raise CertificateError("a seal key must be ECDSA (ES256) or Ed25519 (EdDSA)")
        if isinstance(public_key, ec.EllipticCurvePublicKey) and \
                not isinstance(public_key.curve, ec.SECP256R1):
            raise CertificateError("an ECDSA seal key must be on P-256 (ES256)")
        if not 1 <= days <= 825:
            raise CertificateError("a seal certificate lives 1 to 825 days")
        start = now or _now()
        subject = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
            x509.NameAttribute(NameOID.ORGANIZATION_IDENTIFIER, org_identifier(corporate_number)),
            x509.NameAttribute(NameOID.COMMON_NAME, org_name)])
        ca_ski = x509.SubjectKeyIdentifier.from_public_key(self.cert.public_key())  # type: ignore[arg-type]
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(self.cert.subject)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(start - dt.timedelta(minutes=5))
                   .not_valid_after(min(start + dt.timedelta(days=days),
                                        self.cert.not_valid_after_utc))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(True, True, False, False, False, False, False,
                                                False, False), critical=True)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                                  critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                       ca_ski), critical=False))
        if crl_url:
            builder = builder.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), critical=False)
        return builder.sign(self.key, _sha256_for(self.key))

    def crl(self, revoked: list[tuple[int, dt.datetime, x509.ReasonFlags]],
            now: dt.datetime | None = None, hours: int = 24) -> x509.CertificateRevocationList:
        """A CRL naming every revoked certificate, valid `hours` (RFC 5280 §5)."""
        start = now or _now()
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(start).next_update(start + dt.timedelta(hours=hours)))
        for serial, when, reason in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
                .add_extension(x509.CRLReason(reason), critical=False).build())
        return builder.sign(self.key, _sha256_for(self.key))


def load_csr(pem: bytes) -> x509.CertificateSigningRequest:
    """A CSR whose self-signature verifies (the organisation holds the key)."""
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        raise CertificateError(f"not a PEM certificate signing request: {exc}") from None
    if not csr.is_signature_valid:
        raise CertificateError("the CSR's signature does not verify")
    return csr


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
