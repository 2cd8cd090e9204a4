"""Set-partitioning recombination: the cheapest plan made of routes the search has already met.

Every route in the pool is feasible on its own (the search only keeps routes that pass the
eight-step check), so any choice of routes that serves each request exactly once with at most
K vehicles is a feasible plan. Choosing the cheapest is a set-partitioning problem, solved
with HiGHS through `scipy.optimize.milp`. The idea is that of Subramanian, Uchoa & Ochi
(2013) for vehicle routing and of Parragh & Schmid (2013) for the DARP: local search finds
good routes spread over many solutions; the integer program puts the best of them together.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csc_matrix

Pool = dict[tuple[int, ...], float]


def add_routes(pool: Pool, routes: list[list[int]], costs: list[float]) -> None:
    """Add routes (node lists without depots) with their costs to the pool."""
    for r, c in zip(routes, costs, strict=True):
        if r:
            pool[tuple(r)] = c


def drain(pool: Pool, buffer: tuple) -> None:
    """Move the routes in a kernel pool buffer (see _search.make_pool) into `pool`."""
    proutes, plen, pcost, pcount = buffer
    for i in range(int(pcount[0])):
        m = int(plen[i])
        pool[tuple(proutes[i, 1 : m - 1].tolist())] = float(pcost[i])
    pcount[0] = 0


def trim(pool: Pool, n: int, keep: int) -> Pool:
    """The `keep` routes with the least cost per request served (all of them if fewer)."""
    if len(pool) <= keep:
        return pool
    items = sorted(pool.items(), key=lambda kv: kv[1] / max(1, sum(1 for v in kv[0] if v <= n)))
    return dict(items[:keep])


def recombine(
    pool: Pool, n: int, vehicles: int, time_limit: float
) -> tuple[list[list[int]], float] | None:
    """Cheapest set of pool routes serving requests 1..n once each with <= `vehicles` routes.

    Returns (routes, cost), or None if HiGHS found no plan within the time limit.
    """
    keys = list(pool)
    if not keys or time_limit <= 0.05:
        return None
    rows: list[int] = []
    cols: list[int] = []
    for j, route in enumerate(keys):
        for v in route:
            if 1 <= v <= n:
                rows.append(v - 1)
                cols.append(j)
    m = len(keys)
    cover = csc_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, m))
    fleet = np.ones((1, m))
    cost = np.array([pool[k] for k in keys], dtype=np.float64)
    res = milp(
        cost,
        integrality=np.ones(m),
        bounds=Bounds(0, 1),
        constraints=[LinearConstraint(cover, 1, 1), LinearConstraint(fleet, 0, vehicles)],
        options={"time_limit": float(time_limit), "disp": False},
    )
    if res.x is None:
        return None
    chosen = [keys[j] for j in np.flatnonzero(res.x > 0.5)]
    served = sorted(v for r in chosen for v in r if 1 <= v <= n)
    if served != list(range(1, n + 1)) or len(chosen) > vehicles:
        return None
    return [list(r) for r in chosen], float(sum(pool[k] for k in chosen))
