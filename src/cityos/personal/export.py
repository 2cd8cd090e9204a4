"""Export (APPI 開示請求, GDPR-style portability) and erasure by crypto-shredding of a resident.

`export_resident` gathers everything the platform holds about a resident into one JSON
document; `erase_resident` withdraws their consents, deletes their entities and history,
destroys their key (so every sealed copy, backups included, is unreadable) and closes the account.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from cityos.access.residents import LOGINS, PASSKEYS, RESIDENTS, ResidentBook
from cityos.personal.service import Personal
from cityos.storage.base import EVERYTHING, EntityQuery, TemporalQuery
from cityos.trust.state import append as append_state
from cityos.trust.state import leaf as state_leaf

PAGE = 1000
FORMAT = "cityos-personal-export/1"


def account_view(resident: dict[str, Any]) -> dict[str, Any]:
    """A resident account without secrets (no password hash, no passkey public keys)."""
    return {"id": resident.get("id"), "login": resident.get("login"),
            "tenant": resident.get("tenant"), "created": resident.get("created"),
            "lastUsed": resident.get("last_used"), "password": bool(resident.get("password")),
            "passkeys": [{"id": k["id"], "created": k.get("created")}
                         for k in resident.get("passkeys", [])]}


async def subject_entities(personal: Personal, tenant: str,
                           subject: str) -> list[dict[str, Any]]:
    """Every personal entity whose subject is `subject` (read as the platform: EVERYTHING)."""
    store, catalog = personal.store, personal.catalog
    if not await store.tenant_exists(tenant):
        return []
    types = [info.type for info in await store.entity_types(tenant)
             if (entry := catalog.entry_of(info.type)) is not None and entry.protected]
    out: list[dict[str, Any]] = []
    for type_iri in types:
        offset = 0
        while True:
            query = EntityQuery(types=[type_iri], reader=EVERYTHING, limit=PAGE, offset=offset,
                                predicate=lambda e: (catalog.classify(tenant, e) or ("",))[0]
                                == subject)
            page = (await store.query_entities(tenant, query)).entities
            out += page
            if len(page) < PAGE:
                break
            offset += PAGE
    return out


async def export_resident(personal: Personal, residents: ResidentBook, tenant: str,
                          subject: str) -> dict[str, Any]:
    """One JSON document of everything about `subject`: account, linked IDs, consents with
    their signed records, representatives, the access log, entities and their history."""
    resident = await residents.get(subject) or {"id": subject}
    consents = await personal.consents.list(tenant, subject=subject)
    for consent in consents:
        consent["recordsDetail"] = await personal.consents.records(tenant, consent["id"])
    await personal.tracker.flush()
    log: list[dict[str, Any]] = []
    while True:
        page = await personal.tracker.entries(tenant, subject, limit=200, offset=len(log))
        log += page
        if len(page) < 200:
            break
    entities = await subject_entities(personal, tenant, subject)
    history: dict[str, Any] = {}
    if entities:
        temporal = await personal.store.temporal_query(tenant, TemporalQuery(
            entity_ids=[e["id"] for e in entities], reader=EVERYTHING, limit=100_000))
        history = temporal.history
    return {
        "format": FORMAT, "exported": time.time(), "tenant": tenant,
        "account": account_view(resident),
        "linkedIds": await personal.links.of(tenant, subject),
        "consents": consents,
        "representatives": {
            "actingForMe": await personal.family.of_subject(tenant, subject),
            "iActFor": personal.family.represented(tenant, subject)},
        "accessLog": log,
        "entities": entities,
        "history": history,
    }


async def erase_resident(personal: Personal, residents: ResidentBook, tenant: str,
                         subject: str, *, by: str, role: str) -> dict[str, Any]:
    """Erase `subject`: consents withdrawn (grants ended), mandates removed, entities, history
    and change rows deleted, the data key destroyed, links forgotten, the account closed."""
    withdrawn = await personal.consents.withdraw_all(tenant, subject, by=by, role=role)
    mandates = await personal.family.forget(tenant, subject)
    await personal.tracker.flush()
    entities = await personal.store.erase_subject(tenant, subject)
    await append_state(personal.store, [state_leaf("erasure", tenant, None)])  # for verify
    shredded = await asyncio.to_thread(personal.vault.erase, tenant, subject)
    await personal.consents.forget(tenant, subject)
    await personal.links.forget(tenant, subject)
    closed = await close_account(residents, subject)
    return {"resident": subject, "consentsWithdrawn": withdrawn, "mandatesRemoved": mandates,
            "entitiesDeleted": entities, "keyDestroyed": shredded, "accountClosed": closed,
            "erased": time.time()}


async def close_account(residents: ResidentBook, subject: str) -> bool:
    """Close the resident's account: disabled, login name and passkeys freed, nothing kept but
    the id and the time of erasure."""
    resident = await residents.get(subject)
    if resident is None:
        return False
    store = residents.store
    await residents.set_disabled(subject, True)
    if resident.get("login"):
        await store.kv_delete(LOGINS, resident["login"])
    for key in resident.get("passkeys", []):
        await store.kv_delete(PASSKEYS, key["id"])
    await store.kv_put(RESIDENTS, subject, {"id": subject, "tenant": resident.get("tenant", ""),
                                            "disabled": True, "erased": time.time(),
                                            "passkeys": []})
    return True
