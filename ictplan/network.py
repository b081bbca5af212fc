"""A routable network from road and canal-bank lines; snapping points onto it; reach searches.

The network is built once from the ``roads`` layer (kinds per
``schemas.SCHEMAS["roads"]``) and kept in two forms:

* :class:`EdgeNetwork`, a compact table of numpy arrays (node coordinates, edge end
  nodes, lengths, costs, geometries). Every heavy step (snapping millions of points,
  multi-source searches) runs on it with numpy and :mod:`scipy.sparse.csgraph`.
* a :class:`networkx.MultiGraph` for planners (:func:`build_network`,
  :func:`to_networkx`), with ``G.graph["crs"]``, ``G.graph["repairs"]`` and
  ``G.graph["components"]``; convert back with :func:`from_networkx`.

Edge attributes: ``edge_id``, ``length_m`` (geometric length in metres),
``crossing_cost_m`` (the share of a bridge's or ferry's crossing cost that falls on this
edge), ``cost_m = length_m + crossing_cost_m`` (the default search weight), ``kind``,
``component`` and ``geometry`` (oriented from ``u`` to ``v``). Node attributes: ``x``,
``y`` (metres in the network's CRS) and ``component``.

Rules of the build (each repair is counted in ``repairs``):

* ``river`` lines are not traversable along their length (they are what bridges and
  ferries cross) and are left out; ``road``, ``canal`` (canal banks), ``bridge`` and
  ``ferry`` lines are edges.
* MultiLineStrings are exploded, Z values dropped, empty and zero-length parts removed.
* Lines are noded where they cross or where one line's end lies on another's interior
  (a bucketed numpy segment test picks the pairs, GEOS intersects only those, and one
  vectorised split follows; attributes are kept, which a ``union_all`` would lose). A
  line passing through its own end point is noded there too (GEOS's mod-2 rule would
  call that point boundary).
* Line ends closer than ``snap_tolerance_m`` are joined into one node (clusters of
  ends within the tolerance, transitively).
* Edges collapsed by the snapping and duplicate edges (same end nodes, same length and
  same midpoint to 1 mm) are removed.

Distances from a point on an edge (:func:`distance_to_nearest`) are exact: the drop from
the point to the edge, plus the way along the edge to one of its end nodes and the network
distance from there, or, for a source on the same edge, the direct way along the edge.
"""

from __future__ import annotations

import math
import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from . import crs as _crs
from ._errors import (
    CRSMismatchError,
    EmptyLayerError,
    GeometryTypeError,
    InputValidationError,
    MissingColumnError,
    NetworkError,
    RepairWarning,
)
from .schemas import SCHEMAS

__all__ = [
    "EdgeNetwork",
    "TRAVERSABLE_KINDS",
    "build_edges",
    "build_network",
    "to_networkx",
    "from_networkx",
    "to_csgraph",
    "to_gdfs",
    "snap_points",
    "snap_xy",
    "distance_to_nearest",
    "node_distances",
]

TRAVERSABLE_KINDS = ("road", "canal", "bridge", "ferry")
"""Line kinds that become edges; ``river`` lines are crossed, never followed."""

_ALL_KINDS = SCHEMAS["roads"].choices["kind"]


# =========================================================================== the table
@dataclass(frozen=True, eq=False)
class EdgeNetwork:
    """A noded, undirected network as numpy arrays (metres in ``crs``).

    Attributes
    ----------
    node_xy : (n_nodes, 2) float64 node coordinates.
    u, v : (n_edges,) int64 end nodes; ``geometry[i]`` runs from ``u[i]`` to ``v[i]``.
    length_m, crossing_cost_m, cost_m : (n_edges,) float64.
    geometry : (n_edges,) shapely LineStrings.
    kind : (n_edges,) str.
    source_index : (n_edges,) the index label of the input line each edge came from.
    node_component : (n_nodes,) int64 component id, 0 = the largest component.
    crs : the metric CRS of the coordinates.
    repairs : counts of every repair made while building.
    """

    node_xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    crossing_cost_m: np.ndarray
    geometry: np.ndarray
    kind: np.ndarray
    source_index: np.ndarray
    node_component: np.ndarray
    crs: pyproj.CRS
    repairs: dict[str, int] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.u.shape[0])

    @property
    def cost_m(self) -> np.ndarray:
        return self.length_m + self.crossing_cost_m

    @property
    def edge_component(self) -> np.ndarray:
        return self.node_component[self.u]

    @property
    def component_sizes(self) -> list[int]:
        """Node counts per component, largest first (index = component id)."""
        return np.bincount(self.node_component).tolist() if self.n_nodes else []

    def weight_array(self, weight: str = "cost_m") -> np.ndarray:
        """Per-edge weights: ``"cost_m"`` or ``"length_m"`` (or any per-edge array attribute)."""
        if weight not in ("cost_m", "length_m", "crossing_cost_m"):
            raise InputValidationError(
                f"unknown edge weight {weight!r}: use 'cost_m' (length + crossing cost) or 'length_m'."
            )
        return np.asarray(getattr(self, weight), dtype=np.float64)

    @cached_property
    def _segments(self) -> dict[str, np.ndarray]:
        """Straight segments of all edge geometries (for vectorised snapping)."""
        coords, idx = shapely.get_coordinates(self.geometry, return_index=True)
        same = idx[:-1] == idx[1:]
        k = np.flatnonzero(same)
        a = coords[k]
        b = coords[k + 1]
        seg_len = np.hypot(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])
        edge = idx[k]
        cum = np.cumsum(seg_len) - seg_len
        first = np.r_[True, edge[1:] != edge[:-1]]
        start_cum = np.maximum.accumulate(np.where(first, cum, -np.inf))
        return {"a": a, "b": b, "len": seg_len, "edge": edge, "offset": cum - start_cum}

    def _csr(self, weight: str = "cost_m") -> sparse.csr_matrix:
        """Symmetric adjacency for ``weight`` (cached)."""
        cache = self.__dict__.setdefault("_csr_cache", {})
        if weight not in cache:
            cache[weight] = _csr(self.n_nodes, self.u, self.v, self.weight_array(weight))
        return cache[weight]

    @cached_property
    def _tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.geometry)


