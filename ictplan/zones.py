"""One zone accounting: exact cell weights of a study's zones, built once and reused.

Every per-zone figure in ictplan (people covered per commune, households per commune
and hamlet, the scorecard's shares) is a weighted sum over the analysis grid's cells,
``W @ v``, with the *same* ``W`` for a level (communes, districts, hamlets).
:func:`for_study` builds it once per study, level and method and caches it on the study.

Weights
-------
``W[z, c]`` is the share of cell ``c``'s area inside zone ``z`` (exactextract cell
fractions, :func:`ictplan.grid.zone_weights`; ``method="centre"`` gives whole cells by
their centre instead).

Overlapping zones (the resolution rule)
---------------------------------------
Real boundary files overlap (the GADM communes of Cà Mau in 115 pairs, 3.94 km²). Left
alone, a cell in two zones would be counted twice. The rule: **a cell whose weights over
the zones of a level sum to more than 1 has each of its weights divided by that sum**
(proportional split): the shared part of the cell is shared between the overlapping
zones in proportion to the area each claims, and the cell's column sums to exactly 1.
Cells whose weights sum to at most 1 are untouched. So every cell's column sums to at
most 1, ``outside = 1 − column sum`` is the share in no zone (the ``"(outside zones)"``
row), and zones + outside add up to the grid total: nobody is counted twice or lost.

What was resolved is counted in :class:`OverlapReport` (``ZoneWeights.overlap``): the
overlapping pairs and their area (m², from the polygons), the cells whose weights were
scaled, and the people counted twice before the split (``Σ_c pop_c · (Σ_z W[z, c] − 1)⁺``).
``ictplan check`` prints :meth:`OverlapReport.summary`, from :func:`overlap_report`.

Points (hamlets given as points) carry no area and get no weights: :func:`for_study`
leaves them out with a :class:`~ictplan.errors.SkippedFeaturesWarning`, and refuses a
level that has no polygon at all.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._errors import InputValidationError, RepairWarning, SkippedFeaturesWarning
from .grid import OUTSIDE_ZONES, Grid, Population, zone_sums, zone_weights

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from .study import Study

logger = logging.getLogger(__name__)

__all__ = [
    "OUTSIDE_ZONES", "ZONE_ID_COLUMNS", "OverlapReport", "ZoneWeights", "build", "for_study",
    "overlap_pairs", "overlap_report", "resolve_overlaps", "zone_columns",
]

ZONE_ID_COLUMNS: dict[str, tuple[str, str]] = {
    "communes": ("commune_code", "commune_name"),
    "hamlets": ("hamlet_code", "hamlet_name"),
    "districts": ("district_code", "district_name"),
}
"""Code and name columns of each zone level."""

_OVER_TOL = 1e-9  # a column sum above 1 + this is over-full and scaled (float32 fractions are snapped before)
_REPORT_TOL = 1e-6  # ... and counted in the report when above 1 + this (smaller excesses are rounding)
_MIN_PAIR_AREA_M2 = 1e-3  # polygons touching along an edge share no area; slivers below this are noise


# ============================================================================ reports
@dataclass(frozen=True)
class OverlapReport:
    """Overlapping zones of one level and how they were resolved.

    ``pairs``: one row per overlapping pair, ``zone_a, zone_b`` (codes), ``area_m2``.
    ``area_m2``: the area in more than one zone (sum over pairs). ``cells``: grid cells
    whose weights summed to more than 1 and were scaled. ``people``: people that would
    have been counted twice (``None`` without a population). ``rule``: how the shared
    part was split.
    """

    level: str
    pairs: pd.DataFrame
    cells: int = 0
    people: float | None = None
    rule: str = "proportional"

    @property
    def n_pairs(self) -> int:
        return len(self.pairs)

    @property
    def area_m2(self) -> float:
        return float(self.pairs["area_m2"].sum()) if len(self.pairs) else 0.0

    def summary(self) -> str:
        """One line for ``ictplan check``: pairs, km², people, the rule."""
        if self.n_pairs == 0 and self.cells == 0:
            return f"{self.level}: no overlapping zones"
        people = "" if self.people is None else f", {self.people:,.0f} people in overlaps"
        return (f"{self.level}: {self.n_pairs} overlapping pair(s), {self.area_m2 / 1e6:,.2f} km², "
                f"{self.cells} cell(s){people}, split {self.rule}ly")


@dataclass(frozen=True)
class ZoneWeights:
    """Cell weights of one zone level on one grid; see the module docstring.

    ``matrix`` (csr, zones × cells, row-major cells) has every column summing to ≤ 1;
    ``outside`` is ``1 − column sum`` per cell; ``codes``/``names`` label the rows;
    ``index`` gives each row's position in the layer it came from (points left out).
    """

    level: str
    codes: np.ndarray
    names: np.ndarray
    matrix: sp.csr_matrix
    outside: np.ndarray
    overlap: OverlapReport
    grid: Grid
    method: str = "exact"
    index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @property
    def n_zones(self) -> int:
        return int(self.matrix.shape[0])

    def sums(self, values_per_cell: np.ndarray, /) -> np.ndarray:
        """Per-zone sums of a per-cell quantity (grid-shaped or flat): ``matrix @ v``."""
        return zone_sums(self.matrix, values_per_cell)

    def outside_sum(self, values_per_cell: np.ndarray, /) -> float:
        """The ``"(outside zones)"`` figure of a per-cell quantity."""
        v = np.asarray(values_per_cell, dtype=np.float64).reshape(-1)
        return float(self.outside @ v)

    def sums_with_outside(self, values_per_cell: np.ndarray, /) -> np.ndarray:
        """Zone sums followed by the outside figure: they add up to ``values.sum()``."""
        return np.append(self.sums(values_per_cell), self.outside_sum(values_per_cell))

    def sub(self, cells: np.ndarray, /) -> sp.csr_matrix:
        """The weights of some cells (flat indices): zones × len(cells)."""
        return self.matrix[:, np.asarray(cells, dtype=np.int64)].tocsr()

    def primary(self, cells: np.ndarray | None = None) -> np.ndarray:
        """For each cell (or the given flat cells), the row of the zone holding most of it
        (−1 when it lies in no zone)."""
        m = self.matrix if cells is None else self.sub(cells)
        csc = m.tocsc()
        out = np.full(csc.shape[1], -1, np.int64)
        nnz = np.diff(csc.indptr)
        has = np.flatnonzero(nnz)
        if has.size:
            best = np.maximum.reduceat(csc.data, csc.indptr[has]) if csc.data.size else np.zeros(0)
            col_of = np.repeat(np.arange(csc.shape[1]), nnz)
            is_best = csc.data >= best[np.searchsorted(has, col_of)]
            # first zone reaching the column's maximum (lowest row within the column)
            rows, cols = csc.indices[is_best], col_of[is_best]
            order = np.lexsort((rows, cols))
            rows, cols = rows[order], cols[order]
            first = np.r_[True, cols[1:] != cols[:-1]]
            out[cols[first]] = rows[first]
        return out


# ============================================================================ building
def zone_columns(level: str, gdf: pd.DataFrame) -> tuple[str | None, str | None]:
    """The code and name columns of a zone layer (:data:`ZONE_ID_COLUMNS`, else the first
    two non-geometry columns)."""
    if level in ZONE_ID_COLUMNS and all(c in gdf.columns for c in ZONE_ID_COLUMNS[level]):
        return ZONE_ID_COLUMNS[level]
    if level in ZONE_ID_COLUMNS and ZONE_ID_COLUMNS[level][0] in gdf.columns:
        return ZONE_ID_COLUMNS[level][0], ZONE_ID_COLUMNS[level][0]
    geom = getattr(gdf, "geometry", None)
    gname = geom.name if geom is not None else None
    cols = [c for c in gdf.columns if c != gname]
    return (cols[0] if cols else None, cols[1] if len(cols) > 1 else (cols[0] if cols else None))


def resolve_overlaps(matrix: sp.spmatrix, /) -> tuple[sp.csr_matrix, np.ndarray]:
    """Scale every over-full column (sum > 1) to sum 1 (the proportional rule).

    Returns the resolved matrix (a copy) and a boolean per cell: was it scaled.
    """
    w = sp.csr_matrix(matrix, dtype=np.float64, copy=True)
    col = np.bincount(w.indices, weights=w.data, minlength=w.shape[1])
    return w, _scale_over_full(w, col)


def _scale_over_full(w: sp.csr_matrix, col: np.ndarray) -> np.ndarray:
    """In place: scale the over-full columns of ``w`` (column sums ``col``) to sum 1, and set
    their ``col`` to 1; returns the boolean per cell: was it scaled."""
    over = col > 1.0 + _OVER_TOL
    if over.any():
        w.data *= np.where(over, 1.0 / np.where(over, col, 1.0), 1.0)[w.indices]
        col[over] = 1.0  # the scaled columns sum to 1 (to rounding)
    return over


def overlap_pairs(zones: gpd.GeoDataFrame | gpd.GeoSeries, /, *, codes: np.ndarray | None = None) -> pd.DataFrame:
    """Pairs of zones that share area: ``zone_a, zone_b, area_m2`` (a < b in layer order).

    Areas are measured in the zones' CRS when it is projected, else in their UTM zone.
    """
    import geopandas as gpd
    import shapely

    geo = zones.geometry if isinstance(zones, gpd.GeoDataFrame) else zones
    if geo.crs is not None and geo.crs.is_geographic:
        geo = geo.to_crs(geo.estimate_utm_crs())
    raw = np.asarray(geo.values, dtype=object)
    ok = ~(shapely.is_missing(raw) | shapely.is_empty(raw))
    g: Any = np.where(ok, shapely.make_valid(np.where(ok, raw, shapely.Point())), None)
    labels = np.asarray(codes if codes is not None else np.arange(len(g)).astype(str), dtype=object)
    tree = shapely.STRtree(g)
    a, b = tree.query(g, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    area = shapely.area(shapely.intersection(g[a], g[b])) if a.size else np.zeros(0)
    sel = area > _MIN_PAIR_AREA_M2
    return pd.DataFrame({"zone_a": labels[a[sel]], "zone_b": labels[b[sel]], "area_m2": area[sel]})


def build(
    zones: gpd.GeoDataFrame,
    grid: Grid,
    /,
    *,
    level: str = "communes",
    method: str = "exact",
    population: Population | None = None,
) -> ZoneWeights:
    """Resolved cell weights of a polygon layer on a grid (see the module docstring).

    Raises
    ------
    InputValidationError
        Not polygons, no CRS, unknown method (from :func:`ictplan.grid.zone_weights`).
    NoDataInBoundsError
        No zone overlaps the grid.
    """
    matrix = zone_weights(zones, grid, method=method)  # type: ignore[arg-type]
    # one column-sum array serves the overlap report, the resolution and (in place) the leftover:
    # the matrix is scaled in place (built here), no grid-sized copies (as resolve_overlaps makes)
    col = np.bincount(matrix.indices, weights=matrix.data, minlength=matrix.shape[1])
    n_over_cells = int(np.count_nonzero(col > 1.0 + _REPORT_TOL))
    over = col > 1.0 + _OVER_TOL
    people = None
    if population is not None:
        people = float(np.maximum(col[over] - 1.0, 0.0) @ population.counts.reshape(-1)[over])
    _scale_over_full(matrix, col)
    outside = np.subtract(1.0, col, out=col)
    np.clip(outside, 0.0, 1.0, out=outside)
    outside[np.abs(outside) < 1e-12] = 0.0
    code_col, name_col = zone_columns(level, zones)
    n = len(zones)
    codes = zones[code_col].astype(str).to_numpy() if code_col else np.arange(n).astype(str)
    names = zones[name_col].astype(str).to_numpy() if name_col else codes
    pairs = overlap_pairs(zones.to_crs(grid.crs) if zones.crs is not None and not grid.crs.is_geographic
                          and not zones.crs.equals(grid.crs) else zones, codes=codes)
    report = OverlapReport(level=level, pairs=pairs, cells=n_over_cells, people=people)
    if report.n_pairs or report.cells:
        logger.info("zones %s", report.summary())
    return ZoneWeights(level=level, codes=codes, names=names, matrix=matrix, outside=outside, overlap=report,
                       grid=grid, method=method, index=np.arange(n, dtype=np.int64))


def _polygon_rows(gdf: gpd.GeoDataFrame, level: str) -> np.ndarray:
    poly = gdf.geom_type.isin(["Polygon", "MultiPolygon"]).to_numpy()
    if not poly.any():
        raise InputValidationError(
            f"the {level} layer holds no polygons ({', '.join(map(str, sorted(gdf.geom_type.unique())))}); zone "
            f"weights need areas. Give {level} as polygons, or leave them out of zone tables."
        )
    if not poly.all():
        warnings.warn(f"{int((~poly).sum())} {level} are points, not polygons; they are left out of the "
                      f"zone tables (zone sums need areas).", SkippedFeaturesWarning, stacklevel=3)
    return np.flatnonzero(poly)


def for_study(study: Study, level: str = "communes", /, *, method: str | None = None) -> ZoneWeights:
    """The resolved weights of ``study``'s ``level`` layer on its population grid (cached
    on the study per level and method; ``method`` defaults to the coverage parameter).

    Raises
    ------
    ConfigError
        The study has no such layer.
    InputValidationError
        The layer holds no polygons.
    """
    if method is None:
        from . import parameters

        method = str(parameters.resolve("coverage", study).method)
    key = f"zones:{level}:{method}"
    cached = study._cache.get(key)
    if cached is not None:
        return cached
    gdf = study.layer(level)
    rows = _polygon_rows(gdf, level)
    sub = gdf.iloc[rows] if rows.size < len(gdf) else gdf
    pop = study.population
    zw = build(sub, pop.grid, level=level, method=method, population=pop)
    if rows.size < len(gdf):
        zw = ZoneWeights(level=zw.level, codes=zw.codes, names=zw.names, matrix=zw.matrix, outside=zw.outside,
                         overlap=zw.overlap, grid=zw.grid, method=zw.method, index=rows.astype(np.int64))
    if zw.overlap.n_pairs:  # counted, resolved, and said once per study and level
        warnings.warn(f"{zw.overlap.summary()}; nobody is counted twice (see ictplan.zones). "
                      "Fix the boundaries in QGIS to remove the overlap.", RepairWarning, stacklevel=2)
    study._cache[key] = zw
    return zw


def overlap_report(
    study_or_zones: Study | gpd.GeoDataFrame,
    /,
    *,
    level: str = "communes",
    grid: Grid | None = None,
    population: Population | None = None,
) -> OverlapReport:
    """Overlapping zones of a study's level (or of a polygon layer) and how they are split.

    With a study, the report of :func:`for_study` (pairs, area, cells, people). With a
    GeoDataFrame, the pairs; cells and people too when ``grid`` (and ``population``) are
    given. ``report.summary()`` is the line ``ictplan check`` prints.
    """
    import geopandas as gpd

    if not isinstance(study_or_zones, gpd.GeoDataFrame):
        return for_study(study_or_zones, level).overlap
    zones = study_or_zones
    if population is not None and grid is None:
        grid = population.grid
    if grid is not None:
        return build(zones, grid, level=level, population=population).overlap
    code_col, _ = zone_columns(level, zones)
    codes = zones[code_col].astype(str).to_numpy() if code_col else None
    return OverlapReport(level=level, pairs=overlap_pairs(zones, codes=codes))


def level_rows(zw: ZoneWeights, values: np.ndarray, /) -> tuple[list[str], list[str], np.ndarray]:
    """Codes, names and sums of a level's rows for a per-cell quantity, with an
    ``"(outside zones)"`` row appended (always)."""
    return ([*zw.codes.tolist(), OUTSIDE_ZONES], [*zw.names.tolist(), OUTSIDE_ZONES],
            zw.sums_with_outside(values))


def describe(zw: ZoneWeights) -> dict[str, Any]:
    """A small dict for results' parameters: level, method, zones, overlaps resolved."""
    return {"level": zw.level, "method": zw.method, "zones": zw.n_zones, "overlap_pairs": zw.overlap.n_pairs,
            "overlap_cells": zw.overlap.cells, "overlap_people": zw.overlap.people}
