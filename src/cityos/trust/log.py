"""The append-only transparency log: leaves in the store, tree heads, proofs, checkpoints.

RFC 9162 §2.1 over the store's append-only `logs` table: each entry's hash is its leaf hash
(and its `prev` the leaf hash before it), so the table alone re-derives every tree head.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cityos.audit.chain import link
from cityos.storage.base import LogEntry, Store
from cityos.trust.merkle import (
    EMPTY_ROOT,
    Frontier,
    ProofError,
    SubtreeHash,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_of,
    split,
)
from cityos.trust.treehead import SignedTreeHead, TreeHead, sign_head

LEAVES = "trust"  # the store log holding the leaves
HEADS = "trust-heads"  # the store log holding every checkpoint (signed tree head), in order
STATE = "trust.state"  # kv space: frontier and cursors of the last checkpoint
TILE = 256  # leaves per tile: roots of full tiles stay in memory, leaves stay in the store
_PAGE = 4096


def chain(prev: str | None, body: bytes) -> str:
    """The store's `Chain` of the leaf log: an entry's hash is its RFC 9162 leaf hash."""
    return leaf_hash(body).hex()


class TransparencyLog:
    """One process's view of the log; several processes may append to the same store."""

    def __init__(self, store: Store, origin: str, key: Ed25519PrivateKey) -> None:
        self.store = store
        self.origin = origin
        self.key = key
        self.frontier = Frontier()
        self.cursors: dict[str, int] = {}  # other logs fed into this one: last entry taken
        self._tiles: list[bytes] | None = None  # roots of full tiles (None: not loaded yet)
        self._tail: list[bytes] = []  # leaf hashes after the last full tile
        self._lock = asyncio.Lock()

    @property
    def size(self) -> int:
        return self.frontier.size

    async def open(self) -> None:
        """Start from the last checkpoint's frontier and read what was appended since."""
        saved = await self.store.kv_get(STATE, "frontier")
        if saved is not None:
            self.frontier = Frontier(int(saved["size"]), [bytes.fromhex(h) for h in saved["hashes"]])
            self.cursors = {k: int(v) for k, v in saved.get("cursors", {}).items()}
        await self.catch_up()

    # appending ---------------------------------------------------------------------------
    async def append(self, bodies: Sequence[bytes], cursors: dict[str, int] | None = None,
                     keys: list[list[str]] | None = None) -> int:
        """Append leaves in one transaction; returns the index of the first. `cursors` records
        how far other logs have been fed in (kept with the next checkpoint); `keys` index the
        leaves for `find` (one list per leaf)."""
        async with self._lock:
            last = await self.store.append_log(LEAVES, list(bodies), chain, keys)
            first = last - len(bodies)  # 0-based index of the first new leaf
            if first == self.size:
                for body in bodies:
                    self._add(leaf_hash(body))
            else:  # another process appended in between: read the log in order
                await self._read_from_store()
            if cursors:
                self.cursors.update(cursors)
            return first

    async def catch_up(self) -> None:
        async with self._lock:
            await self._read_from_store()

    async def _read_from_store(self) -> None:
        while True:
            page = await self.store.read_log(LEAVES, after=self.size, limit=_PAGE)
            for entry in page:
                self._add(bytes.fromhex(entry.hash))
                self._note_cursor(entry.body)
            if len(page) < _PAGE:
                return

    def _note_cursor(self, body: bytes) -> None:
        # the feeds of the audit trail and of the data tracker's head (trust/feed.py)
        if b'"kind":"audit"' in body or b'"kind":"tracker"' in body:
            try:
                doc = orjson.loads(body)
                kind = doc.get("kind")
                if kind in ("audit", "tracker"):
                    self.cursors[kind] = max(self.cursors.get(kind, 0), int(doc["seq"]))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                pass

    def _add(self, leaf: bytes) -> None:
        self.frontier.append(leaf)
        if self._tiles is not None:
            self._tail.append(leaf)
            if len(self._tail) == TILE:
                self._tiles.append(root_of(self._tail))
                self._tail = []

    # tree heads and checkpoints -------------------------------------------------------------
    def head(self, now: float | None = None) -> TreeHead:
        at = time.time() if now is None else now
        return TreeHead(self.origin, self.size, self.frontier.root(), int(at * 1000))

    async def sign(self) -> SignedTreeHead:
        """A signed head of the log as it is now (after reading other processes' appends)."""
        await self.catch_up()
        return sign_head(self.head(), self.key)

    async def checkpoint(self, sth: SignedTreeHead) -> None:
        """Keep `sth` in the heads log and the frontier at its size (the restart point)."""
        seq = await self.store.append_log(HEADS, [orjson.dumps(sth.to_json())], link)
        await self.store.kv_put(STATE, "head", seq)
        if self.size == sth.size:
            await self.store.kv_put(STATE, "frontier", {
                "size": self.size, "hashes": [h.hex() for h in self.frontier.hashes],
                "cursors": self.cursors})

    async def latest_head(self) -> SignedTreeHead | None:
        seq = await self.store.kv_get(STATE, "head")
        heads = [] if seq is None else await self.heads(after=int(seq) - 1, limit=1)
        return heads[-1] if heads else None

    async def heads(self, after: int = 0, limit: int = 1000) -> list[SignedTreeHead]:
        entries = await self.store.read_log(HEADS, after=after, limit=limit)
        return [SignedTreeHead.from_json(orjson.loads(e.body)) for e in entries]

    # leaves and proofs ------------------------------------------------------------------------
    async def find(self, key: str, limit: int = 10) -> list[int]:
        """Indexes of the leaves appended with `key`, newest first."""
        return [seq - 1 for seq in await self.store.find_log_keys(LEAVES, key, limit)]

    async def leaf(self, index: int) -> LogEntry | None:
        page = await self.store.read_log(LEAVES, after=index, limit=1)
        return page[0] if page and page[0].seq == index + 1 else None

    async def inclusion(self, index: int, size: int | None = None) -> list[bytes]:
        size = self.size if size is None else size
        if size > self.size:
            await self.catch_up()
        if not 0 <= index < size <= self.size:
            raise ProofError(f"leaf {index} is not in a tree of {size} leaves "
                             f"(the log has {self.size})")
        return await self._prove(lambda mth: inclusion_proof(index, size, mth))

    async def consistency(self, first: int, second: int | None = None) -> list[bytes]:
        second = self.size if second is None else second
        if second > self.size:
            await self.catch_up()
        if not 0 <= first <= second <= self.size:
            raise ProofError(f"no consistency proof from {first} to {second} leaves "
                             f"(the log has {self.size})")
        return await self._prove(lambda mth: consistency_proof(first, second, mth))

    async def root_at(self, size: int) -> bytes:
        if not 0 <= size <= self.size:
            raise ProofError(f"the log has {self.size} leaves, not {size}")
        if size == 0:
            return EMPTY_ROOT
        [root] = await self._prove(lambda mth: [mth(0, size)])
        return root

    async def _prove(self, build: Callable[[SubtreeHash], list[bytes]]) -> list[bytes]:
        """Run a proof builder twice: first to learn which ranges it needs (the ranges depend
        on sizes only), then, with their leaves loaded, for real."""
        async with self._lock:
            if self._tiles is None:
                await self._load_tiles()
            needed: set[int] = set()

            def record(start: int, end: int) -> bytes:
                self._need(start, end, needed)
                return b""

            build(record)
            leaves = {t: await self._tile_leaves(t) for t in needed}
            return build(lambda a, b: self._mth(a, b, leaves))

    def _full(self) -> int:
        assert self._tiles is not None
        return len(self._tiles) * TILE

    def _need(self, start: int, end: int, needed: set[int]) -> None:
        """Collect the full tiles whose leaves `_mth(start, end)` reads."""
        if start % TILE == 0 and end % TILE == 0 and end <= self._full():
            return
        if end - start <= TILE or start >= self._full():
            if start < self._full():
                needed.update(range(start // TILE, min(end - 1, self._full() - 1) // TILE + 1))
            return
        k = split(end - start)
        self._need(start, start + k, needed)
        self._need(start + k, end, needed)

    def _mth(self, start: int, end: int, leaves: dict[int, list[bytes]]) -> bytes:
        assert self._tiles is not None
        full = self._full()
        if start % TILE == 0 and end % TILE == 0 and end <= full:
            # tile boundaries are split points of every tile-aligned range
            return root_of(self._tiles[start // TILE:end // TILE])
        if end - start <= TILE or start >= full:
            hashes = [leaves[i // TILE][i % TILE] if i < full else self._tail[i - full]
                      for i in range(start, end)]
            return root_of(hashes)
        k = split(end - start)
        return node_hash(self._mth(start, start + k, leaves), self._mth(start + k, end, leaves))

    async def _tile_leaves(self, tile: int) -> list[bytes]:
        page = await self.store.read_log(LEAVES, after=tile * TILE, limit=TILE)
        return [bytes.fromhex(e.hash) for e in page]

    async def _load_tiles(self) -> None:
        """Read every leaf hash once, keeping only full tiles' roots (first proof after start)."""
        tiles: list[bytes] = []
        tail: list[bytes] = []
        after = 0
        while after < self.size:
            page = await self.store.read_log(LEAVES, after=after, limit=min(_PAGE, self.size - after))
            if not page:
                break
            for entry in page:
                tail.append(bytes.fromhex(entry.hash))
                if len(tail) == TILE:
                    tiles.append(root_of(tail))
                    tail = []
            after = page[-1].seq
        self._tiles, self._tail = tiles, tail

