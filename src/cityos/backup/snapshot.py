"""`cityos backup`: the whole platform in one encrypted file, taken while it serves.

What goes in: the database (SQLite: the online backup API, one consistent copy while writers
go on; PostgreSQL: `pg_dump`, which reads one snapshot), the residents' vault (`personal/`:
`keys.db` through the same online backup, `master.key`), the key store (`keys/`), the admin
token's hash, `cityos.toml` and every other file of the data dir — and a manifest naming each
file with its size and SHA-256, the engine, the cityos version and the transparency log's
signed tree head at backup time. The tar is sealed with AES-256-GCM (envelope.py) under the
backup key from the backup home, which is never inside a backup.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import io
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cityos import __version__
from cityos.backup.envelope import Sealing, ensure_key
from cityos.backup.home import BackupHome
from cityos.settings import Settings

SUFFIX = ".cityosbk"
MANIFEST = "manifest.json"
SQLITE_DB = "cityos.db"
PG_DUMP = "database.pgdump"
VAULT_DB = Path("personal") / "keys.db"
# live SQLite files copied through the online backup API, never byte by byte
_LIVE = {SQLITE_DB, f"{SQLITE_DB}-wal", f"{SQLITE_DB}-shm", f"{SQLITE_DB}-journal",
         str(VAULT_DB), f"{VAULT_DB}-journal"}


class BackupError(RuntimeError):
    """A backup cannot be made (message Japanese / English)."""


@dataclass(frozen=True)
class Made:
    path: Path
    size: int
    files: int
    tree_size: int
    key_created: bool
    removed: list[Path]


def engine_of(settings: Settings) -> str:
    return "postgresql" if settings.storage.database_url.startswith(
        ("postgresql://", "postgres://")) else "sqlite"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (the online backup API, in one step)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=60)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _pg_dump(url: str, target: Path) -> None:
    """`pg_dump` of the platform's database: one snapshot (a repeatable-read transaction),
    custom format, without owners and privileges (restored by whoever restores it)."""
    binary = shutil.which("pg_dump")
    if binary is None:
        raise BackupError("pg_dump がありません(postgresql-client をインストールしてください) / "
                          "pg_dump is not installed (install postgresql-client)")
    done = subprocess.run([binary, "--format=custom", "--no-owner", "--no-privileges",
                           "--file", str(target), "--dbname", url],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupError(f"pg_dump が失敗しました / pg_dump failed: {done.stderr.strip()}")


async def _tree_head(settings: Settings) -> dict[str, Any] | None:
    """The log's newest signed tree head (read before the copy, so the copy holds it)."""
    from cityos.storage import open_store
    from cityos.trust.log import HEADS, STATE

    store = open_store(settings.database_url)
    await store.open()
    try:
        seq = await store.kv_get(STATE, "head")
        if seq is None:
            return None
        entries = await store.read_log(HEADS, after=int(seq) - 1, limit=1)
        head = orjson.loads(entries[-1].body) if entries else None
        return head if isinstance(head, dict) else None
    finally:
        await store.close()


def _vault_erasures(data_dir: Path) -> list[tuple[str, str, float]]:
    path = data_dir / VAULT_DB
    if not path.exists():
        return []
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
    try:
        rows = conn.execute("SELECT tenant, subject, at FROM erased").fetchall()
    except sqlite3.OperationalError:
        rows = []
    finally:
        conn.close()
    return [(str(t), str(s), float(at)) for t, s, at in rows]


def _inside(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory.resolve())


