"""ictplan.maps: offline pages, escaping, classes, sector wedges, rasters, simplification."""

from __future__ import annotations

import html
import json
import math
import re
import warnings
from pathlib import Path

import folium
import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from affine import Affine
from hypothesis import example, given, settings
from hypothesis import strategies as st
from PIL import Image

from ictplan import _assets, maps, workflow
from ictplan import study as _study
from ictplan._errors import (
    InputValidationError,
    MissingColumnError,
    MissingCRSError,
    OutputExistsError,
)
from ictplan.grid import Grid
from ictplan.maps.layers import CHOROPLETH_CMAP

from ._mapstudy import BOTTOM_ROWS, bottom_communes, gso_communes, variant
from ._studydata import EVIL, SIZE, UTM, build_study, communes_frame

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "camau"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return _study.load(build_study(tmp_path_factory.mktemp("maps") / "st"))


@pytest.fixture(scope="module")
def page(study):
    return maps.to_html(maps.study_map(study, layers=("communes", "districts", "sites", "fiber_routes", "postal_points",
                                                      "facilities", "hamlets")))


def _en(v: str) -> float:
    """A number as an English map popup writes it ("10,035", "27.6") read back."""
    return float(str(v).replace(",", ""))


def _geojsons(page: str) -> list[dict]:
    """Every GeoJSON FeatureCollection embedded in a folium page."""
    out = []
    for m in re.finditer(r"_add\((\{\"features\": .*?\"type\": \"FeatureCollection\"\})\);", page):
        out.append(json.loads(m.group(1)))
    assert out, "no GeoJSON found in the page"
    return out


# ----------------------------------------------------------------------------- offline
def test_page_is_self_contained(page):
    assert maps.external_resources(page) == []
    assert "cdn.jsdelivr" not in page and "code.jquery.com" not in page and "bootstrapcdn" not in page
    assert f"Leaflet {_assets.leaflet_version()}" in page
    assert _assets.leaflet_js()[:2000] in page  # Leaflet inlined, from the package
    assert '<meta http-equiv="content-type" content="text/html; charset=UTF-8" />' in page


def test_leaflet_assets_come_from_the_package():
    assert _assets.leaflet_version() == "1.9.4"
    css = _assets.leaflet_css()
    assert "url(images/" not in css and "data:image/png;base64," in css
    assert "</script" not in _assets.inline_head().split("<script>", 1)[1].rsplit("</script>", 1)[0].lower()


def test_external_resources_detects_links():
    page = '<script src="https://x/a.js"></script><link rel="stylesheet" href="http://y/b.css"/><script>var a=1</script>'
    assert maps.external_resources(page) == ["https://x/a.js", "http://y/b.css"]


def test_to_html_refuses_an_element_that_needs_a_cdn():
    from folium.plugins import MarkerCluster

    m = maps.new_map((105.0, 9.0, 105.2, 9.2))
    MarkerCluster().add_to(m)
    with pytest.raises(InputValidationError, match="external resources"):
        maps.to_html(m)


def test_plain_save_is_offline_too(study, tmp_path):
    # `ictplan demo` saves with folium's own Map.save: that page must be offline as well
    m = maps.study_map(study)
    m.save(str(tmp_path / "m.html"))
    assert maps.external_resources((tmp_path / "m.html").read_text(encoding="utf-8")) == []


# ----------------------------------------------------------------------------- safety
def test_injected_names_are_escaped_everywhere(page):
    assert EVIL not in page
    assert "alert(1)" in page  # the text is there ...
    found = 0
    for fc in _geojsons(page):
        for f in fc["features"]:
            for v in f["properties"].values():
                if isinstance(v, str):
                    assert "<" not in v and ">" not in v
                    found += v == html.escape(EVIL)  # ... only in escaped form
    assert found == 3  # commune, hamlet, postal point


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=30), st.none(), st.floats(allow_nan=True), st.booleans(),
                          st.integers(-10**6, 10**6)), min_size=1, max_size=8))
def test_escape_frame_property(vals):
    gdf = gpd.GeoDataFrame({"v": pd.Series(vals, dtype=object)}, geometry=[shapely.Point(0, 0)] * len(vals), crs=4326)
    before = gdf.copy()
    out = maps.escape_frame(gdf, ["v"])
    pd.testing.assert_frame_equal(gdf, before)  # input unchanged
    for orig, esc in zip(vals, out["v"], strict=True):
        assert isinstance(esc, str)
        assert not set(esc) & set("<>\"'")
        if orig is None or (isinstance(orig, float) and math.isnan(orig)):
            assert esc == ""
        else:
            assert html.unescape(esc) == str(orig)


