"""Request insertion for the DARP: cheapest feasible insertion per route and regret-k repair.

Ropke & Pisinger (2006) ALNS insertion heuristics, with Cordeau-Laporte exact route checks.
"""

from __future__ import annotations

import numpy as np

from cityos.services.ondemand._jit import kernel
from cityos.services.ondemand._route import EPS, build_inserted, eval_path, remove_request

INF = 1e18


def make_scratch(n_nodes: int) -> tuple:
    """Work arrays shared by the kernels (one set per search)."""
    f = np.zeros(n_nodes, dtype=np.float64)
    return (
        f.copy(),
        f.copy(),
        f.copy(),  # B, W, D
        np.zeros(n_nodes, dtype=np.int64),  # pos
        np.zeros(n_nodes + 2, dtype=np.int64),  # tmp path
        f.copy(),
        f.copy(),  # E (earliest), Lt (latest)
        np.zeros(n_nodes, dtype=np.int64),  # load after each position
        np.zeros(n_nodes * n_nodes, dtype=np.float64),  # candidate deltas
        np.zeros(n_nodes * n_nodes, dtype=np.int64),  # candidate a
        np.zeros(n_nodes * n_nodes, dtype=np.int64),  # candidate b
    )


@kernel()
def best_insertion(path, m, req, P, S, bound, amin):
    """Cheapest feasible insertion of `req` into `path` after position `amin`: (delta, a, b).

    (INF, -1, -1) if there is none cheaper than `bound`.
    """
    dist, e, l, s, q, n, Q, L, _, _ = P
    B, W, D, pos, tmp, E, Lt, ld, cd, ca, cb = S
    p = req
    d = req + n
    # earliest starts, latest starts and loads of the current path
    E[0] = e[path[0]]
    ld[0] = 0
    for k in range(1, m):
        u = path[k - 1]
        v = path[k]
        E[k] = max(e[v], E[k - 1] + s[u] + dist[u, v])
        ld[k] = ld[k - 1] + q[v]
    Lt[m - 1] = l[path[m - 1]]
    for k in range(m - 2, -1, -1):
        v = path[k]
        Lt[k] = min(l[v], Lt[k + 1] - s[v] - dist[v, path[k + 1]])
    qp = q[p]
    cnt = 0
    for a in range(amin, m - 1):
        va = path[a]
        vn = path[a + 1]
        if ld[a] + qp > Q:
            continue
        ep = max(e[p], E[a] + s[va] + dist[va, p])
        if ep > l[p] + EPS:
            break
        base = dist[va, p] - dist[va, vn]
        # drop-off right after the pickup
        ed = max(e[d], ep + s[p] + dist[p, d])
        if ed <= l[d] + EPS and ed + s[d] + dist[d, vn] <= Lt[a + 1] + EPS:
            delta = base + dist[p, d] + dist[d, vn]
            if delta < bound:
                cd[cnt] = delta
                ca[cnt] = a
                cb[cnt] = a
                cnt += 1
        if a + 1 >= m - 1:
            continue
        ek = max(e[vn], ep + s[p] + dist[p, vn])
        if ek > Lt[a + 1] + EPS:
            continue
        base += dist[p, vn]
        ride = dist[p, vn]
        for b in range(a + 1, m - 1):
            vb = path[b]
            vb1 = path[b + 1]
            if ld[b] + qp > Q:
                break
            if ride + s[vb] + dist[vb, d] <= L + EPS:
                ed = max(e[d], ek + s[vb] + dist[vb, d])
                if ed <= l[d] + EPS and ed + s[d] + dist[d, vb1] <= Lt[b + 1] + EPS:
                    delta = base + dist[vb, d] + dist[d, vb1] - dist[vb, vb1]
                    if delta < bound:
                        cd[cnt] = delta
                        ca[cnt] = a
                        cb[cnt] = b
                        cnt += 1
            ride += s[vb] + dist[vb, vb1]
            if ride > L + EPS:
                break
            ek = max(e[vb1], ek + s[vb] + dist[vb, vb1])
            if ek > Lt[b + 1] + EPS:
                break
    if cnt == 0:
        return INF, -1, -1
    order = np.argsort(cd[:cnt])
    for idx in order:
        mm = build_inserted(path, m, p, d, ca[idx], cb[idx], tmp)
        if eval_path(tmp, mm, P, B, W, D, pos):
            return cd[idx], ca[idx], cb[idx]
    return INF, -1, -1


@kernel()
def _eval_cell(routes, rlen, r, req, P, S, ic, ia, ib, u, noise, maxd, empty_seen):
    if rlen[r] == 2 and empty_seen:
        ic[u, r] = INF
        return
    c, a, b = best_insertion(routes[r], rlen[r], req, P, S, INF, 0)
    if c < INF and noise > 0.0:
        c = max(0.0, c + noise * maxd * (2.0 * np.random.random() - 1.0))
    ic[u, r] = c
    ia[u, r] = a
    ib[u, r] = b


