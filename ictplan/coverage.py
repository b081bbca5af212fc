"""Mobile coverage: best-server rasters on the analysis grid and population covered per zone.

The analysis grid is the population raster's grid: sites are projected into it, people
are never resampled. For each carrier (operator × technology × band) the best-server
engine gives, per cell, the RSRP of the strongest sector, that sector, the SINR against
the other sectors of the carrier (interference × load factor + thermal noise) and the
single-user rate; the user throughput shares that rate among the active users the
sector serves. Zone figures are sparse weighted sums over the cells
(:func:`ictplan.grid.zone_weights`), so communes + "(outside zones)" add up to the
province.

Engine (how it scales)
----------------------
The grid is streamed in windows of rows. Each sector is evaluated only inside the box
of cells within its *reach*: the distance at which its strongest possible signal in that
direction (horizontal pattern bound per 5° of bearing, no vertical or clutter loss) falls
below ``threshold − margin_db``; for a 3-sector site that box is 2–3× smaller than the
disc's. Sectors are selected per window from their boxes. Antenna heights are quantised
to 0.1 m and tilts to 0.01° for the tables. Path loss and the vertical pattern depend only on distance for a
given antenna height and tilt, so they are tabulated once per (height, tilt) at 2,000
bins per decade of distance and looked up by ``log10(d²)`` (error ≤ 0.01 dB for the path
loss; ≤ 0.065 dB for the vertical pattern, reached only near a steeply tilted mast);
the horizontal pattern is computed exactly from the bearing. Signals below
``threshold − margin_db`` are ignored, also as interference (documented truncation).
Windows are independent, so ``n_jobs > 1`` forks workers that fill shared arrays (only
useful on machines with idle cores).

Measured (``scripts/bench_coverage.py``): a 5,745 × 5,745 grid (33 M cells) with 100,000
sectors on 6 carriers, plus tables, in ≈ 50–85 s and ≈ 3.0 GB peak on 2 shared cores.
"""

from __future__ import annotations

import logging
import math
import mmap
import multiprocessing as mp
import os
import sys
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from tqdm import tqdm

from . import crs as _crs
from . import radio
from ._errors import (
    EmptyLayerError,
    GeographicCRSError,
    IctplanWarning,
    InputValidationError,
    MissingColumnError,
    ProfileError,
    SkippedFeaturesWarning,
)
from .grid import OUTSIDE_ZONES, Grid, Population, outside_weights, zone_sums, zone_weights

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
    "run",
    "write_outputs",
    "ANY_OPERATOR",
    "ZONE_ID_COLUMNS",
]

ANY_OPERATOR = "any"
"""Operator label of the union layer: covered by at least one operator."""

ZONE_ID_COLUMNS: dict[str, tuple[str, str]] = {
    "communes": ("commune_code", "commune_name"),
    "hamlets": ("hamlet_code", "hamlet_name"),
    "districts": ("district_code", "district_name"),
}

_SECTOR_REQUIRED = ("sector_id", "operator", "technology", "band", "azimuth_deg", "height_m")
_MAX_HEIGHT_M = 300.0
_TX_RANGE_DBM = (0.0, 70.0)
_TILT_RANGE_DEG = (-20.0, 60.0)
_LOG_K = 2000.0  # table bins per decade of distance
_LOG_MAX = 6.0  # tables reach 10^6 m
_NBINS = int(_LOG_MAX * _LOG_K) + 1


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


@dataclass
class CoverageResult:
    """Everything :func:`compute` / :func:`run` produced."""

    grid: Grid
    sectors: pd.DataFrame
    layers: dict[tuple[str, str], CoverageLayer]
    table: pd.DataFrame | None = None
    zones: dict[str, gpd.GeoDataFrame] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)


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
    problems: list[str] = []

    def listed(mask: np.ndarray) -> str:
        bad = ids[mask]
        more = f" and {bad.size - 10} more" if bad.size > 10 else ""
        return ", ".join(bad[:10]) + more

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
    if no_geom.any():
        problems.append(f"{no_geom.sum()} sector(s) without a usable location: {listed(no_geom)}")
    az = pd.to_numeric(gdf["azimuth_deg"], errors="coerce").to_numpy(float)
    bad_az = np.isfinite(az) & ((az < 0) | (az > 360))
    if bad_az.any():
        problems.append(f"{bad_az.sum()} sector(s) with azimuth outside 0–360° (e.g. {az[bad_az][0]:g}): "
                        f"{listed(bad_az)}; use degrees clockwise from north, NaN for omni")
    h = pd.to_numeric(gdf["height_m"], errors="coerce").to_numpy(float)
    bad_h = ~np.isfinite(h) | (h <= 0) | (h > _MAX_HEIGHT_M)
    if bad_h.any():
        problems.append(f"{bad_h.sum()} sector(s) with antenna height not in (0, {_MAX_HEIGHT_M:g}] m: {listed(bad_h)}")
    n = len(gdf)
    tilt = _num_col(gdf, "tilt_deg", 4.0) + _num_col(gdf, "etilt_deg", 0.0)
    bad_t = ~np.isfinite(tilt) | (tilt < _TILT_RANGE_DEG[0]) | (tilt > _TILT_RANGE_DEG[1])
    if bad_t.any():
        problems.append(f"{bad_t.sum()} sector(s) with total tilt outside {_TILT_RANGE_DEG} degrees: {listed(bad_t)}")
    tx = _num_col(gdf, "tx_power_dbm", np.nan)
    bad_tx = np.isfinite(tx) & ((tx < _TX_RANGE_DBM[0]) | (tx > _TX_RANGE_DBM[1]))
    if bad_tx.any():
        problems.append(f"{bad_tx.sum()} sector(s) with transmit power outside {_TX_RANGE_DBM[0]:g}–"
                        f"{_TX_RANGE_DBM[1]:g} dBm (e.g. {tx[bad_tx][0]:g}; watts? 20 W = 43 dBm): {listed(bad_tx)}")
    if problems:
        raise InputValidationError("the sites layer has invalid sectors:\n  - " + "\n  - ".join(problems))
    op = gdf["operator"].astype(str).to_numpy()
    tech = gdf["technology"].astype(str).str.upper().to_numpy()
    band = gdf["band"].astype(str).to_numpy()
    unknown = []
    for key in sorted(set(zip(op, tech, band, strict=True))):
        try:
            prof = radio.profile_for(profiles, *key)
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
    t = grid.transform
    col = (x - t.c) / t.a
    row = (y - t.f) / t.e
    in_grid = (col >= 0) & (col < grid.width) & (row >= 0) & (row < grid.height)
    site = gdf["site_id"].astype(str).to_numpy() if "site_id" in gdf.columns else ids
    return pd.DataFrame({
        "sector_id": ids, "site_id": site, "operator": op, "technology": tech, "band": band,
        "x": x, "y": y, "height_m": h, "azimuth_deg": az, "tilt_deg": tilt, "tx_power_dbm": tx,
        "in_grid": in_grid,
    }, index=pd.RangeIndex(n))


