"""Adaptive large neighbourhood search for the DARP with simulated-annealing acceptance.

Ropke & Pisinger (2006) ALNS; roulette-wheel operator weights updated per segment of iterations.
"""

from __future__ import annotations

import numpy as np

from cityos.services.ondemand._insert import relocate_descent, repair
from cityos.services.ondemand._jit import kernel
from cityos.services.ondemand._ruin import ruin_random, ruin_related, ruin_strings, ruin_worst

PENALTY = 1e4  # per unserved request
N_RUIN = 4
N_REPAIR = 6  # (greedy, regret-2, regret-3) x (no noise, noise)
SEGMENT = 100


@kernel()
def seed_rng(seed):
    np.random.seed(seed)


@kernel()
def objective(rcost, where, n):
    c = rcost.sum()
    for i in range(1, n + 1):
        if where[i] < 0:
            c += PENALTY
    return c


@kernel()
def construct(routes, rlen, rcost, where, P, S):
    """Regret-3 insertion of every request into empty routes."""
    n = P[5]
    end = 2 * n + 1
    for r in range(routes.shape[0]):
        routes[r, 0] = 0
        routes[r, 1] = end
        rlen[r] = 2
        rcost[r] = P[0][0, end]
    bank = np.arange(1, n + 1).astype(np.int64)
    where[:] = -1
    repair(routes, rlen, rcost, where, bank, n, P, S, 3, 0.0)
    for r in range(routes.shape[0]):
        if rlen[r] == 2:
            rcost[r] = 0.0


@kernel()
def _roulette(w):
    x = np.random.random() * w.sum()
    for i in range(w.shape[0]):
        x -= w[i]
        if x <= 0.0:
            return i
    return w.shape[0] - 1


def make_pool(rows: int, width: int) -> tuple:
    """Buffer of routes met by the search: (routes, lengths, costs, [count])."""
    return (
        np.zeros((rows, width), dtype=np.int64),
        np.zeros(rows, dtype=np.int64),
        np.zeros(rows, dtype=np.float64),
        np.zeros(1, dtype=np.int64),
    )


@kernel()
def _record(routes, rlen, rcost, back, pool):
    """Append to the pool every non-empty route that differs from the backup state."""
    proutes, plen, pcost, pcount = pool
    for r in range(routes.shape[0]):
        m = rlen[r]
        if m <= 2:
            continue
        same = m == back[1][r]
        if same:
            for k in range(m):
                if routes[r, k] != back[0][r, k]:
                    same = False
                    break
        if same:
            continue
        c = pcount[0]
        if c >= plen.shape[0]:
            return
        proutes[c, :m] = routes[r, :m]
        plen[c] = m
        pcost[c] = rcost[r]
        pcount[0] = c + 1


@kernel(nogil=True)
def run_chunk(cur, best, back, P, S, order, ops, st, iters, temp, qmin, qmax, pool):
    """Run `iters` ALNS iterations; `cur`, `best`, `back` are (routes, rlen, rcost, where).

    ops = (weights, scores, counts) over N_RUIN + N_REPAIR operators; st = [cur, best, iter].
    Routes of every accepted solution are appended to `pool` (see make_pool) while it has room.
    """
    routes, rlen, rcost, where = cur
    n = P[5]
    weights, scores, counts = ops
    bank = np.empty(n, dtype=np.int64)
    for _ in range(iters):
        back[0][:, :] = routes
        back[1][:] = rlen
        back[2][:] = rcost
        back[3][:] = where
        nbank = 0
        for i in range(1, n + 1):
            if where[i] < 0:
                bank[nbank] = i
                nbank += 1
        count = qmin + np.random.randint(qmax - qmin + 1)
        dop = _roulette(weights[:N_RUIN])
        rop = _roulette(weights[N_RUIN:])
        if dop == 0:
            nbank = ruin_random(routes, rlen, rcost, where, bank, nbank, count, P)
        elif dop == 1:
            nbank = ruin_related(routes, rlen, rcost, where, bank, nbank, count, P, order, 6.0)
        elif dop == 2:
            nbank = ruin_worst(routes, rlen, rcost, where, bank, nbank, count, P, 3.0)
        else:
            nbank = ruin_strings(routes, rlen, rcost, where, bank, nbank, count, P, order)
        noise = 0.025 if rop >= 3 else 0.0
        repair(routes, rlen, rcost, where, bank, nbank, P, S, (rop % 3) + 1, noise)
        for r in range(routes.shape[0]):
            if rlen[r] == 2:
                rcost[r] = 0.0
        new = objective(rcost, where, n)
        score = 0.0
        if new < st[1] - 1e-9:
            relocate_descent(routes, rlen, rcost, where, P, S)
            for r in range(routes.shape[0]):
                if rlen[r] == 2:
                    rcost[r] = 0.0
            new = objective(rcost, where, n)
            st[1] = new
            best[0][:, :] = routes
            best[1][:] = rlen
            best[2][:] = rcost
            best[3][:] = where
            score = 33.0
            st[0] = new
        elif new < st[0] - 1e-9:
            score = 9.0
            st[0] = new
        elif temp > 0.0 and np.random.random() < np.exp(-(new - st[0]) / temp):
            if new > st[0] + 1e-9:
                score = 13.0
            st[0] = new
        else:
            score = -1.0
        if score >= 0.0:
            _record(routes, rlen, rcost, back, pool)
        else:
            score = 0.0
            routes[:, :] = back[0]
            rlen[:] = back[1]
            rcost[:] = back[2]
            where[:] = back[3]
        scores[dop] += score
        scores[N_RUIN + rop] += score
        counts[dop] += 1
        counts[N_RUIN + rop] += 1
        st[2] += 1
        if int(st[2]) % SEGMENT == 0:
            for k in range(weights.shape[0]):
                if counts[k] > 0:
                    weights[k] = 0.9 * weights[k] + 0.1 * scores[k] / counts[k]
                weights[k] = max(weights[k], 0.5)
                scores[k] = 0.0
                counts[k] = 0
