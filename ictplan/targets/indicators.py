"""The indicators: the registry and every registered indicator.

Each indicator is a function of :class:`~ictplan.targets.inputs.ScoreInputs` registered
in :data:`INDICATORS` under its name (its docstring says exactly how it is measured). It
returns per-commune ``num`` / ``den`` (and optionally ``unknown``, ``missing_fiber_m``)
that the scorecard sums to districts and the province, or rows already per level
(``level``, ``zone_code``) for figures judged for the province only; it raises
:class:`~ictplan.targets.inputs.NoData` with the reason when an input is missing.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .. import radio, services, zones
from ..network import datacentre_redundancy
from .inputs import NoData, ScoreInputs

if TYPE_CHECKING:  # pragma: no cover

    from ..grid import Grid, Population

__all__ = ["Indicator", "INDICATORS", "describe_indicators"]


@dataclass(frozen=True)
class Indicator:
    """A registered indicator: what it measures and in which units.

    ``kind``: ``share`` (value = 100 × numerator / denominator, %), ``mean``
    (numerator / denominator), ``count`` (value = numerator) or ``pairs`` (province only).
    ``gap_unit`` names the natural unit of the gap (people, households, ...).
    """

    name: str
    func: Callable[[ScoreInputs], Any]
    kind: str
    unit: str
    gap_unit: str
    empty_reason: str

    @property
    def doc(self) -> str:
        return (self.func.__doc__ or "").strip()


INDICATORS: dict[str, Indicator] = {}


def _indicator(name: str, *, kind: str, gap_unit: str, unit: str | None = None, empty: str = "") -> Callable:
    def deco(func: Callable[[ScoreInputs], Any]) -> Callable[[ScoreInputs], Any]:
        INDICATORS[name] = Indicator(name, func, kind, unit or ("%" if kind in ("share", "pairs") else gap_unit),
                                     gap_unit, empty or "nothing to count here")
        return func

    return deco


def describe_indicators() -> pd.DataFrame:
    """Every registered indicator with its kind, unit, gap unit and how it is measured.

    Returns
    -------
    pandas.DataFrame
        One row per indicator: ``indicator``, ``kind``, ``unit``, ``gap_unit``, ``how``.
    """
    return pd.DataFrame([{"indicator": i.name, "kind": i.kind, "unit": i.unit, "gap_unit": i.gap_unit,
                          "how": " ".join(i.doc.split())} for i in INDICATORS.values()])


def _per_commune(inputs: ScoreInputs, num: pd.Series, den: pd.Series, unknown: pd.Series | None = None) -> pd.DataFrame:
    idx = inputs.commune_codes
    out = pd.DataFrame({"num": num.reindex(idx).fillna(0.0).astype(float),
                        "den": den.reindex(idx).fillna(0.0).astype(float)}, index=idx)
    if unknown is not None:
        out["unknown"] = unknown.reindex(idx).fillna(0.0).astype(float)
    return out


@_indicator("postal_points_count", kind="count", gap_unit="points", empty="")
def postal_points_count(inputs: ScoreInputs) -> pd.DataFrame:
    """Postal service points (any kind, staffed or not) in each zone of the ``postal_points``
    layer, each placed in its commune by ``commune_code`` (by location when the code is
    unknown). The province figure is the count in the whole province (P1 compares it with 300)."""
    p = services.postal_presence(inputs.need("postal_points"), inputs.communes)
    return _per_commune(inputs, p["points"], p["points"])


@_indicator("communes_staffed_postal_pct", kind="share", gap_unit="communes")
def communes_staffed_postal_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of communes with at least one staffed postal service point (``staffed`` true).
    A commune is 100 % or 0 %; a district or the province counts its communes. The gap
    is the number of communes without a staffed point."""
    p = services.postal_presence(inputs.need("postal_points"), inputs.communes)
    return _per_commune(inputs, p["has_staffed"], pd.Series(1.0, index=p.index))


@_indicator("staffed_postal_internet_pct", kind="share", gap_unit="points", empty="no staffed postal point in this zone")
def staffed_postal_internet_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of staffed postal service points whose ``internet`` flag is true (NA counts as
    false). Not applicable in a zone with no staffed point. Gap: staffed points without Internet."""
    p = services.postal_presence(inputs.need("postal_points"), inputs.communes)
    return _per_commune(inputs, p["staffed_internet"], p["staffed"])


@_indicator("staffed_postal_online_pct", kind="share", gap_unit="points", empty="no staffed postal point in this zone")
def staffed_postal_online_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of staffed postal service points whose ``online_services`` flag is true (able to
    help citizens use online public services; NA counts as false). Not applicable with no
    staffed point. Gap: staffed points that cannot."""
    p = services.postal_presence(inputs.need("postal_points"), inputs.communes)
    return _per_commune(inputs, p["staffed_online"], p["staffed"])


