"""Data-centre siting (target D1): candidate sites scored by documented criteria, weights as data.

>>> import ictplan as ip
>>> dc = ip.planning.datacentre.datacentre_sites(ip.study.load("data/camau"))
>>> dc.sites.head()                 # ranked: one column per criterion score, the raw values, explanation
>>> dc.excluded                     # candidates in protected forest (never ranked)

Criteria. Each is a score in [0, 1] from a raw value; ``d`` is a straight-line distance in metres
in the study's CRS, the parameters are :class:`ictplan.parameters.PlanParameters` fields:

* **substation** (``substations`` layer): ``s = clip(1 − d / dc_substation_max_m, 0, 1)``, ``d`` to
  the nearest substation of any voltage (a new line to it is built; 20 km default scale);
* **energy zone** (``energy_zones``: wind, solar, power, industrial zones of the provincial plan):
  ``s = 1`` inside a zone, else ``clip(1 − d / dc_energy_zone_max_m, 0, 1)`` to the nearest zone;
* **flood** (the mean of three): elevation ``s_z = clip((z − dc_flood_level_m) / dc_flood_margin_m,
  0, 1)`` (``z``: the ``elevation`` raster at the site's cell, metres above mean sea level; 0 at or
  below the flood level); rivers and canals ``s_w = clip(d / dc_water_min_m, 0, 1)`` (``d`` to the
  nearest ``river`` or ``canal`` line of ``roads``); coast ``s_c = clip(d / dc_coast_min_m, 0, 1)``
  (``d`` to the sea: the outside-province water cells of the ``landcover`` raster, class 80, by a
  Euclidean distance transform on the grid, when the study has one; else to the province outline,
  the boundary of the communes' union, which also counts land borders as coast);
* **fiber** (D2): ``s = k / 2``, ``k`` = corridor-disjoint fiber paths from the site, capped at 2,
  to every existing data centre (facilities of kind ``data_centre``; the minimum over them), on the
  road/canal edges that carry fiber exactly as :func:`ictplan.network.datacentre_redundancy` builds
  them (a site joins the fiber within ``[parameters.fiber] drop_limit_m``). ``k ≥ 2`` exactly when
  the site and the data centre lie in one 2-edge-connected component of that graph (Menger), so
  one bridge search serves every site. Without an existing data centre the reference is the
  largest 2-edge-connected component (the backbone ring);
* **protected forest** (``protected_areas``): a hard exclusion: a site inside one is never ranked
  (it is listed in :attr:`DatacentreSiting.excluded` with the area's name).

Total: ``Σ w_i s_i / Σ w_i`` over the criteria the study can measure (weights ``dc_weight_substation``,
``dc_weight_energy_zone``, ``dc_weight_flood``, ``dc_weight_fiber``); a criterion whose layer is
missing is left out of both sums and named in ``notes``. Ranked by total (ties: ``site_id``).

Candidates (default, ``candidate_kind``): ``grid`` points every ``dc_candidate_grid_m`` inside the
province, ``zone`` the representative point of each industrial or power zone, ``town`` the commune
offices of the Phường and Thị trấn (facilities); the grid points are moved to the nearest road line
(kind road or bridge) within half the grid spacing (dropped, and counted, when none); sites within
100 m of an earlier one (towns, then zones, then the grid) are dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy import ndimage
from scipy.spatial import cKDTree

from .. import parameters as _parameters
from .._errors import ConfigError, InputValidationError
from ..network import snap_xy
from ..network.redundancy import _capacity_graph, _fiber_corridors, _route_network
from ..services import sample_grid

if TYPE_CHECKING:  # pragma: no cover
    from ..study import Study

__all__ = ["DatacentreSiting", "datacentre_sites", "score_sites", "fiber_paths", "CRITERIA"]

log = logging.getLogger(__name__)

CRITERIA = ("substation", "energy_zone", "flood", "fiber")
"""The weighted criteria (weights ``dc_weight_<criterion>``); protected forest is an exclusion."""

WATER_CLASS = 80  # ESA WorldCover permanent water: outside the province, the sea


@dataclass(frozen=True)
class DatacentreSiting:
    """Ranked candidate sites and those excluded.

    ``sites``: eligible sites, best first (``rank`` 1), with ``score_<criterion>`` per criterion,
    the raw values (``substation_km``, ``energy_zone_km``, ``elevation_m``, ``above_flood_m``,
    ``water_km``, ``coast_km``, ``fiber_paths``), ``total_score``, ``explanation`` (English) and
    ``explanation_vi``. ``excluded``: the candidates in protected forest (same columns, no rank).
    ``weights``: the weights used (criteria that could not be measured have none); ``notes``:
    what could not be measured and why, and the candidates dropped.
    """

    sites: gpd.GeoDataFrame
    excluded: gpd.GeoDataFrame
    weights: dict[str, float]
    notes: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)


# ============================================================================ elevation
# ============================================================================ criteria
def _clip01(v: np.ndarray) -> np.ndarray:
    return np.clip(np.nan_to_num(v, nan=0.0), 0.0, 1.0)


def _nearest_geom(pts: np.ndarray, layer: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Distance (m) from each point to the nearest feature of ``layer`` and that feature's position."""
    geoms = np.asarray(layer.geometry.values, dtype=object)
    (pi, gi), dist = shapely.STRtree(geoms).query_nearest(pts, return_distance=True, all_matches=False)
    d = np.full(len(pts), np.inf)
    g = np.full(len(pts), -1, np.int64)
    d[pi], g[pi] = dist, gi
    return d, g


