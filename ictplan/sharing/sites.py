"""Physical sites: OpenCelliD cells and sector tables consolidated into sites of one operator."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
from scipy.spatial import cKDTree

from .. import crs as _crs
from .._errors import (
    InputValidationError,
    MissingColumnError,
    RepairWarning,
    SkippedFeaturesWarning,
)
from ..parameters import SHARING
from ..schemas import OPERATORS_MCC452
from ._common import (
    _CELLS_COLUMNS,
    _SITES_COLUMNS,
    RADIO_TECHNOLOGY,
    _check_kind,
    _components,
    _join_sorted,
    _pairs_within,
    _slices,
    _uid,
    _warn,
    _working_crs,
    _xy,
)

logger = logging.getLogger("ictplan.sharing")


# --------------------------------------------------------------------------- physical sites
def _members_from_cells(
    cells: gpd.GeoDataFrame, xy: np.ndarray, crs: pyproj.CRS, bounds_lonlat: Sequence[float] | None
) -> pd.DataFrame:
    what = "`cells`"
    cells = cells.reset_index(drop=True)
    ok = np.isfinite(xy).all(axis=1)
    if (~ok).any():
        _warn(f"{what}: {int((~ok).sum())} cell(s) have no position (empty geometry or NaN lon/lat) and were skipped.", SkippedFeaturesWarning, depth=2)
    if bounds_lonlat is not None:
        lonlat = xy if crs.is_geographic else _to_lonlat(xy, crs)
        bx0, by0, bx1, by1 = bounds_lonlat
        inside = (lonlat[:, 0] >= bx0) & (lonlat[:, 0] <= bx1) & (lonlat[:, 1] >= by0) & (lonlat[:, 1] <= by1)
        out = ok & ~inside
        if out.any():
            _warn(
                f"{what}: {int(out.sum())} cell(s) lie outside the study area ({bx0}..{bx1} E, {by0}..{by1} N) and "
                "were skipped (OpenCelliD positions are crowd-sourced estimates; far-off ones are usually wrong).",
                SkippedFeaturesWarning, depth=2,
            )
        ok &= inside
    operator = cells["operator"] if "operator" in cells.columns else pd.Series(np.nan, index=cells.index, dtype=object)
    from_net = pd.to_numeric(cells["net"], errors="coerce").map(OPERATORS_MCC452)
    mcc = pd.to_numeric(cells["mcc"], errors="coerce")
    from_net = from_net.where(mcc == 452)
    operator = operator.where(operator.notna() & (operator.astype(str).str.strip() != ""), from_net)
    noop = ok & operator.isna().to_numpy()
    if noop.any():
        _warn(f"{what}: {int(noop.sum())} cell(s) have no operator (MCC/net not in the MCC 452 table) and were skipped.", SkippedFeaturesWarning, depth=2)
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
        _warn(f"{what}: {int((~ok).sum())} sector(s) have no position and were skipped.", SkippedFeaturesWarning, depth=2)
    op = sectors["operator"]
    noop = ok & (op.isna() | (op.astype(str).str.strip() == "")).to_numpy()
    if noop.any():
        _warn(f"{what}: {int(noop.sum())} sector(s) have no operator and were skipped.", SkippedFeaturesWarning, depth=2)
    ok &= ~noop
    sid = sectors["site_id"].astype(object)
    nosid = ok & (sid.isna() | (sid.astype(str).str.strip() == "")).to_numpy()
    if nosid.any():
        _warn(
            f"{what}: {int(nosid.sum())} sector(s) have no site_id; each stands for its own site (site_id = sector_id) "
            "until sectors within the duplicate distance merge. Fill `site_id` to group sectors into sites.",
            RepairWarning, depth=2,
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
    site_tolerance_m: float = SHARING.site_tolerance_m,
    colocation_m: float = SHARING.colocation_m,
    attach_m: float = SHARING.attach_m,
    duplicate_m: float = SHARING.duplicate_m,
    group_by_enb: bool = SHARING.group_by_enb,
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
    m, crs0, wcrs = _members(frames, working_crs, bounds_lonlat)
    if m.empty:
        msg = "`physical_sites`: no cell or sector with a position and an operator is left; nothing to consolidate."
        raise InputValidationError(msg)
    # anchors (sector sites) first, then cells; each operator is clustered on its own
    m = m.sort_values(["operator", "kind", "key"], ascending=[True, False, True], ignore_index=True)
    m["label"] = _site_labels(m, site_tolerance_m=site_tolerance_m, attach_m=attach_m, duplicate_m=duplicate_m,
                              group_by_enb=group_by_enb)
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


def _members(frames: list[gpd.GeoDataFrame], working_crs: Any,
             bounds_lonlat: Sequence[float] | None) -> tuple[pd.DataFrame, pyproj.CRS, pyproj.CRS]:
    """One member row per cell and per sector-table site of every frame (positions in the
    working CRS); also the frames' CRS and the working CRS."""
    crs0: pyproj.CRS | None = None
    wcrs: pyproj.CRS | None = None
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
        assert wcrs is not None
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
    assert crs0 is not None and wcrs is not None
    return (pd.concat(members, ignore_index=True) if members else pd.DataFrame()), crs0, wcrs


