"""The catalog HTTP operations: `/catalog/v1/services`, `/catalog/v1/notices`, `/catalog/v1/usage`.

Staff (admin, operator) edit; staff, residents and organisations with any grant read — the
catalog is what the resident app shows and what companies link to. Usage is staff only.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.audit.trail import PRINCIPAL
from cityos.catalog.exchange import MAX_YAML, read_services, write_services
from cityos.catalog.model import FIELD_BY_KEY, STATUSES, CatalogError
from cityos.catalog.services import NotFound, Notices, ServiceCatalog
from cityos.catalog.usage import usage_report
from cityos.jsonvalue import loads
from cityos.ngsi.api.request import tenant_of
from cityos.ngsi.api.respond import no_content, plain_json
from cityos.ngsi.errors import (
    AlreadyExists,
    BadRequestData,
    PayloadTooLarge,
    ResourceNotFound,
    UnsupportedMediaType,
)
from cityos.operations import RESIDENT_ROLE, STAFF_READ, STAFF_WRITE, Operation, Param, Policy

TAG = "catalog"
V1 = "/catalog/v1"
# residents (the app), staff, and organisations holding any grant read the catalog
CATALOG_READ = Policy(roles=("operator", "viewer", RESIDENT_ROLE),
                      scopes=("ngsi:read", "ngsi:write"))
MAX_BODY = 65_536
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/plain")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def _services(request: Request) -> ServiceCatalog:
    return ServiceCatalog(request.app.state.broker.store, tenant_of(request))


def _notices(request: Request) -> Notices:
    return Notices(request.app.state.broker.store, tenant_of(request))


def _is_staff(request: Request) -> bool:
    principal = request.scope.get(PRINCIPAL)
    return principal is None or principal.kind == "staff"  # None: the gate is open (tests)


async def _json(request: Request) -> Any:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise PayloadTooLarge(f"本文が {MAX_BODY} バイトを超えています / the body is over {MAX_BODY} bytes")
    try:
        return loads(body or b"null")
    except orjson.JSONDecodeError:
        raise BadRequestData("本文が JSON ではありません / the body is not JSON") from None


def _bad(exc: CatalogError) -> BadRequestData | ResourceNotFound:
    return ResourceNotFound(str(exc)) if isinstance(exc, NotFound) else BadRequestData(str(exc))


async def list_services(request: Request) -> Response:
    """Services of the town, in the plan's field order (optionally one field or status)."""
    field = request.query_params.get("field")
    status = request.query_params.get("status")
    if field is not None and field not in FIELD_BY_KEY:
        raise BadRequestData(f"field は {', '.join(FIELD_BY_KEY)} のどれかです / field is one of "
                             f"{', '.join(FIELD_BY_KEY)}")
    if status is not None and status not in STATUSES:
        raise BadRequestData(f"status is one of {', '.join(STATUSES)}")
    return plain_json(await _services(request).list(field=field, status=status))


async def get_service(request: Request) -> Response:
    try:
        return plain_json(await _services(request).get(request.path_params["serviceId"]))
    except CatalogError as exc:
        raise _bad(exc) from None


async def create_service(request: Request) -> Response:
    """Add a service (409 when its id is taken: PUT replaces)."""
    data = await _json(request)
    catalog = _services(request)
    try:
        if isinstance(data, dict) and await request.app.state.broker.store.kv_get(
                catalog.space, str(data.get("id", ""))) is not None:
            raise AlreadyExists(f"サービス {str(data['id'])[:64]!r} は既にあります / service "
                                f"{str(data['id'])[:64]!r} exists: PUT replaces it")
        service, _ = await catalog.put(data)
    except CatalogError as exc:
        raise _bad(exc) from None
    return plain_json(service, status=201,
                      headers={"Location": f"{V1}/services/{service['id']}"})


async def replace_service(request: Request) -> Response:
    """Create or replace the service with this id (the body's id, if any, must match)."""
    data = await _json(request)
    ident = request.path_params["serviceId"]
    if isinstance(data, dict) and data.setdefault("id", ident) != ident:
        raise BadRequestData("本文の id がパスと違います / the body's id differs from the path's")
    try:
        service, created = await _services(request).put(data)
    except CatalogError as exc:
        raise _bad(exc) from None
    return plain_json(service, status=201 if created else 200)


async def delete_service(request: Request) -> Response:
    try:
        await _services(request).delete(request.path_params["serviceId"])
    except CatalogError as exc:
        raise _bad(exc) from None
    return no_content()


