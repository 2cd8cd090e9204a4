"""The demo town's currency loads once, fast, and gives the console figures to show."""

from __future__ import annotations

from pathlib import Path

from cityos.services.wallet.counter import Counter
from cityos.services.wallet.demo import DEMO_SHOP, _load, welcome
from cityos.services.wallet.ledger import Ledger
from cityos.services.wallet.reports import circulation


def test_the_demo_loads_once_and_welcomes_a_resident(tmp_path: Path) -> None:
    counter = Counter(Ledger(tmp_path / "ledger.db"))
    _load(counter)
    first = counter.ledger.totals()
    _load(counter)  # idempotent: every request has its key
    assert counter.ledger.totals() == first
    assert first["shops"] > 0 and first["imbalance"] == 0
    with counter.ledger.reading() as conn:
        month = conn.execute("SELECT substr(max(day), 1, 7) FROM transactions").fetchone()[0]
        figures = circulation(conn, month)
    assert 0.5 < figures["share"] < 1  # the chain outside town takes some
    welcome(counter, "hanako-id")
    welcome(counter, "hanako-id")
    assert counter.ledger.balance("resident:hanako-id")["byKind"]["points"] == 3000
    assert counter.shops_of("hanako-id")[0]["shop"] == DEMO_SHOP
