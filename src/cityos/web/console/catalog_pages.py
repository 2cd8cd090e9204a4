"""The console's service catalog editor and notices editor: forms over the catalog part's
public functions (a service saved here is in the resident app at its next page view)."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.catalog.exchange import read_services, write_services
from cityos.catalog.model import AUDIENCES, FIELDS, PRICES, SEVERITIES, STATUSES, CatalogError
from cityos.catalog.services import Notices, ServiceCatalog
from cityos.ngsi.errors import ResourceNotFound
from cityos.web.console._page import done, show, tenant
from cityos.web.jst import parse_typed
from cityos.web.pages import form_of

EMPTY: dict[str, Any] = {"id": "", "name": {"ja": "", "en": ""}, "field": "disaster",
                         "provider": "", "description": {"ja": "", "en": ""}, "deepLink": "",
                         "webFallback": "", "price": {"resident": "free", "municipality": "free"},
                         "dataCategories": [], "status": "active"}


def _catalog(request: Request) -> ServiceCatalog:
    return ServiceCatalog(request.app.state.broker.store, tenant(request))


def _choices() -> dict[str, Any]:
    return {"fields": FIELDS, "prices": list(PRICES), "statuses": list(STATUSES),
            "audiences": list(AUDIENCES)}


async def services_page(request: Request) -> Response:
    services = await _catalog(request).list()
    labels = {f.key: f for f in FIELDS}
    return show(request, "services.html", "services", {
        "services": services, "labels": labels, "imported": request.query_params.get("n", "")})


def _form(request: Request, service: dict[str, Any], *, new: bool, error: str = "",
          status: int = 200) -> Response:
    return show(request, "service_form.html", "services",
                {"service": service, "new": new, "error": error, **_choices()}, status=status)


async def export_services(request: Request) -> Response:
    """The catalog as a YAML download for a signed-in clerk (the API's /catalog/v1/export
    wants a bearer token, which a browser's link does not send)."""
    text = write_services(await _catalog(request).list())
    return Response(text, media_type="application/yaml; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="catalog.yaml"'})


async def new_service_page(request: Request) -> Response:
    return _form(request, EMPTY, new=True)


async def edit_service_page(request: Request) -> Response:
    try:
        service = await _catalog(request).get(request.path_params["serviceId"])
    except CatalogError:
        raise ResourceNotFound("no such service") from None
    return _form(request, service, new=False)


def _from_form(form: dict[str, str]) -> dict[str, Any]:
    return {
        "id": form.get("id", "").strip(),
        "name": {"ja": form.get("name_ja", ""), "en": form.get("name_en", "")},
        "field": form.get("field", ""),
        "provider": form.get("provider", ""),
        "description": {"ja": form.get("description_ja", ""),
                        "en": form.get("description_en", "")},
        "deepLink": form.get("deepLink", ""),
        "webFallback": form.get("webFallback", ""),
        "price": {"resident": form.get("price_resident", ""),
                  "municipality": form.get("price_municipality", "")},
        "dataCategories": [p.strip() for p in re.split(r"[,、]", form.get("dataCategories", ""))
                           if p.strip()],
        "status": form.get("status", ""),
        "audience": form.get("audience", "") or "residents",
        "linkVerified": form.get("linkVerified", ""),
    }


async def save_service(request: Request) -> Response:
    """Create (from the new form) or replace (from the edit form) a service."""
    form = await form_of(request)
    data = _from_form(form)
    new = form.get("new") == "1"
    catalog = _catalog(request)
    try:
        if new and data["id"] and await request.app.state.broker.store.kv_get(
                catalog.space, data["id"]) is not None:
            raise CatalogError(f"ID {data['id']!r} は使われています / ID {data['id']!r} is taken")
        await catalog.put(data)
    except CatalogError as exc:
        return _form(request, {**EMPTY, **data}, new=new, error=str(exc), status=400)
    return done("/console/services", "saved")


async def delete_service(request: Request) -> Response:
    try:
        await _catalog(request).delete(request.path_params["serviceId"])
    except CatalogError:
        raise ResourceNotFound("no such service") from None
    return done("/console/services", "deleted")


async def import_services(request: Request) -> Response:
    """Import a YAML document pasted (or read from a file by the page's script) into the form."""
    form = await form_of(request)
    try:
        counts = await _catalog(request).put_many(read_services(form.get("yaml", "")))
    except CatalogError as exc:
        services = await _catalog(request).list()
        return show(request, "services.html", "services", {
            "services": services, "labels": {f.key: f for f in FIELDS}, "imported": "",
            "error": str(exc)}, status=400)
    return done("/console/services", f"imported:{counts['created']}:{counts['updated']}")


def _notices(request: Request) -> Notices:
    return Notices(request.app.state.broker.store, tenant(request))


async def notices_page(request: Request, error: str = "", status: int = 200,
                       draft: dict[str, str] | None = None) -> Response:
    return show(request, "notices.html", "notices", {
        "notices": await _notices(request).list(), "severities": list(SEVERITIES),
        "error": error, "draft": draft or {}}, status=status)


async def notices_list(request: Request) -> Response:
    return await notices_page(request)


async def publish_notice(request: Request) -> Response:
    form = await form_of(request)
    data = {"title": {"ja": form.get("title_ja", ""), "en": form.get("title_en", "")},
            "body": {"ja": form.get("body_ja", ""), "en": form.get("body_en", "")},
            "severity": form.get("severity", "info"), "until": form.get("until", "").strip()}
    try:
        until = form.get("until", "").strip()
        if until:  # what the clerk picked or typed, in Japan's time
            try:
                data["until"] = parse_typed(until)
            except ValueError as exc:
                raise CatalogError(str(exc)) from None
        await _notices(request).publish(data)
    except CatalogError as exc:
        return await notices_page(request, str(exc), 400, form)
    return done("/console/notices", "published")


async def withdraw_notice(request: Request) -> Response:
    try:
        await _notices(request).delete(request.path_params["noticeId"])
    except CatalogError:
        raise ResourceNotFound("no such notice") from None
    return done("/console/notices", "withdrawn")