def _site_labels(m: pd.DataFrame, *, site_tolerance_m: float, attach_m: float, duplicate_m: float,
                 group_by_enb: bool) -> np.ndarray:
    """The physical site (a label) of every member; each operator is clustered on its own.
    Site ids of one operator recorded twice at one position are merged (one warning)."""
    labels = np.empty(len(m), dtype=np.int64)
    offset = 0
    n_dup_total = 0
    dup_examples: list[str] = []
    for op, idx in m.groupby("operator", sort=True).indices.items():
        sub = m.iloc[idx]
        is_a = (sub["kind"] == "sector").to_numpy()
        na = int(is_a.sum())
        lab = _operator_labels(sub, is_a, site_tolerance_m=site_tolerance_m, attach_m=attach_m,
                               duplicate_m=duplicate_m, group_by_enb=group_by_enb)
        # labels follow member order inside the operator: anchors (is_a) come first in `sub`
        order = np.concatenate([np.flatnonzero(is_a), np.flatnonzero(~is_a)])
        lab_sub = np.empty(len(sub), dtype=np.int64)
        lab_sub[order] = lab
        labels[idx] = lab_sub + offset
        alab = lab[:na]
        if na and len(np.unique(alab)) < na:
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
            RepairWarning, depth=1,
        )
    return labels


def _operator_labels(sub: pd.DataFrame, is_a: np.ndarray, *, site_tolerance_m: float, attach_m: float,
                     duplicate_m: float, group_by_enb: bool) -> np.ndarray:
    """Site labels of one operator's members, anchors (sector sites) first, then cells."""
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
        ei, ej = _enb_chain(sub["enb"].to_numpy()[~is_a])
        ii.append(na + ei)
        jj.append(na + ej)
    if na and nc:
        # then each cell cluster joins the nearest sector-table site within attach_m of its centre
        clab = _components(nc, np.concatenate(ii[1:]) - na, np.concatenate(jj[1:]) - na)
        target = _attach_clusters(xa, xc, sub["weight"].to_numpy()[~is_a], clab, attach_m)
        ii.append(na + np.flatnonzero(target >= 0))
        jj.append(target[target >= 0])
    return _components(na + nc, np.concatenate(ii), np.concatenate(jj))


def _enb_chain(enb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (i, j) chaining the cells of each LTE eNodeB (one component per eNodeB)."""
    has = pd.notna(enb)
    if not has.any():
        e = np.empty(0, dtype=np.int64)
        return e, e
    code = np.full(len(enb), -1, dtype=np.int64)
    code[has] = pd.factorize(enb[has])[0]
    order_c = np.argsort(code, kind="stable")
    sc = code[order_c]
    chain = np.flatnonzero((sc[1:] == sc[:-1]) & (sc[1:] >= 0))
    return order_c[chain], order_c[chain + 1]


def _attach_clusters(xa: np.ndarray, xc: np.ndarray, w: np.ndarray, clab: np.ndarray, attach_m: float) -> np.ndarray:
    """Per cell: the anchor (sector-table site) its cluster joins, -1 when none lies within
    ``attach_m`` of the cluster's weighted centre."""
    na = len(xa)
    sw = np.bincount(clab, weights=w)
    cen = np.column_stack([np.bincount(clab, weights=w * xc[:, 0]), np.bincount(clab, weights=w * xc[:, 1])]) / sw[:, None]
    d, near = cKDTree(xa).query(cen, k=1, distance_upper_bound=attach_m * (1 + 1e-9) + 1e-9)
    near = np.minimum(near, na - 1)
    dx = np.where(np.isfinite(d), np.hypot(cen[:, 0] - xa[near, 0], cen[:, 1] - xa[near, 1]), np.inf)
    return np.where(dx <= attach_m, near, -1)[clab]


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