def _substation(pts: np.ndarray, subs: gpd.GeoDataFrame, prm: Any) -> dict[str, np.ndarray]:
    xy = shapely.get_coordinates(pts)
    d, i = cKDTree(shapely.get_coordinates(np.asarray(subs.geometry.values, dtype=object))).query(xy)
    return {"substation_km": d / 1000.0, "substation_name": subs["name"].astype(str).to_numpy()[i],
            "substation_kv": pd.to_numeric(subs["voltage_kv"], errors="coerce").to_numpy(float)[i],
            "score_substation": _clip01(1.0 - d / prm.dc_substation_max_m)}


def _energy_zone(pts: np.ndarray, zones: gpd.GeoDataFrame, prm: Any) -> dict[str, np.ndarray]:
    d, i = _nearest_geom(pts, zones)
    return {"energy_zone_km": d / 1000.0, "energy_zone_name": zones["name"].astype(str).to_numpy()[i],
            "energy_zone_kind": zones["kind"].astype(str).to_numpy()[i], "in_energy_zone": d <= 0.0,
            "score_energy_zone": np.where(d <= 0.0, 1.0, _clip01(1.0 - d / prm.dc_energy_zone_max_m))}


def _flood(pts: np.ndarray, elevation_m: np.ndarray | None, water_m: np.ndarray | None,
           coast_m: np.ndarray | None, prm: Any) -> dict[str, np.ndarray]:
    """The three flood sub-scores and their mean over those measured."""
    out: dict[str, np.ndarray] = {}
    parts = []
    if elevation_m is not None:
        above = elevation_m - prm.dc_flood_level_m
        out |= {"elevation_m": elevation_m, "above_flood_m": above,
                "score_elevation": _clip01(above / prm.dc_flood_margin_m)}
        parts.append(out["score_elevation"])
    if water_m is not None:
        out |= {"water_km": water_m / 1000.0, "score_water": _clip01(water_m / prm.dc_water_min_m)}
        parts.append(out["score_water"])
    if coast_m is not None:
        out |= {"coast_km": coast_m / 1000.0, "score_coast": _clip01(coast_m / prm.dc_coast_min_m)}
        parts.append(out["score_coast"])
    if parts:
        out["score_flood"] = np.mean(parts, axis=0)
    return out


