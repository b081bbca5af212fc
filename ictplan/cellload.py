"""One operator's technology on the grid: coverage at a location probability, indoor
coverage, busy-hour load, processor-sharing throughput and load-coupled interference.

Called by :func:`ictplan.coverage.compute` once per operator × technology (5G first, so
that the 5G users it covers are taken off its 4G). The carriers (bands) of the
technology are run by the best-server engine (:mod:`ictplan.engine`); each covered cell
is served by the band with the highest single-user peak rate at the starting
utilisation (kept fixed through the load iterations). The model is written out in
:mod:`ictplan.demand`.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from . import demand as _demand
from . import engine as _eng
from . import parameters as _parameters
from . import radio
from ._errors import ConfigError
from .coverage_tables import CellUsers
from .grid import Grid

logger = logging.getLogger(__name__)
_P = _parameters.COVERAGE

__all__ = ["ServeOptions", "TechServed", "serve", "load_convergence", "convergence_lines", "eligible_users"]


@dataclass(frozen=True)
class ServeOptions:
    """What :func:`serve` needs from the coverage parameters (defaults: :data:`ictplan.parameters.COVERAGE`'s,
    their one definition; ``mbps_per_user`` comes from the demand, :meth:`from_parameters`)."""

    location_probability: float = _P.location_probability
    load_iterations: int = _P.load_iterations
    load_tolerance: float = _P.load_tolerance
    min_utilisation: float = _P.min_utilisation
    rank_sinr_db: tuple[float, ...] = tuple(_P.rank_sinr_db)
    high_loss_share_rural: float = _P.high_loss_building_share_rural
    high_loss_share_urban: float = _P.high_loss_building_share_urban
    mbps_per_user: float = 0.0
    load_interferers: int = _P.load_interferers
    urban_model: str = _P.urban_model
    load_damping: float = _P.load_damping

    def __post_init__(self) -> None:
        if not 0.0 < self.load_damping <= 1.0:
            raise ConfigError(f"load_damping must lie in (0, 1] (1: no damping), got {self.load_damping:g}; "
                              "set [parameters.coverage] load_damping, e.g. 0.5.")

    @classmethod
    def from_parameters(cls, prm: Any, dem: _demand.Demand) -> ServeOptions:
        return cls(location_probability=float(prm.location_probability), load_iterations=int(prm.load_iterations),
                   load_tolerance=float(prm.load_tolerance), min_utilisation=float(prm.min_utilisation),
                   rank_sinr_db=tuple(float(v) for v in prm.rank_sinr_db),
                   high_loss_share_rural=float(prm.high_loss_building_share_rural),
                   high_loss_share_urban=float(prm.high_loss_building_share_urban),
                   mbps_per_user=dem.mbps_per_subscriber, load_interferers=int(prm.load_interferers),
                   urban_model=str(prm.urban_model), load_damping=float(prm.load_damping))


@dataclass
class TechServed:
    """The result of :func:`serve` for one operator × technology."""

    covered: np.ndarray  # bool per cell: outdoor, at the location probability
    served: np.ndarray  # bool per cell: the median signal reaches the threshold (users load and are served)
    covered_indoor: np.ndarray  # uint8 per cell: percent of indoor users covered (low/high-loss buildings)
    tput_mbps: np.ndarray  # float32 per cell: busy-hour flow throughput on the serving band (0: none)
    rsrp_dbm: np.ndarray | None
    server: np.ndarray | None  # row of the whole sectors table, −1 none
    sinr_db: np.ndarray | None
    sector_stats: pd.DataFrame  # index: rows of the sectors table
    load: list[dict[str, Any]] = field(default_factory=list)  # one row per band
    validity: list[dict[str, Any]] = field(default_factory=list)


def eligible_users(counts: np.ndarray, subs_per_person: Any, uptake_5g: float, tech: str,
                   covered_5g: np.ndarray | None) -> np.ndarray:
    """Subscribers per cell who would use ``tech`` (float32; no grid-sized float64 temporaries when
    ``subs_per_person`` is a number): 5G the 5G uptake of them; 4G everyone else, and the 5G users
    outside their operator's 5G (``covered_5g``: served by it)."""
    out = np.empty(counts.size, dtype=np.float32)
    k = subs_per_person * uptake_5g if tech == "5G" else subs_per_person
    np.multiply(counts, k, out=out, casting="same_kind")
    if tech != "5G" and covered_5g is not None:
        out[covered_5g.reshape(-1)] *= np.float32(1.0 - uptake_5g)
    return out


