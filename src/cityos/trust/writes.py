"""Write records: every accepted NGSI write becomes a leaf of the transparency log (who, when,
which entities, the digest of the body, and the organisation's seal with its payload).

Leaves are appended in batches, indexed by tenant and entity so that evidence finds them; a
write is acknowledged only once its record is in the store (`WriteRecorder.flush`, awaited
by the audit wrapper together with the write's audit record); the signed, time-stamped tree head that covers
a leaf is the platform's own seal over it (X-Road's batch signature).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from typing import Any

import orjson

from cityos.trust.entities import with_states
from cityos.trust.log import TransparencyLog
from cityos.trust.private import DIGEST, SEALED, digest
from cityos.trust.sealing import CheckedSeal

FLUSH_SECONDS = 0.2
MAX_IDS = 1000  # entity ids indexed per write
log = logging.getLogger("cityos.trust")


def entity_key(tenant: str, entity_id: str) -> str:
    return f"{tenant}\x1f{entity_id}"


def entity_ids(data: Any, path_id: str | None) -> list[str]:
    ids = [] if path_id is None else [path_id]
    for item in data if isinstance(data, list) else [data]:
        value = item.get("id") if isinstance(item, dict) else item
        if isinstance(value, str) and value not in ids:
            ids.append(value)
    return ids[:MAX_IDS]


def write_leaf(*, tenant: str, who: str, org: str, op: str, method: str, path: str,
               entities: list[str], status: int, body: bytes, seal: CheckedSeal | None,
               at: float | None = None, sealed: list[dict[str, str]] | None = None) -> bytes:
    """The leaf of one accepted write. `sealed` (see `trust.private`): the seal's payload is
    about personal entities, so the record keeps its digest and these boxes, not the payload."""
    record: dict[str, Any] = {
        "kind": "write", "at": int((time.time() if at is None else at) * 1000),
        "tenant": tenant, "who": who, "org": org, "op": op, "method": method, "path": path,
        "entities": entities, "status": status, "bodyDigest": hashlib.sha256(body).hexdigest()}
    if seal is not None:
        record.update(seal=seal.seal.compact, certificate=seal.serial)
        if sealed is None:
            record["payload"] = seal.payload.decode("utf-8")
        else:
            record.update({DIGEST: digest(seal.payload), SEALED: sealed})
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


class WriteRecorder:
    """Buffers write records; `flush` returns when every record made before it is in the store
    (the write hook awaits it before the write is acknowledged). Flushes run one at a time, so
    the requests waiting meanwhile share the next append (group commit)."""

    def __init__(self, tlog: TransparencyLog) -> None:
        self.log = tlog
        self._pending: list[tuple[bytes, list[str]]] = []
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def record(self, leaf: bytes, keys: list[str]) -> None:
        self._pending.append((leaf, keys))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(FLUSH_SECONDS)
        await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            while self._pending:
                batch, self._pending = self._pending, []
                try:  # each entity's stored state, as the batch's writes left it
                    batch = await with_states(self.log.store, batch)
                    await self.log.append([leaf for leaf, _ in batch],
                                          keys=[k for _, k in batch])
                except Exception:  # the store is gone: say so loudly
                    log.exception("could not append %d write records", len(batch))
                    return

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
