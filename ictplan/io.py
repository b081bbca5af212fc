"""Every read and write of a file: loaders that validate, repair or refuse, and atomic writers.

Loaders return a validated :class:`geopandas.GeoDataFrame` in the file's CRS (or a
:class:`ictplan.grid.Population` for the population raster). What a loader repaired or
skipped is counted in ``gdf.attrs["ictplan_report"]`` and announced with a
:class:`~ictplan.errors.RepairWarning` / :class:`~ictplan.errors.SkippedFeaturesWarning`:
nothing is dropped silently.

Accepted formats: GeoPackage (``.gpkg``), GeoJSON (``.geojson``/``.json``), Shapefile
(``.shp``), FlatGeobuf (``.fgb``), CSV with lon/lat (or x/y) columns, OpenCelliD CSV,
GeoTIFF for rasters.

Writers (:func:`write_layer`, :func:`write_table`, :func:`write_raster`) write to a
temporary file beside the target and rename it into place: a failure never leaves half a
file, and an existing file is replaced only with ``overwrite=True``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import tomllib
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import rasterio
import shapely
from rasterio.errors import RasterioIOError

from . import crs as _crs
from . import validation as _v
from ._errors import (
    ConfigError,
    DataSourceError,
    DuplicateIdError,
    EmptyLayerError,
    EncodingError,
    GeometryTypeError,
    InputValidationError,
    MissingColumnError,
    MissingFileError,
    NodataError,
    OutputExistsError,
    RepairWarning,
    SkippedFeaturesWarning,
)
from .grid import Grid, Population
from .names import normalise_text_columns, tidy_name_columns
from .schemas import SCHEMAS, LayerSchema

__all__ = [
    "VECTOR_SUFFIXES",
    "read_toml",
    "validate_layer",
    "read_layer",
    "read_communes",
    "read_districts",
    "has_districts",
    "read_hamlets",
    "read_sites",
    "read_cells",
    "read_buildings",
    "read_population",
    "read_landcover",
    "write_layer",
    "write_table",
    "write_raster",
    "read_table_file",
    "atomic_path",
]

VECTOR_SUFFIXES = {".gpkg": "GPKG", ".geojson": "GeoJSON", ".json": "GeoJSON", ".shp": "ESRI Shapefile", ".fgb": "FlatGeobuf"}
_GEOM_KINDS = {
    "polygon": {"Polygon", "MultiPolygon"},
    "line": {"LineString", "MultiLineString"},
    "point": {"Point", "MultiPoint"},
}
_X_NAMES = ("lon", "longitude", "lng", "long", "x")
_Y_NAMES = ("lat", "latitude", "y")


# --------------------------------------------------------------------------- helpers
def read_toml(path: str | os.PathLike, what: str, /) -> dict[str, Any]:
    """A UTF-8 TOML file (study, profiles, targets) as a dict; ``what`` names it in errors.

    Raises
    ------
    MissingFileError : no such file.
    ConfigError : not UTF-8, or not valid TOML (the message has tomllib's line and column).
    """
    return read_toml_text(path, what)[0]


def read_toml_text(path: str | os.PathLike, what: str, /) -> tuple[dict[str, Any], str]:
    """:func:`read_toml` and the file's text (for messages that name a line)."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"{what} file not found: {path}. Fix the path in study.toml (relative to the study folder).")
    try:
        text = path.read_text(encoding="utf-8")
        return tomllib.loads(text), text
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 text: re-save it as UTF-8.") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}. Fix that line.") from err


def _check_exists(path: Path, what: str) -> None:
    if not path.exists():
        hint = ""
        if path.parent.is_dir():
            near = sorted(p.name for p in path.parent.iterdir())[:12]
            hint = f" Files in {path.parent}: {', '.join(near) or '(none)'}."
        raise MissingFileError(f"{what}: file not found: {path}.{hint} Check the path (in study.toml it is relative to the study folder).")


def _check_utf8(path: Path, what: str) -> None:
    """Refuse text files that are not UTF-8, naming the likely Vietnamese legacy encodings."""
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise EncodingError(
            f"{what}: {path.name} is not UTF-8 (bad byte 0x{raw[err.start]:02x} on line {line}). "
            "Vietnamese files often come in Windows-1258 (CP1258) or TCVN3 (ABC). Re-save it as UTF-8, "
            f"e.g. `iconv -f CP1258 -t UTF-8 {path.name} > fixed.csv`, or in QGIS/Excel choose "
            "'UTF-8' when saving; for TCVN3 convert with Unikey's toolkit first."
        ) from None


