"""Staff sign-in through the municipality's OpenID Connect provider (authorization code + PKCE).

OpenID Connect Core 1.0 §3.1 (code flow, state, nonce, ID token validation §3.1.3.7),
Discovery 1.0, RFC 7636 (PKCE, S256). Signatures are checked by PyJWT against the provider's
JWKS; who may sign in is decided by `map_staff`, conservatively.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from cityos.access._expiring import sweep
from cityos.access.accounts import STAFF, AccountBook, AccountError
from cityos.settings import Settings

STATES = "access.oidc_states"  # state -> nonce, PKCE verifier, expiry (used once)
STATE_SECONDS = 600.0
ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")  # never "none" nor shared-secret HMAC
_TIMEOUT = 10.0
_DISCOVERY_SECONDS = 3600.0


class OidcError(Exception):
    """The sign-in cannot complete; `error` is the OAuth 2.0 error code to answer."""

    def __init__(self, error: str, detail: str) -> None:
        super().__init__(detail)
        self.error = error


@dataclass(frozen=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    redirect_uri: str
    staff_claim: str
    default_role: str
    default_tenant: str

    @classmethod
    def of(cls, settings: Settings) -> OidcConfig | None:
        """The configuration, or None when OIDC sign-in is off (no issuer or client id)."""
        a = settings.access
        if not a.oidc_issuer or not a.oidc_client_id:
            return None
        return cls(a.oidc_issuer.rstrip("/"), a.oidc_client_id, a.oidc_client_secret,
                   a.oidc_scopes, settings.public_url.rstrip("/") + "/auth/oidc/callback",
                   a.oidc_staff_claim, a.oidc_default_role, a.oidc_default_tenant)


_discovered: dict[str, tuple[float, dict[str, Any]]] = {}


async def discover(issuer: str) -> dict[str, Any]:
    """The provider's metadata (OIDC Discovery 1.0), cached an hour; its issuer must match."""
    cached = _discovered.get(issuer)
    if cached is not None and time.monotonic() - cached[0] < _DISCOVERY_SECONDS:
        return cached[1]
    try:
        async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
            response = await client.get(issuer + "/.well-known/openid-configuration")
            response.raise_for_status()
            meta = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcError("temporarily_unavailable",
                        f"the OIDC provider cannot be reached: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("issuer", "").rstrip("/") != issuer:
        raise OidcError("server_error", "the OIDC provider names another issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(meta.get(key), str):
            raise OidcError("server_error", f"the OIDC provider's metadata lacks {key}")
    _discovered[issuer] = (time.monotonic(), meta)
    return meta


async def start(book: AccountBook, config: OidcConfig) -> tuple[str, str]:
    """The provider's authorization URL to send the browser to, and the state it carries."""
    meta = await discover(config.issuer)
    await sweep(book.store, STATES)
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier = secrets.token_urlsafe(48)  # RFC 7636 §4.1: 43–128 characters
    await book.store.kv_put(STATES, state, {"nonce": nonce, "verifier": verifier,
                                            "expires": time.time() + STATE_SECONDS})
    query = urlencode({"response_type": "code", "client_id": config.client_id,
                       "redirect_uri": config.redirect_uri, "scope": config.scopes,
                       "state": state, "nonce": nonce,
                       "code_challenge": create_s256_code_challenge(verifier),
                       "code_challenge_method": "S256"})
    endpoint = meta["authorization_endpoint"]
    return endpoint + ("&" if "?" in endpoint else "?") + query, state


async def finish(book: AccountBook, config: OidcConfig, state: str,
                 code: str) -> dict[str, Any]:
    """Trade the code for tokens and return the ID token's verified claims."""
    saved = await book.store.kv_get(STATES, state) if state else None
    if saved is None or not await book.store.kv_delete(STATES, state):
        raise OidcError("invalid_request", "unknown or used sign-in state: start again")
    if saved["expires"] < time.time():
        raise OidcError("invalid_request", "the sign-in took too long: start again")
    meta = await discover(config.issuer)
    try:
        async with httpx.AsyncClient(timeout=_TIMEOUT) as client:
            response = await client.post(
                meta["token_endpoint"], auth=(config.client_id, config.client_secret),
                data={"grant_type": "authorization_code", "code": code,
                      "redirect_uri": config.redirect_uri, "code_verifier": saved["verifier"]},
                headers={"Accept": "application/json"})
            tokens = response.json()
            keys = (await client.get(meta["jwks_uri"])).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise OidcError("temporarily_unavailable",
                        f"the OIDC provider cannot be reached: {exc}") from exc
    if response.status_code != 200 or not isinstance(tokens, dict) \
            or not isinstance(tokens.get("id_token"), str):
        raise OidcError("access_denied", "the OIDC provider did not issue an ID token")
    claims = verify_id_token(tokens["id_token"], keys, config)
    if claims.get("nonce") != saved["nonce"]:
        raise OidcError("access_denied", "the ID token's nonce does not match this sign-in")
    return claims


def verify_id_token(token: str, jwks: Any, config: OidcConfig) -> dict[str, Any]:
    """The claims of an ID token signed by one of the provider's keys, issued by it, for
    this client, not expired (OIDC Core §3.1.3.7)."""
    try:
        header = jwt.get_unverified_header(token)
        keyset = jwt.PyJWKSet.from_dict(jwks)
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise OidcError("access_denied", f"the ID token cannot be read: {exc}") from exc
    alg = header.get("alg")
    if alg not in ALGORITHMS:
        raise OidcError("access_denied", f"ID tokens signed with {alg!r} are not accepted")
    kid = header.get("kid")
    keys = [k for k in keyset.keys if kid is None or k.key_id == kid]
    if not keys:
        raise OidcError("access_denied", "the ID token is signed with a key the provider "
                        "does not publish")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, keys[0].key, algorithms=[alg], audience=config.client_id,
            issuer=config.issuer, leeway=30,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]})
    except jwt.PyJWTError as exc:
        raise OidcError("access_denied", f"the ID token is not valid: {exc}") from exc
    azp = claims.get("azp")
    if isinstance(claims.get("aud"), list) and len(claims["aud"]) > 1 \
            and azp != config.client_id:
        raise OidcError("access_denied", "the ID token was issued to another client")
    return claims


