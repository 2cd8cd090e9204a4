"""Advisory-lock keys: 64-bit numbers named by text, the same in every process."""

from __future__ import annotations

import hashlib


def lock_key(name: str) -> int:
    """A signed 64-bit key for `pg_advisory_xact_lock` (collisions only serialise more)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big",
                          signed=True)


def entity_key(tenant: str, entity_id: str) -> int:
    return lock_key(f"e\0{tenant}\0{entity_id}")
