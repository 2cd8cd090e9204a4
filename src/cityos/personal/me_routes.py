"""A resident's own Personal-Link over HTTP: consents ON/OFF, the access log, linked IDs,
representatives, export and erasure (`/personal/v1/me/…`).

A family representative reaches the same routes with `Cityos-On-Behalf-Of: res_…` where the
mandate allows (view: consents, the access log and the data; consents: deciding on them),
and only within the mandate's data categories (`Acting.covers`).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.access.service import access_of
from cityos.ngsi.api.respond import plain_json
from cityos.ngsi.errors import BadRequestData
from cityos.operations import RESIDENT_ROLE, Operation, Param, Policy
from cityos.personal._http import (
    V1,
    acting,
    epoch,
    error,
    int_param,
    json_body,
    personal,
    principal_of,
)
from cityos.personal.consents import ConsentError
from cityos.personal.datacatalog import local_name
from cityos.personal.export import (
    account_view,
    erase_resident,
    export_resident,
    subject_entities,
)
from cityos.personal.family import MandateError
from cityos.personal.links import LinkError

TAG = "personal"
RESIDENT = Policy(roles=(RESIDENT_ROLE,))  # residents (and platform admins, who get 400)
ERASE_WORDS = ("ERASE", "消去")
_ON_BEHALF = Param("Cityos-On-Behalf-Of", "header",
                   description="res_… of the resident represented (家族代理)")


async def my_summary(request: Request) -> Response:
    """Who I am in Personal-Link: account, linked IDs, representatives both ways."""
    tenant, subject, _, _ = acting(request, None)
    p = personal(request)
    resident = await (await access_of(request.app)).residents.get(subject) or {}
    return plain_json({"account": account_view(resident),
                       "linkedIds": await p.links.of(tenant, subject),
                       "representatives": await p.family.of_subject(tenant, subject),
                       "represents": p.family.represented(tenant, subject),
                       "categories": p.catalog.categories()})


async def my_consents(request: Request) -> Response:
    """My consents, newest first (a representative with `view` sees the person's)."""
    who = acting(request, "view")
    state = request.query_params.get("state")
    items = await personal(request).consents.list(who.tenant, subject=who.subject)
    return plain_json([c for c in items if (state is None or c["state"] == state)
                       and who.covers(c.get("category"))])


async def decide_consent(request: Request) -> Response:
    """Approve, decline or withdraw one of my consents (`{"state": "APPROVED"}`)."""
    who = acting(request, "consents")
    tenant, subject, role = who.tenant, who.subject, who.role
    data = await json_body(request)
    p = personal(request)
    consent_id = request.path_params["consentId"]
    consent = await p.consents.get(tenant, consent_id)
    if consent is None or consent["subject"] != subject or not who.covers(consent["category"]):
        raise error(404, f"同意 {consent_id} はありません / no consent {consent_id}")
    try:
        changed = await p.consents.decide(tenant, consent_id, str(data.get("state", "")),
                                          by=principal_of(request).sub, role=role,
                                          until=epoch(data.get("until")))
    except ConsentError as exc:
        raise error(exc.status, str(exc)) from exc
    return plain_json(changed)


async def consent_records(request: Request) -> Response:
    """The signed TS 27560 records of one of my consents, oldest first."""
    who = acting(request, "view")
    p = personal(request)
    consent_id = request.path_params["consentId"]
    consent = await p.consents.get(who.tenant, consent_id)
    if consent is None or consent["subject"] != who.subject or \
            not who.covers(consent["category"]):
        raise error(404, f"同意 {consent_id} はありません / no consent {consent_id}")
    return plain_json(await p.consents.records(who.tenant, consent_id))


async def access_log(request: Request) -> Response:
    """Who received my data, when, why: one entry per release, newest first (paged; for a
    representative only the mandate's categories, so a page may hold fewer than `limit`)."""
    who = acting(request, "view")
    limit = int_param(request, "limit", 50, 1, 200)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    entries = await personal(request).tracker.entries(who.tenant, who.subject, limit=limit,
                                                      offset=offset)
    return plain_json({"entries": [e for e in entries if who.covers(e.get("category"))],
                       "limit": limit, "offset": offset,
                       "next": offset + limit if len(entries) == limit else None})


_VALUE_KEYS = ("value", "object", "languageMap", "vocab", "json", "valueList", "objectList")


def data_view(entity: dict[str, Any], category: str) -> dict[str, Any]:
    """An entity as the resident app shows it: short names, the value of each attribute."""
    attrs = {}
    for iri, instances in entity.get("attrs", {}).items():
        if instances:
            first = instances[0]
            attrs[local_name(iri)] = next((first[k] for k in _VALUE_KEYS if k in first), None)
    return {"id": entity["id"], "type": [local_name(t) for t in entity.get("type", [])],
            "category": category, "modifiedAt": entity.get("modifiedAt"), "attrs": attrs}


async def my_data(request: Request) -> Response:
    """My personal entities (a representative with `view`: the person's, of the mandate's
    categories), read as the platform and shown with short names."""
    who = acting(request, "view")
    p = personal(request)
    out = []
    for entity in await subject_entities(p, who.tenant, who.subject):
        found = p.catalog.classify(who.tenant, entity)
        category = found[1] if found else ""
        if who.covers(category):
            out.append(data_view(entity, category))
    return plain_json(out)


async def export_me(request: Request) -> Response:
    """Everything the platform holds about me, as one JSON download."""
    tenant, subject, _, _ = acting(request, None)
    access = await access_of(request.app)
    doc = await export_resident(personal(request), access.residents, tenant, subject)
    return Response(orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_INDENT_2),
                    media_type="application/json",
                    headers={"Content-Disposition":
                             f'attachment; filename="cityos-export-{subject}.json"',
                             "Cache-Control": "no-store"})


