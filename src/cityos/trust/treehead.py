"""Signed tree heads of the transparency log, as C2SP checkpoints in signed notes.

RFC 9162 §4.10 (what a tree head commits to); the text form is the C2SP `tlog-checkpoint`
(origin, size, base64 root, extension lines) signed as a C2SP `signed-note` with Ed25519,
which Go's `golang.org/x/mod/sumdb/note` and Sigstore's verifiers read as well.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

_ED25519 = b"\x01"  # signed-note signature type of Ed25519


class TreeHeadError(ValueError):
    """A tree head that is malformed or whose signature does not verify."""


def key_id(name: str, public: Ed25519PublicKey) -> bytes:
    """The 4-byte key hash a signed note names its key by (C2SP signed-note)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + raw).digest()[:4]


def public_key_text(name: str, public: Ed25519PublicKey) -> str:
    """The verifier key in note form `name+hexkeyid+base64(type‖key)` (for pinning)."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"{name}+{key_id(name, public).hex()}+{base64.b64encode(_ED25519 + raw).decode()}"


def parse_public_key(text: str) -> tuple[str, Ed25519PublicKey]:
    try:
        name, hexid, b64 = text.strip().split("+", 2)  # a name has no "+", base64 may
        raw = base64.b64decode(b64, validate=True)
        if raw[:1] != _ED25519 or len(raw) != 33:
            raise ValueError("not an Ed25519 key")
        public = Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError as exc:
        raise TreeHeadError(f"not a log public key: {exc}") from None
    if key_id(name, public).hex() != hexid:
        raise TreeHeadError("the log public key's id does not match the key")
    return name, public


@dataclass(frozen=True)
class TreeHead:
    """What a tree head says: the log (origin), its size, its root and when it was signed."""

    origin: str
    size: int
    root: bytes
    timestamp: int  # milliseconds since the epoch

    def body(self) -> bytes:
        """The checkpoint text that is signed (and time-stamped)."""
        return (f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"
                f"timestamp {self.timestamp}\n").encode()


@dataclass(frozen=True)
class SignedTreeHead:
    head: TreeHead
    signature: bytes  # Ed25519 over head.body()
    key: bytes  # the 4-byte key id of the signer
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the RFC 3161 token over body()

    @property
    def size(self) -> int:
        return self.head.size

    @property
    def root(self) -> bytes:
        return self.head.root

    def note(self) -> str:
        """The signed note: checkpoint, blank line, signature line."""
        sig = base64.b64encode(self.key + self.signature).decode()
        return self.head.body().decode() + f"\n— {self.head.origin} {sig}\n"

    def to_json(self) -> dict[str, Any]:
        return {"origin": self.head.origin, "treeSize": self.head.size,
                "rootHash": self.head.root.hex(), "timestamp": self.head.timestamp,
                "keyId": self.key.hex(), "signature": base64.b64encode(self.signature).decode(),
                "checkpoint": self.note(), **self.extra}

    def with_extra(self, **extra: Any) -> SignedTreeHead:
        return replace(self, extra={**self.extra, **extra})

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> SignedTreeHead:
        try:
            head = TreeHead(str(doc["origin"]), int(doc["treeSize"]),
                            bytes.fromhex(doc["rootHash"]), int(doc["timestamp"]))
            signature = base64.b64decode(doc["signature"], validate=True)
            key = bytes.fromhex(doc["keyId"])
        except (KeyError, TypeError, ValueError) as exc:
            raise TreeHeadError(f"not a signed tree head: {exc}") from None
        known = {"origin", "treeSize", "rootHash", "timestamp", "keyId", "signature", "checkpoint"}
        return cls(head, signature, key, {k: v for k, v in doc.items() if k not in known})


def sign_head(head: TreeHead, private: Ed25519PrivateKey) -> SignedTreeHead:
    return SignedTreeHead(head, private.sign(head.body()), key_id(head.origin, private.public_key()))


def verify_head(sth: SignedTreeHead, public: Ed25519PublicKey) -> None:
    """Raise `TreeHeadError` unless the platform's log key signed this tree head."""
    if sth.key != key_id(sth.head.origin, public):
        raise TreeHeadError("the tree head is signed by another key")
    try:
        public.verify(sth.signature, sth.head.body())
    except InvalidSignature:
        raise TreeHeadError("the tree head's signature does not verify") from None
