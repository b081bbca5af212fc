"""Postal gaps: where to open postal service points so every commune has a staffed one (P2)
and the province reaches its count (P1, 300), putting the most people within reach.

>>> import ictplan as ip
>>> plan = ip.planning.postal.postal_gaps(ip.study.load("data/camau"))
>>> plan.summary                 # communes without a staffed point, points proposed, people, cost
>>> plan.points_layer()          # the proposals in the postal_points schema, to append to a variant

How. A person is *within reach* of a postal point when the road distance from their grid cell
to the point is at most ``postal_reach_m`` (:class:`ictplan.parameters.PlanParameters`,
default 3 km): people are the population raster's cells, each snapped to the road and canal-bank
network without crossing water (:func:`ictplan.network.snap_xy`, ``dry=True``, as the fiber
analysis snaps households); the distance is that drop plus the way along the network (edge
``length_m``: ferries and bridges count their length, not the cable planner's crossing cost)
to the point's own snapped position plus the point's drop. The network is built from the
``roads`` layer with the study's ``[parameters.fiber]`` ``snap_tolerance_m`` and
``canal_half_width_m``.

Candidates (per commune, by the commune holding them; ``candidate_kind`` says which):

* ``commune_office``, ``agency``: the study's ``facilities`` of those kinds (the People's
  Committee and State agencies: where a commune's cultural post point usually sits);
* ``commune_centre``: the commune polygon's representative point (every commune has one, so a
  commune without roads or facilities still gets a candidate);
* ``junction``: road-network nodes where three or more edges meet inside the commune, at most
  one per ``postal_candidate_spacing_m`` square (the busiest junction of the square, then the
  lowest node id): junctions stand in for the markets along roads, which the sample's layers
  do not hold.

Choice (max coverage, two stages, each greedy on a sparse people × candidate matrix):

1. **P2**: each commune without a staffed point gets one point, its candidate that adds the most
   people newly within reach (ties: the most people within reach in all); communes are served
   in the order of their best gain, the gains updated after each choice. With one point per
   commune the choice is exact (an arg-max per commune given the points before it).
2. **P1**: ``postal_points_target − existing points − P2 points`` more points (none if the count
   is already reached), from every candidate of the province: lazy greedy on the people newly
   within reach (ties, and once nobody more can be reached: the most people within reach). The
   greedy's optimality bound is reported: ``people_bound`` ≥ the best any set of that many
   points could add (the data-dependent bound ``f(S) + Σ top-k marginal gains w.r.t. S``;
   greedy ≥ (1 − 1/e) of the optimum).

Every proposed point is staffed, with Internet and online public services (P2–P4), kind
``cultural_post`` in a Xã, ``post_office`` in a Phường / Thị trấn, and costs
``cost_postal_point_vnd``.
"""

from __future__ import annotations

import heapq
import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from .. import network as nw
from .. import parameters as _parameters
from .._errors import ConfigError, InputValidationError
from ..services import AGENCY_KINDS, assign_communes, postal_presence

if TYPE_CHECKING:  # pragma: no cover
    from ..study import Study

__all__ = ["PostalPlan", "postal_gaps", "coverage_matrix", "greedy_max_coverage", "POINT_COLUMNS"]

log = logging.getLogger(__name__)

POINT_COLUMNS = ("point_id", "commune_code", "commune_name", "reason", "candidate_kind", "people_within_reach",
                 "people_new", "cost_vnd", "kind", "name", "geometry")
"""Columns of :attr:`PostalPlan.points`."""

REASON_P2 = "P2: no staffed point"
REASON_P1 = "P1: to {target}"
_WEIGHT = "length_m"