def test_escape_frame_keeps_numbers_and_rejects_missing_columns():
    gdf = gpd.GeoDataFrame({"n": [1.23456, 2.0], "i": [3, 4]}, geometry=[shapely.Point(0, 0)] * 2, crs=4326)
    out = maps.escape_frame(gdf, ["n", "i"])
    assert out["n"].tolist() == [1.23, 2.0] and out["i"].tolist() == [3, 4]
    with pytest.raises(MissingColumnError, match="nope"):
        maps.escape_frame(gdf, ["nope"])


def test_layer_names_and_legends_are_escaped():
    m = maps.new_map((105.0, 9.0, 105.2, 9.2))
    g = gpd.GeoDataFrame({"operator": [EVIL], "name": ["x"]}, geometry=[shapely.Point(105.1, 9.1)], crs=4326)
    maps.add_points(m, g, name=EVIL, fields=["name"], colour_by="operator")
    page = maps.to_html(m)
    assert EVIL not in page and html.escape(EVIL) in page


# ----------------------------------------------------------------------------- classes
@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
       st.sampled_from(["quantiles", "equal_interval", "fisher_jenks"]), st.integers(2, 7))
@example([0.0, 1.0, 1.1754943508222875e-38, 3.729688049941648e-172, -1.0], "fisher_jenks", 4)  # unsorted mapclassify bins
def test_classify_matches_bounds(vals, scheme, k):
    y = np.asarray(vals + [np.nan])
    bins, yb = maps.classify(y, scheme=scheme, k=k)
    assert yb[-1] == -1
    assert np.all(np.diff(bins) >= 0) and bins[-1] >= np.max(vals) - 1e-9
    for v, c in zip(vals, yb[:-1], strict=True):  # brute force: value within its class's bounds
        assert 0 <= c < len(bins)
        assert v <= bins[c] + 1e-9
        if c > 0:
            assert v > bins[c - 1] - 1e-9


def test_classify_quantiles_agree_with_mapclassify_and_by_hand():
    y = np.arange(1.0, 101.0)
    bins, yb = maps.classify(y, scheme="quantiles", k=4)
    np.testing.assert_allclose(bins, mapclassify.Quantiles(y, k=4).bins)
    np.testing.assert_allclose(bins, [25.75, 50.5, 75.25, 100.0])  # numpy's linear quantiles, by hand
    assert np.bincount(yb).tolist() == [25, 25, 25, 25]
    with pytest.raises(InputValidationError, match="scheme"):
        maps.classify(y, scheme="jenks!")
    with pytest.raises(InputValidationError, match="no finite"):
        maps.classify([np.nan, np.nan])


def test_classes_take_the_thresholds_and_are_never_empty():
    y = np.r_[np.full(60, 100.0), np.linspace(56.7, 94.7, 21), np.linspace(95.5, 98.9, 20)]  # like the sample's 4G shares
    thresholds = (50, 80, 90, 95, 99)
    bins, yb = maps.classify(y, scheme="quantiles", k=5, thresholds=thresholds)
    assert {80.0, 90.0} <= set(bins.tolist()) and 50.0 not in bins  # inside the range only (95, 99: see below)
    counts = np.bincount(yb, minlength=len(bins))
    assert (counts > 0).all() and counts.sum() == len(y)
    by_hand = [((y > lo) & (y <= hi)).sum() for lo, hi in zip(np.r_[-np.inf, bins[:-1]], bins, strict=True)]
    assert counts.tolist() == by_hand
    for c in range(len(bins)):  # no class holds values on both sides of a threshold
        v = y[yb == c]
        assert all((v <= t).all() or (v > t).all() for t in thresholds)
    zeros = maps.classify(np.r_[np.zeros(8), 1.0, 2.0], scheme="quantiles", k=5)[0]
    assert len(zeros) == len(np.unique(zeros)) and np.bincount(maps.classify(np.r_[np.zeros(8), 1.0, 2.0], k=5)[1]).min() > 0


