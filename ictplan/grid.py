"""The analysis grid: the population raster's grid, and per-zone cell weights.

Every raster analysis in ictplan runs on one grid, the population raster's, so people
are never resampled. :class:`Grid` holds the geometry of that grid (transform, shape,
CRS); :class:`Population` pairs it with the counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj
from affine import Affine

__all__ = ["Grid", "Population"]


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: ``transform`` maps (col, row) to (x, y) of the top-left corner."""

    transform: Affine
    width: int
    height: int
    crs: pyproj.CRS

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def res_m(self) -> tuple[float, float]:
        """Cell size (x, y) in CRS units (metres in a projected CRS)."""
        return (abs(self.transform.a), abs(self.transform.e))

    @property
    def cell_area_m2(self) -> float:
        rx, ry = self.res_m
        return rx * ry

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy)."""
        t = self.transform
        x0, y0 = t.c, t.f
        x1 = x0 + t.a * self.width
        y1 = y0 + t.e * self.height
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def cell_centres(self, rows: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
        """x and y of cell centres as 2-D arrays (optionally for a band of rows)."""
        r0, r1 = (0, self.height) if rows is None else (rows.start or 0, rows.stop or self.height)
        cols = np.arange(self.width) + 0.5
        rws = np.arange(r0, r1) + 0.5
        t = self.transform
        x = t.c + t.a * cols  # north-up: no rotation terms
        y = t.f + t.e * rws
        return np.broadcast_to(x, (r1 - r0, self.width)), np.broadcast_to(
            y[:, None], (r1 - r0, self.width)
        )

    def rowcol(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of the cells holding points (may fall outside the grid)."""
        t = self.transform
        col = np.floor((np.asarray(x) - t.c) / t.a).astype(np.int64)
        row = np.floor((np.asarray(y) - t.f) / t.e).astype(np.int64)
        return row, col


@dataclass(frozen=True)
class Population:
    """Population counts on a grid. ``counts`` is float64 with nodata cells set to 0
    and flagged in ``nodata_mask``; ``total`` is the sum over valid cells."""

    grid: Grid
    counts: np.ndarray
    nodata_mask: np.ndarray
    source: str = ""

    @property
    def total(self) -> float:
        return float(self.counts.sum())
