"""Where fiber (or copper) can be tapped on the road/canal network, and how far households
and organisations are from it (the reach step of :mod:`ictplan.fiber`).

See :mod:`ictplan.fiber` for the rules: access points or route corridors, snap to the
nearest edge, one multi-source Dijkstra per technology, the best offer within the drop
limit.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import network as _nw
from ._errors import IctplanWarning, InputValidationError, SkippedFeaturesWarning
from .households import _require_columns, _same_crs
from .parameters import FIBER

__all__ = ["SPEEDS_MBPS", "FIBER_TECHNOLOGIES", "COPPER_TECHNOLOGIES", "ORGANISATION_KINDS",
           "ORGANISATION_1GBPS_RULES", "access_sources",
           "reach", "organisations"]

#: Offered speeds per technology, (minimum, maximum) in Mb/s, downstream per subscriber.
#:
#: ============  ===========  ===========  =================================================
#: technology    min_mbps     max_mbps     why
#: ============  ===========  ===========  =================================================
#: XGS-PON       1000         10000        10 Gb/s symmetric PON: ≥ 1 Gb/s plans, > 1 Gb/s possible
#: GPON          200          1000         2.5 Gb/s shared by 32–64: 200 Mb/s – 1 Gb/s plans
#: VDSL          50           100          VDSL2 on short copper loops
#: ADSL          8            20           ADSL2+ on copper
#: ============  ===========  ===========  =================================================
SPEEDS_MBPS: dict[str, tuple[float, float]] = {
    "XGS-PON": (1000.0, 10000.0),
    "GPON": (200.0, 1000.0),
    "VDSL": (50.0, 100.0),
    "ADSL": (8.0, 20.0),
}
FIBER_TECHNOLOGIES = ("XGS-PON", "GPON")
COPPER_TECHNOLOGIES = ("VDSL", "ADSL")
_RANK = ("XGS-PON", "GPON", "VDSL", "ADSL")  # best first
ORGANISATION_KINDS = ("school", "hospital", "health_station", "agency", "commune_office")


# =========================================================================== validation
def _check_drop_limit(drop_limit_m: Any) -> float:
    if isinstance(drop_limit_m, bool) or not isinstance(drop_limit_m, (int, float, np.floating, np.integer)):
        raise InputValidationError(f"drop_limit_m must be a number of metres > 0, got {drop_limit_m!r}.")
    if not math.isfinite(drop_limit_m) or drop_limit_m <= 0:
        raise InputValidationError(
            f"drop_limit_m must be a finite number of metres > 0, got {drop_limit_m!r}. "
            f"A household drop cable is typically up to {FIBER.drop_limit_m:g} m (the default)."
        )
    return float(drop_limit_m)


def _check_frac(value: Any, name: str) -> float:
    if not isinstance(value, (int, float)) or not (0 < value <= 1):
        raise InputValidationError(f"{name} must be a share in (0, 1], got {value!r} (e.g. 0.8 for 80%).")
    return float(value)


# =========================================================================== access
def access_sources(
    network: _nw.EdgeNetwork,
    *,
    access_points: gpd.GeoDataFrame | None = None,
    routes: gpd.GeoDataFrame | None = None,
    corridor_m: float = FIBER.corridor_m,
    far_access_m: float = FIBER.far_access_m,
    what: str = "fiber",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Where fiber (or copper) can be tapped on the network, per technology.

    Parameters
    ----------
    network
        The network.
    access_points
        Points with ``technology``; used when given and non-empty. Each joins its
        nearest edge; its straight drop to the edge is added to every distance
        through it.
    routes
        Lines with ``technology``, used when no access points are given: the parts of
        edges within ``corridor_m`` of a route are access along their whole length.
    corridor_m
        Corridor half-width (metres) within which an edge counts as following a route.
    far_access_m
        Access points farther than this from every edge are counted and warned about
        (they are kept, their drop added).
    what
        Label for messages ("fiber", "copper").

    Returns
    -------
    (sources, diagnostics)
        ``sources``: ``edge_id``, ``start_m``, ``end_m``, ``offset_m``, ``technology``.
        ``diagnostics``: ``mode`` ("access_points"/"routes"/"none"),
        ``far_access_points`` (DataFrame of id and ``drop_m``), ``routes_off_network``
        (ids).

    Raises
    ------
    CRSMismatchError
        A layer is not in the network's CRS.
    MissingColumnError
        No ``technology`` column.
    """
    diag: dict[str, Any] = {"mode": "none", "far_access_points": pd.DataFrame(columns=["id", "drop_m"]),
                            "routes_off_network": []}
    empty = pd.DataFrame({"edge_id": np.array([], np.int64), "start_m": [], "end_m": [], "offset_m": [],
                          "technology": np.array([], dtype=object)})
    if access_points is not None and len(access_points):
        return _from_access_points(network, access_points, far_access_m, what, diag)
    if routes is None or len(routes) == 0:
        return empty, diag
    return _from_routes(network, routes, corridor_m, what, diag, empty)