def test_choropleth_colours_and_legend_counts():
    communes = communes_frame()
    communes.loc[5, "pop2019"] = np.nan
    m = maps.new_map((105.0, 9.0, 105.2, 9.2))
    fg = maps.add_choropleth(m, communes, "pop2019", label="People", unit="people", scheme="quantiles", k=3,
                             fields=["commune_name"])
    gj = next(c for c in fg._children.values() if isinstance(c, folium.GeoJson))
    bins, yb = maps.classify(communes["pop2019"], scheme="quantiles", k=3)
    pal = maps._palette(CHOROPLETH_CMAP, len(bins))
    fills = [f["properties"]["_fill"] for f in gj.data["features"]]
    expect = [pal[c] if c >= 0 else maps._NODATA_COLOUR for c in yb]
    assert fills == expect
    page = maps.to_html(m)
    assert "People (people)" in page and "no data  (1)" in page
    counts = [int(n) for n in re.findall(r"[\d,.]+  \((\d+)\)", page)]
    assert sum(counts) == 5
    with pytest.raises(MissingColumnError):
        maps.add_choropleth(m, communes, "nope", label="x")
    with pytest.raises(InputValidationError, match="not numeric"):
        maps.add_choropleth(m, communes, "commune_name", label="x")


# ----------------------------------------------------------------------------- sectors
@settings(max_examples=40, deadline=None)
@given(st.floats(0, 359.9), st.floats(20, 1500), st.floats(10, 180))
def test_sector_wedges_geometry(az, radius, bw):
    sites = gpd.GeoDataFrame({"azimuth_deg": [az, np.nan]}, geometry=[shapely.Point(500_000, 1_000_000)] * 2, crs=UTM)
    n = 16
    w = maps.sector_wedges(sites, radius_m=radius, beamwidth_deg=bw, n_arc=n)
    assert w.crs == sites.crs and list(w.index) == list(sites.index)
    wedge, disc = w.geometry.iloc[0], w.geometry.iloc[1]
    assert wedge.is_valid and disc.is_valid
    step = math.radians(bw) / n
    assert wedge.area == pytest.approx(0.5 * radius**2 * n * math.sin(step), rel=1e-6)  # polygon inscribed in the arc
    assert disc.area == pytest.approx(0.5 * radius**2 * n * math.sin(2 * math.pi / n), rel=1e-6)
    c = wedge.centroid
    bearing = math.degrees(math.atan2(c.x - 500_000, c.y - 1_000_000)) % 360
    assert min(abs(bearing - az), 360 - abs(bearing - az)) < 1e-6 or bw == 0
    # brute force: points well inside the true sector are inside the wedge; points beyond the radius are not
    rng = np.random.default_rng(1)
    ang = np.radians(az + rng.uniform(-0.45, 0.45, 200) * bw)
    r = rng.uniform(0.02, 0.95, 200) * radius * math.cos(step / 2)
    inside = shapely.points(500_000 + r * np.sin(ang), 1_000_000 + r * np.cos(ang))
    assert shapely.contains(wedge, inside).all()
    outside = shapely.points(500_000 + 1.01 * radius * np.sin(ang), 1_000_000 + 1.01 * radius * np.cos(ang))
    assert not shapely.intersects(wedge, outside).any()


def test_sector_wedges_from_lonlat_and_errors():
    sites = gpd.GeoDataFrame({"azimuth_deg": [90.0]}, geometry=[shapely.Point(105.15, 9.18)], crs=4326)
    before = sites.copy()
    w = maps.sector_wedges(sites, radius_m=1000, beamwidth_deg=60)
    pd.testing.assert_frame_equal(sites, before)
    area = w.to_crs(UTM).area.iloc[0]
    assert area == pytest.approx(0.5 * 1000**2 * 16 * math.sin(math.radians(60) / 16), rel=1e-3)
    assert w.to_crs(UTM).centroid.x.iloc[0] > sites.to_crs(UTM).geometry.x.iloc[0] + 300  # points east
    with pytest.raises(MissingColumnError):
        maps.sector_wedges(sites.drop(columns="azimuth_deg"))
    with pytest.raises(MissingCRSError):
        maps.sector_wedges(sites.set_crs(None, allow_override=True))
    with pytest.raises(InputValidationError):
        maps.sector_wedges(sites, radius_m=-1)