# =========================================================================== build
def _validate_lines(lines: Any, crossing_cost_column: str | None) -> None:
    if not isinstance(lines, gpd.GeoDataFrame):
        raise InputValidationError(
            f"the road/canal lines must be a GeoDataFrame, got {type(lines).__name__}. "
            "Read them with `ictplan.io.read_layer(path, 'roads')`."
        )
    if len(lines) == 0:
        raise EmptyLayerError("the road/canal layer is empty: a network needs at least one line.")
    if "kind" not in lines.columns:
        raise MissingColumnError(
            "the road/canal layer has no 'kind' column (seen: "
            f"{', '.join(map(str, lines.columns))}). Add one with values road/canal/river/bridge/ferry."
        )
    kinds = lines["kind"].astype(str).str.strip().str.lower()
    bad = sorted(set(kinds.unique()) - set(_ALL_KINDS))
    if bad:
        raise InputValidationError(
            f"unknown line kinds {bad} in the road/canal layer; allowed: {', '.join(_ALL_KINDS)}."
        )
    gt = shapely.get_type_id(lines.geometry.values)
    ok = np.isin(gt, [-1, 1, 5]) | lines.geometry.isna().to_numpy()
    if not ok.all():
        seen = sorted(set(lines.geometry.geom_type[~ok].astype(str)))
        raise GeometryTypeError(
            f"the road/canal layer must hold (Multi)LineStrings; {int((~ok).sum())} features are {seen}. "
            "Convert polygons to their boundaries or drop them."
        )
    if crossing_cost_column and crossing_cost_column in lines.columns:
        c = pd.to_numeric(lines[crossing_cost_column], errors="coerce")
        if (c < 0).any():
            raise InputValidationError(
                f"column {crossing_cost_column!r} has {int((c < 0).sum())} negative crossing costs "
                f"(min {float(c.min())}); costs are extra metres and must be >= 0."
            )


