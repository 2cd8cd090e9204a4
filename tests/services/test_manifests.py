"""Every shipped service's manifest is sound: names, texts in both languages, plan rows that
exist, entity types in the data catalog, a consent asked for each personal type it reads."""

from __future__ import annotations

import pytest

from cityos.catalog.seed import plan_services
from cityos.personal.datacatalog import SEED
from cityos.services import registry
from cityos.services.manifest import problems

MANIFESTS = registry.manifests()
CATALOG = {e.type for e in SEED} | {
    # the demo town's non-personal types (town/places.py, the devices' entities)
    "TownArea", "EvacuationShelter", "EmergencyEvacuationSite", "BeaconReceiver",
    "PhotovoltaicMeasurement", "Vehicle", "PeopleCounter", "AirQualityObserved"}
PERSONAL = {e.type for e in SEED if e.protected}
PLAN_ROWS = {s["id"] for s in plan_services()}


@pytest.mark.parametrize("manifest", MANIFESTS, ids=[m.name for m in MANIFESTS])
def test_manifest_is_sound(manifest: object) -> None:
    assert problems(manifest, catalog_types=CATALOG, personal_types=PERSONAL,  # type: ignore[arg-type]
                    plan_rows=PLAN_ROWS) == []


def test_names_and_plan_rows_are_unique() -> None:
    names = [m.name for m in MANIFESTS]
    assert len(names) == len(set(names))
    rows = [r for m in MANIFESTS for r in m.plan_rows]
    assert len(rows) == len(set(rows)), "a catalog entry opens one service"
    orgs = [m.org for m in MANIFESTS]
    assert len(orgs) == len(set(orgs)), "each service has its own organisation"


def test_service_pages_do_not_shadow_the_apps_own() -> None:
    reserved = {"signin", "signup", "signout", "services", "mydata", "family", "manifest",
                "sw", "static", "oidc"}
    assert not reserved & {m.name for m in MANIFESTS}


def test_every_service_operation_lives_under_its_own_paths() -> None:
    for m in MANIFESTS:
        routes = registry.part(m.name, "routes")
        for op in getattr(routes, "OPERATIONS", []):
            assert op.path.startswith((m.app_path, m.console_path, m.api_path)), op.path
            assert op.access is not None, f"{op.path} declares no policy"
