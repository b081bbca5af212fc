"""Postal service points and public facilities: presence and connectivity per commune.

The plan's postal targets (P1–P4) and its facility goals (commune health stations,
schools, commune offices and State agencies connected; urban organisations at 1 Gb/s)
are counts over two point layers, ``postal_points`` and ``facilities`` (columns per
:data:`ictplan.schemas.SCHEMAS`). This module turns those layers into per-commune
tables of counts; :mod:`ictplan.targets` aggregates them to districts and the province
and compares them with the targets.

Every point belongs to the commune named by its ``commune_code`` column. A point whose
code is not a commune of the study is placed by its location instead (the commune
polygon holding it); one that lies in no commune is left out and counted in a
:class:`~ictplan.errors.SkippedFeaturesWarning`.

Facility connectivity joins three sources, each optional:

* fiber reach and offered speed per facility (from the fiber analysis, by
  ``facility_id``);
* 4G / 5G coverage at the facility's location (from the coverage analysis: a coverage
  raster sampled at the grid cell holding the point);
* the facility layer itself (kind, level, urban flag).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import InputValidationError, MissingColumnError, SkippedFeaturesWarning
from .grid import Grid

logger = logging.getLogger(__name__)

__all__ = [
    "POSTAL_COLUMNS",
    "AGENCY_KINDS",
    "assign_communes",
    "postal_presence",
    "facility_connectivity",
    "facility_counts",
    "sample_grid",
]

POSTAL_COLUMNS = ("points", "staffed", "staffed_internet", "staffed_online", "has_staffed")
"""Columns of :func:`postal_presence`."""

AGENCY_KINDS = ("agency", "commune_office")
"""Facility kinds that are Party and State agencies (target M5): ``agency`` at any level
(province, district, commune) and ``commune_office`` (the commune People's Committee)."""


def _require(df: pd.DataFrame, columns: tuple[str, ...] | list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MissingColumnError(
            f"{what} lacks column(s) {', '.join(missing)} (it has: {', '.join(map(str, df.columns))}). "
            f"Add them or load the layer with ictplan.io.read_layer, which checks the schema."
        )


def assign_communes(points: gpd.GeoDataFrame, communes: gpd.GeoDataFrame, /, *, what: str = "points") -> pd.Series:
    """The commune code of every point: its ``commune_code`` if known, else by location.

    Parameters
    ----------
    points
        Points with a ``commune_code`` column (any CRS).
    communes
        Commune polygons with ``commune_code`` (any CRS; points are reprojected to it).
    what
        Name of the layer in messages.

    Returns
    -------
    pandas.Series
        Commune code per point (index = ``points.index``, name ``commune_code``); NaN
        where the code is unknown and the point lies in no commune.

    Raises
    ------
    MissingColumnError
        ``commune_code`` missing from either layer.

    Warns
    -----
    SkippedFeaturesWarning
        Points with an unknown code that lie in no commune (the count is in the message).

    Notes
    -----
    Only points with an unknown code are joined spatially (one vectorised ``sjoin``,
    predicate ``intersects``): a point exactly on a boundary goes to the first commune
    holding it, so it is counted once and never lost.
    """
    _require(points, ["commune_code"], what)
    _require(communes, ["commune_code"], "communes")
    known = set(communes["commune_code"].astype(str))
    code = points["commune_code"].astype("string")
    bad = ~code.isin(known).fillna(False).to_numpy(dtype=bool)
    out = code.astype(object).where(~bad, np.nan)
    if bad.any():
        sub = points.loc[bad, ["geometry"]]
        if sub.crs is not None and communes.crs is not None and not sub.crs.equals(communes.crs):
            sub = sub.to_crs(communes.crs)
        j = gpd.sjoin(sub, communes[["commune_code", "geometry"]], how="left", predicate="intersects")
        j = j[~j.index.duplicated(keep="first")]
        out.loc[bad] = j["commune_code"].reindex(sub.index).to_numpy()
        lost = int(out.isna().sum())
        if lost:
            codes = code[bad & out.isna().to_numpy()].dropna().unique()[:3].tolist()
            why = (f"a commune_code that is not a commune of the study (e.g. {codes}) and " if codes
                   else "no commune_code and ")
            warnings.warn(
                f"{lost} of {len(points)} {what} have {why}lie in no commune polygon; they are left out "
                "of the per-commune counts (and counted as outside zones). Check their position, or "
                "give them the commune_code of the commune they serve.",
                SkippedFeaturesWarning,
                stacklevel=2,
            )
    return out.rename("commune_code")


def postal_presence(postal_points: gpd.GeoDataFrame, communes: gpd.GeoDataFrame, /) -> pd.DataFrame:
    """Postal service points per commune: how many, staffed, with Internet, online services.

    Parameters
    ----------
    postal_points
        The ``postal_points`` layer: ``point_id``, ``commune_code``, booleans
        ``staffed``, ``internet``, ``online_services``.
    communes
        The ``communes`` layer (``commune_code``); every commune gets a row.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``commune_code`` (all communes, in the communes' order), integer
        columns :data:`POSTAL_COLUMNS`:

        * ``points``: postal service points in the commune (target P1 sums them);
        * ``staffed``: points with staff (``staffed`` true);
        * ``staffed_internet``: staffed points with ``internet`` true (P3);
        * ``staffed_online``: staffed points with ``online_services`` true (P4);
        * ``has_staffed``: 1 if the commune has at least one staffed point, else 0 (P2).

    Raises
    ------
    MissingColumnError
        A required column is missing.

    Notes
    -----
    A missing flag (NA) counts as false: a point is only credited with what its record
    says. Cost: one ``groupby`` over the points.
    """
    _require(postal_points, ["commune_code", "staffed", "internet", "online_services"], "postal_points")
    codes = assign_communes(postal_points, communes, what="postal points")

    def flag(col: str) -> np.ndarray:
        return postal_points[col].astype("boolean").fillna(False).to_numpy(dtype=bool)

    staffed = flag("staffed")
    df = pd.DataFrame(
        {
            "commune_code": codes.to_numpy(),
            "points": 1,
            "staffed": staffed.astype(int),
            "staffed_internet": (staffed & flag("internet")).astype(int),
            "staffed_online": (staffed & flag("online_services")).astype(int),
        }
    ).dropna(subset=["commune_code"])
    sums = df.groupby("commune_code")[["points", "staffed", "staffed_internet", "staffed_online"]].sum()
    order = communes["commune_code"].astype(str).to_numpy()
    out = sums.reindex(order, fill_value=0).astype(np.int64)
    out["has_staffed"] = (out["staffed"] > 0).astype(np.int64)
    out.index.name = "commune_code"
    return out[list(POSTAL_COLUMNS)]


def sample_grid(array: np.ndarray, grid: Grid, points: gpd.GeoSeries | gpd.GeoDataFrame, /, *, fill: Any = np.nan) -> np.ndarray:
    """Values of a raster on ``grid`` at the cells holding ``points``.

    Parameters
    ----------
    array
        2-D array of shape ``grid.shape``.
    grid
        The analysis grid (its CRS is the metric working CRS).
    points
        Point geometries in any CRS (reprojected to ``grid.crs``).
    fill
        Value for points outside the grid.

    Returns
    -------
    numpy.ndarray
        One value per point (the dtype of ``array``, or float when ``fill`` is NaN).

    Raises
    ------
    InputValidationError
        ``array`` does not have the grid's shape.
    """
    if array.shape != grid.shape:
        raise InputValidationError(f"the raster has shape {array.shape} but the grid is {grid.shape}: sample a raster on the grid it was computed on.")
    geoms = points.geometry if isinstance(points, gpd.GeoDataFrame) else points
    if geoms.crs is not None and not geoms.crs.equals(grid.crs):
        geoms = geoms.to_crs(grid.crs)
    x = geoms.x.to_numpy()
    y = geoms.y.to_numpy()
    row, col = grid.rowcol(x, y)
    inside = (row >= 0) & (row < grid.height) & (col >= 0) & (col < grid.width)
    dtype = np.result_type(array.dtype, np.asarray(fill).dtype)
    out = np.full(len(x), fill, dtype=dtype)
    out[inside] = array[row[inside], col[inside]]
    return out


def facility_connectivity(
    facilities: gpd.GeoDataFrame,
    communes: gpd.GeoDataFrame,
    /,
    *,
    fiber: pd.DataFrame | None = None,
    mobile: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every facility with its commune, kind and what connects it.

    Parameters
    ----------
    facilities
        The ``facilities`` layer (``facility_id``, ``kind``, ``commune_code``, optional
        ``level`` and ``urban``).
    communes
        The ``communes`` layer (to place facilities whose code is unknown).
    fiber
        Per-facility fiber figures indexed by ``facility_id``: ``fiber_reach`` (bool: fiber
        access within the drop limit along the network) and optionally ``offered_mbps``
        (the best speed the reachable access offers). ``None``: unknown (NA).
    mobile
        Per-facility mobile coverage indexed by ``facility_id``: ``has_4g``, ``has_5g``
        (bool, any operator). ``None``: unknown (NA).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``facilities``: ``facility_id``, ``kind``, ``level``, ``urban``,
        ``commune_code``, ``fiber_reach``, ``offered_mbps``, ``has_4g``, ``has_5g``,
        ``has_mobile`` (4G or 5G). Unknown values are NA (pandas ``boolean`` / float),
        never guessed.

    Raises
    ------
    MissingColumnError
        A required column is missing from ``facilities``, ``fiber`` or ``mobile``.
    """
    _require(facilities, ["facility_id", "kind", "commune_code"], "facilities")
    out = pd.DataFrame(
        {
            "facility_id": facilities["facility_id"].astype(str),
            "kind": facilities["kind"].astype(str).str.lower(),
            "level": facilities["level"] if "level" in facilities.columns else None,
            "urban": facilities["urban"].astype("boolean").fillna(False) if "urban" in facilities.columns else False,
            "commune_code": assign_communes(facilities, communes, what="facilities"),
        },
        index=facilities.index,
    )
    ids = out["facility_id"]
    if fiber is not None:
        _require(fiber, ["fiber_reach"], "the fiber figures per facility")
        f = fiber.copy()
        f.index = f.index.astype(str)
        out["fiber_reach"] = f["fiber_reach"].astype("boolean").reindex(ids).to_numpy()
        out["offered_mbps"] = (
            pd.to_numeric(f["offered_mbps"], errors="coerce").reindex(ids).to_numpy(dtype=float)
            if "offered_mbps" in f.columns
            else np.nan
        )
    else:
        out["fiber_reach"] = pd.array([pd.NA] * len(out), dtype="boolean")
        out["offered_mbps"] = np.nan
    if mobile is not None:
        _require(mobile, ["has_4g", "has_5g"], "the mobile coverage per facility")
        m = mobile.copy()
        m.index = m.index.astype(str)
        out["has_4g"] = m["has_4g"].astype("boolean").reindex(ids).to_numpy()
        out["has_5g"] = m["has_5g"].astype("boolean").reindex(ids).to_numpy()
    else:
        out["has_4g"] = pd.array([pd.NA] * len(out), dtype="boolean")
        out["has_5g"] = pd.array([pd.NA] * len(out), dtype="boolean")
    out["fiber_reach"] = out["fiber_reach"].astype("boolean")
    out["has_4g"] = out["has_4g"].astype("boolean")
    out["has_5g"] = out["has_5g"].astype("boolean")
    out["has_mobile"] = out["has_4g"] | out["has_5g"]
    return out


def facility_counts(
    connectivity: pd.DataFrame,
    communes: pd.DataFrame,
    /,
    *,
    kinds: tuple[str, ...] | None,
    column: str,
    urban_only: bool = False,
    min_mbps: float | None = None,
) -> pd.DataFrame:
    """Per commune: facilities of some kinds, and how many of them have ``column`` true.

    Parameters
    ----------
    connectivity
        The output of :func:`facility_connectivity`.
    communes
        The communes (``commune_code``); every commune gets a row.
    kinds
        Facility kinds counted (``None``: every kind).
    column
        The boolean column that makes a facility count as served (``fiber_reach``,
        ``has_mobile``, ...). With ``min_mbps``, ``offered_mbps >= min_mbps`` is
        required as well.
    urban_only
        Count only facilities flagged ``urban``.
    min_mbps
        Minimum offered fixed speed in Mb/s (e.g. 1000 for 1 Gb/s).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``commune_code``: ``facilities`` (the denominator), ``served`` (the
        numerator) and ``unknown`` (facilities whose ``column`` is NA). Facilities with
        no commune are left out.

    Raises
    ------
    MissingColumnError
        ``column`` is not in ``connectivity``.
    """
    _require(connectivity, [column, "kind", "commune_code"], "the facility connectivity table")
    sel = connectivity
    if kinds is not None:
        sel = sel[sel["kind"].isin(kinds)]
    if urban_only:
        sel = sel[sel["urban"].astype("boolean").fillna(False).to_numpy(dtype=bool)]
    flag = sel[column].astype("boolean")
    served = flag.fillna(False).to_numpy(dtype=bool)
    if min_mbps is not None:
        served &= (pd.to_numeric(sel["offered_mbps"], errors="coerce").fillna(0.0) >= min_mbps).to_numpy()
    df = pd.DataFrame(
        {
            "commune_code": sel["commune_code"].to_numpy(),
            "facilities": 1,
            "served": served.astype(int),
            "unknown": flag.isna().to_numpy(dtype=int),
        }
    ).dropna(subset=["commune_code"])
    sums = df.groupby("commune_code")[["facilities", "served", "unknown"]].sum()
    order = communes["commune_code"].astype(str).to_numpy()
    out = sums.reindex(order, fill_value=0).astype(np.int64)
    out.index.name = "commune_code"
    return out
