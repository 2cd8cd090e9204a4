"""Linked IDs: a resident's public identity (an OIDC provider's subject, e.g. the My Number
card through the Digital Agency's app) and company IDs (organisation + customer number).

Kept per resident with reverse indexes, so that a provider's subject signs the resident in and
an organisation can name a resident by its own customer number when it asks for consent.
"""

from __future__ import annotations

import re
import time
from typing import Any

from cityos.storage.base import Store

SPACE = "personal.links"  # kv: tenant \x1f resident -> {"identities": [...], "companies": [...]}
INDEX = "personal.link-index"  # kv: "oidc\x1f" iss \x1f sub | "company\x1f" tenant \x1f org \x1f id
_CUSTOMER = re.compile(r"^[\w.@:+-]{1,100}$")


class LinkError(ValueError):
    """A link that cannot be made; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _oidc_key(issuer: str, sub: str) -> str:
    return f"oidc\x1f{issuer}\x1f{sub}"


def _company_key(tenant: str, client_id: str, customer: str) -> str:
    return f"company\x1f{tenant}\x1f{client_id}\x1f{customer}"


class Links:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def of(self, tenant: str, resident: str) -> dict[str, Any]:
        return await self.store.kv_get(SPACE, f"{tenant}\x1f{resident}") or \
            {"identities": [], "companies": []}

    async def _put(self, tenant: str, resident: str, links: dict[str, Any]) -> None:
        await self.store.kv_put(SPACE, f"{tenant}\x1f{resident}", links)

    # public identities (OIDC) ----------------------------------------------------------------
    async def resident_of_identity(self, issuer: str, sub: str) -> tuple[str, str] | None:
        """(tenant, resident id) bound to a provider's subject, or None."""
        found = await self.store.kv_get(INDEX, _oidc_key(issuer, sub))
        return None if found is None else (found["tenant"], found["resident"])

    async def link_identity(self, tenant: str, resident: str, issuer: str, sub: str,
                            claims: dict[str, Any]) -> None:
        """Bind the provider's subject to the resident (one resident per subject)."""
        bound = await self.resident_of_identity(issuer, sub)
        if bound is not None and bound != (tenant, resident):
            raise LinkError("このIDは別の住民に連携済みです / this identity is linked to another "
                            "resident", 409)
        await self.store.kv_put(INDEX, _oidc_key(issuer, sub),
                                {"tenant": tenant, "resident": resident})
        links = await self.of(tenant, resident)
        links["identities"] = [i for i in links["identities"]
                               if (i["issuer"], i["sub"]) != (issuer, sub)]
        links["identities"].append({"issuer": issuer, "sub": sub, "linked": time.time(),
                                    "name": str(claims.get("name", ""))[:200]})
        await self._put(tenant, resident, links)

    # company IDs -----------------------------------------------------------------------------
    async def link_company(self, tenant: str, resident: str, client_id: str, org_name: str,
                           customer: str) -> dict[str, Any]:
        """Link the resident to an organisation's customer number."""
        if not _CUSTOMER.match(customer):
            raise LinkError("customerId は1〜100文字の英数字です / customerId has 1 to 100 "
                            "letters or digits")
        key = _company_key(tenant, client_id, customer)
        bound = await self.store.kv_get(INDEX, key)
        if bound is not None and bound != resident:
            raise LinkError("この顧客番号は別の住民に連携済みです / this customer number is "
                            "linked to another resident", 409)
        await self.store.kv_put(INDEX, key, resident)
        links = await self.of(tenant, resident)
        entry = {"clientId": client_id, "org": org_name, "customerId": customer,
                 "linked": time.time()}
        links["companies"] = [c for c in links["companies"]
                              if (c["clientId"], c["customerId"]) != (client_id, customer)]
        links["companies"].append(entry)
        await self._put(tenant, resident, links)
        return entry

    async def unlink_company(self, tenant: str, resident: str, client_id: str,
                             customer: str) -> bool:
        links = await self.of(tenant, resident)
        kept = [c for c in links["companies"]
                if (c["clientId"], c["customerId"]) != (client_id, customer)]
        if len(kept) == len(links["companies"]):
            return False
        links["companies"] = kept
        await self._put(tenant, resident, links)
        await self.store.kv_delete(INDEX, _company_key(tenant, client_id, customer))
        return True

    async def resident_of_customer(self, tenant: str, client_id: str,
                                   customer: str) -> str | None:
        """The resident an organisation knows by `customer` (only links to that organisation)."""
        found = await self.store.kv_get(INDEX, _company_key(tenant, client_id, customer))
        return found if isinstance(found, str) else None

    async def forget(self, tenant: str, resident: str) -> None:
        """Remove every link of the resident (erasure)."""
        links = await self.of(tenant, resident)
        for i in links["identities"]:
            await self.store.kv_delete(INDEX, _oidc_key(i["issuer"], i["sub"]))
        for c in links["companies"]:
            await self.store.kv_delete(INDEX, _company_key(tenant, c["clientId"], c["customerId"]))
        await self.store.kv_delete(SPACE, f"{tenant}\x1f{resident}")
