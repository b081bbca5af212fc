"""Poles and spans: shared spans, poles over their cable limit, poles without spans."""

from __future__ import annotations

import logging

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from .. import crs as _crs
from .._errors import SkippedFeaturesWarning
from ..parameters import SHARING
from ._common import _check_frame, _check_kind, _warn, _xy, _xy_points

logger = logging.getLogger("ictplan.sharing")


# --------------------------------------------------------------------------- poles and spans
def _split_ops(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.split(";").map(lambda lst: tuple(sorted({o.strip() for o in lst if o.strip()})))


def poles_and_spans(
    poles: gpd.GeoDataFrame,
    spans: gpd.GeoDataFrame,
    /,
    *,
    max_cables: int | None = SHARING.max_cables,
    snap_m: float = SHARING.snap_m,
    default_cable_limit: int = SHARING.default_cable_limit,
) -> tuple[nx.MultiGraph, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Graph of poles and spans; shared spans; poles over their cable limit.

    Parameters
    ----------
    poles
        Schema ``poles`` (``pole_id, owner``, optional ``max_cables``), points.
    spans
        Schema ``spans`` (``span_id, kind, operators`` with operators ';'-separated;
        optional ``from_pole, to_pole, cable_count``), lines, in the CRS of ``poles``.
    max_cables
        Cable limit for every pole; default (``None``): the pole's ``max_cables`` column,
        else ``default_cable_limit``.
    snap_m
        A span end without ``from_pole``/``to_pole`` joins the nearest pole within this
        many metres (CRS units; must be projected).
    default_cable_limit
        Cable limit of a pole with no ``max_cables`` value (6 by default).

    Returns
    -------
    graph : networkx.MultiGraph
        Nodes are pole ids (plus ``J-...`` junctions for span ends away from any pole),
        with ``x, y``; one edge per span, keyed by ``span_id``, with ``kind, operators``
        (tuple), ``cable_count``. ``graph.graph["crs"]`` is the layers' CRS.
    poles : geopandas.GeoDataFrame
        A copy of ``poles`` with ``n_spans, operators, n_operators, cables`` (estimated
        cables on the pole), ``cable_limit, overloaded``, ``no_span``.
    spans : geopandas.GeoDataFrame
        A copy of ``spans`` with ``from_node, to_node``, ``operators`` (normalised,
        sorted), ``n_operators``, ``cable_count`` (given, else one per operator), ``shared``.

    Raises
    ------
    MissingColumnError, MissingCRSError, CRSMismatchError, GeographicCRSError,
    GeometryTypeError, InputValidationError

    Warns
    -----
    SkippedFeaturesWarning
        Poles with no span (kept, ``no_span`` true); spans with no operator; span ends
        that match no pole.

    Notes
    -----
    The cable count of a pole is estimated from its aerial spans: a cable passing the pole
    uses two spans, one ending there uses one, so the pole carries at least the busiest
    span's cables and at least half the cables of all its spans:
    ``max(max(c), ceil(sum(c) / 2))``. Duct spans do not load poles.
    """
    crs = _check_frame(poles, "`poles`", ("pole_id",))
    _check_frame(spans, "`spans`", ("span_id", "operators"))
    _crs.check_same_crs(poles=poles, spans=spans)
    _crs.require_projected(crs, "`poles`")
    _check_kind(poles, "`poles`", {"Point"})
    _check_kind(spans, "`spans`", {"LineString"})
    poles_out = poles.copy()
    spans_out = spans.copy()
    pid = poles_out["pole_id"].astype(str).to_numpy()
    pxy = _xy(poles_out.geometry)
    ops, kind, cables = _span_cables(spans_out)
    geoms = spans_out.geometry.values
    ends = np.column_stack([_xy_points(shapely.get_point(geoms, 0)), _xy_points(shapely.get_point(geoms, -1))]).reshape(-1, 2)
    a, b = _span_end_poles(spans_out, pid, pxy, ends, kind, snap_m)
    from_node = _node_names(pid, a, ends[0::2])
    to_node = _node_names(pid, b, ends[1::2])
    n_ops = ops.map(len).to_numpy()
    spans_out["from_node"] = from_node
    spans_out["to_node"] = to_node
    spans_out["operators"] = ops.map(";".join).to_numpy()
    spans_out["n_operators"] = n_ops
    spans_out["cable_count"] = cables
    spans_out["shared"] = n_ops >= 2
    limit = _cable_limits(poles_out, max_cables, default_cable_limit)
    load, n_spans = _pole_loads(poles_out, pid, a, b, ops, kind, cables, limit)
    G = nx.MultiGraph(crs=crs)
    G.add_nodes_from((p, {"x": float(x), "y": float(y), "kind": "pole"}) for p, (x, y) in zip(pid, pxy, strict=True))
    for names, xy in ((from_node, ends[0::2]), (to_node, ends[1::2])):
        for k in np.flatnonzero([not G.has_node(v) for v in names]):
            G.add_node(names[k], x=float(xy[k, 0]), y=float(xy[k, 1]), kind="junction")
    sid = spans_out["span_id"].astype(str).to_numpy()
    G.add_edges_from(
        (u, v, s, {"kind": k, "operators": o, "cable_count": int(c), "length_m": float(ln)})
        for u, v, s, k, o, c, ln in zip(from_node, to_node, sid, kind, ops, cables, shapely.length(geoms), strict=True)
    )
    logger.info(
        "pole graph: %d poles, %d spans; %d shared spans, %d overloaded poles, %d poles without spans",
        len(pid), len(spans_out), int((n_ops >= 2).sum()), int((load > limit).sum()), int((n_spans == 0).sum()),
    )
    return G, poles_out, spans_out


def _span_cables(spans: gpd.GeoDataFrame) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """Per span: its operators (sorted tuples), its kind and its cables (given, else one per operator)."""
    ops = _split_ops(spans["operators"])
    n_ops = ops.map(len).to_numpy()
    if (n_ops == 0).any():
        _warn(f"`spans`: {int((n_ops == 0).sum())} span(s) name no operator; they count as carrying no cable.",
              SkippedFeaturesWarning, depth=1)
    kind = spans["kind"].astype(str).str.lower().to_numpy() if "kind" in spans.columns else np.full(len(spans), "aerial")
    given = pd.to_numeric(spans["cable_count"], errors="coerce") if "cable_count" in spans.columns else pd.Series(np.nan, index=spans.index)
    cables = np.where(given.notna(), given.fillna(0).to_numpy(), n_ops).astype(np.int64)
    return ops, kind, cables


def _span_end_poles(spans: gpd.GeoDataFrame, pid: np.ndarray, pxy: np.ndarray, ends: np.ndarray, kind: np.ndarray,
                    snap_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The pole (position in ``pid``, -1: none) at each span's start and end: the named
    ``from_pole``/``to_pole``, else the nearest pole within ``snap_m``."""
    pos = {p: k for k, p in enumerate(pid)}
    tree = cKDTree(pxy) if len(pxy) else None

    def resolve(col: str, k: int) -> np.ndarray:
        node = np.full(len(spans), -1, dtype=np.int64)
        if col in spans.columns:
            named = spans[col].astype(object).where(spans[col].notna())
            node = np.array([pos.get(str(v), -1) if v is not None and v == v else -1 for v in named], dtype=np.int64)
        xy = ends[k::2]
        need = (node < 0) & np.isfinite(xy).all(axis=1)
        if tree is not None and need.any():
            d, near = tree.query(xy[need], k=1, distance_upper_bound=snap_m)
            node[np.flatnonzero(need)] = np.where(np.isfinite(d), near, -1)
        return node

    a = resolve("from_pole", 0)
    b = resolve("to_pole", 1)
    unmatched = ((a < 0) | (b < 0)) & (kind == "aerial")
    if unmatched.any():
        _warn(
            f"`spans`: {int(unmatched.sum())} aerial span(s) have an end at no pole (no `from_pole`/`to_pole` and no "
            f"pole within {snap_m:g} m); the end becomes a junction node and loads no pole.",
            SkippedFeaturesWarning, depth=1,
        )
    return a, b


def _node_names(pid: np.ndarray, idx: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Graph node names: the pole id, or ``J-x-y`` for an end at no pole."""
    out = np.empty(len(idx), dtype=object)
    out[idx >= 0] = pid[idx[idx >= 0]]
    for k in np.flatnonzero(idx < 0):
        out[k] = f"J-{xy[k, 0]:.1f}-{xy[k, 1]:.1f}"
    return out


def _cable_limits(poles: gpd.GeoDataFrame, max_cables: int | None, default_cable_limit: int) -> np.ndarray:
    n = len(poles)
    if max_cables is not None:
        return np.full(n, int(max_cables), dtype=np.int64)
    if "max_cables" in poles.columns:
        return pd.to_numeric(poles["max_cables"], errors="coerce").fillna(default_cable_limit).to_numpy().astype(np.int64)
    return np.full(n, int(default_cable_limit), dtype=np.int64)


def _pole_loads(poles_out: gpd.GeoDataFrame, pid: np.ndarray, a: np.ndarray, b: np.ndarray, ops: pd.Series,
                kind: np.ndarray, cables: np.ndarray, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fill the pole columns (spans, operators, estimated cables, limit, overloaded, no span);
    returns the cables and the span count per pole."""
    # pole loads: aerial spans only, both ends
    aerial = kind == "aerial"
    end_pole = np.concatenate([a[aerial], b[aerial]])
    end_cab = np.concatenate([cables[aerial], cables[aerial]])
    at = end_pole >= 0
    n = len(pid)
    all_end = np.concatenate([a, b])
    n_spans = np.bincount(all_end[all_end >= 0], minlength=n)
    csum = np.bincount(end_pole[at], weights=end_cab[at], minlength=n)
    cmax = np.zeros(n)
    np.maximum.at(cmax, end_pole[at], end_cab[at])
    load = np.maximum(cmax, np.ceil(csum / 2.0)).astype(np.int64)
    po = pd.DataFrame({"p": np.concatenate([a, b]), "ops": np.concatenate([ops.to_numpy(), ops.to_numpy()])})
    po = po[po["p"] >= 0].explode("ops").dropna()
    pole_ops = po.drop_duplicates().sort_values(["p", "ops"]).groupby("p")["ops"].agg(";".join)
    poles_out["n_spans"] = n_spans
    poles_out["operators"] = pole_ops.reindex(np.arange(n)).fillna("").to_numpy()
    poles_out["n_operators"] = po.groupby("p")["ops"].nunique().reindex(np.arange(n)).fillna(0).astype(np.int64).to_numpy()
    poles_out["cables"] = load
    poles_out["cable_limit"] = limit
    poles_out["overloaded"] = load > limit
    poles_out["no_span"] = n_spans == 0
    if (n_spans == 0).any():
        ex = ", ".join(pid[n_spans == 0][:5])
        _warn(
            f"`poles`: {int((n_spans == 0).sum())} pole(s) have no span (e.g. {ex}); they stay in the pole table "
            "with `no_span` true. Check that the spans layer is complete.",
            SkippedFeaturesWarning, depth=1,
        )
    return load, n_spans
