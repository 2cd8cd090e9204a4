"""Storage: one `Store` interface, an engine per database (SQLite embedded, PostgreSQL later)."""

from __future__ import annotations

from cityos.storage.base import DELETE, KEEP, EntityQuery, QueryResult, Store, TypeInfo


def open_store(url: str, **options: object) -> Store:
    """Return the engine for `url` (`sqlite:///path`); call `await store.open()` next."""
    if url.startswith("sqlite:///"):
        from cityos.storage.sqlite.engine import SqliteStore

        return SqliteStore(url[len("sqlite:///"):], **options)  # type: ignore[arg-type]
    raise ValueError(f"unsupported database URL {url.split(':', 1)[0]!r}: use sqlite:///PATH")


__all__ = ["DELETE", "KEEP", "EntityQuery", "QueryResult", "Store", "TypeInfo", "open_store"]