@dataclass(frozen=True)
class PostalPlan:
    """The proposed postal points and what they achieve.

    ``points``: one row per proposal (:data:`POINT_COLUMNS`, the study's CRS), P2 points first;
    ``people_within_reach`` counts everyone within reach of the point, ``people_new`` those it
    brings within reach of a point for the first time (in the order chosen). ``communes``: every
    commune with ``points``, ``staffed`` today, ``proposed`` and ``people`` /
    ``people_within_reach_before`` / ``_after``. ``summary``: the figures of the report.
    """

    points: gpd.GeoDataFrame
    communes: pd.DataFrame
    summary: dict[str, float]
    parameters: dict[str, Any] = field(default_factory=dict)

    def points_layer(self) -> gpd.GeoDataFrame:
        """The proposals in the ``postal_points`` schema (``point_id, name, commune_code, staffed,
        internet, online_services, kind``), ready to append to the study's layer."""
        p = self.points
        return gpd.GeoDataFrame({"point_id": p["point_id"].astype(str), "name": p["name"].astype(str),
                                 "commune_code": p["commune_code"].astype(str), "staffed": True, "internet": True,
                                 "online_services": True, "kind": p["kind"].astype(str)},
                                geometry=p.geometry.values, crs=p.crs)


# ============================================================================ reach
def coverage_matrix(network: nw.EdgeNetwork, people: Mapping[str, np.ndarray], *, source_edge: np.ndarray,
                    source_along_m: np.ndarray, source_offset_m: np.ndarray | None = None, reach_m: float,
                    chunk: int = 256) -> sparse.csc_matrix:
    """Which snapped people each point source reaches within ``reach_m`` (a bool people × source matrix).

    ``people`` is :func:`ictplan.network.snap_xy` output (``edge_id`` −1: unsnapped, reached by
    nothing); a source lies ``source_along_m`` along edge ``source_edge`` with its own drop
    ``source_offset_m``. Distances are as :func:`ictplan.network.distance_to_nearest` with one
    source (weight ``length_m``): drop + the way to an end node of the person's edge + the network
    distance to the source, or the direct way along a shared edge. One Dijkstra (limit
    ``reach_m``) per ``chunk`` sources from virtual source nodes; reached nodes expand to their
    edges' people with numpy.
    """
    net = network
    if not reach_m >= 0:
        raise InputValidationError(f"reach_m must be >= 0 metres, got {reach_m!r}.")
    se = np.asarray(source_edge, np.int64)
    sa = np.asarray(source_along_m, np.float64)
    so = np.zeros(len(se)) if source_offset_m is None else np.asarray(source_offset_m, np.float64)
    pe = np.asarray(people["edge_id"], np.int64)
    order, starts = _people_by_edge(pe, net.n_edges)
    inc_ptr, inc_edge = _incidence(net)
    rows_out, cols_out = [], []
    for lo in range(0, len(se), chunk):
        s = slice(lo, min(lo + chunk, len(se)))
        r, c = _chunk_cover(net, people, order, starts, inc_ptr, inc_edge, se[s], sa[s], so[s], float(reach_m))
        rows_out.append(r)
        cols_out.append(c + lo)
    rows = np.concatenate(rows_out) if rows_out else np.empty(0, np.int64)
    cols = np.concatenate(cols_out) if cols_out else np.empty(0, np.int64)
    m = sparse.csc_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(len(pe), len(se)))
    m.sum_duplicates()
    m.data[:] = True
    return m


def _people_by_edge(pe: np.ndarray, n_edges: int) -> tuple[np.ndarray, np.ndarray]:
    """People sorted by edge and each edge's first position (CSR): edge e holds order[starts[e]:starts[e+1]]."""
    ok = np.flatnonzero(pe >= 0)
    order = ok[np.argsort(pe[ok], kind="stable")]
    starts = np.searchsorted(pe[order], np.arange(n_edges + 1))
    return order, starts


def _incidence(net: nw.EdgeNetwork) -> tuple[np.ndarray, np.ndarray]:
    """Node → incident edges (CSR); an edge appears once per end (a loop twice)."""
    ends = np.concatenate([net.u, net.v])
    edge = np.concatenate([np.arange(net.n_edges), np.arange(net.n_edges)])
    o = np.argsort(ends, kind="stable")
    ptr = np.searchsorted(ends[o], np.arange(net.n_nodes + 1))
    return ptr, edge[o]


