"""The windowed best-server engine behind :mod:`ictplan.coverage` (one carrier at a time).

The grid is streamed in windows of rows. Each sector is evaluated only inside the box
of cells within its *reach*: the distance at which its strongest possible signal in that
direction (horizontal pattern bound per 5° of bearing, no vertical or clutter loss) falls
below ``threshold − margin_db``; for a 3-sector site that box is 2–3× smaller than the
disc's. Sectors are selected per window from their boxes. Antenna heights are quantised
to 0.1 m and tilts to 0.01° for the tables. Path loss and the vertical pattern depend
only on distance for a given antenna height and tilt, so they are tabulated once per
(height, tilt) at 2,000 bins per decade of distance and looked up by ``log10(d²)``
(error ≤ 0.01 dB for the path loss; ≤ 0.065 dB for the vertical pattern, reached only
near a steeply tilted mast); the horizontal pattern is computed exactly from the
bearing. Signals below ``threshold − margin_db`` are ignored, also as interference
(documented truncation).

Parallel workers
----------------
Windows are independent, so ``n_jobs > 1`` runs them in worker processes that fill
output arrays in :mod:`multiprocessing.shared_memory` (named blocks, so the workers work
with any start method). The start method is ``fork`` where it exists and is safe
(Linux), else ``spawn`` (macOS, Windows); :data:`START_METHOD` overrides it. Each worker
receives the carrier's plan (per-sector arrays and tables, a few MB) and takes every
``n_jobs``-th window; results are identical to ``n_jobs=1``. Only useful on machines with
idle cores.
"""

from __future__ import annotations

import logging
import math
import multiprocessing as mp
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing import shared_memory
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd

from . import crs as _crs
from . import radio
from ._errors import GeographicCRSError, InputValidationError
from .grid import Grid
from .radio.beams import interference_offset_db

logger = logging.getLogger(__name__)

__all__ = ["START_METHOD", "Interference", "run_carrier", "run_carrier_tracked", "metres_per_degree", "check_clutter", "clutter_loss_db", "disc_coverage"]

START_METHOD: str | None = None
"""Start method of the worker processes (``None``: ``fork`` on Linux, else ``spawn``)."""

_LOG_K = 2000.0  # table bins per decade of distance
_LOG_MAX = 6.0  # tables reach 10^6 m
_NBINS = int(_LOG_MAX * _LOG_K) + 1


