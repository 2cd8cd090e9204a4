"""Shelters and areas from the town's vendored open data and from NGSI-LD entities."""

from __future__ import annotations

from cityos.services.evacuation import town_data
from cityos.services.evacuation.model import hazard_of
from cityos.town.places import evacuation_sites, shelters, town_areas


def test_the_open_data_gives_14_places_41_areas_and_only_three_hazards() -> None:
    areas, places, demo = town_data.from_town()
    assert (len(areas), len(places)) == (41, 14)
    flagged = set().union(*(s.hazards for s in places))
    assert flagged == {"flood", "landslide", "earthquake"}  # nothing else is designated
    assert demo  # no capacity nor population in the open data: the demo figures are used
    assert sum(a.people for a in areas) == town_data.TOWN_POPULATION


def test_a_shelter_takes_the_hazards_of_the_emergency_site_at_its_address() -> None:
    _, places, _ = town_data.from_town()
    by_name = {(s.name, s.kind): s for s in places}
    site = by_name[("吉川小学校体育館", "EmergencyEvacuationSite")]
    shelter = by_name[("吉川小学校", "EvacuationShelter")]
    assert site.hazards == shelter.hazards == {"flood", "earthquake"}


def test_entity_attributes_override_the_demo_figures() -> None:
    entities = [*shelters(), *evacuation_sites()]
    first = entities[0]
    first = {**first, "capacity": {"type": "Property", "value": 321},
             "occupancy": {"type": "Property", "value": 20},
             "staffCount": {"type": "Property", "value": 45},
             "status": {"type": "Property", "value": "closed"}}
    found, _ = town_data.shelters_of([first, *entities[1:]])
    shelter = next(s for s in found if s.id == first["id"])
    assert (shelter.capacity, shelter.occupancy, shelter.open) == (321, 45, False)
    area = {**town_areas()[0], "population": 1000}  # keyValues form
    areas, demo = town_data.areas_of([area], share=0.3)
    assert areas[0].people == 300 and not demo


def test_hazard_names_in_japanese_and_english() -> None:
    assert hazard_of("洪水") == hazard_of("flood") == hazard_of("Flood") == "flood"
    assert hazard_of("土砂災害") == hazard_of("崖崩れ、土石流及び地滑り") == "landslide"
    assert hazard_of("meteor") is None
