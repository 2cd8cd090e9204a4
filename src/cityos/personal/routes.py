"""Personal-Link over HTTP for organisations and staff: the data catalog, consent requests,
residents' Personal-Link at the town office (`/personal/v1/…`), and every operation of the part.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.access.service import access_of
from cityos.audit.trail import touch_subjects
from cityos.ngsi.api.respond import plain_json
from cityos.ngsi.errors import BadRequestData
from cityos.operations import (
    ADMIN,
    RESIDENT_ROLE,
    STAFF_READ,
    STAFF_WRITE,
    Operation,
    Param,
    Policy,
)
from cityos.personal import me_routes, oidc_routes
from cityos.personal._http import V1, epoch, error, json_body, personal, principal_of, tenant_of
from cityos.personal.consents import ConsentError
from cityos.personal.datacatalog import CatalogError, check_entry
from cityos.personal.export import account_view, erase_resident
from cityos.personal.me_routes import appoint

TAG = "personal"
# the catalog is read by everyone who deals with personal data; changed by staff only
CATALOG_READ = Policy(roles=("operator", "viewer", RESIDENT_ROLE),
                      scopes=("ngsi:read", "ngsi:write"))
# organisations that read data ask for consent (an operator may ask for a named recipient)
CONSENT_REQUEST = Policy(roles=("operator",), scopes=("ngsi:read",))
CONSENT_LIST = Policy(roles=("operator", "viewer"), scopes=("ngsi:read",))


async def list_catalog(request: Request) -> Response:
    """Every entity type's classification, data category and subject attribute."""
    p = personal(request)
    return plain_json({"entries": [e.to_json() for e in p.catalog.entries()],
                       "categories": p.catalog.categories()})


async def put_catalog_entry(request: Request) -> Response:
    """Add or replace the catalog entry of an entity type (staff)."""
    data = await json_body(request)
    data["type"] = request.path_params["typeName"]
    try:
        entry = check_entry(data)
    except CatalogError as exc:
        raise BadRequestData(str(exc)) from exc
    changed = await personal(request).catalog.put(entry)
    return plain_json({**entry.to_json(), "reclassified": changed})


async def delete_catalog_entry(request: Request) -> Response:
    if not await personal(request).catalog.delete(request.path_params["typeName"]):
        raise error(404, "その型は目録にありません / the type is not in the catalog")
    return Response(status_code=204)


async def request_consent(request: Request) -> Response:
    """An organisation asks a resident (by `resident` id or its own linked `customerId`) for
    consent to a data `category` for a `purpose` (DPV term), optionally `until` a date."""
    data = await json_body(request)
    principal = principal_of(request)
    tenant = tenant_of(request)
    access = await access_of(request.app)
    p = personal(request)
    if principal.kind == "org":
        recipient, client_id = principal.sub, principal.name
    else:
        recipient = str(data.get("recipient", ""))
        client_id = recipient.partition(":")[2]
        if not recipient.startswith("org:"):
            raise BadRequestData("recipient は org:CLIENT_ID です / recipient is org:CLIENT_ID")
    org = await access.book.org_by_client(client_id)
    if org is None:
        raise error(404, f"事業者 {recipient} はありません / no organisation {recipient}")
    subject = data.get("resident")
    if not subject and isinstance(data.get("customerId"), str):
        subject = await p.links.resident_of_customer(tenant, client_id, data["customerId"])
    resident = await access.residents.get(subject) if isinstance(subject, str) and subject \
        else None
    if resident is None or resident.get("disabled") or resident.get("tenant", "") != tenant:
        raise error(404, "その住民はいません / no such resident")
    for name in ("category", "purpose", "notice", "service", "ifRefused"):
        if not isinstance(data.get(name, ""), str):
            raise BadRequestData(f"{name} は文字列です / {name} is a string")
    try:
        consent = await p.consents.request(
            tenant, subject=resident["id"], recipient=recipient, recipient_name=org["name"],
            category=data.get("category", ""), purpose=data.get("purpose", ""),
            notice=data.get("notice", ""), service=data.get("service", ""),
            until=epoch(data.get("until")), if_refused=data.get("ifRefused", ""))
    except ConsentError as exc:
        raise error(exc.status, str(exc)) from exc
    return plain_json(consent, status=201)


