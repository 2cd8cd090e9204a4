"""Entity documents against the write records (issue #19, part 5): each write record carries,
per entity it wrote, the digest of the stored row (its document as stored, a personal one
sealed, and its owner) as it stands when the record is appended — `"state"`, a list in the
order of `"entities"`: `"DOC"` or `"DOC:OWNER"` (SHA-256 hex), null when not stored (deleted). `cityos verify --entities` streams the entities and
compares them with the latest record of each.

The digests are read when the recorder flushes (one query per tenant a batch), after the
writes of the batch committed: so the latest record of an entity reads the state that the
latest write through the write path left.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from cityos.storage.base import Store

ENTITY_MODIFIED = "ENTITY_MODIFIED"  # a stored document is not the one its last write left
ENTITY_DELETED = "ENTITY_DELETED"  # an entity its last write record keeps is gone
OWNER_MODIFIED = "OWNER_MODIFIED"  # a (personal) entity's owner changed behind the write path
State = tuple[str, str | None]  # SHA-256 hex of the stored document, of its owner (None: none)


def _postgres(store: Store) -> bool:
    return hasattr(store, "pool")


async def entity_states(store: Store, tenant: str, ids: list[str]) -> dict[str, State]:
    if _postgres(store):
        from cityos.storage.postgres import scan as pg

        return await pg.entity_states(store, tenant, ids)  # type: ignore[arg-type]
    from cityos.storage.sqlite import scan as lite

    return await lite.entity_states(store, tenant, ids)  # type: ignore[arg-type]


def all_entity_states(store: Store) -> AsyncIterator[list[tuple[str, str, State]]]:
    if _postgres(store):
        from cityos.storage.postgres import scan as pg

        return pg.all_entity_states(store)  # type: ignore[arg-type]
    from cityos.storage.sqlite import scan as lite

    return lite.all_entity_states(store)  # type: ignore[arg-type]


async def with_states(store: Store, batch: list[tuple[bytes, list[str]]]
                      ) -> list[tuple[bytes, list[str]]]:
    """The write leaves of `batch` with the stored state of each entity they name (by their
    keys, `tenant \\x1f id`)."""
    wanted: dict[str, set[str]] = {}
    for _, keys in batch:
        for key in keys:
            tenant, _, entity_id = key.partition("\x1f")
            wanted.setdefault(tenant, set()).add(entity_id)
    found = {tenant: await entity_states(store, tenant, sorted(ids))
             for tenant, ids in wanted.items()}
    out = []
    for leaf, keys in batch:
        record: dict[str, Any] = orjson.loads(leaf)
        state: list[str | None] = []
        for key in keys:  # in the order of the record's `entities`
            tenant, _, entity_id = key.partition("\x1f")
            value = found[tenant].get(entity_id)
            state.append(None if value is None else value[0] if value[1] is None
                         else f"{value[0]}:{value[1]}")
        record["state"] = state
        out.append((orjson.dumps(record, option=orjson.OPT_SORT_KEYS), keys))
    return out


def _pack(doc: str, owner: str | None) -> bytes:
    """A state in 32 or 64 bytes (the history holds one per recorded entity)."""
    return bytes.fromhex(doc) + (b"" if owner is None else bytes.fromhex(owner))


@dataclass
class EntityHistory:
    """The latest recorded state of each entity, from the write records (`add` each in log
    order); `bulk` the last purge (by query) or erasure leaf of each tenant."""

    latest: dict[str, tuple[int, bytes | None]] = field(default_factory=dict)  # tenant␟id
    bulk: dict[str, int] = field(default_factory=dict)

    def add(self, index: int, body: bytes) -> None:
        try:
            record = orjson.loads(body)
        except orjson.JSONDecodeError:
            return
        if not isinstance(record, dict):
            return
        tenant = str(record.get("tenant", ""))
        if record.get("kind") == "state" and record.get("of") == "erasure":
            self.bulk[str(record.get("key"))] = index
            return
        if record.get("kind") != "write":
            return
        if record.get("method") == "DELETE" and not record.get("entities"):
            self.bulk[tenant] = index  # a purge by query: which entities went is not named
        state = record.get("state")
        entities = record.get("entities")
        if not isinstance(state, list) or not isinstance(entities, list):
            return  # a record from before part 5
        for entity_id, value in zip(entities, state, strict=False):
            doc, _, owner = value.partition(":") if isinstance(value, str) else ("", "", "")
            self.latest[f"{tenant}\x1f{entity_id}"] = (
                index, _pack(doc, owner or None) if doc else None)


@dataclass
class EntityOutcome:
    findings: list[tuple[str, int, str]] = field(default_factory=list)
    checked: int = 0  # entities as their last write record says
    unsigned: int = 0  # … whose last record no signed tree head covers yet
    unrecorded: int = 0  # entities without a write record carrying their state
    bulk_deleted: int = 0  # entities gone in a purge or an erasure after their last write


async def check_entities(store: Store, history: EntityHistory, signed: int,
                         limit: int = 100) -> EntityOutcome:
    """Stream the stored entities and compare each with its latest write record."""
    outcome = EntityOutcome()
    latest = history.latest
    async for page in all_entity_states(store):
        for tenant, entity_id, (doc, owner) in page:
            found = latest.pop(f"{tenant}\x1f{entity_id}", None)
            if found is None:
                outcome.unrecorded += 1
                continue
            index, recorded = found
            stored = _pack(doc, owner)
            if recorded is not None and recorded == stored:
                if index >= signed:
                    outcome.unsigned += 1
                else:
                    outcome.checked += 1
                continue
            if recorded is None:
                detail = f"entity {entity_id} exists, though its last write record deleted it"
                code = ENTITY_MODIFIED
            elif recorded[:32] != stored[:32]:
                detail = (f"entity {entity_id} (tenant {tenant!r}) is not as its last write "
                          "record left it: the stored document was changed")
                code = ENTITY_MODIFIED
            else:
                detail = f"the owner of entity {entity_id} (tenant {tenant!r}) was changed"
                code = OWNER_MODIFIED
            if len(outcome.findings) < limit:
                outcome.findings.append((code, index, detail))
    for key, (index, recorded) in latest.items():
        tenant, _, entity_id = key.partition("\x1f")
        if recorded is None:
            continue
        if history.bulk.get(tenant, -1) > index:
            outcome.bulk_deleted += 1
        elif len(outcome.findings) < limit:
            outcome.findings.append((ENTITY_DELETED, index, f"entity {entity_id} (tenant "
                                     f"{tenant!r}) is gone, though its last write record "
                                     "keeps it"))
    return outcome
