"""The shop's counter: who works for which shop, and payment requests — the amount a shop
asks for, behind a random short code that the QR encodes (kept server-side, so it cannot
be forged; it lapses after a few minutes and is paid at most once).

Kept in the service's own database, next to the ledger. Blocking: call from a thread.
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from cityos.services.wallet.errors import BadAmount, InvalidState, UnknownTransaction
from cityos.services.wallet.ledger import Ledger, _checked_amount, shop_account

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read out and typed by hand
CODE_LENGTH = 8  # 32^8 ≈ 1.1e12 codes, each alive a few minutes

SCHEMA = """
CREATE TABLE IF NOT EXISTS shop_staff(
  shop TEXT NOT NULL, resident TEXT NOT NULL, PRIMARY KEY (shop, resident));
CREATE TABLE IF NOT EXISTS pay_requests(
  code TEXT PRIMARY KEY, shop TEXT NOT NULL, amount INTEGER NOT NULL, memo TEXT NOT NULL,
  created TEXT NOT NULL, expires TEXT NOT NULL, payment TEXT, payer TEXT);
CREATE INDEX IF NOT EXISTS pay_requests_shop ON pay_requests(shop, created);
CREATE TABLE IF NOT EXISTS pay_tokens(  -- the code a resident shows for the shop to charge
  code TEXT PRIMARY KEY, resident TEXT NOT NULL, created TEXT NOT NULL, expires TEXT NOT NULL,
  hold TEXT);
