"""Folium maps of a study and its results (display only: reprojects to EPSG:4326 itself).

A map made here is **self-contained**: Leaflet's JavaScript and CSS are inlined (from the
``django-js-lib-leaflet`` package, see :mod:`ictplan._assets`) and folium's default CDN
resources the page does not need (jQuery, Bootstrap, Font Awesome, awesome-markers) are
dropped, so a saved map shows every layer with the network cut off. The OpenStreetMap
basemap is used when reachable; without it the page keeps a plain land-coloured
background, and the communes, districts and other layers stay readable.

Every text that comes from data is HTML-escaped before it reaches a tooltip, popup,
layer name or legend, so a name like ``<script>alert(1)</script>`` shows as text and runs
nothing.

Polygons are simplified for display only (``simplify_m``) and coordinates rounded to
about 1 m; every number shown (areas, people, households, densities) is computed
beforehand on the full geometry in a metric CRS. Nothing is measured in Web Mercator:
rasters are warped to it only to be drawn.

Building blocks: :func:`new_map`, :func:`add_choropleth`, :func:`add_polygons`,
:func:`add_lines`, :func:`add_points`, :func:`add_sectors` (with :func:`sector_wedges`),
:func:`add_raster`, :func:`add_legend`; :func:`to_html` / :func:`save_html`. The whole
map of a study and its results: :func:`study_map`.
"""

from __future__ import annotations

import base64
import html
import io as _pyio
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from branca.element import Element, MacroElement
from jinja2 import Template

from . import _assets
from ._errors import (
    GeometryTypeError,
    InputValidationError,
    MissingColumnError,
    MissingCRSError,
)

__all__ = [
    "OPERATOR_COLOURS",
    "escape_frame",
    "new_map",
    "add_polygons",
    "add_lines",
    "add_points",
    "add_choropleth",
    "classify",
    "sector_wedges",
    "add_sectors",
    "add_raster",
    "raster_image",
    "add_legend",
    "external_resources",
    "to_html",
    "save_html",
    "study_map",
    "result_layers",
    "labels",
    "commune_figures",
]

OPERATOR_COLOURS = {
    "Viettel": "#d7191c",
    "VNPT": "#2b83ba",
    "MobiFone": "#1a9641",
    "FPT": "#fdae61",
    "Vietnamobile": "#ff7f00",
    "Gmobile": "#984ea3",
}
_DEFAULT_COLOUR = "#555555"
_NODATA_COLOUR = "#d9d9d9"
_LAND = "#f2efe9"  # OpenStreetMap's land colour: the page's background without tiles
_SCHEMES = ("quantiles", "natural_breaks", "equal_interval", "fisher_jenks", "user_defined")
_COORD_GRID_DEG = 1e-5  # ~1.1 m: display precision of coordinates

# CDN resources folium adds by default; none is needed by the elements this module uses
_DROPPED = ("jquery", "bootstrap", "bootstrap_css", "glyphicons_css", "awesome_markers",
            "awesome_markers_css", "awesome_markers_font_css", "awesome_rotate_css")


# --------------------------------------------------------------------------- text safety
def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return ""
    return html.escape(str(v), quote=True)


