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
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import zones as _zones
from ._errors import InputValidationError
from .grid import OUTSIDE_ZONES, Grid, Population, zone_sums

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
    pop = population.counts.reshape(-1).astype(np.float64)
    built = {level: _as_weights(level, z, (weights or {}).get(level), result.grid, method, population)
             for level, z in zones.items()}
    frames = [_level_table(level, zw.codes.tolist(), zw.names.tolist(), zw.matrix, zw.outside, pop, result)
              for level, zw in built.items()]
    first = next(iter(built.values()))  # the province = the sum of the first level's zones
    frames.append(_level_table("province", ["province"], ["province"], None, 1.0 - first.outside, pop, result))
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


def weighted_quantile(parts: list[tuple[np.ndarray, np.ndarray]], q: float) -> float:
    """Weighted ``q``-quantile of pooled per-cell values: the smallest value ``v`` with
    ``Σ weight·1(value ≤ v) ≥ q·Σ weight`` (NaN: no weight). Bisection on the value (no
    sort, no copy of the national arrays), then snapped to the data value."""
    parts = [(v, w) for v, w in parts if v.size]
    total = float(sum(w.sum() for _, w in parts))
    if not parts or total <= 0:
        return float("nan")
    target = q * total * (1 - 1e-12)

    def mass(x: float) -> float:
        return float(sum(w[v <= x].sum() for v, w in parts))

    lo = min(float(v[w > 0].min()) for v, w in parts if (w > 0).any())
    hi = max(float(v[w > 0].max()) for v, w in parts if (w > 0).any())
    if mass(lo) >= target:
        return lo
    for _ in range(64):  # invariant: mass(lo) < target ≤ mass(hi)
        mid = 0.5 * (lo + hi)
        if mid in (lo, hi):
            break
        lo, hi = (lo, mid) if mass(mid) >= target else (mid, hi)
    # the answer lies in (lo, hi]: sort the (few) values there and walk their cumulative weight
    inside = [((v > lo) & (v <= hi) & (w > 0)) for v, w in parts]
    sv = np.concatenate([v[m] for (v, _), m in zip(parts, inside, strict=True)])
    sw = np.concatenate([w[m] for (_, w), m in zip(parts, inside, strict=True)])
    o = np.argsort(sv, kind="stable")
    cum = mass(lo) + np.cumsum(sw[o])
    return float(sv[o][min(int(np.searchsorted(cum, target)), sv.size - 1)])


def _level_table(level: str, codes: list[str], names: list[str], w: Any, w_out: np.ndarray,
                 pop: np.ndarray, result: CoverageResult) -> pd.DataFrame:
    """Zone rows of one level, then its ``"(outside zones)"`` row: ``w`` sparse (zones ×
    cells), ``w_out`` the leftover share per cell. With ``w=None``, ``w_out`` is the single
    zone's dense weight vector (the province) and no outside row is added."""
    if w is None:
        def zsum(v: np.ndarray) -> np.ndarray:
            return np.array([float(w_out @ v)])
    else:
        codes, names = [*codes, OUTSIDE_ZONES], [*names, OUTSIDE_ZONES]

        def zsum(v: np.ndarray) -> np.ndarray:
            return np.append(zone_sums(w, v), float(w_out @ v))

    pop_z = zsum(pop)
    rows = []
    ops: dict[str, list[tuple[CoverageLayer, pd.DataFrame]]] = {}
    for (op, tech), lay in sorted(result.layers.items(), key=lambda kv: (kv[0][1], kv[0][0] == _ANY, kv[0][0])):
        frame = _layer_rows(lay, pop, pop_z, zsum)
        if op == _ANY:
            _any_users(frame, ops.get(tech, []), pop, w_out if w is None else None)
        else:
            upp = np.broadcast_to(np.asarray(0.0 if lay.users_per_person is None else lay.users_per_person, float).reshape(-1), pop.shape)  # per cell
            users = pop * upp
            users_z = zsum(users)
            frame["users"] = users_z
            uw = users if float(users.sum()) > 0 else pop  # no user of the technology: over the people, as before
            uw_z = zsum(uw)
            with np.errstate(invalid="ignore", divide="ignore"):
                frame["mean_user_mbps"] = np.where(uw_z > 0, zsum(uw * lay.tput_mbps.reshape(-1)) / uw_z, np.nan)
                ge = (lay.tput_mbps.reshape(-1) >= lay.target_mbps) & (lay.tput_mbps.reshape(-1) > 0)
                frame["pct_users_ge_target"] = np.where(uw_z > 0, 100.0 * zsum(uw * ge) / uw_z, np.nan)
            frame["p10_user_mbps"] = (weighted_quantile([(lay.tput_mbps.reshape(-1), pop * upp * w_out)], 0.1)
                                      if w is None else np.nan)  # the province's (per zone would need a sort)
            ops.setdefault(tech, []).append((lay, frame))
        frame.insert(0, "operator", op)
        frame.insert(0, "technology", tech)
        frame.insert(0, "zone_name", names)
        frame.insert(0, "zone_code", codes)
        frame.insert(0, "level", level)
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def _layer_rows(lay: CoverageLayer, pop: np.ndarray, pop_z: np.ndarray, zsum: Any) -> pd.DataFrame:
    """The coverage columns of one layer (people, covered, the layer's per-cell speed over the covered)."""
    cov = lay.covered.reshape(-1)
    tp = lay.tput_mbps.reshape(-1)
    pc = pop * cov
    cov_z = zsum(pc)
    tp_z = zsum(pc * tp)
    ge_z = zsum(pc * (tp >= lay.target_mbps))
    ind = lay.covered_indoor.reshape(-1) / 100.0 if lay.covered_indoor is not None else np.zeros_like(pop)
    ind_z = zsum(pop * ind)
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
    parts = [(lay.tput_mbps.reshape(-1), pop * np.asarray(0.0 if lay.users_per_person is None else lay.users_per_person, float).reshape(-1) * w_out)
             for lay, _ in per_op]
    frame["p10_user_mbps"] = weighted_quantile(parts, 0.1)
