"""Coverage tables: people covered (outdoor, indoor) and the users' busy-hour speeds per zone.

Split from :mod:`ictplan.coverage` (which re-exports :func:`population_covered`).

Definitions (one row per level × zone × technology × operator):

* ``pop_covered`` / ``pct_covered``: people in cells where the operator's best carrier
  of the technology is received at ``RSRP − z·σ ≥ threshold`` (outdoor, at the result's
  location probability). For operator ``"any"``: covered by at least one operator (the
  regulator's and ITU's "population covered").
* ``pop_covered_indoor`` / ``pct_covered_indoor``: the same for people indoors (TR 38.901
  O2I loss, low- and high-loss buildings by their share; never above outdoor).
* ``users``: the operator's subscribers of the technology (people × subscribers per person
  × market share × 5G uptake for 5G, × (1 − uptake) for 4G).
* ``mean_user_mbps``: the mean busy-hour download speed of those users on their own
  operator's network, **over all of them**: a user where the network does not cover
  them counts with 0 Mb/s. ``pct_users_ge_target``: the share of them at ≥ the target;
  ``p10_user_mbps``: their 10th percentile (province rows only). For ``"any"``: the subscriber-weighted mean
  (share) over the operators, and the 10th percentile of all their users together.
* ``mean_tput_mbps``, ``pop_ge_target``, ``pct_ge_target``: per-cell figures of the
  layer over the covered people; for ``"any"`` they are the **best-operator** figures
  (the fastest operator in each cell, as if everyone could use it): shown for
  reference, never used to judge a target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import zones as _zones
from ._errors import InputValidationError
from .grid import OUTSIDE_ZONES, Grid, Population

if TYPE_CHECKING:  # pragma: no cover
    from .coverage import CoverageLayer, CoverageResult

__all__ = ["population_covered", "zone_quantile", "weighted_quantile"]

ZoneInput: TypeAlias = gpd.GeoDataFrame | _zones.ZoneWeights
_ANY = "any"


def population_covered(
    result: CoverageResult,
    population: Population,
    zones: Mapping[str, ZoneInput],
    /,
    *,
    method: Literal["exact", "centre"] = "exact",
    weights: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Population covered and users' speeds per zone × technology × operator (and ``"any"``).

    Parameters
    ----------
    result
        Output of :func:`ictplan.coverage.compute`.
    population
        People per cell, on ``result.grid``.
    zones
        Zone layers by level name, e.g. ``{"communes": ..., "districts": ..., "hamlets":
        ...}``: polygons (any CRS; weights built with :func:`ictplan.zones.build`, overlaps
        resolved) or prebuilt :class:`ictplan.zones.ZoneWeights`. The first level also
        defines the ``province`` row: the sum of its zone rows.
    method
        ``"exact"`` cell fractions (default) or ``"centre"`` rule.
    weights
        Prebuilt :class:`~ictplan.zones.ZoneWeights` by level (reused across runs).

    Returns
    -------
    pandas.DataFrame
        ``level, zone_code, zone_name, technology, operator, population, pop_covered,
        pct_covered, mean_tput_mbps, pop_ge_target, pct_ge_target, target_mbps,
        pop_covered_indoor, pct_covered_indoor, users, mean_user_mbps,
        pct_users_ge_target, p10_user_mbps`` (defined in this module's docstring). Every
        level has an ``"(outside zones)"`` row; a level's rows plus it sum to the grid
        total.

    Raises
    ------
    InputValidationError
        The population is on another grid than the result, or no zone layer is given.
    NoDataInBoundsError
        A zone layer does not overlap the grid.
    """
    if population.grid.shape != result.grid.shape or population.grid.transform != result.grid.transform:
        raise InputValidationError("the population is not on the coverage result's grid; use the same raster.")
    if not zones:
        raise InputValidationError("no zone layers given; pass e.g. {'communes': communes_gdf}.")
    pop = np.asarray(population.counts, dtype=np.float64).reshape(-1)  # no copy when already float64
    built = {level: _as_weights(level, z, (weights or {}).get(level), result.grid, method, population)
             for level, z in zones.items()}
    first_sums: dict[Any, np.ndarray] = {}
    frames = [_level_table(level, zw.codes.tolist(), zw.names.tolist(), zw.matrix, zw.outside, pop, result,
                           first_sums=first_sums if k == 0 else None)
              for k, (level, zw) in enumerate(built.items())]
    first = next(iter(built.values()))  # the province = the sum of the first level's zones
    frames.append(_level_table("province", ["province"], ["province"], None, first.outside, pop, result,
                               province_from=first_sums))
    return pd.concat(frames, ignore_index=True)


