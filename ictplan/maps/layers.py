"""Layers on a map: polygons, lines, points, choropleths (mapclassify classes), sector
wedges and rasters (warped to Web Mercator for display only), each with its legend."""

from __future__ import annotations

import base64
import html
import io as _pyio
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from .._errors import GeometryTypeError, InputValidationError, MissingColumnError
from .base import (
    _DEFAULT_COLOUR,
    _NODATA_COLOUR,
    _SCHEMES,
    OPERATOR_COLOURS,
    _aliases,
    _colour_lookup,
    _geojson,
    _require_crs,
    _swatches,
    _to_display,
    add_legend,
    escape_frame,
    map_lang,
)


# --------------------------------------------------------------------------- vector layers
def add_polygons(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    /,
    *,
    name: str,
    fields: Sequence[str],
    aliases: Sequence[str] | Mapping[str, str] | None = None,
    popup_fields: Sequence[str] | None = None,
    colour: str = "#3388ff",
    fill_opacity: float = 0.15,
    weight: float = 1.0,
    simplify_m: float | None = 20.0,
    show: bool = True,
    legend: bool = False,
) -> folium.FeatureGroup:
    """Polygons with escaped tooltips (and popups), in a named layer.

    Raises
    ------
    MissingCRSError, MissingColumnError
        When ``gdf`` has no CRS or lacks a field.
    """
    popup_fields = list(popup_fields or [])
    cols = list(dict.fromkeys(list(fields) + popup_fields))
    data = escape_frame(_to_display(gdf, simplify_m, name), cols, lang=map_lang(m))
    fg = folium.FeatureGroup(name=html.escape(name), show=show)
    folium.GeoJson(
        _geojson(data),
        # no fill at all when it is transparent: a click inside goes to the layer beneath (communes' popups)
        style_function=lambda _f: {"color": colour, "weight": weight, "fillOpacity": fill_opacity, "fillColor": colour,
                                   "fill": fill_opacity > 0},
        tooltip=folium.GeoJsonTooltip(fields=list(fields), aliases=_aliases(fields, aliases), sticky=False),
        popup=folium.GeoJsonPopup(fields=popup_fields, aliases=_aliases(popup_fields, aliases)) if popup_fields else None,
    ).add_to(fg)
    fg.add_to(m)
    if legend:
        add_legend(m, _swatches(name, [("", colour)]), layer=fg)
    return fg


def add_lines(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    /,
    *,
    name: str,
    fields: Sequence[str],
    aliases: Sequence[str] | Mapping[str, str] | None = None,
    colour_by: str | None = None,
    colours: Mapping[str, str] | None = None,
    colour: str = _DEFAULT_COLOUR,
    weight: float = 2.0,
    simplify_m: float | None = 5.0,
    show: bool = True,
    legend: bool = True,
) -> folium.FeatureGroup:
    """Lines coloured by a column (e.g. operator), with escaped tooltips and a legend.

    Raises
    ------
    MissingCRSError, MissingColumnError
        When ``gdf`` has no CRS or lacks a field.
    """
    colours = dict(colours or OPERATOR_COLOURS)
    cols = list(dict.fromkeys(list(fields) + ([colour_by] if colour_by else [])))
    data = escape_frame(_to_display(gdf, simplify_m, name), cols, lang=map_lang(m))

    def style(f):
        c = _colour_lookup(colours, f["properties"].get(colour_by)) if colour_by else colour
        return {"color": c, "weight": weight, "opacity": 0.85}

    fg = folium.FeatureGroup(name=html.escape(name), show=show)
    folium.GeoJson(_geojson(data), style_function=style,
                   tooltip=folium.GeoJsonTooltip(fields=list(fields), aliases=_aliases(fields, aliases))).add_to(fg)
    fg.add_to(m)
    if legend:
        if colour_by:
            keys = sorted({str(v) for v in gdf[colour_by].dropna().unique()})
            add_legend(m, _swatches(name, [(k, colours.get(k, _DEFAULT_COLOUR)) for k in keys], line=True), layer=fg)
        else:
            add_legend(m, _swatches(name, [("", colour)], line=True), layer=fg)
    return fg


