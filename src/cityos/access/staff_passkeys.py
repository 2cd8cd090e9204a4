"""Passkeys as staff members' second factor: after the right password, a staff member who has
registered a passkey must also sign with it before getting a token.

W3C WebAuthn authentication ceremony (allowCredentials = the member's passkeys); MIC guideline
都市OS①-3 (multi-factor authentication for administrators).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.access._oauth import json_object, locked, oauth_error, throttled, token_response
from cityos.access.accounts import STAFF, BadCredentials, Locked
from cityos.access.passkeys import (
    PasskeyError,
    begin_authentication,
    ceremony_of,
    finish_authentication,
    relying_party,
)
from cityos.access.service import Access, access_of, staff_principal
from cityos.access.tokens import Principal, issue_token
from cityos.ngsi.api.respond import plain_json
from cityos.operations import ENROL_ROLE, PUBLIC, Operation

TAG = "access"


async def second_factor(access: Access, request: Request, member: dict[str, Any]) -> Response:
    """The answer to a right password of a member with passkeys: 401 `second_factor_required`
    with the options of a passkey ceremony limited to the member's own passkeys."""
    ceremony, options = await begin_authentication(
        access.store, relying_party(request.app.state.settings),
        [k["id"] for k in member["passkeys"]], staff=member["username"])
    return plain_json({"error": "second_factor_required",
                       "error_description": "パスキーで本人確認をしてください / confirm with "
                                            "your passkey at /auth/login/passkey",
                       "ceremony": ceremony, "publicKey": options}, status=401,
                      headers={"Cache-Control": "no-store"})


def must_enrol(access: Access, member: dict[str, Any]) -> bool:
    """A member of a role that needs a second factor, without a passkey yet."""
    needed = access.settings.second_factor_roles
    return bool(needed) and not member.get("passkeys") and any(
        r in needed for r in member.get("roles", ()))


async def enrolment_required(access: Access, member: dict[str, Any]) -> Response:
    """401 `second_factor_required` with a short token that can only add a passkey
    (POST /auth/v1/me/passkeys, then /auth/passkeys/register/finish)."""
    principal = Principal(sub="staff:" + member["username"], tenant=member.get("tenant", ""),
                          roles=(ENROL_ROLE,))
    token = await issue_token(access.ring, principal, min(600, access.settings.token_ttl))
    return plain_json({"error": "second_factor_required",
                       "error_description": "この役割にはパスキーが必要です。まずパスキーを登録して"
                                            "ください / this role needs a passkey: register one "
                                            "with the enrolment token at /auth/v1/me/passkeys",
                       "enrolment_token": token}, status=401,
                      headers={"Cache-Control": "no-store"})


async def staff_login_passkey(request: Request) -> Response:
    """The second step of a staff sign-in: the passkey's signature, then a token."""
    access = await access_of(request.app)
    if (slow := throttled(access, request)) is not None:
        return slow
    data = await json_object(request) or {}
    ceremony, credential = data.get("ceremony"), data.get("credential")
    if not isinstance(ceremony, str) or not isinstance(credential, dict):
        return oauth_error(400, "invalid_request", "ceremony and credential are needed")
    state = await ceremony_of(access.store, ceremony)
    username = (state or {}).get("staff")
    member = await access.store.kv_get(STAFF, username) if isinstance(username, str) else None
    passkey = next((k for k in (member or {}).get("passkeys", [])
                    if k["id"] == credential.get("id")), None)
    if member is None or passkey is None:
        return oauth_error(401, "access_denied", "パスキーを確認できません / unknown ceremony "
                           "or passkey: sign in again")
    try:
        count = await finish_authentication(access.store,
                                            relying_party(request.app.state.settings),
                                            ceremony, credential, passkey, staff=username)
        ok = True
    except PasskeyError:
        count, ok = 0, False
    try:
        member = await access.book.passkey_result(STAFF, member["username"],
                                                  "staff:" + member["username"],
                                                  passkey["id"], ok, count)
    except Locked as exc:
        return locked(exc.seconds)
    except BadCredentials:
        return oauth_error(401, "access_denied", "パスキーを確認できません / the passkey "
                           "does not verify")
    return await token_response(access, staff_principal(member))


CEREMONY = {"type": "object", "properties": {"ceremony": {"type": "string"},
                                             "credential": {"type": "object"}}}
OPERATIONS: list[Operation] = [
    Operation("POST", "/auth/login/passkey", staff_login_passkey,
              "Staff sign-in, second step: the passkey", TAG, body=CEREMONY,
              body_types=("application/json",),
              responses={200: "Token", 400: "invalid_request", 401: "access_denied",
                         429: "locked or too many attempts"}, policy=PUBLIC),
]