def _fixed(inputs: ScoreInputs) -> pd.DataFrame:
    return inputs.need("fixed").per_commune


def _fixed_column(f: pd.DataFrame, name: str, fallback: str) -> pd.Series:
    """Column ``name``, or ``fallback`` where a hand-made table lacks it (older results)."""
    if name in f and f[name].notna().any():
        return f[name]
    return f[fallback]


def _hamlets(inputs: ScoreInputs, column: str) -> pd.DataFrame:
    f = _fixed(inputs)
    if not (f["hamlets"] > 0).any():
        raise NoData("the study has no hamlets layer (or no hamlet lies in a commune)")
    out = _per_commune(inputs, _fixed_column(f, column, "hamlets_reached"), f["hamlets"])
    out["missing_fiber_m"] = f["missing_fiber_m"].reindex(out.index).fillna(0.0)
    return out


@_indicator("hamlets_reached_pct", kind="share", gap_unit="hamlets", empty="no hamlet in this commune")
def hamlets_reached_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of hamlets (ấp, khóm) reached by fiber, by the fiber run's ``[parameters.fiber]
    hamlet_rule``: ``share`` (default: at least ``hamlet_threshold_frac``, 80 %, of its
    households have fiber within the drop limit along roads and canal banks; a hamlet
    with no households: its centre) or ``access_point`` (a fiber access
    point, or a fiber stretch of the network, lies in the hamlet). Gap: hamlets not
    reached; ``detail`` gives the metres of new fiber along the network that would reach
    them. The two readings are also reported on their own (``hamlets_reached_share_pct``,
    ``hamlets_reached_access_point_pct``)."""
    return _hamlets(inputs, "hamlets_reached")


@_indicator("hamlets_reached_share_pct", kind="share", gap_unit="hamlets", empty="no hamlet in this commune")
def hamlets_reached_share_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """F1, first reading: share of hamlets where at least ``hamlet_threshold_frac`` (default
    80 %) of the households can reach fiber (within the drop limit). Gap: hamlets not reached."""
    return _hamlets(inputs, "hamlets_reached_share")


@_indicator("hamlets_reached_access_point_pct", kind="share", gap_unit="hamlets", empty="no hamlet in this commune")
def hamlets_reached_access_point_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """F1, second reading: share of hamlets that hold a fiber access point (a fiber stretch of
    the network when the study has routes only; a hamlet given as a point: its centre
    within the drop limit). Gap: hamlets without one."""
    return _hamlets(inputs, "hamlets_reached_access_point")


@_indicator("households_fiber_pct", kind="share", gap_unit="households", empty="no households in this zone")
def households_fiber_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of households that can get a fiber connection: fiber access within the drop
    limit (``[parameters.fiber] drop_limit_m``) along the network, drop from the household
    to its nearest edge included, *and* a free port on an access point (at the 2025
    take-up; :mod:`ictplan.fiber_capacity`). Households within the limit but refused for
    lack of ports are "port-limited" (``households_port_limited``). Households come from
    household points or the population raster ÷ census persons per household. Gap:
    households without fiber reach or without a port."""
    f = _fixed(inputs)
    return _per_commune(inputs, _fixed_column(f, "households_with_port", "households_reachable"), f["households"])