async def erase_me(request: Request) -> Response:
    """Erase me: `{"confirm": "ERASE"}` (or 消去). Irreversible."""
    tenant, subject, _, _ = acting(request, None)
    data = await json_body(request)
    if data.get("confirm") not in ERASE_WORDS:
        raise BadRequestData('確認のため {"confirm": "消去"} を送ってください / send '
                             '{"confirm": "ERASE"} to confirm; this cannot be undone')
    access = await access_of(request.app)
    done = await erase_resident(personal(request), access.residents, tenant, subject,
                                by=principal_of(request).sub, role="data subject")
    return plain_json(done)


async def my_links(request: Request) -> Response:
    tenant, subject, _, _ = acting(request, None)
    return plain_json(await personal(request).links.of(tenant, subject))


async def link_company(request: Request) -> Response:
    """Link an organisation's customer number to me (`{"org": name or client id,
    "customerId": …}`), so it can ask me for consent by the number it knows."""
    tenant, subject, _, _ = acting(request, None)
    data = await json_body(request)
    access = await access_of(request.app)
    name = data.get("org")
    if not isinstance(name, str) or not name:
        raise BadRequestData("org は事業者名かクライアントIDです / org names the organisation")
    org = await access.book.org_by_client(name) or next(
        (o for o in await access.book.list_orgs() if o.get("name") == name), None)
    if org is None or org.get("tenant", "") not in (tenant, "*"):
        raise error(404, f"事業者 {name} はありません / no organisation {name}")
    try:
        entry = await personal(request).links.link_company(
            tenant, subject, org["client_id"], org["name"], str(data.get("customerId", "")))
    except LinkError as exc:
        raise error(exc.status, str(exc)) from exc
    return plain_json(entry, status=201)


async def unlink_company(request: Request) -> Response:
    tenant, subject, _, _ = acting(request, None)
    client_id = request.query_params.get("clientId", "")
    customer = request.query_params.get("customerId", "")
    if not await personal(request).links.unlink_company(tenant, subject, client_id, customer):
        raise error(404, "その連携はありません / no such link")
    return Response(status_code=204)


async def appoint(request: Request, tenant: str, subject: str) -> dict[str, Any]:
    """Name a representative from a JSON body (shared with the staff route)."""
    data = await json_body(request)
    access = await access_of(request.app)
    who = str(data.get("representative", ""))
    rep = await access.residents.get(who) if who.startswith("res_") else \
        await access.residents.by_login(who)
    if rep is None or rep.get("disabled") or rep.get("tenant", "") != tenant:
        raise error(404, f"住民 {who} はいません / no resident {who}")
    categories = data.get("categories")
    if categories is not None and not isinstance(categories, list):
        raise BadRequestData("categories は一覧です / categories is a list")
    actions = data.get("actions", ["view"])
    if not isinstance(actions, list):
        raise BadRequestData("actions は一覧です / actions is a list")
    try:
        return await personal(request).family.appoint(
            tenant, subject, rep["id"], categories=categories, actions=actions,
            until=epoch(data.get("until")), by=principal_of(request).sub)
    except MandateError as exc:
        raise BadRequestData(str(exc)) from exc


async def my_representatives(request: Request) -> Response:
    tenant, subject, _, _ = acting(request, None)
    p = personal(request)
    return plain_json({"actingForMe": await p.family.of_subject(tenant, subject),
                       "iActFor": p.family.represented(tenant, subject)})


