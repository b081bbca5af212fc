"""The planning graph of the fiber extension (:mod:`ictplan.planning.fiber_ext`): the
road/canal network cut into short pieces, each priced (aerial on poles or spans, duct
elsewhere, a crossing where it crosses water), with the pieces' lines and their chains."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .. import network as _nw

if TYPE_CHECKING:  # pragma: no cover
    from ..study import Study

__all__: list[str] = []


# =========================================================================== planning graph
@dataclass
class _Graph:
    """The network cut into pieces: node ids 0..n_orig-1 are the network's nodes, the rest
    interior cut points. Per piece: ``a``, ``b`` nodes, ``edge``, ``t0``, ``t1`` (metres
    along the edge from its u), ``f1`` (reach metric), ``cost`` (VND) and attributes."""

    net: _nw.EdgeNetwork
    n_nodes: int
    a: np.ndarray
    b: np.ndarray
    edge: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    f1: np.ndarray
    n_per_edge: np.ndarray
    first_piece: np.ndarray
    node_edge: np.ndarray
    node_along: np.ndarray
    cost: np.ndarray = field(default_factory=lambda: np.zeros(0))
    aerial: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    crossing: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    @property
    def length(self) -> np.ndarray:
        return self.t1 - self.t0


def _cut(net: _nw.EdgeNetwork, piece_m: float, weight: str) -> _Graph:
    """Every edge in ``ceil(length / piece_m)`` equal pieces."""
    L = net.length_m
    k = np.maximum(np.ceil(L / piece_m).astype(np.int64), 1)
    first = np.r_[0, np.cumsum(k)[:-1]]
    e = np.repeat(np.arange(net.n_edges), k)
    j = np.arange(int(k.sum())) - first[e]
    step = L[e] / k[e]
    t0, t1 = j * step, (j + 1) * step
    n0 = net.n_nodes
    # interior cut points: edge e's j-th (j = 1..k-1) gets id n0 + inner_first[e] + j - 1
    inner_first = np.r_[0, np.cumsum(k - 1)[:-1]]
    a = np.where(j == 0, net.u[e], n0 + inner_first[e] + j - 1)
    b = np.where(j == k[e] - 1, net.v[e], n0 + inner_first[e] + j)
    n_inner = int((k - 1).sum())
    ie = np.repeat(np.arange(net.n_edges), k - 1)
    ij = np.arange(n_inner) - inner_first[ie] + 1
    # each network node's representation on an edge: one edge it ends, along 0 or L
    node_edge = np.full(n0, -1, np.int64)
    node_along = np.zeros(n0)
    node_edge[net.v] = np.arange(net.n_edges)
    node_along[net.v] = L
    node_edge[net.u] = np.arange(net.n_edges)
    node_along[net.u] = 0.0
    w = net.weight_array(weight)
    return _Graph(net=net, n_nodes=n0 + n_inner, a=a, b=b, edge=e, t0=t0, t1=t1, f1=w[e] / k[e], n_per_edge=k,
                  first_piece=first, node_edge=np.r_[node_edge, ie], node_along=np.r_[node_along, ij * L[ie] / k[ie]])


def _node_xy(g: _Graph, nodes: np.ndarray) -> np.ndarray:
    nodes = np.asarray(nodes, np.int64)
    out = np.empty((len(nodes), 2))
    orig = nodes < g.net.n_nodes
    out[orig] = g.net.node_xy[nodes[orig]]
    inner = ~orig
    if inner.any():
        pts = shapely.line_interpolate_point(g.net.geometry[g.node_edge[nodes[inner]]], g.node_along[nodes[inner]])
        out[inner] = shapely.get_coordinates(pts)
    return out


def _piece_lines(g: _Graph, pieces: np.ndarray) -> np.ndarray:
    """LineStrings of the pieces (their edge's vertices between t0 and t1, exact ends)."""
    if len(pieces) == 0:
        return np.empty(0, dtype=object)
    edges, inv = np.unique(g.edge[pieces], return_inverse=True)
    coords, idx = shapely.get_coordinates(g.net.geometry[edges], return_index=True)
    seg = np.hypot(*np.diff(coords, axis=0).T)
    seg[idx[1:] != idx[:-1]] = 0.0
    cum = np.r_[0.0, np.cumsum(seg)]
    first = np.r_[True, idx[1:] != idx[:-1]]
    cum = cum - np.maximum.accumulate(np.where(first, cum, -np.inf))
    key = idx * 1e7 + cum
    lo = np.searchsorted(key, inv * 1e7 + g.t0[pieces], side="right")
    hi = np.searchsorted(key, inv * 1e7 + g.t1[pieces], side="left")
    lo, hi = np.minimum(lo, hi), hi
    ends = _node_xy(g, np.r_[g.a[pieces], g.b[pieces]])
    n_in = hi - lo
    total = n_in + 2
    out_idx = np.repeat(np.arange(len(pieces)), total)
    pos = np.arange(int(total.sum())) - np.repeat(np.cumsum(total) - total, total)
    src = np.repeat(lo, total) + pos - 1
    xy = coords[np.clip(src, 0, len(coords) - 1)]
    is_start, is_end = pos == 0, pos == np.repeat(total - 1, total)
    xy[is_start] = ends[: len(pieces)]
    xy[is_end] = ends[len(pieces):]
    return shapely.linestrings(xy, indices=out_idx)


def _price(g: _Graph, study: Study, pp: Any, corridor_m: float) -> None:
    """Placement, crossings and cost (VND) of every piece."""
    mids = shapely.line_interpolate_point(g.net.geometry[g.edge], 0.5 * (g.t0 + g.t1))
    aerial = np.zeros(len(g.a), bool)
    if study.has("spans"):
        sp_ = study.layer_in_crs("spans")
        sp_ = sp_[sp_["kind"].astype(str).str.lower() == "aerial"] if "kind" in sp_ else sp_
        if len(sp_):
            hit, _ = shapely.STRtree(np.asarray(sp_.geometry.values, dtype=object)).query(
                mids, predicate="dwithin", distance=corridor_m)
            aerial[hit] = True
    if study.has("poles"):
        po = np.asarray(study.layer_in_crs("poles").geometry.values, dtype=object)
        if len(po):
            _, hit = shapely.STRtree(shapely.buffer(mids, 0.5 * g.length.max() + corridor_m)).query(
                po, predicate="intersects")
            near = np.zeros(len(g.a), bool)
            near[hit] = True
            if near.any():  # exact: a pole within corridor_m of the piece itself
                cand = np.flatnonzero(near & ~aerial)
                lines = _piece_lines(g, cand)
                ptree = shapely.STRtree(po)
                got, _ = ptree.query(lines, predicate="dwithin", distance=corridor_m)
                aerial[cand[np.unique(got)]] = True
    crossing = np.zeros(len(g.a), bool)
    if len(g.net.water):
        cand = np.unique(g.net._water_tree.query(g.net.geometry, predicate="intersects")[0])
        on = np.flatnonzero(np.isin(g.edge, cand))
        if len(on):
            hit, _ = g.net._water_tree.query(_piece_lines(g, on), predicate="intersects")
            crossing[on[np.unique(hit)]] = True
    km = g.length / 1000.0
    blend = pp.aerial_share * pp.cost_fiber_aerial_vnd_per_km + (1.0 - pp.aerial_share) * pp.cost_fiber_duct_vnd_per_km
    g.cost = km * np.where(aerial, blend, pp.cost_fiber_duct_vnd_per_km) + crossing * pp.cost_crossing_vnd
    g.cost = np.maximum(g.cost, 1e-6)
    g.aerial, g.crossing = aerial, crossing


def _segment_labels(g: _Graph, pieces: np.ndarray, attrs: np.ndarray) -> np.ndarray:
    """Chains of pieces between nodes of degree ≠ 2, split where ``attrs`` (one int per
    piece) changes."""
    m = len(pieces)
    if m == 0:
        return np.zeros(0, np.int64)
    ends = np.r_[g.a[pieces], g.b[pieces]]
    idx = np.r_[np.arange(m), np.arange(m)]
    deg = np.bincount(ends, minlength=g.n_nodes)
    sel = deg[ends] == 2
    e2, i2 = ends[sel], idx[sel]
    order = np.argsort(e2, kind="stable")
    e2, i2 = e2[order], i2[order]
    p1, p2 = i2[0::2], i2[1::2]
    same = attrs[p1] == attrs[p2]
    adj = sparse.coo_matrix((np.ones(int(same.sum())), (p1[same], p2[same])), shape=(m, m))
    return connected_components(adj, directed=False)[1]


def _commune_of_points(study: Study, xy: np.ndarray) -> np.ndarray:
    com = study.layer_in_crs("communes")
    codes = com["commune_code"].astype(str).to_numpy()
    out = np.full(len(xy), "", dtype=object)
    if len(xy) == 0:
        return out
    pi, ci = shapely.STRtree(np.asarray(com.geometry.values, dtype=object)).query(
        shapely.points(xy), predicate="intersects")
    first = np.unique(pi, return_index=True)[1]
    out[pi[first]] = codes[ci[first]]
    return out
