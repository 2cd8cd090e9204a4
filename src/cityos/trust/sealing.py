"""Checking organisation seals on writes: which writes need one (the seal policy), which
certificate a seal names, whether it was valid (not revoked, not expired) when it was used.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509

from cityos.storage.base import Store
from cityos.trust.certs import CertificateBook, load_pem
from cityos.trust.seal import (
    Seal,
    SealError,
    canonical_json,
    cert_thumbprint,
    parse_seal,
    verify_seal,
)

POLICY = ("trust.policy", "seals")  # kv: {"orgs": [names], "types": [entity types]}
_REFRESH = 2.0  # seconds: a revocation or policy change takes effect within this time


@dataclass(frozen=True)
class SealPolicy:
    orgs: frozenset[str] = frozenset()
    types: frozenset[str] = frozenset()

    def requires(self, org: str, types: list[str]) -> bool:
        if org in self.orgs:
            return True
        return any(t == p or t.endswith(("/" + p, "#" + p, ":" + p))
                   for t in types for p in self.types)

    def to_json(self) -> dict[str, list[str]]:
        return {"orgs": sorted(self.orgs), "types": sorted(self.types)}


@dataclass(frozen=True)
class CheckedSeal:
    seal: Seal
    serial: str
    payload: bytes  # the canonical JSON the seal signs


@dataclass
class SealChecker:
    store: Store
    certs: CertificateBook
    _policy: SealPolicy = field(default_factory=SealPolicy)
    _by_thumbprint: dict[str, tuple[dict[str, Any], x509.Certificate]] = field(default_factory=dict)
    _loaded: float = -1e9

    async def _refresh(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._loaded < _REFRESH:
            return
        doc = await self.store.kv_get(*POLICY) or {}
        self._policy = SealPolicy(frozenset(doc.get("orgs", ())), frozenset(doc.get("types", ())))
        table = {}
        for record in await self.certs.list():
            cert = load_pem(record["certificate"])
            table[cert_thumbprint(cert)] = (record, cert)
        self._by_thumbprint = table
        self._loaded = now

    def invalidate(self) -> None:
        """Read policy and certificates again on next use (after a change in this process)."""
        self._loaded = -1e9

    async def policy(self) -> SealPolicy:
        await self._refresh()
        return self._policy

    async def set_policy(self, policy: SealPolicy) -> None:
        await self.store.kv_put(*POLICY, policy.to_json())
        await self._refresh(force=True)

    async def check(self, org: str | None, header: str | None, data: Any,
                    types: list[str]) -> CheckedSeal | None:
        """The verified seal of a write (None when there is none and none is required);
        `data` is the parsed body (None when it is not JSON)."""
        await self._refresh()
        if header is None:
            if org is not None and self._policy.requires(org, types):
                raise SealError("SEAL_REQUIRED", f"{org} must seal writes of these entities "
                                "/ この書き込みにはeシールが必要です")
            return None
        if org is None:
            raise SealError("SEAL_NOT_AN_ORGANISATION", "only organisations seal what they write")
        seal = parse_seal(header)
        found = self._by_thumbprint.get(seal.thumbprint)
        if found is None:  # a certificate issued a moment ago
            await self._refresh(force=True)
            found = self._by_thumbprint.get(seal.thumbprint)
        if found is None:
            raise SealError("SEAL_UNKNOWN_CERTIFICATE", "the seal names a certificate the "
                            "platform does not know / 未登録の証明書です")
        record, cert = found
        if record["org"] != org:
            raise SealError("SEAL_OTHER_ORGANISATION", "the seal's certificate belongs to "
                            "another organisation / 他組織の証明書です")
        status = certificate_status(record, cert, dt.datetime.now(dt.UTC))
        if status != "valid":
            raise SealError(f"SEAL_CERTIFICATE_{status.upper().replace('-', '_')}",
                            f"the seal's certificate is {status} / 証明書が無効です ({status})")
        if data is None:
            raise SealError("SEAL_PAYLOAD", "a sealed body must be JSON")
        payload = canonical_json(data)
        verify_seal(seal, payload, cert)
        return CheckedSeal(seal, record["serial"], payload)


def certificate_status(record: dict[str, Any], cert: x509.Certificate, at: dt.datetime) -> str:
    """`valid`, `revoked` (at or before `at`), `expired` or `not-yet-valid`."""
    if record.get("status") == "revoked" and \
            dt.datetime.fromisoformat(record["revokedAt"].replace("Z", "+00:00")) <= at:
        return "revoked"
    if at > cert.not_valid_after_utc:
        return "expired"
    if at < cert.not_valid_before_utc:
        return "not-yet-valid"
    return "valid"
