"""Abandoned passkey ceremonies and OIDC sign-in states are swept from the store."""

from __future__ import annotations

import time

from cityos.access._expiring import sweep

from .secured import Platform


def test_expired_documents_are_swept(platform: Platform) -> None:
    async def scenario(access):  # type: ignore[no-untyped-def]
        store = access.store
        await store.kv_put("test.expiring", "old", {"expires": time.time() - 1})
        await store.kv_put("test.expiring", "live", {"expires": time.time() + 300})
        first = await sweep(store, "test.expiring")
        await store.kv_put("test.expiring", "old2", {"expires": time.time() - 1})
        second = await sweep(store, "test.expiring")  # not again within ten minutes
        return first, second, [k for k, _ in await store.kv_list("test.expiring")]

    first, second, left = platform.access(scenario)
    assert (first, second) == (1, 0)
    assert sorted(left) == ["live", "old2"]