async def map_staff(book: AccountBook, config: OidcConfig,
                    claims: dict[str, Any]) -> dict[str, Any]:
    """The staff account these claims sign in to: the one named by `staff_claim`, bound to the
    provider's subject at first use; else a new one with `default_role` if that is set, else
    OidcError (no access unless mapped)."""
    name = claims.get(config.staff_claim)
    if not isinstance(name, str) or not name:
        raise OidcError("access_denied", f"the ID token has no {config.staff_claim!r} claim")
    if config.staff_claim == "email" and claims.get("email_verified") is False:
        raise OidcError("access_denied", "the e-mail address is not verified by the provider")
    subject = {"iss": config.issuer, "sub": str(claims["sub"])}
    async with book.lock("staff:" + name):
        member = await book.store.kv_get(STAFF, name)
        if member is None:
            if not config.default_role:
                raise OidcError("access_denied", f"no staff account for {name!r}: an "
                                "administrator adds it with `cityos staff add`")
            if config.default_role not in ("operator", "viewer"):  # never admins unasked
                raise OidcError("access_denied", "access.oidc_default_role must be operator "
                                "or viewer")
            try:
                member, _ = await book.add_staff(name, [config.default_role],
                                                 tenant=config.default_tenant)
            except AccountError as exc:
                raise OidcError("access_denied", str(exc)) from exc
        if member.get("disabled"):
            raise OidcError("access_denied", "this staff account is disabled")
        bound = member.get("oidc")
        if bound is not None and bound != subject:
            raise OidcError("access_denied", f"{name!r} is bound to another account at the "
                            "OIDC provider")
        member["oidc"] = subject
        member["last_used"] = time.time()
        await book.store.kv_put(STAFF, name, member)
    return member


async def staff_signing_in(access: Any, config: OidcConfig, state: str,
                           code: str) -> dict[str, Any]:
    """The staff account a provider's answer signs in to (`finish`, then `map_staff`); a
    refusal raises OidcError after an `oidc-refused` alert. `access`: the running Access."""
    try:
        claims = await finish(access.book, config, state, code)
        return await map_staff(access.book, config, claims)
    except OidcError as exc:
        await alert_refused(access, config, exc)
        raise


async def alert_refused(access: Any, config: OidcConfig, exc: OidcError) -> None:
    """An `oidc-refused` security alert when the provider or the mapping refused the sign-in
    (`access_denied`); other failures raise none."""
    if exc.error == "access_denied":
        await access.monitor.alert("oidc-refused", "oidc:" + config.issuer[:100],
                                   reason=str(exc)[:200])
