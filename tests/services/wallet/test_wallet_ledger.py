"""The ledger's rules, one by one: idempotency, no negative balance, two-phase payments,
refunds in the lots paid, expiry, settlement and the daily close."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cityos.services.wallet.errors import (
    BadAmount,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidState,
    UnknownAccount,
)
from cityos.services.wallet.ledger import JST, Ledger
from cityos.services.wallet.reports import statement, statement_csv

NOW = dt.datetime(2027, 4, 1, 10, 0, tzinfo=JST)
HANAKO = "resident:hanako"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(tmp_path: Path, clock: Clock) -> Ledger:
    book = Ledger(tmp_path / "ledger.db", clock=clock)
    book.open_shop("o1", "yaoya", "八百屋")
    book.issue("i1", "hanako", 3000, "money", dt.date(2027, 12, 31))
    book.issue("i2", "hanako", 500, "points", dt.date(2027, 6, 30))
    return book


def test_a_retried_payment_pays_once(ledger: Ledger) -> None:
    first = ledger.pay("p1", HANAKO, "yaoya", 800)
    again = ledger.pay("p1", HANAKO, "yaoya", 800)
    assert again == first
    assert ledger.balance(HANAKO)["total"] == 3500 - 800


def test_the_same_key_with_another_body_is_refused(ledger: Ledger) -> None:
    ledger.pay("p1", HANAKO, "yaoya", 800)
    with pytest.raises(IdempotencyConflict) as err:
        ledger.pay("p1", HANAKO, "yaoya", 900)
    assert err.value.status == 409
    assert ledger.balance(HANAKO)["total"] == 2700


def test_points_that_expire_first_are_spent_first(ledger: Ledger) -> None:
    paid = ledger.pay("p1", HANAKO, "yaoya", 700)
    spent = {p["lot"]: -p["amount"] for p in paid["postings"] if p["account"] == HANAKO}
    assert spent == {"POINTS-20270630": 500, "MONEY-20271231": 200}


def test_no_balance_goes_below_zero(ledger: Ledger) -> None:
    with pytest.raises(InsufficientFunds):
        ledger.pay("p1", HANAKO, "yaoya", 3501)
    assert ledger.balance(HANAKO)["total"] == 3500
    # a failed request leaves its key free: the retry after a top-up goes through
    ledger.issue("i3", "hanako", 1, "money", dt.date(2027, 12, 31))
    assert ledger.pay("p1", HANAKO, "yaoya", 3501)["amount"] == 3501


def test_money_only_payment_leaves_the_points(ledger: Ledger) -> None:
    ledger.pay("p1", HANAKO, "yaoya", 3000, kinds=("money",))
    assert ledger.balance(HANAKO)["byKind"] == {"money": 0, "points": 500}


@pytest.mark.parametrize("amount", [0, -5, 1.5, True, 10_000_001, "100"])
def test_bad_amounts_are_refused(ledger: Ledger, amount: object) -> None:
    with pytest.raises(BadAmount):
        ledger.pay("p1", HANAKO, "yaoya", amount)  # type: ignore[arg-type]


def test_paying_an_unknown_shop_is_refused(ledger: Ledger) -> None:
    with pytest.raises(UnknownAccount):
        ledger.pay("p1", HANAKO, "nowhere", 100)


def test_a_pending_payment_is_posted_once_or_voided(ledger: Ledger) -> None:
    hold = ledger.hold("h1", HANAKO, "yaoya", 1000)
    assert hold["status"] == "pending"
    assert ledger.balance(HANAKO)["total"] == 2500
    assert ledger.totals()["held"] == 1000
    ledger.post("c1", hold["id"])
    assert ledger.transaction(hold["id"])["status"] == "posted"
    assert ledger.balance("shop:yaoya")["total"] == 1000
    with pytest.raises(InvalidState):
        ledger.void("v1", hold["id"])
    other = ledger.hold("h2", HANAKO, "yaoya", 1000)
    ledger.void("v2", other["id"])
    assert ledger.balance(HANAKO)["total"] == 2500
    assert ledger.totals()["held"] == 0


def test_refunds_return_the_lots_paid_and_never_more(ledger: Ledger) -> None:
    paid = ledger.pay("p1", HANAKO, "yaoya", 700)
    back = ledger.refund("r1", paid["id"], 600)
    got = {p["lot"]: p["amount"] for p in back["postings"] if p["account"] == HANAKO}
    assert got == {"POINTS-20270630": 500, "MONEY-20271231": 100}
    with pytest.raises(InvalidState):
        ledger.refund("r2", paid["id"], 101)
    ledger.refund("r3", paid["id"], 100)
    assert ledger.balance(HANAKO)["total"] == 3500


def test_expired_money_cannot_be_spent_and_is_moved_out(ledger: Ledger, clock: Clock) -> None:
    clock.now = dt.datetime(2027, 7, 1, 9, 0, tzinfo=JST)
    with pytest.raises(InsufficientFunds):
        ledger.pay("p1", HANAKO, "yaoya", 3001)
    moved = ledger.expire("e1", dt.date(2027, 7, 1))
    assert moved["amount"] == 500
    assert ledger.balance(HANAKO)["byKind"] == {"money": 3000, "points": 0}
    assert ledger.expire("e1", dt.date(2027, 7, 1)) == moved  # a re-run is the same run
    t = ledger.totals()
    assert (t["issued"], t["expired"]) == (3500, 500)


def test_settlement_statement_lists_what_is_settled(ledger: Ledger) -> None:
    a = ledger.pay("p1", HANAKO, "yaoya", 700)
    ledger.pay("p2", HANAKO, "yaoya", 300)
    ledger.refund("r1", a["id"], 200)
    settled = ledger.settle("s1", "yaoya")
    assert settled["amount"] == 800
    with ledger.reading() as conn:
        st = statement(conn, settled["id"])
    assert [line["amount"] for line in st["lines"]] == [700, 300, -200]
    assert st["linesTotal"] == st["amount"] == 800
    text = statement_csv(st)
    assert "八百屋" in text and text.rstrip().endswith("800")
    with pytest.raises(InvalidState):
        ledger.settle("s2", "yaoya")
    # the next statement starts after this one
    ledger.pay("p3", HANAKO, "yaoya", 50)
    second = ledger.settle("s3", "yaoya")
    with ledger.reading() as conn:
        assert statement(conn, second["id"])["linesTotal"] == 50


def test_a_closed_day_keeps_its_totals(ledger: Ledger, clock: Clock) -> None:
    ledger.pay("p1", HANAKO, "yaoya", 700)
    with pytest.raises(InvalidState):
        ledger.close_day(NOW.date())  # the day is not over
    clock.now = NOW + dt.timedelta(days=1)
    closed = ledger.close_day(NOW.date())
    assert closed["byKind"]["payment"] == {"count": 1, "amount": 700}
    assert closed["byKind"]["issue"] == {"count": 2, "amount": 3500}
    assert closed["closing"] == {"residents": 2800, "shops": 700}
    assert ledger.close_day(NOW.date()) == closed
    clock.now = NOW  # a clock set back cannot write into a closed day
    with pytest.raises(InvalidState):
        ledger.pay("p2", HANAKO, "yaoya", 1)


def test_erasure_keeps_the_entries_under_a_pseudonym(ledger: Ledger) -> None:
    paid = ledger.pay("p1", HANAKO, "yaoya", 700)
    before = ledger.totals()
    alias = ledger.pseudonymise("hanako")
    assert alias.startswith("resident:erased-")
    assert ledger.totals() == before  # the books still balance, amounts kept
    with pytest.raises(UnknownAccount):
        ledger.balance(HANAKO)
    assert ledger.balance(alias)["total"] == 2800
    kept = ledger.transaction(paid["id"])
    assert kept["payer"] == alias and "hanako" not in str(kept)
    with ledger.reading() as conn:
        stored = " ".join(r[0] for r in conn.execute("SELECT result FROM requests"))
    assert "resident:hanako" not in stored


def test_erasure_also_renames_the_callers_idempotency_keys(ledger: Ledger) -> None:
    ledger.pay(f"{HANAKO}|tap-1", HANAKO, "yaoya", 100)
    alias = ledger.pseudonymise("hanako")
    with ledger.reading() as conn:
        keys = {r[0] for r in conn.execute("SELECT key FROM requests")}
    assert f"{alias}|tap-1" in keys and not any("hanako" in k for k in keys)