async def add_representative(request: Request) -> Response:
    """Name a family representative: `{"representative": login or res_…, "categories":
    [..] (all when left out), "actions": ["view", "consents"], "until": ISO date-time}`."""
    tenant, subject, _, _ = acting(request, None)
    return plain_json(await appoint(request, tenant, subject), status=201)


async def remove_representative(request: Request) -> Response:
    tenant, subject, _, _ = acting(request, None)
    if not await personal(request).family.revoke(tenant, subject,
                                                 request.path_params["residentId"]):
        raise error(404, "その代理人はいません / no such representative")
    return Response(status_code=204)


_ID = Param("consentId", "path", description="cns_…", required=True)
_STATE = {"type": "object", "properties": {
    "state": {"type": "string", "enum": ["APPROVED", "DECLINED", "WITHDRAWN"]},
    "until": {"type": "string", "format": "date-time"}}}
_ERASE = {"type": "object", "properties": {"confirm": {"type": "string", "enum": ERASE_WORDS}}}
_COMPANY = {"type": "object", "properties": {"org": {"type": "string"},
                                             "customerId": {"type": "string"}}}
_MANDATE = {"type": "object", "properties": {
    "representative": {"type": "string"}, "categories": {"type": "array"},
    "actions": {"type": "array"}, "until": {"type": "string", "format": "date-time"}}}
_J = ("application/json",)

OPERATIONS: list[Operation] = [
    Operation("GET", f"{V1}/me", my_summary, "My Personal-Link account", TAG,
              responses={200: "Account, linked IDs, representatives"}, policy=RESIDENT),
    Operation("GET", f"{V1}/me/consents", my_consents, "My consents", TAG,
              (Param("state", description="REQUESTED, APPROVED …"), _ON_BEHALF),
              responses={200: "Consents"}, policy=RESIDENT),
    Operation("PATCH", f"{V1}/me/consents/{{consentId}}", decide_consent,
              "Approve, decline or withdraw a consent", TAG, (_ID, _ON_BEHALF), body=_STATE,
              body_types=_J, responses={200: "The consent", 400: "bad state",
                                        404: "no such consent", 409: "not from this state"},
              policy=RESIDENT),
    Operation("GET", f"{V1}/me/consents/{{consentId}}/records", consent_records,
              "Signed consent records (ISO/IEC TS 27560)", TAG, (_ID, _ON_BEHALF),
              responses={200: "Records", 404: "no such consent"}, policy=RESIDENT),
    Operation("GET", f"{V1}/me/access-log", access_log, "Who used my data (data tracker)", TAG,
              (Param("limit", schema={"type": "integer"}),
               Param("offset", schema={"type": "integer"}), _ON_BEHALF),
              responses={200: "Access log, newest first"}, policy=RESIDENT),
    Operation("GET", f"{V1}/me/data", my_data, "My personal data (entities about me)", TAG,
              (_ON_BEHALF,), responses={200: "Entities, short names"}, policy=RESIDENT),
    Operation("GET", f"{V1}/me/export", export_me, "Export everything about me (JSON)", TAG,
              responses={200: "Export document"}, policy=RESIDENT),
    Operation("POST", f"{V1}/me/erasure", erase_me, "Erase me (crypto-shredding)", TAG,
              body=_ERASE, body_types=_J,
              responses={200: "What was erased", 400: "not confirmed"}, policy=RESIDENT),
    Operation("GET", f"{V1}/me/links", my_links, "My linked IDs", TAG,
              responses={200: "Identities and company IDs"}, policy=RESIDENT),
    Operation("POST", f"{V1}/me/links/companies", link_company, "Link a company ID", TAG,
              body=_COMPANY, body_types=_J,
              responses={201: "Linked", 400: "bad customer id", 404: "no such organisation",
                         409: "linked to another resident"}, policy=RESIDENT),
    Operation("DELETE", f"{V1}/me/links/companies", unlink_company, "Unlink a company ID", TAG,
              (Param("clientId", required=True), Param("customerId", required=True)),
              responses={204: "Unlinked", 404: "no such link"}, policy=RESIDENT),
    Operation("GET", f"{V1}/me/representatives", my_representatives,
              "My family representatives (家族代理), both ways", TAG,
              responses={200: "Mandates"}, policy=RESIDENT),
    Operation("POST", f"{V1}/me/representatives", add_representative,
              "Name a family representative", TAG, body=_MANDATE, body_types=_J,
              responses={201: "Mandate", 400: "bad mandate", 404: "no such resident"},
              policy=RESIDENT),
    Operation("DELETE", f"{V1}/me/representatives/{{residentId}}", remove_representative,
              "Remove a family representative", TAG,
              (Param("residentId", "path", description="res_…", required=True),),
              responses={204: "Removed", 404: "no such representative"}, policy=RESIDENT),
]
