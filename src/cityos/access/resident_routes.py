"""Residents' sign-up and sign-in over HTTP: password, passkey ceremonies, and "who am I".

W3C WebAuthn Level 2 ceremonies (options out, the browser's credential back); answers in the
OAuth 2.0 token shape (RFC 6749 §5.1) so the app handles every sign-in the same way.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.access._oauth import (
    form,
    json_object,
    locked,
    oauth_error,
    throttled,
    token_response,
)
from cityos.access.accounts import STAFF, AccountError, BadCredentials, Locked
from cityos.access.passkey_page import passkey_page
from cityos.access.passkeys import (
    PasskeyError,
    begin_authentication,
    begin_registration,
    finish_authentication,
    finish_registration,
    relying_party,
)
from cityos.access.residents import normal_login
from cityos.access.service import Access, access_of, resident_principal, staff_principal
from cityos.audit.trail import PRINCIPAL
from cityos.ngsi.api.respond import plain_json
from cityos.operations import OWN_ACCOUNT, PASSKEY_ENROLMENT, PUBLIC, Operation

TAG = "residents"
_WRONG = "ログイン名かパスワードが違います / unknown login or wrong password"


def _refuse_signup(access: Access, request: Request) -> Response | None:
    """429 for an address trying too often, 403 when residents may not sign up themselves."""
    if (slow := throttled(access, request)) is not None:
        return slow
    if not access.settings.resident_signup:
        return oauth_error(403, "access_denied", "この町では自分で登録できません / residents "
                           "cannot sign up themselves here")
    return None


async def resident_signup(request: Request) -> Response:
    """A resident opens an account with a login name and a password; answers a token."""
    access = await access_of(request.app)
    if (refused := _refuse_signup(access, request)) is not None:
        return refused
    data = await form(request)
    if data is None or not data.get("login") or not data.get("password"):
        return oauth_error(400, "invalid_request", "login and password are needed")
    try:
        resident = await access.residents.add_resident(
            data["login"], tenant=access.settings.resident_tenant, password=data["password"])
    except AccountError as exc:
        return oauth_error(400, "invalid_request", str(exc))
    return await token_response(access, resident_principal(resident), status=201)


async def resident_login(request: Request) -> Response:
    """A resident signs in with login name and password (locked after repeated failures)."""
    access = await access_of(request.app)
    if (slow := throttled(access, request)) is not None:
        return slow
    data = await form(request)
    if data is None or not data.get("login") or not data.get("password"):
        return oauth_error(400, "invalid_request", "login and password are needed")
    try:
        resident = await access.residents.authenticate(data["login"], data["password"])
    except Locked as exc:
        return locked(exc.seconds)
    except BadCredentials:
        return oauth_error(401, "access_denied", _WRONG)
    return await token_response(access, resident_principal(resident))


async def passkey_register_begin(request: Request) -> Response:
    """Start making a passkey for a new resident account (`login` names it)."""
    access = await access_of(request.app)
    if (refused := _refuse_signup(access, request)) is not None:
        return refused
    data = await json_object(request)
    try:
        login = normal_login(str((data or {}).get("login", "")))
    except AccountError as exc:
        return oauth_error(400, "invalid_request", str(exc))
    if await access.residents.by_login(login) is not None:
        return oauth_error(400, "invalid_request",
                           "このログイン名は使われています / this login name is taken")
    ceremony, options = await begin_registration(
        access.store, relying_party(request.app.state.settings), login)
    return plain_json({"ceremony": ceremony, "publicKey": options})


async def my_passkey_begin(request: Request) -> Response:
    """Start adding a passkey to the caller's own account: a resident's sign-in, or a staff
    member's second factor."""
    access = await access_of(request.app)
    principal = request.scope[PRINCIPAL]
    rp = relying_party(request.app.state.settings)
    if principal.kind == "staff":
        member = await access.store.kv_get(STAFF, principal.name)
        if member is not None and member.get("passkeys"):  # a stolen token must not enrol
            return oauth_error(400, "invalid_request", "パスキーは登録済みです。追加は管理者が "
                               "`cityos staff reset-passkeys` の後に / this account has a "
                               "passkey: an administrator resets them with `cityos staff "
                               "reset-passkeys` first")
        if member is not None:
            ceremony, options = await begin_registration(
                access.store, rp, member["username"],
                existing=[k["id"] for k in member.get("passkeys", [])],
                staff=member["username"])
            return plain_json({"ceremony": ceremony, "publicKey": options})
    resident = await access.residents.get(principal.name) \
        if principal.kind == "resident" else None
    if resident is None:
        return oauth_error(400, "invalid_request", "このアカウントにはパスキーを登録できません / "
                           "this account cannot have passkeys")
    ceremony, options = await begin_registration(
        access.store, rp, resident["login"], resident["id"],
        [k["id"] for k in resident.get("passkeys", [])])
    return plain_json({"ceremony": ceremony, "publicKey": options})


