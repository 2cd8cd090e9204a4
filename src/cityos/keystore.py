"""The key store: the platform's private keys and secrets, outside the database.

`DIR/keys/<kind>/<name>.json`, directories 0700 and files 0600, one file per key: the token
signing keys (`tokens`), the transparency log's key (`log`), the built-in TSA's (`tsa`), the
platform CA's (`ca`), the session cookies' HMAC key (`session`) and the town services'
client secrets (`services`). Whoever reads the database
(a backup, a copy of `cityos.db`, a PostgreSQL role) gets public keys at most; several `cityos
serve` processes on one PostgreSQL database share the data directory and so the key store.
Files are written whole (a temporary file, then rename) and a first key is added with a hard
link, so two processes starting together agree on one.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
import time
from pathlib import Path
from typing import Any

import orjson

from cityos.storage.base import Store

KEY_DIR = "keys"
KINDS = ("tokens", "log", "tsa", "ca", "session", "services")  # services: their client secrets
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
log = logging.getLogger("cityos.keys")


class KeyStoreError(RuntimeError):
    pass


def _mkdir_private(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        path.chmod(0o700)


class KeyStore:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def at(cls, data_dir: Path) -> KeyStore:
        return cls(data_dir / KEY_DIR)

    def _dir(self, kind: str) -> Path:
        if kind not in KINDS:
            raise KeyStoreError(f"unknown key kind {kind!r}")
        return self.directory / kind

    def _path(self, kind: str, name: str) -> Path:
        if not _NAME.fullmatch(name):
            raise KeyStoreError(f"bad key name {name!r}")
        return self._dir(kind) / f"{name}.json"

    def _write_tmp(self, kind: str, name: str, doc: dict[str, Any]) -> Path:
        directory = self._dir(kind)
        _mkdir_private(self.directory)
        _mkdir_private(directory)
        tmp = directory / f".{name}.{os.getpid()}.{id(doc)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(doc))
            f.flush()
            os.fsync(f.fileno())
        return tmp

    def put(self, kind: str, name: str, doc: dict[str, Any]) -> None:
        """Write (or replace) one key."""
        path = self._path(kind, name)
        os.replace(self._write_tmp(kind, name, doc), path)

    def add(self, kind: str, name: str, doc: dict[str, Any]) -> dict[str, Any]:
        """Add a key unless one of that name exists: the document that is there afterwards
        (the first writer's, when two processes add at once)."""
        path = self._path(kind, name)
        tmp = self._write_tmp(kind, name, doc)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        found = self.get(kind, name)
        if found is None:
            raise KeyStoreError(f"{path} vanished while it was added")
        return found

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        try:
            raw = self._path(kind, name).read_bytes()
        except FileNotFoundError:
            return None
        doc = orjson.loads(raw)
        if not isinstance(doc, dict):
            raise KeyStoreError(f"{self._path(kind, name)} is not a key document")
        return doc

    def list(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        """Every key of a kind, oldest first (by the documents' `created`)."""
        directory = self._dir(kind)
        if not directory.is_dir():
            return []
        out = []
        for path in directory.glob("*.json"):
            doc = self.get(kind, path.stem)
            if doc is not None:
                out.append((path.stem, doc))
        return sorted(out, key=lambda item: (float(item[1].get("created", 0.0)), item[0]))

    def newest(self, kind: str) -> tuple[str, dict[str, Any]] | None:
        found = self.list(kind)
        return found[-1] if found else None

    def delete(self, kind: str, name: str) -> bool:
        try:
            self._path(kind, name).unlink()
        except FileNotFoundError:
            return False
        return True


SECRET_FILES = (Path("personal") / "master.key", Path("access") / "admin-token.sha256")


def exposed(data_dir: Path) -> Path | None:
    """The first of the data directory, the key store and its files and the other secret files
    that other users may read or write (group or other permission bits); None when all are
    private."""
    candidates = [data_dir, *(data_dir / p for p in SECRET_FILES)]
    keys = data_dir / KEY_DIR
    if keys.exists():
        candidates += [keys, *sorted(keys.rglob("*"))]
    for path in candidates:
        try:
            mode = path.stat().st_mode
        except FileNotFoundError:
            continue
        if stat.S_IMODE(mode) & 0o077:
            return path
    return None


def key_name(created: float) -> str:
    """A new key's file name: the day it was made and a random suffix (20261207-1a2b3c4d)."""
    return time.strftime("%Y%m%d", time.gmtime(created)) + "-" + secrets.token_hex(4)


# where platforms before the key store kept private keys: (kv space, key or None for every
# key of the space, key store kind)
_IN_DATABASE = (("access.keys", None, "tokens"), ("trust.keys", "log", "log"),
                ("trust.keys", "tsa", "tsa"), ("trust.keys", "ca", "ca"),
                ("web.session", "hmac", "session"))


async def move_keys_out(store: Store, keys: KeyStore) -> int:
    """Move the private keys and secrets an older platform kept in its database into the key
    store, delete them from the database and scrub its files (VACUUM, WAL emptied); how many
    moved. Safe to run by several processes at once, and on every start."""
    moved = 0
    for space, only, kind in _IN_DATABASE:
        found = await store.kv_list(space) if only is None else \
            [(only, doc) for doc in [await store.kv_get(space, only)] if doc is not None]
        for name, doc in found:
            if not isinstance(doc, dict):
                continue
            kept = {"created": 0.0, **doc}
            keys.add(kind, name if kind == "tokens" else "migrated", kept)
            await store.kv_delete(space, name)
            moved += 1
    if moved:
        await store.scrub()
        log.warning("moved %d private keys out of the database into %s (and scrubbed it); "
                    "copies of the database made before hold them: rotate them "
                    "(`cityos keys rotate`) / 秘密鍵をデータベースから鍵ストアへ移しました",
                    moved, keys.directory)
    return moved
