"""The access HTTP operations: OAuth 2.0 token endpoint, staff login, JWKS, security alerts.

RFC 6749 §4.4 (client credentials), §5.1–5.2 (token and error responses), RFC 7517 (JWKS).
"""

from __future__ import annotations

import base64
import binascii
import math
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import Response

from cityos.access import oidc_routes, resident_routes, staff_passkeys
from cityos.access._oauth import form as _form
from cityos.access._oauth import locked
from cityos.access._oauth import oauth_error as _oauth_error
from cityos.access._oauth import throttled as _throttled
from cityos.access._oauth import token_response as _token_response
from cityos.access.accounts import BadCredentials, Locked
from cityos.access.monitor import list_alerts
from cityos.access.review import review_accounts
from cityos.access.revocation import revoke_all, revoke_token
from cityos.access.service import access_of, org_principal, staff_principal
from cityos.access.staff_passkeys import enrolment_required, must_enrol, second_factor
from cityos.access.tokens import Principal, TokenError
from cityos.audit.trail import PRINCIPAL
from cityos.jsonvalue import loads
from cityos.ngsi.api.respond import plain_json
from cityos.operations import ADMIN, PUBLIC, Operation, Param

TAG = "access"


def _basic(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote_plus(user), unquote_plus(password)  # RFC 6749 §2.3.1 form-encodes both


async def issue_client_token(request: Request) -> Response:
    """OAuth 2.0 client credentials grant: an organisation trades its secret for a token."""
    access = await access_of(request.app)
    if (slow := _throttled(access, request)) is not None:
        return slow
    form = await _form(request)
    if form is None:
        return _oauth_error(400, "invalid_request",
                            "send application/x-www-form-urlencoded parameters")
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "only client_credentials is offered")
    client_id, secret = _basic(request) or (form.get("client_id", ""), form.get("client_secret", ""))
    if not client_id or not secret:
        return _oauth_error(400, "invalid_request", "client_id and client_secret are needed")
    try:
        org = await access.book.authenticate_client(client_id, secret)
    except Locked as exc:
        return _oauth_error(429, "invalid_client", "too many failures: this client is locked",
                            {"Retry-After": str(math.ceil(exc.seconds))})
    except BadCredentials:
        return _oauth_error(401, "invalid_client", "unknown client or wrong secret",
                            {"WWW-Authenticate": 'Basic realm="cityos"'})
    principal = org_principal(org)
    asked = form.get("scope")
    if asked is not None:
        wanted = tuple(asked.split())
        if any(s not in principal.scopes for s in wanted):
            return _oauth_error(400, "invalid_scope", f"granted scopes: {principal.scopes}")
        principal = Principal(principal.sub, principal.tenant, (), wanted, principal.org)
    return await _token_response(access, principal)


async def staff_login(request: Request) -> Response:
    """Staff sign in with user name and password (form or JSON) and get an access token."""
    access = await access_of(request.app)
    if (slow := _throttled(access, request)) is not None:
        return slow
    form = await _form(request)
    if form is None or not form.get("username") or not form.get("password"):
        return _oauth_error(400, "invalid_request", "username and password are needed")
    try:
        member = await access.book.authenticate_staff(form["username"], form["password"])
    except Locked as exc:
        return locked(exc.seconds)
    except BadCredentials:
        return _oauth_error(401, "access_denied",
                            "ユーザー名かパスワードが違います / unknown user or wrong password")
    if member.get("passkeys"):
        return await second_factor(access, request, member)
    if must_enrol(access, member):
        return await enrolment_required(access, member)
    return await _token_response(access, staff_principal(member))


async def jwks(request: Request) -> Response:
    """The public keys that verify access tokens (a JWK Set)."""
    access = await access_of(request.app)
    if access.ring.newest is None:
        await access.ring.signing_key()
    return plain_json(access.ring.jwks())


async def security_alerts(request: Request) -> Response:
    """Security alerts (lockouts, token misuse, tenant probing), oldest first."""
    access = await access_of(request.app)
    return plain_json(await list_alerts(access.store, request.query_params.get("kind")))


async def account_inventory(request: Request) -> Response:
    """Every account with roles, grants, last use and review flags (棚卸し)."""
    access = await access_of(request.app)
    return plain_json(await review_accounts(
        access.book, unused_days=access.settings.review_unused_days,
        secret_max_age_days=access.settings.secret_max_age_days))


