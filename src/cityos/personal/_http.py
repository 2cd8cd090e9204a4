"""Shared pieces of the /personal/v1 handlers: who acts for whom, tenant, bodies, times, errors."""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

import orjson
from starlette.requests import Request

from cityos.access.gate import Forbidden
from cityos.access.tokens import Principal
from cityos.audit.trail import PRINCIPAL, touch_subjects
from cityos.jsonvalue import loads
from cityos.ngsi.errors import BadRequestData, NgsiError
from cityos.numbers import bounded_int
from cityos.personal.reader import ON_BEHALF_HEADER
from cityos.personal.service import Personal, personal_of
from cityos.tenant import tenant_of as request_tenant

V1 = "/personal/v1"
MAX_BODY = 65_536


class Conflict(NgsiError):
    title = "Conflict"
    status = 409


class NotFound(NgsiError):
    title = "ResourceNotFound"
    status = 404


def error(status: int, message: str) -> NgsiError:
    """The NgsiError (rendered as ProblemDetails) for an HTTP status."""
    exc = {400: BadRequestData, 403: Forbidden, 404: NotFound, 409: Conflict}.get(
        status, BadRequestData)(message)
    return exc


def principal_of(request: Request) -> Principal:
    principal: Principal = request.scope[PRINCIPAL]
    return principal


def tenant_of(request: Request) -> str:
    """The tenant (municipality) a request is about: the gate's Caller keeps it."""
    return request_tenant(request.scope)


def personal(request: Request) -> Personal:
    return personal_of(request.app)


class Acting(NamedTuple):
    """Who a resident's request is about: `categories` are the data categories the caller may
    see and decide on (None: all — the subject themselves, or a mandate without a list)."""

    tenant: str
    subject: str
    role: str
    categories: frozenset[str] | None

    def covers(self, category: object) -> bool:
        """Whether a consent, an access-log entry or an entity of `category` is the caller's
        to see: every route a representative reaches filters by this one test."""
        return self.categories is None or category in self.categories


def acting(request: Request, action: str | None) -> Acting:
    """(tenant, subject, role, categories) of a resident's request: the resident themselves,
    or — with `Cityos-On-Behalf-Of` and an `action` their mandate allows — the person they
    represent, within the mandate's categories. The subject is named in the audit record."""
    principal = principal_of(request)
    if principal.kind != "resident":
        raise BadRequestData("この操作は住民のアカウントで行います / this operation is for "
                             "residents' accounts")
    tenant, subject = tenant_of(request), principal.name
    role, categories = "data subject", None
    other = request.headers.get(ON_BEHALF_HEADER)
    if other and other != subject:
        mandate = None if action is None else personal(request).family.allowed(
            tenant, subject, other, action)
        if mandate is None:
            raise Forbidden("この方の代理はできません / you may not act for this resident here")
        subject, role = other, "representative"
        listed = mandate.get("categories")
        categories = None if listed is None else frozenset(str(c) for c in listed)
    touch_subjects(request, subject)
    return Acting(tenant, subject, role, categories)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise BadRequestData("本文が大きすぎます / the body is too large")
    try:
        data = loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise BadRequestData("本文がJSONではありません / the body is not JSON") from exc
    if not isinstance(data, dict):
        raise BadRequestData("本文はJSONオブジェクトです / the body is a JSON object")
    return data


def epoch(value: Any, name: str = "until") -> float | None:
    """An ISO 8601 date-time (or epoch seconds) as epoch seconds; None when absent."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            return parsed.timestamp()
    raise BadRequestData(f"{name} は ISO 8601 の日時です / {name} is an ISO 8601 date-time")


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    return bounded_int(raw, name, minimum=low, maximum=high)