def _ceremony_body(data: dict[str, Any] | None) -> tuple[str, dict[str, Any]] | None:
    if data is None or not isinstance(data.get("ceremony"), str) \
            or not isinstance(data.get("credential"), dict):
        return None
    return data["ceremony"], data["credential"]


async def passkey_register_finish(request: Request) -> Response:
    """Keep the passkey the browser made; a new account answers 201 with a token."""
    access = await access_of(request.app)
    if (slow := throttled(access, request)) is not None:
        return slow
    body = _ceremony_body(await json_object(request))
    if body is None:
        return oauth_error(400, "invalid_request", "ceremony and credential are needed")
    try:
        state, passkey = await finish_registration(
            access.store, relying_party(request.app.state.settings), *body)
        if await access.residents.of_passkey(passkey["id"]) is not None:
            raise PasskeyError("このパスキーは登録済みです / this passkey is already registered")
        if state.get("staff"):  # a staff member's second factor
            await access.book.add_passkey(STAFF, state["staff"], passkey)
            member = await access.book.get_staff(state["staff"])
            return await token_response(access, staff_principal(member))
        resident = await access.residents.get(state["resident"]) if state.get("resident") \
            else await access.residents.add_resident(state["login"],
                                                     tenant=access.settings.resident_tenant)
    except (PasskeyError, AccountError) as exc:
        return oauth_error(400, "invalid_request", str(exc))
    if resident is None or resident.get("disabled"):
        return oauth_error(400, "invalid_request", "the account is gone or disabled")
    await access.residents.add_passkey(resident, passkey)
    return await token_response(access, resident_principal(resident),
                                status=200 if state.get("resident") else 201)


async def passkey_login_begin(request: Request) -> Response:
    """Start signing in with a passkey (the browser offers the ones it holds for this site)."""
    access = await access_of(request.app)
    if (slow := throttled(access, request)) is not None:
        return slow
    ceremony, options = await begin_authentication(
        access.store, relying_party(request.app.state.settings))
    return plain_json({"ceremony": ceremony, "publicKey": options})


async def passkey_login_finish(request: Request) -> Response:
    """Check the browser's signature with the resident's passkey and answer a token."""
    access = await access_of(request.app)
    if (slow := throttled(access, request)) is not None:
        return slow
    body = _ceremony_body(await json_object(request))
    if body is None:
        return oauth_error(400, "invalid_request", "ceremony and credential are needed")
    raw_id = body[1].get("id")
    credential_id = raw_id if isinstance(raw_id, str) else ""
    resident = await access.residents.of_passkey(credential_id) if credential_id else None
    passkey = next((k for k in (resident or {}).get("passkeys", [])
                    if k["id"] == credential_id), None)
    if resident is None or passkey is None:
        return oauth_error(401, "access_denied", "このパスキーは登録されていません / "
                           "this passkey is not registered")
    try:
        count = await finish_authentication(access.store,
                                            relying_party(request.app.state.settings),
                                            *body, passkey)
        ok = True
    except PasskeyError:
        count, ok = 0, False
    try:
        resident = await access.residents.passkey_result(resident, credential_id, ok, count)
    except Locked as exc:
        return locked(exc.seconds)
    except BadCredentials:
        return oauth_error(401, "access_denied", "パスキーを確認できません / the passkey "
                           "does not verify")
    return await token_response(access, resident_principal(resident))


