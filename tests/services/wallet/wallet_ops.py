"""Ledger requests as plain JSON ops, run in the test process, in threads, or in a worker
process that the state-machine test kills with SIGKILL.

Worker: `python wallet_ops.py LEDGER CLOCK_ISO` reads one JSON op per stdin line and prints
`ok N` (or `refused N`) after each, flushed, so the test knows how far it got.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import orjson

from cityos.services.wallet.errors import WalletError
from cityos.services.wallet.ledger import Ledger


def run_op(ledger: Ledger, op: dict[str, Any]) -> dict[str, Any] | WalletError:
    """Apply one op; a refusal is returned, not raised."""
    key, name, a = op["key"], op["op"], op["args"]
    try:
        if name == "issue":
            return ledger.issue(key, a["resident"], a["amount"], a["kind"],
                                dt.date.fromisoformat(a["expires"]))
        if name == "pay":
            return ledger.pay(key, a["payer"], a["shop"], a["amount"])
        if name == "hold":
            return ledger.hold(key, a["payer"], a["shop"], a["amount"])
        if name == "post":
            return ledger.post(key, a["hold"])
        if name == "void":
            return ledger.void(key, a["hold"])
        if name == "refund":
            return ledger.refund(key, a["payment"], a["amount"])
        if name == "expire":
            return ledger.expire(key, dt.date.fromisoformat(a["as_of"]))
        if name == "settle":
            return ledger.settle(key, a["shop"])
    except WalletError as exc:
        return exc
    raise ValueError(name)


def main() -> None:
    path, clock = Path(sys.argv[1]), dt.datetime.fromisoformat(sys.argv[2])
    ledger = Ledger(path, clock=lambda: clock)
    for n, line in enumerate(sys.stdin):
        result = run_op(ledger, orjson.loads(line))
        sys.stdout.write(f"{'refused' if isinstance(result, WalletError) else 'ok'} {n}\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
