"""Building the noded network from road and canal-bank lines (repairs counted)."""

from __future__ import annotations

import math
import warnings
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .. import crs as _crs
from .._errors import (
    EmptyLayerError,
    GeometryTypeError,
    InputValidationError,
    MissingColumnError,
    RepairWarning,
)
from ..parameters import FIBER
from .convert import to_networkx
from .noding import _node_lines
from .table import _ALL_KINDS, EdgeNetwork, _components


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


def build_edges(
    lines: gpd.GeoDataFrame,
    *,
    snap_tolerance_m: float = FIBER.snap_tolerance_m,
    crossing_cost_column: str | None = "crossing_cost_m",
    working_crs: Any = None,
    canal_half_width_m: float = FIBER.canal_half_width_m,
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
    canal_half_width_m
        A ``canal`` line stands for two banks: it becomes two bank lines offset this far to
        its left and right (``side`` +1 / −1), noded like any line, so a road that crosses
        the canal (a bridge) joins both banks while a road that ends at it joins its own
        bank only; the canal line stays water that drops may not cross. 0: one line for
        both banks (the old reading).

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
    gdf, wcrs = _in_working_crs(lines, working_crs)
    repairs: dict[str, int] = {}
    codes, uniq = pd.factorize(gdf["kind"].astype(str), sort=False)
    kinds = np.array([k.strip().lower() for k in uniq], dtype=object)[codes]
    if crossing_cost_column and crossing_cost_column in gdf.columns:
        cost = pd.to_numeric(gdf[crossing_cost_column], errors="coerce").fillna(0.0).to_numpy(np.float64)
    else:
        cost = np.zeros(len(gdf))
    labels = gdf.index.to_numpy()
    water = _water_lines(np.asarray(gdf.geometry.values, dtype=object), kinds)
    keep, parts, pidx, line_len = _traversable_parts(np.asarray(gdf.geometry.values, dtype=object), kinds, repairs)
    kinds, cost, rows = kinds[keep], cost[keep], np.flatnonzero(keep)
    parts, pidx, part_side = _canal_banks(parts, pidx, kinds, float(canal_half_width_m), repairs)
    # repeated consecutive vertices do no harm; node the lines
    pieces, pline, n_split = _node_lines(parts, 1e-9)
    repairs["split_points_inserted"] = n_split
    repairs["lines_split"] = int(len(pieces) - len(parts))
    src_part = pidx[pline]
    piece_side = part_side[pline]
    piece_len = shapely.length(pieces)
    piece_cost = cost[src_part] * np.divide(piece_len, line_len[src_part], out=np.zeros_like(piece_len), where=line_len[src_part] > 0)
    r = max(float(snap_tolerance_m), 1e-9)
    pieces, piece_len, u, v, node_xy = _join_ends(pieces, piece_len, r, repairs)
    keep = _distinct_edges(pieces, piece_len, u, v, r, repairs)
    pieces, u, v, piece_len, piece_cost = pieces[keep], u[keep], v[keep], piece_len[keep], piece_cost[keep]
    ekind = kinds[src_part][keep]
    eside = piece_side[keep]
    esrc = labels[rows[src_part]][keep]
    if len(pieces) == 0:
        raise EmptyLayerError(f"every line collapsed within snap_tolerance_m={snap_tolerance_m} m; lower the tolerance.")
    # renumber nodes to the used ones
    used, inv = np.unique(np.concatenate([u, v]), return_inverse=True)
    node_xy = node_xy[used]
    u, v = inv[: len(u)], inv[len(u):]
    comp = _components(len(node_xy), u, v)
    repairs = {k: int(val) for k, val in repairs.items()}
    n_fixed = sum(val for k, val in repairs.items()
                  if k not in ("river_lines_excluded", "split_points_inserted", "lines_split", "canal_lines_as_two_banks"))
    if n_fixed:
        details = ", ".join(f"{k}={val}" for k, val in repairs.items() if val and k != "canal_lines_as_two_banks")
        warnings.warn(f"the road/canal network was repaired: {details}.", RepairWarning, stacklevel=2)
    return EdgeNetwork(
        node_xy=node_xy, u=u.astype(np.int64), v=v.astype(np.int64), length_m=piece_len.astype(np.float64),
        crossing_cost_m=piece_cost.astype(np.float64), geometry=pieces, kind=ekind.astype(str),
        source_index=esrc, node_component=comp, crs=wcrs, repairs=repairs, water=water,
        side=eside.astype(np.int8),
    )


def _canal_banks(parts: np.ndarray, pidx: np.ndarray, kinds: np.ndarray, half_width_m: float,
                 repairs: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each canal part as its two banks: offset curves ``+w`` (left, side +1) and ``−w``
    (right, side −1), mitred joins; other parts unchanged (side 0). Returns the parts, their
    line index and their side."""
    side = np.zeros(len(parts), np.int8)
    canal = kinds[pidx] == "canal"
    repairs["canal_lines_as_two_banks"] = int(canal.sum()) if half_width_m > 0 else 0
    if half_width_m <= 0 or not canal.any():
        return parts, pidx, side
    ci = np.flatnonzero(canal)
    banks, bidx, bside = [], [], []
    for sgn in (1, -1):
        off = shapely.offset_curve(parts[ci], sgn * half_width_m, join_style="mitre", mitre_limit=2.0)
        got, k = shapely.get_parts(off, return_index=True)
        ok = shapely.length(got) > 0
        banks.append(got[ok])
        bidx.append(pidx[ci][k[ok]])
        bside.append(np.full(int(ok.sum()), sgn, np.int8))
    rest = ~canal
    return (np.concatenate([parts[rest], *banks]), np.concatenate([pidx[rest], *bidx]),
            np.concatenate([side[rest], *bside]))


def _water_lines(geoms: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """River and canal lines (2-D, single parts): what a household drop may not cross."""
    w = geoms[np.isin(kinds, ["river", "canal"])]
    w = w[~(shapely.is_missing(w) | shapely.is_empty(w))]
    if len(w) == 0:
        return np.empty(0, dtype=object)
    parts = shapely.get_parts(shapely.force_2d(w))
    # straight segments: tight boxes for the drop-crossing search (a long canal's box covers half a province)
    coords, idx = shapely.get_coordinates(parts, return_index=True)
    k = np.flatnonzero(idx[:-1] == idx[1:])
    segs = shapely.linestrings(np.stack([coords[k], coords[k + 1]], axis=1))
    return segs[shapely.length(segs) > 0]


def _in_working_crs(lines: gpd.GeoDataFrame, working_crs: Any) -> tuple[gpd.GeoDataFrame, pyproj.CRS]:
    """The lines in the metric working CRS (``working_crs``, else their own, which must be projected)."""
    src_crs = _crs.require_crs(lines, "the road/canal layer")
    if working_crs is not None:
        wcrs = _crs.as_crs(working_crs)
        _crs.require_projected(wcrs, "working_crs")
        return (lines if src_crs.equals(wcrs) else lines.to_crs(wcrs)), wcrs
    _crs.require_projected(src_crs, "the road/canal layer")
    return lines, src_crs


def _traversable_parts(geoms: np.ndarray, kinds: np.ndarray,
                       repairs: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Drop empty geometries, rivers, Z values and zero-length parts; explode multi-lines.

    Returns the mask of kept input lines, the single-line parts, the index of each part's
    line among the kept ones, and the kept lines' lengths. Counts go into ``repairs``.
    """
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    repairs["empty_geometries_removed"] = int(missing.sum())
    river = kinds == "river"
    repairs["river_lines_excluded"] = int(river.sum())
    keep = ~missing & ~river
    geoms = geoms[keep]
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
    zero = shapely.length(parts) <= 0
    repairs["zero_length_parts_removed"] = int(zero.sum())
    parts, pidx = parts[~zero], pidx[~zero]
    if len(parts) == 0:
        raise EmptyLayerError(
            "no traversable line is left in the road/canal layer (after removing rivers, "
            f"empty and zero-length lines: {repairs}). Roads, canals, bridges or ferries are needed."
        )
    return keep, parts, pidx, line_len


def _join_ends(pieces: np.ndarray, piece_len: np.ndarray, r: float,
               repairs: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Join line ends within ``r`` into nodes (clusters of ends, transitively).

    The node of a cluster is the end shared exactly by most line ends in it (noded
    crossings, exact joints), ties to the first: snapping moves the odd ones only.
    Returns the (moved) pieces, their lengths, their end nodes ``u``, ``v`` and the nodes'
    coordinates.
    """
    coords, cidx = shapely.get_coordinates(pieces, return_index=True)
    counts = np.bincount(cidx, minlength=len(pieces))
    first_row = np.r_[0, np.cumsum(counts)[:-1]]
    last_row = first_row + counts - 1
    ends = np.concatenate([coords[first_row], coords[last_row]])
    pairs = cKDTree(ends).query_pairs(r, output_type="ndarray")
    n_ends = len(ends)
    adj = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_ends, n_ends)) if len(pairs) else sparse.coo_matrix((n_ends, n_ends))
    _, cluster = connected_components(adj, directed=False)
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
    return pieces, piece_len, u, v, node_xy


def _distinct_edges(pieces: np.ndarray, piece_len: np.ndarray, u: np.ndarray, v: np.ndarray, r: float,
                    repairs: dict[str, int]) -> np.ndarray:
    """Mask of the edges to keep: not collapsed by the snapping (a loop no longer than
    ``2 r``) and not a duplicate (same end nodes, length and midpoint to 1 mm)."""
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
    return keep & ~dup


def build_network(
    lines: gpd.GeoDataFrame,
    *,
    snap_tolerance_m: float = FIBER.snap_tolerance_m,
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
