"""Folium maps of a study and its results (display only: reprojects to EPSG:4326 itself).

Every text that comes from data is HTML-escaped before it reaches a tooltip, popup or
legend, so a name like ``<script>alert(1)</script>`` shows as text and runs nothing.
Polygons are simplified for display only; numbers are always computed on full geometry.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

__all__ = ["OPERATOR_COLOURS", "escape_frame", "add_polygons", "add_lines", "add_points", "study_map"]

OPERATOR_COLOURS = {
    "Viettel": "#d7191c",
    "VNPT": "#2b83ba",
    "MobiFone": "#1a9641",
    "FPT": "#fdae61",
    "Vietnamobile": "#ff7f00",
    "Gmobile": "#984ea3",
}
_DEFAULT_COLOUR = "#555555"


def escape_frame(gdf: gpd.GeoDataFrame, columns: Sequence[str]) -> gpd.GeoDataFrame:
    """Copy of ``gdf`` with only ``columns`` + geometry, every text value HTML-escaped."""
    out = gdf[list(columns) + [gdf.geometry.name]].copy()
    for c in columns:
        col = out[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            out[c] = col.round(2) if pd.api.types.is_float_dtype(col) else col
        else:
            out[c] = col.map(lambda v: html.escape(str(v)) if v is not None and not (isinstance(v, float) and np.isnan(v)) else "")
    return out


def _to_display(gdf: gpd.GeoDataFrame, simplify_m: float | None) -> gpd.GeoDataFrame:
    g = gdf
    if simplify_m and g.crs is not None and not g.crs.is_geographic:
        g = g.copy()
        g.geometry = g.geometry.simplify(simplify_m, preserve_topology=True)
    return g.to_crs(4326)


def add_polygons(m: folium.Map, gdf: gpd.GeoDataFrame, *, name: str, fields: Sequence[str], aliases: Sequence[str] | None = None,
                 colour: str = "#3388ff", fill_opacity: float = 0.15, weight: float = 1.0, simplify_m: float | None = 20.0, show: bool = True) -> folium.FeatureGroup:
    """Polygons with escaped tooltips, in a named layer."""
    data = escape_frame(_to_display(gdf, simplify_m), fields)
    fg = folium.FeatureGroup(name=html.escape(name), show=show)
    folium.GeoJson(
        data.to_json(),
        style_function=lambda _f: {"color": colour, "weight": weight, "fillOpacity": fill_opacity},
        tooltip=folium.GeoJsonTooltip(fields=list(fields), aliases=list(aliases or fields), sticky=False),
    ).add_to(fg)
    fg.add_to(m)
    return fg


def add_lines(m: folium.Map, gdf: gpd.GeoDataFrame, *, name: str, fields: Sequence[str], colour_by: str | None = None,
              colours: dict[str, str] | None = None, weight: float = 2.0, simplify_m: float | None = 5.0, show: bool = True) -> folium.FeatureGroup:
    """Lines coloured by a column (e.g. operator), with escaped tooltips."""
    colours = colours or OPERATOR_COLOURS
    cols = list(dict.fromkeys(list(fields) + ([colour_by] if colour_by else [])))
    data = escape_frame(_to_display(gdf, simplify_m), cols)

    def style(f):
        key = html.unescape(f["properties"].get(colour_by, "")) if colour_by else ""
        return {"color": colours.get(key, _DEFAULT_COLOUR), "weight": weight, "opacity": 0.8}

    fg = folium.FeatureGroup(name=html.escape(name), show=show)
    folium.GeoJson(data.to_json(), style_function=style, tooltip=folium.GeoJsonTooltip(fields=list(fields))).add_to(fg)
    fg.add_to(m)
    return fg


def add_points(m: folium.Map, gdf: gpd.GeoDataFrame, *, name: str, fields: Sequence[str], colour_by: str | None = None,
               colours: dict[str, str] | None = None, radius: float = 3.0, show: bool = True) -> folium.FeatureGroup:
    """Points as small circle markers (one GeoJson layer, not one marker object per point)."""
    colours = colours or OPERATOR_COLOURS
    cols = list(dict.fromkeys(list(fields) + ([colour_by] if colour_by else [])))
    data = escape_frame(_to_display(gdf, None), cols)

    def style(f):
        key = html.unescape(f["properties"].get(colour_by, "")) if colour_by else ""
        c = colours.get(key, _DEFAULT_COLOUR)
        return {"color": c, "fillColor": c, "fillOpacity": 0.8, "weight": 1}

    fg = folium.FeatureGroup(name=html.escape(name), show=show)
    folium.GeoJson(
        data.to_json(),
        marker=folium.CircleMarker(radius=radius),
        style_function=style,
        tooltip=folium.GeoJsonTooltip(fields=list(fields)),
    ).add_to(fg)
    fg.add_to(m)
    return fg


def study_map(study, *, layers: Sequence[str] = ("communes", "districts", "fiber_routes", "sites")) -> folium.Map:
    """A first layered map of a study: communes, districts, fiber routes and sites."""
    communes = study.layer("communes")
    b = communes.to_crs(4326).total_bounds
    m = folium.Map(location=[(b[1] + b[3]) / 2, (b[0] + b[2]) / 2], zoom_start=9, tiles="OpenStreetMap", control_scale=True)
    if "communes" in layers:
        fields = [c for c in ("commune_name", "commune_code", "district_name", "pop2019", "hh2019") if c in communes.columns]
        add_polygons(m, communes, name="Communes (xã, phường)", fields=fields)
    if "districts" in layers:
        d = study.layer("districts")
        add_polygons(m, d, name="Districts (huyện)", fields=["district_name", "n_communes"], colour="#222222", fill_opacity=0.0, weight=2.5)
    if "fiber_routes" in layers and study.has("fiber_routes"):
        add_lines(m, study.layer("fiber_routes"), name="Fiber routes", fields=["route_id", "operator", "technology"], colour_by="operator")
    if "sites" in layers and study.has("sites"):
        sites = study.layer("sites")
        one = sites.drop_duplicates("site_id")
        add_points(m, one, name="Cell sites", fields=["site_id", "operator", "technology"], colour_by="operator")
    folium.LayerControl(collapsed=False).add_to(m)
    return m