def _shapefile_encoding_check(path: Path, what: str) -> None:
    cpg = path.with_suffix(".cpg")
    if cpg.exists():
        enc = cpg.read_text(errors="replace").strip().upper()
        if enc and enc.replace("-", "") not in {"UTF8"}:
            raise EncodingError(
                f"{what}: {path.name} declares the encoding {enc!r} in {cpg.name}, not UTF-8. "
                "Vietnamese names in CP1258/TCVN3 would be garbled: re-save the layer as UTF-8 "
                "(QGIS: Export → Save Features As… → Encoding UTF-8)."
            )


def _read_vector(path: Path, layer: str | None, what: str) -> gpd.GeoDataFrame:
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        raise DataSourceError(
            f"{what}: cannot read {path.name}: unknown format {suffix!r}. "
            f"Use one of {', '.join(sorted(VECTOR_SUFFIXES))} or a CSV with lon/lat columns."
        )
    if suffix in (".geojson", ".json"):
        _check_utf8(path, what)
    if suffix == ".shp":
        _shapefile_encoding_check(path, what)
    if suffix == ".gpkg" and layer is not None:
        try:
            layers = [row[0] for row in pyogrio.list_layers(path)]
        except Exception as err:  # corrupt file
            raise DataSourceError(f"{what}: could not open {path} as a GeoPackage: {err}. Is the file complete and not corrupt?") from err
        if layer not in layers:
            raise DataSourceError(f"{what}: {path.name} has no layer {layer!r}; it has: {', '.join(layers)}. "
                                  "Fix the layer name (`layer =` in study.toml).")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return gpd.read_file(path, layer=layer, engine="pyogrio")
    except Exception as err:
        raise DataSourceError(f"{what}: could not read {path} ({VECTOR_SUFFIXES[suffix]}): {err}. Is the file complete and not corrupt?") from err


def _pick(columns: Sequence[str], names: Sequence[str]) -> str | None:
    lower = {c.lower(): c for c in columns}
    for n in names:
        if n in lower:
            return lower[n]
    return None


