"""`cityos restore` and `cityos restore-drill`: a backup back into a data dir, verified.

In order, each step refusing the backup with one bilingual message and writing nothing to the
target: the envelope must authenticate under the backup key (any changed byte fails); the
manifest must list exactly the archive's files with their sizes and SHA-256; the database is
restored (SQLite: the file; PostgreSQL: `pg_restore` into an empty database); every resident
in the erasure ledger is erased again (key destroyed, entities deleted, account closed: an
older backup brings no one back); the transparency log must hold the tree head recorded at
backup time; and `cityos verify` must pass on the result. Only then does the restored data
dir take its place at the target (a rename in the same parent directory).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

from cityos.backup.envelope import EnvelopeError, Opening, read_key
from cityos.backup.home import BackupHome
from cityos.backup.snapshot import MANIFEST, PG_DUMP, SQLITE_DB
from cityos.settings import load_settings


class RestoreError(RuntimeError):
    """The backup is refused (message Japanese / English); nothing was written to the target."""


@dataclass
class Restored:
    manifest: dict[str, Any]
    files: int
    reerased: int
    verify_output: str
    seconds: float
    notes: list[str] = field(default_factory=list)


def _safe(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise RestoreError(f"バックアップに不正なパスがあります / the backup holds a bad path: "
                           f"{name!r}")
    return path


def _unpack(backup: Path, key: bytes, staging: Path) -> dict[str, Any]:
    """The manifest, with every file of the backup written under `staging` and checked
    against it (names, sizes, SHA-256; nothing more, nothing less). The envelope is opened as
    a stream — each chunk authenticated before use — and read to its sealed end."""
    try:
        with backup.open("rb") as source, Opening(source, key) as plain:
            manifest = _unpack_tar(plain, staging)
            plain.drain()  # a cut-off or extended file fails here, after the tar's end
    except EnvelopeError as exc:
        raise RestoreError(str(exc)) from None
    except tarfile.TarError as exc:
        raise RestoreError(f"バックアップの中身が壊れています / the backup's archive is damaged: "
                           f"{exc}") from None
    return manifest


def _unpack_tar(plain: Any, staging: Path) -> dict[str, Any]:
    with tarfile.open(fileobj=plain, mode="r|") as tar:
        first = tar.next()
        raw = tar.extractfile(first) if first is not None and first.name == MANIFEST else None
        if raw is None:
            raise RestoreError("バックアップに目録 (manifest.json) がありません / the backup has "
                               "no manifest")
        manifest = orjson.loads(raw.read())
        if not isinstance(manifest, dict) or manifest.get("format") != "cityos-backup/1":
            raise RestoreError("このバックアップの形式には対応していません / this backup's format "
                               "is not one this cityos restores")
        listed = {str(f["path"]): f for f in manifest.get("files", [])}
        seen: set[str] = set()
        for info in tar:  # (the iteration starts again from the manifest, read already)
            if info is first:
                continue
            path = _safe(info.name)
            if path.parts[0] != "data" or not info.isfile():
                raise RestoreError(f"バックアップに目録外の項目があります / the backup holds an "
                                   f"entry its manifest does not list: {info.name}")
            rel = PurePosixPath(*path.parts[1:]).as_posix()
            entry = listed.get(rel)
            if entry is None or rel in seen:
                raise RestoreError(f"目録にないファイルがあります / a file the manifest does not "
                                   f"list: {rel}")
            target = staging.joinpath(*PurePosixPath(rel).parts)
            target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            digest, size = hashlib.sha256(), 0
            source = tar.extractfile(info)
            assert source is not None
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as sink:
                for block in iter(functools.partial(source.read, 1 << 20), b""):
                    digest.update(block)
                    size += len(block)
                    sink.write(block)
            if digest.hexdigest() != entry.get("sha256") or size != entry.get("size"):
                raise RestoreError(f"{rel} の SHA-256 が目録と一致しません / {rel} does not match "
                                   "the manifest's SHA-256 digest")
            seen.add(rel)
        missing = sorted(set(listed) - seen)
        if missing:
            raise RestoreError(f"目録のファイルがありません / files of the manifest are missing: "
                               f"{', '.join(missing)}")
    return dict(manifest)


def _environ(database_url: str) -> dict[str, str]:
    """The environment of the restored platform: the parent's without its database, plus the
    target database (PostgreSQL) when there is one."""
    env = {k: v for k, v in os.environ.items() if k != "CITYOS_DATABASE_URL"}
    if database_url:
        env["CITYOS_DATABASE_URL"] = database_url
    return env


async def _empty(url: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return not await conn.fetchval(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()


async def _wipe(url: str) -> None:
    """Leave the (checked empty) target database empty again after a refused restore."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        for (name,) in await conn.fetch("SELECT tablename FROM pg_tables WHERE "
                                        "schemaname = 'public'"):
            await conn.execute(f'DROP TABLE IF EXISTS public."{name}" CASCADE')
    finally:
        await conn.close()


