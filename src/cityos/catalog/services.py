"""The service catalog and the town's notices, kept in the store's kv space per tenant.

Every read goes to the store, so a service staff add is in the app at its next page view
(no restart, no cache to invalidate across processes).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cityos.catalog.model import (
    FIELDS,
    CatalogError,
    check_id,
    check_notice,
    check_service,
)
from cityos.ngsi.model.terms import now_iso
from cityos.storage.base import Store

_ORDER = {f.key: n for n, f in enumerate(FIELDS)}


class NotFound(CatalogError):
    """No service or notice with that id."""


def _space(kind: str, tenant: str) -> str:
    return f"catalog.{kind}" + (f"/{tenant}" if tenant else "")


class ServiceCatalog:
    """Services of one tenant (municipality): list, read, create or replace, delete."""

    def __init__(self, store: Store, tenant: str = "") -> None:
        self.store = store
        self.space = _space("services", tenant)

    async def list(self, *, field: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        """Services in the plan's field order, then by Japanese name."""
        found = [v for _, v in await self.store.kv_list(self.space)
                 if (field is None or v["field"] == field) and (status is None or v["status"] == status)]
        return sorted(found, key=lambda s: (_ORDER.get(s["field"], 99), s["name"]["ja"], s["id"]))

    async def get(self, service_id: str) -> dict[str, Any]:
        found = await self.store.kv_get(self.space, service_id)
        if found is None:
            raise NotFound(f"サービス {service_id[:64]!r} はありません / no service {service_id[:64]!r}")
        return dict(found)

    async def put(self, data: Any) -> tuple[dict[str, Any], bool]:
        """Store a checked service; returns it and whether it is new."""
        service = check_service(data)
        old = await self.store.kv_get(self.space, service["id"])
        now = now_iso()
        service["createdAt"] = old["createdAt"] if old else now
        service["modifiedAt"] = now
        await self.store.kv_put(self.space, service["id"], service)
        return service, old is None

    async def delete(self, service_id: str) -> None:
        if not await self.store.kv_delete(self.space, check_id(service_id)):
            raise NotFound(f"サービス {service_id[:64]!r} はありません / no service {service_id[:64]!r}")

    async def put_many(self, items: Sequence[Any]) -> dict[str, int]:
        """Check every item first, then store them all: a bad item stores nothing."""
        checked = [check_service(item) for item in items]
        ids = [s["id"] for s in checked]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise CatalogError(f"id {dup!r} が二度あります / id {dup!r} appears twice")
        counts = {"created": 0, "updated": 0}
        for item in checked:
            _, created = await self.put(item)
            counts["created" if created else "updated"] += 1
        return counts


class Notices:
    """Notices (お知らせ) of one tenant: staff publish, residents read the current ones."""

    def __init__(self, store: Store, tenant: str = "") -> None:
        self.store = store
        self.space = _space("notices", tenant)

    async def list(self, *, current_only: bool = False) -> list[dict[str, Any]]:
        """Newest first; `current_only` leaves out notices whose `until` has passed."""
        now = datetime.now(UTC)
        found = []
        for _, notice in await self.store.kv_list(self.space):
            until = notice.get("until")
            if current_only and until:
                end = datetime.fromisoformat(until.replace("Z", "+00:00"))
                if (end if end.tzinfo else end.replace(tzinfo=UTC)) < now:
                    continue
            found.append(notice)
        return sorted(found, key=lambda n: n["publishedAt"], reverse=True)

    async def get(self, notice_id: str) -> dict[str, Any]:
        found = await self.store.kv_get(self.space, notice_id)
        if found is None:
            raise NotFound(f"お知らせ {notice_id[:64]!r} はありません / no notice {notice_id[:64]!r}")
        return dict(found)

    async def publish(self, data: Any, notice_id: str | None = None) -> dict[str, Any]:
        """Publish a new notice, or replace the one with `notice_id`."""
        notice = check_notice(data)
        now = now_iso()
        if notice_id is None:
            notice_id = datetime.now(UTC).strftime("%Y%m%d-") + secrets.token_hex(4)
            notice["publishedAt"] = now
        else:
            notice["publishedAt"] = (await self.get(notice_id))["publishedAt"]
            notice["modifiedAt"] = now
        notice["id"] = notice_id
        await self.store.kv_put(self.space, notice_id, notice)
        return notice

    async def delete(self, notice_id: str) -> None:
        if not await self.store.kv_delete(self.space, notice_id):
            raise NotFound(f"お知らせ {notice_id[:64]!r} はありません / no notice {notice_id[:64]!r}")
