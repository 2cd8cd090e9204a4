"""Removal (ruin) operators for the DARP ALNS: random, related (Shaw) and worst removal.

Ropke & Pisinger (2006) "An ALNS heuristic for the pickup and delivery problem with time windows".
"""

from __future__ import annotations

import numpy as np
from numba import njit

from cityos.services.ondemand._route import remove_request


def relatedness_order(inst) -> np.ndarray:
    """For each request (0-based), the other requests sorted from most to least related."""
    n = inst.requests
    x, y, e, l, dist = inst.x, inst.y, inst.tw_start, inst.tw_end, inst.dist
    pick = np.arange(1, n + 1)
    drop = pick + n
    # a request's time: its tight window's middle, moved to the pickup side
    tight_pick = (l[pick] - e[pick]) < (l[drop] - e[drop])
    t = np.where(
        tight_pick,
        (e[pick] + l[pick]) / 2,
        (e[drop] + l[drop]) / 2 - dist[pick, drop] - inst.service[pick],
    )
    del x, y
    rel = dist[np.ix_(pick, pick)] + dist[np.ix_(drop, drop)] + 0.5 * np.abs(t[:, None] - t[None, :])
    return np.argsort(rel, axis=1, kind="stable").astype(np.int64)


@njit(cache=True)
def _take(routes, rlen, rcost, where, req, n, dist, bank, nbank):
    r = where[req]
    mm = remove_request(routes[r], rlen[r], req, req + n)
    rlen[r] = mm
    c = 0.0
    for k in range(mm - 1):
        c += dist[routes[r, k], routes[r, k + 1]]
    rcost[r] = c
    where[req] = -1
    bank[nbank] = req
    return nbank + 1


@njit(cache=True)
def _served(where, n):
    out = np.empty(n, dtype=np.int64)
    c = 0
    for i in range(1, n + 1):
        if where[i] >= 0:
            out[c] = i
            c += 1
    return out[:c]


@njit(cache=True)
def ruin_random(routes, rlen, rcost, where, bank, nbank, count, P):
    dist, n = P[0], P[5]
    served = _served(where, n)
    np.random.shuffle(served)
    for k in range(min(count, served.shape[0])):
        nbank = _take(routes, rlen, rcost, where, served[k], n, dist, bank, nbank)
    return nbank


@njit(cache=True)
def ruin_related(routes, rlen, rcost, where, bank, nbank, count, P, order, power):
    dist, n = P[0], P[5]
    served = _served(where, n)
    if served.shape[0] == 0:
        return nbank
    start = nbank
    seed = served[np.random.randint(served.shape[0])]
    nbank = _take(routes, rlen, rcost, where, seed, n, dist, bank, nbank)
    for _ in range(min(count, served.shape[0]) - 1):
        ref = bank[start + np.random.randint(nbank - start)]
        left = 0
        for j in range(n):
            if where[order[ref - 1, j] + 1] >= 0:
                left += 1
        if left == 0:
            break
        pick = int(np.random.random() ** power * left)
        c = 0
        for j in range(n):
            cand = order[ref - 1, j] + 1
            if where[cand] >= 0:
                if c == pick:
                    nbank = _take(routes, rlen, rcost, where, cand, n, dist, bank, nbank)
                    break
                c += 1
    return nbank


@njit(cache=True)
def ruin_worst(routes, rlen, rcost, where, bank, nbank, count, P, power):
    dist, n = P[0], P[5]
    for _ in range(count):
        served = _served(where, n)
        if served.shape[0] == 0:
            break
        gain = np.empty(served.shape[0], dtype=np.float64)
        for idx in range(served.shape[0]):
            req = served[idx]
            r = where[req]
            path = routes[r]
            g = 0.0
            for k in range(1, rlen[r] - 1):
                v = path[k]
                if v == req or v == req + n:
                    u, w = path[k - 1], path[k + 1]
                    if w == req + n:  # pickup and drop-off adjacent
                        g += dist[u, v] + dist[v, w] + dist[w, path[k + 2]] - dist[u, path[k + 2]]
                        break
                    g += dist[u, v] + dist[v, w] - dist[u, w]
            gain[idx] = -g
        order = np.argsort(gain)
        pick = int(np.random.random() ** power * served.shape[0])
        nbank = _take(routes, rlen, rcost, where, served[order[pick]], n, dist, bank, nbank)
    return nbank
