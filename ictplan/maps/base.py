"""Map basics: text safety, the offline page (Leaflet inlined, CDN links dropped), the
legend panel, display geometry (simplified, lon/lat, rounded to ~1 m) and saving."""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import folium
import geopandas as gpd
import pandas as pd
import shapely
from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from .. import _assets
from .._errors import InputValidationError, MissingColumnError, MissingCRSError

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
def _is_code(column: str) -> bool:
    """A column of codes, ids or years: numbers written without thousands separators."""
    return column.endswith(("_id", "_uid", "_code", "year")) or column in ("id", "code")


def _numbers_as_text(col: pd.Series, lang: str, *, grouping: bool = True) -> pd.Series:
    from ..report.numbers import number

    return col.map(lambda v: number(v, lang, grouping=grouping, missing="")).astype(object)


def map_lang(m: folium.Map) -> str | None:
    """The language a map writes its numbers in (set by :func:`new_map`), or None (raw numbers)."""
    return getattr(m, "ictplan_lang", None)


def _text(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
        return ""
    return html.escape(str(v), quote=True)


def escape_frame(gdf: gpd.GeoDataFrame, columns: Sequence[str], *, lang: str | None = None) -> gpd.GeoDataFrame:
    """Copy of ``gdf`` with only ``columns`` + geometry, every text value HTML-escaped.

    Numbers stay numbers (floats rounded to 2 decimals); with ``lang`` ("vi", "en") they
    are written as the reader writes them instead (:func:`ictplan.report.numbers.number`:
    ``1.194.476`` and ``19,7`` in Vietnamese), codes and ids without thousands separators.
    Everything else -- names, ids, free text, booleans, dates -- becomes an escaped string
    (missing values become "").

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
            if lang is not None:
                out[c] = _numbers_as_text(out[c], lang, grouping=not _is_code(str(c)))
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


class _MetricScale(MacroElement):
    """Leaflet's scale bar in metres and kilometres only (no miles)."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
L.control.scale({metric: true, imperial: false, position: "bottomright"}).addTo({{ this._parent.get_name() }});
{% endmacro %}
"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "IctplanScale"


def _legends(m: folium.Map) -> _Legends:
    for child in m._children.values():
        if isinstance(child, _Legends):
            return child
    panel = _Legends()
    panel.add_to(m)
    return panel


def _figure(m: folium.Map) -> Figure:
    """The page (branca Figure) a map renders into."""
    root = m.get_root()
    if not isinstance(root, Figure):  # pragma: no cover - folium always puts a map in a Figure
        msg = "the map is not in a page (branca Figure); make it with ictplan.maps.new_map."
        raise InputValidationError(msg)
    return root


def new_map(
    bounds_lonlat: Sequence[float] | None = None,
    /,
    *,
    tiles: str | None = "OpenStreetMap",
    zoom_start: int = 9,
    title: str | None = None,
    lang: str | None = None,
) -> folium.Map:
    """An empty, offline-ready Folium map fitted to ``bounds_lonlat`` (minx, miny, maxx, maxy).

    ``lang``: the numbers of every layer's tooltips, popups and legends are written as in
    that language (``1.194.476``, ``19,7`` in Vietnamese); None leaves them raw.

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
    m = folium.Map(location=location, zoom_start=zoom_start, tiles=None, control_scale=False, prefer_canvas=False,
                   zoom_snap=0.25, zoom_delta=0.5)
    _MetricScale().add_to(m)
    m.ictplan_lang = lang  # type: ignore[attr-defined]
    m.default_js = []
    m.default_css = []
    root = _figure(m)
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
    root = _figure(m)
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
    from .. import io as _io

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


