"""Short-lived documents (passkey ceremonies, OIDC sign-in states) abandoned half-way are
swept from the store now and then, so that they do not pile up."""

from __future__ import annotations

import time

from cityos.storage.base import Store

SWEEP_SECONDS = 600.0
_last: dict[str, float] = {}


async def sweep(store: Store, space: str) -> int:
    """Delete the documents of `space` whose `expires` has passed (at most every ten minutes
    per process and space); returns how many were deleted."""
    now = time.monotonic()
    if now - _last.get(space, float("-inf")) < SWEEP_SECONDS:
        return 0
    _last[space] = now
    wall = time.time()
    gone = 0
    for key, doc in await store.kv_list(space):
        if isinstance(doc, dict) and float(doc.get("expires", 0)) < wall:
            gone += await store.kv_delete(space, key)
    return gone