def _as_weights(level: str, zones: ZoneInput, prebuilt: Any, grid: Grid, method: str,
                population: Population) -> _zones.ZoneWeights:
    if isinstance(prebuilt, _zones.ZoneWeights):
        return prebuilt
    if isinstance(zones, _zones.ZoneWeights):
        return zones
    return _zones.build(zones, grid, level=level, method=method, population=population)


def _coo(w: Any, w_out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(row, cell, weight) triplets of a level's zones and its outside row (or of one dense zone)."""
    oc = np.flatnonzero(w_out > 0)
    if w is None:
        return np.zeros(oc.size, dtype=np.int64), oc, w_out[oc], 1
    m = sp.coo_matrix(w)
    n = m.shape[0]
    return (np.concatenate([m.row.astype(np.int64), np.full(oc.size, n, dtype=np.int64)]),
            np.concatenate([m.col.astype(np.int64), oc]), np.concatenate([m.data, w_out[oc]]), n + 1)


def zone_quantile(triplets: tuple[np.ndarray, np.ndarray, np.ndarray, int],
                  parts: list[tuple[np.ndarray, np.ndarray]], q: float) -> np.ndarray:
    """Weighted ``q``-quantile per zone of per-cell values.

    ``triplets`` = (zone row, cell, zone weight of the cell, number of zones); ``parts`` =
    [(value per cell, weight per cell)], pooled. The quantile of a zone is the smallest
    value whose cumulative weight reaches ``q`` of the zone's total (NaN: no weight).
    """
    rows, cells, wz, nz = triplets
    r_all, v_all, w_all = [], [], []
    for val, wt in parts:
        w = wz * wt[cells]
        keep = w > 0
        r_all.append(rows[keep])
        v_all.append(val[cells[keep]])
        w_all.append(w[keep])
    r, v, w = np.concatenate(r_all), np.concatenate(v_all).astype(np.float64), np.concatenate(w_all)
    out = np.full(nz, np.nan)
    if r.size == 0:
        return out
    order = np.lexsort((v, r))
    r, v, w = r[order], v[order], w[order]
    total = np.bincount(r, weights=w, minlength=nz)
    cw = np.cumsum(w)
    before = np.concatenate([[0.0], np.cumsum(total)])[:-1]
    within = cw - before[r]
    hit = np.flatnonzero(within >= q * total[r] * (1 - 1e-12))
    zs, first = np.unique(r[hit], return_index=True)
    out[zs] = v[hit[first]]
    return out


_CHUNK = 1 << 18  # cells per streamed chunk of the zone sums and quantiles (bounds their temporaries)
_QBINS = 4096  # histogram bins per refinement of the weighted quantile
_QGATHER = 1 << 20  # a quantile's bin with at most this many values is sorted directly


def _edges(n: int) -> list[tuple[int, int]]:
    return [(a, min(a + _CHUNK, n)) for a in range(0, n, _CHUNK)] or [(0, 0)]


def _part_weight(w: Any, sl: slice) -> np.ndarray:
    """A quantile part's weights over ``sl``: an array, or a function of the slice."""
    return np.asarray(w(sl) if callable(w) else w[sl], dtype=np.float64)


def weighted_quantile(parts: list[tuple[np.ndarray, Any]], q: float) -> float:
    """Weighted ``q``-quantile of pooled per-cell values: the smallest value ``v`` with
    ``Σ weight·1(value ≤ v) ≥ q·Σ weight`` (NaN: no weight).

    ``parts`` = [(values, weights)]; weights are an array like the values or a function of a
    slice giving them (so no grid-sized weight array is built). Streamed in chunks: a
    weighted histogram of the values (:data:`_QBINS` bins) finds the bin holding the
    quantile, refined the same way inside that bin until it holds few values, which are
    then sorted: exact, a few passes over the data, no sort or copy of the national arrays.
    """
    parts = [(np.asarray(v).reshape(-1), w) for v, w in parts if np.asarray(v).size]
    levels: list[tuple[float, float, int]] = []  # (lo, hi, bin) of each refinement

    def chunks() -> Any:  # (values, weights) of the cells inside every refined bin, weight > 0
        for v, w in parts:
            for a, b in _edges(v.size):
                vv, ww = v[a:b].astype(np.float64), _part_weight(w, slice(a, b))
                keep = ww > 0
                for lo, hi, k in levels:
                    keep &= _bin(vv, lo, hi) == k
                yield vv[keep], ww[keep]

    total, lo, hi, count = 0.0, np.inf, -np.inf, 0
    for vv, ww in chunks():
        total += float(ww.sum())
        count += vv.size
        if vv.size:
            lo, hi = min(lo, float(vv.min())), max(hi, float(vv.max()))
    if count == 0 or total <= 0:
        return float("nan")
    target, below = q * total * (1 - 1e-12), 0.0
    while count > _QGATHER and hi > lo:
        hist = np.zeros(_QBINS)
        for vv, ww in chunks():
            hist += np.bincount(_bin(vv, lo, hi), weights=ww, minlength=_QBINS)
        cum = below + np.cumsum(hist)
        k = min(int(np.searchsorted(cum, target)), _QBINS - 1)
        below = cum[k - 1] if k > 0 else below
        levels.append((lo, hi, k))
        width = (hi - lo) / _QBINS
        lo, hi, count = lo + k * width, lo + (k + 1) * width, 0
        vmin, vmax = np.inf, -np.inf
        for vv, _ in chunks():
            count += vv.size
            if vv.size:
                vmin, vmax = min(vmin, float(vv.min())), max(vmax, float(vv.max()))
        lo, hi = vmin, vmax
    if hi <= lo:  # every value left in the quantile's bin is the same
        return float(lo)
    got = list(chunks())
    sv = np.concatenate([g[0] for g in got])
    sw = np.concatenate([g[1] for g in got])
    o = np.argsort(sv, kind="stable")
    cum = below + np.cumsum(sw[o])
    return float(sv[o][min(int(np.searchsorted(cum, target)), sv.size - 1)])


def _bin(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Histogram bin of each value in [lo, hi] (the last bin closed)."""
    if hi <= lo:
        return np.zeros(v.size, dtype=np.int64)
    return np.clip(((v - lo) / (hi - lo) * _QBINS).astype(np.int64), 0, _QBINS - 1)  # no overflow for tiny hi − lo


class _Streamed:
    """A level's zone sums streamed over chunks of cells.

    ``w`` (zones × cells, CSR) and ``out`` (each cell's share outside the zones) give the zone
    rows and the ``"(outside zones)"`` row (the province row is summed from the first level's
    zone rows, :func:`_level_table`). :meth:`sums` evaluates many
    per-cell quantities over one chunk at a time (no grid-sized temporaries); each chunk's
    weights are cut from the CSR rows by their (sorted) cell indices.
    """

    def __init__(self, w: Any, out: np.ndarray) -> None:
        self.out = out
        self.n = out.size
        self.edges = _edges(self.n)
        self.w = w if w.has_sorted_indices else w.sorted_indices()
        ip, idx = self.w.indptr, self.w.indices
        cuts = np.array([a for a, _ in self.edges] + [self.n])
        self.lo = (np.stack([ip[z] + np.searchsorted(idx[ip[z]:ip[z + 1]], cuts) for z in range(self.w.shape[0])])
                   if self.w.shape[0] else np.zeros((0, cuts.size), dtype=np.int64))

    def _chunk_weights(self, j: int) -> sp.csr_matrix:
        a, b = self.edges[j]
        starts, lens = self.lo[:, j], self.lo[:, j + 1] - self.lo[:, j]
        ends = np.cumsum(lens)
        pos = np.repeat(starts - (ends - lens), lens) + np.arange(int(ends[-1]) if ends.size else 0)
        return sp.csr_matrix((self.w.data[pos], self.w.indices[pos] - a, np.concatenate([[0], ends])),
                             shape=(self.w.shape[0], b - a))

    def sums(self, fn: Any) -> np.ndarray:
        """``fn(slice)`` → (cells of the slice × K) float64; returns (rows × K) weighted sums."""
        acc: np.ndarray | None = None
        for j, (a, b) in enumerate(self.edges):
            qv = np.asarray(fn(slice(a, b)), dtype=np.float64)
            part = np.vstack([self._chunk_weights(j) @ qv, (self.out[a:b] @ qv)[None, :]])
            acc = part if acc is None else acc + part
        assert acc is not None
        return acc


_CHUNK = 262_144  # cells per chunk when a whole-grid total is streamed


@dataclass(frozen=True)
class CellUsers:
    """A layer's users per person, per cell: ``base`` (a number, or one per cell) times
    ``factor`` in the ``mask`` cells (bool per cell) and times 1 elsewhere. A 4G layer's users
    are every subscriber, but only ``1 − 5G uptake`` of them where the operator's 5G serves
    (its 5G users are on 5G there): ``CellUsers(subs, served_5g, 1 − uptake)``. Kept as a mask
    and a number, not a grid-sized float array."""

    base: Any
    mask: np.ndarray | None = None
    factor: float = 1.0

    def at(self, sl: slice) -> Any:
        """Users per person over the cells ``sl`` (a number when nothing varies)."""
        b = self.base if np.ndim(self.base) == 0 else self.base[sl]
        return b if self.mask is None else b * np.where(self.mask[sl], self.factor, 1.0)

    def total(self, pop: np.ndarray) -> float:
        """Σ people × users per person over the grid (streamed)."""
        return float(sum(float(np.sum(pop[i:i + _CHUNK] * self.at(slice(i, i + _CHUNK))))
                         for i in range(0, pop.size, _CHUNK)))


def _upp(lay: CoverageLayer) -> CellUsers:
    """Users per person of a layer as :class:`CellUsers` (flat arrays)."""
    u = lay.users_per_person
    if isinstance(u, CellUsers):
        base = u.base if np.ndim(u.base) == 0 else np.asarray(u.base, dtype=np.float64).reshape(-1)
        return CellUsers(base, None if u.mask is None else np.asarray(u.mask, bool).reshape(-1), float(u.factor))
    u = 0.0 if u is None else u
    return CellUsers(float(u) if np.ndim(u) == 0 else np.asarray(u, dtype=np.float64).reshape(-1))


def _layer_fn(lay: CoverageLayer, pop: np.ndarray, upp: Any, by_users: bool) -> Any:
    """Per-cell quantities of one layer over a slice: people, covered people, their speed sum,
    covered at target, indoor covered; for an operator layer also its users, the weight of
    the user means (users, or people when the technology has none) and their speed and
    at-target sums."""
    cov, tp, ind = lay.covered.reshape(-1), lay.tput_mbps.reshape(-1), lay.covered_indoor
    ind = None if ind is None else ind.reshape(-1)

    def fn(sl: slice) -> np.ndarray:
        p, t = pop[sl], tp[sl].astype(np.float64)
        pc = p * cov[sl]
        cols = [p, pc, pc * t, pc * (t >= lay.target_mbps), p * (ind[sl] / 100.0) if ind is not None else 0.0 * p]
        if upp is not None:
            users = p * upp.at(sl)
            uw = users if by_users else p
            cols += [users, uw, uw * t, uw * ((t >= lay.target_mbps) & (t > 0))]
        return np.column_stack(cols)

    return fn


def _level_table(level: str, codes: list[str], names: list[str], w: Any, w_out: np.ndarray,
                 pop: np.ndarray, result: CoverageResult, *, first_sums: dict[Any, np.ndarray] | None = None,
                 province_from: dict[Any, np.ndarray] | None = None) -> pd.DataFrame:
    """Zone rows of one level, then its ``"(outside zones)"`` row: ``w`` sparse (zones ×
    cells), ``w_out`` the leftover share per cell; the zone sums of each layer are stored in
    ``first_sums`` when given. With ``w=None``, the single row is the province, weighted
    ``1 − w_out`` (``w_out`` the first level's leftover): its sums are the first level's zone
    rows summed (``province_from``); only its 10th percentiles stream the cells again."""
    zs = _Streamed(w, w_out) if w is not None else None
    if w is not None:
        codes, names = [*codes, OUTSIDE_ZONES], [*names, OUTSIDE_ZONES]
    rows = []
    ops: dict[str, list[tuple[CoverageLayer, pd.DataFrame]]] = {}
    for (op, tech), lay in sorted(result.layers.items(), key=lambda kv: (kv[0][1], kv[0][0] == _ANY, kv[0][0])):
        upp = None if op == _ANY else _upp(lay)
        by_users = upp is not None and upp.total(pop) > 0
        if zs is not None:
            z = zs.sums(_layer_fn(lay, pop, upp, by_users))
            if first_sums is not None:
                first_sums[(op, tech)] = z
        else:  # the province: the first level's zone rows summed (their weights add up to 1 − w_out)
            assert province_from is not None
            z = province_from[(op, tech)][:-1].sum(axis=0, keepdims=True)
        frame = _layer_rows(lay, z[:, :5])
        if op == _ANY:
            _any_users(frame, ops.get(tech, []), pop, w_out if w is None else None)
        else:
            frame["users"] = z[:, 5]
            uw_z = z[:, 6]
            with np.errstate(invalid="ignore", divide="ignore"):
                frame["mean_user_mbps"] = np.where(uw_z > 0, z[:, 7] / uw_z, np.nan)
                frame["pct_users_ge_target"] = np.where(uw_z > 0, 100.0 * z[:, 8] / uw_z, np.nan)
            frame["p10_user_mbps"] = (weighted_quantile([(lay.tput_mbps, _province_users(pop, upp, w_out))], 0.1)
                                      if w is None else np.nan)  # the province's (per zone would need a sort)
            ops.setdefault(tech, []).append((lay, frame))
        frame.insert(0, "operator", op)
        frame.insert(0, "technology", tech)
        frame.insert(0, "zone_name", names)
        frame.insert(0, "zone_code", codes)
        frame.insert(0, "level", level)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def _province_users(pop: np.ndarray, upp: Any, w_out: np.ndarray) -> Any:
    """The province's users per cell over a slice (a function: no grid-sized array)."""
    def fn(sl: slice) -> np.ndarray:
        return pop[sl] * upp.at(sl) * (1.0 - w_out[sl])

    return fn


def _layer_rows(lay: CoverageLayer, z: np.ndarray) -> pd.DataFrame:
    """The coverage columns of one layer from its zone sums (people, covered, covered speed sum,
    covered at target, indoor covered): the layer's per-cell speed over the covered."""
    pop_z, cov_z, tp_z, ge_z, ind_z = (z[:, k] for k in range(5))
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "population": pop_z, "pop_covered": cov_z,
            "pct_covered": np.where(pop_z > 0, 100.0 * cov_z / pop_z, np.nan),
            "mean_tput_mbps": np.where(cov_z > 0, tp_z / cov_z, np.nan),
            "pop_ge_target": ge_z,
            "pct_ge_target": np.where(pop_z > 0, 100.0 * ge_z / pop_z, np.nan),
            "target_mbps": lay.target_mbps,
            "pop_covered_indoor": ind_z,
            "pct_covered_indoor": np.where(pop_z > 0, 100.0 * ind_z / pop_z, np.nan),
        })


def _any_users(frame: pd.DataFrame, per_op: list[tuple[CoverageLayer, pd.DataFrame]], pop: np.ndarray,
               w_out: np.ndarray | None) -> None:
    """The ``"any"`` rows' user columns: subscriber-weighted over the operators (in place)."""
    users = sum((f["users"].to_numpy() for _, f in per_op), np.zeros(len(frame)))
    frame["users"] = users
    with np.errstate(invalid="ignore", divide="ignore"):
        for col in ("mean_user_mbps", "pct_users_ge_target"):
            num = sum((np.nan_to_num(f[col].to_numpy()) * f["users"].to_numpy() for _, f in per_op),
                      np.zeros(len(frame)))
            frame[col] = np.where(users > 0, num / users, np.nan)
    if w_out is None or not per_op:
        frame["p10_user_mbps"] = np.nan
        return
    parts = [(lay.tput_mbps, _province_users(pop, _upp(lay), w_out)) for lay, _ in per_op]
    frame["p10_user_mbps"] = weighted_quantile(parts, 0.1)
