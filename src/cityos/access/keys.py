"""Signing keys of access tokens: Ed25519, rotated on a schedule, published as a JWK Set.

RFC 8037 (OKP/Ed25519 JWKs), RFC 7517 §5 (JWK Set). Keys live in the key store of the data
directory (`keys/tokens/`, never in the database), which every `cityos` process behind a load
balancer shares: a key another process made (`cityos keys rotate tokens`, `cityos token`) is
read when a token names it, and the ring is re-read every few seconds to sign with it.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import time
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from cityos.keystore import KeyStore, key_name

KIND = "tokens"  # the key store's kind of token signing keys
_RELOAD_EVERY = 1.0  # seconds between reloads caused by an unknown key id
_KID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # what a token's kid may name
_RESCAN_EVERY = 5.0  # seconds between reloads before signing (another process rotated)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private: Ed25519PrivateKey
    created: float

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    def public_jwk(self) -> dict[str, str]:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw), "kid": self.kid,
                "use": "sig", "alg": "EdDSA"}

    def to_doc(self) -> dict[str, Any]:
        pem = self.private.private_bytes(serialization.Encoding.PEM,
                                         serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        return {"kid": self.kid, "created": self.created, "pem": pem.decode("ascii")}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> SigningKey:
        key = serialization.load_pem_private_key(doc["pem"].encode("ascii"), password=None)
        assert isinstance(key, Ed25519PrivateKey)
        return cls(doc["kid"], key, float(doc["created"]))

    @classmethod
    def generate(cls, now: float | None = None) -> SigningKey:
        created = time.time() if now is None else now
        return cls(key_name(created), Ed25519PrivateKey.generate(), created)


class KeyRing:
    """The current signing key and the older ones still needed to verify live tokens."""

    def __init__(self, keys: KeyStore, rotation_seconds: float, token_ttl: float) -> None:
        self.keys = keys
        self.rotation_seconds = rotation_seconds
        self.token_ttl = token_ttl
        self._keys: dict[str, SigningKey] = {}
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        self._keys = {k: SigningKey.from_doc(doc) for k, doc in self.keys.list(KIND)}
        self._loaded_at = time.monotonic()

    @property
    def newest(self) -> SigningKey | None:
        return max(self._keys.values(), key=lambda k: k.created, default=None)

    async def signing_key(self, now: float | None = None) -> SigningKey:
        """The key to sign with, rotating first when the newest one is due."""
        now = time.time() if now is None else now
        if time.monotonic() - self._loaded_at > _RESCAN_EVERY:
            await self.load()  # a key another process (or `cityos keys rotate`) made
        newest = self.newest
        if newest is not None and now - newest.created < self.rotation_seconds:
            return newest
        async with self._lock:
            await self.load()  # another process may have rotated already
            newest = self.newest
            if newest is None or now - newest.created >= self.rotation_seconds:
                newest = await self.rotate(now)
            return newest

    async def rotate(self, now: float | None = None) -> SigningKey:
        """Add a new signing key and retire keys whose tokens have all expired."""
        key = SigningKey.generate(now)
        self.keys.put(KIND, key.kid, key.to_doc())
        self._keys[key.kid] = key
        await self._retire(key.created)
        return key

    async def _retire(self, now: float) -> None:
        ordered = sorted(self._keys.values(), key=lambda k: k.created)
        for older, newer in itertools.pairwise(ordered):
            if now - newer.created > self.token_ttl + 60:  # every token `older` signed expired
                self.keys.delete(KIND, older.kid)
                del self._keys[older.kid]

    async def public_key(self, kid: str) -> Ed25519PublicKey | None:
        key = self._keys.get(kid)
        if key is None:  # a key made by another process (`cityos token`) since we loaded:
            doc = self.keys.get(KIND, kid) if _KID.fullmatch(kid) else None  # one file read
            if doc is not None:
                key = self._keys[kid] = SigningKey.from_doc(doc)
            elif time.monotonic() - self._loaded_at > _RELOAD_EVERY:
                await self.load()  # and now and then the whole ring (retired keys go)
                key = self._keys.get(kid)
        return None if key is None else key.public

    def jwks(self) -> dict[str, Any]:
        ordered = sorted(self._keys.values(), key=lambda k: -k.created)
        return {"keys": [k.public_jwk() for k in ordered]}
