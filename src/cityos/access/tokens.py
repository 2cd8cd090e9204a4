"""Access tokens: short-lived JWTs signed with EdDSA, and who they name (`Principal`).

RFC 7519 (JWT), RFC 8037 (EdDSA in JOSE), RFC 9068 claim names (sub, jti, scope as a list).
"""

from __future__ import annotations

import functools
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt

from cityos.access.keys import KeyRing

ISSUER = "cityos"
_CACHE_MAX = 20_000


class TokenError(Exception):
    """A token that does not authenticate; `reason` is malformed, expired or forged."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff member (`staff:NAME`) or an organisation (`org:CLIENT_ID`)."""

    sub: str
    tenant: str  # the only tenant it may touch; "*" = every tenant (platform admins)
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    org: str = ""  # organisation name for organisation tokens
    jti: str = ""
    exp: float = float("inf")
    iat: float = 0.0  # when the token was issued (whole seconds)

    @functools.cached_property
    def kind(self) -> str:  # cached: the gate asks on every request
        return self.sub.split(":", 1)[0]

    @property
    def name(self) -> str:
        return self.sub.split(":", 1)[1]

    def may_use_tenant(self, tenant: str) -> bool:
        return self.tenant == "*" or self.tenant == tenant


async def issue_token(ring: KeyRing, principal: Principal, ttl: float,
                      now: float | None = None) -> str:
    """Sign a token for `principal` living `ttl` seconds."""
    now = time.time() if now is None else now
    key = await ring.signing_key(now)
    claims: dict[str, Any] = {
        "iss": ISSUER, "sub": principal.sub, "tenant": principal.tenant,
        "roles": list(principal.roles), "scope": " ".join(principal.scopes),
        "jti": secrets.token_urlsafe(12), "iat": int(now), "exp": int(now + ttl),
    }
    if principal.org:
        claims["org"] = principal.org
    return jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})


class TokenVerifier:
    """Verifies tokens, remembering good ones until they expire (the hot path is a dict hit)."""

    def __init__(self, ring: KeyRing) -> None:
        self.ring = ring
        self._good: dict[str, Principal] = {}

    def known(self, token: str) -> Principal | None:
        """The principal of a token verified before and not yet expired (no await: hot path)."""
        principal = self._good.get(token)
        return principal if principal is not None and principal.exp > time.time() else None

    async def verify(self, token: str) -> Principal:
        known = self._good.get(token)
        now = time.time()
        if known is not None:
            if known.exp > now:
                return known
            del self._good[token]
            raise TokenError("expired", "the access token has expired")
        principal = await self._verify(token)
        if len(self._good) >= _CACHE_MAX:
            self._good.clear()
        self._good[token] = principal
        return principal

    async def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise TokenError("malformed", "the access token is not a JWT") from exc
        if header.get("alg") != "EdDSA" or not isinstance(header.get("kid"), str):
            raise TokenError("forged", "the access token is not signed by this platform")
        key = await self.ring.public_key(header["kid"])
        if key is None:
            raise TokenError("forged", "the access token is signed with an unknown key")
        try:
            claims = jwt.decode(token, key, algorithms=["EdDSA"], issuer=ISSUER,
                                options={"require": ["exp", "iat", "sub", "jti", "iss"]})
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("expired", "the access token has expired") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenError("forged", "the access token's signature is not valid") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenError("malformed", f"the access token is not valid: {exc}") from exc
        tenant, roles = claims.get("tenant"), claims.get("roles", [])
        if not isinstance(tenant, str) or not isinstance(roles, list):
            raise TokenError("malformed", "the access token lacks tenant or roles")
        return Principal(sub=str(claims["sub"]), tenant=tenant,
                         roles=tuple(str(r) for r in roles),
                         scopes=tuple(str(claims.get("scope", "")).split()),
                         org=str(claims.get("org", "")), jti=str(claims["jti"]),
                         exp=float(claims["exp"]), iat=float(claims["iat"]))
