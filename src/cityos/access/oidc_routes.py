"""Staff sign-in through the municipality's OIDC provider over HTTP: start, then callback.

OpenID Connect Core 1.0 §3.1; the state also travels in a cookie scoped to /auth/oidc, so a
callback only completes in the browser that started it (login CSRF, RFC 6749 §10.12).
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityos.access._oauth import oauth_error, token_response
from cityos.access.oidc import OidcConfig, OidcError, staff_signing_in, start
from cityos.access.service import access_of, staff_principal
from cityos.operations import PUBLIC, Operation, Param

TAG = "access"
COOKIE = "cityos_oidc_state"
_PATH = "/auth/oidc"


def _off() -> Response:
    return oauth_error(404, "invalid_request", "OIDC でのサインインは設定されていません / "
                       "sign-in through OIDC is not configured (access.oidc_issuer)")


def _failed(exc: OidcError) -> Response:
    status = 503 if exc.error == "temporarily_unavailable" else (
        400 if exc.error == "invalid_request" else 403)
    response = oauth_error(status, exc.error, str(exc))
    response.delete_cookie(COOKIE, path=_PATH)
    return response


async def oidc_login(request: Request) -> Response:
    """Send the browser to the municipality's OIDC provider (code flow with PKCE)."""
    config = OidcConfig.of(request.app.state.settings)
    if config is None:
        return _off()
    access = await access_of(request.app)
    try:
        url, state = await start(access.book, config)
    except OidcError as exc:
        return _failed(exc)
    response = RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    response.set_cookie(COOKIE, state, max_age=600, path=_PATH, httponly=True, samesite="lax",
                        secure=config.redirect_uri.startswith("https://"))
    return response


async def oidc_callback(request: Request) -> Response:
    """The provider sends the browser back here with a code: verify, map to staff, a token."""
    config = OidcConfig.of(request.app.state.settings)
    if config is None:
        return _off()
    params = request.query_params
    if "error" in params:
        return _failed(OidcError("access_denied", "the OIDC provider refused: "
                                 + params["error"][:100]))
    state, code = params.get("state", ""), params.get("code", "")
    cookie = request.cookies.get(COOKIE, "")
    if not state or not code or not hmac.compare_digest(state.encode(), cookie.encode()):
        return _failed(OidcError("invalid_request", "this sign-in was not started in this "
                                 "browser: start again at /auth/oidc/login"))
    access = await access_of(request.app)
    try:
        member = await staff_signing_in(access, config, state, code)
    except OidcError as exc:
        return _failed(exc)
    response = await token_response(access, staff_principal(member))
    response.delete_cookie(COOKIE, path=_PATH)
    return response


OPERATIONS: list[Operation] = [
    Operation("GET", "/auth/oidc/login", oidc_login, "Staff sign-in through the OIDC provider",
              TAG, responses={302: "to the OIDC provider", 404: "OIDC not configured"},
              policy=PUBLIC),
    Operation("GET", "/auth/oidc/callback", oidc_callback, "OIDC sign-in callback", TAG,
              (Param("code"), Param("state"), Param("error")),
              responses={200: "Token", 400: "invalid_request", 403: "access_denied",
                         503: "provider unreachable"}, policy=PUBLIC),
]
