"""The pages' session: a signed HttpOnly cookie carrying the platform's own access token.

A signed-in page request reaches its operation exactly like an API call (the cookie's token
becomes `Authorization: Bearer`), so the deny-by-default gate and the policies stay the one
check. The cookie (HMAC-SHA256, keys in the data directory's key store) also holds the CSRF token of the forms
(OWASP synchroniser token) and whom a family representative acts for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request

from cityos.access.service import access_of, resident_principal, staff_principal
from cityos.access.tokens import Principal, TokenError
from cityos.keystore import KeyStore, key_name

COOKIE = "cityos_session"
SCOPE_KEY = "cityos.session"
SESSION_KIND = "session"  # the key store's kind of the cookies' HMAC keys
_RESCAN_EVERY = 5.0  # seconds between readings of the key store
SESSION_SECONDS = 30 * 86_400  # residents, on their own phone: signing in once a month
STAFF_SESSION_SECONDS = 12 * 3600  # staff: a working day on a shared office machine
REFRESH_BEFORE = 120.0  # a token with less life than this is replaced before the request
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass
class Session:
    """One browser's session; `changed` tells the middleware to send the cookie again."""

    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    token: str = ""  # the access token of the signed-in account ("" = signed out)
    sub: str = ""
    tenant: str = ""
    roles: tuple[str, ...] = ()
    until: float = 0.0  # end of the session (seconds since the epoch)
    acting_for: str = ""  # a family representative acts for this resident id
    acting_name: str = ""  # … whose name every page shows in its banner
    pending: str = ""  # the state of a sign-in begun at an identity provider (OIDC)
    from_cookie: bool = False  # the request's credentials came from this cookie
    changed: bool = True

    @property
    def signed_in(self) -> bool:
        return bool(self.token)

    def sign_in(self, principal: Principal, token: str, now: float | None = None) -> None:
        """Start a signed-in session (a new CSRF token too: no fixation across sign-in)."""
        self.token, self.sub, self.tenant = token, principal.sub, principal.tenant
        self.roles = principal.roles
        length = SESSION_SECONDS if principal.kind == "resident" else STAFF_SESSION_SECONDS
        self.until = (time.time() if now is None else now) + length
        self.csrf = secrets.token_urlsafe(24)
        self.acting_for = self.acting_name = ""
        self.changed = True

    def sign_out(self) -> None:
        self.token = self.sub = self.tenant = self.acting_for = self.acting_name = ""
        self.roles, self.until = (), 0.0
        self.csrf = secrets.token_urlsafe(24)
        self.changed = True

    def to_payload(self) -> dict[str, Any]:
        return {"c": self.csrf, "t": self.token, "s": self.sub, "n": self.tenant,
                "r": list(self.roles), "u": self.until, "a": self.acting_for, "an": self.acting_name,
                "p": self.pending}

    @classmethod
    def from_payload(cls, data: dict[str, Any]) -> Session:
        return cls(csrf=str(data["c"]), token=str(data["t"]), sub=str(data["s"]),
                   tenant=str(data["n"]), roles=tuple(str(r) for r in data["r"]),
                   until=float(data["u"]), acting_for=str(data.get("a", "")),
                   acting_name=str(data.get("an", "")),
                   pending=str(data.get("p", "")), changed=False)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_session(key: bytes, session: Session) -> str:
    body = _b64(orjson.dumps(session.to_payload()))
    mac = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def decode_session(key: bytes, value: str) -> Session | None:
    """The session in a cookie value; None when it is malformed or not signed with `key`."""
    body, _, mac = value.partition(".")
    if not body or not mac or len(value) > 4000:
        return None
    expected = hmac.new(key, body.encode("ascii", "replace"), hashlib.sha256).digest()
    try:
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
        data = orjson.loads(_unb64(body))
        return Session.from_payload(data) if isinstance(data, dict) else None
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        return None


def decode_any(keys: list[bytes], value: str) -> Session | None:
    """The session in a cookie signed with any of `keys`; signed with an older one, it is
    marked changed, so that the answer signs it again with the newest."""
    for number, key in enumerate(keys):
        session = decode_session(key, value)
        if session is not None:
            session.changed = session.changed or number > 0
            return session
    return None


def current_session_keys(keys: KeyStore, now: float | None = None) -> list[bytes]:
    """The session cookies' HMAC keys in the key store, newest first (made on first use; the
    first process to add it wins). A rotated key verifies cookies for SESSION_SECONDS more,
    then it is deleted."""
    now = time.time() if now is None else now
    found = keys.list(SESSION_KIND)
    if not found:
        found = [("first", keys.add(SESSION_KIND, "first", {"key": secrets.token_hex(32),
                                                            "created": now}))]
    live = [found[-1]]
    for (older, doc), (_, newer) in itertools.pairwise(found):
        if now - float(newer["created"]) > SESSION_SECONDS:  # every cookie of `older` ended
            keys.delete(SESSION_KIND, older)
        else:
            live.append((older, doc))
    return [bytes.fromhex(live[0][1]["key"])] + [bytes.fromhex(doc["key"])
                                                  for _, doc in reversed(live[1:])]


def rotate_session_key(keys: KeyStore, now: float | None = None) -> None:
    """A new key signs session cookies from now on (processes read it within seconds); the
    old ones verify cookies for SESSION_SECONDS more."""
    now = time.time() if now is None else now
    keys.put(SESSION_KIND, key_name(now), {"key": secrets.token_hex(32), "created": now})


async def session_keys(app: Any) -> list[bytes]:
    """The HMAC keys of session cookies, newest first: the newest signs, each verifies. Read
    from the data directory's key store (shared by every process behind a load balancer)
    again every few seconds, so that a rotation reaches every process."""
    cached = getattr(app.state, "web_session_keys", None)
    if cached is not None and time.monotonic() - cached[0] < _RESCAN_EVERY:
        return list(cached[1])
    found = current_session_keys(KeyStore.at(app.state.settings.data_dir))
    app.state.web_session_keys = (time.monotonic(), found)
    return found


async def session_key(app: Any) -> bytes:
    """The key new session cookies are signed with."""
    return (await session_keys(app))[0]


async def fresh_token(app: Any, session: Session, now: float | None = None) -> None:
    """Keep the session's access token alive: a new one when it nears its end (or its key was
    retired: the cookie's own signature vouches for the session), made from the account as it
    is now (roles changed since sign-in count); none when the session ended or the account
    was disabled or removed."""
    now = time.time() if now is None else now
    if not session.token:
        return
    if session.until <= now:
        session.sign_out()
        return
    access = await access_of(app)
    try:
        principal = await access.verifier.verify(session.token)
        if principal.exp - now > REFRESH_BEFORE:
            return
    except TokenError:
        pass
    account = await access.account_of(Principal(sub=session.sub, tenant=session.tenant))
    if account is None or session.sub.split(":", 1)[0] not in ("resident", "staff"):
        session.sign_out()
        return
    principal = resident_principal(account) if session.sub.startswith("resident:") \
        else staff_principal(account)
    session.token = await access.issue(principal)
    session.tenant, session.roles = principal.tenant, principal.roles
    session.changed = True


def session_of(request: Request) -> Session:
    """The page session the middleware put on this request (a fresh one outside pages)."""
    session = request.scope.get(SCOPE_KEY)
    if session is None:
        session = request.scope[SCOPE_KEY] = Session()
    assert isinstance(session, Session)
    return session


def csrf_ok(session: Session, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), (sent or "").encode())
