"""The trust HTTP operations under /trust/v1: tree heads, proofs and leaves of the log.

RFC 9162 §4 (log client messages) in JSON: hashes in hex, proofs leaf to root.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from cityos.audit.trail import PRINCIPAL
from cityos.jsonvalue import loads
from cityos.ngsi.api.release import reader_of
from cityos.ngsi.api.request import tenant_of
from cityos.ngsi.api.respond import plain_json
from cityos.ngsi.errors import BadRequestData, ResourceNotFound
from cityos.operations import ADMIN, Operation, Param, Policy
from cityos.storage.base import EVERYTHING
from cityos.trust.evidence import EvidenceError, Reveal, build_bundle
from cityos.trust.merkle import ProofError
from cityos.trust.private import SEALED, reveal
from cityos.trust.sealing import SealPolicy
from cityos.trust.service import trust_of

TAG = "trust"
V1 = "/trust/v1"
# tree heads and proofs hold hashes only: every staff member and organisation may check them
TRUST_READ = Policy(roles=("operator", "viewer"), scopes=("ngsi:read", "ngsi:write"))
_INT = {"type": "integer", "minimum": 0}


def _int(request: Request, name: str, default: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise BadRequestData(f"the query parameter {name!r} is needed / {name} が必要です")
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise BadRequestData(f"{name} must be a non-negative integer / {name} は 0 以上の整数")
    return int(raw)


async def tree_head(request: Request) -> Response:
    """The newest signed tree head (checkpoint) and the key that verifies it."""
    trust = trust_of(request.app)
    sth = await trust.log.latest_head()
    if sth is None:
        sth = await trust.checkpoint() or await trust.log.latest_head()
    assert sth is not None
    return plain_json({**sth.to_json(), "publicKey": trust.public_key})


async def checkpoints(request: Request) -> Response:
    """Signed tree heads in the order they were made (for monitors and auditors)."""
    trust = trust_of(request.app)
    heads = await trust.log.heads(after=_int(request, "after", 0),
                                  limit=min(_int(request, "limit", 100), 1000))
    return plain_json([h.to_json() for h in heads])


async def inclusion(request: Request) -> Response:
    """An inclusion proof of one leaf in a tree of `treeSize` leaves (RFC 9162 §2.1.3)."""
    trust = trust_of(request.app)
    index = _int(request, "leafIndex")
    size = _int(request, "treeSize", trust.log.size)
    try:
        path = await trust.log.inclusion(index, size)
    except ProofError as exc:
        raise BadRequestData(str(exc)) from None
    return plain_json({"leafIndex": index, "treeSize": size, "inclusionPath": [h.hex() for h in path]})


async def consistency(request: Request) -> Response:
    """A consistency proof between two tree sizes (RFC 9162 §2.1.4)."""
    trust = trust_of(request.app)
    first = _int(request, "first")
    second = _int(request, "second", trust.log.size)
    try:
        path = await trust.log.consistency(first, second)
    except ProofError as exc:
        raise BadRequestData(str(exc)) from None
    return plain_json({"first": first, "second": second, "consistencyPath": [h.hex() for h in path]})


async def leaf(request: Request) -> Response:
    """One leaf of the log (audit references and write records: staff admins only)."""
    trust = trust_of(request.app)
    raw = str(request.path_params["leafIndex"])
    entry = await trust.log.leaf(int(raw)) if raw.isdigit() and len(raw) < 19 else None
    if entry is None:
        raise ResourceNotFound(f"no leaf {raw[:20]} in the log / ログにありません")
    try:
        data = orjson.loads(entry.body)
    except orjson.JSONDecodeError:
        data = None
    out = {"leafIndex": entry.seq - 1, "leafHash": entry.hash, "leaf": data}
    payload = await _revealer(request)(data) if isinstance(data, dict) and SEALED in data \
        else None
    if payload is not None:
        out["payload"] = payload
    return plain_json(out)


def _revealer(request: Request) -> Reveal:
    """The sealed payloads of personal writes, for this caller (`trust.private.reveal`): only
    when it may read every entity of the write, as the NGSI-LD read would let it."""
    personal = getattr(request.app.state, "personal", None)

    async def reveal_for(record: dict[str, Any]) -> str | None:
        if personal is None:
            return None
        tenant = str(record.get("tenant", ""))
        if str(record.get("path", "")).startswith("/v2/"):
            tenant = tenant.lower()  # Fiware-Service names the store's tenant in lower case
        return await reveal(request.app.state.broker.store, personal.vault, tenant, record,
                            reader_of(request))

    return reveal_for


async def get_seal_policy(request: Request) -> Response:
    """Which organisations and entity types must seal their writes."""
    return plain_json((await trust_of(request.app).seals.policy()).to_json())


async def put_seal_policy(request: Request) -> Response:
    """Replace the seal policy: `{"orgs": [names], "types": [entity types]}`."""
    try:
        data = loads(await request.body())
    except orjson.JSONDecodeError:
        raise BadRequestData("the body is not JSON / JSON ではありません") from None
    lists = {k: data.get(k, []) for k in ("orgs", "types")} if isinstance(data, dict) else None
    if lists is None or set(data) - {"orgs", "types"} or not all(
            isinstance(v, list) and all(isinstance(x, str) and x for x in v) and len(v) <= 1000
            for v in lists.values()):
        raise BadRequestData('the policy is {"orgs": [names], "types": [entity types]}')
    policy = SealPolicy(frozenset(lists["orgs"]), frozenset(lists["types"]))
    await trust_of(request.app).seals.set_policy(policy)
    return plain_json(policy.to_json())


_POLICY = {"type": "object", "properties": {
    "orgs": {"type": "array", "items": {"type": "string"}},
    "types": {"type": "array", "items": {"type": "string"}}}}

async def evidence(request: Request) -> Response:
    """A self-contained evidence bundle for an entity: its write records with seals,
    certificate chain, CRL, inclusion proofs, the signed tree head and its time-stamp token.
    An organisation gets the records of its own writes (a write-only one too), never of an
    entity that is personal data it may not read now; a resident only of an entity it may
    read now (the NGSI-LD read's consents and type grants): else 404, as for an entity never
    written."""
    principal = request.scope.get(PRINCIPAL)
    org = principal.org if principal is not None and principal.kind == "org" else None
    entity_id = str(request.path_params["entityId"])
    if principal is not None and principal.kind != "staff" and \
            not await _may_see(request, entity_id, principal.kind == "org"):
        raise ResourceNotFound(f"no write records of {entity_id[:200]} / 書き込み記録がありません")
    try:
        bundle = await build_bundle(trust_of(request.app),
                                    tenant_of(request), entity_id, org,
                                    reveal=_revealer(request))
    except EvidenceError as exc:
        raise ResourceNotFound(str(exc)) from None
    return plain_json(bundle)


async def _may_see(request: Request, entity_id: str, writer: bool) -> bool:
    """Whether the caller may have an entity's evidence: it may read the entity now, or — an
    organisation, whose bundle holds its own writes only — the entity is gone (erased,
    deleted) or not personal data withheld from it (a write-only grant's own writes)."""
    store = request.app.state.broker.store
    tenant, reader = tenant_of(request), reader_of(request)
    if await store.get_entity(tenant, entity_id, reader) is not None:
        return True
    if not writer:
        return False
    consents = dataclasses.replace(reader, types=None)  # the personal-data test alone
    return await store.get_entity(tenant, entity_id, EVERYTHING) is None or \
        not await store.withheld(tenant, [entity_id], consents)


OPERATIONS: list[Operation] = [
    Operation("GET", f"{V1}/log/tree-head", tree_head, "Newest signed tree head", TAG,
              responses={200: "Signed tree head (C2SP checkpoint) and the log's public key"},
              policy=TRUST_READ),
    Operation("GET", f"{V1}/log/checkpoints", checkpoints, "Signed tree heads, oldest first", TAG,
              (Param("after", schema=_INT, description="skip this many checkpoints"),
               Param("limit", schema=_INT, description="at most this many (≤ 1000)")),
              responses={200: "Signed tree heads"}, policy=TRUST_READ),
    Operation("GET", f"{V1}/log/proof/inclusion", inclusion, "Inclusion proof of a leaf", TAG,
              (Param("leafIndex", schema=_INT, required=True, description="0-based leaf index"),
               Param("treeSize", schema=_INT, description="tree size (default: the log's)")),
              responses={200: "Inclusion path", 400: "not in that tree"}, policy=TRUST_READ),
    Operation("GET", f"{V1}/log/proof/consistency", consistency, "Consistency proof", TAG,
              (Param("first", schema=_INT, required=True, description="older tree size"),
               Param("second", schema=_INT, description="newer tree size (default: the log's)")),
              responses={200: "Consistency path", 400: "sizes out of range"}, policy=TRUST_READ),
    Operation("GET", f"{V1}/seal-policy", get_seal_policy, "Seal policy", TAG,
              responses={200: "Organisations and types that must seal"}, policy=TRUST_READ),
    Operation("PUT", f"{V1}/seal-policy", put_seal_policy, "Replace the seal policy", TAG,
              body=_POLICY, body_types=("application/json",),
              responses={200: "The new policy", 400: "not a policy"}, policy=ADMIN),
    Operation("GET", f"{V1}/evidence/{{entityId}}", evidence, "Evidence bundle of an entity",
              TAG, (Param("entityId", "path", description="entity id", required=True),
                    Param("NGSILD-Tenant", "header", description="tenant (municipality)")),
              responses={200: "Evidence bundle (verifies offline: cityos verify --bundle)",
                         404: "no write records"}, policy=TRUST_READ),
    Operation("GET", f"{V1}/log/leaves/{{leafIndex}}", leaf, "One leaf of the log", TAG,
              (Param("leafIndex", "path", _INT, "0-based leaf index", True),),
              responses={200: "Leaf", 404: "no such leaf"}, policy=ADMIN),
]
