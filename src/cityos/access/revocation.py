"""Revoking access tokens before they expire: one token (RFC 7009, e.g. signing out or a
leaked token) or every token an account holds (staff, after a compromise).

A revocation is written into the account's own record, so that every cityos process sharing
the database sees it with its next account lookup (the gate re-reads an account at least
every two seconds); the gate then refuses the token and raises a token-misuse alert
(MIC guideline 都市OS①-4).
"""

from __future__ import annotations

import math
import time
from typing import Any

from cityos.access.accounts import ORGS, STAFF
from cityos.access.residents import RESIDENTS
from cityos.access.service import Access
from cityos.access.tokens import Principal

REVOKED = "revoked_tokens"  # jti -> exp (epoch seconds), pruned once expired
# whole epoch seconds: tokens issued before it are refused (a token's iat is whole seconds, so
# one issued in the second of the revocation is refused too: the safe side)
REVOKED_BEFORE = "tokens_revoked_before"


def is_revoked(principal: Principal, account: dict[str, Any]) -> bool:
    """The token was revoked by itself or with all of its account's tokens (hot path)."""
    jtis = account.get(REVOKED)
    if jtis and principal.jti in jtis:
        return True
    before = account.get(REVOKED_BEFORE)
    return before is not None and principal.iat < before


async def _space_key(access: Access, sub: str) -> tuple[str, str] | None:
    kind, _, name = sub.partition(":")
    if kind == "org":
        org = await access.book.org_by_client(name)
        return None if org is None else (ORGS, org["name"])
    if kind == "staff":
        return STAFF, name
    if kind == "resident":
        return RESIDENTS, name
    return None


async def _change(access: Access, sub: str, edit: Any) -> bool:
    found = await _space_key(access, sub)
    if found is None:
        return False
    space, key = found
    async with access.book.lock(f"{space}:{key}"):
        account = await access.store.kv_get(space, key)
        if account is None:
            return False
        edit(account)
        await access.store.kv_put(space, key, account)
    access.forget(sub)
    return True


async def revoke_token(access: Access, principal: Principal) -> bool:
    """Refuse this one token from now on (the account's other tokens keep working)."""
    now = time.time()

    def edit(account: dict[str, Any]) -> None:
        kept = {j: e for j, e in (account.get(REVOKED) or {}).items() if e > now}
        kept[principal.jti] = principal.exp
        account[REVOKED] = kept

    return await _change(access, principal.sub, edit)


async def revoke_all(access: Access, sub: str) -> bool:
    """Refuse every token `sub` ("org:CLIENT_ID", "staff:NAME", "resident:ID") holds now;
    tokens issued afterwards work. False when there is no such account."""
    now = math.ceil(time.time())

    def edit(account: dict[str, Any]) -> None:
        account[REVOKED_BEFORE] = now
        account.pop(REVOKED, None)  # all of them are covered now

    return await _change(access, sub, edit)
