"""The data catalog: classification of entity types, subjects, staff changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from cityos.personal.datacatalog import CatalogError, DataCatalog, check_entry
from cityos.storage import open_store

DEFAULT = "https://uri.etsi.org/ngsi-ld/default-context/"


def _entity(type_name: str, subject: object = None, attr: str = "refResident") -> dict:
    attrs = {} if subject is None else {DEFAULT + attr: [{"type": "Relationship",
                                                           "object": subject}]}
    return {"id": "urn:ngsi-ld:X:1", "type": [DEFAULT + type_name], "attrs": attrs}


def test_classify_seeded_and_changed(tmp_path: Path) -> None:
    async def run() -> None:
        store = open_store(f"sqlite:///{tmp_path / 'c.db'}")
        await store.open()
        try:
            catalog = DataCatalog(store)
            await catalog.load()
            assert catalog.classify("", _entity("BeaconSighting",
                                                "urn:ngsi-ld:Resident:res_1")) == ("res_1", "location")
            assert catalog.classify("", _entity("HealthCheckup", "res_2")) == ("res_2", "health")
            assert catalog.classify("", _entity("HealthCheckup")) == ("", "health")  # no subject
            assert catalog.classify("", _entity("EvacuationShelter", "res_1")) is None
            assert catalog.classify("", _entity("HealthStatistics")) is None  # anonymised
            assert catalog.classify("", _entity("Unknown", "res_1")) is None
            await catalog.put(check_entry({"type": "MeterReading", "classification": "personal",
                                           "category": "energy", "subject_attr": "owner"}))
            assert catalog.classify("", _entity("MeterReading", "res_3", "owner")) == \
                ("res_3", "energy")
            assert await catalog.delete("BeaconSighting")
            assert catalog.classify("", _entity("BeaconSighting", "res_1")) is None
            again = DataCatalog(store)  # not seeded twice: a deleted seed stays deleted
            await again.load()
            assert again.get("BeaconSighting") is None and again.get("MeterReading") is not None
        finally:
            await store.close()

    asyncio.run(run())


@pytest.mark.parametrize("body", [{}, {"type": "X", "classification": "secret"},
                                  {"type": "X", "classification": "personal"},
                                  {"type": "X y", "classification": "non-personal"},
                                  {"type": "X", "classification": "personal", "category": "health",
                                   "subject_attr": 3}])
def test_bad_entries_are_refused(body: dict) -> None:
    with pytest.raises(CatalogError):
        check_entry(body)