def _from_access_points(network: _nw.EdgeNetwork, access_points: gpd.GeoDataFrame, far_access_m: float, what: str,
                        diag: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Each access point joins its nearest edge; its straight drop counts in every distance."""
    _same_crs(access_points, network.crs, f"the {what} access points")
    _require_columns(access_points, ["technology"], f"the {what} access points")
    xy = _nw._point_xy(np.asarray(access_points.geometry.values, dtype=object))
    ok = np.isfinite(xy).all(axis=1)
    snap = _nw.snap_xy(network, xy[ok, 0], xy[ok, 1], dry=True)
    tech = access_points["technology"].astype(str).to_numpy()[ok]
    ids = (access_points["ap_id"] if "ap_id" in access_points else pd.Series(access_points.index, index=access_points.index)).to_numpy()[ok]
    far = snap["drop_m"] > far_access_m
    diag["mode"] = "access_points"
    diag["far_access_points"] = pd.DataFrame({"id": ids[far], "drop_m": snap["drop_m"][far]})
    if far.any():
        warnings.warn(
            f"{int(far.sum())} {what} access point(s) lie more than {far_access_m:g} m from every road/canal edge "
            f"(farthest {float(snap['drop_m'][far].max()):.0f} m); their straight drop to the network is added to "
            "every distance through them. Check their coordinates or the road layer.",
            IctplanWarning, stacklevel=3,
        )
    src = pd.DataFrame({"edge_id": snap["edge_id"], "start_m": snap["along_m"], "end_m": snap["along_m"],
                        "offset_m": snap["drop_m"], "technology": tech, "ap_id": ids, "x": xy[ok, 0], "y": xy[ok, 1]})
    for col in ("ports", "split_ratio", "olt_uplink_mbps"):  # PON and OLT capacity (ictplan.fiber_capacity)
        src[col] = (pd.to_numeric(access_points[col], errors="coerce").to_numpy(np.float64)[ok] if col in access_points
                    else np.nan)  # NaN: the parameter's default
    if "olt_id" in access_points:  # access points of one OLT share its uplink
        src["olt_id"] = access_points["olt_id"].astype("string").to_numpy()[ok]
    return src, diag


def _from_routes(network: _nw.EdgeNetwork, routes: gpd.GeoDataFrame, corridor_m: float, what: str,
                 diag: dict[str, Any], empty: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The parts of edges inside each route's corridor are access along their whole length."""
    _same_crs(routes, network.crs, f"the {what} routes")
    _require_columns(routes, ["technology"], f"the {what} routes")
    diag["mode"] = "routes"
    rgeom = np.asarray(routes.geometry.values, dtype=object)
    valid = ~(shapely.is_missing(rgeom) | shapely.is_empty(rgeom))
    buf = np.empty(len(rgeom), dtype=object)
    buf[valid] = shapely.buffer(shapely.force_2d(rgeom[valid]), max(float(corridor_m), 1e-6))  # 0: on the line
    rid_all = (routes["route_id"] if "route_id" in routes else pd.Series(routes.index, index=routes.index)).to_numpy()
    tech_all = routes["technology"].astype(str).to_numpy()
    vi = np.flatnonzero(valid)
    shapely.prepare(buf[vi])
    ri, ei = network._tree.query(buf[vi], predicate="intersects")
    ri = vi[ri]
    touched = np.zeros(len(rgeom), bool)
    touched[ri] = True
    off = np.flatnonzero(~touched)
    diag["routes_off_network"] = rid_all[off].tolist()
    if len(off):
        warnings.warn(
            f"{len(off)} {what} route(s) never come within {corridor_m:g} m of the road/canal network and give no "
            f"access (e.g. {', '.join(map(str, rid_all[off][:5]))}). Check their coordinates or the corridor_m.",
            SkippedFeaturesWarning, stacklevel=3,
        )
    if len(ri) == 0:
        return empty, diag
    egeom = network.geometry[ei]
    covered = shapely.covers(buf[ri], egeom)
    parts_e = [ei[covered]]
    parts_a = [np.zeros(int(covered.sum()))]
    parts_b = [network.length_m[ei[covered]]]
    parts_t = [tech_all[ri[covered]]]
    parts_r = [ri[covered]]
    pr = ~covered
    if pr.any():
        inter = shapely.intersection(egeom[pr], buf[ri[pr]])
        pieces, pidx = shapely.get_parts(inter, return_index=True)
        lines = shapely.get_type_id(pieces) == 1
        pieces, pidx = pieces[lines], pidx[lines]
        if len(pieces):
            e2 = ei[pr][pidx]
            s = shapely.line_locate_point(network.geometry[e2], shapely.get_point(pieces, 0))
            t = shapely.line_locate_point(network.geometry[e2], shapely.get_point(pieces, -1))
            parts_e.append(e2)
            parts_a.append(np.minimum(s, t))
            parts_b.append(np.maximum(s, t))
            parts_t.append(tech_all[ri[pr]][pidx])
            parts_r.append(ri[pr][pidx])
    e_all, a_all, b_all = np.concatenate(parts_e), np.concatenate(parts_a), np.concatenate(parts_b)
    keep = _same_side(network, e_all, a_all, b_all, rgeom[np.concatenate(parts_r)])
    diag["route_parts_across_water"] = int((~keep).sum())
    src = pd.DataFrame({"edge_id": e_all[keep], "start_m": a_all[keep], "end_m": b_all[keep], "offset_m": 0.0,
                        "technology": np.concatenate(parts_t)[keep]})
    return src, diag


def _same_side(network: _nw.EdgeNetwork, edge: np.ndarray, a: np.ndarray, b: np.ndarray,
               route: np.ndarray) -> np.ndarray:
    """Keep an edge stretch in a route's corridor only where the route lies on the same side
    of the water (:func:`ictplan.network.same_bank`, tested at the stretch's middle)."""
    if len(edge) == 0 or len(network.water) == 0:
        return np.ones(len(edge), bool)
    mid = shapely.line_interpolate_point(network.geometry[edge], 0.5 * (a + b))
    q = shapely.get_point(shapely.shortest_line(mid, shapely.force_2d(route)), 1)
    m_xy, q_xy = shapely.get_coordinates(mid), shapely.get_coordinates(q)
    return _nw.same_bank(network, m_xy[:, 0], m_xy[:, 1], q_xy[:, 0], q_xy[:, 1])


# =========================================================================== F1's access-point reading
def _access_xy(network: _nw.EdgeNetwork, fsrc: pd.DataFrame) -> np.ndarray:
    """Where fiber can be tapped, as points: access points where they are (``x``, ``y``),
    else the start, middle and end of every fiber stretch of an edge."""
    if len(fsrc) == 0:
        return np.empty((0, 2))
    if "x" in fsrc and np.isfinite(fsrc["x"].to_numpy(np.float64)).all():
        return fsrc[["x", "y"]].to_numpy(np.float64)
    g = network.geometry[fsrc["edge_id"].to_numpy(np.int64)]
    a, b = fsrc["start_m"].to_numpy(np.float64), fsrc["end_m"].to_numpy(np.float64)
    pts = [shapely.line_interpolate_point(g, t) for t in (a, (a + b) / 2.0, b)]
    return np.concatenate([_nw._point_xy(np.asarray(p, dtype=object)) for p in pts])


def _has_access_point(hamlets: gpd.GeoDataFrame, access_xy: np.ndarray, dc: np.ndarray, limit: float) -> np.ndarray:
    """F1's second reading: a fiber access point (or fiber stretch) lies in the hamlet
    polygon; a hamlet given as a point: its centre is within the drop limit of fiber."""
    geoms = np.asarray(hamlets.geometry.values, dtype=object)
    poly = np.isin(shapely.get_type_id(geoms), [3, 6])
    out = np.where(poly, False, dc <= limit)
    if poly.any() and len(access_xy):
        tree = shapely.STRtree(geoms[poly])
        _, hi = tree.query(shapely.points(access_xy[:, 0], access_xy[:, 1]), predicate="intersects")
        out[np.flatnonzero(poly)[np.unique(hi)]] = True
    return out.astype(bool)


# =========================================================================== reach
def reach(
    network: _nw.EdgeNetwork,
    x: np.ndarray,
    y: np.ndarray,
    sources: pd.DataFrame,
    *,
    drop_limit_m: float = FIBER.drop_limit_m,
    weight: str = FIBER.weight,
    technologies: tuple[str, ...] | None = None,
    snap: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Network distance from points to the nearest source of each technology.

    Parameters
    ----------
    network
        The network (metres).
    x, y
        Points in the network's CRS.
    sources
        From :func:`access_sources`.
    drop_limit_m
        Search limit (metres); distances beyond it are inf. Must be > 0.
    weight
        ``"cost_m"`` (default: crossing costs count) or ``"length_m"``.
    technologies
        Technologies to search (default: those present in ``sources``).
    snap
        Precomputed :func:`ictplan.network.snap_xy` output for the points.

    Returns
    -------
    dict
        ``"snap"``: the snapping; ``"dist"``: min over technologies; and one array per
        technology (key = technology name).

    Raises
    ------
    InputValidationError
        ``drop_limit_m`` ≤ 0 or not finite.

    Notes
    -----
    Points are snapped with ``max_distance_m = drop_limit_m`` (a point whose drop alone
    exceeds the limit cannot be reached); then one super-source Dijkstra with
    ``limit=drop_limit_m`` per technology over the compressed graph. No Python loop over
    points.
    """
    limit = _check_drop_limit(drop_limit_m)
    if snap is None:
        snap = _nw.snap_xy(network, x, y, max_distance_m=limit, with_xy=False, dry=True)
    techs = tuple(technologies) if technologies is not None else tuple(pd.unique(sources["technology"]))
    out: dict[str, np.ndarray] = {"snap": snap}  # type: ignore[dict-item]
    best = np.full(len(snap["edge_id"]), np.inf)
    for tech in techs:
        s = sources[sources["technology"] == tech]
        d = _nw.distance_to_nearest(
            network, snap, source_edge=s["edge_id"].to_numpy(), source_start_m=s["start_m"].to_numpy(),
            source_end_m=s["end_m"].to_numpy(), source_offset_m=s["offset_m"].to_numpy(), weight=weight, limit_m=limit,
        )
        out[tech] = d
        best = np.minimum(best, d)
    out["dist"] = best
    return out


def _offers(dist_by_tech: dict[str, np.ndarray], n: int) -> tuple[pd.Categorical, np.ndarray, np.ndarray]:
    """Best technology within reach per point ("" = none), with its speed range."""
    cats = ["", *_RANK]
    code = np.zeros(n, np.int8)
    for t in _RANK[::-1]:  # worst first, better ones overwrite
        d = dist_by_tech.get(t)
        if d is not None:
            code[np.isfinite(d)] = cats.index(t)
    lo = np.array([0.0] + [SPEEDS_MBPS[t][0] for t in _RANK])[code]
    hi = np.array([0.0] + [SPEEDS_MBPS[t][1] for t in _RANK])[code]
    return pd.Categorical.from_codes(code, categories=cats), lo, hi


# =========================================================================== organisations
ORGANISATION_1GBPS_RULES = ("dedicated_fiber", "xgs_pon")


def organisations(network: _nw.EdgeNetwork, facilities: gpd.GeoDataFrame | None, fsrc: pd.DataFrame, limit: float,
                  weight: str, copper_routes: gpd.GeoDataFrame | None, corridor_m: float,
                  rule: str = "dedicated_fiber",
                  dedicated_src: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reach and offer of each organisation (facilities of :data:`ORGANISATION_KINDS`), and
    per group (all, urban, rural, per kind) the share that can get 1 Gb/s.

    ``rule`` (``[parameters.fiber] organisation_1gbps``): ``dedicated_fiber`` — 1 Gb/s by a
    dedicated (point-to-point, leased) fiber spliced from any fiber cable within the drop
    limit (``dedicated_src``: the fiber routes' corridors; else ``fsrc``), or by an XGS-PON
    access point; ``xgs_pon`` — only an XGS-PON access within the drop limit.
    ``ge_1gbps`` follows the rule; ``dedicated_fiber`` says whether a cable is in reach."""
    cols = ["facility_id", "name", "kind", "commune_code", "urban", "x", "y", "drop_m", "dist_to_fiber_m", "reachable",
            "offer_tech", "offer_min_mbps", "offer_max_mbps", "dedicated_fiber", "ge_1gbps"]
    if facilities is None or len(facilities) == 0:
        return pd.DataFrame(columns=cols), pd.DataFrame()
    _require_columns(facilities, ["kind"], "the facilities layer")
    f = facilities[facilities["kind"].astype(str).str.lower().isin(ORGANISATION_KINDS)]
    if len(f) == 0:
        return pd.DataFrame(columns=cols), pd.DataFrame()
    xy = _nw._point_xy(np.asarray(f.geometry.values, dtype=object))
    r = reach(network, xy[:, 0], xy[:, 1], fsrc, drop_limit_m=limit, weight=weight, technologies=FIBER_TECHNOLOGIES)
    bt = {t: r[t] for t in FIBER_TECHNOLOGIES}
    if copper_routes is not None and len(copper_routes):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SkippedFeaturesWarning)  # already warned for households
            csrc, _ = access_sources(network, routes=copper_routes, corridor_m=corridor_m, what="copper")
        cr = reach(network, xy[:, 0], xy[:, 1], csrc, drop_limit_m=limit, weight=weight,
                   technologies=COPPER_TECHNOLOGIES, snap=r["snap"])  # type: ignore[arg-type]
        bt.update({t: cr[t] for t in COPPER_TECHNOLOGIES})
    tech, lo, hi = _offers(bt, len(f))
    if rule not in ORGANISATION_1GBPS_RULES:
        raise InputValidationError(f"organisation_1gbps must be one of {', '.join(ORGANISATION_1GBPS_RULES)}, "
                                   f"got {rule!r}.")
    ded_src = dedicated_src if dedicated_src is not None and len(dedicated_src) else fsrc
    ded = np.isfinite(reach(network, xy[:, 0], xy[:, 1], ded_src, drop_limit_m=limit, weight=weight,
                            snap=r["snap"])["dist"]) if len(ded_src) else np.zeros(len(f), bool)  # type: ignore[arg-type]
    ge1 = (lo >= 1000) | (ded if rule == "dedicated_fiber" else False)
    urban = f["urban"].fillna(False).astype(bool).to_numpy() if "urban" in f else np.zeros(len(f), bool)
    org = pd.DataFrame({
        "facility_id": f["facility_id"].astype(str).to_numpy() if "facility_id" in f else f.index.astype(str),
        "name": f["name"].astype(str).to_numpy() if "name" in f else "",
        "kind": f["kind"].astype(str).str.lower().to_numpy(),
        "commune_code": f["commune_code"].astype(str).to_numpy() if "commune_code" in f else "",
        "urban": urban, "x": xy[:, 0], "y": xy[:, 1], "drop_m": r["snap"]["drop_m"], "dist_to_fiber_m": r["dist"],
        "reachable": np.isfinite(r["dist"]), "offer_tech": tech, "offer_min_mbps": lo, "offer_max_mbps": hi,
        "dedicated_fiber": ded, "ge_1gbps": ge1,
    }, index=f.index)
    rows = []
    for grp, mask in [("all", np.ones(len(org), bool)), ("urban", urban), ("rural", ~urban)] + [
        (f"kind:{k}", org["kind"].to_numpy() == k) for k in ORGANISATION_KINDS
    ]:
        m = int(mask.sum())
        if m == 0:
            continue
        rch = int(org["reachable"].to_numpy()[mask].sum())
        g1 = int(org["ge_1gbps"].to_numpy()[mask].sum())
        rows.append({"group": grp, "organisations": m, "reachable": rch, "pct_reachable": 100.0 * rch / m,
                     "ge_1gbps": g1, "pct_ge_1gbps": 100.0 * g1 / m})
    return org, pd.DataFrame(rows)
