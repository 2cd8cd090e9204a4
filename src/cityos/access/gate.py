"""The deny-by-default gate in front of every operation: token, account, rate, role, tenant.

RFC 6750 bearer tokens (401 + `WWW-Authenticate`), 403 for what the caller may not do, 429 +
`Retry-After` over the rate. An operation without a declared policy cannot be served at all.
What passes leaves one `Caller` on the request (with its type grants, which the store applies
where data is released and written: issue 18); the gate never reads a body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import secrets
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.access import grants
from cityos.access.revocation import is_revoked
from cityos.access.service import ACCOUNT_CACHE_SECONDS, Access, access_of
from cityos.access.tokens import Principal, TokenError
from cityos.audit.trail import PRINCIPAL
from cityos.caller import CALLER, Caller
from cityos.ngsi.api.respond import problem_response
from cityos.ngsi.errors import Forbidden, NgsiError
from cityos.operations import Endpoint, Operation, Policy
from cityos.settings import Settings
from cityos.tenant import TENANT_HEADERS, decide, keep

TOKEN_FILE = Path("access") / "admin-token.sha256"
ADMIN_TOKEN_PREFIX = "cityos_"


class Unauthorized(NgsiError):
    title = "Unauthorized"
    status = 401


class TooManyRequests(NgsiError):
    title = "TooManyRequests"
    status = 429


class UndeclaredPolicy(RuntimeError):
    """An operation declares no policy: the app refuses to start rather than serve it."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_admin_token(data_dir: Path) -> str:
    """Make a new admin token, keep only its hash, and return it (shown once)."""
    token = ADMIN_TOKEN_PREFIX + secrets.token_urlsafe(32)
    path = data_dir / TOKEN_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_digest(token) + "\n", encoding="ascii")
    path.chmod(0o600)
    return token


def _unauthorized(detail: str, error: str = "invalid_token") -> Response:
    challenge = 'Bearer realm="cityos"' + (f', error="{error}"' if error else "")
    return problem_response(Unauthorized(detail), {"WWW-Authenticate": challenge})


# (caller, the account's cache entry it was admitted with, monotonic time it lapses)
_Pass = tuple[Caller, tuple[float, "dict[str, Any] | None"], float]
_PASSES_MAX = 10_000  # per operation; past it the held passes are dropped and admitted again


def caller(principal: Principal, tenant: str, account: dict[str, Any] | None) -> Caller:
    """The Caller of a principal admitted to `tenant`: an organisation with its account's type
    grants, anyone else with every type (what staff and residents read is limited otherwise)."""
    if principal.kind != "org":
        return Caller(principal, tenant)
    held = grants.type_grants((account or {}).get("grants"))
    return Caller(principal, tenant, held.reads, held.writes)


def _admit(access: Access, op: Operation, policy: Policy, raw: bytes,
           now: float) -> _Pass | None:
    """A pass for an Authorization header whose token was verified before, of a live account
    that has not revoked it, allowed by `policy` (and, for an organisation, by its grants when
    the operation needs every type); None: `Gate.check` must decide."""
    token = raw.decode("latin-1")
    if token[:7].lower() != "bearer ":
        return None
    principal = access.verifier.known(token[7:].strip())
    if principal is None or principal.tenant not in ("*", ""):
        return None
    entry = access.account_entry(principal.sub, now)
    if entry is None:
        return None
    account = entry[1]
    if account is None or is_revoked(principal, account):
        return None
    if not policy.allows(principal.roles, principal.scopes):
        return None
    who = caller(principal, "", account)
    if principal.kind == "org" and grants.refusal(op, grants.TypeGrants(
            who.reads, who.writes)) is not None:
        return None
    lapses = min(entry[0] + ACCOUNT_CACHE_SECONDS, now + principal.exp - time.time())
    return who, entry, lapses


