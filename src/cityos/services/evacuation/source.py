"""The planner's inputs read through the platform's API, under the service's own identity
(a `PlatformClient`: the same gate, grants and audit as any company)."""

from __future__ import annotations

from typing import Any, Protocol

from cityos.services.evacuation import town_data
from cityos.services.evacuation.model import Area, Shelter

PLACE_TYPES = ("EvacuationShelter", "EmergencyEvacuationSite")


class Client(Protocol):
    async def query(self, type: str | None = None, q: str | None = None,
                    attrs: list[str] | None = None, key_values: bool = True
                    ) -> list[dict[str, Any]]: ...


async def read_inputs(client: Client, share: float = 1.0
                      ) -> tuple[list[Area], list[Shelter], bool]:
    """(areas, shelters, demo figures used?) as the platform holds them now."""
    places = [e for t in PLACE_TYPES for e in await client.query(t)]
    shelters, demo_s = town_data.shelters_of(places)
    areas, demo_a = town_data.areas_of(await client.query("TownArea"), share)
    return areas, shelters, demo_s or demo_a
