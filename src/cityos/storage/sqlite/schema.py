"""SQLite schema and its migrations, applied in order and recorded in `PRAGMA user_version`.

Never edit a shipped migration: append a new one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str | tuple[str, ...]] = [
    # 1: entities, their types, the geo index, tenants, small documents
    """
    CREATE TABLE tenants (
        name TEXT PRIMARY KEY,
        created_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE entities (
        rid INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        id TEXT NOT NULL,
        doc BLOB NOT NULL,
        UNIQUE (tenant, id)
    );
    CREATE TABLE entity_types (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        rid INTEGER NOT NULL,
        PRIMARY KEY (tenant, type, rid)
    ) WITHOUT ROWID;
    CREATE INDEX entity_types_by_rid ON entity_types (rid);
    CREATE VIRTUAL TABLE geo_rtree USING rtree (gid, minx, maxx, miny, maxy, +attr TEXT);
    CREATE TABLE kv (
        space TEXT NOT NULL,
        key TEXT NOT NULL,
        value BLOB NOT NULL,
        PRIMARY KEY (space, key)
    ) WITHOUT ROWID;
    """,
    # 2: entities in creation order per tenant (the (tenant, id) index orders by id)
    """
    CREATE INDEX entities_by_tenant ON entities (tenant);
    """,
    # 3: append-only hash-chained logs (audit trail); statements listed one by one because
    # the triggers hold semicolons
    (
        """
        CREATE TABLE logs (
            log TEXT NOT NULL,
            seq INTEGER NOT NULL,
            body BLOB NOT NULL,
            hash TEXT NOT NULL,
            PRIMARY KEY (log, seq)
        ) WITHOUT ROWID
        """,
        """
        CREATE TRIGGER logs_no_update BEFORE UPDATE ON logs
        BEGIN SELECT RAISE(ABORT, 'logs are append-only'); END
        """,
        """
        CREATE TRIGGER logs_no_delete BEFORE DELETE ON logs
        BEGIN SELECT RAISE(ABORT, 'logs are append-only'); END
        """,
    ),
    # 4: each log entry names its predecessor's hash, so that verification can tell a deleted
    # record from a reordered one
    """
    ALTER TABLE logs ADD COLUMN prev TEXT;
    """,
]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the database to the newest schema; returns the version reached. Blocking."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema {version} is newer than this cityos ({len(MIGRATIONS)}): upgrade cityos")
    for number in range(version, len(MIGRATIONS)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            migration = MIGRATIONS[number]
            statements = migration.split(";") if isinstance(migration, str) else migration
            for statement in statements:
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)
