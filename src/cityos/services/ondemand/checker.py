"""Independent DARP feasibility checker: recomputes every schedule and verifies every constraint.

Schedules are found exactly as a system of difference constraints (Bellman-Ford), Cordeau (2006) §2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise

from cityos.services.ondemand.model import Instance

TOLERANCE = 1e-6


@dataclass
class CheckResult:
    """Outcome of checking a solution; `violations` holds `kind: detail` strings."""

    feasible: bool
    cost: float
    served: int
    requests: int
    violations: list[str] = field(default_factory=list)
    schedules: list[list[float]] = field(default_factory=list)


def _travel(inst: Instance, a: int, b: int) -> float:
    return math.hypot(float(inst.x[a] - inst.x[b]), float(inst.y[a] - inst.y[b]))


def _schedule(inst: Instance, path: list[int], ride: bool, duration: bool) -> list[float] | None:
    """Latest start times satisfying the chosen constraints, or None if there are none."""
    m = len(path)
    n = inst.requests
    z = m  # the reference node, time zero
    edges: list[tuple[int, int, float]] = []  # (u, v, w): B_v - B_u <= w
    for k, v in enumerate(path):
        edges.append((z, k, float(inst.tw_end[v])))
        edges.append((k, z, -float(inst.tw_start[v])))
        if k + 1 < m:
            step = float(inst.service[v]) + _travel(inst, v, path[k + 1])
            edges.append((k + 1, k, -step))
    if ride:
        where = {v: k for k, v in enumerate(path)}
        for k, v in enumerate(path):
            if 1 <= v <= n:
                edges.append((k, where[v + n], inst.max_ride_time + float(inst.service[v])))
    if duration:
        edges.append((0, m - 1, inst.max_route_duration + float(inst.service[path[0]])))
    best = [math.inf] * m + [0.0]
    for _ in range(m + 1):
        changed = False
        for u, v, w in edges:
            if best[u] + w < best[v] - 1e-12:
                best[v] = best[u] + w
                changed = True
        if not changed:
            return best[:m]
    return None


def check_solution(inst: Instance, routes: list[list[int]]) -> CheckResult:
    """Check routes (node ids, depots excluded) against every DARP constraint of `inst`."""
    n = inst.requests
    bad: list[str] = []
    seen: dict[int, int] = {}
    used = [r for r in routes if r]
    if len(used) > inst.vehicles:
        bad.append(f"vehicles: {len(used)} routes for {inst.vehicles} vehicles")
    cost = 0.0
    schedules: list[list[float]] = []
    for ri, route in enumerate(used):
        path = [0, *route, inst.end_depot]
        cost += sum(_travel(inst, a, b) for a, b in pairwise(path))
        load = 0
        ok = True
        for k, v in enumerate(route):
            if not 1 <= v <= 2 * n:
                bad.append(f"node: route {ri} visits unknown node {v}")
                ok = False
                continue
            if v in seen:
                bad.append(f"duplicate: node {v} visited twice")
                ok = False
            seen[v] = ri
            if v > n and (v - n not in route[:k]):
                bad.append(f"precedence: drop-off {v} before its pickup in route {ri}")
                ok = False
            load += int(inst.load[v])
            if load > inst.capacity:
                bad.append(f"capacity: route {ri} carries {load} > {inst.capacity} at node {v}")
                ok = False
        if not ok:
            continue
        checks = (
            ("time_window", False, False),
            ("ride_time", True, False),
            ("route_duration", True, True),
        )
        sched = None
        for kind, ride, duration in checks:
            sched = _schedule(inst, path, ride, duration)
            if sched is None:
                bad.append(
                    f"{kind}: route {ri} has no schedule meeting its {kind.replace('_', ' ')}s"
                )
                break
        if sched is not None:
            schedules.append(sched)
    served = sum(1 for i in range(1, n + 1) if i in seen and i + n in seen)
    for i in range(1, n + 1):
        if i not in seen or i + n not in seen:
            bad.append(f"unserved: request {i}")
    return CheckResult(not bad, cost, served, n, bad, schedules)
