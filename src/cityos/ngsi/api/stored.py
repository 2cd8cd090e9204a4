"""Reading a stored NGSI-LD resource document (subscription, registration) from a kv space.

One place for "absent means 404 ResourceNotFound" (ETSI GS CIM 009 v1.8 §6.3.2) — and, for a
resource with an owner, "someone else's means the same 404" (issue #18, cityos.ngsi.ownership).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from cityos.ngsi.errors import ResourceNotFound
from cityos.ngsi.ownership import owned
from cityos.storage.base import Store


async def stored_document(store: Store, space: str, doc_id: str, what: str) -> dict[str, Any]:
    doc = await store.kv_get(space, doc_id)
    if doc is None:
        raise ResourceNotFound(f"{what} {doc_id} not found")
    return doc  # type: ignore[no-any-return]


async def owned_document(request: Request, store: Store, space: str, doc_id: str,
                         what: str) -> dict[str, Any]:
    """The stored resource if the caller may see it (its owner or a staff admin); otherwise
    the 404 of a resource that does not exist."""
    return owned(request, await store.kv_get(space, doc_id),
                 ResourceNotFound(f"{what} {doc_id} not found"))
