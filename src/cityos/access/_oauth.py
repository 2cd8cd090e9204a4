"""Answers shared by the sign-in endpoints: OAuth 2.0 errors and tokens, small request bodies,
and the per-address throttle (RFC 6749 §5.1–5.2 response shapes)."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.access.service import Access
from cityos.access.tokens import Principal
from cityos.jsonvalue import TooDeep, loads

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_FORM = 4096
MAX_JSON = 65_536  # a WebAuthn answer with an attestation certificate chain fits


def oauth_error(status: int, error: str, description: str,
                headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps({"error": error, "error_description": description}),
                    status_code=status, media_type="application/json",
                    headers={**NO_STORE, **(headers or {})})


async def form(request: Request) -> dict[str, str] | None:
    """String parameters of a form-encoded or JSON body (None when it is neither)."""
    raw = await request.body()
    if len(raw) > MAX_FORM:
        return None
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if media == "application/json":
            data = loads(raw)
            return {k: v for k, v in data.items() if isinstance(v, str)} \
                if isinstance(data, dict) else None
        if media == "application/x-www-form-urlencoded":
            return {k: v[0] for k, v in parse_qs(raw.decode("utf-8"), strict_parsing=False).items()}
    except (orjson.JSONDecodeError, UnicodeDecodeError, TooDeep):
        return None
    return None


async def json_object(request: Request) -> dict[str, Any] | None:
    """A JSON object body (None when the body is not one or is too large)."""
    raw = await request.body()
    if len(raw) > MAX_JSON:
        return None
    try:
        data = loads(raw) if raw else {}
    except (orjson.JSONDecodeError, TooDeep):
        return None
    return data if isinstance(data, dict) else None


def throttled(access: Access, request: Request) -> Response | None:
    """429 when this address tries to sign in too often (20 at once, then one a second)."""
    host = request.client.host if request.client else "?"
    wait = access.login_limiter.take("ip:" + host)
    if wait:
        return oauth_error(429, "slow_down", "too many attempts from this address",
                           {"Retry-After": str(math.ceil(wait))})
    return None


async def token_response(access: Access, principal: Principal, status: int = 200) -> Response:
    token = await access.issue(principal)
    return Response(orjson.dumps({"access_token": token, "token_type": "Bearer",
                                  "expires_in": access.settings.token_ttl}),
                    status_code=status, media_type="application/json", headers=NO_STORE)


def locked(seconds: float) -> Response:
    return oauth_error(429, "access_denied", "ログインの失敗が続いたため一時的にロックしています / "
                       "too many failed sign-ins: the account is locked",
                       {"Retry-After": str(math.ceil(seconds))})
