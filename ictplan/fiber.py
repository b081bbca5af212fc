"""Fixed broadband: fiber reach to every household, hamlet and organisation along the network.

The analysis behind the plan's targets F1–F6 and X1 (fiber to every hamlet; fiber on
demand for every household; ≥ 200 Mb/s and > 1 Gb/s offers; 1 Gb/s for urban
organisations; copper replaced by fiber).

How it works
------------
1. **Network**: roads, canal banks, bridges and ferries → :func:`ictplan.network.build_edges`.
2. **Households** (:mod:`ictplan.households`): household points where the study has
   them (a ``households`` layer; a ``households`` column counts several per point,
   default 1); otherwise one row per populated cell of the population raster, at the
   cell centre, its people split between communes and hamlets by the study's zone
   weights (:mod:`ictplan.zones`, the ones coverage uses), with
   ``households = persons / (pop2019 / hh2019)`` of each commune (fractional households
   kept). Communes without census figures use the province's ratio, or
   :data:`DEFAULT_PERSONS_PER_HOUSEHOLD`. With a ``buildings`` layer (footprints or
   points, e.g. Google Open Buildings) each commune's households are placed on its
   buildings by footprint area (:func:`ictplan.households.households_from_buildings`:
   confidence and area filters, communes without buildings keep their cells, all
   counted in ``diagnostics["buildings_report"]`` and ``fiber_buildings.csv``), and
   reach is measured from each building.
3. **Access**: access points where given (snapped to their nearest edge; the straight
   drop from the point to the edge counts in every distance through it); otherwise
   every point of a *fiber edge*: the parts of edges inside a corridor (default 20 m)
   around a fiber route. A route with no edge in its corridor is counted and warned
   about.
4. **Reach**: each household joins the network at its nearest point on an edge (not
   the nearest node); its distance = the straight drop + the network distance to the
   nearest access (exact, one multi-source Dijkstra per technology on the compressed
   graph). Reachable = distance ≤ ``drop_limit_m`` (default
   :data:`ictplan.parameters.FIBER` ``.drop_limit_m``).
5. **Offers** (table :data:`SPEEDS_MBPS`): a household's offer is the best technology
   within the drop limit — XGS-PON over GPON over VDSL over ADSL (an operator can
   connect a household to any route within the limit, so a nearer GPON route does not
   hide an XGS-PON one; ``nearest_fiber_tech`` keeps the nearest route's technology
   too). ``ge_200mbps`` = offer minimum ≥ 200 Mb/s; ``gt_1gbps`` =
   offer maximum > 1 Gb/s; ``copper_only`` = within reach of copper (ADSL/VDSL) but not
   of fiber.

6. **Ports and busy-hour speed** (:mod:`ictplan.fiber_capacity`): households reach fiber
   only through a free port of an access point (take-up × households per port; refused
   ones try the next free access point, the rest are ``port_limited``); each PON
   (``split_ratio`` ONTs at the access point's fill, ``pon_efficiency_frac`` of the GPON
   2.488 / XGS-PON 9.953 Gb/s line rate) is shared max-min fairly by its busy-hour active
   users (``busy_hour_active_*_frac`` at the ``plan_mix_*`` rates). ``busy_hour_mbps_2025``
   / ``_2030`` is what a top-plan household gets; ``ge_200mbps`` (2025 demand) and
   ``gt_1gbps`` (2030 demand) are the shares of a row's households with a port and that
   speed, and drive F3 and X1. F2 counts households with a port. Without access points
   every reachable household has a port and a PON passes ``split_ratio`` homes.
7. **Water**: a drop never crosses a river or canal line (:func:`ictplan.network.snap_xy`
   ``dry=True``): a household across a canal joins the nearest dry edge and crosses on the
   network, at bridges and ferries.

Rules
-----
* **Hamlet reached** (``hamlet_rule``): ``"share"`` (default) — its reachable household
  share ≥ ``hamlet_threshold_frac`` (default 0.8); ``"access_point"`` — a fiber access
  point (with routes only: a fiber stretch of the network) lies in it. Both readings are
  kept (``reached_share``, ``reached_access_point``). A hamlet with no households is
  judged by its centre under the share rule (see below).
* **Metres are metres**: the missing metres follow edge lengths; ``missing_cost_m`` gives
  the same with crossing costs (a ferry's 2,000 "m") for comparison.
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
  as households; 1 Gb/s (``ge_1gbps``) by ``organisation_1gbps``: ``dedicated_fiber``
  (default: a dedicated fiber from any fiber cable within the drop limit, or XGS-PON) or
  ``xgs_pon`` (an XGS-PON access within the drop limit).
* **CRS**: the library functions require every layer in the network's CRS
  (:class:`~ictplan.errors.CRSMismatchError` otherwise, naming the fix); :func:`run`
  reprojects the study's vector layers to the study CRS explicitly. The population
  raster is never resampled: it must be in the study CRS.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from . import crs as _crs
from . import network as _nw
from ._errors import ConfigError, CRSMismatchError, InputValidationError
from .fiber_capacity import demand, household_capacity
from .fiber_reach import (
    COPPER_TECHNOLOGIES,
    FIBER_TECHNOLOGIES,
    ORGANISATION_KINDS,
    SPEEDS_MBPS,
    _access_xy,
    _check_drop_limit,
    _has_access_point,
    _offers,
    access_sources,
    organisations,
    reach,
)
from .households import (
    DEFAULT_PERSONS_PER_HOUSEHOLD,
    _require_columns,
    _same_crs,
    household_rasters,
    households_from_points,
    households_from_population,
    shares,
    study_households,
)
from .parameters import FIBER, FiberParameters

if TYPE_CHECKING:  # pragma: no cover
    from .study import Study

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


# =========================================================================== result
@dataclass(eq=False)
class FiberResult:
    """What :func:`analyse` / :func:`run` found. Tables are pandas DataFrames.

    ``households``: one row per household point, building or populated cell (``x``, ``y`` in
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
    grid: Any = None  # the population grid, when households are its cells (outputs as GeoTIFF)

    @property
    def unreached_hamlets(self) -> pd.DataFrame:
        """Hamlets not reached, with their missing metres, sorted by commune."""
        if len(self.hamlets) == 0:
            return self.hamlets
        h = self.hamlets[~self.hamlets["reached"]]
        return h.sort_values(["commune_code", "missing_fiber_m"], na_position="last")


# =========================================================================== analysis
def _codes(idx: np.ndarray, codes: np.ndarray) -> Any:
    """Zone codes per row ("" / NaN outside every zone), as a Categorical when codes are unique."""
    if len(codes) and len(set(codes)) == len(codes):
        return pd.Categorical.from_codes(np.where(idx >= 0, idx, -1), categories=pd.Index(codes))
    if len(codes) == 0:
        return np.full(len(idx), "", dtype=object)
    return np.where(idx >= 0, codes[np.maximum(idx, 0)], "")


def _pct(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    return np.where(den > 0, 100.0 * num / np.where(den > 0, den, 1.0), np.nan)


def _check_frac(value: Any, name: str) -> float:
    if not isinstance(value, (int, float)) or not (0 < value <= 1):
        raise InputValidationError(f"{name} must be a share in (0, 1], got {value!r} (e.g. 0.8 for 80%).")
    return float(value)


HAMLET_RULES = ("share", "access_point")


def _check_rule(rule: Any) -> str:
    if rule not in HAMLET_RULES:
        raise InputValidationError(f"hamlet_rule must be one of {', '.join(HAMLET_RULES)}, got {rule!r}: "
                                   "\"share\" (hamlet_threshold_frac of its households reachable) or "
                                   "\"access_point\" (a fiber access point in the hamlet).")
    return str(rule)


@dataclass
class _Reach:
    """Per household row: position, households, snapping, reach and offers."""

    x: np.ndarray
    y: np.ndarray
    hh: np.ndarray
    snap: dict[str, np.ndarray]
    dist: np.ndarray
    reachable: np.ndarray
    offer_tech: Any
    lo: np.ndarray
    hi: np.ndarray
    nearest_tech: Any
    copper_only: np.ndarray
    cap: dict[str, np.ndarray] = field(default_factory=dict)

    def flags(self) -> dict[str, np.ndarray]:
        """Per row, the share of its households with each property (1/0 or a fraction)."""
        c = self.cap
        return {"reachable": self.reachable, "with_port": c["port_frac_2025"],
                "port_limited": c["port_limited_frac_2025"], "ge_200mbps": c["ge_200mbps_frac_2025"],
                "gt_1gbps": c["gt_1gbps_frac_2030"], "offer_ge_200mbps": self.lo >= 200,
                "offer_gt_1gbps": self.hi > 1000, "copper_only": self.copper_only}


def _check_inputs(network: Any, households: pd.DataFrame, communes: gpd.GeoDataFrame,
                  hamlets: gpd.GeoDataFrame | None, facilities: gpd.GeoDataFrame | None, corridor_m: float,
                  weight: str) -> _nw.EdgeNetwork:
    network = _nw._as_net(network)
    if not (isinstance(corridor_m, (int, float)) and corridor_m >= 0):
        raise InputValidationError(f"corridor_m must be >= 0 metres, got {corridor_m!r}.")
    network.weight_array(weight)
    crs = network.crs
    hcrs = households.attrs.get("crs")
    if hcrs is not None and not _crs.as_crs(hcrs).equals(crs):
        raise CRSMismatchError(
            f"the households are in {_crs.crs_label(_crs.as_crs(hcrs))} but the network is in "
            f"{_crs.crs_label(crs)}. Reproject the household layer (or warp the population raster) to the network's CRS."
        )
    _require_columns(households, ["x", "y", "households", "commune_idx", "hamlet_idx"], "the household table")
    _same_crs(communes, crs, "the communes layer")
    _same_crs(hamlets, crs, "the hamlets layer")
    _same_crs(facilities, crs, "the facilities layer")
    _require_columns(communes, ["commune_code"], "the communes layer")
    return network


def _fiber_sources(network: _nw.EdgeNetwork, access_points: gpd.GeoDataFrame | None,
                   fiber_routes: gpd.GeoDataFrame | None, corridor_m: float, far_access_m: float,
                   diag: dict[str, Any]) -> pd.DataFrame:
    fsrc, fdiag = access_sources(network, access_points=access_points, routes=fiber_routes, corridor_m=corridor_m,
                                 far_access_m=far_access_m, what="fiber")
    bad_tech = sorted(set(fsrc["technology"]) - set(FIBER_TECHNOLOGIES))
    if bad_tech:
        raise InputValidationError(f"unknown fiber technologies {bad_tech}; use one of {', '.join(FIBER_TECHNOLOGIES)}.")
    diag["fiber_access_mode"] = fdiag["mode"]
    diag["far_access_points"] = fdiag["far_access_points"]
    diag["routes_off_network"] = fdiag["routes_off_network"]
    diag["fiber_sources"] = len(fsrc)
    return fsrc


def _household_reach(network: _nw.EdgeNetwork, households: pd.DataFrame, fsrc: pd.DataFrame,
                     copper_routes: gpd.GeoDataFrame | None, limit: float, weight: str, corridor_m: float,
                     diag: dict[str, Any]) -> _Reach:
    """Distances to fiber (and copper) of every household row, and its best offer."""
    x = households["x"].to_numpy(np.float64)
    y = households["y"].to_numpy(np.float64)
    hh = households["households"].to_numpy(np.float64)
    n = len(x)
    fr = reach(network, x, y, fsrc, drop_limit_m=limit, weight=weight, technologies=FIBER_TECHNOLOGIES)
    snap: dict[str, np.ndarray] = fr["snap"]  # type: ignore[assignment]
    diag["households_beyond_drop_of_any_edge"] = float(hh[snap["edge_id"] < 0].sum())
    reachable = np.isfinite(fr["dist"])
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
    return _Reach(x=x, y=y, hh=hh, snap=snap, dist=fr["dist"], reachable=reachable, offer_tech=tech, lo=lo, hi=hi,
                  nearest_tech=nearest_tech, copper_only=copper_reach & ~reachable)


def _household_table(households: pd.DataFrame, r: _Reach, ccode: np.ndarray, hcode: np.ndarray) -> pd.DataFrame:
    cols: dict[str, Any] = {
        "x": r.x, "y": r.y, "households": r.hh,
        "commune_code": _codes(households["commune_idx"].to_numpy(np.int64), ccode),
        "hamlet_code": _codes(households["hamlet_idx"].to_numpy(np.int64), hcode),
        "edge_id": r.snap["edge_id"], "drop_m": r.snap["drop_m"], "dist_to_fiber_m": r.dist, "reachable": r.reachable,
        "nearest_fiber_tech": r.nearest_tech, "offer_tech": r.offer_tech, "offer_min_mbps": r.lo.astype(np.float32),
        "offer_max_mbps": r.hi.astype(np.float32), "port_limited_frac": r.cap["port_limited_frac_2025"],
        "busy_hour_mbps_2025": r.cap["busy_hour_mbps_2025"].astype(np.float32),
        "busy_hour_mbps_2030": r.cap["busy_hour_mbps_2030"].astype(np.float32),
        "ge_200mbps": r.cap["ge_200mbps_frac_2025"], "gt_1gbps": r.cap["gt_1gbps_frac_2030"],
        "copper_only": r.copper_only,
    }
    for extra in ("row", "col", "persons"):
        if extra in households:
            cols[extra] = households[extra].to_numpy()
    # no copies (pandas copy-on-write keeps the caller's table safe): millions of rows
    return pd.DataFrame(cols, index=households.index, copy=False)


def _zone_sums(a: sp.csr_matrix, r: _Reach) -> dict[str, np.ndarray]:
    """Households (and those reachable, with offers, copper only) per zone: ``a`` holds the
    households of each row in each zone (zones × rows)."""
    f = r.flags()
    tot = np.asarray(a.sum(axis=1)).reshape(-1)

    def s(flag: np.ndarray) -> np.ndarray:
        return np.asarray(a @ flag.astype(np.float64)).reshape(-1)

    rch, ge, gt = s(f["reachable"]), s(f["ge_200mbps"]), s(f["gt_1gbps"])
    port = s(f["with_port"])
    return {"households": tot, "households_reachable": rch, "pct_reachable": _pct(rch, tot),
            "households_with_port": port, "pct_with_port": _pct(port, tot),
            "households_port_limited": s(f["port_limited"]),
            "households_ge_200mbps": ge, "pct_ge_200mbps": _pct(ge, tot),
            "households_gt_1gbps": gt, "pct_gt_1gbps": _pct(gt, tot),
            "households_offer_ge_200mbps": s(f["offer_ge_200mbps"]),
            "households_offer_gt_1gbps": s(f["offer_gt_1gbps"]),
            "households_copper_only": s(f["copper_only"])}


_HAMLET_COLUMNS = ["hamlet_code", "hamlet_name", "commune_code", "households", "households_reachable",
                   "pct_reachable", "reached", "missing_fiber_m"]


def _hamlet_table(network: _nw.EdgeNetwork, hamlets: gpd.GeoDataFrame, a_h: sp.csr_matrix, r: _Reach,
                  fsrc: pd.DataFrame, limit: float, thr: float, weight: str, rule: str = "share") -> pd.DataFrame:
    """Per hamlet: households, both readings of the reached rule (``rule`` picks
    ``reached``), the centre and the missing metres."""
    nh = len(hamlets)
    hs = _zone_sums(a_h, r)
    w = hs["households"]
    cx = np.divide(a_h @ r.x, w, out=np.full(nh, np.nan), where=w > 0)
    cy = np.divide(a_h @ r.y, w, out=np.full(nh, np.nan), where=w > 0)
    rep = _nw._point_xy(shapely.point_on_surface(np.asarray(hamlets.geometry.values, dtype=object)))
    nohh = ~(w > 0)
    cx[nohh], cy[nohh] = rep[nohh, 0], rep[nohh, 1]
    csnap = _nw.snap_xy(network, cx, cy, dry=True)

    def centre_dist(wt: str) -> np.ndarray:
        return _nw.distance_to_nearest(network, csnap, source_edge=fsrc["edge_id"].to_numpy(),
                                       source_start_m=fsrc["start_m"].to_numpy(), source_end_m=fsrc["end_m"].to_numpy(),
                                       source_offset_m=fsrc["offset_m"].to_numpy(), weight=wt)

    dc = centre_dist(weight)
    # metres are metres: the missing metres follow lengths (a ferry's crossing cost is not a
    # metre of cable); the crossing-cost reading is reported beside them (missing_cost_m)
    dc_len = centre_dist("length_m") if weight != "length_m" else dc
    share = np.divide(hs["households_reachable"], w, out=np.full(nh, np.nan), where=w > 0)
    reached_share = np.where(nohh, dc <= limit, share >= thr - 1e-12).astype(bool)
    reached_ap = _has_access_point(hamlets, _access_xy(network, fsrc), dc, limit)
    reached = reached_share if rule == "share" else reached_ap
    todo = ~reached & ~nohh
    miss_centre = np.where(np.isfinite(dc_len), np.maximum(dc_len - limit, 0.0), np.nan)
    miss_share = _missing_share_m(network, fsrc, r.snap, a_h, todo, thr, limit, "length_m")
    missing = np.fmax(miss_centre, miss_share)
    cost = np.fmax(np.where(np.isfinite(dc), np.maximum(dc - limit, 0.0), np.nan),
                   _missing_share_m(network, fsrc, r.snap, a_h, todo, thr, limit, weight)
                   if weight != "length_m" else miss_share)

    def col(name: str) -> Any:
        return hamlets[name].astype(str).to_numpy() if name in hamlets else ""

    return pd.DataFrame({
        "hamlet_code": col("hamlet_code"), "hamlet_name": col("hamlet_name"), "commune_code": col("commune_code"),
        **hs,
        "households_unreachable": hs["households"] - hs["households_reachable"],
        "share_reachable_frac": share, "reached": reached.astype(bool), "reached_share": reached_share,
        "reached_access_point": reached_ap,
        "judged_by": np.where(nohh, "centre", "households"),
        "centre_x": cx, "centre_y": cy, "centre_dist_to_fiber_m": dc,
        "missing_centre_m": np.where(reached, 0.0, miss_centre),
        "missing_share_m": np.where(reached, 0.0, miss_share),
        "missing_fiber_m": np.where(reached, 0.0, missing),
        "missing_cost_m": np.where(reached, 0.0, cost),
        "no_fiber_on_piece": ~np.isfinite(dc),
    })


_HAMLET_SUMS = ("hamlets", "hamlets_reached", "hamlets_reached_share", "hamlets_reached_access_point",
                "missing_fiber_m")


def _commune_tables(communes: gpd.GeoDataFrame, a_c: sp.csr_matrix, r: _Reach, ham: pd.DataFrame,
                    diag: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Communes, districts (empty when the communes carry no district) and the province
    (the sum of the communes; households outside every commune are in ``diag``)."""
    cs = _zone_sums(a_c, r)
    com = pd.DataFrame({"commune_code": communes["commune_code"].astype(str).to_numpy()})
    for c in ("commune_name", "district_code", "district_name"):
        if c in communes or c == "commune_name":
            com[c] = communes[c].astype(str).to_numpy() if c in communes else ""
    for k, v in cs.items():
        com[k] = v
    if len(ham):
        hc = ham.groupby("commune_code").agg(hamlets=("hamlet_code", "size"), hamlets_reached=("reached", "sum"),
                                             hamlets_reached_share=("reached_share", "sum"),
                                             hamlets_reached_access_point=("reached_access_point", "sum"),
                                             missing_fiber_m=("missing_fiber_m", lambda s: float(np.nansum(s))))
        com = com.merge(hc, left_on="commune_code", right_index=True, how="left")
        hcols = ["hamlets", "hamlets_reached", "hamlets_reached_share", "hamlets_reached_access_point"]
        com[hcols] = com[hcols].fillna(0).astype(int)
        com["missing_fiber_m"] = com["missing_fiber_m"].fillna(0.0)
    sums = [c for c in (*cs, *_HAMLET_SUMS) if c in com and not c.startswith("pct_")]
    dist_tab = pd.DataFrame(columns=["district_code", "district_name", *sums])
    if "district_code" in com:
        if "district_name" not in com:
            com["district_name"] = com["district_code"]
        dist_tab = com.groupby(["district_code", "district_name"], as_index=False, sort=True)[sums].sum()
    prov_sums = com[sums].sum()
    province = pd.DataFrame({k: [float(prov_sums[k])] for k in cs if not k.startswith("pct_")})
    for tab in (dist_tab, province):
        for a, b in (("pct_reachable", "households_reachable"), ("pct_with_port", "households_with_port"),
                     ("pct_ge_200mbps", "households_ge_200mbps"),
                     ("pct_gt_1gbps", "households_gt_1gbps")):
            tab[a] = _pct(tab[b].to_numpy(float), tab["households"].to_numpy(float))
    province = province[[k for k in cs]]
    outside = float(r.hh.sum() - cs["households"].sum())
    if outside > 1e-9 * max(float(r.hh.sum()), 1.0):  # households outside every commune: not in the province
        diag["households_outside_communes"] = outside
    if len(ham):
        province["hamlets"] = len(ham)
        province["hamlets_reached"] = int(ham["reached"].sum())
        province["hamlets_reached_share"] = int(ham["reached_share"].sum())
        province["hamlets_reached_access_point"] = int(ham["reached_access_point"].sum())
        province["pct_hamlets_reached"] = 100.0 * province["hamlets_reached"] / max(len(ham), 1)
        province["missing_fiber_m"] = float(np.nansum(ham["missing_fiber_m"]))
    return com, dist_tab, province


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
    drop_limit_m: float = FIBER.drop_limit_m,
    corridor_m: float = FIBER.corridor_m,
    hamlet_threshold_frac: float = FIBER.hamlet_threshold_frac,
    weight: str = FIBER.weight,
    far_access_m: float = FIBER.far_access_m,
    hamlet_rule: str = FIBER.hamlet_rule,
    capacity: FiberParameters = FIBER,
) -> FiberResult:
    """Fiber reach of households, hamlets, communes, districts, the province and organisations.

    Parameters
    ----------
    network
        From :func:`ictplan.network.build_edges` (metric CRS), or a networkx graph from
        :func:`ictplan.network.build_network`.
    households
        From :func:`households_from_population`, :func:`households_from_points` or
        :func:`ictplan.households.households_from_buildings`
        (``attrs["crs"]``, when set, must be the network's CRS). Households are split
        between zones by the table's share matrices (see :mod:`ictplan.households`).
    communes
        Commune polygons (``commune_code``, ``commune_name``; ``district_code``,
        ``district_name`` optional: without them there is no district table), in the
        network's CRS.
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
    hamlet_rule
        Which reading of F1 sets ``reached``: ``"share"`` (≥ ``hamlet_threshold_frac`` of
        the households reachable) or ``"access_point"`` (a fiber access point, or a fiber
        route's edge, lies in the hamlet). Both readings are in the hamlet table
        (``reached_share``, ``reached_access_point``).
    capacity
        The PON-capacity parameters (split ratio, ports, take-up, busy-hour demand;
        :mod:`ictplan.fiber_capacity`); default :data:`ictplan.parameters.FIBER`.

    Returns
    -------
    FiberResult
        The province row is the sum of the commune rows; households outside every
        commune are counted in ``diagnostics["households_outside_communes"]``.

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
    rule = _check_rule(hamlet_rule)
    network = _check_inputs(network, households, communes, hamlets, facilities, corridor_m, weight)
    diag: dict[str, Any] = {"network_repairs": dict(network.repairs), "components": network.component_sizes}
    fsrc = _fiber_sources(network, access_points, fiber_routes, corridor_m, far_access_m, diag)
    r = _household_reach(network, households, fsrc, copper_routes, limit, weight, corridor_m, diag)
    r.cap, ap_table = household_capacity(network, r.snap, r.hh, r.reachable, np.asarray(r.offer_tech), fsrc,
                                         diag["fiber_access_mode"], capacity, drop_limit_m=limit, weight=weight)
    diag["access_point_capacity"] = ap_table
    ccode = communes["commune_code"].astype(str).to_numpy()
    ham_layer = hamlets if hamlets is not None and len(hamlets) > 0 else None
    hcode = np.array([], dtype=object)
    ham = pd.DataFrame(columns=_HAMLET_COLUMNS)
    if ham_layer is not None:
        _require_columns(ham_layer, ["hamlet_code"], "the hamlets layer")
        hcode = ham_layer["hamlet_code"].astype(str).to_numpy()
        ham = _hamlet_table(network, ham_layer, shares(households, "hamlet", len(ham_layer)), r, fsrc, limit, thr,
                            weight, rule)
    hh_table = _household_table(households, r, ccode, hcode)
    com, dist_tab, province = _commune_tables(communes, shares(households, "commune", len(communes)), r, ham, diag)
    ded_src = None
    if (fiber_routes is not None and len(fiber_routes) and facilities is not None and len(facilities)
            and diag["fiber_access_mode"] == "access_points" and capacity.organisation_1gbps == "dedicated_fiber"):
        # dedicated fiber is spliced from a cable, not an access point: the routes near a facility
        # (only the parts within drop limit + corridor of one matter: clip there, then buffer)
        reach_area = shapely.union_all(shapely.buffer(np.asarray(facilities.geometry.values, dtype=object),
                                                      limit + corridor_m + 1.0, quad_segs=4))
        clipped = fiber_routes.set_geometry(shapely.intersection(np.asarray(fiber_routes.geometry.values, dtype=object),
                                                                 reach_area))
        clipped = clipped[~clipped.geometry.is_empty]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the routes' own problems are not this figure's
            ded_src, _ = access_sources(network, routes=clipped, corridor_m=corridor_m, what="fiber")
    org, org_sum = organisations(network, facilities, fsrc, limit, weight, copper_routes, corridor_m,
                                 rule=capacity.organisation_1gbps, dedicated_src=ded_src)
    if len(org_sum):
        urban = org_sum[org_sum["group"] == "urban"]
        if len(urban):
            province["pct_urban_orgs_1gbps"] = float(urban["pct_ge_1gbps"].iloc[0])
    return FiberResult(
        households=hh_table, hamlets=ham, communes=com, districts=dist_tab, province=province, organisations=org,
        organisation_summary=org_sum, network=network, crs=network.crs,
        parameters={"drop_limit_m": limit, "corridor_m": corridor_m, "hamlet_threshold_frac": thr, "weight": weight,
                    "hamlet_rule": rule,
                    "households_source": households.attrs.get("source", "")},
        diagnostics=diag, hamlet_geometry=ham_layer.geometry.values if ham_layer is not None else None,
        grid=households.attrs.get("grid"),
    )


def _missing_share_m(network: _nw.EdgeNetwork, fsrc: pd.DataFrame, snap: dict[str, np.ndarray], a_h: sp.csr_matrix,
                     todo: np.ndarray, thr: float, limit: float, weight: str) -> np.ndarray:
    """Per hamlet flagged in ``todo``: the household-weighted ``thr`` quantile of
    (network distance to fiber - drop limit), floored at 0; NaN elsewhere, without
    fiber on the piece, or when the share includes households beyond the drop limit of
    every edge (fiber along the network cannot reach those).

    ``a_h`` holds the households of each row in each hamlet. Distances here are
    unlimited (one Dijkstra without ``limit``) and only for the households of those
    hamlets.
    """
    nh = len(todo)
    out = np.full(nh, np.nan)
    coo = a_h.tocoo()
    sel = todo[coo.row] & (coo.data > 0)
    if not sel.any() or len(fsrc) == 0:
        return out
    rows, inv = np.unique(coo.col[sel], return_inverse=True)
    # households farther than the drop limit from every edge stay unsnapped: no fiber laid
    # along the network reaches them (inf)
    sub = {k: snap[k][rows] for k in ("edge_id", "along_m", "drop_m")}
    d_rows = _nw.distance_to_nearest(network, sub, source_edge=fsrc["edge_id"].to_numpy(),
                                     source_start_m=fsrc["start_m"].to_numpy(), source_end_m=fsrc["end_m"].to_numpy(),
                                     source_offset_m=fsrc["offset_m"].to_numpy(), weight=weight)
    h, w, d = coo.row[sel].astype(np.int64), coo.data[sel], d_rows[inv]
    order = np.lexsort((d, h))
    h, w, d = h[order], w[order], d[order]
    tot = np.bincount(h, weights=w, minlength=nh)
    cum = np.cumsum(w)
    first = np.r_[True, h[1:] != h[:-1]]
    base = np.maximum.accumulate(np.where(first, cum - w, 0.0))
    hit = cum - base >= thr * tot[h] - 1e-9
    # first row of each hamlet reaching the share
    cand = np.where(hit, np.arange(len(h)), len(h))
    starts = np.flatnonzero(first)
    firsthit = np.minimum.reduceat(cand, starts)
    ok = firsthit < len(h)
    q = np.full(len(starts), np.nan)
    q[ok] = d[firsthit[ok]]
    out[h[starts]] = np.where(np.isfinite(q), np.maximum(q - limit, 0.0), np.nan)
    return out


# =========================================================================== study
def _optional_layer(study: Study, name: str) -> gpd.GeoDataFrame | None:
    if not study.has(name):
        return None
    try:
        return study.layer_in_crs(name)
    except (ConfigError, KeyError):
        return None


def run(study: Study, /, *, progress: bool | None = None, **overrides: Any) -> FiberResult:
    """Fiber reach for a study (``ictplan.study.load(path)``).

    Vector layers are reprojected to ``study.crs`` (``study.layer_in_crs``); the
    population raster must already be in it. Households come from a ``households``
    layer when the study names one, else from the population raster, split between
    communes and hamlets by :func:`ictplan.zones.for_study` (so households per commune
    = coverage's people per commune / persons per household). Access points are used
    when the study has a non-empty ``access_points`` layer, else fiber routes.

    Parameters come from :func:`ictplan.parameters.resolve` (``"fiber"``:
    ``drop_limit_m``, ``corridor_m``, ``hamlet_threshold_frac``, ``snap_tolerance_m``,
    ``weight``, ``far_access_m``): defaults, the study's ``[parameters.fiber]``, then
    ``overrides``; they are recorded in ``result.parameters``. ``progress`` is accepted
    for the common signature (fiber shows no bar).

    Raises
    ------
    ConfigError
        Unknown parameters; the study lacks roads or communes.
    InputValidationError
        Bad parameter values (checked before any layer is read).
    CRSMismatchError
        The population raster is not in the study's CRS.
    """
    from . import parameters as _parameters

    prm = _parameters.resolve("fiber", study, **overrides)
    _check_drop_limit(prm.drop_limit_m)
    _check_frac(prm.hamlet_threshold_frac, "hamlet_threshold_frac")
    _check_rule(prm.hamlet_rule)
    for year in (2025, 2030):
        demand(prm, year)
    net = _nw.build_edges(study.layer("roads"), snap_tolerance_m=prm.snap_tolerance_m, working_crs=study.crs,
                          canal_half_width_m=prm.canal_half_width_m)
    communes = _optional_layer(study, "communes")
    if communes is None:
        raise ConfigError("the study has no communes layer; fiber results are per commune. Add `communes` under [layers].")
    hamlets = _optional_layer(study, "hamlets")
    households = study_households(study, communes, hamlets, min_confidence=prm.building_min_confidence,
                                  min_area_m2=prm.building_min_area_m2)
    res = analyse(
        net, households, communes=communes, hamlets=hamlets,
        fiber_routes=_optional_layer(study, "fiber_routes"), access_points=_optional_layer(study, "access_points"),
        copper_routes=_optional_layer(study, "copper_routes"), facilities=_optional_layer(study, "facilities"),
        drop_limit_m=prm.drop_limit_m, corridor_m=prm.corridor_m, hamlet_threshold_frac=prm.hamlet_threshold_frac,
        weight=prm.weight, far_access_m=prm.far_access_m, hamlet_rule=prm.hamlet_rule, capacity=prm,
    )
    res.parameters.update(dataclasses.asdict(prm))
    res.parameters["study"] = study.name
    for key in ("buildings_report", "buildings_communes"):  # households on buildings: what was dropped, fallbacks
        if key in households.attrs:
            res.diagnostics[key] = households.attrs[key]
    return res


# =========================================================================== outputs
_DECIMALS = {"households": 4, "households_reachable": 4, "households_unreachable": 4, "households_ge_200mbps": 4,
             "households_gt_1gbps": 4, "households_copper_only": 4, "persons": 4, "share_reachable_frac": 5}


def write_outputs(result: FiberResult, out_dir: str | Path, /, *, overwrite: bool = False) -> dict[str, Path]:
    """Write the fiber tables (CSV) and layers (``fiber.gpkg``) to ``out_dir``.

    Files: ``fiber_households.csv`` (reach per household cell), ``fiber_hamlets.csv``,
    ``fiber_unreached_hamlets.csv`` (with missing metres), ``fiber_communes.csv``,
    ``fiber_districts.csv``, ``fiber_province.csv``, ``fiber_organisations.csv``,
    ``fiber_organisation_summary.csv``, ``fiber_buildings.csv`` (with a buildings layer: per
    commune, buildings used and dropped, and whether its households are on buildings or
    population cells); ``fiber.gpkg`` with layers ``households``,
    ``unreached_hamlets``, ``network_edges`` (with ``component``) and ``organisations``.
    Households from the population raster (one row per cell) are written as GeoTIFFs on
    the population grid instead of points (``fiber_households_<band>.tif``: households,
    dist_to_fiber_m, busy_hour_mbps_2025, busy_hour_mbps_2030, share with a port), which
    keeps a province's outputs to a few MB; household points stay a CSV and a layer.
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
    as_raster = result.grid is not None and {"row", "col"} <= set(hh.columns)
    if as_raster:
        paths.update(household_rasters(result.grid, hh, out, overwrite))
    tables = {
        **({} if as_raster else {"households": hh}),
        **({"buildings": result.diagnostics["buildings_communes"]} if "buildings_communes" in result.diagnostics else {}),
        "hamlets": result.hamlets, "unreached_hamlets": unreached, "communes": result.communes,
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
    layers: dict[str, gpd.GeoDataFrame] = {"network_edges": _nw.to_gdfs(result.network)[1]}
    if not as_raster:
        layers["households"] = gpd.GeoDataFrame(hh, geometry=shapely.points(hh["x"].to_numpy(), hh["y"].to_numpy()),
                                                crs=crs)
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

