"""DARP optimiser entry point: regret construction, then ALNS in parallel independent runs.

Ropke & Pisinger (2006) ALNS with Cordeau & Laporte (2003) exact schedule evaluation.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from itertools import pairwise

import numpy as np

from cityos.services.ondemand._insert import make_scratch
from cityos.services.ondemand._route import make_problem
from cityos.services.ondemand._ruin import relatedness_order
from cityos.services.ondemand._search import (
    N_REPAIR,
    N_RUIN,
    construct,
    make_pool,
    objective,
    run_chunk,
    seed_rng,
)
from cityos.services.ondemand.model import Instance, Solution, route_cost, solution_cost
from cityos.services.ondemand.recombine import Pool, add_routes, drain, recombine, trim

START_ACCEPT = 0.03  # a solution this much worse is accepted with probability 1/2 at the start,
ACCEPT_PER_REQUEST = 1.2  # ... but at most this / n: larger plans need a cooler start
END_RATIO = 0.002  # final temperature / start temperature
Q_FRAC, Q_CAP = 0.3, 30  # at most this share of the requests (and this many) removed per iteration
SP_AT: tuple[float, ...] = ()  # shares of the time limit at which a run recombines its pool
SP_SHARE = 0.04  # share of the time limit one recombination may take
POOL_KEEP = 40_000  # routes kept for a recombination (the cheapest per request)
FINAL_SP_SHARE, FINAL_SP_MAX = 0.0, 5.0  # time kept for a last recombination over all runs


def start_accept(n: int) -> float:
    """How much worse (a share of the cost) a solution may be to be accepted with p = 1/2 at first.

    Measured on the generated 120- and 144-request instances (10 CPU-seconds, 3 seeds each):
    a 1% start beat 3% by 1.2% and 0.5% in mean cost, and 0.3% was worse than both.
    """
    return min(START_ACCEPT, ACCEPT_PER_REQUEST / max(n, 1))


def _state(k: int, n_nodes: int, n: int) -> tuple:
    return (
        np.zeros((k, n_nodes + 2), dtype=np.int64),
        np.zeros(k, dtype=np.int64),
        np.zeros(k, dtype=np.float64),
        np.full(n + 1, -1, dtype=np.int64),
    )


def _copy(src: tuple, dst: tuple) -> None:
    for a, b in zip(src, dst, strict=True):
        b[...] = a


def _routes(state: tuple) -> list[list[int]]:
    routes, rlen, _, _ = state
    return [list(map(int, routes[r, 1 : rlen[r] - 1])) for r in range(len(rlen)) if rlen[r] > 2]


def search(
    inst: Instance,
    seed: int = 0,
    time_limit: float = 10.0,
    iterations: int | None = None,
    start: list[list[int]] | None = None,
    fixed: np.ndarray | None = None,
) -> Solution:
    """One ALNS run. With `iterations` set the run is deterministic for the seed and ignores time.

    Blocking and CPU-bound: run it in a worker process or thread.
    """
    return _search(inst, seed, time_limit, iterations, start, fixed)[0]


def _search(
    inst: Instance,
    seed: int = 0,
    time_limit: float = 10.0,
    iterations: int | None = None,
    start: list[list[int]] | None = None,
    fixed: np.ndarray | None = None,
) -> tuple[Solution, Pool]:
    """`search`, also returning the pool of routes it met (route -> cost).

    Under a time limit and with nothing fixed, the run recombines its pool by set
    partitioning at the shares SP_AT of the limit and continues from the result if better.
    SP_AT is empty by default: on the generated 120-144-request instances HiGHS found no
    plan better than the run's own within seconds (docs/ondemand.md), so it only cost time.
    """
    t0 = time.perf_counter()
    n, k = inst.requests, inst.vehicles
    n_nodes = 2 * n + 2
    problem = make_problem(inst, fixed)
    scratch = make_scratch(n_nodes + 2)
    order = relatedness_order(inst)
    cur, best, back = (_state(k, n_nodes, n) for _ in range(3))
    buffer = make_pool(4096 if SP_AT or FINAL_SP_SHARE > 0 else 0, n_nodes + 2)
    pool: Pool = {}
    use_sp = iterations is None and (fixed is None or not fixed.any())
    sp_left = list(SP_AT) if use_sp else []
    seed_rng(seed)
    if start is None:
        construct(cur[0], cur[1], cur[2], cur[3], problem, scratch)
    else:
        _load(inst, cur, start)
    obj = float(objective(cur[2], cur[3], n))
    _copy(cur, best)
    st = np.array([obj, obj, 0.0])
    ops = (np.ones(N_RUIN + N_REPAIR), np.zeros(N_RUIN + N_REPAIR), np.zeros(N_RUIN + N_REPAIR))
    qmin, qmax = 2, max(4, min(int(Q_FRAC * n), Q_CAP))
    served_cost = float(cur[2].sum())
    t_start = start_accept(n) * served_cost / math.log(2)
    chunk = 20
    while True:
        elapsed = time.perf_counter() - t0
        if iterations is not None:
            done = st[2] / iterations
            step = min(chunk, iterations - int(st[2]))
        else:
            done = elapsed / time_limit
            step = chunk
        if done >= 1.0 or step <= 0:
            break
        if sp_left and done >= sp_left[0]:
            sp_left.pop(0)
            pool = trim(pool, n, POOL_KEEP)
            _recombine_into(inst, pool, cur, best, st, SP_SHARE * time_limit)
            continue
        temp = t_start * END_RATIO**done
        c0 = time.perf_counter()
        run_chunk(cur, best, back, problem, scratch, order, ops, st, step, temp, qmin, qmax, buffer)
        if buffer[3][0]:
            drain(pool, buffer)
        if iterations is None and time.perf_counter() - c0 < 0.05:
            chunk = min(chunk * 2, 2000)
        elif iterations is None and time.perf_counter() - c0 > 0.2:
            chunk = max(chunk // 2, 1)
    routes = _routes(best)
    unserved = [i for i in range(1, n + 1) if best[3][i] < 0]
    sol = Solution(
        routes=routes,
        cost=solution_cost(inst, routes),
        unserved=unserved,
        seconds=time.perf_counter() - t0,
        iterations=int(st[2]),
    )
    add_routes(pool, routes, [route_cost(inst, r) for r in routes])
    return sol, pool


def _recombine_into(
    inst: Instance, pool: Pool, cur: tuple, best: tuple, st: np.ndarray, limit: float
) -> None:
    """Replace the current and best solutions by the pool's best plan if that is cheaper."""
    n = inst.requests
    if any(best[3][i] < 0 for i in range(1, n + 1)):
        return
    found = recombine(pool, n, inst.vehicles, limit)
    if found is None or found[1] >= st[1] - 1e-6:
        return
    _load(inst, cur, found[0])
    _copy(cur, best)
    st[0] = st[1] = float(objective(cur[2], cur[3], n))


