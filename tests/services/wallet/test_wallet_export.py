"""`cityos wallet export --format beancount`: bean-check accepts it, and beancount's own
balances (recomputed from the postings) equal the ledger's — an independent check."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from beancount import loader
from beancount.core import realization
from typer.testing import CliRunner

from cityos.cli import app
from cityos.services.wallet.errors import WalletError
from cityos.services.wallet.export import bean_account
from cityos.services.wallet.ledger import JST, Ledger, ledger_path

BEAN_CHECK = Path(sys.executable).with_name("bean-check")


def _busy_town(data_dir: Path) -> Ledger:
    """A month of random activity in a town of 12 residents and 4 shops."""
    now = [dt.datetime(2027, 5, 1, 9, tzinfo=JST)]
    book = Ledger(ledger_path(data_dir), clock=lambda: now[0])
    rnd = random.Random(24)
    shops = ["yaoya", "sakanaya", "kissa", "depato"]
    for s in shops:
        book.open_shop(f"o-{s}", s, s, local=s != "depato")
    payments: list[str] = []
    for n in range(400):
        now[0] += dt.timedelta(hours=rnd.randint(0, 3))
        who = f"urn:ngsi-ld:Person:{rnd.randint(1, 12)}"
        kind = rnd.random()
        try:
            if kind < 0.25:
                book.issue(f"k{n}", who, rnd.randint(100, 5000), rnd.choice(["money", "points"]),
                           now[0].date() + dt.timedelta(days=rnd.choice([2, 10, 60])))
            elif kind < 0.75:
                payments.append(book.pay(f"k{n}", "resident:" + who, rnd.choice(shops),
                                         rnd.randint(50, 2000))["id"])
            elif kind < 0.85 and payments:
                book.refund(f"k{n}", rnd.choice(payments), rnd.randint(1, 50))
            elif kind < 0.9:
                hold = book.hold(f"k{n}", "resident:" + who, rnd.choice(shops), 300)
                (book.post if rnd.random() < 0.7 else book.void)(f"c{n}", hold["id"])
            elif kind < 0.95:
                book.expire(f"k{n}", now[0].date())
            else:
                book.settle(f"k{n}", rnd.choice(shops))
        except WalletError:
            pass
    book.issue("last", "urn:ngsi-ld:Person:1", 10, "money", None)
    book.hold("pending", "resident:urn:ngsi-ld:Person:1", "kissa", 5)  # left pending
    return book


def test_bean_check_accepts_the_export_and_balances_match(tmp_path: Path) -> None:
    book = _busy_town(tmp_path)
    out = tmp_path / "town.beancount"
    result = CliRunner().invoke(app, ["wallet", "export", "--data-dir", str(tmp_path),
                                      "--format", "beancount", "--output", str(out)])
    assert result.exit_code == 0, result.output
    checked = subprocess.run([str(BEAN_CHECK), str(out)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    entries, errors, _ = loader.load_file(str(out))
    assert errors == []
    real = realization.realize(entries)
    with book.reading() as conn:
        accounts = conn.execute("SELECT id, role FROM accounts").fetchall()
    compared = 0
    for account, role in accounts:
        node = realization.get(real, bean_account(account, role))
        theirs = {} if node is None else {
            pos.units.currency: pos.units.number for pos in node.balance}
        ours = {lot["lot"]: Decimal(lot["amount"]) for lot in book.balance(account)["lots"]}
        assert {k: v for k, v in theirs.items() if v} == ours, account
        compared += 1
    assert compared >= 12
    totals = book.totals()
    assert totals["issued"] > totals["redeemed"] > 0 and totals["expired"] > 0


def test_bean_check_catches_a_tampered_balance(tmp_path: Path) -> None:
    book = _busy_town(tmp_path)
    book.close()
    with sqlite3.connect(ledger_path(tmp_path)) as conn:  # the running balance drifts
        conn.execute("UPDATE balances SET amount = amount + 1 WHERE account = "
                     "(SELECT account FROM balances WHERE account LIKE 'resident:%' "
                     "AND amount > 0 LIMIT 1) AND amount > 0")
    out = tmp_path / "town.beancount"
    CliRunner().invoke(app, ["wallet", "export", "--data-dir", str(tmp_path), "--output",
                             str(out)])
    checked = subprocess.run([str(BEAN_CHECK), str(out)], capture_output=True, text=True)
    assert checked.returncode != 0
    assert "Balance failed" in checked.stdout + checked.stderr


def test_the_commands_print_totals_circulation_and_close(tmp_path: Path) -> None:
    import orjson

    book = _busy_town(tmp_path)
    expected = book.totals()
    book.close()
    run = CliRunner().invoke
    totals = run(app, ["wallet", "totals", "--data-dir", str(tmp_path)])
    assert totals.exit_code == 0 and orjson.loads(totals.output) == expected
    month = run(app, ["wallet", "circulation", "--data-dir", str(tmp_path), "--month",
                      "2027-05"])
    assert 0 < orjson.loads(month.output)["share"] < 1
    closed = run(app, ["wallet", "close", "--data-dir", str(tmp_path), "--day", "2026-11-02"])
    assert closed.exit_code == 0 and orjson.loads(closed.output)["day"] == "2026-11-02"
    again = run(app, ["wallet", "close", "--data-dir", str(tmp_path), "--day", "2026-11-01"])
    assert again.exit_code == 1  # an earlier day than the last close
    missing = run(app, ["wallet", "totals", "--data-dir", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
