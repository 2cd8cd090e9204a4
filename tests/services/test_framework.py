"""The services framework: a service is a client of the platform with its own organisation,
its grants from its manifest, its secret in the key store, and no more rights than a company."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from tests.conftest import LOOPBACK

from cityos.app import create_app
from cityos.services import registry, runtime
from cityos.services.client import PlatformError
from cityos.services.manifest import ConsentAsk, Manifest, Text, TypeUse
from cityos.settings import load_settings

TOY = Manifest(
    name="toy", title=Text("おもちゃ", "Toy"), summary=Text("試験用", "for tests"),
    plan_rows=("plan-02",), org="toy service",
    reads=(TypeUse("TownArea", "town"), TypeUse("BeaconSighting", "town")),
    writes=(TypeUse("EvacuationShelter", "town"),),
    consents=(ConsentAsk("location", ("BeaconSighting",), Text("見守り", "watch-over"),
                         Text("通知が届きません", "no notices")),))
STARTED: list[str] = []


async def _start(ctx: runtime.ServiceContext) -> None:
    STARTED.append(ctx.name)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "manifests", lambda: (TOY,))
    monkeypatch.setattr(registry, "hook", lambda name, module, function:
                        _start if (module, function) == ("runtime", "start") else None)
    STARTED.clear()
    yield


def _app(data_dir: Path, **env: str) -> TestClient:
    environ = {"CITYOS_EGRESS_ALLOW": LOOPBACK, "CITYOS_SERVICES_ENABLED": "toy", **env}
    return TestClient(create_app(load_settings(data_dir, environ=environ)),
                      raise_server_exceptions=False)


def _run(c: TestClient, fn: Any) -> Any:
    assert c.portal is not None
    return c.portal.call(fn)


def test_a_service_is_an_organisation_with_its_manifest_grants(toy: None, data_dir: Path) -> None:
    with _app(data_dir) as c:
        ctx = c.app.state.services["toy"]  # type: ignore[attr-defined]
        assert STARTED == ["toy"]
        org = _run(c, lambda: c.app.state.access.book.get_org("toy service"))  # type: ignore[attr-defined]
        assert org["grants"] == {"read": ["BeaconSighting", "EvacuationShelter", "TownArea"],
                                 "write": ["EvacuationShelter"]}
        first_client = ctx.client.client_id
    saved = data_dir / "keys" / "services" / "toy.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert "cs_" in saved.read_text()
    with _app(data_dir) as c:  # a restart keeps the organisation and its secret
        ctx = c.app.state.services["toy"]  # type: ignore[attr-defined]
        assert ctx.client.client_id == first_client
        _run(c, lambda: ctx.client.query("TownArea"))  # the kept secret still works


def test_a_service_reads_and_writes_only_what_its_manifest_grants(toy: None,
                                                                   data_dir: Path) -> None:
    with _app(data_dir) as c:
        ctx = c.app.state.services["toy"]  # type: ignore[attr-defined]
        shelter = {"id": "urn:ngsi-ld:EvacuationShelter:toy1", "type": "EvacuationShelter",
                   "name": {"type": "Property", "value": "テスト避難所"}}
        _run(c, lambda: ctx.client.upsert([shelter]))
        got = _run(c, lambda: ctx.client.get(shelter["id"]))
        assert got["name"] == "テスト避難所"
        assert [e["id"] for e in _run(c, lambda: ctx.client.query("EvacuationShelter"))] == \
            [shelter["id"]]
        with pytest.raises(PlatformError) as refused:
            _run(c, lambda: ctx.client.upsert([{"id": "urn:ngsi-ld:Vehicle:v1", "type": "Vehicle",
                                                "speed": {"type": "Property", "value": 3}}]))
        assert refused.value.status in (207, 403)
        token = _run(c, lambda: _staff_token(app=c.app))
        c.post("/ngsi-ld/v1/entities", headers={"Authorization": f"Bearer {token}"},
               json={"id": "urn:ngsi-ld:Vehicle:v2", "type": "Vehicle"})
        assert _run(c, lambda: ctx.client.query("Vehicle")) == []  # not granted: not released
        assert _run(c, lambda: ctx.client.get("urn:ngsi-ld:Vehicle:v2")) is None


def test_a_services_personal_reads_need_the_residents_consent(toy: None,
                                                              data_dir: Path) -> None:
    with _app(data_dir) as c:
        app: Any = c.app
        ctx = app.state.services["toy"]

        async def sighting_of_a_resident() -> str:
            resident = await app.state.access.residents.add_resident("mio", tenant="",
                                                                     password="x" * 16)
            return str(resident["id"])

        resident = _run(c, sighting_of_a_resident)
        body = {"id": "urn:ngsi-ld:BeaconSighting:s1", "type": "BeaconSighting",
                "refResident": {"type": "Relationship",
                                "object": f"urn:ngsi-ld:Resident:{resident}"}}
        token = _run(c, lambda: _staff_token(app))
        answer = c.post("/ngsi-ld/v1/entities", json=body,
                        headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 201, answer.text
        assert _run(c, lambda: ctx.client.query("BeaconSighting")) == []  # no consent yet
        consent = _run(c, lambda: ctx.client.ask_consent(resident, "location",
                                                         "ServiceProvision"))
        assert consent["state"] == "REQUESTED"
        asked = _run(c, lambda: ctx.client.consents())  # the service reads back its answers
        assert [(a["id"], a["state"]) for a in asked] == [(consent["id"], "REQUESTED")]
        assert _run(c, lambda: ctx.client.query("BeaconSighting")) == []  # asked, not given
        _run(c, lambda: app.state.personal.consents.decide("", consent["id"], "APPROVED",
                                                            by=resident))
        seen = _run(c, lambda: ctx.client.query("BeaconSighting"))
        assert [e["id"] for e in seen] == [body["id"]]  # she agreed: released to the service


async def _staff_token(app: Any) -> str:
    from cityos.access.service import staff_principal

    member, _ = await app.state.access.book.add_staff("clerk", ["operator"], tenant="")
    return str(await app.state.access.issue(staff_principal(member)))


def test_the_catalog_entry_of_a_service_opens_its_page(toy: None) -> None:
    assert registry.by_plan_row()["plan-02"].app_path == "/app/toy"


def test_a_disabled_service_does_not_run(toy: None, data_dir: Path) -> None:
    with _app(data_dir, CITYOS_SERVICES_DISABLED="toy") as c:
        assert c.app.state.services == {}  # type: ignore[attr-defined]
        assert STARTED == []


def test_the_apps_open_button_goes_to_the_running_service(toy: None, data_dir: Path) -> None:
    from cityos.catalog.seed import seed_catalog
    from cityos.web.app.catalog_view import town_service, town_services

    with _app(data_dir) as c:
        app: Any = c.app
        _run(c, lambda: seed_catalog(app.state.broker.store))
        opened = {s["id"]: s.get("builtin") for s in _run(c, lambda: town_services(app, ""))}
        assert opened["plan-02"] == "/app/toy"
        assert opened["plan-01"] is None  # not implemented here: its own link, or nothing
        assert _run(c, lambda: town_service(app, "", "plan-02"))["builtin"] == "/app/toy"


def test_a_service_the_town_does_not_run_answers_404_not_5xx(toy: None, data_dir: Path) -> None:
    from starlette.requests import Request

    with _app(data_dir, CITYOS_SERVICES_DISABLED="toy") as c:
        request = Request({"type": "http", "app": c.app, "headers": [], "method": "GET",
                           "path": "/services/v1/toy/x"})
        with pytest.raises(Exception) as refused:
            runtime.context_of(request, "toy")
        assert getattr(refused.value, "status_code", None) == 404
