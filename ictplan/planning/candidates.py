"""Candidate 5G sites of a roll-out, each with its cost, as data.

Three kinds (:class:`ictplan.parameters.PlanParameters` prices them):

* ``upgrade``: an existing 4G site of the operator without the operator's 5G; the 5G
  sectors reuse the site's 4G azimuths, heights and tilts (``cost_upgrade_vnd``);
* ``colocation``: 5G on another operator's tower where the operator has no site (towers
  of :func:`ictplan.sharing.physical_sites` / :func:`ictplan.sharing.towers` on the study's
  sites and cells, ``cost_colocation_vnd``); for the neutral host every tower;
* ``new_tower``: points of a square grid ``new_tower_grid_m`` apart whose disc of 1 km holds
  at least ``new_tower_min_people`` people and with no tower within the sharing
  ``colocation_m`` (``cost_new_tower_vnd``, antennas at ``new_tower_height_m``); and points
  along the study's roads (``kind == "road"`` where the layer has a kind), one per square of
  half the grid spacing, whose disc of 1 km holds that many *unserved* people (outside the
  existing 5G, when ``unserved`` is given) and that lie no closer than a quarter of the grid
  spacing to a grid point (``source`` tells ``grid`` from ``road``).

A candidate is three sectors 120° apart (an upgrade keeps its 4G azimuths);
:func:`candidate_sectors` writes them in the columns of a study's ``sites.csv`` so that a
variant study can carry them and the coverage job re-run on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import parameters as _parameters
from .._errors import InputValidationError

__all__ = ["NEUTRAL", "KINDS", "candidate_sites", "candidate_sectors", "operator_band", "SITES_COLUMNS"]

NEUTRAL = "neutral"
"""Operator label of the neutral host's candidates (and its sectors in a variant study)."""

KINDS = ("upgrade", "colocation", "new_tower")
SITES_COLUMNS = ["sector_id", "site_id", "operator", "technology", "band", "azimuth_deg", "height_m",
                 "tilt_deg", "tx_power_dbm", "lon", "lat"]
_DISC_M = 1000.0  # the new-tower rule's people "within 1 km"
_AZIMUTHS_DEG = (0.0, 120.0, 240.0)
_ROAD_SPACING = 0.5  # road towers: one per square of this × new_tower_grid_m


@dataclass(frozen=True)
class _Context:
    """What every kind needs: the sites in the working CRS, the operator, band and defaults."""

    sites: gpd.GeoDataFrame  # sectors, working CRS
    operator: str
    band: str
    tilt_deg: float
    prm: Any


def operator_band(sites: pd.DataFrame, operator: str | None, neutral_band: str) -> str:
    """The 5G band of ``operator``: its sectors' most common 5G band, else ``neutral_band``
    (also the neutral host's, ``operator=None``)."""
    if operator is None:
        return neutral_band
    own = sites[(sites["operator"].astype(str) == operator) & (sites["technology"].astype(str).str.upper() == "5G")]
    if len(own) == 0:
        return neutral_band
    return str(own["band"].astype(str).value_counts().index[0])


def _default_tilt(sites: pd.DataFrame, band: str) -> float:
    """The median tilt of the study's sectors on ``band`` (else of all sectors; 4° without any):
    the tilt of a candidate that does not reuse a 4G site's."""
    if "tilt_deg" not in sites.columns:
        return 4.0
    tilt = pd.to_numeric(sites["tilt_deg"], errors="coerce")
    on_band = tilt[sites["band"].astype(str) == band].dropna()
    pick = on_band if len(on_band) else tilt.dropna()
    return float(pick.median()) if len(pick) else 4.0


