"""What shops and the town read from the ledger: sales per day, settlement statements (CSV)
and the circulation figure — the share of spending that stays with shops run in town.

Functions take a read connection (`Ledger.reading()`); they never write.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from typing import Any

from cityos.services.wallet.errors import UnknownTransaction
from cityos.web.jst import shown

_SALE = "('payment', 'capture')"


def sales_per_day(conn: sqlite3.Connection, shop_account: str, first: str, last: str
                  ) -> list[dict[str, Any]]:
    """A shop's takings per business day (JST) between two ISO dates, refunds deducted."""
    rows = conn.execute(
        f"SELECT day, sum(CASE WHEN kind IN {_SALE} THEN amount ELSE 0 END) AS sales, "
        f"sum(CASE WHEN kind IN {_SALE} THEN 1 ELSE 0 END) AS count, "
        "sum(CASE WHEN kind = 'refund' THEN amount ELSE 0 END) AS refunds "
        f"FROM transactions WHERE ((payee = ? AND kind IN {_SALE}) OR "
        "(payer = ? AND kind = 'refund')) AND day BETWEEN ? AND ? GROUP BY day ORDER BY day",
        (shop_account, shop_account, first, last)).fetchall()
    return [{"day": r["day"], "count": r["count"], "sales": r["sales"], "refunds": r["refunds"],
             "net": r["sales"] - r["refunds"]} for r in rows]


def statements_of(conn: sqlite3.Connection, shop_account: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(
        "SELECT id, amount, at FROM statements WHERE shop = ? ORDER BY txn DESC",
        (shop_account,))]


def statement(conn: sqlite3.Connection, statement_id: str) -> dict[str, Any]:
    """A settlement statement: the shop's movements since its previous settlement, whose
    sum is the amount settled (the shop's balance was zero after the previous one)."""
    head = conn.execute("SELECT s.*, a.name FROM statements s JOIN accounts a ON a.id = s.shop "
                        "WHERE s.id = ?", (statement_id,)).fetchone()
    if head is None:
        raise UnknownTransaction("精算書が見つかりません", f"no statement {statement_id}")
    lines = []
    for r in conn.execute(
            "SELECT t.id, t.kind, t.at, t.day, sum(p.amount) AS amount FROM postings p "
            "JOIN transactions t ON t.seq = p.txn WHERE p.account = ? AND p.txn > ? "
            "AND p.txn < ? GROUP BY t.seq ORDER BY t.seq",
            (head["shop"], head["after_seq"], head["txn"])):
        lines.append({"id": r["id"], "kind": r["kind"], "at": r["at"], "day": r["day"],
                      "amount": r["amount"]})
    return {"id": head["id"], "shop": head["shop"], "shopName": head["name"],
            "amount": head["amount"], "at": head["at"], "lines": lines,
            "linesTotal": sum(line["amount"] for line in lines)}


_KIND_JA = {"payment": "お支払い", "capture": "お支払い（確定）", "refund": "返金",
            "issue": "入金", "hold": "保留", "void": "取消し"}


def statement_csv(st: dict[str, Any]) -> str:
    """The statement as CSV (UTF-8 with BOM so that spreadsheet software reads Japanese)."""
    out = io.StringIO()
    out.write("\ufeff")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(["精算書 Settlement statement", st["id"]])
    w.writerow(["店舗 Shop", st["shopName"], st["shop"]])
    w.writerow(["精算額 Amount settled (円)", st["amount"]])
    w.writerow(["作成 Issued at (JST)", shown(st["at"])])
    w.writerow([])
    w.writerow(["日時 Time (JST)", "種類 Kind", "取引番号 Transaction", "金額 Amount (円)"])
    for line in st["lines"]:
        w.writerow([shown(line["at"]), f"{_KIND_JA.get(line['kind'], line['kind'])} "
                    f"{line['kind']}", line["id"], line["amount"]])
    w.writerow(["合計 Total", "", "", st["linesTotal"]])
    return out.getvalue()


def circulation(conn: sqlite3.Connection, month: str) -> dict[str, Any]:
    """A month's (YYYY-MM, JST) spending in the currency and the share that went to shops
    run in town; `recirculated` is what shops spent on in turn instead of settling."""
    rows = conn.execute(
        "SELECT t.kind, t.amount, a.local, p.role AS payer_role FROM transactions t "
        "JOIN accounts a ON a.id = (CASE WHEN t.kind = 'refund' THEN t.payer ELSE t.payee END) "
        "LEFT JOIN accounts p ON p.id = (CASE t.kind WHEN 'refund' THEN t.payee "
        "WHEN 'capture' THEN (SELECT h.payer FROM transactions h WHERE h.id = t.ref) "
        "ELSE t.payer END) "
        f"WHERE t.day LIKE ? AND (t.kind IN {_SALE} OR t.kind = 'refund')",
        (month + "-%",)).fetchall()
    spending = local = by_shops = 0
    for r in rows:
        sign = -1 if r["kind"] == "refund" else 1
        spending += sign * r["amount"]
        local += sign * r["amount"] * (1 if r["local"] else 0)
        by_shops += sign * r["amount"] * (1 if r["payer_role"] == "shop" else 0)
    settled = int(conn.execute("SELECT coalesce(sum(amount), 0) FROM transactions WHERE "
                               "kind = 'settle' AND day LIKE ?", (month + "-%",)).fetchone()[0])
    return {"month": month, "spending": spending, "inTown": local,
            "share": round(local / spending, 4) if spending else None,
            "spentByShops": by_shops, "settled": settled}
