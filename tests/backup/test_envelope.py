"""The backup envelope: AES-256-GCM chunks that refuse every change, cut and extension."""

from __future__ import annotations

import io
import secrets

import pytest

from cityos.backup.envelope import CHUNK, EnvelopeError, Opening, decrypt, encrypt


def _seal(plain: bytes, key: bytes) -> bytes:
    out = io.BytesIO()
    encrypt(io.BytesIO(plain), out, key)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, CHUNK, CHUNK + 1, 2 * CHUNK + 17])
def test_round_trip_at_chunk_boundaries(size: int) -> None:
    key, plain = secrets.token_bytes(32), secrets.token_bytes(size)
    sealed = _seal(plain, key)
    assert b"".join(decrypt(io.BytesIO(sealed), key)) == plain
    with Opening(io.BytesIO(sealed), key) as stream:
        assert stream.read() == plain


def test_changes_cuts_extensions_and_other_keys_are_refused() -> None:
    key, plain = secrets.token_bytes(32), secrets.token_bytes(2 * CHUNK + 5)
    sealed = _seal(plain, key)
    flipped = bytearray(sealed)
    flipped[len(sealed) // 2] ^= 0x80
    header_end = sealed.index(b"}") + 1
    first_chunk_end = header_end + 4 + CHUNK + 16
    for bad, says in ((bytes(flipped), "altered"),
                      (sealed[:first_chunk_end], "cut short"),  # whole chunks missing
                      (sealed + b"x", "after its end"),
                      (sealed[:-1], "altered")):
        with pytest.raises(EnvelopeError, match=says):
            b"".join(decrypt(io.BytesIO(bad), key))
    with pytest.raises(EnvelopeError, match="another key"):
        b"".join(decrypt(io.BytesIO(sealed), secrets.token_bytes(32)))
    with pytest.raises(EnvelopeError, match="not a cityos backup"):
        b"".join(decrypt(io.BytesIO(b"PK\x03\x04" + sealed), key))