def _noding_pairs(geoms: np.ndarray, *, max_pairs: int = 4_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of lines (i < j) that meet somewhere other than end to end.

    A numpy pre-filter in place of a GEOS relate per touching pair: straight segments are
    bucketed on a grid; every pair of segments of different lines sharing a bucket is
    tested with orientation signs. A pair is kept when two segments cross properly, or a
    segment end lies on the other segment (within 1e-7 m) at a point that is not an end
    of both lines. The kept pairs are then noded exactly by GEOS (:func:`_node_lines`).
    """
    coords, idx = shapely.get_coordinates(geoms, return_index=True)
    n = len(geoms)
    counts = np.bincount(idx, minlength=n)
    first = np.cumsum(counts) - counts
    last = first + counts - 1
    start_xy, end_xy = coords[first], coords[last]
    # a line with an interior vertex on its own end point (self-touching) gets no "end"
    # exemption below, like a closed line: GEOS decides for it
    inner = np.ones(len(coords), bool)
    inner[first] = False
    inner[last] = False
    weird_v = inner & (np.all(coords == start_xy[idx], axis=1) | np.all(coords == end_xy[idx], axis=1))
    weird = np.zeros(n, bool)
    weird[idx[weird_v]] = True
    weird |= np.all(start_xy == end_xy, axis=1)
    k = np.flatnonzero(idx[:-1] == idx[1:])
    sa, sb, sline = coords[k], coords[k + 1], idx[k]
    m = len(k)
    if m < 2:
        return np.array([], np.int64), np.array([], np.int64)
    lo = np.minimum(sa, sb)
    hi = np.maximum(sa, sb)
    ext = hi - lo
    C = max(float(np.median(np.maximum(ext[:, 0], ext[:, 1]))) * 2.0, 1e-6)
    # registration pieces no longer than C per axis: each touches <= 2 x 2 buckets
    nsub = np.maximum(np.ceil(np.maximum(ext[:, 0], ext[:, 1]) / C).astype(np.int64), 1)
    seg = np.repeat(np.arange(m), nsub)
    kk = np.arange(len(seg)) - np.repeat(np.cumsum(nsub) - nsub, nsub)
    f0 = (kk / nsub[seg])[:, None]
    f1 = ((kk + 1) / nsub[seg])[:, None]
    d = (sb - sa)[seg]
    p0 = sa[seg] + d * f0
    p1 = sa[seg] + d * f1
    plo, phi = np.minimum(p0, p1), np.maximum(p0, p1)
    del kk, f0, f1, d, p0, p1
    g0 = plo.min(axis=0) - C
    bx0 = np.floor((plo - g0) / C).astype(np.int64)
    bx1 = np.floor((phi - g0) / C).astype(np.int64)
    ny = int(bx1[:, 1].max()) + 2
    keys, ents = [], []
    for ox in (0, 1):
        for oy in (0, 1):
            sel = np.flatnonzero((bx1[:, 0] - bx0[:, 0] >= ox) & (bx1[:, 1] - bx0[:, 1] >= oy))
            keys.append((bx0[sel, 0] + ox) * ny + (bx0[sel, 1] + oy))
            ents.append(sel)
    key = np.concatenate(keys)
    ent = np.concatenate(ents)
    del keys, ents
    order = np.argsort(key, kind="stable")
    key, ent = key[order], ent[order]
    # partners of entry t: the later entries of its bucket
    bucket_end = np.searchsorted(key, key, side="right")
    npart = bucket_end - np.arange(len(key)) - 1
    csum = np.cumsum(npart)
    out_i: list[np.ndarray] = []
    out_j: list[np.ndarray] = []
    start = 0
    tot = len(key)
    while start < tot:
        base = csum[start - 1] if start else 0
        stop = min(max(int(np.searchsorted(csum, base + max_pairs, side="right")), start + 1), tot)
        c = npart[start:stop]
        t = np.repeat(np.arange(start, stop), c)
        q = t + 1 + (np.arange(len(t)) - np.repeat(np.cumsum(c) - c, c))
        pe, qe = ent[t], ent[q]
        # count a pair of pieces only in the bucket holding the corner of their box overlap
        cx = np.maximum(plo[pe, 0], plo[qe, 0])
        cy = np.maximum(plo[pe, 1], plo[qe, 1])
        ovl = (cx <= np.minimum(phi[pe, 0], phi[qe, 0])) & (cy <= np.minimum(phi[pe, 1], phi[qe, 1]))
        home = np.floor((cx - g0[0]) / C).astype(np.int64) * ny + np.floor((cy - g0[1]) / C).astype(np.int64)
        keep = ovl & (home == key[t])
        si, sj = seg[pe[keep]], seg[qe[keep]]
        keep = sline[si] != sline[sj]
        si, sj = si[keep], sj[keep]
        flag = _segments_meet_inside(sa, sb, sline, start_xy, end_xy, weird, si, sj)
        out_i.append(si[flag])
        out_j.append(sj[flag])
        start = stop
    si = np.concatenate(out_i)
    sj = np.concatenate(out_j)
    li, lj = sline[si], sline[sj]
    a, b = np.minimum(li, lj), np.maximum(li, lj)
    pair = np.unique(a.astype(np.int64) * n + b)  # a pair may meet in several segment pairs
    return pair // n, pair % n


def _segments_meet_inside(sa, sb, sline, start_xy, end_xy, weird, si, sj) -> np.ndarray:  # noqa: ANN001
    """For segment pairs (si, sj): do they meet at a point inside one of their lines?"""
    p1, p2, q1, q2 = sa[si], sb[si], sa[sj], sb[sj]
    r = p2 - p1
    s_ = q2 - q1
    lr = np.hypot(r[:, 0], r[:, 1])
    ls = np.hypot(s_[:, 0], s_[:, 1])

    def cross(u, w):  # noqa: ANN001, ANN202
        return u[:, 0] * w[:, 1] - u[:, 1] * w[:, 0]

    tol = 1e-7
    d1 = cross(r, q1 - p1)
    d2 = cross(r, q2 - p1)
    d3 = cross(s_, p1 - q1)
    d4 = cross(s_, p2 - q1)
    z1, z2 = np.abs(d1) <= tol * lr, np.abs(d2) <= tol * lr
    z3, z4 = np.abs(d3) <= tol * ls, np.abs(d4) <= tol * ls
    proper = ~(z1 | z2 | z3 | z4) & (np.sign(d1) != np.sign(d2)) & (np.sign(d3) != np.sign(d4))
    li, lj = sline[si], sline[sj]

    def on_box(pt, a, b):  # noqa: ANN001, ANN202
        lo_, hi_ = np.minimum(a, b) - tol, np.maximum(a, b) + tol
        return np.all((pt >= lo_) & (pt <= hi_), axis=1)

    def end_of(pt, line):  # noqa: ANN001, ANN202 (a closed line has no ends: GEOS's rule)
        return ~weird[line] & (np.all(pt == start_xy[line], axis=1) | np.all(pt == end_xy[line], axis=1))

    flag = proper.copy()
    for z, pt, a, b in ((z1, q1, p1, p2), (z2, q2, p1, p2), (z3, p1, q1, q2), (z4, p2, q1, q2)):
        touch = np.flatnonzero(z & on_box(pt, a, b))
        if len(touch):
            p_, a_, b_ = pt[touch], li[touch], lj[touch]
            flag[touch] |= ~(end_of(p_, a_) & end_of(p_, b_))
    return flag


def _node_lines(
    geoms: np.ndarray, tol: float, *, pairs: tuple[np.ndarray, np.ndarray] | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Split lines where they cross or touch another line's interior.

    Returns the pieces, the index of the line each piece came from, and the number of
    split points inserted. ``pairs``: candidate line pairs (default :func:`_noding_pairs`).
    """
    n = len(geoms)
    if n < 2:
        return geoms, np.arange(n), 0
    i, j = _noding_pairs(geoms) if pairs is None else pairs
    if len(i) == 0:
        return geoms, np.arange(n), 0
    inter = shapely.intersection(geoms[i], geoms[j])
    pts = shapely.extract_unique_points(inter)
    parts, pidx = shapely.get_parts(pts, return_index=True)
    xy = shapely.get_coordinates(parts)
    # each intersection point splits both lines of its pair
    line = np.concatenate([i[pidx], j[pidx]])
    pxy = np.concatenate([xy, xy])
    pos = shapely.line_locate_point(geoms[line], shapely.points(pxy))
    length = shapely.length(geoms[line])
    interior = (pos > tol) & (pos < length - tol)
    line, pxy, pos = line[interior], pxy[interior], pos[interior]
    if len(line) == 0:
        return geoms, np.arange(n), 0
    # unique split positions per line (1e-9 m)
    order = np.lexsort((pos, line))
    line, pxy, pos = line[order], pxy[order], pos[order]
    dup = np.r_[False, (line[1:] == line[:-1]) & (np.abs(pos[1:] - pos[:-1]) <= tol)]
    line, pxy, pos = line[~dup], pxy[~dup], pos[~dup]

    # vertices of the lines to split, with their position along the line
    to_split = np.unique(line)
    vcoords, vidx = shapely.get_coordinates(geoms[to_split], return_index=True)
    vline = to_split[vidx]
    step = np.r_[0.0, np.hypot(np.diff(vcoords[:, 0]), np.diff(vcoords[:, 1]))]
    step[np.r_[True, vline[1:] != vline[:-1]]] = 0.0
    vpos = np.cumsum(step)
    first = np.r_[True, vline[1:] != vline[:-1]]
    vpos = vpos - np.maximum.accumulate(np.where(first, vpos, -np.inf))
    # drop vertices that coincide with a split point (the split point replaces them)
    all_line = np.concatenate([vline, line, line])
    all_pos = np.concatenate([vpos, pos, pos])
    all_xy = np.concatenate([vcoords, pxy, pxy])
    # kind: 0 = vertex, 1 = split point ending a piece, 2 = split point starting the next
    kind = np.concatenate([np.zeros(len(vline), np.int8), np.ones(len(line), np.int8), np.full(len(line), 2, np.int8)])
    order = np.lexsort((kind, all_pos, all_line))
    all_line, all_pos, all_xy, kind = all_line[order], all_pos[order], all_xy[order], kind[order]
    # a vertex within tol of a split point on the same line is dropped
    is_split = kind > 0
    sp_line, sp_pos = line, pos  # sorted by (line, pos)
    key_line = all_line[~is_split]
    key_pos = all_pos[~is_split]
    near = np.zeros(len(key_line), bool)
    if len(key_line):
        # nearest split point on the same line (merge_asof by line)
        left = pd.DataFrame({"line": key_line, "pos": key_pos, "row": np.arange(len(key_line))}).sort_values("pos")
        right = pd.DataFrame({"line": sp_line, "pos": sp_pos, "sp": sp_pos}).sort_values("pos")
        m = pd.merge_asof(left, right, on="pos", by="line", direction="nearest")
        close = np.abs(m["sp"].to_numpy() - m["pos"].to_numpy()) <= max(tol, 1e-9)
        near[m["row"].to_numpy()[close]] = True
    drop = np.zeros(len(all_line), bool)
    drop[np.flatnonzero(~is_split)[near]] = True
    all_line, all_xy, kind = all_line[~drop], all_xy[~drop], kind[~drop]
    # piece number within each line = number of "start" split rows (kind 2) up to and
    # including this row; the "end" row (kind 1) belongs to the piece before
    starts = (kind == 2).astype(np.int64)
    piece_in_line = np.cumsum(starts)
    first = np.r_[True, all_line[1:] != all_line[:-1]]
    base = np.maximum.accumulate(np.where(first, piece_in_line - starts, 0))
    piece_in_line = piece_in_line - base
    piece_key = all_line.astype(np.int64) * (len(line) + 2) + piece_in_line
    uniq, piece_id = np.unique(piece_key, return_inverse=True)
    new_pieces = shapely.linestrings(all_xy, indices=piece_id)
    piece_line = (uniq // (len(line) + 2)).astype(np.int64)
    untouched = np.setdiff1d(np.arange(n), to_split)
    out = np.concatenate([geoms[untouched], new_pieces])
    src = np.concatenate([untouched, piece_line])
    return out, src, int(len(line))


def build_edges(
    lines: gpd.GeoDataFrame,
    *,
    snap_tolerance_m: float = 1.0,
    crossing_cost_column: str | None = "crossing_cost_m",
    working_crs: Any = None,
) -> EdgeNetwork:
    """Build the noded network table from road and canal-bank lines.

    Parameters
    ----------
    lines
        Lines with a ``kind`` column (road, canal, river, bridge, ferry) and optionally a
        crossing-cost column. Any CRS; a geographic CRS needs ``working_crs``.
    snap_tolerance_m
        Line ends closer than this (metres) are joined into one node. Must be >= 0.
    crossing_cost_column
        Column holding the extra cost (metres) of crossing a bridge or ferry; spread over
        the line's pieces in proportion to their length. ``None`` or absent: no cost.
    working_crs
        Metric CRS to measure in; the lines are reprojected to it. ``None``: the lines'
        own CRS, which must then be projected.

    Returns
    -------
    EdgeNetwork
        Coordinates in the working CRS; ``repairs`` counts every repair.

    Raises
    ------
    InputValidationError
        ``lines`` is not a GeoDataFrame, has unknown kinds or negative costs, or the
        tolerance is negative.
    EmptyLayerError
        No lines, or no traversable line survives the repairs.
    MissingColumnError
        No ``kind`` column.
    GeometryTypeError
        Non-line geometries.
    MissingCRSError
        ``lines`` has no CRS.
    GeographicCRSError
        The CRS is lon/lat and no ``working_crs`` was given.

    Notes
    -----
    Cost: a bucketed numpy test over straight segments (orientation signs), a GEOS
    intersection only for line pairs that cross or meet in an interior, a KD-tree over
    line ends for the snapping. Linear memory. Snapping is transitive: a chain of ends each
    within the tolerance of the next becomes one node.
    """
    _validate_lines(lines, crossing_cost_column)
    if not (isinstance(snap_tolerance_m, (int, float)) and math.isfinite(snap_tolerance_m) and snap_tolerance_m >= 0):
        raise InputValidationError(f"snap_tolerance_m must be a finite number >= 0 metres, got {snap_tolerance_m!r}.")
    src_crs = _crs.require_crs(lines, "the road/canal layer")
    if working_crs is not None:
        wcrs = _crs.as_crs(working_crs)
        _crs.require_projected(wcrs, "working_crs")
        gdf = lines if src_crs.equals(wcrs) else lines.to_crs(wcrs)
    else:
        _crs.require_projected(src_crs, "the road/canal layer")
        wcrs, gdf = src_crs, lines
    repairs: dict[str, int] = {}
    geoms = np.asarray(gdf.geometry.values, dtype=object)
    codes, uniq = pd.factorize(gdf["kind"].astype(str), sort=False)
    kinds = np.array([k.strip().lower() for k in uniq], dtype=object)[codes]
    if crossing_cost_column and crossing_cost_column in gdf.columns:
        cost = pd.to_numeric(gdf[crossing_cost_column], errors="coerce").fillna(0.0).to_numpy(np.float64)
    else:
        cost = np.zeros(len(gdf))
    labels = gdf.index.to_numpy()

    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    repairs["empty_geometries_removed"] = int(missing.sum())
    river = kinds == "river"
    repairs["river_lines_excluded"] = int(river.sum())
    keep = ~missing & ~river
    geoms, kinds, cost, rows = geoms[keep], kinds[keep], cost[keep], np.flatnonzero(keep)
    has_z = shapely.has_z(geoms)
    repairs["lines_with_z_dropped_z"] = int(has_z.sum())
    if has_z.any():
        geoms = shapely.force_2d(geoms)
    line_len = shapely.length(geoms)
    multi = shapely.get_type_id(geoms) == 5
    repairs["multilines_exploded"] = int((shapely.get_num_geometries(geoms[multi]) > 1).sum())
    if multi.any():
        parts, pidx = shapely.get_parts(geoms, return_index=True)
    else:
        parts, pidx = geoms, np.arange(len(geoms))
    # invalid coordinates
    finite = np.isfinite(shapely.get_coordinates(parts)).all(axis=1)
    if not finite.all():
        raise InputValidationError(
            f"the road/canal layer has {int((~finite).sum())} non-finite coordinates (NaN/inf). "
            "Fix or drop those features."
        )
    plen = shapely.length(parts)
    zero = plen <= 0
    repairs["zero_length_parts_removed"] = int(zero.sum())
    parts, pidx, plen = parts[~zero], pidx[~zero], plen[~zero]
    if len(parts) == 0:
        raise EmptyLayerError(
            "no traversable line is left in the road/canal layer (after removing rivers, "
            f"empty and zero-length lines: {repairs}). Roads, canals, bridges or ferries are needed."
        )
    # repeated consecutive vertices do no harm; node the lines
    tol_geom = 1e-9
    pieces, pline, n_split = _node_lines(parts, tol_geom)
    repairs["split_points_inserted"] = n_split
    repairs["lines_split"] = int(len(pieces) - len(parts))
    src_part = pidx[pline]
    piece_len = shapely.length(pieces)
    piece_cost = cost[src_part] * np.divide(piece_len, line_len[src_part], out=np.zeros_like(piece_len), where=line_len[src_part] > 0)

    # ---- join line ends within the tolerance
    coords, cidx = shapely.get_coordinates(pieces, return_index=True)
    counts = np.bincount(cidx, minlength=len(pieces))
    first_row = np.r_[0, np.cumsum(counts)[:-1]]
    last_row = first_row + counts - 1
    ends = np.concatenate([coords[first_row], coords[last_row]])
    r = max(float(snap_tolerance_m), 1e-9)
    pairs = cKDTree(ends).query_pairs(r, output_type="ndarray")
    n_ends = len(ends)
    adj = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_ends, n_ends)) if len(pairs) else sparse.coo_matrix((n_ends, n_ends))
    _, cluster = connected_components(adj, directed=False)
    # representative: the first end of each cluster (stable; keeps exact noded points)
    # representative: the end shared exactly by most line ends in the cluster (noded
    # crossings, exact joints), ties to the first: snapping moves the odd ones only
    _, uinv, ucnt = np.unique(np.ascontiguousarray(ends).view(np.complex128).ravel(), return_inverse=True,
                              return_counts=True)
    mult = ucnt[uinv.ravel()]
    order = np.lexsort((np.arange(n_ends), -mult, cluster))
    firsts = np.r_[True, cluster[order][1:] != cluster[order][:-1]]
    rep_row = np.empty(cluster.max() + 1, np.int64)
    rep_row[cluster[order][firsts]] = order[firsts]
    node_xy = ends[rep_row]
    moved = np.any(ends != node_xy[cluster], axis=1)
    repairs["endpoints_snapped"] = int(moved.sum())
    m = len(pieces)
    u, v = cluster[:m], cluster[m:]
    if moved.any():
        coords = coords.copy()
        coords[first_row] = node_xy[u]
        coords[last_row] = node_xy[v]
        pieces = shapely.linestrings(coords, indices=cidx)
        piece_len = shapely.length(pieces)

    # ---- collapsed and duplicate edges
    collapsed = (u == v) & (piece_len <= 2 * r)
    repairs["collapsed_edges_removed"] = int(collapsed.sum())
    keep = ~collapsed
    a, b = np.minimum(u, v), np.maximum(u, v)
    key = pd.DataFrame({"a": a, "b": b, "l": np.round(piece_len, 3)})
    cand = np.flatnonzero(key.duplicated(keep=False).to_numpy())  # same ends and length
    dup = np.zeros(len(pieces), bool)
    if len(cand):  # ... and the same midpoint: duplicates
        mid = shapely.get_coordinates(shapely.line_interpolate_point(pieces[cand], 0.5, normalized=True))
        key2 = key.iloc[cand].assign(mx=np.round(mid[:, 0], 3), my=np.round(mid[:, 1], 3))
        dup[cand] = key2.duplicated().to_numpy()
    dup &= keep
    repairs["duplicate_edges_removed"] = int(dup.sum())
    keep &= ~dup
    pieces, u, v, piece_len, piece_cost = pieces[keep], u[keep], v[keep], piece_len[keep], piece_cost[keep]
    ekind = kinds[src_part][keep]
    esrc = labels[rows[src_part]][keep]
    if len(pieces) == 0:
        raise EmptyLayerError(f"every line collapsed within snap_tolerance_m={snap_tolerance_m} m; lower the tolerance.")
    # renumber nodes to the used ones
    used, inv = np.unique(np.concatenate([u, v]), return_inverse=True)
    node_xy = node_xy[used]
    u, v = inv[: len(u)], inv[len(u):]
    comp = _components(len(node_xy), u, v)
    repairs = {k: int(val) for k, val in repairs.items()}
    n_fixed = sum(val for k, val in repairs.items() if k not in ("river_lines_excluded", "split_points_inserted", "lines_split"))
    if n_fixed:
        details = ", ".join(f"{k}={val}" for k, val in repairs.items() if val)
        warnings.warn(f"the road/canal network was repaired: {details}.", RepairWarning, stacklevel=2)
    return EdgeNetwork(
        node_xy=node_xy, u=u.astype(np.int64), v=v.astype(np.int64), length_m=piece_len.astype(np.float64),
        crossing_cost_m=piece_cost.astype(np.float64), geometry=pieces, kind=ekind.astype(str),
        source_index=esrc, node_component=comp, crs=wcrs, repairs=repairs,
    )


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Component id per node, 0 = largest (ties: lowest node id first)."""
    adj = sparse.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    k, lab = connected_components(adj, directed=False)
    sizes = np.bincount(lab, minlength=k)
    firsts = np.full(k, n, np.int64)
    np.minimum.at(firsts, lab, np.arange(n))
    rank = np.lexsort((firsts, -sizes))
    new = np.empty(k, np.int64)
    new[rank] = np.arange(k)
    return new[lab]


def build_network(
    lines: gpd.GeoDataFrame,
    *,
    snap_tolerance_m: float = 1.0,
    crossing_cost_column: str | None = "crossing_cost_m",
    working_crs: Any = None,
) -> nx.MultiGraph:
    """Build a routable :class:`networkx.MultiGraph` from road and canal-bank lines.

    Same rules and arguments as :func:`build_edges` (which returns the compact form used
    for heavy searches). ``G.graph`` holds ``crs``, ``repairs`` (counts) and
    ``components`` (node counts, largest first; node/edge attribute ``component`` is the
    index into that list).

    Raises
    ------
    InputValidationError, EmptyLayerError, MissingColumnError, GeometryTypeError,
    MissingCRSError, GeographicCRSError
        As :func:`build_edges`.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> lines = gpd.GeoDataFrame({"kind": ["road", "road"]}, geometry=[
    ...     shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(50, -50), (50, 50)])],
    ...     crs=32648)
    >>> G = build_network(lines)
    >>> G.number_of_nodes(), G.number_of_edges(), G.graph["repairs"]["split_points_inserted"]
    (5, 4, 2)
    """
    return to_networkx(build_edges(lines, snap_tolerance_m=snap_tolerance_m,
                                   crossing_cost_column=crossing_cost_column, working_crs=working_crs))


# =========================================================================== conversions
def to_networkx(net: EdgeNetwork) -> nx.MultiGraph:
    """The :class:`EdgeNetwork` as a networkx MultiGraph (nodes 0..n-1, edge key = edge_id)."""
    G = nx.MultiGraph()
    G.graph["crs"] = net.crs
    G.graph["repairs"] = dict(net.repairs)
    G.graph["components"] = net.component_sizes
    comp = net.node_component
    G.add_nodes_from(
        (i, {"x": float(x), "y": float(y), "component": int(c)})
        for i, (x, y), c in zip(range(net.n_nodes), net.node_xy, comp, strict=True)
    )
    cost = net.cost_m
    G.add_edges_from(
        (int(a), int(b), int(k), {
            "edge_id": int(k), "length_m": float(ln), "crossing_cost_m": float(cc), "cost_m": float(c),
            "kind": str(kd), "component": int(comp[a]), "geometry": g,
        })
        for k, (a, b, ln, cc, c, kd, g) in enumerate(
            zip(net.u, net.v, net.length_m, net.crossing_cost_m, cost, net.kind, net.geometry, strict=True)
        )
    )
    return G


def from_networkx(G: nx.Graph) -> EdgeNetwork:
    """An :class:`EdgeNetwork` from a networkx graph with node ``x``/``y`` and ``G.graph["crs"]``.

    Edges without a ``geometry`` become straight lines; ``length_m`` defaults to the
    geometry's length, ``crossing_cost_m`` to 0.

    Raises
    ------
    NetworkError
        Nodes lack ``x``/``y`` or the graph has no edges.
    MissingCRSError
        ``G.graph["crs"]`` is missing.
    """
    if G.number_of_edges() == 0:
        raise NetworkError("the graph has no edges; build it with `network.build_network(lines)`.")
    crs = _crs.as_crs(G.graph.get("crs"))
    nodes = list(G.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    try:
        xy = np.array([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in nodes], dtype=np.float64)
    except KeyError as err:
        raise NetworkError(f"graph nodes need 'x' and 'y' attributes (metres); node {err} has none.") from err
    edges = list(G.edges(data=True))
    u = np.array([index[a] for a, _, _ in edges], np.int64)
    v = np.array([index[b] for _, b, _ in edges], np.int64)
    geoms = []
    for (_, _, d), iu, iv in zip(edges, u, v, strict=True):
        g = d.get("geometry")
        if g is None:
            g = shapely.LineString([xy[iu], xy[iv]])
        else:  # orient from u to v
            c = shapely.get_coordinates(g)
            if np.hypot(*(c[0] - xy[iu])) > np.hypot(*(c[-1] - xy[iu])):
                g = shapely.reverse(g)
        geoms.append(g)
    geoms_a = np.array(geoms, dtype=object)
    length = np.array([d.get("length_m", np.nan) for _, _, d in edges], np.float64)
    length = np.where(np.isnan(length), shapely.length(geoms_a), length)
    cc = np.array([d.get("crossing_cost_m", 0.0) for _, _, d in edges], np.float64)
    kind = np.array([str(d.get("kind", "road")) for _, _, d in edges])
    return EdgeNetwork(
        node_xy=xy, u=u, v=v, length_m=length, crossing_cost_m=cc, geometry=geoms_a, kind=kind,
        source_index=np.arange(len(edges)), node_component=_components(len(nodes), u, v), crs=crs,
        repairs=dict(G.graph.get("repairs", {})),
    )


def _as_net(network: EdgeNetwork | nx.Graph) -> EdgeNetwork:
    if isinstance(network, EdgeNetwork):
        return network
    if isinstance(network, nx.Graph):
        return from_networkx(network)
    raise InputValidationError(
        f"expected an EdgeNetwork or a networkx graph, got {type(network).__name__}. "
        "Build one with `network.build_edges(lines)` or `network.build_network(lines)`."
    )


def _csr(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> sparse.csr_matrix:
    """Symmetric CSR adjacency keeping the smallest weight of parallel edges."""
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    data = np.concatenate([w, w])
    ok = rows != cols
    rows, cols, data = rows[ok], cols[ok], data[ok]
    key = rows.astype(np.int64) * n + cols
    order = np.lexsort((data, key))
    key, data = key[order], data[order]
    first = np.r_[True, key[1:] != key[:-1]]
    key, data = key[first], data[first]
    return sparse.csr_matrix((data, (key // n, key % n)), shape=(n, n))


def to_csgraph(network: EdgeNetwork | nx.Graph, *, weight: Any = "cost_m") -> tuple[sparse.csr_matrix, np.ndarray]:
    """The network as a symmetric :class:`scipy.sparse.csr_matrix` for :mod:`scipy.sparse.csgraph`.

    Parameters
    ----------
    network
        An :class:`EdgeNetwork` or a networkx graph.
    weight
        Edge attribute name (networkx convention) or, for a networkx graph, a callable
        ``(u, v, data) -> float``. Parallel edges keep their smallest weight; self-loops
        are dropped.

    Returns
    -------
    (matrix, node_index)
        ``node_index[i]`` is the node label of row/column ``i``.

    Raises
    ------
    InputValidationError
        Unknown weight or negative weights.
    """
    if isinstance(network, EdgeNetwork):
        return network._csr(weight), np.arange(network.n_nodes)
    if not isinstance(network, nx.Graph):
        raise InputValidationError(f"expected an EdgeNetwork or a networkx graph, got {type(network).__name__}.")
    nodes = np.array(list(network.nodes), dtype=object)
    index = {n: i for i, n in enumerate(nodes)}
    edges = network.edges(data=True)
    u = np.fromiter((index[a] for a, _, _ in edges), np.int64, network.number_of_edges())
    v = np.fromiter((index[b] for _, b, _ in edges), np.int64, network.number_of_edges())
    if callable(weight):
        w = np.fromiter((weight(a, b, d) for a, b, d in edges), np.float64, network.number_of_edges())
    else:
        w = np.fromiter((d.get(weight, 1.0) for _, _, d in edges), np.float64, network.number_of_edges())
    if (w < 0).any() or not np.isfinite(w).all():
        raise InputValidationError(f"edge weights {weight!r} must be finite and >= 0; min seen {float(np.nanmin(w))}.")
    try:
        node_index = nodes.astype(np.int64)
    except (TypeError, ValueError):
        node_index = nodes
    return _csr(len(nodes), u, v, w), node_index


def to_gdfs(network: EdgeNetwork | nx.Graph) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nodes and edges as GeoDataFrames in the network's CRS, ready to write.

    Nodes: ``node_id``, ``component``, points. Edges: ``edge_id``, ``u``, ``v``,
    ``length_m``, ``crossing_cost_m``, ``cost_m``, ``kind``, ``component``, lines.

    Raises
    ------
    InputValidationError
        Not a network.
    """
    net = _as_net(network)
    nodes = gpd.GeoDataFrame(
        {"node_id": np.arange(net.n_nodes), "component": net.node_component},
        geometry=shapely.points(net.node_xy), crs=net.crs,
    )
    edges = gpd.GeoDataFrame(
        {
            "edge_id": np.arange(net.n_edges), "u": net.u, "v": net.v, "length_m": net.length_m,
            "crossing_cost_m": net.crossing_cost_m, "cost_m": net.cost_m, "kind": net.kind,
            "component": net.edge_component,
        },
        geometry=net.geometry, crs=net.crs,
    )
    return nodes, edges


