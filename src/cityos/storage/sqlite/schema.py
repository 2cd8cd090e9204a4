"""SQLite schema and its migrations, applied in order and recorded in `PRAGMA user_version`.

Never edit a shipped migration: append a new one.
"""

from __future__ import annotations

import sqlite3

# an entity's attribute values as rows of `attr_values` (migration 13); a plain number or
# string (JSON integer, real, text) is kept, anything else is NULL
_VALUES_OF = """
        SELECT {rid}, a.key, i.key,
               CASE i.type WHEN 'object' THEN
                   CASE json_type(i.value, '$.value') WHEN 'integer' THEN i.value ->> '$.value'
                   WHEN 'real' THEN i.value ->> '$.value' WHEN 'text' THEN i.value ->> '$.value'
                   END END
        FROM entities e, json_each(CAST({doc} AS TEXT), '$.attrs') a, json_each(a.value) i"""
# the rows of a non-personal entities row (`old`): one key prefix per attribute it has
_DROP_VALUES = """DELETE FROM attr_values WHERE rid = {row}.rid AND attr IN
            (SELECT key FROM json_each(CAST({row}.doc AS TEXT), '$.attrs'))"""

# an entities row's group in `personal_counts` (migration 14): personal or not, and for a
# personal row its subject, category and owner (the reader filter's only inputs)
_GROUP = (("personal", "{e}.subject IS NOT NULL"), ("subject", "coalesce({e}.subject, '')"),
          ("category", "CASE WHEN {e}.subject IS NULL THEN '' ELSE coalesce({e}.category, '') END"),
          ("owner", "CASE WHEN {e}.subject IS NULL THEN '' ELSE coalesce({e}.owner, '') END"))


def _group(e: str) -> str:
    return ", ".join(value.format(e=e) for _, value in _GROUP)


def _in_group(e: str) -> str:
    return " AND ".join(f"{column} = ({value.format(e=e)})" for column, value in _GROUP)


def _in_group_of(rid: str) -> str:
    """`_in_group` of the entities row `rid` (a seek each; the key stays the index's)."""
    return " AND ".join(f"{column} = (SELECT {value.format(e='e')} FROM entities e "
                        f"WHERE e.rid = {rid})" for column, value in _GROUP)


