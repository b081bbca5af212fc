"""Every analysis parameter and its one default.

A study may change them in an optional ``[parameters]`` table of its ``study.toml``,
one sub-table per job; CLI flags and keyword arguments go on top::

    [parameters.fiber]
    drop_limit_m = 500          # longest household drop along roads and canals

    [parameters.scorecard]
    indicators_table = "indicators.csv"

Analyses read their defaults from the dataclasses below (``FIBER.drop_limit_m``), never
from a literal of their own, so ``ictplan fiber --drop-limit-m 500``, the scorecard, the
map and the report all agree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from ._errors import ConfigError

__all__ = [
    "CoverageParameters", "FiberParameters", "SharingParameters", "ScorecardParameters",
    "CalibrationParameters", "SensitivityParameters", "PlanParameters", "PLAN",
    "COVERAGE", "FIBER", "SHARING", "SCORECARD", "JOBS", "resolve", "check_table",
]


@dataclass(frozen=True)
class CoverageParameters:
    """Mobile coverage (:func:`ictplan.coverage.run`)."""

    method: str = "exact"  # zone weights: "exact" cell fractions or "centre" of cell
    margin_db: float = 20.0  # how far below the weakest cutoff a sector is still computed
    n_jobs: int = 1  # worker processes over the carriers (spawn-safe)
    keep_rasters: bool = True  # keep RSRP / server / SINR rasters per layer (False: national grids)
    levels: tuple[str, ...] = ("communes", "districts", "hamlets")  # zone levels of the coverage table
    # --- location probability and indoor users (ictplan.radio.margins)
    location_probability: float = 0.9  # covered: RSRP − Φ⁻¹(p)·σ_SF ≥ threshold (TR 38.901 σ); 0.5 = median
    high_loss_building_share_rural: float = 0.0  # TR 38.901 Table 7.8-1 calibration: RMa all low-loss
    high_loss_building_share_urban: float = 0.2  # UMa/UMi: 20 % high-loss (IRR glass) buildings
    # --- busy-hour demand (ictplan.demand); "<x>_2025"/"<x>_2030" anchor years, linear in between
    year: int = 2025  # the demand year: 2025 targets (M1-M3), 2030 targets (X2)
    subscribers_per_person: float = 0.85  # mobile-broadband subscriptions per person (VNTA 2024: ~0.87)
    gb_per_month_2025: float = 15.0  # data per subscriber per month (Ericsson Mobility Report 2024, SE Asia ~ 16 GB)
    gb_per_month_2030: float = 40.0  # ibid., forecast for 2029-2030 (~ 40 GB)
    busy_hour_share: float = 0.07  # share of a day's traffic in the busy hour (usual planning value 6-8 %)
    uptake_5g_2025: float = 0.2  # share of subscribers with a 5G device and plan
    uptake_5g_2030: float = 0.7
    # --- cell load (ictplan.demand): processor sharing, load-coupled interference
    load_iterations: int = 30  # most updates of the interference ↔ utilisation fixed point (0: fixed load_factor)
    load_tolerance: float = 0.05  # converged when max |clip(ρ(η)) − η| over the sectors is below this
    # damping of the fixed point, η ← (1 − α)·η + α·clip(ρ(η)), started from η = min_utilisation: the map is
    # monotone, so the iterates rise to the least fixed point without oscillating and α = 1 (undamped) is the
    # fastest (medium bench, 4G: 2/2/9 updates at α = 1, 2/2/11 at 0.7; 8/9/9 at 0.5 from a uniform 0.5 start).
    # α < 1 damps models whose map is not monotone (ictplan.cellload._fixed_point)
    load_damping: float = 1.0
    clutter_zero_in_urban: tuple[str, ...] = ("built_up",)  # clutter classes that add 0 dB where UMa is used (it includes them)
    min_utilisation: float = 0.1  # interference floor of an idle neighbour (reference signals always on)
    rank_sinr_db: tuple[float, ...] = (5.0, 12.0, 18.0)  # SINR from which 2, 3, 4 MIMO layers are used
    load_interferers: int = 2  # strongest interferers kept per cell for the load passes (0: rerun the engine, exact)
    # --- environment per cell (ictplan.coverage.urban_mask): TR 38.901 UMa in urban cells, the profile's RMa elsewhere
    urban_model: str = "38901_uma"  # "" keeps the profiles' model everywhere
    urban_commune_types: tuple[str, ...] = ("Phường", "Thị trấn")  # commune_type of urban wards and towns
    urban_density_per_km2: float = 1500.0  # or people per km² over 1 km² around the cell (GHSL urban-centre density)
    # --- market shares per commune (ictplan.demand.commune_market_shares): a CSV (commune_code,
    # share_<operator>...) relative to the study folder, else share_<operator> columns on the communes
    # layer, else the profiles' [<Operator>] market_share (the province default)
    market_shares_table: str | None = None


@dataclass(frozen=True)
class FiberParameters:
    """Fiber reach (:func:`ictplan.fiber.run`)."""

    drop_limit_m: float = 300.0  # longest drop from a household to fiber access, along the network
    corridor_m: float = 20.0  # a route this close to a road/canal edge counts as on it
    hamlet_threshold_frac: float = 0.8  # a hamlet is reached when this share of its households is
    snap_tolerance_m: float = 1.0  # line ends this close are joined when the network is built
    weight: str = "cost_m"  # edge weight for network distance
    far_access_m: float = 50.0  # an access point farther than this from the network is reported
    hamlet_rule: str = "share"  # F1 judged by "share" (hamlet_threshold_frac) or "access_point" (one in the hamlet)
    # PON capacity (ictplan.fiber_capacity): defaults for access points without the columns,
    # and the busy-hour demand assumed for the plan's 2025 and 2030 speed targets
    split_ratio: int = 64  # ONTs sharing one PON (OLT) port: 1:64 (e.g. 1:4 x 1:16 cascade)
    ports_per_access_point: int = 16  # drop ports of an access point (FAT) without a `ports` column
    pon_efficiency_frac: float = 0.92  # payload share of the PON line rate (framing, FEC, DBA)
    take_up_2025_frac: float = 0.7  # households passed that subscribe (they take ports and capacity)
    take_up_2030_frac: float = 0.85
    busy_hour_active_2025_frac: float = 0.1  # subscribers transferring at their plan rate at once, busy hour
    busy_hour_active_2030_frac: float = 0.1
    plan_mix_2025: tuple[tuple[float, float], ...] = ((150.0, 0.3), (300.0, 0.5), (1000.0, 0.2))  # (Mb/s, share)
    plan_mix_2030: tuple[tuple[float, float], ...] = ((300.0, 0.3), (1000.0, 0.5), (2000.0, 0.2))
    port_rounds: int = 4  # passes of the port assignment (refused households try the next free access point)
    # OLT uplink (ictplan.fiber_capacity): an access point without an `olt_uplink_mbps` column sits on an OLT
    # of its technology whose uplink is shared by pons_per_olt PONs as loaded as its own (assumption: 8 PON
    # ports per 10GE uplink on GPON, per 4 x 10GE on XGS-PON, i.e. 1.25 / 5 Gb/s per PON; replace with the
    # operators' OLT data via olt_id / olt_uplink_mbps columns)
    olt_uplink_mbps: tuple[tuple[str, float], ...] = (("GPON", 10000.0), ("XGS-PON", 40000.0))
    pons_per_olt: int = 8
    canal_half_width_m: float = 5.0  # a canal line's two banks lie this far to its left and right (assumption; 0: one line)
    organisation_1gbps: str = "dedicated_fiber"  # F4: "dedicated_fiber" (any fiber cable in reach) or "xgs_pon"
    # households on buildings (a study's `buildings` layer; ictplan.households.households_from_buildings)
    building_min_confidence: float = 0.7  # drop detections below this score (assumption; Open Buildings v3 publishes >= 0.65)
    building_min_area_m2: float = 20.0  # drop footprints smaller than this: sheds, kiosks, water tanks (assumption)


@dataclass(frozen=True)
class SharingParameters:
    """Infrastructure sharing (:func:`ictplan.sharing.run`)."""

    site_tolerance_m: float = 100.0  # cells of one operator this close are one physical site
    colocation_m: float = 50.0  # sites of different operators this close are one tower
    attach_m: float = 300.0  # a cell cluster this close to its operator's sector-table site joins it
    duplicate_m: float = 1.0  # two site ids of one operator this close are one site recorded twice
    group_by_enb: bool = True  # LTE cells of one eNodeB are one site whatever their positions
    candidate_m: float = 300.0  # towers this close are sharing candidates
    corridor_m: float = 15.0  # fiber routes this close run in one trench
    min_length_m: float = 200.0  # shorter duplicated stretches are ignored
    max_cables: int | None = None  # cable limit of every pole (None: the pole's max_cables column)
    default_cable_limit: int = 6  # cable limit of a pole whose layer has no max_cables value
    snap_m: float = 2.0  # a span end this close to a pole, without from_pole/to_pole, is on it


@dataclass(frozen=True)
class ScorecardParameters:
    """The plan's scorecard (:func:`ictplan.targets.run`)."""

    indicators_table: str | None = None  # CSV of non-spatial indicators, relative to the study folder
    satellite_tv: bool = True  # B1: satellite (DTH) reception serves everyone with a dish, as the plan counts it
    no_satellite_communes: tuple[str, ...] = ()  # commune codes where satellite TV is not available / not counted