# =========================================================================== snapping
def snap_xy(
    network: EdgeNetwork | nx.Graph,
    x: np.ndarray,
    y: np.ndarray,
    *,
    max_distance_m: float | None = None,
    chunk_pairs: int = 1_000_000,
    with_xy: bool = True,
) -> dict[str, np.ndarray]:
    """Snap coordinates to the nearest point on an edge (not the nearest node).

    Parameters
    ----------
    network
        The network; ``x``/``y`` are in its CRS (metres).
    x, y
        Point coordinates.
    max_distance_m
        Points farther than this from every edge get ``edge_id = -1`` and NaN. ``None``:
        every point is snapped, however far.
    chunk_pairs
        Bound on (point, segment) candidate pairs held at once (memory).
    with_xy
        Also return the snapped coordinates (``x_snap``, ``y_snap``); False saves
        memory for millions of points (they are NaN then).

    Returns
    -------
    dict of arrays
        ``edge_id`` (int64, -1 = none), ``along_m`` (metres along the edge geometry from
        its ``u`` end), ``drop_m`` (straight distance to the edge), ``x_snap``, ``y_snap``.

    Raises
    ------
    InputValidationError
        ``x``/``y`` of different lengths or ``max_distance_m`` < 0.

    Notes
    -----
    Exact and vectorised: edge geometries are cut into straight segments no longer than
    a bucket size ``C >= 2 * R`` (``R`` = the search radius), each registered in the
    grid buckets its bounding box grown by ``R`` touches; a point's candidates are the
    segments of its bucket, and the nearest is found with numpy (points visited bucket
    by bucket, in blocks of 2 M points and chunks of ``chunk_pairs`` pairs, on up to two
    threads). A first pass with ``R / 4`` settles the points near an edge with few
    candidates; the rest get the full radius. Points with no segment within ``R`` fall
    back to a shapely STRtree nearest search when ``max_distance_m`` is None. Ties (a
    point nearest to a shared node) go to the lowest segment. About 1–2 µs per point
    on this project's machines; memory O(segments + block).
    """
    net = _as_net(network)
    x = np.asarray(x, np.float64).ravel()
    y = np.asarray(y, np.float64).ravel()
    if x.shape != y.shape:
        raise InputValidationError(f"x and y must have the same length, got {x.shape[0]} and {y.shape[0]}.")
    if max_distance_m is not None and not (max_distance_m >= 0):
        raise InputValidationError(f"max_distance_m must be >= 0 metres or None, got {max_distance_m!r}.")
    n = len(x)
    out = {
        "edge_id": np.full(n, -1, np.int64), "along_m": np.full(n, np.nan), "drop_m": np.full(n, np.nan),
        "x_snap": np.full(n, np.nan) if with_xy else np.broadcast_to(np.nan, n),
        "y_snap": np.full(n, np.nan) if with_xy else np.broadcast_to(np.nan, n),
    }
    if n == 0:
        return out
    seg = net._segments
    seg_len = seg["len"]
    med = float(np.median(seg_len)) if len(seg_len) else 1.0
    if max_distance_m is not None:
        R = float(max_distance_m)
    else:
        R = float(max(med, 1.0))
    # two passes: a small radius first (few candidates per point) settles most points
    # exactly; the rest get the full radius. Each pass is exact for the points it settles.
    radii = [R / 4.0, R] if R > 0 and R / 4.0 >= 1.0 else [R]
    todo = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    for r in radii:
        if len(todo) == 0:
            break
        _snap_pass(seg, x, y, todo, r, med, chunk_pairs, out, with_xy)
        todo = todo[out["edge_id"][todo] < 0]
    if max_distance_m is None:
        miss = np.flatnonzero((out["edge_id"] < 0) & np.isfinite(x) & np.isfinite(y))
        if len(miss):
            pts = shapely.points(x[miss], y[miss])
            (pi, ei), dist = net._tree.query_nearest(pts, return_distance=True, all_matches=False)
            g = net.geometry[ei]
            along = shapely.line_locate_point(g, pts[pi])
            sp = shapely.get_coordinates(shapely.line_interpolate_point(g, along))
            sel = miss[pi]
            out["edge_id"][sel] = ei
            out["along_m"][sel] = along
            out["drop_m"][sel] = dist
            if with_xy:
                out["x_snap"][sel] = sp[:, 0]
                out["y_snap"][sel] = sp[:, 1]
    # along can exceed length by float noise
    ok = out["edge_id"] >= 0
    out["along_m"][ok] = np.clip(out["along_m"][ok], 0.0, net.length_m[out["edge_id"][ok]])
    return out