"""


def normal_code(text: str) -> str:
    """A code as typed: spaces and dashes dropped, upper case; BadAmount if it cannot be one."""
    code = "".join(ch for ch in str(text).upper() if ch not in " -\u3000")
    if len(code) != CODE_LENGTH or any(ch not in ALPHABET for ch in code):
        raise BadAmount("コードは 8 文字の英数字です（例: ABCD-2345）",
                        "the code is 8 letters and digits (e.g. ABCD-2345)")
    return code


def shown_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


class Counter:
    """Shop staff and payment requests, in the ledger's database."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        conn = sqlite3.connect(ledger.path, isolation_level=None, timeout=60.0)
        conn.executescript(SCHEMA)
        conn.close()

    @property
    def path(self) -> Path:
        return self.ledger.path

    def add_staff(self, shop: str, resident: str) -> None:
        with self.ledger.writing() as conn:
            self.ledger._account(conn, shop_account(shop), "shop")
            conn.execute("INSERT OR IGNORE INTO shop_staff(shop, resident) VALUES (?, ?)",
                         (shop, resident))

    def shops_of(self, resident: str) -> list[dict[str, Any]]:
        """The shops a resident works for (id and name)."""
        with self.ledger.reading() as conn:
            return [{"shop": r[0], "name": r[1]} for r in conn.execute(
                "SELECT s.shop, a.name FROM shop_staff s JOIN accounts a ON "
                "a.id = 'shop:' || s.shop WHERE s.resident = ? ORDER BY s.shop", (resident,))]

    def shops(self) -> list[dict[str, Any]]:
        with self.ledger.reading() as conn:
            return [{"shop": r["id"].split(":", 1)[1], "name": r["name"],
                     "local": bool(r["local"])} for r in conn.execute(
                "SELECT id, name, local FROM accounts WHERE role = 'shop' ORDER BY name")]

    def ask(self, shop: str, amount: int, minutes: int, memo: str = "") -> dict[str, Any]:
        """A new payment request of `amount` yen from `shop`, alive `minutes` minutes."""
        amount = _checked_amount(amount)
        now = self.ledger.clock()
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        with self.ledger.writing() as conn:
            self.ledger._account(conn, shop_account(shop), "shop")
            conn.execute("INSERT INTO pay_requests(code, shop, amount, memo, created, expires) "
                         "VALUES (?,?,?,?,?,?)",
                         (code, shop, amount, memo[:100], now.isoformat(),
                          (now + dt.timedelta(minutes=minutes)).isoformat()))
        return self.request(code)

    def request(self, code: str) -> dict[str, Any]:
        code = normal_code(code)
        with self.ledger.reading() as conn:
            row = conn.execute("SELECT r.*, a.name FROM pay_requests r JOIN accounts a ON "
                               "a.id = 'shop:' || r.shop WHERE r.code = ?", (code,)).fetchone()
        if row is None:
            raise UnknownTransaction("このコードの支払い依頼はありません",
                                     "no payment request has this code")
        expired = dt.datetime.fromisoformat(row["expires"]) < self.ledger.clock()
        state = "paid" if row["payment"] else ("expired" if expired else "open")
        return {"code": row["code"], "shownCode": shown_code(row["code"]), "shop": row["shop"],
                "shopName": row["name"], "amount": row["amount"], "memo": row["memo"],
                "created": row["created"], "expires": row["expires"], "state": state,
                "payment": row["payment"], "payer": row["payer"]}

    def pay(self, code: str, payer: str) -> dict[str, Any]:
        """Pay a request: the ledger's idempotency key is the code, so a double tap pays once
        and a second payer is refused (409)."""
        req = self.request(code)
        if req["state"] == "expired":
            raise InvalidState("この支払い依頼は期限が切れました。お店でもう一度表示してもらって"
                               "ください", "this payment request has lapsed; ask the shop again")
        paid = self.ledger.pay(f"payreq:{req['code']}", payer, req["shop"], req["amount"],
                               memo=req["memo"])
        with self.ledger.writing() as conn:
            conn.execute("UPDATE pay_requests SET payment = ?, payer = ? WHERE code = ? AND "
                         "payment IS NULL", (paid["id"], payer, req["code"]))
        return paid

    def token(self, resident: str, minutes: int) -> dict[str, Any]:
        """A code the resident shows; the shop charges it once, and she confirms."""
        now = self.ledger.clock()
        code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
        expires = now + dt.timedelta(minutes=minutes)
        with self.ledger.writing() as conn:
            conn.execute("INSERT INTO pay_tokens(code, resident, created, expires) "
                         "VALUES (?,?,?,?)", (code, resident, now.isoformat(),
                                              expires.isoformat()))
        return {"code": code, "shownCode": shown_code(code), "expires": expires.isoformat()}

    def charge(self, code: str, shop: str, amount: int, memo: str = "") -> dict[str, Any]:
        """The shop charges a resident's shown code: a pending payment (hold) that she
        confirms or cancels. The code's key makes it once only."""
        code = normal_code(code)
        with self.ledger.reading() as conn:
            row = conn.execute("SELECT * FROM pay_tokens WHERE code = ?", (code,)).fetchone()
        if row is None:
            raise UnknownTransaction("このコードはありません", "no such code")
        if row["hold"] is None and dt.datetime.fromisoformat(row["expires"]) < \
                self.ledger.clock():
            raise InvalidState("このコードは期限が切れました。お客さまにもう一度表示してもらって"
                               "ください", "this code has lapsed; ask the customer again")
        hold = self.ledger.hold(f"token:{code}", "resident:" + row["resident"], shop, amount,
                                memo=memo)
        with self.ledger.writing() as conn:
            conn.execute("UPDATE pay_tokens SET hold = ? WHERE code = ? AND hold IS NULL",
                         (hold["id"], code))
        return hold

    def pending(self, account: str) -> list[dict[str, Any]]:
        """Payments waiting for `account`'s confirmation (holds it made), oldest first."""
        with self.ledger.reading() as conn:
            rows = conn.execute(
                "SELECT t.id, t.amount, t.memo, t.at, a.name FROM transactions t JOIN accounts a "
                "ON a.id = t.payee WHERE t.kind = 'hold' AND t.status = 'pending' AND "
                "t.payer = ? ORDER BY t.seq", (account,)).fetchall()
        return [{"id": r["id"], "amount": r["amount"], "memo": r["memo"], "at": r["at"],
                 "shopName": r["name"]} for r in rows]

    def recent(self, shop: str, limit: int = 20) -> list[dict[str, Any]]:
        """The shop's latest payment requests, newest first."""
        with self.ledger.reading() as conn:
            codes = [r[0] for r in conn.execute(
                "SELECT code FROM pay_requests WHERE shop = ? ORDER BY created DESC LIMIT ?",
                (shop, limit))]
        return [self.request(c) for c in codes]
