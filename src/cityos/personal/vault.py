"""The vault: per-resident data keys (AES-256-GCM) wrapped by a master key; crypto-shredding.

NIST SP 800-38D (GCM). Resident keys live in their own small database (`personal/keys.db`
under the data dir), never in the main database nor copies of it: erasing a resident deletes
their key row (SQLite `secure_delete`, rollback journal), so every copy of their sealed rows,
database copies taken earlier included, stays unreadable. A whole-platform backup (`cityos
backup`) holds keys.db too; each erasure is also told to `on_erase` (the erasure ledger
outside the data dir), which `cityos restore` applies. Implements the storage `Sealer`
(issue 6).
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CV1"  # sealed bodies start with it (JSON never does)
NONCE = 12
ENV = "CITYOS_PERSONAL_MASTER_KEY"
KEY_DIR = Path("personal")
MASTER_FILE = "master.key"
KEYS_DB = "keys.db"
RECHECK_SECONDS = 30.0  # a key erased by another process stops working here within this time
_SCHEMA = """
CREATE TABLE IF NOT EXISTS subject_keys (
    tenant TEXT NOT NULL, subject TEXT NOT NULL, wrapped BLOB NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (tenant, subject));
CREATE TABLE IF NOT EXISTS erased (
    tenant TEXT NOT NULL, subject TEXT NOT NULL, at REAL NOT NULL, PRIMARY KEY (tenant, subject));
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class VaultError(RuntimeError):
    """The vault cannot open: no or a wrong master key (message Japanese and English)."""


def _key_id(master: bytes) -> str:
    return hashlib.sha256(b"cityos-master-key\x00" + master).hexdigest()[:16]


def _aad(tenant: str, subject: str) -> bytes:
    return f"{tenant}\x1f{subject}".encode()


