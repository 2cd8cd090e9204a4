"""The evacuation planner: a minimum person-distance assignment of every town area's people to
the open shelters that accept the hazard, within each shelter's remaining capacity.

A min-cost flow: area i supplies its people, shelter j takes at most capacity − occupancy, an
arc i → j costs the meters between them. People who fit nowhere flow to an "unassigned" node
whose cost M is larger than any augmenting path can save ((max meters + 1) × (shelters + 1)),
so the plan places as many people as possible first, then minimises person-meters; those
left over are reported in `unassigned`, never dropped.

Two exact solvers on the same network: networkx `network_simplex` (small towns) and the
transportation LP with scipy's HiGHS (large ones; integral at a vertex, checked).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import networkx as nx
import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from cityos.services.evacuation.distances import RoadGraph, great_circle_matrix
from cityos.services.evacuation.model import Area, Plan, Shelter

SOLVERS = ("auto", "network-simplex", "highs")
AUTO_ARCS = 20_000  # above this many candidate pairs `auto` uses HiGHS (bench/evacuation.py)


class Problem:
    """The transportation problem: supplies, capacities and the candidate arcs' meters."""

    def __init__(self, people: np.ndarray, remaining: np.ndarray, meters: np.ndarray) -> None:
        self.people = people.astype(np.int64)  # per area
        self.remaining = remaining.astype(np.int64)  # per candidate shelter
        self.meters = meters  # [area, shelter], -1 = no arc
        rows, cols = np.nonzero(meters >= 0)
        keep = self.people[rows] > 0
        self.rows, self.cols = rows[keep], cols[keep]
        self.cost = meters[self.rows, self.cols].astype(np.int64)
        biggest = int(self.cost.max()) if len(self.cost) else 0
        self.penalty = (biggest + 1) * (len(remaining) + 1)


def solve_network_simplex(problem: Problem) -> np.ndarray:
    """People on each arc (aligned with problem.rows/cols), by networkx network_simplex."""
    g = nx.DiGraph()
    total = int(problem.people.sum())
    for i, p in enumerate(problem.people):
        if p > 0:
            g.add_node(("a", i), demand=-int(p))
            g.add_edge(("a", i), "U", weight=problem.penalty)
    g.add_node("T", demand=total)
    g.add_edge("U", "T", weight=0)
    for j, r in enumerate(problem.remaining):
        g.add_edge(("s", j), "T", weight=0, capacity=int(r))
    for i, j, c in zip(problem.rows.tolist(), problem.cols.tolist(), problem.cost.tolist(),
                       strict=True):
        g.add_edge(("a", i), ("s", j), weight=c)
    _, flow = nx.network_simplex(g)
    return np.array([flow[("a", i)][("s", j)]
                     for i, j in zip(problem.rows.tolist(), problem.cols.tolist(), strict=True)],
                    dtype=np.int64)


