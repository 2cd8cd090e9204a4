"""The research use of a resident's checkups (anonymised extracts, docs/privacy.md): the
service asks each resident once, when she first opens her health page, so that the request
appears in わたしのデータ where she can refuse it. Refusing (DECLINED) or withdrawing is the
opt-out; an unanswered request leaves her in, as anonymised information needs no consent."""

from __future__ import annotations

from cityos.services.client import PlatformError
from cityos.services.health.manifest import MANIFEST
from cityos.services.runtime import ServiceContext

PURPOSE = "ResearchAndDevelopment"
ASK = next(a for a in MANIFEST.consents if a.types == ("HealthCheckup",))


def _state(consents: list[dict[str, object]], resident: str) -> str | None:
    mine = [c for c in consents if c.get("subject") == resident
            and str(c.get("purpose", "")).endswith(PURPOSE)]
    return str(mine[-1]["state"]) if mine else None


async def research_state(ctx: ServiceContext, resident: str) -> str | None:
    """REQUESTED, APPROVED (in), DECLINED, WITHDRAWN (out); asked now if never asked; None
    when the platform could not be asked."""
    try:
        consents = await ctx.client.consents()
        state = _state(consents, resident)
        if state is not None:
            return state
        await ctx.client.request("POST", "/personal/v1/consents", json={
            "resident": resident, "category": ASK.category, "purpose": PURPOSE,
            "service": "健康づくりの研究 / health research",
            "notice": f"{ASK.purpose.ja} / {ASK.purpose.en}",
            "ifRefused": f"{ASK.if_refused.ja} / {ASK.if_refused.en}"[:500]})
        return "REQUESTED"
    except PlatformError:
        return None
