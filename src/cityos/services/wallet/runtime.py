"""The service at work inside `cityos serve`: its own ledger (DATA_DIR/services/wallet/
ledger.db) and the shop counter, opened at start and closed at stop."""

from __future__ import annotations

import asyncio

from cityos.services.runtime import ServiceContext
from cityos.services.wallet.counter import Counter
from cityos.services.wallet.ledger import Ledger, ledger_path


def counter_of(ctx: ServiceContext) -> Counter:
    """The running service's counter (and through it, its ledger)."""
    found = ctx.state.get("counter")
    if not isinstance(found, Counter):
        ledger = Ledger(ledger_path(ctx.settings.data_dir))
        found = ctx.state["counter"] = Counter(ledger)
    return found


async def start(ctx: ServiceContext) -> None:
    await asyncio.to_thread(counter_of, ctx)


async def stop(ctx: ServiceContext) -> None:
    found = ctx.state.pop("counter", None)
    if isinstance(found, Counter):
        await asyncio.to_thread(found.ledger.close)