def layer_users(sub_pp: Any, uptake_5g: float, tech: str, covered_5g: np.ndarray | None) -> CellUsers:
    """The users a layer's speed means are over, as :func:`eligible_users` loads them: 5G, the
    uptake share of the subscribers; 4G, everyone else plus the 5G users outside their
    operator's 5G (all subscribers where it has none)."""
    if tech == "5G":
        return CellUsers(sub_pp * uptake_5g)
    return CellUsers(sub_pp, None if covered_5g is None else covered_5g.reshape(-1), 1.0 - uptake_5g)


def _peak(sinr: np.ndarray, prof: radio.TechProfile, opts: ServeOptions) -> np.ndarray:
    return radio.peak_rate_mbps(sinr, bandwidth_mhz=prof.bandwidth_mhz, max_layers=prof.mimo_layers,
                                alpha=prof.shannon_alpha, sinr_min_db=prof.sinr_min_db,
                                max_se_bps_hz=prof.max_se_bps_hz, overhead=prof.overhead, dl_share=prof.dl_share,
                                rank_thresholds_db=opts.rank_sinr_db)


def _margin(prof: radio.TechProfile, p: float, extra_sigma_db: float = 0.0) -> float:
    return radio.location_margin_db(p, math.hypot(prof.shadow_sigma_db, extra_sigma_db))


def urban_profile(prof: radio.TechProfile, opts: ServeOptions, urban: np.ndarray | None) -> radio.TechProfile | None:
    """The profile of a carrier's urban cells: its TR 38.901 RMa becomes ``opts.urban_model``
    (UMa by default); ``None`` when there are no urban cells, no urban model, or the carrier
    uses another model (kept everywhere)."""
    if urban is None or not opts.urban_model or prof.model != "38901_rma" or not urban.any():
        return None
    return replace(prof, model=opts.urban_model)


def _envs(prof: radio.TechProfile, uprof: radio.TechProfile | None,
          urban: np.ndarray | None) -> list[tuple[radio.TechProfile, np.ndarray | None]]:
    """(profile, flat mask of its cells or None = all) per environment of a carrier."""
    if uprof is None or urban is None:
        return [(prof, None)]
    u = urban.reshape(-1)
    return [(prof, ~u), (uprof, u)]


def _covered(rsrp: np.ndarray, prof: radio.TechProfile, uprof: radio.TechProfile | None,
             urban: np.ndarray | None, p: float) -> np.ndarray:
    """RSRP − z·σ ≥ threshold per cell, σ of the cell's model (TR 38.901 Table 7.4.1-1)."""
    with np.errstate(invalid="ignore"):
        out = rsrp >= prof.rsrp_threshold_dbm + _margin(prof, p)
        if uprof is not None and urban is not None:
            u = urban.reshape(-1)
            out[u] = rsrp[u] >= uprof.rsrp_threshold_dbm + _margin(uprof, p)
    return out


def _indoor(rsrp: np.ndarray, prof: radio.TechProfile, opts: ServeOptions) -> np.ndarray:
    """Percent of indoor users covered per cell (uint8): Σ over building kinds of 100 × share ×
    1(indoor RSRP − z·√(σ_SF² + σ_P²) ≥ threshold) (TR 38.901 §7.4.3.1)."""
    high = opts.high_loss_share_rural if prof.model == "38901_rma" else opts.high_loss_share_urban
    out = np.zeros(rsrp.shape, dtype=np.uint8)
    for kind, share in (("low", 1.0 - high), ("high", high)):
        if share <= 0:
            continue
        loss = float(radio.o2i_loss_db(prof.freq_mhz, kind=kind, model=prof.model))
        m = _margin(prof, opts.location_probability, radio.O2I_SIGMA_DB[kind])
        with np.errstate(invalid="ignore"):
            out += np.uint8(round(100 * share)) * (rsrp >= prof.rsrp_threshold_dbm + loss + m).astype(np.uint8)
    return out


