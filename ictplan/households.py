"""Households for the fiber analysis: from household points, from buildings, or from the population raster.

From the raster, every populated cell is one row at its centre. Its people are split
between the communes (and hamlets) by the study's zone weights
(:func:`ictplan.zones.for_study`: exact cell fractions, overlaps resolved), the same
weights coverage uses. The share of cell ``c`` in commune ``z`` holds
``W[z, c] · persons_c / pph_z`` households (``pph_z`` = ``pop2019 / hh2019`` of the
commune; the province's ratio for communes without census figures and for the part of a
cell outside every commune). So a commune's households are exactly coverage's population
of that commune divided by its persons per household, and the households of a cell are
the sum of its shares.

The split is kept as sparse *share matrices* (zones × household rows, households in
each zone), in ``table.attrs["commune_shares"]`` and ``attrs["hamlet_shares"]``; the
``commune_idx`` / ``hamlet_idx`` columns name the zone holding most of the row (−1:
none). A household table without share matrices (points, or one built by hand) is split
by those columns: one zone per row. :func:`shares` returns either.

Households on buildings (:func:`households_from_buildings`, a study's ``buildings``
layer, e.g. Google Open Buildings): each commune keeps the households the raster gives it
(above: coverage's people of the commune / its persons per household, which is the census
``hh2019`` where the raster sums to the census, as in the sample), and they are placed on
the commune's buildings in proportion to footprint area: building ``b`` in commune ``z``
holds ``H_z · a_b / Σ_{b' in z} a_b'`` households (fractional, like the cells': the
commune totals stay exact and no household is moved by a rounding rule). Detections
below ``building_min_confidence`` and footprints under ``building_min_area_m2`` are
dropped first; a building lies in the commune holding its point (a footprint's
``point_on_surface``). A commune with households but no building left keeps its
population cells (the method above, for that commune only). Everything dropped and every
fallback is counted (``attrs["buildings_report"]``, per commune in
``attrs["buildings_communes"]``) and announced with a
:class:`~ictplan.errors.SkippedFeaturesWarning`. Each building row carries the
population-grid cell it lies in (``row``, ``col``), so the per-household outputs stay
GeoTIFFs on that grid (:func:`household_rasters`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.spatial import cKDTree

from . import crs as _crs
from . import network as _nw
from . import zones as _zones
from ._errors import (
    CRSMismatchError,
    InputValidationError,
    MissingColumnError,
    NoDataInBoundsError,
    SkippedFeaturesWarning,
)
from .grid import Population
from .parameters import FIBER

__all__ = ["DEFAULT_PERSONS_PER_HOUSEHOLD", "households_from_population", "households_from_points",
           "households_from_buildings", "shares", "household_rasters", "study_households"]

DEFAULT_PERSONS_PER_HOUSEHOLD = 3.6
"""Used only when no commune has census persons and households (Cà Mau 2019: ≈ 3.6)."""


# =========================================================================== validation
def _same_crs(gdf: gpd.GeoDataFrame | None, crs: Any, what: str) -> None:
    if gdf is None:
        return
    have = _crs.require_crs(gdf, what)
    if not have.equals(_crs.as_crs(crs)):
        raise CRSMismatchError(
            f"{what} is in {_crs.crs_label(have)} but the network is in {_crs.crs_label(_crs.as_crs(crs))}. "
            f"Reproject it with `.to_crs({_crs.crs_label(_crs.as_crs(crs))!r})` "
            "(`fiber.run` does this for a study's layers)."
        )


def _require_columns(gdf: gpd.GeoDataFrame, cols: list[str], what: str) -> None:
    missing = [c for c in cols if c not in gdf.columns]
    if missing:
        raise MissingColumnError(
            f"{what} lacks column(s) {missing} (seen: {', '.join(map(str, gdf.columns))}). "
            "See `ictplan.schemas.SCHEMAS` for the layer's columns."
        )


# =========================================================================== households
def _persons_per_household(communes: gpd.GeoDataFrame) -> tuple[np.ndarray, float]:
    """Per commune persons/household (census), and the province ratio for gaps."""
    n = len(communes)
    pop = pd.to_numeric(communes["pop2019"], errors="coerce").to_numpy(np.float64) if "pop2019" in communes else np.full(n, np.nan)
    hh = pd.to_numeric(communes["hh2019"], errors="coerce").to_numpy(np.float64) if "hh2019" in communes else np.full(n, np.nan)
    ok = np.isfinite(pop) & np.isfinite(hh) & (pop > 0) & (hh > 0)
    province = float(pop[ok].sum() / hh[ok].sum()) if ok.any() else DEFAULT_PERSONS_PER_HOUSEHOLD
    pph = np.where(ok, pop / np.where(ok, hh, 1.0), province)
    return pph, province


def _zone_index_of_points(x: np.ndarray, y: np.ndarray, zones: gpd.GeoDataFrame) -> np.ndarray:
    """Index (position) of the polygon holding each point (boundary included: the first
    in layer order), -1 if none."""
    out = np.full(len(x), -1, np.int64)
    if len(zones) == 0 or len(x) == 0:
        return out
    pts = shapely.points(x, y)
    tree = shapely.STRtree(zones.geometry.values)
    pi, zi = tree.query(pts, predicate="intersects")  # a point on a boundary goes to one commune
    if len(pi):
        order = np.lexsort((zi, pi))
        pi, zi = pi[order], zi[order]
        first = np.r_[True, pi[1:] != pi[:-1]]
        out[pi[first]] = zi[first]
    return out


def _hamlet_index(x: np.ndarray, y: np.ndarray, hamlets: gpd.GeoDataFrame | None) -> np.ndarray:
    if hamlets is None or len(hamlets) == 0:
        return np.full(len(x), -1, np.int64)
    gt = hamlets.geometry.geom_type.to_numpy()
    if np.isin(gt, ["Point", "MultiPoint"]).all():
        # hamlets as points: each household goes to the nearest hamlet point
        hxy = _nw._point_xy(np.asarray(hamlets.geometry.values, dtype=object))
        _, idx = cKDTree(hxy).query(np.c_[x, y])
        return idx.astype(np.int64)
    # polygons (other geometry kinds are not zones: they hold no household)
    return _zone_index_of_points(x, y, hamlets)


def _polygons(zones: gpd.GeoDataFrame | None) -> bool:
    return zones is not None and len(zones) > 0 and bool(zones.geometry.geom_type.isin(["Polygon", "MultiPolygon"]).all())


def households_from_population(
    population: Population,
    communes: gpd.GeoDataFrame,
    *,
    hamlets: gpd.GeoDataFrame | None = None,
    commune_weights: _zones.ZoneWeights | None = None,
    hamlet_weights: _zones.ZoneWeights | None = None,
) -> pd.DataFrame:
    """Households at the centres of populated raster cells, split by the zone weights.

    Parameters
    ----------
    population
        Counts on the analysis grid (persons per cell); must be in the communes' CRS.
    communes
        Commune polygons with ``commune_code`` and, for persons per household,
        ``pop2019`` and ``hh2019``.
    hamlets
        Hamlet polygons (split by their zone weights) or points (each cell to the
        nearest point).
    commune_weights, hamlet_weights
        The zone weights (:func:`ictplan.zones.for_study`); built with
        :func:`ictplan.zones.build` when not given.

    Returns
    -------
    pandas.DataFrame
        One row per cell with persons > 0: ``x``, ``y`` (cell centre), ``row``, ``col``,
        ``persons``, ``households`` (the sum of the cell's shares), ``commune_idx`` and
        ``hamlet_idx`` (the zone holding most of the cell, -1 = none). ``attrs``: ``crs``,
        ``commune_shares`` and, for hamlet polygons, ``hamlet_shares`` (see the module
        docstring).

    Raises
    ------
    MissingColumnError
        No ``commune_code``.
    CRSMismatchError
        The communes or hamlets are not in the raster's CRS.
    """
    _require_columns(communes, ["commune_code"], "the communes layer")
    grid = population.grid
    _same_crs(communes, grid.crs, "the communes layer")
    _same_crs(hamlets, grid.crs, "the hamlets layer")
    counts = population.counts
    rows, cols = np.nonzero(counts > 0)
    persons = counts[rows, cols]
    cells = rows.astype(np.int64) * grid.width + cols
    t = grid.transform
    x = t.c + t.a * (cols + 0.5)
    y = t.f + t.e * (rows + 0.5)
    cw = commune_weights if commune_weights is not None else _zones.build(communes, grid, level="communes")
    pph, province = _persons_per_household(communes)
    com_w = cw.sub(cells)
    c_shares = sp.csr_matrix(com_w.multiply(persons[None, :]).multiply(1.0 / pph[:, None]))
    outside_hh = cw.outside[cells] * persons / province
    hh = np.asarray(c_shares.sum(axis=0)).reshape(-1) + outside_hh
    cidx = cw.primary(cells)
    h_shares = None
    if _polygons(hamlets):
        hw = hamlet_weights if hamlet_weights is not None else _zones.build(hamlets, grid, level="hamlets")
        h_sub = hw.sub(cells)
        h_shares = sp.csr_matrix(h_sub.multiply(hh[None, :]))
        hidx = hw.primary(cells)
    else:
        hidx = _hamlet_index(x, y, hamlets)
    df = pd.DataFrame({
        "x": x, "y": y, "row": rows.astype(np.int32), "col": cols.astype(np.int32), "persons": persons,
        "households": hh, "commune_idx": cidx.astype(np.int32), "hamlet_idx": hidx.astype(np.int32),
    })
    df.attrs.update(crs=grid.crs, source="population raster", commune_shares=c_shares, grid=grid)
    if h_shares is not None:
        df.attrs["hamlet_shares"] = h_shares
    return df


def shares(households: pd.DataFrame, key: str, n_zones: int) -> sp.csr_matrix:
    """Households of each row in each zone (zones × rows): the table's share matrix
    ``attrs[key + "_shares"]`` when it fits, else one zone per row from ``<key>_idx``."""
    m = households.attrs.get(f"{key}_shares")
    if m is not None and m.shape == (n_zones, len(households)):
        return sp.csr_matrix(m)
    idx = households[f"{key}_idx"].to_numpy(np.int64)
    hh = households["households"].to_numpy(np.float64)
    ok = (idx >= 0) & (idx < n_zones)
    rows = np.flatnonzero(ok)
    return sp.csr_matrix((hh[ok], (idx[ok], rows)), shape=(n_zones, len(households)))


def households_from_points(
    points: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    *,
    hamlets: gpd.GeoDataFrame | None = None,
    count_column: str | None = "households",
) -> pd.DataFrame:
    """Households from household points (one per point, or ``count_column`` per point).

    Parameters
    ----------
    points
        Household points in the communes' CRS.
    communes, hamlets
        As :func:`households_from_population`; points join the polygon they lie in.
    count_column
        Column with the number of households per point; absent → 1 each.

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y``, ``households``, ``commune_idx``, ``hamlet_idx``; index = points.index.

    Raises
    ------
    CRSMismatchError
        ``points`` is in another CRS than the communes (reproject with ``.to_crs``).
    InputValidationError
        Negative or non-numeric counts.
    """
    _require_columns(communes, ["commune_code"], "the communes layer")
    ccrs = _crs.require_crs(communes, "the communes layer")
    _same_crs(points, ccrs, "the household layer")
    _same_crs(hamlets, ccrs, "the hamlets layer")
    xy = _nw._point_xy(np.asarray(points.geometry.values, dtype=object))
    if count_column and count_column in points.columns:
        cnt = pd.to_numeric(points[count_column], errors="coerce").to_numpy(np.float64)
        bad = ~np.isfinite(cnt) | (cnt < 0)
        if bad.any():
            raise InputValidationError(
                f"column {count_column!r} of the household layer has {int(bad.sum())} missing or negative counts; "
                "use a number >= 0 per point."
            )
    else:
        cnt = np.ones(len(points))
    cidx = _zone_index_of_points(xy[:, 0], xy[:, 1], communes)
    hidx = _hamlet_index(xy[:, 0], xy[:, 1], hamlets)
    df = pd.DataFrame({
        "x": xy[:, 0], "y": xy[:, 1], "households": cnt,
        "commune_idx": cidx.astype(np.int32), "hamlet_idx": hidx.astype(np.int32),
    }, index=points.index)
    df.attrs["crs"] = ccrs
    df.attrs["source"] = "household points"
    return df


# =========================================================================== buildings
def _building_xy_area(buildings: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per building: x, y (a point's own; a footprint's ``point_on_surface``, inside it),
    the area (``area_m2``, else the footprint's; NaN for a point without one) and the
    confidence (NaN when unknown)."""
    geoms = np.asarray(buildings.geometry.values, dtype=object)
    poly = np.isin(shapely.get_type_id(geoms), [3, 6])
    pts = geoms.copy()
    if poly.any():
        pts[poly] = shapely.point_on_surface(geoms[poly])
    xy = _nw._point_xy(pts)

    def col(name: str) -> np.ndarray:
        if name not in buildings:
            return np.full(len(geoms), np.nan)
        return np.array(pd.to_numeric(buildings[name], errors="coerce"), dtype=np.float64)  # a writable copy

    area = col("area_m2")
    fill = ~np.isfinite(area) & poly
    if fill.any():
        area[fill] = shapely.area(geoms[fill])
    return xy[:, 0], xy[:, 1], area, col("confidence")


def _grid_cells(x: np.ndarray, y: np.ndarray, grid: Any) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the grid cell holding each point (−1, −1 off the grid)."""
    t = grid.transform
    with np.errstate(invalid="ignore"):
        c = np.floor((x - t.c) / t.a)
        r = np.floor((y - t.f) / t.e)
    on = np.isfinite(r) & np.isfinite(c) & (r >= 0) & (r < grid.height) & (c >= 0) & (c < grid.width)
    return np.where(on, r, -1).astype(np.int64), np.where(on, c, -1).astype(np.int64)


def _filter_buildings(conf: np.ndarray, area: np.ndarray, cidx: np.ndarray, min_confidence: float,
                      min_area_m2: float) -> dict[str, np.ndarray]:
    """The reason each building is dropped (one each, in this order), as masks."""
    low = np.isfinite(conf) & (conf < min_confidence)
    small = ~low & np.isfinite(area) & (area < min_area_m2)
    outside = ~low & ~small & (cidx < 0)
    return {"low_confidence": low, "small": small, "outside_communes": outside}


def _fallback_cells(pop: pd.DataFrame, fallback: np.ndarray, pph: np.ndarray) -> tuple[pd.DataFrame, sp.csr_matrix,
                                                                                         sp.csr_matrix | None]:
    """The population cells of the fallback communes: their rows of the cell table, with
    only those communes' households (commune and hamlet shares scaled to match)."""
    cs = sp.csr_matrix(pop.attrs["commune_shares"])
    kept = sp.csr_matrix(sp.diags(fallback.astype(np.float64)) @ cs)
    hh = np.asarray(kept.sum(axis=0)).reshape(-1)
    rows = np.flatnonzero(hh > 0)
    c_fb = sp.csr_matrix(kept[:, rows])
    hh_fb = hh[rows]
    tab = pd.DataFrame({k: pop[k].to_numpy()[rows] for k in pop.columns})  # no attrs (they hold big matrices)
    tab["households"] = hh_fb
    tab["persons"] = np.asarray(c_fb.T @ pph).reshape(-1)
    tab["commune_idx"] = np.asarray(c_fb.argmax(axis=0)).reshape(-1).astype(np.int32)
    h_fb = None
    if "hamlet_shares" in pop.attrs:
        full = pop["households"].to_numpy(np.float64)[rows]
        scale = np.divide(hh_fb, full, out=np.zeros_like(hh_fb), where=full > 0)
        h_fb = sp.csr_matrix(sp.csr_matrix(pop.attrs["hamlet_shares"])[:, rows] @ sp.diags(scale))
    return tab, c_fb, h_fb


def _building_report(communes: gpd.GeoDataFrame, cidx_all: np.ndarray, drops: dict[str, np.ndarray], used: np.ndarray,
                     h_com: np.ndarray, hh_b: np.ndarray, cidx_b: np.ndarray, fallback: np.ndarray,
                     fb_hh: float) -> tuple[dict[str, Any], pd.DataFrame]:
    """What happened to the buildings and the communes: totals, and one row per commune."""
    nz = len(communes)

    def per(mask: np.ndarray) -> np.ndarray:
        ok = mask & (cidx_all >= 0)
        return np.bincount(cidx_all[ok], minlength=nz)

    n_used = np.bincount(cidx_b, minlength=nz)
    on_b = n_used > 0
    method = np.where(on_b, "buildings", np.where(fallback, "population cells", "none"))
    table = pd.DataFrame({
        "commune_code": communes["commune_code"].astype(str).to_numpy(), "households": h_com, "method": method,
        "buildings": n_used, "buildings_low_confidence": per(drops["low_confidence"]),
        "buildings_small": per(drops["small"]), "buildings_without_households": per(drops["no_households"]),
        "households_per_building": np.divide(h_com, n_used, out=np.full(nz, np.nan), where=on_b),
    })
    report: dict[str, Any] = {
        "buildings_read": int(len(cidx_all)), "buildings_used": int(used.sum()),
        **{f"dropped_{k}": int(v.sum()) for k, v in drops.items()},
        "communes_on_buildings": int(on_b.sum()), "communes_fallback": int(fallback.sum()),
        "fallback_communes": table["commune_code"][fallback].tolist(),
        "households_on_buildings": float(hh_b.sum()), "households_fallback": fb_hh,
    }
    return report, table


def _announce(report: dict[str, Any], min_confidence: float, min_area_m2: float) -> None:
    parts = [f"{report['dropped_low_confidence']:,} below confidence {min_confidence:g}",
             f"{report['dropped_small']:,} smaller than {min_area_m2:g} m²",
             f"{report['dropped_outside_communes']:,} outside every commune",
             f"{report['dropped_no_households']:,} in communes without households"]
    dropped = sum(report[k] for k in report if k.startswith("dropped_"))
    if dropped == 0 and report["communes_fallback"] == 0:
        return
    fb = report["fallback_communes"]
    warnings.warn(
        f"buildings: {report['buildings_used']:,} of {report['buildings_read']:,} hold the households; dropped "
        f"{'; '.join(parts)}. {report['communes_fallback']} commune(s) with households but no building "
        f"({', '.join(fb[:8])}{', ...' if len(fb) > 8 else ''}) keep the population cells "
        f"({report['households_fallback']:,.0f} households). [parameters.fiber] building_min_confidence and "
        "building_min_area_m2 set the filters; the per-commune counts are in fiber_buildings.csv.",
        SkippedFeaturesWarning, stacklevel=3)


def households_from_buildings(
    buildings: gpd.GeoDataFrame,
    population: Population,
    communes: gpd.GeoDataFrame,
    *,
    hamlets: gpd.GeoDataFrame | None = None,
    commune_weights: _zones.ZoneWeights | None = None,
    hamlet_weights: _zones.ZoneWeights | None = None,
    min_confidence: float = FIBER.building_min_confidence,
    min_area_m2: float = FIBER.building_min_area_m2,
) -> pd.DataFrame:
    """Households on buildings, by footprint area within each commune (module docstring).

    Parameters
    ----------
    buildings
        Footprints or points (:func:`ictplan.io.read_buildings`), in the raster's CRS,
        with ``area_m2`` (empty: the polygon's area; a point without one takes the
        median area of the others, or all weigh the same when none has an area) and
        ``confidence`` (empty: not filtered).
    population, communes, hamlets, commune_weights, hamlet_weights
        As :func:`households_from_population`; the commune totals come from it, and the
        communes without buildings keep its cells.
    min_confidence, min_area_m2
        Buildings below either are dropped (counted).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`households_from_population` (``row``/``col``: the cell a
        building lies in, −1 off the grid), building rows first, then the fallback cells;
        ``attrs``: ``crs``, ``grid``, ``source`` ("buildings"), ``commune_shares``,
        ``hamlet_shares`` (hamlet polygons), ``buildings_report`` and
        ``buildings_communes``.

    Raises
    ------
    CRSMismatchError
        The buildings are not in the raster's CRS (reproject with ``.to_crs``).
    NoDataInBoundsError
        No building lies in any commune (a wrong CRS, or swapped coordinates).
    InputValidationError
        A filter outside its range.
    """
    _same_crs(buildings, population.grid.crs, "the buildings layer")
    if not (isinstance(min_confidence, (int, float)) and 0 <= min_confidence <= 1):
        raise InputValidationError(f"building_min_confidence must be a score in [0, 1], got {min_confidence!r} (0: keep all).")
    if not (isinstance(min_area_m2, (int, float)) and min_area_m2 >= 0):
        raise InputValidationError(f"building_min_area_m2 must be >= 0 m², got {min_area_m2!r} (0: keep all).")
    pop = households_from_population(population, communes, hamlets=hamlets, commune_weights=commune_weights,
                                     hamlet_weights=hamlet_weights)
    pph, _ = _persons_per_household(communes)
    h_com = np.asarray(pop.attrs["commune_shares"].sum(axis=1)).reshape(-1)
    x, y, area, conf = _building_xy_area(buildings)
    cidx_all = _zone_index_of_points(x, y, communes)
    if not (cidx_all >= 0).any():
        raise NoDataInBoundsError(
            f"none of the {len(x):,} buildings lies in a commune (buildings around x {np.nanmedian(x):.0f}, "
            f"y {np.nanmedian(y):.0f} in {_crs.crs_label(_crs.as_crs(population.grid.crs))}). Check the layer's CRS "
            "(`crs =` in study.toml), that latitude and longitude are not swapped, and that it covers the study.")
    drops = _filter_buildings(conf, area, cidx_all, float(min_confidence), float(min_area_m2))
    kept = ~np.logical_or.reduce(list(drops.values()))
    known = kept & np.isfinite(area)
    filled = kept & ~np.isfinite(area)
    # a point without an area weighs as the median building; no area anywhere: all weigh the same
    area = np.where(np.isfinite(area), area, np.median(area[known])) if known.any() else np.ones_like(area)
    a_com = np.bincount(cidx_all[kept], weights=area[kept], minlength=len(communes))
    drops["no_households"] = kept & ~(h_com[np.maximum(cidx_all, 0)] > 0)
    used = kept & ~drops["no_households"]
    cb = cidx_all[used]
    n_com = np.bincount(cb, minlength=len(communes))
    # a commune whose buildings all have area 0 (building_min_area_m2 = 0) splits its households evenly
    hh_b = h_com[cb] * np.where(a_com[cb] > 0, area[used] / np.where(a_com[cb] > 0, a_com[cb], 1.0),
                                1.0 / np.maximum(n_com[cb], 1))
    fallback = (h_com > 0) & (n_com == 0)
    df = _assemble(pop, x[used], y[used], hh_b, cb, pph, fallback, hamlets)
    nb = len(hh_b)
    report, table = _building_report(communes, cidx_all, drops, used, h_com, hh_b, cb, fallback,
                                     float(df["households"].to_numpy()[nb:].sum()))
    report.update(min_confidence=float(min_confidence), min_area_m2=float(min_area_m2),
                  weights="area" if known.any() else "count", area_filled_median=int(filled.sum()),
                  buildings_off_grid=int((df["row"].to_numpy()[:nb] < 0).sum()))
    df.attrs["buildings_report"] = report
    df.attrs["buildings_communes"] = table
    _announce(report, float(min_confidence), float(min_area_m2))
    return df


def _assemble(pop: pd.DataFrame, x: np.ndarray, y: np.ndarray, hh_b: np.ndarray, cb: np.ndarray, pph: np.ndarray,
              fallback: np.ndarray, hamlets: gpd.GeoDataFrame | None) -> pd.DataFrame:
    """The household table: one row per building used, then the fallback communes' cells,
    with the share matrices of both."""
    grid = pop.attrs["grid"]
    r, c = _grid_cells(x, y, grid)
    nz, nb = pop.attrs["commune_shares"].shape[0], len(x)
    hidx = _hamlet_index(x, y, hamlets)
    bt = pd.DataFrame({"x": x, "y": y, "row": r.astype(np.int32), "col": c.astype(np.int32), "persons": hh_b * pph[cb],
                       "households": hh_b, "commune_idx": cb.astype(np.int32), "hamlet_idx": hidx.astype(np.int32)})
    ft, c_fb, h_fb = _fallback_cells(pop, fallback, pph)
    df = pd.concat([bt, ft[list(bt.columns)]], ignore_index=True)
    df.attrs = {"crs": grid.crs, "grid": grid, "source": "buildings",
                "commune_shares": sp.hstack([sp.csr_matrix((hh_b, (cb, np.arange(nb))), shape=(nz, nb)), c_fb]).tocsr()}
    if h_fb is not None:
        ok = hidx >= 0
        h_b = sp.csr_matrix((hh_b[ok], (hidx[ok], np.flatnonzero(ok))), shape=(h_fb.shape[0], nb))
        df.attrs["hamlet_shares"] = sp.hstack([h_b, h_fb]).tocsr()
    return df


_RASTER_BANDS = {"households": "households", "dist_to_fiber_m": "dist_to_fiber_m",
                 "busy_hour_mbps_2025": "busy_hour_mbps_2025", "busy_hour_mbps_2030": "busy_hour_mbps_2030",
                 "port_frac": None}


def household_rasters(grid: Any, hh: pd.DataFrame, out: Path, overwrite: bool) -> dict[str, Path]:
    """One float32 GeoTIFF per household figure on the population grid (NaN: no household,
    or beyond the drop limit).

    A cell holding several rows (buildings) gets the sum of their households, and the
    household-weighted mean of the others over the rows that have a value (distance to
    fiber and busy-hour speed among its households within the drop limit; the share of
    its households with a port). A cell of one row gets that row's values as they are;
    rows off the grid (``row`` −1) are left out (counted in the buildings report).
    """
    from . import io as _io

    r, c = hh["row"].to_numpy(np.int64), hh["col"].to_numpy(np.int64)
    on = (r >= 0) & (c >= 0)
    flat = r[on] * grid.width + c[on]
    cells, inv, cnt = np.unique(flat, return_inverse=True, return_counts=True)
    single = cnt[inv] == 1
    w = hh["households"].to_numpy(np.float64)[on]
    paths: dict[str, Path] = {}
    for band, col in _RASTER_BANDS.items():
        if col is None:  # share of the cell's households with a port (reachable, not port-limited)
            vals = hh["reachable"].to_numpy(np.float64) - hh["port_limited_frac"].to_numpy(np.float64)
        else:
            vals = hh[col].to_numpy(np.float64)
        vals = vals[on]
        if band == "households":
            agg = np.bincount(inv, weights=vals, minlength=len(cells))
        else:
            fin = np.isfinite(vals)
            num = np.bincount(inv[fin], weights=(w * vals)[fin], minlength=len(cells))
            den = np.bincount(inv[fin], weights=w[fin], minlength=len(cells))
            agg = np.divide(num, den, out=np.full(len(cells), np.nan), where=den > 0)
        arr = np.full((grid.height, grid.width), np.nan, np.float32)
        arr.reshape(-1)[cells] = agg
        arr.reshape(-1)[flat[single]] = vals[single]
        paths[f"households_{band}_tif"] = _io.write_raster(arr, grid, out / f"fiber_households_{band}.tif",
                                                           nodata=np.nan, overwrite=overwrite, description=band)
    return paths


# =========================================================================== study
def study_households(study: Any, communes: gpd.GeoDataFrame, hamlets: gpd.GeoDataFrame | None, *,
                     min_confidence: float = FIBER.building_min_confidence,
                     min_area_m2: float = FIBER.building_min_area_m2) -> pd.DataFrame:
    """A study's households: its household points when it has them; else its buildings
    (:func:`households_from_buildings`) when it has a ``buildings`` layer; else the
    population raster split by the study's zone weights (the ones coverage uses)."""
    from ._errors import ConfigError

    if study.has("households"):
        try:
            points = study.layer_in_crs("households")
        except (ConfigError, KeyError):
            points = None
        if points is not None and len(points):
            return households_from_points(points, communes, hamlets=hamlets)
    pop = study.population
    if not _crs.as_crs(pop.grid.crs).equals(study.crs):
        raise CRSMismatchError(
            f"the population raster is in {_crs.crs_label(_crs.as_crs(pop.grid.crs))} but the study works in "
            f"{_crs.crs_label(study.crs)}; warp it (gdalwarp -t_srs {_crs.crs_label(study.crs)} -r sum) — "
            "ictplan never resamples people silently."
        )
    cw = _zones.for_study(study, "communes")
    hw = _zones.for_study(study, "hamlets") if _polygons(hamlets) else None
    if study.has("buildings"):  # a buildings layer that fails to load is an error, not a silent fallback
        return households_from_buildings(study.layer_in_crs("buildings"), pop, communes, hamlets=hamlets,
                                         commune_weights=cw, hamlet_weights=hw, min_confidence=min_confidence,
                                         min_area_m2=min_area_m2)
    return households_from_population(pop, communes, hamlets=hamlets, commune_weights=cw, hamlet_weights=hw)
