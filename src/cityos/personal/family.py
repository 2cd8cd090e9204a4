"""Family representatives (家族代理): a resident's named representative acts for them within
the data categories and actions the mandate lists, until its end date.

A mandate is given by the resident or by staff (e.g. for an elderly resident at the town
office); kept in the store and mirrored in memory, since `reader_for` runs on every read.
"""

from __future__ import annotations

import time
from typing import Any

from cityos.storage.base import Store

SPACE = "personal.representatives"  # kv: tenant \x1f subject \x1f representative -> mandate
ACTIONS = {"view": "データを見る view data", "consents": "同意を管理する manage consents"}


class MandateError(ValueError):
    """A mandate that cannot be given (message Japanese and English)."""


def _key(tenant: str, subject: str, representative: str) -> str:
    return f"{tenant}\x1f{subject}\x1f{representative}"


class Family:
    """Every mandate of the platform; `allowed` answers from memory."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_rep: dict[tuple[str, str], list[dict[str, Any]]] = {}

    async def load(self) -> None:
        table: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for _, mandate in await self.store.kv_list(SPACE):
            table.setdefault((mandate["tenant"], mandate["representative"]), []).append(mandate)
        self._by_rep = table

    async def appoint(self, tenant: str, subject: str, representative: str, *,
                      categories: list[str] | None, actions: list[str], until: float | None,
                      by: str) -> dict[str, Any]:
        """Name `representative` (a resident id) for `subject`; replaces an earlier mandate."""
        if representative == subject:
            raise MandateError("自分自身は代理人にできません / one cannot represent oneself")
        if not actions or any(a not in ACTIONS for a in actions):
            raise MandateError(f"actions は {', '.join(ACTIONS)} から選びます / actions are "
                               f"chosen from {', '.join(ACTIONS)}")
        if categories is not None and (not categories or not all(
                isinstance(c, str) and c for c in categories)):
            raise MandateError("categories はデータ区分の一覧です (全区分なら省略) / categories "
                               "lists data categories (leave it out for all)")
        if until is not None and until <= time.time():
            raise MandateError("until は未来の時刻です / until must be in the future")
        mandate = {"tenant": tenant, "subject": subject, "representative": representative,
                   "categories": sorted(set(categories)) if categories is not None else None,
                   "actions": sorted(set(actions)), "until": until, "created": time.time(),
                   "by": by}
        await self.store.kv_put(SPACE, _key(tenant, subject, representative), mandate)
        await self.load()
        return mandate

    async def revoke(self, tenant: str, subject: str, representative: str) -> bool:
        gone = await self.store.kv_delete(SPACE, _key(tenant, subject, representative))
        await self.load()
        return gone

    def represented(self, tenant: str, representative: str) -> list[dict[str, Any]]:
        """The live mandates `representative` holds."""
        now = time.time()
        return [m for m in self._by_rep.get((tenant, representative), ())
                if m["until"] is None or m["until"] > now]

    def allowed(self, tenant: str, representative: str, subject: str,
                action: str) -> dict[str, Any] | None:
        """The live mandate letting `representative` do `action` for `subject`, or None."""
        for mandate in self.represented(tenant, representative):
            if mandate["subject"] == subject and action in mandate["actions"]:
                return mandate
        return None

    async def of_subject(self, tenant: str, subject: str) -> list[dict[str, Any]]:
        """Mandates given for `subject` (who may act for them)."""
        return [m for ms in self._by_rep.values() for m in ms
                if m["tenant"] == tenant and m["subject"] == subject]

    async def forget(self, tenant: str, resident: str) -> int:
        """Remove every mandate for or held by `resident` (erasure)."""
        count = 0
        for (t, _), mandates in list(self._by_rep.items()):
            for m in mandates:
                if t == tenant and resident in (m["subject"], m["representative"]):
                    count += await self.store.kv_delete(
                        SPACE, _key(tenant, m["subject"], m["representative"]))
        await self.load()
        return count
