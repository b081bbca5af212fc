"""Calibration of the coverage model against drive-test, crowd-sourced and Ookla measurements.

Drive-test / crowd-sourced points
---------------------------------
Points with ``operator``, ``technology`` (4G/LTE, 5G/NR), ``rsrp_dbm`` and optional
``sinr_db``, ``dl_mbps`` (:func:`prepare_measurements` checks them). For each point the
modelled RSRP is read at the point's grid cell from the operator's coverage layer (the
strongest carrier there; its band is the serving sector's). Per operator × technology ×
band (:func:`calibrate_rsrp`): ``n``, the bias ``mean(measured − modelled)`` (the fitted
offset: add it to the model), the RMSE, and the residual standard deviation σ (the
fitted shadow-fading σ, to compare with TR 38.901's ``model_sigma_db``). A point where
the model has no signal (below the engine's cutoff) is counted and left out of the fit.
Where the points carry ``sinr_db`` / ``dl_mbps``, their bias against the model's SINR and
busy-hour user throughput is reported too (``sinr_bias_db``, ``dl_bias_mbps``).

:func:`calibrated_overrides` turns the offsets into profile overrides (``[<Operator>.<tech>.<band>]
antenna_gain_dbi`` shifted by the offset: every RSRP of the carrier moves by the offset);
:func:`calibrated_profiles` merges them into the study's profiles and
:func:`profiles_toml` writes the whole file, which a study adopts with
``[profiles] path = "..."`` in its ``study.toml``.

Ookla open-data performance tiles
---------------------------------
Ookla's "Speedtest by Ookla Global Fixed and Mobile Network Performance Maps" are
published as zoom-16 web-mercator tiles (Bing quadkeys) with ``quadkey``, ``tile`` (WKT
polygon), ``avg_d_kbps``, ``avg_u_kbps``, ``avg_lat_ms``, ``tests``, ``devices``, as
Parquet or Shapefile. **They are licensed CC BY-NC-SA 4.0** (attribution, non-commercial,
share-alike): ictplan never ships them; a planner downloads them and keeps the licence's
terms. :func:`compare_ookla` sets the model's download speed beside each tile's
``avg_d_kbps``: the model's figure for a tile is the mean busy-hour speed of the
subscribers it serves there (each on their own operator; 5G users on 5G where their
operator's 5G serves them, else on 4G; a user with 0 Mb/s counts as not served, since a
speed test needs a connection), over the grid cells whose centres lie in the tile,
weighted by people. Over the tiles, weighted by ``tests``: bias ``mean(measured −
modelled)``, RMSE and the Spearman rank correlation (weighted ranks). A tile's geometry
is its ``tile`` WKT or, where absent, the bounds of its quadkey (:func:`quadkey_bounds`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from . import parameters as _parameters
from . import radio, services
from ._errors import InputValidationError, MissingColumnError, NoDataInBoundsError
from .coverage_tables import CellUsers

if TYPE_CHECKING:  # pragma: no cover
    from .coverage import CoverageResult
    from .grid import Grid

__all__ = ["MEASUREMENT_COLUMNS", "OOKLA_COLUMNS", "prepare_measurements", "rsrp_residuals", "calibrate_rsrp",
           "calibrated_overrides", "calibrated_profiles", "overrides_toml", "profiles_toml", "is_ookla",
           "quadkey_to_tile", "tile_to_quadkey", "quadkey_bounds", "lonlat_to_tile", "prepare_ookla_tiles",
           "modelled_user_mbps", "compare_ookla", "weighted_spearman", "OOKLA_LICENCE"]

_REQUIRED = ("operator", "technology", "rsrp_dbm")
MEASUREMENT_COLUMNS = ("lon", "lat", *_REQUIRED)
"""Required columns of drive-test / crowd-sourced points (optional: ``sinr_db``, ``dl_mbps``)."""
OOKLA_COLUMNS = ("quadkey", "avg_d_kbps", "tests")
"""Columns :func:`compare_ookla` needs (``tile`` WKT, ``avg_u_kbps``, ``avg_lat_ms``, ``devices`` are kept when present)."""
OOKLA_LICENCE = ("Ookla open data (Speedtest by Ookla Global Fixed and Mobile Network Performance Maps) is licensed "
                 "CC BY-NC-SA 4.0: attribute Ookla, non-commercial use only, share alike. ictplan never ships it.")
_TECH_ALIASES = {"4G": "4G", "LTE": "4G", "5G": "5G", "NR": "5G", "5G NR": "5G"}
_RSRP_RANGE_DBM = (-160.0, -20.0)
_ZOOM = 16


# ============================================================================ drive-test points
def prepare_measurements(points: pd.DataFrame, /, *, operators: Sequence[str], grid: Grid) -> gpd.GeoDataFrame:
    """Check drive-test / crowd-sourced points and keep those on the grid.

    Parameters
    ----------
    points
        From :func:`ictplan.io.read_table_file`: points (any CRS) with ``operator``,
        ``technology``, ``rsrp_dbm`` (optional ``sinr_db``, ``dl_mbps``).
    operators
        The operators the coverage modelled (the sites layer's); names are matched
        case-insensitively and returned as spelled there.
    grid
        The analysis grid: points off it are dropped (counted in ``attrs["n_outside"]``).

    Returns
    -------
    geopandas.GeoDataFrame
        The points on the grid, ``technology`` as ``4G`` / ``5G``.

    Raises
    ------
    MissingColumnError
        No point geometry (lon/lat columns) or a required column is missing.
    InputValidationError
        An unknown operator or technology, or an RSRP that is not a number in −160…−20 dBm.
    NoDataInBoundsError
        No point lies inside the study's grid.
    """
    if not isinstance(points, gpd.GeoDataFrame) or points.crs is None:
        raise MissingColumnError("the measurements have no point positions: give lon and lat columns (WGS 84) in the "
                                 f"CSV, or a point layer; they need {', '.join(MEASUREMENT_COLUMNS)}.")
    missing = [c for c in _REQUIRED if c not in points.columns]
    if missing:
        raise MissingColumnError(f"the measurements lack column(s) {', '.join(missing)} (they have: "
                                 f"{', '.join(map(str, points.columns))}); they need {', '.join(MEASUREMENT_COLUMNS)} "
                                 "(optional sinr_db, dl_mbps).")
    pts = points.copy()
    known = {str(o).casefold(): str(o) for o in operators}
    op = pts["operator"].astype(str).str.strip()
    unknown = sorted(set(op[~op.str.casefold().isin(known)]))
    if unknown:
        raise InputValidationError(f"the measurements name operator(s) {', '.join(unknown)} that the study's sites do "
                                   f"not have (known: {', '.join(sorted(known.values()))}); rename them or drop "
                                   "those points.")
    pts["operator"] = op.str.casefold().map(known)
    tech = pts["technology"].astype(str).str.strip().str.upper().map(_TECH_ALIASES)
    if tech.isna().any():
        bad = sorted(set(pts.loc[tech.isna(), "technology"].astype(str)))
        raise InputValidationError(f"the measurements have technology {', '.join(bad)}; use 4G (LTE) or 5G (NR).")
    pts["technology"] = tech
    rsrp = pd.to_numeric(pts["rsrp_dbm"], errors="coerce")
    bad_r = rsrp.isna() | (rsrp < _RSRP_RANGE_DBM[0]) | (rsrp > _RSRP_RANGE_DBM[1])
    if bad_r.any():
        rows = ", ".join(str(i) for i in np.flatnonzero(bad_r.to_numpy())[:10])
        raise InputValidationError(f"{int(bad_r.sum())} measurement(s) have rsrp_dbm that is not a number in "
                                   f"{_RSRP_RANGE_DBM[0]:g}…{_RSRP_RANGE_DBM[1]:g} dBm (rows {rows}); RSRP is per "
                                   "resource element, e.g. −95 dBm.")
    pts["rsrp_dbm"] = rsrp.astype(float)
    inside = services.sample_grid(np.ones(grid.shape, dtype=bool), grid, pts, fill=False).astype(bool)
    if not inside.any():
        raise NoDataInBoundsError(f"none of the {len(pts)} measurement(s) lies inside the study's grid; are they in "
                                  "this province, and lon/lat (not lat/lon)?")
    out = pts.loc[inside].reset_index(drop=True)
    out.attrs["n_outside"] = int((~inside).sum())
    return out


def _sample(arr: np.ndarray | None, result: CoverageResult, pts: gpd.GeoDataFrame) -> np.ndarray:
    if arr is None:
        return np.full(len(pts), np.nan)
    return services.sample_grid(arr.astype(float), result.grid, pts, fill=np.nan)


def rsrp_residuals(result: CoverageResult, points: gpd.GeoDataFrame, /) -> pd.DataFrame:
    """Per point: ``operator, technology, band, measured_dbm, modelled_dbm, residual_db``
    (measured − modelled; NaN where the model has no signal or the point is off the grid),
    and ``sinr_residual_db`` / ``dl_residual_mbps`` where the points carry ``sinr_db`` /
    ``dl_mbps`` (against the model's SINR and busy-hour user throughput).

    Raises
    ------
    MissingColumnError
        ``operator``, ``technology`` or ``rsrp_dbm`` missing.
    InputValidationError
        The coverage result kept no RSRP rasters (``keep_rasters=False``).
    """
    missing = [c for c in _REQUIRED if c not in points.columns]
    if missing:
        raise MissingColumnError(f"the measurements lack column(s) {', '.join(missing)}; "
                                 f"they need {', '.join(_REQUIRED)} (optional sinr_db, dl_mbps).")
    op = points["operator"].astype(str).to_numpy()
    tech = points["technology"].astype(str).str.upper().to_numpy()
    measured = pd.to_numeric(points["rsrp_dbm"], errors="coerce").to_numpy(float)
    modelled, sinr, tput = (np.full(len(points), np.nan) for _ in range(3))
    band = np.full(len(points), "", dtype=object)
    bands = result.sectors["band"].astype(str).to_numpy()
    for key in sorted(set(zip(op, tech, strict=True))):
        lay = result.layers.get(key)
        sel = (op == key[0]) & (tech == key[1])
        if lay is None:
            continue
        if lay.rsrp_dbm is None or lay.server is None:
            raise InputValidationError("the coverage result kept no RSRP rasters: run it with keep_rasters=True.")
        pts = points.loc[sel]
        modelled[sel] = _sample(lay.rsrp_dbm, result, pts)
        sinr[sel] = _sample(lay.sinr_db, result, pts)
        tput[sel] = _sample(lay.tput_mbps, result, pts)
        srv = services.sample_grid(lay.server, result.grid, pts, fill=-1).astype(np.int64)
        band[sel] = np.where(srv >= 0, bands[np.maximum(srv, 0)], "")
    out = pd.DataFrame({"operator": op, "technology": tech, "band": band, "measured_dbm": measured,
                        "modelled_dbm": modelled, "residual_db": measured - modelled})
    for col, model, name in (("sinr_db", sinr, "sinr_residual_db"), ("dl_mbps", tput, "dl_residual_mbps")):
        if col in points.columns:
            out[name] = pd.to_numeric(points[col], errors="coerce").to_numpy(float) - np.where(
                np.isfinite(modelled), model, np.nan)
    return out


def calibrate_rsrp(result: CoverageResult, points: gpd.GeoDataFrame, /,
                   profiles: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Bias, RMSE and fitted offset and σ of modelled vs measured RSRP per operator × technology × band.

    Parameters
    ----------
    result
        A coverage result with rasters (``keep_rasters=True``).
    points
        Measurements (see :func:`prepare_measurements`).
    profiles
        Parsed profiles (:func:`ictplan.radio.parse_profiles`): adds ``model_sigma_db``.

    Returns
    -------
    pandas.DataFrame
        ``operator, technology, band, n, n_no_signal, offset_db`` (mean residual: add it to
        the model), ``bias_db`` (the same, measured − modelled), ``rmse_db``, ``sigma_db``
        (residual standard deviation, ddof 1), ``model_sigma_db`` (TR 38.901's for the
        carrier's profile; NaN without ``profiles``), and where the points carry them
        ``sinr_bias_db``, ``dl_bias_mbps`` (measured − modelled means). An operator ×
        technology where the model has no signal at any point (e.g. no such sites in the
        study) is one row with ``band`` empty, ``n`` 0 and the figures NaN.
    """
    res = rsrp_residuals(result, points)
    extra = [c for c in ("sinr_residual_db", "dl_residual_mbps") if c in res.columns]
    rows = []
    for (op, tech), part in res.groupby(["operator", "technology"], sort=True):
        no_signal = int(part["residual_db"].isna().sum())
        if no_signal == len(part):  # e.g. 5G points of an operator without 5G sites in the study: said, not dropped
            rows.append({"operator": op, "technology": tech, "band": "", "n": 0, "n_no_signal": no_signal})
        for band, bp in part.dropna(subset=["residual_db"]).groupby("band", sort=True):
            r = bp["residual_db"].to_numpy(float)
            sig = float("nan")
            if profiles is not None:
                sig = radio.profile_for(dict(profiles), str(op), str(tech), str(band)).shadow_sigma_db
            row = {"operator": op, "technology": tech, "band": band, "n": int(r.size), "n_no_signal": no_signal,
                   "offset_db": float(r.mean()), "bias_db": float(r.mean()), "rmse_db": float(np.sqrt(np.mean(r * r))),
                   "sigma_db": float(r.std(ddof=1)) if r.size > 1 else float("nan"), "model_sigma_db": sig}
            for c in extra:
                row[c.replace("_residual_", "_bias_")] = float(np.nanmean(bp[c])) if bp[c].notna().any() else np.nan
            rows.append(row)
    cols = ["operator", "technology", "band", "n", "n_no_signal", "offset_db", "bias_db", "rmse_db", "sigma_db",
            "model_sigma_db"] + [c.replace("_residual_", "_bias_") for c in extra]
    return pd.DataFrame(rows, columns=cols)


def calibrated_overrides(fit: pd.DataFrame, profiles: Mapping[str, Any], /, *,
                         min_points: int | None = None) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Profile overrides that apply the fitted offsets: ``{operator: {tech: {band:
    {"antenna_gain_dbi": g + offset}}}}`` for every group with at least ``min_points``
    (``None``: :class:`ictplan.parameters.CalibrationParameters`' default)."""
    if min_points is None:
        min_points = _parameters.CalibrationParameters().min_points
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for r in fit.itertuples(index=False):
        if r.n < min_points or not np.isfinite(r.offset_db):
            continue
        prof = radio.profile_for(dict(profiles), str(r.operator), str(r.technology), str(r.band))
        out.setdefault(str(r.operator), {}).setdefault(str(r.technology), {})[str(r.band)] = {
            "antenna_gain_dbi": round(prof.antenna_gain_dbi + float(r.offset_db), 2)}
    return out


def overrides_toml(overrides: Mapping[str, Any], /) -> str:
    """The overrides as TOML tables to append to a profiles file."""
    lines = ["# calibrated against measurements (ictplan.calibration): antenna gain shifted by the fitted offset"]
    for op, techs in overrides.items():
        for tech, bands in techs.items():
            for band, vals in bands.items():
                lines.append(f"[{op}.{tech}.{band}]")
                lines += [f"{k} = {v!r}" for k, v in vals.items()]
    return "\n".join(lines) + "\n"


def calibrated_profiles(data: Mapping[str, Any], overrides: Mapping[str, Any], /) -> dict[str, Any]:
    """The study's raw profiles (``study.profiles``) with the overrides merged in (a new dict)."""
    def merge(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
        return out

    return merge(data, overrides)


def _toml_key(k: Any) -> str:
    s = str(k)
    return s if s and all(c.isalnum() or c in "-_" for c in s) and s.isascii() else _toml_value(s)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v) if math.isfinite(v) else ("nan" if v != v else ("inf" if v > 0 else "-inf"))
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise InputValidationError(f"cannot write {v!r} ({type(v).__name__}) to a profiles TOML file.")


def profiles_toml(data: Mapping[str, Any], /, *, header: str = "") -> str:
    """A profiles dict as TOML text: scalars first, then one ``[a.b.c]`` table per nested dict."""
    lines = [f"# {h}" for h in header.splitlines()]

    def table(path: list[str], d: Mapping[str, Any]) -> None:
        scalars = [(k, v) for k, v in d.items() if not isinstance(v, Mapping)]
        if path and (scalars or not d):
            lines.extend(["", "[" + ".".join(_toml_key(p) for p in path) + "]"])
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars)
        for k, v in d.items():
            if isinstance(v, Mapping):
                table([*path, str(k)], v)

    table([], data)
    return "\n".join(lines) + "\n"


# ============================================================================ Ookla tiles
def is_ookla(frame: pd.DataFrame, /) -> bool:
    """Whether a table looks like Ookla's performance tiles (``avg_d_kbps`` and ``quadkey`` or ``tile``)."""
    return "avg_d_kbps" in frame.columns and ("quadkey" in frame.columns or "tile" in frame.columns)


def quadkey_to_tile(quadkey: str, /) -> tuple[int, int, int]:
    """``(x, y, zoom)`` of a Bing Maps quadkey: each digit is ``2·y_bit + x_bit``, most significant first.

    Raises
    ------
    InputValidationError
        A character other than 0–3.
    """
    qk = str(quadkey).strip()
    x = y = 0
    for ch in qk:
        if ch not in "0123":
            raise InputValidationError(f"quadkey {quadkey!r} has {ch!r}; a quadkey has only the digits 0-3.")
        d = ord(ch) - 48
        x, y = (x << 1) | (d & 1), (y << 1) | (d >> 1)
    return x, y, len(qk)


def tile_to_quadkey(x: int, y: int, zoom: int) -> str:
    """The quadkey of tile ``(x, y)`` at ``zoom`` (inverse of :func:`quadkey_to_tile`)."""
    return "".join(str(((y >> b) & 1) * 2 + ((x >> b) & 1)) for b in range(zoom - 1, -1, -1))


def _tile_lon(x: np.ndarray | int, z: int) -> Any:
    return np.asarray(x, float) / 2.0**z * 360.0 - 180.0


def _tile_lat(y: np.ndarray | int, z: int) -> Any:
    return np.degrees(np.arctan(np.sinh(np.pi * (1.0 - 2.0 * np.asarray(y, float) / 2.0**z))))


def quadkey_bounds(quadkey: str, /) -> tuple[float, float, float, float]:
    """``(min_lon, min_lat, max_lon, max_lat)`` (degrees, WGS 84) of a web-mercator quadkey tile."""
    x, y, z = quadkey_to_tile(quadkey)
    return (float(_tile_lon(x, z)), float(_tile_lat(y + 1, z)), float(_tile_lon(x + 1, z)), float(_tile_lat(y, z)))


def lonlat_to_tile(lon: np.ndarray, lat: np.ndarray, zoom: int = _ZOOM) -> tuple[np.ndarray, np.ndarray]:
    """Web-mercator tile indices ``(x, y)`` at ``zoom`` of points in degrees (WGS 84)."""
    n = 2.0**zoom
    lat_r = np.radians(np.clip(np.asarray(lat, float), -85.05112878, 85.05112878))
    x = np.floor((np.asarray(lon, float) + 180.0) / 360.0 * n)
    y = np.floor((1.0 - np.log(np.tan(lat_r) + 1.0 / np.cos(lat_r)) / np.pi) / 2.0 * n)
    return np.clip(x, 0, n - 1).astype(np.int64), np.clip(y, 0, n - 1).astype(np.int64)


def prepare_ookla_tiles(tiles: pd.DataFrame, /) -> gpd.GeoDataFrame:
    """Check Ookla tiles as published and give each its geometry and z16 index.

    Returns
    -------
    geopandas.GeoDataFrame
        EPSG:4326, one row per tile: ``quadkey``, ``tile_x``, ``tile_y``, ``measured_mbps``
        (``avg_d_kbps`` / 1000), ``tests``, and ``avg_u_kbps``, ``avg_lat_ms``, ``devices``
        when present. Geometry: the ``tile`` WKT, else the quadkey's bounds (else the
        file's geometry).

    Raises
    ------
    MissingColumnError
        ``avg_d_kbps`` or ``tests`` missing, or neither ``quadkey`` nor ``tile`` nor a geometry.
    InputValidationError
        A quadkey that is not zoom 16, or negative speeds / test counts.
    """
    cols = {str(c).lower(): c for c in tiles.columns}
    missing = [c for c in ("avg_d_kbps", "tests") if c not in cols]
    has_geom = isinstance(tiles, gpd.GeoDataFrame) and tiles.crs is not None
    if missing or not ("quadkey" in cols or "tile" in cols or has_geom):
        raise MissingColumnError(f"the Ookla tiles lack column(s) {', '.join(missing) or 'quadkey / tile'} (they have: "
                                 f"{', '.join(map(str, tiles.columns))}); the published schema is quadkey, tile, "
                                 "avg_d_kbps, avg_u_kbps, avg_lat_ms, tests, devices.")
    df = pd.DataFrame({k: tiles[v] for k, v in cols.items() if k not in ("geometry",)})
    d = pd.to_numeric(df["avg_d_kbps"], errors="coerce")
    tests = pd.to_numeric(df["tests"], errors="coerce")
    if (d < 0).any() or d.isna().any() or (tests < 0).any() or tests.isna().any():
        raise InputValidationError("the Ookla tiles have missing or negative avg_d_kbps / tests; use the file as published.")
    if "tile" in df.columns and df["tile"].notna().all():
        geom = gpd.GeoSeries(shapely.from_wkt(df["tile"].astype(str).to_numpy()), crs=4326)
    elif "quadkey" in df.columns:
        geom = gpd.GeoSeries([shapely.box(*quadkey_bounds(str(q).zfill(_ZOOM))) for q in df["quadkey"]], crs=4326)
    else:
        geom = gpd.GeoSeries(tiles.geometry.to_numpy(), crs=tiles.crs).to_crs(4326)
    if "quadkey" in df.columns:  # Parquet keeps leading zeros only as text; a CSV read may lose them
        qk = df["quadkey"].astype(str).str.strip().str.zfill(_ZOOM)
        xyz = [quadkey_to_tile(q) for q in qk]
        if any(z != _ZOOM for _, _, z in xyz):
            raise InputValidationError(f"the Ookla tiles have quadkeys that are not zoom {_ZOOM} (e.g. "
                                       f"{next(q for q, t in zip(qk, xyz, strict=True) if t[2] != _ZOOM)}).")
        tx, ty = np.array([t[0] for t in xyz], np.int64), np.array([t[1] for t in xyz], np.int64)
    else:
        c = geom.centroid
        tx, ty = lonlat_to_tile(c.x.to_numpy(), c.y.to_numpy())
        qk = pd.Series([tile_to_quadkey(int(a), int(b), _ZOOM) for a, b in zip(tx, ty, strict=True)])
    out = gpd.GeoDataFrame({"quadkey": qk.to_numpy(), "tile_x": tx, "tile_y": ty, "measured_mbps": d.to_numpy() / 1000.0,
                            "tests": tests.to_numpy()}, geometry=geom.to_numpy(), crs=4326)
    for c in ("avg_u_kbps", "avg_lat_ms", "devices"):
        if c in df.columns:
            out[c] = pd.to_numeric(df[c], errors="coerce").to_numpy()
    return out


def modelled_user_mbps(result: CoverageResult, /,
                       subscribers_per_person: Mapping[str, float | np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per cell: (Σ served users × their busy-hour speed, served users), over every operator and technology.

    Each operator's subscribers per person are ``subscribers_per_person[op]`` (a number or
    an array per cell; default from the layers' ``users_per_person``); a share
    ``uptake_5g`` are on the operator's 5G where its speed there is above 0, the others
    on its 4G; a user at 0 Mb/s counts as not served.
    """
    dem = result.demand
    u = float(dem.uptake_5g) if dem is not None else 0.0
    ops = sorted({op for op, _ in result.layers if op != "any"})
    num = np.zeros(result.grid.width * result.grid.height)
    den = np.zeros_like(num)
    for op in ops:
        l4, l5 = result.layers.get((op, "4G")), result.layers.get((op, "5G"))
        t4 = l4.tput_mbps.reshape(-1).astype(float) if l4 is not None else np.zeros_like(num)
        t5 = l5.tput_mbps.reshape(-1).astype(float) if l5 is not None else np.zeros_like(num)
        if subscribers_per_person is not None and op in subscribers_per_person:
            s: Any = subscribers_per_person[op]
        elif l4 is not None and isinstance(l4.users_per_person, CellUsers):  # 4G's base: every subscriber
            s = l4.users_per_person.base
        else:  # users per person of the layers: a number, or an array per cell (market shares per commune)
            upp4 = np.asarray(l4.users_per_person if l4 is not None and l4.users_per_person is not None else 0.0, float)
            upp5 = np.asarray(l5.users_per_person if l5 is not None and l5.users_per_person is not None else 0.0, float)
            s = upp4 + upp5 if l5 is not None else (upp4 / (1.0 - u) if u < 1 else 0.0 * upp4)
        s = np.broadcast_to(np.asarray(s, float).reshape(-1) if np.ndim(s) else float(s), num.shape)
        on5 = (t5 > 0).astype(float)
        w5, w4 = s * u * on5, s * (1.0 - u * on5) * (t4 > 0)
        num += w5 * t5 + w4 * t4
        den += w5 + w4
    return num, den


def weighted_spearman(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> float:
    """Spearman rank correlation with weights: the weighted Pearson correlation of weighted
    mid-ranks (a value's rank is the weight below it plus half its tied weight). Equal
    weights give the usual Spearman ρ."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    w = np.ones(x.size) if w is None else np.asarray(w, float)

    def ranks(v: np.ndarray) -> np.ndarray:
        uniq, inv = np.unique(v, return_inverse=True)
        tw = np.bincount(inv, weights=w, minlength=uniq.size)
        below = np.concatenate([[0.0], np.cumsum(tw)[:-1]])
        return (below + 0.5 * tw)[inv]

    if x.size < 2 or w.sum() <= 0:
        return float("nan")
    rx, ry = ranks(x), ranks(y)
    mx, my = np.average(rx, weights=w), np.average(ry, weights=w)
    cov = np.average((rx - mx) * (ry - my), weights=w)
    sx, sy = np.sqrt(np.average((rx - mx) ** 2, weights=w)), np.sqrt(np.average((ry - my) ** 2, weights=w))
    return float(cov / (sx * sy)) if sx > 0 and sy > 0 else float("nan")


def compare_ookla(result: CoverageResult, tiles: gpd.GeoDataFrame, population: Any, /,
                  subscribers_per_person: Mapping[str, Any] | None = None) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """Modelled vs measured download speed per Ookla tile, and the test-weighted summary.

    Parameters
    ----------
    result
        A coverage result (rasters not needed).
    tiles
        From :func:`prepare_ookla_tiles`.
    population
        The :class:`~ictplan.grid.Population` the coverage ran on (people per cell).

    Returns
    -------
    (per_tile, summary)
        ``per_tile``: the tiles on the grid with ``people``, ``modelled_mbps`` (NaN: the
        model serves nobody there) and ``residual_mbps`` (measured − modelled).
        ``summary`` (one row): ``n_tiles``, ``n_tiles_compared``, ``n_tiles_not_served``,
        ``tests``, ``bias_mbps``, ``rmse_mbps`` (test-weighted), ``spearman`` (test-weighted
        ranks), ``spearman_unweighted``, ``mean_measured_mbps``, ``mean_modelled_mbps``.

    Raises
    ------
    NoDataInBoundsError
        No tile overlaps a populated cell of the grid.
    """
    g = result.grid
    xc, yc = g.cell_centres()
    lon, lat = pyproj.Transformer.from_crs(g.crs, 4326, always_xy=True).transform(xc.reshape(-1), yc.reshape(-1))
    cx, cy = lonlat_to_tile(np.asarray(lon), np.asarray(lat))
    num, den = modelled_user_mbps(result, subscribers_per_person)
    pop = np.asarray(population.counts, float).reshape(-1)
    key_cells = cx * (1 << _ZOOM) + cy
    key_tiles = tiles["tile_x"].to_numpy(np.int64) * (1 << _ZOOM) + tiles["tile_y"].to_numpy(np.int64)
    uniq, inv = np.unique(key_cells, return_inverse=True)
    pos = np.searchsorted(uniq, key_tiles)
    found = (pos < uniq.size) & (uniq[np.minimum(pos, uniq.size - 1)] == key_tiles)
    people = np.bincount(inv, weights=pop, minlength=uniq.size)
    n_sum = np.bincount(inv, weights=pop * num, minlength=uniq.size)
    d_sum = np.bincount(inv, weights=pop * den, minlength=uniq.size)
    t = tiles.loc[found].copy()
    p = pos[found]
    t["people"] = people[p]
    with np.errstate(invalid="ignore", divide="ignore"):
        t["modelled_mbps"] = np.where(d_sum[p] > 0, n_sum[p] / d_sum[p], np.nan)
    t["residual_mbps"] = t["measured_mbps"] - t["modelled_mbps"]
    t = t[t["people"] > 0]
    if not len(t):
        raise NoDataInBoundsError(f"none of the {len(tiles)} Ookla tile(s) overlaps a populated cell of the study's "
                                  "grid; download the tiles of this province (quarter files are global).")
    ok = t["modelled_mbps"].notna().to_numpy()
    m, r, w = t["modelled_mbps"].to_numpy()[ok], t["residual_mbps"].to_numpy()[ok], t["tests"].to_numpy(float)[ok]
    meas = t["measured_mbps"].to_numpy()[ok]
    has = ok.any() and w.sum() > 0
    summary = pd.DataFrame([{
        "n_tiles": int(len(t)), "n_tiles_compared": int(ok.sum()), "n_tiles_not_served": int((~ok).sum()),
        "tests": float(w.sum()),
        "bias_mbps": float(np.average(r, weights=w)) if has else np.nan,
        "rmse_mbps": float(np.sqrt(np.average(r * r, weights=w))) if has else np.nan,
        "spearman": weighted_spearman(meas, m, w) if has else np.nan,
        "spearman_unweighted": weighted_spearman(meas, m) if has else np.nan,
        "mean_measured_mbps": float(np.average(meas, weights=w)) if has else np.nan,
        "mean_modelled_mbps": float(np.average(m, weights=w)) if has else np.nan,
    }])
    return t.reset_index(drop=True), summary
