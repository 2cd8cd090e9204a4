"""One place decides the request's tenant (issue 18): `cityos.tenant`, called once by the gate,
whose Caller keeps it; every other place reads the Caller's tenant (or, on routes the gate
does not check, the same decision). The tenant each kind of request gets is today's."""

from __future__ import annotations

import re
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from starlette.requests import Request

from cityos.access.tokens import Principal
from cityos.audit.trail import PRINCIPAL, build_record
from cityos.caller import CALLER, Caller
from cityos.ngsi.api.request import tenant_of as ld_tenant
from cityos.ngsi.errors import BadRequestData
from cityos.ngsi.v2.request import V2Error, tenant_v2
from cityos.operations import PUBLIC, Operation
from cityos.personal._http import tenant_of as personal_tenant
from cityos.personal.reader import ON_BEHALF_HEADER, reader_for
from cityos.tenant import decide, keep
from cityos.web.console._page import tenant as console_tenant

SRC = Path(__file__).resolve().parents[2] / "src" / "cityos"
# how a module reads a tenant header off a request (Starlette keeps names in lower case)
READS = re.compile(r"""[bB]?["'](?:ngsild-tenant|fiware-service)["']""")


def test_only_the_deciding_module_reads_the_tenant_headers() -> None:
    found = [f"{p.relative_to(SRC)}:{n}" for p in sorted(SRC.rglob("*.py"))
             if p != SRC / "tenant.py"
             for n, line in enumerate(p.read_text("utf-8").splitlines(), 1) if READS.search(line)]
    assert not found, found


def test_the_scan_sees_a_header_read() -> None:
    assert READS.search('tenant = request.headers.get("ngsild-tenant", "")')
    assert READS.search('elif name == b"fiware-service":')
    assert not READS.search('headers["NGSILD-Tenant"] = tenant')  # answering, not reading
    assert not READS.search('request.headers.get("fiware-servicepath")')


def _request(path: str, headers: dict[str, str], *, gated: bool) -> Request:
    scope: dict[str, Any] = {
        "type": "http", "method": "GET", "path": path, "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    if gated:  # as the gate does: decide once, keep it on the Caller
        choice = decide(scope)
        keep(scope, choice)
        scope[CALLER] = Caller(Principal(sub="staff:admin", tenant="*", roles=("admin",)),
                               choice.tenant)
    return Request(scope)


LD, V2 = "/ngsi-ld/v1/entities", "/v2/entities"


@pytest.mark.parametrize("gated", [True, False], ids=["gate", "open NGSI"])
@pytest.mark.parametrize("path, headers, expected", [
    (LD, {}, ""),
    (LD, {"NGSILD-Tenant": "Town-A"}, "Town-A"),  # as given
    (LD, {"Fiware-Service": "town_b"}, ""),  # NGSI-LD does not read Fiware-Service
    (V2, {}, ""),
    (V2, {"Fiware-Service": "Town_B"}, "town_b"),  # lower case, as Orion keeps it
    (V2, {"NGSILD-Tenant": "Town-A"}, "Town-A"),  # no Fiware-Service: NGSILD-Tenant
    (V2, {"Fiware-Service": "Town_B", "NGSILD-Tenant": "town_b"}, "town_b"),
])
def test_each_api_gets_the_tenant_it_got_before(path: str, headers: dict[str, str],
                                                expected: str, gated: bool) -> None:
    request = _request(path, headers, gated=gated)
    assert (tenant_v2 if path == V2 else ld_tenant)(request) == expected


@pytest.mark.parametrize("gated", [True, False], ids=["gate", "open NGSI"])
def test_a_bad_tenant_is_each_api_s_400(gated: bool) -> None:
    with pytest.raises(BadRequestData, match="NGSILD-Tenant must be"):
        ld_tenant(_request(LD, {"NGSILD-Tenant": "a b"}, gated=gated))
    with pytest.raises(V2Error, match="1-50 letters"):
        tenant_v2(_request(V2, {"Fiware-Service": "a-b"}, gated=gated))
    with pytest.raises(V2Error, match="name different tenants"):
        tenant_v2(_request(V2, {"Fiware-Service": "a", "NGSILD-Tenant": "b"}, gated=gated))


@pytest.mark.parametrize("gated", [True, False], ids=["gate", "public"])
def test_trust_audit_web_and_personal_routes_read_ngsild_tenant(gated: bool) -> None:
    for path, read in (("/console/entities", console_tenant), ("/personal/v1/consents",
                                                               personal_tenant)):
        assert read(_request(path, {"NGSILD-Tenant": "town-a"}, gated=gated)) == "town-a"
        assert read(_request(path, {}, gated=gated)) == ""
    op = Operation("GET", "/trust/evidence/{entityId}", _nothing, "evidence", "trust",
                   policy=PUBLIC)
    request = _request("/trust/evidence/urn:x", {"NGSILD-Tenant": "town-a"}, gated=gated)
    assert build_record(op, request, 200, 0, time.monotonic())["tenant"] == "town-a"


def test_the_audit_record_keeps_the_v2_tenant_the_store_used() -> None:
    op = Operation("GET", V2, _nothing, "list", "v2", policy=PUBLIC)
    request = _request(V2, {"Fiware-Service": "town_b"}, gated=False)
    assert build_record(op, request, 200, 0, time.monotonic())["tenant"] == "town_b"


async def _nothing(request: Request) -> Any:
    raise AssertionError("not called")


class _Family:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def allowed(self, tenant: str, resident: str, subject: str, action: str) -> None:
        self.asked.append(tenant)


@pytest.mark.parametrize("path, headers, expected", [
    (LD, {"NGSILD-Tenant": "town-a"}, "town-a"),
    (V2, {"Fiware-Service": "Town_B"}, "town_b"),  # was "": Fiware-Service was not read
])
def test_a_family_mandate_is_looked_up_in_the_request_s_tenant(
        path: str, headers: dict[str, str], expected: str) -> None:
    family = _Family()
    request = _request(path, {**headers, ON_BEHALF_HEADER: "res_child"}, gated=True)
    request.scope[PRINCIPAL] = Principal(sub="resident:res_parent", tenant="*")
    request.scope["app"] = SimpleNamespace(state=SimpleNamespace(
        personal=SimpleNamespace(family=family)))
    assert reader_for(request).residents == ()  # no mandate: nothing personal
    assert family.asked == [expected]