def _pg_restore(dump: Path, url: str) -> None:
    binary = shutil.which("pg_restore")
    if binary is None:
        raise RestoreError("pg_restore がありません(postgresql-client をインストールしてください) "
                           "/ pg_restore is not installed (install postgresql-client)")
    if not asyncio.run(_empty(url)):
        raise RestoreError("復元先のデータベースが空ではありません。空のデータベースを指定してください / "
                           "the target database is not empty: give an empty one")
    done = subprocess.run([binary, "--no-owner", "--no-privileges", "--exit-on-error",
                           "--single-transaction", "--dbname", url, str(dump)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        asyncio.run(_wipe(url))
        raise RestoreError(f"pg_restore が失敗しました / pg_restore failed: {done.stderr.strip()}")


async def _reerase(staging: Path, environ: dict[str, str], erased: set[tuple[str, str]],
                   head: dict[str, Any] | None) -> tuple[int, bool]:
    """Erase again every resident of the ledger the restored data still knows; whether the
    log holds the tree head of the manifest."""
    from cityos.access.service import Access
    from cityos.keystore import KeyStore
    from cityos.personal.export import close_account
    from cityos.personal.links import Links
    from cityos.personal.vault import Vault
    from cityos.storage import open_store
    from cityos.trust.log import HEADS
    from cityos.trust.state import append as append_state
    from cityos.trust.state import leaf as state_leaf

    settings = load_settings(staging, environ=environ)
    store = open_store(settings.database_url)
    await store.open()
    count = 0
    try:
        found = head is None
        if head is not None:
            after = 0
            while not found:
                page = await store.read_log(HEADS, after=after, limit=1000)
                if not page:
                    break
                for entry in page:
                    doc = orjson.loads(entry.body)
                    found = found or (doc.get("treeSize") == head.get("treeSize")
                                      and doc.get("rootHash") == head.get("rootHash")
                                      and doc.get("signature") == head.get("signature"))
                after = page[-1].seq
        if not erased:
            return 0, found
        vault = Vault.at(staging, settings.personal.master_key)
        try:
            access = await Access.create(store, settings.access, KeyStore.at(staging))
            tenants: set[str] = set()
            for tenant, subject in sorted(erased):
                resident = await access.residents.get(subject)
                if not vault.has_key(tenant, subject) and (
                        resident is None or resident.get("erased")):
                    continue
                await store.erase_subject(tenant, subject)
                vault.erase(tenant, subject)
                await Links(store).forget(tenant, subject)
                await close_account(access.residents, subject)
                tenants.add(tenant)
                count += 1
            await append_state(store, [state_leaf("erasure", t, None) for t in sorted(tenants)])
        finally:
            vault.close()
    finally:
        await store.close()
    return count, found


def _verify(staging: Path, environ: dict[str, str]) -> tuple[bool, str]:
    """Run `cityos verify` on the restored data dir, as its own process."""
    done = subprocess.run([sys.executable, "-c", "from cityos.cli import main; main()",
                           "verify", "--data-dir", str(staging)],
                          capture_output=True, text=True, env=environ)
    return done.returncode == 0, (done.stdout + done.stderr).strip()


def restore(backup: Path, target: Path, home: BackupHome, database_url: str = "") -> Restored:
    """Restore `backup` into the new data dir `target` (and, for a PostgreSQL backup, the
    empty database `database_url`), verified; RestoreError leaves `target` untouched."""
    started = time.monotonic()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise RestoreError(f"復元先 {target} は空ではありません / the target {target} is not "
                           "empty: restore into a new data dir")
    key = read_key_or_refuse(home)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.restoring-",
                                     dir=target.parent) as tmp:
        work = Path(tmp)
        staging = work / "data"
        staging.mkdir(mode=0o700)
        manifest = _unpack(backup, key, staging)
        engine = manifest.get("engine")
        notes: list[str] = []
        if engine == "postgresql":
            if not database_url.startswith(("postgresql://", "postgres://")):
                raise RestoreError("PostgreSQL のバックアップです。空のデータベースを --database-url "
                                   "で指定してください / a PostgreSQL backup: give an empty "
                                   "database with --database-url")
            _pg_restore(staging / PG_DUMP, database_url)
            (staging / PG_DUMP).unlink()
            notes.append(_point_settings_at(staging, database_url))
        elif database_url:
            raise RestoreError("SQLite のバックアップには --database-url は使えません / a SQLite "
                               "backup restores into the data dir: drop --database-url")
        elif not (staging / SQLITE_DB).exists():
            raise RestoreError("バックアップにデータベースがありません / the backup holds no database")
        environ = _environ(database_url if engine == "postgresql" else "")
        try:
            count, found = asyncio.run(_reerase(staging, environ, home.erased(),
                                                manifest.get("treeHead")))
            if not found:
                raise RestoreError("透明性ログにバックアップ時の署名付きツリーヘッドがありません / the "
                                   "transparency log lacks the signed tree head recorded at "
                                   "backup time")
            ok, output = _verify(staging, environ)
            if not ok:
                raise RestoreError("復元したデータの検証 (cityos verify) に失敗しました / the "
                                   f"restored data does not verify (cityos verify):\n{output}")
        except BaseException:
            if engine == "postgresql":
                asyncio.run(_wipe(database_url))
            raise
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    return Restored(manifest, len(manifest.get("files", [])), count, output,
                    time.monotonic() - started, [n for n in notes if n])


def read_key_or_refuse(home: BackupHome) -> bytes:
    try:
        return read_key(home.key_file)
    except EnvelopeError as exc:
        raise RestoreError(str(exc)) from None


def _point_settings_at(staging: Path, url: str) -> str:
    """A restored cityos.toml that names the old database names the new one instead."""
    path = staging / "cityos.toml"
    if not path.exists():
        return ""
    import tomllib

    old = tomllib.loads(path.read_text("utf-8")).get("storage", {}).get("database_url", "")
    if not old or old == url:
        return ""
    path.write_text(path.read_text("utf-8").replace(old, url), "utf-8")
    return "cityos.toml: storage.database_url now names the restored database"


@contextlib.contextmanager
def scratch_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="cityos-drill-") as tmp:
        yield Path(tmp) / "data"


