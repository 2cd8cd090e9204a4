"""Issue #18: a company registers context sources only for entity types it may write, and a
registration serves only its owner's requests unless it is the town's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cityos.ngsi.api import registration_rules
from cityos.ngsi.errors import Forbidden
from cityos.ngsi.model.registration import APPROVED_KEY, OWNER_KEY, may_take_writes, serves

DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"


def reg(*types: str, names: tuple[str, ...] = ()) -> dict[str, Any]:
    info: dict[str, Any] = {"entities": [{"type": DEFAULT + t} for t in types]} if types else {}
    if names:
        info["propertyNames"] = list(names)
    return {"information": [info]}


def check(grants: list[str] | None, registration: dict[str, Any],
          monkeypatch: pytest.MonkeyPatch) -> None:
    async def given(_request: Any) -> list[str] | None:
        return grants

    monkeypatch.setattr(registration_rules, "write_grants", given)
    asyncio.run(registration_rules.check_registrar(None, registration))  # type: ignore[arg-type]


def test_types_it_may_write_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    check(["Beta", "HealthCheckup"], reg("Beta", "HealthCheckup"), monkeypatch)
    check(["*"], reg("Anything"), monkeypatch)
    check(["*"], reg(names=("level",)), monkeypatch)
    check(None, reg(names=("level",)), monkeypatch)  # staff, open NGSI-LD


def test_other_types_are_forbidden_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Forbidden) as caught:
        check(["Beta"], reg("Beta", "Alpha"), monkeypatch)
    assert "Alpha" in caught.value.detail and "Beta," not in caught.value.detail
    with pytest.raises(Forbidden, match="'\\*'"):
        check(["Beta"], reg(names=("level",)), monkeypatch)  # no type: every type
    with pytest.raises(Forbidden):
        check([], reg("Beta"), monkeypatch)


def test_whom_a_registration_serves() -> None:
    company = {OWNER_KEY: "org:c"}
    assert serves(company, "org:c") and not serves(company, "org:b")
    assert not serves(company, "resident:res_1") and not may_take_writes(company, "org:b")
    approved = {**company, APPROVED_KEY: {"by": "staff:admin"}}
    assert serves(approved, "org:b") and may_take_writes(approved, "resident:res_1")
    assert serves({OWNER_KEY: "staff:ops"}, "org:b")


def test_a_companys_change_withdraws_the_approval() -> None:
    approved = {OWNER_KEY: "org:c", APPROVED_KEY: {"by": "staff:admin"}}
    assert APPROVED_KEY in registration_rules.after_change(dict(approved), "staff:admin")
    assert APPROVED_KEY not in registration_rules.after_change(dict(approved), "org:c")
