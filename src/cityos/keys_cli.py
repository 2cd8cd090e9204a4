"""`cityos keys rotate KIND`: a new key of one kind in the data directory's key store.

The old key goes on verifying for an overlap (tokens: until the tokens it signed expire;
session cookies: SESSION_SECONDS; the log's tree heads and the CA's and TSA's certificates:
for good, as public keys and certificates); running processes take the new key up within
seconds (tokens, sessions, CA) or at their next checkpoint (log, TSA).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import hashes

from cityos.access.service import Access
from cityos.trust.service import Trust, rotate_log_key
from cityos.trust.stamper import rotate_tsa
from cityos.trust.treehead import public_key_text

keys_app = typer.Typer(no_args_is_help=True,
                       help="the key store: private keys and secrets (rotation)")
DataDir = Annotated[Path, typer.Option("--data-dir", help="where the platform keeps its data")]


class Kind(StrEnum):
    tokens = "tokens"
    log = "log"
    tsa = "tsa"
    ca = "ca"
    session = "session"


async def rotate_key(kind: Kind, trust: Trust, access: Access) -> str:
    """Rotate one kind of key; a line saying what signs now and how long the old key counts."""
    keys = trust.keys
    if kind is Kind.tokens:
        await access.ring.load()
        key = await access.ring.rotate()
        return (f"token signing key {key.kid}; tokens of the old keys are accepted until they "
                f"expire ({access.settings.token_ttl} s) / 新しいトークン署名鍵")
    if kind is Kind.log:
        public = rotate_log_key(keys).public_key()
        return (f"log key {public_key_text(trust.log.origin, public)}; heads of the old key "
                "still verify / 新しいログ署名鍵")
    if kind is Kind.tsa:
        tsa = await rotate_tsa(keys, trust.certs, trust.settings.ca_name)
        return (f"TSA certificate serial {tsa.cert.serial_number:x}; tokens of the old one "
                "still verify / 新しいタイムスタンプ鍵")
    if kind is Kind.ca:
        ca = await trust.certs.rotate_ca(trust.settings.ca_name)
        await rotate_tsa(keys, trust.certs, trust.settings.ca_name)  # its TSA under the new CA
        return (f"platform CA SHA-256 {ca.cert.fingerprint(hashes.SHA256()).hex()} (and a new "
                "TSA certificate); certificates the old CA issued verify until they expire: "
                "renew them / 新しい認証局")
    from cityos.web.session import SESSION_SECONDS, rotate_session_key

    rotate_session_key(keys)
    return (f"session key made; cookies of the old key are accepted "
            f"{SESSION_SECONDS // 86_400} more days / 新しいセッション鍵")


@keys_app.command("rotate")
def rotate(kind: Annotated[Kind, typer.Argument(help="tokens, log, tsa, ca or session")],
           data_dir: DataDir = Path("var")) -> None:
    """Make a new key of KIND; the old one keeps verifying for its overlap period."""
    from cityos.trust.cli import run_trust

    async def work(trust: Trust, access: Access) -> str:
        return await rotate_key(kind, trust, access)

    print(run_trust(data_dir, work))
