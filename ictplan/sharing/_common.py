"""Helpers shared by the sharing modules: checks, working CRS, pairs within a distance, ids."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .. import crs as _crs
from .._errors import GeometryTypeError, InputValidationError, MissingColumnError

RADIO_TECHNOLOGY = {
    "GSM": "2G",
    "CDMA": "2G",
    "UMTS": "3G",
    "LTE": "4G",
    "NBIOT": "4G",
    "NB-IOT": "4G",
    "NR": "5G",
}

_SITES_COLUMNS = ("sector_id", "site_id", "operator")
_CELLS_COLUMNS = ("radio", "mcc", "net", "area", "cell")


# --------------------------------------------------------------------------- helpers
def _uid(prefix: str, parts: Sequence[str]) -> str:
    """A stable short id: prefix + BLAKE2b hash of the sorted, de-duplicated parts."""
    text = "\x1f".join(sorted(set(parts)))
    return f"{prefix}-{hashlib.blake2b(text.encode('utf-8'), digest_size=6).hexdigest()}"


def _check_frame(gdf: Any, what: str, required: Sequence[str]) -> pyproj.CRS:
    if not isinstance(gdf, gpd.GeoDataFrame):
        msg = f"{what} must be a GeoDataFrame; got {type(gdf).__name__}. Read it with `ictplan.io.read_layer`."
        raise InputValidationError(msg)
    crs = _crs.require_crs(gdf, what)
    missing = [c for c in required if c not in gdf.columns]
    if missing:
        msg = (
            f"{what} is missing column(s) {', '.join(missing)} (it has: {', '.join(map(str, gdf.columns))}). "
            "Rename the columns or read the layer with `ictplan.io.read_layer` so the schema is applied."
        )
        raise MissingColumnError(msg)
    return crs


def _check_kind(gdf: gpd.GeoDataFrame, what: str, kinds: set[str]) -> None:
    types = gdf.geometry.geom_type
    bad = types.notna() & ~types.isin(kinds)
    if bad.any():
        seen = ", ".join(sorted(types[bad].unique()))
        msg = (
            f"{what} must hold {' or '.join(sorted(kinds))} geometries; {int(bad.sum())} feature(s) are {seen}. "
            "Explode multi-part features with `gdf.explode(ignore_index=True)` or fix the layer."
        )
        raise GeometryTypeError(msg)


def _working_crs(crs: pyproj.CRS, working_crs: Any, gdf: gpd.GeoDataFrame, what: str) -> pyproj.CRS:
    if working_crs is not None:
        wcrs = _crs.as_crs(working_crs)
        _crs.require_projected(wcrs, "`working_crs`")
        return wcrs
    if not crs.is_geographic:
        return crs
    finite = gdf[~gdf.geometry.is_empty & gdf.geometry.notna()]
    if finite.empty:
        msg = f"{what} has no usable geometry to choose a working CRS from; pass `working_crs=` (e.g. 32648)."
        raise InputValidationError(msg)
    return _crs.as_crs(finite.estimate_utm_crs())


def _xy(geoms: gpd.GeoSeries) -> np.ndarray:
    arr = geoms.values
    return np.column_stack([shapely.get_x(arr), shapely.get_y(arr)])


def _pairs_within(xy: np.ndarray, distance_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs i < j with exact Euclidean distance <= distance_m (KD-tree + exact test)."""
    if len(xy) < 2 or distance_m < 0:
        e = np.empty(0, dtype=np.int64)
        return e, e, np.empty(0)
    tree = cKDTree(xy, balanced_tree=False, compact_nodes=False)  # faster build, same answers
    # a hair wider than asked, then the exact test decides: the tree's own rounding never drops a pair
    pairs = tree.query_pairs(distance_m * (1 + 1e-9) + 1e-9, output_type="ndarray")
    if len(pairs) == 0:
        e = np.empty(0, dtype=np.int64)
        return e, e, np.empty(0)
    i, j = pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64)
    d = np.hypot(xy[i, 0] - xy[j, 0], xy[i, 1] - xy[j, 1])
    keep = d <= distance_m
    return i[keep], j[keep], d[keep]


def _components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    if n == 0:
        return np.empty(0, dtype=np.int64)
    g = coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n))
    _, labels = connected_components(g, directed=False)
    return labels.astype(np.int64)


def _join_sorted(values: pd.Series, by: np.ndarray | pd.Series) -> pd.Series:
    """Per group, the sorted unique non-empty strings joined with ';'."""
    g = np.asarray(by)
    v = values.to_numpy(dtype=object)
    ok = pd.notna(v)
    g, v = g[ok], v[ok].astype(str)
    ok = v != ""
    g, v = g[ok], v[ok]
    if len(g) == 0:
        return pd.Series([], dtype=object)
    # integer codes in sorted order, so the sorting is numeric (strings sort slowly)
    gc, gu = pd.factorize(g, sort=True)
    vc, vu = pd.factorize(v, sort=True)
    key = np.unique(gc.astype(np.int64) * len(vu) + vc)
    gk, vk = key // len(vu), key % len(vu)
    starts, ends = _slices(gk)
    vals = np.asarray(vu, dtype=object)[vk]
    return pd.Series([";".join(vals[a:b]) for a, b in zip(starts, ends, strict=True)], index=np.asarray(gu)[gk[starts]], dtype=object)


def _slices(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each run of equal values in a sorted array."""
    if len(g) == 0:
        e = np.empty(0, dtype=np.int64)
        return e, e
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    return starts, np.r_[starts[1:], len(g)]


def _warn(msg: str, category: type[Warning], *, depth: int = 0) -> None:
    """Warn at the caller of the public function (``depth`` = extra private frames)."""
    warnings.warn(msg, category, stacklevel=3 + depth)


def _xy_points(pts: np.ndarray) -> np.ndarray:
    return np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])
