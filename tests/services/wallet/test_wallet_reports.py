"""Shops' sales per day and the town's circulation figure."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cityos.services.wallet.ledger import JST, Ledger
from cityos.services.wallet.reports import circulation, sales_per_day


def test_sales_per_day_and_the_share_spent_in_town(tmp_path: Path) -> None:
    now = [dt.datetime(2027, 5, 31, 23, 30, tzinfo=JST)]
    book = Ledger(tmp_path / "l.db", clock=lambda: now[0])
    book.open_shop("o1", "yaoya", "八百屋")
    book.open_shop("o2", "chain", "町外チェーン", local=False)
    book.issue("i1", "hanako", 10_000, "money", None)
    book.pay("p0", "resident:hanako", "yaoya", 999)  # May: not in June's figure
    now[0] = dt.datetime(2027, 6, 1, 0, 30, tzinfo=JST)  # 15:30 UTC on 31 May: June in JST
    paid = book.pay("p1", "resident:hanako", "yaoya", 3000)
    book.pay("p2", "resident:hanako", "chain", 1000)
    book.refund("r1", paid["id"], 500)
    now[0] += dt.timedelta(days=1)
    book.pay("p3", "resident:hanako", "yaoya", 1500)
    book.pay("p4", "shop:yaoya", "chain", 500)  # the greengrocer buys from the chain
    with book.reading() as conn:
        days = sales_per_day(conn, "shop:yaoya", "2027-06-01", "2027-06-30")
        june = circulation(conn, "2027-06")
    assert days == [
        {"day": "2027-06-01", "count": 1, "sales": 3000, "refunds": 500, "net": 2500},
        {"day": "2027-06-02", "count": 1, "sales": 1500, "refunds": 0, "net": 1500}]
    assert june["spending"] == 2500 + 1000 + 1500 + 500
    assert june["inTown"] == 4000
    assert june["share"] == round(4000 / 5500, 4)
    assert june["spentByShops"] == 500
