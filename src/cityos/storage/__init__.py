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


def shown_url(url: str) -> str:
    """`url` fit to print or log: a password in it replaced by `***`."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None and "password=" not in parts.query.lower():
        return url  # as given: `sqlite:///DIR/cityos.db` keeps its three slashes
    if parts.password is not None:
        host = parts.netloc.rsplit("@", 1)[1]
        parts = parts._replace(netloc=f"{parts.username or ''}:***@{host}")
    query = "&".join("password=***" if p.lower().startswith("password=") else p
                     for p in parts.query.split("&")) if parts.query else ""
    return urlunsplit(parts._replace(query=query))


__all__ = ["DELETE", "KEEP", "EntityQuery", "QueryResult", "Store", "TypeInfo", "open_store",
           "shown_url"]
