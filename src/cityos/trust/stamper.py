"""Who stamps the tree heads — the built-in TSA or an external one — and the fail-closed rule:
a TSA unreachable longer than `trust.tsa_max_outage_seconds` stops writes and raises an alert.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cityos.access.monitor import Monitor
from cityos.keystore import KeyStore, key_name
from cityos.settings import TrustSettings
from cityos.trust.certs import CertificateBook
from cityos.trust.tsa import BuiltInTsa, TimeStampError, make_tsa_certificate, stamp_external

log = logging.getLogger("cityos.trust")
ALERT = "tsa-unreachable"
TSA_KIND = "tsa"  # the key store's kind of the built-in TSA's keys


def _tsa_doc(cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    return {"cert": cert.public_bytes(serialization.Encoding.PEM).decode(),
            "key": key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode(),
            "created": time.time()}


async def built_in_tsa(keys: KeyStore, certs: CertificateBook, name: str) -> BuiltInTsa:
    """The built-in TSA's key and certificate (from the platform CA): the newest in the key
    store (`keys/tsa/`), made on first use."""
    signing = [doc for _, doc in keys.list(TSA_KIND) if "key" in doc]
    if signing:
        doc = signing[-1]
    else:  # the first process to add it wins; the others use the winner's
        doc = keys.add(TSA_KIND, "first", _tsa_doc(*make_tsa_certificate(await certs.ca(), name)))
    loaded = serialization.load_pem_private_key(doc["key"].encode(), password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    return BuiltInTsa(x509.load_pem_x509_certificate(doc["cert"].encode()), loaded)


async def rotate_tsa(keys: KeyStore, certs: CertificateBook, name: str) -> BuiltInTsa:
    """A new key and certificate (from the current CA) stamp from now on; the old key is
    deleted (the tokens it made carry its certificate, which stays valid until it expires)."""
    older = keys.list(TSA_KIND)
    doc = _tsa_doc(*make_tsa_certificate(await certs.ca(), name))
    keys.put(TSA_KIND, key_name(doc["created"]), doc)
    for old_name, old in older:
        if "key" in old:
            keys.put(TSA_KIND, old_name, {k: v for k, v in old.items() if k != "key"})
    return await built_in_tsa(keys, certs, name)


class Stamper:
    def __init__(self, settings: TrustSettings, tsa: BuiltInTsa, alerts: Monitor) -> None:
        self.settings = settings
        self.tsa = tsa
        self.alerts = alerts
        self.failing_since: float | None = None  # first failure of the current outage
        self.last_error = ""
        self._alerted = False  # this outage's alert was raised

    @property
    def external(self) -> bool:
        return bool(self.settings.tsa_url)

    def writes_allowed(self, now: float | None = None) -> bool:
        """False once the TSA has been failing longer than the allowed outage (fail closed)."""
        if self.failing_since is None:
            return True
        now = time.time() if now is None else now
        return now - self.failing_since <= self.settings.tsa_max_outage_seconds

    async def stamp(self, data: bytes) -> bytes | None:
        """An RFC 3161 token over `data`, or None when the TSA failed (recorded, alerted)."""
        try:
            if self.external:
                token = await stamp_external(self.settings.tsa_url, data)
            else:
                token = self.tsa.token(hashlib.sha256(data).digest())
        except TimeStampError as exc:
            now = time.time()
            self.last_error = str(exc)
            if self.failing_since is None:
                self.failing_since = now
            log.warning("time-stamping failed: %s", exc)
            await self.check(now)
            return None
        if self.failing_since is not None:
            log.warning("time-stamping works again after %.0f s", time.time() - self.failing_since)
        self.failing_since = None
        self.last_error = ""
        self._alerted = False
        return token

    async def check(self, now: float | None = None) -> bool:
        """Whether writes may go on; the first refusal of an outage raises the alert."""
        if self.writes_allowed(now):
            return True
        if not self._alerted:
            self._alerted = True
            await self.alerts.alert(ALERT, self.settings.tsa_url or "built-in",
                                    error=self.last_error[:300], since=self.failing_since,
                                    action="writes refused / 書き込み停止中")
        return False
