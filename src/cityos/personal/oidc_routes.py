"""Residents sign in through an external OpenID Connect provider (the My Number card reaches
cityos through one, e.g. the Digital Agency's authentication app) and link it to their account.

OpenID Connect Core 1.0 §3.1 (code flow, PKCE, nonce, ID-token validation) through
`cityos.access.oidc`; the provider's (issuer, sub) is a linked public ID of the resident.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityos.access._oauth import oauth_error, token_response
from cityos.access.accounts import AccountError
from cityos.access.oidc import OidcConfig, OidcError, alert_refused, finish, start
from cityos.access.service import Access, access_of, resident_principal
from cityos.ngsi.api.respond import plain_json
from cityos.operations import PUBLIC, Operation, Param
from cityos.personal._http import V1, acting
from cityos.personal.links import LinkError
from cityos.personal.me_routes import RESIDENT
from cityos.personal.service import personal_of
from cityos.settings import Settings

TAG = "personal"
COOKIE = "cityos_resident_oidc"
_PATH = f"{V1}/oidc"
LINKING = "personal.oidc-linking"  # kv: sign-in state -> the resident linking their identity


def config_of(settings: Settings) -> OidcConfig | None:
    """The residents' provider, or None when it is not configured."""
    p = settings.personal
    if not p.oidc_issuer or not p.oidc_client_id:
        return None
    return OidcConfig(p.oidc_issuer.rstrip("/"), p.oidc_client_id, p.oidc_client_secret,
                      p.oidc_scopes, settings.public_url.rstrip("/") + f"{_PATH}/callback",
                      "sub", "", settings.access.resident_tenant)


def _off() -> Response:
    return oauth_error(404, "invalid_request", "住民のOIDCサインインは設定されていません / "
                       "residents' sign-in through OIDC is not configured (personal.oidc_issuer)")


def _failed(exc: OidcError) -> Response:
    status = 503 if exc.error == "temporarily_unavailable" else (
        400 if exc.error == "invalid_request" else 403)
    response = oauth_error(status, exc.error, str(exc))
    response.delete_cookie(COOKIE, path=_PATH)
    return response


def _redirect(url: str, state: str, config: OidcConfig) -> Response:
    response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    response.set_cookie(COOKIE, state, max_age=600, path=_PATH, httponly=True, samesite="lax",
                        secure=config.redirect_uri.startswith("https://"))
    return response


async def _begin(request: Request) -> tuple[Access, OidcConfig, str, str] | Response:
    """A new sign-in at the provider: (access, config, URL, state), or the refusal."""
    config = config_of(request.app.state.settings)
    if config is None:
        return _off()
    access = await access_of(request.app)
    try:
        url, state = await start(access.book, config)
    except OidcError as exc:
        return _failed(exc)
    return access, config, url, state


async def resident_oidc_login(request: Request) -> Response:
    """Send the browser to the residents' identity provider (code flow with PKCE)."""
    begun = await _begin(request)
    if isinstance(begun, Response):
        return begun
    _, config, url, state = begun
    return _redirect(url, state, config)


async def link_identity(request: Request) -> Response:
    """Start linking a public ID to my account: answers the provider URL to open (the
    sign-in then completes at the callback, in the same browser)."""
    tenant, subject, _, _ = acting(request, None)
    begun = await _begin(request)
    if isinstance(begun, Response):
        return begun
    access, config, url, state = begun
    await access.store.kv_put(LINKING, state, {"tenant": tenant, "resident": subject,
                                               "expires": time.time() + 600})
    response = plain_json({"url": url, "state": state})
    response.set_cookie(COOKIE, state, max_age=600, path=_PATH, httponly=True, samesite="lax",
                        secure=config.redirect_uri.startswith("https://"))
    return response


def _login_for(issuer: str, sub: str) -> str:
    return "idp." + hashlib.sha256(f"{issuer}\x1f{sub}".encode()).hexdigest()[:20]