async def _scratch(platform_url: str, drop: str = "") -> str:
    """A new empty database beside the platform's (its URL), or `drop` that one."""
    import secrets
    from urllib.parse import urlsplit, urlunsplit

    import asyncpg

    conn = await asyncpg.connect(platform_url)
    try:
        if drop:
            name = urlsplit(drop).path.lstrip("/")
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return drop
        name = f"cityos_drill_{secrets.token_hex(4)}"
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.PostgresError as exc:
            raise RestoreError("復元訓練用のデータベースを作れません。空のデータベースを --database-url "
                               f"で指定してください / cannot create a scratch database ({exc}): "
                               "give an empty one with --database-url") from None
    finally:
        await conn.close()
    return urlunsplit(urlsplit(platform_url)._replace(path=f"/{name}"))


def drill(backup: Path, home: BackupHome, database_url: str = "",
          platform_url: str = "") -> Restored:
    """Restore `backup` into a temporary directory (and for PostgreSQL into `database_url`, an
    empty scratch database, or else a new one made beside `platform_url` and dropped after),
    verify it, throw it away and note the drill in the journal."""
    made = ""
    try:
        if not database_url and platform_url.startswith(("postgresql://", "postgres://")):
            made = database_url = asyncio.run(_scratch(platform_url))
        with scratch_dir() as where:
            done = restore(backup, where, home, database_url)
            if database_url and not made:
                asyncio.run(_wipe(database_url))
    except RestoreError as exc:
        home.record("drill", ok=False, file=str(backup.resolve()), reason=str(exc)[:500])
        raise
    finally:
        if made:
            asyncio.run(_scratch(platform_url, drop=made))
    head = done.manifest.get("treeHead") or {}
    home.record("drill", ok=True, file=str(backup.resolve()),
                backupCreated=done.manifest.get("created"), engine=done.manifest.get("engine"),
                files=done.files, treeSize=head.get("treeSize", 0),
                seconds=round(done.seconds, 1))
    return done