def _collect(settings: Settings, staging: Path) -> list[dict[str, Any]]:
    """Copy the data dir into `staging` (live databases through their consistent copies);
    the manifest's file list."""
    data_dir = settings.data_dir
    engine = engine_of(settings)
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir)
        if str(rel) in _LIVE or path.name.endswith(".tmp") or path.is_symlink() \
                or not path.is_file():
            continue
        target = staging / rel
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        shutil.copy2(path, target)
    (staging / "personal").mkdir(mode=0o700, exist_ok=True)
    if (data_dir / VAULT_DB).exists():
        _sqlite_copy(data_dir / VAULT_DB, staging / VAULT_DB)
    if engine == "sqlite":
        _sqlite_copy(data_dir / SQLITE_DB, staging / SQLITE_DB)
    else:
        _pg_dump(settings.storage.database_url, staging / PG_DUMP)
    files = []
    for path in sorted(staging.rglob("*")):
        if path.is_file():
            files.append({"path": path.relative_to(staging).as_posix(),
                          "size": path.stat().st_size, "sha256": sha256_file(path)})
    return files


def generation_name(now: float) -> str:
    """cityos-20261207T161823123Z.cityosbk: UTC to the millisecond, so names sort by age."""
    millis = int(now * 1000) % 1000
    return f"cityos-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now))}{millis:03d}Z{SUFFIX}"


def prune(directory: Path, keep: int) -> list[Path]:
    """Delete all but the `keep` newest generations in `directory`; the ones deleted."""
    found = sorted(p for p in directory.glob("cityos-*" + SUFFIX) if p.is_file())
    gone = found[:-keep] if len(found) > keep else []
    for path in gone:
        path.unlink()
    return gone


def make_backup(settings: Settings, out: Path | None, out_dir: Path | None,
                keep: int | None = None, key_file: Path | None = None) -> Made:
    """Write one backup of the platform in `settings` to `out` (or a new generation in
    `out_dir`, keeping `keep` of them); blocking."""
    home = BackupHome.of(settings, key_file)
    data_dir = settings.data_dir
    if _inside(home.key_file, data_dir):
        raise BackupError(f"バックアップ鍵 {home.key_file} がデータディレクトリの中にあります。別の"
                          "場所を指定してください / the backup key must not be inside the data "
                          f"dir ({home.key_file}): give --key-file elsewhere")
    now = time.time()
    target = out if out is not None else (out_dir or Path(".")) / generation_name(now)
    if _inside(target, data_dir):
        raise BackupError("バックアップをデータディレクトリの中には書けません / a backup cannot "
                          f"be written inside the data dir ({target})")
    if target.resolve().parent == home.key_file.resolve().parent:
        raise BackupError("バックアップを鍵と同じディレクトリに置かないでください / keep backups "
                          f"apart from their key ({home.key_file.parent})")
    key, made = ensure_key(home.key_file)
    home.record_erasures(_vault_erasures(data_dir))
    head = asyncio.run(_tree_head(settings))
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".cityos-backup-", dir=target.parent) as tmp:
        staging = Path(tmp) / "data"
        staging.mkdir(mode=0o700)
        files = _collect(settings, staging)
        manifest = {
            "format": "cityos-backup/1", "cityosVersion": __version__,
            "created": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(), "createdAt": now,
            "engine": engine_of(settings),
            "database": SQLITE_DB if engine_of(settings) == "sqlite" else PG_DUMP,
            "files": files, "treeHead": head}
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        try:  # the tar is sealed as it is written: no plaintext archive on disk
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as sink:
                with Sealing(sink, key) as sealing, tarfile.open(
                        fileobj=sealing, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                    body = orjson.dumps(manifest, option=orjson.OPT_INDENT_2)
                    info = tarfile.TarInfo(MANIFEST)  # first: a restore reads it first
                    info.size, info.mtime, info.mode = len(body), int(now), 0o600
                    tar.addfile(info, io.BytesIO(body))
                    for entry in files:
                        tar.add(staging / entry["path"], arcname="data/" + entry["path"],
                                recursive=False)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    removed = prune(out_dir, keep or settings.backup.keep) if out is None and out_dir else []
    size = target.stat().st_size
    home.record("backup", ok=True, file=str(target.resolve()), size=size,
                sha256=sha256_file(target), engine=engine_of(settings),
                treeSize=(head or {}).get("treeSize", 0))
    return Made(target, size, len(files), int((head or {}).get("treeSize", 0)), made, removed)