def _indoor_cells(rsrp: np.ndarray, prof: radio.TechProfile, uprof: radio.TechProfile | None,
                  urban: np.ndarray | None, opts: ServeOptions) -> np.ndarray:
    out = _indoor(rsrp, prof, opts)
    if uprof is not None and urban is not None:
        u = urban.reshape(-1)
        out[u] = _indoor(rsrp[u], uprof, opts)
    return out


_CHUNK = 1 << 21  # cells per chunk of the validity test (bounds its temporaries: ~60 B per cell)


def _validity(carrier: pd.DataFrame, srv: np.ndarray, cells: np.ndarray, grid: Grid,
              prof: radio.TechProfile, counts: np.ndarray) -> dict[str, Any]:
    """Covered cells (and people) whose serving sector is outside the path-loss model's validity."""
    t = grid.transform
    xs, ys, hs = (carrier[c].to_numpy(float) for c in ("x", "y", "height_m"))
    n_bad, people = 0, 0.0
    for a in range(0, cells.size, _CHUNK):
        part = cells[a:a + _CHUNK]
        s = srv[part]
        row, col = np.divmod(part, grid.width)
        sx, sy = xs[s], ys[s]
        kx, ky = _eng.metres_per_degree(sy) if grid.crs.is_geographic else (1.0, 1.0)
        d = np.hypot((t.c + t.a * (col + 0.5) - sx) * kx, (t.f + t.e * (row + 0.5) - sy) * ky)
        h = hs[s]
        bad = np.zeros(part.size, dtype=bool)
        for hv in np.unique(h):
            sel = h == hv
            bad[sel] = radio.outside_validity(d[sel], model=prof.model, freq_mhz=prof.freq_mhz, h_bs_m=float(hv),
                                              h_ut_m=prof.ue_height_m, los=prof.los)
        n_bad += int(bad.sum())
        people += float(counts[part[bad]].sum())
    return {"operator": prof.operator, "technology": prof.technology, "band": prof.band, "model": prof.model,
            "cells_covered": int(cells.size), "cells_outside_validity": n_bad, "people_outside_validity": people}


