"""Infrastructure sharing: physical sites, tower co-location, poles and ducts, duplicated routes.

The plan asks operators to share passive infrastructure (towers, poles, ducts) and to keep a
digital twin of every physical asset. This module answers, from the layers of a study:

* **What stands where** -- :func:`physical_sites` consolidates OpenCelliD cells (approximate
  positions; grouped by distance and by LTE eNodeB id, and attached to the operator's
  sector-table site when one is near) and operators' sector tables into physical sites of
  one operator, and sites of different operators that stand together into *towers*
  (:func:`towers`). Every site and tower gets a stable digital-twin id (see *Stable ids*).
* **Where one tower could serve several operators** -- :func:`colocation_graph` joins towers
  of different operators that stand within a candidate distance; :func:`candidate_groups`
  turns that graph into groups of towers that could be merged into one, ranked by the
  towers they save; :func:`sharing_summary` gives tenancy today and potential.
* **Poles and ducts** -- :func:`poles_and_spans`: which spans carry several operators'
  cables, which poles carry more cables than they are rated for, poles without spans.
* **Duplicated trenching** -- :func:`duplicated_routes`: fiber routes of different operators
  running along the same corridor for a minimum length; duct-sharing candidates and the
  province's km of duplicated trenching.
* :func:`run` does all of it for a study; :func:`write_outputs` writes a GeoPackage, the
  graphs as GraphML, the duct candidates as CSV and a JSON summary, each atomically;
  :func:`summary_text` words the summary for the CLI.

Distances are measured in a projected (metric) working CRS: the input's CRS when it is
projected, else the UTM zone estimated from the data, or ``working_crs=`` when given.
Candidate pairs are found with a KD-tree (:class:`scipy.spatial.cKDTree`) and tested with
exact Euclidean distances in the working CRS -- never with polygonal buffers, which miss
pairs just inside the limit.

Stable ids
----------
A site's id is ``S-`` + a 12-hex-digit BLAKE2b hash of its operator and the sorted ids of
what defines it: the operator's own ``site_id`` values when the site comes from a sector
table (cells that attach to it do not change it), else the sorted OpenCelliD cell keys
(``radio-mcc-net-area-cell``). A tower's id is ``T-`` + the hash of its sorted site ids; a
candidate group's id is ``G-`` + the hash of its sorted tower ids. Ids therefore do not
depend on row order or coordinates' float noise and survive re-runs on the same data; they
change when the membership changes (a new cell joining a cell-only site gives it a new id,
by design: it is a different consolidation).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from . import crs as _crs
from ._errors import (
    GeometryTypeError,
    InputValidationError,
    MissingColumnError,
    OutputExistsError,
    RepairWarning,
    SkippedFeaturesWarning,
)
from .schemas import OPERATORS_MCC452

__all__ = [
    "physical_sites",
    "towers",
    "candidate_pairs",
    "colocation_graph",
    "candidate_edges",
    "candidate_groups",
    "sharing_summary",
    "poles_and_spans",
    "duplicated_routes",
    "DuplicatedRoutes",
    "SharingResult",
    "run",
    "summary_text",
    "write_outputs",
]

logger = logging.getLogger(__name__)

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


# --------------------------------------------------------------------------- physical sites
def _members_from_cells(
    cells: gpd.GeoDataFrame, xy: np.ndarray, crs: pyproj.CRS, bounds_lonlat: Sequence[float] | None
) -> pd.DataFrame:
    what = "`cells`"
    cells = cells.reset_index(drop=True)
    ok = np.isfinite(xy).all(axis=1)
    if (~ok).any():
        _warn(f"{what}: {int((~ok).sum())} cell(s) have no position (empty geometry or NaN lon/lat) and were skipped.", SkippedFeaturesWarning, depth=1)
    if bounds_lonlat is not None:
        lonlat = xy if crs.is_geographic else _to_lonlat(xy, crs)
        bx0, by0, bx1, by1 = bounds_lonlat
        inside = (lonlat[:, 0] >= bx0) & (lonlat[:, 0] <= bx1) & (lonlat[:, 1] >= by0) & (lonlat[:, 1] <= by1)
        out = ok & ~inside
        if out.any():
            _warn(
                f"{what}: {int(out.sum())} cell(s) lie outside the study area ({bx0}..{bx1} E, {by0}..{by1} N) and "
                "were skipped (OpenCelliD positions are crowd-sourced estimates; far-off ones are usually wrong).",
                SkippedFeaturesWarning, depth=1,
            )
        ok &= inside
    operator = cells["operator"] if "operator" in cells.columns else pd.Series(np.nan, index=cells.index, dtype=object)
    from_net = pd.to_numeric(cells["net"], errors="coerce").map(OPERATORS_MCC452)
    mcc = pd.to_numeric(cells["mcc"], errors="coerce")
    from_net = from_net.where(mcc == 452)
    operator = operator.where(operator.notna() & (operator.astype(str).str.strip() != ""), from_net)
    noop = ok & operator.isna().to_numpy()
    if noop.any():
        _warn(f"{what}: {int(noop.sum())} cell(s) have no operator (MCC/net not in the MCC 452 table) and were skipped.", SkippedFeaturesWarning, depth=1)
    ok &= ~noop
    if "cell_key" in cells.columns:
        key = cells["cell_key"].astype(str)
    else:
        parts = [cells[c].astype(str) for c in _CELLS_COLUMNS[1:]]
        key = cells["radio"].astype(str).str.upper()
        for p in parts:
            key = key + "-" + p.str.replace(r"\.0$", "", regex=True)
    radio = cells["radio"].astype(str).str.upper()
    samples = pd.to_numeric(cells["samples"], errors="coerce") if "samples" in cells.columns else pd.Series(1.0, index=cells.index)
    m = pd.DataFrame(
        {
            "kind": "cell",
            "key": "cell:" + key,
            "operator": operator.astype(object),
            "technology": radio.map(RADIO_TECHNOLOGY).fillna(radio),
            "height_m": np.nan,
            "weight": samples.fillna(1.0).clip(lower=1.0).astype(float),
            "owner": None,
            "source_id": key,
            "enb": _enb_key(cells, radio),
            "x": xy[:, 0],
            "y": xy[:, 1],
        }
    )
    m = m[ok]
    return m.drop_duplicates("key")


def _to_lonlat(xy: np.ndarray, crs: pyproj.CRS) -> np.ndarray:
    t = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
    lon, lat = t.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def _members_from_sectors(sectors: gpd.GeoDataFrame, xy: np.ndarray) -> pd.DataFrame:
    what = "`sectors`"
    sectors = sectors.reset_index(drop=True)
    ok = np.isfinite(xy).all(axis=1)
    if (~ok).any():
        _warn(f"{what}: {int((~ok).sum())} sector(s) have no position and were skipped.", SkippedFeaturesWarning, depth=1)
    op = sectors["operator"]
    noop = ok & (op.isna() | (op.astype(str).str.strip() == "")).to_numpy()
    if noop.any():
        _warn(f"{what}: {int(noop.sum())} sector(s) have no operator and were skipped.", SkippedFeaturesWarning, depth=1)
    ok &= ~noop
    sid = sectors["site_id"].astype(object)
    nosid = ok & (sid.isna() | (sid.astype(str).str.strip() == "")).to_numpy()
    if nosid.any():
        _warn(
            f"{what}: {int(nosid.sum())} sector(s) have no site_id; each stands for its own site (site_id = sector_id) "
            "until sectors within the duplicate distance merge. Fill `site_id` to group sectors into sites.",
            RepairWarning, depth=1,
        )
        sid = sid.where(~nosid, sectors["sector_id"].astype(str))
    m = pd.DataFrame(
        {
            "operator": op.astype(str).str.strip(),
            "site_id": sid.astype(str),
            "technology": sectors["technology"].astype(object) if "technology" in sectors.columns else np.nan,
            "height_m": pd.to_numeric(sectors["height_m"], errors="coerce") if "height_m" in sectors.columns else np.nan,
            "owner": sectors["owner"].astype(object) if "owner" in sectors.columns else np.nan,
            "x": xy[:, 0],
            "y": xy[:, 1],
        }
    )[ok]
    # one anchor per (operator, site_id): the mean of its sectors' positions
    g = m.groupby(["operator", "site_id"], sort=True)
    anchors = g.agg(
        x=("x", "mean"), y=("y", "mean"), height_m=("height_m", "max"), weight=("x", "size"), owner=("owner", "first")
    ).reset_index()
    tech = _join_sorted(m["technology"], (m["operator"] + "\x1f" + m["site_id"]).to_numpy())
    anchors["technology"] = (anchors["operator"] + "\x1f" + anchors["site_id"]).map(tech)
    anchors["kind"] = "sector"
    anchors["key"] = "site:" + anchors["site_id"]
    anchors["source_id"] = anchors["site_id"]
    anchors["enb"] = None
    return anchors[["kind", "key", "operator", "technology", "height_m", "weight", "owner", "source_id", "enb", "x", "y"]]


def _enb_key(cells: pd.DataFrame, radio: pd.Series) -> pd.Series:
    """'mcc-net-eNB' for LTE cells (eNB = ECI // 256), else None."""
    cell = pd.to_numeric(cells["cell"], errors="coerce")
    ok = (radio == "LTE") & cell.notna() & (cell >= 256)
    key = (
        pd.to_numeric(cells["mcc"], errors="coerce").astype("Int64").astype(str) + "-"
        + pd.to_numeric(cells["net"], errors="coerce").astype("Int64").astype(str) + "-"
        + (cell // 256).astype("Int64").astype(str)
    )
    return key.where(ok, None).astype(object)


def physical_sites(
    cells_or_sectors: gpd.GeoDataFrame | Sequence[gpd.GeoDataFrame],
    /,
    *,
    site_tolerance_m: float = 100.0,
    colocation_m: float = 50.0,
    attach_m: float = 300.0,
    duplicate_m: float = 1.0,
    group_by_enb: bool = True,
    bounds_lonlat: Sequence[float] | None = None,
    working_crs: Any = None,
) -> gpd.GeoDataFrame:
    """Consolidate cells and sector tables into physical sites, and sites into towers.

    Inputs are OpenCelliD cells (columns ``radio, mcc, net, area, cell`` and optionally
    ``operator``, ``samples``, ``cell_key``, as :func:`ictplan.io.read_cells` gives them)
    and/or operators' sector tables (schema ``sites``: ``sector_id, site_id, operator``,
    optionally ``technology, height_m, owner``), one frame or a list of frames.

    * Sectors of one operator and ``site_id`` are one site (at the mean of their positions).
      Two ``site_id`` of one operator within ``duplicate_m`` are the same site recorded twice:
      they are merged (counted :class:`~ictplan.errors.RepairWarning`).
    * Cells of one operator within ``site_tolerance_m`` of each other (single linkage:
      connected components of the within-distance graph), or of one LTE eNodeB (same MCC,
      net and ``cell // 256``, the 20-bit eNB id of the 28-bit E-UTRAN cell id) form one
      cluster, placed at the ``samples``-weighted mean of its cells' positions.
    * A cluster whose centre lies within ``attach_m`` of a sector-table site of its operator
      joins the nearest one (the sector table is the authority on where sites are;
      OpenCelliD positions are often a few hundred metres off). Other clusters are sites of
      their own (sites the sector tables do not list, or operators without a table).
    * Sites of *different* operators within ``colocation_m`` stand on one shared tower
      (connected components again); ``tower_uid`` names it.

    Parameters
    ----------
    cells_or_sectors
        One GeoDataFrame of points or a sequence of them, all in one CRS (any CRS).
    site_tolerance_m
        Distance in metres (working CRS) within which cells of one operator are one site.
    colocation_m
        Distance in metres within which sites of different operators share a tower.
    attach_m
        Distance in metres from a cell cluster's centre to a sector-table site it may join.
    duplicate_m
        Distance in metres within which two ``site_id`` of one operator are one site.
    group_by_enb
        Join LTE cells of one eNodeB whatever their positions. NR cells are not grouped by
        id: the gNB id length (22-32 bits) is operator-specific.
    bounds_lonlat
        ``(min_lon, min_lat, max_lon, max_lat)`` of the study area; cells outside are
        skipped with a counted warning. ``None`` keeps all.
    working_crs
        Projected CRS for the distances; default: the input CRS if projected, else the
        UTM zone of the data.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per physical site of one operator, in the CRS of the input, sorted by
        ``site_uid``, with columns ``site_uid, tower_uid, operator, technologies``
        (';'-joined), ``height_m`` (max of its sectors, NaN if unknown), ``owner``,
        ``n_cells, n_sectors, source`` ("sectors", "cells" or "both"), ``site_ids``
        (the operator's ids, ';'-joined), ``members`` (the keys the id is made of).

    Raises
    ------
    InputValidationError
        A frame is neither a cell table nor a sector table, or no usable point is left.
    MissingCRSError, CRSMismatchError, GeographicCRSError
        A frame has no CRS, frames differ in CRS, or ``working_crs`` is geographic.
    GeometryTypeError
        A frame holds non-point geometries.

    Notes
    -----
    Cost: one KD-tree per operator and per step; O(n log n). Single linkage can chain cells
    of a dense town into one site when they are spaced below ``site_tolerance_m``; lower
    the tolerance there. The ids are described in the module docstring.
    """
    frames = [cells_or_sectors] if isinstance(cells_or_sectors, gpd.GeoDataFrame) else list(cells_or_sectors)
    if not frames:
        msg = "`physical_sites` needs at least one cell or sector table; got an empty list."
        raise InputValidationError(msg)
    for v, name in ((site_tolerance_m, "site_tolerance_m"), (colocation_m, "colocation_m"), (attach_m, "attach_m"), (duplicate_m, "duplicate_m")):
        if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
            msg = f"`{name}` must be a distance in metres >= 0; got {v!r}."
            raise InputValidationError(msg)
    crs0 = None
    members = []
    for k, gdf in enumerate(frames):
        what = f"`cells_or_sectors[{k}]`" if len(frames) > 1 else "`cells_or_sectors`"
        if not isinstance(gdf, gpd.GeoDataFrame):
            msg = f"{what} must be a GeoDataFrame; got {type(gdf).__name__}."
            raise InputValidationError(msg)
        crs = _crs.require_crs(gdf, what)
        if crs0 is None:
            crs0 = crs
            wcrs = _working_crs(crs, working_crs, gdf, what)
        elif not crs.equals(crs0):
            msg = (
                f"{what} is in {_crs.crs_label(crs)} but the first frame is in {_crs.crs_label(crs0)}. "
                "Reproject one of them with `.to_crs()` so all share a CRS."
            )
            raise _crs.CRSMismatchError(msg)
        if len(gdf) == 0:
            continue
        _check_kind(gdf, what, {"Point"})
        geoms = gdf.geometry if crs.equals(wcrs) else gdf.geometry.to_crs(wcrs)
        xy = _xy(geoms)
        cols = set(gdf.columns)
        if set(_SITES_COLUMNS) <= cols:
            members.append(_members_from_sectors(gdf, xy))
        elif set(_CELLS_COLUMNS) <= cols:
            members.append(_members_from_cells(gdf, xy, wcrs, bounds_lonlat))
        else:
            msg = (
                f"{what} is neither a sector table (needs columns {', '.join(_SITES_COLUMNS)}) nor an OpenCelliD "
                f"cell table (needs {', '.join(_CELLS_COLUMNS)}); it has {', '.join(map(str, gdf.columns))}."
            )
            raise MissingColumnError(msg)
    m = pd.concat(members, ignore_index=True) if members else pd.DataFrame()
    if m.empty:
        msg = "`physical_sites`: no cell or sector with a position and an operator is left; nothing to consolidate."
        raise InputValidationError(msg)
    # anchors (sector sites) first, then cells; each operator is clustered on its own
    m = m.sort_values(["operator", "kind", "key"], ascending=[True, False, True], ignore_index=True)
    labels = np.empty(len(m), dtype=np.int64)
    offset = 0
    n_dup_total = 0
    dup_examples: list[str] = []
    for op, idx in m.groupby("operator", sort=True).indices.items():
        sub = m.iloc[idx]
        is_a = (sub["kind"] == "sector").to_numpy()
        xa = sub[["x", "y"]].to_numpy()[is_a]
        xc = sub[["x", "y"]].to_numpy()[~is_a]
        na, nc = len(xa), len(xc)
        ii, jj = [], []
        ai, aj, _ = _pairs_within(xa, duplicate_m)
        ii.append(ai)
        jj.append(aj)
        # cells first among themselves: within the tolerance, or one LTE eNodeB
        ci, cj, _ = _pairs_within(xc, site_tolerance_m)
        ii.append(na + ci)
        jj.append(na + cj)
        if group_by_enb and nc > 1:
            enb = sub["enb"].to_numpy()[~is_a]
            has = pd.notna(enb)
            if has.any():
                code = np.full(nc, -1, dtype=np.int64)
                code[has] = pd.factorize(enb[has])[0]
                order_c = np.argsort(code, kind="stable")
                sc = code[order_c]
                chain = np.flatnonzero((sc[1:] == sc[:-1]) & (sc[1:] >= 0))
                ii.append(na + order_c[chain])
                jj.append(na + order_c[chain + 1])
        if na and nc:
            # then each cell cluster joins the nearest sector-table site within attach_m of its centre
            clab = _components(nc, np.concatenate(ii[1:]) - na, np.concatenate(jj[1:]) - na)
            w = sub["weight"].to_numpy()[~is_a]
            sw = np.bincount(clab, weights=w)
            cen = np.column_stack([np.bincount(clab, weights=w * xc[:, 0]), np.bincount(clab, weights=w * xc[:, 1])]) / sw[:, None]
            d, near = cKDTree(xa).query(cen, k=1, distance_upper_bound=attach_m * (1 + 1e-9) + 1e-9)
            near = np.minimum(near, na - 1)
            dx = np.where(np.isfinite(d), np.hypot(cen[:, 0] - xa[near, 0], cen[:, 1] - xa[near, 1]), np.inf)
            target = np.where(dx <= attach_m, near, -1)[clab]
            ii.append(na + np.flatnonzero(target >= 0))
            jj.append(target[target >= 0])
        lab = _components(na + nc, np.concatenate(ii), np.concatenate(jj))
        # labels follow member order inside the operator: anchors (is_a) come first in `sub`
        order = np.concatenate([np.flatnonzero(is_a), np.flatnonzero(~is_a)])
        lab_sub = np.empty(len(sub), dtype=np.int64)
        lab_sub[order] = lab
        labels[idx] = lab_sub + offset
        if len(ai):
            alab = lab[:na]
            n_dup_total += na - len(np.unique(alab))
            ids = sub["source_id"].to_numpy()[is_a]
            for g in np.unique(alab[np.bincount(alab)[alab] > 1])[:3]:
                dup_examples.append(f"{op} {' = '.join(sorted(ids[alab == g]))}")
        offset += int(lab.max()) + 1 if len(lab) else 0
    if n_dup_total:
        examples = "; ".join(dup_examples[:5])
        _warn(
            f"sector tables: {n_dup_total} site id(s) name a site of the same operator already recorded at the same "
            f"position (within {duplicate_m:g} m) and were merged into it (e.g. {examples}). Fix the duplicate ids "
            "at the source, or raise `duplicate_m` if they are meant to be distinct.",
            RepairWarning,
        )
    m["label"] = labels
    sites = _aggregate_sites(m)
    tower_labels = _tower_labels(sites, colocation_m)
    sites["tower_uid"] = _tower_uids(sites["site_uid"], tower_labels)
    geom = gpd.GeoSeries(gpd.points_from_xy(sites["x"], sites["y"]), crs=wcrs)
    if not wcrs.equals(crs0):
        geom = geom.to_crs(crs0)
    out = gpd.GeoDataFrame(sites.drop(columns=["x", "y", "label"]), geometry=geom.values, crs=crs0)
    out = out.sort_values("site_uid", ignore_index=True)
    cols = ["site_uid", "tower_uid", "operator", "technologies", "height_m", "owner", "n_cells", "n_sectors", "source", "site_ids", "members", "geometry"]
    out = out[cols]
    logger.info(
        "consolidated %d cells and %d sector sites into %d physical sites on %d towers",
        int((m["kind"] == "cell").sum()), int((m["kind"] == "sector").sum()), len(out), out["tower_uid"].nunique(),
    )
    return out


def _aggregate_sites(m: pd.DataFrame) -> pd.DataFrame:
    lab = m["label"].to_numpy()
    n = int(lab.max()) + 1
    is_a = (m["kind"] == "sector").to_numpy()
    has_a = np.bincount(lab, weights=is_a.astype(float), minlength=n) > 0
    w = np.where(is_a, 1.0, np.where(has_a[lab], 0.0, m["weight"].to_numpy()))
    sw = np.bincount(lab, weights=w, minlength=n)
    x = np.bincount(lab, weights=w * m["x"].to_numpy(), minlength=n) / sw
    y = np.bincount(lab, weights=w * m["y"].to_numpy(), minlength=n) / sw
    # the id is made of the anchors' keys when the site has any, else of its cells' keys
    defining = m[is_a | ~has_a[lab]]
    dk = defining[["label", "key"]].drop_duplicates().sort_values(["label", "key"])
    dl, dv = dk["label"].to_numpy(), dk["key"].to_numpy()
    starts, ends = _slices(dl)
    keys = pd.Series([list(dv[a:b]) for a, b in zip(starts, ends, strict=True)], index=dl[starts], dtype=object)
    ops = m.groupby("label")["operator"].first()
    op_of = ops.reindex(keys.index).to_numpy()
    site_uid = pd.Series([_uid("S", [o, *ks]) for o, ks in zip(op_of, keys.to_numpy(), strict=True)], index=keys.index)
    tech = m.assign(technology=m["technology"].astype(object))
    tech = tech.assign(technology=tech["technology"].where(tech["technology"].notna(), "")).assign(
        technology=lambda d: d["technology"].astype(str).str.split(";")
    ).explode("technology")
    technologies = _join_sorted(tech["technology"], tech["label"].to_numpy())
    n_cells = np.bincount(lab, weights=(~is_a).astype(float), minlength=n).astype(np.int64)
    n_sectors = np.bincount(lab, weights=np.where(is_a, m["weight"].to_numpy(), 0.0), minlength=n).astype(np.int64)
    height = m.groupby("label")["height_m"].max()
    owner = m.dropna(subset=["owner"]).groupby("label")["owner"].first()
    site_ids = _join_sorted(m["source_id"].where(is_a), lab)
    idx = np.arange(n)
    sites = pd.DataFrame(
        {
            "label": idx,
            "site_uid": site_uid.reindex(idx).to_numpy(),
            "operator": ops.reindex(idx).to_numpy(),
            "technologies": technologies.reindex(idx).fillna("").to_numpy(),
            "height_m": height.reindex(idx).to_numpy(dtype=float),
            "owner": owner.reindex(idx).to_numpy(dtype=object),
            "n_cells": n_cells,
            "n_sectors": n_sectors,
            "source": np.where(n_cells == 0, "sectors", np.where(n_sectors == 0, "cells", "both")),
            "site_ids": site_ids.reindex(idx).fillna("").to_numpy(),
            "members": keys.reindex(idx).map(";".join).to_numpy(),
            "x": x,
            "y": y,
        }
    )
    return sites


def _tower_labels(sites: pd.DataFrame, colocation_m: float) -> np.ndarray:
    xy = sites[["x", "y"]].to_numpy()
    i, j, _ = _pairs_within(xy, colocation_m)
    op = sites["operator"].to_numpy()
    diff = op[i] != op[j]
    return _components(len(sites), i[diff], j[diff])


def _tower_uids(site_uid: pd.Series, labels: np.ndarray) -> np.ndarray:
    order = np.argsort(labels, kind="stable")
    lab, uid = labels[order], site_uid.to_numpy()[order]
    starts, ends = _slices(lab)
    groups = pd.Series([_uid("T", list(uid[a:b])) for a, b in zip(starts, ends, strict=True)], index=lab[starts])
    return groups.reindex(labels).to_numpy()


# --------------------------------------------------------------------------- towers
def towers(sites: gpd.GeoDataFrame, /) -> gpd.GeoDataFrame:
    """One row per tower (shared or not) from the physical sites.

    Parameters
    ----------
    sites
        The output of :func:`physical_sites` (any CRS; a ``tower_uid`` per site).

    Returns
    -------
    geopandas.GeoDataFrame
        In the CRS of ``sites``, sorted by ``tower_uid``: ``tower_uid, operators``
        (';'-joined, sorted), ``n_operators, n_sites, owner`` (the ``owner`` given in a
        sector table, else the operator with the most cells and sectors there -- the anchor
        tenant), ``height_m`` (max), ``technologies, site_uids`` and the point (mean of the
        sites' positions, computed in the working CRS).

    Raises
    ------
    MissingColumnError, MissingCRSError, InputValidationError
    """
    crs = _check_frame(sites, "`sites`", ("site_uid", "tower_uid", "operator"))
    if len(sites) == 0:
        msg = "`sites` is empty; run `physical_sites` on cells or sector tables first."
        raise InputValidationError(msg)
    wcrs = _working_crs(crs, None, sites, "`sites`")
    xy = _xy(sites.geometry if crs.equals(wcrs) else sites.geometry.to_crs(wcrs))
    df = pd.DataFrame(sites.drop(columns=sites.geometry.name)).assign(x=xy[:, 0], y=xy[:, 1])
    for c, default in (("technologies", ""), ("height_m", np.nan), ("owner", None), ("n_cells", 0), ("n_sectors", 0)):
        if c not in df.columns:
            df[c] = default
    df["size"] = df["n_cells"].fillna(0) + df["n_sectors"].fillna(0)
    code, uids = pd.factorize(df["tower_uid"], sort=True)
    df["tcode"] = code
    g = df.groupby("tcode", sort=True)
    t = g.agg(
        n_sites=("site_uid", "size"),
        height_m=("height_m", "max"),
        x=("x", "mean"),
        y=("y", "mean"),
    )
    t["tower_uid"] = np.asarray(uids)[t.index.to_numpy()]
    t["operators"] = _join_sorted(df["operator"], code).reindex(t.index)
    t["n_operators"] = g["operator"].nunique()
    tech = df[["tcode"]].assign(t=df["technologies"].fillna("").astype(str).str.split(";")).explode("t")
    t["technologies"] = _join_sorted(tech["t"], tech["tcode"].to_numpy()).reindex(t.index).fillna("")
    t["site_uids"] = _join_sorted(df["site_uid"], code).reindex(t.index)
    opc = pd.factorize(df["operator"], sort=True)[0]
    order = np.lexsort((opc, -df["size"].to_numpy(), code))
    first = order[np.r_[True, code[order][1:] != code[order][:-1]]]
    anchor = pd.Series(df["operator"].to_numpy()[first], index=code[first])
    # the owner named most often in the sector tables (ties: alphabetical)
    named = df.dropna(subset=["owner"]).assign(owner=lambda d: d["owner"].astype(str))
    counts = named.groupby(["tcode", "owner"]).size().rename("n").reset_index()
    given = counts.sort_values(["tcode", "n", "owner"], ascending=[True, False, True]).groupby("tcode")["owner"].first()
    t["owner"] = given.reindex(t.index).fillna(anchor.reindex(t.index))
    t = t.reset_index(drop=True)
    geom = gpd.GeoSeries(gpd.points_from_xy(t["x"], t["y"]), crs=wcrs)
    if not wcrs.equals(crs):
        geom = geom.to_crs(crs)
    cols = ["tower_uid", "operators", "n_operators", "n_sites", "owner", "height_m", "technologies", "site_uids"]
    return gpd.GeoDataFrame(t[cols], geometry=geom.values, crs=crs)


# --------------------------------------------------------------------------- candidate pairs
def candidate_pairs(
    points: gpd.GeoDataFrame,
    /,
    *,
    distance_m: float,
    group_column: str | None = "operator",
    working_crs: Any = None,
) -> pd.DataFrame:
    """Pairs of points of different groups (operators) within an exact distance.

    Parameters
    ----------
    points
        Points in any CRS.
    distance_m
        Distance in metres (working CRS); a pair qualifies when its Euclidean distance is
        ``<= distance_m``.
    group_column
        Column whose values must differ within a pair (e.g. ``"operator"``); ``None`` keeps
        all pairs.
    working_crs
        Projected CRS for the distances; default: the input CRS if projected, else UTM.

    Returns
    -------
    pandas.DataFrame
        Columns ``i, j`` (positions in ``points``, ``i < j``), ``distance_m``; sorted by
        ``(i, j)``.

    Raises
    ------
    MissingCRSError, GeographicCRSError, MissingColumnError, GeometryTypeError,
    InputValidationError

    Notes
    -----
    A KD-tree (:meth:`scipy.spatial.cKDTree.query_pairs`) finds the candidates and an
    exact distance test keeps them: no polygonal buffer, so no pair just inside the limit
    is lost. O(n log n + pairs) time, O(n + pairs) memory.
    """
    crs = _check_frame(points, "`points`", (group_column,) if group_column else ())
    if not (isinstance(distance_m, int | float) and math.isfinite(distance_m) and distance_m >= 0):
        msg = f"`distance_m` must be a distance in metres >= 0; got {distance_m!r}."
        raise InputValidationError(msg)
    _check_kind(points, "`points`", {"Point"})
    wcrs = _working_crs(crs, working_crs, points, "`points`")
    xy = _xy(points.geometry if crs.equals(wcrs) else points.geometry.to_crs(wcrs))
    ok = np.isfinite(xy).all(axis=1)
    if not ok.all():
        xy = np.where(ok[:, None], xy, 0.0)
    i, j, d = _pairs_within(xy, distance_m)
    keep = ok[i] & ok[j]
    if group_column:
        codes = pd.factorize(points[group_column])[0]
        keep &= codes[i] != codes[j]
    i, j, d = i[keep], j[keep], d[keep]
    order = np.lexsort((j, i))
    return pd.DataFrame({"i": i[order], "j": j[order], "distance_m": d[order]})


# --------------------------------------------------------------------------- tower graph
def colocation_graph(
    towers_gdf: gpd.GeoDataFrame,
    /,
    *,
    candidate_m: float = 300.0,
    working_crs: Any = None,
) -> nx.Graph:
    """Graph of towers; edges join towers of different operators within ``candidate_m``.

    Parameters
    ----------
    towers_gdf
        The output of :func:`towers` (any CRS), with ``tower_uid`` and ``operators``.
    candidate_m
        Distance in metres (working CRS) within which one tower could serve both.
    working_crs
        Projected CRS for distances; default: the input CRS if projected, else UTM.

    Returns
    -------
    networkx.Graph
        Nodes are ``tower_uid`` with ``operators`` (tuple), ``n_operators, owner,
        height_m, technologies`` (tuple) and ``x, y`` (working CRS). An edge joins two
        towers whose operator sets do not overlap (one tower could host all of them) and
        whose exact distance is ``<= candidate_m``; it carries ``distance_m``.
        ``G.graph`` holds ``crs`` (working CRS) and ``candidate_m``.

    Raises
    ------
    MissingColumnError, MissingCRSError, GeographicCRSError, InputValidationError

    Notes
    -----
    Raising ``candidate_m`` never removes an edge. Towers that share an operator are never
    joined: merging them would only move that operator, not share a tower.
    """
    crs = _check_frame(towers_gdf, "`towers`", ("tower_uid", "operators"))
    if not (isinstance(candidate_m, int | float) and math.isfinite(candidate_m) and candidate_m >= 0):
        msg = f"`candidate_m` must be a distance in metres >= 0; got {candidate_m!r}."
        raise InputValidationError(msg)
    wcrs = _working_crs(crs, working_crs, towers_gdf, "`towers`")
    xy = _xy(towers_gdf.geometry if crs.equals(wcrs) else towers_gdf.geometry.to_crs(wcrs))
    ops = towers_gdf["operators"].fillna("").astype(str).str.split(";")
    names = sorted({o for lst in ops for o in lst if o})
    if len(names) > 62:
        msg = f"`towers` name {len(names)} operators; at most 62 are supported."
        raise InputValidationError(msg)
    bit = {o: np.int64(1) << np.int64(k) for k, o in enumerate(names)}
    mask = np.array([sum((bit[o] for o in lst if o), np.int64(0)) for lst in ops], dtype=np.int64)
    i, j, d = _pairs_within(xy, candidate_m)
    keep = (mask[i] & mask[j]) == 0
    i, j, d = i[keep], j[keep], d[keep]
    uid = towers_gdf["tower_uid"].to_numpy()
    G = nx.Graph(crs=wcrs, candidate_m=float(candidate_m))
    techs = towers_gdf["technologies"] if "technologies" in towers_gdf.columns else pd.Series("", index=towers_gdf.index)
    owner = towers_gdf["owner"] if "owner" in towers_gdf.columns else pd.Series(None, index=towers_gdf.index)
    height = towers_gdf["height_m"] if "height_m" in towers_gdf.columns else pd.Series(np.nan, index=towers_gdf.index)
    G.add_nodes_from(
        (
            u,
            {
                "operators": tuple(o for o in op_list if o),
                "n_operators": sum(1 for o in op_list if o),
                "owner": ow,
                "height_m": float(h),
                "technologies": tuple(t for t in str(tc or "").split(";") if t),
                "x": float(x),
                "y": float(y),
            },
        )
        for u, op_list, ow, h, tc, x, y in zip(uid, ops, owner, height, techs, xy[:, 0], xy[:, 1], strict=True)
    )
    G.add_edges_from((uid[a], uid[b], {"distance_m": float(dd)}) for a, b, dd in zip(i, j, d, strict=True))
    logger.info("tower co-location graph: %d towers, %d candidate edges within %g m", G.number_of_nodes(), G.number_of_edges(), candidate_m)
    return G


def candidate_edges(graph: nx.Graph, /, *, crs: Any = None) -> gpd.GeoDataFrame:
    """The candidate edges of a co-location graph as lines (for maps and GeoPackage).

    Parameters
    ----------
    graph
        The output of :func:`colocation_graph` (node ``x, y`` in ``graph.graph["crs"]``).
    crs
        CRS of the result; default: the graph's CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``tower_uid_a, tower_uid_b, operators_a, operators_b, distance_m`` and a line.

    Raises
    ------
    InputValidationError
        The graph carries no CRS.
    """
    gcrs = graph.graph.get("crs")
    if gcrs is None:
        msg = "the graph has no `crs` in `graph.graph`; build it with `sharing.colocation_graph`."
        raise InputValidationError(msg)
    rows = sorted((min(u, v), max(u, v), d["distance_m"]) for u, v, d in graph.edges(data=True))
    a = [r[0] for r in rows]
    b = [r[1] for r in rows]
    nodes = graph.nodes
    coords = np.array([[nodes[u]["x"], nodes[u]["y"], nodes[v]["x"], nodes[v]["y"]] for u, v in zip(a, b, strict=True)]).reshape(-1, 4)
    lines = shapely.linestrings(coords.reshape(-1, 2, 2)) if len(rows) else np.empty(0, dtype=object)
    out = gpd.GeoDataFrame(
        {
            "tower_uid_a": a,
            "tower_uid_b": b,
            "operators_a": [";".join(nodes[u]["operators"]) for u in a],
            "operators_b": [";".join(nodes[v]["operators"]) for v in b],
            "distance_m": [r[2] for r in rows],
        },
        geometry=gpd.GeoSeries(lines, crs=gcrs).values,
        crs=gcrs,
    )
    return out.to_crs(crs) if crs is not None else out


def candidate_groups(graph: nx.Graph, /) -> gpd.GeoDataFrame:
    """Groups of towers that could become one shared tower, ranked by the towers they save.

    A group is a clique of the co-location graph: every two of its towers are within the
    candidate distance and serve different operators, so one tower could serve them all.
    Groups are grown greedily from the shortest edge up (ties by tower id), merging two
    groups only if the union is still a clique. The kept tower of a group (its *anchor*) is
    the one with the most operators, then the tallest, then the smallest id; the others
    would not need building.

    Parameters
    ----------
    graph
        The output of :func:`colocation_graph`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per group of >= 2 towers, in the graph's CRS, sorted by ``rank`` (1 =
        saves the most): ``group_uid, rank, n_towers, towers_saved, operators,
        n_operators, anchor_tower_uid, tower_uids, max_distance_m`` and a MultiPoint of
        its towers.

    Raises
    ------
    InputValidationError
        The graph carries no CRS.

    Notes
    -----
    Greedy clique partition: a Python loop over the candidate edges with a check of at
    most (operators)^2 pairs per merge -- linear in the edges for all practical inputs.
    It is deterministic and independent of row order.
    """
    gcrs = graph.graph.get("crs")
    if gcrs is None:
        msg = "the graph has no `crs` in `graph.graph`; build it with `sharing.colocation_graph`."
        raise InputValidationError(msg)
    group_of: dict[Any, int] = {}
    members: dict[int, list] = {}
    edges = sorted(((d["distance_m"], min(u, v), max(u, v)) for u, v, d in graph.edges(data=True)))
    next_id = 0
    for _, u, v in edges:
        gu, gv = group_of.get(u), group_of.get(v)
        if gu is not None and gu == gv:
            continue
        mu = members[gu] if gu is not None else [u]
        mv = members[gv] if gv is not None else [v]
        if not all(graph.has_edge(a, b) for a in mu for b in mv):
            continue
        merged = mu + mv
        for k in (gu, gv):
            if k is not None:
                del members[k]
        members[next_id] = merged
        for t in merged:
            group_of[t] = next_id
        next_id += 1
    nodes = graph.nodes
    rows = []
    for mem in members.values():
        mem = sorted(mem)
        anchor = min(mem, key=lambda t: (-nodes[t]["n_operators"], -_height_or(nodes[t]["height_m"], -1.0), t))
        ops = sorted({o for t in mem for o in nodes[t]["operators"]})
        dmax = max(graph.edges[a, b]["distance_m"] for k, a in enumerate(mem) for b in mem[k + 1 :])
        rows.append(
            {
                "group_uid": _uid("G", mem),
                "n_towers": len(mem),
                "towers_saved": len(mem) - 1,
                "operators": ";".join(ops),
                "n_operators": len(ops),
                "anchor_tower_uid": anchor,
                "tower_uids": ";".join(mem),
                "max_distance_m": float(dmax),
                "xy": [(nodes[t]["x"], nodes[t]["y"]) for t in mem],
            }
        )
    cols = ["group_uid", "rank", "n_towers", "towers_saved", "operators", "n_operators", "anchor_tower_uid", "tower_uids", "max_distance_m", "geometry"]
    if not rows:
        kinds = {"rank": "int64", "n_towers": "int64", "towers_saved": "int64", "n_operators": "int64", "max_distance_m": "float64"}
        data = {c: pd.Series([], dtype=kinds.get(c, "object")) for c in cols if c != "geometry"}
        return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=gcrs).values, crs=gcrs)[cols]
    df = pd.DataFrame(rows).sort_values(["towers_saved", "n_operators", "max_distance_m", "group_uid"], ascending=[False, False, True, True], ignore_index=True)
    df["rank"] = np.arange(1, len(df) + 1)
    xy = np.array([p for pts in df["xy"] for p in pts], dtype=float).reshape(-1, 2)
    df["geometry"] = shapely.multipoints(xy, indices=np.repeat(np.arange(len(df)), df["n_towers"].to_numpy()))
    return gpd.GeoDataFrame(df[cols], geometry="geometry", crs=gcrs)