@dataclass(frozen=True)
class CalibrationParameters:
    """Calibration against measurements (``ictplan calibrate``, :mod:`ictplan.calibration`)."""

    min_points: int = 30  # fewest points of an operator × band for its fitted offset to enter the calibrated profiles


@dataclass(frozen=True)
class SensitivityParameters:
    """The sensitivity table (:func:`ictplan.sensitivity.table`): the values each figure is recomputed at."""

    location_probabilities: tuple[float, ...] = (0.5, 0.9, 0.95)  # 50 % = median; 90/95 % usual planning values
    indoor_shares: tuple[float, ...] = (0.0, 0.5, 1.0)  # share of people counted indoors (0: outdoor, the M3 definition)
    demand_factors: tuple[float, ...] = (0.5, 1.5)  # busy-hour GB per month × factor (demand ±50 %)
    uptake_years: tuple[int, ...] = (2025, 2030)  # 5G uptake at these anchor years' values, the demand year kept


@dataclass(frozen=True)
class PlanParameters:
    """The planner (:mod:`ictplan.planning`, ``ictplan plan``): what to build, where, at what cost.

    Unit costs are ASSUMPTIONS in VND at 2025 prices (order of magnitude of Vietnamese
    operators' published capex and MIC unit-price norms; replace them with the operators' own
    in ``[parameters.plan]``). Every cost column of the plan is one of these times a count or km.
    """

    year: int = 2030  # the last phase planned (2025: the 2025 phase only; 2030: both phases)
    targets: tuple[str, ...] = ()  # "ID=VALUE" replacing a target's threshold in the phase of `year`, e.g. ("M3=0.99",)
    operator: str = ""  # the operator whose 5G is planned; "" = a neutral host (any operator's 5G counts)
    budget_vnd: float | None = None  # cap on the 5G roll-out's cost over both phases (None: build to the targets)
    variant_dir: str | None = None  # folder for the plan's variant studies (None: a temporary folder)
    # --- unit costs (VND, assumptions)
    cost_upgrade_vnd: float = 6.0e8  # 5G radio, antennas and power on an existing 4G site of the operator (3 sectors)
    cost_colocation_vnd: float = 9.0e8  # 5G equipment on another operator's tower: radio + tower works + lease set-up
    cost_new_tower_vnd: float = 1.6e9  # new 30-40 m tower with land, power, civil works and 5G radio (3 sectors)
    cost_carrier_vnd: float = 3.0e8  # a second 5G carrier on a congested site (radio units, licence share)
    cost_fiber_aerial_vnd_per_km: float = 6.0e7  # aerial cable on existing poles, hardware and labour
    cost_fiber_duct_vnd_per_km: float = 3.0e8  # new trench and duct along a road or canal bank
    cost_crossing_vnd: float = 8.0e7  # a canal or river crossing (bridge attachment or directional drilling)
    cost_fat_vnd: float = 2.5e6  # a fiber access point (FAT: splitter box with 8-16 drop ports) fitted on a pole or wall
    cost_postal_point_vnd: float = 2.0e8  # a staffed postal point fitted out and connected (first year's staff excluded)
    # --- 5G roll-out (ictplan.planning.rollout)
    solver: str = "greedy"  # "greedy" (lazy greedy + swap local search) or "highs" (exact MILP, warm-started, gap reported)
    mip_gap: float = 0.005  # HiGHS relative gap at which the MILP stops
    time_limit_s: float = 120.0  # HiGHS time limit; the incumbent and its gap are reported when it stops
    neutral_host_band: str = "n78"  # band of the neutral host's 5G (the profiles' [default.5G.<band>])
    new_tower_grid_m: float = 1500.0  # new-tower candidates: grid points this far apart over populated cells ...
    new_tower_min_people: float = 50.0  # ... with at least this many people within 1 km and no tower within colocation_m
    new_tower_height_m: float = 35.0  # height of a new tower's antennas
    max_utilisation: float = 0.8  # after selection: a sector busier than this (busy hour) gets another carrier
    # --- fiber extension (ictplan.planning.fiber_ext)
    aerial_share: float = 0.7  # share of new route km hung on existing poles (the rest trenched), where poles exist
    households_target_frac: float = 1.0  # connect hamlets (cheapest per household first) until this share of the
    # province's households is within fiber reach; 1: every hamlet F1 counts as unreached
    fiber_piece_m: float = 50.0  # edges are cut into pieces this long for the design (at most one too many per leaf)
    # --- postal gaps (ictplan.planning.postal)
    postal_reach_m: float = 3000.0  # a person is served by a postal point within this road distance
    postal_points_target: int = 300  # P1: points in the province
    postal_candidate_spacing_m: float = 500.0  # road-junction candidates: at most one per square this size per commune
    # --- data-centre siting (ictplan.planning.datacentre): weights of the criteria (sum need not be 1)
    dc_weight_substation: float = 0.3
    dc_weight_energy_zone: float = 0.2
    dc_weight_flood: float = 0.3
    dc_weight_fiber: float = 0.2
    dc_flood_level_m: float = 1.5  # land below this elevation (m above mean sea level) floods (assumption)
    dc_flood_margin_m: float = 1.0  # elevation score 1 at this height above the flood level, 0 at or below it
    dc_substation_max_m: float = 20000.0  # substation score 1 - d / this (straight line), 0 beyond
    dc_energy_zone_max_m: float = 10000.0  # energy-zone score 1 inside, 1 - d / this outside, 0 beyond
    dc_water_min_m: float = 500.0  # river/canal score d / this, 1 from this distance on
    dc_coast_min_m: float = 10000.0  # coast score d / this, 1 from this distance on
    dc_candidate_grid_m: float = 3000.0  # default candidates: grid points this far apart, moved onto the nearest road


