"""Steiner trees on a scipy sparse graph: Mehlhorn's 2-approximation, an exact MILP for
small graphs, and a prize-collecting order (the engine of :mod:`ictplan.planning.fiber_ext`).

The graph is a symmetric :class:`scipy.sparse` matrix of positive edge weights (row ``i``,
column ``j``: the edge between nodes ``i`` and ``j``; no entry: no edge).

* :func:`mehlhorn` — Mehlhorn (1988): one multi-source Dijkstra from all terminals
  (``scipy.sparse.csgraph.dijkstra(min_only=True)``) gives each node its nearest terminal
  (Voronoi regions); every edge between two regions is a candidate link of its two
  terminals, of length ``d(s, u) + w(u, v) + d(v, t)``; the minimum spanning tree of those
  links is expanded to network paths (the Dijkstra predecessors), the MST of their union
  is taken and non-terminal leaves are pruned. Within ``2 − 2/l`` of the optimum (``l`` the
  optimal tree's leaves). ``improve_rounds`` then repeats the construction with the tree's
  branch (key) nodes of degree ≥ 3 added as terminals and keeps the shorter tree
  (Steiner-node insertion; never longer than the plain tree).
* :func:`exact` — the optimum by a directed multi-commodity-flow MILP (HiGHS): one unit of
  flow from the first terminal to every other one, each arc's flow bounded by its binary
  "built" variable. For small graphs only: refused above ``max_nodes`` nodes or
  ``max_flow_vars`` flow variables.
* :func:`prize_order` — a tree rooted at ``root`` and terminals grouped with a prize each
  (households): groups are connected in order of marginal cost per prize (the weight of
  the tree edges between the group's terminals and what is already built, divided by its
  prize), until a prize target or a budget, and every edge gets the step that built it.

No Python loop over nodes or edges: every step is a csgraph call or a numpy operation on
whole arrays (loops run over the tree's depth levels or the pruning rounds only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import (
    breadth_first_order,
    connected_components,
    dijkstra,
    minimum_spanning_tree,
)

from .._errors import InputValidationError

__all__ = ["SteinerTree", "PrizeOrder", "mehlhorn", "exact", "prize_order", "graph_from_edges",
           "EXACT_MAX_NODES"]

#: Largest graph :func:`exact` accepts by default (nodes).
EXACT_MAX_NODES = 400
_EXACT_MAX_FLOW_VARS = 400_000


# =========================================================================== the result
@dataclass(frozen=True)
class SteinerTree:
    """A Steiner tree (a forest where the terminals lie in several components).

    ``u``, ``v``: its edges (node ids of the input graph, ``u < v``); ``weight``: their
    weights; ``terminals``: the (unique) terminals asked for; ``components``: how many
    trees (1 when the terminals are connected); ``method``; for :func:`exact`:
    ``optimal`` (proven), ``bound`` (the solver's dual bound) and ``gap``.
    """

    u: np.ndarray
    v: np.ndarray
    weight: np.ndarray
    terminals: np.ndarray
    components: int = 1
    method: str = "mehlhorn"
    optimal: bool | None = None
    bound: float | None = None
    gap: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def total(self) -> float:
        """Sum of the edge weights."""
        return float(self.weight.sum())

    @property
    def nodes(self) -> np.ndarray:
        """The tree's nodes (terminals included)."""
        return np.unique(np.concatenate([self.u, self.v, self.terminals]))

    def matrix(self, n_nodes: int) -> sparse.csr_matrix:
        """The tree as a symmetric sparse matrix on ``n_nodes`` nodes."""
        return graph_from_edges(n_nodes, self.u, self.v, self.weight)


@dataclass(frozen=True)
class PrizeOrder:
    """The order in which :func:`prize_order` connects the groups.

    ``order``: group ids, first connected first (only the selected ones);
    ``marginal``: the weight each added when it joined; ``prize``: its prize;
    ``cum_weight``, ``cum_prize``: running sums; ``selected``: per group, whether it was
    connected; ``step``: per group its position in ``order`` (−1: not connected);
    ``edge_step``: per tree edge (the ``tree``'s order) the step that built it (−1: not
    needed by a selected group); ``tree``: the tree it ordered; ``incidence``: group × node,
    1 where the edge from the node's parent lies on the group's way to the root.
    """

    order: np.ndarray
    marginal: np.ndarray
    prize: np.ndarray
    cum_weight: np.ndarray
    cum_prize: np.ndarray
    selected: np.ndarray
    step: np.ndarray
    edge_step: np.ndarray
    tree: SteinerTree
    incidence: sparse.csr_matrix | None = None  # group x node: node's parent edge is on the group's paths


# =========================================================================== graph helpers
def graph_from_edges(n_nodes: int, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> sparse.csr_matrix:
    """A symmetric CSR graph from an edge list; parallel edges keep their smallest weight,
    self-loops are dropped."""
    u = np.asarray(u, np.int64)
    v = np.asarray(v, np.int64)
    w = np.asarray(w, np.float64)
    a, b = np.minimum(u, v), np.maximum(u, v)
    ok = a != b
    a, b, w = a[ok], b[ok], w[ok]
    key = a * n_nodes + b
    order = np.lexsort((w, key))
    key, w = key[order], w[order]
    first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
    a, b, w = key[first] // n_nodes, key[first] % n_nodes, w[first]
    return sparse.csr_matrix((np.r_[w, w], (np.r_[a, b], np.r_[b, a])), shape=(n_nodes, n_nodes))


def _check_graph(graph: Any) -> sparse.csr_matrix:
    if not sparse.issparse(graph):
        raise InputValidationError(f"the graph must be a scipy sparse matrix, got {type(graph).__name__}; "
                                   "build one with ictplan.planning.steiner.graph_from_edges(n, u, v, w).")
    g = sparse.csr_matrix(graph, dtype=np.float64)
    if g.shape[0] != g.shape[1]:
        raise InputValidationError(f"the graph matrix must be square, got shape {g.shape}.")
    g.sum_duplicates()
    if g.nnz and (not np.isfinite(g.data).all() or (g.data <= 0).any()):
        raise InputValidationError("edge weights must be finite and > 0 (a zero-weight edge is dropped by scipy); "
                                   f"min seen {float(np.min(g.data)):g}. Contract zero-weight edges first.")
    if g.nnz and abs(g - g.T).max() > 1e-9 * float(np.abs(g.data).max()):
        raise InputValidationError("the graph matrix must be symmetric (an undirected graph): "
                                   "use graph_from_edges(n, u, v, w) or (G + G.T) of a triangle.")
    return g


def _check_terminals(terminals: Any, n: int) -> np.ndarray:
    t = np.unique(np.asarray(terminals, np.int64).ravel())
    if len(t) and (t[0] < 0 or t[-1] >= n):
        raise InputValidationError(f"terminals must be node ids in 0..{n - 1}; got {int(t[0])}..{int(t[-1])}.")
    return t


def _upper_edges(g: sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    up = sparse.triu(g, k=1).tocoo()
    return up.row.astype(np.int64), up.col.astype(np.int64), up.data.astype(np.float64)


def _edge_weights(g: sparse.csr_matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.asarray(g[a, b]).reshape(-1) if len(a) else np.zeros(0)


# =========================================================================== Mehlhorn
def _terminal_links(g: sparse.csr_matrix, term: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                                       np.ndarray, np.ndarray]:
    """Voronoi regions of the terminals and, per pair of neighbouring regions, the shortest
    link through one boundary edge. Returns (pred, link_i, link_j, link_len, link_edge
    (a, b) stacked) with link_i/j positions in ``term``."""
    dist, pred, src = dijkstra(g, directed=False, indices=term, min_only=True, return_predecessors=True)
    a, b, w = _upper_edges(g)
    sa, sb = src[a], src[b]
    ok = (sa >= 0) & (sb >= 0) & (sa != sb)
    a, b, w, sa, sb = a[ok], b[ok], w[ok], sa[ok], sb[ok]
    d1 = dist[a] + w + dist[b]
    ia, ib = np.searchsorted(term, sa), np.searchsorted(term, sb)
    lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
    key = lo * len(term) + hi
    order = np.lexsort((d1, key))
    first = np.r_[True, key[order][1:] != key[order][:-1]] if len(order) else np.zeros(0, bool)
    pick = order[first]
    return pred, lo[pick], hi[pick], d1[pick], np.stack([a[pick], b[pick]])


def _expand(pred: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges of the predecessor paths from ``ends`` back to their terminals (deduplicated)."""
    seen = np.zeros(len(pred), bool)
    cur = np.unique(ends)
    us, vs = [], []
    while len(cur):
        seen[cur] = True
        p = pred[cur]
        has = p >= 0
        us.append(cur[has])
        vs.append(p[has])
        nxt = np.unique(p[has])
        cur = nxt[~seen[nxt]]
    return (np.concatenate(us), np.concatenate(vs)) if us else (np.zeros(0, np.int64), np.zeros(0, np.int64))


def _prune(n: int, a: np.ndarray, b: np.ndarray, keep_node: np.ndarray) -> np.ndarray:
    """Mask of the forest edges left after repeatedly removing leaves not in ``keep_node``."""
    if len(a) == 0:
        return np.zeros(0, bool)
    t = sparse.csr_matrix((np.ones(2 * len(a)), (np.r_[a, b], np.r_[b, a])), shape=(n, n))
    deg = np.diff(t.indptr).astype(np.int64)
    alive = deg > 0
    cur = np.flatnonzero((deg == 1) & ~keep_node)
    while len(cur):
        alive[cur] = False
        lens = t.indptr[cur + 1] - t.indptr[cur]
        starts = np.repeat(t.indptr[cur], lens)
        offs = np.arange(int(lens.sum())) - np.repeat(np.cumsum(lens) - lens, lens)
        nb = t.indices[starts + offs]
        nb = nb[alive[nb]]
        np.subtract.at(deg, nb, 1)
        nb = np.unique(nb)
        cur = nb[(deg[nb] <= 1) & ~keep_node[nb]]
    return alive[a] & alive[b]


def _mehlhorn_once(g: sparse.csr_matrix, term: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    n = g.shape[0]
    k = len(term)
    if k < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), max(k, 0)
    pred, li, lj, ll, le = _terminal_links(g, term)
    links = sparse.csr_matrix((ll, (li, lj)), shape=(k, k))
    mst = minimum_spanning_tree(links).tocoo()
    n_comp = connected_components(links, directed=False)[0]
    # the chosen links' boundary edges, and the paths from their ends back to the terminals
    lkey = li * k + lj  # sorted: one link per pair, in key order
    mr, mc = mst.row.astype(np.int64), mst.col.astype(np.int64)  # int32 from scipy: k * k overflows
    pos = np.searchsorted(lkey, np.minimum(mr, mc) * k + np.maximum(mr, mc))
    ba, bb = le[0][pos], le[1][pos]
    pu, pv = _expand(pred, np.r_[ba, bb])
    ua, ub = np.r_[ba, pu], np.r_[bb, pv]
    union = graph_from_edges(n, ua, ub, _edge_weights(g, ua, ub))
    t2 = minimum_spanning_tree(union).tocoo()
    a, b = np.minimum(t2.row, t2.col).astype(np.int64), np.maximum(t2.row, t2.col).astype(np.int64)
    is_term = np.zeros(n, bool)
    is_term[term] = True
    keep = _prune(n, a, b, is_term)
    a, b = a[keep], b[keep]
    return a, b, _edge_weights(g, a, b), int(n_comp)


def mehlhorn(graph: Any, terminals: Any, *, improve_rounds: int = 1) -> SteinerTree:
    """Mehlhorn's Steiner-tree approximation (module docstring), with ``improve_rounds``
    rounds of key-node insertion (0: the plain algorithm, as networkx's
    ``steiner_tree(method="mehlhorn")``).

    Raises
    ------
    InputValidationError
        Not a square symmetric sparse matrix of positive weights, or terminals out of range.
    """
    g = _check_graph(graph)
    term = _check_terminals(terminals, g.shape[0])
    a, b, w, n_comp = _mehlhorn_once(g, term)
    best = (a, b, w)
    rounds = 0
    for _ in range(max(int(improve_rounds), 0)):
        deg = np.bincount(np.r_[best[0], best[1]], minlength=g.shape[0])
        key = np.setdiff1d(np.flatnonzero(deg >= 3), term)
        if len(key) == 0:
            break
        a2, b2, w2, _ = _mehlhorn_once(g, np.union1d(term, key))
        is_term = np.zeros(g.shape[0], bool)
        is_term[term] = True
        keep = _prune(g.shape[0], a2, b2, is_term)
        a2, b2, w2 = a2[keep], b2[keep], w2[keep]
        if w2.sum() >= best[2].sum() - 1e-9 * max(best[2].sum(), 1.0):
            break
        best, rounds = (a2, b2, w2), rounds + 1
    return SteinerTree(u=best[0], v=best[1], weight=best[2], terminals=term, components=n_comp,
                       method="mehlhorn", info={"improve_rounds_used": rounds})


# =========================================================================== exact MILP
def _flow_model(n: int, a: np.ndarray, b: np.ndarray, w: np.ndarray, root: int,
                sinks: np.ndarray) -> tuple[np.ndarray, sparse.csc_matrix, np.ndarray, np.ndarray, int]:
    """The multi-commodity-flow MILP: columns x (2m arcs, binary) then f^k (K × 2m);
    rows: f^k_arc − x_arc ≤ 0, and flow conservation per node and commodity."""
    m = len(a)
    tail, head = np.r_[a, b], np.r_[b, a]
    n_arc, k = 2 * m, len(sinks)
    cost = np.r_[np.r_[w, w], np.zeros(k * n_arc)]
    kk = np.repeat(np.arange(k), n_arc)
    arc = np.tile(np.arange(n_arc), k)
    fcol = n_arc + kk * n_arc + arc
    # capacity rows (k * n_arc): f - x <= 0
    cap_r = np.arange(k * n_arc)
    rows = [cap_r, cap_r]
    cols = [fcol, arc]
    vals = [np.ones(k * n_arc), -np.ones(k * n_arc)]
    # conservation rows: inflow - outflow = demand (1 at the sink, -1 at the root)
    base = k * n_arc
    rows += [base + kk * n + head[arc], base + kk * n + tail[arc]]
    cols += [fcol, fcol]
    vals += [np.ones(k * n_arc), -np.ones(k * n_arc)]
    rhs_cons = np.zeros(k * n)
    rhs_cons[np.arange(k) * n + sinks] += 1.0
    rhs_cons[np.arange(k) * n + root] -= 1.0
    n_rows = base + k * n
    A = sparse.csc_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n_rows, n_arc + k * n_arc))
    lo = np.r_[np.full(base, -np.inf), rhs_cons]
    hi = np.r_[np.zeros(base), rhs_cons]
    return cost, A, lo, hi, n_arc


def exact(graph: Any, terminals: Any, *, max_nodes: int = EXACT_MAX_NODES, time_limit_s: float = 60.0,
          mip_gap: float = 0.0) -> SteinerTree:
    """The minimum Steiner tree by a directed multi-commodity-flow MILP (HiGHS).

    Small graphs only: the model has ``2m (K + 1)`` columns for ``m`` edges and ``K + 1``
    terminals. The terminals must be connected.

    Raises
    ------
    InputValidationError
        More than ``max_nodes`` nodes or too many flow variables (use :func:`mehlhorn`),
        terminals in different components, or a bad graph.
    """
    import highspy

    g = _check_graph(graph)
    n = g.shape[0]
    term = _check_terminals(terminals, n)
    if n > max_nodes:
        raise InputValidationError(f"the exact Steiner MILP is for small graphs: {n} nodes > max_nodes={max_nodes}. "
                                   "Use steiner.mehlhorn() (2-approximation) or raise max_nodes.")
    a, b, w = _upper_edges(g)
    if 2 * len(a) * max(len(term) - 1, 1) > _EXACT_MAX_FLOW_VARS:
        raise InputValidationError(f"the exact Steiner MILP would need {2 * len(a) * (len(term) - 1):,} flow variables "
                                   f"(> {_EXACT_MAX_FLOW_VARS:,}); use steiner.mehlhorn() or fewer terminals.")
    if len(term) < 2:
        return SteinerTree(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), term, len(term), "exact",
                           True, 0.0, 0.0)
    lab = connected_components(g, directed=False)[1]
    if len(np.unique(lab[term])) > 1:
        raise InputValidationError("the terminals lie in different components of the graph; an exact Steiner tree "
                                   "needs them connected (solve each component apart).")
    cost, A, lo, hi, n_arc = _flow_model(n, a, b, w, int(term[0]), term[1:])
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = A.shape[1], A.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_ = np.zeros(A.shape[1])
    lp.col_upper_ = np.ones(A.shape[1])
    lp.row_lower_, lp.row_upper_ = lo, hi
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = A.indptr, A.indices, A.data
    lp.integrality_ = [highspy.HighsVarType.kInteger] * n_arc + [highspy.HighsVarType.kContinuous] * (A.shape[1] - n_arc)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.passModel(lp)
    h.run()
    status = h.getModelStatus()
    x = np.asarray(h.getSolution().col_value)[:n_arc]
    built = (x[: len(a)] > 0.5) | (x[len(a):] > 0.5)
    info = h.getInfo()
    optimal = status == highspy.HighsModelStatus.kOptimal
    return SteinerTree(u=a[built], v=b[built], weight=w[built], terminals=term, components=1, method="exact",
                       optimal=bool(optimal), bound=float(info.mip_dual_bound), gap=float(info.mip_gap),
                       info={"status": h.modelStatusToString(status)})


# =========================================================================== prize-collecting order
def _rooted(tree: SteinerTree, n: int, root: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BFS order from ``root``, parent of each node (−9999: none) and the weight of the
    edge from its parent (per node)."""
    t = tree.matrix(n)
    order, parent = breadth_first_order(t, root, directed=False, return_predecessors=True)
    pw = np.zeros(n)
    has = parent >= 0
    pw[has] = _edge_weights(t, np.flatnonzero(has), parent[has])
    return order, parent, pw


def _path_incidence(parent: np.ndarray, depth: np.ndarray, nodes: np.ndarray, groups: np.ndarray,
                    n_groups: int) -> sparse.csc_matrix:
    """Group × node incidence: node x is marked for group g when the edge (parent(x), x)
    lies on the path from one of g's terminals to the root. Walked level by level from the
    deepest, so each (group, node) pair is handled once."""
    n = len(parent)
    ok = np.isfinite(depth[nodes]) & (parent[nodes] >= 0)
    d = depth[nodes[ok]].astype(np.int64)
    keys = groups[ok].astype(np.int64) * n + nodes[ok]
    if len(keys) == 0:
        return sparse.csc_matrix((n_groups, n))
    by = np.argsort(-d, kind="stable")
    keys, d = keys[by], d[by]
    starts = np.r_[0, np.flatnonzero(np.diff(d)) + 1, len(d)]
    level_of = {int(d[starts[i]]): (starts[i], starts[i + 1]) for i in range(len(starts) - 1)}
    out = []
    cur = np.zeros(0, np.int64)
    for lv in range(int(d[0]), 0, -1):
        lo_hi = level_of.get(lv)
        cur = np.unique(np.r_[cur, keys[lo_hi[0]:lo_hi[1]]] if lo_hi else cur)
        out.append(cur)
        c_ = cur % n
        cur = (cur // n) * n + parent[c_]
        cur = cur[parent[c_] >= 0]
        cur = cur[parent[cur % n] >= 0]  # the root's own "edge" is none
    key = np.concatenate(out) if out else np.zeros(0, np.int64)
    return sparse.csc_matrix((np.ones(len(key)), (key // n, key % n)), shape=(n_groups, n))


def prize_order(graph: Any, terminals: Any, prizes: Any, *, root: int, groups: Any = None,
                tree: SteinerTree | None = None, target: float | None = None,
                budget: float | None = None) -> PrizeOrder:
    """Connect terminal groups in order of marginal weight per prize (module docstring).

    Parameters
    ----------
    graph
        The graph (as :func:`mehlhorn`).
    terminals
        Terminal node ids (repeats allowed: several terminals of one group on one node).
    prizes
        Per group, its prize (e.g. households; > 0).
    root
        Where the built network starts (e.g. the contracted existing fiber).
    groups
        Per terminal its group id in ``0..len(prizes)-1`` (default: terminal i is group i).
    tree
        A tree spanning ``root`` and the terminals (default: :func:`mehlhorn` of them).
    target
        Stop once the prizes connected reach this sum (default: connect all).
    budget
        Connect only while the weight built stays within this; a group that does not fit
        the budget left is skipped and cheaper ones after it still join.

    Returns
    -------
    PrizeOrder
        Groups whose terminals the tree does not reach are never selected.

    Raises
    ------
    InputValidationError
        Mismatched lengths, a group id out of range or a prize ≤ 0.
    """
    g = _check_graph(graph)
    n = g.shape[0]
    nodes = np.asarray(terminals, np.int64).ravel()
    prize = np.asarray(prizes, np.float64).ravel()
    grp = np.arange(len(nodes)) if groups is None else np.asarray(groups, np.int64).ravel()
    if len(grp) != len(nodes) or (len(grp) and (grp.min() < 0 or grp.max() >= len(prize))):
        raise InputValidationError("groups must give one group id in 0..len(prizes)-1 per terminal.")
    if (prize <= 0).any() or not np.isfinite(prize).all():
        raise InputValidationError("every prize must be finite and > 0 (drop the groups worth nothing).")
    if tree is None:
        tree = mehlhorn(g, np.r_[root, nodes])
    _, parent, pw = _rooted(tree, n, int(root))
    tm = tree.matrix(n)
    hop = sparse.csr_matrix((np.ones(tm.nnz), tm.indices, tm.indptr), shape=tm.shape)
    depth = dijkstra(hop, directed=False, indices=int(root), unweighted=True)
    reach = (parent >= 0) | (np.arange(n) == root)
    ok_g = np.ones(len(prize), bool)
    np.logical_and.at(ok_g, grp, reach[nodes])
    A = _path_incidence(parent, depth, nodes, grp, len(prize))
    marginal = np.asarray(A @ pw).reshape(-1)
    return _greedy(A, pw, prize, marginal, ok_g, parent, tree, target, budget)


def _greedy(A: sparse.csc_matrix, pw: np.ndarray, prize: np.ndarray, marginal: np.ndarray, ok_g: np.ndarray,
            parent: np.ndarray, tree: SteinerTree, target: float | None, budget: float | None) -> PrizeOrder:
    Ar = A.tocsr()
    built = np.zeros(len(pw), bool)
    left = ok_g.copy()
    step_of = np.full(len(prize), -1, np.int64)
    node_step = np.full(len(pw), -1, np.int64)
    order: list[int] = []
    marg: list[float] = []
    spent, got = 0.0, 0.0
    room = np.inf if budget is None else float(budget)
    goal = np.inf if target is None else float(target)
    while left.any() and got < goal - 1e-9:
        fits = left & (marginal <= room - spent + 1e-9 * max(room, 1.0))
        if not fits.any():
            break
        with np.errstate(divide="ignore"):
            ratio = np.where(fits, prize / np.maximum(marginal, 0.0), -np.inf)
        best = int(np.argmax(ratio))
        new = Ar.indices[Ar.indptr[best]:Ar.indptr[best + 1]]
        new = new[~built[new]]
        built[new] = True
        node_step[new] = len(order)
        cols = A[:, new]
        marginal = marginal - np.asarray(cols @ pw[new]).reshape(-1)
        order.append(best)
        marg.append(float(pw[new].sum()))
        spent += marg[-1]
        got += float(prize[best])
        step_of[best] = len(order) - 1
        left[best] = False
    o = np.asarray(order, np.int64)
    m = np.asarray(marg, np.float64)
    # per tree edge (u < v): the step of its child end
    child = np.where(parent[tree.v] == tree.u, tree.v, tree.u)
    return PrizeOrder(order=o, marginal=m, prize=prize[o], cum_weight=np.cumsum(m), cum_prize=np.cumsum(prize[o]),
                      selected=step_of >= 0, step=step_of, edge_step=node_step[child], tree=tree, incidence=Ar)
