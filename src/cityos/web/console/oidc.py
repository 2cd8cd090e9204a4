"""Staff sign in to the console through the municipality's OpenID Connect provider (code flow
with PKCE, the access part's `start`/`finish`/`map_staff`), coming back to the console's page
session instead of the JSON token `/auth/oidc/callback` answers scripts with.

The provider must accept the console's redirect URI, `{public_url}/console/signin/oidc/callback`,
beside `/auth/oidc/callback`.
"""

from __future__ import annotations

import dataclasses
import hmac

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityos.access.oidc import OidcConfig, OidcError, staff_signing_in, start
from cityos.access.service import access_of, staff_principal
from cityos.settings import Settings
from cityos.web.console.signin import _form
from cityos.web.session import session_of

CALLBACK = "/console/signin/oidc/callback"


def console_config(settings: Settings) -> OidcConfig | None:
    """The staff provider with the console's callback (None when none is configured)."""
    config = OidcConfig.of(settings)
    if config is None:
        return None
    return dataclasses.replace(config, redirect_uri=settings.public_url.rstrip("/") + CALLBACK)


async def oidc_signin(request: Request) -> Response:
    """Send the browser to the provider; the state waits in this browser's page session."""
    config = console_config(request.app.state.settings)
    if config is None:
        return _form(request, "console.signin.oidc.off", 404)
    try:
        url, state = await start((await access_of(request.app)).book, config)
    except OidcError:
        return _form(request, "console.signin.oidc.failed", 503)
    session = session_of(request)
    session.pending = state
    session.changed = True
    return RedirectResponse(url, status_code=303, headers={"Cache-Control": "no-store"})


async def oidc_callback(request: Request) -> Response:
    """The provider sends the browser back: the state must be this browser's, the ID token
    valid and its claims mapped to a staff account (as for `/auth/oidc/callback`)."""
    config = console_config(request.app.state.settings)
    session = session_of(request)
    params = request.query_params
    state, code = params.get("state", ""), params.get("code", "")
    expected, session.pending = session.pending, ""
    session.changed = True
    if config is None or "error" in params or not state or not code or not expected \
            or not hmac.compare_digest(state.encode(), expected.encode()):
        return _form(request, "console.signin.oidc.failed", 400)
    access = await access_of(request.app)
    try:
        member = await staff_signing_in(access, config, state, code)
    except OidcError as exc:
        return _form(request, "console.signin.oidc.failed",
                     503 if exc.error == "temporarily_unavailable" else 403)
    principal = staff_principal(member)
    session.sign_in(principal, await access.issue(principal))
    return RedirectResponse("/console", status_code=303, headers={"Cache-Control": "no-store"})