class Gate:
    """Wraps each operation's endpoint with the check its declared policy asks for."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._digest: str | None = None
        self._admin: Principal | None = None  # whom the admin token stands for
        self._access: Access | None = None  # the running app's, for the store it has open
        self._alerts: set[asyncio.Task[bool]] = set()  # alerts the hot path raised, running
        path = settings.data_dir / TOKEN_FILE
        if path.is_file():
            self._digest = path.read_text(encoding="ascii").strip()

    def is_open(self, op: Operation) -> bool:
        policy = op.access
        return (policy is not None and policy.public) or (
            self.settings.ngsi.open_ngsi and op.path.startswith("/ngsi-ld/"))

    def wrap(self, op: Operation) -> Endpoint:
        policy = op.access
        if policy is None:
            raise UndeclaredPolicy(f"{op.method} {op.path} declares no access policy: add "
                                   "policy=… (or public=True) to its Operation")
        endpoint = op.endpoint
        if self.is_open(op):
            return endpoint

        passes: dict[bytes, _Pass] = {}  # this operation's admitted Authorization headers

        async def guarded(request: Request) -> Response:
            if not self._fast(op, policy, request, passes):
                refused = await self.check(op, policy, request)
                if refused is not None:
                    return refused
            try:
                response = await endpoint(request)
            except NgsiError as exc:
                if exc.status == 404:
                    await self._not_found(request)
                raise
            if response.status_code == 404:
                await self._not_found(request)
            return response

        guarded.__name__ = endpoint.__name__
        return guarded

    def _fast(self, op: Operation, policy: Policy, request: Request,
              passes: dict[bytes, _Pass]) -> bool:
        """The hot path, without an await: True when a token seen before, of a live account,
        within its rate, may call this operation on the default tenant; False sends the
        request through `check`, which decides and explains (nothing here refuses).

        What does not change from one request to the next (the token's principal, its
        account, the policy and grants) is decided once per operation and Authorization
        header, and held as a `_Pass` while the account's cache entry is the same object and
        neither that entry nor the token has expired: an account looked up again (a change,
        a revocation, `forget`) or two seconds old sends the next request through it all."""
        access = self._access
        scope = request.scope
        if access is None or access.store is not scope["app"].state.broker.store:
            return False
        raw = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                if raw:
                    return False  # repeated: check() decides which one counts
                raw = value
            elif name in TENANT_HEADERS:
                return False  # a tenant other than the default: check() compares them
        now = time.monotonic()
        held = passes.get(raw)
        if held is None or now >= held[2] or \
                access.account_entry(held[0].sub, now) is not held[1]:
            held = _admit(access, op, policy, raw, now)
            if held is None:
                return False
            if len(passes) >= _PASSES_MAX:
                passes.clear()
            passes[raw] = held
        principal = held[0].principal
        if not access.limiter.take_now(principal.sub, now):
            return False  # check() takes again and answers 429
        settings = access.settings
        unusual = access.monitor.volume(principal.sub, settings.volume_factor,
                                        settings.volume_floor, now=now)
        if unusual is not None:  # a minute just ended far above this client's baseline
            alert = asyncio.get_running_loop().create_task(access.monitor.alert(
                "unusual-volume", principal.sub, requests=unusual[0], baseline=unusual[1]))
            self._alerts.add(alert)
            alert.add_done_callback(self._alerts.discard)
        scope[PRINCIPAL] = principal
        scope[CALLER] = held[0]
        return True

    async def check(self, op: Operation, policy: Policy, request: Request) -> Response | None:
        """None when the request may go on; otherwise the refusal to send."""
        header = ""
        for name, value in reversed(request.scope["headers"]):  # the first one wins
            if name == b"authorization":
                header = value.decode("latin-1")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _unauthorized("this operation needs a bearer token (Authorization: Bearer …)",
                                 error="")
        access = self._access
        if access is None or access.store is not request.app.state.broker.store:
            access = self._access = await access_of(request.app)
        known = access.verifier.known(token)
        account = None if known is None else access.live_account(known.sub)[1]
        if known is None or account is None or is_revoked(known, account):  # not the hot path
            found = await self._principal(access, token, request)
            if isinstance(found, Response):
                return found
            known = found
        principal: Principal = known
        request.scope[PRINCIPAL] = principal
        now = time.monotonic()
        wait = access.limiter.take(principal.sub, now=now)
        if wait:
            return problem_response(
                TooManyRequests(f"over the rate of {access.settings.rate_per_second:g} "
                                "requests per second; retry later"),
                {"Retry-After": str(math.ceil(wait))})
        settings = access.settings
        unusual = access.monitor.volume(principal.sub, settings.volume_factor,
                                        settings.volume_floor, now=now)
        if unusual is not None:
            await access.monitor.alert("unusual-volume", principal.sub, requests=unusual[0],
                                       baseline=unusual[1])
        if not policy.allows(principal.roles, principal.scopes):
            return problem_response(Forbidden(f"{principal.sub} may not call {op.method} "
                                              f"{op.path}"))
        choice = decide(request.scope)  # the request's tenant, by the API of its path
        service = choice.service  # NGSI v2's tenant header (Orion keeps it in lower case)
        tenant = choice.ld or ""
        if service is not None and not principal.may_use_tenant(service):
            tenant = service  # every header that may select a tenant must name an allowed one
        if not principal.may_use_tenant(tenant):
            await access.monitor.alert("tenant-probe", principal.sub, tenant=tenant[:64],
                                       own_tenant=principal.tenant, path=request.url.path[:200])
            return problem_response(Forbidden(f"this token is bound to another tenant than "
                                              f"{tenant[:64]!r}"))
        keep(request.scope, choice)
        who = caller(principal, choice.tenant,
                     await access.account_of(principal) if principal.kind == "org" else None)
        if principal.kind == "org":
            why = grants.refusal(op, grants.TypeGrants(who.reads, who.writes))
            if why is not None:
                return problem_response(Forbidden(why))
        request.scope[CALLER] = who
        return None

    async def _not_found(self, request: Request) -> None:
        """Many not-found answers to one client: someone may be scanning ids."""
        principal = request.scope.get(PRINCIPAL)
        access = self._access
        if principal is None or access is None:
            return
        if access.monitor.count("id-scan", principal.sub, access.settings.scan_404_per_minute):
            await access.monitor.alert("id-scan", principal.sub, path=request.url.path[:200],
                                       per_minute=access.settings.scan_404_per_minute)

    async def _principal(self, access: Access, token: str,
                         request: Request) -> Principal | Response:
        if token.startswith(ADMIN_TOKEN_PREFIX):
            if self._digest is None or not hmac.compare_digest(_digest(token), self._digest):
                return _unauthorized("the bearer token is not valid")
            if self._admin is None:
                admin = await access.book.first_admin()
                self._admin = Principal(sub=f"staff:{admin['username'] if admin else 'admin'}",
                                        tenant="*", roles=("admin",))
            return self._admin
        try:
            principal = await access.verifier.verify(token)
        except TokenError as exc:
            if exc.reason == "forged":
                host = request.client.host if request.client else "?"
                await access.monitor.alert("token-misuse", host, reason=exc.reason,
                                           path=request.url.path[:200])
            return _unauthorized(str(exc))
        account = await access.account_of(principal)
        if account is None:
            return _unauthorized("the account behind this token is disabled or removed")
        if is_revoked(principal, account):
            host = request.client.host if request.client else "?"
            await access.monitor.alert("token-misuse", principal.sub, reason="revoked",
                                       address=host, path=request.url.path[:200])
            return _unauthorized("the access token has been revoked")
        return principal