def _highs_lp(problem: Problem, arcs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The LP over a subset of arcs: (flow on those arcs, area duals, shelter duals)."""
    rows, cols = problem.rows[arcs], problem.cols[arcs]
    n_arcs, n_areas = len(arcs), len(problem.people)
    # variables: one per arc, then one "unassigned" per area
    c = np.concatenate([problem.cost[arcs], np.full(n_areas, problem.penalty)]).astype(float)
    eq_rows = np.concatenate([rows, np.arange(n_areas)])
    a_eq = sparse.csr_matrix((np.ones(n_arcs + n_areas), (eq_rows, np.arange(n_arcs + n_areas))),
                             shape=(n_areas, n_arcs + n_areas))
    a_ub = sparse.csr_matrix((np.ones(n_arcs), (cols, np.arange(n_arcs))),
                             shape=(len(problem.remaining), n_arcs + n_areas))
    result = linprog(c, A_ub=a_ub, b_ub=problem.remaining.astype(float), A_eq=a_eq,
                     b_eq=problem.people.astype(float), bounds=(0, None), method="highs-ipm")  # with crossover: a vertex
    if result.status != 0:
        raise RuntimeError(f"HiGHS: {result.message}")
    return result.x[:n_arcs], result.eqlin.marginals, result.ineqlin.marginals


def solve_highs(problem: Problem, nearest: int = 10) -> np.ndarray:
    """People on each arc by the transportation LP with scipy's HiGHS (interior point and crossover), by
    column generation: start from each area's `nearest` shelters, add every arc whose reduced
    cost (meters − area dual − shelter dual) is negative, until none is: then the restricted
    optimum is the optimum over all arcs (LP duality)."""
    n_arcs = len(problem.rows)
    if n_arcs == 0:
        return np.zeros(0, dtype=np.int64)
    # the `nearest` cheapest arcs of each area (arcs are grouped by area, in row order)
    order = np.lexsort((problem.cost, problem.rows))
    starts = np.searchsorted(problem.rows[order], problem.rows[order], side="left")
    rank = np.arange(n_arcs) - starts
    active = np.zeros(n_arcs, dtype=bool)
    active[order[rank < nearest]] = True
    while True:
        arcs = np.flatnonzero(active)
        x, area_dual, shelter_dual = _highs_lp(problem, arcs)
        reduced = problem.cost - area_dual[problem.rows] - shelter_dual[problem.cols]
        entering = (~active) & (reduced < -1e-6)
        if not entering.any():
            break
        active |= entering
    flow = np.zeros(n_arcs, dtype=np.int64)
    rounded = np.rint(x).astype(np.int64)
    if not np.allclose(rounded, x, atol=1e-6):  # not a vertex: the exact network solver
        return solve_network_simplex(problem)
    flow[arcs] = rounded
    return flow


def plan(areas: Sequence[Area], shelters: Sequence[Shelter], hazard: str | None = None,
         roads: RoadGraph | None = None, solver: str = "auto") -> Plan:
    """The minimum person-distance plan for `hazard` (None: every open shelter)."""
    if solver not in SOLVERS:
        raise ValueError(f"solver: one of {', '.join(SOLVERS)}")
    notes = []
    candidates = [s for s in shelters if s.open and s.accepts(hazard) and not s.priority]
    if hazard is not None and not any(s.accepts(hazard) for s in shelters):
        notes.append(f"no shelter in the data is designated for {hazard} / "
                     "この災害に指定された避難場所がデータにありません")
    elif not candidates:
        notes.append("no open shelter accepts this hazard / 受け入れ可能な開設中の避難所がありません")
    if candidates and areas:
        meters = (roads.matrix(areas, candidates) if roads is not None
                  else great_circle_matrix(areas, candidates))
    else:
        meters = np.full((len(areas), len(candidates)), -1, dtype=np.int64)
    problem = Problem(np.array([a.people for a in areas], dtype=np.int64),
                      np.array([s.remaining for s in candidates], dtype=np.int64), meters)
    used = solver if solver != "auto" else (
        "network-simplex" if len(problem.rows) <= AUTO_ARCS else "highs")
    started = time.perf_counter()
    if len(problem.rows) == 0:
        flow = np.zeros(0, dtype=np.int64)
    elif used == "highs":
        flow = solve_highs(problem)
    else:
        flow = solve_network_simplex(problem)
    seconds = time.perf_counter() - started
    assignment = [(areas[i].id, candidates[j].id, int(f))
                  for i, j, f in zip(problem.rows.tolist(), problem.cols.tolist(), flow.tolist(),
                                     strict=True) if f > 0]
    placed = np.zeros(len(areas), dtype=np.int64)
    np.add.at(placed, problem.rows, flow)
    unassigned = [(a.id, int(a.people - placed[i])) for i, a in enumerate(areas)
                  if a.people - placed[i] > 0]
    return Plan(hazard=hazard, distance="roads" if roads is not None else "great-circle",
               shelters=list(shelters), areas=list(areas), candidates=[s.id for s in candidates],
               meters=meters, assignment=assignment, unassigned=unassigned,
               solver=used, total_person_meters=int((flow * problem.cost).sum()),
                notes=notes, seconds=seconds)