async def list_consents(request: Request) -> Response:
    """An organisation's consents (those it asked for); staff: all, or of `resident`."""
    principal = principal_of(request)
    p = personal(request)
    params = request.query_params
    if principal.kind == "org":
        items = await p.consents.list(tenant_of(request), recipient=principal.sub)
    else:
        items = await p.consents.list(tenant_of(request), subject=params.get("resident"),
                                      recipient=params.get("recipient"))
    state = params.get("state")
    return plain_json([c for c in items if state is None or c["state"] == state])


async def cancel_consent(request: Request) -> Response:
    """An organisation withdraws its own request before the resident answered."""
    principal = principal_of(request)
    tenant = tenant_of(request)
    p = personal(request)
    consent_id = request.path_params["consentId"]
    consent = await p.consents.get(tenant, consent_id)
    if consent is None or (principal.kind == "org" and consent["recipient"] != principal.sub):
        raise error(404, f"同意 {consent_id} はありません / no consent {consent_id}")
    try:
        changed = await p.consents.decide(tenant, consent_id, "WITHDRAWN", by=principal.sub,
                                          role="recipient", as_recipient=True)
    except ConsentError as exc:
        raise error(exc.status, str(exc)) from exc
    return plain_json(changed)


async def _resident_here(request: Request) -> tuple[str, str, dict[str, Any]]:
    """(tenant, resident id, account) of the path's resident in the request's tenant (404
    otherwise), named in the audit record."""
    tenant, subject = tenant_of(request), request.path_params["residentId"]
    resident = await (await access_of(request.app)).residents.get(subject)
    if resident is None or resident.get("tenant", "") != tenant:
        raise error(404, f"住民 {subject} はいません / no resident {subject}")
    touch_subjects(request, subject)
    return tenant, subject, resident


async def resident_summary(request: Request) -> Response:
    """A resident's Personal-Link at the town office: account, links, consents, mandates."""
    tenant, subject, resident = await _resident_here(request)
    p = personal(request)
    return plain_json({"account": account_view(resident),
                       "linkedIds": await p.links.of(tenant, subject),
                       "consents": await p.consents.list(tenant, subject=subject),
                       "representatives": await p.family.of_subject(tenant, subject),
                       "represents": p.family.represented(tenant, subject)})


async def staff_add_representative(request: Request) -> Response:
    """Staff name a representative for a resident (e.g. an elderly resident at the counter)."""
    tenant, subject, _ = await _resident_here(request)
    return plain_json(await appoint(request, tenant, subject), status=201)


async def staff_remove_representative(request: Request) -> Response:
    tenant, subject = tenant_of(request), request.path_params["residentId"]
    touch_subjects(request, subject)
    if not await personal(request).family.revoke(tenant, subject,
                                                 request.path_params["representativeId"]):
        raise error(404, "その代理人はいません / no such representative")
    return Response(status_code=204)


async def staff_erase(request: Request) -> Response:
    """Erase a resident at the town office (`{"confirm": "ERASE"}`); admins only."""
    tenant, subject = tenant_of(request), request.path_params["residentId"]
    data = await json_body(request)
    if data.get("confirm") not in me_routes.ERASE_WORDS:
        raise BadRequestData('確認のため {"confirm": "消去"} を送ってください / send '
                             '{"confirm": "ERASE"} to confirm; this cannot be undone')
    await _resident_here(request)
    access = await access_of(request.app)
    return plain_json(await erase_resident(personal(request), access.residents, tenant, subject,
                                           by=principal_of(request).sub, role="controller"))