def _num_col(gdf: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in gdf.columns:
        return np.full(len(gdf), default, dtype=float)
    v = pd.to_numeric(gdf[name], errors="coerce").to_numpy(float)
    return np.where(np.isnan(v), default, v)


def _require_north_up(grid: Grid) -> None:
    if grid.transform.b != 0 or grid.transform.d != 0:
        raise InputValidationError("the population grid is rotated; warp it north-up first (gdalwarp).")


def _metres_per_degree(lat_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres per degree of longitude and of latitude at ``lat_deg`` on the WGS 84 ellipsoid
    (prime-vertical and meridional radii of curvature)."""
    a, f = 6_378_137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    phi = np.radians(np.asarray(lat_deg, float))
    w = np.sqrt(1 - e2 * np.sin(phi) ** 2)
    per_lon = np.pi / 180 * a * np.cos(phi) / w
    per_lat = np.pi / 180 * a * (1 - e2) / w**3
    return per_lon, per_lat


def _require_metric_grid(grid: Grid) -> None:
    if grid.crs.is_geographic:
        raise GeographicCRSError(
            f"the population grid is in {_crs.crs_label(grid.crs)} (degrees), but coverage measures metres. "
            "Warp the population raster to a projected CRS with sum resampling (gdalwarp -r sum -t_srs EPSG:32648) "
            "before the analysis; ictplan never resamples people itself."
        )
    if grid.transform.b != 0 or grid.transform.d != 0:
        raise InputValidationError("the population grid is rotated; warp it north-up first (gdalwarp).")


# ============================================================================ engine
@dataclass
class _Tables:
    pl: dict[float, np.ndarray] = field(default_factory=dict)
    av: dict[tuple[float, float], np.ndarray] = field(default_factory=dict)


def _bins_m() -> np.ndarray:
    """Distances (m) at which the tables are evaluated: the centres (in log d) of the bins
    ``[10^(j/K), 10^((j+1)/K))``; a cell at distance d ≥ 1 m looks up ``j = ⌊K·log10 d⌋``."""
    return np.power(10.0, (np.arange(_NBINS) + 0.5) / _LOG_K)


def _pl_table(prof: radio.TechProfile, h_bs: float, tables: _Tables) -> np.ndarray:
    tab = tables.pl.get(h_bs)
    if tab is None:
        tab = radio.path_loss_db(_bins_m(), model=prof.model, freq_mhz=prof.freq_mhz, h_bs_m=h_bs,
                                 h_ut_m=prof.ue_height_m, environment=prof.environment, los=prof.los,
                                 avg_building_height_m=prof.avg_building_height_m,
                                 street_width_m=prof.street_width_m).astype(np.float32)
        # guard: the engine relies on a non-decreasing loss curve for the reach
        tab = np.maximum.accumulate(tab)
        tables.pl[h_bs] = tab
    return tab


def _av_table(prof: radio.TechProfile, h_bs: float, tilt: float, tables: _Tables) -> np.ndarray:
    key = (h_bs, tilt)
    tab = tables.av.get(key)
    if tab is None:
        theta = np.degrees(np.arctan2(h_bs - prof.ue_height_m, _bins_m()))
        tab = np.minimum(12.0 * ((theta - tilt) / prof.vertical_beamwidth_deg) ** 2, prof.sla_v_db).astype(np.float32)
        tables.av[key] = tab
    return tab


def _reach_m(offset_db: np.ndarray, h: np.ndarray, cutoff_dbm: float, prof: radio.TechProfile,
             tables: _Tables) -> np.ndarray:
    """Distance beyond which a sector's boresight RSRP is below the cutoff (table-consistent)."""
    out = np.empty(offset_db.size)
    for hv in np.unique(h):
        sel = h == hv
        tab = _pl_table(prof, float(hv), tables)
        # bins 0..k-1 have a loss that still allows RSRP ≥ cutoff: they end at 10^(k/K)
        k = np.searchsorted(tab, offset_db[sel] - cutoff_dbm, side="right")
        out[sel] = np.power(10.0, k / _LOG_K)
    return out


_BOX_STEP_DEG = 5.0  # bearings sampled for a sector's evaluation box (cardinal directions included)


def _sector_boxes(offset_db: np.ndarray, h: np.ndarray, az: np.ndarray, cutoff_dbm: float,
                  prof: radio.TechProfile, tables: _Tables) -> tuple[np.ndarray, ...]:
    """Bounding box (dx0, dx1, dy0, dy1 in m) of where each sector can exceed the cutoff.

    For every 5° arc of bearings, the strongest signal a sector can send into it is at the
    arc's bearing closest to boresight with no vertical attenuation (``A ≥ A_H``), so the
    reach over the arc is bounded by the table range at ``offset − A_H``. As the arcs end
    on the cardinal directions, the box of each wedge is spanned by its two end points
    and the site: an exact upper bound, typically 2–3× smaller than the disc's box.
    """
    bearings = np.arange(0.0, 360.0 + _BOX_STEP_DEG, _BOX_STEP_DEG)
    off = (bearings[None, :] - az[:, None] + 180.0) % 360.0 - 180.0
    a_end = np.abs(off)
    # per arc: 0 if the boresight lies inside it, else the smaller end offset
    lo, hi = off[:, :-1], off[:, 1:]
    inside = (lo <= 0) & (hi >= 0) & (hi - lo < 180)
    near = np.where(inside, 0.0, np.minimum(a_end[:, :-1], a_end[:, 1:]))
    att = np.minimum(12.0 * (near / prof.beamwidth_deg) ** 2, prof.front_to_back_db)
    need = offset_db[:, None] - att - cutoff_dbm  # largest path loss that still reaches the cutoff
    reach = np.empty_like(need)
    for hv in np.unique(h):
        sel = h == hv
        k = np.searchsorted(_pl_table(prof, float(hv), tables), need[sel], side="right")
        reach[sel] = np.where(k > 0, np.power(10.0, k / _LOG_K), 0.0)
    rad = np.radians(bearings)
    sx, sy = np.sin(rad), np.cos(rad)
    px = np.concatenate([reach * sx[None, :-1], reach * sx[None, 1:]], axis=1)
    py = np.concatenate([reach * sy[None, :-1], reach * sy[None, 1:]], axis=1)
    return (np.minimum(px.min(axis=1), 0.0), np.maximum(px.max(axis=1), 0.0),
            np.minimum(py.min(axis=1), 0.0), np.maximum(py.max(axis=1), 0.0))


def _alloc(shape: tuple[int, ...], dtype: Any, fill: Any, shared: bool) -> np.ndarray:
    if not shared:
        return np.full(shape, fill, dtype=dtype)
    nbytes = max(int(np.prod(shape)) * np.dtype(dtype).itemsize, 1)
    buf = mmap.mmap(-1, nbytes)  # anonymous MAP_SHARED: visible to forked workers
    arr = np.frombuffer(buf, dtype=dtype, count=int(np.prod(shape))).reshape(shape)
    arr[...] = fill
    return arr


def _engine(sec: pd.DataFrame, grid: Grid, prof: radio.TechProfile, *, clutter: np.ndarray | None,
            margin_db: float, window_rows: int, n_jobs: int,
            out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RSRP (dBm, NaN none), server (row of ``sec``, −1 none), SINR (dB) for one carrier.

    ``out`` (three arrays of the grid's shape: float32, int32, float32) are filled in place
    and returned, so a caller looping over carriers allocates them once (allocating
    large arrays is slow on some VMs: every page is faulted in)."""
    H, W = grid.shape
    t = grid.transform
    n = len(sec)
    h = np.round(sec["height_m"].to_numpy(float), 1)  # tables per 0.1 m of height
    tilt = np.round(sec["tilt_deg"].to_numpy(float), 2)
    x = sec["x"].to_numpy(float)
    y = sec["y"].to_numpy(float)
    az = sec["azimuth_deg"].to_numpy(float)
    offset = radio.rsrp_offset_db(sec["tx_power_dbm"].to_numpy(float), n_rb=prof.n_rb,
                                  antenna_gain_dbi=prof.antenna_gain_dbi,
                                  feeder_loss_db=prof.feeder_loss_db) - prof.extra_loss_db
    cutoff = prof.rsrp_threshold_dbm - margin_db
    tables = _Tables()
    reach = _reach_m(offset, h, cutoff, prof, tables)
    omni = (prof.pattern == "omni") | ~np.isfinite(az)
    for hv, tv in set(zip(h[~omni].tolist(), tilt[~omni].tolist(), strict=True)):
        _av_table(prof, hv, tv, tables)
    # box of cells that can see the sector above the cutoff, relative to it (m)
    ex0, ex1, ey0, ey1 = -reach, reach, -reach, reach
    if (~omni).any():
        sb = _sector_boxes(offset[~omni], h[~omni], az[~omni], cutoff, prof, tables)
        ex0, ex1, ey0, ey1 = (np.where(omni, a, 0.0) for a in (ex0, ex1, ey0, ey1))
        for arr, part in zip((ex0, ex1, ey0, ey1), sb, strict=True):
            arr[~omni] = part
    # metres per CRS unit along x and y at each sector: 1 on a projected grid; on a lon/lat
    # grid the ellipsoid's at the sector's latitude (sites are projected into the raster's CRS,
    # people are never resampled; over a sector's reach of a few km the error is < 0.1 %)
    if grid.crs.is_geographic:
        kx, ky = _metres_per_degree(y)
    else:
        kx = ky = np.ones(n)
    c_a = (x + ex0 / kx - t.c) / t.a
    c_b = (x + ex1 / kx - t.c) / t.a
    r_a = (y + ey1 / ky - t.f) / t.e
    r_b = (y + ey0 / ky - t.f) / t.e
    c0 = np.clip(np.floor(np.minimum(c_a, c_b)), 0, W).astype(np.int64)
    c1 = np.clip(np.ceil(np.maximum(c_a, c_b)), 0, W).astype(np.int64)
    r0 = np.clip(np.floor(np.minimum(r_a, r_b)), 0, H).astype(np.int64)
    r1 = np.clip(np.ceil(np.maximum(r_a, r_b)), 0, H).astype(np.int64)
    active = (c1 > c0) & (r1 > r0) & (reach > 0)
    logger.debug("mean evaluation box: %.0f cells per sector", float(((c1 - c0) * (r1 - r0))[active].mean())
                 if active.any() else 0.0)
    shared = n_jobs > 1
    if out is not None and not shared:
        rsrp, server, sinr = out
    else:
        rsrp = _alloc((H, W), np.float32, np.nan, shared)
        server = _alloc((H, W), np.int32, -1, shared)
        sinr = _alloc((H, W), np.float32, np.nan, shared)
    bufs: dict[str, np.ndarray] = {}  # window buffers, allocated once per process
    noise_mw = 10.0 ** (prof.noise_re_dbm / 10.0)
    xc_all = t.c + t.a * (np.arange(W) + 0.5)
    yc_all = t.f + t.e * (np.arange(H) + 0.5)
    a_m = float(prof.front_to_back_db)
    c_h = 12.0 / math.radians(prof.beamwidth_deg) ** 2
    az_rad = np.radians(np.where(np.isfinite(az), az, 0.0))
    windows = [(w0, min(w0 + window_rows, H)) for w0 in range(0, H, window_rows)]
    order = np.argsort(r0, kind="stable")
    r0s = r0[order]

    def do_window(w0: int, w1: int) -> int:
        k = np.searchsorted(r0s, w1, side="left")
        cand = order[:k]
        cand = cand[active[cand] & (r1[cand] > w0)]
        if cand.size == 0:
            rsrp[w0:w1] = np.nan
            server[w0:w1] = -1
            sinr[w0:w1] = np.nan
            return 0
        if not bufs:
            shape = (min(window_rows, H), W)
            bufs.update(best=np.empty(shape, np.float32), idx=np.empty(shape, np.int32),
                        best_lin=np.empty(shape, np.float32), others=np.empty(shape, np.float64))
        nr = w1 - w0
        best, idx, best_lin, others = (bufs[k][:nr] for k in ("best", "idx", "best_lin", "others"))
        best.fill(cutoff)
        idx.fill(-1)
        best_lin.fill(0.0)
        others.fill(0.0)
        evals = 0
        with np.errstate(divide="ignore", invalid="ignore"):
            for s in cand.tolist():
                ra, rb = max(r0[s], w0), min(r1[s], w1)
                ca, cb = c0[s], c1[s]
                dy = ((yc_all[ra:rb] - y[s]) * ky[s]).astype(np.float32)
                dx = ((xc_all[ca:cb] - x[s]) * kx[s]).astype(np.float32)
                u = (dy * dy)[:, None] + (dx * dx)[None, :]
                np.maximum(u, np.float32(1.0), out=u)  # d < 1 m: the first bin
                np.log10(u, out=u)
                u *= np.float32(_LOG_K / 2.0)  # K·log10(d)
                bi = u.astype(np.int32)
                np.minimum(bi, _NBINS - 1, out=bi)
                loss = _pl_table(prof, h[s], tables)[bi]
                if not omni[s]:
                    sa, ca_ = np.float32(math.sin(az_rad[s])), np.float32(math.cos(az_rad[s]))
                    # angle off boresight: atan2(cross, dot) with the boresight (sin az, cos az)
                    phi = np.arctan2((dx * ca_)[None, :] - (dy * sa)[:, None], (dx * sa)[None, :] + (dy * ca_)[:, None])
                    phi *= phi
                    phi *= np.float32(c_h)  # A_H before its A_m cap: min(A_H + A_V, A_m) caps both
                    phi += tables.av[(h[s], tilt[s])][bi]
                    np.minimum(phi, np.float32(a_m), out=phi)
                    loss += phi
                if clutter is not None:
                    loss += clutter[ra:rb, ca:cb]
                sig = np.float32(offset[s]) - loss
                lw0, lw1 = ra - w0, rb - w0
                above = sig > np.float32(cutoff)
                lin = np.exp(sig * np.float32(math.log(10.0) / 10.0))
                lin *= above
                bv = best[lw0:lw1, ca:cb]
                blv = best_lin[lw0:lw1, ca:cb]
                upd = sig > bv
                # interference = every signal but the best: a dethroned best joins the others
                others[lw0:lw1, ca:cb] += np.where(upd, blv, lin)
                np.copyto(bv, sig, where=upd)
                np.copyto(blv, lin, where=upd)
                np.copyto(idx[lw0:lw1, ca:cb], s, where=upd)
                evals += sig.size
        none = idx < 0
        others *= prof.load_factor
        others += noise_mw
        np.log10(others, out=others)
        others *= -10.0
        others += best  # now the SINR in dB
        others[none] = np.nan
        sinr[w0:w1] = others
        best[none] = np.nan
        rsrp[w0:w1] = best
        server[w0:w1] = idx
        return evals

    t0 = time.perf_counter()
    if n_jobs <= 1 or len(windows) < 2:
        evals = sum(do_window(a, b) for a, b in windows)
    else:
        ctx = mp.get_context("fork")
        queue = ctx.SimpleQueue()

        def worker(j: int) -> None:
            e = 0
            for i, (a, b) in enumerate(windows):
                if i % n_jobs == j:
                    e += do_window(a, b)
            queue.put(e)

        procs = [ctx.Process(target=worker, args=(j,)) for j in range(n_jobs)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        if any(p.exitcode != 0 for p in procs):
            raise RuntimeError("a coverage worker process failed (see its traceback above).")
        evals = sum(queue.get() for _ in procs)
        rsrp, server, sinr = np.array(rsrp), np.array(server), np.array(sinr)  # copy out of shared maps
    logger.info("carrier %s/%s/%s: %d sectors, %.3g cell-sector evaluations in %.2f s",
                prof.operator, prof.technology, prof.band, n, evals, time.perf_counter() - t0)
    return rsrp, server, sinr


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
        Rows per streamed window; worker processes (fork).

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
    rsrp, server, sinr = _engine(sec, grid, profile, clutter=clutter_loss, margin_db=margin_db,
                                 window_rows=window_rows, n_jobs=n_jobs)
    rate = radio.throughput_mbps(sinr, bandwidth_mhz=profile.bandwidth_mhz, mimo_layers=profile.mimo_layers,
                                 alpha=profile.shannon_alpha, sinr_min_db=profile.sinr_min_db,
                                 max_se_bps_hz=profile.max_se_bps_hz, overhead=profile.overhead)
    return {"rsrp_dbm": rsrp, "server": server, "sinr_db": sinr, "rate_mbps": rate.astype(np.float32)}


def _check_clutter(clutter: np.ndarray, grid: Grid) -> np.ndarray:
    c = np.asarray(clutter, dtype=np.float32)
    if c.shape != grid.shape:
        raise InputValidationError(f"the clutter-loss array has shape {c.shape} but the grid is {grid.shape}; "
                                   "build it on the population grid (clutter_loss_db).")
    if not np.isfinite(c).all() or (c < 0).any():
        raise InputValidationError("clutter losses must be finite and ≥ 0 dB; map nodata classes to 0.")
    return c


def clutter_loss_db(landcover: np.ndarray, profiles: Mapping[str, Any], /) -> np.ndarray:
    """Per-cell clutter loss (dB, float32) from a land-cover code raster on the grid.

    Codes map to classes via the profiles' ``[clutter_classes]`` and classes to losses
    via ``[clutter_loss_db]`` (e.g. water 0, mangrove 12, urban 10, rural 3 dB).

    Raises
    ------
    InputValidationError
        The raster holds codes the profiles do not map (listed); nodata must be mapped too
        (e.g. ``0 = "water"``) or set to a mapped code.
    """
    lc = np.asarray(landcover)
    classes = profiles.get("clutter_classes", {})
    losses = profiles.get("clutter_loss_db", {})
    codes = np.unique(lc)
    unknown = [int(c) for c in codes if int(c) not in classes]
    if unknown:
        raise InputValidationError(
            f"the land-cover raster holds code(s) {unknown[:10]} with no class in [clutter_classes] of "
            f"{profiles.get('source', 'the profiles')} (mapped: {classes}). Add them."
        )
    lut_codes = np.array(sorted(classes), dtype=np.int64)
    lut_loss = np.array([losses[classes[c]] for c in lut_codes], dtype=np.float32)
    return lut_loss[np.searchsorted(lut_codes, lc.astype(np.int64))]


# ============================================================================ all carriers
def compute(
    sectors: gpd.GeoDataFrame,
    population: Population,
    profiles: Mapping[str, Any],
    /,
    *,
    clutter_loss: np.ndarray | None = None,
    margin_db: float = 20.0,
    keep_rasters: bool = True,
    window_rows: int = 256,
    n_jobs: int = 1,
    progress: bool | None = None,
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
        Optional per-cell clutter loss (dB) on the grid.
    margin_db, window_rows, n_jobs
        See :func:`best_server`.
    keep_rasters
        Keep RSRP / server / SINR rasters per layer (``False`` keeps only ``covered`` and
        ``tput_mbps``, for national grids).
    progress
        Show a progress bar over the carriers (tqdm, on standard error); ``None`` shows it
        when standard error is a terminal.

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
    Per-user throughput in a covered cell = the cell's single-user rate / max(1, people
    the serving sector covers × market share × activity ratio) (equal-share scheduling).
    An operator's layer takes, per cell, its best carrier (no carrier aggregation); the
    ``"any"`` layer the best operator.
    """
    grid = population.grid
    sec = prepare_sectors(sectors, grid, profiles)
    n_out = int((~sec["in_grid"]).sum())
    if n_out:
        warnings.warn(
            f"{n_out} of {len(sec)} sector(s) lie outside the population grid (e.g. "
            f"{', '.join(sec.loc[~sec['in_grid'], 'sector_id'].head(5))}); they still radiate into the grid "
            "where in range.", IctplanWarning, stacklevel=2,
        )
    if clutter_loss is not None:
        clutter_loss = _check_clutter(clutter_loss, grid)
    counts = population.counts.reshape(-1)
    reuse: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    sec["pop_served"] = 0.0
    sec["active_users"] = 0.0
    layers: dict[tuple[str, str], CoverageLayer] = {}
    timings: dict[str, float] = {}
    if progress is None:
        progress = sys.stderr.isatty()
    bar = tqdm(total=int(sec.groupby(["operator", "technology", "band"]).ngroups), desc="coverage", unit="carrier",
               disable=not progress, file=sys.stderr)
    for (op, tech), group in sec.groupby(["operator", "technology"], sort=True):
        layer: CoverageLayer | None = None
        for band, carrier in group.groupby("band", sort=True):
            bar.set_postfix_str(f"{op} {tech} {band}")
            bar.update(0)
            t0 = time.perf_counter()
            prof = radio.profile_for(profiles, op, tech, band)
            if keep_rasters or reuse is None:
                reuse = None if keep_rasters else (np.empty(grid.shape, np.float32), np.empty(grid.shape, np.int32),
                                                   np.empty(grid.shape, np.float32))
            rsrp, srv, sinr = _engine(carrier.reset_index(drop=True), grid, prof, clutter=clutter_loss,
                                      margin_db=margin_db, window_rows=window_rows, n_jobs=n_jobs, out=reuse)
            bs = {"rsrp_dbm": rsrp, "sinr_db": sinr}
            rows = carrier.index.to_numpy()
            srv_local = srv.reshape(-1)
            cov = (rsrp >= prof.rsrp_threshold_dbm).reshape(-1)
            cells = np.flatnonzero(cov)
            srv_cov = srv_local[cells]
            served = np.bincount(srv_cov, weights=counts[cells], minlength=len(carrier))
            users = np.maximum(1.0, served * prof.market_share * prof.activity_ratio)
            sec.loc[rows, "pop_served"] = served
            sec.loc[rows, "active_users"] = users
            rate = radio.throughput_mbps(sinr.reshape(-1)[cells], bandwidth_mhz=prof.bandwidth_mhz,
                                         mimo_layers=prof.mimo_layers, alpha=prof.shannon_alpha,
                                         sinr_min_db=prof.sinr_min_db, max_se_bps_hz=prof.max_se_bps_hz,
                                         overhead=prof.overhead)
            tput = np.zeros(counts.size, dtype=np.float32)
            tput[cells] = rate / users[srv_cov].astype(np.float32)
            del rate, srv_cov, cells
            if keep_rasters:  # sector rows of the carrier → rows of the whole sectors table
                lut = np.append(rows.astype(np.int32), np.int32(-1))  # index −1 → −1
                srv_rows = lut[srv_local].reshape(grid.shape)
                cand = CoverageLayer(op, tech, prof.target_mbps, cov.reshape(grid.shape), tput.reshape(grid.shape),
                                     bs["rsrp_dbm"], srv_rows, bs["sinr_db"])
            else:
                cand = CoverageLayer(op, tech, prof.target_mbps, cov.reshape(grid.shape), tput.reshape(grid.shape))
            layer = cand if layer is None else _merge(layer, cand, keep_rasters=keep_rasters)
            timings[f"{op}/{tech}/{band}"] = time.perf_counter() - t0
            del bs
        assert layer is not None
        layers[(op, tech)] = layer
        bar.update(group["band"].nunique())
    for tech in sorted({k[1] for k in layers}):
        union: CoverageLayer | None = None
        for (_op, t), lay in layers.items():
            if t != tech:
                continue
            base = CoverageLayer(ANY_OPERATOR, tech, lay.target_mbps, lay.covered, lay.tput_mbps,
                                 lay.rsrp_dbm, lay.server, lay.sinr_db)
            union = base if union is None else _merge(union, base, keep_rasters=keep_rasters)
        assert union is not None
        layers[(ANY_OPERATOR, tech)] = union
    bar.close()
    return CoverageResult(grid=grid, sectors=sec, layers=layers, timings_s=timings)


def _merge(a: CoverageLayer, b: CoverageLayer, *, keep_rasters: bool) -> CoverageLayer:
    """Per cell: covered = a | b; throughput = max; RSRP/server/SINR of the stronger signal."""
    out = CoverageLayer(a.operator, a.technology, max(a.target_mbps, b.target_mbps),
                        a.covered | b.covered, np.maximum(a.tput_mbps, b.tput_mbps))
    if keep_rasters and a.rsrp_dbm is not None and b.rsrp_dbm is not None:
        take_b = np.nan_to_num(b.rsrp_dbm, nan=-np.inf) > np.nan_to_num(a.rsrp_dbm, nan=-np.inf)
        out.rsrp_dbm = np.where(take_b, b.rsrp_dbm, a.rsrp_dbm)
        out.server = np.where(take_b, b.server, a.server)
        out.sinr_db = np.where(take_b, b.sinr_db, a.sinr_db)
    return out


# ============================================================================ circle model
def disc_coverage(points: gpd.GeoDataFrame | gpd.GeoSeries, grid: Grid, /, *, radius_m: float | np.ndarray,
                  chunk: int = 2_000_000) -> np.ndarray:
    """Cells whose centre lies within ``radius_m`` of a point (the circle model, cell-centre rule).

    Parameters
    ----------
    points
        Site points, any CRS (projected into the grid's CRS).
    grid
        The analysis grid (projected).
    radius_m
        One radius (m) or one per point.

    Returns
    -------
    numpy.ndarray
        Boolean array of ``grid.shape``.

    Raises
    ------
    GeographicCRSError, MissingCRSError, InputValidationError
        Grid in degrees, points without CRS, negative radius.

    Notes
    -----
    For every point and every grid row crossing its disc, the span of cells whose
    centres lie within the half-chord is marked in a difference array; one cumulative
    sum gives the mask. Exact centre-distance rule (true circles, no polygons), cost
    ~ Σ rows per disc + one pass over the grid.
    """
    _require_metric_grid(grid)
    _crs.require_crs(points, "the points")
    geo = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if not geo.crs.equals(grid.crs):
        geo = geo.to_crs(grid.crs)
    x, y = geo.x.to_numpy(), geo.y.to_numpy()
    r = np.broadcast_to(np.asarray(radius_m, float), x.shape)
    if (r < 0).any() or not np.isfinite(r).all():
        raise InputValidationError("radius_m must be finite and ≥ 0.")
    t = grid.transform
    H, W = grid.shape
    # per point, the rows whose centre line crosses the disc ...
    ra = np.ceil((y + r - t.f) / t.e - 0.5)
    rb = np.floor((y - r - t.f) / t.e - 0.5)
    r_lo = np.clip(np.minimum(ra, rb), 0, H).astype(np.int64)
    r_hi = np.clip(np.maximum(ra, rb), -1, H - 1).astype(np.int64)
    n_rows = np.maximum(r_hi - r_lo + 1, 0)
    diff = np.zeros(H * (W + 1), dtype=np.int32)
    step = max(1, chunk // max(1, int(n_rows.max(initial=1))))
    for i in range(0, x.size, step):
        sl = slice(i, i + step)
        k = n_rows[sl]
        pid = np.repeat(np.arange(sl.start, sl.start + k.size), k)
        row = r_lo[pid] + (np.arange(pid.size) - np.repeat(np.cumsum(k) - k, k))
        # ... and in each row the span of cell centres within the disc (half-chord)
        dy = t.f + t.e * (row + 0.5) - y[pid]
        half = np.sqrt(np.maximum(r[pid] ** 2 - dy * dy, 0.0))
        ok = dy * dy <= r[pid] ** 2
        ca = (x[pid] - half - t.c) / t.a - 0.5
        cb = (x[pid] + half - t.c) / t.a - 0.5
        c_lo = np.clip(np.ceil(np.minimum(ca, cb)), 0, W).astype(np.int64)
        c_hi = np.clip(np.floor(np.maximum(ca, cb)), -1, W - 1).astype(np.int64)
        ok &= c_hi >= c_lo
        base = row[ok] * (W + 1)
        diff += np.bincount(base + c_lo[ok], minlength=diff.size).astype(np.int32)
        diff -= np.bincount(base + c_hi[ok] + 1, minlength=diff.size).astype(np.int32)
    out = np.cumsum(diff.reshape(H, W + 1), axis=1)[:, :W] > 0
    return out.reshape(grid.shape)


# ============================================================================ zone tables
def population_covered(
    result: CoverageResult,
    population: Population,
    zones: Mapping[str, gpd.GeoDataFrame],
    /,
    *,
    method: Literal["exact", "centre"] = "exact",
    weights: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Population covered per zone × technology × operator (and ``"any"`` operator).

    Parameters
    ----------
    result
        Output of :func:`compute`.
    population
        People per cell, on ``result.grid``.
    zones
        Zone layers by level name, e.g. ``{"communes": ..., "districts": ..., "hamlets":
        ...}`` (polygons, any CRS). The id/name columns of a level are taken from
        :data:`ZONE_ID_COLUMNS` (else the first two non-geometry columns). The first level
        also defines the ``province`` row (the union of its zones).
    method
        ``"exact"`` cell fractions (default) or ``"centre"`` rule; see
        :func:`ictplan.grid.zone_weights`.
    weights
        Prebuilt weights by level (reused across runs); missing ones are built.

    Returns
    -------
    pandas.DataFrame
        One row per level × zone × technology × operator: ``level, zone_code,
        zone_name, technology, operator, population, pop_covered, pct_covered,
        mean_tput_mbps`` (population-weighted over covered people), ``pop_ge_target,
        pct_ge_target`` (people at ≥ ``target_mbps``, % of all people), ``target_mbps``.
        A level's rows plus its ``"(outside zones)"`` row sum to the grid total.

    Raises
    ------
    InputValidationError
        The population is on another grid than the result, or no zone layer is given.
    NoDataInBoundsError
        A zone layer does not overlap the grid.
    """
    if population.grid.shape != result.grid.shape or population.grid.transform != result.grid.transform:
        raise InputValidationError("the population is not on the coverage result's grid; use the same raster.")
    pop = population.counts.reshape(-1)
    weights = dict(weights or {})
    frames = []
    first_w = None
    for level, gdf in zones.items():
        w = weights.get(level)
        if w is None:
            w = zone_weights(gdf, result.grid, method=method)
        if first_w is None:
            first_w = w
        code_col, name_col = _zone_columns(level, gdf)
        codes = gdf[code_col].astype(str).tolist() if code_col else [str(i) for i in range(len(gdf))]
        names = gdf[name_col].astype(str).tolist() if name_col else codes
        frames.append(_level_table(level, codes, names, w, outside_weights(w), pop, result))
    if first_w is not None:  # the province = the union of the first level's zones
        prov = 1.0 - outside_weights(first_w)
        frames.append(_level_table("province", ["province"], ["province"], None, prov, pop, result))
    if not frames:
        raise InputValidationError("no zone layers given; pass e.g. {'communes': communes_gdf}.")
    return pd.concat(frames, ignore_index=True)


def _zone_columns(level: str, gdf: pd.DataFrame) -> tuple[str | None, str | None]:
    if level in ZONE_ID_COLUMNS and all(c in gdf.columns for c in ZONE_ID_COLUMNS[level]):
        return ZONE_ID_COLUMNS[level]
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    return (cols[0] if cols else None, cols[1] if len(cols) > 1 else (cols[0] if cols else None))


def _level_table(level: str, codes: list[str], names: list[str], w: Any, w_out: np.ndarray | None,
                 pop: np.ndarray, result: CoverageResult) -> pd.DataFrame:
    """Zone rows of one level. ``w`` sparse (zones × cells) and ``w_out`` the leftover
    share per cell (an ``"(outside zones)"`` row when it holds people); with ``w=None``,
    ``w_out`` is the single zone's dense weight vector."""
    if w is None:
        has_out = False

        def zsum(v: np.ndarray) -> np.ndarray:
            return np.array([float(w_out @ v)])
    else:
        has_out = w_out is not None and float(w_out @ pop) > 0

        def zsum(v: np.ndarray) -> np.ndarray:
            s = zone_sums(w, v)
            return np.append(s, float(w_out @ v)) if has_out else s

    codes = codes + ([OUTSIDE_ZONES] if has_out else [])
    names = names + ([OUTSIDE_ZONES] if has_out else [])
    pop_z = zsum(pop)
    pc = np.empty_like(pop)
    buf = np.empty_like(pop)
    rows = []
    for (op, tech), lay in sorted(result.layers.items(), key=lambda kv: (kv[0][1], kv[0][0] == ANY_OPERATOR, kv[0][0])):
        cov = lay.covered.reshape(-1)
        tp = lay.tput_mbps.reshape(-1)
        np.multiply(pop, cov, out=pc)
        cov_z = zsum(pc)
        np.multiply(pc, tp, out=buf)
        tp_z = zsum(buf)
        np.multiply(pc, tp >= lay.target_mbps, out=buf)
        ge_z = zsum(buf)
        with np.errstate(invalid="ignore", divide="ignore"):
            rows.append(pd.DataFrame({
                "level": level, "zone_code": codes, "zone_name": names, "technology": tech, "operator": op,
                "population": pop_z, "pop_covered": cov_z,
                "pct_covered": np.where(pop_z > 0, 100.0 * cov_z / pop_z, np.nan),
                "mean_tput_mbps": np.where(cov_z > 0, tp_z / cov_z, np.nan),
                "pop_ge_target": ge_z,
                "pct_ge_target": np.where(pop_z > 0, 100.0 * ge_z / pop_z, np.nan),
                "target_mbps": lay.target_mbps,
            }))
    return pd.concat(rows, ignore_index=True)


# ============================================================================ study
def run(
    study: Any,
    /,
    *,
    method: Literal["exact", "centre"] = "exact",
    margin_db: float = 20.0,
    landcover: np.ndarray | None = None,
    keep_rasters: bool = True,
    n_jobs: int = 1,
    levels: Sequence[str] = ("communes", "districts", "hamlets"),
    progress: bool | None = None,
) -> CoverageResult:
    """Everything for a study: best-server layers and the population-covered table.

    Sites from ``study.layer("sites")``, people from ``study.population``, profiles from
    ``study.profiles``, zones from ``study.layer(level)`` for ``levels`` (hamlet points
    are skipped with a warning: zone sums need polygons). ``landcover`` (codes on the
    population grid; default: the study's ``landcover`` raster, if it names one) adds
    clutter loss per the profiles.

    Returns
    -------
    CoverageResult
        With ``table`` (see :func:`population_covered`) and ``zones`` filled.

    Raises
    ------
    ConfigError, ProfileError, InputValidationError, NoDataInBoundsError
        From the study, the profiles or the layers.
    """
    t0 = time.perf_counter()
    profiles = radio.parse_profiles(study.profiles, source=str(getattr(study, "profiles_path", "profiles")))
    population = study.population
    sites = study.layer("sites")
    if landcover is None:
        landcover = getattr(study, "landcover", None)  # the study's land-cover raster, when it names one
    clutter = clutter_loss_db(landcover, profiles) if landcover is not None else None
    result = compute(sites, population, profiles, clutter_loss=clutter, margin_db=margin_db,
                     keep_rasters=keep_rasters, n_jobs=n_jobs, progress=progress)
    t1 = time.perf_counter()
    zones: dict[str, gpd.GeoDataFrame] = {}
    for level in levels:
        if level != "districts" and not study.has(level):
            continue
        gdf = study.layer(level)
        poly = gdf.geom_type.isin(["Polygon", "MultiPolygon"])
        if not poly.all():
            warnings.warn(f"{int((~poly).sum())} {level} are points, not polygons; they are left out of the "
                          f"zone tables (zone sums need areas).", SkippedFeaturesWarning, stacklevel=2)
            gdf = gdf[poly]
        if len(gdf):
            zones[level] = gdf
    result.table = population_covered(result, population, zones, method=method)
    result.zones = zones
    result.timings_s.update({"radio_s": t1 - t0, "zones_s": time.perf_counter() - t1,
                             "total_s": time.perf_counter() - t0})
    logger.info("coverage: %d sectors, %d layers, table of %d rows in %.2f s", len(result.sectors),
                len(result.layers), len(result.table), result.timings_s["total_s"])
    return result


def _write_tif(array: np.ndarray, grid: Grid, path: Path, *, nodata: float | int | None,
               description: str, overwrite: bool) -> Path:
    from . import io as _io

    return _io.write_raster(array, grid, path, nodata=nodata, overwrite=overwrite, description=description)


def write_outputs(result: CoverageResult, out_dir: str | os.PathLike[str], /, *, overwrite: bool = False,
                  rasters: bool = True) -> list[Path]:
    """Write the coverage outputs into ``out_dir`` (created); every file is written atomically.

    GeoTIFFs per layer ``coverage_<tech>_<operator>_{rsrp_dbm,server,sinr_db,tput_mbps}.tif``
    (RSRP/SINR float32 NaN nodata, server int32 −1 nodata: the row of
    ``coverage_sectors.csv``, throughput float32); ``coverage_<level>.csv`` per zone level;
    ``coverage.gpkg`` with one layer per level (zone polygons joined to the long table);
    ``coverage_sectors.csv`` (people served, active users).

    Returns
    -------
    list of pathlib.Path
        The files written.

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
            if lay.rsrp_dbm is not None:
                written.append(_write_tif(lay.rsrp_dbm.astype(np.float32), result.grid, out / f"{stem}_rsrp_dbm.tif",
                                          nodata=float("nan"), description=f"best-server RSRP per RE (dBm), {tech} {op}",
                                          overwrite=overwrite))
                written.append(_write_tif(lay.server.astype(np.int32), result.grid, out / f"{stem}_server.tif",
                                          nodata=-1, description="serving sector (row of coverage_sectors.csv)",
                                          overwrite=overwrite))
                written.append(_write_tif(lay.sinr_db.astype(np.float32), result.grid, out / f"{stem}_sinr_db.tif",
                                          nodata=float("nan"), description=f"SINR (dB), {tech} {op}", overwrite=overwrite))
            written.append(_write_tif(lay.tput_mbps.astype(np.float32), result.grid, out / f"{stem}_tput_mbps.tif",
                                      nodata=None, description=f"user throughput (Mb/s), {tech} {op}",
                                      overwrite=overwrite))
    sec = result.sectors.reset_index(names="row")
    written.append(_io.write_table(sec, out / "coverage_sectors.csv", overwrite=overwrite))
    if result.table is not None:
        for level, part in result.table.groupby("level", sort=False):
            written.append(_io.write_table(part, out / f"coverage_{level}.csv", overwrite=overwrite))
            if level in result.zones:
                zones = result.zones[level]
                code_col, _ = _zone_columns(level, zones)
                geo = gpd.GeoDataFrame({"zone_code": zones[code_col].astype(str).to_numpy()},
                                       geometry=zones.geometry.to_numpy(), crs=zones.crs)
                joined = geo.merge(part, on="zone_code", how="right")
                joined = gpd.GeoDataFrame(joined, geometry="geometry", crs=zones.crs)
                written.append(_io.write_layer(joined, out / "coverage.gpkg", layer=f"coverage_{level}",
                                               overwrite=overwrite))
    return written
