"""ASGI middleware in front of the pages: session cookie in, bearer token to the gate, cookie
out; refusals of the gate turned into what a browser user can act on (sign-in, an HTML page).
"""

from __future__ import annotations

import time
from http.cookies import SimpleCookie
from urllib.parse import quote

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cityos.web import prefs as prefs_module
from cityos.web.render import error_page
from cityos.web.session import (
    COOKIE,
    SCOPE_KEY,
    SESSION_SECONDS,
    Session,
    decode_any,
    encode_session,
    fresh_token,
    session_key,
    session_keys,
)

# page areas and where each signs in; W-CONSOLE's /console signs in on its own page
PAGE_AREAS: dict[str, str] = {"/app": "/app/signin", "/console": "/console/signin"}


def page_area(path: str) -> str | None:
    """The page area (`/app`, `/console`) a path belongs to, or None for the APIs."""
    for area in PAGE_AREAS:
        if path == area or path.startswith(area + "/"):
            return area
    return None


def _cookies(scope: Scope) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for name, value in scope["headers"]:
        if name == b"cookie":
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is a signed-out visitor
                return {}
    return {k: m.value for k, m in jar.items()}


def cookie_header(name: str, value: str, *, secure: bool, max_age: int,
                  same_site: str = "Lax") -> str:
    parts = [f"{name}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly",
             f"SameSite={same_site}"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


class PageSession:
    """Loads and refreshes the page session; page 401s become a redirect to sign in and
    other problem answers an HTML page in the visitor's language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        area = page_area(scope["path"]) if scope["type"] == "http" else None
        if area is None:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        application = scope["app"]
        settings = application.state.settings
        keys = await session_keys(application)
        key = keys[0]
        cookies = _cookies(scope)
        session = decode_any(keys, cookies.get(COOKIE, "")) or Session()
        await fresh_token(application, session)
        has_bearer = any(name == b"authorization" for name, _ in scope["headers"])
        if session.token and not has_bearer:
            session.from_cookie = True
            scope = dict(scope, headers=[*scope["headers"],
                                         (b"authorization", f"Bearer {session.token}".encode())])
        prefs = prefs_module.parse_prefs(cookies.get(prefs_module.COOKIE))
        scope[SCOPE_KEY] = session
        scope["cityos.prefs"] = prefs
        secure = settings.public_url.startswith("https:")
        method = scope["method"]
        htmx = any(name == b"hx-request" for name, _ in scope["headers"])
        # a browser (it asks for HTML) gets a sign-in page and HTML errors; API clients and
        # scripts keep the gate's own answers (401/403 problem+json)
        browser = htmx or any(name == b"accept" and b"text/html" in value
                              for name, value in scope["headers"])
        replaced = False

        async def send_with_session(message: Message) -> None:
            nonlocal replaced
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableHeaders(scope=message)
                # the gate's and the router's refusals are JSON; pages answer HTML themselves
                problem = browser and headers.get("content-type", "").startswith(
                    ("application/json", "application/problem+json"))
                if problem and status == 401 and not has_bearer:
                    replaced = True
                    target = PAGE_AREAS[area]
                    if method == "GET" and not htmx:
                        target += "?next=" + quote(_here(scope), safe="/")
                    else:  # an action whose session ran out: say so, come back to its page
                        back = _page_of_referer(scope, area)
                        query = ["expired=1"] if method != "GET" else []
                        query += ["next=" + quote(back, safe="/")] if back else []
                        target += ("?" + "&".join(query)) if query else ""
                    message = _redirect(target, htmx)
                elif problem and status >= 400:
                    replaced = True
                    await _send_error_page(send, scope, status, session, secure)
                    return
                headers = MutableHeaders(scope=message)
                if session.changed:
                    headers.append("set-cookie", cookie_header(
                        COOKIE, encode_session(key, session), secure=secure,
                        max_age=SESSION_SECONDS))
                # W3C Server Timing: what the page cost this server (the figure issue 8 asks)
                headers.append("server-timing",
                               f"app;dur={(time.perf_counter() - started) * 1000:.1f}")
                await send(message)
                if replaced:
                    await send({"type": "http.response.body", "body": b""})
                return
            if not replaced:
                await send(message)

        await self.app(scope, receive, send_with_session)


def _here(scope: Scope) -> str:
    query = scope.get("query_string", b"").decode("latin-1")
    return scope["path"] + ("?" + query if query else "")


def _page_of_referer(scope: Scope, area: str) -> str:
    """The same-site page (path and query) in `area` that a form or htmx request came from,
    or "" (another site, another area, no Referer)."""
    from urllib.parse import urlsplit

    for name, value in scope["headers"]:
        if name == b"referer":
            parts = urlsplit(value.decode("latin-1"))
            host = next((v.decode("latin-1") for n, v in scope["headers"] if n == b"host"), "")
            if parts.netloc != host or page_area(parts.path) != area:
                return ""
            return parts.path + ("?" + parts.query if parts.query else "")
    return ""


def _redirect(target: str, htmx: bool) -> Message:
    if htmx:  # htmx follows HX-Redirect with a full page load
        headers = [(b"hx-redirect", target.encode()), (b"content-length", b"0")]
        return {"type": "http.response.start", "status": 200, "headers": headers}
    return {"type": "http.response.start", "status": 303,
            "headers": [(b"location", target.encode()), (b"content-length", b"0"),
                        (b"cache-control", b"no-store")]}


async def _send_error_page(send: Send, scope: Scope, status: int, session: Session,
                           secure: bool) -> None:
    response = error_page(scope, status, session)
    if session.changed:
        key = await session_key(scope["app"])
        response.headers.append("set-cookie", cookie_header(
            COOKIE, encode_session(key, session), secure=secure, max_age=SESSION_SECONDS))
    await response(scope, _no_receive, send)


async def _no_receive() -> Message:
    return {"type": "http.disconnect"}
