"""Reading a stored NGSI-LD resource document (subscription, registration) from a kv space.

One place for "absent means 404 ResourceNotFound" (ETSI GS CIM 009 v1.8 §6.3.2).
"""

from __future__ import annotations

from typing import Any

from cityos.ngsi.errors import ResourceNotFound
from cityos.storage.base import Store


async def stored_document(store: Store, space: str, doc_id: str, what: str) -> dict[str, Any]:
    doc = await store.kv_get(space, doc_id)
    if doc is None:
        raise ResourceNotFound(f"{what} {doc_id} not found")
    return doc  # type: ignore[no-any-return]