async def resident_signing_in(access: Access, request: Request, config: OidcConfig,
                              state: str, code: str) -> tuple[dict[str, object], int]:
    """The resident a provider's answer signs in, and 200 or 201 (`finish`, then the linked
    or new account); a refusal raises OidcError after an `oidc-refused` alert."""
    try:
        claims = await finish(access.book, config, state, code)
        return await _resident_for(access, request, config, state, claims)
    except OidcError as exc:
        await alert_refused(access, config, exc)
        raise


async def _resident_for(access: Access, request: Request, config: OidcConfig, state: str,
                        claims: dict[str, object]) -> tuple[dict[str, object], int]:
    """The resident these claims sign in (linking or opening an account); OidcError if none."""
    links = personal_of(request.app).links
    issuer, sub = config.issuer, str(claims["sub"])
    linking = await access.store.kv_get(LINKING, state)
    if linking is not None:
        await access.store.kv_delete(LINKING, state)
        if linking["expires"] < time.time():
            raise OidcError("invalid_request", "the linking took too long: start again")
        try:
            await links.link_identity(linking["tenant"], linking["resident"], issuer, sub, claims)
        except LinkError as exc:
            raise OidcError("access_denied", str(exc)) from exc
        resident = await access.residents.get(linking["resident"])
        if resident is None or resident.get("disabled"):
            raise OidcError("access_denied", "the account is gone or disabled")
        return resident, 200
    bound = await links.resident_of_identity(issuer, sub)
    if bound is not None:
        resident = await access.residents.get(bound[1])
        if resident is None or resident.get("disabled"):
            raise OidcError("access_denied", "このアカウントは使えません / this account is "
                            "disabled or erased")
        return resident, 200
    if not request.app.state.settings.personal.oidc_signup:
        raise OidcError("access_denied", "このIDは住民アカウントに連携されていません / this "
                        "identity is not linked to a resident account")
    try:
        resident = await access.residents.add_resident(_login_for(issuer, sub),
                                                       tenant=config.default_tenant)
    except AccountError as exc:
        raise OidcError("access_denied", str(exc)) from exc
    await links.link_identity(config.default_tenant, resident["id"], issuer, sub, claims)
    return resident, 201


async def resident_oidc_callback(request: Request) -> Response:
    """The provider sends the browser back with a code: verify the ID token, then sign the
    resident in (201 when the first sign-in opened the account)."""
    config = config_of(request.app.state.settings)
    if config is None:
        return _off()
    params = request.query_params
    if "error" in params:
        return _failed(OidcError("access_denied", "the OIDC provider refused: "
                                 + params["error"][:100]))
    state, code = params.get("state", ""), params.get("code", "")
    cookie = request.cookies.get(COOKIE, "")
    if not state or not code or not hmac.compare_digest(state.encode(), cookie.encode()):
        return _failed(OidcError("invalid_request", "このサインインはこのブラウザで始まって"
                                 "いません / this sign-in was not started in this browser"))
    access = await access_of(request.app)
    try:
        resident, status = await resident_signing_in(access, request, config, state, code)
    except OidcError as exc:
        return _failed(exc)
    response = await token_response(access, resident_principal(resident), status=status)
    response.delete_cookie(COOKIE, path=_PATH)
    return response


OPERATIONS: list[Operation] = [
    Operation("GET", f"{_PATH}/login", resident_oidc_login,
              "Resident sign-in through the identity provider (My Number card)", TAG,
              responses={302: "to the identity provider", 404: "not configured"},
              policy=PUBLIC),
    Operation("GET", f"{_PATH}/callback", resident_oidc_callback,
              "Resident sign-in callback", TAG,
              (Param("code"), Param("state"), Param("error")),
              responses={200: "Token", 201: "Token (new account)", 400: "invalid_request",
                         403: "access_denied", 503: "provider unreachable"}, policy=PUBLIC),
    Operation("POST", f"{V1}/me/links/identity", link_identity,
              "Link a public ID (OIDC provider) to my account", TAG,
              responses={200: "Provider URL to open", 404: "not configured"}, policy=RESIDENT),
]
