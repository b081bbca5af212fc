"""Mobile coverage: best-server rasters on the analysis grid and population covered per zone.

The analysis grid is the population raster's grid: sites are projected into it, people
are never resampled. For each carrier (operator × technology × band) the best-server
engine gives, per cell, the RSRP of the strongest sector, that sector, the SINR against
the other sectors of the carrier (interference × load factor + thermal noise) and the
single-user rate; the user throughput shares that rate among the active users the
sector serves. Zone figures are sparse weighted sums over the cells
(:func:`ictplan.grid.zone_weights`), so communes + "(outside zones)" add up to the
province.

Engine
------
The windowed best-server engine (reach boxes, distance tables, parallel workers) is
:mod:`ictplan.engine`. Zone weights come from :mod:`ictplan.zones` (one accounting per
study and level, overlaps resolved, shared with fiber and the scorecard).

Measured (``scripts/bench_coverage.py full --national-only``): a 5,745 × 5,745 grid (33 M cells)
with 100,000 sectors on 6 carriers, busy-hour demand, the load fixed point (converged on every
carrier, ≤ 11 updates) and the 90 % location probability, plus 64-zone tables, under the
300 s / 4 GB bar; the figures as last measured are in README.md ("Speed"), kept in one place.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm import tqdm

from . import cellload as _cellload
from . import crs as _crs
from . import demand as _demand
from . import engine as _eng
from . import parameters as _parameters
from . import radio
from . import zones as _zones
from ._errors import (
    EmptyLayerError,
    IctplanWarning,
    InputValidationError,
    MissingColumnError,
    ProfileError,
    SkippedFeaturesWarning,
)
from .coverage_tables import CellUsers, population_covered
from .engine import check_clutter as _check_clutter
from .engine import clutter_loss_db, disc_coverage
from .grid import Grid, Population
from .radio.clutter import clutter_in_urban_model
from .validation import HEIGHT_RANGE_M, TILT_RANGE_DEG, TX_POWER_RANGE_DBM

if TYPE_CHECKING:  # pragma: no cover
    from .study import Study

logger = logging.getLogger(__name__)

__all__ = [
    "CoverageLayer",
    "CoverageResult",
    "prepare_sectors",
    "best_server",
    "compute",
    "clutter_loss_db",
    "disc_coverage",
    "population_covered",
    "urban_mask",
    "clutter_in_urban_model",
    "convergence_lines",
    "run",
    "write_outputs",
    "ANY_OPERATOR",
    "ZONE_ID_COLUMNS",
]

ANY_OPERATOR = "any"
"""Operator label of the union layer: covered by at least one operator."""

ZONE_ID_COLUMNS = _zones.ZONE_ID_COLUMNS

_SECTOR_REQUIRED = ("sector_id", "operator", "technology", "band", "azimuth_deg", "height_m")
_MAX_HEIGHT_M = HEIGHT_RANGE_M[1]  # the loader's ranges (ictplan.validation), written once
_TX_RANGE_DBM = TX_POWER_RANGE_DBM
_TILT_RANGE_DEG = TILT_RANGE_DEG


# ============================================================================ results
@dataclass
class CoverageLayer:
    """Coverage of one operator × technology (``operator="any"``: the union of operators).

    Arrays are on the result's grid. ``covered`` is RSRP ≥ the carrier's threshold on at
    least one of the operator's carriers; ``tput_mbps`` is the per-user throughput of the
    best carrier (0 where not covered; no carrier aggregation). ``rsrp_dbm`` (NaN: no
    signal), ``server`` (row in ``CoverageResult.sectors``, −1: none) and ``sinr_db`` come
    from the strongest carrier; they are ``None`` when rasters were not kept.
    """

    operator: str
    technology: str
    target_mbps: float
    covered: np.ndarray
    tput_mbps: np.ndarray
    rsrp_dbm: np.ndarray | None = None
    server: np.ndarray | None = None
    sinr_db: np.ndarray | None = None
    covered_indoor: np.ndarray | None = None  # uint8: percent of the cell's indoor users covered
    users_per_person: float | np.ndarray | CellUsers | None = None  # users per person: a number, per cell, or CellUsers


@dataclass
class CoverageResult:
    """Everything :func:`compute` / :func:`run` produced."""

    grid: Grid
    sectors: pd.DataFrame
    layers: dict[tuple[str, str], CoverageLayer]
    table: pd.DataFrame | None = None
    zones: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    weights: dict[str, _zones.ZoneWeights] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    load: pd.DataFrame = field(default_factory=pd.DataFrame)
    validity: pd.DataFrame = field(default_factory=pd.DataFrame)
    demand: _demand.Demand | None = None
    location_probability: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)  # "load_convergence": one record per carrier


def convergence_lines(result: CoverageResult, /) -> list[str]:
    """Human-readable lines (for the CLI) of ``result.meta["load_convergence"]``."""
    return _cellload.convergence_lines(result.meta.get("load_convergence", []))


# ============================================================================ sectors
def prepare_sectors(sectors: gpd.GeoDataFrame, grid: Grid, profiles: Mapping[str, Any], /) -> pd.DataFrame:
    """Validate a sites/sectors layer and project it into the grid's CRS.

    Parameters
    ----------
    sectors
        One row per sector (``sites`` schema): ``sector_id``, ``operator``,
        ``technology``, ``band``, ``azimuth_deg`` (0–360 clockwise from north, NaN =
        omni), ``height_m``; optional ``site_id``, ``tilt_deg``, ``etilt_deg``,
        ``tx_power_dbm`` (NaN: the profile's). Any CRS.
    grid
        The analysis grid (projected CRS).
    profiles
        Output of :func:`ictplan.radio.load_profiles`.

    Returns
    -------
    pandas.DataFrame
        ``sector_id, site_id, operator, technology, band, x, y`` (grid CRS),
        ``height_m, azimuth_deg, tilt_deg`` (mechanical + electrical), ``tx_power_dbm``
        (filled), ``in_grid``; in the input's order, with a fresh 0..n−1 index.

    Raises
    ------
    MissingColumnError
        Required columns are missing (all listed).
    MissingCRSError
        The sectors have no CRS.
    EmptyLayerError
        No sectors.
    InputValidationError
        Missing/empty geometry, azimuth outside 0–360, height ≤ 0 or > 300 m, transmit
        power outside 0–70 dBm, tilt outside −20–60°; every offending sector id is listed.
    ProfileError
        No profile for a technology/band used by a sector.
    """
    _require_north_up(grid)
    if len(sectors) == 0:
        raise EmptyLayerError("the sites layer has no sectors; coverage needs at least one.")
    missing = [c for c in _SECTOR_REQUIRED if c not in sectors.columns]
    if missing:
        raise MissingColumnError(
            f"the sites layer lacks column(s) {', '.join(missing)} (it has: {', '.join(map(str, sectors.columns))}). "
            "Rename the columns or map them in the study's [layers] table."
        )
    _crs.require_crs(sectors, "the sites layer")
    gdf = sectors if sectors.crs.equals(grid.crs) else sectors.to_crs(grid.crs)
    ids = gdf["sector_id"].astype(str).to_numpy()
    x, y, no_geom = _sector_xy(gdf)
    az = pd.to_numeric(gdf["azimuth_deg"], errors="coerce").to_numpy(float)
    h = pd.to_numeric(gdf["height_m"], errors="coerce").to_numpy(float)
    tilt = _num_col(gdf, "tilt_deg", 4.0) + _num_col(gdf, "etilt_deg", 0.0)
    tx = _num_col(gdf, "tx_power_dbm", np.nan)
    problems = _sector_problems(ids, no_geom, az, h, tilt, tx)
    if problems:
        raise InputValidationError("the sites layer has invalid sectors:\n  - " + "\n  - ".join(problems))
    op = gdf["operator"].astype(str).to_numpy()
    tech = gdf["technology"].astype(str).str.upper().to_numpy()
    band = gdf["band"].astype(str).to_numpy()
    _fill_tx_power(tx, op, tech, band, profiles)
    t = grid.transform
    col = (x - t.c) / t.a
    row = (y - t.f) / t.e
    in_grid = (col >= 0) & (col < grid.width) & (row >= 0) & (row < grid.height)
    site = gdf["site_id"].astype(str).to_numpy() if "site_id" in gdf.columns else ids
    return pd.DataFrame({
        "sector_id": ids, "site_id": site, "operator": op, "technology": tech, "band": band,
        "x": x, "y": y, "height_m": h, "azimuth_deg": az, "tilt_deg": tilt, "tx_power_dbm": tx,
        "in_grid": in_grid,
    }, index=pd.RangeIndex(len(gdf)))


def _sector_xy(gdf: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y of each sector (centroid of a non-point geometry) and a mask of unusable ones."""
    geom = gdf.geometry
    no_geom = (geom.isna() | geom.is_empty).to_numpy().copy()
    x = np.full(len(gdf), np.nan)
    y = np.full(len(gdf), np.nan)
    if (~no_geom).any():
        pts = geom[~no_geom]
        cent = pts.centroid if not (pts.geom_type == "Point").all() else pts
        x[~no_geom] = cent.x.to_numpy()
        y[~no_geom] = cent.y.to_numpy()
    no_geom |= ~(np.isfinite(x) & np.isfinite(y))
    return x, y, no_geom


def _sector_problems(ids: np.ndarray, no_geom: np.ndarray, az: np.ndarray, h: np.ndarray, tilt: np.ndarray,
                     tx: np.ndarray) -> list[str]:
    """One sentence per kind of invalid sector value, naming the sectors."""
    def listed(mask: np.ndarray) -> str:
        bad = ids[mask]
        more = f" and {bad.size - 10} more" if bad.size > 10 else ""
        return ", ".join(bad[:10]) + more

    problems: list[str] = []
    if no_geom.any():
        problems.append(f"{no_geom.sum()} sector(s) without a usable location: {listed(no_geom)}")
    bad_az = np.isfinite(az) & ((az < 0) | (az > 360))
    if bad_az.any():
        problems.append(f"{bad_az.sum()} sector(s) with azimuth outside 0–360° (e.g. {az[bad_az][0]:g}): "
                        f"{listed(bad_az)}; use degrees clockwise from north, NaN for omni")
    bad_h = ~np.isfinite(h) | (h <= 0) | (h > _MAX_HEIGHT_M)
    if bad_h.any():
        problems.append(f"{bad_h.sum()} sector(s) with antenna height not in (0, {_MAX_HEIGHT_M:g}] m "
                        f"(e.g. {h[bad_h][0]:g}): {listed(bad_h)}")
    bad_t = ~np.isfinite(tilt) | (tilt < _TILT_RANGE_DEG[0]) | (tilt > _TILT_RANGE_DEG[1])
    if bad_t.any():
        problems.append(f"{bad_t.sum()} sector(s) with total tilt outside {_TILT_RANGE_DEG} degrees: {listed(bad_t)}")
    bad_tx = np.isfinite(tx) & ((tx < _TX_RANGE_DBM[0]) | (tx > _TX_RANGE_DBM[1]))
    if bad_tx.any():
        problems.append(f"{bad_tx.sum()} sector(s) with transmit power outside {_TX_RANGE_DBM[0]:g}–"
                        f"{_TX_RANGE_DBM[1]:g} dBm (e.g. {tx[bad_tx][0]:g}; watts? 20 W = 43 dBm): {listed(bad_tx)}")
    return problems


def _fill_tx_power(tx: np.ndarray, op: np.ndarray, tech: np.ndarray, band: np.ndarray,
                   profiles: Mapping[str, Any]) -> None:
    """NaN transmit powers take their carrier profile's (in place); unknown carriers refused."""
    profs = dict(profiles)
    unknown = []
    for key in sorted(set(zip(op, tech, band, strict=True))):
        try:
            prof = radio.profile_for(profs, *key)
        except ProfileError:
            unknown.append(key)
            continue
        sel = (op == key[0]) & (tech == key[1]) & (band == key[2]) & ~np.isfinite(tx)
        tx[sel] = prof.tx_power_dbm
    if unknown:
        known = sorted({f"{t}/{b}" for (_, t, b) in profiles["carriers"]})
        raise ProfileError(
            f"no technology profile for {', '.join(f'{t}/{b} ({o})' for o, t, b in unknown)} in "
            f"{profiles.get('source', 'the profiles')} (known: {', '.join(known)}). Add a "
            f"[default.{unknown[0][1]}.{unknown[0][2]}] table or fix the sites' technology/band."
        )


def _num_col(gdf: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in gdf.columns:
        return np.full(len(gdf), default, dtype=float)
    v = pd.to_numeric(gdf[name], errors="coerce").to_numpy(float)
    return np.where(np.isnan(v), default, v)


def _require_north_up(grid: Grid) -> None:
    if grid.transform.b != 0 or grid.transform.d != 0:
        raise InputValidationError("the population grid is rotated; warp it north-up first (gdalwarp).")


def best_server(
    sectors: gpd.GeoDataFrame | pd.DataFrame,
    grid: Grid,
    profile: radio.TechProfile,
    /,
    *,
    clutter_loss: np.ndarray | None = None,
    margin_db: float = 20.0,
    window_rows: int = 256,
    n_jobs: int = 1,
) -> dict[str, np.ndarray]:
    """Best-server rasters of one carrier: every sector given radiates with ``profile``.

    Parameters
    ----------
    sectors
        A sites layer (GeoDataFrame, any CRS) or the output of :func:`prepare_sectors`.
        ``tx_power_dbm`` NaN takes the profile's.
    grid
        The analysis grid (projected CRS, metres).
    profile
        The carrier's :class:`~ictplan.radio.TechProfile`.
    clutter_loss
        Optional extra loss per cell (dB, ≥ 0), an array of ``grid.shape``; see
        :func:`clutter_loss_db`.
    margin_db
        A sector is evaluated where its boresight RSRP could reach
        ``rsrp_threshold_dbm − margin_db``; weaker signals are ignored, also as
        interference.
    window_rows, n_jobs
        Rows per streamed window; worker processes (see :mod:`ictplan.engine`: fork or spawn).

    Returns
    -------
    dict
        ``rsrp_dbm`` (float32, NaN: no sector above the cutoff), ``server`` (int32, row
        of the prepared sectors, −1: none), ``sinr_db`` (float32) and ``rate_mbps``
        (float32, single-user rate, :func:`ictplan.radio.throughput_mbps`).

    Raises
    ------
    GeographicCRSError, InputValidationError, ProfileError
        See :func:`prepare_sectors`.

    Notes
    -----
    Cost ~ Σ over sectors of the cells within reach; memory ~ 12 bytes per cell for the
    outputs plus 16 bytes per cell of one window.
    """
    if isinstance(sectors, gpd.GeoDataFrame):
        profiles = {"carriers": {("default", profile.technology, profile.band): profile}, "source": profile.source}
        s = sectors.copy()
        s["operator"], s["technology"], s["band"] = "default", profile.technology, profile.band
        sec = prepare_sectors(s, grid, profiles)
    else:
        _require_north_up(grid)
        sec = sectors.reset_index(drop=True)
    if clutter_loss is not None:
        clutter_loss = _check_clutter(clutter_loss, grid)
    rsrp, server, sinr = _eng.run_carrier(sec, grid, profile, clutter=clutter_loss, margin_db=margin_db,
                                 window_rows=window_rows, n_jobs=n_jobs)
    rate = radio.throughput_mbps(sinr, bandwidth_mhz=profile.bandwidth_mhz, mimo_layers=profile.mimo_layers,
                                 alpha=profile.shannon_alpha, sinr_min_db=profile.sinr_min_db,
                                 max_se_bps_hz=profile.max_se_bps_hz, overhead=profile.overhead)
    return {"rsrp_dbm": rsrp, "server": server, "sinr_db": sinr, "rate_mbps": rate.astype(np.float32)}


# ============================================================================ all carriers
def compute(
    sectors: gpd.GeoDataFrame,
    population: Population,
    profiles: Mapping[str, Any],
    /,
    *,
    clutter_loss: np.ndarray | Mapping[str, np.ndarray] | None = None,
    margin_db: float = 20.0,
    keep_rasters: bool = True,
    window_rows: int = 256,
    n_jobs: int = 1,
    progress: bool | None = None,
    parameters: Any = None,
    urban: np.ndarray | None = None,
    market_shares: Mapping[str, np.ndarray] | None = None,
    clutter_loss_urban: np.ndarray | Mapping[str, np.ndarray] | None = None,
) -> CoverageResult:
    """Best-server coverage of every operator × technology, plus ``"any"`` operator per technology.

    Parameters
    ----------
    sectors
        Sites layer (one row per sector), any CRS; see :func:`prepare_sectors`.
    population
        People per cell on the analysis grid; never resampled.
    profiles
        Output of :func:`ictplan.radio.load_profiles`.
    clutter_loss
        Optional per-cell clutter loss (dB) on the grid: one array for every band, or one per
        band name (``{"B3": ..., "n78": ...}``, as :func:`run` builds from the profiles'
        per-band values).
    margin_db, window_rows, n_jobs
        See :func:`best_server`.
    keep_rasters
        Keep RSRP / server / SINR rasters per layer (``False`` keeps only ``covered`` and
        ``tput_mbps``, for national grids).
    progress
        Show a progress bar over the carriers (tqdm, on standard error); ``None`` shows it
        when standard error is a terminal.
    urban
        Boolean per cell (the grid's shape): the cells whose path loss is the urban model
        (``parameters.urban_model``, TR 38.901 UMa) instead of the profiles' RMa, with its
        shadow-fading σ and O2I; see :func:`urban_mask`. ``None``: the profiles' model everywhere.
    clutter_loss_urban
        Optional per-cell clutter loss (dB) of the carriers whose urban cells use the urban
        model (``clutter_loss`` with built-up clutter at 0 dB in the urban cells: UMa already
        includes it; :func:`clutter_in_urban_model`). ``None``: ``clutter_loss`` for every carrier.

    Returns
    -------
    CoverageResult
        ``layers[(operator, technology)]`` and ``sectors`` with ``pop_served``
        (people in covered cells the sector serves) and ``active_users``.

    Raises
    ------
    GeographicCRSError, InputValidationError, MissingColumnError, ProfileError
        See :func:`prepare_sectors`.

    Warns
    -----
    IctplanWarning
        Sectors outside the grid (counted); they still radiate into it where in range.

    Notes
    -----
    ``parameters`` (:class:`ictplan.parameters.CoverageParameters`, default
    ``parameters.COVERAGE``) sets the location probability, the busy-hour demand of the
    year and the load iterations. Per operator, 5G first: cells are *covered* where
    ``RSRP − z·σ ≥ threshold`` (:mod:`ictplan.radio.margins`) and *served* where the
    median RSRP reaches it; the users served load their sector and get the
    processor-sharing flow throughput ``peak × (1 − ρ)`` (0 in a congested sector,
    :mod:`ictplan.demand`, :mod:`ictplan.cellload`); interference is weighted by the
    neighbours' utilisation (fixed point, ``result.load``). 5G users served by their
    operator's 5G do not load its 4G. The ``"any"`` layer is the union of the operators'
    coverage, its ``tput_mbps`` the best operator's (a best-operator figure, never a
    target's). Cells served beyond a path-loss model's validity are counted
    (``result.validity``) and warned about.
    """
    prm = parameters if parameters is not None else _parameters.COVERAGE
    dem = _demand.demand_for(prm)
    opts = _cellload.ServeOptions.from_parameters(prm, dem)
    grid = population.grid
    sec = prepare_sectors(sectors, grid, profiles)
    n_out = int((~sec["in_grid"]).sum())
    if n_out:
        warnings.warn(
            f"{n_out} of {len(sec)} sector(s) lie outside the population grid (e.g. "
            f"{', '.join(sec.loc[~sec['in_grid'], 'sector_id'].head(5))}); they still radiate into the grid "
            "where in range.", IctplanWarning, stacklevel=2,
        )
    clutter_loss = _clutter_on(clutter_loss, grid)
    counts = population.counts.reshape(-1)
    for col in ("pop_served", "users", "utilisation"):
        sec[col] = 0.0
    sec["congested"] = False
    shares = _demand.operator_shares({op: radio.profile_for(dict(profiles), op, *key[1:]).market_share
                                      for op, key in ((k[0], k) for k in
                                                      sec.groupby(["operator", "technology", "band"]).groups)})
    layers: dict[tuple[str, str], CoverageLayer] = {}
    timings: dict[str, float] = {}
    load: list[dict[str, Any]] = []
    validity: list[dict[str, Any]] = []
    if progress is None:
        progress = sys.stderr.isatty()
    bar = tqdm(total=int(sec.groupby(["operator", "technology", "band"]).ngroups), desc="coverage", unit="carrier",
               disable=not progress, file=sys.stderr)
    engine_kw = {"clutter": clutter_loss, "margin_db": margin_db, "window_rows": window_rows, "n_jobs": n_jobs,
                 "urban": _check_urban(urban, grid),
                 "clutter_urban": _clutter_on(clutter_loss_urban, grid)}
    for op, opsec in sec.groupby("operator", sort=True):
        share = market_shares[str(op)] if market_shares and str(op) in market_shares else shares[str(op)]
        sub_pp = dem.subscribers_per_person * share  # share: a number, or per cell (ictplan.demand)
        covered_5g: np.ndarray | None = None
        for tech in sorted(set(opsec["technology"]), key=lambda t: t != "5G"):  # 5G first: its users leave 4G
            t0 = time.perf_counter()
            group = opsec[opsec["technology"] == tech]
            bands = [(carrier, radio.profile_for(dict(profiles), str(op), tech, str(band)))
                     for band, carrier in group.groupby("band", sort=True)]
            bar.set_postfix_str(f"{op} {tech}")
            eligible = _cellload.eligible_users(counts, sub_pp, dem.uptake_5g, tech, covered_5g)
            served = _cellload.serve(bands, grid, counts, eligible, opts, engine_kw=engine_kw, keep_rasters=keep_rasters)
            if tech == "5G":
                covered_5g = served.served
            st = served.sector_stats
            sec.loc[st.index, list(st.columns)] = st.to_numpy()
            load += served.load
            validity += served.validity
            layers[(str(op), tech)] = CoverageLayer(
                str(op), tech, bands[0][1].target_mbps, served.covered, served.tput_mbps, served.rsrp_dbm,
                served.server, served.sinr_db, covered_indoor=served.covered_indoor,
                users_per_person=_cellload.layer_users(sub_pp, dem.uptake_5g, tech, covered_5g))
            timings[f"{op}/{tech}"] = time.perf_counter() - t0
            bar.update(len(bands))
    layers.update(_union_layers(layers, keep_rasters=keep_rasters))
    bar.close()
    _warn_validity(val := pd.DataFrame(validity))
    conv = _cellload.load_convergence(pd.DataFrame(load), tolerance=opts.load_tolerance, max_iterations=opts.load_iterations)
    return CoverageResult(grid=grid, sectors=sec, layers=layers, timings_s=timings, load=pd.DataFrame(load), validity=val,
                          demand=dem, location_probability=opts.location_probability, meta={"load_convergence": conv})


def _check_urban(urban: np.ndarray | None, grid: Grid) -> np.ndarray | None:
    if urban is None:
        return None
    u = np.asarray(urban, dtype=bool)
    if u.shape != grid.shape:
        raise InputValidationError(f"the urban mask has shape {u.shape} but the grid is {grid.shape}; "
                                   "build it on the population grid (coverage.urban_mask).")
    return u


def _warn_validity(val: pd.DataFrame) -> None:
    """One warning counting the covered cells served beyond their path-loss model's validity."""
    n_bad = int(val["cells_outside_validity"].sum()) if len(val) else 0
    if n_bad:
        worst = val.sort_values("cells_outside_validity").iloc[-1]
        warnings.warn(f"{n_bad} covered cell(s) ({val['people_outside_validity'].sum():,.0f} people) are served "
                      f"beyond the validity of their path-loss model (most: {worst['operator']} {worst['technology']} "
                      f"{worst['band']}, {worst['model']}: {int(worst['cells_outside_validity'])}); the model is "
                      "extrapolated there (result.validity).", IctplanWarning, stacklevel=3)


def _union_layers(layers: Mapping[tuple[str, str], CoverageLayer], *,
                  keep_rasters: bool) -> dict[tuple[str, str], CoverageLayer]:
    """The ``"any"`` operator layer of each technology: the best operator per cell."""
    out: dict[tuple[str, str], CoverageLayer] = {}
    for tech in sorted({k[1] for k in layers}):
        union: CoverageLayer | None = None
        for (_op, t), lay in layers.items():
            if t != tech:
                continue
            base = CoverageLayer(ANY_OPERATOR, tech, lay.target_mbps, lay.covered, lay.tput_mbps,
                                 lay.rsrp_dbm, lay.server, lay.sinr_db, lay.covered_indoor)
            union = base if union is None else _merge(union, base, keep_rasters=keep_rasters)
        assert union is not None
        out[(ANY_OPERATOR, tech)] = union
    return out


def _merge(a: CoverageLayer, b: CoverageLayer, *, keep_rasters: bool) -> CoverageLayer:
    """Per cell: covered = a | b; throughput = max; RSRP/server/SINR of the stronger signal."""
    out = CoverageLayer(a.operator, a.technology, max(a.target_mbps, b.target_mbps),
                        a.covered | b.covered, np.maximum(a.tput_mbps, b.tput_mbps))
    if a.covered_indoor is not None and b.covered_indoor is not None:
        out.covered_indoor = np.maximum(a.covered_indoor, b.covered_indoor)
    if keep_rasters and a.rsrp_dbm is not None and b.rsrp_dbm is not None:
        take_b = np.nan_to_num(b.rsrp_dbm, nan=-np.inf) > np.nan_to_num(a.rsrp_dbm, nan=-np.inf)
        assert a.server is not None and b.server is not None and a.sinr_db is not None and b.sinr_db is not None
        out.rsrp_dbm = np.where(take_b, b.rsrp_dbm, a.rsrp_dbm)
        out.server = np.where(take_b, b.server, a.server)
        out.sinr_db = np.where(take_b, b.sinr_db, a.sinr_db)
    return out


# ============================================================================ study
def run(study: Study, /, *, progress: bool | None = None, **overrides: Any) -> CoverageResult:
    """Everything for a study: best-server layers and the population-covered table.

    Sites from ``study.layer("sites")``, people from ``study.population``, profiles from
    ``study.profiles``, clutter from the study's ``landcover`` raster when it names one,
    zone weights from :func:`ictplan.zones.for_study` for each level in ``levels``
    (hamlet points are skipped with a warning: zone sums need polygons; a level the study
    lacks, e.g. districts when communes carry no district column, is left out).

    Parameters come from :func:`ictplan.parameters.resolve` (``"coverage"``: ``method``,
    ``margin_db``, ``n_jobs``, ``keep_rasters``, ``levels``): defaults, the study's
    ``[parameters.coverage]``, then ``overrides``. They are recorded in
    ``result.parameters``.

    Returns
    -------
    CoverageResult
        With ``table`` (see :func:`population_covered`), ``zones`` and ``parameters``.

    Raises
    ------
    ConfigError, ProfileError, InputValidationError, NoDataInBoundsError
        From the study, the parameters, the profiles or the layers.
    """
    prm = _parameters.resolve("coverage", study, **overrides)
    t0 = time.perf_counter()
    profiles = radio.parse_profiles(study.profiles, source=str(study.profiles_path or "profiles"))
    population = study.population
    landcover = study.landcover  # the study's land-cover raster, when it names one
    carriers = study.layer("sites")[["operator", "technology", "band"]].astype(str).drop_duplicates()
    urban = _study_urban(study, population, prm)
    clutter, clutter_u = _study_clutter(landcover, profiles, urban, sorted(set(carriers["band"])), prm)
    default = {op: radio.profile_for(profiles, op, tech.upper(), band).market_share  # the province default
               for op, tech, band in carriers.itertuples(index=False)}
    market = _demand.study_cell_shares(study, sorted(default), default, table=prm.market_shares_table,
                                       method=prm.method)  # None: no per-commune shares given
    result = compute(study.layer("sites"), population, profiles, clutter_loss=clutter, margin_db=prm.margin_db,
                     keep_rasters=prm.keep_rasters, n_jobs=prm.n_jobs, progress=progress, parameters=prm,
                     urban=urban, market_shares=market, clutter_loss_urban=clutter_u)
    t1 = time.perf_counter()
    weights = _study_weights(study, tuple(prm.levels), prm.method)
    result.table = population_covered(result, population, weights, method=prm.method)
    result.zones = {level: _zone_layer(study, zw) for level, zw in weights.items()}
    result.weights = weights
    result.parameters = dataclasses.asdict(prm)
    result.timings_s.update({"radio_s": t1 - t0, "zones_s": time.perf_counter() - t1,
                             "total_s": time.perf_counter() - t0})
    logger.info("coverage: %d sectors, %d layers, table of %d rows in %.2f s", len(result.sectors),
                len(result.layers), len(result.table), result.timings_s["total_s"])
    return result


def _clutter_on(clutter: np.ndarray | Mapping[str, np.ndarray] | None, grid: Grid
                ) -> np.ndarray | dict[str, np.ndarray] | None:
    """Clutter loss checked against the grid: one array, or one per band name."""
    if clutter is None:
        return None
    if isinstance(clutter, Mapping):
        return {str(b): _check_clutter(c, grid) for b, c in clutter.items()}
    return _check_clutter(clutter, grid)


def _study_clutter(landcover: np.ndarray | None, profiles: Mapping[str, Any], urban: np.ndarray | None,
                   bands: list[str], prm: Any) -> tuple[dict[str, np.ndarray] | None, dict[str, np.ndarray] | None]:
    """Per band, the clutter loss of the study's land cover (the profiles' per-band values,
    :func:`ictplan.radio.clutter.clutter_loss_db`) and the same with built-up at 0 dB in the
    cells where the urban model is used; ``None`` without land cover (or without urban cells)."""
    if landcover is None:
        return None, None
    from .radio import clutter as _clutter

    loss = {b: _clutter.clutter_loss_db(landcover, profiles, band=b) for b in bands}
    if urban is None:
        return loss, None
    return loss, {b: clutter_in_urban_model(c, landcover, profiles, urban, classes=prm.clutter_zero_in_urban)
                  for b, c in loss.items()}


def urban_mask(population: Population, /, *, density_per_km2: float, window_m: float = 1000.0,
               urban_share: np.ndarray | None = None) -> np.ndarray:
    """Urban cells: in an urban ward or town, or dense.

    A cell is urban when ``urban_share`` (the share of the cell inside communes of an urban
    type, e.g. from the commune zone weights) is ≥ 0.5, or when the population density over
    the ``window_m`` square around it (a moving mean over whole cells, as the 1 km² grid of
    the GHSL degree of urbanisation) exceeds ``density_per_km2``. Nodata cells count as
    empty. Returns a boolean array of the grid's shape.
    """
    from scipy.ndimage import uniform_filter

    grid = population.grid
    counts = np.where(population.nodata_mask, 0.0, population.counts).astype(np.float32)
    a_m, e_m = abs(grid.transform.a), abs(grid.transform.e)
    if grid.crs.is_geographic:  # cell sides in metres at each row's latitude
        lat = grid.transform.f + grid.transform.e * (np.arange(grid.height) + 0.5)
        kx, ky = _eng.metres_per_degree(lat)
        area_km2 = (a_m * kx * e_m * ky / 1e6)[:, None]
        side_m = float(np.median(e_m * ky))
    else:
        area_km2 = np.float32(a_m * e_m / 1e6)
        side_m = float(e_m)
    size = max(1, int(round(window_m / side_m)))
    dens = uniform_filter(counts / area_km2, size=size, mode="constant")
    out = dens > density_per_km2
    if urban_share is not None:
        out |= np.asarray(urban_share).reshape(grid.shape) >= 0.5
    return out


def _study_urban(study: Study, population: Population, prm: Any) -> np.ndarray | None:
    """The study's urban cells (:func:`urban_mask`): communes of ``prm.urban_commune_types``
    (their ``commune_type`` column) and the density rule; ``None`` without an urban model."""
    if not prm.urban_model:
        return None
    share = None
    if study.has("communes"):
        communes = study.layer("communes")
        if "commune_type" in communes.columns and len(communes):
            zw = _zones.for_study(study, "communes", method=prm.method)
            types = communes["commune_type"].astype(str).str.strip().to_numpy()[zw.index]
            is_urban = np.isin(types, list(prm.urban_commune_types)).astype(np.float64)
            share = zw.matrix.T @ is_urban
    return urban_mask(population, density_per_km2=float(prm.urban_density_per_km2), urban_share=share)


def _study_weights(study: Study, levels: Sequence[str], method: str) -> dict[str, _zones.ZoneWeights]:
    out: dict[str, _zones.ZoneWeights] = {}
    for level in levels:
        if not study.has(level):
            continue
        gdf = study.layer(level)
        if len(gdf) == 0:
            continue
        if not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).any():
            warnings.warn(f"{len(gdf)} {level} are points, not polygons; they are left out of the "
                          f"zone tables (zone sums need areas).", SkippedFeaturesWarning, stacklevel=3)
            continue
        out[level] = _zones.for_study(study, level, method=method)
    return out


def _zone_layer(study: Study, zw: _zones.ZoneWeights) -> gpd.GeoDataFrame:
    gdf = study.layer(zw.level)
    return gdf.iloc[zw.index] if len(zw.index) != len(gdf) else gdf


def _write_tif(array: np.ndarray, grid: Grid, path: Path, *, nodata: float | int | None,
               description: str, overwrite: bool) -> Path:
    from . import io as _io

    return _io.write_raster(array, grid, path, nodata=nodata, overwrite=overwrite, description=description)


def _wide(part: pd.DataFrame) -> pd.DataFrame:
    """One row per zone (for QGIS: one feature per zone), a column per figure, technology and
    operator, e.g. ``pct_covered_4g_viettel``; the zone's population once."""
    keys = ["zone_code", "zone_name"]
    figures = [c for c in part.columns if c not in keys + ["level", "technology", "operator", "population"]
               and pd.api.types.is_numeric_dtype(part[c])]
    wide = part.pivot_table(index="zone_code", columns=["technology", "operator"], values=figures, aggfunc="first",
                            sort=False)
    wide.columns = [f"{fig}_{tech}_{op}".lower() for fig, tech, op in wide.columns]
    base = part.groupby("zone_code", sort=False)[["zone_name", "population"]].first()
    return base.join(wide).reset_index()


def write_outputs(result: CoverageResult, out_dir: str | os.PathLike[str], /, *, overwrite: bool = False,
                  rasters: bool = True) -> dict[str, Path]:
    """Write the coverage outputs into ``out_dir`` (created); every file is written atomically.

    GeoTIFFs per layer ``coverage_<tech>_<operator>_{rsrp_dbm,server,sinr_db,tput_mbps}.tif``
    (RSRP/SINR float32 NaN nodata, server int32 −1 nodata: the row of
    ``coverage_sectors.csv``, throughput float32); ``coverage_<level>.csv`` per zone level;
    ``coverage.gpkg`` with one layer per level, one feature per zone (a column per figure, technology
    and operator, e.g. ``pct_covered_4g_viettel``);
    ``coverage_sectors.csv`` (people served, active users).

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by file name.

    Raises
    ------
    OutputExistsError
        An output exists and ``overwrite`` is False.
    DataSourceError
        A file cannot be written.
    """
    from . import io as _io

    out = Path(out_dir)
    if not overwrite and out.is_dir():  # refuse before writing anything, not half-way
        clash = sorted(p.name for p in out.glob("coverage_*") if p.suffix in (".tif", ".csv")) + (
            ["coverage.gpkg"] if (out / "coverage.gpkg").exists() else [])
        if clash:
            from ._errors import OutputExistsError

            raise OutputExistsError(f"{out} already holds coverage outputs ({', '.join(clash[:3])}"
                                    f"{', ...' if len(clash) > 3 else ''}). Pass overwrite=True (CLI: --overwrite).")
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if rasters:
        for (op, tech), lay in result.layers.items():
            stem = f"coverage_{tech}_{op}"
            if lay.rsrp_dbm is not None and lay.server is not None and lay.sinr_db is not None:
                written.append(_write_tif(lay.rsrp_dbm.astype(np.float32), result.grid, out / f"{stem}_rsrp_dbm.tif",
                                          nodata=float("nan"), description=f"best-server RSRP per RE (dBm), {tech} {op}",
                                          overwrite=overwrite))
                written.append(_write_tif(lay.server.astype(np.int32), result.grid, out / f"{stem}_server.tif",
                                          nodata=-1, description="serving sector (row of coverage_sectors.csv)",
                                          overwrite=overwrite))
                written.append(_write_tif(lay.sinr_db.astype(np.float32), result.grid, out / f"{stem}_sinr_db.tif",
                                          nodata=float("nan"), description=f"SINR (dB), {tech} {op}", overwrite=overwrite))
            written.append(_write_tif(lay.tput_mbps.astype(np.float32), result.grid, out / f"{stem}_tput_mbps.tif",
                                      nodata=float("nan"),  # 0 Mb/s (not served) stays a value; NaN marks no data
                                      description=f"user throughput (Mb/s), {tech} {op}",
                                      overwrite=overwrite))
    sec = result.sectors.reset_index(names="row")
    written.append(_io.write_table(sec, out / "coverage_sectors.csv", overwrite=overwrite))
    if result.table is not None:
        for level, part in result.table.groupby("level", sort=False):
            written.append(_io.write_table(part, out / f"coverage_{level}.csv", overwrite=overwrite))
            if level in result.zones:
                zones = result.zones[level]
                code_col, _ = _zones.zone_columns(level, zones)
                geo = gpd.GeoDataFrame({"zone_code": zones[code_col].astype(str).to_numpy()},
                                       geometry=zones.geometry.to_numpy(), crs=zones.crs)
                joined = gpd.GeoDataFrame(geo.merge(_wide(part), on="zone_code", how="inner"),
                                          geometry="geometry", crs=zones.crs)
                written.append(_io.write_layer(joined, out / "coverage.gpkg", layer=f"coverage_{level}",
                                               overwrite=overwrite))
    return {p.name: p for p in written}
