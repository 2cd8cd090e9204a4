"""The running guidance: the latest inputs read through the service's client, the plan per
hazard, staff counts and open/closed changes written back, and the re-plan log.

Notifications (occupancy, staff counts, open/closed, capacity) only mark the inputs stale;
one worker waits `debounce` seconds for the rest of the burst, re-reads and re-plans, so a
round of people-counter readings costs one re-plan.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cityos.services.evacuation import planner, town_data
from cityos.services.evacuation.model import HAZARD_NAMES, Area, Plan, Shelter
from cityos.services.evacuation.source import read_inputs

log = logging.getLogger("cityos.services.evacuation")
PLANNED = (None, "flood", "landslide", "earthquake")  # planned at every change (logged)
LOG_SIZE = 50


class Client(Protocol):
    async def query(self, type: str | None = None, q: str | None = None,
                    attrs: list[str] | None = None, key_values: bool = True
                    ) -> list[dict[str, Any]]: ...

    async def upsert(self, entities: list[dict[str, Any]]) -> None: ...

    async def get(self, entity_id: str, key_values: bool = True) -> dict[str, Any] | None: ...


@dataclass
class Replan:
    """One line of the re-plan log."""

    at: datetime
    reasons: list[tuple[str, str]]  # (place or "", what changed: start, occupancy, status …)
    seconds: float
    placed: dict[str, int]  # hazard ("any" for None) → people placed
    unassigned: dict[str, int]
    moved: int  # areas whose shelter changed (for the first planned hazard, "any")


@dataclass
class Guidance:
    client: Client
    share: float
    debounce: float = 1.0  # seconds to gather a burst of notifications into one re-plan
    areas: list[Area] = field(default_factory=list)
    shelters: list[Shelter] = field(default_factory=list)
    demo: bool = False
    plans: dict[str | None, Plan] = field(default_factory=dict)
    planned_at: datetime | None = None
    version: int = 0
    log: deque[Replan] = field(default_factory=lambda: deque(maxlen=LOG_SIZE))
    _stale: asyncio.Event = field(default_factory=asyncio.Event)
    _reasons: list[tuple[str, str]] = field(default_factory=list)
    _write: asyncio.Lock = field(default_factory=asyncio.Lock)
    _replanning: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def replan(self, reasons: list[tuple[str, str]]) -> None:
        """Read the inputs again and plan every hazard of PLANNED; log it."""
        async with self._replanning:
            started = time.perf_counter()
            self.areas, self.shelters, self.demo = await read_inputs(self.client, self.share)
            before = self.plans.get(None)
            self.plans = {h: self._plan(h) for h in PLANNED}
            self.planned_at = datetime.now(UTC)
            self.version += 1
            after = self.plans[None]
            self.log.appendleft(Replan(
                at=self.planned_at, reasons=reasons, seconds=time.perf_counter() - started,
                placed={h or "any": sum(p for _, _, p in plan.assignment)
                        for h, plan in self.plans.items()},
                unassigned={h or "any": sum(p for _, p in plan.unassigned)
                            for h, plan in self.plans.items()},
                moved=_moved(before, after)))

    def _plan(self, hazard: str | None) -> Plan:
        result = planner.plan(self.areas, self.shelters, hazard)
        if self.demo:
            result.notes.append(town_data.DEMO_NOTE)
        return result

    def plan_for(self, hazard: str | None) -> Plan:
        """The current plan for `hazard` (planned now for a hazard outside PLANNED)."""
        if hazard not in self.plans:
            self.plans[hazard] = self._plan(hazard)
        return self.plans[hazard]

    def mark_stale(self, place: str, what: str) -> None:
        self._reasons.append((place, what))
        self._stale.set()

    async def worker(self) -> None:
        """Re-plan whenever marked stale (one re-plan for a burst of notifications)."""
        while True:
            await self._stale.wait()
            await asyncio.sleep(self.debounce)  # the rest of the burst (a counters' round)
            self._stale.clear()
            reasons, self._reasons = list(dict.fromkeys(self._reasons))[:20], []
            try:
                await self.replan(reasons)
            except Exception:  # the platform is restarting: the next notification retries
                log.exception("evacuation: re-plan failed")

    def shelter(self, shelter_id: str) -> Shelter | None:
        return next((s for s in self.shelters if s.id == shelter_id), None)

    async def count(self, shelter_id: str, delta: int, staff: str) -> int:
        """Staff at a shelter count arrivals (+1) and departures (−1); the new count."""
        async with self._write:
            current = await self._staff_count(shelter_id)
            new = max(0, current + delta)
            shelter = self.shelter(shelter_id)
            assert shelter is not None
            await self.client.upsert([{"id": shelter_id, "type": shelter.kind,
                                       "staffCount": {"type": "Property", "value": new,
                                                      "unitCode": "C62"},
                                       "staffCountBy": {"type": "Property", "value": staff}}])
            return new

    async def _staff_count(self, shelter_id: str) -> int:
        found = await self.client.get(shelter_id) or {}
        value = found.get("staffCount", 0)
        return int(value) if isinstance(value, int | float) else 0

    async def set_open(self, shelter_id: str, is_open: bool, event: str, staff: str) -> None:
        shelter = self.shelter(shelter_id)
        assert shelter is not None
        await self.client.upsert([{
            "id": shelter_id, "type": shelter.kind,
            "status": {"type": "Property", "value": "open" if is_open else "closed"},
            "event": {"type": "Property", "value": event},
            "statusBy": {"type": "Property", "value": staff}}])


def _moved(before: Plan | None, after: Plan) -> int:
    if before is None:
        return 0

    def main(plan: Plan) -> dict[str, str]:
        best: dict[str, tuple[int, str]] = {}
        for a, s, p in plan.assignment:
            if p > best.get(a, (0, ""))[0]:
                best[a] = (p, s)
        return {a: s for a, (_, s) in best.items()}

    old, new = main(before), main(after)
    return sum(1 for a in set(old) | set(new) if old.get(a) != new.get(a))


def hazard_label(hazard: str | None, lang: str) -> str:
    if hazard is None:
        return "すべての災害" if lang == "ja" else "Any hazard"
    ja, en = HAZARD_NAMES[hazard]
    return en if lang == "en" else ja