def _height_or(h: Any, default: float) -> float:
    return default if h is None or (isinstance(h, float) and math.isnan(h)) else float(h)


def sharing_summary(towers_gdf: gpd.GeoDataFrame, groups: gpd.GeoDataFrame, /) -> dict[str, float | int]:
    """Tenancy today and if the candidate groups were merged; towers saved.

    Parameters
    ----------
    towers_gdf
        The output of :func:`towers`.
    groups
        The output of :func:`candidate_groups` on the graph of those towers.

    Returns
    -------
    dict
        ``n_operator_sites`` (tenancies: operators summed over towers), ``n_towers``,
        ``n_shared_towers`` (>= 2 operators), ``tenancy_today`` (operators per tower),
        ``towers_saved``, ``n_towers_potential``, ``tenancy_potential``, ``n_groups``.

    Raises
    ------
    MissingColumnError
        ``n_operators`` or ``towers_saved`` is missing.
    """
    if "n_operators" not in towers_gdf.columns or "towers_saved" not in groups.columns:
        msg = "`sharing_summary` needs `towers` from `sharing.towers` and `groups` from `sharing.candidate_groups`."
        raise MissingColumnError(msg)
    tenancies = int(towers_gdf["n_operators"].sum())
    n = len(towers_gdf)
    saved = int(groups["towers_saved"].sum())
    return {
        "n_operator_sites": tenancies,
        "n_towers": n,
        "n_shared_towers": int((towers_gdf["n_operators"] >= 2).sum()),
        "tenancy_today": tenancies / n if n else float("nan"),
        "n_groups": len(groups),
        "towers_saved": saved,
        "n_towers_potential": n - saved,
        "tenancy_potential": tenancies / (n - saved) if n - saved else float("nan"),
    }