# ----------------------------------------------------------------------------- rasters
def _grid(h=40, w=60, res=100.0):
    return Grid(Affine(res, 0, 510_000, 0, -res, 1_020_000), w, h, pyproj.CRS.from_epsg(32648))


def test_raster_image_bounds_colours_and_transparency():
    g = _grid()
    v = np.full(g.shape, 5.0)
    v[:, :30] = np.nan  # west half: no data
    png, (w, s, e, n), (lo, hi) = maps.raster_image(v, g, cmap="viridis", vmin=0, vmax=10)
    assert (lo, hi) == (0.0, 10.0)
    to_ll = pyproj.Transformer.from_crs(32648, 4326, always_xy=True)
    x0, y0, x1, y1 = g.bounds
    lons, lats = to_ll.transform([x0, x1, x0, x1], [y0, y0, y1, y1])
    assert w <= min(lons) + 1e-3 and e >= max(lons) - 1e-3 and s <= min(lats) + 1e-3 and n >= max(lats) - 1e-3
    assert e - w < (max(lons) - min(lons)) * 1.2
    img = np.asarray(Image.open(__import__("io").BytesIO(png)).convert("RGBA"))
    alpha = img[..., 3]
    assert 0.35 < (alpha == 0).mean() < 0.65  # about half transparent
    from matplotlib import colormaps

    expect = (np.asarray(colormaps["viridis"](0.5)) * 255).astype(np.uint8)[:3]
    opaque = img[alpha == 255][:, :3]
    assert np.abs(opaque.astype(int) - expect.astype(int)).max() <= 1
    with pytest.raises(InputValidationError, match="shape"):
        maps.raster_image(v[:-1], g)
    with pytest.raises(InputValidationError, match="no finite"):
        maps.raster_image(np.full(g.shape, np.nan), g)


def test_add_raster_makes_an_image_overlay_with_a_colour_bar():
    g = _grid()
    m = maps.new_map((105.0, 9.0, 105.3, 9.3))
    maps.add_raster(m, np.arange(g.width * g.height, dtype=float).reshape(g.shape), g, name="Throughput", unit="Mb/s")
    page = maps.to_html(m)
    assert "Throughput (Mb/s)" in page and "linear-gradient" in page and "data:image/png;base64," in page
    assert maps.external_resources(page) == []


# ----------------------------------------------------------------------------- study map
def test_study_map_layers_and_inputs_unchanged(study, page):
    communes = study.layer("communes").copy()
    sites = study.layer("sites").copy()
    maps.study_map(study)
    pd.testing.assert_frame_equal(study.layer("communes"), communes)
    pd.testing.assert_frame_equal(study.layer("sites"), sites)
    for name in ("Communes: Population density", "Districts", "Fiber routes", "Sectors", "Cell sites", "Postal points",
                 "Facilities", "Hamlets"):
        assert f'"{name}"' in page
    counts = sorted(len(fc["features"]) for fc in _geojsons(page))
    assert counts == sorted([6, 2, 24, 3, 13, 5, 2, 3])


def test_display_is_simplified_but_numbers_use_full_geometry(study, page):
    full = study.layer("communes").to_crs(UTM)
    n_full = int(shapely.get_num_coordinates(full.geometry.values).sum())
    fc = next(fc for fc in _geojsons(page) if len(fc["features"]) == 6)
    n_shown = sum(int(shapely.get_num_coordinates(shapely.geometry.shape(f["geometry"]))) for f in fc["features"])
    assert n_shown < n_full / 20
    areas_shown = [_en(f["properties"]["area_km2"]) for f in fc["features"]]  # written to one decimal
    np.testing.assert_allclose(areas_shown, full.area.to_numpy() / 1e6, atol=0.051)
    assert areas_shown[0] == pytest.approx(25.1, abs=0.006)  # 25 km² + the teeth's 0.1 km², by hand
    shown0 = shapely.geometry.shape(fc["features"][0]["geometry"])
    shown0_km2 = gpd.GeoSeries([shown0], crs=4326).to_crs(UTM).area.iloc[0] / 1e6
    assert abs(shown0_km2 - 25.1) > 0.03  # the drawn outline lost the teeth: numbers did not come from it
    dens = [_en(f["properties"]["density_per_km2"]) for f in fc["features"]]
    np.testing.assert_allclose(dens, full["pop2019"].to_numpy() / (full.area.to_numpy() / 1e6), rtol=2e-3)
    assert SIZE**2 / 1e6 == pytest.approx(areas_shown[1], rel=1e-6)