def _read_csv_points(path: Path, what: str, *, x: str | None, y: str | None, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    _check_utf8(path, what)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except Exception as err:
        raise DataSourceError(f"{what}: could not parse {path} as CSV: {err}.") from err
    x = x or _pick(df.columns, _X_NAMES)
    y = y or _pick(df.columns, _Y_NAMES)
    missing = [n for n, c in (("x/lon", x), ("y/lat", y)) if c is None or c not in df.columns]
    if missing:
        raise MissingColumnError(
            f"{what}: {path.name} has no coordinate columns ({' and '.join(missing)} missing; columns: "
            f"{', '.join(df.columns)}). Name them lon/lat (or pass x=, y= in study.toml)."
        )
    xs = pd.to_numeric(df[x], errors="coerce")
    ys = pd.to_numeric(df[y], errors="coerce")
    bad = xs.isna() | ys.isna()
    report: dict[str, int] = {}
    if bad.any():
        report["skipped_no_position"] = int(bad.sum())
        rows = _v.row_numbers(df, bad.to_numpy())
        warnings.warn(
            f"{what}: {int(bad.sum())} row(s) of {path.name} have no usable {x}/{y} and were skipped: "
            f"{_v.rows_text(rows)} (file line = row + 1, after the header).",
            SkippedFeaturesWarning,
            stacklevel=3,
        )
        df, xs, ys = df[~bad], xs[~bad], ys[~bad]
    gdf = gpd.GeoDataFrame(df.drop(columns=[x, y]), geometry=gpd.points_from_xy(xs, ys), crs=crs)
    gdf[x], gdf[y] = xs.to_numpy(), ys.to_numpy()
    gdf.attrs["ictplan_report"] = report
    return gdf


def _match_columns(
    gdf: gpd.GeoDataFrame, schema: LayerSchema, what: str, columns: Mapping[str, str] | None
) -> tuple[gpd.GeoDataFrame, dict[str, str]]:
    """Rename the file's columns to the schema's: the study's ``columns =`` mapping first,
    then exact / case-insensitive names, Shapefile's 10-character names and the schema's
    GSO aliases. Returns the renamed frame and what was mapped (file name → schema name)."""
    names = schema.columns
    mapped: dict[str, str] = {}
    for canonical, source in (columns or {}).items():
        if canonical not in names:
            raise ConfigError(
                f"{what}: `columns = {{ {canonical} = {source!r} }}` in study.toml names {canonical!r}, which is not a "
                f"column of {schema.name!r}; its columns: {', '.join(names)}. Fix the name on the left of `=`."
            )
        if source not in gdf.columns:
            raise MissingColumnError(
                f"{what}: `columns = {{ {canonical} = {source!r} }}` in study.toml names the column {source!r}, which "
                f"the file does not have; it has: {', '.join(c for c in gdf.columns if c != 'geometry')}. Fix the name on the right of `=`."
            )
        if source in mapped:
            raise ConfigError(f"{what}: `columns =` in study.toml maps the file's {source!r} to both "
                              f"{mapped[source]!r} and {canonical!r}; map each column once.")
        if canonical in gdf.columns and canonical != source:
            raise ConfigError(
                f"{what}: `columns = {{ {canonical} = {source!r} }}` in study.toml, but the file has a column "
                f"{canonical!r} too. Drop the mapping, or rename one of the two columns."
            )
        mapped[source] = canonical
    lower = {str(c).lower(): c for c in gdf.columns if c not in mapped}
    taken = set(mapped.values())
    for c in names:
        if c in taken or c in gdf.columns:
            continue
        for key in (c.lower(), c[:10].lower()):  # Shapefile keeps 10 characters of a name
            if key in lower and lower[key] not in mapped:
                if lower[key] != c:
                    mapped[lower[key]] = c
                taken.add(c)
                break
    present = set(gdf.columns) | taken
    for alias, c in schema.aliases.items():
        if c not in present and alias in lower and lower[alias] not in mapped:
            mapped[lower[alias]] = c
            present.add(c)
    return gdf.rename(columns=mapped), {k: v for k, v in mapped.items() if k != v}


def _normalise_columns(gdf: gpd.GeoDataFrame, schema: LayerSchema, what: str) -> gpd.GeoDataFrame:
    """All required columns present (every missing one named at once), optional ones filled, kinds coerced."""
    missing = [c for c in schema.required if c not in gdf.columns]
    if missing:
        known = [f"{a}→{c}" for a, c in schema.aliases.items() if c in missing]
        hint = f" Recognised without a mapping: {', '.join(known)}." if known else ""
        raise MissingColumnError(
            f"{what} is missing required column(s): {', '.join(missing)}. It has: {', '.join(c for c in gdf.columns if c != 'geometry')}. "
            f"Rename them, or map them in study.toml, e.g. `columns = {{ {missing[0]} = \"<your column>\" }}` "
            f"(schema {schema.name!r}: {', '.join(schema.required)}).{hint}"
        )
    for col, default in schema.optional.items():
        if col not in gdf.columns:
            gdf[col] = default
    for col, kind in {**schema.required, **schema.kinds}.items():
        gdf[col] = _v.coerce_column(gdf[col], kind, col, what)
    return gdf


def _clean_geometry(gdf: gpd.GeoDataFrame, schema: LayerSchema, what: str, report: dict[str, int],
                    geometry_kinds: set[str] | None) -> gpd.GeoDataFrame:
    """Null geometries counted and skipped, wrong kinds refused, Z dropped, invalid ones repaired."""
    geom = gdf.geometry
    empty = geom.isna() | geom.is_empty
    if empty.any():
        report["skipped_empty_geometry"] = int(empty.sum())
        rows = _v.rows_text(_v.row_numbers(gdf, empty.to_numpy()))
        warnings.warn(f"{what}: {int(empty.sum())} feature(s) with no geometry were skipped ({rows}).",
                      SkippedFeaturesWarning, stacklevel=4)
        gdf = gdf[~empty].copy()
        if len(gdf) == 0:
            raise EmptyLayerError(f"{what} has no features with a geometry. Check the file.")
    kinds = geometry_kinds or _GEOM_KINDS[schema.geometry]
    types = gdf.geom_type
    wrong = ~types.isin(kinds)
    if wrong.any():
        seen = ", ".join(sorted(set(types[wrong])))
        raise GeometryTypeError(
            f"{what} must hold {'/'.join(sorted(kinds))} geometries; {int(wrong.sum())} feature(s) are {seen}. "
            "Use the right layer, or convert (e.g. polygons to points with `.representative_point()`)."
        )
    if shapely.has_z(gdf.geometry.values).any():
        report["dropped_z"] = int(shapely.has_z(gdf.geometry.values).sum())
        gdf.geometry = shapely.force_2d(gdf.geometry.values)
    invalid = ~gdf.geometry.is_valid
    if invalid.any():
        n = int(invalid.sum())
        fixed = shapely.make_valid(gdf.geometry.values[invalid.to_numpy()])
        if schema.geometry == "polygon":  # keep only the polygonal part of a repaired polygon
            fixed = np.array([_polygonal(g) for g in fixed], dtype=object)
        gdf.loc[invalid, gdf.geometry.name] = fixed
        report["repaired_invalid_geometry"] = n
        warnings.warn(f"{what}: {n} invalid geometr{'y was' if n == 1 else 'ies were'} repaired with make_valid.", RepairWarning, stacklevel=4)
    return gdf


def _check_choices(gdf: gpd.GeoDataFrame, schema: LayerSchema, what: str) -> None:
    """Columns with a closed set of values: matched case-insensitively and written canonically."""
    problems = []
    for col, allowed in schema.choices.items():
        if col not in gdf.columns:
            continue
        vals = gdf[col]
        present = vals.notna()
        canon = {str(a).lower(): a for a in allowed}
        lowered = vals[present].map(lambda v: str(v).strip().lower())
        bad = ~lowered.isin(canon)
        if bad.any():
            problems.append(f"column {col!r} has value(s) {sorted(set(vals[present][bad].astype(str)))[:5]} not in {list(allowed)}")
        else:
            gdf.loc[present, col] = lowered.map(canon)
    if problems:
        raise InputValidationError(f"{what}: " + "; ".join(problems) + ". Fix the values in the source file.")


def _check_ids(gdf: gpd.GeoDataFrame, schema: LayerSchema, what: str) -> None:
    if not schema.id_column:
        return
    ids = gdf[schema.id_column]
    if ids.isna().any():
        rows = _v.rows_text(_v.row_numbers(gdf, ids.isna().to_numpy()))
        raise InputValidationError(f"{what}: {int(ids.isna().sum())} feature(s) have no {schema.id_column!r} ({rows}). Every feature needs an id.")
    dup = ids.duplicated(keep=False)
    if dup.any():
        shown = sorted(set(ids[dup]))[:5]
        raise DuplicateIdError(
            f"{what}: {int(ids[dup].nunique())} {schema.id_column!r} value(s) appear more than once (e.g. {', '.join(map(str, shown))}). "
            "Ids must be unique: fix or renumber them."
        )


def validate_layer(
    gdf: gpd.GeoDataFrame,
    schema: LayerSchema | str,
    *,
    what: str | None = None,
    bounds_lonlat: Sequence[float] | None = None,
    geometry_kinds: set[str] | None = None,
    columns: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Check and normalise a layer against its schema; returns a new GeoDataFrame.

    ``columns`` maps schema names to the file's (``{"commune_code": "ma_xa"}``, from
    ``columns =`` in study.toml); GSO names (``ma_xa``, ``ten_xa``, ``azimuth``, ...) are
    recognised without it. What was renamed is in ``gdf.attrs["ictplan_columns"]``
    (file name → schema name). Value ranges (:data:`ictplan.validation.RANGES`) are
    checked with the rows named, counted from 1 in file order.

    Raises
    ------
    EmptyLayerError, MissingCRSError, MissingColumnError, GeometryTypeError,
    DuplicateIdError, InputValidationError, CoordinateError, ConfigError
    """
    schema = SCHEMAS[schema] if isinstance(schema, str) else schema
    what = what or f"layer {schema.name!r}"
    report: dict[str, int] = dict(gdf.attrs.get("ictplan_report", {}))
    if len(gdf) == 0:
        raise EmptyLayerError(f"{what} has no features. Check the file and layer name, or leave this layer out of the study.")
    _crs.require_crs(gdf, what)
    gdf = gdf.copy()
    gdf.attrs = {}
    gdf, mapped = _match_columns(gdf, schema, what, columns)
    gdf = _normalise_columns(gdf, schema, what)
    gdf = _clean_geometry(gdf, schema, what, report, geometry_kinds)
    _check_choices(gdf, schema, what)
    gdf, n_changed = normalise_text_columns(gdf)
    if n_changed:
        report["names_normalised_nfc"] = n_changed
    gdf, n_spaced = tidy_name_columns(gdf)
    if n_spaced:
        report["names_spaces_tidied"] = n_spaced  # "Tạ An Khương  Đông" -> "Tạ An Khương Đông"
    _check_ids(gdf, schema, what)
    _v.check_values(gdf, schema.name, what=what, id_column=schema.id_column)
    _v.check_lonlat(gdf, what, bounds_lonlat)
    gdf.attrs["ictplan_report"] = report
    gdf.attrs["ictplan_schema"] = schema.name
    gdf.attrs["ictplan_columns"] = mapped
    return gdf


def _polygonal(geom):
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else geom


# --------------------------------------------------------------------------- readers
def read_layer(
    path: str | os.PathLike,
    schema: str,
    /,
    *,
    layer: str | None = None,
    crs: _crs.CRSLike | None = None,
    x: str | None = None,
    y: str | None = None,
    bounds_lonlat: Sequence[float] | None = None,
    geometry_kinds: set[str] | None = None,
    columns: Mapping[str, str] | None = None,
) -> gpd.GeoDataFrame:
    """Read one layer and validate it against ``schemas.SCHEMAS[schema]``.

    Parameters
    ----------
    path : a GeoPackage, GeoJSON, Shapefile, FlatGeobuf, or CSV with lon/lat columns.
    schema : the layer's schema name (``"communes"``, ``"sites"``, ``"roads"``, ...).
    layer : the layer inside a GeoPackage.
    crs : CRS of a CSV's coordinates (default EPSG:4326), or the CRS to *assign* to a
        vector file that has none (never a reprojection).
    x, y : coordinate columns of a CSV (default: lon/lat, longitude/latitude or x/y).
    bounds_lonlat : (min lon, min lat, max lon, max lat) of the study area: catches
        swapped coordinates and a wrong CRS.
    columns : schema name → the file's column name (``columns =`` in study.toml); GSO
        names such as ``ma_xa``/``ten_xa`` are recognised without it.

    Raises
    ------
    MissingFileError, DataSourceError, EncodingError, EmptyLayerError, MissingCRSError,
    MissingColumnError, GeometryTypeError, DuplicateIdError, CoordinateError
    """
    path = Path(path)
    what = f"{schema} ({path.name}{':' + layer if layer else ''})"
    if schema not in SCHEMAS:
        raise InputValidationError(f"unknown layer schema {schema!r}; use one of {', '.join(SCHEMAS)}.")
    _check_exists(path, what)
    if path.suffix.lower() in (".csv", ".txt"):
        gdf = _read_csv_points(path, what, x=x, y=y, crs=_crs.as_crs(crs if crs is not None else 4326))
    else:
        gdf = _read_vector(path, layer, what)
        if gdf.crs is None and crs is not None:
            gdf = gdf.set_crs(_crs.as_crs(crs))
    return validate_layer(gdf, schema, what=what, bounds_lonlat=bounds_lonlat, geometry_kinds=geometry_kinds, columns=columns)


def read_communes(path, /, *, layer: str | None = "communes", **kw) -> gpd.GeoDataFrame:
    """Commune polygons (GSO code, name, type, district). See :func:`read_layer`."""
    return read_layer(path, "communes", layer=_layer_for(path, layer), **kw)


def has_districts(communes: gpd.GeoDataFrame) -> bool:
    """Whether the communes name their district (optional: Vietnam has no district level since 2025)."""
    return "district_code" in communes.columns and bool(communes["district_code"].notna().any())


def read_districts(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Districts dissolved from communes, with summed census figures where present.

    Raises
    ------
    ConfigError : the communes name no district.
    InputValidationError : some communes name a district and others do not (rows named).
    """
    if not has_districts(communes):
        raise ConfigError("the communes have no district column (district_code / ma_huyen), so the study has no "
                          "district level. Add a districts layer under [layers], or leave the district level out.")
    no_code = communes["district_code"].isna().to_numpy()
    if no_code.any():
        raise InputValidationError(
            f"communes: {int(no_code.sum())} commune(s) name no district while the others do: "
            f"{_v.rows_text(_v.row_numbers(communes, no_code), labels=list(communes['commune_code'][no_code]))}; "
            "give every commune its district_code, or none."
        )
    cols = [c for c in ("pop2019", "hh2019", "pop2019_urban") if c in communes.columns and communes[c].notna().all()]
    agg: dict[str, str] = {c: "sum" for c in cols}
    agg["commune_code"] = "count"
    frame = communes.assign(district_name=communes["district_name"].fillna(communes["district_code"]))
    out = frame.dissolve(by=["district_code", "district_name"], aggfunc=agg, as_index=False)
    return out.rename(columns={"commune_code": "n_communes"})


def read_hamlets(path, /, *, layer: str | None = "hamlets", **kw) -> gpd.GeoDataFrame:
    """Hamlets (ấp, khóm) as polygons or points, with their commune code."""
    return read_layer(path, "hamlets", layer=_layer_for(path, layer), geometry_kinds=_GEOM_KINDS["polygon"] | _GEOM_KINDS["point"], **kw)


def read_sites(path, /, *, layer: str | None = None, **kw) -> gpd.GeoDataFrame:
    """An operator's site/sector table (one row per sector): CSV with lon/lat or any vector format."""
    return read_layer(path, "sites", layer=_layer_for(path, layer), **kw)


def _layer_for(path, layer):
    return layer if Path(path).suffix.lower() == ".gpkg" else None


_SENTINELS = (-9999.0, -99999.0, -3.4028234663852886e38, -1e20)


def _read_band(path: Path, what: str, band: int) -> tuple[np.ndarray, float | None, Grid]:
    """One band of a north-up raster with a CRS, its nodata value and its grid; every failure
    is one error naming the fix."""
    _check_exists(path, what)
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise _crs.MissingCRSError(
                    f"{what} has no CRS. Assign it (e.g. `gdal_edit.py -a_srs EPSG:32648 {path.name}`, or in QGIS "
                    "Raster → Projections → Assign Projection)."
                )
            if ds.transform.b != 0 or ds.transform.d != 0:
                raise InputValidationError(f"{what} is rotated; warp it north-up first (gdalwarp).")
            grid = Grid(transform=ds.transform, width=ds.width, height=ds.height, crs=_crs.as_crs(ds.crs))
            return ds.read(band), ds.nodata, grid
    except (RasterioIOError, rasterio.errors.RasterioError) as err:
        raise DataSourceError(f"{what}: could not read {path} as a raster: {err}. Is the file complete and not corrupt?") from err


def read_population(path: str | os.PathLike, /, *, band: int = 1) -> Population:
    """Population counts from a GeoTIFF (any CRS) as a :class:`~ictplan.grid.Population`.

    Nodata cells become 0 and are flagged in ``nodata_mask``. A raster without a nodata
    value that holds sentinel-like values (-9999, -3.4e38, any negative count) is refused.

    Raises
    ------
    MissingFileError, DataSourceError, MissingCRSError, NodataError, InputValidationError
    """
    path = Path(path)
    what = f"population ({path.name})"
    data, nodata, grid = _read_band(path, what, band)
    data = data.astype("float64")
    mask = ~np.isfinite(data)
    if nodata is not None and not np.isnan(nodata):
        mask |= data == nodata
    elif nodata is None:
        sentinel = np.isin(data, _SENTINELS) | (data < -1e30)
        if sentinel.any():
            raise NodataError(
                f"{what} has no nodata value but {int(sentinel.sum())} cell(s) hold sentinel values "
                f"({', '.join(f'{v:g}' for v in np.unique(data[sentinel])[:3])}). Set the nodata value, e.g. "
                f"`gdal_edit.py -a_nodata {np.unique(data[sentinel])[0]:g} {path.name}`."
            )
    negative = (data < 0) & ~mask
    if negative.any():
        raise InputValidationError(
            f"{what}: {int(negative.sum())} cell(s) hold negative counts (min {data[negative].min():g}). "
            "If that value means 'no data', set it as the raster's nodata value."
        )
    counts = np.where(mask, 0.0, data)
    return Population(grid=grid, counts=counts, nodata_mask=mask, source=str(path))


def _require_on_grid(src: Grid, grid: Grid, what: str, path: Path, *, resampling: str) -> None:
    """Refuse a raster that is not on ``grid`` (same CRS, cells, extent) with the ``gdalwarp``
    command that puts it there: ictplan never resamples."""
    if src.crs.equals(grid.crs) and src.shape == grid.shape and src.transform.almost_equals(grid.transform,
                                                                                           precision=1e-6):
        return
    minx, miny, maxx, maxy = grid.bounds
    rx, ry = grid.res_m
    raise InputValidationError(
        f"{what} is not on the population grid ({src.width}×{src.height} cells in {_crs.crs_label(src.crs)}; "
        f"the grid is {grid.width}×{grid.height} in {_crs.crs_label(grid.crs)}). ictplan never resamples: warp it "
        f"first with `gdalwarp -t_srs {_crs.crs_label(grid.crs)} -tr {rx:g} {ry:g} -te {minx:g} {miny:g} {maxx:g} {maxy:g} "
        f"-r {resampling} {path.name} {path.stem}_on_grid.tif`."
    )


def read_elevation(path: str | os.PathLike, grid: Grid, /, *, band: int = 1) -> np.ndarray:
    """Elevation in metres (float32, NaN at nodata) on the analysis grid, for data-centre siting.

    Floating-point rasters are metres; integer rasters are metres too unless their ``units``
    tag starts with "decimet" (the sample's int16 decimetres). A raster on another grid is
    refused with the ``gdalwarp`` command that puts it there (``-r bilinear``).

    Raises
    ------
    MissingFileError, DataSourceError, MissingCRSError, InputValidationError
    """
    path = Path(path)
    what = f"elevation ({path.name})"
    data, nodata, src = _read_band(path, what, band)
    _require_on_grid(src, grid, what, path, resampling="bilinear")
    with rasterio.open(path) as ds:
        units = str(ds.tags().get("units", "")).lower()
    z = data.astype(np.float32)
    if nodata is not None:
        z[data == nodata] = np.nan
    if np.issubdtype(data.dtype, np.integer) and units.startswith("decimet"):
        z /= np.float32(10.0)
    return z


def read_landcover(path: str | os.PathLike, grid: Grid, /, *, band: int = 1) -> np.ndarray:
    """Land-cover class codes (int32) on the analysis grid, for clutter loss per cell.

    The raster must be on the population raster's grid (same CRS, cell size and extent):
    ictplan never resamples, so a land-cover raster on another grid is refused with the
    ``gdalwarp`` command that puts it there (``-r mode`` keeps classes whole). Nodata cells
    keep their code; map it to a class in the profiles' ``[clutter_classes]``.

    Raises
    ------
    MissingFileError, DataSourceError, MissingCRSError, InputValidationError
    """
    path = Path(path)
    what = f"landcover ({path.name})"
    data, _, lc_grid = _read_band(path, what, band)
    _require_on_grid(lc_grid, grid, what, path, resampling="mode")
    if not np.issubdtype(data.dtype, np.integer):
        if not np.all(np.isfinite(data)) or not np.all(data == np.round(data)):
            raise InputValidationError(f"{what} must hold integer class codes; it holds fractional values. Use the classified raster.")
    return data.astype(np.int32)


# --------------------------------------------------------------------------- writers
@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = False, copy_existing: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds.

    ``copy_existing`` starts the temporary file as a copy of the target (to add a layer
    to an existing GeoPackage).
    """
    path = Path(path)
    if path.exists() and not overwrite and not copy_existing:
        raise OutputExistsError(f"{path} already exists. Pass overwrite=True (CLI: --overwrite) to replace it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        if copy_existing and path.exists():
            shutil.copyfile(path, tmp_path)
        else:
            tmp_path.unlink()
        yield tmp_path
        if tmp_path.exists():  # mkstemp makes 0600 files: give the output ordinary permissions
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        for leftover in (tmp_path, Path(str(tmp_path) + "-journal"), Path(str(tmp_path) + "-wal"), Path(str(tmp_path) + "-shm")):
            if leftover.exists():
                leftover.unlink()


def write_layer(gdf: gpd.GeoDataFrame, path: str | os.PathLike, /, *, layer: str | None = None, overwrite: bool = False) -> Path:
    """Write a GeoDataFrame atomically (format from the suffix; GeoPackage keeps other layers).

    In a GeoPackage, an existing *layer* is replaced only with ``overwrite=True``; other
    layers of the file are kept.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in VECTOR_SUFFIXES:
        raise InputValidationError(f"cannot write {path.name}: use one of {', '.join(sorted(VECTOR_SUFFIXES))}.")
    if gdf.crs is None:
        _crs.require_crs(gdf, f"the layer written to {path.name}")
    is_gpkg = suffix == ".gpkg"
    layer = layer or (path.stem if is_gpkg else None)
    if is_gpkg and path.exists() and not overwrite:
        existing = [row[0] for row in pyogrio.list_layers(path)]
        if layer in existing:
            raise OutputExistsError(f"{path} already has a layer {layer!r}. Pass overwrite=True (CLI: --overwrite) to replace it.")
    out = gdf.copy()
    out.attrs = {}
    with atomic_path(path, overwrite=True, copy_existing=is_gpkg) as tmp:
        kwargs: dict[str, Any] = {"driver": VECTOR_SUFFIXES[suffix], "engine": "pyogrio"}
        if is_gpkg:
            kwargs["layer"] = layer
        if suffix == ".shp":
            kwargs["encoding"] = "UTF-8"
        out.to_file(tmp, **kwargs)
        if suffix == ".shp":  # a shapefile is several files: move the sidecars too
            for side in (".dbf", ".shx", ".prj", ".cpg"):
                s = tmp.with_suffix(side)
                if s.exists():
                    os.replace(s, path.with_suffix(side))
    return path


def read_table_file(path: str | os.PathLike, /, *, layer: str | None = None, what: str = "table") -> pd.DataFrame:
    """A CSV (lon/lat → EPSG:4326 points, else text columns), Parquet (pyarrow) or vector file, e.g. measurements."""
    path = Path(path)
    _check_exists(path, what)
    if path.suffix.lower() == ".parquet":
        try:
            return pd.read_parquet(path)
        except ImportError as err:
            raise DataSourceError(f"{what}: reading {path.name} needs pyarrow: pip install 'ictplan[ookla]'.") from err
        except Exception as err:
            raise DataSourceError(f"{what}: could not read {path} as Parquet: {err}.") from err
    if path.suffix.lower() == ".csv":
        if _pick(head := pd.read_csv(path, nrows=0).columns, _X_NAMES) and _pick(head, _Y_NAMES):
            return _read_csv_points(path, what, x=None, y=None, crs=pyproj.CRS.from_epsg(4326))
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    return _read_vector(path, layer, what)


def write_table(df: pd.DataFrame, path: str | os.PathLike, /, *, overwrite: bool = False) -> Path:
    """Write a table as UTF-8 CSV atomically (geometry columns dropped)."""
    path = Path(path)
    out = pd.DataFrame(df.drop(columns=[c for c in df.columns if c == "geometry"], errors="ignore"))
    with atomic_path(path, overwrite=overwrite) as tmp:
        out.to_csv(tmp, index=False, encoding="utf-8")
    return path


def write_raster(
    array: np.ndarray,
    grid: Grid,
    path: str | os.PathLike,
    /,
    *,
    nodata: float | int | None = None,
    overwrite: bool = False,
    description: str | None = None,
) -> Path:
    """Write a 2-D array on ``grid`` as a tiled, DEFLATE-compressed GeoTIFF, atomically."""
    path = Path(path)
    if array.shape != grid.shape:
        raise InputValidationError(f"array shape {array.shape} does not match the grid {grid.shape}.")
    dtype = array.dtype.name if array.dtype != np.bool_ else "uint8"
    profile: dict[str, Any] = {
        "driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1,
        "dtype": dtype,
        "crs": grid.crs.to_wkt(), "transform": grid.transform, "nodata": nodata,
        "compress": "deflate", "tiled": True, "blockxsize": 256, "blockysize": 256,
    }
    if np.issubdtype(array.dtype, np.floating):
        profile["predictor"] = 3
    with atomic_path(path, overwrite=overwrite) as tmp:
        with rasterio.open(tmp, "w", **profile) as ds:
            ds.write(array.astype(dtype), 1)
            if description:
                ds.set_band_description(1, description)
    return path


# the published point tables (OpenCelliD cells, Open Buildings) are read in ictplan.io_points
from .io_points import OPENCELLID_COLUMNS, read_buildings, read_cells  # noqa: E402,F401