def _run_bands(bands: list[tuple[pd.DataFrame, radio.TechProfile]], grid: Grid, engine_kw: dict[str, Any],
               eta: list[np.ndarray | None], plans: list[dict[str, Any]],
               outs: list[Any] | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    return [_eng.run_carrier(c.reset_index(drop=True), grid, prof, utilisation=e, plans=pl,
                             out=None if outs is None else outs[k], urban_prof=up, **_band_kw(engine_kw, up, prof))
            for k, ((c, prof), e, pl, up) in enumerate(zip(bands, eta, plans, engine_kw["uprofs"], strict=True))]


def _band_kw(engine_kw: dict[str, Any], uprof: radio.TechProfile | None, prof: radio.TechProfile) -> dict[str, Any]:
    """The engine's keywords for one band: its clutter loss (``engine_kw["clutter"]``, one
    array or one per band name); where its urban cells use the urban model (``uprof``), the
    clutter loss of those cells is ``engine_kw["clutter_urban"]`` (built-up clutter at 0 dB:
    UMa includes it, :func:`ictplan.radio.clutter.clutter_in_urban_model`)."""
    kw = {k: v for k, v in engine_kw.items() if k not in ("out", "uprofs", "clutter_urban")}
    if uprof is not None and engine_kw.get("clutter_urban") is not None:
        kw["clutter"] = engine_kw["clutter_urban"]
    if isinstance(kw.get("clutter"), Mapping):
        kw["clutter"] = kw["clutter"][prof.band]
    return kw


def _first_pass(bands: list[tuple[pd.DataFrame, radio.TechProfile]], grid: Grid, engine_kw: dict[str, Any],
                opts: ServeOptions) -> tuple[list[Any], list[_eng.Interference] | None, list[dict[str, Any]]]:
    """The engine once per band at the profiles' load factor; with load iterations and
    ``load_interferers`` > 0, also the interference split that later passes reuse."""
    plans: list[dict[str, Any]] = [{} for _ in bands]
    if opts.load_iterations > 0 and opts.load_interferers > 0:
        tracked = [_eng.run_carrier_tracked(c.reset_index(drop=True), grid, prof, interferers=opts.load_interferers,
                                            urban_prof=up, **_band_kw(engine_kw, up, prof))
                   for (c, prof), up in zip(bands, engine_kw["uprofs"], strict=True)]
        return [t[:3] for t in tracked], [t[3] for t in tracked], plans
    return _run_bands(bands, grid, engine_kw, [None] * len(bands), plans), None, plans


def _cells_index(mask: np.ndarray) -> np.ndarray:
    """Flat indices of the true cells, int32 where the grid allows (half the memory of int64)."""
    idx = np.flatnonzero(mask)
    return idx.astype(np.int32) if mask.size < 2**31 - 1 else idx


def _bands_of_cells(bands: list[tuple[pd.DataFrame, radio.TechProfile]], runs: list[Any], served: np.ndarray,
                    opts: ServeOptions) -> list[np.ndarray]:
    """The served cells of each band: each on the band with the highest peak rate."""
    if len(bands) == 1:
        return [_cells_index(served)]
    peaks = [np.where(r[0].reshape(-1) >= p.rsrp_threshold_dbm, _peak(r[2].reshape(-1), p, opts), np.float32(-1))
             for r, (_, p) in zip(runs, bands, strict=True)]
    assign = np.argmax(np.stack(peaks), axis=0)
    del peaks
    return [_cells_index(served & (assign == k)) for k in range(len(bands))]


@dataclass
class _Passes:
    """One band's served cells, gathered once for the load passes: RSRP, server, users and the
    SINR at the current utilisations; ``inter`` the interference split (over these cells only
    when ``compact``), ``None`` when passes rerun the engine."""

    cells: np.ndarray
    rsrp: np.ndarray
    server: np.ndarray
    users: np.ndarray
    sinr: np.ndarray
    inter: _eng.Interference | None
    compact: bool

    def resinr(self, eta: np.ndarray) -> None:
        assert self.inter is not None
        self.sinr = self.inter.sinr_db(self.rsrp, None if self.compact else self.cells, eta)


def _gather(run: list[Any], cells: np.ndarray, eligible: np.ndarray, inter: _eng.Interference | None,
            compact: bool) -> _Passes:
    """The served cells' data for the load passes; with ``compact`` the grid-sized SINR and
    interference split are dropped (the split shrunk in place onto the cells)."""
    v = _Passes(cells=cells, rsrp=run[0].reshape(-1)[cells], server=run[1].reshape(-1)[cells],
                users=np.asarray(eligible[cells], dtype=np.float64), sinr=run[2].reshape(-1)[cells],
                inter=inter, compact=compact)
    if compact and inter is not None:
        run[2] = None  # the SINR raster is not kept: the passes' own SINR is enough
        inter.compact(cells)
    return v


def _fixed_point(bands: list[tuple[pd.DataFrame, radio.TechProfile]], passes: list[_Passes], opts: ServeOptions,
                 rerun: Any) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray], int, float, list[float]]:
    """The damped load fixed point η = F(η) = clip(ρ(η), min_utilisation, 1) of a technology's bands.

    Each pass computes, at the interference weights ``η``, the SINR of the served cells, the
    processor-sharing utilisation ``ρ(η)`` per sector and the residual ``max |F(η) − η|``; it
    stops when the residual is below ``load_tolerance`` (converged) or after
    ``load_iterations`` updates ``η ← (1 − α)·η + α·F(η)`` (α = ``load_damping``).

    The iteration starts from the floor ``η = min_utilisation`` of every sector. ``F`` is
    monotone (more neighbour load → more interference → lower SINR and peak rate → higher ρ)
    and ``F(η) ≥ min_utilisation``, so from the floor every iterate, damped or not, rises
    monotonically to the least fixed point (no oscillation; Siomina & Yuan 2012 show the
    load-coupling fixed point is unique for SINR-based load). A uniform start at the
    profiles' ``load_factor`` (0.5) put some sectors above their fixed point and others
    below, and 3 plain passes left changes of 0.17–0.23 on the national bench's 4G.
    Returns the throughputs and ρ at the final ``η``, ``η``, the updates made, the last
    residual and the residual of every pass."""
    if opts.load_iterations > 0:  # from the floor: the iterates rise monotonically to the least fixed point
        eta = [np.full(len(c), opts.min_utilisation) for c, _ in bands]
        rerun(eta)
    else:  # no load coupling: every sector at its profile's load factor (the engine's first pass)
        eta = [np.full(len(c), p.load_factor) for c, p in bands]
    alpha = opts.load_damping
    it, history = 0, []
    while True:
        tputs, rhos = [], []
        for v, (c, p) in zip(passes, bands, strict=True):
            t, rho = _demand.processor_sharing(_peak(v.sinr, p, opts), v.users, v.server, len(c), opts.mbps_per_user)
            tputs.append(t)
            rhos.append(rho)
        new = [_demand.utilisation_step(rho, min_utilisation=opts.min_utilisation) for rho in rhos]
        delta = max((float(np.abs(a - b).max(initial=0.0)) for a, b in zip(new, eta, strict=True)), default=0.0)
        history.append(round(delta, 4))
        if it >= opts.load_iterations or delta < opts.load_tolerance:
            return tputs, rhos, eta, it, delta, history
        eta = [(1.0 - alpha) * e + alpha * n for e, n in zip(eta, new, strict=True)]
        it += 1
        rerun(eta)


