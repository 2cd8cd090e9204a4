"""Hashing of passwords and client secrets with Argon2id (argon2-cffi's recommended parameters).

RFC 9106 Argon2; only hashes are stored, never the secrets themselves. Blocking (~50 ms).
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# verified when an account is unknown, so that timing does not reveal which names exist
_DUMMY = _hasher.hash("cityos-dummy-" + secrets.token_hex(8))


def hash_secret(secret: str) -> str:
    """Argon2id hash of `secret`. Blocking: run it in a thread from async code."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, secret: str) -> bool:
    """True when `secret` matches `stored_hash`; spends the same time when there is no hash."""
    try:
        return _hasher.verify(stored_hash or _DUMMY, secret) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_secret(prefix: str) -> str:
    """A fresh random secret (256 bits) with a readable prefix, e.g. `cs_…` for client secrets."""
    return prefix + secrets.token_urlsafe(32)
