"""The transparency log over a real SQLite store: appends, restarts, other writers, proofs."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cityos.storage import open_store
from cityos.storage.base import Store
from cityos.trust.log import TILE, TransparencyLog
from cityos.trust.merkle import leaf_hash, root_of, verify_consistency, verify_inclusion
from cityos.trust.treehead import verify_head

KEY = Ed25519PrivateKey.generate()


def _run(path: Path, scenario: Callable[[Store], Awaitable[None]]) -> None:
    async def main() -> None:
        store = open_store(f"sqlite:///{path / 'db.sqlite'}")
        await store.open()
        try:
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(main())


def _leaves(n: int, start: int = 0) -> list[bytes]:
    return [f'{{"n":{i}}}'.encode() for i in range(start, start + n)]


def test_tree_heads_proofs_and_a_restart(tmp_path: Path) -> None:
    bodies = _leaves(3 * TILE + 17)
    hashes = [leaf_hash(b) for b in bodies]

    async def scenario(store: Store) -> None:
        log = TransparencyLog(store, "test/log", KEY)
        await log.open()
        for first in range(0, len(bodies), 100):  # batches across tile boundaries
            assert await log.append(bodies[first:first + 100]) == first
        assert log.size == len(bodies)
        sth = await log.sign()
        verify_head(sth, KEY.public_key())
        assert sth.root == root_of(hashes)
        await log.checkpoint(sth)
        rng = random.Random(7)
        for size in [1, 2, TILE, TILE + 1, 2 * TILE, len(bodies), *rng.sample(range(1, len(bodies)), 20)]:
            root = root_of(hashes[:size])
            assert await log.root_at(size) == root
            for index in {0, size - 1, rng.randrange(size)}:
                verify_inclusion(index, size, hashes[index], await log.inclusion(index, size), root)
            first = rng.randrange(size + 1)
            verify_consistency(first, size, root_of(hashes[:first]), root,
                               await log.consistency(first, size))
        # a restart begins at the checkpoint's frontier and reads only what came after it
        more = _leaves(40, len(bodies))
        await log.append(more)
        again = TransparencyLog(store, "test/log", KEY)
        await again.open()
        assert again.size == len(bodies) + 40
        assert (await again.sign()).root == root_of(hashes + [leaf_hash(b) for b in more])
        assert (await again.latest_head()) == sth

    _run(tmp_path, scenario)


def test_two_processes_append_to_one_store(tmp_path: Path) -> None:
    async def scenario(store: Store) -> None:
        a = TransparencyLog(store, "test/log", KEY)
        b = TransparencyLog(store, "test/log", KEY)
        await a.open()
        await b.open()
        expected: list[bytes] = []
        for i in range(30):
            log = a if i % 3 else b
            batch = _leaves(i % 5 + 1, len(expected))
            assert await log.append(batch) == len(expected)
            expected += batch
        hashes = [leaf_hash(x) for x in expected]
        assert (await a.sign()).root == (await b.sign()).root == root_of(hashes)
        path = await b.inclusion(5)
        verify_inclusion(5, len(hashes), hashes[5], path, root_of(hashes))

    _run(tmp_path, scenario)


def test_the_store_refuses_to_change_a_leaf(tmp_path: Path) -> None:
    import sqlite3

    import pytest

    async def scenario(store: Store) -> None:
        log = TransparencyLog(store, "test/log", KEY)
        await log.open()
        await log.append(_leaves(3))

    _run(tmp_path, scenario)
    conn = sqlite3.connect(tmp_path / "db.sqlite")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE logs SET body = x'00' WHERE log = 'trust' AND seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM logs WHERE log = 'trust'")


def test_leaves_are_found_by_key(tmp_path: Path) -> None:
    async def scenario(store: Store) -> None:
        from cityos.trust.log import LEAVES, chain

        await store.append_log(LEAVES, [b"a", b"b", b"c"], chain, keys=[["x", "y"], [], ["x"]])
        assert await store.find_log_keys(LEAVES, "x") == [3, 1]
        assert await store.find_log_keys(LEAVES, "y") == [1]
        assert await store.find_log_keys(LEAVES, "x", limit=1) == [3]
        assert await store.find_log_keys(LEAVES, "z") == []
        assert await store.find_log_keys("other", "x") == []

    _run(tmp_path, scenario)


def test_verification_with_a_head_of_the_empty_tree(tmp_path: Path) -> None:
    from cityos.trust.verify import verify_log

    async def scenario(store: Store) -> None:
        from cityos.trust.verify import store_pages

        log = TransparencyLog(store, "test/log", KEY)
        await log.open()
        heads = [await log.sign()]
        await log.append(_leaves(5))
        heads.append(await log.sign())
        assert heads[0].size == 0
        assert await verify_log(store_pages(store), heads, KEY.public_key(), []) == []

    _run(tmp_path, scenario)


def test_two_processes_feed_the_audit_trail_once(tmp_path: Path) -> None:
    from cityos.audit.chain import link
    from cityos.audit.trail import LOG as AUDIT_LOG
    from cityos.keystore import KeyStore
    from cityos.settings import TrustSettings
    from cityos.trust.service import Trust

    async def scenario(store: Store) -> None:
        keys = KeyStore(tmp_path / "keys")  # one data directory, as processes on PostgreSQL
        a = await Trust.open(store, TrustSettings(), "http://town.example", keys)
        b = await Trust.open(store, TrustSettings(), "http://town.example", keys)
        await store.append_log(AUDIT_LOG, [b'{"n":1}', b'{"n":2}'], link)
        assert await a.feed() == 2
        assert await b.feed() == 0  # b reads a's leaves first
        await store.append_log(AUDIT_LOG, [b'{"n":3}'], link)
        assert await b.feed() == 1 and await a.feed() == 0
        assert a.log.size == b.log.size == 3

    _run(tmp_path, scenario)