def serve(bands: list[tuple[pd.DataFrame, radio.TechProfile]], grid: Grid, counts: np.ndarray,
          eligible_users: np.ndarray, opts: ServeOptions, *, engine_kw: dict[str, Any],
          keep_rasters: bool) -> TechServed:
    """Coverage, load and throughput of one operator × technology (its bands).

    ``eligible_users`` (per cell) are the subscribers who would use this technology where it
    covers them; ``counts`` the people per cell (for the validity counts).

    Load passes (:func:`_fixed_point`, damped): the engine runs once (path loss, RSRP, best
    server); each load pass then recomputes only the SINR of the served cells from the stored
    interference split (:class:`ictplan.engine.Interference`, ``opts.load_interferers``
    strongest interferers exact, the rest at the carrier's mean utilisation), gathered onto the
    served cells when rasters are not kept (the grid-sized split is then freed).
    ``load_interferers = 0`` reruns the whole engine per pass instead (exact, slow).
    """
    urban = engine_kw.get("urban")
    engine_kw = {**engine_kw, "uprofs": [urban_profile(p, opts, urban) for _, p in bands]}
    runs, inters, plans = _first_pass(bands, grid, engine_kw, opts)
    runs = [list(r) for r in runs]
    # served (load, speed): the median signal reaches the threshold; covered (reported): at the
    # location probability, RSRP − z·σ ≥ threshold (σ of the cell's model)
    covered = np.logical_or.reduce([_covered(r[0].reshape(-1), p, up, urban, opts.location_probability)
                                    for r, (_, p), up in zip(runs, bands, engine_kw["uprofs"], strict=True)])
    served = np.logical_or.reduce([r[0].reshape(-1) >= p.rsrp_threshold_dbm for r, (_, p) in zip(runs, bands, strict=True)])
    cells_b = _bands_of_cells(bands, runs, served, opts)
    compact = inters is not None and not keep_rasters
    passes = [_gather(r, cells, eligible_users, None if inters is None else inters[k], compact)
              for k, (r, cells) in enumerate(zip(runs, cells_b, strict=True))]
    if compact:  # the split now lives in the passes, on the served cells only
        inters = None

    rerun = functools.partial(_rerun, passes, bands, grid, engine_kw, plans, runs)
    tputs, rhos, eta, it, delta, history = _fixed_point(bands, passes, opts, rerun)
    if inters is not None and opts.load_iterations > 0:  # the passes reran from the floor, even with no update
        _update_sinr_rasters(runs, inters, cells_b, [v.sinr for v in passes], eta, keep_rasters=keep_rasters)
    del inters, passes, rerun  # the served cells' gathered data
    out = _assemble(bands, runs, cells_b, tputs, rhos, eta, covered, served, counts, eligible_users, grid, opts,
                    keep_rasters=keep_rasters, iterations=it, delta=delta, urban=urban, uprofs=engine_kw["uprofs"])
    for row in out.load:
        row["load_deltas"] = history
        row["damping"] = opts.load_damping
    return out


