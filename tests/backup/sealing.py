"""Open and re-seal a backup file as someone holding the backup key could: for the tests that
tamper with what is inside and show the restore still refuses."""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import orjson

from cityos.backup.envelope import decrypt, encrypt, read_key


def unpack(backup: Path, key_file: Path, into: Path) -> dict[str, object]:
    """The manifest; the files under `into`."""
    with backup.open("rb") as f:
        plain = b"".join(decrypt(f, read_key(key_file)))
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        tar.extractall(into, filter="data")
    return dict(orjson.loads((into / "manifest.json").read_bytes()))


def reseal(backup: Path, key_file: Path, work: Path, change: Callable[[Path], None],
           fix_digests: bool) -> Path:
    """A copy of `backup` with `change` applied to its files (under work/data), re-encrypted
    under the same key; with `fix_digests` the manifest is rewritten to match."""
    manifest = unpack(backup, key_file, work)
    change(work / "data")
    files = manifest["files"]
    assert isinstance(files, list)
    if fix_digests:
        for entry in files:
            raw = (work / "data" / entry["path"]).read_bytes()
            entry["size"], entry["sha256"] = len(raw), hashlib.sha256(raw).hexdigest()
    (work / "manifest.json").write_bytes(orjson.dumps(manifest))
    archive = work / "archive.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(work / "manifest.json", arcname="manifest.json")
        for entry in files:
            tar.add(work / "data" / entry["path"], arcname="data/" + entry["path"])
    out = work.with_name(f"{work.name}-resealed.cityosbk")
    with archive.open("rb") as source, out.open("wb") as sink:
        encrypt(source, sink, read_key(key_file))
    return out
