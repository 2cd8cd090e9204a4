"""What becomes a leaf of the transparency log: audit records (by reference to their hash
chain) and, later, sealed write records. Leaves are canonical JSON (sorted keys).

An audit leaf names the record's sequence number and chain hash; since that hash covers the
record and its predecessor's hash, an evidence bundle carries the record and `prev`.
"""

from __future__ import annotations

from typing import Any

import orjson

from cityos.audit.trail import LOG as AUDIT_LOG
from cityos.storage.base import Store

AUDIT_PAGE = 2000


def leaf_body(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def audit_leaf(seq: int, hash_: str) -> bytes:
    """The leaf of the audit record `seq` whose chain hash is `hash_`."""
    return leaf_body({"kind": "audit", "seq": seq, "hash": hash_})


async def new_audit_entries(store: Store, after: int) -> list[tuple[int, str]]:
    """(seq, chain hash) of the audit entries not yet in the transparency log (a page at most):
    a leaf needs only these, so the records themselves are not read back."""
    return await store.read_log_hashes(AUDIT_LOG, after=after, limit=AUDIT_PAGE)


TRACKER_LOG = "personal.access"  # the data tracker's chained log (personal/tracker.py)


def tracker_leaf(seq: int, hash_: str) -> bytes:
    """The leaf naming the data tracker's head: its last entry `seq`, whose chain hash is
    `hash_` (`cityos verify` checks the tracker's chain up to every such head)."""
    return leaf_body({"kind": "tracker", "seq": seq, "head": hash_})


async def tracker_head(store: Store, after: int) -> tuple[int, str] | None:
    """The data tracker's last (seq, chain hash) after `after`; None when it did not grow."""
    last: tuple[int, str] | None = None
    while page := await store.read_log_hashes(TRACKER_LOG, after=after, limit=AUDIT_PAGE):
        last = page[-1]
        after = last[0]
    return last
