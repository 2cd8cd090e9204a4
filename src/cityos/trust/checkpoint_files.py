"""The files `openssl ts -verify` needs to check an evidence bundle's time-stamp by itself:

- `checkpoint.txt`: the checkpoint text the token stamps — origin, tree size, root hash and
  timestamp lines, each ending in a newline (the signed note up to, not including, the blank
  line before its signature; the last newline belongs to it);
- `token.tst`: the RFC 3161 TimeStampToken (DER);
- `ca.pem`: the bundle's CA certificate (pin the one you obtained beforehand instead).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cityos.trust.treehead import SignedTreeHead, TreeHeadError

NAMES = ("checkpoint.txt", "token.tst", "ca.pem")


class ExportError(ValueError):
    """The bundle cannot give the files; the message is bilingual."""


def checkpoint_files(bundle: Any) -> dict[str, bytes]:
    """File name → content, from a parsed evidence bundle."""
    try:
        head = SignedTreeHead.from_json(bundle["treeHead"])
        ca = str(bundle["ca"]).encode()
    except KeyError as exc:
        raise ExportError(f"not an evidence bundle (no {exc}) / 証拠バンドルではありません"
                          ) from None
    except (TypeError, TreeHeadError) as exc:
        raise ExportError(f"not an evidence bundle ({exc}) / 証拠バンドルではありません") from None
    token = head.extra.get("timeStampToken")
    if not isinstance(token, str):
        raise ExportError("the bundle's tree head has no time-stamp token / "
                          "このバンドルのツリーヘッドにはタイムスタンプがありません")
    try:
        der = base64.b64decode(token, validate=True)
    except binascii.Error as exc:
        raise ExportError(f"the time-stamp token is not base64 ({exc}) / "
                          "タイムスタンプトークンが base64 ではありません") from None
    return {"checkpoint.txt": head.head.body(), "token.tst": der, "ca.pem": ca}