def add_points(
    m: folium.Map,
    gdf: gpd.GeoDataFrame,
    /,
    *,
    name: str,
    fields: Sequence[str],
    aliases: Sequence[str] | Mapping[str, str] | None = None,
    popup_fields: Sequence[str] | None = None,
    colour_by: str | None = None,
    colours: Mapping[str, str] | None = None,
    colour: str = _DEFAULT_COLOUR,
    radius: float = 3.0,
    show: bool = True,
    legend: bool = True,
) -> folium.FeatureGroup:
    """Points as circle markers (one GeoJson layer, not one marker object per point).

    Raises
    ------
    MissingCRSError, MissingColumnError
        When ``gdf`` has no CRS or lacks a field.
    GeometryTypeError
        When ``gdf`` holds something else than points.
    """
    if len(gdf) and not gdf.geom_type.isin(["Point"]).all():
        msg = f"`add_points` draws points; the layer {name!r} holds {sorted(set(gdf.geom_type))}. Use add_lines/add_polygons, or take centroids first."
        raise GeometryTypeError(msg)
    colours = dict(colours or OPERATOR_COLOURS)
    popup_fields = list(popup_fields or [])
    cols = list(dict.fromkeys(list(fields) + popup_fields + ([colour_by] if colour_by else [])))
    data = escape_frame(_to_display(gdf, None, name), cols, lang=map_lang(m))

    def style(f):
        c = _colour_lookup(colours, f["properties"].get(colour_by)) if colour_by else colour
        return {"color": "#333333", "fillColor": c, "fill": True, "fillOpacity": 0.9, "weight": 0.6}

    fg = folium.FeatureGroup(name=html.escape(name), show=show)
    folium.GeoJson(
        _geojson(data),
        marker=folium.CircleMarker(radius=radius, fill=True),
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=list(fields), aliases=_aliases(fields, aliases)),
        popup=folium.GeoJsonPopup(fields=popup_fields, aliases=_aliases(popup_fields, aliases)) if popup_fields else None,
    ).add_to(fg)
    fg.add_to(m)
    if legend:
        if colour_by:
            keys = sorted({str(v) for v in gdf[colour_by].dropna().unique()})
            add_legend(m, _swatches(name, [(k, colours.get(k, _DEFAULT_COLOUR)) for k in keys]), layer=fg)
        else:
            add_legend(m, _swatches(name, [("", colour)]), layer=fg)
    return fg