def test_study_map_with_values_and_extra_layers(study):
    vals = pd.DataFrame({"commune_code": study.layer("communes")["commune_code"], "pct_x": np.linspace(0, 100, 6)})
    extra = [{"gdf": study.layer("fiber_routes").iloc[:1], "name": "Dup", "fields": {"route_id": "Route"}}]
    m = maps.study_map(study, values=vals, value_labels={"pct_x": "Share X (%)"}, extra=extra, lang="vi")
    page = maps.to_html(m)
    assert "<b>Share X (%)</b>" in page and '"Dup"' in page and "<b>Tuyến cáp quang</b>" in page
    with pytest.raises(MissingColumnError):
        maps.study_map(study, column="nope")
    with pytest.raises(InputValidationError, match="lang"):
        maps.study_map(study, lang="fr")


def test_save_html_refuses_to_overwrite(study, tmp_path):
    m = maps.new_map((105.0, 9.0, 105.2, 9.2))
    p = maps.save_html(m, tmp_path / "a.html")
    assert p.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with pytest.raises(OutputExistsError):
        maps.save_html(m, tmp_path / "a.html")
    maps.save_html(m, tmp_path / "a.html", overwrite=True)


def test_cli_map(study, tmp_path):
    from ictplan.cli import main

    out = tmp_path / "out"
    assert main(["map", str(study.root), "--out", str(out), "--lang", "en", "--no-results"]) == 0
    page = (out / "map.html").read_text(encoding="utf-8")
    assert maps.external_resources(page) == [] and EVIL not in page
    assert main(["map", str(study.root), "--out", str(out), "--no-results"]) == 1  # no --overwrite
    assert main(["map", str(study.root), "--out", str(out), "--overwrite", "--no-results"]) == 0


@pytest.mark.skipif(not (SAMPLE / "study.toml").exists() or not (SAMPLE / "camau.gpkg").exists(), reason="sample study not built")
def test_sample_map_is_small_enough():
    s = _study.load(SAMPLE)
    page = maps.to_html(maps.study_map(s))
    assert len(page.encode("utf-8")) < 15e6
    assert maps.external_resources(page) == []


def test_maps_run_nothing():
    # maps draw what Results hold: no analysis is imported or run from here
    for f in (Path(maps.__file__).parent).glob("*.py"):
        src = f.read_text(encoding="utf-8")
        assert "importlib" not in src and ".run(" not in src, f.name


