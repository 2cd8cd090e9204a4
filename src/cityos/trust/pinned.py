"""What `cityos verify` is told to trust, read from the command line: the platform CA
(`--ca FILE`, PEM) and the log's public key (`--log-key`, the text or a file holding it).

A bad one is the caller's file at fault, not the bundle or the log being checked: the
message names the option and the file, in English and Japanese, and says how to get a good one.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cityos.trust.ca import CertificateError
from cityos.trust.certs import load_pem
from cityos.trust.treehead import TreeHeadError, parse_public_key

GET_CA = ("get one with `cityos trust ca` or `curl -H 'Accept: application/x-pem-file' "
          "<platform>/trust/v1/ca`")


class PinError(ValueError):
    """A pinned CA or log key that cannot be used; the message is bilingual."""


def read_ca(path: Path) -> tuple[bytes, x509.Certificate]:
    """The PEM bytes and certificate of `--ca FILE`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PinError(f"--ca {path}: cannot read the file ({exc.strerror}) / "
                       f"CA 証明書ファイルを読めません") from None
    try:
        return raw, load_pem(raw)
    except CertificateError:
        pass
    try:  # the JSON answer of GET /trust/v1/ca: its "certificate" member is the PEM
        inner = orjson.loads(raw).get("certificate")
    except (orjson.JSONDecodeError, AttributeError):
        inner = None
    if isinstance(inner, str):
        try:
            return inner.encode(), load_pem(inner)
        except CertificateError:
            pass
    raise PinError(f"--ca {path}: not a PEM CA certificate (-----BEGIN CERTIFICATE-----); "
                   f"{GET_CA} / PEM 形式の CA 証明書ではありません（`cityos trust ca` で取得"
                   "できます）")


def read_log_key(value: str) -> tuple[str, Ed25519PublicKey]:
    """`--log-key`: a file holding the key, or the key text itself (`origin+keyid+base64`, as
    tree heads print `publicKey`)."""
    text, source = value, "--log-key"
    path = Path(value)
    if path.is_file():
        try:
            text, source = path.read_text("utf-8").strip(), f"--log-key {path}"
        except (OSError, UnicodeDecodeError) as exc:
            raise PinError(f"--log-key {path}: cannot read the file ({exc}) / "
                           "ログ公開鍵のファイルを読めません") from None
    try:
        return text, parse_public_key(text)[1]
    except TreeHeadError as exc:
        raise PinError(f"{source}: {exc}; give the publicKey of a tree head "
                       "(`cityos trust tree-head`), or a file holding it / "
                       "ログ公開鍵（origin+keyid+base64）またはそのファイルを指定してください"
                       ) from None