# --------------------------------------------------------------------------- choropleth
CHOROPLETH_CMAP = "Purples"  # apart from every operator's colour (red, blue, green, orange)
PERCENT_THRESHOLDS = (50.0, 80.0, 90.0, 95.0, 99.0)  # the plan's thresholds for shares (%): class bounds
def classify(values: pd.Series | np.ndarray, /, *, scheme: str = "quantiles", k: int = 5,
             bins: Sequence[float] | None = None, thresholds: Sequence[float] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Class upper bounds and each value's class (``-1`` for NaN), from mapclassify.

    ``thresholds`` (e.g. the plan's targets) become class bounds too, where they fall
    inside the values' range, so a zone just short of a target never shares a class with
    one that meets it. No class is ever empty: a bound whose class holds no value is
    dropped (its range joins the next class).

    Raises
    ------
    InputValidationError
        Unknown ``scheme``; ``user_defined`` without ``bins``; no finite value.
    """
    import mapclassify

    if scheme not in _SCHEMES:
        msg = f"`scheme` must be one of {', '.join(_SCHEMES)}; got {scheme!r}."
        raise InputValidationError(msg)
    y = np.asarray(values, dtype="float64")
    ok = np.isfinite(y)
    if not ok.any():
        msg = "cannot classify: no finite value (all are NaN or missing). Check the column."
        raise InputValidationError(msg)
    yb = np.full(y.shape, -1, dtype=np.int64)
    n_unique = len(np.unique(y[ok]))
    if scheme == "user_defined":
        if bins is None:
            msg = "scheme='user_defined' needs `bins=` (class upper bounds)."
            raise InputValidationError(msg)
        c = mapclassify.UserDefined(y[ok], bins=list(bins))
    elif n_unique <= k:
        c = mapclassify.UserDefined(y[ok], bins=list(np.unique(y[ok])))
    else:
        with warnings.catch_warnings():  # "not enough unique values": mapclassify lowers k itself
            warnings.simplefilter("ignore", UserWarning)
            c = mapclassify.classify(y[ok], scheme, k=k)
    # mapclassify can return unsorted or repeated bounds on odd inputs (e.g. fisher_jenks on
    # values near 1e-38): keep the sorted distinct bounds and put each value in its class
    lo, hi = float(y[ok].min()), float(y[ok].max())
    extra = [float(t) for t in thresholds if lo < float(t) < hi]
    bounds = np.unique(np.r_[np.asarray(c.bins, dtype="float64"), extra])
    if bounds[-1] < hi:
        bounds = np.append(bounds, hi)
    counts = np.bincount(np.searchsorted(bounds, y[ok], side="left"), minlength=len(bounds))
    bounds = bounds[counts > 0]  # the last (the maximum) always holds a value
    yb[ok] = np.searchsorted(bounds, y[ok], side="left")
    return bounds, yb


def _palette(cmap: str, n: int) -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cm = colormaps[cmap]
    return [to_hex(cm(x)) for x in (np.linspace(0.15, 0.95, n) if n > 1 else [0.6])]


def _num(v: float, lang: str | None = None) -> str:
    """A legend's number, in the map's language (:func:`ictplan.report.numbers.number`)."""
    from ..report.numbers import number

    return number(v, lang or "en")


def add_choropleth(
    m: folium.Map,
    zones: gpd.GeoDataFrame,
    column: str,
    /,
    *,
    label: str,
    unit: str = "",
    name: str | None = None,
    fields: Sequence[str] = (),
    aliases: Sequence[str] | Mapping[str, str] | None = None,
    popup_fields: Sequence[str] | None = None,
    scheme: str = "quantiles",
    k: int = 5,
    bins: Sequence[float] | None = None,
    thresholds: Sequence[float] = (),
    cmap: str = CHOROPLETH_CMAP,
    simplify_m: float | None = 30.0,
    fill_opacity: float = 0.7,
    show: bool = True,
) -> folium.FeatureGroup:
    """Zones coloured by ``column`` in classes from mapclassify, with a legend in ``unit``.

    The legend gives each class's range and how many zones fall in it; missing values
    are grey ("no data"). ``fields`` go in the tooltip after the value.

    Raises
    ------
    MissingColumnError
        ``column`` or a field is not in ``zones``.
    InputValidationError
        ``column`` is not numeric, or see :func:`classify`.
    """
    if column not in zones.columns:
        msg = f"cannot colour by {column!r}: the zones have columns {list(zones.columns)}."
        raise MissingColumnError(msg)
    values = pd.to_numeric(zones[column], errors="coerce") if not pd.api.types.is_bool_dtype(zones[column]) else zones[column].astype(float)
    if values.notna().sum() == 0 and zones[column].notna().any():
        msg = f"column {column!r} is not numeric (e.g. {zones[column].dropna().iloc[0]!r}); a choropleth needs numbers."
        raise InputValidationError(msg)
    bounds, yb = classify(values.to_numpy(), scheme=scheme, k=k, bins=bins, thresholds=thresholds)
    colours = _palette(cmap, len(bounds))
    fill = np.where(yb >= 0, np.asarray(colours, dtype=object)[np.clip(yb, 0, None)], _NODATA_COLOUR)
    title = f"{label} ({unit})" if unit else label
    work = zones.copy()
    work["_fill"] = fill
    value_key = "_value"
    work[value_key] = values.round(2)
    fields = [f for f in fields if f != column]
    al = _aliases(list(fields), aliases) + [html.escape(title)]
    data = escape_frame(_to_display(work, simplify_m, label), list(fields) + [value_key, "_fill"] + list(popup_fields or []),
                        lang=map_lang(m))
    fg = folium.FeatureGroup(name=html.escape(name or label), show=show)
    folium.GeoJson(
        _geojson(data),
        style_function=lambda f: {"fillColor": html.unescape(f["properties"]["_fill"]), "color": "#555555", "weight": 0.6, "fillOpacity": fill_opacity},
        highlight_function=lambda _f: {"weight": 2.5, "color": "#000000"},
        tooltip=folium.GeoJsonTooltip(fields=list(fields) + [value_key], aliases=al, sticky=False),
        popup=folium.GeoJsonPopup(fields=list(popup_fields), aliases=_aliases(list(popup_fields), aliases)) if popup_fields else None,
    ).add_to(fg)
    fg.add_to(m)
    counts = np.bincount(yb[yb >= 0], minlength=len(bounds))
    lows = np.r_[np.nanmin(values), bounds[:-1]]
    ml = map_lang(m)
    items = [(f"{_num(hi, ml) if _num(lo, ml) == _num(hi, ml) else _num(lo, ml) + ' – ' + _num(hi, ml)}  ({n})", c)
             for lo, hi, n, c in zip(lows, bounds, counts, colours, strict=True)]
    if (yb < 0).any():
        items.append((f"no data  ({int((yb < 0).sum())})", _NODATA_COLOUR))
    add_legend(m, _swatches(title, items), layer=fg)
    return fg


# --------------------------------------------------------------------------- sectors
def sector_wedges(
    sites: gpd.GeoDataFrame,
    /,
    *,
    radius_m: float = 700.0,
    beamwidth_deg: float = 65.0,
    n_arc: int = 16,
    working_crs: Any = None,
) -> gpd.GeoDataFrame:
    """A wedge polygon per sector (a disc for omni sectors with NaN ``azimuth_deg``).

    Azimuths are clockwise from north. Wedges are built in a metric CRS (``sites.crs`` when
    projected, else ``working_crs`` or the estimated UTM zone) with ``n_arc`` arc
    segments, and returned in ``sites.crs`` with the input's index and columns. Display
    geometry only: the radius is a drawing size, not a coverage estimate.

    Raises
    ------
    MissingCRSError, MissingColumnError, GeometryTypeError, InputValidationError
        No CRS; no ``azimuth_deg``; non-point geometry; radius or beamwidth out of range.
    """
    _require_crs(sites, "sites")
    if "azimuth_deg" not in sites.columns:
        msg = f"`sites` needs an `azimuth_deg` column (NaN = omni); it has {list(sites.columns)}."
        raise MissingColumnError(msg)
    if not (radius_m > 0 and 0 < beamwidth_deg <= 360 and n_arc >= 2):
        msg = f"need radius_m > 0, 0 < beamwidth_deg <= 360, n_arc >= 2; got {radius_m}, {beamwidth_deg}, {n_arc}."
        raise InputValidationError(msg)
    if len(sites) and not sites.geom_type.eq("Point").all():
        msg = f"`sites` must be points; found {sorted(set(sites.geom_type))}."
        raise GeometryTypeError(msg)
    metric = sites.crs if not sites.crs.is_geographic else (pyproj.CRS.from_user_input(working_crs) if working_crs is not None else sites.estimate_utm_crs())
    pts = sites.geometry.to_crs(metric) if not sites.crs.equals(metric) else sites.geometry
    x, y = shapely.get_x(pts.values), shapely.get_y(pts.values)
    az = pd.to_numeric(sites["azimuth_deg"], errors="coerce").to_numpy(dtype="float64")
    omni = ~np.isfinite(az) | (beamwidth_deg >= 360)
    t = np.linspace(-0.5, 0.5, n_arc + 1)
    ang = np.where(omni[:, None], np.linspace(0, 360, n_arc + 1)[None, :], (np.nan_to_num(az) % 360)[:, None] + beamwidth_deg * t[None, :])
    rad = np.deg2rad(ang)
    ax, ay = x[:, None] + radius_m * np.sin(rad), y[:, None] + radius_m * np.cos(rad)
    # wedge ring: centre, arc..., centre; disc ring: arc..., first arc point (+ repeat to keep one shape)
    cx = np.where(omni[:, None], ax[:, :1], x[:, None])
    cy = np.where(omni[:, None], ay[:, :1], y[:, None])
    ring = np.stack([np.hstack([cx, ax, cx]), np.hstack([cy, ay, cy])], axis=-1)
    polys = shapely.polygons(ring)
    out = sites.copy()
    out = out.set_geometry(gpd.GeoSeries(polys, index=sites.index, crs=metric).to_crs(sites.crs))
    return out


def add_sectors(
    m: folium.Map,
    sites: gpd.GeoDataFrame,
    /,
    *,
    name: str = "Sectors",
    fields: Sequence[str] = ("site_id", "sector_id", "operator", "technology", "band", "azimuth_deg"),
    aliases: Sequence[str] | Mapping[str, str] | None = None,
    radius_m: float = 700.0,
    beamwidth_deg: float = 65.0,
    colour_by: str = "operator",
    colours: Mapping[str, str] | None = None,
    show: bool = True,
) -> folium.FeatureGroup:
    """Sector wedges coloured by operator (see :func:`sector_wedges`), with a legend.

    Raises
    ------
    See :func:`sector_wedges` and :func:`add_polygons`.
    """
    colours = dict(colours or OPERATOR_COLOURS)
    fields = [f for f in fields if f in sites.columns]
    wedges = sector_wedges(sites, radius_m=radius_m, beamwidth_deg=beamwidth_deg)
    data = escape_frame(_to_display(wedges, None, name), list(dict.fromkeys(list(fields) + [colour_by])), lang=map_lang(m))

    def style(f):
        c = _colour_lookup(colours, f["properties"].get(colour_by))
        return {"color": c, "fillColor": c, "weight": 0.8, "fillOpacity": 0.35}

    fg = folium.FeatureGroup(name=html.escape(name), show=show)
    folium.GeoJson(_geojson(data), style_function=style,
                   tooltip=folium.GeoJsonTooltip(fields=list(fields), aliases=_aliases(fields, aliases))).add_to(fg)
    fg.add_to(m)
    keys = sorted({str(v) for v in sites[colour_by].dropna().unique()})
    add_legend(m, _swatches(name, [(k, colours.get(k, _DEFAULT_COLOUR)) for k in keys]), layer=fg)
    return fg


# --------------------------------------------------------------------------- rasters
def raster_image(
    values: np.ndarray,
    grid: Any,
    /,
    *,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    max_px: int = 1600,
) -> tuple[bytes, tuple[float, float, float, float], tuple[float, float]]:
    """A raster on ``grid`` as a PNG warped to Web Mercator for display.

    NaN (and masked) cells are transparent. Returns the PNG bytes, its lon/lat bounds
    (minx, miny, maxx, maxy) and the (vmin, vmax) used for colours.

    Raises
    ------
    InputValidationError
        When ``values`` does not have ``grid.shape`` or holds no finite value.
    """
    from matplotlib import colormaps
    from PIL import Image
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    arr: np.ndarray = np.ma.filled(np.ma.asarray(values, dtype="float64"), np.nan)
    if arr.shape != tuple(grid.shape):
        msg = f"the raster has shape {arr.shape} but its grid is {tuple(grid.shape)}; pass values on that grid."
        raise InputValidationError(msg)
    finite = np.isfinite(arr)
    if not finite.any():
        msg = "the raster holds no finite value (all NaN); nothing to draw."
        raise InputValidationError(msg)
    vmin = float(np.nanmin(arr)) if vmin is None else float(vmin)
    vmax = float(np.nanmax(arr)) if vmax is None else float(vmax)
    if vmax <= vmin:
        vmax = vmin + 1.0
    dst_crs = pyproj.CRS.from_epsg(3857)
    h, w = grid.shape
    with warnings.catch_warnings():  # rasterio's own use of Affine `*` (PendingDeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        transform, dw, dh = calculate_default_transform(grid.crs, dst_crs, w, h, *grid.bounds)
        scale = max(dw / max_px, dh / max_px, 1.0)
        if scale > 1.0:
            transform, dw, dh = calculate_default_transform(grid.crs, dst_crs, w, h, *grid.bounds,
                                                            dst_width=int(dw / scale), dst_height=int(dh / scale))
        dst = np.full((dh, dw), np.nan, dtype="float32")
        reproject(arr.astype("float32"), dst, src_transform=grid.transform, src_crs=grid.crs, src_nodata=np.nan,
                  dst_transform=transform, dst_crs=dst_crs, dst_nodata=np.nan, resampling=Resampling.nearest)
    norm = np.clip((dst - vmin) / (vmax - vmin), 0, 1)
    rgba = (colormaps[cmap](np.nan_to_num(norm)) * 255).astype(np.uint8)
    rgba[..., 3] = np.where(np.isfinite(dst), 255, 0)
    buf = _pyio.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buf, format="PNG", optimize=True)
    x0, y1 = transform.c, transform.f  # north-up: corners without matrix products
    x1, y0 = transform.c + transform.a * dw, transform.f + transform.e * dh
    to_ll = pyproj.Transformer.from_crs(dst_crs, 4326, always_xy=True)
    lon0, lat0 = to_ll.transform(x0, y0)
    lon1, lat1 = to_ll.transform(x1, y1)
    return buf.getvalue(), (lon0, lat0, lon1, lat1), (vmin, vmax)


def _colour_bar(title: str, cmap: str, vmin: float, vmax: float, lang: str | None = None) -> str:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cm = colormaps[cmap]
    stops = ",".join(to_hex(cm(x)) for x in np.linspace(0, 1, 11))
    mid = (vmin + vmax) / 2
    return (
        f"<b>{html.escape(title)}</b><div class=\"ictplan-bar\" style=\"background:linear-gradient(to right,{stops})\"></div>"
        f"<div class=\"ictplan-bar-labels\"><span>{_num(vmin, lang)}</span><span>{_num(mid, lang)}</span><span>{_num(vmax, lang)}</span></div>"
    )


def add_raster(
    m: folium.Map,
    values: np.ndarray,
    grid: Any,
    /,
    *,
    name: str,
    unit: str = "",
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    opacity: float = 0.65,
    max_px: int = 1600,
    show: bool = True,
) -> folium.raster_layers.ImageOverlay:
    """A raster on ``grid`` (e.g. best-server RSRP or throughput) as an image overlay with a colour bar.

    Raises
    ------
    InputValidationError
        See :func:`raster_image`.
    """
    png, (w, s, e, n), (lo, hi) = raster_image(values, grid, cmap=cmap, vmin=vmin, vmax=vmax, max_px=max_px)
    url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    layer = folium.raster_layers.ImageOverlay(url, bounds=[[s, w], [n, e]], opacity=opacity, name=html.escape(name),
                                              show=show, interactive=False, cross_origin=False)
    layer.add_to(m)
    add_legend(m, _colour_bar(f"{name} ({unit})" if unit else name, cmap, lo, hi, map_lang(m)), layer=layer)
    return layer
