"""The certificate HTTP operations under /trust/v1: platform CA, CRL, organisation seal
certificates (issue, renew, revoke, register), trust anchors.

RFC 5280 (CRL as `application/pkix-crl`), RFC 7292 (PKCS#12, base64, shown once).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
from cryptography.hazmat.primitives import serialization
from starlette.requests import Request
from starlette.responses import Response

from cityos.access.accounts import AccountError
from cityos.access.gate import Forbidden
from cityos.access.service import access_of
from cityos.audit.trail import PRINCIPAL
from cityos.jsonvalue import loads
from cityos.ngsi.api.respond import plain_json
from cityos.ngsi.errors import BadRequestData, ResourceNotFound
from cityos.operations import ADMIN, Operation, Param, Policy
from cityos.trust.ca import CertificateError
from cityos.trust.routes import TRUST_READ, V1
from cityos.trust.service import CRL_PATH, trust_of

TAG = "trust"
# staff admins for any organisation; an organisation with write access for itself only
CERT_WRITE = Policy(scopes=("ngsi:write",))
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MAX_BODY = 64 * 1024


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > _MAX_BODY:
        raise BadRequestData("the body is too large / 本文が大きすぎます")
    try:
        data = loads(raw or b"{}")
    except orjson.JSONDecodeError:
        raise BadRequestData("the body is not JSON / JSON ではありません") from None
    if not isinstance(data, dict):
        raise BadRequestData("the body must be a JSON object")
    return data


def _text(data: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise BadRequestData(f"{name!r} must be a non-empty string / {name} が必要です")
    return value


def _caller_org(request: Request) -> str | None:
    """The organisation calling (None for staff, who act for any organisation)."""
    principal = request.scope.get(PRINCIPAL)
    return principal.org if principal is not None and principal.kind == "org" else None


async def _org(request: Request, name: str | None) -> dict[str, Any]:
    own = _caller_org(request)
    if own is not None:
        if name not in (None, own):
            raise Forbidden("an organisation manages its own certificates only "
                            "/ 自組織の証明書のみ操作できます")
        name = own
    if name is None:
        raise BadRequestData("'org' names the organisation / org が必要です")
    try:
        return await (await access_of(request.app)).book.get_org(name)
    except AccountError:
        raise ResourceNotFound(f"no organisation {name[:80]!r} / 組織がありません") from None


async def _certificate(request: Request) -> dict[str, Any]:
    serial = str(request.path_params["serial"])
    try:
        doc = await trust_of(request.app).certs.get(serial)
    except CertificateError as exc:
        raise ResourceNotFound(str(exc)) from None
    own = _caller_org(request)
    if own is not None and doc["org"] != own:
        raise ResourceNotFound(f"no certificate {serial[:40]} / 証明書がありません")
    return doc


def _days(data: dict[str, Any], default: int) -> int:
    days = data.get("days", default)
    if not isinstance(days, int) or isinstance(days, bool):
        raise BadRequestData("'days' must be an integer")
    return days


def _issued(issued: Any) -> Response:
    body = dict(issued.record)
    if issued.pkcs12 is not None:  # the private key leaves the platform once, never stored
        body["pkcs12"] = base64.b64encode(issued.pkcs12).decode()
        body["pkcs12Password"] = issued.password
    return plain_json(body, status=201, headers=_NO_STORE)


PEM_TYPES = ("application/x-pem-file", "application/pem-certificate-chain")


async def ca_certificate(request: Request) -> Response:
    """The platform CA certificate, the trust anchor of organisation seals: the PEM file itself
    to `Accept: application/x-pem-file` (or RFC 8555's `application/pem-certificate-chain`),
    ready for `openssl … -CAfile`; otherwise JSON `{"certificate": PEM, "subject"}`."""
    try:
        ca = await trust_of(request.app).certs.ca()
    except CertificateError as exc:
        raise ResourceNotFound(str(exc)) from None
    accept = request.headers.get("accept", "")
    wanted = next((t for t in PEM_TYPES if t in accept), None)
    if wanted is not None:
        return Response(ca.pem(), media_type=wanted)
    return plain_json({"certificate": ca.pem().decode(),
                       "subject": ca.cert.subject.rfc4514_string()})


async def ca_crl(request: Request) -> Response:
    """The certificate revocation list (DER), valid one day."""
    try:
        crl = await trust_of(request.app).certs.crl()
    except CertificateError as exc:
        raise ResourceNotFound(str(exc)) from None
    return Response(crl.public_bytes(serialization.Encoding.DER), media_type="application/pkix-crl")


async def ocsp_status(request: Request) -> Response:
    """OCSP (RFC 6960): the status of a certificate, signed by the platform CA."""
    from cityos.trust.ocsp import respond

    raw = await request.body()
    if len(raw) > _MAX_BODY:
        raise BadRequestData("the body is too large / 本文が大きすぎます")
    try:
        answer = await respond(trust_of(request.app).certs, raw)
    except CertificateError as exc:
        raise ResourceNotFound(str(exc)) from None
    return Response(answer, media_type="application/ocsp-response",
                    headers={"Cache-Control": "max-age=300"})


async def issue_certificate(request: Request) -> Response:
    """Issue a seal certificate: for the key of a CSR (`csr`, PEM), or for a key the platform
    makes (returned once as PKCS#12 with its password)."""
    data = await _json(request)
    trust = trust_of(request.app)
    org = await _org(request, _text(data, "org"))
    csr = _text(data, "csr")
    try:
        issued = await trust.certs.issue(org, csr.encode() if csr else None,
                                         _days(data, trust.settings.seal_days))
    except CertificateError as exc:
        raise BadRequestData(str(exc)) from None
    return _issued(issued)


async def list_certificates(request: Request) -> Response:
    """Seal certificates with their status (an organisation sees its own)."""
    own = _caller_org(request)
    org = own if own is not None else request.query_params.get("org")
    return plain_json(await trust_of(request.app).certs.list(org))


async def get_certificate(request: Request) -> Response:
    """One certificate: PEM, chain and status (`valid` or `revoked`)."""
    return plain_json(await _certificate(request))


async def revoke_certificate(request: Request) -> Response:
    """Revoke a certificate (RFC 5280 reason, e.g. keyCompromise); it joins the CRL."""
    data = await _json(request)
    doc = await _certificate(request)
    trust = trust_of(request.app)
    try:
        revoked = await trust.certs.revoke(doc["serial"], _text(data, "reason") or "unspecified")
    except CertificateError as exc:
        raise BadRequestData(str(exc)) from None
    trust.seals.invalidate()  # seals by it are refused from now on
    return plain_json(revoked)


async def renew_certificate(request: Request) -> Response:
    """A new certificate for the same organisation (new CSR, or a new platform-made key)."""
    data = await _json(request)
    doc = await _certificate(request)
    trust = trust_of(request.app)
    org = await _org(request, doc["org"])
    csr = _text(data, "csr")
    try:
        issued = await trust.certs.renew(doc["serial"], csr.encode() if csr else None, org,
                                         _days(data, trust.settings.seal_days))
    except CertificateError as exc:
        raise BadRequestData(str(exc)) from None
    return _issued(issued)


async def register_external(request: Request) -> Response:
    """Register an e-seal certificate issued by an accredited CA (chain to a trust anchor)."""
    data = await _json(request)
    org = await _org(request, _text(data, "org", required=True))
    chain = data.get("chain", [])
    if not isinstance(chain, list) or not all(isinstance(p, str) for p in chain):
        raise BadRequestData("'chain' must be a list of PEM certificates")
    try:
        record = await trust_of(request.app).certs.register_external(
            org, _text(data, "certificate", required=True) or "", chain)
    except CertificateError as exc:
        raise BadRequestData(str(exc)) from None
    return plain_json(record, status=201)


async def add_anchor(request: Request) -> Response:
    """Trust a CA (e.g. an accredited e-seal CA) for registering external certificates."""
    data = await _json(request)
    try:
        doc = await trust_of(request.app).certs.add_anchor(
            _text(data, "certificate", required=True) or "")
    except CertificateError as exc:
        raise BadRequestData(str(exc)) from None
    return plain_json(doc, status=201)


_SERIAL = (Param("serial", "path", description="certificate serial number (hex)", required=True),)
_ISSUE = {"type": "object", "properties": {
    "org": {"type": "string"}, "csr": {"type": "string", "description": "PEM PKCS#10"},
    "days": {"type": "integer", "minimum": 1, "maximum": 825}}}
_REVOKE = {"type": "object", "properties": {"reason": {"type": "string"}}}
_EXTERNAL = {"type": "object", "required": ["org", "certificate"], "properties": {
    "org": {"type": "string"}, "certificate": {"type": "string"},
    "chain": {"type": "array", "items": {"type": "string"}}}}
_ANCHOR = {"type": "object", "required": ["certificate"],
           "properties": {"certificate": {"type": "string"}}}
_JSON = ("application/json",)

OPERATIONS: list[Operation] = [
    # what a relying party needs to check a seal without an account here: public (RFC 5280
    # CRL distribution points and RFC 6960 responders are)
    Operation("GET", f"{V1}/ca", ca_certificate, "Platform CA certificate", TAG,
              responses={200: "JSON {certificate (PEM), subject}; the PEM file itself to "
                                    "Accept: application/x-pem-file"}, public=True),
    Operation("GET", CRL_PATH, ca_crl, "Certificate revocation list (DER)", TAG,
              responses={200: "CRL"}, public=True),
    Operation("POST", f"{V1}/ocsp", ocsp_status, "Certificate status (OCSP)", TAG,
              body={"type": "string", "format": "binary"},
              # OCSP clients send application/ocsp-request (RFC 6960 §A.1); any type is read
              # as DER, and the description names a type OpenAPI tools can produce
              body_types=("application/octet-stream",),
              responses={200: "OCSP response (DER)"}, public=True),
    Operation("POST", f"{V1}/certificates", issue_certificate, "Issue a seal certificate", TAG,
              body=_ISSUE, body_types=_JSON,
              responses={201: "Certificate (and PKCS#12 once)", 400: "bad CSR", 404: "no org"},
              policy=CERT_WRITE),
    Operation("GET", f"{V1}/certificates", list_certificates, "Seal certificates", TAG,
              (Param("org", description="only this organisation's"),),
              responses={200: "Certificates"}, policy=TRUST_READ),
    Operation("POST", f"{V1}/certificates/external", register_external,
              "Register an externally issued e-seal certificate", TAG, body=_EXTERNAL,
              body_types=_JSON, responses={201: "Registered", 400: "not acceptable"},
              policy=ADMIN),
    Operation("GET", f"{V1}/certificates/{{serial}}", get_certificate, "One certificate", TAG,
              _SERIAL, responses={200: "Certificate", 404: "unknown"}, policy=TRUST_READ),
    Operation("POST", f"{V1}/certificates/{{serial}}/revoke", revoke_certificate,
              "Revoke a certificate", TAG, _SERIAL, body=_REVOKE, body_types=_JSON,
              responses={200: "Revoked", 404: "unknown"}, policy=CERT_WRITE),
    Operation("POST", f"{V1}/certificates/{{serial}}/renew", renew_certificate,
              "Renew a certificate", TAG, _SERIAL, body=_ISSUE, body_types=_JSON,
              responses={201: "New certificate", 404: "unknown"}, policy=CERT_WRITE),
    Operation("POST", f"{V1}/anchors", add_anchor, "Trust an external CA", TAG, body=_ANCHOR,
              body_types=_JSON, responses={201: "Anchor"}, policy=ADMIN),
]