def metres_per_degree(lat_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres per degree of longitude and of latitude at ``lat_deg`` on the WGS 84 ellipsoid
    (prime-vertical and meridional radii of curvature)."""
    a, f = 6_378_137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    phi = np.radians(np.asarray(lat_deg, float))
    w = np.sqrt(1 - e2 * np.sin(phi) ** 2)
    per_lon = np.pi / 180 * a * np.cos(phi) / w
    per_lat = np.pi / 180 * a * (1 - e2) / w**3
    return per_lon, per_lat


@dataclass
class _Tables:
    pl: dict[float, np.ndarray] = field(default_factory=dict)
    av: dict[tuple[float, float], np.ndarray] = field(default_factory=dict)
    pl_u: dict[float, np.ndarray] = field(default_factory=dict)  # the urban model's loss (urban cells)
    reach: dict[float, np.ndarray] = field(default_factory=dict)  # min of both: bounds reach and boxes


_BINS_M = np.power(10.0, (np.arange(_NBINS) + 0.5) / _LOG_K)
_BINS_M.flags.writeable = False


def _bins_m() -> np.ndarray:
    """Distances (m) at which the tables are evaluated: the centres (in log d) of the bins
    ``[10^(j/K), 10^((j+1)/K))``; a cell at distance d ≥ 1 m looks up ``j = ⌊K·log10 d⌋``."""
    return _BINS_M


def _pl_table(prof: radio.TechProfile, h_bs: float, tables: _Tables, *, urban: bool = False) -> np.ndarray:
    cache = tables.pl_u if urban else tables.pl
    tab = cache.get(h_bs)
    if tab is None:
        tab = radio.path_loss_db(_bins_m(), model=prof.model, freq_mhz=prof.freq_mhz, h_bs_m=h_bs,
                                 h_ut_m=prof.ue_height_m, environment=prof.environment, los=prof.los,
                                 avg_building_height_m=prof.avg_building_height_m,
                                 street_width_m=prof.street_width_m).astype(np.float32)
        # guard: the engine relies on a non-decreasing loss curve for the reach
        tab = np.maximum.accumulate(tab)
        cache[h_bs] = tab
    return tab


def _reach_table(prof: radio.TechProfile, uprof: radio.TechProfile | None, h_bs: float, tables: _Tables) -> np.ndarray:
    """The loss table that bounds a sector's reach: its model's, or the smaller of the rural
    and urban models' where some cells use the urban one (so no box cuts an urban signal)."""
    tab = tables.reach.get(h_bs)
    if tab is None:
        tab = _pl_table(prof, h_bs, tables)
        if uprof is not None:
            tab = np.minimum(tab, _pl_table(uprof, h_bs, tables, urban=True))
        tables.reach[h_bs] = tab
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
        tab = tables.reach[float(hv)]
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
        k = np.searchsorted(tables.reach[float(hv)], need[sel], side="right")
        reach[sel] = np.where(k > 0, np.power(10.0, k / _LOG_K), 0.0)
    rad = np.radians(bearings)
    sx, sy = np.sin(rad), np.cos(rad)
    px = np.concatenate([reach * sx[None, :-1], reach * sx[None, 1:]], axis=1)
    py = np.concatenate([reach * sy[None, :-1], reach * sy[None, 1:]], axis=1)
    return (np.minimum(px.min(axis=1), 0.0), np.maximum(px.max(axis=1), 0.0),
            np.minimum(py.min(axis=1), 0.0), np.maximum(py.max(axis=1), 0.0))


# ============================================================================ one carrier
@dataclass
class _Plan:
    """Everything a window needs for one carrier: per-sector arrays, boxes and tables
    (picklable: sent to spawned workers)."""

    prof: radio.TechProfile
    shape: tuple[int, int]
    xc: np.ndarray  # cell-centre x per column
    yc: np.ndarray  # cell-centre y per row
    x: np.ndarray
    y: np.ndarray
    h: np.ndarray
    tilt: np.ndarray
    offset: np.ndarray
    omni: np.ndarray
    az_rad: np.ndarray
    kx: np.ndarray
    ky: np.ndarray
    c0: np.ndarray
    c1: np.ndarray
    r0: np.ndarray
    r1: np.ndarray
    active: np.ndarray
    eta: np.ndarray  # interference weight (utilisation) of each sector
    cutoff: float
    window_rows: int
    tables: _Tables = field(default_factory=_Tables)
    urban_any: np.ndarray | None = None  # per sector: its box holds urban cells (urban model there)
    interferers: int = 0  # K: keep the K strongest interferers per cell (incremental load passes)
    iscale: float = 1.0  # interference at the time-average beam gain (radio.beams.interference_offset_db)


def _plan(sec: pd.DataFrame, grid: Grid, prof: radio.TechProfile, margin_db: float, window_rows: int,
          utilisation: np.ndarray | None = None, urban: np.ndarray | None = None,
          urban_prof: radio.TechProfile | None = None) -> _Plan:
    """Per-sector arrays, reaches, tables and evaluation boxes (cells) of one carrier
    (``urban_prof``: the profile used in the cells where ``urban`` is true)."""
    if urban is None:
        urban_prof = None
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
    for hv in np.unique(h).tolist():
        _reach_table(prof, urban_prof, hv, tables)
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
        kx, ky = metres_per_degree(y)
    else:
        kx = ky = np.ones(len(sec))
    H, W = grid.shape
    t = grid.transform
    c_a, c_b = (x + ex0 / kx - t.c) / t.a, (x + ex1 / kx - t.c) / t.a
    r_a, r_b = (y + ey1 / ky - t.f) / t.e, (y + ey0 / ky - t.f) / t.e
    c0 = np.clip(np.floor(np.minimum(c_a, c_b)), 0, W).astype(np.int64)
    c1 = np.clip(np.ceil(np.maximum(c_a, c_b)), 0, W).astype(np.int64)
    r0 = np.clip(np.floor(np.minimum(r_a, r_b)), 0, H).astype(np.int64)
    r1 = np.clip(np.ceil(np.maximum(r_a, r_b)), 0, H).astype(np.int64)
    active = (c1 > c0) & (r1 > r0) & (reach > 0)
    logger.debug("mean evaluation box: %.0f cells per sector", float(((c1 - c0) * (r1 - r0))[active].mean())
                 if active.any() else 0.0)
    return _Plan(prof=prof, shape=(H, W), xc=t.c + t.a * (np.arange(W) + 0.5), yc=t.f + t.e * (np.arange(H) + 0.5),
                 x=x, y=y, h=h, tilt=tilt, offset=offset, omni=omni,
                 az_rad=np.radians(np.where(np.isfinite(az), az, 0.0)), kx=kx, ky=ky, c0=c0, c1=c1, r0=r0, r1=r1,
                 active=active, eta=_eta(utilisation, len(sec), prof) * np.float32(_iscale(prof)), cutoff=float(cutoff),
                 window_rows=window_rows, tables=tables,
                 urban_any=None if urban_prof is None else _boxes_touch(urban, r0, r1, c0, c1))


_BLOCK = 16  # cells per side of the blocks of the urban-box test


def _boxes_touch(mask: np.ndarray | None, r0: np.ndarray, r1: np.ndarray, c0: np.ndarray,
                 c1: np.ndarray) -> np.ndarray:
    """Per box: does it hold a true cell of ``mask``? Tested on 16 × 16-cell blocks (a
    superset: a box flagged may hold none, then the urban lookup finds nothing to do)."""
    assert mask is not None
    H, W = mask.shape
    hb, wb = -(-H // _BLOCK), -(-W // _BLOCK)
    pad = np.zeros((hb * _BLOCK, wb * _BLOCK), dtype=bool)
    pad[:H, :W] = mask
    blocks = pad.reshape(hb, _BLOCK, wb, _BLOCK).any(axis=(1, 3))
    sat = np.zeros((hb + 1, wb + 1), dtype=np.int64)  # summed-area table of the urban blocks
    sat[1:, 1:] = blocks.cumsum(0).cumsum(1)
    b0, b1 = r0 // _BLOCK, -(-r1 // _BLOCK)
    a0, a1 = c0 // _BLOCK, -(-c1 // _BLOCK)
    return (sat[b1, a1] - sat[b0, a1] - sat[b1, a0] + sat[b0, a0]) > 0


class _Cells(NamedTuple):
    """Per-cell rasters a window reads: clutter loss (dB) and the urban mask (either None)."""

    clutter: np.ndarray | None
    urban: np.ndarray | None


def _iscale(prof: radio.TechProfile) -> float:
    """Interference weight of the carrier's beams: ``10^(−offset/10)`` (:mod:`ictplan.radio.beams`)."""
    return float(10.0 ** (-interference_offset_db(prof) / 10.0))


def _eta(utilisation: np.ndarray | None, n: int, prof: radio.TechProfile) -> np.ndarray:
    """Per-sector interference weights: the given utilisations, else the profile's load factor."""
    if utilisation is None:
        return np.full(n, prof.load_factor, dtype=np.float32)
    u = np.asarray(utilisation, dtype=np.float32)
    if u.shape != (n,) or not np.isfinite(u).all() or (u < 0).any() or (u > 1).any():
        raise InputValidationError(f"utilisation must be {n} values in [0, 1], one per sector.")
    return u


def _sector_signal(p: _Plan, s: int, ra: int, rb: int, cells: _Cells) -> np.ndarray:
    """RSRP (dBm, float32) of sector ``s`` over rows ``ra:rb`` of its box."""
    prof = p.prof
    ca, cb = p.c0[s], p.c1[s]
    dy = ((p.yc[ra:rb] - p.y[s]) * p.ky[s]).astype(np.float32)
    dx = ((p.xc[ca:cb] - p.x[s]) * p.kx[s]).astype(np.float32)
    u = (dy * dy)[:, None] + (dx * dx)[None, :]
    np.maximum(u, np.float32(1.0), out=u)  # d < 1 m: the first bin
    np.log10(u, out=u)
    u *= np.float32(_LOG_K / 2.0)  # K·log10(d)
    bi = u.astype(np.int32)
    np.minimum(bi, _NBINS - 1, out=bi)
    loss = p.tables.pl[float(p.h[s])][bi]
    if p.urban_any is not None and p.urban_any[s] and cells.urban is not None:
        m = cells.urban[ra:rb, ca:cb]  # the urban model only where the cells are urban
        loss[m] = p.tables.pl_u[float(p.h[s])][bi[m]]
    if not p.omni[s]:
        sa, ca_ = np.float32(math.sin(p.az_rad[s])), np.float32(math.cos(p.az_rad[s]))
        # angle off boresight: atan2(cross, dot) with the boresight (sin az, cos az)
        phi = np.arctan2((dx * ca_)[None, :] - (dy * sa)[:, None], (dx * sa)[None, :] + (dy * ca_)[:, None])
        phi *= phi
        phi *= np.float32(12.0 / math.radians(prof.beamwidth_deg) ** 2)  # A_H before its A_m cap
        phi += p.tables.av[(float(p.h[s]), float(p.tilt[s]))][bi]
        np.minimum(phi, np.float32(prof.front_to_back_db), out=phi)  # min(A_H + A_V, A_m) caps both
        loss += phi
    if cells.clutter is not None:
        loss += cells.clutter[ra:rb, ca:cb]
    return np.float32(p.offset[s]) - loss


def _window(p: _Plan, w0: int, w1: int, outs: tuple[np.ndarray, ...], cells: _Cells,
            bufs: dict[str, np.ndarray], order: np.ndarray, r0s: np.ndarray) -> int:
    """Best server, RSRP and SINR of rows ``w0:w1`` into ``outs``; returns the evaluations."""
    if p.interferers:
        return _window_tracked(p, w0, w1, outs, cells, bufs, order, r0s)
    rsrp, server, sinr = outs[:3]
    cand = _candidates(p, w0, w1, order, r0s)
    if cand.size == 0:
        rsrp[w0:w1], server[w0:w1], sinr[w0:w1] = np.nan, -1, np.nan
        return 0
    nr = w1 - w0
    best, idx, best_lin, others = _bufs(p, bufs, nr)
    evals = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        for s in cand.tolist():
            ra, rb = max(p.r0[s], w0), min(p.r1[s], w1)
            ca, cb = p.c0[s], p.c1[s]
            sig = _sector_signal(p, s, ra, rb, cells)
            lw0, lw1 = ra - w0, rb - w0
            lin = np.exp(sig * np.float32(math.log(10.0) / 10.0))
            lin *= sig > np.float32(p.cutoff)
            lin *= p.eta[s]  # the interference this sector causes: power × its utilisation
            bv, blv = best[lw0:lw1, ca:cb], best_lin[lw0:lw1, ca:cb]
            upd = sig > bv
            # interference = every signal but the best: a dethroned best joins the others
            others[lw0:lw1, ca:cb] += np.where(upd, blv, lin)
            np.copyto(bv, sig, where=upd)
            np.copyto(blv, lin, where=upd)
            np.copyto(idx[lw0:lw1, ca:cb], s, where=upd)
            evals += sig.size
    _finish(p, w0, w1, outs, best, idx, others)
    return evals


def _candidates(p: _Plan, w0: int, w1: int, order: np.ndarray, r0s: np.ndarray) -> np.ndarray:
    cand = order[:np.searchsorted(r0s, w1, side="left")]
    return cand[p.active[cand] & (p.r1[cand] > w0)]


def _bufs(p: _Plan, bufs: dict[str, np.ndarray], nr: int) -> list[np.ndarray]:
    """The window buffers (allocated once per process), reset: best RSRP, server, best power, others."""
    if not bufs:
        shape = (min(p.window_rows, p.shape[0]), p.shape[1])
        bufs.update(best=np.empty(shape, np.float32), idx=np.empty(shape, np.int32),
                    best_lin=np.empty(shape, np.float32), others=np.empty(shape, np.float64))
        for k in range(p.interferers):
            bufs[f"tid{k}"] = np.empty(shape, np.int32)
            bufs[f"tp{k}"] = np.empty(shape, np.float32)
    out = [bufs[k][:nr] for k in ("best", "idx", "best_lin", "others")]
    out[0].fill(p.cutoff)
    out[1].fill(-1)
    out[2].fill(0.0)
    out[3].fill(0.0)
    for k in range(p.interferers):
        bufs[f"tid{k}"][:nr].fill(-1)
        bufs[f"tp{k}"][:nr].fill(0.0)
    return out


def _finish(p: _Plan, w0: int, w1: int, outs: tuple[np.ndarray, ...], best: np.ndarray, idx: np.ndarray,
            others: np.ndarray) -> None:
    """SINR (dB) from the best and the (weighted) others, written with RSRP and server into ``outs``."""
    rsrp, server, sinr = outs[:3]
    none = idx < 0
    others += 10.0 ** (p.prof.noise_re_dbm / 10.0)
    np.log10(others, out=others)
    others *= -10.0
    others += best  # now the SINR in dB
    others[none] = np.nan
    sinr[w0:w1] = others
    best[none] = np.nan
    rsrp[w0:w1] = best
    server[w0:w1] = idx


def _window_tracked(p: _Plan, w0: int, w1: int, outs: tuple[np.ndarray, ...], cells: _Cells,
                    bufs: dict[str, np.ndarray], order: np.ndarray, r0s: np.ndarray) -> int:
    """As :func:`_window` at one uniform utilisation ``η₀``, keeping per cell the K strongest
    interferers (id, unweighted power) and the unweighted rest: the SINR at any other
    utilisations is then :meth:`Interference.sinr_db`, without path loss."""
    K = p.interferers
    tids, tps, rest = outs[3:3 + K], outs[3 + K:3 + 2 * K], outs[3 + 2 * K]
    cand = _candidates(p, w0, w1, order, r0s)
    if cand.size == 0:
        outs[0][w0:w1], outs[1][w0:w1], outs[2][w0:w1] = np.nan, -1, np.nan
        for k in range(K):
            tids[k][w0:w1], tps[k][w0:w1] = -1, 0.0
        rest[w0:w1] = 0.0
        return 0
    nr = w1 - w0
    best, idx, best_lin, others = _bufs(p, bufs, nr)
    ti = [bufs[f"tid{k}"][:nr] for k in range(K)]
    tp = [bufs[f"tp{k}"][:nr] for k in range(K)]
    evals = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        for s in cand.tolist():
            ra, rb = max(p.r0[s], w0), min(p.r1[s], w1)
            box = (slice(ra - w0, rb - w0), slice(p.c0[s], p.c1[s]))
            sig = _sector_signal(p, s, ra, rb, cells)
            lin = np.exp(sig * np.float32(math.log(10.0) / 10.0))
            lin *= sig > np.float32(p.cutoff)
            bv, blv, bix = best[box], best_lin[box], idx[box]
            upd = sig > bv
            c_p = np.where(upd, blv, lin)  # the new interferer: a dethroned best, else this sector
            c_i = np.where(upd, bix, np.int32(s))
            others[box] += c_p
            np.copyto(bv, sig, where=upd)
            np.copyto(blv, lin, where=upd)
            np.copyto(bix, s, where=upd)
            for k in range(K):  # insertion into the sorted K strongest
                pk, ik = tp[k][box], ti[k][box]
                m = c_p > pk
                c_p, pk[...] = np.where(m, pk, c_p), np.where(m, c_p, pk)
                c_i, ik[...] = np.where(m, ik, c_i), np.where(m, c_i, ik)
            evals += sig.size
    top = np.zeros(others.shape, dtype=np.float64)
    for k in range(K):
        tids[k][w0:w1] = ti[k]
        tps[k][w0:w1] = tp[k]
        top += tp[k]
    rest[w0:w1] = np.maximum(others - top, 0.0)
    others *= float(p.eta[0])  # uniform η₀: the weighted interference
    _finish(p, w0, w1, outs, best, idx, others)
    return evals


def _windows(p: _Plan) -> list[tuple[int, int]]:
    H = p.shape[0]
    return [(w0, min(w0 + p.window_rows, H)) for w0 in range(0, H, p.window_rows)]


def _serial(p: _Plan, outs: tuple[np.ndarray, ...], cells: _Cells) -> int:
    order = np.argsort(p.r0, kind="stable")
    bufs: dict[str, np.ndarray] = {}
    return sum(_window(p, a, b, outs, cells, bufs, order, p.r0[order]) for a, b in _windows(p))


# ============================================================================ workers
def _out_specs(interferers: int) -> tuple[tuple[Any, Any], ...]:
    """dtype and fill of each output: RSRP, server, SINR [, K ids, K powers, rest]."""
    base = ((np.float32, np.nan), (np.int32, -1), (np.float32, np.nan))
    return base + ((np.int32, -1),) * interferers + ((np.float32, 0.0),) * interferers + (
        ((np.float32, 0.0),) if interferers else ())


def _worker(p: _Plan, j: int, n_jobs: int, names: list[str], cell_names: tuple[str | None, str | None],
            queue: Any) -> None:
    """One worker: every ``n_jobs``-th window, written into the named shared blocks."""
    shms = [shared_memory.SharedMemory(name=nm) for nm in names]
    cshm = [shared_memory.SharedMemory(name=nm) if nm else None for nm in cell_names]
    try:
        evals = _worker_windows(p, j, n_jobs, shms, cshm)
    finally:
        for shm in shms + [c for c in cshm if c is not None]:
            shm.close()
    queue.put(evals)


def _worker_windows(p: _Plan, j: int, n_jobs: int, shms: list[shared_memory.SharedMemory],
                    cshm: list[shared_memory.SharedMemory | None]) -> int:
    # the views on the shared blocks live only in this frame, so the blocks can close after it
    outs = tuple(np.ndarray(p.shape, dtype=dt, buffer=shm.buf)
                 for shm, (dt, _) in zip(shms, _out_specs(p.interferers), strict=True))
    cells = _Cells(*(np.ndarray(p.shape, dtype=dt, buffer=c.buf) if c is not None else None
                     for c, dt in zip(cshm, (np.float32, np.bool_), strict=True)))
    order = np.argsort(p.r0, kind="stable")
    bufs: dict[str, np.ndarray] = {}
    evals = 0
    for i, (a, b) in enumerate(_windows(p)):
        if i % n_jobs == j:
            evals += _window(p, a, b, outs, cells, bufs, order, p.r0[order])
    return evals


def _context() -> Any:
    method = START_METHOD
    if method is None:
        method = "fork" if sys.platform.startswith("linux") and "fork" in mp.get_all_start_methods() else "spawn"
    return mp.get_context(method)


def _shared(shape: tuple[int, int], dtype: Any, fill: Any, owned: list[shared_memory.SharedMemory]) -> str:
    """A new named shared block of ``shape`` filled with ``fill`` (a scalar or an array)."""
    shm = shared_memory.SharedMemory(create=True, size=max(int(np.prod(shape)) * np.dtype(dtype).itemsize, 1))
    owned.append(shm)
    np.ndarray(shape, dtype=dtype, buffer=shm.buf)[...] = fill
    return shm.name


def _launch(p: _Plan, n_jobs: int, names: list[str], cell_names: tuple[str | None, str | None]) -> int:
    ctx = _context()
    queue = ctx.SimpleQueue()
    procs = [ctx.Process(target=_worker, args=(p, j, n_jobs, names, cell_names, queue)) for j in range(n_jobs)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    if any(proc.exitcode != 0 for proc in procs):
        raise RuntimeError("a coverage worker process failed (see its traceback above).")
    return int(sum(queue.get() for _ in procs))


def _parallel(p: _Plan, outs: tuple[np.ndarray, ...], cells: _Cells, n_jobs: int) -> int:
    """The windows over ``n_jobs`` processes on shared blocks; results copied into ``outs``."""
    owned: list[shared_memory.SharedMemory] = []
    specs = _out_specs(p.interferers)
    try:
        names = [_shared(p.shape, dt, fill, owned) for dt, fill in specs]
        cell_names = tuple(_shared(p.shape, dt, arr, owned) if arr is not None else None
                           for arr, dt in zip(cells, (np.float32, np.bool_), strict=True))
        evals = _launch(p, n_jobs, names, cell_names)  # type: ignore[arg-type]
        for dst, shm, (dt, _) in zip(outs, owned[:len(specs)], specs, strict=True):
            dst[...] = np.ndarray(p.shape, dtype=dt, buffer=shm.buf)
        return evals
    finally:
        for shm in owned:
            shm.close()
            shm.unlink()


@dataclass
class Interference:
    """Per cell, the K strongest interferers of a carrier and the rest, at no utilisation
    weight: received power per RE (mW, float32) above the engine's cutoff.

    The SINR at utilisations ``η`` is ``S / (Σ_k η[id_k]·p_k + η̄·rest + N)``
    (:meth:`sinr_db`): exact where a cell has at most K interferers (``rest = 0``) or where
    the rest's sectors are loaded like the carrier's mean ``η̄``; else an approximation
    (the rest is the sum of many weaker sectors, whose mean load tends to the carrier's).
    :meth:`sinr_bounds_db` gives the range the exact SINR lies in (rest at 1 and at ``min η``).
    """

    ids: list[np.ndarray]  # K arrays of the grid's shape, int32 (sector row, −1: none)
    p_mw: list[np.ndarray]  # K arrays, float32, strongest first
    rest_mw: np.ndarray  # float32: every other interferer above the cutoff
    noise_mw: float
    scale: float = 1.0  # interference at the time-average beam gain (radio.beams)

    def compact(self, cells: np.ndarray) -> Interference:
        """Keep the split at flat ``cells`` only, as 1-D arrays in that order (load passes over the
        served cells then call :meth:`sinr_db` with ``cells=None``). In place, one array at a time:
        each grid-sized array is dropped as soon as its cells are copied."""
        for lst in (self.ids, self.p_mw):
            for k, a in enumerate(lst):
                lst[k] = a.reshape(-1)[cells]
                del a
        self.rest_mw = self.rest_mw.reshape(-1)[cells]
        return self

    def _parts(self, cells: np.ndarray | None, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.float32]:
        """(Σ_k η[id_k] p_k + N, rest, the carrier's mean η) at flat cell indices (``None``: every
        cell the arrays hold)."""
        def pick(a: np.ndarray) -> np.ndarray:
            return a.reshape(-1) if cells is None else a.reshape(-1)[cells]

        e = np.append(np.asarray(eta, np.float32) * np.float32(self.scale), np.float32(0.0))  # id −1 → weight 0
        rest = pick(self.rest_mw)
        top = np.full(rest.size, np.float32(self.noise_mw), dtype=np.float32)
        for ids, pw in zip(self.ids, self.p_mw, strict=True):
            top += e[pick(ids)] * pick(pw)
        return top, rest, np.float32(e[:-1].mean() if e.size > 1 else 1.0)

    def sinr_db(self, rsrp_dbm: np.ndarray, cells: np.ndarray | None, eta: np.ndarray) -> np.ndarray:
        """SINR (dB, float32) at flat ``cells`` (RSRP ``rsrp_dbm`` there; ``None``: every cell the
        arrays hold) at utilisations ``eta``."""
        top, rest, mean = self._parts(cells, eta)
        top += mean * rest
        return (np.asarray(rsrp_dbm, np.float32) - np.float32(10.0) * np.log10(top)).astype(np.float32)

    def sinr_bounds_db(self, rsrp_dbm: np.ndarray, cells: np.ndarray | None, eta: np.ndarray,
                       min_eta: float) -> tuple[np.ndarray, np.ndarray]:
        """The exact SINR's range at ``cells``: the rest weighted by 1 (low) and ``min_eta`` (high)."""
        top, rest, _ = self._parts(cells, eta)
        r = np.asarray(rsrp_dbm, np.float32)
        sc = np.float32(self.scale)
        return r - 10.0 * np.log10(top + sc * rest), r - 10.0 * np.log10(top + sc * np.float32(min_eta) * rest)


def _prepare(sec: pd.DataFrame, grid: Grid, prof: radio.TechProfile, kw: dict[str, Any],
             utilisation: np.ndarray | None, plans: dict[str, Any] | None, interferers: int) -> _Plan:
    if plans is not None and "plan" in plans:
        p = plans["plan"]
        p.eta = _eta(utilisation, len(sec), prof) * np.float32(p.iscale)
    else:
        p = _plan(sec, grid, prof, kw["margin_db"], kw["window_rows"], utilisation, kw.get("urban"),
                  kw.get("urban_prof"))
        p.iscale = _iscale(prof)
        if plans is not None:
            plans["plan"] = p
    p.interferers = interferers
    return p


def _execute(p: _Plan, outs: tuple[np.ndarray, ...], kw: dict[str, Any]) -> None:
    cells = _Cells(kw.get("clutter"), kw.get("urban") if p.urban_any is not None else None)
    t0 = time.perf_counter()
    if kw["n_jobs"] <= 1 or len(_windows(p)) < 2:
        evals = _serial(p, outs, cells)
    else:
        evals = _parallel(p, outs, cells, kw["n_jobs"])
    prof = p.prof
    logger.info("carrier %s/%s/%s: %d sectors, %.3g cell-sector evaluations in %.2f s",
                prof.operator, prof.technology, prof.band, p.x.size, evals, time.perf_counter() - t0)


def run_carrier(sec: pd.DataFrame, grid: Grid, prof: radio.TechProfile, *, clutter: np.ndarray | None,
                margin_db: float, window_rows: int, n_jobs: int,
                out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                utilisation: np.ndarray | None = None,
                plans: dict[str, Any] | None = None, urban: np.ndarray | None = None,
                urban_prof: radio.TechProfile | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RSRP (dBm, NaN none), server (row of ``sec``, −1 none), SINR (dB) for one carrier.

    ``sec`` is :func:`ictplan.coverage.prepare_sectors` output of one carrier. ``out``
    (three arrays of the grid's shape: float32, int32, float32) are filled in place and
    returned, so a caller looping over carriers allocates them once (allocating large
    arrays is slow on some VMs: every page is faulted in). ``utilisation`` (one value in
    [0, 1] per sector) weights each sector's interference (load-coupled SINR); ``None``
    weights every sector by the profile's ``load_factor``. ``plans`` (a dict kept by the
    caller) caches the carrier's plan between calls that only change ``utilisation``.
    ``urban`` (bool, the grid's shape) with ``urban_prof``: the cells where the path loss
    is ``urban_prof``'s model (e.g. TR 38.901 UMa) instead of ``prof``'s; the urban table
    is looked up only for urban cells of sectors whose box holds some."""
    kw = {"clutter": clutter, "margin_db": margin_db, "window_rows": window_rows, "n_jobs": n_jobs,
          "urban": urban, "urban_prof": urban_prof}
    p = _prepare(sec, grid, prof, kw, utilisation, plans, 0)
    if out is None:
        out = tuple(np.full(grid.shape, fill, dtype=dt) for dt, fill in _out_specs(0))  # type: ignore[assignment]
    assert out is not None
    _execute(p, out, kw)
    return out


def run_carrier_tracked(sec: pd.DataFrame, grid: Grid, prof: radio.TechProfile, *, interferers: int,
                        clutter: np.ndarray | None, margin_db: float, window_rows: int, n_jobs: int,
                        urban: np.ndarray | None = None, urban_prof: radio.TechProfile | None = None,
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Interference]:
    """:func:`run_carrier` at the uniform utilisation ``prof.load_factor``, plus the
    :class:`Interference` of every cell (``interferers`` ≥ 1 strongest kept): later load
    passes recompute only the SINR from it (:meth:`Interference.sinr_db`). Memory: 8 bytes
    per cell per interferer kept plus 4 for the rest, on top of :func:`run_carrier`'s 12."""
    if interferers < 1:
        raise InputValidationError(f"interferers must be ≥ 1, got {interferers}.")
    kw = {"clutter": clutter, "margin_db": margin_db, "window_rows": window_rows, "n_jobs": n_jobs,
          "urban": urban, "urban_prof": urban_prof}
    p = _prepare(sec, grid, prof, kw, None, None, int(interferers))
    outs = tuple(np.full(grid.shape, fill, dtype=dt) for dt, fill in _out_specs(p.interferers))
    _execute(p, outs, kw)
    K = p.interferers
    inter = Interference(ids=list(outs[3:3 + K]), p_mw=list(outs[3 + K:3 + 2 * K]), rest_mw=outs[3 + 2 * K],
                         noise_mw=float(10.0 ** (prof.noise_re_dbm / 10.0)), scale=p.iscale)
    return outs[0], outs[1], outs[2], inter


# ============================================================================ clutter
def check_clutter(clutter: np.ndarray, grid: Grid) -> np.ndarray:
    c = np.asarray(clutter, dtype=np.float32)
    if c.shape != grid.shape:
        raise InputValidationError(f"the clutter-loss array has shape {c.shape} but the grid is {grid.shape}; "
                                   "build it on the population grid (clutter_loss_db).")
    if not np.isfinite(c).all() or (c < 0).any():
        raise InputValidationError("clutter losses must be finite and ≥ 0 dB; map nodata classes to 0.")
    return c


def clutter_loss_db(landcover: np.ndarray, profiles: Mapping[str, Any], /) -> np.ndarray:
    """Per-cell clutter loss (dB, float32) from a land-cover code raster on the grid.

    Thin delegation to :func:`ictplan.radio.clutter.clutter_loss_db` (plain per-class values:
    ESA WorldCover codes via the profiles' ``[clutter_classes]`` and ``[clutter_loss_db]``;
    the P.2108-derived excess over open rural land, see :mod:`ictplan.radio.clutter`).

    Raises
    ------
    InputValidationError
        The raster holds codes the profiles do not map (listed with their cell counts).
    """
    from .radio import clutter as _clutter

    return _clutter.clutter_loss_db(landcover, profiles)


def _require_metric_grid(grid: Grid) -> None:
    if grid.crs.is_geographic:
        raise GeographicCRSError(
            f"the population grid is in {_crs.crs_label(grid.crs)} (degrees), but coverage measures metres. "
            "Warp the population raster to a projected CRS with sum resampling (gdalwarp -r sum -t_srs EPSG:32648) "
            "before the analysis; ictplan never resamples people itself."
        )
    if grid.transform.b != 0 or grid.transform.d != 0:
        raise InputValidationError("the population grid is rotated; warp it north-up first (gdalwarp).")


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