def _snap_pass(
    seg: dict[str, np.ndarray],
    x: np.ndarray,
    y: np.ndarray,
    todo: np.ndarray,
    R: float,
    med: float,
    chunk_pairs: int,
    out: dict[str, np.ndarray],
    with_xy: bool,
    point_block: int = 2_000_000,
) -> None:
    """Snap points ``todo`` whose nearest segment lies within ``R``; fills ``out`` rows."""
    seg_len = seg["len"]
    C = max(2.0 * R, med, 1.0)
    # cut segments into pieces no longer than C
    nsub = np.maximum(np.ceil(seg_len / C).astype(np.int64), 1)
    sid = np.repeat(np.arange(len(seg_len)), nsub)
    k = np.arange(len(sid)) - np.repeat(np.cumsum(nsub) - nsub, nsub)
    f0 = k / nsub[sid]
    f1 = (k + 1) / nsub[sid]
    a, b = seg["a"][sid], seg["b"][sid]
    d = b - a
    pa = a + d * f0[:, None]
    pb = a + d * f1[:, None]
    poff = seg["offset"][sid] + seg_len[sid] * f0
    pedge = seg["edge"][sid]
    del nsub, sid, k, f0, f1, a, b, d
    # bucket grid
    gx0 = min(pa[:, 0].min(), pb[:, 0].min()) - R - C
    gy0 = min(pa[:, 1].min(), pb[:, 1].min()) - R - C
    ix0 = np.floor((np.minimum(pa[:, 0], pb[:, 0]) - R - gx0) / C).astype(np.int64)
    ix1 = np.floor((np.maximum(pa[:, 0], pb[:, 0]) + R - gx0) / C).astype(np.int64)
    iy0 = np.floor((np.minimum(pa[:, 1], pb[:, 1]) - R - gy0) / C).astype(np.int64)
    iy1 = np.floor((np.maximum(pa[:, 1], pb[:, 1]) + R - gy0) / C).astype(np.int64)
    NY = int(iy1.max()) + 2
    NX = int(ix1.max()) + 2
    kdt = np.int32 if NX * NY < 2**31 - 1 else np.int64
    pid_dt = np.int32 if len(pa) < 2**31 - 1 else np.int64
    # register each piece in every bucket its box grown by R touches (at most 3 x 3 as
    # pieces are <= C long and R <= C / 2): one pass per bucket offset, small temporaries
    keys, pieces = [], []
    span_x = ix1 - ix0
    span_y = iy1 - iy0
    for ox in range(int(span_x.max()) + 1):
        for oy in range(int(span_y.max()) + 1):
            sel = np.flatnonzero((span_x >= ox) & (span_y >= oy))
            keys.append(((ix0[sel] + ox) * NY + (iy0[sel] + oy)).astype(kdt))
            pieces.append(sel.astype(pid_dt))
    del ix0, ix1, iy0, iy1, span_x, span_y
    reg_key = np.concatenate(keys)
    reg_piece = np.concatenate(pieces)
    del keys, pieces
    order = np.argsort(reg_key, kind="stable")
    reg_key = reg_key[order]
    reg_piece = reg_piece[order]
    del order
    dense = NX * NY <= 4 * len(reg_key) + 1_000_000  # a bucket table: gathers, no binary search
    if dense:
        bcount = np.bincount(reg_key, minlength=NX * NY)
        bstart = np.cumsum(bcount) - bcount
    # points in blocks (bounded memory for millions of points)
    for b0 in range(0, len(todo), point_block):
        tb_ = todo[b0:b0 + point_block]
        px_i = np.floor((x[tb_] - gx0) / C).astype(np.int64)
        py_i = np.floor((y[tb_] - gy0) / C).astype(np.int64)
        inside = (px_i >= 0) & (px_i < NX) & (py_i >= 0) & (py_i < NY)
        pkey = np.where(inside, px_i * NY + py_i, -1)
        del px_i, py_i
        if dense:
            safe = np.maximum(pkey, 0)
            lo = bstart[safe]
            ncand = np.where(inside, bcount[safe], 0)
            del safe
        else:
            lo = np.searchsorted(reg_key, pkey, side="left")
            ncand = np.where(inside, np.searchsorted(reg_key, pkey, side="right") - lo, 0)
        _snap_block(x, y, tb_, pkey, lo, ncand, reg_piece, pa, pb, poff, pedge, R, chunk_pairs, out, with_xy)


