"""The encrypted envelope of a backup: AES-256-GCM in 1 MiB chunks under the backup key.

File layout: `CITYOSBK1\\n`, a 4-byte big-endian header length, the header (JSON: format,
key id, chunk size, nonce prefix), then chunks, each a 4-byte length and its ciphertext. Chunk
`i` is sealed with the nonce `prefix(7) ‖ i (4 bytes) ‖ last (1 byte)` and the magic and header
as associated data (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár): a
changed, removed, reordered or appended byte, a cut-off end or another key each fail
authentication. The key is 32 random bytes (base64 in a 0600 file) kept apart from the data dir
and the backups.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import secrets
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CITYOSBK1\n"
CHUNK = 1 << 20
_PREFIX = 7


class EnvelopeError(RuntimeError):
    """The file is no backup, another key's, or was changed (message Japanese / English)."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"cityos-backup-key\x00" + key).hexdigest()[:16]


def read_key(path: Path) -> bytes:
    try:
        key = base64.b64decode(path.read_text("ascii").strip(), validate=True)
    except FileNotFoundError:
        raise EnvelopeError(f"バックアップ鍵 {path} がありません / no backup key at {path}: "
                            "give --backup-home (or --key-file) with the key the backup was made with") from None
    except ValueError:
        key = b""
    if len(key) != 32:
        raise EnvelopeError(f"{path} はバックアップ鍵ではありません(32バイトのbase64) / "
                            f"{path} is not a backup key (32 bytes in base64)")
    return key


def ensure_key(path: Path) -> tuple[bytes, bool]:
    """The key in `path`, made (0600, directory 0700) when there is none; whether it was made."""
    if path.exists():
        return read_key(path), False
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    text = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(text + "\n")
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # two backups starting together agree on one key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return read_key(path), True


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", index, 1 if last else 0)


class Sealing(io.RawIOBase):
    """A writable stream that seals what is written to it into `out`, chunk by chunk (for
    tarfile's stream mode: the archive is never kept in plaintext); `close` seals the last."""

    def __init__(self, out: BinaryIO, key: bytes) -> None:
        super().__init__()
        self._out, self._aead = out, AESGCM(key)
        self._prefix = secrets.token_bytes(_PREFIX)
        header = orjson.dumps({"format": "cityos-backup/1", "cipher": "AES-256-GCM",
                               "keyId": key_id(key), "chunk": CHUNK,
                               "prefix": self._prefix.hex()})
        self._aad = MAGIC + header
        out.write(MAGIC + struct.pack(">I", len(header)) + header)
        self._buffer = bytearray()
        self._index = 0

    def writable(self) -> bool:
        return True

    def _seal(self, chunk: bytes, last: bool) -> None:
        sealed = self._aead.encrypt(_nonce(self._prefix, self._index, last), chunk, self._aad)
        self._out.write(struct.pack(">I", len(sealed)) + sealed)
        self._index += 1

    def write(self, data: Any) -> int:
        self._buffer += data
        while len(self._buffer) > CHUNK:  # the last chunk is sealed only at close
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
        super().close()


def encrypt(source: BinaryIO, out: BinaryIO, key: bytes) -> None:
    """Write `source` (read to its end) sealed under `key` to `out`."""
    with Sealing(out, key) as sink:
        for block in iter(lambda: source.read(CHUNK), b""):
            sink.write(block)


class Opening(io.RawIOBase):
    """A readable stream of an envelope's plaintext (for tarfile's stream mode); each chunk is
    authenticated before any of it is read, and `drain` makes sure the envelope ended as
    sealed (nothing cut off or appended) — call it before trusting what was read."""

    def __init__(self, source: BinaryIO, key: bytes) -> None:
        super().__init__()
        self._chunks = decrypt(source, key)
        self._buffer = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer and not self._done:
            try:
                self._buffer = next(self._chunks)
            except StopIteration:
                self._done = True
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return size

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def header_of(source: BinaryIO) -> tuple[dict[str, object], bytes]:
    """The envelope's header and the associated data of its chunks."""
    if source.read(len(MAGIC)) != MAGIC:
        raise EnvelopeError("cityos のバックアップファイルではありません / not a cityos backup file")
    size = source.read(4)
    header = source.read(struct.unpack(">I", size)[0]) if len(size) == 4 else b""
    try:
        doc = orjson.loads(header)
    except orjson.JSONDecodeError:
        doc = None
    if not isinstance(doc, dict) or doc.get("format") != "cityos-backup/1":
        raise EnvelopeError("バックアップファイルの見出しが壊れています / the backup file's header "
                            "is damaged")
    return doc, MAGIC + header


def decrypt(source: BinaryIO, key: bytes) -> Iterator[bytes]:
    """The plaintext of an envelope, chunk by chunk; EnvelopeError as soon as anything does
    not authenticate (use what came before only once the iterator ended without error)."""
    header, aad = header_of(source)
    if header.get("keyId") != key_id(key):
        raise EnvelopeError("このバックアップは別の鍵で暗号化されています / this backup was "
                            "encrypted with another key (give its --key-file)")
    prefix = bytes.fromhex(str(header.get("prefix", "")))
    aead = AESGCM(key)
    index = 0
    while True:
        size = source.read(4)
        if len(size) != 4:
            raise EnvelopeError("バックアップファイルが途中で切れています / the backup file is cut "
                                "short")
        sealed = source.read(struct.unpack(">I", size)[0])
        for last in (False, True):
            try:
                chunk = aead.decrypt(_nonce(prefix, index, last), sealed, aad)
            except InvalidTag:
                continue
            break
        else:
            raise EnvelopeError("バックアップファイルが改ざんされているか壊れています(認証に失敗) / "
                                "the backup file was altered or is damaged (authentication "
                                "failed)")
        yield chunk
        if last:
            if source.read(1):
                raise EnvelopeError("バックアップファイルの末尾に余分なデータがあります / the "
                                    "backup file has bytes after its end")
            return
        index += 1