def _protected(pts: np.ndarray, areas: gpd.GeoDataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    if areas is None or not len(areas):
        return np.zeros(len(pts), bool), np.full(len(pts), "", dtype=object)
    pi, ai = shapely.STRtree(np.asarray(areas.geometry.values, dtype=object)).query(pts, predicate="intersects")
    inside = np.zeros(len(pts), bool)
    name = np.full(len(pts), "", dtype=object)
    inside[pi] = True
    name[pi] = areas["name"].astype(str).to_numpy()[ai]
    return inside, name


def score_sites(sites: gpd.GeoDataFrame, prm: Any, *, substations: gpd.GeoDataFrame | None = None,
                energy_zones: gpd.GeoDataFrame | None = None, protected_areas: gpd.GeoDataFrame | None = None,
                elevation_m: np.ndarray | None = None, water_m: np.ndarray | None = None,
                coast_m: np.ndarray | None = None, fiber_paths: np.ndarray | None = None
                ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict[str, float]]:
    """Score and rank candidate ``sites`` (points, metric CRS, ``site_id``) by the module's criteria.

    The layers are in the sites' CRS; ``elevation_m``, ``water_m``, ``coast_m`` and ``fiber_paths``
    are per site (metres; disjoint paths 0–2). A ``None`` criterion is not measured: it leaves the
    total (its weight with it). Returns ``(ranked, excluded, weights)``.

    Raises
    ------
    InputValidationError
        A negative weight, no measurable criterion with a positive weight, or a non-positive scale.
    """
    _check_prm(prm)
    pts = np.asarray(sites.geometry.values, dtype=object)
    cols: dict[str, Any] = {}
    if substations is not None and len(substations):
        cols |= _substation(pts, substations, prm)
    if energy_zones is not None and len(energy_zones):
        cols |= _energy_zone(pts, energy_zones, prm)
    cols |= _flood(pts, elevation_m, water_m, coast_m, prm)
    if fiber_paths is not None:
        k = np.minimum(np.asarray(fiber_paths, np.int64), 2)
        cols |= {"fiber_paths": k, "score_fiber": k / 2.0}
    weights = {c: float(getattr(prm, f"dc_weight_{c}")) for c in CRITERIA if f"score_{c}" in cols}
    if not sum(weights.values()) > 0:
        raise InputValidationError("no data-centre criterion can be measured with a positive weight: give the "
                                   "study substations, energy_zones, elevation or fiber_routes, or raise a dc_weight_*.")
    total = sum(w * cols[f"score_{c}"] for c, w in weights.items()) / sum(weights.values())
    inside, pname = _protected(pts, protected_areas)
    out = gpd.GeoDataFrame({**{c: sites[c].to_numpy() for c in sites.columns if c != "geometry"}, **cols,
                            "protected": inside, "protected_name": pname, "total_score": total},
                           geometry=sites.geometry.values, crs=sites.crs)
    out["explanation"] = [_explain(r, prm, vi=False) for r in out.itertuples()]
    out["explanation_vi"] = [_explain(r, prm, vi=True) for r in out.itertuples()]
    ranked = out[~inside].sort_values(["total_score", "site_id"], ascending=[False, True]).reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked, out[inside].reset_index(drop=True), weights


def _check_prm(prm: Any) -> None:
    for c in CRITERIA:
        w = getattr(prm, f"dc_weight_{c}")
        if not (np.isfinite(w) and w >= 0):
            raise InputValidationError(f"[parameters.plan] dc_weight_{c} = {w!r}: give a weight >= 0.")
    for name in ("dc_substation_max_m", "dc_energy_zone_max_m", "dc_flood_margin_m", "dc_water_min_m",
                 "dc_coast_min_m", "dc_candidate_grid_m"):
        v = getattr(prm, name)
        if not (np.isfinite(v) and v > 0):
            raise InputValidationError(f"[parameters.plan] {name} = {v!r}: give a number of metres > 0.")


# ============================================================================ explanation
_VI_ZONE = {"wind": "vùng điện gió", "solar": "vùng điện mặt trời", "power": "trung tâm điện lực",
            "industrial": "khu công nghiệp", "other": "vùng năng lượng"}


def _num(v: float, vi: bool) -> str:
    s = f"{v:.1f}"
    return s.replace(".", ",") if vi else s


def _explain(r: Any, prm: Any, *, vi: bool) -> str:
    """One sentence: every measured criterion in words (``r``: a row of the scored frame)."""
    def g(name: str) -> Any:
        return getattr(r, name, None)

    parts = []
    if g("substation_km") is not None:
        kv = f"{g('substation_kv'):g} kV"
        parts.append(f"cách {g('substation_name')} ({kv}) {_num(g('substation_km'), True)} km" if vi
                     else f"{_num(g('substation_km'), False)} km from {g('substation_name')} ({kv} substation)")
    if g("energy_zone_km") is not None:
        kind, name = str(g("energy_zone_kind")), g("energy_zone_name")
        if g("in_energy_zone"):
            parts.append(f"nằm trong {name}" if vi else f"inside {name} ({kind} zone)")
        else:
            parts.append(f"cách {name} ({_VI_ZONE.get(kind, kind)}) {_num(g('energy_zone_km'), True)} km" if vi
                         else f"{_num(g('energy_zone_km'), False)} km from {name} ({kind} zone)")
    if g("above_flood_m") is not None:
        a = float(g("above_flood_m"))
        if not np.isfinite(a):
            parts.append("không có số liệu cao độ" if vi else "no elevation data")
        elif vi:
            parts.append(f"{'cao hơn' if a >= 0 else 'thấp hơn'} mức ngập {_num(abs(a), True)} m")
        else:
            parts.append(f"{_num(abs(a), False)} m {'above' if a >= 0 else 'below'} the flood level "
                         f"({prm.dc_flood_level_m:g} m)")
    if g("water_km") is not None:
        parts.append(f"cách sông, kênh {_num(g('water_km'), True)} km" if vi
                     else f"{_num(g('water_km'), False)} km from a river or canal")
    if g("coast_km") is not None:
        parts.append(f"cách bờ biển {_num(g('coast_km'), True)} km" if vi
                     else f"{_num(g('coast_km'), False)} km from the coast")
    if g("fiber_paths") is not None:
        k = int(g("fiber_paths"))
        en = {2: "two corridor-diverse fiber routes", 1: "one fiber route only (no corridor-diverse second)",
              0: "no fiber route within reach"}
        vn = {2: "có hai tuyến cáp quang khác hành lang", 1: "chỉ có một tuyến cáp quang (không có tuyến dự phòng)",
              0: "không có cáp quang trong tầm kết nối"}
        parts.append((vn if vi else en)[k])
    if g("protected"):
        parts.append(f"thuộc {g('protected_name')}: loại" if vi else f"in protected forest ({g('protected_name')}): excluded")
    else:
        parts.append("không thuộc rừng đặc dụng, phòng hộ" if vi else "not in protected forest")
    s = "; ".join(parts)
    return s[:1].upper() + s[1:]


# ============================================================================ fiber (D2)
def fiber_paths(fiber_routes: gpd.GeoDataFrame, sites: gpd.GeoDataFrame, datacentres: gpd.GeoDataFrame, *,
                roads: gpd.GeoDataFrame | None, attach_distance_m: float, corridor_m: float, snap_tolerance_m: float,
                canal_half_width_m: float) -> np.ndarray:
    """Corridor-disjoint fiber paths (0, 1, 2) from each site to its worst-joined existing data centre.

    The graph is :func:`ictplan.network.datacentre_redundancy`'s (the road/canal edges carrying
    fiber with ``roads``, else the routes), every site and data centre splitting the edge it joins
    within ``attach_distance_m``. Two paths exist exactly when both ends lie in one 2-edge-connected
    component (Menger: no single edge separates them; a doubled cable section is no bridge), one
    when they are connected. With no data centre the reference is the largest 2-edge-connected
    component. All layers in one metric CRS.
    """
    n = len(sites)
    if len(fiber_routes) == 0 or n == 0:
        return np.zeros(n, np.int64)
    if roads is not None and len(roads):
        lines = _fiber_corridors(roads, fiber_routes, corridor_m, snap_tolerance_m, canal_half_width_m)
        if lines is None:
            return np.zeros(n, np.int64)
        net = _route_network(lines, snap_tolerance_m)
    else:
        net = _route_network(fiber_routes, snap_tolerance_m)
    ids = [f"dc:{i}" for i in range(len(datacentres))] + [f"site:{i}" for i in range(n)]
    xy = np.vstack([shapely.get_coordinates(np.asarray(g.geometry.values, dtype=object)) for g in (datacentres, sites)
                    if len(g)])
    snap = snap_xy(net, xy[:, 0], xy[:, 1], max_distance_m=attach_distance_m)
    G, node_of = _capacity_graph(net, ids, np.asarray(snap["edge_id"]), np.asarray(snap["along_m"]))
    cc, two = _component_labels(G)
    site_nodes = [node_of[f"site:{i}"] for i in range(n)]
    refs = [node_of[f"dc:{i}"] for i in range(len(datacentres))]
    if not refs:
        sizes = pd.Series(two).value_counts()
        big = [v for v in sizes.index if sizes[v] > 1][:1]
        if not big:
            return np.array([1 if G.degree(s) else 0 for s in site_nodes], np.int64)
        refs = [next(node for node, lab in two.items() if lab == big[0])]
    out = np.full(n, 2, np.int64)
    for ref in refs:
        k = np.array([2 if s == ref or two[s] == two[ref] else 1 if cc[s] == cc[ref] else 0 for s in site_nodes])
        out = np.minimum(out, k)
    return out


def _component_labels(G: nx.Graph) -> tuple[dict[Any, int], dict[Any, int]]:
    """Connected and 2-edge-connected component labels (bridges of capacity 1 removed) per node."""
    cc = {v: i for i, comp in enumerate(nx.connected_components(G)) for v in comp}
    H = G.copy()
    H.remove_edges_from([(a, b) for a, b in nx.bridges(G) if G[a][b].get("capacity", 1) < 2])
    two = {v: i for i, comp in enumerate(nx.connected_components(H)) for v in comp}
    return cc, two


# ============================================================================ the study
def _optional(study: Study, name: str, notes: list[str], what: str) -> gpd.GeoDataFrame | None:
    if study.has(name):
        gdf = study.layer_in_crs(name)
        if len(gdf):
            return gdf
    notes.append(f"{what}: the study has no (or an empty) {name} layer; the criterion is left out of the total. "
                 f"Add it under [layers] in {study.root / 'study.toml'}.")
    return None


def _to_road(pts: np.ndarray, roads: gpd.GeoDataFrame | None, max_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Points moved to the nearest road/bridge line within ``max_m`` (and which had one)."""
    if roads is None:
        return pts, np.ones(len(pts), bool)
    lines = roads[roads["kind"].astype(str).str.lower().isin(["road", "bridge"])]
    d, gi = _nearest_geom(pts, lines) if len(lines) else (np.full(len(pts), np.inf), np.full(len(pts), -1))
    ok = d <= max_m
    geoms = np.asarray(lines.geometry.values, dtype=object)
    moved = pts.copy()
    if ok.any():
        moved[ok] = shapely.get_point(shapely.shortest_line(pts[ok], geoms[gi[ok]]), 1)
    return moved, ok


def _towns(study: Study, communes: gpd.GeoDataFrame) -> tuple[np.ndarray, list[str]]:
    if not study.has("facilities") or "commune_type" not in communes:
        return np.empty(0, dtype=object), []
    fac = study.layer_in_crs("facilities")
    fac = fac[fac["kind"].astype(str).str.lower() == "commune_office"]
    urban = communes["commune_type"].astype(str).str.lower().isin(["phường", "thị trấn"])
    names = communes.set_index(communes["commune_code"].astype(str))["commune_name"]
    codes = set(communes.loc[urban, "commune_code"].astype(str))
    sel = fac[fac["commune_code"].astype(str).isin(codes)]
    return (np.asarray(sel.geometry.values, dtype=object),
            [f"town centre, {names.get(str(c), c)}" for c in sel["commune_code"].astype(str)])


def default_candidates(study: Study, prm: Any, notes: list[str]) -> gpd.GeoDataFrame:
    """The default candidate sites (module docstring): town centres, zones, a road-snapped grid."""
    communes = study.layer_in_crs("communes")
    outline = shapely.union_all(np.asarray(communes.geometry.values, dtype=object))
    g = float(prm.dc_candidate_grid_m)
    minx, miny, maxx, maxy = outline.bounds
    gx, gy = np.meshgrid(np.arange(minx + g / 2, maxx, g), np.arange(miny + g / 2, maxy, g))
    inside = shapely.contains_xy(outline, gx.ravel(), gy.ravel())
    grid_pts = shapely.points(gx.ravel()[inside], gy.ravel()[inside])
    zones = study.layer_in_crs("energy_zones") if study.has("energy_zones") else None
    zsel = zones[zones["kind"].astype(str).isin(["industrial", "power"])] if zones is not None else None
    zone_pts = np.asarray(zsel.geometry.representative_point().values, dtype=object) if zsel is not None else \
        np.empty(0, dtype=object)
    roads = study.layer_in_crs("roads") if study.has("roads") else None
    moved, ok = _to_road(grid_pts, roads, g / 2)
    if (~ok).any():
        notes.append(f"{int((~ok).sum())} grid candidates have no road within {g / 2:.0f} m and were dropped.")
    town_pts, town_names = _towns(study, communes)
    kinds = ["town"] * len(town_pts) + ["zone"] * len(zone_pts) + ["grid"] * len(grid_pts)
    names = town_names + (list(zsel["name"].astype(str)) if zsel is not None else []) + [""] * len(grid_pts)
    keep = np.concatenate([np.ones(len(town_pts) + len(zone_pts), bool), ok])
    pts = np.concatenate([town_pts, zone_pts, moved])[keep]
    frame = pd.DataFrame({"candidate_kind": np.array(kinds)[keep], "name": np.array(names, dtype=object)[keep]})
    frame = _dedupe(frame, pts, 100.0)
    frame["site_id"] = [f"DC-{k[0].upper()}-{i + 1:04d}" for i, k in enumerate(frame["candidate_kind"])]
    return gpd.GeoDataFrame(frame[["site_id", "name", "candidate_kind"]], geometry=frame["geometry"].values,
                            crs=study.crs)


def _dedupe(frame: pd.DataFrame, pts: np.ndarray, within_m: float) -> pd.DataFrame:
    """Drop sites within ``within_m`` of an earlier one (towns first, then zones, then the grid)."""
    xy = shapely.get_coordinates(pts)
    pairs = cKDTree(xy).query_pairs(within_m, output_type="ndarray")
    drop = np.zeros(len(xy), bool)
    for a, b in pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))] if len(pairs) else []:
        if not drop[a]:
            drop[b] = True
    out = frame.assign(geometry=pts)[~drop].reset_index(drop=True)
    return out


def _user_candidates(candidates: gpd.GeoDataFrame, study: Study) -> gpd.GeoDataFrame:
    if not isinstance(candidates, gpd.GeoDataFrame) or candidates.crs is None:
        raise InputValidationError("candidates must be a GeoDataFrame of points with a CRS (e.g. read with "
                                   "geopandas.read_file); give `site_id` and `name` columns if you have them.")
    if not candidates.geom_type.isin(["Point"]).all():
        raise InputValidationError(f"candidates must be points; {int((~candidates.geom_type.isin(['Point'])).sum())} "
                                   "are not (use their representative_point()).")
    c = candidates.to_crs(study.crs)
    out = gpd.GeoDataFrame({"site_id": c["site_id"].astype(str) if "site_id" in c else
                            [f"DC-C-{i + 1:04d}" for i in range(len(c))],
                            "name": c["name"].astype(str) if "name" in c else "", "candidate_kind": "given"},
                           geometry=c.geometry.values, crs=study.crs)
    if not out["site_id"].is_unique:
        raise InputValidationError("candidate site_id values must be unique.")
    return out


def _coast_m(study: Study, pts: np.ndarray, communes: gpd.GeoDataFrame) -> np.ndarray:
    """Distance (m) to the sea: the landcover's outside water cells, else the province outline."""
    lc = study.landcover if "population" in study.layer_specs else None
    if lc is not None:
        pop = study.population
        sea = pop.nodata_mask & (lc == WATER_CLASS)
        if sea.any():
            res = pop.grid.res_m
            dist = ndimage.distance_transform_edt(~sea, sampling=(res[1], res[0]))
            return sample_grid(dist, pop.grid, gpd.GeoSeries(pts, crs=study.crs), fill=np.nan)
    outline = shapely.union_all(np.asarray(communes.geometry.values, dtype=object)).boundary
    return shapely.distance(pts, outline)


def _water_m(study: Study, pts: np.ndarray) -> np.ndarray | None:
    if not study.has("roads"):
        return None
    roads = study.layer_in_crs("roads")
    water = roads[roads["kind"].astype(str).str.lower().isin(["river", "canal"])]
    return _nearest_geom(pts, water)[0] if len(water) else None


def _fiber_for_study(study: Study, sites: gpd.GeoDataFrame, notes: list[str]) -> np.ndarray | None:
    if not study.has("fiber_routes"):
        notes.append("fiber: the study has no fiber_routes layer; the criterion is left out of the total.")
        return None
    fac = study.layer_in_crs("facilities") if study.has("facilities") else None
    dcs = fac[fac["kind"].astype(str).str.lower() == "data_centre"] if fac is not None else None
    if dcs is None or not len(dcs):
        notes.append("fiber: no existing data centre; two paths means lying on the largest fiber ring.")
        dcs = gpd.GeoDataFrame(geometry=gpd.GeoSeries([], crs=study.crs), crs=study.crs)
    fib, sh = _parameters.resolve("fiber", study), _parameters.resolve("sharing", study)
    roads = study.layer_in_crs("roads") if study.has("roads") else None
    return fiber_paths(study.layer_in_crs("fiber_routes"), sites, dcs, roads=roads, attach_distance_m=fib.drop_limit_m,
                       corridor_m=sh.corridor_m, snap_tolerance_m=fib.snap_tolerance_m,
                       canal_half_width_m=fib.canal_half_width_m)


def _place(sites: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    pts = np.asarray(sites.geometry.values, dtype=object)
    pi, ci = shapely.STRtree(np.asarray(communes.geometry.values, dtype=object)).query(pts, predicate="intersects")
    first = np.unique(pi, return_index=True)[1]
    code = np.full(len(pts), None, dtype=object)
    name = np.full(len(pts), None, dtype=object)
    code[pi[first]] = communes["commune_code"].astype(str).to_numpy()[ci[first]]
    name[pi[first]] = communes["commune_name"].astype(str).to_numpy()[ci[first]]
    return sites.assign(commune_code=code, commune_name=name)


def datacentre_sites(study: Study, *, candidates: gpd.GeoDataFrame | None = None, progress: bool | None = None,
                     **overrides: Any) -> DatacentreSiting:
    """Rank candidate data-centre sites by the module's criteria (D1), with D2's fiber diversity.

    Parameters
    ----------
    study
        A study with ``communes``; ``substations``, ``energy_zones``, ``protected_areas``, ``elevation``,
        ``roads``, ``fiber_routes``, ``facilities`` (data centres) and ``landcover`` as available
        (a missing one leaves its criterion out, said in ``notes``).
    candidates
        Points (any CRS; ``site_id``, ``name`` optional); default :func:`default_candidates`.
    progress
        Accepted for the planner's common signature (nothing is shown).
    **overrides
        :class:`ictplan.parameters.PlanParameters` fields (``dc_*``; the others are accepted, unused).

    Raises
    ------
    ConfigError
        Unknown parameters, or no communes layer.
    InputValidationError
        Bad weights or scales, or bad candidates.
    """
    prm = _parameters.resolve("plan", study, **overrides)
    _check_prm(prm)
    if not study.has("communes"):
        raise ConfigError(f"the data-centre siting needs the communes layer; add it in {study.root / 'study.toml'}.")
    communes = study.layer_in_crs("communes")
    notes: list[str] = []
    sites = default_candidates(study, prm, notes) if candidates is None else _user_candidates(candidates, study)
    sites = _place(sites, communes)
    unnamed = sites["name"].astype(str).str.len() == 0
    sites.loc[unnamed, "name"] = [f"{k} point, {c}" for k, c in zip(sites.loc[unnamed, "candidate_kind"],
                                                                     sites.loc[unnamed, "commune_name"], strict=True)]
    pts = np.asarray(sites.geometry.values, dtype=object)
    subs = _optional(study, "substations", notes, "substation")
    zones = _optional(study, "energy_zones", notes, "energy zone")
    prot = _optional(study, "protected_areas", notes, "protected forest (exclusion)")
    dem = study.elevation if "population" in study.layer_specs else None
    if dem is None:
        notes.append("flood: the study has no elevation raster; the flood score uses rivers, canals and the coast only.")
    elev = sample_grid(dem, study.population.grid, sites) if dem is not None else None
    ranked, excluded, weights = score_sites(
        sites, prm, substations=subs, energy_zones=zones, protected_areas=prot, elevation_m=elev,
        water_m=_water_m(study, pts), coast_m=_coast_m(study, pts, communes),
        fiber_paths=_fiber_for_study(study, sites, notes))
    log.info("data-centre siting: %d candidates, %d ranked, %d in protected forest", len(sites), len(ranked),
             len(excluded))
    return DatacentreSiting(sites=ranked, excluded=excluded, weights=weights, notes=notes,
                            parameters={k: getattr(prm, k) for k in prm.__dataclass_fields__ if k.startswith("dc_")})
