"""The least-cost fiber extension to the unreached hamlets (issue 13, "Fiber extension").

:func:`extend_fiber` designs new fiber along roads, canal banks and crossings from an
operator's network (or every operator's: a neutral host) so that every hamlet F1 counts as
unreached becomes reached, or until a households-% target or a budget, and says what each
new segment costs, whom it passes and in which order to build.

How it works
------------
1. **Today's reach, as F1 measures it** (:mod:`ictplan.fiber`): the study's households
   (:func:`ictplan.households.study_households`: household points, buildings or population
   cells, split between hamlets by the zone weights), snapped to the road/canal network
   (drops never cross water), their network distance (``[parameters.fiber] weight``) to
   the operator's fiber access — its access points where the study has an
   ``access_points`` layer, else its routes' corridors — and the hamlets reached under the
   ``share`` rule (``hamlet_threshold_frac`` of the households within ``drop_limit_m``).
   Neutral (``operator=None``): everyone's fiber, exactly F1's reading.
2. **The planning graph**: every network edge cut into equal pieces of at most
   ``fiber_piece_m`` (default 50 m; 100 m: +3 % km, 25 m: −1.6 %). A piece costs
   ``km × (aerial_share × cost_fiber_aerial + (1 − aerial_share) × cost_fiber_duct)`` where
   poles or aerial spans run along it (an aerial span within ``corridor_m`` of its middle,
   or a pole within ``corridor_m`` of it: ``placement = "aerial"``; ``aerial_share`` of
   such km is hung on the poles, the rest trenched where poles are full or roads are
   crossed), ``km × cost_fiber_duct`` elsewhere (``"duct"``), plus ``cost_crossing_vnd``
   when it crosses a river or canal line (a bridge, a ferry, a road over a canal, a bank
   passing a side canal). Reach along the graph keeps F1's metric (crossing costs in
   metres included).
3. **Terminals**: in each unreached hamlet, the households that must come within the
   drop limit: its rows sorted reachable first, then by network distance to today's
   fiber, taken until ``hamlet_threshold_frac`` of its households (the cheapest reading of
   the rule). Each needed row's terminal is the nearer end node of its piece, with a
   *slack*: the drop limit minus its drop and the way along to that node. A row whose
   slack is negative (its drop alone nearly fills the limit) cannot be reached from a
   node and is left out; a hamlet that cannot reach its share without such rows, or whose
   rows lie on a network piece without the operator's fiber, is *not connectable*
   (counted, with the reason).
4. **Steiner tree**: the graph's nodes on existing fiber (route corridors and access
   points) are contracted into one root; :func:`ictplan.planning.steiner.mehlhorn` (with
   one round of key-node insertion) joins the root and the terminals at least cost.
5. **Trimming by the drop limit**: a leaf branch need not run to its terminal, only to
   within the terminal's slack: each tree edge is kept when some terminal beyond it is
   farther than its slack from the edge's near end (computed bottom-up per depth level);
   pieces are kept whole (at most one piece too many per leaf). Each needed row then
   attaches at the deepest kept node on its way to the root, within its slack.
6. **Order** (:func:`ictplan.planning.steiner.prize_order`): hamlets are connected in
   order of marginal cost per household (the cost of the kept pieces between the hamlet's
   attachment nodes and what is already built, over the households it brings within reach),
   until ``households_target_frac`` of the province's households are within reach or the
   ``budget_vnd`` is spent; every piece gets the step that built it.
7. **Access points** (where the study reaches households through access points, F1 and F2
   count only those): new FATs (GPON) on the built tree, placed bottom-up where a needed
   row's slack runs out (the greedy that is optimal for covering points on a tree, each
   within its own radius; rows on today's cables get one at their own node), ``ports``
   sized to the households each serves (a multiple of ``[parameters.fiber]
   ports_per_access_point`` at the 2030 take-up). FATs are not in the extension's own
   ``cost_vnd`` nor in its order (routes only); the plan prices each at ``cost_fat_vnd``
   (:func:`ictplan.planning.tables.features`, item ``fiber_access_point``). Without an ``access_points`` layer the new routes give
   access along their whole length, as F1 reads routes.
8. **Segments**: the built pieces merged into lines between branch points, split where the
   order step, the placement or the commune changes; per segment its length, cost,
   crossings, the households it newly passes (their nearest new access lies on it), the
   hamlets that need it, and its order (1 = built first).

The re-run fiber analysis on a variant study with :meth:`FiberExtension.routes_layer`
appended to ``fiber_routes`` and :meth:`FiberExtension.access_points_layer` to
``access_points`` counts every connected hamlet as reached (tests/test_planning_fiber.py
checks it on the sample).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra

from .. import network as _nw
from .. import parameters as _parameters
from .._errors import ConfigError, InputValidationError
from ..fiber_reach import access_sources
from ..households import shares, study_households
from . import steiner as _st
from .fiber_graph import (
    _commune_of_points,
    _cut,
    _Graph,
    _node_xy,
    _piece_lines,
    _price,
    _segment_labels,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..fiber import FiberResult
    from ..study import Study

__all__ = ["FiberExtension", "extend_fiber", "SEGMENT_COLUMNS"]

log = logging.getLogger(__name__)

#: Columns of :attr:`FiberExtension.segments` (plus ``geometry``).
SEGMENT_COLUMNS = ("segment_id", "operator", "length_m", "placement", "aerial_m", "duct_m", "crossings", "cost_vnd",
                   "households_passed", "households_per_km", "hamlets_connected", "order", "commune_code")
NEUTRAL = "neutral"


# =========================================================================== result
@dataclass(eq=False)
class FiberExtension:
    """What :func:`extend_fiber` designed.

    ``segments``: one row per new segment (:data:`SEGMENT_COLUMNS`, LineStrings in the study
    CRS), built in ``order``. ``access_points``: the new FATs (``ap_id``, ``operator``,
    ``technology``, ``route_id``, ``ports``, ``households``; empty without an access-point
    layer). ``hamlets``: every hamlet unreached today (by this operator), with
    ``connectable``, ``reason``, ``households_gain`` (households brought within reach by
    design), ``order``, ``marginal_cost_vnd``, ``cum_cost_vnd``, ``selected`` and
    ``reached_after`` (the extension's own check). ``totals``: ``km``, ``cost_vnd``,
    ``hamlets_unreached``, ``hamlets_connected``, ``hamlets_not_connectable``,
    ``households_connected`` (newly within reach), ``households_reachable_before`` /
    ``_after`` and their shares, ``access_points``.
    """

    segments: gpd.GeoDataFrame
    access_points: gpd.GeoDataFrame
    hamlets: pd.DataFrame
    totals: dict[str, float]
    operator: str | None
    crs: Any
    parameters: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def routes_layer(self) -> gpd.GeoDataFrame:
        """The segments in the ``fiber_routes`` schema (``route_id``, ``operator``,
        ``technology`` GPON, ``placement``, ``owner``), ready to append to a variant."""
        s = self.segments
        op = s["operator"].astype(str).to_numpy() if len(s) else np.array([], dtype=object)
        return gpd.GeoDataFrame({"route_id": s["segment_id"].astype(str).to_numpy(), "operator": op,
                                 "technology": np.full(len(s), "GPON", dtype=object),
                                 "placement": s["placement"].astype(str).to_numpy(), "owner": op},
                                geometry=s.geometry.values, crs=self.crs)

    def access_points_layer(self) -> gpd.GeoDataFrame:
        """The new access points in the ``access_points`` schema (``ap_id``, ``operator``,
        ``technology``, ``route_id``, ``ports``)."""
        a = self.access_points
        return gpd.GeoDataFrame(a[["ap_id", "operator", "technology", "route_id", "ports"]].copy(),
                                geometry=a.geometry.values, crs=self.crs)


# =========================================================================== today's reach
@dataclass
class _State:
    """Households, their snapping and today's reach (by the operator's fiber)."""

    hh: pd.DataFrame
    a_h: sparse.csr_matrix
    snap: dict[str, np.ndarray]
    fsrc: pd.DataFrame
    mode: str
    reachable: np.ndarray
    hamlets: gpd.GeoDataFrame
    routes: gpd.GeoDataFrame | None


def _of_operator(layer: gpd.GeoDataFrame | None, operator: str | None, what: str) -> gpd.GeoDataFrame | None:
    if layer is None or operator is None:
        return layer
    if "operator" not in layer:
        raise ConfigError(f"the {what} layer has no operator column; plan a neutral host (operator=None).")
    return layer[layer["operator"].astype(str) == operator]


def _operators(study: Study) -> list[str]:
    ops: set[str] = set()
    for name in ("fiber_routes", "access_points"):
        if study.has(name):
            lay = study.layer(name)
            if "operator" in lay:
                ops |= set(lay["operator"].astype(str))
    return sorted(ops)


def _state(study: Study, net: _nw.EdgeNetwork, operator: str | None, pf: Any) -> _State:
    from ..fiber import _optional_layer

    communes = _optional_layer(study, "communes")
    hamlets = _optional_layer(study, "hamlets")
    if communes is None or hamlets is None or len(hamlets) == 0:
        raise ConfigError("the fiber extension connects hamlets: the study needs `communes` and `hamlets` layers.")
    if operator is not None and operator not in _operators(study):
        raise InputValidationError(f"operator {operator!r} has no fiber routes or access points in the study; "
                                   f"known: {', '.join(_operators(study))} (or None for a neutral host).")
    hh = study_households(study, communes, hamlets, min_confidence=pf.building_min_confidence,
                          min_area_m2=pf.building_min_area_m2)
    a_h = shares(hh, "hamlet", len(hamlets))
    snap = _nw.snap_xy(net, hh["x"].to_numpy(np.float64), hh["y"].to_numpy(np.float64),
                       max_distance_m=pf.drop_limit_m, with_xy=False, dry=True)
    aps = _optional_layer(study, "access_points")
    routes = _of_operator(_optional_layer(study, "fiber_routes"), operator, "fiber_routes")
    mode = "access_points" if aps is not None and len(aps) else "routes"
    if mode == "access_points":
        aps_op = _of_operator(aps, operator, "access_points")
        fsrc, _ = (access_sources(net, access_points=aps_op, far_access_m=pf.far_access_m)
                   if aps_op is not None and len(aps_op) else access_sources(net))
    else:
        fsrc, _ = access_sources(net, routes=routes, corridor_m=pf.corridor_m)
    d = _distance(net, snap, fsrc, pf)
    return _State(hh=hh, a_h=a_h, snap=snap, fsrc=fsrc, mode=mode, reachable=np.isfinite(d), hamlets=hamlets,
                  routes=routes)


def _distance(net: _nw.EdgeNetwork, snap: dict[str, np.ndarray], src: pd.DataFrame, pf: Any) -> np.ndarray:
    if len(src) == 0:
        return np.full(len(snap["edge_id"]), np.inf)
    return _nw.distance_to_nearest(net, snap, source_edge=src["edge_id"].to_numpy(),
                                   source_start_m=src["start_m"].to_numpy(), source_end_m=src["end_m"].to_numpy(),
                                   source_offset_m=src["offset_m"].to_numpy(), weight=pf.weight,
                                   limit_m=pf.drop_limit_m)


def _hamlet_reached(a_h: sparse.csr_matrix, reachable: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray]:
    tot = np.asarray(a_h.sum(axis=1)).reshape(-1)
    got = np.asarray(a_h @ reachable.astype(np.float64)).reshape(-1)
    share = np.divide(got, tot, out=np.zeros_like(tot), where=tot > 0)
    return (tot > 0) & (share >= thr - 1e-12), tot


# =========================================================================== sources and terminals
def _source_nodes(g: _Graph, st: _State, pf: Any) -> np.ndarray:
    """Planning nodes on the operator's existing fiber: inside its routes' corridors (same
    bank) and at its access points."""
    parts = []
    if st.routes is not None and len(st.routes):
        rs = st.fsrc if st.mode == "routes" else access_sources(g.net, routes=st.routes, corridor_m=pf.corridor_m)[0]
        parts.append(_nodes_in_stretches(g, rs))
    if st.mode == "access_points" and len(st.fsrc):
        e = st.fsrc["edge_id"].to_numpy(np.int64)
        al = st.fsrc["start_m"].to_numpy(np.float64)
        k = g.n_per_edge[e]
        j = np.clip(np.rint(al / (g.net.length_m[e] / k)).astype(np.int64), 0, k)
        p = g.first_piece[e] + np.minimum(j, k - 1)
        parts.append(np.where(j == k, g.b[p], g.a[p]))
    return np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)


def _nodes_in_stretches(g: _Graph, rs: pd.DataFrame) -> np.ndarray:
    if len(rs) == 0:
        return np.zeros(0, np.int64)
    e = rs["edge_id"].to_numpy(np.int64)
    lo, hi = rs["start_m"].to_numpy(np.float64), rs["end_m"].to_numpy(np.float64)
    k = g.n_per_edge[e]
    stepm = g.net.length_m[e] / k
    j0 = np.ceil(lo / stepm - 1e-6).astype(np.int64)
    j1 = np.floor(hi / stepm + 1e-6).astype(np.int64)
    cnt = np.maximum(j1 - j0 + 1, 0)
    rep = np.repeat(np.arange(len(e)), cnt)
    j = j0[rep] + np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    kk = k[rep]
    p = g.first_piece[e[rep]] + np.minimum(j, kk - 1)
    return np.unique(np.where(j >= kk, g.b[p], g.a[p]))


def _row_terminals(g: _Graph, snap: dict[str, np.ndarray], rows: np.ndarray,
                   limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Per household row: the nearer end node of its piece and its slack (inf-safe)."""
    e = snap["edge_id"][rows]
    node = np.full(len(rows), -1, np.int64)
    slack = np.full(len(rows), -np.inf)
    ok = e >= 0
    e, r = e[ok], rows[ok]
    k = g.n_per_edge[e]
    L = g.net.length_m[e]
    stepm = L / k
    al = np.clip(snap["along_m"][r], 0.0, L)
    j = np.minimum((al // stepm).astype(np.int64), k - 1)
    p = g.first_piece[e] + j
    to_a, to_b = al - g.t0[p], g.t1[p] - al
    scale = np.divide(g.f1[p], g.length[p], out=np.ones(len(p)), where=g.length[p] > 0)
    use_a = to_a <= to_b
    node[ok] = np.where(use_a, g.a[p], g.b[p])
    slack[ok] = limit - snap["drop_m"][r] - np.where(use_a, to_a, to_b) * scale
    return node, slack


def _needed_rows(st: _State, todo: np.ndarray, feasible: np.ndarray, dist_key: np.ndarray,
                 thr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per unreached hamlet the rows that must come within reach: reachable rows first,
    then feasible ones nearest today's fiber, until the share. Returns (hamlet, row) pairs
    of the needed not-yet-reachable rows and, per hamlet, whether the share is attainable."""
    coo = st.a_h.tocoo()
    sel = todo[coo.row] & (coo.data > 0)
    h, r, w = coo.row[sel].astype(np.int64), coo.col[sel].astype(np.int64), coo.data[sel]
    cls = np.where(st.reachable[r], 0, np.where(feasible[r], 1, 2))
    order = np.lexsort((dist_key[r], cls, h))
    h, r, w, cls = h[order], r[order], w[order], cls[order]
    nh = len(todo)
    tot = np.bincount(h, weights=w, minlength=nh)
    cum = np.cumsum(w)
    first = np.r_[True, h[1:] != h[:-1]] if len(h) else np.zeros(0, bool)
    base = np.maximum.accumulate(np.where(first, cum - w, 0.0)) if len(h) else cum
    before = cum - w - base  # households of the hamlet before this row
    need = (before < thr * tot[h] * (1 + 1e-9)) & (cls < 2)
    usable = np.bincount(h, weights=w * (cls < 2), minlength=nh)
    attainable = usable >= thr * tot * (1 + 1e-9) - 1e-12
    pick = need & (cls == 1) & attainable[h]
    return h[pick], r[pick], attainable


# =========================================================================== tree
@dataclass
class _Tree:
    """The contracted graph's Steiner tree rooted at the existing fiber (``root``)."""

    n: int
    root: int
    cmap: np.ndarray  # planning node -> contracted node
    piece_of_node: np.ndarray  # contracted child node -> planning piece of its parent edge (-1: none)
    parent: np.ndarray
    depth: np.ndarray
    tree: _st.SteinerTree


def _contract(g: _Graph, sources: np.ndarray) -> tuple[np.ndarray, int, sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Sources merged into one root. Returns (cmap, root, graph, edge keys, piece per key)."""
    root = g.n_nodes
    cmap = np.arange(g.n_nodes + 1, dtype=np.int64)
    cmap[sources] = root
    ca, cb = cmap[g.a], cmap[g.b]
    lo, hi = np.minimum(ca, cb), np.maximum(ca, cb)
    n = g.n_nodes + 1
    ok = lo != hi
    key = lo * n + hi
    order = np.lexsort((g.cost, key))
    order = order[ok[order]]
    first = np.r_[True, key[order][1:] != key[order][:-1]] if len(order) else np.zeros(0, bool)
    best = order[first]
    graph = _st.graph_from_edges(n, lo[best], hi[best], g.cost[best])
    return cmap, root, graph, key[best], best


def _steiner(g: _Graph, sources: np.ndarray, term_nodes: np.ndarray) -> tuple[_Tree, np.ndarray]:
    """Mehlhorn from the contracted root to the terminals of its component; returns the tree
    and, per terminal node, whether it is connectable (same component as the fiber)."""
    cmap, root, graph, keys, piece = _contract(g, sources)
    lab = connected_components(graph, directed=False)[1]
    ct = cmap[term_nodes]
    ok = lab[ct] == lab[root]
    tree = _st.mehlhorn(graph, np.r_[root, np.unique(ct[ok])], improve_rounds=1)
    n = graph.shape[0]
    tm = tree.matrix(n)
    from scipy.sparse.csgraph import breadth_first_order

    _, parent = breadth_first_order(tm, root, directed=False, return_predecessors=True)
    hop = sparse.csr_matrix((np.ones(tm.nnz), tm.indices, tm.indptr), shape=tm.shape)
    depth = dijkstra(hop, directed=False, indices=root, unweighted=True)
    has = parent >= 0
    pk = np.minimum(parent[has], np.flatnonzero(has)) * n + np.maximum(parent[has], np.flatnonzero(has))
    pon = np.full(n, -1, np.int64)
    pon[has] = piece[np.searchsorted(keys, pk)]
    return _Tree(n=n, root=root, cmap=cmap, piece_of_node=pon, parent=parent, depth=depth, tree=tree), ok


def _levels(t: _Tree) -> list[np.ndarray]:
    fin = np.isfinite(t.depth) & (np.arange(t.n) != t.root)
    nodes = np.flatnonzero(fin)
    d = t.depth[nodes].astype(np.int64)
    order = np.argsort(d, kind="stable")
    nodes, d = nodes[order], d[order]
    cuts = np.flatnonzero(np.diff(d)) + 1
    return np.split(nodes, cuts) if len(nodes) else []


def _trim(g: _Graph, t: _Tree, term_c: np.ndarray, slack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep-mask per contracted node (its parent edge is built) and each terminal's attach
    node (planning node id; an existing-fiber node where it attaches to today's fiber)."""
    need = np.full(t.n, -np.inf)
    np.maximum.at(need, term_c, -slack)  # the tightest slack at each node
    f1 = np.where(t.piece_of_node >= 0, g.f1[np.maximum(t.piece_of_node, 0)], 0.0)
    gmax = need.copy()
    levels = _levels(t)
    for lv in levels[::-1]:
        np.maximum.at(gmax, t.parent[lv], f1[lv] + gmax[lv])
    keep = (t.piece_of_node >= 0) & (f1 + gmax > 1e-9)
    att = np.full(t.n, -1, np.int64)
    for i, lv in enumerate(levels):
        if i == 0:  # children of the root: kept, or attach at the existing-fiber end of their piece
            p = t.piece_of_node[lv]
            entry = np.where(t.cmap[g.a[p]] == t.root, g.a[p], g.b[p])
            att[lv] = np.where(keep[lv], lv, entry)
        else:
            att[lv] = np.where(keep[lv], lv, att[t.parent[lv]])
    return keep, att


def _place_access(g: _Graph, t: _Tree, built: np.ndarray, c: np.ndarray, node: np.ndarray,
                  slack: np.ndarray) -> np.ndarray:
    """Access points on the built tree that put every row within its slack: bottom-up over
    the depth levels, a row's requirement climbs toward the root and an access point is
    placed at the last built node it can reach (the greedy that is optimal for covering
    points on a tree with a radius each). Rows on today's fiber get one at their own node,
    rows whose branch is not built at their entry node on today's fiber."""
    f1 = np.where(t.piece_of_node >= 0, g.f1[np.maximum(t.piece_of_node, 0)], 0.0)
    need = np.full(t.n, np.inf)
    at_root = c == t.root
    np.minimum.at(need, c[~at_root], slack[~at_root])
    down = np.full(t.n, np.inf)
    ap = np.zeros(t.n, bool)
    entry_ap: list[np.ndarray] = [node[at_root]]
    for lv in _levels(t)[::-1]:
        need[lv[need[lv] >= down[lv] - 1e-9]] = np.inf
        top = t.parent[lv] == t.root
        place = built[lv] & np.isfinite(need[lv]) & ((need[lv] - f1[lv] < -1e-9) | top)
        ap[lv[place]] = True
        down[lv[place]], need[lv[place]] = 0.0, np.inf
        left = lv[top & np.isfinite(need[lv])]  # unbuilt first piece: on today's fiber at its entry
        if len(left):
            p = t.piece_of_node[left]
            entry_ap.append(np.where(t.cmap[g.a[p]] == t.root, g.a[p], g.b[p]))
        lv2 = lv[~top]
        np.minimum.at(need, t.parent[lv2], need[lv2] - f1[lv2])
        np.minimum.at(down, t.parent[lv2], down[lv2] + f1[lv2])
    return np.unique(np.r_[np.flatnonzero(ap), *entry_ap]).astype(np.int64)


# =========================================================================== segments
def _segments(g: _Graph, study: Study, pieces: np.ndarray, step: np.ndarray, label: str) -> tuple[
        gpd.GeoDataFrame, np.ndarray]:
    """The built pieces merged into segments; returns the segments and each piece's segment."""
    lines = _piece_lines(g, pieces)
    mids = shapely.get_coordinates(shapely.line_interpolate_point(lines, 0.5, normalized=True))
    com = _commune_of_points(study, mids)
    ccode = pd.factorize(com)[0]
    attrs = (step.astype(np.int64) * 2 + g.aerial[pieces]) * (ccode.max() + 2 if len(ccode) else 1) + ccode
    lab = _segment_labels(g, pieces, attrs)
    nseg = int(lab.max()) + 1 if len(lab) else 0
    seg_step = np.zeros(nseg, np.int64)
    np.minimum.at(seg_step, lab, 0)
    seg_step[lab] = step
    length = np.bincount(lab, weights=g.length[pieces], minlength=nseg)
    cost = np.bincount(lab, weights=g.cost[pieces], minlength=nseg)
    cross = np.bincount(lab, weights=g.crossing[pieces].astype(float), minlength=nseg)
    aer = np.zeros(nseg, bool)
    aer[lab] = g.aerial[pieces]
    segcom = np.full(nseg, "", dtype=object)
    segcom[lab] = com
    by = np.argsort(lab, kind="stable")
    geom = shapely.line_merge(shapely.multilinestrings(lines[by], indices=lab[by]))
    # segment ids in build order
    rank = np.lexsort((-length, seg_step))
    new = np.empty(nseg, np.int64)
    new[rank] = np.arange(nseg)
    seg = gpd.GeoDataFrame({
        "segment_id": [f"EXT-{label}-{i + 1:04d}" for i in range(nseg)],
        "operator": label, "length_m": length[rank], "placement": np.where(aer[rank], "aerial", "duct"),
        "crossings": cross[rank].astype(np.int64), "cost_vnd": cost[rank], "order": seg_step[rank] + 1,
        "commune_code": segcom[rank]}, geometry=geom[rank], crs=g.net.crs)
    return seg, new[lab]


# =========================================================================== the design
@dataclass
class _Design:
    """Needed rows, their terminals and attachment, the trimmed tree and the order."""

    rows: np.ndarray  # needed household rows (one entry per hamlet x row pair)
    ham: np.ndarray  # the hamlet of each entry
    weight: np.ndarray  # its households in that hamlet
    attach: np.ndarray  # planning node where the row attaches
    connectable: np.ndarray  # per hamlet
    reason: np.ndarray  # per hamlet ("" when connectable)
    tree: _Tree | None
    keep: np.ndarray  # per contracted node: its parent piece is built
    order: _st.PrizeOrder | None
    groups: np.ndarray  # hamlet id of each prize group
    cnode: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # contracted terminal node per row
    slack: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per row
    node: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # planning terminal node per row


def _reasons(todo: np.ndarray, attainable: np.ndarray, unreachable_h: np.ndarray, n_sources: int) -> np.ndarray:
    out = np.full(len(todo), "", dtype=object)
    out[todo & ~attainable] = "households beyond the drop limit of every road or canal"
    out[todo & attainable & unreachable_h] = "no fiber of the operator on its network piece"
    if n_sources == 0:
        out[todo] = "no existing fiber to extend"
    return out


def _design(g: _Graph, st: _State, pf: Any, todo: np.ndarray) -> _Design:
    limit, thr = float(pf.drop_limit_m), float(pf.hamlet_threshold_frac)
    rows_all = np.arange(len(st.hh))
    node_r, slack_r = _row_terminals(g, st.snap, rows_all, limit)
    sources = _source_nodes(g, st, pf)
    nh = len(todo)
    if len(sources) == 0:
        empty = np.zeros(0, np.int64)
        return _Design(empty, empty, np.zeros(0), empty, np.zeros(nh, bool),
                       _reasons(todo, np.ones(nh, bool), np.zeros(nh, bool), 0), None, np.zeros(0, bool), None, empty)
    f1g = _st.graph_from_edges(g.n_nodes, g.a, g.b, np.maximum(g.f1, 1e-9))
    dnode = dijkstra(f1g, directed=False, indices=sources, min_only=True)
    # how far today's fiber must come toward a row (F1's missing metres of that row)
    key = np.where(node_r >= 0, dnode[np.maximum(node_r, 0)] - slack_r, np.inf)
    h, r, attainable = _needed_rows(st, todo, slack_r >= 0, key, thr)
    w = np.asarray(st.a_h[h, r]).reshape(-1)
    tree, ok = _steiner(g, sources, node_r[r])
    bad_h = np.zeros(nh, bool)
    bad_h[h[~ok]] = True
    connectable = todo & attainable & ~bad_h
    sel = connectable[h]
    h, r, w = h[sel], r[sel], w[sel]
    c = tree.cmap[node_r[r]]
    keep, att = _trim(g, tree, c, slack_r[r])
    attach = np.where(c == tree.root, node_r[r], att[np.minimum(c, tree.n - 1)])
    return _Design(r, h, w, attach, connectable, _reasons(todo, attainable, bad_h & todo & attainable, len(sources)),
                   tree, keep, None, np.zeros(0, np.int64), c, slack_r[r], node_r[r])


def _order(d: _Design, st: _State, pp: Any, budget_vnd: float | None, g: _Graph) -> None:
    """The prize-collecting order of the connectable hamlets on the trimmed tree."""
    t = d.tree
    if t is None or len(d.rows) == 0:
        return
    groups, gi = np.unique(d.ham, return_inverse=True)
    prize = np.bincount(gi, weights=d.weight, minlength=len(groups))
    kept = np.flatnonzero(d.keep)
    pa = t.parent[kept]
    trimmed = _st.SteinerTree(u=np.minimum(pa, kept), v=np.maximum(pa, kept), weight=g.cost[t.piece_of_node[kept]],
                              terminals=np.unique(np.r_[t.root, t.cmap[d.attach]]), method="mehlhorn+trim")
    target = None
    if pp.households_target_frac < 1.0:
        hh = st.hh["households"].to_numpy(np.float64)
        target = max(pp.households_target_frac * hh.sum() - hh[st.reachable].sum(), 0.0)
    d.order = _st.prize_order(trimmed.matrix(t.n) if len(kept) else sparse.csr_matrix((t.n, t.n)),
                              t.cmap[d.attach], np.maximum(prize, 1e-9), root=t.root, groups=gi, tree=trimmed,
                              target=target, budget=budget_vnd)
    d.groups = groups


def _new_sources(g: _Graph, st: _State, d: _Design, built: np.ndarray, nodes: np.ndarray) -> pd.DataFrame:
    """Access the extension adds: FATs at the attachment nodes (access-point studies), else
    the built pieces along their length."""
    if st.mode == "access_points":
        e, al = g.node_edge[nodes], g.node_along[nodes]
        return pd.DataFrame({"edge_id": e, "start_m": al, "end_m": al, "offset_m": 0.0})
    return pd.DataFrame({"edge_id": g.edge[built], "start_m": g.t0[built], "end_m": g.t1[built], "offset_m": 0.0})


def _built(d: _Design, g: _Graph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Built pieces, their order step, and the access-point nodes of the selected hamlets."""
    if d.order is None or d.tree is None:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    t, po = d.tree, d.order
    child = np.where(t.parent[po.tree.v] == po.tree.u, po.tree.v, po.tree.u)
    on = po.edge_step >= 0
    pieces, step = t.piece_of_node[child[on]], po.edge_step[on]
    built = np.zeros(t.n, bool)
    built[child[on]] = True
    sel_h = np.zeros(len(d.connectable), bool)
    sel_h[d.groups[po.selected]] = True
    rs = sel_h[d.ham]
    return pieces, step, _place_access(g, t, built, d.cnode[rs], d.node[rs], d.slack[rs])


def _attribution(g: _Graph, st: _State, pf: Any, pieces: np.ndarray, piece_seg: np.ndarray, nodes: np.ndarray,
                 new: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows newly within reach, the segment each is passed by (its nearest new access; −1:
    a FAT on today's fiber) and, per new access node, the households it serves."""
    newly = np.isfinite(_distance(g.net, st.snap, new, pf)) & ~st.reachable
    seg_of_node = np.full(g.n_nodes, -1, np.int64)
    seg_of_node[g.b[pieces]] = piece_seg
    seg_of_node[g.a[pieces]] = piece_seg
    rows = np.flatnonzero(newly)
    sub = {k: st.snap[k][rows] for k in ("edge_id", "along_m", "drop_m")}
    if st.mode == "access_points":
        _, src = _nw.nearest_source(g.net, sub, source_edge=new["edge_id"].to_numpy(),
                                    source_along_m=new["start_m"].to_numpy(), weight=pf.weight,
                                    limit_m=pf.drop_limit_m)
        row_seg = np.where(src >= 0, seg_of_node[nodes[np.maximum(src, 0)]], -1)
    else:
        mids = 0.5 * (g.t0[pieces] + g.t1[pieces])
        _, src = _nw.nearest_source(g.net, sub, source_edge=g.edge[pieces], source_along_m=mids, weight=pf.weight)
        row_seg = np.where(src >= 0, piece_seg[np.maximum(src, 0)], -1)
    hh = st.hh["households"].to_numpy(np.float64)
    served = np.bincount(np.maximum(src, 0), weights=hh[rows] * (src >= 0), minlength=len(nodes)) \
        if st.mode == "access_points" else np.zeros(len(nodes))
    full = np.full(len(hh), -2, np.int64)
    full[rows] = row_seg
    return newly, full, served


def _access_points(g: _Graph, nodes: np.ndarray, served: np.ndarray, seg: gpd.GeoDataFrame, piece_seg: np.ndarray,
                   pieces: np.ndarray, label: str, pf: Any) -> gpd.GeoDataFrame:
    xy = _node_xy(g, nodes)
    seg_of_node = np.full(g.n_nodes, -1, np.int64)
    seg_of_node[g.b[pieces]] = piece_seg
    seg_of_node[g.a[pieces]] = piece_seg
    s = seg_of_node[nodes]
    ids = seg["segment_id"].to_numpy(dtype=object)
    per = float(pf.ports_per_access_point)
    ports = per * np.maximum(np.ceil(served * pf.take_up_2030_frac / per), 1.0)
    return gpd.GeoDataFrame({
        "ap_id": [f"AP-EXT-{label}-{i + 1:05d}" for i in range(len(nodes))], "operator": label,
        "technology": "GPON", "route_id": np.where(s >= 0, ids[np.maximum(s, 0)] if len(ids) else "", ""),
        "ports": ports.astype(np.int64), "households": served,
        "on_existing_fiber": s < 0}, geometry=shapely.points(xy), crs=g.net.crs)


def _segment_stats(seg: gpd.GeoDataFrame, pp: Any, row_seg: np.ndarray, hh: np.ndarray, d: _Design, g: _Graph,
                   pieces: np.ndarray, piece_seg: np.ndarray) -> gpd.GeoDataFrame:
    n = len(seg)
    passed = np.bincount(row_seg[row_seg >= 0], weights=hh[row_seg >= 0], minlength=n)
    aerial = seg["placement"].to_numpy() == "aerial"
    L = seg["length_m"].to_numpy(np.float64)
    seg["aerial_m"] = np.where(aerial, pp.aerial_share * L, 0.0)
    seg["duct_m"] = L - seg["aerial_m"].to_numpy()
    seg["households_passed"] = passed
    seg["households_per_km"] = np.divide(passed, L / 1000.0, out=np.zeros(n), where=L > 0)
    count = np.zeros(n, np.int64)
    if d.order is not None and d.tree is not None and n:
        inc = d.order.incidence
        assert inc is not None
        A = inc[np.flatnonzero(d.order.selected)]  # selected groups x nodes
        node_seg = np.full(d.tree.n, -1, np.int64)
        child = np.flatnonzero(d.keep)
        piece_to_seg = np.full(len(g.a), -1, np.int64)
        piece_to_seg[pieces] = piece_seg
        node_seg[child] = piece_to_seg[d.tree.piece_of_node[child]]
        coo = A.tocoo()
        s = node_seg[coo.col]
        ok = s >= 0
        pairs = np.unique(coo.row[ok].astype(np.int64) * n + s[ok])
        count = np.bincount(pairs % n, minlength=n)
    seg["hamlets_connected"] = count
    return seg[[*SEGMENT_COLUMNS, "geometry"]]


def _hamlet_table(st: _State, d: _Design, todo: np.ndarray, reached_after: np.ndarray, tot: np.ndarray,
                  got_before: np.ndarray) -> pd.DataFrame:
    ham = st.hamlets
    idx = np.flatnonzero(todo)
    gain = np.bincount(d.ham, weights=d.weight, minlength=len(todo))
    order = np.full(len(todo), 0, np.int64)
    marg = np.full(len(todo), np.nan)
    cum = np.full(len(todo), np.nan)
    sel = np.zeros(len(todo), bool)
    if d.order is not None:
        po = d.order
        hs = d.groups[po.order]
        order[hs] = np.arange(1, len(hs) + 1)
        marg[hs], cum[hs] = po.marginal, po.cum_weight
        sel[hs] = True

    def col(name: str) -> Any:
        return ham[name].astype(str).to_numpy()[idx] if name in ham else ""

    out = pd.DataFrame({
        "hamlet_code": col("hamlet_code"), "hamlet_name": col("hamlet_name"), "commune_code": col("commune_code"),
        "households": tot[idx], "households_reachable_before": got_before[idx],
        "connectable": d.connectable[idx], "reason": d.reason[idx], "households_gain": gain[idx],
        "order": order[idx], "marginal_cost_vnd": marg[idx], "cum_cost_vnd": cum[idx],
        "households_per_bn_vnd": np.divide(gain[idx], marg[idx] / 1e9, out=np.full(len(idx), np.inf),
                                           where=marg[idx] > 0),
        "selected": sel[idx], "reached_after": reached_after[idx]})
    return out.sort_values(["selected", "order", "commune_code"], ascending=[False, True, True]).reset_index(drop=True)


def _check_args(households_target_frac: Any, budget_vnd: Any) -> None:
    f = households_target_frac
    if f is not None and (isinstance(f, bool) or not isinstance(f, (int, float)) or not 0 < f <= 1):
        raise InputValidationError(f"households_target_frac must be a share in (0, 1] of the province's households "
                                   f"within fiber reach, got {f!r} (1: connect every hamlet).")
    if budget_vnd is not None and (isinstance(budget_vnd, bool) or not isinstance(budget_vnd, (int, float))
                                   or not budget_vnd >= 0):
        raise InputValidationError(f"budget_vnd must be a number of VND >= 0, got {budget_vnd!r}.")


def extend_fiber(study: Study, fiber: FiberResult | None = None, *, operator: str | None = None,
                 households_target_frac: float | None = None, budget_vnd: float | None = None,
                 progress: bool | None = None, **overrides: Any) -> FiberExtension:
    """The least-cost fiber extension that reaches every unreached hamlet (module docstring).

    Parameters
    ----------
    study
        The study (``ictplan.study.load``): roads, communes, hamlets, population or
        households, fiber routes and/or access points; poles and spans price aerial km.
    fiber
        Today's :func:`ictplan.fiber.run` result: its network is reused (else built with the
        study's ``[parameters.fiber]``). Reach is recomputed for the operator.
    operator
        Whose network to extend (its routes and access points are the sources, its reach
        decides which hamlets are unreached); None: a neutral host, any operator's fiber.
    households_target_frac
        Stop once this share of the province's households is within reach (None: the
        study's ``[parameters.plan] households_target_frac``, default 1: every hamlet).
    budget_vnd
        Build only what fits this budget (hamlets in order; one that does not fit is skipped).
    progress
        Accepted for the common signature (no bar).
    overrides
        ``[parameters.plan]`` values (unit costs, ``aerial_share``, ``fiber_piece_m``).

    Raises
    ------
    ConfigError
        The study lacks roads, communes or hamlets; unknown parameters.
    InputValidationError
        An unknown operator, a target outside (0, 1], a negative budget.
    """
    t_start = time.perf_counter()
    _check_args(households_target_frac, budget_vnd)
    pf = _parameters.resolve("fiber", study)
    pp = _parameters.resolve("plan", study, **{**overrides, "households_target_frac": households_target_frac})
    if not study.has("roads"):
        raise ConfigError("the fiber extension runs along roads: add a `roads` layer under [layers].")
    net = fiber.network if fiber is not None else _nw.build_edges(
        study.layer("roads"), snap_tolerance_m=pf.snap_tolerance_m, working_crs=study.crs,
        canal_half_width_m=pf.canal_half_width_m)
    st = _state(study, net, operator, pf)
    g = _cut(net, float(pp.fiber_piece_m), pf.weight)
    _price(g, study, pp, pf.corridor_m)
    reached0, tot = _hamlet_reached(st.a_h, st.reachable, pf.hamlet_threshold_frac)
    got_before = np.asarray(st.a_h @ st.reachable.astype(np.float64)).reshape(-1)
    todo = ~reached0 & (tot > 0)
    d = _design(g, st, pf, todo)
    _order(d, st, pp, budget_vnd, g)
    pieces, step, nodes = _built(d, g)
    label = operator or NEUTRAL
    seg, piece_seg = _segments(g, study, pieces, step, label)
    new = _new_sources(g, st, d, pieces, nodes)
    newly, row_seg, served = _attribution(g, st, pf, pieces, piece_seg, nodes, new)
    hh = st.hh["households"].to_numpy(np.float64)
    seg = _segment_stats(seg, pp, row_seg, hh, d, g, pieces, piece_seg)
    aps = _access_points(g, nodes, served, seg, piece_seg, pieces, label, pf) if st.mode == "access_points" \
        else _access_points(g, nodes[:0], served[:0], seg, piece_seg, pieces, label, pf)
    reached_after, _ = _hamlet_reached(st.a_h, st.reachable | newly, pf.hamlet_threshold_frac)
    hams = _hamlet_table(st, d, todo, reached_after, tot, got_before)
    totals = _totals(seg, aps, hams, hh, st.reachable, newly, reached0, reached_after)
    totals["seconds"] = time.perf_counter() - t_start
    log.info("fiber extension (%s): %.1f km, %.3g VND, %d hamlets", label, totals["km"], totals["cost_vnd"],
             totals["hamlets_connected"])
    return FiberExtension(segments=seg, access_points=aps, hamlets=hams, totals=totals, operator=operator,
                          crs=net.crs, parameters={**dataclasses.asdict(pp), "budget_vnd": budget_vnd,
                                                   "access_mode": st.mode, "drop_limit_m": pf.drop_limit_m,
                                                   "hamlet_threshold_frac": pf.hamlet_threshold_frac},
                          diagnostics={"planning_nodes": g.n_nodes, "planning_pieces": len(g.a),
                                       "needed_rows": len(d.rows),
                                       "steiner_terminals": 0 if d.tree is None else len(d.tree.tree.terminals),
                                       "steiner_km_untrimmed": 0.0 if d.tree is None else float(
                                           g.length[d.tree.piece_of_node[d.tree.piece_of_node >= 0]].sum() / 1e3)})


def _totals(seg: gpd.GeoDataFrame, aps: gpd.GeoDataFrame, hams: pd.DataFrame, hh: np.ndarray,
            before: np.ndarray, newly: np.ndarray, reached0: np.ndarray, reached_after: np.ndarray) -> dict[str, float]:
    tot = float(hh.sum())
    b, a = float(hh[before].sum()), float(hh[before | newly].sum())
    return {"km": float(seg["length_m"].sum() / 1000.0), "cost_vnd": float(seg["cost_vnd"].sum()),
            "segments": len(seg), "crossings": int(seg["crossings"].sum()), "access_points": len(aps),
            "hamlets": len(reached0), "hamlets_reached_before": int(reached0.sum()),
            "hamlets_unreached": len(hams), "hamlets_selected": int(hams["selected"].sum()),
            "hamlets_connected": int((hams["reached_after"]).sum()),
            "hamlets_not_connectable": int((~hams["connectable"]).sum()),
            "hamlets_reached_after": int(reached_after.sum()),
            "households": tot, "households_reachable_before": b, "households_reachable_after": a,
            "households_connected": a - b, "pct_households_before": 100.0 * b / tot if tot else float("nan"),
            "pct_households_after": 100.0 * a / tot if tot else float("nan")}
