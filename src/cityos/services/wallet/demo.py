"""The demo town's currency: four shops (one a chain outside town), a month of seeded
spending by fictional pseudonymous wallets so that the console's figures mean something,
and — on a resident's first visit — 3,000 demo points and a place at the demo greengrocer's
counter so that she can try both sides of a QR payment."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random

from cityos.services.runtime import ServiceContext
from cityos.services.wallet.counter import Counter
from cityos.services.wallet.errors import WalletError
from cityos.services.wallet.ledger import JST
from cityos.services.wallet.runtime import counter_of

SHOPS = (("toyono-yaoya", "とよの八百屋（デモ）", True), ("kissa-yoshino", "喫茶よしの（デモ）", True),
         ("nose-pan", "能勢パン工房（デモ）", True), ("chain-mart", "チェーンマート箕面店（デモ）", False))
DEMO_SHOP = SHOPS[0][0]
WALLETS = 40
SEED = 24


async def load(ctx: ServiceContext) -> None:
    await asyncio.to_thread(_load, counter_of(ctx))


def _load(counter: Counter) -> None:
    ledger = counter.ledger
    for shop, name, local in SHOPS:
        ledger.open_shop(f"demo-shop:{shop}", shop, name, local)
    rng = random.Random(SEED)
    until = (dt.datetime.now(JST) + dt.timedelta(days=90)).date()
    for n in range(WALLETS):
        who = f"demo-wallet-{n:03d}"
        try:
            ledger.issue(f"demo-issue:{who}", who, rng.choice([5000, 10000, 12000]), "money",
                         until, "プレミアム商品券（デモ）")
        except WalletError:
            return  # the books are closed on today: the demo ran before
    for n in range(WALLETS * 6):
        who = f"resident:demo-wallet-{rng.randrange(WALLETS):03d}"
        shop = rng.choices([s[0] for s in SHOPS], weights=[4, 3, 3, 3])[0]
        with contextlib.suppress(WalletError):  # that wallet is spent
            ledger.pay(f"demo-pay:{n}", who, shop, rng.randint(150, 2500))


def welcome(counter: Counter, resident: str) -> None:
    """A demo resident's first visit: demo points, and the demo shop's counter."""
    until = (dt.datetime.now(JST) + dt.timedelta(days=90)).date()
    try:
        counter.ledger.issue(f"demo-welcome:{resident}", resident, 3000, "points", until,
                             "デモ用ポイント")
        counter.add_staff(DEMO_SHOP, resident)
    except WalletError:
        pass
