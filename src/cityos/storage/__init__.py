"""Storage: one `Store` interface, an engine per database (SQLite embedded, PostgreSQL)."""

from __future__ import annotations

from cityos.storage.base import DELETE, KEEP, EntityQuery, QueryResult, Store, TypeInfo


def open_store(url: str, **options: object) -> Store:
    """Return the engine for `url` (`sqlite:///path` or `postgresql://user@host/db`); call
    `await store.open()` next. Options an engine has no use for are ignored by it."""
    if url.startswith("sqlite:///"):
        from cityos.storage.sqlite.engine import SqliteStore

        return SqliteStore(url[len("sqlite:///"):], **options)  # type: ignore[arg-type]
    if url.startswith(("postgresql://", "postgres://")):
        from cityos.storage.postgres.engine import PostgresStore

        options.pop("group_commit_max", None)  # PostgreSQL groups commits of its own accord
        return PostgresStore(url, **options)  # type: ignore[arg-type]
    raise ValueError(f"unsupported database URL {url.split(':', 1)[0]!r}: "
                     "use sqlite:///PATH or postgresql://USER@HOST/DB")


__all__ = ["DELETE", "KEEP", "EntityQuery", "QueryResult", "Store", "TypeInfo", "open_store"]
