"""The layered map of a study: communes as a choropleth, districts (when the study has
them), sites and sectors, fiber, postal points, facilities, hamlets, plus any result layers.

Communes are coloured by population density from the census (``pop2019``) when the
communes carry it; without census figures, by people per km² from the population raster
(per commune, with exact cell weights), and without a raster by area. The legend says
which.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement
from jinja2 import Template

from .._errors import IctplanError, InputValidationError, MissingColumnError
from .base import _DEFAULT_COLOUR, add_legend, new_map
from .layers import (
    PERCENT_THRESHOLDS,
    add_choropleth,
    add_lines,
    add_points,
    add_polygons,
    add_raster,
    add_sectors,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..study import Study

__all__ = ["labels", "commune_figures", "study_map", "note_html", "RASTER_PEOPLE"]

#: Column holding the people per commune counted on the population raster (the fallback
#: when the communes have no census figures).
RASTER_PEOPLE = "pop_raster"

_LABELS = {
    "en": {
        "communes": "Communes", "districts": "Districts", "density": "Population density", "per_km2": "people/km²",
        "commune": "Commune", "district": "District", "type": "Type", "code": "Code", "pop": "People (2019)",
        "formed_from": "Formed from (old communes' codes)",
        "hh": "Households (2019)", "area": "Area (km²)", "sites": "Cell sites", "sectors": "Sectors",
        "operator": "Operator", "technology": "Technology", "band": "Band", "azimuth": "Azimuth (°)",
        "site": "Site", "sector": "Sector", "fiber": "Fiber routes", "route": "Route", "placement": "Placement",
        "postal": "Postal points", "name": "Name", "staffed": "Staffed", "internet": "Internet",
        "facilities": "Facilities", "kind": "Kind", "level": "Level", "hamlets": "Hamlets", "hamlet": "Hamlet",
        "households": "Households", "unreached": "Hamlets not reached by fiber", "candidates": "Sharing candidates (tower pairs)",
        "duplicated": "Duplicated fiber routes (duct-sharing candidates)", "distance": "Distance (m)",
        "groups": "Tower groups that could merge", "towers_saved": "Towers saved", "value": "Value",
        "n_sectors": "Number of sectors", "height": "Antenna height (m)",
    },
    "vi": {
        "communes": "Xã, phường, thị trấn", "districts": "Huyện, thành phố", "density": "Mật độ dân số", "per_km2": "người/km²",
        "commune": "Xã", "district": "Huyện", "type": "Loại", "code": "Mã", "pop": "Dân số (2019)",
        "formed_from": "Hình thành từ (mã các xã cũ)",
        "hh": "Số hộ (2019)", "area": "Diện tích (km²)", "sites": "Trạm BTS", "sectors": "Vùng phủ sector",
        "operator": "Nhà mạng", "technology": "Công nghệ", "band": "Băng tần", "azimuth": "Góc phương vị (°)",
        "site": "Trạm", "sector": "Sector", "fiber": "Tuyến cáp quang", "route": "Tuyến", "placement": "Hình thức lắp đặt",
        "postal": "Điểm bưu chính", "name": "Tên", "staffed": "Có nhân viên", "internet": "Có Internet",
        "facilities": "Cơ quan, cơ sở", "kind": "Loại", "level": "Cấp", "hamlets": "Ấp, khóm", "hamlet": "Ấp",
        "households": "Số hộ", "unreached": "Ấp chưa có cáp quang", "candidates": "Cặp trạm có thể dùng chung",
        "duplicated": "Tuyến cáp trùng lặp (có thể dùng chung cống bể)", "distance": "Khoảng cách (m)",
        "groups": "Nhóm trạm có thể gộp", "towers_saved": "Số trạm tiết kiệm", "value": "Giá trị",
        "n_sectors": "Số sector", "height": "Độ cao ăng-ten (m)",
    },
}


# data values shown in tooltips and popups -> (vi, en)
_VALUES: dict[str, tuple[str, str]] = {
    "aerial": ("treo trên cột", "on poles"), "duct": ("trong cống bể", "in ducts"),
    "underground": ("chôn ngầm", "underground"), "buried": ("chôn ngầm", "buried"),
    "school": ("trường học", "school"), "commune_office": ("trụ sở UBND xã", "commune office"),
    "health_station": ("trạm y tế xã", "health station"), "agency": ("cơ quan", "agency"),
    "hospital": ("bệnh viện", "hospital"), "data_centre": ("trung tâm dữ liệu", "data centre"),
    "commune": ("xã", "commune"), "district": ("huyện", "district"), "province": ("tỉnh", "province"),
    "cultural_post": ("điểm bưu điện - văn hóa xã", "commune cultural post"), "post_office": ("bưu cục", "post office"),
    "agent": ("đại lý bưu điện", "postal agent"), "True": ("có", "yes"), "False": ("không", "no"),
}


def translate_values(gdf: gpd.GeoDataFrame, columns: Sequence[str], lang: str) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` with the known data values of ``columns`` (kinds, placements,
    yes/no flags) in ``lang``; other values unchanged."""
    i = 0 if lang == "vi" else 1
    out = gdf.copy()
    for c in columns:
        if c not in out.columns:
            continue
        col = out[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            continue
        out[c] = col.map(lambda v: _VALUES[str(v)][i] if str(v) in _VALUES else v).astype(object)
    return out


def labels(lang: str = "en") -> dict[str, str]:
    """The map's labels in ``lang`` ("vi" or "en")."""
    if lang not in _LABELS:
        msg = f"`lang` must be one of {', '.join(_LABELS)}; got {lang!r}."
        raise InputValidationError(msg)
    return {**_LABELS[lang], **_MORE[lang], "_lang": lang}


_MORE = {
    "en": {"density_raster": "Population density (population raster)", "pop_raster": "People (population raster)",
           "no_census_raster": "The communes have no census figures (pop2019): colours show people per km² "
                               "counted on the population raster.",
           "no_census_area": "The communes have no census figures (pop2019) and the study no population raster: "
                             "colours show the communes' area.",
           "skipped": "Not shown", "notes": "Notes"},
    "vi": {"density_raster": "Mật độ dân số (lưới dân số)", "pop_raster": "Dân số (lưới dân số)",
           "no_census_raster": "Các xã không có số liệu điều tra dân số (pop2019): màu thể hiện số người/km² "
                               "tính trên lưới dân số.",
           "no_census_area": "Các xã không có số liệu điều tra dân số (pop2019) và nghiên cứu không có lưới dân số: "
                             "màu thể hiện diện tích xã.",
           "skipped": "Không hiển thị", "notes": "Ghi chú"},
}


def commune_figures(communes: gpd.GeoDataFrame, /, *, crs: Any) -> gpd.GeoDataFrame:
    """Communes with ``area_km2`` and ``density_per_km2`` computed on the full geometry in ``crs``.

    ``density_per_km2`` is added only where the communes carry ``pop2019`` with at least
    one number (census figures are optional).

    Raises
    ------
    GeographicCRSError
        When ``crs`` is not projected.
    """
    from ..crs import as_crs, require_projected

    work_crs = as_crs(crs)
    require_projected(work_crs, "the CRS used to measure communes")
    out = communes.copy()
    area = communes.geometry.to_crs(work_crs).area.to_numpy() / 1e6
    out["area_km2"] = np.round(area, 3)
    if "pop2019" in out.columns:
        pop = pd.to_numeric(out["pop2019"], errors="coerce").to_numpy(dtype="float64")
        if np.isfinite(pop).any():
            out["density_per_km2"] = np.round(np.where(area > 0, pop / np.where(area > 0, area, 1), np.nan), 1)
    return out


def raster_people(study: Study, /) -> pd.Series | None:
    """People per commune on the study's population raster, by ``commune_code``, with the
    study's one zone accounting (:func:`ictplan.zones.for_study`); ``None`` when the study
    names no population raster."""
    from .. import zones as _zones

    if not study.has("population"):
        return None
    zw = _zones.for_study(study, "communes")
    return pd.Series(zw.sums(study.population.counts), index=zw.codes.astype(str), name=RASTER_PEOPLE)


def note_html(title: str, lines: Sequence[str]) -> str:
    """A legend entry of plain sentences (escaped)."""
    import html

    return f"<b>{html.escape(title)}</b>" + "".join(f"<div>{html.escape(str(t))}</div>" for t in lines)


def _fields(gdf: gpd.GeoDataFrame, wanted: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The wanted columns the layer has with at least one value, and their labels."""
    f = [c for c in wanted if c in gdf.columns and (not len(gdf) or bool(gdf[c].notna().any()))]
    return f, {c: wanted[c] for c in f}


def _join_values(communes: gpd.GeoDataFrame, values: pd.Series | pd.DataFrame | None) -> tuple[gpd.GeoDataFrame, list[str], str | None]:
    """Communes joined with ``values`` (by ``commune_code``); the numeric value columns; the first column."""
    if values is None:
        return communes, [], None
    frame = values.to_frame() if isinstance(values, pd.Series) else values
    if "commune_code" in frame.columns:
        frame = frame.set_index("commune_code")
    frame = frame.drop(columns=[c for c in frame.columns if c in communes.columns], errors="ignore")
    frame.index = frame.index.astype(str)
    value_cols = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    first = next((c for c in frame.columns if c != RASTER_PEOPLE), None)
    return communes.join(frame, on="commune_code"), value_cols, first


def _default_column(communes: gpd.GeoDataFrame, study: Study, L: Mapping[str, str]) -> tuple[gpd.GeoDataFrame, str, str, str, str | None]:
    """(communes, column, label, unit, legend note) for the default colouring: census density,
    else raster people per km², else area."""
    if "density_per_km2" in communes.columns:
        return communes, "density_per_km2", L["density"], L["per_km2"], None
    people = communes[RASTER_PEOPLE] if RASTER_PEOPLE in communes.columns else None
    if people is None or not np.isfinite(pd.to_numeric(people, errors="coerce")).any():
        try:
            s = raster_people(study)
        except IctplanError:
            s = None
        people = None if s is None else communes["commune_code"].astype(str).map(s)
    if people is None:
        return communes, "area_km2", L["area"], "", L["no_census_area"]  # the label holds the unit
    out = communes.copy()
    out[RASTER_PEOPLE] = np.round(pd.to_numeric(people, errors="coerce").to_numpy(dtype="float64"))
    area = out["area_km2"].to_numpy(dtype="float64")
    out["density_per_km2"] = np.round(np.where(area > 0, out[RASTER_PEOPLE] / np.where(area > 0, area, 1), np.nan), 1)
    return out, "density_per_km2", L["density_raster"], L["per_km2"], L["no_census_raster"]


def _add_communes(m: folium.Map, communes: gpd.GeoDataFrame, column: str, label: str, unit: str,
                  value_cols: Sequence[str], value_labels: Mapping[str, str], L: Mapping[str, str],
                  simplify_m: float) -> folium.FeatureGroup:
    f, al = _fields(communes, {"commune_name": L["commune"], "district_name": L["district"]})
    pf, pal = _fields(communes, {"commune_name": L["commune"], "commune_type": L["type"], "commune_code": L["code"],
                                 "formed_from": L["formed_from"], "district_name": L["district"], "pop2019": L["pop"], "hh2019": L["hh"],
                                 RASTER_PEOPLE: L["pop_raster"], "area_km2": L["area"],
                                 "density_per_km2": f"{L['density']} ({L['per_km2']})"})
    for vc in value_cols:
        if vc not in pf and vc != RASTER_PEOPLE:
            pf.append(vc)
            pal[vc] = value_labels.get(vc, vc)
    if column not in pf:
        pf.append(column)
    pal[column] = f"{label} ({unit})" if unit else label
    share = unit == "%" or column.startswith("pct_") or label.endswith("(%)")
    # a share is classed at the plan's thresholds (empty classes dropped); anything else by quantiles
    return add_choropleth(m, communes, column, label=label, unit=unit, name=f"{L['communes']}: {label}",
                          fields=f, aliases={**al, **pal}, popup_fields=pf, simplify_m=simplify_m,
                          scheme="user_defined" if share else "quantiles",
                          bins=[*PERCENT_THRESHOLDS, 100.0] if share else None)


def _districts(study: Study, communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame | None:
    """The study's districts, or ``None`` where it has none (Vietnam has had no district
    level since 1 July 2025; a communes file may carry no district column)."""
    if not study.has("districts"):
        return None
    named = "district_name" in communes.columns and bool(communes["district_name"].notna().any())
    if "districts" not in study.layer_specs and not named:
        return None
    try:
        d = study.layer("districts")
    except (IctplanError, KeyError):
        return None
    return d if len(d) else None


def _add_context_layers(m: folium.Map, study: Study, layers: Sequence[str], L: Mapping[str, str],
                        simplify_m: float, sector_radius_m: float) -> None:
    """Hamlets, fiber routes, sites (sectors and points), postal points and facilities."""
    if "hamlets" in layers and study.has("hamlets"):
        h = study.layer("hamlets")
        f, al = _fields(h, {"hamlet_name": L["hamlet"], "hamlet_code": L["code"], "households": L["households"]})
        if h.geom_type.isin(["Point"]).all():
            add_points(m, h, name=L["hamlets"], fields=f, aliases=al, colour="#8c6d31", radius=2, show=False)
        else:
            add_polygons(m, h, name=L["hamlets"], fields=f, aliases=al, colour="#8c6d31", fill_opacity=0.05, weight=0.5,
                         simplify_m=simplify_m, show=False)
    lang = L.get("_lang", "en")
    if "fiber_routes" in layers and study.has("fiber_routes"):
        r = translate_values(study.layer("fiber_routes"), ["placement"], lang)
        f, al = _fields(r, {"route_id": L["route"], "operator": L["operator"], "technology": L["technology"], "placement": L["placement"]})
        add_lines(m, r, name=L["fiber"], fields=f, aliases=al, colour_by="operator")
    if "sites" in layers and study.has("sites"):
        sites = study.layer("sites")
        f, al = _fields(sites, {"site_id": L["site"], "sector_id": L["sector"], "operator": L["operator"],
                                "technology": L["technology"], "band": L["band"], "azimuth_deg": L["azimuth"]})
        add_sectors(m, sites, name=L["sectors"], fields=f, aliases=al, radius_m=sector_radius_m, show=False)
        one = _site_summary(sites)
        f, al = _fields(one, {"site_id": L["site"], "operator": L["operator"], "technology": L["technology"],
                              "band": L["band"], "n_sectors": L["n_sectors"], "height_m": L["height"]})
        add_points(m, one, name=L["sites"], fields=f, aliases=al, popup_fields=f, colour_by="operator", radius=3.5)
    if "postal_points" in layers and study.has("postal_points"):
        p = translate_values(study.layer("postal_points"), ["kind", "staffed", "internet"], lang)
        f, al = _fields(p, {"name": L["name"], "kind": L["kind"], "commune_code": L["code"], "staffed": L["staffed"], "internet": L["internet"]})
        add_points(m, p, name=L["postal"], fields=f, aliases=al, colour="#ffd92f", radius=4, show=False)
    if "facilities" in layers and study.has("facilities"):
        fa = translate_values(study.layer("facilities"), ["kind", "level"], lang)
        f, al = _fields(fa, {"name": L["name"], "kind": L["kind"], "level": L["level"], "commune_code": L["code"]})
        i = 0 if lang == "vi" else 1
        colours = {(_VALUES[k][i] if k in _VALUES else k): c for k, c in _FACILITY_COLOURS.items()}
        add_points(m, fa, name=L["facilities"], fields=f, aliases=al, colour_by="kind", colours=colours,
                   radius=3, show=False)


def study_map(
    study: Study,
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
    notes: Sequence[str] = (),
    lang: str = "en",
    simplify_m: float = 30.0,
    sector_radius_m: float = 700.0,
    tiles: str | None = "OpenStreetMap",
) -> folium.Map:
    """The layered map of a study and its results.

    Communes are a choropleth of ``column``, taken from the communes layer or from
    ``values`` (a Series, or a DataFrame with that column, indexed by ``commune_code`` --
    e.g. a scorecard). By default (no ``column``, no ``values``): population density
    from the census on the full geometry; without census figures, people per km² on the
    population raster (a ``values`` column :data:`RASTER_PEOPLE` gives those people, e.g.
    from the coverage table), else area -- the legend says which. Districts are outlined
    when the study has them; sites get sector wedges and points coloured by operator;
    fiber routes are coloured by operator; postal points and facilities are points.
    ``rasters`` adds image overlays: dicts with ``values``, ``grid``, ``name``, ``unit``
    and optionally ``cmap``/``vmin``/``vmax``. ``extra`` adds result layers: dicts with
    ``gdf``, ``name``, ``fields`` (column -> label) and optionally ``colour``,
    ``colour_by``, ``show``, ``radius``, ``weight`` (and a ``key`` naming it). ``notes``
    are sentences shown in the legend panel (e.g. which analyses were skipped and why).
    A layer control lists every layer.

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
    communes, value_cols, first = _join_values(communes, values)
    column = column or first
    notes = list(notes)
    if column is None:
        communes, column, dlabel, dunit, note = _default_column(communes, study, L)
        label, unit = label or dlabel, unit if unit is not None else dunit
        if note:
            notes.insert(0, note)
    if column not in communes.columns:
        msg = f"cannot map {column!r}: not a communes column nor in `values` (communes have {list(communes.columns)})."
        raise MissingColumnError(msg)
    label = label or value_labels.get(column) or column
    tb = communes.to_crs(4326).total_bounds
    m = new_map(tuple(tb) if len(communes) else study.bounds_lonlat, tiles=tiles, title=f"{study.name}", lang=lang)
    choro = None
    if "communes" in layers:
        choro = _add_communes(m, communes, column, label, unit or "", value_cols, value_labels, L, simplify_m)
    d = _districts(study, communes) if "districts" in layers else None
    if d is not None:
        f, al = _fields(d, {"district_name": L["district"], "n_communes": L["communes"]})
        add_polygons(m, d, name=L["districts"], fields=f, aliases=al, colour="#222222", fill_opacity=0.0, weight=2.5,
                     simplify_m=simplify_m)
    for spec in rasters:
        add_raster(m, spec["values"], spec["grid"], name=spec["name"], unit=spec.get("unit", ""),
                   cmap=spec.get("cmap", "viridis"), vmin=spec.get("vmin"), vmax=spec.get("vmax"),
                   show=spec.get("show", True))
    if rasters and choro is not None:
        _DimUnderRasters(choro).add_to(m)
    _add_context_layers(m, study, layers, L, simplify_m, sector_radius_m)
    for spec in extra:
        _add_extra(m, spec)
    if notes:
        add_legend(m, note_html(L["notes"], notes))
    folium.LayerControl(collapsed=True).add_to(m)
    return m


class _DimUnderRasters(MacroElement):
    """While a raster is shown, the commune colours fade (their outlines stay) so the raster reads."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
(function(){
  var map = {{ this._parent.get_name() }}, zones = {{ this.zones }}, shown = 0;
  function fade(){ zones.setStyle({fillOpacity: shown > 0 ? 0.08 : 0.7}); }
  map.on("overlayadd", function(e){ if (e.layer instanceof L.ImageOverlay) { shown += 1; fade(); } });
  map.on("overlayremove", function(e){ if (e.layer instanceof L.ImageOverlay) { shown = Math.max(0, shown - 1); fade(); } });
  map.eachLayer(function(l){ if (l instanceof L.ImageOverlay) { shown += 1; } });
  if (shown) { fade(); }
})();
{% endmacro %}
"""
    )

    def __init__(self, zones: folium.FeatureGroup) -> None:
        super().__init__()
        self._name = "IctplanDimUnderRasters"
        self.zones = zones.get_name()


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
                   colours=spec.get("colours"), radius=spec.get("radius", 4), **kw)
    elif kinds <= {"LineString", "MultiLineString"}:
        add_lines(m, gdf, colour=spec.get("colour", _DEFAULT_COLOUR), colour_by=spec.get("colour_by"),
                  weight=spec.get("weight", 3), **kw)
    else:
        add_polygons(m, gdf, colour=spec.get("colour", _DEFAULT_COLOUR), fill_opacity=spec.get("fill_opacity", 0.3),
                     legend=True, **kw)
