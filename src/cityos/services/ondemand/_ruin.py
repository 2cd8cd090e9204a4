"""Removal (ruin) operators for the DARP ALNS: random, related (Shaw), worst and string removal.

Ropke & Pisinger (2006) ALNS for the PDPTW; string removal of Christiaens & Vanden Berghe (2020).
"""

from __future__ import annotations

import numpy as np

from cityos.services.ondemand._jit import kernel
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
    rel = (
        dist[np.ix_(pick, pick)] + dist[np.ix_(drop, drop)] + 0.5 * np.abs(t[:, None] - t[None, :])
    )
    return np.argsort(rel, axis=1, kind="stable").astype(np.int64)


@kernel()
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


@kernel()
def _served(where, n, fixed):
    out = np.empty(n, dtype=np.int64)
    c = 0
    for i in range(1, n + 1):
        if where[i] >= 0 and not fixed[i]:
            out[c] = i
            c += 1
    return out[:c]


@kernel()
def ruin_random(routes, rlen, rcost, where, bank, nbank, count, P):
    dist, n = P[0], P[5]
    served = _served(where, n, P[9])
    np.random.shuffle(served)
    for k in range(min(count, served.shape[0])):
        nbank = _take(routes, rlen, rcost, where, served[k], n, dist, bank, nbank)
    return nbank


@kernel()
def ruin_related(routes, rlen, rcost, where, bank, nbank, count, P, order, power):
    dist, n = P[0], P[5]
    served = _served(where, n, P[9])
    if served.shape[0] == 0:
        return nbank
    start = nbank
    seed = served[np.random.randint(served.shape[0])]
    nbank = _take(routes, rlen, rcost, where, seed, n, dist, bank, nbank)
    for _ in range(min(count, served.shape[0]) - 1):
        ref = bank[start + np.random.randint(nbank - start)]
        left = 0
        for j in range(n):
            if where[order[ref - 1, j] + 1] >= 0 and not P[9][order[ref - 1, j] + 1]:
                left += 1
        if left == 0:
            break
        pick = int(np.random.random() ** power * left)
        c = 0
        for j in range(n):
            cand = order[ref - 1, j] + 1
            if where[cand] >= 0 and not P[9][cand]:
                if c == pick:
                    nbank = _take(routes, rlen, rcost, where, cand, n, dist, bank, nbank)
                    break
                c += 1
    return nbank


@kernel()
def ruin_worst(routes, rlen, rcost, where, bank, nbank, count, P, power):
    dist, n = P[0], P[5]
    for _ in range(count):
        served = _served(where, n, P[9])
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


@kernel()
def ruin_strings(routes, rlen, rcost, where, bank, nbank, count, P, order):
    """Remove strings of consecutive visits from routes near a seed request (Christiaens 2020)."""
    dist, n = P[0], P[5]
    served = _served(where, n, P[9])
    if served.shape[0] == 0:
        return nbank
    seed = served[np.random.randint(served.shape[0])]
    nr = routes.shape[0]
    touched = np.zeros(nr, dtype=np.bool_)
    routes_left = 1 + np.random.randint(min(3, nr))
    removed = 0
    victims = np.empty(2 * n + 2, dtype=np.int64)
    for j in range(-1, n):
        if removed >= count or routes_left == 0:
            break
        req = seed if j < 0 else order[seed - 1, j] + 1
        if where[req] < 0 or P[9][req]:
            continue
        r = where[req]
        if touched[r]:
            continue
        touched[r] = True
        routes_left -= 1
        m = rlen[r]
        k0 = 1
        for k in range(1, m - 1):
            if routes[r, k] == req:
                k0 = k
                break
        length = 2 + np.random.randint(max(1, min(2 * (count - removed), m - 2)))
        start = max(1, k0 - np.random.randint(length))
        nv = 0
        for k in range(start, min(start + length, m - 1)):
            v = routes[r, k]
            victims[nv] = v if v <= n else v - n
            nv += 1
        for t in range(nv):
            v = victims[t]
            if where[v] >= 0 and not P[9][v] and removed < count:
                nbank = _take(routes, rlen, rcost, where, v, n, dist, bank, nbank)
                removed += 1
    return nbank
