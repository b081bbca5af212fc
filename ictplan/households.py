"""Households for the fiber analysis: from household points or from the population raster.

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
"""

from __future__ import annotations

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
from ._errors import CRSMismatchError, InputValidationError, MissingColumnError
from .grid import Population

__all__ = ["DEFAULT_PERSONS_PER_HOUSEHOLD", "households_from_population", "households_from_points", "shares"]

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


_RASTER_BANDS = {"households": "households", "dist_to_fiber_m": "dist_to_fiber_m",
                 "busy_hour_mbps_2025": "busy_hour_mbps_2025", "busy_hour_mbps_2030": "busy_hour_mbps_2030",
                 "port_frac": None}


def household_rasters(grid: Any, hh: pd.DataFrame, out: Path, overwrite: bool) -> dict[str, Path]:
    """One float32 GeoTIFF per household figure on the population grid (NaN: no household,
    or beyond the drop limit)."""
    from . import io as _io

    r, c = hh["row"].to_numpy(np.int64), hh["col"].to_numpy(np.int64)
    paths: dict[str, Path] = {}
    for band, col in _RASTER_BANDS.items():
        if col is None:  # share of the cell's households with a port (reachable, not port-limited)
            vals = hh["reachable"].to_numpy(np.float64) - hh["port_limited_frac"].to_numpy(np.float64)
        else:
            vals = hh[col].to_numpy(np.float64)
        arr = np.full((grid.height, grid.width), np.nan, np.float32)
        arr[r, c] = vals
        paths[f"households_{band}_tif"] = _io.write_raster(arr, grid, out / f"fiber_households_{band}.tif",
                                                           nodata=np.nan, overwrite=overwrite, description=band)
    return paths