async def export_services(request: Request) -> Response:
    """The whole catalog as YAML (what `cityos catalog import` and the console read)."""
    text = write_services(await _services(request).list())
    return Response(text, media_type="application/yaml; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="catalog.yaml"'})


async def import_services(request: Request) -> Response:
    """Create or replace every service of a YAML document; one bad item stores nothing."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in YAML_TYPES:
        raise UnsupportedMediaType("YAML (application/yaml) を送ってください / send "
                                   "application/yaml")
    body = await request.body()
    if len(body) > MAX_YAML:
        raise PayloadTooLarge(f"the YAML is over {MAX_YAML} bytes")
    try:
        counts = await _services(request).put_many(read_services(body))
    except CatalogError as exc:
        raise BadRequestData(str(exc)) from None
    return plain_json(counts)


async def list_notices(request: Request) -> Response:
    """Notices from the town, newest first (residents and companies: the current ones)."""
    return plain_json(await _notices(request).list(current_only=not _is_staff(request)))


async def publish_notice(request: Request) -> Response:
    try:
        notice = await _notices(request).publish(await _json(request))
    except CatalogError as exc:
        raise _bad(exc) from None
    return plain_json(notice, status=201, headers={"Location": f"{V1}/notices/{notice['id']}"})


async def replace_notice(request: Request) -> Response:
    try:
        notice = await _notices(request).publish(await _json(request),
                                                 request.path_params["noticeId"])
    except CatalogError as exc:
        raise _bad(exc) from None
    return plain_json(notice)


async def delete_notice(request: Request) -> Response:
    try:
        await _notices(request).delete(request.path_params["noticeId"])
    except CatalogError as exc:
        raise _bad(exc) from None
    return no_content()


def current_month() -> str:
    return time.strftime("%Y-%m", time.gmtime())


async def usage(request: Request) -> Response:
    """API calls and data volume per organisation in a month (for billing statements)."""
    month = request.query_params.get("month") or current_month()
    if not _MONTH.match(month):
        raise BadRequestData("month は YYYY-MM です / month is YYYY-MM")
    meter = getattr(request.app.state, "usage_meter", None)
    if meter is not None:
        await meter.save()  # this process's latest counts too
    return plain_json(await usage_report(request.app.state.broker.store, month,
                                         tenant_of(request)))


_TEXT = {"type": "object", "properties": {"ja": {"type": "string"}, "en": {"type": "string"}}}
SERVICE = {"type": "object", "required": ["id", "name", "field", "provider"], "properties": {
    "id": {"type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"},
    "name": _TEXT, "description": _TEXT,
    "field": {"type": "string", "enum": list(FIELD_BY_KEY)},
    "provider": {"type": "string"},
    "deepLink": {"type": "string", "description": "app URL scheme or https://"},
    "webFallback": {"type": "string", "description": "https:// (or a path of this platform)"},
    "price": {"type": "object", "properties": {
        "resident": {"type": "string", "enum": ["free", "paid", "undecided"]},
        "municipality": {"type": "string", "enum": ["free", "paid", "undecided"]}}},
    "dataCategories": {"type": "array", "items": {"type": "string"}},
    "status": {"type": "string", "enum": list(STATUSES)},
    "audience": {"type": "string", "enum": ["residents", "town"],
                 "description": "residents: shown in the app; town: console only"},
    "linkVerified": {"type": "boolean", "description": "staff opened the link and it works: "
                     "only then the app shows 開く (else 準備中)"}}}
NOTICE = {"type": "object", "required": ["title"], "properties": {
    "title": _TEXT, "body": _TEXT,
    "severity": {"type": "string", "enum": ["info", "warning", "emergency"]},
    "until": {"type": "string", "format": "date-time"}}}
SERVICE_ID = Param("serviceId", "path", required=True)
NOTICE_ID = Param("noticeId", "path", required=True)
JSON_ONLY = ("application/json",)
OPERATIONS: list[Operation] = [
    Operation("GET", f"{V1}/services", list_services, "Service catalog", TAG,
              (Param("field", description="disaster, safety, … (①…⑬)"),
               Param("status", description="active, pilot or planned")),
              responses={200: "Services"}, policy=CATALOG_READ),
    Operation("POST", f"{V1}/services", create_service, "Add a service", TAG, body=SERVICE,
              body_types=JSON_ONLY, responses={201: "Created", 400: "invalid", 409: "exists"},
              policy=STAFF_WRITE),
    Operation("GET", f"{V1}/services/{{serviceId}}", get_service, "One service", TAG,
              (SERVICE_ID,), responses={200: "Service", 404: "no such service"},
              policy=CATALOG_READ),
    Operation("PUT", f"{V1}/services/{{serviceId}}", replace_service, "Create or replace a service",
              TAG, (SERVICE_ID,), body=SERVICE, body_types=JSON_ONLY,
              responses={200: "Replaced", 201: "Created", 400: "invalid"}, policy=STAFF_WRITE),
    Operation("DELETE", f"{V1}/services/{{serviceId}}", delete_service, "Remove a service", TAG,
              (SERVICE_ID,), responses={204: "Removed", 404: "no such service"},
              policy=STAFF_WRITE),
    Operation("GET", f"{V1}/export", export_services, "The catalog as YAML", TAG,
              responses={200: "YAML"}, policy=STAFF_READ),
    Operation("POST", f"{V1}/import", import_services, "Create or replace services from YAML",
              TAG, body={"type": "string"}, body_types=("application/yaml",),
              responses={200: "Counts", 400: "invalid (nothing stored)", 415: "not YAML"},
              policy=STAFF_WRITE),
    Operation("GET", f"{V1}/notices", list_notices, "Notices from the town (お知らせ)", TAG,
              responses={200: "Notices"}, policy=CATALOG_READ),
    Operation("POST", f"{V1}/notices", publish_notice, "Publish a notice", TAG, body=NOTICE,
              body_types=JSON_ONLY, responses={201: "Published", 400: "invalid"},
              policy=STAFF_WRITE),
    Operation("PUT", f"{V1}/notices/{{noticeId}}", replace_notice, "Edit a notice", TAG,
              (NOTICE_ID,), body=NOTICE, body_types=JSON_ONLY,
              responses={200: "Replaced", 400: "invalid", 404: "no such notice"},
              policy=STAFF_WRITE),
    Operation("DELETE", f"{V1}/notices/{{noticeId}}", delete_notice, "Withdraw a notice", TAG,
              (NOTICE_ID,), responses={204: "Withdrawn", 404: "no such notice"},
              policy=STAFF_WRITE),
    Operation("GET", f"{V1}/usage", usage, "Usage per organisation in a month (billing)", TAG,
              (Param("month", description="YYYY-MM (UTC); default this month"),),
              responses={200: "Usage rows"}, policy=STAFF_READ),
]
