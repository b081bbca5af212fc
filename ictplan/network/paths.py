"""Shortest-path reach: network distance from sources to nodes and to snapped targets."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from .._errors import InputValidationError
from .convert import _as_net
from .table import EdgeNetwork


def node_distances(
    network: EdgeNetwork,
    *,
    source_edge: np.ndarray,
    source_start_m: np.ndarray,
    source_end_m: np.ndarray,
    source_offset_m: np.ndarray | None = None,
    weight: str = "cost_m",
    limit_m: float = np.inf,
) -> np.ndarray:
    """Network distance from every node to the nearest source (inf beyond ``limit_m``).

    A source is an interval ``[start_m, end_m]`` (metres along the edge geometry from
    ``u``) on an edge, with an extra ``offset_m`` (e.g. the access point's own drop to
    the edge). A point source has ``start_m == end_m``; a whole fiber edge is
    ``[0, length_m]``. Costs along an edge are pro rata of its weight.

    Raises
    ------
    InputValidationError
        Arrays of different lengths, an unknown weight or a negative limit.

    Notes
    -----
    One Dijkstra from a virtual super-source linked to each source edge's end nodes by
    the cost of reaching them: exact, and one search whatever the number of sources.
    """
    net = network
    w = net.weight_array(weight)
    s_edge = np.asarray(source_edge, np.int64)
    a = np.asarray(source_start_m, np.float64)
    b = np.asarray(source_end_m, np.float64)
    off = np.zeros(len(s_edge)) if source_offset_m is None else np.asarray(source_offset_m, np.float64)
    if not (len(s_edge) == len(a) == len(b) == len(off)):
        raise InputValidationError("source_edge, source_start_m, source_end_m and source_offset_m must have one length.")
    if not (limit_m >= 0):
        raise InputValidationError(f"limit_m must be >= 0 metres, got {limit_m!r}.")
    n = net.n_nodes
    if len(s_edge) == 0:
        return np.full(n, np.inf)
    scale = np.divide(w, net.length_m, out=np.zeros_like(w), where=net.length_m > 0)
    ac = np.minimum(a, b) * scale[s_edge]
    bc = np.maximum(a, b) * scale[s_edge]
    to_u = off + ac
    to_v = off + (w[s_edge] - bc)
    S = n
    base = net._csr(weight)
    # the super-source row: min cost to each end node of a source edge
    first_cost = np.full(n, np.inf)
    np.minimum.at(first_cost, net.u[s_edge], to_u)
    np.minimum.at(first_cost, net.v[s_edge], to_v)
    cols = np.flatnonzero(np.isfinite(first_cost))
    data = np.concatenate([base.data, first_cost[cols]])
    indices = np.concatenate([base.indices, cols]).astype(np.int64)
    indptr = np.concatenate([base.indptr, [base.nnz + len(cols)]]).astype(np.int64)
    G = sparse.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))
    lim = np.inf if not np.isfinite(limit_m) else float(limit_m)
    dist = dijkstra(G, directed=True, indices=S, limit=lim)
    return dist[:n]


def distance_to_nearest(
    network: EdgeNetwork | nx.Graph,
    targets: pd.DataFrame | dict[str, np.ndarray],
    *,
    source_edge: np.ndarray,
    source_start_m: np.ndarray,
    source_end_m: np.ndarray | None = None,
    source_offset_m: np.ndarray | None = None,
    weight: str = "cost_m",
    limit_m: float = np.inf,
) -> np.ndarray:
    """Network distance from snapped targets to the nearest source, drops included.

    Parameters
    ----------
    network
        The network.
    targets
        Output of :func:`snap_points` / :func:`snap_xy` (``edge_id``, ``along_m``,
        ``drop_m``); unsnapped targets (``edge_id = -1``) get inf.
    source_edge, source_start_m, source_end_m, source_offset_m
        Sources as intervals on edges (see :func:`node_distances`); ``source_end_m``
        defaults to ``source_start_m`` (point sources), the offset to 0.
    weight
        ``"cost_m"`` (length + crossing cost, default) or ``"length_m"``.
    limit_m
        Search limit (metres); distances above it are returned as inf.

    Returns
    -------
    numpy.ndarray
        Per target: ``drop + min(along-to-u + d(u), along-to-v + d(v), direct way to a
        source on the same edge)``, in metres of ``weight``.

    Raises
    ------
    InputValidationError
        Bad arrays, weight or limit.
    """
    net = _as_net(network)
    te = np.asarray(targets["edge_id"], np.int64)
    ta = np.asarray(targets["along_m"], np.float64)
    td = np.asarray(targets["drop_m"], np.float64)
    s_edge = np.asarray(source_edge, np.int64)
    a = np.asarray(source_start_m, np.float64)
    b = a if source_end_m is None else np.asarray(source_end_m, np.float64)
    off = np.zeros(len(s_edge)) if source_offset_m is None else np.asarray(source_offset_m, np.float64)
    D = node_distances(net, source_edge=s_edge, source_start_m=a, source_end_m=b, source_offset_m=off,
                       weight=weight, limit_m=limit_m)
    w = net.weight_array(weight)
    L = net.length_m
    scale_e = np.divide(w, L, out=np.zeros(net.n_edges), where=L > 0)
    Du = D[net.u]
    Dv = D[net.v]
    on_src = np.zeros(net.n_edges, bool)
    on_src[s_edge] = True
    # only targets on "live" edges (an end node within reach, or a source on the edge)
    # can be reached: the arithmetic runs on those alone
    live_e = np.isfinite(Du) | np.isfinite(Dv) | on_src
    out = np.full(len(te), np.inf)
    sel = np.flatnonzero(te >= 0)
    sel = sel[live_e[te[sel]]]
    e = te[sel]
    scale = scale_e[e]
    tc = ta[sel] * scale
    via = np.minimum(tc + Du[e], (w[e] - tc) + Dv[e])
    # same edge: direct way along the edge to a source interval
    has = np.flatnonzero(on_src[e])
    if len(has):
        order = np.argsort(s_edge, kind="stable")
        se = s_edge[order]
        lo = np.searchsorted(se, e[has], side="left")
        cc = np.searchsorted(se, e[has], side="right") - lo
        pp = np.repeat(has, cc)
        k = np.arange(len(pp)) - np.repeat(np.cumsum(cc) - cc, cc)
        si = order[np.repeat(lo, cc) + k]
        sc = scale[pp]
        lo_c = np.minimum(a[si], b[si]) * sc
        hi_c = np.maximum(a[si], b[si]) * sc
        t = tc[pp]
        direct = off[si] + np.maximum(0.0, np.maximum(lo_c - t, t - hi_c))
        best = np.full(len(e), np.inf)
        np.minimum.at(best, pp, direct)
        via = np.minimum(via, best)
    out[sel] = td[sel] + via
    if np.isfinite(limit_m):
        out[out > limit_m] = np.inf
    return out


def nearest_source(
    network: EdgeNetwork | nx.Graph,
    targets: pd.DataFrame | dict[str, np.ndarray],
    *,
    source_edge: np.ndarray,
    source_along_m: np.ndarray,
    source_offset_m: np.ndarray | None = None,
    weight: str = "cost_m",
    limit_m: float = np.inf,
) -> tuple[np.ndarray, np.ndarray]:
    """Which point source is nearest each snapped target, and how far (drops included).

    Parameters
    ----------
    network
        The network.
    targets
        Snapped targets (``edge_id``, ``along_m``, ``drop_m``; ``edge_id = -1``: none).
    source_edge, source_along_m, source_offset_m
        Point sources (e.g. access points): the edge each lies on, its position along the
        edge geometry from ``u``, and its own straight drop to the edge (default 0).
    weight
        ``"cost_m"`` or ``"length_m"``.
    limit_m
        Search limit (metres); farther targets get inf and source -1.

    Returns
    -------
    (distance, source)
        Per target: the network distance (as :func:`distance_to_nearest`) and the index
        of the nearest source (-1: none within the limit). Ties go to the lower index via
        the node, then the same edge.

    Notes
    -----
    One Dijkstra from all sources at once (each a virtual node joined to its edge's end
    nodes), with ``min_only`` so every node learns its nearest source; a target then picks
    the better of its edge's two ends and any source on its own edge.
    """
    net = _as_net(network)
    w = net.weight_array(weight)
    s_edge = np.asarray(source_edge, np.int64)
    a = np.asarray(source_along_m, np.float64)
    off = np.zeros(len(s_edge)) if source_offset_m is None else np.asarray(source_offset_m, np.float64)
    if not (len(s_edge) == len(a) == len(off)):
        raise InputValidationError("source_edge, source_along_m and source_offset_m must have one length.")
    te = np.asarray(targets["edge_id"], np.int64)
    ta = np.asarray(targets["along_m"], np.float64)
    td = np.asarray(targets["drop_m"], np.float64)
    dist = np.full(len(te), np.inf)
    src = np.full(len(te), -1, np.int64)
    if len(s_edge) == 0 or len(te) == 0:
        return dist, src
    n, k = net.n_nodes, len(s_edge)
    L = net.length_m
    scale_e = np.divide(w, L, out=np.zeros(net.n_edges), where=L > 0)
    ac = a * scale_e[s_edge]
    base = net._csr(weight).tocoo()
    rows = np.concatenate([base.row, n + np.arange(k), n + np.arange(k)])
    cols = np.concatenate([base.col, net.u[s_edge], net.v[s_edge]])
    data = np.concatenate([base.data, off + ac, off + (w[s_edge] - ac)])
    data = np.maximum(data, 1e-12)  # scipy drops explicit zeros: a source on a node stays joined
    G = sparse.csr_matrix((data, (rows, cols)), shape=(n + k, n + k))
    lim = np.inf if not np.isfinite(limit_m) else float(limit_m)
    D, _, S = dijkstra(G, directed=True, indices=n + np.arange(k), min_only=True, limit=lim,
                       return_predecessors=True)
    S = np.where(np.isfinite(D), S - n, -1)
    sel = np.flatnonzero(te >= 0)
    e = te[sel]
    tc = ta[sel] * scale_e[e]
    du = tc + D[net.u[e]]
    dv = (w[e] - tc) + D[net.v[e]]
    best = np.where(dv < du, dv, du)
    bsrc = np.where(dv < du, S[net.v[e]], S[net.u[e]])
    _same_edge(e, tc, s_edge, ac, off, best, bsrc)
    tot = td[sel] + best
    ok = np.isfinite(tot) & (tot <= lim)
    dist[sel[ok]] = tot[ok]
    src[sel[ok]] = bsrc[ok]
    return dist, src


def _same_edge(e: np.ndarray, tc: np.ndarray, s_edge: np.ndarray, ac: np.ndarray, off: np.ndarray, best: np.ndarray,
               bsrc: np.ndarray) -> None:
    """Sources on a target's own edge: the direct way along it, where shorter (in place).

    ``min_s off_s + |ac_s - tc|`` splits into the sources behind the target (``off - ac``,
    a running minimum along the edge) and those ahead (``off + ac``, a running minimum
    from the far end): two lookups per target, no target × source pairs.
    """
    if len(s_edge) == 0 or len(e) == 0:
        return
    order = np.lexsort((ac, s_edge))
    se, sa, so = s_edge[order], ac[order], off[order]
    idx = np.arange(len(se))
    left = pd.Series(so - sa).groupby(se).cummin().to_numpy()
    larg = pd.Series(np.where(so - sa == left, idx, -1)).groupby(se).cummax().to_numpy()
    rev = slice(None, None, -1)
    right = pd.Series((so + sa)[rev]).groupby(se[rev]).cummin().to_numpy()[rev]
    rarg = pd.Series(np.where((so + sa)[rev] == right[rev], idx[rev], len(se) + 1)).groupby(se[rev]).cummin()
    rarg = rarg.to_numpy()[rev]
    lo = np.searchsorted(se, e, side="left")
    hi = np.searchsorted(se, e, side="right")
    has = hi > lo
    if not has.any():
        return
    t, lo_h, hi_h, eh = np.flatnonzero(has), lo[has], hi[has], e[has]
    # position of each target among its edge's sources (sorted by ac)
    scale = float(np.max(sa) + 1.0) if len(sa) else 1.0
    rank = np.searchsorted(np.unique(se), se)
    key = rank + sa / scale
    tkey = np.searchsorted(np.unique(se), eh) + tc[t] / scale
    pos = np.clip(np.searchsorted(key, tkey, side="right"), lo_h, hi_h)
    for behind, cand, ok, arg in ((True, pos - 1, pos - 1 >= lo_h, larg), (False, pos, pos < hi_h, rarg)):
        c = np.where(ok, cand, lo_h)
        d = np.where(ok, (left[c] + tc[t]) if behind else (right[c] - tc[t]), np.inf)
        better = d < best[t]
        best[t[better]] = d[better]
        bsrc[t[better]] = order[arg[c[better]]]