def _rerun(passes: list[_Passes], bands: list[tuple[pd.DataFrame, radio.TechProfile]], grid: Grid,
           engine_kw: dict[str, Any], plans: list[dict[str, Any]], runs: list[Any], eta: list[np.ndarray]) -> None:
    """The served cells' SINR at new utilisations ``eta``."""
    if passes and passes[0].inter is not None:  # interference only: no path loss, no engine
        for v, e in zip(passes, eta, strict=True):
            v.resinr(e)
    else:  # rerun into the same buffers: RSRP and server come out the same, the SINR changes
        _run_bands(bands, grid, {**engine_kw, "out": None}, list(eta), plans, outs=runs)
        for v, r in zip(passes, runs, strict=True):
            v.sinr = r[2].reshape(-1)[v.cells]


def _update_sinr_rasters(runs: list[Any], inters: list[_eng.Interference], cells_b: list[np.ndarray],
                         sinr_c: list[np.ndarray], eta: list[np.ndarray], *, keep_rasters: bool) -> None:
    """The SINR rasters at the final utilisations: the served cells from the load pass; with
    rasters kept, every other cell with a signal too."""
    for r, inter, cells, s, e in zip(runs, inters, cells_b, sinr_c, eta, strict=True):
        flat = r[2].reshape(-1)
        flat[cells] = s
        if keep_rasters:
            rest = np.flatnonzero(r[1].reshape(-1) >= 0)
            rest = np.setdiff1d(rest, cells, assume_unique=True)
            flat[rest] = inter.sinr_db(r[0].reshape(-1)[rest], rest, e)


def _sector_sums(srv: np.ndarray, values: np.ndarray, cells: np.ndarray, n: int) -> np.ndarray:
    """Σ of ``values`` over the ``cells`` each sector serves, in chunks (no grid-sized gathers)."""
    out = np.zeros(n)
    for a in range(0, cells.size, _CHUNK):
        part = cells[a:a + _CHUNK]
        out += np.bincount(srv[part], weights=values[part], minlength=n)
    return out


