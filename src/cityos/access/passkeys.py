"""Passkeys (WebAuthn Level 2 registration and authentication ceremonies) for residents.

W3C Web Authentication §7.1 / §7.2, done by py_webauthn (`webauthn`): CBOR, COSE keys,
attestation and signatures are its work. Challenges are kept in the store and used once.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, options_to_json_dict
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from cityos.access._expiring import sweep
from cityos.settings import Settings
from cityos.storage.base import Store

CEREMONIES = "access.ceremonies"  # ceremony id -> challenge and what it is for
CEREMONY_SECONDS = 300.0


class PasskeyError(ValueError):
    """A ceremony that cannot complete (unknown or expired, or a response that does not verify)."""


@dataclass(frozen=True)
class RelyingParty:
    id: str  # the domain passkeys are bound to (WebAuthn RP ID)
    name: str
    origins: tuple[str, ...]  # web origins whose pages may run the ceremonies


async def ceremony_of(store: Store, ceremony: str) -> dict[str, Any] | None:
    """What a pending ceremony is for (without using it up)."""
    state = await store.kv_get(CEREMONIES, ceremony) if ceremony else None
    return None if state is None else dict(state)


def relying_party(settings: Settings) -> RelyingParty:
    """From `access.passkey_rp_id` / `passkey_origins`, or else the platform's public URL."""
    public = urlsplit(settings.public_url)
    access = settings.access
    origins = access.passkey_origins or (f"{public.scheme}://{public.netloc}",)
    return RelyingParty(access.passkey_rp_id or public.hostname or "localhost",
                        access.passkey_rp_name, tuple(origins))


async def _begin(store: Store, challenge: bytes, **what: Any) -> str:
    await sweep(store, CEREMONIES)
    ceremony = secrets.token_urlsafe(18)
    await store.kv_put(CEREMONIES, ceremony, {"challenge": bytes_to_base64url(challenge),
                                              "expires": time.time() + CEREMONY_SECONDS, **what})
    return ceremony


async def _take(store: Store, ceremony: str, kind: str) -> dict[str, Any]:
    """The ceremony's state, removed so that it can be used once only."""
    state = await store.kv_get(CEREMONIES, ceremony) if ceremony else None
    if state is None or not await store.kv_delete(CEREMONIES, ceremony):
        raise PasskeyError("この手続きは無効です。もう一度始めてください / unknown or used "
                           "ceremony: start again")
    if state.get("kind") != kind or state["expires"] < time.time():
        raise PasskeyError("この手続きは期限切れです。もう一度始めてください / the ceremony "
                           "has expired: start again")
    return dict(state)


async def begin_registration(store: Store, rp: RelyingParty, login: str,
                             resident_id: str | None = None, existing: Sequence[str] = (),
                             staff: str | None = None) -> tuple[str, dict[str, Any]]:
    """Options for `navigator.credentials.create()` (a discoverable passkey) and the ceremony
    id to send back with the result; `resident_id` when a resident adds another passkey,
    `staff` when a staff member adds one (as a second factor)."""
    options = generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_name=login, user_display_name=login,
        user_id=secrets.token_bytes(16),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c)) for c in existing])
    ceremony = await _begin(store, options.challenge, kind="register", login=login,
                            resident=resident_id, staff=staff)
    return ceremony, options_to_json_dict(options)


async def finish_registration(store: Store, rp: RelyingParty, ceremony: str,
                              credential: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify the browser's answer; returns (the ceremony's state, the passkey to keep)."""
    state = await _take(store, ceremony, "register")
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=rp.id, expected_origin=list(rp.origins))
    except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
        raise PasskeyError(f"パスキーを確認できません / the passkey does not verify: {exc}") \
            from exc
    passkey = {"id": bytes_to_base64url(verified.credential_id),
               "public_key": bytes_to_base64url(verified.credential_public_key),
               "sign_count": verified.sign_count, "created": time.time(), "last_used": None,
               "backed_up": bool(getattr(verified, "credential_backed_up", False))}
    return state, passkey


async def begin_authentication(store: Store, rp: RelyingParty, allowed: Sequence[str] = (),
                               **what: Any) -> tuple[str, dict[str, Any]]:
    """Options for `navigator.credentials.get()`; with no `allowed` credential ids the browser
    offers the passkeys it holds for this site (no login name needed). `what` is kept with
    the ceremony (e.g. the staff member whose second factor it is)."""
    options = generate_authentication_options(
        rp_id=rp.id, allow_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(c))
                                        for c in allowed],
        user_verification=UserVerificationRequirement.PREFERRED)
    ceremony = await _begin(store, options.challenge, kind="login", **what)
    return ceremony, options_to_json_dict(options)


async def finish_authentication(store: Store, rp: RelyingParty, ceremony: str,
                                credential: dict[str, Any], passkey: dict[str, Any],
                                staff: str | None = None) -> int:
    """Verify an assertion made with `passkey` (as kept at registration) in a ceremony begun
    for `staff` (a second factor) or for residents (None); returns the new signature count.
    Raises PasskeyError when it does not verify."""
    state = await _take(store, ceremony, "login")
    if state.get("staff") != staff:
        raise PasskeyError("この手続きは別のサインイン用です / the ceremony belongs to "
                           "another sign-in")
    try:
        verified = verify_authentication_response(
            credential=credential, expected_challenge=base64url_to_bytes(state["challenge"]),
            expected_rp_id=rp.id, expected_origin=list(rp.origins),
            credential_public_key=base64url_to_bytes(passkey["public_key"]),
            credential_current_sign_count=int(passkey.get("sign_count", 0)))
    except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
        raise PasskeyError(f"パスキーを確認できません / the passkey does not verify: {exc}") \
            from exc
    return int(verified.new_sign_count)
