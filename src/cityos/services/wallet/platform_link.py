"""What the platform learns of the currency, through its API under the service's own
organisation: a resident's payments become `Purchase` entities (her personal data: sealed,
tracked, exportable, erasable) only once she approved the consent the manifest asks."""

from __future__ import annotations

import logging
from typing import Any

from cityos.services.client import PlatformError
from cityos.services.runtime import ServiceContext
from cityos.services.wallet.manifest import MANIFEST

log = logging.getLogger("cityos.services.wallet")
ASK = MANIFEST.consents[0]
PURPOSE = "ServiceProvision"


async def consent_state(ctx: ServiceContext, resident: str) -> str:
    """The state of the resident's purchase-records consent: "" when never asked, "UNKNOWN"
    when the platform does not tell the service (then nothing is written)."""
    if ctx.state.get("consents_hidden"):
        return "UNKNOWN"
    try:
        mine = await ctx.client.consents()
    except PlatformError as exc:  # GET /personal/v1/consents wants a read grant on '*'
        log.warning("wallet: consents not readable: %s", exc)
        ctx.state["consents_hidden"] = exc.status == 403  # asked again after a restart
        return "UNKNOWN"
    states = [c.get("state", "") for c in mine
              if c.get("subject") == resident and c.get("category") == ASK.category]
    for state in ("APPROVED", "REQUESTED"):
        if state in states:
            return state
    return states[-1] if states else ""


async def ask_once(ctx: ServiceContext, resident: str) -> str:
    """Ask for the consent the first time she opens the wallet; its state. Asked once per
    process at most (a page view must not add platform requests and audit entries)."""
    asked: set[str] = ctx.state.setdefault("asked", set())
    state = await consent_state(ctx, resident)
    if state in ("", "UNKNOWN") and resident not in asked:
        asked.add(resident)
        try:
            await ctx.client.ask_consent(resident, ASK.category, PURPOSE,
                                         service=MANIFEST.title.ja, notice=ASK.purpose.ja,
                                         if_refused=ASK.if_refused.ja)
        except PlatformError as exc:
            if exc.status != 409:
                raise
            return "REQUESTED" if state in ("", "UNKNOWN") else state
        state = "REQUESTED"
    return "REQUESTED" if state == "UNKNOWN" else state


def purchase_entity(resident: str, payment: dict[str, Any], shop_name: str) -> dict[str, Any]:
    kinds: dict[str, int] = {}
    for p in payment["postings"]:
        if p["account"] == payment["payee"]:
            kinds[p["kind"]] = kinds.get(p["kind"], 0) + p["amount"]
    return {
        "id": f"urn:ngsi-ld:Purchase:{payment['id']}", "type": "Purchase",
        "refResident": {"type": "Relationship", "object": f"urn:ngsi-ld:Resident:{resident}"},
        "seller": {"type": "Property", "value": shop_name},
        "totalPrice": {"type": "Property", "value": payment["amount"], "unitCode": "JPY"},
        "paymentMethod": {"type": "Property", "value": "town-digital-currency"},
        "amountByKind": {"type": "Property", "value": kinds},
        "dateOfPurchase": {"type": "Property", "value": {"@type": "DateTime",
                                                         "@value": payment["at"]}},
    }


async def record_purchase(ctx: ServiceContext, resident: str, payment: dict[str, Any],
                          shop_name: str) -> bool:
    """Write the payment to the platform if she consented; whether it was written."""
    try:
        if await consent_state(ctx, resident) != "APPROVED":
            return False
        await ctx.client.upsert([purchase_entity(resident, payment, shop_name)])
        return True
    except PlatformError as exc:  # the ledger is the record; the copy is retried never
        log.warning("wallet: purchase record not written: %s", exc)
        return False
