"""Nothing personal in clear in the transparency log: the sealed payload of a write to a
personal entity stays in its write record only as a digest and as ciphertext under each data
subject's key (the personal vault), so that erasure (crypto-shredding) reaches it too.

A record then holds `payloadDigest` (SHA-256 hex of the canonical JSON the organisation's seal
signs) and `sealedPayload` (one `{"subject", "data"}` per data subject, `data` the vault's
AES-256-GCM box in base64) instead of `payload`. The payload is shown beside the leaf (never
in it: the leaf's hash must not change) to a caller allowed to read every entity of the write
— the same consent reader as the NGSI-LD read's — while every subject's key still exists.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any, Protocol

from cityos.storage.base import EVERYTHING, Entity, Reader, Store

DIGEST = "payloadDigest"
SEALED = "sealedPayload"


class Catalog(Protocol):
    def classify(self, tenant: str, entity: Entity) -> tuple[str, str] | None: ...


class Boxes(Protocol):
    def seal(self, tenant: str, subject: str, data: bytes) -> bytes: ...

    def open(self, tenant: str, subject: str, data: bytes) -> bytes | None: ...


def digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


async def seal_payload(store: Store, catalog: Catalog, vault: Boxes, tenant: str,
                       entity_ids: list[str], payload: bytes) -> list[dict[str, str]] | None:
    """None when no entity of the write is personal (the payload may stay in clear); else the
    payload sealed under each data subject's key — empty when a personal entity cannot be read
    back (deleted by the write): its record then keeps the digest alone."""
    personal = await store.withheld(tenant, entity_ids, None) if entity_ids else set()
    if not personal:
        return None
    subjects: set[str] = set()
    for entity_id in sorted(personal):
        entity = await store.get_entity(tenant, entity_id, EVERYTHING)
        found = None if entity is None else catalog.classify(tenant, entity)
        if found is None:
            return []
        subjects.add(found[0])
    return [{"subject": subject,
             "data": base64.b64encode(vault.seal(tenant, subject, payload)).decode("ascii")}
            for subject in sorted(subjects)]


async def reveal(store: Store, vault: Boxes, tenant: str, record: dict[str, Any],
                 reader: Reader) -> str | None:
    """The sealed payload of `record` for `reader`: None unless it may read every entity of the
    write now and every subject's key still opens its box (after erasure: never)."""
    boxes = record.get(SEALED)
    if not isinstance(boxes, list) or not boxes:
        return None
    entities = [str(i) for i in record.get("entities", ())]
    if await store.withheld(tenant, entities, reader):
        return None
    plain: bytes | None = None
    for box in boxes:
        try:
            plain = vault.open(tenant, str(box["subject"]), base64.b64decode(box["data"]))
        except (KeyError, TypeError, ValueError, binascii.Error):
            return None
        if plain is None:
            return None
    if plain is None or digest(plain) != record.get(DIGEST):
        return None
    return plain.decode("utf-8")
