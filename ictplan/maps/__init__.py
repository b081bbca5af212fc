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
map of a study: :func:`study_map`; of a workflow's results: :func:`results_map` (which
draws only what :class:`ictplan.workflow.Results` holds and names the skipped jobs).

Modules: :mod:`.base` (text safety, the page, legends, saving), :mod:`.layers` (vector,
choropleth, sector and raster layers), :mod:`.studymap` (a study's map),
:mod:`.results` (result layers), :mod:`.qgis` (a QGIS project beside the outputs, styled like the map).
"""

from __future__ import annotations

from .base import (
    _DEFAULT_COLOUR,
    _NODATA_COLOUR,
    OPERATOR_COLOURS,
    add_legend,
    escape_frame,
    external_resources,
    new_map,
    save_html,
    to_html,
)
from .layers import (
    _palette,
    add_choropleth,
    add_lines,
    add_points,
    add_polygons,
    add_raster,
    add_sectors,
    classify,
    raster_image,
    sector_wedges,
)
from .qgis import write_qgis_project
from .results import result_layers, results_map, skipped_notes
from .studymap import RASTER_PEOPLE, commune_figures, labels, raster_people, study_map

__all__ = [
    "OPERATOR_COLOURS",
    "RASTER_PEOPLE",
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
    "results_map",
    "result_layers",
    "skipped_notes",
    "write_qgis_project",
    "labels",
    "commune_figures",
    "raster_people",
]

# private names the tests and older callers reach for
_ = (_DEFAULT_COLOUR, _NODATA_COLOUR, _palette)
