"""Fixed broadband: fiber reach to every household, hamlet and organisation along the network.

The analysis behind the plan's targets F1–F6 and X1 (fiber to every hamlet; fiber on
demand for every household; ≥ 200 Mb/s and > 1 Gb/s offers; 1 Gb/s for urban
organisations; copper replaced by fiber).

How it works
------------
1. **Network**: roads, canal banks, bridges and ferries → :func:`ictplan.network.build_edges`.
2. **Households**: household points where the study has them (a ``households`` layer;
   a ``households`` column counts several per point, default 1); otherwise one row per
   populated cell of the population raster, at the cell centre, with
   ``households = persons / (pop2019 / hh2019)`` of the commune the centre falls in
   (cell-centre rule, :func:`rasterio.features.rasterize`; fractional households kept).
   Communes without census figures use the province's ratio, or
   :data:`DEFAULT_PERSONS_PER_HOUSEHOLD`.
3. **Access**: access points where given (snapped to their nearest edge; the straight
   drop from the point to the edge counts in every distance through it); otherwise
   every point of a *fiber edge*: the parts of edges inside a corridor (default 20 m)
   around a fiber route. A route with no edge in its corridor is counted and warned
   about.
4. **Reach**: each household joins the network at its nearest point on an edge (not
   the nearest node); its distance = the straight drop + the network distance to the
   nearest access (exact, one multi-source Dijkstra per technology on the compressed
   graph). Reachable = distance ≤ ``drop_limit_m`` (default 300 m).
5. **Offers** (table :data:`SPEEDS_MBPS`): a household's offer is the best technology
   within the drop limit — XGS-PON over GPON over VDSL over ADSL (an operator can
   connect a household to any route within the limit, so a nearer GPON route does not
   hide an XGS-PON one; ``nearest_fiber_tech`` keeps the nearest route's technology
   too). ``ge_200mbps`` = offer minimum ≥ 200 Mb/s; ``gt_1gbps`` =
   offer maximum > 1 Gb/s; ``copper_only`` = within reach of copper (ADSL/VDSL) but not
   of fiber.

Rules
-----
* **Hamlet reached**: its reachable household share ≥ ``hamlet_threshold_frac``
  (default 0.8). A hamlet with no households is judged by its centre (see below).
* **Missing metres for an unreached hamlet** (``missing_fiber_m``): the larger of
  (a) ``missing_centre_m``: the network distance (drop included) from the hamlet's
  household-weighted centre to the nearest fiber access, minus the drop limit — the
  metres of new fiber laid along the network toward the centre that put the centre
  within the drop limit; and (b) ``missing_share_m``: the household-weighted
  ``hamlet_threshold_frac`` quantile of its households' network distances to fiber,
  minus the drop limit — how much closer fiber must come for the reached rule to hold
  (a spread-out hamlet whose centre is near fiber still needs metres; NaN when that
  share includes households farther than the drop limit from every road or canal, which
  no fiber along the network reaches). Both floored at 0. The centre is the weighted mean of its households' positions, or the hamlet's
  representative point when it has none (then only (a) applies). A hamlet whose
  network piece holds no fiber gets NaN and ``no_fiber_on_piece=True``. These are
  along-the-network estimates toward one target, not a route design.
* **Organisations** (facilities of kinds :data:`ORGANISATION_KINDS`): reach and offer
  as households; the urban 1 Gb/s indicator is the share of urban organisations whose
  offer minimum is ≥ 1 Gb/s (an XGS-PON route within the drop limit).
* **CRS**: the library functions require every layer in the network's CRS
  (:class:`~ictplan.errors.CRSMismatchError` otherwise, naming the fix); :func:`run`
  reprojects the study's vector layers to the study CRS explicitly. The population
  raster is never resampled: it must be in the study CRS.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio.features
import shapely
from scipy.spatial import cKDTree

from . import crs as _crs
from . import network as _nw
from ._errors import (
    ConfigError,
    CRSMismatchError,
    IctplanWarning,
    InputValidationError,
    MissingColumnError,
    SkippedFeaturesWarning,
)
from .grid import Population

__all__ = [
    "SPEEDS_MBPS",
    "FIBER_TECHNOLOGIES",
    "COPPER_TECHNOLOGIES",
    "ORGANISATION_KINDS",
    "DEFAULT_PERSONS_PER_HOUSEHOLD",
    "FiberResult",
    "households_from_population",
    "households_from_points",
    "access_sources",
    "reach",
    "analyse",
    "run",
    "write_outputs",
]

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
DEFAULT_PERSONS_PER_HOUSEHOLD = 3.6
"""Used only when no commune has census persons and households (Cà Mau 2019: ≈ 3.6)."""


# =========================================================================== result
@dataclass(eq=False)
class FiberResult:
    """What :func:`analyse` / :func:`run` found. Tables are pandas DataFrames.

    ``households``: one row per household point or populated cell (``x``, ``y`` in
    ``crs``; ``households``; ``commune_code``; ``hamlet_code``; ``edge_id``;
    ``drop_m``; ``dist_to_fiber_m`` (inf beyond the drop limit); ``reachable``;
    ``nearest_fiber_tech`` (technology of the nearest fiber access); ``offer_tech``
    (best technology within the limit); ``offer_min_mbps``; ``offer_max_mbps``; ``ge_200mbps``;
    ``gt_1gbps``; ``copper_only``).
    ``hamlets``: per hamlet, with ``reached`` and ``missing_fiber_m``.
    ``communes``, ``districts``, ``province``: households, reachable, % reachable,
    offers, copper-only households, hamlets reached.
    ``organisations``: per facility; ``organisation_summary``: per kind and urban.
    ``diagnostics``: counts (network repairs, components, far access points, routes
    off the network, households far from every edge).
    """

    households: pd.DataFrame
    hamlets: pd.DataFrame
    communes: pd.DataFrame
    districts: pd.DataFrame
    province: pd.DataFrame
    organisations: pd.DataFrame
    organisation_summary: pd.DataFrame
    network: _nw.EdgeNetwork
    crs: Any
    parameters: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    hamlet_geometry: Any = None

    @property
    def unreached_hamlets(self) -> pd.DataFrame:
        """Hamlets not reached, with their missing metres, sorted by commune."""
        if len(self.hamlets) == 0:
            return self.hamlets
        h = self.hamlets[~self.hamlets["reached"]]
        return h.sort_values(["commune_code", "missing_fiber_m"], na_position="last")


# =========================================================================== validation
def _check_drop_limit(drop_limit_m: Any) -> float:
    if isinstance(drop_limit_m, bool) or not isinstance(drop_limit_m, (int, float, np.floating, np.integer)):
        raise InputValidationError(f"drop_limit_m must be a number of metres > 0, got {drop_limit_m!r}.")
    if not math.isfinite(drop_limit_m) or drop_limit_m <= 0:
        raise InputValidationError(
            f"drop_limit_m must be a finite number of metres > 0, got {drop_limit_m!r}. "
            "A household drop cable is typically up to 300 m (the default)."
        )
    return float(drop_limit_m)


def _check_frac(value: Any, name: str) -> float:
    if not isinstance(value, (int, float)) or not (0 < value <= 1):
        raise InputValidationError(f"{name} must be a share in (0, 1], got {value!r} (e.g. 0.8 for 80%).")
    return float(value)


def _same_crs(gdf: gpd.GeoDataFrame | None, crs: Any, what: str) -> None:
    if gdf is None:
        return
    have = _crs.require_crs(gdf, what)
    if not have.equals(_crs.as_crs(crs)):
        raise CRSMismatchError(
            f"{what} is in {_crs.crs_label(have)} but the network is in {_crs.crs_label(_crs.as_crs(crs))}. "
            f"Reproject it with `.to_crs({_crs.crs_label(_crs.as_crs(crs))!r})` "
            "(`fiber.run` does this for a study's layers)."
        )


def _require_columns(gdf: gpd.GeoDataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in gdf.columns]
    if missing:
        raise MissingColumnError(
            f"{what} lacks column(s) {missing} (seen: {', '.join(map(str, gdf.columns))}). "
            "See `ictplan.schemas.SCHEMAS` for the layer's columns."
        )


# =========================================================================== households
def _persons_per_household(communes: gpd.GeoDataFrame) -> tuple[np.ndarray, float]:
    """Per commune persons/household (census), and the province ratio for gaps."""
    n = len(communes)
    pop = pd.to_numeric(communes["pop2019"], errors="coerce").to_numpy(np.float64) if "pop2019" in communes else np.full(n, np.nan)
    hh = pd.to_numeric(communes["hh2019"], errors="coerce").to_numpy(np.float64) if "hh2019" in communes else np.full(n, np.nan)
    ok = np.isfinite(pop) & np.isfinite(hh) & (pop > 0) & (hh > 0)
    province = float(pop[ok].sum() / hh[ok].sum()) if ok.any() else DEFAULT_PERSONS_PER_HOUSEHOLD
    pph = np.where(ok, pop / np.where(ok, hh, 1.0), province)
    return pph, province


def _zone_index_of_points(x: np.ndarray, y: np.ndarray, zones: gpd.GeoDataFrame) -> np.ndarray:
    """Index (position) of the polygon holding each point, -1 if none (first match)."""
    out = np.full(len(x), -1, np.int64)
    if len(zones) == 0 or len(x) == 0:
        return out
    pts = shapely.points(x, y)
    tree = shapely.STRtree(zones.geometry.values)
    pi, zi = tree.query(pts, predicate="within")
    if len(pi):
        order = np.lexsort((zi, pi))
        pi, zi = pi[order], zi[order]
        first = np.r_[True, pi[1:] != pi[:-1]]
        out[pi[first]] = zi[first]
    return out


def _hamlet_index(x: np.ndarray, y: np.ndarray, hamlets: gpd.GeoDataFrame | None) -> np.ndarray:
    if hamlets is None or len(hamlets) == 0:
        return np.full(len(x), -1, np.int64)
    gt = hamlets.geometry.geom_type.to_numpy()
    if np.isin(gt, ["Point", "MultiPoint"]).all():
        # hamlets as points: each household goes to the nearest hamlet point
        hxy = _nw._point_xy(np.asarray(hamlets.geometry.values, dtype=object))
        _, idx = cKDTree(hxy).query(np.c_[x, y])
        return idx.astype(np.int64)
    # polygons (other geometry kinds are not zones: they hold no household)
    return _zone_index_of_points(x, y, hamlets)


def _rasterize_index(zones: gpd.GeoDataFrame, grid: Any) -> np.ndarray:
    shapes = ((g, i + 1) for i, g in enumerate(zones.geometry.values) if g is not None and not g.is_empty)
    burned = rasterio.features.rasterize(
        shapes, out_shape=grid.shape, transform=grid.transform, fill=0, dtype="int32", all_touched=False
    )
    return burned.astype(np.int64) - 1


def households_from_population(
    population: Population,
    communes: gpd.GeoDataFrame,
    *,
    hamlets: gpd.GeoDataFrame | None = None,
) -> pd.DataFrame:
    """Households at the centres of populated raster cells.

    Parameters
    ----------
    population
        Counts on the analysis grid (persons per cell); must be in the communes' CRS.
    communes
        Commune polygons with ``commune_code`` and, for persons per household,
        ``pop2019`` and ``hh2019``.
    hamlets
        Hamlet polygons (cells by the cell-centre rule) or points (nearest point).

    Returns
    -------
    pandas.DataFrame
        One row per cell with persons > 0: ``x``, ``y`` (cell centre), ``row``, ``col``,
        ``persons``, ``households`` (= persons / persons-per-household of the commune),
        ``commune_idx`` and ``hamlet_idx`` (positions in the layers, -1 = outside).
        ``attrs["crs"]`` is the grid's CRS.

    Raises
    ------
    MissingColumnError
        No ``commune_code``.
    CRSMismatchError
        The communes or hamlets are not in the raster's CRS.

    Notes
    -----
    Cell-centre rule via :func:`rasterio.features.rasterize`; O(cells) memory for the
    burn, O(populated cells) for the table. Zone sums equal the province total: every
    populated cell is one row; cells outside every commune keep ``commune_idx = -1``.
    """
    _require_columns(communes, ["commune_code"], "the communes layer")
    grid = population.grid
    _same_crs(communes, grid.crs, "the communes layer")
    _same_crs(hamlets, grid.crs, "the hamlets layer")
    counts = population.counts
    rows, cols = np.nonzero(counts > 0)
    persons = counts[rows, cols]
    t = grid.transform
    x = t.c + t.a * (cols + 0.5)
    y = t.f + t.e * (rows + 0.5)
    cidx = _rasterize_index(communes, grid)[rows, cols]
    if hamlets is not None and len(hamlets) and hamlets.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all():
        hidx = _rasterize_index(hamlets, grid)[rows, cols]
    else:
        hidx = _hamlet_index(x, y, hamlets)
    pph, province = _persons_per_household(communes)
    ratio = np.where(cidx >= 0, pph[np.maximum(cidx, 0)], province)
    df = pd.DataFrame({
        "x": x, "y": y, "row": rows.astype(np.int32), "col": cols.astype(np.int32), "persons": persons,
        "households": persons / ratio, "commune_idx": cidx.astype(np.int32), "hamlet_idx": hidx.astype(np.int32),
    })
    df.attrs["crs"] = grid.crs
    df.attrs["source"] = "population raster"
    return df


def households_from_points(
    points: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    hamlets: gpd.GeoDataFrame | None = None,
    count_column: str | None = "households",
) -> pd.DataFrame:
    """Households from household points (one per point, or ``count_column`` per point).

    Parameters
    ----------
    points
        Household points in the communes' CRS.
    communes, hamlets
        As :func:`households_from_population`; points join the polygon they lie in.
    count_column
        Column with the number of households per point; absent → 1 each.

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y``, ``households``, ``commune_idx``, ``hamlet_idx``; index = points.index.

    Raises
    ------
    CRSMismatchError
        ``points`` is in another CRS than the communes (reproject with ``.to_crs``).
    InputValidationError
        Negative or non-numeric counts.
    """
    _require_columns(communes, ["commune_code"], "the communes layer")
    ccrs = _crs.require_crs(communes, "the communes layer")
    _same_crs(points, ccrs, "the household layer")
    _same_crs(hamlets, ccrs, "the hamlets layer")
    xy = _nw._point_xy(np.asarray(points.geometry.values, dtype=object))
    if count_column and count_column in points.columns:
        cnt = pd.to_numeric(points[count_column], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(cnt) | (cnt < 0)
        if bad.any():
            raise InputValidationError(
                f"column {count_column!r} of the household layer has {int(bad.sum())} missing or negative counts; "
                "use a number >= 0 per point."
            )
    else:
        cnt = np.ones(len(points))
    cidx = _zone_index_of_points(xy[:, 0], xy[:, 1], communes)
    hidx = _hamlet_index(xy[:, 0], xy[:, 1], hamlets)
    df = pd.DataFrame({
        "x": xy[:, 0], "y": xy[:, 1], "households": cnt,
        "commune_idx": cidx.astype(np.int32), "hamlet_idx": hidx.astype(np.int32),
    }, index=points.index)
    df.attrs["crs"] = ccrs
    df.attrs["source"] = "household points"
    return df


# =========================================================================== access
def access_sources(
    network: _nw.EdgeNetwork,
    *,
    access_points: gpd.GeoDataFrame | None = None,
    routes: gpd.GeoDataFrame | None = None,
    corridor_m: float = 20.0,
    far_access_m: float = 50.0,
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
        _same_crs(access_points, network.crs, f"the {what} access points")
        _require_columns(access_points, ["technology"], f"the {what} access points")
        xy = _nw._point_xy(np.asarray(access_points.geometry.values, dtype=object))
        ok = np.isfinite(xy).all(axis=1)
        snap = _nw.snap_xy(network, xy[ok, 0], xy[ok, 1])
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
                IctplanWarning, stacklevel=2,
            )
        return pd.DataFrame({"edge_id": snap["edge_id"], "start_m": snap["along_m"], "end_m": snap["along_m"],
                             "offset_m": snap["drop_m"], "technology": tech}), diag
    if routes is None or len(routes) == 0:
        return empty, diag
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
            SkippedFeaturesWarning, stacklevel=2,
        )
    if len(ri) == 0:
        return empty, diag
    egeom = network.geometry[ei]
    covered = shapely.covers(buf[ri], egeom)
    parts_e = [ei[covered]]
    parts_a = [np.zeros(int(covered.sum()))]
    parts_b = [network.length_m[ei[covered]]]
    parts_t = [tech_all[ri[covered]]]
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
    src = pd.DataFrame({"edge_id": np.concatenate(parts_e), "start_m": np.concatenate(parts_a),
                        "end_m": np.concatenate(parts_b), "offset_m": 0.0, "technology": np.concatenate(parts_t)})
    return src, diag


# =========================================================================== reach
def reach(
    network: _nw.EdgeNetwork,
    x: np.ndarray,
    y: np.ndarray,
    sources: pd.DataFrame,
    *,
    drop_limit_m: float = 300.0,
    weight: str = "cost_m",
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
        snap = _nw.snap_xy(network, x, y, max_distance_m=limit, with_xy=False)
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


# =========================================================================== analysis
def _codes(idx: np.ndarray, codes: np.ndarray) -> Any:
    """Zone codes per row ("" / NaN outside every zone), as a Categorical when codes are unique."""
    if len(codes) and len(set(codes)) == len(codes):
        return pd.Categorical.from_codes(np.where(idx >= 0, idx, -1), categories=pd.Index(codes))
    if len(codes) == 0:
        return np.full(len(idx), "", dtype=object)
    return np.where(idx >= 0, codes[np.maximum(idx, 0)], "")


def _sum_by(idx: np.ndarray, n: int, values: np.ndarray) -> np.ndarray:
    ok = idx >= 0
    return np.bincount(idx[ok], weights=values[ok], minlength=n)[:n] if n else np.zeros(0)


def _pct(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.where(den > 0, 100.0 * num / np.where(den > 0, den, 1.0), np.nan)


def analyse(
    network: _nw.EdgeNetwork | Any,
    households: pd.DataFrame,
    *,
    communes: gpd.GeoDataFrame,
    hamlets: gpd.GeoDataFrame | None = None,
    fiber_routes: gpd.GeoDataFrame | None = None,
    access_points: gpd.GeoDataFrame | None = None,
    copper_routes: gpd.GeoDataFrame | None = None,
    facilities: gpd.GeoDataFrame | None = None,
    drop_limit_m: float = 300.0,
    corridor_m: float = 20.0,
    hamlet_threshold_frac: float = 0.8,
    weight: str = "cost_m",
    far_access_m: float = 50.0,
) -> FiberResult:
    """Fiber reach of households, hamlets, communes, districts, the province and organisations.

    Parameters
    ----------
    network
        From :func:`ictplan.network.build_edges` (metric CRS), or a networkx graph from
        :func:`ictplan.network.build_network`.
    households
        From :func:`households_from_population` or :func:`households_from_points`
        (``attrs["crs"]``, when set, must be the network's CRS).
    communes
        Commune polygons (``commune_code``, ``commune_name``, ``district_code``,
        ``district_name``), in the network's CRS.
    hamlets
        Hamlet polygons or points (``hamlet_code``, ``hamlet_name``, ``commune_code``).
    fiber_routes, access_points
        Fiber access (access points win when given). Columns per
        ``schemas.SCHEMAS``; ``technology`` GPON or XGS-PON.
    copper_routes
        ADSL/VDSL routes, for the copper-only figures.
    facilities
        Public facilities; kinds in :data:`ORGANISATION_KINDS` are analysed.
    drop_limit_m
        Maximum network distance (metres, drop included) from a household to fiber
        access. Must be > 0.
    corridor_m
        Route corridor half-width (metres).
    hamlet_threshold_frac
        Reachable household share (0–1] at which a hamlet counts as reached.
    weight
        ``"cost_m"`` or ``"length_m"``.
    far_access_m
        Access points farther than this from every edge are counted and warned about.

    Returns
    -------
    FiberResult

    Raises
    ------
    InputValidationError
        ``drop_limit_m`` ≤ 0, a share outside (0, 1], unknown weight.
    CRSMismatchError
        A layer is not in the network's CRS.
    MissingColumnError
        A layer lacks a needed column.

    Notes
    -----
    A network in pieces is fine: households on a piece without fiber are unreachable
    and the pieces are reported in ``diagnostics["components"]``. Cost: one vectorised
    snap of all households (bucketed segments), one Dijkstra per technology; memory
    linear in households + edges.
    """
    limit = _check_drop_limit(drop_limit_m)
    thr = _check_frac(hamlet_threshold_frac, "hamlet_threshold_frac")
    network = _nw._as_net(network)
    if not (isinstance(corridor_m, (int, float)) and corridor_m >= 0):
        raise InputValidationError(f"corridor_m must be >= 0 metres, got {corridor_m!r}.")
    network.weight_array(weight)
    crs = network.crs
    if "crs" in households.attrs and households.attrs["crs"] is not None and not _crs.as_crs(households.attrs["crs"]).equals(crs):
        raise CRSMismatchError(
            f"the households are in {_crs.crs_label(_crs.as_crs(households.attrs['crs']))} but the network is in "
            f"{_crs.crs_label(crs)}. Reproject the household layer (or warp the population raster) to the network's CRS."
        )
    _require_columns(households, ["x", "y", "households", "commune_idx", "hamlet_idx"], "the household table")  # type: ignore[arg-type]
    _same_crs(communes, crs, "the communes layer")
    _same_crs(hamlets, crs, "the hamlets layer")
    _same_crs(facilities, crs, "the facilities layer")
    _require_columns(communes, ["commune_code"], "the communes layer")
    diag: dict[str, Any] = {"network_repairs": dict(network.repairs), "components": network.component_sizes}

    # ---- access and reach
    fsrc, fdiag = access_sources(network, access_points=access_points, routes=fiber_routes, corridor_m=corridor_m,
                                 far_access_m=far_access_m, what="fiber")
    bad_tech = sorted(set(fsrc["technology"]) - set(FIBER_TECHNOLOGIES))
    if bad_tech:
        raise InputValidationError(f"unknown fiber technologies {bad_tech}; use one of {', '.join(FIBER_TECHNOLOGIES)}.")
    diag["fiber_access_mode"] = fdiag["mode"]
    diag["far_access_points"] = fdiag["far_access_points"]
    diag["routes_off_network"] = fdiag["routes_off_network"]
    diag["fiber_sources"] = len(fsrc)
    x = households["x"].to_numpy(np.float64)
    y = households["y"].to_numpy(np.float64)
    hh = households["households"].to_numpy(np.float64)
    n = len(x)
    fr = reach(network, x, y, fsrc, drop_limit_m=limit, weight=weight, technologies=FIBER_TECHNOLOGIES)
    snap = fr["snap"]
    diag["households_beyond_drop_of_any_edge"] = float(hh[snap["edge_id"] < 0].sum())
    dist = fr["dist"]
    reachable = np.isfinite(dist)
    by_tech = {t: fr[t] for t in FIBER_TECHNOLOGIES}
    copper_reach = np.zeros(n, bool)
    if copper_routes is not None and len(copper_routes):
        csrc, cdiag = access_sources(network, routes=copper_routes, corridor_m=corridor_m, what="copper")
        diag["copper_routes_off_network"] = cdiag["routes_off_network"]
        cr = reach(network, x, y, csrc, drop_limit_m=limit, weight=weight, technologies=COPPER_TECHNOLOGIES, snap=snap)
        for t in COPPER_TECHNOLOGIES:
            by_tech[t] = cr[t]
        copper_reach = np.isfinite(cr["dist"])
    tech, lo, hi = _offers(by_tech, n)
    # the technology of the nearest fiber access (ties: XGS-PON), for reference
    near = np.where(by_tech["GPON"] < by_tech["XGS-PON"], 2, 1).astype(np.int8)
    near[~reachable] = 0
    nearest_tech = pd.Categorical.from_codes(near, categories=["", "XGS-PON", "GPON"])
    del fr, by_tech, near  # per-technology distances: memory for millions of households
    copper_only = copper_reach & ~reachable
    ge200 = lo >= 200
    gt1g = hi > 1000

    # ---- zones
    cidx = households["commune_idx"].to_numpy(np.int64)
    hidx = households["hamlet_idx"].to_numpy(np.int64)
    nc = len(communes)
    ccode = communes["commune_code"].astype(str).to_numpy()
    hcode = hamlets["hamlet_code"].astype(str).to_numpy() if hamlets is not None and "hamlet_code" in hamlets else np.array([], dtype=object)
    cols: dict[str, Any] = {
        "x": x, "y": y, "households": hh,
        "commune_code": _codes(cidx, ccode),
        "hamlet_code": _codes(hidx, hcode),
        "edge_id": snap["edge_id"], "drop_m": snap["drop_m"], "dist_to_fiber_m": dist, "reachable": reachable,
        "nearest_fiber_tech": nearest_tech, "offer_tech": tech, "offer_min_mbps": lo.astype(np.float32), "offer_max_mbps": hi.astype(np.float32),
        "ge_200mbps": ge200, "gt_1gbps": gt1g, "copper_only": copper_only,
    }
    for extra in ("row", "col", "persons"):
        if extra in households:
            cols[extra] = households[extra].to_numpy()
    # no copies (pandas copy-on-write keeps the caller's table safe): millions of rows
    hh_table = pd.DataFrame(cols, index=households.index, copy=False)
    del cols, lo, hi

    def zone_sums(idx: np.ndarray, k: int) -> dict[str, np.ndarray]:
        tot = _sum_by(idx, k, hh)
        rch = _sum_by(idx, k, hh * reachable)
        return {
            "households": tot, "households_reachable": rch, "pct_reachable": _pct(rch, tot),
            "households_ge_200mbps": _sum_by(idx, k, hh * ge200), "pct_ge_200mbps": _pct(_sum_by(idx, k, hh * ge200), tot),
            "households_gt_1gbps": _sum_by(idx, k, hh * gt1g), "pct_gt_1gbps": _pct(_sum_by(idx, k, hh * gt1g), tot),
            "households_copper_only": _sum_by(idx, k, hh * copper_only),
        }

    # ---- hamlets
    hamlet_geom = None
    if hamlets is not None and len(hamlets):
        _require_columns(hamlets, ["hamlet_code"], "the hamlets layer")
        nh = len(hamlets)
        hs = zone_sums(hidx, nh)
        w = _sum_by(hidx, nh, hh)
        cx = np.divide(_sum_by(hidx, nh, hh * x), w, out=np.full(nh, np.nan), where=w > 0)
        cy = np.divide(_sum_by(hidx, nh, hh * y), w, out=np.full(nh, np.nan), where=w > 0)
        rep = _nw._point_xy(shapely.point_on_surface(np.asarray(hamlets.geometry.values, dtype=object)))
        nohh = ~(w > 0)
        cx[nohh], cy[nohh] = rep[nohh, 0], rep[nohh, 1]
        csnap = _nw.snap_xy(network, cx, cy)
        dc = _nw.distance_to_nearest(network, csnap, source_edge=fsrc["edge_id"].to_numpy(),
                                     source_start_m=fsrc["start_m"].to_numpy(), source_end_m=fsrc["end_m"].to_numpy(),
                                     source_offset_m=fsrc["offset_m"].to_numpy(), weight=weight)
        share = np.divide(hs["households_reachable"], hs["households"], out=np.full(nh, np.nan), where=hs["households"] > 0)
        reached = np.where(nohh, dc <= limit, share >= thr - 1e-12)
        miss_centre = np.where(np.isfinite(dc), np.maximum(dc - limit, 0.0), np.nan)
        miss_share = _missing_share_m(network, fsrc, x, y, hh, hidx, snap, ~reached & ~nohh, thr, limit, weight)
        missing = np.fmax(miss_centre, miss_share)
        ham = pd.DataFrame({
            "hamlet_code": hcode,
            "hamlet_name": hamlets["hamlet_name"].astype(str).to_numpy() if "hamlet_name" in hamlets else "",
            "commune_code": hamlets["commune_code"].astype(str).to_numpy() if "commune_code" in hamlets else "",
            **hs,
            "households_unreachable": hs["households"] - hs["households_reachable"],
            "share_reachable_frac": share, "reached": reached.astype(bool),
            "judged_by": np.where(nohh, "centre", "households"),
            "centre_x": cx, "centre_y": cy, "centre_dist_to_fiber_m": dc,
            "missing_centre_m": np.where(reached, 0.0, miss_centre),
            "missing_share_m": np.where(reached, 0.0, miss_share),
            "missing_fiber_m": np.where(reached, 0.0, missing),
            "no_fiber_on_piece": ~np.isfinite(dc),
        })
        hamlet_geom = hamlets.geometry.values
    else:
        ham = pd.DataFrame(columns=["hamlet_code", "hamlet_name", "commune_code", "households", "households_reachable",
                                    "pct_reachable", "reached", "missing_fiber_m"])

    snap.pop("along_m", None)

    # ---- communes, districts, province
    cs = zone_sums(cidx, nc)
    com = pd.DataFrame({"commune_code": ccode})
    for c in ("commune_name", "district_code", "district_name"):
        com[c] = communes[c].astype(str).to_numpy() if c in communes else ""
    for k, v in cs.items():
        com[k] = v
    if len(ham):
        hc = ham.groupby("commune_code").agg(hamlets=("hamlet_code", "size"), hamlets_reached=("reached", "sum"),
                                             missing_fiber_m=("missing_fiber_m", lambda s: float(np.nansum(s))))
        com = com.merge(hc, left_on="commune_code", right_index=True, how="left")
        com[["hamlets", "hamlets_reached"]] = com[["hamlets", "hamlets_reached"]].fillna(0).astype(int)
        com["missing_fiber_m"] = com["missing_fiber_m"].fillna(0.0)
    num_cols = list(cs)
    dist_tab = com.groupby(["district_code", "district_name"], as_index=False, sort=True)[
        num_cols + [c for c in ("hamlets", "hamlets_reached", "missing_fiber_m") if c in com]].sum()
    for a, b in (("pct_reachable", "households_reachable"), ("pct_ge_200mbps", "households_ge_200mbps"),
                 ("pct_gt_1gbps", "households_gt_1gbps")):
        dist_tab[a] = _pct(dist_tab[b].to_numpy(), dist_tab["households"].to_numpy())
    outside = cidx < 0
    if outside.any():  # households outside every commune still count for the province
        diag["households_outside_communes"] = float(hh[outside].sum())
    prov = zone_sums(np.zeros(n, np.int64), 1)
    province = pd.DataFrame({k: v for k, v in prov.items()})
    if len(ham):
        province["hamlets"] = len(ham)
        province["hamlets_reached"] = int(ham["reached"].sum())
        province["pct_hamlets_reached"] = 100.0 * province["hamlets_reached"] / max(len(ham), 1)
        province["missing_fiber_m"] = float(np.nansum(ham["missing_fiber_m"]))

    # ---- organisations
    org, org_sum = _organisations(network, facilities, fsrc, limit, weight, copper_routes, corridor_m)
    if len(org_sum):
        urban = org_sum[org_sum["group"] == "urban"]
        if len(urban):
            province["pct_urban_orgs_1gbps"] = float(urban["pct_ge_1gbps"].iloc[0])
    return FiberResult(
        households=hh_table, hamlets=ham, communes=com, districts=dist_tab, province=province, organisations=org,
        organisation_summary=org_sum, network=network, crs=crs,
        parameters={"drop_limit_m": limit, "corridor_m": corridor_m, "hamlet_threshold_frac": thr, "weight": weight,
                    "households_source": households.attrs.get("source", "")},
        diagnostics=diag, hamlet_geometry=hamlet_geom,
    )


def _missing_share_m(network, fsrc, x, y, hh, hidx, snap, todo, thr, limit, weight) -> np.ndarray:  # noqa: ANN001
    """Per hamlet flagged in ``todo``: the household-weighted ``thr`` quantile of
    (network distance to fiber - drop limit), floored at 0; NaN elsewhere, without
    fiber on the piece, or when the share includes households beyond the drop limit of
    every edge (fiber along the network cannot reach those).

    Distances here are unlimited (one Dijkstra without ``limit``) and only for the
    households of those hamlets.
    """
    nh = len(todo)
    out = np.full(nh, np.nan)
    rows = np.flatnonzero((hidx >= 0) & todo[np.maximum(hidx, 0)] & (hh > 0))
    if len(rows) == 0 or len(fsrc) == 0:
        return out
    # households farther than the drop limit from every edge stay unsnapped: no fiber laid
    # along the network reaches them (inf)
    sub = {k: snap[k][rows] for k in ("edge_id", "along_m", "drop_m")}
    d = _nw.distance_to_nearest(network, sub, source_edge=fsrc["edge_id"].to_numpy(),
                                source_start_m=fsrc["start_m"].to_numpy(), source_end_m=fsrc["end_m"].to_numpy(),
                                source_offset_m=fsrc["offset_m"].to_numpy(), weight=weight)
    h = hidx[rows]
    w = hh[rows]
    order = np.lexsort((d, h))
    h, w, d = h[order], w[order], d[order]
    tot = np.bincount(h, weights=w, minlength=nh)
    cum = np.cumsum(w)
    first = np.r_[True, h[1:] != h[:-1]]
    base = np.maximum.accumulate(np.where(first, cum - w, 0.0))
    cum_in = cum - base
    hit = cum_in >= thr * tot[h] - 1e-9
    # first row of each hamlet reaching the share
    cand = np.where(hit, np.arange(len(h)), len(h))
    starts = np.flatnonzero(first)
    firsthit = np.minimum.reduceat(cand, starts)
    hs_ = h[starts]
    ok = firsthit < len(h)
    q = np.full(len(starts), np.nan)
    q[ok] = d[firsthit[ok]]
    out[hs_] = np.where(np.isfinite(q), np.maximum(q - limit, 0.0), np.nan)
    return out


def _organisations(network, facilities, fsrc, limit, weight, copper_routes, corridor_m):  # noqa: ANN001
    cols = ["facility_id", "name", "kind", "commune_code", "urban", "x", "y", "drop_m", "dist_to_fiber_m", "reachable",
            "offer_tech", "offer_min_mbps", "offer_max_mbps", "ge_1gbps"]
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
                   technologies=COPPER_TECHNOLOGIES, snap=r["snap"])
        bt.update({t: cr[t] for t in COPPER_TECHNOLOGIES})
    tech, lo, hi = _offers(bt, len(f))
    urban = f["urban"].fillna(False).astype(bool).to_numpy() if "urban" in f else np.zeros(len(f), bool)
    org = pd.DataFrame({
        "facility_id": f["facility_id"].astype(str).to_numpy() if "facility_id" in f else f.index.astype(str),
        "name": f["name"].astype(str).to_numpy() if "name" in f else "",
        "kind": f["kind"].astype(str).str.lower().to_numpy(),
        "commune_code": f["commune_code"].astype(str).to_numpy() if "commune_code" in f else "",
        "urban": urban, "x": xy[:, 0], "y": xy[:, 1], "drop_m": r["snap"]["drop_m"], "dist_to_fiber_m": r["dist"],
        "reachable": np.isfinite(r["dist"]), "offer_tech": tech, "offer_min_mbps": lo, "offer_max_mbps": hi,
        "ge_1gbps": lo >= 1000,
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


# =========================================================================== study
def _optional_layer(study: Any, name: str) -> gpd.GeoDataFrame | None:
    has = getattr(study, "has", None)
    if callable(has) and not has(name):
        return None
    try:
        if hasattr(study, "layer_in_crs"):
            return study.layer_in_crs(name)
        g = study.layer(name)
    except (ConfigError, KeyError):
        return None
    return g if g.crs is None or g.crs.equals(study.crs) else g.to_crs(study.crs)


def run(
    study: Any,
    *,
    drop_limit_m: float = 300.0,
    corridor_m: float = 20.0,
    hamlet_threshold_frac: float = 0.8,
    snap_tolerance_m: float = 1.0,
    weight: str = "cost_m",
    far_access_m: float = 50.0,
) -> FiberResult:
    """Fiber reach for a study (``ictplan.study.load(path)``).

    Vector layers are reprojected to ``study.crs`` (explicitly, via
    ``study.layer_in_crs``); the population raster must already be in it. Households
    come from a ``households`` layer when the study names one, else from the
    population raster. Access points are used when the study has a non-empty
    ``access_points`` layer, else fiber routes.

    Parameters
    ----------
    study
        A loaded study.
    drop_limit_m, corridor_m, hamlet_threshold_frac, weight, far_access_m
        As :func:`analyse`.
    snap_tolerance_m
        As :func:`ictplan.network.build_edges`.

    Returns
    -------
    FiberResult

    Raises
    ------
    InputValidationError
        Bad parameters (checked before any layer is read).
    CRSMismatchError
        The population raster is not in the study's CRS.
    ConfigError
        The study lacks roads or communes.
    """
    _check_drop_limit(drop_limit_m)
    _check_frac(hamlet_threshold_frac, "hamlet_threshold_frac")
    roads = study.layer("roads")
    net = _nw.build_edges(roads, snap_tolerance_m=snap_tolerance_m, working_crs=study.crs)
    communes = _optional_layer(study, "communes")
    if communes is None:
        raise ConfigError("the study has no communes layer; fiber results are per commune. Add `communes` under [layers].")
    hamlets = _optional_layer(study, "hamlets")
    points = _optional_layer(study, "households")
    if points is not None and len(points):
        households = households_from_points(points, communes, hamlets=hamlets)
    else:
        pop = study.population
        if not _crs.as_crs(pop.grid.crs).equals(study.crs):
            raise CRSMismatchError(
                f"the population raster is in {_crs.crs_label(_crs.as_crs(pop.grid.crs))} but the study works in "
                f"{_crs.crs_label(study.crs)}; warp it (gdalwarp -t_srs {_crs.crs_label(study.crs)} -r sum) — "
                "ictplan never resamples people silently."
            )
        households = households_from_population(pop, communes, hamlets=hamlets)
    res = analyse(
        net, households, communes=communes, hamlets=hamlets,
        fiber_routes=_optional_layer(study, "fiber_routes"), access_points=_optional_layer(study, "access_points"),
        copper_routes=_optional_layer(study, "copper_routes"), facilities=_optional_layer(study, "facilities"),
        drop_limit_m=drop_limit_m, corridor_m=corridor_m, hamlet_threshold_frac=hamlet_threshold_frac, weight=weight,
        far_access_m=far_access_m,
    )
    res.parameters["study"] = getattr(study, "name", "")
    return res


# =========================================================================== outputs
_DECIMALS = {"households": 4, "households_reachable": 4, "households_unreachable": 4, "households_ge_200mbps": 4,
             "households_gt_1gbps": 4, "households_copper_only": 4, "persons": 4, "share_reachable_frac": 5}


def write_outputs(result: FiberResult, out_dir: str | Path, *, overwrite: bool = False) -> dict[str, Path]:
    """Write the fiber tables (CSV) and layers (``fiber.gpkg``) to ``out_dir``.

    Files: ``fiber_households.csv`` (reach per household cell), ``fiber_hamlets.csv``,
    ``fiber_unreached_hamlets.csv`` (with missing metres), ``fiber_communes.csv``,
    ``fiber_districts.csv``, ``fiber_province.csv``, ``fiber_organisations.csv``,
    ``fiber_organisation_summary.csv``; ``fiber.gpkg`` with layers ``households``,
    ``unreached_hamlets``, ``network_edges`` (with ``component``) and ``organisations``.
    Every file is written atomically (temporary file + rename).

    Raises
    ------
    OutputExistsError
        A file exists and ``overwrite`` is False.
    """
    from . import io as _io

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    hh = result.households.copy()
    hh["dist_to_fiber_m"] = hh["dist_to_fiber_m"].where(np.isfinite(hh["dist_to_fiber_m"]))
    unreached = result.unreached_hamlets
    tables = {
        "households": hh, "hamlets": result.hamlets, "unreached_hamlets": unreached, "communes": result.communes,
        "districts": result.districts, "province": result.province, "organisations": result.organisations,
        "organisation_summary": result.organisation_summary,
    }
    for name, df in tables.items():
        df = df.copy()
        for c in df.columns:
            if df[c].dtype.kind == "f":  # inf (beyond the search) -> empty; centimetres are plenty
                df[c] = df[c].where(np.isfinite(df[c])).round(_DECIMALS.get(c, 2))
        paths[name + "_csv"] = _io.write_table(df, out / f"fiber_{name}.csv", overwrite=overwrite)
    gpkg = out / "fiber.gpkg"
    if gpkg.exists() and overwrite:
        gpkg.unlink()
    crs = result.crs
    layers: dict[str, gpd.GeoDataFrame] = {
        "households": gpd.GeoDataFrame(hh, geometry=shapely.points(hh["x"].to_numpy(), hh["y"].to_numpy()), crs=crs),
        "network_edges": _nw.to_gdfs(result.network)[1],
    }
    if len(unreached) and result.hamlet_geometry is not None:
        geom = pd.Series(list(result.hamlet_geometry), index=result.hamlets.index).loc[unreached.index]
        layers["unreached_hamlets"] = gpd.GeoDataFrame(unreached, geometry=list(geom), crs=crs)
    if len(result.organisations):
        o = result.organisations
        layers["organisations"] = gpd.GeoDataFrame(o, geometry=shapely.points(o["x"].to_numpy(), o["y"].to_numpy()), crs=crs)
    for name, gdf in layers.items():
        for c in gdf.columns:
            if c != "geometry" and gdf[c].dtype.kind == "f":
                gdf[c] = gdf[c].where(np.isfinite(gdf[c]))
            elif isinstance(gdf[c].dtype, pd.CategoricalDtype):
                gdf[c] = gdf[c].astype(str)
        _io.write_layer(gdf, gpkg, layer=name, overwrite=overwrite)
    paths["gpkg"] = gpkg
    return paths
