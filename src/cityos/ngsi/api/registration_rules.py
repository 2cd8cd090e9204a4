"""Federation on the platform's terms (issue #18, attack 7): who may register a context source
for what, and a staff admin's approval that lets a company's registration serve everyone.

- A company registers only entity types it may write (its write grants; `*` covers every
  type, and only `*` covers a RegistrationInfo that names no entity type): else 403.
- A company's registration serves that company's own requests only (reads and writes,
  `registration.serves`) until a staff admin approves it
  (`PUT /ngsi-ld/v1/csourceRegistrations/{id}/approval`, audited like every call); a change
  to it by its company withdraws the approval. Staff-made registrations serve everyone.
- A remote answer replaces local data only from the town's registrations
  (`federation.local_wins`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from cityos.access.grants import granted, local_name
from cityos.access.service import access_of
from cityos.audit.trail import PRINCIPAL
from cityos.ngsi.api.entities import broker_of
from cityos.ngsi.api.request import path_uri, tenant_of
from cityos.ngsi.api.respond import no_content
from cityos.ngsi.api.stored import stored_document
from cityos.ngsi.errors import Forbidden
from cityos.ngsi.model.registration import APPROVED_KEY, OWNER_KEY
from cityos.ngsi.model.terms import now_iso


async def write_grants(request: Request) -> list[str] | None:
    """The entity types the caller may write; None: every type (staff, open NGSI-LD)."""
    principal = request.scope.get(PRINCIPAL)
    if principal is None or principal.kind == "staff":
        return None
    if principal.kind != "org":
        return []
    account = await (await access_of(request.app)).account_of(principal)
    return [str(t) for t in ((account or {}).get("grants") or {}).get("write", ())]


async def check_registrar(request: Request, reg: dict[str, Any]) -> None:
    """Forbidden unless the caller may write every entity type `reg` (expanded) covers."""
    grants = await write_grants(request)
    if grants is None or "*" in grants:
        return
    infos = reg.get("information") or ()
    if any(not info.get("entities") for info in infos):
        raise Forbidden("エンティティ型を指定しない登録は全型の書き込み権限（*）が必要です / a "
                        "registration that names no entity type needs a write grant on every "
                        "type ('*')")
    types = {sel["type"] for info in infos for sel in info["entities"]}
    denied = sorted({local_name(t) for t in types if not granted(grants, t)})
    if denied:
        raise Forbidden(
            f"書き込み権限のないエンティティ型 {', '.join(denied)} のコンテキストソースは登録でき"
            f"ません / this organisation may register context sources only for entity types "
            f"it may write; it has no write grant for {', '.join(denied)}")


def after_change(reg: dict[str, Any], principal: str) -> dict[str, Any]:
    """A registration changed by `principal`: a company's change withdraws the approval (it
    was given to what the registration was)."""
    if not principal.startswith("staff:"):
        reg.pop(APPROVED_KEY, None)
    return reg


async def _approval(request: Request, approve: bool) -> Response:
    broker = broker_of(request)
    tenant = tenant_of(request)
    reg_id = path_uri(request, "registrationId", "registration")
    space = f"ngsi.registrations/{tenant}"
    before = await stored_document(broker.store, space, reg_id, "registration")
    reg = dict(before)
    principal = request.scope.get(PRINCIPAL)
    if approve:
        reg[APPROVED_KEY] = {"by": "" if principal is None else str(principal.sub),
                             "at": now_iso(), "owner": str(reg.get(OWNER_KEY, ""))}
    else:
        reg.pop(APPROVED_KEY, None)
    await broker.store.kv_put(space, reg_id, reg)
    await broker.registrations_changed(tenant, before, reg)
    return no_content()


async def approve_registration(request: Request) -> Response:
    """A staff admin lets a company's registration serve everyone's requests."""
    return await _approval(request, True)


async def withdraw_approval(request: Request) -> Response:
    """The registration serves its company's own requests only again."""
    return await _approval(request, False)
