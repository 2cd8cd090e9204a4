"""The backup home: what backups need that must not be inside them or the data dir.

`backup.home` (default: beside the data dir, `DIR.backup`) holds the backup key
(`backup.key`, unless `backup.key_file` names another place), the erasure ledger
(`erased.jsonl`: every resident whose data key was destroyed, so that restoring an older
backup cannot bring them back) and the journal (`journal.jsonl`: each backup and restore
drill, read by `cityos compliance`). Directory 0700, files 0600.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from cityos.settings import Settings

KEY_FILE = "backup.key"
LEDGER = "erased.jsonl"
JOURNAL = "journal.jsonl"


@dataclass(frozen=True)
class BackupHome:
    directory: Path
    key_file: Path

    @classmethod
    def of(cls, settings: Settings, key_file: Path | None = None) -> BackupHome:
        data_dir = settings.data_dir.resolve()
        home = Path(settings.backup.home) if settings.backup.home else \
            data_dir.parent / (data_dir.name + ".backup")
        key = key_file or (Path(settings.backup.key_file) if settings.backup.key_file
                           else home / KEY_FILE)
        return cls(home, key)

    @property
    def ledger(self) -> Path:
        return self.directory / LEDGER

    def _append(self, name: str, docs: list[dict[str, Any]]) -> None:
        if not docs:
            return
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as f:
            f.write(b"".join(orjson.dumps(d) + b"\n" for d in docs))
            f.flush()
            os.fsync(f.fileno())

    def _read(self, name: str) -> list[dict[str, Any]]:
        try:
            lines = (self.directory / name).read_bytes().splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                doc = orjson.loads(line)
            except orjson.JSONDecodeError:  # a line cut by a crash: the others still count
                continue
            if isinstance(doc, dict):
                out.append(doc)
        return out

    # the erasure ledger -----------------------------------------------------------------------
    def record_erasures(self, erased: list[tuple[str, str, float]]) -> None:
        known = self.erased()
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(self.ledger, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
        self._append(LEDGER, [{"tenant": t, "subject": s, "at": at} for t, s, at in erased
                              if (t, s) not in known])

    def erased(self) -> set[tuple[str, str]]:
        return {(str(d.get("tenant", "")), str(d.get("subject", "")))
                for d in self._read(LEDGER) if d.get("subject")}

    # the journal ------------------------------------------------------------------------------
    def record(self, kind: str, **fields: Any) -> None:
        """Note a backup (`kind` "backup") or a restore drill ("drill") with its outcome."""
        self._append(JOURNAL, [{"kind": kind, "at": time.time(), **fields}])

    def last(self, kind: str, ok: bool = True) -> dict[str, Any] | None:
        found = [d for d in self._read(JOURNAL) if d.get("kind") == kind
                 and bool(d.get("ok", True)) == ok]
        return max(found, key=lambda d: float(d.get("at", 0))) if found else None


def ledger_of(settings: Settings) -> Path:
    """Where the erasure ledger of the platform in `settings` is."""
    return BackupHome.of(settings).directory / LEDGER
