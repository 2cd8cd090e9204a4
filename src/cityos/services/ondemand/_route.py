"""Exact route evaluation for the DARP: the eight-step forward-time-slack scheduling procedure.

Cordeau & Laporte (2003) "A tabu search heuristic for the static multi-vehicle DARP", §3.
"""

from __future__ import annotations

import numpy as np

from cityos.services.ondemand._jit import kernel

EPS = 1e-7
# P, the instance as the kernels see it: (dist, e, l, s, q, n, Q, L, T, fixed)


@kernel()
def _forward(path, m, start, dist, e, s, B, W, D):
    for k in range(start + 1, m):
        u = path[k - 1]
        v = path[k]
        a = D[k - 1] + dist[u, v]
        if a < e[v]:
            B[k] = e[v]
            W[k] = e[v] - a
        else:
            B[k] = a
            W[k] = 0.0
        D[k] = B[k] + s[v]


@kernel()
def _slack(path, m, i, l, n, L, B, W, D, pos):
    """Forward time slack at position i: how far service there can move without violations."""
    best = 1e18
    wsum = 0.0
    for j in range(i, m):
        if j > i:
            wsum += W[j]
        v = path[j]
        sl = l[v] - B[j]
        if n < v <= 2 * n:
            pj = pos[v - n]
            if pj < i:
                x = L - (B[j] - D[pj])
                if x < sl:
                    sl = x
        if sl < 0.0:
            sl = 0.0
        if wsum + sl < best:
            best = wsum + sl
    return best


@kernel()
def _limits_ok(path, m, n, L, T, B, D, pos):
    for k in range(1, m - 1):
        v = path[k]
        if v > n and B[k] - D[pos[v - n]] > L + EPS:
            return False
    return B[m - 1] - D[0] <= T + EPS


@kernel()
def eval_path(path, m, P, B, W, D, pos):
    """True if the path (depot first and last) has a feasible schedule; B then holds it."""
    dist, e, l, s, q, n, Q, L, T, _ = P
    load = 0
    for k in range(1, m - 1):
        v = path[k]
        load += q[v]
        if load > Q:
            return False
        if v <= n:
            pos[v] = k
    # steps 1-3: earliest schedule, time windows
    B[0] = e[path[0]]
    W[0] = 0.0
    D[0] = B[0] + s[path[0]]
    _forward(path, m, 0, dist, e, s, B, W, D)
    for k in range(1, m):
        if B[k] > l[path[k]] + EPS:
            return False
    # steps 4-6: delay the departure from the depot to cut waiting
    wsum = 0.0
    for k in range(1, m):
        wsum += W[k]
    f0 = _slack(path, m, 0, l, n, L, B, W, D, pos)
    B[0] += min(f0, wsum)
    D[0] = B[0] + s[path[0]]
    _forward(path, m, 0, dist, e, s, B, W, D)
    # step 7
    if _limits_ok(path, m, n, L, T, B, D, pos):
        return True
    # step 8: delay each pickup by its forward slack to shorten ride times
    for j in range(1, m - 1):
        v = path[j]
        if v > n:
            continue
        fj = _slack(path, m, j, l, n, L, B, W, D, pos)
        wsum = 0.0
        for k in range(j + 1, m):
            wsum += W[k]
        add = min(fj, wsum)
        if add > 0.0:
            W[j] += add
            B[j] += add
            D[j] = B[j] + s[v]
            _forward(path, m, j, dist, e, s, B, W, D)
    # step 9
    for k in range(1, m):
        if B[k] > l[path[k]] + EPS:
            return False
    return _limits_ok(path, m, n, L, T, B, D, pos)


@kernel()
def path_cost(path, m, dist):
    c = 0.0
    for k in range(m - 1):
        c += dist[path[k], path[k + 1]]
    return c


@kernel()
def build_inserted(path, m, p, d, a, b, out):
    """Write path with pickup p after position a and drop-off d after position b (b >= a)."""
    j = 0
    for k in range(m):
        out[j] = path[k]
        j += 1
        if k == a:
            out[j] = p
            j += 1
        if k == b:
            out[j] = d
            j += 1
    return j


@kernel()
def remove_request(path, m, p, d):
    """Remove nodes p and d from path in place; returns the new length."""
    j = 0
    for k in range(m):
        v = path[k]
        if v != p and v != d:
            path[j] = v
            j += 1
    return j


def make_problem(inst, fixed: np.ndarray | None = None) -> tuple:
    """Pack an Instance into the tuple the kernels take; `fixed` marks requests never moved."""
    if fixed is None:
        fixed = np.zeros(inst.requests + 1, dtype=np.bool_)
    return (
        np.ascontiguousarray(inst.dist, dtype=np.float64),
        np.ascontiguousarray(inst.tw_start, dtype=np.float64),
        np.ascontiguousarray(inst.tw_end, dtype=np.float64),
        np.ascontiguousarray(inst.service, dtype=np.float64),
        np.ascontiguousarray(inst.load, dtype=np.int64),
        np.int64(inst.requests),
        np.int64(inst.capacity),
        np.float64(inst.max_ride_time),
        np.float64(inst.max_route_duration),
        fixed,
    )
