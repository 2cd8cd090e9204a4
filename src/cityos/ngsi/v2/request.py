"""Reading and answering NGSI v2 requests: tenant (Fiware-Service), service path, bodies,
options, and Orion's error format ({"error", "description"})."""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.jsonvalue import loads
from cityos.ngsi.errors import NgsiError
from cityos.ngsi.v2.translate import V2Invalid
from cityos.numbers import bounded_int
from cityos.storage.base import NotOwner
from cityos.tenant import TenantError, checked_tenant

_PATH_PART = re.compile(r"^[A-Za-z0-9_]{1,50}$")
ERRORS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
          405: "MethodNotAllowed", 409: "Unprocessable", 411: "LengthRequired",
          413: "RequestEntityTooLarge", 415: "UnsupportedMediaType", 422: "Unprocessable",
          429: "TooManyRequests", 500: "InternalError", 501: "NotImplemented",
          503: "ServiceUnavailable", 504: "GatewayTimeout"}
_CAUSE = {"AlreadyExists": "Already Exists"}
JSON = "application/json"


class V2Error(Exception):
    def __init__(self, status: int, description: str, error: str | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.error = error or ERRORS.get(status, "InternalError")
        self.description = description


def error_response(status: int, error: str, description: str) -> Response:
    return Response(orjson.dumps({"error": error, "description": description[:500]}),
                    status_code=status, media_type=JSON)


def v2_endpoint(fn: Callable[[Request], Awaitable[Response]]) -> Callable[[Request],
                                                                          Awaitable[Response]]:
    """Answer the platform's errors the way Orion does, never with a stack trace."""

    @functools.wraps(fn)
    async def endpoint(request: Request) -> Response:
        try:
            return await fn(request)
        except V2Error as exc:
            return error_response(exc.status, exc.error, exc.description)
        except V2Invalid as exc:
            return error_response(400, "BadRequest", str(exc))
        except NotOwner as exc:  # another's personal row
            return error_response(403, "Forbidden", str(exc))
        except NgsiError as exc:
            status = 422 if exc.status == 409 else exc.status
            name = type(exc).__name__
            return error_response(status, ERRORS.get(status, name),
                                  _CAUSE.get(name, exc.detail if hasattr(exc, "detail")
                                             else str(exc)))

    return endpoint


def tenant_v2(request: Request) -> str:
    """The tenant: Fiware-Service (lower case, as Orion keeps it), else NGSILD-Tenant (the
    gate's Caller keeps it; `cityos.tenant` decides it)."""
    try:
        return checked_tenant(request.scope)
    except TenantError as exc:
        raise V2Error(400, str(exc)) from None


def service_path(request: Request, *, query: bool) -> list[str] | None:
    """Fiware-ServicePath as NGSI-LD scopes (None: the root, i.e. no scope / every scope)."""
    raw = request.headers.get("fiware-servicepath")
    if raw is None:
        return None
    paths = [p.strip() for p in raw.split(",")]
    if not query and len(paths) > 1:
        raise V2Error(400, "only one Fiware-ServicePath may be given for an update")
    out: list[str] = []
    for path in paths[:10]:
        if not path.startswith("/"):
            raise V2Error(400, "a Fiware-ServicePath begins with '/'")
        parts = [p for p in path[1:].split("/") if p]
        if parts and parts[-1] == "#" and query:
            parts = parts[:-1]
            if not parts:
                return None  # /# is everything
            out.append("/" + "/".join(parts) + "/#")
            continue
        if len(parts) > 10 or not all(_PATH_PART.match(p) for p in parts):
            raise V2Error(400, "a Fiware-ServicePath has at most 10 levels of 1-50 "
                               "letters, digits or '_'")
        if parts:
            out.append("/" + "/".join(parts))
    return out or None


async def json_body(request: Request, limit: int) -> Any:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != JSON:
        raise V2Error(415, "the body must be application/json")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise V2Error(413, f"the body is over {limit} bytes")
    raw = await request.body()
    if len(raw) > limit:
        raise V2Error(413, f"the body is over {limit} bytes")
    try:
        return loads(raw)
    except orjson.JSONDecodeError:
        raise V2Error(400, "the body is not valid JSON", "ParseError") from None


def options_v2(request: Request, allowed: frozenset[str]) -> set[str]:
    raw = request.query_params.get("options")
    if raw is None:
        return set()
    found = {o.strip() for o in raw.split(",") if o.strip()}
    unknown = found - allowed
    if unknown:
        raise V2Error(400, f"invalid option {sorted(unknown)[0][:40]!r}")
    return found


def listed(request: Request, name: str) -> list[str] | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    return [v.strip() for v in raw.split(",") if v.strip()] or None


def int_arg(request: Request, name: str, default: int, maximum: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return bounded_int(raw, name, maximum=maximum)
    except NgsiError:
        raise V2Error(400, f"{name} must be an integer from 0 to {maximum}") from None


def json_response(data: Any, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON, headers=headers)
