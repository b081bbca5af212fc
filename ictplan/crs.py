"""Coordinate reference systems: one place to normalise CRS input and check it.

Distances and areas are measured in a metric CRS (UTM 48N, EPSG:32648, for Cà Mau);
a missing CRS is an error, never an assumption.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeAlias

import pyproj

from ._errors import CRSError, CRSMismatchError, GeographicCRSError, MissingCRSError

__all__ = ["CRSLike", "as_crs", "require_crs", "require_projected", "check_same_crs", "crs_label"]

class _HasWkt(Protocol):  # rasterio.crs.CRS and the like
    def to_wkt(self) -> str: ...


CRSLike: TypeAlias = int | str | pyproj.CRS | _HasWkt
"""EPSG int, "EPSG:xxxx", WKT, pyproj.CRS, rasterio CRS."""


def as_crs(value: CRSLike | None) -> pyproj.CRS:
    """Normalise CRS input (EPSG int, "EPSG:xxxx", WKT, pyproj or rasterio CRS).

    PROJ strings ("+proj=...") and "+init=" forms are refused: they are lossy.
    """
    if value is None:
        raise MissingCRSError("no CRS given. Pass an EPSG code such as 32648 (UTM 48N) or 4326 (lon/lat).")
    if isinstance(value, pyproj.CRS):
        return value
    if not isinstance(value, int | str) and hasattr(value, "to_wkt"):
        value = value.to_wkt()
    if isinstance(value, str) and value.strip().startswith("+"):
        raise CRSError(
            f"PROJ strings are not accepted as a CRS (got {value!r}): they are lossy. "
            "Use an EPSG code such as 'EPSG:32648' or a WKT string."
        )
    try:
        return pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError as err:
        raise CRSError(f"could not understand the CRS {value!r}: {err}. Use an EPSG code such as 'EPSG:32648'.") from err


def crs_label(crs: pyproj.CRS | None) -> str:
    if crs is None:
        return "no CRS"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.name


def require_crs(obj: Any, what: str) -> pyproj.CRS:
    """The CRS of a GeoDataFrame / GeoSeries, or MissingCRSError naming the fix."""
    crs = getattr(obj, "crs", None)
    if crs is None:
        raise MissingCRSError(
            f"{what} has no CRS. If its coordinates are GPS lon/lat, call `.set_crs(4326)`; "
            "otherwise fix the source file's CRS (in QGIS: Layer Properties → Source → Assigned CRS)."
        )
    return as_crs(crs)


def require_projected(crs: pyproj.CRS, what: str) -> None:
    """Refuse a geographic CRS for metric work."""
    if crs.is_geographic:
        raise GeographicCRSError(
            f"{what} is in {crs_label(crs)} (degrees of lon/lat), but this step measures metres. "
            "Reproject it first, e.g. `.to_crs(32648)` (UTM 48N) for Cà Mau, or pass `working_crs=`."
        )


def check_same_crs(**layers: Any) -> pyproj.CRS:
    """All layers (name=GeoDataFrame) share one CRS; returns it, or raises CRSMismatchError."""
    seen: dict[str, pyproj.CRS] = {name: require_crs(gdf, f"`{name}`") for name, gdf in layers.items()}
    names = list(seen)
    first = seen[names[0]]
    for name in names[1:]:
        if not seen[name].equals(first):
            raise CRSMismatchError(
                f"`{names[0]}` is in {crs_label(first)} but `{name}` is in {crs_label(seen[name])}. "
                f"Reproject one of them with `.to_crs()` so both share a CRS."
            )
    return first