def test_results_map_names_the_skipped_jobs(study):
    res = workflow.Results(study=study, skipped={"coverage": "needs <profiles> — add [profiles] to study.toml",
                                                 "fiber": "needs roads — missing"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left out silently or with a warning: the legend says it
        kw = maps.result_layers(res, lang="en")
    assert kw["values"] is None and kw["rasters"] == [] and kw["extra"] == []
    assert kw["notes"] == ["Not shown — coverage: needs <profiles> — add [profiles] to study.toml",
                           "Not shown — fiber: needs roads — missing"]
    page = maps.to_html(maps.results_map(res, lang="en"))
    assert "Not shown — coverage: needs &lt;profiles&gt; — add [profiles] to study.toml" in page
    assert "<profiles>" not in page and maps.external_resources(page) == [] and EVIL not in page




def _communes_fc(page: str, n: int) -> dict:
    return next(fc for fc in _geojsons(page) if len(fc["features"]) == n and "commune_code" in fc["features"][0]["properties"])


def test_results_map_draws_the_coverage_it_is_given(bottom):
    s, cov = bottom
    res = workflow.Results(study=s, coverage=cov)
    page = maps.to_html(maps.results_map(res, lang="en"))
    assert "<b>People covered by 4G (any operator) (%)</b>" in page
    assert '"4G throughput (best server)"' in page and "Not shown" not in page
    # per-commune shares: by brute force on the grid (the communes are whole 100 m cells)
    pop = s.population.counts
    cover = cov.layers[("any", "4G")].covered
    fc = _communes_fc(page, 3)
    for i, f in enumerate(fc["features"]):
        cols = slice(50 * i, 50 * (i + 1))
        expect = 100 * (pop[BOTTOM_ROWS, cols] * cover[BOTTOM_ROWS, cols]).sum() / pop[BOTTOM_ROWS, cols].sum()
        assert _en(f["properties"]["pct_4g_covered"]) == pytest.approx(round(expect, 1), abs=0.051)
        assert _en(f["properties"]["_value"]) == pytest.approx(round(expect, 1), abs=0.051)


def test_map_without_census_colours_by_raster_people(tmp_path):
    s = _study.load(variant(tmp_path / "st", communes=bottom_communes(census=False)))
    page = maps.to_html(maps.study_map(s, lang="en"))
    assert '"Communes: Population density (population raster)"' in page
    assert "colours show people per km² counted on the population raster" in page
    pop = s.population.counts
    fc = _communes_fc(page, 3)
    for i, f in enumerate(fc["features"]):
        people = pop[BOTTOM_ROWS, 50 * i:50 * (i + 1)].sum()  # the communes are whole cells (the teeth lie off the raster)
        assert _en(f["properties"]["pop_raster"]) == pytest.approx(round(people), abs=1)
        assert _en(f["properties"]["density_per_km2"]) == pytest.approx(people / _en(f["properties"]["area_km2"]), rel=4e-3)
        assert "pop2019" not in f["properties"]


def test_map_without_census_nor_raster_colours_by_area(tmp_path):
    s = _study.load(variant(tmp_path / "st", communes=bottom_communes(census=False), population=False))
    page = maps.to_html(maps.study_map(s, lang="vi"))
    assert "<b>Diện tích (km²)</b>" in page and "màu thể hiện diện tích xã" in page
    assert json.dumps("Xã, phường, thị trấn: Diện tích (km²)") in page  # the layer's name


def test_cli_map_on_gso_columns_without_districts_nor_census(tmp_path):
    from ictplan.cli import main

    root = variant(tmp_path / "st", communes=gso_communes())
    s = _study.load(root)
    assert list(s.layer("communes")["commune_code"]) == [f"3201{i}" for i in range(6)]
    out = tmp_path / "out"
    assert main(["map", str(root), "--out", str(out), "--lang", "en", "--no-results"]) == 0
    page = (out / "map.html").read_text(encoding="utf-8")
    assert '"Districts"' not in page and '"Communes: Population density (population raster)"' in page
    assert EVIL not in page and maps.external_resources(page) == []
    fc = _communes_fc(page, 6)
    assert "district_name" not in fc["features"][0]["properties"]


def test_cli_map_with_results_names_the_skipped_jobs(study, tmp_path):
    from ictplan.cli import main

    out = tmp_path / "out"
    assert main(["map", str(study.root), "--out", str(out), "--lang", "en", "--overwrite"]) == 0
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "Not shown — coverage:" in page and "Not shown — fiber:" in page  # no profiles, no roads
    assert maps.external_resources(page) == [] and EVIL not in page


def test_vietnamese_popups_write_numbers_with_a_decimal_comma(tmp_path):
    """The same map in Vietnamese and English: the people of each commune on the raster (counted
    here by hand on the cells) written 10.035 / 10,035; codes never grouped."""
    s = _study.load(variant(tmp_path / "st", communes=bottom_communes(census=False)))
    pop = s.population.counts
    for lang, thousands, decimal in (("vi", ".", ","), ("en", ",", ".")):
        fc = _communes_fc(maps.to_html(maps.study_map(s, lang=lang)), 3)
        for i, f in enumerate(fc["features"]):
            people = round(float(pop[BOTTOM_ROWS, 50 * i:50 * (i + 1)].sum()))
            assert f["properties"]["pop_raster"] == f"{people:,d}".replace(",", thousands)
            area = float(f["properties"]["area_km2"].replace(thousands, "").replace(decimal, "."))
            assert area == pytest.approx(s.layer("communes").to_crs(UTM).area.iloc[i] / 1e6, abs=0.051)
            assert thousands not in f["properties"]["commune_code"]
    assert maps.escape_frame(gpd.GeoDataFrame({"n": [1194476], "x": [19.66], "site_id": [12345]},
                                              geometry=[shapely.Point(0, 0)], crs=4326), ["n", "x", "site_id"],
                             lang="vi").iloc[0][["n", "x", "site_id"]].tolist() == ["1.194.476", "19,7", "12345"]