# --------------------------------------------------------------------------- poles and spans
def _split_ops(s: pd.Series) -> pd.Series:
    return s.fillna("").astype(str).str.split(";").map(lambda lst: tuple(sorted({o.strip() for o in lst if o.strip()})))


def poles_and_spans(
    poles: gpd.GeoDataFrame,
    spans: gpd.GeoDataFrame,
    /,
    *,
    max_cables: int | None = None,
    snap_m: float = 2.0,
) -> tuple[nx.MultiGraph, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Graph of poles and spans; shared spans; poles over their cable limit.

    Parameters
    ----------
    poles
        Schema ``poles`` (``pole_id, owner``, optional ``max_cables``), points.
    spans
        Schema ``spans`` (``span_id, kind, operators`` with operators ';'-separated;
        optional ``from_pole, to_pole, cable_count``), lines, in the CRS of ``poles``.
    max_cables
        Cable limit for every pole; default: the pole's ``max_cables`` column, else 6.
    snap_m
        A span end without ``from_pole``/``to_pole`` joins the nearest pole within this
        many metres (CRS units; must be projected).

    Returns
    -------
    graph : networkx.MultiGraph
        Nodes are pole ids (plus ``J-...`` junctions for span ends away from any pole),
        with ``x, y``; one edge per span, keyed by ``span_id``, with ``kind, operators``
        (tuple), ``cable_count``. ``graph.graph["crs"]`` is the layers' CRS.
    poles : geopandas.GeoDataFrame
        A copy of ``poles`` with ``n_spans, operators, n_operators, cables`` (estimated
        cables on the pole), ``cable_limit, overloaded``, ``no_span``.
    spans : geopandas.GeoDataFrame
        A copy of ``spans`` with ``from_node, to_node``, ``operators`` (normalised,
        sorted), ``n_operators``, ``cable_count`` (given, else one per operator), ``shared``.

    Raises
    ------
    MissingColumnError, MissingCRSError, CRSMismatchError, GeographicCRSError,
    GeometryTypeError, InputValidationError

    Warns
    -----
    SkippedFeaturesWarning
        Poles with no span (kept, ``no_span`` true); spans with no operator; span ends
        that match no pole.

    Notes
    -----
    The cable count of a pole is estimated from its aerial spans: a cable passing the pole
    uses two spans, one ending there uses one, so the pole carries at least the busiest
    span's cables and at least half the cables of all its spans:
    ``max(max(c), ceil(sum(c) / 2))``. Duct spans do not load poles.
    """
    crs = _check_frame(poles, "`poles`", ("pole_id",))
    _check_frame(spans, "`spans`", ("span_id", "operators"))
    _crs.check_same_crs(poles=poles, spans=spans)
    _crs.require_projected(crs, "`poles`")
    _check_kind(poles, "`poles`", {"Point"})
    _check_kind(spans, "`spans`", {"LineString"})
    poles_out = poles.copy()
    spans_out = spans.copy()
    pid = poles_out["pole_id"].astype(str).to_numpy()
    pxy = _xy(poles_out.geometry)
    pos = {p: k for k, p in enumerate(pid)}
    ops = _split_ops(spans_out["operators"])
    n_ops = ops.map(len).to_numpy()
    if (n_ops == 0).any():
        _warn(f"`spans`: {int((n_ops == 0).sum())} span(s) name no operator; they count as carrying no cable.", SkippedFeaturesWarning)
    kind = spans_out["kind"].astype(str).str.lower().to_numpy() if "kind" in spans_out.columns else np.full(len(spans_out), "aerial")
    given = pd.to_numeric(spans_out["cable_count"], errors="coerce") if "cable_count" in spans_out.columns else pd.Series(np.nan, index=spans_out.index)
    cables = np.where(given.notna(), given.fillna(0).to_numpy(), n_ops).astype(np.int64)
    geoms = spans_out.geometry.values
    ends = np.column_stack([_xy_points(shapely.get_point(geoms, 0)), _xy_points(shapely.get_point(geoms, -1))]).reshape(-1, 2)
    tree = cKDTree(pxy) if len(pxy) else None

    def resolve(col: str, k: int) -> np.ndarray:
        node = np.full(len(spans_out), -1, dtype=np.int64)
        if col in spans_out.columns:
            named = spans_out[col].astype(object).where(spans_out[col].notna())
            node = np.array([pos.get(str(v), -1) if v is not None and v == v else -1 for v in named], dtype=np.int64)
        xy = ends[k::2]
        need = (node < 0) & np.isfinite(xy).all(axis=1)
        if tree is not None and need.any():
            d, near = tree.query(xy[need], k=1, distance_upper_bound=snap_m)
            node[np.flatnonzero(need)] = np.where(np.isfinite(d), near, -1)
        return node

    a = resolve("from_pole", 0)
    b = resolve("to_pole", 1)
    unmatched = ((a < 0) | (b < 0)) & (kind == "aerial")
    if unmatched.any():
        _warn(
            f"`spans`: {int(unmatched.sum())} aerial span(s) have an end at no pole (no `from_pole`/`to_pole` and no "
            f"pole within {snap_m:g} m); the end becomes a junction node and loads no pole.",
            SkippedFeaturesWarning,
        )

    def node_names(idx: np.ndarray, xy: np.ndarray) -> np.ndarray:
        out = np.empty(len(idx), dtype=object)
        out[idx >= 0] = pid[idx[idx >= 0]]
        for k in np.flatnonzero(idx < 0):
            out[k] = f"J-{xy[k, 0]:.1f}-{xy[k, 1]:.1f}"
        return out

    from_node = node_names(a, ends[0::2])
    to_node = node_names(b, ends[1::2])
    spans_out["from_node"] = from_node
    spans_out["to_node"] = to_node
    spans_out["operators"] = ops.map(";".join).to_numpy()
    spans_out["n_operators"] = n_ops
    spans_out["cable_count"] = cables
    spans_out["shared"] = n_ops >= 2
    # pole loads: aerial spans only, both ends
    aerial = kind == "aerial"
    end_pole = np.concatenate([a[aerial], b[aerial]])
    end_cab = np.concatenate([cables[aerial], cables[aerial]])
    at = end_pole >= 0
    n = len(pid)
    all_end = np.concatenate([a, b])
    n_spans = np.bincount(all_end[all_end >= 0], minlength=n)
    csum = np.bincount(end_pole[at], weights=end_cab[at], minlength=n)
    cmax = np.zeros(n)
    np.maximum.at(cmax, end_pole[at], end_cab[at])
    load = np.maximum(cmax, np.ceil(csum / 2.0)).astype(np.int64)
    if max_cables is not None:
        limit = np.full(n, int(max_cables), dtype=np.int64)
    elif "max_cables" in poles_out.columns:
        limit = pd.to_numeric(poles_out["max_cables"], errors="coerce").fillna(6).to_numpy().astype(np.int64)
    else:
        limit = np.full(n, 6, dtype=np.int64)
    po = pd.DataFrame({"p": np.concatenate([a, b]), "ops": np.concatenate([ops.to_numpy(), ops.to_numpy()])})
    po = po[po["p"] >= 0].explode("ops").dropna()
    pole_ops = po.drop_duplicates().sort_values(["p", "ops"]).groupby("p")["ops"].agg(";".join)
    poles_out["n_spans"] = n_spans
    poles_out["operators"] = pole_ops.reindex(np.arange(n)).fillna("").to_numpy()
    poles_out["n_operators"] = po.groupby("p")["ops"].nunique().reindex(np.arange(n)).fillna(0).astype(np.int64).to_numpy()
    poles_out["cables"] = load
    poles_out["cable_limit"] = limit
    poles_out["overloaded"] = load > limit
    poles_out["no_span"] = n_spans == 0
    if (n_spans == 0).any():
        ex = ", ".join(pid[n_spans == 0][:5])
        _warn(
            f"`poles`: {int((n_spans == 0).sum())} pole(s) have no span (e.g. {ex}); they stay in the pole table "
            "with `no_span` true. Check that the spans layer is complete.",
            SkippedFeaturesWarning,
        )
    G = nx.MultiGraph(crs=crs)
    G.add_nodes_from((p, {"x": float(x), "y": float(y), "kind": "pole"}) for p, (x, y) in zip(pid, pxy, strict=True))
    for names, xy in ((from_node, ends[0::2]), (to_node, ends[1::2])):
        for k in np.flatnonzero([not G.has_node(v) for v in names]):
            G.add_node(names[k], x=float(xy[k, 0]), y=float(xy[k, 1]), kind="junction")
    sid = spans_out["span_id"].astype(str).to_numpy()
    G.add_edges_from(
        (u, v, s, {"kind": k, "operators": o, "cable_count": int(c), "length_m": float(ln)})
        for u, v, s, k, o, c, ln in zip(from_node, to_node, sid, kind, ops, cables, shapely.length(geoms), strict=True)
    )
    logger.info(
        "pole graph: %d poles, %d spans; %d shared spans, %d overloaded poles, %d poles without spans",
        n, len(spans_out), int((n_ops >= 2).sum()), int((load > limit).sum()), int((n_spans == 0).sum()),
    )
    return G, poles_out, spans_out


def _xy_points(pts: np.ndarray) -> np.ndarray:
    return np.column_stack([shapely.get_x(pts), shapely.get_y(pts)])


# --------------------------------------------------------------------------- duplicated routes
@dataclass(frozen=True)
class DuplicatedRoutes:
    """What :func:`duplicated_routes` found.

    ``segments``: one row per stretch of a route running alongside a route of another
    operator (both directions: each route's own stretch), columns ``route_id, operator,
    other_route_id, other_operator, length_m, redundant`` (true when the other operator
    ranks first, i.e. this trench would not be needed with a shared duct), a line.
    ``candidates``: one row per pair of routes, ``route_id_a, operator_a, route_id_b,
    operator_b, length_a_m, length_b_m, length_m`` (the smaller: never more than the
    shorter route), ``n_stretches``, sorted by ``length_m`` descending.
    ``duplicated_route_km``: length of route (all operators) alongside another operator's
    route. ``duplicated_trench_km``: the part of it that a shared duct would have saved
    (for k operators in one corridor, k - 1 trenches).
    """

    segments: gpd.GeoDataFrame
    candidates: pd.DataFrame
    duplicated_route_km: float
    duplicated_trench_km: float
    total_route_km: float
    operator_rank: tuple[str, ...] = field(default=())


def duplicated_routes(
    routes: gpd.GeoDataFrame,
    /,
    *,
    corridor_m: float = 15.0,
    min_length_m: float = 200.0,
    working_crs: Any = None,
) -> DuplicatedRoutes:
    """Fiber routes of different operators running along the same corridor.

    A point of a route is *alongside* a route of another operator when it lies within
    ``corridor_m`` of that route's line. The alongside part of a route is a set of
    intervals, computed exactly (no sampling) segment by segment; intervals that touch
    form a stretch, and stretches of at least ``min_length_m`` are duct-sharing
    candidates. Lengths are measured along the route.

    Parameters
    ----------
    routes
        Schema ``fiber_routes`` (``route_id, operator``), lines, any CRS.
    corridor_m
        Corridor width in metres: the largest distance between two routes in one corridor.
    min_length_m
        Shortest stretch, in metres along the route, worth a shared duct.
    working_crs
        Projected CRS for distances; default: the input CRS if projected, else UTM.

    Returns
    -------
    DuplicatedRoutes
        ``segments`` (in the CRS of ``routes``), ``candidates``, ``duplicated_route_km``,
        ``duplicated_trench_km``, ``total_route_km``, ``operator_rank``.

    Raises
    ------
    MissingColumnError, MissingCRSError, GeographicCRSError, GeometryTypeError,
    InputValidationError

    Warns
    -----
    SkippedFeaturesWarning
        Routes with no operator or no geometry are left out (counted).

    Notes
    -----
    Vectorised: a KD-tree self-join over the midpoints of route pieces gives candidate
    pairs of segments of different operators;
    for each pair, the interval of the first segment inside the second's capsule (the
    points within ``corridor_m`` of a segment) is solved in numpy (slab clipping and two
    quadratics); intervals are merged per (route part, other route) with a grouped
    cumulative max. Cost: O(segments log segments + candidate pairs); memory a few arrays
    per candidate pair. A stretch along a route may exceed the other route's length by up
    to ``2 * corridor_m`` (its ends reach past the other's ends); pair lengths take the
    smaller direction. For the trench figure, operators are ranked by their route km (most
    first, ties by name); a stretch is redundant when the route it runs alongside belongs
    to an operator ranked before its own.
    """
    crs = _check_frame(routes, "`routes`", ("route_id", "operator"))
    for v, name in ((corridor_m, "corridor_m"), (min_length_m, "min_length_m")):
        if not (isinstance(v, int | float) and math.isfinite(v) and v >= 0):
            msg = f"`{name}` must be a length in metres >= 0; got {v!r}."
            raise InputValidationError(msg)
    _check_kind(routes, "`routes`", {"LineString", "MultiLineString"})
    wcrs = _working_crs(crs, working_crs, routes, "`routes`")
    r = routes.reset_index(drop=True)
    op = r["operator"]
    noop = (op.isna() | (op.astype(str).str.strip() == "")).to_numpy()
    nogeom = (r.geometry.isna() | r.geometry.is_empty).to_numpy()
    if noop.any():
        ex = ", ".join(r.loc[noop, "route_id"].astype(str).head(5))
        _warn(f"`routes`: {int(noop.sum())} route(s) have no operator (e.g. {ex}) and were left out; fill `operator` to include them.", SkippedFeaturesWarning)
    if (nogeom & ~noop).any():
        _warn(f"`routes`: {int((nogeom & ~noop).sum())} route(s) have no geometry and were left out.", SkippedFeaturesWarning)
    r = r[~noop & ~nogeom].reset_index(drop=True)
    geoms = r.geometry if crs.equals(wcrs) else r.geometry.to_crs(wcrs)
    rid = r["route_id"].astype(str).to_numpy()
    rop = r["operator"].astype(str).str.strip().to_numpy()
    route_len = shapely.length(geoms.values)
    total_km = float(route_len.sum() / 1000.0)
    seg_cols = ["route_id", "operator", "other_route_id", "other_operator", "length_m", "redundant"]
    cand_cols = ["route_id_a", "operator_a", "route_id_b", "operator_b", "length_a_m", "length_b_m", "length_m", "n_stretches"]
    op_km = pd.Series(route_len, index=rop).groupby(level=0).sum()
    rank_order = tuple(sorted(op_km.index, key=lambda o: (-op_km[o], o)))

    def empty() -> DuplicatedRoutes:
        kinds = {"length_m": "float64", "redundant": "bool", "length_a_m": "float64", "length_b_m": "float64", "n_stretches": "int64"}
        seg = gpd.GeoDataFrame(
            {c: pd.Series([], dtype=kinds.get(c, "object")) for c in seg_cols}, geometry=gpd.GeoSeries([], crs=crs).values, crs=crs
        )
        cand = pd.DataFrame({c: pd.Series([], dtype=kinds.get(c, "object")) for c in cand_cols})
        return DuplicatedRoutes(seg, cand, 0.0, 0.0, total_km, rank_order)

    if len(r) < 2 or len(op_km) < 2:
        return empty()
    op_rank = pd.Series(np.arange(len(rank_order)), index=list(rank_order))[rop].to_numpy()
    # segments of every part (a MultiLineString's parts are lines of their own)
    parts, part_route = shapely.get_parts(geoms.values, return_index=True)
    coords, vpart = shapely.get_coordinates(parts, return_index=True)
    s0 = np.flatnonzero(np.r_[vpart[1:] == vpart[:-1], False])  # first vertex of each segment
    vlen = np.zeros(len(coords))
    vlen[s0] = np.hypot(*(coords[s0 + 1] - coords[s0]).T)
    cum = np.cumsum(np.r_[0.0, vlen[:-1]])  # along the whole coordinate array
    first_v = np.flatnonzero(np.r_[True, vpart[1:] != vpart[:-1]])
    last_v = np.r_[first_v[1:], len(coords)] - 1
    seg_part = vpart[s0]
    seg_route = part_route[seg_part]
    seg_len = vlen[s0]
    ia, ib = _segment_pairs_within(coords[s0], coords[s0 + 1], corridor_m)
    op_code = pd.factorize(rop)[0]
    k = (op_code[seg_route[ia]] != op_code[seg_route[ib]]) & (seg_len[ia] > 0)
    ia, ib = ia[k], ib[k]
    # the part of segment ia within corridor_m of segment ib: an interval of ia (exact)
    t_lo, t_hi = _segment_in_capsule(coords[s0[ia]], coords[s0[ia] + 1], coords[s0[ib]], coords[s0[ib] + 1], corridor_m)
    ok = t_lo <= t_hi
    ia, ib, t_lo, t_hi = ia[ok], ib[ok], t_lo[ok], t_hi[ok]
    if len(ia) == 0:
        return empty()
    n_routes = len(r)
    start0 = cum[s0[ia]] - cum[first_v[seg_part[ia]]]  # along the part, metres
    g, lo, hi = _merge_intervals(
        seg_part[ia].astype(np.int64) * n_routes + seg_route[ib], start0 + t_lo * seg_len[ia], start0 + t_hi * seg_len[ia]
    )
    run_len = hi - lo
    good = run_len >= min_length_m
    g, lo, hi, run_len = g[good], lo[good], hi[good], run_len[good]
    if len(g) == 0:
        return empty()
    a_part, b_route = g // n_routes, g % n_routes
    a_route = part_route[a_part]
    redundant_run = op_rank[b_route] < op_rank[a_route]
    # a route counts once however many other routes it runs alongside: union per part
    _, ulo, uhi = _merge_intervals(a_part, lo, hi)
    dup_km = float((uhi - ulo).sum() / 1000.0)
    _, rlo, rhi = _merge_intervals(a_part[redundant_run], lo[redundant_run], hi[redundant_run])
    trench_km = float((rhi - rlo).sum() / 1000.0)
    lines = _substrings(coords, cum, first_v, last_v, vlen, a_part, lo, hi)
    seg_geo = gpd.GeoSeries(lines, crs=wcrs)
    if not wcrs.equals(crs):
        seg_geo = seg_geo.to_crs(crs)
    segments = gpd.GeoDataFrame(
        {
            "route_id": rid[a_route],
            "operator": rop[a_route],
            "other_route_id": rid[b_route],
            "other_operator": rop[b_route],
            "length_m": run_len,
            "redundant": redundant_run,
        },
        geometry=seg_geo.values,
        crs=crs,
    ).sort_values(["route_id", "other_route_id", "length_m"], ascending=[True, True, False], ignore_index=True)
    # candidates per unordered pair: length along each, the smaller counts
    directed = pd.DataFrame({"a": a_route, "b": b_route, "len": run_len}).groupby(["a", "b"]).agg(len=("len", "sum"), n=("len", "size"))
    directed = directed.reset_index()
    lo = np.minimum(directed["a"], directed["b"])
    hi = np.maximum(directed["a"], directed["b"])
    directed["lo"], directed["hi"] = lo, hi
    la = directed[directed["a"] == directed["lo"]].set_index(["lo", "hi"])
    lb = directed[directed["a"] == directed["hi"]].set_index(["lo", "hi"])
    idx = la.index.union(lb.index)
    len_a = la["len"].reindex(idx).fillna(0.0).to_numpy()
    len_b = lb["len"].reindex(idx).fillna(0.0).to_numpy()
    n_str = np.maximum(la["n"].reindex(idx).fillna(0).to_numpy(), lb["n"].reindex(idx).fillna(0).to_numpy()).astype(np.int64)
    ia = idx.get_level_values(0).to_numpy()
    ib = idx.get_level_values(1).to_numpy()
    # order each pair by (operator, route_id) so "a" does not depend on row order
    swap = np.array([(rop[x], rid[x]) > (rop[y], rid[y]) for x, y in zip(ia, ib, strict=True)], dtype=bool)
    ia2, ib2 = np.where(swap, ib, ia), np.where(swap, ia, ib)
    la2, lb2 = np.where(swap, len_b, len_a), np.where(swap, len_a, len_b)
    candidates = pd.DataFrame(
        {
            "route_id_a": rid[ia2],
            "operator_a": rop[ia2],
            "route_id_b": rid[ib2],
            "operator_b": rop[ib2],
            "length_a_m": la2,
            "length_b_m": lb2,
            "length_m": np.minimum(la2, lb2),
            "n_stretches": n_str,
        }
    ).sort_values(["length_m", "route_id_a", "route_id_b"], ascending=[False, True, True], ignore_index=True)
    logger.info(
        "duplicated routes: %d stretches on %d route pairs; %.1f km alongside, %.1f km of duplicated trenching",
        len(segments), len(candidates), dup_km, trench_km,
    )
    return DuplicatedRoutes(segments, candidates, dup_km, trench_km, total_km, rank_order)


def _segment_pairs_within(pa: np.ndarray, pb: np.ndarray, distance_m: float) -> tuple[np.ndarray, np.ndarray]:
    """A superset of the ordered pairs (i, j), i != j, of segments within ``distance_m``.

    Segments are cut into pieces of at most ``piece`` metres; two pieces within
    ``distance_m`` have midpoints within ``distance_m + piece``, found with one KD-tree
    self-join. The exact test comes later (:func:`_segment_in_capsule`).
    """
    d = pb - pa
    length = np.hypot(d[:, 0], d[:, 1])
    piece = max(2.0 * distance_m, 10.0)
    n = np.maximum(np.ceil(length / piece).astype(np.int64), 1)
    seg_of = np.repeat(np.arange(len(pa)), n)
    j = np.arange(len(seg_of)) - np.repeat(np.cumsum(n) - n, n)
    mid = pa[seg_of] + ((j + 0.5) / n[seg_of])[:, None] * d[seg_of]
    half = (length / n).max() / 2 if len(length) else 0.0
    tree = cKDTree(mid, balanced_tree=False, compact_nodes=False)
    pairs = tree.query_pairs(distance_m + 2 * half + 1e-6, output_type="ndarray")
    si, sj = seg_of[pairs[:, 0]], seg_of[pairs[:, 1]]
    keep = si != sj
    key = np.unique(np.minimum(si[keep], sj[keep]).astype(np.int64) * len(pa) + np.maximum(si[keep], sj[keep]))
    a, b = key // len(pa), key % len(pa)
    return np.concatenate([a, b]), np.concatenate([b, a])


def _segment_in_capsule(
    p0: np.ndarray, p1: np.ndarray, b0: np.ndarray, b1: np.ndarray, w: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the interval [t_lo, t_hi] of segment p0->p1 (t in [0, 1]) lying within
    ``w`` of segment b0->b1; empty when t_lo > t_hi.

    The set of points within ``w`` of a segment is a capsule (a rectangle and two discs),
    convex, so its intersection with a segment is one interval: the hull of the intervals
    cut by the rectangle (slab clipping) and by the two discs (a quadratic each).
    """
    d = p1 - p0
    e = b1 - b0
    lb = np.hypot(e[:, 0], e[:, 1])
    aa = (d * d).sum(axis=1)
    lo = np.full(len(p0), np.inf)
    hi = np.full(len(p0), -np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        for c in (b0, b1):
            f = p0 - c
            bq = 2.0 * (f * d).sum(axis=1)
            cq = (f * f).sum(axis=1) - w * w
            disc = bq * bq - 4.0 * aa * cq
            hit = disc >= 0
            sq = np.sqrt(np.where(hit, disc, 0.0))
            lo = np.where(hit, np.minimum(lo, (-bq - sq) / (2.0 * aa)), lo)
            hi = np.where(hit, np.maximum(hi, (-bq + sq) / (2.0 * aa)), hi)
        eh = e / np.where(lb > 0, lb, 1.0)[:, None]
        nh = np.column_stack([-eh[:, 1], eh[:, 0]])
        rel = p0 - b0

        def slab(x0: np.ndarray, dx: np.ndarray, a: float | np.ndarray, b: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            inside = (x0 >= a) & (x0 <= b)
            ta, tb = (a - x0) / dx, (b - x0) / dx
            moving = dx != 0
            t0 = np.where(moving, np.minimum(ta, tb), np.where(inside, -np.inf, np.inf))
            t1 = np.where(moving, np.maximum(ta, tb), np.where(inside, np.inf, -np.inf))
            return t0, t1

        u0, u1 = slab((rel * eh).sum(axis=1), (d * eh).sum(axis=1), 0.0, lb)
        v0, v1 = slab((rel * nh).sum(axis=1), (d * nh).sum(axis=1), -w, w)
    r0, r1 = np.maximum(u0, v0), np.minimum(u1, v1)
    rect = (r0 <= r1) & (lb > 0)
    lo = np.where(rect, np.minimum(lo, r0), lo)
    hi = np.where(rect, np.maximum(hi, r1), hi)
    return np.maximum(lo, 0.0), np.minimum(hi, 1.0)


def _merge_intervals(group: np.ndarray, lo: np.ndarray, hi: np.ndarray, eps: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of intervals per group: (group, start, end) of each merged interval, sorted."""
    if len(group) == 0:
        return group, lo, hi
    order = np.lexsort((lo, group))
    g, lo, hi = group[order], lo[order], hi[order]
    reach = pd.Series(hi).groupby(g).cummax().to_numpy()
    new = np.ones(len(g), dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (lo[1:] > reach[:-1] + eps)
    starts = np.flatnonzero(new)
    return g[starts], lo[starts], np.maximum.reduceat(hi, starts)


def _substrings(
    coords: np.ndarray,
    cum: np.ndarray,
    first_v: np.ndarray,
    last_v: np.ndarray,
    vlen: np.ndarray,
    part: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> np.ndarray:
    """The pieces [lo, hi] (metres along each part) of the parts as LineStrings, in bulk."""
    base = cum[first_v[part]]
    gs, ge = base + lo, base + hi
    fv, lv = first_v[part], last_v[part]

    def point_at(pos: np.ndarray) -> np.ndarray:
        seg = np.clip(np.searchsorted(cum, pos, side="right") - 1, fv, np.maximum(lv - 1, fv))
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.clip(np.where(vlen[seg] > 0, (pos - cum[seg]) / vlen[seg], 0.0), 0.0, 1.0)
        return coords[seg] + t[:, None] * (coords[np.minimum(seg + 1, lv)] - coords[seg])

    inner_lo = np.maximum(np.searchsorted(cum, gs, side="right"), fv)
    inner_hi = np.minimum(np.searchsorted(cum, ge, side="left") - 1, lv)
    n_in = np.maximum(inner_hi - inner_lo + 1, 0)
    n = n_in + 2
    idx = np.repeat(np.arange(len(part)), n)
    pos_in = np.arange(len(idx)) - np.repeat(np.cumsum(n) - n, n)  # 0 .. n-1 within each piece
    out = np.empty((len(idx), 2))
    is_first = pos_in == 0
    is_last = pos_in == n[idx] - 1
    out[is_first] = point_at(gs)
    out[is_last] = point_at(ge)
    mid = ~is_first & ~is_last
    out[mid] = coords[inner_lo[idx[mid]] + pos_in[mid] - 1]
    return shapely.linestrings(out, indices=idx)


# --------------------------------------------------------------------------- study-level run
@dataclass(frozen=True)
class SharingResult:
    """Everything :func:`run` found; see the fields' producers for their columns."""

    sites: gpd.GeoDataFrame | None
    towers: gpd.GeoDataFrame | None
    tower_graph: nx.Graph | None
    candidate_edges: gpd.GeoDataFrame | None
    groups: gpd.GeoDataFrame | None
    poles: gpd.GeoDataFrame | None
    spans: gpd.GeoDataFrame | None
    pole_graph: nx.MultiGraph | None
    duplicated: DuplicatedRoutes | None
    summary: dict[str, Any]
    parameters: dict[str, Any]


def _mark_groups(towers_gdf: gpd.GeoDataFrame, groups: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add ``group_uid``, ``group_rank`` and ``not_needed`` (merged into its group's anchor)."""
    out = towers_gdf.copy()
    if groups.empty:
        return out.assign(group_uid=pd.Series(None, index=out.index, dtype=object),
                          group_rank=pd.array([pd.NA] * len(out), dtype="Int64"), not_needed=False)
    member = groups[["group_uid", "rank", "anchor_tower_uid", "tower_uids"]].assign(
        tower_uid=groups["tower_uids"].str.split(";")
    ).explode("tower_uid")
    m = member.set_index("tower_uid")
    out["group_uid"] = out["tower_uid"].map(m["group_uid"])
    out["group_rank"] = out["tower_uid"].map(m["rank"]).astype("Int64")
    out["not_needed"] = out["group_uid"].notna() & (out["tower_uid"] != out["tower_uid"].map(m["anchor_tower_uid"]))
    return out


def summary_text(summary: dict[str, Any], /) -> str:
    """The sharing summary as a few lines for people (the CLI prints this).

    Parameters
    ----------
    summary
        ``SharingResult.summary``.

    Returns
    -------
    str
        One figure per line; parts whose layers were absent are left out.

    Raises
    ------
    None
    """
    s = summary
    lines = []
    if "n_towers" in s:
        lines += [
            f"physical sites (one operator each): {s['n_physical_sites']:,} on {s['n_towers']:,} towers "
            f"({s['n_shared_towers']:,} shared)",
            f"tenancy today: {s['tenancy_today']:.2f} operators per tower; if the {s['n_groups']:,} candidate groups "
            f"were merged: {s['tenancy_potential']:.2f} on {s['n_towers_potential']:,} towers "
            f"({s['towers_saved']:,} towers would not need building)",
        ]
    if "n_spans" in s:
        lines.append(
            f"poles and spans: {s['n_shared_spans']:,} of {s['n_spans']:,} spans shared by >= 2 operators "
            f"({s['shared_span_km']:.1f} km); {s['n_overloaded_poles']:,} of {s['n_poles']:,} poles over their cable "
            f"limit; {s['n_poles_without_span']:,} poles without a span"
        )
    if "duplicated_trench_km" in s:
        lines.append(
            f"fiber: {s['duplicated_route_km']:.1f} of {s['fiber_route_km']:.1f} route km run alongside another "
            f"operator's route; {s['duplicated_trench_km']:.1f} km of duplicated trenching; "
            f"{s['n_duct_candidates']:,} duct-sharing candidates"
        )
    return "\n".join(lines)


def _study_layer(study: Any, name: str) -> gpd.GeoDataFrame | None:
    has = getattr(study, "has", None)
    if has is not None and not has(name):
        return None
    gdf = study.layer(name)
    return gdf if gdf.crs.equals(study.crs) else gdf.to_crs(study.crs)


def run(
    study: Any,
    /,
    *,
    site_tolerance_m: float = 100.0,
    colocation_m: float = 50.0,
    attach_m: float = 300.0,
    candidate_m: float = 300.0,
    corridor_m: float = 15.0,
    min_length_m: float = 200.0,
    max_cables: int | None = None,
) -> SharingResult:
    """Run the whole sharing analysis on a study.

    Uses the layers the study has among ``cells``, ``sites`` (sector tables),
    ``poles``/``spans`` and ``fiber_routes``; parts whose layers are absent are ``None``.
    Everything is computed in the study's CRS (``study.crs``, metric).

    Parameters
    ----------
    study
        An :class:`ictplan.study.Study`.
    site_tolerance_m, colocation_m, attach_m
        See :func:`physical_sites`.
    candidate_m
        See :func:`colocation_graph`.
    corridor_m, min_length_m
        See :func:`duplicated_routes`.
    max_cables
        See :func:`poles_and_spans`.

    Returns
    -------
    SharingResult
        With ``summary``: the keys of :func:`sharing_summary` plus ``n_shared_spans``,
        ``n_overloaded_poles``, ``n_poles_without_span``, ``duplicated_route_km``,
        ``duplicated_trench_km``, ``n_duct_candidates`` where the layers exist.

    Raises
    ------
    ConfigError, InputValidationError, DataSourceError
        From loading the study's layers or from the analyses.
    """
    _crs.require_projected(study.crs, "the study's CRS")
    params = {
        "site_tolerance_m": site_tolerance_m,
        "colocation_m": colocation_m,
        "attach_m": attach_m,
        "candidate_m": candidate_m,
        "corridor_m": corridor_m,
        "min_length_m": min_length_m,
        "max_cables": max_cables,
        "crs": _crs.crs_label(study.crs),
    }
    summary: dict[str, Any] = {}
    frames = [f for f in (_study_layer(study, "sites"), _study_layer(study, "cells")) if f is not None]
    sites = tw = G = edges = groups = None
    if frames:
        sites = physical_sites(
            frames,
            site_tolerance_m=site_tolerance_m,
            colocation_m=colocation_m,
            attach_m=attach_m,
            bounds_lonlat=getattr(study, "bounds_lonlat", None),
            working_crs=study.crs,
        )
        tw = towers(sites)
        G = colocation_graph(tw, candidate_m=candidate_m)
        edges = candidate_edges(G)
        groups = candidate_groups(G)
        tw = _mark_groups(tw, groups)
        summary.update(sharing_summary(tw, groups))
        summary["n_physical_sites"] = len(sites)
        summary["n_candidate_edges"] = G.number_of_edges()
        per_op = sites.groupby("operator").size()
        summary["sites_per_operator"] = {str(k): int(v) for k, v in per_op.items()}
    poles = spans = PG = None
    p_layer, s_layer = _study_layer(study, "poles"), _study_layer(study, "spans")
    if p_layer is not None and s_layer is not None:
        PG, poles, spans = poles_and_spans(p_layer, s_layer, max_cables=max_cables)
        summary["n_poles"] = len(poles)
        summary["n_spans"] = len(spans)
        summary["n_shared_spans"] = int(spans["shared"].sum())
        summary["shared_span_km"] = float(spans.loc[spans["shared"], "geometry"].length.sum() / 1000.0)
        summary["n_overloaded_poles"] = int(poles["overloaded"].sum())
        summary["n_poles_without_span"] = int(poles["no_span"].sum())
    dup = None
    routes = _study_layer(study, "fiber_routes")
    if routes is not None:
        dup = duplicated_routes(routes, corridor_m=corridor_m, min_length_m=min_length_m)
        summary["fiber_route_km"] = dup.total_route_km
        summary["duplicated_route_km"] = dup.duplicated_route_km
        summary["duplicated_trench_km"] = dup.duplicated_trench_km
        summary["n_duct_candidates"] = len(dup.candidates)
    return SharingResult(sites, tw, G, edges, groups, poles, spans, PG, dup, summary, params)


# --------------------------------------------------------------------------- outputs
def _graphml_ready(G: nx.Graph) -> nx.Graph:
    def scalar(v: Any) -> Any:
        if isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, tuple | list | set | frozenset):
            return ";".join(map(str, v))
        if isinstance(v, pyproj.CRS):
            return _crs.crs_label(v)
        return "" if v is None else str(v)

    H = G.__class__()
    H.graph.update({k: scalar(v) for k, v in G.graph.items()})
    H.add_nodes_from((n, {k: scalar(v) for k, v in d.items()}) for n, d in G.nodes(data=True))
    if G.is_multigraph():
        H.add_edges_from((u, v, key, {k: scalar(x) for k, x in d.items()}) for u, v, key, d in G.edges(keys=True, data=True))
    else:
        H.add_edges_from((u, v, {k: scalar(x) for k, x in d.items()}) for u, v, d in G.edges(data=True))
    return H


def write_outputs(result: SharingResult, out_dir: str | os.PathLike, /, *, overwrite: bool = False) -> dict[str, Path]:
    """Write the sharing outputs: GeoPackage layers, GraphML graphs, JSON summary.

    Files in ``out_dir``: ``sharing.gpkg`` (layers ``sites, towers, candidate_edges,
    groups, poles, spans, duplicated_segments``, those that exist), ``duct_candidates.csv``,
    ``tower_graph.graphml``, ``pole_graph.graphml`` and ``sharing_summary.json``. Each file is
    written to a temporary name beside it and renamed into place, so a reader never sees
    half a file. Tuple attributes are written as ';'-joined strings in GraphML.

    Parameters
    ----------
    result
        The output of :func:`run`.
    out_dir
        Folder (created if absent).
    overwrite
        Replace existing outputs; default refuses.

    Returns
    -------
    dict
        Output kind -> path written.

    Raises
    ------
    OutputExistsError
        An output exists and ``overwrite`` is false.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    targets = {
        "gpkg": out / "sharing.gpkg",
        "tower_graph": out / "tower_graph.graphml",
        "pole_graph": out / "pole_graph.graphml",
        "duct_candidates": out / "duct_candidates.csv",
        "summary": out / "sharing_summary.json",
    }
    if not overwrite:
        existing = [str(p) for p in targets.values() if p.exists()]
        if existing:
            msg = f"outputs already exist: {', '.join(existing)}. Pass overwrite=True (CLI: --overwrite) to replace them."
            raise OutputExistsError(msg)
    written: dict[str, Path] = {}
    dup = result.duplicated
    layers = {
        "sites": result.sites,
        "towers": result.towers,
        "candidate_edges": result.candidate_edges,
        "groups": result.groups,
        "poles": result.poles,
        "spans": result.spans,
        "duplicated_segments": dup.segments if dup is not None else None,
    }
    geom_types = {"sites": "Point", "towers": "Point", "candidate_edges": "LineString", "groups": "MultiPoint",
                  "poles": "Point", "spans": "LineString", "duplicated_segments": "LineString"}
    from .io import (
        atomic_path,  # only io touches files: every output goes through its atomic writer
    )

    with atomic_path(targets["gpkg"], overwrite=True) as tmp:
        for name, gdf in layers.items():
            if gdf is None:
                continue
            frame = gdf.copy()
            frame.attrs = {}
            for c in frame.columns:
                if c != frame.geometry.name and frame[c].dtype == object:
                    frame[c] = frame[c].map(lambda v: ";".join(map(str, v)) if isinstance(v, tuple | list) else v)
            frame.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", geometry_type=geom_types[name])
    if targets["gpkg"].exists():
        written["gpkg"] = targets["gpkg"]
    for key, G in (("tower_graph", result.tower_graph), ("pole_graph", result.pole_graph)):
        if G is None:
            continue
        with atomic_path(targets[key], overwrite=True) as tmp:
            nx.write_graphml(_graphml_ready(G), tmp)
        written[key] = targets[key]
    if dup is not None:
        with atomic_path(targets["duct_candidates"], overwrite=True) as tmp:
            dup.candidates.to_csv(tmp, index=False, encoding="utf-8")
        written["duct_candidates"] = targets["duct_candidates"]
    with atomic_path(targets["summary"], overwrite=True) as tmp:
        tmp.write_text(json.dumps({"summary": result.summary, "parameters": result.parameters}, indent=2,
                                  ensure_ascii=False, default=float), encoding="utf-8")
    written["summary"] = targets["summary"]
    return written
