"""The wallet ledger's own SQLite database: schema and connection settings.

The ledger is the service's own system (docs/decisions/0013-wallet-ledger.md): WAL with
synchronous=FULL so that a committed transaction survives a crash or a power cut.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts(
  id TEXT PRIMARY KEY,               -- resident:<id>, shop:<id>, town:<role>
  role TEXT NOT NULL CHECK (role IN ('resident', 'shop', 'town')),
  name TEXT NOT NULL DEFAULT '',
  local INTEGER NOT NULL DEFAULT 1,  -- shops: run in town (the circulation metric)
  opened TEXT NOT NULL,
  erased TEXT                        -- set when the resident's identity was pseudonymised
);
CREATE TABLE IF NOT EXISTS lots(
  code TEXT PRIMARY KEY,             -- MONEY-20271231, POINTS-20270331, MONEY
  kind TEXT NOT NULL CHECK (kind IN ('money', 'points')),
  expires TEXT                       -- expirationDateOfMoney: last day it can be spent (JST)
);
CREATE TABLE IF NOT EXISTS balances(
  account TEXT NOT NULL REFERENCES accounts(id),
  lot TEXT NOT NULL REFERENCES lots(code),
  amount INTEGER NOT NULL,
  holder INTEGER NOT NULL,           -- 1: may never go below zero
  PRIMARY KEY (account, lot),
  CHECK (holder = 0 OR amount >= 0)
);
CREATE TABLE IF NOT EXISTS transactions(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,                -- issue payment hold capture void refund expire settle
  status TEXT NOT NULL,              -- posted, or for holds: pending -> posted | voided
  payer TEXT NOT NULL,
  payee TEXT NOT NULL,
  amount INTEGER NOT NULL CHECK (amount >= 0),
  ref TEXT,                          -- the hold a capture/void closes, the payment refunded
  memo TEXT NOT NULL DEFAULT '',
  at TEXT NOT NULL,                  -- UTC, ISO 8601
  day TEXT NOT NULL                  -- the business day in JST
);
CREATE INDEX IF NOT EXISTS transactions_payer ON transactions(payer, seq);
CREATE INDEX IF NOT EXISTS transactions_payee ON transactions(payee, seq);
CREATE INDEX IF NOT EXISTS transactions_ref ON transactions(ref);
CREATE INDEX IF NOT EXISTS transactions_day ON transactions(day);
CREATE TABLE IF NOT EXISTS postings(
  txn INTEGER NOT NULL REFERENCES transactions(seq),
  account TEXT NOT NULL REFERENCES accounts(id),
  lot TEXT NOT NULL REFERENCES lots(code),
  amount INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS postings_txn ON postings(txn);
CREATE INDEX IF NOT EXISTS postings_account ON postings(account, txn);
CREATE TABLE IF NOT EXISTS requests(  -- idempotency keys: one result per key, for ever
  key TEXT PRIMARY KEY,
  op TEXT NOT NULL,
  digest TEXT NOT NULL,
  result TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS statements(  -- settlements to shops
  id TEXT PRIMARY KEY,
  shop TEXT NOT NULL,
  txn INTEGER NOT NULL REFERENCES transactions(seq),
  after_seq INTEGER NOT NULL,        -- the previous settlement's transaction (0: none)
  amount INTEGER NOT NULL,
  at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS closes(  -- the daily close: totals of a business day, frozen
  day TEXT PRIMARY KEY,
  totals TEXT NOT NULL,
  at TEXT NOT NULL
);
"""

TOWN_ACCOUNTS = {
    "town:issued": ("発行", "Issued", 0),       # the source of every yen and point
    "town:expired": ("失効", "Expired", 0),     # expirationDateOfMoney passed
    "town:redeemed": ("換金済み", "Settled to shops", 0),
    "town:holds": ("確定待ち", "Pending payments", 1),  # two-phase payments in flight
}


def connect(path: Path) -> sqlite3.Connection:
    """Open (and create) the ledger database; blocking."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=60.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=60000")
    conn.execute("BEGIN IMMEDIATE")
    for statement in SCHEMA.split(";\n"):
        if statement.strip():
            conn.execute(statement)
    for account, (_ja, en, _holder) in TOWN_ACCOUNTS.items():
        conn.execute("INSERT OR IGNORE INTO accounts(id, role, name, opened) "
                     "VALUES (?, 'town', ?, '')", (account, en))
    conn.execute("COMMIT")
    return conn
