"""The town currency's double-entry ledger: every movement a balanced transaction.

Integer yen; lots of money or points, each with its `expirationDateOfMoney`; an idempotency
key on every change (same key and body: the first result; same key, other body: 409);
holder accounts never below zero; two-phase payments (pending -> posted | voided).
Every method is blocking (SQLite, BEGIN IMMEDIATE): call it from a thread in async code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from cityos.services.wallet._schema import TOWN_ACCOUNTS, connect
from cityos.services.wallet.errors import (
    BadAmount,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidState,
    UnknownAccount,
    UnknownTransaction,
)

JST = dt.timezone(dt.timedelta(hours=9), "JST")
KINDS = ("money", "points")
MAX_AMOUNT = 10_000_000  # one movement; a town currency is not a bank
_ID = re.compile(r"^[A-Za-z0-9][\w:.@#/-]{0,199}$")
_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
ISSUED, EXPIRED, REDEEMED, HOLDS = "town:issued", "town:expired", "town:redeemed", "town:holds"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def resident_account(resident: str) -> str:
    return "resident:" + _checked_id(resident)


def shop_account(shop: str) -> str:
    return "shop:" + _checked_id(shop)


def _checked_id(ident: str) -> str:
    if not isinstance(ident, str) or not _ID.match(ident):
        raise BadAmount("利用者やお店の番号が正しくありません",
                        "an account holder's id must be 1-200 letters, digits or :._@#/-")
    return ident


def _checked_amount(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        raise BadAmount(f"金額は 1 円から {MAX_AMOUNT:,} 円までの整数で指定してください",
                        f"the amount must be a whole number of yen from 1 to {MAX_AMOUNT:,}")
    return amount


def _checked_kinds(kinds: object) -> tuple[str, ...]:
    if isinstance(kinds, str):
        kinds = (kinds,)
    if (not isinstance(kinds, (list, tuple)) or not kinds
            or any(k not in KINDS for k in kinds)):
        raise BadAmount("種類は money（お金）か points（ポイント）です",
                        "kind must be money or points")
    return tuple(dict.fromkeys(kinds))


def lot_code(kind: str, expires: dt.date | None) -> str:
    """The commodity a lot is kept in: kind and last valid day (also its beancount name)."""
    base = kind.upper()
    return base if expires is None else f"{base}-{expires:%Y%m%d}"


class Ledger:
    """One ledger database. Thread-safe within a process (one connection, one lock) and
    across processes (BEGIN IMMEDIATE: one writer at a time, SQLite's own lock)."""

    def __init__(self, path: Path, clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.path = path
        self.clock = clock
        self._conn = connect(path)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- plumbing -----------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    def _once(self, key: str, op: str, params: dict[str, Any],
              apply: Callable[[sqlite3.Connection, dt.datetime], dict[str, Any]]
              ) -> dict[str, Any]:
        """Run `apply` exactly once for `key`, in one transaction with the key's record.

        A failure (not enough money …) rolls back and records nothing: a retry with the same
        key is evaluated afresh."""
        if not isinstance(key, str) or not _KEY.match(key):
            raise BadAmount("Idempotency-Key は 1〜255 文字の英数記号で指定してください",
                            "the idempotency key must be 1-255 printable ASCII characters")
        digest = hashlib.sha256(op.encode() + b"\0" + orjson.dumps(
            params, option=orjson.OPT_SORT_KEYS)).hexdigest()
        with self._write() as conn:
            seen = conn.execute("SELECT op, digest, result FROM requests WHERE key = ?",
                                (key,)).fetchone()
            if seen is not None:
                if seen["op"] != op or seen["digest"] != digest:
                    raise IdempotencyConflict(
                        "この Idempotency-Key は別の依頼に使われています",
                        "this idempotency key was already used for a different request")
                result: dict[str, Any] = orjson.loads(seen["result"])
                return result
            now = self.clock()
            result = apply(conn, now)
            conn.execute("INSERT INTO requests(key, op, digest, result, at) VALUES (?,?,?,?,?)",
                         (key, op, digest, orjson.dumps(result).decode(), now.isoformat()))
            return result

    @staticmethod
    def _account(conn: sqlite3.Connection, account: str, role: str | None = None
                 ) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM accounts WHERE id = ?", (account,)).fetchone()
        if row is None or (role is not None and row["role"] != role):
            raise UnknownAccount("口座が見つかりません", f"no such account: {account}")
        return row  # type: ignore[no-any-return]

    @staticmethod
    def _open_resident(conn: sqlite3.Connection, account: str, now: dt.datetime) -> None:
        conn.execute("INSERT OR IGNORE INTO accounts(id, role, opened) VALUES (?, 'resident', ?)",
                     (account, now.isoformat()))
        row = conn.execute("SELECT role FROM accounts WHERE id = ?", (account,)).fetchone()
        if row["role"] != "resident":
            raise UnknownAccount("住民の口座ではありません", f"not a resident's account: {account}")

    def _begin_txn(self, conn: sqlite3.Connection, now: dt.datetime, kind: str, payer: str,
                   payee: str, amount: int, *, ref: str | None = None, memo: str = "",
                   status: str = "posted") -> int:
        day = now.astimezone(JST).date().isoformat()
        closed = conn.execute("SELECT max(day) FROM closes").fetchone()[0]
        if closed is not None and day <= closed:
            raise InvalidState(f"{closed} までの締めが済んでいます（時計を確かめてください）",
                               f"the books are closed up to {closed}; check the clock")
        cur = conn.execute(
            "INSERT INTO transactions(id, kind, status, payer, payee, amount, ref, memo, at, day)"
            " VALUES (?,?,?,?,?,?,?,?,?,?)",
            ("w-" + uuid.uuid4().hex, kind, status, payer, payee, amount, ref, memo[:200],
             now.isoformat(), day))
        assert cur.lastrowid is not None
        return cur.lastrowid

    @staticmethod
    def _move(conn: sqlite3.Connection, seq: int, src: str, dst: str, lot: str,
              amount: int) -> None:
        """One leg pair: `amount` of `lot` from src to dst (two postings summing to zero)."""
        for account, delta in ((src, -amount), (dst, amount)):
            holder = 0 if TOWN_ACCOUNTS.get(account, ("", "", 1))[2] == 0 else 1
            # an UPDATE first: the CHECK would refuse a negative candidate row of an upsert
            updated = conn.execute("UPDATE balances SET amount = amount + ? WHERE account = ? "
                                   "AND lot = ?", (delta, account, lot)).rowcount
            if not updated:
                conn.execute("INSERT INTO balances(account, lot, amount, holder) "
                             "VALUES (?,?,?,?)", (account, lot, delta, holder))
            conn.execute("INSERT INTO postings(txn, account, lot, amount) VALUES (?,?,?,?)",
                         (seq, account, lot, delta))

    def _result(self, conn: sqlite3.Connection, seq: int) -> dict[str, Any]:
        row = conn.execute("SELECT * FROM transactions WHERE seq = ?", (seq,)).fetchone()
        postings = conn.execute(
            "SELECT p.account, p.lot, p.amount, l.kind, l.expires FROM postings p "
            "JOIN lots l ON l.code = p.lot WHERE p.txn = ? ORDER BY p.rowid", (seq,)).fetchall()
        total = sum(p["amount"] for p in postings)
        assert total == 0, f"unbalanced transaction {row['id']}: {total}"
        return {
            "id": row["id"], "kind": row["kind"], "status": row["status"],
            "payer": row["payer"], "payee": row["payee"], "amount": row["amount"],
            "ref": row["ref"], "memo": row["memo"], "at": row["at"], "day": row["day"],
            "postings": [{"account": p["account"], "lot": p["lot"], "kind": p["kind"],
                          "expirationDateOfMoney": p["expires"], "amount": p["amount"]}
                         for p in postings],
        }

    def _spendable(self, conn: sqlite3.Connection, account: str, kinds: tuple[str, ...],
                   now: dt.datetime) -> list[sqlite3.Row]:
        """The account's lots it may spend now: soonest expiry first, points before money."""
        today = now.astimezone(JST).date().isoformat()
        marks = ",".join("?" * len(kinds))
        return conn.execute(
            "SELECT b.lot, b.amount FROM balances b JOIN lots l ON l.code = b.lot "
            f"WHERE b.account = ? AND b.amount > 0 AND l.kind IN ({marks}) "
            "AND (l.expires IS NULL OR l.expires >= ?) "
            "ORDER BY l.expires IS NULL, l.expires, l.kind = 'money', l.code",
            (account, *kinds, today)).fetchall()

    def _take(self, conn: sqlite3.Connection, seq: int, src: str, dst: str, amount: int,
              kinds: tuple[str, ...], now: dt.datetime) -> None:
        lots = self._spendable(conn, src, kinds, now)
        if sum(r["amount"] for r in lots) < amount:
            raise InsufficientFunds("残高が足りません", "not enough balance")
        left = amount
        for row in lots:
            part = min(left, row["amount"])
            self._move(conn, seq, src, dst, row["lot"], part)
            left -= part
            if left == 0:
                break

    # --- accounts -------------------------------------------------------------------------
    def open_shop(self, key: str, shop: str, name: str, local: bool = True) -> dict[str, Any]:
        """Register a shop that accepts the currency (`local`: run in town)."""
        account = shop_account(shop)
        name = str(name)[:100]

        def apply(conn: sqlite3.Connection, now: dt.datetime) -> dict[str, Any]:
            conn.execute("INSERT INTO accounts(id, role, name, local, opened) "
                         "VALUES (?, 'shop', ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                         "name = excluded.name, local = excluded.local",
                         (account, name, int(local), now.isoformat()))
            return {"account": account, "name": name, "local": local}
        return self._once(key, "open_shop", {"shop": shop, "name": name, "local": local}, apply)

    # --- movements ------------------------------------------------------------------------
    def issue(self, key: str, resident: str, amount: int, kind: str = "money",
              expires: dt.date | None = None, memo: str = "") -> dict[str, Any]:
        """Issue money (a top-up, a premium voucher) or points to a resident."""
        account = resident_account(resident)
        amount = _checked_amount(amount)
        (kind,) = _checked_kinds(kind)
        lot = lot_code(kind, expires)

        def apply(conn: sqlite3.Connection, now: dt.datetime) -> dict[str, Any]:
            if expires is not None and expires < now.astimezone(JST).date():
                raise BadAmount("有効期限が過ぎています", "the expiry date is in the past")
            self._open_resident(conn, account, now)
            conn.execute("INSERT OR IGNORE INTO lots(code, kind, expires) VALUES (?,?,?)",
                         (lot, kind, None if expires is None else expires.isoformat()))
            seq = self._begin_txn(conn, now, "issue", ISSUED, account, amount, memo=memo)
            self._move(conn, seq, ISSUED, account, lot, amount)
            return self._result(conn, seq)
        return self._once(key, "issue", {"resident": resident, "amount": amount, "kind": kind,
                                         "expires": str(expires), "memo": memo}, apply)

    def pay(self, key: str, payer: str, shop: str, amount: int,
            kinds: tuple[str, ...] = KINDS, memo: str = "") -> dict[str, Any]:
        """Pay a shop at once. `payer` is an account id (a resident's or a shop's)."""
        return self._pay(key, "pay", payer, shop, amount, kinds, memo)

    def hold(self, key: str, payer: str, shop: str, amount: int,
             kinds: tuple[str, ...] = KINDS, memo: str = "") -> dict[str, Any]:
        """Reserve a payment that the shop confirms (post) or cancels (void)."""
        return self._pay(key, "hold", payer, shop, amount, kinds, memo)

    def _pay(self, key: str, op: str, payer: str, shop: str, amount: int,
             kinds: tuple[str, ...], memo: str) -> dict[str, Any]:
        payee = shop_account(shop)
        amount = _checked_amount(amount)
        kinds = _checked_kinds(kinds)

        def apply(conn: sqlite3.Connection, now: dt.datetime) -> dict[str, Any]:
            src = self._account(conn, payer)
            if src["role"] == "town":
                raise UnknownAccount("町の口座からは支払えません", "town accounts do not pay")
            self._account(conn, payee, "shop")
            if payer == payee:
                raise BadAmount("自分には支払えません", "an account cannot pay itself")
            if op == "pay":
                seq = self._begin_txn(conn, now, "payment", payer, payee, amount, memo=memo)
                self._take(conn, seq, payer, payee, amount, kinds, now)
            else:
                seq = self._begin_txn(conn, now, "hold", payer, payee, amount, memo=memo,
                                      status="pending")
                self._take(conn, seq, payer, HOLDS, amount, kinds, now)
            return self._result(conn, seq)
        return self._once(key, op, {"payer": payer, "shop": shop, "amount": amount,
                                    "kinds": list(kinds), "memo": memo}, apply)

    def post(self, key: str, hold_id: str) -> dict[str, Any]:
        """The shop confirms a pending payment: the held lots go to the shop."""
        return self._settle_hold(key, hold_id, "capture")

    def void(self, key: str, hold_id: str) -> dict[str, Any]:
        """A pending payment is cancelled: the held lots go back to the payer."""
        return self._settle_hold(key, hold_id, "void")

    def _settle_hold(self, key: str, hold_id: str, kind: str) -> dict[str, Any]:
        def apply(conn: sqlite3.Connection, now: dt.datetime) -> dict[str, Any]:
            hold = conn.execute("SELECT * FROM transactions WHERE id = ? AND kind = 'hold'",
                                (hold_id,)).fetchone()
            if hold is None:
                raise UnknownTransaction("確定待ちの支払いが見つかりません",
                                         f"no pending payment {hold_id}")
            if hold["status"] != "pending":
                raise InvalidState("この支払いは確定または取消し済みです",
                                   f"the payment is already {hold['status']}")
            dst = hold["payee"] if kind == "capture" else hold["payer"]
            seq = self._begin_txn(conn, now, kind, HOLDS, dst, hold["amount"], ref=hold_id)
            for leg in conn.execute("SELECT lot, amount FROM postings WHERE txn = ? AND "
                                    "account = ? ORDER BY rowid", (hold["seq"], HOLDS)):
                self._move(conn, seq, HOLDS, dst, leg["lot"], leg["amount"])
            conn.execute("UPDATE transactions SET status = ? WHERE seq = ?",
                         ("posted" if kind == "capture" else "voided", hold["seq"]))
            return self._result(conn, seq)
        return self._once(key, kind, {"hold": hold_id}, apply)

    def refund(self, key: str, payment_id: str, amount: int, memo: str = "") -> dict[str, Any]:
        """The shop gives back (part of) a payment, in the very lots it was paid with."""
        amount = _checked_amount(amount)

        def apply(conn: sqlite3.Connection, now: dt.datetime) -> dict[str, Any]:
            paid = conn.execute("SELECT * FROM transactions WHERE id = ?",
                                (payment_id,)).fetchone()
            if paid is not None and paid["kind"] == "hold":
                paid = conn.execute("SELECT * FROM transactions WHERE ref = ? AND "
                                    "kind = 'capture'", (payment_id,)).fetchone()
            if paid is None or paid["kind"] not in ("payment", "capture"):
                raise UnknownTransaction("返金できる支払いが見つかりません",
                                         f"no posted payment {payment_id}")
            shop = paid["payee"]
            payer = (paid["payer"] if paid["kind"] == "payment" else conn.execute(
                "SELECT payer FROM transactions WHERE id = ?", (paid["ref"],)).fetchone()[0])
            left = {r["lot"]: r["amount"] for r in conn.execute(
                "SELECT lot, sum(amount) AS amount FROM postings WHERE txn = ? AND account = ? "
                "GROUP BY lot ORDER BY min(rowid)", (paid["seq"], shop))}
            for r in conn.execute(
                    "SELECT p.lot, p.amount FROM postings p JOIN transactions t ON "
                    "t.seq = p.txn WHERE t.kind = 'refund' AND t.ref = ? AND p.account = ?",
                    (paid["id"], payer)):
                left[r["lot"]] -= r["amount"]
            if sum(left.values()) < amount:
                raise InvalidState("支払われた金額を超えて返金はできません",
                                   "a refund cannot exceed what is left of the payment")
            seq = self._begin_txn(conn, now, "refund", shop, payer, amount, ref=paid["id"],
                                  memo=memo)
            rest = amount
            for lot, can in left.items():
                part = min(rest, can)
                if part <= 0:
                    continue
                have = conn.execute("SELECT amount FROM balances WHERE account = ? AND lot = ?",
                                    (shop, lot)).fetchone()
                if have is None or have[0] < part:
                    raise InsufficientFunds(
                        "お店の残高が足りません（換金済みの分は現金で返金してください）",
                        "the shop's balance is too low (refund settled sales in cash)")
                self._move(conn, seq, shop, payer, lot, part)
                rest -= part
            return self._result(conn, seq)
        return self._once(key, "refund", {"payment": payment_id, "amount": amount,
                                          "memo": memo}, apply)

    def expire(self, key: str, as_of: dt.date) -> dict[str, Any]:
        """Move residents' lots whose expirationDateOfMoney is before `as_of` to the town's
        expired account (one transaction). Shops' lots do not expire: they are settled."""
        def apply(conn: sqlite3.Connection, now: dt.datetime) -> dict[str, Any]:
            legs = conn.execute(
                "SELECT b.account, b.lot, b.amount FROM balances b "
                "JOIN lots l ON l.code = b.lot JOIN accounts a ON a.id = b.account "
                "WHERE a.role = 'resident' AND b.amount > 0 AND l.expires < ? "
                "ORDER BY b.account, b.lot", (as_of.isoformat(),)).fetchall()
            total = sum(leg["amount"] for leg in legs)
            if total == 0:
                return {"id": None, "kind": "expire", "amount": 0, "postings": []}
            seq = self._begin_txn(conn, now, "expire", "town:residents", EXPIRED, total,
                                  memo=f"expirationDateOfMoney < {as_of.isoformat()}")
            for leg in legs:
                self._move(conn, seq, leg["account"], EXPIRED, leg["lot"], leg["amount"])
            return self._result(conn, seq)
        return self._once(key, "expire", {"as_of": as_of.isoformat()}, apply)

    def settle(self, key: str, shop: str) -> dict[str, Any]:
        """Settle a shop's whole balance (the town pays it in yen): a statement and a
        transaction from the shop to the town's redeemed account."""
        account = shop_account(shop)

        def apply(conn: sqlite3.Connection, now: dt.datetime) -> dict[str, Any]:
            self._account(conn, account, "shop")
            legs = conn.execute("SELECT lot, amount FROM balances WHERE account = ? AND "
                                "amount > 0 ORDER BY lot", (account,)).fetchall()
            total = sum(leg["amount"] for leg in legs)
            if total == 0:
                raise InvalidState("換金する残高がありません", "nothing to settle")
            after = conn.execute("SELECT coalesce(max(txn), 0) FROM statements WHERE shop = ?",
                                 (account,)).fetchone()[0]
            seq = self._begin_txn(conn, now, "settle", account, REDEEMED, total)
            for leg in legs:
                self._move(conn, seq, account, REDEEMED, leg["lot"], leg["amount"])
            result = self._result(conn, seq)
            conn.execute("INSERT INTO statements(id, shop, txn, after_seq, amount, at) "
                         "VALUES (?,?,?,?,?,?)",
                         (result["id"], account, seq, after, total, now.isoformat()))
            return result
        return self._once(key, "settle", {"shop": shop}, apply)

    def close_day(self, day: dt.date) -> dict[str, Any]:
        """Freeze a past business day (JST): its totals by transaction kind and the closing
        balances. Closing again returns the same totals; no transaction may land on it."""
        def apply(conn: sqlite3.Connection, now: dt.datetime) -> dict[str, Any]:
            if day >= now.astimezone(JST).date():
                raise InvalidState("締められるのは昨日までです", "only past days can be closed")
            prior = conn.execute("SELECT max(day) FROM closes").fetchone()[0]
            if prior is not None and day.isoformat() <= prior:
                raise InvalidState(f"{prior} まで締め済みです", f"closed up to {prior}")
            totals = day_totals(conn, day.isoformat())
            conn.execute("INSERT INTO closes(day, totals, at) VALUES (?,?,?)",
                         (day.isoformat(), orjson.dumps(totals).decode(), now.isoformat()))
            return totals
        return self._once(f"close:{day.isoformat()}", "close", {"day": day.isoformat()}, apply)

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on the service's own tables (payment requests, shop staff)."""
        with self._write() as conn:
            yield conn

    def pseudonymise(self, resident: str) -> str:
        """Erasure: the resident's account keeps its entries (accounting records are kept
        for the statutory period) under a random pseudonym; returns the pseudonym."""
        old = resident_account(resident)
        new = "resident:erased-" + uuid.uuid4().hex[:16]
        with self._write() as conn:
            self._account(conn, old, "resident")
            conn.execute("INSERT INTO accounts(id, role, name, local, opened, erased) "
                         "SELECT ?, role, '', local, opened, ? FROM accounts WHERE id = ?",
                         (new, self.clock().isoformat(), old))
            for table, column in (("balances", "account"), ("postings", "account"),
                                  ("transactions", "payer"), ("transactions", "payee")):
                conn.execute(f"UPDATE {table} SET {column} = ? WHERE {column} = ?", (new, old))
            conn.execute("UPDATE requests SET result = replace(result, ?, ?)",
                         (f'"{old}"', f'"{new}"'))
            conn.execute("UPDATE requests SET key = ? || substr(key, ?) WHERE "
                         "substr(key, 1, ?) = ?", (new + "|", len(old) + 2, len(old) + 1,
                                                   old + "|"))  # the API's per-caller keys
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if "pay_requests" in tables:  # the counter's tables, in the same database
                conn.execute("UPDATE pay_requests SET payer = ? WHERE payer = ?", (new, old))
                conn.execute("DELETE FROM shop_staff WHERE resident = ?", (resident,))
            conn.execute("DELETE FROM accounts WHERE id = ?", (old,))
        return new

    # --- reading --------------------------------------------------------------------------
    def history(self, account: str, limit: int = 50) -> list[dict[str, Any]]:
        """The account's latest transactions, newest first, with the net effect on it."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT t.*, sum(p.amount) AS net, a.name AS other_name FROM postings p "
                "JOIN transactions t ON t.seq = p.txn LEFT JOIN accounts a ON a.id = "
                "(CASE WHEN t.payer = ? THEN t.payee ELSE t.payer END) "
                "WHERE p.account = ? GROUP BY t.seq ORDER BY t.seq DESC LIMIT ?",
                (account, account, limit)).fetchall()
        return [{"id": r["id"], "kind": r["kind"], "status": r["status"], "at": r["at"],
                 "day": r["day"], "amount": r["amount"], "net": r["net"], "memo": r["memo"],
                 "other": r["payee"] if r["payer"] == account else r["payer"],
                 "otherName": r["other_name"] or ""} for r in rows]

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """A consistent read-only view (one SQLite read transaction)."""
        with self._read() as conn:
            yield conn

    def balance(self, account: str) -> dict[str, Any]:
        """An account's balance: total by kind and the lots with their expiry."""
        with self._read() as conn:
            self._account(conn, account)
            return balance_of(conn, account)

    def transaction(self, txn_id: str) -> dict[str, Any]:
        with self._read() as conn:
            row = conn.execute("SELECT seq FROM transactions WHERE id = ?", (txn_id,)).fetchone()
            if row is None:
                raise UnknownTransaction("取引が見つかりません", f"no transaction {txn_id}")
            return self._result(conn, row["seq"])

    def totals(self) -> dict[str, int]:
        with self._read() as conn:
            return ledger_totals(conn)


def balance_of(conn: sqlite3.Connection, account: str) -> dict[str, Any]:
    lots = conn.execute(
        "SELECT b.lot, b.amount, l.kind, l.expires FROM balances b JOIN lots l ON "
        "l.code = b.lot WHERE b.account = ? AND b.amount != 0 "
        "ORDER BY l.expires IS NULL, l.expires, l.kind", (account,)).fetchall()
    by_kind = {k: sum(r["amount"] for r in lots if r["kind"] == k) for k in KINDS}
    return {"account": account, "total": sum(by_kind.values()), "byKind": by_kind,
            "lots": [{"lot": r["lot"], "kind": r["kind"], "amount": r["amount"],
                      "expirationDateOfMoney": r["expires"]} for r in lots]}


def ledger_totals(conn: sqlite3.Connection) -> dict[str, int]:
    """issued, expired, redeemed (settled), held (pending payments), residents, shops, and
    `imbalance` (the sum of every posting: always 0)."""
    def total(where: str, *args: str) -> int:
        return int(conn.execute(f"SELECT coalesce(sum(b.amount), 0) FROM balances b JOIN "
                                f"accounts a ON a.id = b.account WHERE {where}",
                                args).fetchone()[0])
    return {
        "issued": -total("a.id = ?", ISSUED),
        "expired": total("a.id = ?", EXPIRED),
        "redeemed": total("a.id = ?", REDEEMED),
        "held": total("a.id = ?", HOLDS),
        "residents": total("a.role = 'resident'"),
        "shops": total("a.role = 'shop'"),
        "imbalance": int(conn.execute("SELECT coalesce(sum(amount), 0) FROM postings"
                                      ).fetchone()[0]),
    }


def day_totals(conn: sqlite3.Connection, day: str) -> dict[str, Any]:
    """A business day's count and amount per transaction kind, and the balances after it."""
    kinds = {r["kind"]: {"count": r["n"], "amount": r["amount"]} for r in conn.execute(
        "SELECT kind, count(*) AS n, sum(amount) AS amount FROM transactions WHERE day = ? "
        "GROUP BY kind ORDER BY kind", (day,))}
    closing = {r["role"]: r["amount"] for r in conn.execute(
        "SELECT a.role AS role, coalesce(sum(p.amount), 0) AS amount FROM postings p "
        "JOIN transactions t ON t.seq = p.txn JOIN accounts a ON a.id = p.account "
        "WHERE t.day <= ? AND a.role != 'town' GROUP BY a.role", (day,))}
    return {"day": day, "byKind": kinds,
            "closing": {"residents": closing.get("resident", 0),
                        "shops": closing.get("shop", 0)}}


def ledger_path(data_dir: Path) -> Path:
    """Where the service keeps its ledger: its own database under the platform's data dir."""
    return data_dir / "services" / "wallet" / "ledger.db"