def _snap_block(x, y, todo, pkey, lo, ncand, reg_piece, pa, pb, poff, pedge, R, chunk_pairs, out, with_xy):  # noqa: ANN001
    """The nearest candidate segment of each point of one block (see :func:`snap_xy`)."""
    n = len(todo)
    # visit points bucket by bucket (cache-friendly gathers), in chunks bounded by pairs
    porder = np.argsort(pkey, kind="stable")
    csum = np.cumsum(ncand[porder])
    bounds = []
    start = 0
    while start < n:
        base = csum[start - 1] if start else 0
        stop = min(max(int(np.searchsorted(csum, base + chunk_pairs, side="right")), start + 1), n)
        bounds.append((start, stop))
        start = stop

    def work(span: tuple[int, int]) -> None:
        idx = porder[span[0]:span[1]]
        c = ncand[idx]
        has = c > 0
        idx, c = idx[has], c[has]
        if not len(idx):
            return
        gstart = np.cumsum(c) - c
        pp = np.repeat(np.arange(len(idx)), c)
        cand = np.arange(len(pp)) - np.repeat(gstart, c)
        cand += np.repeat(lo[idx], c)
        cand = reg_piece[cand]
        qx = x[todo[idx]][pp]
        qy = y[todo[idx]][pp]
        del pp
        ax_ = pa[cand, 0]
        ay_ = pa[cand, 1]
        dx = pb[cand, 0] - ax_
        dy = pb[cand, 1] - ay_
        l2 = dx * dx + dy * dy
        qx -= ax_
        qy -= ay_
        t = qx * dx + qy * dy
        np.divide(t, l2, out=t, where=l2 > 0)
        t[l2 <= 0] = 0.0
        np.clip(t, 0.0, 1.0, out=t)
        qx -= t * dx  # now the offset from the nearest point of the segment
        qy -= t * dy
        d2 = qx * qx + qy * qy
        del qx, qy
        dmin = np.minimum.reduceat(d2, gstart)
        best = np.where(d2 == np.repeat(dmin, c), np.arange(len(d2)), len(d2))
        bi = np.minimum.reduceat(best, gstart)
        dist = np.sqrt(dmin)
        ok = dist <= R
        sel = todo[idx[ok]]
        bi = bi[ok]
        pc = cand[bi]
        tb = t[bi]
        out["edge_id"][sel] = pedge[pc]
        out["along_m"][sel] = poff[pc] + tb * np.sqrt(l2[bi])
        out["drop_m"][sel] = dist[ok]
        if with_xy:
            out["x_snap"][sel] = ax_[bi] + tb * dx[bi]
            out["y_snap"][sel] = ay_[bi] + tb * dy[bi]

    # numpy releases the GIL: chunks run on up to 2 threads (disjoint output rows)
    workers = min(2, os.cpu_count() or 1, len(bounds))
    if workers > 1:
        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(work, bounds))
    else:
        for span in bounds:
            work(span)