async def who_am_i(request: Request) -> Response:
    """The caller's own account: a resident's id, login, tenant and passkeys (no secrets)."""
    access = await access_of(request.app)
    principal = request.scope[PRINCIPAL]
    out: dict[str, Any] = {"sub": principal.sub, "tenant": principal.tenant,
                           "roles": list(principal.roles)}
    if principal.kind == "resident":
        resident = await access.residents.get(principal.name) or {}
        out.update(id=resident.get("id"), login=resident.get("login"),
                   created=resident.get("created"), password=bool(resident.get("password")),
                   passkeys=[{"id": k["id"], "created": k["created"],
                              "last_used": k.get("last_used")}
                             for k in resident.get("passkeys", [])])
    return plain_json(out)


SIGNIN = {"type": "object", "properties": {"login": {"type": "string"},
                                           "password": {"type": "string"}}}
CEREMONY = {"type": "object", "properties": {"ceremony": {"type": "string"},
                                             "credential": {"type": "object"}}}
BEGIN = {"type": "object", "properties": {"login": {"type": "string"}}}
_FORMS = ("application/x-www-form-urlencoded", "application/json")
_SIGNIN_ANSWERS = {200: "Token", 400: "invalid_request", 401: "access_denied",
                   429: "locked or too many attempts"}
OPERATIONS: list[Operation] = [
    Operation("POST", "/auth/residents", resident_signup, "Resident sign-up (password)", TAG,
              body=SIGNIN, body_types=_FORMS,
              responses={201: "Token", 400: "invalid_request", 403: "sign-up closed",
                         429: "too many attempts"}, policy=PUBLIC),
    Operation("POST", "/auth/residents/login", resident_login, "Resident sign-in (password)",
              TAG, body=SIGNIN, body_types=_FORMS, responses=_SIGNIN_ANSWERS, policy=PUBLIC),
    Operation("GET", "/auth/passkeys", passkey_page, "Passkey sign-in page (パスキー)", TAG,
              responses={200: "HTML page"}, policy=PUBLIC),
    Operation("POST", "/auth/passkeys/register", passkey_register_begin,
              "Passkey sign-up: creation options", TAG, body=BEGIN,
              body_types=("application/json",),
              responses={200: "Ceremony and PublicKeyCredentialCreationOptions",
                         400: "invalid_request", 403: "sign-up closed"}, policy=PUBLIC),
    Operation("POST", "/auth/passkeys/register/finish", passkey_register_finish,
              "Passkey registration: verify and keep", TAG, body=CEREMONY,
              body_types=("application/json",),
              responses={200: "Token", 201: "Token (new account)", 400: "invalid_request"},
              policy=PUBLIC),
    Operation("POST", "/auth/passkeys/login", passkey_login_begin,
              "Passkey sign-in: request options", TAG, body=BEGIN,
              body_types=("application/json",),
              responses={200: "Ceremony and PublicKeyCredentialRequestOptions"}, policy=PUBLIC),
    Operation("POST", "/auth/passkeys/login/finish", passkey_login_finish,
              "Passkey sign-in: verify", TAG, body=CEREMONY, body_types=("application/json",),
              responses=_SIGNIN_ANSWERS, policy=PUBLIC),
    Operation("GET", "/auth/v1/me", who_am_i, "The caller's own account", TAG,
              responses={200: "Account"}, policy=OWN_ACCOUNT),
    Operation("POST", "/auth/v1/me/passkeys", my_passkey_begin,
              "Add a passkey to my account: creation options", TAG,
              responses={200: "Ceremony and PublicKeyCredentialCreationOptions",
                         400: "an account without passkeys"}, policy=PASSKEY_ENROLMENT),
]