def _load(inst: Instance, state: tuple, routes_in: list[list[int]]) -> None:
    routes, rlen, rcost, where = state
    n, end = inst.requests, inst.end_depot
    where[:] = -1
    for r in range(len(rlen)):
        path = [0, *(routes_in[r] if r < len(routes_in) else []), end]
        routes[r, : len(path)] = path
        rlen[r] = len(path)
        rcost[r] = 0.0 if len(path) == 2 else sum(inst.dist[a, b] for a, b in pairwise(path))
        for v in path[1:-1]:
            if v <= n:
                where[v] = r


_WARM = False


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel on a tiny instance, once per process."""
    global _WARM
    if _WARM:
        return
    rows = [(0.0, 0.0, 0.0, 0, 0.0, 100.0), (1.0, 0.0, 1.0, 1, 0.0, 100.0)]
    rows += [(2.0, 1.0, 1.0, 1, 0.0, 100.0), (3.0, 0.0, 1.0, -1, 0.0, 100.0)]
    rows += [(2.0, 2.0, 1.0, -1, 0.0, 100.0), rows[0]]
    search(Instance.build("warm-up", 2, 2, 100.0, 30.0, rows), iterations=3)
    _WARM = True


def _rank(sol: Solution) -> tuple[int, float]:
    return (len(sol.unserved), sol.cost)


def solve(
    inst: Instance,
    time_limit: float = 10.0,
    seed: int = 0,
    workers: int = 2,
    iterations: int | None = None,
) -> Solution:
    """Best of `workers` ALNS runs (seeds seed, seed+1, ...), one process each.

    With FINAL_SP_SHARE > 0 (off by default, see `_search`) the runs stop that share early
    and their route pools are merged into one set-partitioning recombination.
    """
    t0 = time.perf_counter()
    warm_up()
    final = 0.0 if iterations is not None else min(FINAL_SP_SHARE * time_limit, FINAL_SP_MAX)
    run_limit = time_limit - final
    if workers <= 1:
        sol, pool = _search(inst, seed, run_limit, iterations)
        sols = [sol]
    else:
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool_ex:
            futures = [
                pool_ex.submit(_search, inst, seed + w, run_limit, iterations)
                for w in range(workers)
            ]
            outs = [f.result() for f in futures]
        sols = [o[0] for o in outs]
        pool = {}
        for o in outs:
            pool.update(o[1])
    sol = min(sols, key=_rank)
    sol.iterations = sum(s.iterations for s in sols)
    if final > 0 and not sol.unserved:
        left = time_limit - (time.perf_counter() - t0)
        found = recombine(
            trim(pool, inst.requests, 2 * POOL_KEEP), inst.requests, inst.vehicles, max(left, 0.5)
        )
        if found is not None and found[1] < sol.cost - 1e-6:
            sol.routes = found[0]
            sol.cost = solution_cost(inst, found[0])
    sol.seconds = time.perf_counter() - t0
    return sol
