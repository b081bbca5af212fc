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
    max_cables: int | None = None,
    snap_m: float = 2.0,
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
        Cable limit for every pole; default: the pole's ``max_cables`` column, else 6.
    snap_m
        A span end without ``from_pole``/``to_pole`` joins the nearest pole within this
        many metres (CRS units; must be projected).

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
    pos = {p: k for k, p in enumerate(pid)}
    ops = _split_ops(spans_out["operators"])
    n_ops = ops.map(len).to_numpy()
    if (n_ops == 0).any():
        _warn(f"`spans`: {int((n_ops == 0).sum())} span(s) name no operator; they count as carrying no cable.", SkippedFeaturesWarning)
    kind = spans_out["kind"].astype(str).str.lower().to_numpy() if "kind" in spans_out.columns else np.full(len(spans_out), "aerial")
    given = pd.to_numeric(spans_out["cable_count"], errors="coerce") if "cable_count" in spans_out.columns else pd.Series(np.nan, index=spans_out.index)
    cables = np.where(given.notna(), given.fillna(0).to_numpy(), n_ops).astype(np.int64)
    geoms = spans_out.geometry.values
    ends = np.column_stack([_xy_points(shapely.get_point(geoms, 0)), _xy_points(shapely.get_point(geoms, -1))]).reshape(-1, 2)
    tree = cKDTree(pxy) if len(pxy) else None

    def resolve(col: str, k: int) -> np.ndarray:
        node = np.full(len(spans_out), -1, dtype=np.int64)
        if col in spans_out.columns:
            named = spans_out[col].astype(object).where(spans_out[col].notna())
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
            SkippedFeaturesWarning,
        )

    def node_names(idx: np.ndarray, xy: np.ndarray) -> np.ndarray:
        out = np.empty(len(idx), dtype=object)
        out[idx >= 0] = pid[idx[idx >= 0]]
        for k in np.flatnonzero(idx < 0):
            out[k] = f"J-{xy[k, 0]:.1f}-{xy[k, 1]:.1f}"
        return out

    from_node = node_names(a, ends[0::2])
    to_node = node_names(b, ends[1::2])
    spans_out["from_node"] = from_node
    spans_out["to_node"] = to_node
    spans_out["operators"] = ops.map(";".join).to_numpy()
    spans_out["n_operators"] = n_ops
    spans_out["cable_count"] = cables
    spans_out["shared"] = n_ops >= 2
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
    if max_cables is not None:
        limit = np.full(n, int(max_cables), dtype=np.int64)
    elif "max_cables" in poles_out.columns:
        limit = pd.to_numeric(poles_out["max_cables"], errors="coerce").fillna(6).to_numpy().astype(np.int64)
    else:
        limit = np.full(n, 6, dtype=np.int64)
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
            SkippedFeaturesWarning,
        )
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
        n, len(spans_out), int((n_ops >= 2).sum()), int((load > limit).sum()), int((n_spans == 0).sum()),
    )
    return G, poles_out, spans_out
