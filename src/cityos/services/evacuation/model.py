"""The planner's inputs and output: shelters, town areas and the plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

# the service's settings and their defaults (the manifest's; [services.options.evacuation])
DEFAULTS: dict[str, Any] = {
    "share": 0.25,  # the part of each area's people expected at shelters (想定避難率)
    "hazard": "flood",  # the hazard the app shows first
    "debounce": 1.0,  # seconds a re-plan waits to gather a burst of notifications
}
# GSI's 指定緊急避難場所 hazard flags (the column names of the open data) → the names used here
HAZARDS: dict[str, str] = {"洪水": "flood", "崖崩れ、土石流及び地滑り": "landslide",
                           "高潮": "stormSurge", "地震": "earthquake", "津波": "tsunami",
                           "大規模な火事": "largeFire", "内水氾濫": "inlandFlooding",
                           "火山現象": "volcano"}
HAZARD_NAMES: dict[str, tuple[str, str]] = {  # hazard → (Japanese, English) for people
    "flood": ("洪水", "Flood"), "landslide": ("土砂災害", "Landslide"),
    "stormSurge": ("高潮", "Storm surge"), "earthquake": ("地震", "Earthquake"),
    "tsunami": ("津波", "Tsunami"), "largeFire": ("大規模な火事", "Large fire"),
    "inlandFlooding": ("内水氾濫", "Inland flooding"), "volcano": ("火山現象", "Volcano")}


def hazard_of(name: str) -> str | None:
    """`flood`, `洪水` … → the hazard's name here; None when it is not a GSI hazard."""
    if name in HAZARD_NAMES:
        return name
    if name in HAZARDS:
        return HAZARDS[name]
    lowered = {h.lower(): h for h in HAZARD_NAMES}
    if name.lower() in lowered:
        return lowered[name.lower()]
    return next((h for h, (ja, _) in HAZARD_NAMES.items() if ja == name), None)


@dataclass(frozen=True)
class Shelter:
    """A place people go to: a designated shelter (指定避難所, `EvacuationShelter`) or a
    designated emergency evacuation site (指定緊急避難場所, `EmergencyEvacuationSite`)."""

    id: str
    name: str
    kind: str  # "EvacuationShelter" or "EmergencyEvacuationSite"
    lon: float
    lat: float
    capacity: int
    occupancy: int = 0
    open: bool = True
    hazards: frozenset[str] = frozenset()  # the GSI flags it is designated for
    priority: bool = False  # a shelter for people who need care (要配慮者: 高齢者、障害者、妊婦等)

    @property
    def remaining(self) -> int:
        return max(0, self.capacity - self.occupancy)

    def accepts(self, hazard: str | None) -> bool:
        return hazard is None or hazard in self.hazards


@dataclass(frozen=True)
class Area:
    """A town area (町丁目 / 大字) and how many of its people the plan places."""

    id: str
    name: str
    lon: float
    lat: float
    people: int


@dataclass
class Plan:
    hazard: str | None
    distance: str  # "great-circle" or "roads"
    shelters: list[Shelter]
    areas: list[Area]
    candidates: list[str]  # ids of the shelters the plan may use (open, hazard, general)
    meters: np.ndarray  # [area, candidate] meters (areas in `areas` order), -1: no way
    assignment: list[tuple[str, str, int]]  # (area, shelter, people)
    unassigned: list[tuple[str, int]]  # (area, people)
    solver: str
    total_person_meters: int  # Σ people × meters over the assignment
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0  # the solver's time

    def meters_between(self, area_id: str, shelter_id: str) -> int:
        i = next(n for n, a in enumerate(self.areas) if a.id == area_id)
        return int(self.meters[i, self.candidates.index(shelter_id)])

    def distances(self) -> list[tuple[str, str, int]]:
        """Every candidate (area, shelter, meters) pair."""
        rows, cols = np.nonzero(self.meters >= 0)
        return [(self.areas[i].id, self.candidates[j], int(self.meters[i, j]))
                for i, j in zip(rows.tolist(), cols.tolist(), strict=True)]

    def placed(self, shelter_id: str) -> int:
        return sum(p for _, s, p in self.assignment if s == shelter_id)

    def to_json(self) -> dict[str, Any]:
        """The plan as `cityos evacuation plan --json` and the API print it."""
        candidates = set(self.candidates)
        return {
            "hazard": self.hazard,
            "distance": self.distance,
            "solver": self.solver,
            "shelters": [{"id": s.id, "name": s.name, "type": s.kind, "capacity": s.capacity,
                          "occupancy": s.occupancy, "open": s.open,
                          "hazards": sorted(s.hazards), "priority": s.priority,
                          "candidate": s.id in candidates,
                          "location": [s.lon, s.lat]} for s in self.shelters],
            "areas": [{"id": a.id, "name": a.name, "people": a.people,
                       "location": [a.lon, a.lat]} for a in self.areas],
            "distances": [{"area": a, "shelter": s, "meters": m}
                          for a, s, m in self.distances()],
            "assignment": [{"area": a, "shelter": s, "people": p}
                           for a, s, p in self.assignment],
            "unassigned": [{"area": a, "people": p} for a, p in self.unassigned],
            "totalPersonMeters": self.total_person_meters,
            "notes": self.notes,
        }