_COUNTED = "(tenant, type, personal, subject, category, owner)"

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
    # 5: attribute history for the temporal API: one row per attribute instance ever written;
    # times in epoch milliseconds (observed_at = observedAt, else modifiedAt) so that
    # aggregation buckets are integer arithmetic; num = the value when it is a number (in the
    # observed_at index, so that numeric aggregation reads the index alone)
    """
    CREATE TABLE attr_instances (
        iid INTEGER PRIMARY KEY,
        tenant TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        attr TEXT NOT NULL,
        dataset_id TEXT,
        instance_id TEXT NOT NULL,
        observed_at INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        modified_at INTEGER NOT NULL,
        kind TEXT NOT NULL,
        num REAL,
        value_json BLOB,
        doc BLOB NOT NULL
    );
    CREATE INDEX attr_instances_by_observed
        ON attr_instances (tenant, entity_id, attr, observed_at, num, kind);
    CREATE INDEX attr_instances_by_modified ON attr_instances (tenant, entity_id, attr, modified_at);
    CREATE UNIQUE INDEX attr_instances_by_id ON attr_instances (tenant, entity_id, instance_id);
    """,
    # 6: the change log (outbox) a write appends to in its own transaction, one row per entity
    # (AUTOINCREMENT: a sequence is never reused once pruned), and each subscription's cursor
    # into it with its delivery counters
    """
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        tenant TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        types BLOB NOT NULL,
        attrs BLOB NOT NULL,
        op TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE TABLE deliveries (
        tenant TEXT NOT NULL,
        subscription TEXT NOT NULL,
        seq INTEGER NOT NULL,
        state BLOB NOT NULL,
        PRIMARY KEY (tenant, subscription)
    ) WITHOUT ROWID;
    """,
    # 7: retention of append-only logs: a log's checkpoint names its last pruned entry (seq and
    # chain hash, so the chain verifies from there); only entries at or below it may be
    # deleted, and a checkpoint only moves forward
    (
        """
        CREATE TABLE log_checkpoints (
            log TEXT PRIMARY KEY,
            seq INTEGER NOT NULL,
            hash TEXT NOT NULL,
            body BLOB NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TRIGGER log_checkpoints_forward BEFORE UPDATE ON log_checkpoints
        WHEN new.seq < old.seq OR new.log != old.log
        BEGIN SELECT RAISE(ABORT, 'log checkpoints only move forward'); END
        """,
        """
        CREATE TRIGGER log_checkpoints_no_delete BEFORE DELETE ON log_checkpoints
        BEGIN SELECT RAISE(ABORT, 'log checkpoints are kept'); END
        """,
        "DROP TRIGGER logs_no_delete",
        """
        CREATE TRIGGER logs_no_delete BEFORE DELETE ON logs
        WHEN old.seq > COALESCE((SELECT seq FROM log_checkpoints WHERE log = old.log), 0)
        BEGIN SELECT RAISE(ABORT, 'logs are append-only'); END
        """,
    ),
    # 8: keys of log entries (the transparency log's tenant+entity → leaf index), written in
    # the transaction that appends the entries
    """
    CREATE TABLE log_keys (
        log TEXT NOT NULL,
        key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (log, key, seq)
    ) WITHOUT ROWID;
    """,
    # 9: history queries by modifiedAt use the (tenant, entity_id, attr) prefix of the observed
    # index and sort one attribute's instances, as createdAt always did; every write was paying
    # a third index on random pages (PATCH -10%, batch upsert -20% CPU; docs/performance.md)
    """
    DROP INDEX IF EXISTS attr_instances_by_modified;
    """,
    # 10: a change-log row keeps the previous instances of the attributes its write updated or
    # deleted (of every attribute, for a deleted entity): notifications with showChanges
    """
    ALTER TABLE changes ADD COLUMN prev BLOB;
    """,
    # 11: personal data (issue 6): a personal entity's subject, category and owner (the writer
    # at creation) on its row (NULL subject: not personal) for the reader filter; the same in
    # personal_entities, kept after deletion for its history and change rows; the types that
    # ever held a personal row (queries over other types keep their plans); consents as grants
    # (recipient first: the filter seeks recipient, subject, category)
    """
    ALTER TABLE entities ADD COLUMN subject TEXT;
    ALTER TABLE entities ADD COLUMN category TEXT;
    ALTER TABLE entities ADD COLUMN owner TEXT;
    CREATE INDEX entities_by_subject ON entities (tenant, subject) WHERE subject IS NOT NULL;
    CREATE TABLE personal_entities (
        tenant TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        category TEXT NOT NULL,
        owner TEXT,
        PRIMARY KEY (tenant, entity_id)
    ) WITHOUT ROWID;
    CREATE INDEX personal_entities_by_subject ON personal_entities (tenant, subject);
    CREATE TABLE personal_types (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        PRIMARY KEY (tenant, type)
    ) WITHOUT ROWID;
    CREATE TABLE grants (
        tenant TEXT NOT NULL,
        recipient TEXT NOT NULL,
        subject TEXT NOT NULL,
        category TEXT NOT NULL,
        purpose TEXT NOT NULL,
        until REAL,
        PRIMARY KEY (tenant, recipient, subject, category, purpose)
    ) WITHOUT ROWID;
    CREATE INDEX grants_by_subject ON grants (tenant, subject);
    """,
    # 12: the reader filter's grant test must seek the grants' primary key, which holds
    # `until` (one seek a row); the planner took grants_by_subject and then the table (two
    # seeks: -25% on a consent-filtered page, bench/consent.py). Erasure scans the grants.
    """
    DROP INDEX IF EXISTS grants_by_subject;
    """,
    # 13: attribute values (the `q` filter's index, storage/sqlite/_values.py): one row per
    # instance of a non-personal entity, its plain number or string `value` (NULL: anything
    # else, left to the exact predicate), keyed by (attribute, rid): the per-row test is one
    # seek, and a changed value is rewritten in place on one page. Triggers drop a row's
    # values when the entity goes or turns personal (found through its document's
    # attributes), and index them when it turns non-personal; writes keep the rest current.
    (
        """
        CREATE TABLE attr_values (
            attr TEXT NOT NULL,
            rid INTEGER NOT NULL,
            n INTEGER NOT NULL,
            val,
            PRIMARY KEY (attr, rid, n)
        ) WITHOUT ROWID
        """,
        f"""
        INSERT INTO attr_values (rid, attr, n, val)
        {_VALUES_OF.format(rid="e.rid", doc="e.doc")} WHERE e.subject IS NULL
        """,
        f"""
        CREATE TRIGGER attr_values_gone AFTER DELETE ON entities WHEN old.subject IS NULL
        BEGIN {_DROP_VALUES.format(row="old")}; END
        """,
        f"""
        CREATE TRIGGER attr_values_personal AFTER UPDATE OF subject ON entities
        WHEN old.subject IS NULL AND new.subject IS NOT NULL
        BEGIN {_DROP_VALUES.format(row="old")}; END
        """,
        f"""
        CREATE TRIGGER attr_values_public AFTER UPDATE OF subject ON entities
        WHEN old.subject IS NOT NULL AND new.subject IS NULL
        BEGIN
            INSERT INTO attr_values (rid, attr, n, val)
            {_VALUES_OF.format(rid="new.rid", doc="new.doc")} WHERE e.rid = new.rid;
        END
        """,
    ),
    # 14: the rows of each type that ever held a personal row, counted by group (personal or
    # not; subject, category, owner): a consent-filtered count of one type sums the groups
    # the reader's clause passes (10,000 group tests for 100,000 rows; bench/consent.py).
    # Triggers keep the counts in the write's own transaction: a count is the number of
    # (entity_types, entities) pairs of its group, whichever of the two tables a statement
    # changes first; a type entering personal_types is counted from its rows at once.
    (
        f"""
        CREATE TABLE personal_counts (
            tenant TEXT NOT NULL,
            type TEXT NOT NULL,
            personal INTEGER NOT NULL,
            subject TEXT NOT NULL,
            category TEXT NOT NULL,
            owner TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY {_COUNTED}
        ) WITHOUT ROWID
        """,
        f"""
        INSERT INTO personal_counts {_COUNTED[:-1]}, n)
        SELECT t.tenant, t.type, {_group("e")}, count(*) FROM personal_types p
        JOIN entity_types t ON t.tenant = p.tenant AND t.type = p.type
        JOIN entities e ON e.rid = t.rid GROUP BY 1, 2, 3, 4, 5, 6
        """,
        f"""
        CREATE TRIGGER personal_counts_type_added AFTER INSERT ON entity_types
        WHEN EXISTS (SELECT 1 FROM personal_types p WHERE p.tenant = new.tenant
                     AND p.type = new.type)
        BEGIN
            INSERT INTO personal_counts {_COUNTED[:-1]}, n)
            SELECT new.tenant, new.type, {_group("e")}, 1 FROM entities e WHERE e.rid = new.rid
            ON CONFLICT {_COUNTED} DO UPDATE SET n = n + 1;
        END
        """,
        f"""
        CREATE TRIGGER personal_counts_type_removed AFTER DELETE ON entity_types
        WHEN EXISTS (SELECT 1 FROM personal_types p WHERE p.tenant = old.tenant
                     AND p.type = old.type)
        BEGIN
            UPDATE personal_counts SET n = n - 1 WHERE tenant = old.tenant AND type = old.type
            AND {_in_group_of("old.rid")};
            DELETE FROM personal_counts WHERE n <= 0 AND tenant = old.tenant AND type = old.type
            AND {_in_group_of("old.rid")};
        END
        """,
        f"""
        CREATE TRIGGER personal_counts_entity_gone AFTER DELETE ON entities
        BEGIN
            UPDATE personal_counts SET n = n - 1 WHERE tenant = old.tenant AND type IN (
                SELECT t.type FROM entity_types t WHERE t.rid = old.rid) AND {_in_group("old")};
            DELETE FROM personal_counts WHERE n <= 0 AND tenant = old.tenant AND type IN (
                SELECT t.type FROM entity_types t WHERE t.rid = old.rid) AND {_in_group("old")};
        END
        """,
        f"""
        CREATE TRIGGER personal_counts_entity_moved AFTER UPDATE OF subject, category, owner
        ON entities
        WHEN old.subject IS NOT new.subject OR old.category IS NOT new.category
             OR old.owner IS NOT new.owner
        BEGIN
            UPDATE personal_counts SET n = n - 1 WHERE tenant = old.tenant AND type IN (
                SELECT t.type FROM entity_types t WHERE t.rid = old.rid) AND {_in_group("old")};
            DELETE FROM personal_counts WHERE n <= 0 AND tenant = old.tenant AND type IN (
                SELECT t.type FROM entity_types t WHERE t.rid = old.rid) AND {_in_group("old")};
            INSERT INTO personal_counts {_COUNTED[:-1]}, n)
            SELECT new.tenant, t.type, {_group("new")}, 1 FROM entity_types t
            WHERE t.rid = new.rid AND EXISTS (SELECT 1 FROM personal_types p
                                              WHERE p.tenant = new.tenant AND p.type = t.type)
            ON CONFLICT {_COUNTED} DO UPDATE SET n = n + 1;
        END
        """,
        f"""
        CREATE TRIGGER personal_counts_type_turned AFTER INSERT ON personal_types
        BEGIN
            INSERT INTO personal_counts {_COUNTED[:-1]}, n)
            SELECT t.tenant, t.type, {_group("e")}, count(*) FROM entity_types t
            JOIN entities e ON e.rid = t.rid WHERE t.tenant = new.tenant AND t.type = new.type
            GROUP BY 1, 2, 3, 4, 5, 6
            ON CONFLICT {_COUNTED} DO UPDATE SET n = excluded.n;
        END
        """,
    ),
    # 15: the reader filter's grant test seeks this covering index, subject first: in the
    # primary key every entry of a recipient's range shares (tenant, recipient), so each
    # comparison of the seek decoded several fields; here most differ at the first (bench:
    # the grant test a row -23%, a consent-filtered page 1.38x -> 1.29x the unfiltered one)
    """
    CREATE INDEX grants_by_subject_first ON grants (subject, category, recipient, tenant,
                                                    purpose, until);
    """,
    # 16: a grant without an end (`until` NULL, most consents: they hold until withdrawn) is
    # a membership test: `(subject, category, recipient, tenant, 1) IN (SELECT ... FROM
    # grants)` probes this index through one cursor for the whole query, where a correlated
    # EXISTS opens its cursor again for every row (SQLite 3.40); the EXISTS stays for grants
    # with an end. The index also serves that EXISTS (covering), so 15's goes.
    """
    ALTER TABLE grants ADD COLUMN forever INTEGER GENERATED ALWAYS AS (until IS NULL) VIRTUAL;
    CREATE INDEX grants_for_readers ON grants (subject, category, recipient, tenant, forever,
                                               purpose, until);
    DROP INDEX grants_by_subject_first;
    """,
    # 17: whether a recipient holds any grant with an end (expired ones included): once per
    # query, so that a reader holding none probes only the IN of 16 and one holding some
    # only the EXISTS (a row tested by both cost 1.45x the unfiltered page, not 1.2-1.3x)
    """
    CREATE INDEX grants_ending ON grants (tenant, recipient) WHERE until IS NOT NULL;
    """,
    # 18: entity deletion without the cost of 14's triggers where no personal type is
    # involved: the entities trigger runs its body only for a personal row or a row of a type
    # that held personal rows, and the entity_types trigger goes (a trigger on a deletion
    # made every `DELETE FROM entity_types` two passes: 5 -> 13 µs an entity deleted); the
    # engine deletes the entities row first and, for a type change, takes the row out of its
    # groups itself (`_personal.uncount_types`)
    (
        """
        DROP TRIGGER personal_counts_type_removed
        """,
        """
        DROP TRIGGER personal_counts_entity_gone
        """,
        f"""
        CREATE TRIGGER personal_counts_entity_gone AFTER DELETE ON entities
        WHEN old.subject IS NOT NULL OR EXISTS (
            SELECT 1 FROM entity_types t JOIN personal_types p ON p.tenant = t.tenant
            AND p.type = t.type WHERE t.rid = old.rid)
        BEGIN
            UPDATE personal_counts SET n = n - 1 WHERE tenant = old.tenant AND type IN (
                SELECT t.type FROM entity_types t WHERE t.rid = old.rid) AND {_in_group("old")};
            DELETE FROM personal_counts WHERE n <= 0 AND tenant = old.tenant AND type IN (
                SELECT t.type FROM entity_types t WHERE t.rid = old.rid) AND {_in_group("old")};
        END
        """,
    ),
    # where an entity's history starts for the temporal API: history written before one
    # of its types was removed, or before its id was created again, is not released (0012)
    """
    CREATE TABLE history_marks (
        tenant TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        since INTEGER NOT NULL,
        PRIMARY KEY (tenant, entity_id)
    ) WITHOUT ROWID
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