_TYPE = Param("typeName", "path", description="entity type (short name or IRI)", required=True)
_RES = Param("residentId", "path", description="res_…", required=True)
_TENANT = Param("NGSILD-Tenant", "header", description="tenant (municipality)")
_ENTRY = {"type": "object", "properties": {
    "classification": {"type": "string", "enum": ["personal", "pseudonymised", "anonymised",
                                                  "non-personal"]},
    "category": {"type": "string"}, "subject_attr": {"type": "string"},
    "description": {"type": "string"}}}
_REQUEST = {"type": "object", "properties": {
    "resident": {"type": "string"}, "customerId": {"type": "string"},
    "category": {"type": "string"}, "purpose": {"type": "string"},
    "notice": {"type": "string"}, "service": {"type": "string"},
    "ifRefused": {"type": "string", "maxLength": 500},
    "until": {"type": "string", "format": "date-time"}, "recipient": {"type": "string"}}}
_J = ("application/json",)

OPERATIONS: list[Operation] = [
    Operation("GET", f"{V1}/catalog", list_catalog, "Data catalog (personal data types)", TAG,
              responses={200: "Entries and categories"}, policy=CATALOG_READ),
    Operation("PUT", f"{V1}/catalog/{{typeName}}", put_catalog_entry,
              "Classify an entity type", TAG, (_TYPE,), body=_ENTRY, body_types=_J,
              responses={200: "Entry", 400: "bad entry"}, policy=STAFF_WRITE),
    Operation("DELETE", f"{V1}/catalog/{{typeName}}", delete_catalog_entry,
              "Remove an entity type from the catalog", TAG, (_TYPE,),
              responses={204: "Removed", 404: "not in the catalog"}, policy=STAFF_WRITE),
    Operation("POST", f"{V1}/consents", request_consent, "Ask a resident for consent", TAG,
              (_TENANT,), body=_REQUEST, body_types=_J,
              responses={201: "Consent (REQUESTED)", 400: "bad request",
                         404: "no such resident or organisation", 409: "already open"},
              policy=CONSENT_REQUEST),
    Operation("GET", f"{V1}/consents", list_consents, "Consents (an organisation's own)", TAG,
              (Param("resident"), Param("recipient"), Param("state"), _TENANT),
              responses={200: "Consents"}, policy=CONSENT_LIST),
    Operation("DELETE", f"{V1}/consents/{{consentId}}", cancel_consent,
              "Withdraw an open consent request", TAG,
              (Param("consentId", "path", description="cns_…", required=True), _TENANT),
              responses={200: "Consent (WITHDRAWN)", 404: "no such consent",
                         409: "already answered"}, policy=CONSENT_REQUEST),
    Operation("GET", f"{V1}/residents/{{residentId}}", resident_summary,
              "A resident's Personal-Link (town office)", TAG, (_RES, _TENANT),
              responses={200: "Account, links, consents, representatives", 404: "no resident"},
              policy=STAFF_READ),
    Operation("POST", f"{V1}/residents/{{residentId}}/representatives",
              staff_add_representative, "Name a family representative for a resident", TAG,
              (_RES, _TENANT), body=me_routes._MANDATE, body_types=_J,
              responses={201: "Mandate", 400: "bad mandate", 404: "no resident"},
              policy=STAFF_WRITE),
    Operation("DELETE", f"{V1}/residents/{{residentId}}/representatives/{{representativeId}}",
              staff_remove_representative, "Remove a resident's representative", TAG,
              (_RES, Param("representativeId", "path", required=True), _TENANT),
              responses={204: "Removed", 404: "no such representative"}, policy=STAFF_WRITE),
    Operation("POST", f"{V1}/residents/{{residentId}}/erasure", staff_erase,
              "Erase a resident (town office)", TAG, (_RES, _TENANT), body=me_routes._ERASE,
              body_types=_J, responses={200: "What was erased", 400: "not confirmed",
                                        404: "no resident"}, policy=ADMIN),
    *me_routes.OPERATIONS,
    *oidc_routes.OPERATIONS,
]
