"""Staff sign-in to the console: user name and password (the access part's staff accounts,
lockouts and per-address throttle), then the staff member's passkey when they have one (the
access part's second factor), kept in the pages' signed session cookie."""

from __future__ import annotations

import math

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from cityos.access._oauth import throttled
from cityos.access.accounts import BadCredentials, Locked
from cityos.access.passkeys import begin_authentication, relying_party
from cityos.access.service import access_of, staff_principal
from cityos.access.staff_passkeys import must_enrol
from cityos.access.tokens import TokenError
from cityos.operations import ENROL_ROLE
from cityos.web.console._page import show
from cityos.web.pages import form_of
from cityos.web.routes import safe_next
from cityos.web.session import session_of


def _form(request: Request, error: str = "", status: int = 200, next_page: str | None = None,
          passkey: dict[str, object] | None = None, **values: object) -> Response:
    settings = request.app.state.settings
    return show(request, "signin.html", "signin", {
        "error": error, "error_values": values, "username": "", "passkey": passkey,
        "next": safe_next(next_page or request.query_params.get("next"), "/console"),
        "oidc": bool(settings.access.oidc_issuer)}, status=status)


async def signin_page(request: Request) -> Response:
    """The sign-in form (already signed-in staff go straight on)."""
    session = session_of(request)
    if session.signed_in and session.sub.startswith("staff:"):
        return RedirectResponse(safe_next(request.query_params.get("next"), "/console"), 303)
    return _form(request)


async def signin(request: Request) -> Response:
    """Check the password; on success a new session (and CSRF token) and on to `next`."""
    access = await access_of(request.app)
    if throttled(access, request) is not None:
        return _form(request, "console.signin.locked", 429, seconds=1)
    form = await form_of(request)
    try:
        member = await access.book.authenticate_staff(form.get("username", ""),
                                                      form.get("password", ""))
    except Locked as exc:
        return _form(request, "console.signin.locked", 429, seconds=math.ceil(exc.seconds))
    except BadCredentials:
        return _form(request, "console.signin.failed", 401)
    if must_enrol(access, member):  # this role needs a passkey and the member has none yet
        return _form(request, "console.signin.enrol", 401)
    if member.get("passkeys"):  # the second factor: the page runs the ceremony
        ceremony, options = await begin_authentication(
            access.store, relying_party(request.app.state.settings),
            [k["id"] for k in member["passkeys"]], staff=member["username"])
        return _form(request, "console.signin.passkey", 401, form.get("next"),
                     {"ceremony": ceremony, "publicKey": options})
    principal = staff_principal(member)
    session_of(request).sign_in(principal, await access.issue(principal))
    target = safe_next(form.get("next"), "/console")
    return RedirectResponse(target if target.startswith("/console") else "/console", 303,
                            headers={"Cache-Control": "no-store"})


async def signout(request: Request) -> Response:
    session_of(request).sign_out()
    return RedirectResponse("/console/signin", 303, headers={"Cache-Control": "no-store"})


async def signin_with_token(request: Request) -> Response:
    """Start the session with the token a passkey ceremony answered (/auth/login/passkey):
    204, or 401 when it is not a live staff member's full token."""
    access = await access_of(request.app)
    token = (await form_of(request)).get("token", "")
    try:
        principal = await access.verifier.verify(token)
    except TokenError:
        return Response(status_code=401)
    if principal.kind != "staff" or ENROL_ROLE in principal.roles \
            or await access.account_of(principal) is None:
        return Response(status_code=401)
    session_of(request).sign_in(principal, token)
    return Response(status_code=204, headers={"Cache-Control": "no-store"})