def escape_frame(gdf: gpd.GeoDataFrame, columns: Sequence[str]) -> gpd.GeoDataFrame:
    """Copy of ``gdf`` with only ``columns`` + geometry, every text value HTML-escaped.

    Numbers stay numbers (floats rounded to 2 decimals); everything else -- names, ids,
    free text, booleans, dates -- becomes an escaped string (missing values become "").

    Raises
    ------
    MissingColumnError
        When a column is not in ``gdf``.
    """
    missing = [c for c in columns if c not in gdf.columns]
    if missing:
        msg = f"cannot show columns {missing}: the layer has {list(gdf.columns)}. Pass fields that exist."
        raise MissingColumnError(msg)
    out = gdf[list(dict.fromkeys(columns)) + [gdf.geometry.name]].copy()
    for c in dict.fromkeys(columns):
        col = out[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            out[c] = col.round(2) if pd.api.types.is_float_dtype(col) else col
        else:
            out[c] = col.map(_text).astype(object)
    return out


def _aliases(fields: Sequence[str], aliases: Sequence[str] | Mapping[str, str] | None) -> list[str]:
    if aliases is None:
        return [html.escape(f) for f in fields]
    if isinstance(aliases, Mapping):
        return [html.escape(str(aliases.get(f, f))) for f in fields]
    if len(aliases) != len(fields):
        msg = f"aliases must match fields one to one: got {len(aliases)} aliases for {len(fields)} fields."
        raise InputValidationError(msg)
    return [html.escape(str(a)) for a in aliases]


# --------------------------------------------------------------------------- the map
class _Legends(MacroElement):
    """One panel (bottom left) holding every legend; a legend hides with its layer."""

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>
.ictplan-legends{position:fixed;left:10px;bottom:24px;z-index:1000;display:flex;flex-direction:column;gap:6px;
  max-height:70vh;overflow:auto;font:12px/1.35 system-ui,"Segoe UI",Roboto,Arial,sans-serif}
.ictplan-legend{background:rgba(255,255,255,.92);border:1px solid #bbb;border-radius:4px;padding:6px 8px;max-width:260px}
.ictplan-legend b{display:block;margin-bottom:3px}
.ictplan-legend i{display:inline-block;width:14px;height:12px;margin-right:5px;vertical-align:-2px;border:1px solid #777}
.ictplan-bar{height:10px;border:1px solid #777;margin:2px 0}
.ictplan-bar-labels{display:flex;justify-content:space-between}
.leaflet-container{background:""" + _LAND + """}
</style>
{% endmacro %}
{% macro html(this, kwargs) %}
<div class="ictplan-legends" id="{{ this.get_name() }}">{% for e in this.entries %}
<div class="ictplan-legend" data-layer="{{ e.layer or '' }}">{{ e.body }}</div>{% endfor %}
</div>
{% endmacro %}
{% macro script(this, kwargs) %}
window.addEventListener("load", function(){
  var box = document.getElementById({{ this.get_name()|tojson }});
  function show(layer, on){
    {% for e in this.entries %}{% if e.layer %}
    if (layer === {{ e.layer }}) { box.children[{{ loop.index0 }}].style.display = on ? "" : "none"; }
    {% endif %}{% endfor %}
  }
  {{ this._parent.get_name() }}.on("overlayadd", function(e){ show(e.layer, true); });
  {{ this._parent.get_name() }}.on("overlayremove", function(e){ show(e.layer, false); });
  {% for e in this.entries %}{% if e.layer %}
  if (!{{ this._parent.get_name() }}.hasLayer({{ e.layer }})) { box.children[{{ loop.index0 }}].style.display = "none"; }
  {% endif %}{% endfor %}
});
{% endmacro %}
"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "IctplanLegends"
        self.entries: list[dict[str, str]] = []


def _legends(m: folium.Map) -> _Legends:
    for child in m._children.values():
        if isinstance(child, _Legends):
            return child
    panel = _Legends()
    panel.add_to(m)
    return panel


def new_map(
    bounds_lonlat: Sequence[float] | None = None,
    /,
    *,
    tiles: str | None = "OpenStreetMap",
    zoom_start: int = 9,
    title: str | None = None,
) -> folium.Map:
    """An empty, offline-ready Folium map fitted to ``bounds_lonlat`` (minx, miny, maxx, maxy).

    Leaflet is inlined in the page's head; folium's CDN scripts and stylesheets are dropped.
    ``tiles=None`` draws no basemap at all (the page stays land-coloured).

    Raises
    ------
    InputValidationError
        When ``bounds_lonlat`` is not four numbers with min < max.
    """
    if bounds_lonlat is not None:
        b = [float(v) for v in bounds_lonlat]
        if len(b) != 4 or not (b[0] <= b[2] and b[1] <= b[3]):
            msg = f"bounds_lonlat must be (min lon, min lat, max lon, max lat); got {bounds_lonlat!r}."
            raise InputValidationError(msg)
        location = [(b[1] + b[3]) / 2, (b[0] + b[2]) / 2]
    else:
        b, location = None, [0.0, 0.0]
    m = folium.Map(location=location, zoom_start=zoom_start, tiles=None, control_scale=True, prefer_canvas=False,
                   zoom_snap=0.25, zoom_delta=0.5)
    m.default_js = []
    m.default_css = []
    root = m.get_root()
    root.header.add_child(Element(_assets.inline_head()), name="leaflet_inline")
    if title:
        root.title = html.escape(title)
        root.header.add_child(Element(f"<title>{html.escape(title)}</title>"), name="page_title")
    if tiles:
        folium.TileLayer(tiles, name="OpenStreetMap (online)", control=True, overlay=False).add_to(m)
    if b is not None:
        m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    _legends(m)
    return m


def external_resources(page: str) -> list[str]:
    """URLs of scripts and stylesheets a page would fetch (``<script src>``, ``<link href>``)."""
    scripts = re.findall(r"<script[^>]*\bsrc\s*=\s*[\"']([^\"']+)", page, flags=re.IGNORECASE)
    links = re.findall(r"<link[^>]*\bhref\s*=\s*[\"']([^\"']+)", page, flags=re.IGNORECASE)
    return [u for u in scripts + links if not u.startswith("data:")]


def to_html(m: folium.Map) -> str:
    """The map as one self-contained HTML page (UTF-8).

    Any CDN link an element still adds is removed when it is one of folium's defaults
    that these maps do not use.

    Raises
    ------
    InputValidationError
        When an element of the map needs an external script or stylesheet (the page
        would not work offline); the message names the URLs.
    """
    root = m.get_root()
    page = root.render()
    ext = external_resources(page)
    if ext:  # an element added folium's default CDN links during rendering: drop the unneeded ones
        for name in _DROPPED:
            root.header._children.pop(name, None)
        page = root.render()
        ext = external_resources(page)
    if ext:
        msg = (
            f"the map needs external resources and would not work offline: {ext}. "
            "Use only the ictplan.maps add_* functions, or inline those files."
        )
        raise InputValidationError(msg)
    return page


def save_html(m: folium.Map, path: str | Path, /, *, overwrite: bool = False) -> Path:
    """Write :func:`to_html` atomically to ``path``.

    Raises
    ------
    OutputExistsError
        When ``path`` exists and ``overwrite`` is false.
    InputValidationError
        See :func:`to_html`.
    """
    from . import io as _io

    page = to_html(m)
    with _io.atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(path)


def add_legend(m: folium.Map, body_html: str, *, layer: folium.map.Layer | None = None) -> None:
    """Add a legend (already-safe HTML) to the map's legend panel, tied to ``layer``."""
    _legends(m).entries.append({"body": body_html, "layer": layer.get_name() if layer is not None else ""})


def _swatches(title: str, items: Sequence[tuple[str, str]], *, line: bool = False) -> str:
    shape = "height:3px;vertical-align:3px;border:none" if line else ""
    rows = "".join(f'<div><i style="background:{c};{shape}"></i>{html.escape(str(lbl))}</div>' for lbl, c in items)
    return f"<b>{html.escape(title)}</b>{rows}"


# --------------------------------------------------------------------------- geometry prep
def _require_crs(gdf: gpd.GeoDataFrame, what: str) -> None:
    if gdf.crs is None:
        msg = f"`{what}` has no CRS. If the coordinates are lon/lat, call `.set_crs(4326)`; otherwise fix the source file's CRS."
        raise MissingCRSError(msg)


def _to_display(gdf: gpd.GeoDataFrame, simplify_m: float | None, what: str = "layer") -> gpd.GeoDataFrame:
    """Simplify in a metric CRS (display only), project to lon/lat, round to ~1 m."""
    _require_crs(gdf, what)
    g = gdf
    if simplify_m and gdf.geom_type.isin(["Polygon", "MultiPolygon", "LineString", "MultiLineString"]).any():
        metric = g.crs if not g.crs.is_geographic else g.estimate_utm_crs()
        g = g.to_crs(metric) if not g.crs.equals(metric) else g.copy()
        g = g.set_geometry(g.geometry.simplify(simplify_m, preserve_topology=True))
    g = g.to_crs(4326)
    # pointwise: round each vertex (display only; never fails on odd topology as "valid_output" can)
    geoms = shapely.set_precision(g.geometry.values, _COORD_GRID_DEG, mode="pointwise")
    return g.set_geometry(gpd.GeoSeries(geoms, index=g.index, crs=4326))


def _geojson(data: gpd.GeoDataFrame) -> dict:
    # a dict, not a JSON string: folium would parse the string back (a second of work on a province)
    return data.to_geo_dict(drop_id=True)


def _colour_lookup(colours: Mapping[str, str], key: Any) -> str:
    return colours.get(html.unescape(str(key)), _DEFAULT_COLOUR) if key is not None else _DEFAULT_COLOUR


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
    data = escape_frame(_to_display(gdf, simplify_m, name), cols)
    fg = folium.FeatureGroup(name=html.escape(name), show=show)
    folium.GeoJson(
        _geojson(data),
        style_function=lambda _f: {"color": colour, "weight": weight, "fillOpacity": fill_opacity, "fillColor": colour},
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
    data = escape_frame(_to_display(gdf, simplify_m, name), cols)

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
    data = escape_frame(_to_display(gdf, None, name), cols)

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
def classify(values: pd.Series | np.ndarray, /, *, scheme: str = "quantiles", k: int = 5,
             bins: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Class upper bounds and each value's class (``-1`` for NaN), from mapclassify.

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
    bounds = np.unique(np.asarray(c.bins, dtype="float64"))
    if bounds[-1] < y[ok].max():
        bounds = np.append(bounds, y[ok].max())
    yb[ok] = np.searchsorted(bounds, y[ok], side="left")
    return bounds, yb


def _palette(cmap: str, n: int) -> list[str]:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cm = colormaps[cmap]
    return [to_hex(cm(x)) for x in (np.linspace(0.15, 0.95, n) if n > 1 else [0.6])]


def _num(v: float) -> str:
    if not np.isfinite(v):
        return "–"
    if abs(v) >= 100 or float(v).is_integer():
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:,.1f}"
    return f"{v:.2g}"


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
    cmap: str = "YlGnBu",
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
    bounds, yb = classify(values.to_numpy(), scheme=scheme, k=k, bins=bins)
    colours = _palette(cmap, len(bounds))
    fill = np.where(yb >= 0, np.asarray(colours, dtype=object)[np.clip(yb, 0, None)], _NODATA_COLOUR)
    title = f"{label} ({unit})" if unit else label
    work = zones.copy()
    work["_fill"] = fill
    value_key = "_value"
    work[value_key] = values.round(2)
    fields = [f for f in fields if f != column]
    al = _aliases(list(fields), aliases) + [html.escape(title)]
    data = escape_frame(_to_display(work, simplify_m, label), list(fields) + [value_key, "_fill"] + list(popup_fields or []))
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
    items = [(f"{_num(lo)} – {_num(hi)}  ({n})", c) for lo, hi, n, c in zip(lows, bounds, counts, colours, strict=True)]
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
    data = escape_frame(_to_display(wedges, None, name), list(dict.fromkeys(list(fields) + [colour_by])))

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

    arr = np.ma.filled(np.ma.asarray(values, dtype="float64"), np.nan)
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


def _colour_bar(title: str, cmap: str, vmin: float, vmax: float) -> str:
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    cm = colormaps[cmap]
    stops = ",".join(to_hex(cm(x)) for x in np.linspace(0, 1, 11))
    mid = (vmin + vmax) / 2
    return (
        f"<b>{html.escape(title)}</b><div class=\"ictplan-bar\" style=\"background:linear-gradient(to right,{stops})\"></div>"
        f"<div class=\"ictplan-bar-labels\"><span>{_num(vmin)}</span><span>{_num(mid)}</span><span>{_num(vmax)}</span></div>"
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
    add_legend(m, _colour_bar(f"{name} ({unit})" if unit else name, cmap, lo, hi), layer=layer)
    return layer


# --------------------------------------------------------------------------- a study's map
_LABELS = {
    "en": {
        "communes": "Communes", "districts": "Districts", "density": "Population density", "per_km2": "people/km²",
        "commune": "Commune", "district": "District", "type": "Type", "code": "Code", "pop": "People (2019)",
        "hh": "Households (2019)", "area": "Area (km²)", "sites": "Cell sites", "sectors": "Sectors",
        "operator": "Operator", "technology": "Technology", "band": "Band", "azimuth": "Azimuth (°)",
        "site": "Site", "sector": "Sector", "fiber": "Fiber routes", "route": "Route", "placement": "Placement",
        "postal": "Postal points", "name": "Name", "staffed": "Staffed", "internet": "Internet",
        "facilities": "Facilities", "kind": "Kind", "level": "Level", "hamlets": "Hamlets", "hamlet": "Hamlet",
        "households": "Households", "unreached": "Hamlets not reached by fiber", "candidates": "Sharing candidates (tower pairs)",
        "duplicated": "Duplicated fiber routes (duct-sharing candidates)", "distance": "Distance (m)",
        "groups": "Tower groups that could merge", "towers_saved": "Towers saved", "value": "Value",
    },
    "vi": {
        "communes": "Xã, phường, thị trấn", "districts": "Huyện, thành phố", "density": "Mật độ dân số", "per_km2": "người/km²",
        "commune": "Xã", "district": "Huyện", "type": "Loại", "code": "Mã", "pop": "Dân số (2019)",
        "hh": "Số hộ (2019)", "area": "Diện tích (km²)", "sites": "Trạm BTS", "sectors": "Vùng phủ sector",
        "operator": "Nhà mạng", "technology": "Công nghệ", "band": "Băng tần", "azimuth": "Góc phương vị (°)",
        "site": "Trạm", "sector": "Sector", "fiber": "Tuyến cáp quang", "route": "Tuyến", "placement": "Hình thức lắp đặt",
        "postal": "Điểm bưu chính", "name": "Tên", "staffed": "Có nhân viên", "internet": "Có Internet",
        "facilities": "Cơ quan, cơ sở", "kind": "Loại", "level": "Cấp", "hamlets": "Ấp, khóm", "hamlet": "Ấp",
        "households": "Số hộ", "unreached": "Ấp chưa có cáp quang", "candidates": "Cặp trạm có thể dùng chung",
        "duplicated": "Tuyến cáp trùng lặp (có thể dùng chung cống bể)", "distance": "Khoảng cách (m)",
        "groups": "Nhóm trạm có thể gộp", "towers_saved": "Số trạm tiết kiệm", "value": "Giá trị",
    },
}


def labels(lang: str = "en") -> dict[str, str]:
    """The map's labels in ``lang`` ("vi" or "en")."""
    if lang not in _LABELS:
        msg = f"`lang` must be one of {', '.join(_LABELS)}; got {lang!r}."
        raise InputValidationError(msg)
    return dict(_LABELS[lang])


def commune_figures(communes: gpd.GeoDataFrame, /, *, crs: Any) -> gpd.GeoDataFrame:
    """Communes with ``area_km2`` and ``density_per_km2`` computed on the full geometry in ``crs``.

    Raises
    ------
    GeographicCRSError
        When ``crs`` is not projected.
    """
    from .crs import as_crs, require_projected

    work_crs = as_crs(crs)
    require_projected(work_crs, "the CRS used to measure communes")
    out = communes.copy()
    area = communes.geometry.to_crs(work_crs).area.to_numpy() / 1e6
    out["area_km2"] = np.round(area, 3)
    if "pop2019" in out.columns:
        pop = pd.to_numeric(out["pop2019"], errors="coerce").to_numpy(dtype="float64")
        out["density_per_km2"] = np.round(np.where(area > 0, pop / np.where(area > 0, area, 1), np.nan), 1)
    return out


def _fields(gdf: gpd.GeoDataFrame, wanted: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    f = [c for c in wanted if c in gdf.columns]
    return f, {c: wanted[c] for c in f}


def study_map(
    study: Any,
    /,
    *,
    layers: Sequence[str] = ("communes", "districts", "sites", "fiber_routes", "postal_points", "facilities"),
    column: str | None = None,
    values: pd.Series | pd.DataFrame | None = None,
    label: str | None = None,
    unit: str | None = None,
    rasters: Sequence[Mapping[str, Any]] = (),
    extra: Sequence[Mapping[str, Any]] = (),
    value_labels: Mapping[str, str] | None = None,
    lang: str = "en",
    simplify_m: float = 30.0,
    sector_radius_m: float = 700.0,
    tiles: str | None = "OpenStreetMap",
) -> folium.Map:
    """The layered map of a study and its results.

    Communes are a choropleth of ``column`` (default: population density computed on the
    full geometry), taken from the communes layer or from ``values`` (a Series, or a
    DataFrame with that column, indexed by ``commune_code`` -- e.g. a scorecard).
    Districts are outlined; sites get sector wedges and points coloured by operator;
    fiber routes are coloured by operator; postal points and facilities are points.
    ``rasters`` adds image overlays: dicts with ``values``, ``grid``, ``name``, ``unit``
    and optionally ``cmap``/``vmin``/``vmax``. ``extra`` adds result layers: dicts with
    ``gdf``, ``name``, ``fields`` (column -> label) and optionally ``colour``,
    ``colour_by``, ``show``, ``radius``, ``weight`` (and a ``key`` naming it). A layer control lists them all.

    Raises
    ------
    MissingColumnError
        ``column`` is neither in the communes nor in ``values``.
    ConfigError, InputValidationError
        From loading the study's layers.
    """
    L = labels(lang)
    communes = commune_figures(study.layer("communes"), crs=study.crs)
    value_labels = dict(value_labels or {})
    value_cols: list[str] = []
    if values is not None:
        frame = values.to_frame() if isinstance(values, pd.Series) else values
        if "commune_code" in frame.columns:
            frame = frame.set_index("commune_code")
        frame = frame.drop(columns=[c for c in frame.columns if c in communes.columns], errors="ignore")
        if column is None and len(frame.columns):
            column = frame.columns[0]
        frame.index = frame.index.astype(str)
        value_cols = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        communes = communes.join(frame, on="commune_code")
    if column is None:
        column = "density_per_km2" if "density_per_km2" in communes.columns else "area_km2"
        label, unit = label or L["density"], unit if unit is not None else (L["per_km2"] if column == "density_per_km2" else "km²")
    if column not in communes.columns:
        msg = f"cannot map {column!r}: not a communes column nor in `values` (communes have {list(communes.columns)})."
        raise MissingColumnError(msg)
    b = study.bounds_lonlat
    tb = communes.to_crs(4326).total_bounds
    m = new_map(tuple(tb) if len(communes) else b, tiles=tiles, title=f"{study.name}")
    if "communes" in layers:
        f, al = _fields(communes, {"commune_name": L["commune"], "district_name": L["district"]})
        pf, pal = _fields(communes, {"commune_name": L["commune"], "commune_type": L["type"], "commune_code": L["code"],
                                     "district_name": L["district"], "pop2019": L["pop"], "hh2019": L["hh"],
                                     "area_km2": L["area"], "density_per_km2": f"{L['density']} ({L['per_km2']})"})
        for vc in value_cols:
            if vc not in pf:
                pf.append(vc)
                pal[vc] = value_labels.get(vc, vc)
        if column not in pf:
            pf.append(column)
        if label is None and column in value_labels:
            label = value_labels[column]
        pal[column] = f"{label or column} ({unit})" if unit else (label or column)
        if label is None and column in value_labels:
            label = value_labels[column]
        add_choropleth(m, communes, column, label=label or column, unit=unit or "", name=f"{L['communes']}: {label or column}",
                       fields=f, aliases={**al, **pal}, popup_fields=pf, simplify_m=simplify_m)
    if "districts" in layers and study.has("districts"):
        d = study.layer("districts")
        f, al = _fields(d, {"district_name": L["district"], "n_communes": L["communes"]})
        add_polygons(m, d, name=L["districts"], fields=f, aliases=al, colour="#222222", fill_opacity=0.0, weight=2.5,
                     simplify_m=simplify_m)
    for spec in rasters:
        add_raster(m, spec["values"], spec["grid"], name=spec["name"], unit=spec.get("unit", ""),
                   cmap=spec.get("cmap", "viridis"), vmin=spec.get("vmin"), vmax=spec.get("vmax"),
                   show=spec.get("show", True))
    if "hamlets" in layers and study.has("hamlets"):
        h = study.layer("hamlets")
        f, al = _fields(h, {"hamlet_name": L["hamlet"], "hamlet_code": L["code"], "households": L["households"]})
        if h.geom_type.isin(["Point"]).all():
            add_points(m, h, name=L["hamlets"], fields=f, aliases=al, colour="#8c6d31", radius=2, show=False)
        else:
            add_polygons(m, h, name=L["hamlets"], fields=f, aliases=al, colour="#8c6d31", fill_opacity=0.05, weight=0.5,
                         simplify_m=simplify_m, show=False)
    if "fiber_routes" in layers and study.has("fiber_routes"):
        r = study.layer("fiber_routes")
        f, al = _fields(r, {"route_id": L["route"], "operator": L["operator"], "technology": L["technology"], "placement": L["placement"]})
        add_lines(m, r, name=L["fiber"], fields=f, aliases=al, colour_by="operator")
    if "sites" in layers and study.has("sites"):
        sites = study.layer("sites")
        f, al = _fields(sites, {"site_id": L["site"], "sector_id": L["sector"], "operator": L["operator"],
                                "technology": L["technology"], "band": L["band"], "azimuth_deg": L["azimuth"]})
        add_sectors(m, sites, name=L["sectors"], fields=f, aliases=al, radius_m=sector_radius_m, show=False)
        one = _site_summary(sites)
        f, al = _fields(one, {"site_id": L["site"], "operator": L["operator"], "technology": L["technology"],
                              "band": L["band"], "n_sectors": L["sectors"], "height_m": "m"})
        add_points(m, one, name=L["sites"], fields=f, aliases=al, popup_fields=f, colour_by="operator", radius=3.5)
    if "postal_points" in layers and study.has("postal_points"):
        p = study.layer("postal_points")
        f, al = _fields(p, {"name": L["name"], "kind": L["kind"], "commune_code": L["code"], "staffed": L["staffed"], "internet": L["internet"]})
        add_points(m, p, name=L["postal"], fields=f, aliases=al, colour="#ffd92f", radius=4, show=False)
    if "facilities" in layers and study.has("facilities"):
        fa = study.layer("facilities")
        f, al = _fields(fa, {"name": L["name"], "kind": L["kind"], "level": L["level"], "commune_code": L["code"]})
        add_points(m, fa, name=L["facilities"], fields=f, aliases=al, colour_by="kind", colours=_FACILITY_COLOURS,
                   radius=3, show=False)
    for spec in extra:
        _add_extra(m, spec)
    folium.LayerControl(collapsed=False).add_to(m)
    return m


_FACILITY_COLOURS = {"agency": "#6a3d9a", "commune_office": "#b15928", "health_station": "#e31a1c",
                     "hospital": "#fb9a99", "school": "#1f78b4", "data_centre": "#33a02c"}


def _site_summary(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One row per site: operator, technologies and bands joined, sector count, max height."""
    g = sites.groupby("site_id", sort=False)
    one = sites.drop_duplicates("site_id").set_index("site_id")
    one = one[[c for c in ("operator", "height_m", sites.geometry.name) if c in one.columns]].copy()
    for c in ("technology", "band"):
        if c in sites.columns:
            one[c] = g[c].agg(lambda s: ", ".join(sorted(set(map(str, s)))))
    one["n_sectors"] = g.size()
    if "height_m" in sites.columns:
        one["height_m"] = g["height_m"].max()
    return gpd.GeoDataFrame(one.reset_index(), geometry=sites.geometry.name, crs=sites.crs)


def _add_extra(m: folium.Map, spec: Mapping[str, Any]) -> None:
    gdf = spec["gdf"]
    if gdf is None or len(gdf) == 0:
        return
    f, al = _fields(gdf, dict(spec.get("fields", {})))
    kw = {"name": spec["name"], "fields": f, "aliases": al, "show": spec.get("show", True)}
    kinds = set(gdf.geom_type)
    if kinds <= {"Point"}:
        add_points(m, gdf, colour=spec.get("colour", _DEFAULT_COLOUR), colour_by=spec.get("colour_by"),
                   radius=spec.get("radius", 4), **kw)
    elif kinds <= {"LineString", "MultiLineString"}:
        add_lines(m, gdf, colour=spec.get("colour", _DEFAULT_COLOUR), colour_by=spec.get("colour_by"),
                  weight=spec.get("weight", 3), **kw)
    else:
        add_polygons(m, gdf, colour=spec.get("colour", _DEFAULT_COLOUR), fill_opacity=spec.get("fill_opacity", 0.3),
                     legend=True, **kw)


_RESULT_LABELS = {
    "en": {"pct_4g": "People covered by 4G (any operator)", "pct_5g": "People covered by 5G (any operator)",
           "pct_fiber": "Households within reach of fiber", "tput_4g": "4G throughput (best server)",
           "tput_5g": "5G throughput (best server)", "missing": "Fiber still missing (m)", "pct": "%",
           "operators": "Operators", "n_towers": "Towers", "length": "Length (m)", "route": "Route"},
    "vi": {"pct_4g": "Dân số được phủ sóng 4G (mọi nhà mạng)", "pct_5g": "Dân số được phủ sóng 5G (mọi nhà mạng)",
           "pct_fiber": "Hộ gia đình trong tầm cáp quang", "tput_4g": "Tốc độ 4G (trạm phục vụ tốt nhất)",
           "tput_5g": "Tốc độ 5G (trạm phục vụ tốt nhất)", "missing": "Cáp quang còn thiếu (m)", "pct": "%",
           "operators": "Nhà mạng", "n_towers": "Số trạm", "length": "Chiều dài (m)", "route": "Tuyến"},
}


def result_layers(
    study: Any,
    /,
    *,
    coverage: Any = None,
    fiber: Any = None,
    sharing: Any = None,
    lang: str = "en",
    run: bool = True,
) -> dict[str, Any]:
    """Keyword arguments for :func:`study_map` that add the analyses' results.

    Uses the given results of :func:`ictplan.coverage.run`, :func:`ictplan.fiber.run`
    and :func:`ictplan.sharing.run`; with ``run=True`` the missing ones are computed (an
    analysis whose module or layers are missing is left out). Adds: per-commune
    ``pct_4g_covered``, ``pct_5g_covered`` (any operator) and ``pct_fiber_reachable`` as
    choropleth values; best-server throughput rasters; unreached hamlets; tower-sharing
    candidate pairs and groups; duplicated fiber stretches.

    Returns
    -------
    dict
        With ``values``, ``value_labels``, ``rasters`` and ``extra``.

    Raises
    ------
    InputValidationError
        Unknown ``lang``.
    """
    import importlib

    L = labels(lang)
    R = _RESULT_LABELS[lang]

    def _run(name: str, given: Any) -> Any:
        if given is not None or not run:
            return given
        try:
            mod = importlib.import_module(f"ictplan.{name}")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return mod.run(study)
        except (ImportError, AttributeError, InputValidationError, KeyError) as err:  # analysis not available
            warnings.warn(f"map: the {name} results are left out ({err}).", stacklevel=2)
            return None
        except Exception as err:  # noqa: BLE001 - an analysis failing must not lose the map
            from ._errors import IctplanError

            if isinstance(err, IctplanError):
                warnings.warn(f"map: the {name} results are left out ({err}).", stacklevel=2)
                return None
            raise

    cov, fib, sh = _run("coverage", coverage), _run("fiber", fiber), _run("sharing", sharing)
    values = pd.DataFrame(index=pd.Index(study.layer("communes")["commune_code"].astype(str), name="commune_code"))
    value_labels: dict[str, str] = {}
    rasters: list[dict[str, Any]] = []
    extra: list[dict[str, Any]] = []
    if cov is not None:
        t = getattr(cov, "table", None)
        if t is not None and len(t):
            for tech in ("4G", "5G"):
                sel = t[(t["level"] == "communes") & (t["operator"] == "any") & (t["technology"] == tech)]
                if len(sel):
                    col = f"pct_{tech.lower()}_covered"
                    values[col] = sel.set_index(sel["zone_code"].astype(str))["pct_covered"].round(1)
                    value_labels[col] = f"{R['pct_' + tech.lower()]} (%)"
        for tech in ("4G", "5G"):
            layer = cov.layers.get(("any", tech))
            if layer is not None and layer.tput_mbps is not None:
                arr = np.where(np.asarray(layer.covered, bool), np.asarray(layer.tput_mbps, float), np.nan)
                if np.isfinite(arr).any():
                    rasters.append({"values": arr, "grid": cov.grid, "name": R["tput_" + tech.lower()], "unit": "Mb/s",
                                    "cmap": "viridis", "vmin": 0.0, "show": False})
    if fib is not None:
        c = getattr(fib, "communes", None)
        if c is not None and "pct_reachable" in c.columns:
            values["pct_fiber_reachable"] = c.set_index(c["commune_code"].astype(str))["pct_reachable"].round(1)
            value_labels["pct_fiber_reachable"] = f"{R['pct_fiber']} (%)"
        un = fib.unreached_hamlets
        if len(un) and study.has("hamlets"):
            h = study.layer("hamlets")[["hamlet_code", "hamlet_name", study.layer("hamlets").geometry.name]]
            g = h.merge(un.drop(columns=[c for c in ("hamlet_name",) if c in un.columns]), on="hamlet_code", how="inner")
            g = g.set_geometry(g.geometry.representative_point())
            extra.append({"key": "unreached_hamlets", "gdf": g, "name": L["unreached"], "colour": "#e7298a", "radius": 3, "show": False,
                          "fields": {"hamlet_name": L["hamlet"], "hamlet_code": L["code"], "households": L["households"],
                                     "missing_fiber_m": R["missing"]}})
    if sh is not None:
        edges = getattr(sh, "candidate_edges", None)
        if edges is not None and len(edges):
            extra.append({"key": "candidate_edges", "gdf": edges, "name": L["candidates"], "colour": "#ff00ff", "weight": 3, "show": False,
                          "fields": {"tower_uid_a": "A", "tower_uid_b": "B", "operators_a": f"{R['operators']} A",
                                     "operators_b": f"{R['operators']} B", "distance_m": L["distance"]}})
        groups = getattr(sh, "groups", None)
        if groups is not None and len(groups):
            gp = groups.set_geometry(groups.geometry.centroid) if not groups.geom_type.eq("Point").all() else groups
            extra.append({"key": "candidate_groups", "gdf": gp, "name": L["groups"], "colour": "#7570b3", "radius": 5, "show": False,
                          "fields": {"group_uid": "Id", "n_towers": R["n_towers"], "towers_saved": L["towers_saved"],
                                     "operators": R["operators"], "max_distance_m": L["distance"]}})
        dup = getattr(sh, "duplicated", None)
        seg = getattr(dup, "segments", None) if dup is not None else None
        if seg is not None and len(seg):
            # for display, one feature per pair of operators: the same stretch of road shows up in
            # several route pairs, and drawing each one made the sample's page 8 MB heavier
            shown = seg[["operator", "other_operator", "length_m", seg.geometry.name]].dissolve(
                by=["operator", "other_operator"], aggfunc={"length_m": "sum"}, as_index=False)
            shown["n_stretches"] = seg.groupby(["operator", "other_operator"]).size().to_numpy()
            shown = shown.set_geometry(shapely.line_merge(shown.geometry.to_numpy()), crs=seg.crs)
            extra.append({"key": "duplicated_routes", "gdf": shown, "name": L["duplicated"], "colour": "#000000", "weight": 4, "show": False,
                          "fields": {"operator": L["operator"], "other_operator": f"{L['operator']} 2",
                                     "n_stretches": "n", "length_m": R["length"]}})
    values = values.dropna(axis=1, how="all")
    return {"values": values if len(values.columns) else None, "value_labels": value_labels, "rasters": rasters, "extra": extra}