@_indicator("users_200mbps_pct", kind="share", gap_unit="households", empty="no households in this zone")
def users_200mbps_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of users (households: one fixed connection each) whose busy-hour download is at
    least 200 Mb/s under the 2025 demand: the household has a port, and its PON (line rate ×
    efficiency, shared by ``split_ratio`` ONTs at the access point's fill, a share
    ``busy_hour_active_2025_frac`` active at their plan rates of ``plan_mix_2025``) leaves a
    top-plan user ≥ 200 Mb/s (max-min fair share), also within its OLT's uplink
    (``olt_uplink_mbps``, shared by the OLT's PONs; :mod:`ictplan.fiber_capacity`). Gap:
    households below 200 Mb/s."""
    f = _fixed(inputs)
    return _per_commune(inputs, f["households_ge_200mbps"], f["households"])


@_indicator("users_1gbps_pct", kind="share", gap_unit="households", empty="no households in this zone")
def users_1gbps_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of users (households) whose busy-hour download exceeds 1 Gb/s under the 2030
    demand (``take_up_2030_frac``, ``busy_hour_active_2030_frac``, ``plan_mix_2030``), on
    today's network: as :func:`users_200mbps_pct` with > 1000 Mb/s (a GPON ONT's 1 Gb/s port
    never exceeds it: XGS-PON is needed). Gap: households without."""
    f = _fixed(inputs)
    return _per_commune(inputs, f["households_gt_1gbps"], f["households"])


@_indicator("copper_only_households", kind="count", gap_unit="households")
def copper_only_households(inputs: ScoreInputs) -> pd.DataFrame:
    """Households in old residential areas still on copper only: within the drop limit of a
    copper (ADSL/VDSL) route but not of fiber (fiber analysis). Target: none left. Gap:
    those households."""
    f = _fixed(inputs)
    return _per_commune(inputs, f["households_copper_only"], f["households"])


def _facility_table(inputs: ScoreInputs, *, need_fiber: bool, need_mobile: bool) -> pd.DataFrame:
    key = f"fac:{need_fiber}:{need_mobile}"
    if key in inputs._cache:
        return inputs._cache[key]
    fac = inputs.need("facilities")
    fiber = mobile = None
    if need_fiber:
        fixed = inputs.need("fixed")
        if fixed.facilities is None:
            raise NoData("the fiber result has no per-facility reach (the study's facilities were not analysed)")
        fiber = fixed.facilities
    if need_mobile:
        mob = inputs.need("mobile")
        if mob.facilities is None:
            raise NoData("the coverage result was not sampled at the facilities")
        mobile = mob.facilities
    conn = services.facility_connectivity(fac, inputs.communes, fiber=fiber, mobile=mobile)
    inputs._cache[key] = conn
    return conn


def _facility_share(inputs: ScoreInputs, kinds: tuple[str, ...] | None, column: str, *, urban_only: bool = False,
                    min_mbps: float | None = None) -> pd.DataFrame:
    conn = _facility_table(inputs, need_fiber=column == "fiber_reach", need_mobile=column == "has_mobile")
    c = services.facility_counts(conn, inputs.communes, kinds=kinds, column=column, urban_only=urban_only,
                                 min_mbps=min_mbps)
    return _per_commune(inputs, c["served"], c["facilities"], c["unknown"])


@_indicator("urban_organisations_1gbps_pct", kind="share", gap_unit="organisations",
            empty="no urban organisation in this zone")
def urban_organisations_1gbps_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of urban organisations (facilities flagged ``urban`` of kinds school, hospital,
    health_station, agency, commune_office) that can get 1 Gb/s, by the fiber run's
    ``[parameters.fiber] organisation_1gbps`` rule: ``dedicated_fiber`` (default: a
    dedicated / leased fiber spliced from any fiber cable within the drop limit, as urban
    organisations buy it, or an XGS-PON access) or ``xgs_pon`` (an XGS-PON access within the
    drop limit only). A proxy for the plan's organisations: businesses and production sites
    are not in the geodata, only public organisations. Gap: urban organisations without 1 Gb/s."""
    from ..fiber import ORGANISATION_KINDS

    return _facility_share(inputs, tuple(ORGANISATION_KINDS), "fiber_reach", urban_only=True, min_mbps=1000.0)


@_indicator("agencies_connected_pct", kind="share", gap_unit="agencies", empty="no State agency in this zone")
def agencies_connected_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of Party and State agencies, province to commune level (facilities of kind
    ``agency`` at any level, and ``commune_office``), connected to the specialised data
    network. Rule: an agency counts as connected when fiber access lies within the drop
    limit (``[parameters.fiber] drop_limit_m``) of it along the network, drop included
    (the fiber analysis's per-facility reach): the specialised network rides on that fiber.
    Gap: agencies not connected."""
    return _facility_share(inputs, services.AGENCY_KINDS, "fiber_reach")


def _facility_indicator(name: str, kind: str, column: str, what: str, plural: str) -> None:
    how = ("fiber access within the drop limit along the network (fiber analysis)" if column == "fiber_reach"
           else "4G or 5G coverage of any operator at the facility's grid cell (best-server RSRP at or above "
                "the carrier's threshold, coverage analysis)")

    def func(inputs: ScoreInputs) -> pd.DataFrame:
        return _facility_share(inputs, (kind,), column)

    func.__name__ = name
    func.__doc__ = f"Share of {what} (facilities of kind ``{kind}``) with {how}. Gap: {plural} without it."
    globals()[name] = func
    _indicator(name, kind="share", gap_unit=plural, empty=f"no {what} in this zone")(func)


for _name, _kind, _col, _what, _plural in (
    ("health_stations_fiber_pct", "health_station", "fiber_reach", "commune health stations", "health stations"),
    ("health_stations_mobile_pct", "health_station", "has_mobile", "commune health stations", "health stations"),
    ("schools_fiber_pct", "school", "fiber_reach", "schools", "schools"),
    ("schools_mobile_pct", "school", "has_mobile", "schools", "schools"),
    ("commune_offices_fiber_pct", "commune_office", "fiber_reach", "commune offices", "commune offices"),
    ("commune_offices_mobile_pct", "commune_office", "has_mobile", "commune offices", "commune offices"),
):
    _facility_indicator(_name, _kind, _col, _what, _plural)


def _mobile(inputs: ScoreInputs) -> pd.DataFrame:
    return inputs.need("mobile").per_commune


def _speed_sums(m: pd.DataFrame, key: str) -> tuple[pd.Series, pd.Series]:
    """(Σ users × speed, users) of a technology. Inputs made without subscriber columns
    stand in with people: ``mbps_pop_<key>`` (Σ covered people × speed) over ``population``
    is the same mean over everyone, 0 for whom is not covered."""
    if f"users_{key}" in m:
        return m[f"mbps_users_{key}"], m[f"users_{key}"]
    return m[f"mbps_pop_{key}"], m["population"]


@_indicator("mean_4g_mbps", kind="mean", gap_unit="Mb/s", empty="no 4G user here")
def mean_4g_mbps(inputs: ScoreInputs) -> pd.DataFrame:
    """Mean busy-hour 4G download speed (Mb/s) of the 4G users, each on their own operator's
    network: every person is a subscriber of one operator (market shares), the 4G users
    are those without a 5G device and plan; a user's speed is the processor-sharing flow
    throughput of their operator's serving 4G sector in the busy hour (peak rate × (1 − ρ),
    0 in a congested sector, 0 where the operator's 4G does not reach them). Mean over
    ALL 4G users, not over covered people only; a zone's value is the subscriber-weighted
    mean over the operators (it lies between the slowest and the fastest operator). The
    per-operator figures are in the coverage table. Gap: Mb/s short of the target."""
    return _per_commune(inputs, *_speed_sums(_mobile(inputs), "4g"))


@_indicator("mean_5g_mbps", kind="mean", gap_unit="Mb/s", empty="no 5G user here")
def mean_5g_mbps(inputs: ScoreInputs) -> pd.DataFrame:
    """Mean busy-hour 5G download speed (Mb/s) of the 5G users (subscribers with a 5G device
    and plan: the 5G uptake of the demand year), each on their own operator's 5G: as
    :func:`mean_4g_mbps`, over ALL 5G users, counting 0 for a 5G user their operator's 5G
    does not reach (they fall back to 4G, which they load). Subscriber-weighted over the
    operators. Gap: Mb/s short of the target."""
    return _per_commune(inputs, *_speed_sums(_mobile(inputs), "5g"))


@_indicator("pop_5g_pct", kind="share", gap_unit="people", empty="nobody lives here")
def pop_5g_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of the population within outdoor coverage of at least one operator's 5G (the
    regulator's and ITU's "population covered"): people in grid cells where an operator's
    best 5G SS-RSRP, less the location-probability margin z·σ (``[parameters.coverage]
    location_probability``, TR 38.901 shadow-fading σ), is at or above the carrier's
    threshold; zones summed with exact cell fractions. Per operator and indoor figures are
    in the coverage table. Gap: people without 5G."""
    m = _mobile(inputs)
    return _per_commune(inputs, m["pop_5g"], m["population"])


@_indicator("dtt_pop_pct", kind="share", gap_unit="people", empty="nobody lives here")
def dtt_pop_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of the population within digital terrestrial TV coverage: people in grid cells
    where the strongest DVB-T2 signal (:func:`ictplan.radio.dtt_received_dbm`, the profiles'
    ``[dtt]`` model and receiving antenna) is at or above its ``threshold_dbm``; zones
    summed with the study's one zone accounting (:func:`ictplan.zones.for_study`: exact
    cell fractions, overlaps split so nobody is counted twice). Terrestrial only (B1's
    total, with satellite, is :func:`tv_pop_pct`). Gap: people without DTT."""
    key = "dtt_terrestrial"
    if key not in inputs._cache:
        inputs._cache[key] = _dtt_terrestrial(inputs)
    return inputs._cache[key].copy()