def _upgrades(ctx: _Context) -> pd.DataFrame:
    """Existing 4G sites of the operator without its 5G: one candidate each, sectors reused."""
    s = ctx.sites
    own = s[s["operator"].astype(str) == ctx.operator]
    tech = own["technology"].astype(str).str.upper()
    has_5g = set(own.loc[tech == "5G", "site_id"].astype(str))
    lte = own[(tech == "4G") & ~own["site_id"].astype(str).isin(has_5g)]
    if len(lte) == 0:
        return pd.DataFrame()
    df = pd.DataFrame({"site": lte["site_id"].astype(str).to_numpy(), "x": lte.geometry.x.to_numpy(),
                       "y": lte.geometry.y.to_numpy(), "h": pd.to_numeric(lte["height_m"]).to_numpy(float),
                       "az": pd.to_numeric(lte["azimuth_deg"]).to_numpy(float),
                       "tilt": pd.to_numeric(lte.get("tilt_deg", ctx.tilt_deg)).to_numpy(float)})
    df["tilt"] = df["tilt"].fillna(ctx.tilt_deg)
    g = df.groupby("site", sort=True)
    out = g.agg(x=("x", "mean"), y=("y", "mean"), height_m=("h", "median")).reset_index()
    sectors = df.drop_duplicates(["site", "az"]).groupby("site", sort=True)[["az", "h", "tilt"]].apply(
        lambda d: [tuple(r) for r in d.to_numpy().tolist()])
    out["sectors"] = sectors.reindex(out["site"]).to_list()
    return pd.DataFrame({"kind": "upgrade", "host_site_id": out["site"], "x": out["x"], "y": out["y"], "source": "site",
                         "height_m": out["height_m"], "cost_vnd": float(ctx.prm.cost_upgrade_vnd),
                         "sectors": out["sectors"]})


def _towers(study: Any, crs: Any) -> gpd.GeoDataFrame:
    """The study's towers (:mod:`ictplan.sharing`, its parameters) in ``crs``."""
    from ..sharing import physical_sites, towers

    prm = _parameters.resolve("sharing", study)
    frames = [study.layer(n) for n in ("sites", "cells") if study.has(n)]
    sites = physical_sites(frames, site_tolerance_m=prm.site_tolerance_m, colocation_m=prm.colocation_m,
                           attach_m=prm.attach_m, duplicate_m=prm.duplicate_m, group_by_enb=prm.group_by_enb,
                           bounds_lonlat=study.bounds_lonlat, working_crs=crs)
    return towers(sites).to_crs(crs)


def _colocations(ctx: _Context, tw: gpd.GeoDataFrame) -> pd.DataFrame:
    """Towers where the operator has no site (every tower for the neutral host)."""
    ops = tw["operators"].astype(str).str.split(";")
    mine = ops.apply(lambda o: ctx.operator in o) if ctx.operator != NEUTRAL else pd.Series(False, index=tw.index)
    t = tw[~mine.to_numpy()]
    h = pd.to_numeric(t["height_m"], errors="coerce").fillna(ctx.prm.new_tower_height_m).to_numpy(float)
    return pd.DataFrame({"kind": "colocation", "host_site_id": t["tower_uid"].astype(str).to_numpy(), "source": "tower",
                         "x": t.geometry.x.to_numpy(), "y": t.geometry.y.to_numpy(), "height_m": h,
                         "cost_vnd": float(ctx.prm.cost_colocation_vnd), "sectors": None})