COVERAGE = CoverageParameters()
FIBER = FiberParameters()
SHARING = SharingParameters()
SCORECARD = ScorecardParameters()
PLAN = PlanParameters()

JOBS: dict[str, type] = {
    "coverage": CoverageParameters,
    "fiber": FiberParameters,
    "sharing": SharingParameters,
    "scorecard": ScorecardParameters,
    "calibration": CalibrationParameters,
    "sensitivity": SensitivityParameters,
    "plan": PlanParameters,
}

P = TypeVar("P")


def _coerce(job: str, name: str, value: Any, default: Any) -> Any:
    """A value of the default's type (int → float allowed), or one clear error."""
    if default is None or value is None:
        return value
    if isinstance(default, tuple) and isinstance(value, list):  # a TOML array: the tuple the default is
        return tuple(tuple(v) if isinstance(v, list) else v for v in value)
    if isinstance(default, bool) or not isinstance(default, int | float | str):
        return value
    if isinstance(default, float) and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, type(default)) and not isinstance(value, bool):
        return value
    raise ConfigError(f"[parameters.{job}] {name} = {value!r}: expected a {type(default).__name__} "
                      f"(default {default!r}). Fix it in study.toml or on the command line.")


def check_table(table: Mapping[str, Any], /) -> list[str]:
    """Problems with a study's ``[parameters]`` table, one sentence each (empty: fine)."""
    problems = []
    for job, values in table.items():
        if job not in JOBS:
            problems.append(f"[parameters.{job}]: unknown job; known: {', '.join(JOBS)}.")
            continue
        if not isinstance(values, Mapping):
            problems.append(f"[parameters] {job} = {values!r}: write it as a table, [parameters.{job}].")
            continue
        try:
            _resolve(job, values, {})
        except ConfigError as err:
            problems.append(str(err))
    return problems


