"""Audit retention: records older than `access.audit_retention_days` are pruned behind a
checkpoint (the seq and chain hash of the last pruned record), so the rest still verifies.

MIC guideline 都市OS③-3 (logs kept as evidence for a set period, then disposed of).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from cityos.audit.chain import canonical
from cityos.audit.trail import LOG
from cityos.storage.base import Store

DAY = 86_400.0
_PAGE = 5000


def _iso(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


async def prune_audit(store: Store, retention_days: float, now: float | None = None) -> int:
    """Remove the oldest records while they are older than `retention_days` (records are in
    time order; the first newer one stops it). Returns how many were removed."""
    if retention_days <= 0:
        return 0
    now = time.time() if now is None else now
    cutoff = _iso(now - retention_days * DAY)
    checkpoint = await store.log_checkpoint(LOG)
    start = after = through = 0 if checkpoint is None else checkpoint.seq
    done = False
    while not done:
        page = await store.read_log(LOG, after=after, limit=_PAGE)
        for entry in page:
            try:
                at = orjson.loads(entry.body).get("at")
            except orjson.JSONDecodeError:
                at = None
            if not isinstance(at, str) or at >= cutoff:
                done = True
                break
            through = entry.seq
        if len(page) < _PAGE:
            break
        after = page[-1].seq
    if through == start:
        return 0
    note: dict[str, Any] = {"pruned_at": _iso(now), "retention_days": retention_days,
                            "older_than": cutoff}
    return await store.prune_log(LOG, through, canonical(note))