def snap_points(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    network: EdgeNetwork | nx.Graph,
    *,
    max_distance_m: float | None = None,
) -> pd.DataFrame:
    """Snap points to the nearest point on an edge of the network.

    Parameters
    ----------
    points
        Points in the network's CRS (multi-points use their first part; other
        geometries their centroid).
    network
        :class:`EdgeNetwork` or networkx graph from :func:`build_network`.
    max_distance_m
        Points farther than this (metres) from every edge are left unsnapped.

    Returns
    -------
    pandas.DataFrame
        Index = ``points.index``; columns ``edge_id`` (-1 = none within
        ``max_distance_m``), ``along_m``, ``drop_m``, ``x_snap``, ``y_snap``.

    Raises
    ------
    MissingCRSError
        ``points`` has no CRS.
    CRSMismatchError
        ``points`` is not in the network's CRS (reproject with ``.to_crs(G.graph["crs"])``).

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> lines = gpd.GeoDataFrame({"kind": ["road"]}, geometry=[shapely.LineString([(0, 0), (1000, 0)])], crs=32648)
    >>> net = build_edges(lines)
    >>> pts = gpd.GeoSeries([shapely.Point(500, 30)], crs=32648)
    >>> snap_points(pts, net)[["edge_id", "along_m", "drop_m"]].to_numpy().tolist()
    [[0.0, 500.0, 30.0]]
    """
    net = _as_net(network)
    pcrs = _crs.require_crs(points, "the points")
    if not pcrs.equals(net.crs):
        raise CRSMismatchError(
            f"the points are in {_crs.crs_label(pcrs)} but the network is in {_crs.crs_label(net.crs)}. "
            f"Reproject the points with `.to_crs({_crs.crs_label(net.crs)!r})`."
        )
    geom = points.geometry.values if isinstance(points, gpd.GeoDataFrame) else points.values
    xy = _point_xy(np.asarray(geom, dtype=object))
    res = snap_xy(net, xy[:, 0], xy[:, 1], max_distance_m=max_distance_m)
    return pd.DataFrame(res, index=points.index)


def _point_xy(geoms: np.ndarray) -> np.ndarray:
    """x/y of points (first part of multi-points, centroid otherwise; NaN for empty)."""
    tid = shapely.get_type_id(geoms)
    g = np.where(tid == 4, shapely.get_geometry(geoms, 0), geoms)
    g = np.where(np.isin(tid, [0, 4]), g, shapely.centroid(geoms))
    out = np.full((len(geoms), 2), np.nan)
    ok = ~(shapely.is_missing(g) | shapely.is_empty(g))
    out[ok, 0] = shapely.get_x(g[ok])
    out[ok, 1] = shapely.get_y(g[ok])
    return out


# =========================================================================== distances
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