@_indicator("tv_pop_pct", kind="share", gap_unit="people", empty="nobody lives here")
def tv_pop_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of the population that can receive the essential TV channels over digital
    terrestrial TV *or* satellite, as the plan counts them (B1): a person counts when the
    terrestrial signal reaches their cell (:func:`dtt_pop_pct`) or satellite reception is
    available there. Satellite (direct-to-home, a dish) serves every commune unless
    ``[parameters.scorecard] satellite_tv = false`` or the commune is listed in
    ``no_satellite_communes``; there only the terrestrial figure counts. Gap: people with
    neither."""
    terr = dtt_pop_pct(inputs)
    if not inputs.satellite_tv:
        return terr
    sat = ~terr.index.isin(list(inputs.no_satellite_communes))
    terr.loc[sat, "num"] = terr.loc[sat, "den"]
    return terr


def _dtt_terrestrial(inputs: ScoreInputs) -> pd.DataFrame:
    tx = inputs.need("dtt_transmitters")
    pop: Population = inputs.need("population")
    prof = inputs.need("dtt_profile")
    if "threshold_dbm" not in prof:
        raise NoData("the [dtt] profile has no threshold_dbm")
    flat = pop.counts.reshape(-1)
    cells = np.flatnonzero(flat > 0)
    covered = np.zeros(flat.size)
    if len(tx):
        sea = radio.sea_mask(inputs.communes, pop.grid)  # P.1546 land and sea paths
        rx = radio.dtt_received_dbm(tx, pop.grid, profile=prof, cells=cells, sea=sea)
        covered[cells] = np.where(rx >= float(prof["threshold_dbm"]), flat[cells], 0.0)
    zw = _commune_weights(inputs, pop.grid)
    return _per_commune(inputs, pd.Series(zw.sums(covered), index=zw.codes),
                        pd.Series(zw.sums(flat), index=zw.codes))


def _commune_weights(inputs: ScoreInputs, grid: Grid) -> zones.ZoneWeights:
    """The communes' resolved cell weights: the study's own (:func:`ictplan.zones.for_study`,
    given in ``inputs.commune_weights``) when they lie on ``grid``, else built from
    ``inputs.communes`` the same way (:func:`ictplan.zones.build`)."""
    zw = inputs.commune_weights
    if zw is not None and zw.grid == grid:
        return zw
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return zones.build(inputs.communes, grid, level="communes")


@_indicator("datacentre_pairs_redundant_pct", kind="pairs", gap_unit="pairs",
            empty="fewer than two data centres: no pair to join")
def datacentre_pairs_redundant_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of pairs of data centres (facilities of kind ``data_centre``) joined by at least
    two corridor-disjoint fiber paths over all operators' fiber routes
    (:func:`ictplan.network.datacentre_redundancy`): with the study's roads, the paths may
    share no road or canal edge (a trench, ``[parameters.sharing] corridor_m`` wide, holds
    every cable along that edge: two cables in one trench are one path); without roads, no
    fiber route edge. A data centre joins the fiber within the drop limit. Judged for the
    province only; not applicable with fewer than two data centres. Gap: pairs without a
    backup path."""
    fac = inputs.need("facilities")
    dcs = fac[fac["kind"].astype(str).str.lower() == "data_centre"]
    if len(dcs) < 2:
        return pd.DataFrame({"level": ["province"], "zone_code": ["province"], "num": [0.0], "den": [0.0]})
    routes = inputs.need("fiber_routes")
    if dcs.crs is not None and routes.crs is not None and not dcs.crs.equals(routes.crs):
        dcs = dcs.to_crs(routes.crs)
    limit = inputs.fixed.drop_limit_m if inputs.fixed is not None else inputs.drop_limit_m
    roads: Any = inputs.roads
    net = inputs.fixed.network if inputs.fixed is not None else None
    if net is not None and routes.crs is not None and net.crs.equals(routes.crs):
        roads = net  # the fiber run's network: built once
    elif roads is not None and routes.crs is not None and roads.crs is not None and not roads.crs.equals(routes.crs):
        roads = roads.to_crs(routes.crs)
    pairs = datacentre_redundancy(routes, dcs, attach_distance_m=limit, roads=roads, corridor_m=inputs.corridor_m,
                                  canal_half_width_m=inputs.canal_half_width_m, snap_tolerance_m=inputs.snap_tolerance_m)
    inputs._cache["datacentre_pairs"] = pairs
    return pd.DataFrame({"level": ["province"], "zone_code": ["province"],
                         "num": [float(pairs["redundant"].sum())], "den": [float(len(pairs))]})

