"""What the resident app shows of the service catalog and the town's notices.

Reads `cityos.catalog` (the store: a service staff add shows at the next page view). The
field names are the plan's ①…⑬ in plainer words for residents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cityos.catalog.services import NotFound, Notices, ServiceCatalog
from cityos.services.runtime import contexts

# ①…⑬ as the plan numbers them (④ and ⑨ are unused there); the catalog has the same keys
FIELD_LABELS: dict[str, tuple[str, str, str]] = {
    "disaster": ("①", "防災", "Disaster prevention"),
    "safety": ("②", "見守り・安全", "Safety and watch-over"),
    "infrastructure": ("③", "道路・水道などの点検", "Infrastructure"),
    "tourism": ("⑤", "観光・まちの元気", "Tourism and local life"),
    "mobility": ("⑥", "交通・おでかけ", "Transport"),
    "logistics": ("⑦", "配達・買い物", "Deliveries and shopping"),
    "health": ("⑧", "健康・医療", "Health and medical care"),
    "energy": ("⑩", "環境・エネルギー", "Environment and energy"),
    "education": ("⑪", "子育て・学び", "Childcare and learning"),
    "government": ("⑫", "役場の手続き", "Town office"),
    "payment": ("⑬", "支払い", "Payment"),
    "other": ("", "その他", "Other"),
}


@dataclass(frozen=True)
class FieldGroup:
    key: str
    mark: str
    ja: str
    en: str
    services: list[dict[str, Any]]

    def label(self, lang: str) -> str:
        """The field in words (the plan's ①…⑬ skip numbers: residents see none)."""
        return self.en if lang == "en" else self.ja


def group_by_field(services: list[dict[str, Any]], opens: bool | None = None
                   ) -> list[FieldGroup]:
    """Services in the plan's field order (only those that open, or only those that do not,
    when `opens` says); a field without services is left out."""
    groups = []
    for key, (mark, ja, en) in FIELD_LABELS.items():
        members = [s for s in services if s.get("field") == key and s.get("status") != "planned"
                   and (opens is None or bool(s.get("opens")) == opens)]
        if members:
            groups.append(FieldGroup(key, mark, ja, en, members))
    return groups


def _opens(app: Any, service: dict[str, Any]) -> dict[str, Any]:
    """The entry with what its 「開く」 opens: `builtin`, the app page of the running town
    service that implements it (one tap), or `link`, the provider's link once staff verified
    it; neither: the app says 準備中 (coming soon) instead of sending her to a dead page."""
    for ctx in contexts(app).values():
        if service.get("id") in ctx.manifest.plan_rows and ctx.manifest.audience == "residents":
            return {**service, "builtin": ctx.manifest.app_path, "opens": True}
    verified = bool(service.get("linkVerified")) and bool(service.get("deepLink")
                                                           or service.get("webFallback"))
    return {**service, "builtin": None, "opens": verified}


async def town_services(app: Any, tenant: str) -> list[dict[str, Any]]:
    """The services for residents (active and pilot; planned ones and the town's own
    back-office services are not shown), each with what it opens."""
    return [_opens(app, s) for s in await ServiceCatalog(app.state.broker.store, tenant).list()
            if s.get("audience", "residents") == "residents"]


async def town_service(app: Any, tenant: str, service_id: str) -> dict[str, Any] | None:
    try:
        return _opens(app, await ServiceCatalog(app.state.broker.store, tenant).get(service_id))
    except NotFound:
        return None


async def town_notices(app: Any, tenant: str) -> list[dict[str, Any]]:
    """Current notices, emergencies first, then newest first."""
    notices = await Notices(app.state.broker.store, tenant).list(current_only=True)
    order = {"emergency": 0, "warning": 1}
    return sorted(notices, key=lambda n: order.get(n.get("severity", ""), 2))