def _expand(ptr: np.ndarray, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For CSR ``ptr`` and row keys: (index of the key repeated, position in the CSR's values)."""
    cnt = ptr[keys + 1] - ptr[keys]
    rep = np.repeat(np.arange(len(keys)), cnt)
    pos = np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt) + np.repeat(ptr[keys], cnt)
    return rep, pos


def _source_graph(net: nw.EdgeNetwork, se: np.ndarray, sa: np.ndarray, so: np.ndarray) -> sparse.csr_matrix:
    n, k = net.n_nodes, len(se)
    base = net._csr(_WEIGHT).tocoo()
    L = net.length_m
    rows = np.concatenate([base.row, n + np.arange(k), n + np.arange(k)])
    cols = np.concatenate([base.col, net.u[se], net.v[se]])
    data = np.concatenate([base.data, so + sa, so + (L[se] - sa)])
    data = np.maximum(data, 1e-12)  # scipy drops explicit zeros
    return sparse.csr_matrix((data, (rows, cols)), shape=(n + k, n + k))


def _chunk_cover(net: nw.EdgeNetwork, people: Mapping[str, np.ndarray], order: np.ndarray, starts: np.ndarray,
                 inc_ptr: np.ndarray, inc_edge: np.ndarray, se: np.ndarray, sa: np.ndarray, so: np.ndarray,
                 reach: float) -> tuple[np.ndarray, np.ndarray]:
    """(person, source) pairs within ``reach`` for one chunk of sources."""
    n, k = net.n_nodes, len(se)
    if k == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    D = dijkstra(_source_graph(net, se, sa, so), directed=True, indices=n + np.arange(k), limit=reach)[:, :n]
    src, node = np.nonzero(np.isfinite(D))
    dnode = D[src, node]
    i, pos = _expand(inc_ptr, node)
    src, node, dnode, edge = src[i], node[i], dnode[i], inc_edge[pos]
    j, ppos = _expand(starts, edge)
    person = order[ppos]
    src, node, dnode, edge = src[j], node[j], dnode[j], edge[j]
    t = np.asarray(people["along_m"], np.float64)[person]
    drop = np.asarray(people["drop_m"], np.float64)[person]
    to_end = np.where(node == net.u[edge], t, net.length_m[edge] - t)
    d = drop + dnode + to_end
    keep = d <= reach
    # the direct way along a shared edge
    jj, dpos = _expand(starts, se)
    dp = order[dpos]
    dd = so[jj] + np.abs(np.asarray(people["along_m"], np.float64)[dp] - sa[jj]) + \
        np.asarray(people["drop_m"], np.float64)[dp]
    near = dd <= reach
    return (np.concatenate([person[keep], dp[near]]).astype(np.int64),
            np.concatenate([src[keep], jj[near]]).astype(np.int64))


# ============================================================================ choice
def greedy_max_coverage(cover: sparse.spmatrix, weights: np.ndarray, k: int, *, covered: np.ndarray | None = None,
                        allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, float]:
    """Lazy greedy max coverage: ``k`` columns of ``cover`` (rows × candidates, bool) adding the most weight.

    Rows already ``covered`` count for nothing; only ``allowed`` candidates (bool per column,
    default all) are chosen. Ties, and picks once no weight is left to add, go to the column
    with the most weight in all, then the lowest index.

    Returns
    -------
    (chosen, gains, bound)
        Column indices in the order chosen, the weight each added, and an upper bound on what
        the best ``k`` allowed columns could add: ``f(S) + Σ top-k marginal gains w.r.t. S``
        (evaluated at the greedy's final set S; submodularity).
    """
    A = sparse.csc_matrix(cover, dtype=bool)
    w = np.asarray(weights, np.float64)
    cov = np.zeros(A.shape[0], bool) if covered is None else np.asarray(covered, bool).copy()
    ok = np.ones(A.shape[1], bool) if allowed is None else np.asarray(allowed, bool)
    total = np.asarray(A.T @ w).ravel()
    gain0 = np.asarray(A.T @ np.where(cov, 0.0, w)).ravel()
    heap = [(-gain0[c], -total[c], int(c)) for c in np.flatnonzero(ok)]
    heapq.heapify(heap)
    chosen: list[int] = []
    gains: list[float] = []
    while heap and len(chosen) < k:
        _, neg_t, c = heapq.heappop(heap)
        rows = A.indices[A.indptr[c]:A.indptr[c + 1]]
        g = float(w[rows][~cov[rows]].sum())
        if heap and (-g, neg_t, c) > heap[0]:
            heapq.heappush(heap, (-g, neg_t, c))
            continue
        chosen.append(c)
        gains.append(g)
        cov[rows] = True
    left = np.asarray(A.T @ np.where(cov, 0.0, w)).ravel()[ok]
    bound = float(sum(gains) + np.sort(left)[::-1][:k].sum())
    return np.array(chosen, np.int64), np.array(gains), bound


def _p2_choice(cover: sparse.csc_matrix, w: np.ndarray, covered: np.ndarray, cand_commune: np.ndarray,
               needy: list[str]) -> list[tuple[int, float]]:
    """One candidate per needy commune: repeatedly the commune whose best candidate adds the most."""
    cov = covered.copy()
    total = np.asarray(cover.T @ w).ravel()
    todo = [c for c in needy if (cand_commune == c).any()]
    out = []
    while todo:
        gain = np.asarray(cover.T @ np.where(cov, 0.0, w)).ravel()
        best = None
        for code in todo:
            idx = np.flatnonzero(cand_commune == code)
            i = idx[np.lexsort((idx, -total[idx], -gain[idx]))[0]]
            if best is None or (gain[i], total[i]) > (gain[best[1]], total[best[1]]):
                best = (code, int(i))
        assert best is not None
        code, i = best
        out.append((i, float(gain[i])))
        cov[cover.indices[cover.indptr[i]:cover.indptr[i + 1]]] = True
        todo.remove(code)
    return out


# ============================================================================ inputs
def _network(study: Study) -> nw.EdgeNetwork:
    if not study.has("roads"):
        raise ConfigError(f"the postal gaps need the study's roads layer (road distance to a point); "
                          f"add `roads = {{ path = ... }}` under [layers] in {study.root / 'study.toml'}.")
    fib = _parameters.resolve("fiber", study)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nw.build_edges(study.layer_in_crs("roads"), snap_tolerance_m=fib.snap_tolerance_m,
                              working_crs=study.crs, canal_half_width_m=fib.canal_half_width_m)


def _people(study: Study, net: nw.EdgeNetwork) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The populated cells snapped to the network (dry drops) and their people."""
    pop = study.population
    r, c = np.nonzero(pop.counts > 0)
    t = pop.grid.transform
    x, y = t.c + (c + 0.5) * t.a, t.f + (r + 0.5) * t.e
    snap = nw.snap_xy(net, x, y, with_xy=False, dry=True)
    return snap, pop.counts[r, c].astype(np.float64)


def _junctions(net: nw.EdgeNetwork, communes: gpd.GeoDataFrame, spacing_m: float) -> pd.DataFrame:
    """Nodes of degree ≥ 3 inside a commune, the busiest per ``spacing_m`` square per commune."""
    deg = np.bincount(np.concatenate([net.u, net.v]), minlength=net.n_nodes)
    nodes = np.flatnonzero(deg >= 3)
    pts = shapely.points(net.node_xy[nodes])
    geoms = np.asarray(communes.geometry.values, dtype=object)
    pi, ci = shapely.STRtree(geoms).query(pts, predicate="within")
    first = np.unique(pi, return_index=True)[1]
    pi, ci = pi[first], ci[first]
    xy = net.node_xy[nodes[pi]]
    df = pd.DataFrame({"node": nodes[pi], "deg": deg[nodes[pi]], "commune_code": communes["commune_code"].astype(str)
                       .to_numpy()[ci], "gx": np.floor(xy[:, 0] / spacing_m), "gy": np.floor(xy[:, 1] / spacing_m)})
    df = df.sort_values(["deg", "node"], ascending=[False, True]).drop_duplicates(["commune_code", "gx", "gy"])
    df = df.sort_values("node")
    return pd.DataFrame({"commune_code": df["commune_code"].to_numpy(), "candidate_kind": "junction",
                         "x": net.node_xy[df["node"], 0], "y": net.node_xy[df["node"], 1]})


def candidates(study: Study, net: nw.EdgeNetwork, communes: gpd.GeoDataFrame, spacing_m: float) -> pd.DataFrame:
    """The candidate locations (``commune_code``, ``candidate_kind``, ``x``, ``y``; see the module docstring)."""
    parts = []
    if study.has("facilities"):
        fac = study.layer_in_crs("facilities")
        fac = fac[fac["kind"].astype(str).str.lower().isin(AGENCY_KINDS)]
        if len(fac):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                code = assign_communes(fac, communes, what="facilities")
            ok = code.notna().to_numpy()
            parts.append(pd.DataFrame({"commune_code": code[ok].astype(str).to_numpy(),
                                       "candidate_kind": fac["kind"].astype(str).str.lower().to_numpy()[ok],
                                       "x": fac.geometry.x.to_numpy()[ok], "y": fac.geometry.y.to_numpy()[ok]}))
    rp = communes.geometry.representative_point()
    parts.append(pd.DataFrame({"commune_code": communes["commune_code"].astype(str).to_numpy(),
                               "candidate_kind": "commune_centre", "x": rp.x.to_numpy(), "y": rp.y.to_numpy()}))
    parts.append(_junctions(net, communes, spacing_m))
    return pd.concat(parts, ignore_index=True)


def _check(prm: Any) -> None:
    for name in ("postal_reach_m", "postal_candidate_spacing_m", "cost_postal_point_vnd"):
        v = getattr(prm, name)
        if not (np.isfinite(v) and v >= 0) or (name == "postal_candidate_spacing_m" and v <= 0):
            raise InputValidationError(f"[parameters.plan] {name} = {v!r}: give a finite number of "
                                       f"{'VND' if name.endswith('vnd') else 'metres'} > 0.")
    if prm.postal_points_target < 0:
        raise InputValidationError(f"[parameters.plan] postal_points_target = {prm.postal_points_target}: give a "
                                   "count >= 0 (P1: 300).")


def _existing_reach(net: nw.EdgeNetwork, snap: Mapping[str, np.ndarray], points: gpd.GeoDataFrame,
                    reach_m: float) -> tuple[np.ndarray, int]:
    """People within reach of a point today (any point, staffed or not), and the points that do not snap."""
    if not len(points):
        return np.zeros(len(snap["edge_id"]), bool), 0
    ps = nw.snap_xy(net, points.geometry.x.to_numpy(), points.geometry.y.to_numpy(), dry=True)
    ok = ps["edge_id"] >= 0
    d = nw.distance_to_nearest(net, snap, source_edge=ps["edge_id"][ok], source_start_m=ps["along_m"][ok],
                               source_offset_m=ps["drop_m"][ok], weight=_WEIGHT, limit_m=reach_m)
    return d <= reach_m, int((~ok).sum())


def _people_communes(study: Study, communes: gpd.GeoDataFrame) -> np.ndarray:
    """The commune code of every populated cell (by its centre; '' outside every commune)."""
    from rasterio import features

    pop = study.population
    grid = pop.grid
    idx = features.rasterize(((g, i + 1) for i, g in enumerate(communes.geometry.values)), out_shape=grid.shape,
                             transform=grid.transform, fill=0, dtype="int32")
    codes = np.concatenate([[""], communes["commune_code"].astype(str).to_numpy()]).astype(object)
    return codes[idx[pop.counts > 0]]


def _points_frame(cand: pd.DataFrame, picks: list[tuple[int, float, str]], cover: sparse.csc_matrix, w: np.ndarray,
                  communes: gpd.GeoDataFrame, prm: Any, crs: Any) -> gpd.GeoDataFrame:
    info = communes.set_index(communes["commune_code"].astype(str))
    idx = np.array([p[0] for p in picks], np.int64)
    code = cand["commune_code"].to_numpy()[idx].astype(str)
    name = info["commune_name"].reindex(code).astype(str).to_numpy()
    ctype = info["commune_type"].reindex(code).astype(str).str.lower().to_numpy() \
        if "commune_type" in info else np.full(len(idx), "xã")
    rural = np.array([t.startswith("xã") for t in ctype], bool)
    short = [n.split(" ", 1)[1] if n.lower().startswith("xã ") and " " in n else n for n in name]
    total = np.asarray(cover[:, idx].T @ w).ravel() if len(idx) else np.empty(0)
    frame = pd.DataFrame({
        "point_id": [f"PLAN-BD-{i + 1:04d}" for i in range(len(idx))],
        "commune_code": code, "commune_name": name, "reason": [p[2] for p in picks],
        "candidate_kind": cand["candidate_kind"].to_numpy()[idx], "people_within_reach": total,
        "people_new": [p[1] for p in picks], "cost_vnd": float(prm.cost_postal_point_vnd),
        "kind": np.where(rural, "cultural_post", "post_office"),
        "name": [f"Điểm BĐ-VHX {s} (đề xuất)" if r else f"Bưu cục {n} (đề xuất)"
                 for s, n, r in zip(short, name, rural, strict=True)]})
    geom = shapely.points(cand["x"].to_numpy()[idx], cand["y"].to_numpy()[idx]) if len(idx) else []
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geom, crs=crs), crs=crs)[list(POINT_COLUMNS)]


def _commune_table(communes: gpd.GeoDataFrame, presence: pd.DataFrame, points: gpd.GeoDataFrame,
                   people_code: np.ndarray, w: np.ndarray, before: np.ndarray, after: np.ndarray) -> pd.DataFrame:
    codes = communes["commune_code"].astype(str)
    people = pd.DataFrame({"c": people_code, "w": w, "b": w * before, "a": w * after}).groupby("c")[["w", "b", "a"]].sum()
    prop = points.groupby("commune_code").size() if len(points) else pd.Series(dtype=float)
    out = pd.DataFrame({"commune_code": codes.to_numpy(), "commune_name": communes["commune_name"].to_numpy(),
                        "points": presence["points"].reindex(codes).to_numpy(),
                        "staffed": presence["staffed"].reindex(codes).to_numpy(),
                        "proposed": prop.reindex(codes).fillna(0).astype(int).to_numpy(),
                        "people": people["w"].reindex(codes).fillna(0.0).to_numpy(),
                        "people_within_reach_before": people["b"].reindex(codes).fillna(0.0).to_numpy(),
                        "people_within_reach_after": people["a"].reindex(codes).fillna(0.0).to_numpy()})
    return out


def postal_gaps(study: Study, *, progress: bool | None = None, **overrides: Any) -> PostalPlan:
    """Postal points for the communes without a staffed one (P2) and up to the province's count (P1).

    Parameters
    ----------
    study
        A study with ``communes``, ``postal_points``, ``roads`` and a population raster
        (``facilities`` optional: commune offices and agencies become candidates).
    progress
        Accepted for the planner's common signature (nothing is shown).
    **overrides
        :class:`ictplan.parameters.PlanParameters` fields (``postal_reach_m``,
        ``postal_points_target``, ``postal_candidate_spacing_m``, ``cost_postal_point_vnd``; the
        others are accepted and unused), on top of the study's ``[parameters.plan]``.

    Returns
    -------
    PostalPlan
        The proposals, per-commune figures and the summary (module docstring: how they are chosen).

    Raises
    ------
    ConfigError
        A missing layer, or an unknown parameter.
    InputValidationError
        A negative reach, spacing, cost or target.
    """
    prm = _parameters.resolve("plan", study, **overrides)
    _check(prm)
    for name in ("communes", "postal_points"):
        if not study.has(name):
            raise ConfigError(f"the postal gaps need the study's {name} layer; add it under [layers] in "
                              f"{study.root / 'study.toml'}.")
    communes = study.layer_in_crs("communes")
    existing = study.layer_in_crs("postal_points")
    presence = postal_presence(existing, communes)
    net = _network(study)
    snap, w = _people(study, net)
    cand = candidates(study, net, communes, prm.postal_candidate_spacing_m)
    cs = nw.snap_xy(net, cand["x"].to_numpy(), cand["y"].to_numpy(), dry=True)
    ok = cs["edge_id"] >= 0
    cand, cs = cand[ok].reset_index(drop=True), {k: v[ok] for k, v in cs.items()}
    reach = float(prm.postal_reach_m)
    cover = coverage_matrix(net, snap, source_edge=cs["edge_id"], source_along_m=cs["along_m"],
                            source_offset_m=cs["drop_m"], reach_m=reach)
    before, existing_unsnapped = _existing_reach(net, snap, existing, reach)
    needy = presence.index[presence["has_staffed"] == 0].astype(str).tolist()
    p2 = _p2_choice(cover, w, before, cand["commune_code"].to_numpy().astype(str), needy)
    mid = before.copy()
    for i, _ in p2:
        mid[cover.indices[cover.indptr[i]:cover.indptr[i + 1]]] = True
    n_existing = int(presence["points"].sum())
    k1 = max(0, int(prm.postal_points_target) - n_existing - len(p2))
    chosen, gains, bound = greedy_max_coverage(cover, w, k1, covered=mid)
    after = mid.copy()
    for i in chosen:
        after[cover.indices[cover.indptr[i]:cover.indptr[i + 1]]] = True
    picks = [(i, g, REASON_P2) for i, g in p2] + \
        [(int(i), float(g), REASON_P1.format(target=prm.postal_points_target)) for i, g in zip(chosen, gains, strict=True)]
    points = _points_frame(cand, picks, cover, w, communes, prm, study.crs)
    table = _commune_table(communes, presence, points, _people_communes(study, communes), w, before, after)
    summary = _summary(presence, needy, p2, k1, chosen, gains, bound, w, before, mid, after, points, prm)
    summary.update(candidates=float(len(cand)), candidates_unsnapped=float((~ok).sum()),
                   people_unsnapped=float(w[snap["edge_id"] < 0].sum()),
                   existing_points_unsnapped=float(existing_unsnapped))
    log.info("postal gaps: %d communes without a staffed point, %d points proposed (%d P2, %d P1), %.0f people newly "
             "within %.0f m", len(needy), len(points), len(p2), len(chosen), summary["people_newly_within_reach"], reach)
    return PostalPlan(points=points, communes=table, summary=summary,
                      parameters={k: getattr(prm, k) for k in ("postal_reach_m", "postal_points_target",
                                                               "postal_candidate_spacing_m", "cost_postal_point_vnd")})


def _summary(presence: pd.DataFrame, needy: list[str], p2: list[tuple[int, float]], k1: int, chosen: np.ndarray,
             gains: np.ndarray, bound: float, w: np.ndarray, before: np.ndarray, mid: np.ndarray, after: np.ndarray,
             points: gpd.GeoDataFrame, prm: Any) -> dict[str, float]:
    n_existing = float(presence["points"].sum())
    total = float(w.sum())
    return {
        "communes": float(len(presence)),
        "communes_without_staffed": float(len(needy)),
        "communes_left_without_staffed": float(len(needy) - len(p2)),
        "points_existing": n_existing,
        "points_target": float(prm.postal_points_target),
        "points_p2": float(len(p2)),
        "points_p1": float(len(chosen)),
        "points_p1_short": float(k1 - len(chosen)),
        "points_proposed": float(len(points)),
        "points_after": n_existing + len(points),
        "people": total,
        "people_within_reach_before": float(w[before].sum()),
        "people_within_reach_after_p2": float(w[mid].sum()),
        "people_within_reach_after": float(w[after].sum()),
        "people_newly_within_reach": float(w[after].sum() - w[before].sum()),
        "p1_people_new": float(np.sum(gains)),
        "p1_people_bound": float(bound),
        "share_within_reach_before": float(w[before].sum() / total) if total else float("nan"),
        "share_within_reach_after": float(w[after].sum() / total) if total else float("nan"),
        "cost_vnd": float(len(points) * prm.cost_postal_point_vnd),
    }
