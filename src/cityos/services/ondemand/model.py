"""Dial-a-ride problem model: requests, vehicles, depots, time windows, ride and route limits.

Follows the DARP definition of Cordeau (2006) "A branch-and-cut algorithm for the DARP".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np


@dataclass(frozen=True)
class Instance:
    """A static DARP instance with nodes 0 (depot), 1..n pickups, n+1..2n drop-offs, 2n+1 depot.

    Travel time equals travel cost equals the Euclidean distance between nodes.
    """

    name: str
    vehicles: int
    capacity: int
    max_route_duration: float
    max_ride_time: float
    x: np.ndarray
    y: np.ndarray
    service: np.ndarray
    load: np.ndarray
    tw_start: np.ndarray
    tw_end: np.ndarray
    dist: np.ndarray = field(repr=False)

    @property
    def requests(self) -> int:
        return (len(self.x) - 2) // 2

    @property
    def end_depot(self) -> int:
        return len(self.x) - 1

    @staticmethod
    def build(
        name: str,
        vehicles: int,
        capacity: int,
        max_route_duration: float,
        max_ride_time: float,
        rows: list[tuple[float, float, float, int, float, float]],
    ) -> Instance:
        """Build from node rows (x, y, service, load, tw_start, tw_end) incl. both depots."""
        arr = np.array([(*r[:3], float(r[3]), *r[4:]) for r in rows], dtype=np.float64)
        x, y = arr[:, 0].copy(), arr[:, 1].copy()
        dist = np.sqrt((x[:, None] - x[None, :]) ** 2 + (y[:, None] - y[None, :]) ** 2)
        return Instance(
            name=name,
            vehicles=vehicles,
            capacity=capacity,
            max_route_duration=float(max_route_duration),
            max_ride_time=float(max_ride_time),
            x=x,
            y=y,
            service=arr[:, 2].copy(),
            load=arr[:, 3].astype(np.int64),
            tw_start=arr[:, 4].copy(),
            tw_end=arr[:, 5].copy(),
            dist=dist,
        )


@dataclass
class Solution:
    """Routes as lists of visited node ids, depots excluded; one list per used vehicle."""

    routes: list[list[int]]
    cost: float = 0.0
    unserved: list[int] = field(default_factory=list)
    seconds: float = 0.0
    iterations: int = 0


def route_cost(inst: Instance, route: list[int]) -> float:
    """Total distance of one vehicle's route from the start depot to the end depot."""
    path = [0, *route, inst.end_depot]
    return float(sum(inst.dist[a, b] for a, b in pairwise(path)))


def solution_cost(inst: Instance, routes: list[list[int]]) -> float:
    """Total distance travelled by all vehicles (empty routes cost nothing)."""
    return sum(route_cost(inst, r) for r in routes if r)