def _people_within_m(counts: np.ndarray, cell_m: float, radius_m: float) -> np.ndarray:
    """People within ``radius_m`` of each cell centre (cells whose centre lies in the disc)."""
    from scipy.signal import fftconvolve

    r = int(radius_m // cell_m)
    off = np.arange(-r, r + 1) * cell_m
    disc = ((off[:, None] ** 2 + off[None, :] ** 2) <= radius_m ** 2).astype(np.float64)
    return np.asarray(fftconvolve(counts, disc, mode="same"))


def _new_towers(ctx: _Context, study: Any, tw: gpd.GeoDataFrame) -> pd.DataFrame:
    """Grid points over populated land with enough people within 1 km and no tower near."""
    from scipy.spatial import cKDTree

    pop = study.population
    grid = pop.grid
    counts = np.where(pop.nodata_mask, 0.0, pop.counts).astype(np.float64)
    t = grid.transform
    cell_m = abs(t.a)
    step = max(1, int(round(ctx.prm.new_tower_grid_m / cell_m)))
    near = _people_within_m(counts, cell_m, _DISC_M)
    rows = np.arange(step // 2, grid.height, step)
    cols = np.arange(step // 2, grid.width, step)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    ok = near[rr, cc] >= ctx.prm.new_tower_min_people - 1e-9
    rr, cc = rr[ok], cc[ok]
    x, y = t.c + t.a * (cc + 0.5), t.f + t.e * (rr + 0.5)
    if len(tw) and x.size:
        txy = np.column_stack([tw.geometry.x.to_numpy(), tw.geometry.y.to_numpy()])
        d, _ = cKDTree(txy).query(np.column_stack([x, y]), k=1)
        keep = d > _parameters.resolve("sharing", study).colocation_m
        x, y = x[keep], y[keep]
    return _new_frame(ctx, x, y, "grid")


def _new_frame(ctx: _Context, x: np.ndarray, y: np.ndarray, source: str) -> pd.DataFrame:
    return pd.DataFrame({"kind": "new_tower", "host_site_id": "", "x": x, "y": y, "source": source,
                         "height_m": float(ctx.prm.new_tower_height_m), "cost_vnd": float(ctx.prm.cost_new_tower_vnd),
                         "sectors": None})


def _far_from(xy: np.ndarray, others: np.ndarray, distance_m: float) -> np.ndarray:
    """Mask of the points of ``xy`` farther than ``distance_m`` from every point of ``others``."""
    from scipy.spatial import cKDTree

    if len(others) == 0 or len(xy) == 0:
        return np.ones(len(xy), dtype=bool)
    d, _ = cKDTree(others).query(xy, k=1)
    return np.asarray(d > distance_m)


def _road_towers(ctx: _Context, study: Any, tw: gpd.GeoDataFrame, grid_xy: np.ndarray,
                 unserved: np.ndarray | None) -> pd.DataFrame:
    """Road points near enough unserved people, away from towers and grid points."""
    import shapely

    roads = study.layer("roads").to_crs(ctx.sites.crs)
    if "kind" in roads.columns:
        roads = roads[roads["kind"].astype(str) == "road"]
    spacing_m = ctx.prm.new_tower_grid_m * _ROAD_SPACING
    pts = shapely.get_coordinates(shapely.segmentize(roads.geometry.to_numpy(), spacing_m / 2.0))
    pop = study.population
    grid, t = pop.grid, pop.grid.transform
    col = np.floor((pts[:, 0] - t.c) / t.a).astype(np.int64)
    row = np.floor((pts[:, 1] - t.f) / t.e).astype(np.int64)
    inside = (col >= 0) & (col < grid.width) & (row >= 0) & (row < grid.height)
    pts, col, row = pts[inside], col[inside], row[inside]
    _, first = np.unique(np.floor(pts / spacing_m).astype(np.int64), axis=0, return_index=True)
    pts, col, row = pts[first], col[first], row[first]
    counts = np.where(pop.nodata_mask, 0.0, pop.counts).astype(np.float64)
    if unserved is not None:
        counts = counts * np.asarray(unserved, dtype=bool).reshape(counts.shape)
    near = _people_within_m(counts, abs(t.a), _DISC_M)[row, col]
    keep = near >= ctx.prm.new_tower_min_people - 1e-9
    txy = np.column_stack([tw.geometry.x.to_numpy(), tw.geometry.y.to_numpy()]) if len(tw) else np.zeros((0, 2))
    keep &= _far_from(pts, txy, _parameters.resolve("sharing", study).colocation_m)
    keep &= _far_from(pts, grid_xy, spacing_m / 2.0)
    return _new_frame(ctx, pts[keep, 0], pts[keep, 1], "road")


def candidate_sites(study: Any, /, *, operator: str | None, kinds: tuple[str, ...] = KINDS,
                    roads: bool = True, unserved: np.ndarray | None = None, **overrides: Any) -> gpd.GeoDataFrame:
    """The candidate 5G sites of ``operator`` (``None``: the neutral host) in the study.

    Parameters
    ----------
    study
        An :class:`ictplan.study.Study` with ``sites`` and ``population`` (and ``cells``).
    operator
        An operator of the sites layer, or ``None`` for the neutral host (no upgrades; every
        tower a co-location; band ``neutral_host_band``, operator label ``"neutral"``).
    kinds
        The kinds to generate (default all three).
    roads, unserved
        Also new towers along the study's roads (when it has a ``roads`` layer) near
        ``unserved`` people (bool per grid cell, e.g. outside the existing 5G; ``None``: everyone).
    overrides
        :class:`ictplan.parameters.PlanParameters` fields (``cost_new_tower_vnd=...``).

    Returns
    -------
    geopandas.GeoDataFrame
        In the population grid's CRS: ``candidate_id`` (``<kind>-<operator>-<n>``), ``kind``,
        ``operator``, ``host_site_id`` (``""`` for new towers), ``band``, ``height_m``,
        ``cost_vnd``, ``source`` (``site``, ``tower``, ``grid`` or ``road``), ``sectors`` (list of
        ``(azimuth_deg, height_m, tilt_deg)``), point geometry.

    Raises
    ------
    InputValidationError
        An unknown operator or kind.
    """
    prm = _parameters.resolve("plan", study, **overrides)
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise InputValidationError(f"unknown candidate kind(s) {bad}; use {', '.join(KINDS)}.")
    crs = study.population.grid.crs
    sites = study.layer("sites").to_crs(crs)
    ops = sorted(set(sites["operator"].astype(str)))
    if operator is not None and operator not in ops:
        raise InputValidationError(f"operator {operator!r} has no sites in the study; known: {', '.join(ops)}. "
                                   "Pass one of them, or operator=None for the neutral host.")
    band = operator_band(sites, operator, prm.neutral_host_band)
    ctx = _Context(sites, operator or NEUTRAL, band, _default_tilt(sites, band), prm)
    tw = _towers(study, crs) if ("colocation" in kinds or "new_tower" in kinds) else gpd.GeoDataFrame()
    parts = []
    if "upgrade" in kinds and operator is not None:
        parts.append(_upgrades(ctx))
    if "colocation" in kinds:
        parts.append(_colocations(ctx, tw))
    if "new_tower" in kinds:
        grid_part = _new_towers(ctx, study, tw)
        parts.append(grid_part)
        if roads and study.has("roads"):
            parts.append(_road_towers(ctx, study, tw, grid_part[["x", "y"]].to_numpy(), unserved))
    return _assemble(ctx, [p for p in parts if len(p)], crs)


def _assemble(ctx: _Context, parts: list[pd.DataFrame], crs: Any) -> gpd.GeoDataFrame:
    cols = ["candidate_id", "kind", "operator", "host_site_id", "band", "height_m", "cost_vnd", "source", "sectors"]
    if not parts:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    df = pd.concat(parts, ignore_index=True)
    fill = [[(a, float(h), ctx.tilt_deg) for a in _AZIMUTHS_DEG] for h in df["height_m"]]
    df["sectors"] = [s if isinstance(s, list) else f for s, f in zip(df["sectors"], fill, strict=True)]
    n = df.groupby("kind").cumcount() + 1
    df["candidate_id"] = df["kind"].str.replace("_", "") + "-" + ctx.operator + "-" + n.map("{:05d}".format)
    df["operator"] = ctx.operator
    df["band"] = ctx.band
    geom = gpd.points_from_xy(df["x"], df["y"], crs=crs)
    return gpd.GeoDataFrame(df[cols], geometry=geom, crs=crs)


def candidate_sectors(cands: gpd.GeoDataFrame, /) -> pd.DataFrame:
    """The candidates' 5G sectors in the columns of a study's ``sites.csv`` (lon/lat WGS 84).

    ``sector_id`` is ``<candidate_id>-5G<k>``, ``site_id`` the host site's id for an upgrade
    (the 5G joins that site), else the candidate id; ``tx_power_dbm`` is left empty (NaN:
    the profile's). Append the rows to a variant study's ``sites.csv`` (write floats with
    full precision so that the re-run coverage sees the same positions).
    """
    if len(cands) == 0:
        return pd.DataFrame(columns=SITES_COLUMNS)
    lonlat = cands.geometry.to_crs("EPSG:4326")
    n = np.array([len(s) for s in cands["sectors"]])
    rep = np.repeat(np.arange(len(cands)), n)
    k = np.concatenate([np.arange(m) for m in n])
    sec = np.array([t for s in cands["sectors"] for t in s], dtype=float).reshape(-1, 3)
    cid = cands["candidate_id"].astype(str).to_numpy()[rep]
    host = cands["host_site_id"].astype(str).to_numpy()[rep]
    up = cands["kind"].astype(str).to_numpy()[rep] == "upgrade"
    return pd.DataFrame({
        "sector_id": [f"{c}-5G{j + 1}" for c, j in zip(cid, k, strict=True)],
        "site_id": np.where(up, host, cid), "operator": cands["operator"].astype(str).to_numpy()[rep],
        "technology": "5G", "band": cands["band"].astype(str).to_numpy()[rep],
        "azimuth_deg": sec[:, 0], "height_m": sec[:, 1], "tilt_deg": sec[:, 2], "tx_power_dbm": np.nan,
        "lon": lonlat.x.to_numpy()[rep], "lat": lonlat.y.to_numpy()[rep],
    })
