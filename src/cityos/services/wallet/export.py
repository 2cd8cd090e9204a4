"""The ledger as a beancount file: an independent check of the books.

Every transaction with its postings; one commodity per lot (kind and expirationDateOfMoney);
and a `balance` assertion for every account and lot from the ledger's own running balances,
so that `bean-check` recomputes each balance from the postings and compares.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
from collections.abc import Iterator

from cityos.services.wallet.ledger import Ledger

_TOWN = {"town:issued": "Equity:Town:Issued", "town:expired": "Equity:Town:Expired",
         "town:redeemed": "Equity:Town:Redeemed", "town:holds": "Assets:Town:PendingPayments"}
_ROOT = {"resident": "Assets:Residents", "shop": "Assets:Shops"}


def bean_account(account: str, role: str) -> str:
    """A beancount account name for a ledger account (unique: a digest keeps ids apart that
    read alike once their punctuation is replaced)."""
    if account in _TOWN:
        return _TOWN[account]
    ident = account.split(":", 1)[1]
    readable = re.sub(r"[^A-Za-z0-9-]+", "-", ident).strip("-")[:40] or "X"
    digest = hashlib.sha256(account.encode()).hexdigest()[:6]
    return f"{_ROOT[role]}:A-{readable}-{digest}"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def beancount_lines(conn: sqlite3.Connection) -> Iterator[str]:
    """The whole ledger in beancount syntax, line by line (one read transaction)."""
    names = {r["id"]: bean_account(r["id"], r["role"])
             for r in conn.execute("SELECT id, role FROM accounts")}
    yield 'option "title" "cityos town currency ledger"'
    yield ""
    first_day = {r["lot"]: r["day"] for r in conn.execute(
        "SELECT p.lot, min(t.day) AS day FROM postings p JOIN transactions t ON t.seq = p.txn "
        "GROUP BY p.lot")}
    for lot in conn.execute("SELECT code, kind, expires FROM lots ORDER BY code"):
        if lot["code"] in first_day:
            yield f"{first_day[lot['code']]} commodity {lot['code']}"
            yield f"  kind: {_quoted(lot['kind'])}"
            if lot["expires"]:
                yield f"  expirationDateOfMoney: {lot['expires']}"
    yield ""
    for row in conn.execute(
            "SELECT p.account, min(t.day) AS day FROM postings p JOIN transactions t "
            "ON t.seq = p.txn GROUP BY p.account ORDER BY p.account"):
        yield f"{row['day']} open {names[row['account']]}"
    yield ""
    last_day = None
    txns = conn.execute("SELECT * FROM transactions ORDER BY seq").fetchall()
    for txn in txns:
        last_day = max(last_day or txn["day"], txn["day"])
        flag = "!" if txn["status"] == "pending" else "*"
        yield f"{txn['day']} {flag} {_quoted(txn['kind'])} {_quoted(txn['memo'])}"
        yield f"  id: {_quoted(txn['id'])}"
        if txn["ref"]:
            yield f"  ref: {_quoted(txn['ref'])}"
        for p in conn.execute("SELECT account, lot, amount FROM postings WHERE txn = ? "
                              "ORDER BY rowid", (txn["seq"],)):
            yield f"  {names[p['account']]}  {p['amount']} {p['lot']}"
        yield ""
    if last_day is None:
        return
    after = (dt.date.fromisoformat(last_day) + dt.timedelta(days=1)).isoformat()
    for b in conn.execute("SELECT account, lot, amount FROM balances ORDER BY account, lot"):
        yield f"{after} balance {names[b['account']]}  {b['amount']} {b['lot']}"


def export_beancount(ledger: Ledger) -> str:
    """The ledger as beancount text; blocking."""
    with ledger.reading() as conn:
        return "\n".join(beancount_lines(conn)) + "\n"