def _decode_master(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError as exc:
        raise VaultError("マスター鍵は32バイトのbase64です / the master key is 32 bytes in "
                         "base64") from exc
    if len(key) != 32:
        raise VaultError("マスター鍵は32バイトのbase64です / the master key is 32 bytes in "
                         "base64")
    return key


def new_master_key() -> str:
    """A fresh master key in the text form the key file and the environment variable hold."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class Vault:
    """Per-(tenant, subject) data keys: made on first seal, cached unwrapped in memory, erased
    for good by `erase`. Thread-safe: the storage engine seals in its writer thread."""

    def __init__(self, directory: Path, master: bytes) -> None:
        self.directory = directory
        self._master = AESGCM(master)
        self._master_id = _key_id(master)
        self._lock = threading.Lock()
        # told of each erasure (tenant, subject, time): the erasure ledger outside the data dir
        # that a restore of an older backup applies (cityos.backup.home)
        self.on_erase: Callable[[str, str, float], None] | None = None
        self._keys: dict[tuple[str, str], tuple[AESGCM, float]] = {}  # with when it was read
        directory.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(directory / KEYS_DB, check_same_thread=False,
                                   isolation_level=None)
        # erasure must leave no copy of a key: zero freed pages, no WAL keeping old pages
        self._db.executescript("PRAGMA journal_mode=DELETE; PRAGMA secure_delete=ON; "
                               "PRAGMA synchronous=FULL;" + _SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE name = 'master'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('master', ?)", (self._master_id,))
        elif row[0] != self._master_id:
            self._db.close()
            raise VaultError("マスター鍵が鍵データベースと一致しません / the master key does not "
                             f"match {directory / KEYS_DB} (another key, or a rotation half done)")
        found = self._db.execute("SELECT value FROM meta WHERE name = 'vault'").fetchone()
        if found is None:  # which vault this is, so that processes on one database can tell
            self._db.execute("INSERT INTO meta VALUES ('vault', ?)", (secrets.token_hex(16),))
            found = self._db.execute("SELECT value FROM meta WHERE name = 'vault'").fetchone()
        self.identity: str = found[0]

    @classmethod
    def at(cls, data_dir: Path, master_text: str = "") -> Vault:
        """The vault of a data dir; the master key from `master_text` (the setting or
        CITYOS_PERSONAL_MASTER_KEY), else `personal/master.key`, made on first use."""
        directory = data_dir / KEY_DIR
        text = master_text or os.environ.get(ENV, "")
        if text:
            return cls(directory, _decode_master(text))
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MASTER_FILE
        if not path.exists():
            _write_private(path, new_master_key())
        try:
            return cls(directory, _decode_master(path.read_text(encoding="ascii")))
        except VaultError:
            pending = path.with_name(MASTER_FILE + ".new")  # a rotation stopped half-way
            if not pending.exists():
                raise
            vault = cls(directory, _decode_master(pending.read_text(encoding="ascii")))
            os.replace(pending, path)
            return vault

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # keys -----------------------------------------------------------------------------------
    def _key(self, tenant: str, subject: str, create: bool) -> AESGCM | None:
        cached = self._keys.get((tenant, subject))
        if cached is not None and time.monotonic() - cached[1] < RECHECK_SECONDS:
            return cached[0]
        with self._lock:
            row = self._db.execute("SELECT wrapped FROM subject_keys WHERE tenant = ? AND "
                                   "subject = ?", (tenant, subject)).fetchone()
            if row is not None:
                wrapped = bytes(row[0])
                raw = self._master.decrypt(wrapped[:NONCE], wrapped[NONCE:], _aad(tenant, subject))
            elif not create:
                self._keys.pop((tenant, subject), None)
                return None
            else:
                raw = AESGCM.generate_key(bit_length=256)
                nonce = secrets.token_bytes(NONCE)
                wrapped = nonce + self._master.encrypt(nonce, raw, _aad(tenant, subject))
                made = self._db.execute("INSERT OR IGNORE INTO subject_keys VALUES (?, ?, ?, ?)",
                                        (tenant, subject, wrapped, time.time())).rowcount
                if not made:  # another process made it a moment ago: use theirs
                    wrapped = bytes(self._db.execute(
                        "SELECT wrapped FROM subject_keys WHERE tenant = ? AND subject = ?",
                        (tenant, subject)).fetchone()[0])
                    raw = self._master.decrypt(wrapped[:NONCE], wrapped[NONCE:],
                                               _aad(tenant, subject))
            key = AESGCM(raw)
            self._keys[(tenant, subject)] = (key, time.monotonic())
            return key

    def has_key(self, tenant: str, subject: str) -> bool:
        return self._key(tenant, subject, create=False) is not None

    # the contract's Sealer ------------------------------------------------------------------
    def seal(self, tenant: str, subject: str, data: bytes) -> bytes:
        """`data` encrypted under the subject's key (made on first use)."""
        key = self._key(tenant, subject, create=True)
        assert key is not None
        nonce = secrets.token_bytes(NONCE)
        return MAGIC + nonce + key.encrypt(nonce, data, _aad(tenant, subject))

    def open(self, tenant: str, subject: str, data: bytes) -> bytes | None:
        """The plaintext; None when the subject's key is erased (or the bytes were not sealed
        under it). Bytes stored before sealing was on come back as they are."""
        if not data.startswith(MAGIC):
            return data
        key = self._key(tenant, subject, create=False)
        if key is None:
            return None
        body = data[len(MAGIC):]
        try:
            return key.decrypt(body[:NONCE], body[NONCE:], _aad(tenant, subject))
        except InvalidTag:
            return None

    # erasure and rotation -------------------------------------------------------------------
    def erase(self, tenant: str, subject: str) -> bool:
        """Destroy the subject's key (crypto-shredding); True when there was one."""
        at = time.time()
        with self._lock:
            self._keys.pop((tenant, subject), None)
            gone = self._db.execute("DELETE FROM subject_keys WHERE tenant = ? AND subject = ?",
                                    (tenant, subject)).rowcount
            self._db.execute("INSERT OR REPLACE INTO erased VALUES (?, ?, ?)",
                             (tenant, subject, at))
        if self.on_erase is not None:
            self.on_erase(tenant, subject, at)
        return bool(gone)

    def erasures(self) -> list[tuple[str, str, float]]:
        """Every (tenant, subject, time) whose key was erased."""
        with self._lock:
            rows = self._db.execute("SELECT tenant, subject, at FROM erased").fetchall()
        return [(str(t), str(s), float(at)) for t, s, at in rows]

    def erased(self, tenant: str, subject: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM erased WHERE tenant = ? AND subject = ?",
                                    (tenant, subject)).fetchone() is not None

    def rotate_master(self, new_text: str) -> int:
        """Re-wrap every resident key under a new master key, in one transaction; returns how
        many keys were re-wrapped. The caller keeps the new key (file or environment)."""
        new = _decode_master(new_text)
        new_aead = AESGCM(new)
        with self._lock:
            rows = self._db.execute("SELECT tenant, subject, wrapped FROM subject_keys").fetchall()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for tenant, subject, wrapped in rows:
                    wrapped = bytes(wrapped)
                    aad = _aad(tenant, subject)
                    raw = self._master.decrypt(wrapped[:NONCE], wrapped[NONCE:], aad)
                    nonce = secrets.token_bytes(NONCE)
                    self._db.execute("UPDATE subject_keys SET wrapped = ? WHERE tenant = ? AND "
                                     "subject = ?", (nonce + new_aead.encrypt(nonce, raw, aad),
                                                     tenant, subject))
                self._db.execute("UPDATE meta SET value = ? WHERE name = 'master'",
                                 (_key_id(new),))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._master, self._master_id = new_aead, _key_id(new)
        return len(rows)


def rotate_master_key(data_dir: Path, master_text: str = "") -> tuple[int, str | None]:
    """`cityos personal rotate-master-key`: re-wrap the resident keys under a new master key.

    With the key in `personal/master.key`, the new key replaces it there (the old one is
    written to `master.key.new` first, so a crash half-way loses nothing) and None is returned
    as the text; with the key from the environment the new key is returned to be set there.
    Run it with the server stopped (a running server holds the old key). Blocking."""
    vault = Vault.at(data_dir, master_text)
    text = new_master_key()
    from_file = not (master_text or os.environ.get(ENV))
    path = data_dir / KEY_DIR / MASTER_FILE
    try:
        if from_file:
            _write_private(path.with_name(MASTER_FILE + ".new"), text)
        count = vault.rotate_master(text)
        if from_file:
            os.replace(path.with_name(MASTER_FILE + ".new"), path)
    finally:
        vault.close()
    return count, None if from_file else text
