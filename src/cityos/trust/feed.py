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
