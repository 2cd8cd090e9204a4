"""The fleet: cars with seats, wheelchair places, a shift and a depot.

The optimiser (model.py) plans a fleet with one depot and one capacity; the dispatcher
(dispatch.py) plans each car on its own instance (its seats + wheelchair places, its shift)
and checks the split between seats and wheelchair places itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from cityos.services.ondemand.geo import Point
from cityos.town.loader import STATIONS, VEHICLES


@dataclass(frozen=True)
class Vehicle:
    """One car. Times are minutes after midnight (JST) of the service day."""

    id: str  # the car's GPS device id in the town (ondemand-car-N)
    name: str
    seats: int  # passengers sitting
    wheelchair: int  # wheelchair places (a wheelchair user takes one, not a seat)
    shift_start: float
    shift_end: float
    depot: Point

    @property
    def capacity(self) -> int:
        """Everyone aboard at once, as the optimiser counts: seats and wheelchair places."""
        return self.seats + self.wheelchair


DEPOT = STATIONS[1][2]  # the cars wait at ときわ台駅 between shifts (one depot: see module doc)


def demo_fleet() -> list[Vehicle]:
    """The demo town's cars (town/loader.py starts VEHICLES GPS devices ondemand-car-N)."""
    kinds = [
        ("福祉車両1号", 4, 1, 7 * 60.0, 19 * 60.0),  # a van with a ramp and one wheelchair place
        ("2号車", 4, 0, 7 * 60.0, 19 * 60.0),
        ("3号車", 4, 0, 8 * 60.0, 17 * 60.0),
    ]
    out = []
    for n in range(1, VEHICLES + 1):
        name, seats, chairs, start, end = kinds[(n - 1) % len(kinds)]
        out.append(Vehicle(f"ondemand-car-{n}", name, seats, chairs, start, end, DEPOT))
    return out