@kernel()
def repair(routes, rlen, rcost, where, bank, nbank, P, S, k_regret, noise):
    """Insert the requests in bank[:nbank] by regret-k (k=1: greedy); returns how many remain."""
    dist = P[0]
    n = P[5]
    nr = routes.shape[0]
    maxd = dist.max()
    ic = np.empty((nbank, nr), dtype=np.float64)
    ia = np.empty((nbank, nr), dtype=np.int64)
    ib = np.empty((nbank, nr), dtype=np.int64)
    tmp = S[4]
    for u in range(nbank):
        seen = False
        for r in range(nr):
            _eval_cell(routes, rlen, r, bank[u], P, S, ic, ia, ib, u, noise, maxd, seen)
            if rlen[r] == 2:
                seen = True
    row = np.empty(nr, dtype=np.float64)
    while nbank > 0:
        best_u = -1
        best_score = -INF
        best_c1 = INF
        for u in range(nbank):
            for r in range(nr):
                row[r] = ic[u, r]
            row.sort()
            c1 = row[0]
            if c1 >= INF:
                continue
            if k_regret <= 1:
                score = -c1
            else:
                score = 0.0
                for h in range(1, min(k_regret, nr)):
                    score += min(row[h], 1e6) - c1
            if score > best_score + 1e-9 or (abs(score - best_score) <= 1e-9 and c1 < best_c1):
                best_score = score
                best_c1 = c1
                best_u = u
        if best_u < 0:
            break
        u = best_u
        r = 0
        for rr in range(1, nr):
            if ic[u, rr] < ic[u, r]:
                r = rr
        req = bank[u]
        mm = build_inserted(routes[r], rlen[r], req, req + n, ia[u, r], ib[u, r], tmp)
        routes[r, :mm] = tmp[:mm]
        rlen[r] = mm
        c = 0.0
        for k in range(mm - 1):
            c += dist[tmp[k], tmp[k + 1]]
        rcost[r] = c
        where[req] = r
        last = nbank - 1
        bank[u] = bank[last]
        ic[u, :] = ic[last, :]
        ia[u, :] = ia[last, :]
        ib[u, :] = ib[last, :]
        nbank = last
        was_empty = mm == 4
        for v in range(nbank):
            if was_empty:  # a fresh empty route may now need evaluating
                seen = False
                for rr in range(nr):
                    if rlen[rr] == 2 and ic[v, rr] >= INF and not seen:
                        _eval_cell(
                            routes, rlen, rr, bank[v], P, S, ic, ia, ib, v, noise, maxd, False
                        )
                    if rlen[rr] == 2:
                        seen = True
            _eval_cell(routes, rlen, r, bank[v], P, S, ic, ia, ib, v, noise, maxd, False)
    return nbank


@kernel()
def relocate_descent(routes, rlen, rcost, where, P, S):
    """Move single requests to their best position while that shortens the plan (first improvement)."""
    dist, n, fixed = P[0], P[5], P[9]
    nr = routes.shape[0]
    tmp = S[4]
    work = np.empty(routes.shape[1], dtype=np.int64)
    improved = True
    gained = 0.0
    while improved:
        improved = False
        for i in np.random.permutation(n) + 1:
            r = where[i]
            if r < 0 or fixed[i]:
                continue
            m = rlen[r]
            work[:m] = routes[r, :m]
            mm = remove_request(work, m, i, i + n)
            cut = 0.0
            for k in range(mm - 1):
                cut += dist[work[k], work[k + 1]]
            if mm == 2:
                cut = 0.0
            saving = rcost[r] - cut
            best, ba, bb, br = saving - 1e-7, -1, -1, -1
            for rr in range(nr):
                if rr == r:
                    c, a, b = best_insertion(work, mm, i, P, S, best, 0)
                else:
                    c, a, b = best_insertion(routes[rr], rlen[rr], i, P, S, best, 0)
                if c < best:
                    best, ba, bb, br = c, a, b, rr
            if br < 0:
                continue
            if br != r:
                routes[r, :mm] = work[:mm]
                rlen[r] = mm
                rcost[r] = cut
                src = routes[br]
                ms = rlen[br]
            else:
                src = work
                ms = mm
            k = build_inserted(src, ms, i, i + n, ba, bb, tmp)
            routes[br, :k] = tmp[:k]
            rlen[br] = k
            c = 0.0
            for t in range(k - 1):
                c += dist[tmp[t], tmp[t + 1]]
            rcost[br] = c
            where[i] = br
            gained += saving - best
            improved = True
    return gained