async def revoke(request: Request) -> Response:
    """RFC 7009: revoke an access token. Holding the token is the proof; the answer is 200
    whether or not the token was valid (§2.2), so that it tells nothing."""
    access = await access_of(request.app)
    if (slow := _throttled(access, request)) is not None:
        return slow
    form = await _form(request)
    if form is None or not form.get("token"):
        return _oauth_error(400, "invalid_request", "send token=… form-encoded")
    hint = form.get("token_type_hint")
    if hint not in (None, "access_token"):
        return _oauth_error(400, "unsupported_token_type", "only access tokens are issued here")
    try:
        principal = await access.verifier.verify(form["token"])
    except TokenError:
        return Response(status_code=200)
    await revoke_token(access, principal)
    return Response(status_code=200)


async def revoke_account_tokens(request: Request) -> Response:
    """Staff: refuse every token an account holds now (after a leak or compromise)."""
    access = await access_of(request.app)
    try:
        body = loads(await request.body())
    except ValueError:
        body = None
    account = body.get("account") if isinstance(body, dict) else None
    if not isinstance(account, str) or ":" not in account:
        return plain_json({"error": "invalid_request", "error_description":
                           "account は org:CLIENT_ID、staff:NAME、resident:ID です / account is "
                           "org:CLIENT_ID, staff:NAME or resident:ID"}, status=400)
    if not await revoke_all(access, account):
        return plain_json({"error": "not_found", "error_description":
                           "そのアカウントはありません / no such account"}, status=404)
    await access.monitor.alert("tokens-revoked", account, by=_caller(request))
    return plain_json({"account": account, "revoked": True})


def _caller(request: Request) -> str:
    principal = request.scope.get(PRINCIPAL)
    return principal.sub if principal is not None else "?"


FORM = {"type": "object", "properties": {"grant_type": {"type": "string"},
                                         "client_id": {"type": "string"},
                                         "client_secret": {"type": "string"},
                                         "scope": {"type": "string"}}}
LOGIN = {"type": "object", "properties": {"username": {"type": "string"},
                                          "password": {"type": "string"}}}
OPERATIONS: list[Operation] = [
    Operation("POST", "/auth/token", issue_client_token, "OAuth 2.0 token (client credentials)",
              TAG, body=FORM, body_types=("application/x-www-form-urlencoded",),
              responses={200: "Token", 400: "invalid_request", 401: "invalid_client",
                         429: "locked or too many attempts"}, policy=PUBLIC),
    Operation("POST", "/auth/login", staff_login, "Staff login", TAG, body=LOGIN,
              body_types=("application/x-www-form-urlencoded", "application/json"),
              responses={200: "Token", 400: "invalid_request", 401: "access_denied",
                         429: "locked or too many attempts"}, policy=PUBLIC),
    Operation("GET", "/auth/jwks.json", jwks, "Token signing keys (JWKS)", TAG,
              responses={200: "JWK Set"}, policy=PUBLIC),
    Operation("GET", "/auth/v1/alerts", security_alerts, "Security alerts", TAG,
              (Param("kind", description="brute-force, token-misuse or tenant-probe"),),
              responses={200: "Alerts"}, policy=ADMIN),
    Operation("GET", "/auth/v1/accounts", account_inventory, "Account inventory (review)", TAG,
              responses={200: "Accounts with flags"}, policy=ADMIN),
    Operation("POST", "/auth/revoke", revoke, "Revoke an access token (RFC 7009)", TAG,
              body={"type": "object", "properties": {"token": {"type": "string"},
                                                     "token_type_hint": {"type": "string"}}},
              body_types=("application/x-www-form-urlencoded",),
              responses={200: "Revoked (or not a valid token)", 400: "invalid_request",
                         429: "too many attempts"}, policy=PUBLIC),
    Operation("POST", "/auth/v1/accounts/revoke-tokens", revoke_account_tokens,
              "Revoke every token of an account", TAG,
              body={"type": "object", "properties": {"account": {"type": "string"}},
                    "required": ["account"]},
              body_types=("application/json",),
              responses={200: "Revoked", 400: "Not an account name", 404: "No such account"},
              policy=ADMIN),
    *resident_routes.OPERATIONS,
    *oidc_routes.OPERATIONS,
    *staff_passkeys.OPERATIONS,
]
