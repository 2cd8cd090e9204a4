"""Account inventory (棚卸し): every account with roles, grants, last use and review flags.

MIC Smart City Security Guideline v2.0 都市OS①-2 (an account list, reviewed regularly).
"""

from __future__ import annotations

import time
from typing import Any

from cityos.access.accounts import AccountBook
from cityos.access.residents import ResidentBook

DAY = 86_400.0


def _age_days(since: float | None, now: float) -> int | None:
    return None if not since else int((now - since) // DAY)


async def review_accounts(book: AccountBook, *, unused_days: int, secret_max_age_days: int,
                          now: float | None = None) -> list[dict[str, Any]]:
    """One row per staff member, organisation and resident, with the flags to act on:
    `unused` (no sign-in for `unused_days`, or never), `admin-without-second-factor`,
    `secret-too-old` (a live client secret older than `secret_max_age_days`), `locked`,
    `disabled`. Never includes hashes or secrets."""
    now = time.time() if now is None else now
    rows: list[dict[str, Any]] = []
    for m in await book.list_staff():
        flags = _common_flags(m, now, unused_days)
        if "admin" in m["roles"] and not m.get("passkeys"):
            flags.append("admin-without-second-factor")  # no passkey registered
        rows.append({"kind": "staff", "name": m["username"], "roles": m["roles"],
                     "tenant": m["tenant"], "grants": None, "created": m["created"],
                     "last_used": m.get("last_used"), "oidc": bool(m.get("oidc")),
                     "passkeys": len(m.get("passkeys", [])),
                     "flags": flags})
    for org in await book.list_orgs():
        flags = _common_flags(org, now, unused_days)
        live = [s for s in org["secrets"] if s["expires"] is None or s["expires"] > now]
        oldest = min((s["created"] for s in live), default=None)
        if oldest is not None and now - oldest > secret_max_age_days * DAY:
            flags.append("secret-too-old")
        rows.append({"kind": "organisation", "name": org["name"], "roles": [],
                     "tenant": org["tenant"], "grants": org["grants"],
                     "corporate_number": org["corporate_number"], "client_id": org["client_id"],
                     "created": org["created"], "last_used": org.get("last_used"),
                     "secret_age_days": _age_days(oldest, now), "flags": flags})
    for r in await ResidentBook(book).list_residents():
        rows.append({"kind": "resident", "name": r["login"], "id": r["id"],
                     "roles": ["resident"], "tenant": r["tenant"], "grants": None,
                     "created": r["created"], "last_used": r.get("last_used"),
                     "password": bool(r.get("password")), "passkeys": len(r.get("passkeys", [])),
                     "flags": _common_flags(r, now, unused_days)})
    return rows


def _common_flags(account: dict[str, Any], now: float, unused_days: int) -> list[str]:
    flags = []
    if account.get("disabled"):
        flags.append("disabled")
    if float(account.get("locked_until", 0.0)) > now:
        flags.append("locked")
    since = account.get("last_used") or account["created"]  # never used: since creation
    if not account.get("disabled") and now - since > unused_days * DAY:
        flags.append("unused")
    return flags
