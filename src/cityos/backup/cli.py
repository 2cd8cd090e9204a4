"""`cityos backup`, `cityos restore` and `cityos restore-drill`."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from cityos.cli_errors import existing_platform, fail
from cityos.settings import Settings, load_settings

DataDir = Annotated[Path, typer.Option("--data-dir", help="where the platform keeps its data")]
KeyFile = Annotated[Path | None, typer.Option(
    "--key-file", help="the backup key (default: BACKUP_HOME/backup.key, made by the first "
    "backup; keep a copy apart from the backups)")]
Home = Annotated[Path | None, typer.Option(
    "--backup-home", help="the backup home: key, erasure ledger, journal (default: the "
    "setting backup.home, else DIR.backup beside the data dir)")]
DatabaseUrl = Annotated[str | None, typer.Option(
    "--database-url", help="PostgreSQL backups: an EMPTY database to restore into (a drill "
    "without it makes a scratch database beside the platform's and drops it after)")]


def _settings(data_dir: Path, home: Path | None) -> Settings:
    from dataclasses import replace

    try:
        settings = load_settings(data_dir)
    except ValueError as exc:
        fail("設定が正しくありません", str(exc))
    if home is not None:
        settings = replace(settings, backup=replace(settings.backup, home=str(home)))
    return settings


def backup_cmd(data_dir: DataDir = Path("var"),
               out: Annotated[Path | None, typer.Option(
                   "--out", help="the backup file to write")] = None,
               out_dir: Annotated[Path | None, typer.Option(
                   "--out-dir", help="a folder of generations: cityos-<UTC time>.cityosbk")]
               = None,
               keep: Annotated[int | None, typer.Option(
                   "--keep", min=1, help="with --out-dir: generations kept (default: the "
                   "setting backup.keep, 7)")] = None,
               key_file: KeyFile = None, backup_home: Home = None) -> None:
    """Back up the whole platform while it serves: database (consistent copy), residents'
    vault, key store, settings; encrypted (AES-256-GCM) with a manifest of SHA-256 digests."""
    from cityos.backup.envelope import EnvelopeError
    from cityos.backup.snapshot import BackupError, engine_of, make_backup

    if (out is None) == (out_dir is None):
        fail("--out FILE か --out-dir DIR のどちらか一方を指定してください",
             "give either --out FILE or --out-dir DIR")
    settings = _settings(data_dir, backup_home)
    existing_platform(data_dir, engine_of(settings) == "postgresql"
                      or (data_dir / "cityos.db").exists())
    try:
        made = make_backup(settings, out, out_dir, keep, key_file)
    except (BackupError, EnvelopeError) as exc:
        fail(*_split(str(exc)), code=1)
    if made.key_created:
        from cityos.backup.home import BackupHome

        where = BackupHome.of(settings, key_file).key_file
        print(f"新しいバックアップ鍵 / new backup key: {where} — keep a copy apart from the "
              "backups (without it no backup can be restored) / 鍵の控えをバックアップとは別の場所に"
              "保管してください")
    print(f"バックアップしました / backed up: {made.path} ({made.size:,} bytes, {made.files} files, "
          f"log tree size {made.tree_size})")
    for gone in made.removed:
        print(f"古い世代を削除 / removed old generation: {gone}")


def restore_cmd(backup: Annotated[Path, typer.Argument(help="the backup file")],
                data_dir: Annotated[Path, typer.Option(
                    "--data-dir", help="the NEW data dir to restore into (must not exist or be "
                    "empty)")],
                key_file: KeyFile = None, backup_home: Home = None,
                database_url: DatabaseUrl = None) -> None:
    """Restore a backup into a new data dir, re-apply erasures, then run `cityos verify`;
    a backup that does not verify is refused and nothing is written."""
    from cityos.backup.home import BackupHome
    from cityos.backup.restore import RestoreError, restore

    settings = _settings(data_dir, backup_home)
    if not backup.is_file():
        fail(f"{backup} がありません", f"no backup file {backup}")
    home = BackupHome.of(settings, key_file)
    if backup_home is None and key_file is not None and not home.directory.exists():
        home = BackupHome(key_file.parent, key_file)  # the ledger kept beside the key
    if not home.ledger.exists():
        print(f"注意: 消去台帳 {home.ledger} がありません。このバックアップ後に消去された住民は再消去"
              f"できません / warning: no erasure ledger at {home.ledger}; residents erased after "
              "this backup cannot be erased again (give --backup-home)")
    try:
        done = restore(backup, data_dir, home, database_url or "")
    except RestoreError as exc:
        fail(*_split(str(exc)), code=1)
    print(f"復元しました / restored: {done.files} files of the backup of "
          f"{done.manifest.get('created')} ({done.manifest.get('engine')}) into {data_dir}")
    if done.reerased:
        print(f"消去済みの住民 {done.reerased} 人を再び消去しました / erased again: "
              f"{done.reerased} residents erased after this backup was made")
    for note in done.notes:
        print(note)
    print(done.verify_output.splitlines()[-1] if done.verify_output else "")


def drill_cmd(backup: Annotated[Path | None, typer.Argument(
                  help="the backup file (default: the newest backup in the journal)")] = None,
              data_dir: DataDir = Path("var"), key_file: KeyFile = None, backup_home: Home = None,
              database_url: DatabaseUrl = None) -> None:
    """Restore drill: restore a backup into a temporary directory, verify it, report, and
    record the drill's date (read by `cityos compliance`)."""
    from cityos.backup.home import BackupHome
    from cityos.backup.restore import RestoreError, drill

    settings = _settings(data_dir, backup_home)
    home = BackupHome.of(settings, key_file)
    if backup is None:
        last = home.last("backup")
        if last is None or not Path(str(last.get("file"))).is_file():
            fail("復元訓練するバックアップがありません。ファイルを指定してください",
                 "no backup to drill: name the backup file")
        backup = Path(str(last["file"]))
    if not backup.is_file():
        fail(f"{backup} がありません", f"no backup file {backup}")
    try:
        done = drill(backup, home, database_url or "", settings.storage.database_url)
    except RestoreError as exc:
        fail("復元訓練は失敗しました: " + _split(str(exc))[0],
             "the restore drill failed: " + _split(str(exc))[1], code=1)
    head = done.manifest.get("treeHead") or {}
    print(f"復元訓練 成功 / restore drill passed ({time.strftime('%Y-%m-%d')}): "
          f"{backup.name}, made {done.manifest.get('created')}, {done.files} files, "
          f"log tree size {head.get('treeSize', 0)}, restored and verified in "
          f"{done.seconds:.1f} s")
    print(done.verify_output.splitlines()[-1] if done.verify_output else "")


def _split(message: str) -> tuple[str, str]:
    """A 'ja / en' message as its two halves (the whole in both when it has no ' / ')."""
    first, sep, rest = message.partition(" / ")
    return (first, rest) if sep else (message, message)
