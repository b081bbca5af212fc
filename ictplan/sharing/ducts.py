"""Ducts and routes: fiber routes of different operators running along one corridor."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from .._errors import InputValidationError, SkippedFeaturesWarning
from ..parameters import SHARING
from ._common import _check_frame, _check_kind, _warn, _working_crs

logger = logging.getLogger("ictplan.sharing")


# --------------------------------------------------------------------------- duplicated routes
@dataclass(frozen=True)
class DuplicatedRoutes:
    """What :func:`duplicated_routes` found.

    ``segments``: one row per stretch of a route running alongside a route of another
    operator (both directions: each route's own stretch), columns ``route_id, operator,
    other_route_id, other_operator, length_m, redundant`` (true when the other operator
    ranks first, i.e. this trench would not be needed with a shared duct), a line.
    ``candidates``: one row per pair of routes, ``route_id_a, operator_a, route_id_b,
    operator_b, length_a_m, length_b_m, length_m`` (the smaller: never more than the
    shorter route), ``n_stretches``, sorted by ``length_m`` descending.
    ``duplicated_route_km``: length of route (all operators) alongside another operator's
    route. ``duplicated_trench_km``: the part of it that a shared duct would have saved
    (for k operators in one corridor, k - 1 trenches).
    """

    segments: gpd.GeoDataFrame
    candidates: pd.DataFrame
    duplicated_route_km: float
    duplicated_trench_km: float
    total_route_km: float
    operator_rank: tuple[str, ...] = field(default=())


def duplicated_routes(
    routes: gpd.GeoDataFrame,
    /,
    *,
    corridor_m: float = SHARING.corridor_m,
    min_length_m: float = SHARING.min_length_m,
    working_crs: Any = None,
) -> DuplicatedRoutes:
    """Fiber routes of different operators running along the same corridor.

    A point of a route is *alongside* a route of another operator when it lies within
    ``corridor_m`` of that route's line. The alongside part of a route is a set of
    intervals, computed exactly (no sampling) segment by segment; intervals that touch
    form a stretch, and stretches of at least ``min_length_m`` are duct-sharing
    candidates. Lengths are measured along the route.

    Parameters
    ----------
    routes
        Schema ``fiber_routes`` (``route_id, operator``), lines, any CRS.
    corridor_m
        Corridor width in metres: the largest distance between two routes in one corridor.
    min_length_m
        Shortest stretch, in metres along the route, worth a shared duct.
    working_crs
        Projected CRS for distances; default: the input CRS if projected, else UTM.

    Returns
    -------
    DuplicatedRoutes
        ``segments`` (in the CRS of ``routes``), ``candidates``, ``duplicated_route_km``,
        ``duplicated_trench_km``, ``total_route_km``, ``operator_rank``.

    Raises
    ------
    MissingColumnError, MissingCRSError, GeographicCRSError, GeometryTypeError,
    InputValidationError

    Warns
    -----
    SkippedFeaturesWarning
        Routes with no operator or no geometry are left out (counted).

    Notes
    -----
    Vectorised: a KD-tree self-join over the midpoints of route pieces gives candidate
    pairs of segments of different operators;
    for each pair, the interval of the first segment inside the second's capsule (the
    points within ``corridor_m`` of a segment) is solved in numpy (slab clipping and two
    quadratics); intervals are merged per (route part, other route) with a grouped
    cumulative max. Cost: O(segments log segments + candidate pairs); memory a few arrays
    per candidate pair. A stretch along a route may exceed the other route's length by up
    to ``2 * corridor_m`` (its ends reach past the other's ends); pair lengths take the
    smaller direction. For the trench figure, operators are ranked by their route km (most
    first, ties by name); a stretch is redundant when the route it runs alongside belongs
    to an operator ranked before its own.
    """
    crs = _check_frame(routes, "`routes`", ("route_id", "operator"))
    for v, name in ((corridor_m, "corridor_m"), (min_length_m, "min_length_m")):
        if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
            msg = f"`{name}` must be a length in metres >= 0; got {v!r}."
            raise InputValidationError(msg)
    _check_kind(routes, "`routes`", {"LineString", "MultiLineString"})
    wcrs = _working_crs(crs, working_crs, routes, "`routes`")
    r = _usable_routes(routes)
    geoms = r.geometry if crs.equals(wcrs) else r.geometry.to_crs(wcrs)
    rid = r["route_id"].astype(str).to_numpy()
    rop = r["operator"].astype(str).str.strip().to_numpy()
    route_len = shapely.length(geoms.values)
    total_km = float(route_len.sum() / 1000.0)
    op_km = pd.Series(route_len, index=rop).groupby(level=0).sum()
    rank_order = tuple(sorted(op_km.index, key=lambda o: (-op_km[o], o)))
    if len(r) < 2 or len(op_km) < 2:
        return _no_duplicates(crs, total_km, rank_order)
    seg = _route_segments(geoms.values)
    runs = _alongside_runs(seg, pd.factorize(rop)[0], corridor_m, min_length_m)
    if runs is None:
        return _no_duplicates(crs, total_km, rank_order)
    a_part, b_route, lo, hi = runs
    run_len = hi - lo
    a_route = seg.part_route[a_part]
    op_rank = pd.Series(np.arange(len(rank_order)), index=list(rank_order))[rop].to_numpy()
    redundant_run = op_rank[b_route] < op_rank[a_route]
    # a route counts once however many other routes it runs alongside: union per part
    _, ulo, uhi = _merge_intervals(a_part, lo, hi)
    dup_km = float((uhi - ulo).sum() / 1000.0)
    _, rlo, rhi = _merge_intervals(a_part[redundant_run], lo[redundant_run], hi[redundant_run])
    trench_km = float((rhi - rlo).sum() / 1000.0)
    lines = _substrings(seg.coords, seg.cum, seg.first_v, seg.last_v, seg.vlen, a_part, lo, hi)
    seg_geo = gpd.GeoSeries(lines, crs=wcrs)
    if not wcrs.equals(crs):
        seg_geo = seg_geo.to_crs(crs)
    segments = gpd.GeoDataFrame(
        {
            "route_id": rid[a_route],
            "operator": rop[a_route],
            "other_route_id": rid[b_route],
            "other_operator": rop[b_route],
            "length_m": run_len,
            "redundant": redundant_run,
        },
        geometry=seg_geo.values,
        crs=crs,
    ).sort_values(["route_id", "other_route_id", "length_m"], ascending=[True, True, False], ignore_index=True)
    candidates = _pair_candidates(a_route, b_route, run_len, rid, rop)
    logger.info(
        "duplicated routes: %d stretches on %d route pairs; %.1f km alongside, %.1f km of duplicated trenching",
        len(segments), len(candidates), dup_km, trench_km,
    )
    return DuplicatedRoutes(segments, candidates, dup_km, trench_km, total_km, rank_order)


_SEGMENT_COLUMNS = ["route_id", "operator", "other_route_id", "other_operator", "length_m", "redundant"]
_CANDIDATE_COLUMNS = ["route_id_a", "operator_a", "route_id_b", "operator_b", "length_a_m", "length_b_m", "length_m",
                      "n_stretches"]


def _usable_routes(routes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The routes with an operator and a geometry (the others are counted in a warning)."""
    r = routes.reset_index(drop=True)
    op = r["operator"]
    noop = (op.isna() | (op.astype(str).str.strip() == "")).to_numpy()
    nogeom = (r.geometry.isna() | r.geometry.is_empty).to_numpy()
    if noop.any():
        ex = ", ".join(r.loc[noop, "route_id"].astype(str).head(5))
        _warn(f"`routes`: {int(noop.sum())} route(s) have no operator (e.g. {ex}) and were left out; fill `operator` to include them.", SkippedFeaturesWarning, depth=1)
    if (nogeom & ~noop).any():
        _warn(f"`routes`: {int((nogeom & ~noop).sum())} route(s) have no geometry and were left out.", SkippedFeaturesWarning, depth=1)
    return r[~noop & ~nogeom].reset_index(drop=True)


def _no_duplicates(crs: Any, total_km: float, rank_order: tuple[str, ...]) -> DuplicatedRoutes:
    """The result when no stretch qualifies: empty tables with their columns and dtypes."""
    kinds = {"length_m": "float64", "redundant": "bool", "length_a_m": "float64", "length_b_m": "float64", "n_stretches": "int64"}
    seg = gpd.GeoDataFrame(
        {c: pd.Series([], dtype=kinds.get(c, "object")) for c in _SEGMENT_COLUMNS},
        geometry=gpd.GeoSeries([], crs=crs).values, crs=crs,
    )
    cand = pd.DataFrame({c: pd.Series([], dtype=kinds.get(c, "object")) for c in _CANDIDATE_COLUMNS})
    return DuplicatedRoutes(seg, cand, 0.0, 0.0, total_km, rank_order)


@dataclass(frozen=True)
class _Segments:
    """The straight segments of every route part (a MultiLineString's parts are lines of
    their own), over one coordinate array: ``s0`` is each segment's first vertex, ``cum``
    the running length at each vertex, ``first_v``/``last_v`` each part's vertex range."""

    coords: np.ndarray
    cum: np.ndarray
    vlen: np.ndarray
    first_v: np.ndarray
    last_v: np.ndarray
    part_route: np.ndarray
    s0: np.ndarray
    seg_part: np.ndarray
    seg_route: np.ndarray
    seg_len: np.ndarray


def _route_segments(geoms: np.ndarray) -> _Segments:
    parts, part_route = shapely.get_parts(geoms, return_index=True)
    coords, vpart = shapely.get_coordinates(parts, return_index=True)
    s0 = np.flatnonzero(np.r_[vpart[1:] == vpart[:-1], False])  # first vertex of each segment
    vlen = np.zeros(len(coords))
    vlen[s0] = np.hypot(*(coords[s0 + 1] - coords[s0]).T)
    cum = np.cumsum(np.r_[0.0, vlen[:-1]])  # along the whole coordinate array
    first_v = np.flatnonzero(np.r_[True, vpart[1:] != vpart[:-1]])
    last_v = np.r_[first_v[1:], len(coords)] - 1
    seg_part = vpart[s0]
    return _Segments(coords, cum, vlen, first_v, last_v, part_route, s0, seg_part, part_route[seg_part], vlen[s0])


def _alongside_runs(seg: _Segments, op_code: np.ndarray, corridor_m: float,
                    min_length_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Stretches of at least ``min_length_m`` of a route part within ``corridor_m`` of a
    route of another operator: (part, other route, start, end) in metres along the part;
    None when there is none."""
    coords, s0, seg_len = seg.coords, seg.s0, seg.seg_len
    ia, ib = _segment_pairs_within(coords[s0], coords[s0 + 1], corridor_m)
    k = (op_code[seg.seg_route[ia]] != op_code[seg.seg_route[ib]]) & (seg_len[ia] > 0)
    ia, ib = ia[k], ib[k]
    # the part of segment ia within corridor_m of segment ib: an interval of ia (exact)
    t_lo, t_hi = _segment_in_capsule(coords[s0[ia]], coords[s0[ia] + 1], coords[s0[ib]], coords[s0[ib] + 1], corridor_m)
    ok = t_lo <= t_hi
    ia, ib, t_lo, t_hi = ia[ok], ib[ok], t_lo[ok], t_hi[ok]
    if len(ia) == 0:
        return None
    n_routes = int(op_code.shape[0])
    start0 = seg.cum[s0[ia]] - seg.cum[seg.first_v[seg.seg_part[ia]]]  # along the part, metres
    g, lo, hi = _merge_intervals(
        seg.seg_part[ia].astype(np.int64) * n_routes + seg.seg_route[ib], start0 + t_lo * seg_len[ia], start0 + t_hi * seg_len[ia]
    )
    good = (hi - lo) >= min_length_m
    g, lo, hi = g[good], lo[good], hi[good]
    if len(g) == 0:
        return None
    return g // n_routes, g % n_routes, lo, hi


def _pair_candidates(a_route: np.ndarray, b_route: np.ndarray, run_len: np.ndarray, rid: np.ndarray,
                     rop: np.ndarray) -> pd.DataFrame:
    """Duct-sharing candidates per unordered pair of routes: the length along each, the smaller counts."""
    directed = pd.DataFrame({"a": a_route, "b": b_route, "len": run_len}).groupby(["a", "b"]).agg(len=("len", "sum"), n=("len", "size"))
    directed = directed.reset_index()
    lo = np.minimum(directed["a"], directed["b"])
    hi = np.maximum(directed["a"], directed["b"])
    directed["lo"], directed["hi"] = lo, hi
    la = directed[directed["a"] == directed["lo"]].set_index(["lo", "hi"])
    lb = directed[directed["a"] == directed["hi"]].set_index(["lo", "hi"])
    idx = la.index.union(lb.index)
    len_a = la["len"].reindex(idx).fillna(0.0).to_numpy()
    len_b = lb["len"].reindex(idx).fillna(0.0).to_numpy()
    n_str = np.maximum(la["n"].reindex(idx).fillna(0).to_numpy(), lb["n"].reindex(idx).fillna(0).to_numpy()).astype(np.int64)
    ia = idx.get_level_values(0).to_numpy()
    ib = idx.get_level_values(1).to_numpy()
    # order each pair by (operator, route_id) so "a" does not depend on row order
    swap = np.array([(rop[x], rid[x]) > (rop[y], rid[y]) for x, y in zip(ia, ib, strict=True)], dtype=bool)
    ia2, ib2 = np.where(swap, ib, ia), np.where(swap, ia, ib)
    la2, lb2 = np.where(swap, len_b, len_a), np.where(swap, len_a, len_b)
    return pd.DataFrame(
        {
            "route_id_a": rid[ia2],
            "operator_a": rop[ia2],
            "route_id_b": rid[ib2],
            "operator_b": rop[ib2],
            "length_a_m": la2,
            "length_b_m": lb2,
            "length_m": np.minimum(la2, lb2),
            "n_stretches": n_str,
        }
    ).sort_values(["length_m", "route_id_a", "route_id_b"], ascending=[False, True, True], ignore_index=True)


def _segment_pairs_within(pa: np.ndarray, pb: np.ndarray, distance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """A superset of the ordered pairs (i, j), i != j, of segments within ``distance_m``.

    Segments are cut into pieces of at most ``piece`` metres; two pieces within
    ``distance_m`` have midpoints within ``distance_m + piece``, found with one KD-tree
    self-join. The exact test comes later (:func:`_segment_in_capsule`).
    """
    d = pb - pa
    length = np.hypot(d[:, 0], d[:, 1])
    piece = max(2.0 * distance_m, 10.0)
    n = np.maximum(np.ceil(length / piece).astype(np.int64), 1)
    seg_of = np.repeat(np.arange(len(pa)), n)
    j = np.arange(len(seg_of)) - np.repeat(np.cumsum(n) - n, n)
    mid = pa[seg_of] + ((j + 0.5) / n[seg_of])[:, None] * d[seg_of]
    half = (length / n).max() / 2 if len(length) else 0.0
    tree = cKDTree(mid, balanced_tree=False, compact_nodes=False)
    pairs = tree.query_pairs(distance_m + 2 * half + 1e-6, output_type="ndarray")
    si, sj = seg_of[pairs[:, 0]], seg_of[pairs[:, 1]]
    keep = si != sj
    key = np.unique(np.minimum(si[keep], sj[keep]).astype(np.int64) * len(pa) + np.maximum(si[keep], sj[keep]))
    a, b = key // len(pa), key % len(pa)
    return np.concatenate([a, b]), np.concatenate([b, a])


def _segment_in_capsule(
    p0: np.ndarray, p1: np.ndarray, b0: np.ndarray, b1: np.ndarray, w: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the interval [t_lo, t_hi] of segment p0->p1 (t in [0, 1]) lying within
    ``w`` of segment b0->b1; empty when t_lo > t_hi.

    The set of points within ``w`` of a segment is a capsule (a rectangle and two discs),
    convex, so its intersection with a segment is one interval: the hull of the intervals
    cut by the rectangle (slab clipping) and by the two discs (a quadratic each).
    """
    d = p1 - p0
    e = b1 - b0
    lb = np.hypot(e[:, 0], e[:, 1])
    aa = (d * d).sum(axis=1)
    lo = np.full(len(p0), np.inf)
    hi = np.full(len(p0), -np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        for c in (b0, b1):
            f = p0 - c
            bq = 2.0 * (f * d).sum(axis=1)
            cq = (f * f).sum(axis=1) - w * w
            disc = bq * bq - 4.0 * aa * cq
            hit = disc >= 0
            sq = np.sqrt(np.where(hit, disc, 0.0))
            lo = np.where(hit, np.minimum(lo, (-bq - sq) / (2.0 * aa)), lo)
            hi = np.where(hit, np.maximum(hi, (-bq + sq) / (2.0 * aa)), hi)
        eh = e / np.where(lb > 0, lb, 1.0)[:, None]
        nh = np.column_stack([-eh[:, 1], eh[:, 0]])
        rel = p0 - b0

        def slab(x0: np.ndarray, dx: np.ndarray, a: float | np.ndarray, b: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            inside = (x0 >= a) & (x0 <= b)
            ta, tb = (a - x0) / dx, (b - x0) / dx
            moving = dx != 0
            t0 = np.where(moving, np.minimum(ta, tb), np.where(inside, -np.inf, np.inf))
            t1 = np.where(moving, np.maximum(ta, tb), np.where(inside, np.inf, -np.inf))
            return t0, t1

        u0, u1 = slab((rel * eh).sum(axis=1), (d * eh).sum(axis=1), 0.0, lb)
        v0, v1 = slab((rel * nh).sum(axis=1), (d * nh).sum(axis=1), -w, w)
    r0, r1 = np.maximum(u0, v0), np.minimum(u1, v1)
    rect = (r0 <= r1) & (lb > 0)
    lo = np.where(rect, np.minimum(lo, r0), lo)
    hi = np.where(rect, np.maximum(hi, r1), hi)
    return np.maximum(lo, 0.0), np.minimum(hi, 1.0)


def _merge_intervals(group: np.ndarray, lo: np.ndarray, hi: np.ndarray, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of intervals per group: (group, start, end) of each merged interval, sorted."""
    if len(group) == 0:
        return group, lo, hi
    order = np.lexsort((lo, group))
    g, lo, hi = group[order], lo[order], hi[order]
    reach = pd.Series(hi).groupby(g).cummax().to_numpy()
    new = np.ones(len(g), dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (lo[1:] > reach[:-1] + eps)
    starts = np.flatnonzero(new)
    return g[starts], lo[starts], np.maximum.reduceat(hi, starts)


def _substrings(
    coords: np.ndarray,
    cum: np.ndarray,
    first_v: np.ndarray,
    last_v: np.ndarray,
    vlen: np.ndarray,
    part: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> np.ndarray:
    """The pieces [lo, hi] (metres along each part) of the parts as LineStrings, in bulk."""
    base = cum[first_v[part]]
    gs, ge = base + lo, base + hi
    fv, lv = first_v[part], last_v[part]

    def point_at(pos: np.ndarray) -> np.ndarray:
        seg = np.clip(np.searchsorted(cum, pos, side="right") - 1, fv, np.maximum(lv - 1, fv))
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.clip(np.where(vlen[seg] > 0, (pos - cum[seg]) / vlen[seg], 0.0), 0.0, 1.0)
        return coords[seg] + t[:, None] * (coords[np.minimum(seg + 1, lv)] - coords[seg])

    inner_lo = np.maximum(np.searchsorted(cum, gs, side="right"), fv)
    inner_hi = np.minimum(np.searchsorted(cum, ge, side="left") - 1, lv)
    n_in = np.maximum(inner_hi - inner_lo + 1, 0)
    n = n_in + 2
    idx = np.repeat(np.arange(len(part)), n)
    pos_in = np.arange(len(idx)) - np.repeat(np.cumsum(n) - n, n)  # 0 .. n-1 within each piece
    out = np.empty((len(idx), 2))
    is_first = pos_in == 0
    is_last = pos_in == n[idx] - 1
    out[is_first] = point_at(gs)
    out[is_last] = point_at(ge)
    mid = ~is_first & ~is_last
    out[mid] = coords[inner_lo[idx[mid]] + pos_in[mid] - 1]
    return shapely.linestrings(out, indices=idx)
