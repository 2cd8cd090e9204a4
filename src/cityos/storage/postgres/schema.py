"""PostgreSQL schema and its migrations, applied in order and recorded in `cityos_schema`.

Never edit a shipped migration: append a new one. Several processes may start at once: the
migrations run under an advisory lock, so exactly one of them applies each.
"""

from __future__ import annotations

import asyncpg

from cityos.storage.postgres._keys import lock_key

MIGRATIONS: list[str] = [
    # 1: entities, their types, the geo index (GiST over lon/lat boxes: core PostgreSQL, no
    # PostGIS needed), tenants, small documents. Text keys compare bytewise (COLLATE "C"), as
    # SQLite's do, so every ordering is the same on both engines.
    """
    CREATE TABLE tenants (
        name text COLLATE "C" PRIMARY KEY,
        created_at text NOT NULL
    );
    CREATE TABLE entities (
        rid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text COLLATE "C" NOT NULL,
        id text COLLATE "C" NOT NULL,
        doc jsonb NOT NULL,
        UNIQUE (tenant, id)
    );
    CREATE INDEX entities_by_tenant ON entities (tenant, rid);
    CREATE TABLE entity_types (
        tenant text COLLATE "C" NOT NULL,
        type text COLLATE "C" NOT NULL,
        rid bigint NOT NULL REFERENCES entities ON DELETE CASCADE,
        PRIMARY KEY (tenant, type, rid)
    );
    CREATE INDEX entity_types_by_rid ON entity_types (rid);
    CREATE TABLE geo_boxes (
        rid bigint NOT NULL REFERENCES entities ON DELETE CASCADE,
        attr text COLLATE "C" NOT NULL,
        box box NOT NULL
    );
    CREATE INDEX geo_boxes_by_box ON geo_boxes USING gist (box);
    CREATE INDEX geo_boxes_by_rid ON geo_boxes (rid);
    CREATE TABLE kv (
        space text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        value bytea NOT NULL,
        PRIMARY KEY (space, key)
    );
    """,
    # 2: append-only hash-chained logs with their retention checkpoints and keys; triggers
    # refuse UPDATE, TRUNCATE and DELETE past the checkpoint, and a checkpoint only moves forward
    """
    CREATE TABLE logs (
        log text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        body bytea NOT NULL,
        prev text,
        hash text NOT NULL,
        PRIMARY KEY (log, seq)
    );
    CREATE TABLE log_checkpoints (
        log text COLLATE "C" PRIMARY KEY,
        seq bigint NOT NULL,
        hash text NOT NULL,
        body bytea NOT NULL
    );
    CREATE TABLE log_keys (
        log text COLLATE "C" NOT NULL,
        key text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        PRIMARY KEY (log, key, seq)
    );
    CREATE FUNCTION cityos_logs_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF TG_OP = 'DELETE' AND OLD.seq <= COALESCE(
                (SELECT seq FROM log_checkpoints WHERE log = OLD.log), 0) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'logs are append-only';
    END
    $fn$;
    CREATE TRIGGER logs_append_only BEFORE UPDATE OR DELETE ON logs
        FOR EACH ROW EXECUTE FUNCTION cityos_logs_guard();
    CREATE TRIGGER logs_no_truncate BEFORE TRUNCATE ON logs
        FOR EACH STATEMENT EXECUTE FUNCTION cityos_logs_guard();
    CREATE FUNCTION cityos_checkpoints_guard() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
        IF TG_OP = 'UPDATE' AND NEW.seq >= OLD.seq AND NEW.log = OLD.log THEN
            RETURN NEW;
        END IF;
        IF TG_OP = 'UPDATE' THEN
            RAISE EXCEPTION 'log checkpoints only move forward';
        END IF;
        RAISE EXCEPTION 'log checkpoints are kept';
    END
    $fn$;
    CREATE TRIGGER log_checkpoints_forward BEFORE UPDATE OR DELETE ON log_checkpoints
        FOR EACH ROW EXECUTE FUNCTION cityos_checkpoints_guard();
    CREATE TRIGGER log_checkpoints_no_truncate BEFORE TRUNCATE ON log_checkpoints
        FOR EACH STATEMENT EXECUTE FUNCTION cityos_checkpoints_guard();
    """,
    # 3: attribute history for the temporal API, as in SQLite (times in epoch ms; num = the
    # value when it is a number, carried in the observed_at index for aggregation)
    """
    CREATE TABLE attr_instances (
        iid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        tenant text COLLATE "C" NOT NULL,
        entity_id text COLLATE "C" NOT NULL,
        attr text COLLATE "C" NOT NULL,
        dataset_id text COLLATE "C",
        instance_id text COLLATE "C" NOT NULL,
        observed_at bigint NOT NULL,
        created_at bigint NOT NULL,
        modified_at bigint NOT NULL,
        kind text NOT NULL,
        num double precision,
        value_json bytea,
        doc bytea NOT NULL
    );
    CREATE INDEX attr_instances_by_observed
        ON attr_instances (tenant, entity_id, attr, observed_at) INCLUDE (num, kind);
    CREATE UNIQUE INDEX attr_instances_by_id ON attr_instances (tenant, entity_id, instance_id);
    """,
    # 4: the change log (outbox). A row is written with its transaction's id (xid) and no
    # sequence; the sequencer numbers rows once every transaction that could still commit an
    # earlier one has ended (xid below the oldest running one), so a cursor never skips a
    # row that commits late (decision 0009). change_sequence holds the high-water mark.
    """
    CREATE TABLE changes (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        seq bigint UNIQUE,
        xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
        tenant text COLLATE "C" NOT NULL,
        entity_id text COLLATE "C" NOT NULL,
        types bytea NOT NULL,
        attrs bytea NOT NULL,
        op text NOT NULL,
        at bigint NOT NULL,
        prev bytea
    );
    CREATE INDEX changes_unsequenced ON changes (xid, id) WHERE seq IS NULL;
    CREATE INDEX changes_by_tenant ON changes (tenant, seq);
    CREATE TABLE change_sequence (
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        seq bigint NOT NULL
    );
    INSERT INTO change_sequence (seq) VALUES (0);
    CREATE TABLE deliveries (
        tenant text COLLATE "C" NOT NULL,
        subscription text COLLATE "C" NOT NULL,
        seq bigint NOT NULL,
        state bytea NOT NULL,
        PRIMARY KEY (tenant, subscription)
    );
    """,
    # 5: personal data (issue 6), as SQLite's migration 11: a personal entity's subject,
    # category and owner on its row (NULL subject: not personal), its body sealed in `sealed`
    # (then `doc` is NULL); personal_entities kept after deletion for history and change rows;
    # the types that ever held a personal row; consents as grants
    """
    ALTER TABLE entities ADD COLUMN subject text COLLATE "C";
    ALTER TABLE entities ADD COLUMN category text COLLATE "C";
    ALTER TABLE entities ADD COLUMN owner text COLLATE "C";
    ALTER TABLE entities ADD COLUMN sealed bytea;
    ALTER TABLE entities ALTER COLUMN doc DROP NOT NULL;
    CREATE INDEX entities_by_subject ON entities (tenant, subject) WHERE subject IS NOT NULL;
    CREATE TABLE personal_entities (
        tenant text COLLATE "C" NOT NULL,
        entity_id text COLLATE "C" NOT NULL,
        subject text COLLATE "C" NOT NULL,
        category text COLLATE "C" NOT NULL,
        owner text COLLATE "C",
        PRIMARY KEY (tenant, entity_id)
    );
    CREATE INDEX personal_entities_by_subject ON personal_entities (tenant, subject);
    CREATE TABLE personal_types (
        tenant text COLLATE "C" NOT NULL,
        type text COLLATE "C" NOT NULL,
        PRIMARY KEY (tenant, type)
    );
    CREATE TABLE grants (
        tenant text COLLATE "C" NOT NULL,
        recipient text COLLATE "C" NOT NULL,
        subject text COLLATE "C" NOT NULL,
        category text COLLATE "C" NOT NULL,
        purpose text COLLATE "C" NOT NULL,
        until double precision,
        PRIMARY KEY (tenant, recipient, subject, category, purpose)
    );
    CREATE INDEX grants_by_subject ON grants (tenant, subject);
    """,
    # 6: every process hears of committed changes (LISTEN cityos_changes): one notification per
    # tenant and transaction, sent by PostgreSQL at commit (it folds duplicates)
    """
    CREATE FUNCTION cityos_changes_notify() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        t text;
    BEGIN
        FOR t IN SELECT DISTINCT tenant FROM new_rows LOOP
            PERFORM pg_notify('cityos_changes', t);
        END LOOP;
        RETURN NULL;
    END
    $fn$;
    CREATE TRIGGER changes_notify AFTER INSERT ON changes REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION cityos_changes_notify();
    """,
    # 7: no NOTIFY inside write transactions: PostgreSQL serialises the commits of
    # transactions that notify (a database-wide lock held through the WAL flush), which cost
    # concurrent writes their group commit (-35% upserts measured); each process now sends one
    # NOTIFY per tenant after its writes commit, from its coordination connection
    """
    DROP TRIGGER changes_notify ON changes;
    DROP FUNCTION cityos_changes_notify();
    """,
    # 8: counts several processes share (rate limits, the security monitor): each process's
    # running total per key, exchanged about every half second (shared_counts.py); unlogged:
    # a crash loses at most a second of counting, and no WAL is written for them
    """
    CREATE UNLOGGED TABLE shared_counts (
        key text COLLATE "C" NOT NULL,
        process text COLLATE "C" NOT NULL,
        total bigint NOT NULL,
        at timestamptz NOT NULL,
        PRIMARY KEY (key, process)
    );
    CREATE INDEX shared_counts_by_time ON shared_counts (at);
    """,
    # 9: where an entity's history starts for the temporal API: history written before one of
    # its types was removed, or before its id was created again, is not released (0012)
    """
    CREATE TABLE history_marks (
        tenant text COLLATE "C" NOT NULL,
        entity_id text COLLATE "C" NOT NULL,
        since bigint NOT NULL,
        PRIMARY KEY (tenant, entity_id)
    );
    """,
]

_MIGRATION_LOCK = lock_key("cityos:migrations")


async def migrate(conn: asyncpg.Connection) -> int:
    """Bring the database to the newest schema; returns the version reached."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _MIGRATION_LOCK)
        await conn.execute("CREATE TABLE IF NOT EXISTS cityos_schema (version integer NOT NULL)")
        version = await conn.fetchval("SELECT max(version) FROM cityos_schema") or 0
        if version > len(MIGRATIONS):
            raise RuntimeError(f"database schema {version} is newer than this cityos "
                               f"({len(MIGRATIONS)}): upgrade cityos")
        for number in range(version, len(MIGRATIONS)):
            await conn.execute(MIGRATIONS[number])
            await conn.execute("INSERT INTO cityos_schema (version) VALUES ($1)", number + 1)
    return len(MIGRATIONS)
