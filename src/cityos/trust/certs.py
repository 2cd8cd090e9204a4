"""The register of organisation seal certificates: issue (CSR or platform-made key, PKCS#12
once), renew, revoke, register externally issued ones, publish the CRL.

RFC 5280 (certificates, CRLs), RFC 7292 (PKCS#12). The CA's key and certificate live in the
data directory's key store (`keys/ca/`: the newest signs; a rotated CA keeps its certificate
there, without its key, to verify what it issued); the store's kv spaces hold `trust.certs`
(one per certificate) and `trust.anchors`.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12

from cityos.keystore import KeyStore, key_name
from cityos.storage.base import Store
from cityos.trust.ca import (
    CertificateAuthority,
    CertificateError,
    corporate_number_of,
    issued_by,
    load_csr,
)

CA_KIND = "ca"  # the key store's kind of the platform CA
CERTS = "trust.certs"
ANCHORS = "trust.anchors"  # CAs whose e-seal certificates may be registered (accredited CAs)
_SHA256 = hashes.SHA256()
REASONS = {r.value: r for r in x509.ReasonFlags
           if r not in (x509.ReasonFlags.unspecified, x509.ReasonFlags.remove_from_crl)}


@dataclass(frozen=True)
class Issued:
    record: dict[str, Any]
    certificate: x509.Certificate
    pkcs12: bytes | None = None  # only when the platform made the key: shown once
    password: str | None = None


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def load_pem(text: str | bytes) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(text.encode() if isinstance(text, str) else text)
    except ValueError as exc:
        raise CertificateError(f"not a PEM certificate: {exc}") from None


def _ca_doc(ca: CertificateAuthority, imported: bool) -> dict[str, Any]:
    return {"cert": ca.pem().decode(), "key": ca.key_pem().decode(), "imported": imported,
            "created": time.time()}


def _when(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


class CertificateBook:
    def __init__(self, store: Store, keys: KeyStore, crl_url: str = "") -> None:
        self.store = store
        self.keys = keys
        self.crl_url = crl_url
        self._ca: tuple[str, CertificateAuthority] | None = None  # with its key store name

    # the platform CA ---------------------------------------------------------------------
    def _current(self) -> tuple[str, dict[str, Any]] | None:
        signing = [(name, doc) for name, doc in self.keys.list(CA_KIND) if "key" in doc]
        return signing[-1] if signing else None

    async def ca(self) -> CertificateAuthority:
        """The CA that issues now (the key store is read each time: another process, or
        `cityos keys rotate ca`, may have rotated it)."""
        current = self._current()
        if current is None:
            raise CertificateError("the platform has no CA yet: run `cityos init` "
                                   "/ 認証局がありません")
        name, doc = current
        if self._ca is None or self._ca[0] != name:
            self._ca = (name, CertificateAuthority.from_pem(doc["cert"].encode(),
                                                            doc["key"].encode()))
        return self._ca[1]

    def ca_certificates(self) -> list[x509.Certificate]:
        """Every CA certificate of the platform, the current one first: the anchors that
        what the platform issued (before rotations too) verifies against."""
        return [load_pem(doc["cert"]) for _, doc in reversed(self.keys.list(CA_KIND))]

    async def ensure_ca(self, name: str) -> tuple[CertificateAuthority, bool]:
        """The platform CA, created for `name` if there is none (True when created)."""
        if self._current() is not None:
            return await self.ca(), False
        made = CertificateAuthority.create(name)
        kept = self.keys.add(CA_KIND, "first", _ca_doc(made, imported=False))
        return await self.ca(), kept["cert"] == made.pem().decode()

    async def rotate_ca(self, name: str) -> CertificateAuthority:
        """A new platform CA for `name` issues from now on; the old one's certificate stays
        (its key is deleted) so that certificates it issued verify until they expire."""
        await self.ca()  # there is one to rotate
        await self._keep_ca(CertificateAuthority.create(name), imported=False)
        return await self.ca()

    async def import_ca(self, cert_pem: bytes, key_pem: bytes) -> CertificateAuthority:
        """Use the municipality's own CA instead (only before any certificate was issued)."""
        ca = CertificateAuthority.from_pem(cert_pem, key_pem)
        if any(not doc.get("external") for _, doc in await self.store.kv_list(CERTS)):
            raise CertificateError("certificates were issued by the current CA already; "
                                   "a CA cannot be replaced under them")
        await self._keep_ca(ca, imported=True)
        return ca

    async def _keep_ca(self, ca: CertificateAuthority, imported: bool) -> None:
        doc = _ca_doc(ca, imported)
        older = self.keys.list(CA_KIND)
        self.keys.put(CA_KIND, key_name(doc["created"]), doc)
        for name, old in older:  # public from now on: the certificate verifies, nothing signs
            if "key" in old:
                self.keys.put(CA_KIND, name, {k: v for k, v in old.items() if k != "key"})

    # issuing ---------------------------------------------------------------------------
    async def issue(self, org: dict[str, Any], csr_pem: bytes | None = None,
                    days: int = 365, renews: str | None = None) -> Issued:
        """A seal certificate for `org` (an organisation account): for the key of its CSR, or
        for a key the platform makes and hands over once as PKCS#12. The subject is always the
        registered name and corporate number, whatever the CSR asks for."""
        ca = await self.ca()
        key = None
        if csr_pem is not None:
            public = load_csr(csr_pem).public_key()
        else:
            key = ec.generate_private_key(ec.SECP256R1())
            public = key.public_key()
        cert = ca.issue_seal(org_name=org["name"], corporate_number=org["corporate_number"],
                             public_key=public, days=days, crl_url=self.crl_url)  # type: ignore[arg-type]
        record = await self._record(cert, org["name"], external=False, renews=renews)
        if key is None:
            return Issued(record, cert)
        password = secrets.token_urlsafe(18)
        p12 = pkcs12.serialize_key_and_certificates(
            org["name"].encode(), key, cert, [ca.cert],
            serialization.BestAvailableEncryption(password.encode()))
        return Issued(record, cert, p12, password)

    async def renew(self, serial: str, csr_pem: bytes | None, org: dict[str, Any],
                    days: int = 365) -> Issued:
        """A new certificate for the same organisation; the old one stays valid until it
        expires (revoke it with reason `superseded` to end it now)."""
        old = await self.get(serial)
        if old["org"] != org["name"]:
            raise CertificateError(f"certificate {serial} belongs to another organisation")
        return await self.issue(org, csr_pem, days, renews=serial)

    async def register_external(self, org: dict[str, Any], cert_pem: str,
                                chain_pems: list[str]) -> dict[str, Any]:
        """Register an e-seal certificate from an accredited CA: its chain must end at an anchor
        the platform trusts and it must name the organisation's corporate number."""
        cert = load_pem(cert_pem)
        chain = [load_pem(p) for p in chain_pems]
        if corporate_number_of(cert) != org["corporate_number"]:
            raise CertificateError("the certificate names another corporate number than the "
                                   "organisation's / 法人番号が一致しません")
        anchors = {doc["fingerprint"]: load_pem(doc["pem"]) for _, doc in
                   await self.store.kv_list(ANCHORS)}
        current = cert
        for issuer in [*chain, None]:
            fingerprint = current.fingerprint(_SHA256).hex()
            if fingerprint in anchors and current is not cert:
                break
            if issuer is None:
                raise CertificateError("the chain does not end at a trusted CA "
                                       "(add it with `cityos trust anchor add`)")
            if not issued_by(current, issuer):
                raise CertificateError(f"{current.subject.rfc4514_string()} is not signed by "
                                       f"{issuer.subject.rfc4514_string()}")
            current = issuer
        self._check_dates(cert)
        return await self._record(cert, org["name"], external=True,
                                  chain=[_pem(c) for c in chain])

    async def add_anchor(self, pem: str) -> dict[str, Any]:
        cert = load_pem(pem)
        doc = {"fingerprint": cert.fingerprint(_SHA256).hex(), "pem": _pem(cert),
               "subject": cert.subject.rfc4514_string()}
        await self.store.kv_put(ANCHORS, doc["fingerprint"], doc)
        return doc

    def _check_dates(self, cert: x509.Certificate) -> None:
        now = dt.datetime.now(dt.UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise CertificateError("the certificate is expired or not yet valid "
                                   "/ 有効期間外の証明書です")

    async def _record(self, cert: x509.Certificate, org: str, *, external: bool,
                      renews: str | None = None, chain: list[str] | None = None) -> dict[str, Any]:
        record: dict[str, Any] = {"serial": format(cert.serial_number, "x"), "org": org,
                  "corporateNumber": corporate_number_of(cert),
                  "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
                  "notBefore": _when(cert.not_valid_before_utc),
                  "notAfter": _when(cert.not_valid_after_utc),
                  "status": "valid", "external": external, "certificate": _pem(cert),
                  "chain": chain if chain is not None else [_pem((await self.ca()).cert)]}
        if renews:
            record["renews"] = renews
        await self.store.kv_put(CERTS, record["serial"], record)
        return record

    # status ----------------------------------------------------------------------------
    async def get(self, serial: str) -> dict[str, Any]:
        doc = await self.store.kv_get(CERTS, serial.lower())
        if doc is None:
            raise CertificateError(f"no certificate {serial[:40]} / 証明書がありません")
        return dict(doc)

    async def list(self, org: str | None = None) -> list[dict[str, Any]]:
        docs = [doc for _, doc in await self.store.kv_list(CERTS)]
        return [d for d in docs if org is None or d["org"] == org]

    async def revoke(self, serial: str, reason: str = "unspecified") -> dict[str, Any]:
        doc = await self.get(serial)
        if doc["status"] == "revoked":
            return doc
        if reason != "unspecified" and reason not in REASONS:
            raise CertificateError(f"unknown reason {reason[:40]!r}: one of {sorted(REASONS)}")
        doc.update(status="revoked", revokedAt=_when(dt.datetime.now(dt.UTC)), reason=reason)
        await self.store.kv_put(CERTS, doc["serial"], doc)
        return doc

    async def crl(self) -> x509.CertificateRevocationList:
        ca = await self.ca()
        revoked = []
        for doc in await self.list():
            if doc["status"] == "revoked" and not doc["external"]:
                when = dt.datetime.fromisoformat(doc["revokedAt"].replace("Z", "+00:00"))
                reason = REASONS.get(doc.get("reason", ""), x509.ReasonFlags.unspecified)
                revoked.append((int(doc["serial"], 16), when, reason))
        return ca.crl(revoked)