def _resolve(job: str, table: Mapping[str, Any], overrides: Mapping[str, Any]) -> Any:
    cls = JOBS[job]
    known = {f.name: f.default for f in fields(cls)}
    values: dict[str, Any] = {}
    for source, mapping in (("study.toml", table), ("keyword", overrides)):
        for name, value in mapping.items():
            if name not in known:
                raise ConfigError(f"unknown {job} parameter {name!r} (from {source}); known: "
                                  f"{', '.join(known)}. Fix the name in [parameters.{job}] or the call.")
            if value is not None or source == "study.toml":
                values[name] = _coerce(job, name, value, known[name])
    return dataclasses.replace(cls(), **values)


def resolve(job: str, study: Any = None, /, **overrides: Any) -> Any:
    """The parameters of ``job``: defaults, then the study's ``[parameters.<job>]``, then
    ``overrides`` (``None`` values leave the value as it was).

    Raises
    ------
    ConfigError
        An unknown job or parameter name, or a value of the wrong type.
    """
    if job not in JOBS:
        raise ConfigError(f"unknown job {job!r}; known: {', '.join(JOBS)}.")
    table = dict(getattr(study, "parameters", None) or {}).get(job, {})
    if not isinstance(table, Mapping):
        raise ConfigError(f"[parameters] {job} = {table!r}: write it as a table, [parameters.{job}].")
    return _resolve(job, table, overrides)
