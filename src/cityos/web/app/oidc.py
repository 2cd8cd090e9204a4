"""Residents sign in to the app through their identity provider (the My Number card reaches
cityos through one): OpenID Connect code flow with PKCE, as Personal-Link runs it, coming back
to the app's page session instead of a JSON token.

The provider must accept the app's redirect URI, `{public_url}/app/signin/oidc/callback`,
beside Personal-Link's own.
"""

from __future__ import annotations

import dataclasses
import hmac

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityos.access.oidc import OidcConfig, OidcError, start
from cityos.access.service import access_of, resident_principal
from cityos.personal.oidc_routes import config_of, resident_signing_in
from cityos.settings import Settings
from cityos.web.i18n import add_messages
from cityos.web.render import render
from cityos.web.session import session_of

CALLBACK = "/app/signin/oidc/callback"

add_messages({
    "signin.oidc": ("マイナンバーカードなど、ほかのIDでサインイン",
                    "Sign in with another ID, such as the My Number card"),
    "signin.oidc.failed": ("ほかのIDでサインインできませんでした。もう一度お試しください。",
                           "Could not sign in with that ID. Please try again."),
})


def app_config(settings: Settings) -> OidcConfig | None:
    """Personal-Link's provider with the app's callback (None when none is configured)."""
    config = config_of(settings)
    if config is None:
        return None
    return dataclasses.replace(config, redirect_uri=settings.public_url.rstrip("/") + CALLBACK)


def _failed(request: Request, status: int) -> Response:
    return render(request, "app/signin_failed.html", status=status)


async def oidc_signin(request: Request) -> Response:
    """Send the browser to the identity provider; the state is kept in the page session."""
    config = app_config(request.app.state.settings)
    if config is None:
        return render(request, "error.html", {"status": 404, "message_key": "error.404"},
                      status=404)
    try:
        url, state = await start((await access_of(request.app)).book, config)
    except OidcError:
        return _failed(request, 503)
    session = session_of(request)
    session.pending = state
    session.changed = True
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


async def oidc_callback(request: Request) -> Response:
    """The provider sends the browser back: check the state against this browser's session,
    verify the ID token, sign the resident in (opening or linking an account as
    Personal-Link does)."""
    config = app_config(request.app.state.settings)
    session = session_of(request)
    state, code = request.query_params.get("state", ""), request.query_params.get("code", "")
    expected, session.pending = session.pending, ""
    session.changed = True
    if config is None or "error" in request.query_params or not state or not code \
            or not expected or not hmac.compare_digest(state.encode(), expected.encode()):
        return _failed(request, 400)
    access = await access_of(request.app)
    try:
        resident, _ = await resident_signing_in(access, request, config, state, code)
    except OidcError as exc:
        return _failed(request, 503 if exc.error == "temporarily_unavailable" else 403)
    principal = resident_principal(resident)
    session.sign_in(principal, await access.issue(principal))
    return RedirectResponse("/app", status_code=303)
