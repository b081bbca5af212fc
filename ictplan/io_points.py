"""Readers of published point tables: OpenCelliD cells and Google Open Buildings.

Re-exported by :mod:`ictplan.io` (``ictplan.io.read_cells``, ``ictplan.io.read_buildings``),
which holds the shared helpers; like every loader, nothing is dropped silently: what was
skipped is counted in ``gdf.attrs["ictplan_report"]`` and announced with a
:class:`~ictplan.errors.SkippedFeaturesWarning`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from . import crs as _crs
from . import validation as _v
from ._errors import (
    ConfigError,
    CoordinateError,
    DataSourceError,
    EmptyLayerError,
    MissingColumnError,
    NoDataInBoundsError,
    SkippedFeaturesWarning,
)
from .io import _GEOM_KINDS, _check_exists, _check_utf8, read_layer, validate_layer
from .schemas import OPERATORS_MCC452

__all__ = ["OPENCELLID_COLUMNS", "OPEN_BUILDINGS_COLUMNS", "BUILDING_FORMATS", "read_cells", "read_buildings"]

OPENCELLID_COLUMNS = (
    "radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range",
    "samples", "changeable", "created", "updated", "averageSignal",
)

#: The header of a Google Open Buildings CSV (v3, one file per S2 cell, often gzipped).
OPEN_BUILDINGS_COLUMNS = ("latitude", "longitude", "area_in_meters", "confidence", "geometry", "full_plus_code")
#: ``format =`` of a buildings layer in study.toml: the Open Buildings CSV, or any vector
#: layer (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, CSV with lon/lat) of polygons or points.
BUILDING_FORMATS = ("open_buildings", "vector")


def read_cells(
    path: str | os.PathLike,
    /,
    *,
    mcc: int | None = 452,
    bounds_lonlat: Sequence[float] | None = None,
) -> gpd.GeoDataFrame:
    """Cells in the OpenCelliD CSV format (with or without its header row).

    Columns as published: radio, mcc, net, area, cell, unit, lon, lat, range, samples,
    changeable, created, updated, averageSignal. Adds ``operator`` from the MCC 452 network
    code (01 MobiFone, 02 VNPT, 04 Viettel, 05 Vietnamobile, 07 Gmobile) and ``cell_key``
    ("radio-mcc-net-area-cell"). Rows of another MCC or without a position are skipped and
    counted. Geometry: points in EPSG:4326.
    """
    path = Path(path)
    what = f"cells ({path.name})"
    _check_exists(path, what)
    _check_utf8(path, what)
    with open(path, encoding="utf-8") as fh:
        first = fh.readline().strip().lower().split(",")
    has_header = first[:2] == ["radio", "mcc"]
    try:
        df = pd.read_csv(path, header=0 if has_header else None, names=None if has_header else list(OPENCELLID_COLUMNS))
    except Exception as err:
        raise DataSourceError(f"{what}: could not parse as OpenCelliD CSV: {err}.") from err
    missing = [c for c in OPENCELLID_COLUMNS[:9] if c not in df.columns]
    if missing:
        raise MissingColumnError(
            f"{what} is missing OpenCelliD column(s): {', '.join(missing)}. Expected the published header "
            f"{','.join(OPENCELLID_COLUMNS)} (or no header with the columns in that order)."
        )
    if df.empty:
        raise EmptyLayerError(f"{what} has no rows.")
    report: dict[str, int] = {}
    for c in ("mcc", "net", "area", "cell", "range", "samples"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    df["lon"] = pd.to_numeric(df["lon"], errors="coerce")
    df["lat"] = pd.to_numeric(df["lat"], errors="coerce")
    if mcc is not None:
        other = df["mcc"] != mcc
        if other.any():
            report["skipped_other_mcc"] = int(other.sum())
            warnings.warn(f"{what}: {int(other.sum())} row(s) with an MCC other than {mcc} were skipped.", SkippedFeaturesWarning, stacklevel=2)
            df = df[~other]
    nopos = df["lon"].isna() | df["lat"].isna() | ((df["lon"] == 0) & (df["lat"] == 0))
    if nopos.any():
        report["skipped_no_position"] = int(nopos.sum())
        rows = _v.rows_text(_v.row_numbers(df, nopos.to_numpy()))
        warnings.warn(f"{what}: {int(nopos.sum())} cell(s) without a position were skipped: {rows}"
                      f"{' (file line = row + 1, after the header)' if has_header else ''}.",
                      SkippedFeaturesWarning, stacklevel=2)
        df = df[~nopos]
    if df.empty:
        raise EmptyLayerError(f"{what} has no usable cells (MCC {mcc}, with a position).")
    df = df.copy()
    df["operator"] = df["net"].map(lambda n: OPERATORS_MCC452.get(int(n), f"MNC {int(n):02d}") if pd.notna(n) else "unknown")
    df["radio"] = df["radio"].astype(str).str.upper()
    df["cell_key"] = (
        df["radio"] + "-" + df["mcc"].astype("Int64").astype(str) + "-" + df["net"].astype("Int64").astype(str)
        + "-" + df["area"].astype("Int64").astype(str) + "-" + df["cell"].astype("Int64").astype(str)
    )
    dup = df["cell_key"].duplicated()
    if dup.any():
        report["skipped_duplicate_cells"] = int(dup.sum())
        warnings.warn(f"{what}: {int(dup.sum())} duplicate cell row(s) were skipped (same radio, MCC, net, area, cell).", SkippedFeaturesWarning, stacklevel=2)
        df = df[~dup]
    gdf = gpd.GeoDataFrame(df, geometry=gpd.points_from_xy(df["lon"], df["lat"]), crs=4326)
    _v.check_lonlat(gdf, what, bounds_lonlat)
    gdf.attrs["ictplan_report"] = report
    return gdf.reset_index(drop=True)


# --------------------------------------------------------------------------- buildings
def _is_csv(path: Path) -> bool:
    return path.name.lower().endswith((".csv", ".csv.gz", ".txt"))


def _read_open_buildings(path: Path, what: str) -> gpd.GeoDataFrame:
    """Points at the published centroids (latitude, longitude), with ``area_m2`` and
    ``confidence``; the WKT footprint is not parsed (the centroid and area are what
    households need, and skipping it keeps a national file in memory)."""
    try:
        head = pd.read_csv(path, nrows=0).columns
    except Exception as err:
        raise DataSourceError(f"{what}: could not parse {path} as CSV: {err}. Is the file complete (gzip: .csv.gz)?") from err
    need = list(OPEN_BUILDINGS_COLUMNS[:4])
    missing = [c for c in need if c not in head]
    if missing:
        raise MissingColumnError(
            f"{what} lacks the Open Buildings column(s) {', '.join(missing)} (it has: {', '.join(map(str, head))}). "
            f"The published header is {','.join(OPEN_BUILDINGS_COLUMNS)}; for another building table use "
            "`format = \"vector\"` in study.toml (lon/lat CSV, GeoPackage or Shapefile; `columns = { area_m2 = \"...\" }`)."
        )
    try:
        df = pd.read_csv(path, usecols=need)
    except Exception as err:
        raise DataSourceError(f"{what}: could not read {path}: {err}.") from err
    lat, lon = (pd.to_numeric(df[c], errors="coerce").to_numpy(np.float64) for c in ("latitude", "longitude"))
    report: dict[str, int] = {}
    bad = ~(np.isfinite(lat) & np.isfinite(lon))
    if bad.any():
        report["skipped_no_position"] = int(bad.sum())
        warnings.warn(f"{what}: {int(bad.sum())} building(s) without a usable latitude/longitude were skipped: "
                      f"{_v.rows_text(_v.row_numbers(df, bad))} (file line = row + 1).", SkippedFeaturesWarning, stacklevel=3)
    ok = ~bad
    if not ok.any():
        raise EmptyLayerError(f"{what} has no building with a position. Check the file.")
    gdf = gpd.GeoDataFrame({"area_m2": pd.to_numeric(df["area_in_meters"], errors="coerce").to_numpy(np.float64)[ok],
                            "confidence": pd.to_numeric(df["confidence"], errors="coerce").to_numpy(np.float64)[ok]},
                           geometry=gpd.points_from_xy(lon[ok], lat[ok]), crs=4326)
    gdf.attrs["ictplan_report"] = report
    return gdf


def _crop(gdf: gpd.GeoDataFrame, what: str, bounds_lonlat: Sequence[float] | None) -> gpd.GeoDataFrame:
    """Keep the buildings whose representative point lies in the study's lon/lat box (a
    national or S2-cell file covers more than a province): those outside are counted. None
    inside is an error that names the likely cause (swapped columns, a wrong CRS)."""
    if bounds_lonlat is None:
        return gdf
    pts = gdf.geometry.representative_point() if not gdf.geom_type.isin(["Point"]).all() else gdf.geometry
    if not gdf.crs.is_geographic:
        pts = pts.to_crs(4326)
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    bx0, by0, bx1, by1 = bounds_lonlat
    inside = (x >= bx0) & (x <= bx1) & (y >= by0) & (y <= by1)
    report = dict(gdf.attrs.get("ictplan_report", {}))
    if not inside.any():
        swapped = (y >= bx0) & (y <= bx1) & (x >= by0) & (x <= by1)
        if swapped.mean() >= 0.5:
            raise CoordinateError(
                f"{what}: no building lies in the study area ({bx0}..{bx1} E, {by0}..{by1} N) but "
                f"{int(swapped.sum())} of {len(x)} do with x and y exchanged: latitude and longitude are swapped. "
                "Swap the columns (x = longitude, y = latitude) or fix the source.")
        raise NoDataInBoundsError(
            f"{what}: none of its {len(x)} buildings lies in the study area ({bx0}..{bx1} E, {by0}..{by1} N); their "
            f"centre is near lon {np.median(x):.4f}, lat {np.median(y):.4f}. Check the layer's CRS (`crs =` in "
            "study.toml assigns one to a file without it) and that the file covers this province "
            "(Open Buildings: the S2 cell tiles over Vietnam).")
    if (~inside).any():
        report["outside_study_bounds"] = int((~inside).sum())
        warnings.warn(f"{what}: {int((~inside).sum())} of {len(x)} buildings lie outside the study's lon/lat box and "
                      "were left out.", SkippedFeaturesWarning, stacklevel=3)
        gdf = gdf[inside]
    gdf.attrs["ictplan_report"] = report
    return gdf


def read_buildings(
    path: str | os.PathLike,
    /,
    *,
    format: str | None = None,
    layer: str | None = None,
    crs: _crs.CRSLike | None = None,
    x: str | None = None,
    y: str | None = None,
    bounds_lonlat: Sequence[float] | None = None,
    columns: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Buildings (polygons or points) with ``area_m2`` and ``confidence`` (empty when unknown).

    Parameters
    ----------
    path
        A Google Open Buildings CSV (``.csv`` or ``.csv.gz``; columns
        :data:`OPEN_BUILDINGS_COLUMNS`), or any vector layer of building footprints or
        points (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, or a CSV with lon/lat).
    format
        ``"open_buildings"`` or ``"vector"`` (:data:`BUILDING_FORMATS`); default: the
        Open Buildings reader for a CSV whose header has ``area_in_meters`` and
        ``confidence``, else ``"vector"``.
    layer, crs, x, y, columns
        As :func:`ictplan.io.read_layer` (vector layers). ``area_in_meters`` is recognised
        as ``area_m2`` without a mapping.
    bounds_lonlat
        The study's lon/lat box: buildings outside it are left out and counted
        (``attrs["ictplan_report"]["outside_study_bounds"]``); none inside raises.

    Returns
    -------
    geopandas.GeoDataFrame
        In the file's CRS (Open Buildings: EPSG:4326 points at the published centroids).

    Raises
    ------
    MissingColumnError
        An Open Buildings CSV without its published columns.
    CoordinateError
        Latitude and longitude swapped, or degrees out of range (a projected layer declared
        as lon/lat).
    NoDataInBoundsError
        No building inside the study's lon/lat box (a wrong CRS or another province).
    ConfigError
        An unknown ``format``.
    """
    path = Path(path)
    what = f"buildings ({path.name}{':' + layer if layer else ''})"
    if format is not None and format not in BUILDING_FORMATS:
        raise ConfigError(f"{what}: unknown buildings format {format!r}; use one of {', '.join(BUILDING_FORMATS)} "
                          "(`format = \"open_buildings\"` for the Google Open Buildings CSV).")
    _check_exists(path, what)
    if format is None:
        format = "vector"
        if _is_csv(path):
            try:
                head = set(pd.read_csv(path, nrows=0).columns)
            except Exception as err:
                raise DataSourceError(f"{what}: could not parse {path} as CSV: {err}.") from err
            if {"area_in_meters", "confidence"} <= head:
                format = "open_buildings"
    points = _GEOM_KINDS["point"]
    if format == "open_buildings":
        gdf = _read_open_buildings(path, what)
        gdf = validate_layer(gdf, "buildings", what=what, geometry_kinds=points)
    else:
        gdf = read_layer(path, "buildings", layer=layer, crs=crs, x=x, y=y,
                         geometry_kinds=_GEOM_KINDS["polygon"] | points, columns=columns)
    return _crop(gdf, what, bounds_lonlat)