def _assemble(bands: list[tuple[pd.DataFrame, radio.TechProfile]], runs: list[Any], cells_b: list[np.ndarray],
              tputs: list[np.ndarray], rhos: list[np.ndarray], eta: list[Any], covered: np.ndarray,
              served_mask: np.ndarray, counts: np.ndarray, eligible: np.ndarray, grid: Grid, opts: ServeOptions, *, keep_rasters: bool,
              iterations: int, delta: float, urban: np.ndarray | None,
              uprofs: list[radio.TechProfile | None]) -> TechServed:
    n = counts.size
    tput = np.zeros(n, dtype=np.float32)
    indoor = np.zeros(n, dtype=np.uint8)
    rsrp_best = server = sinr_best = None
    if keep_rasters:  # the strongest band's rasters, the serving band's where covered
        allr = np.stack([np.nan_to_num(r[0].reshape(-1), nan=-np.inf) for r in runs])
        top = np.argmax(allr, axis=0)
        pick = np.arange(n)
        rsrp_best = np.stack([r[0].reshape(-1) for r in runs])[top, pick]
        server = np.stack([np.where(r[1].reshape(-1) >= 0, c.index.to_numpy()[r[1].reshape(-1)], -1)
                           for r, (c, _) in zip(runs, bands, strict=True)]).astype(np.int32)[top, pick]
        sinr_best = np.stack([r[2].reshape(-1) for r in runs])[top, pick]
        del allr, top, pick
    stats, load, validity = [], [], []
    for k, ((c, p), r) in enumerate(zip(bands, runs, strict=True)):
        cells = cells_b[k]
        tput[cells] = tputs[k]
        rsrp = r[0].reshape(-1)
        np.maximum(indoor, _indoor_cells(rsrp, p, uprofs[k], urban, opts), out=indoor)
        srv = r[1].reshape(-1)
        rows = c.index.to_numpy()
        if keep_rasters:
            assert rsrp_best is not None and server is not None and sinr_best is not None
            rsrp_best[cells], server[cells], sinr_best[cells] = rsrp[cells], rows[srv[cells]], r[2].reshape(-1)[cells]
        users = _sector_sums(srv, eligible, cells, len(c))
        served = _sector_sums(srv, counts, cells, len(c))
        rho = rhos[k]
        stats.append(pd.DataFrame({"pop_served": served, "users": users, "utilisation": rho, "congested": rho >= 1.0},
                                  index=rows))
        cong = rho >= 1.0
        load.append({"operator": p.operator, "technology": p.technology, "band": p.band, "sectors": len(c),
                     "congested_sectors": int(cong.sum()), "users": float(users.sum()),
                     "users_congested": float(users[cong].sum()), "mean_utilisation": float(rho[users > 0].mean())
                     if (users > 0).any() else 0.0, "load_iterations": iterations, "last_change": delta,
                     "converged": bool(delta < opts.load_tolerance), "mbps_per_user": opts.mbps_per_user})
        for prof, mask in _envs(p, uprofs[k], urban):
            validity.append(_validity(c, srv, cells if mask is None else cells[mask[cells]], grid, prof, counts))
    shape = grid.shape
    return TechServed(covered=covered.reshape(shape), served=served_mask.reshape(shape),
                      covered_indoor=indoor.reshape(shape),
                      tput_mbps=tput.reshape(shape), rsrp_dbm=None if rsrp_best is None else rsrp_best.reshape(shape),
                      server=None if server is None else server.reshape(shape),
                      sinr_db=None if sinr_best is None else sinr_best.reshape(shape),
                      sector_stats=pd.concat(stats), load=load, validity=validity)


_CONVERGENCE_KEYS = ("operator", "technology", "band", "load_iterations", "last_change", "converged", "damping")


def load_convergence(load: pd.DataFrame, /, *, tolerance: float, max_iterations: int) -> list[dict[str, Any]]:
    """One record per carrier of the load fixed point: the updates made (``load_iterations``),
    the last residual ``max |clip(ρ(η)) − η|`` (``last_change``), ``converged`` (residual <
    ``tolerance``), the damping α, and the bounds it ran under."""
    cols = [c for c in _CONVERGENCE_KEYS if c in load.columns]
    out = []
    for rec in load[cols].to_dict("records"):
        rec.update(tolerance=tolerance, max_iterations=max_iterations)
        out.append({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()})
    return out


def convergence_lines(records: list[dict[str, Any]], /) -> list[str]:
    """Human-readable lines (for the CLI) of :func:`load_convergence` records."""
    lines = []
    for r in records:
        state = "converged" if r.get("converged") else "NOT converged"
        lines.append(f"  {r['technology']:<3} {r['operator']:<10} {r['band']:<4} load fixed point: "
                     f"{int(r['load_iterations'])} of ≤ {int(r['max_iterations'])} damped updates (α = {r.get('damping', 1.0):g}), "
                     f"last change {float(r['last_change']):.3f} (tolerance {float(r['tolerance']):g}): {state}")
    return lines
