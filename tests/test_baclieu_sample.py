"""Invariants of the embedded Bạc Liêu sample study (``data/baclieu``): the old Bạc Liêu
province's 64 communes, built by ``scripts/build_camau_sample.py --province "Bạc Liêu"``
with the rules of the Cà Mau sample, on a grid that combines with ``data/camau``.

These tests read the committed files directly (geopandas, rasterio); the study test loads
them through ictplan. Tests marked ``realdata`` compare with the real inputs in
``../shared/data/camau`` and skip when that folder is absent.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from rasterio import features

from ._studydata import road_components

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "baclieu"
CAMAU = REPO / "data" / "camau"
GPKG = SAMPLE / "baclieu.gpkg"
POP_TIF = SAMPLE / "population_100m.tif"
SHARED = REPO.parent / "shared" / "data" / "camau"
PROVINCE_POP = 907_236  # GSO 2019 census, old Bạc Liêu (issue 14)
EPSG = 32648
LAYERS = ["communes", "districts", "hamlets", "roads", "postal_points", "facilities", "dtt_transmitters",
          "poles", "spans"]


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    return gpd.read_file(GPKG, layer="communes")


@pytest.fixture(scope="module")
def pop():
    with rasterio.open(POP_TIF) as src:
        return {"a": src.read(1), "transform": src.transform, "crs": src.crs, "res": src.res,
                "nodata": src.nodata, "dtype": src.dtypes[0]}


def _read_pop(path: Path):
    with rasterio.open(path) as src:
        return src.read(1), src.transform, src.crs


# --------------------------------------------------------------------------------------
# files and sizes
# --------------------------------------------------------------------------------------
def test_files_present_and_small():
    files = ("baclieu.gpkg", "fiber.gpkg", "access_points.gpkg", "population_100m.tif", "landcover_100m.tif", "sites.csv",
             "opencellid_452.csv", "study.toml")
    for f in files:
        assert (SAMPLE / f).is_file(), f
        assert (SAMPLE / f).stat().st_size < 5 * 1024 * 1024, f"{f} is over 5 MB"
    own = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert own <= 8 * 1024 * 1024, f"data/baclieu is {own / 1e6:.1f} MB (at most 8 MB)"
    total = sum(p.stat().st_size for p in (REPO / "data").rglob("*") if p.is_file())
    assert total < 20 * 1024 * 1024, f"data/ is {total / 1e6:.1f} MB (under 20 MB, issue 14)"


# --------------------------------------------------------------------------------------
# communes: real codes, names, census
# --------------------------------------------------------------------------------------
def test_communes_codes_names_census(communes):
    assert len(communes) == 64
    assert communes.commune_code.str.fullmatch(r"\d{5}").all() and communes.commune_code.is_unique
    assert int(communes.pop2019.sum()) == PROVINCE_POP
    assert set(communes.commune_type) == {"Phường", "Thị trấn", "Xã"}
    for c in ("commune_name", "commune_type", "district_name"):
        assert (communes[c] == communes[c].map(lambda s: unicodedata.normalize("NFC", s))).all()
    # the province's 7 old districts, by their GSO codes (954 city ... 961)
    assert sorted(communes.district_code.unique()) == ["954", "956", "957", "958", "959", "960", "961"]
    assert (communes.geometry.is_valid & ~communes.geometry.is_empty).all()
    # an exact coverage: no overlaps (the areas of the union and of the parts agree)
    u = shapely.union_all(communes.geometry.to_numpy())
    assert abs(u.area - communes.area.sum()) < 1.0  # m²


@pytest.mark.realdata
def test_communes_are_the_real_ones(communes):
    real = pd.read_csv(SHARED / "commune_points_2019_baclieu.csv", dtype={"ma_xa": str})
    assert len(real) == 64
    got = communes.set_index("commune_code")
    real = real.set_index(real.ma_xa.str.zfill(5))
    assert set(got.index) == set(real.index)
    got = got.loc[real.index]
    assert (got.commune_name.to_numpy() == real.ten_xa.map(lambda s: unicodedata.normalize("NFC", s)).to_numpy()).all()
    assert (got.commune_type.to_numpy() == real.loai_xa.to_numpy()).all()
    np.testing.assert_array_equal(got.pop2019.to_numpy(), real.pop2019_total.to_numpy())
    np.testing.assert_array_equal(got.hh2019.to_numpy(), real.hh2019_total.to_numpy())
    np.testing.assert_array_equal(got.pop2019_urban.to_numpy(), real.pop2019_urban.to_numpy())


@pytest.mark.realdata
def test_polygons_from_the_real_points_inside_the_real_outline(communes):
    real = pd.read_csv(SHARED / "commune_points_2019_baclieu.csv", dtype={"ma_xa": str})
    o = gpd.read_file(SHARED / "province_outline_geoboundaries.geojson")
    o = o[o.shapeName.map(lambda s: unicodedata.normalize("NFC", s)) == "Bạc Liêu"].to_crs(EPSG).geometry.iloc[0]
    u = shapely.union_all(communes.geometry.to_numpy())
    assert u.symmetric_difference(o).area < 1e-4 * o.area
    pts = gpd.GeoSeries(gpd.points_from_xy(real.lon, real.lat), crs=4326).to_crs(EPSG).to_numpy()
    poly = communes.set_index("commune_code").geometry.loc[real.ma_xa.str.zfill(5)].to_numpy()
    inside = shapely.contains(o, pts)
    assert inside.sum() == 60  # the coarse outline leaves 4 real points outside
    assert shapely.contains(poly[inside], pts[inside]).all()  # each in its own polygon
    # the 4 outside were moved 300 m inside: their polygon is the one nearest the real point
    for i in np.flatnonzero(~inside):
        d = shapely.distance(communes.geometry.to_numpy(), pts[i])
        assert communes.commune_code.iloc[int(np.argmin(d))] == real.ma_xa.iloc[i].zfill(5)


# --------------------------------------------------------------------------------------
# population raster
# --------------------------------------------------------------------------------------
def test_population_per_commune_equals_the_census_exactly(pop, communes):
    """Every cell holds a multiple of 1/8 person (exact in float32 and in float64 sums), so
    the sum over each commune's cells (cell-centre rule) is its census figure EXACTLY."""
    a = pop["a"].astype(np.float64)
    valid = a >= 0
    assert np.array_equal(a[valid] * 8, np.round(a[valid] * 8))  # multiples of 1/8
    ids = features.rasterize(((g, i + 1) for i, g in enumerate(communes.geometry)),
                             out_shape=a.shape, transform=pop["transform"], fill=0, dtype="int32")
    v = np.where(valid, a, 0.0)
    sums = np.bincount(ids.ravel(), weights=v.ravel(), minlength=len(communes) + 1)
    assert sums[0] == 0  # nobody outside the communes
    np.testing.assert_array_equal(sums[1:], communes.pop2019.to_numpy().astype(np.float64))
    assert float(v.sum()) == PROVINCE_POP


def test_population_is_plausible(pop):
    """Dense in Bạc Liêu city's centre (its 1 km window is denser than 95 % of populated
    windows); people live along the roads (at least 80 % within 150 m of one)."""
    from scipy import ndimage

    a = np.where(pop["a"] > 0, pop["a"], 0.0)
    t = pop["transform"]
    win = ndimage.uniform_filter(a, 10)  # 1 km windows
    x, y = gpd.GeoSeries.from_xy([105.724], [9.288], crs=4326).to_crs(EPSG).get_coordinates().iloc[0]
    row, col = int((t.f - y) / 100), int((x - t.c) / 100)
    assert (win[a > 0] < win[row, col]).mean() > 0.95
    roads = gpd.read_file(GPKG, layer="roads")
    on = features.rasterize(((g, 1) for g in roads.geometry[roads.kind.isin(["road", "bridge"])]),
                            out_shape=a.shape, transform=t, all_touched=True, dtype="uint8")
    d_m = ndimage.distance_transform_edt(on == 0) * 100.0
    assert a[d_m <= 150].sum() / a.sum() > 0.80


def test_polygon_areas_fit_the_official_areas(communes):
    """The power diagram's weights are fitted to the official areas: the median commune is
    within 10 % of its official area (tiny city wards are larger: their points keep a ring)."""
    r = communes.area_km2 / communes.area_km2_official
    r = r * communes.area_km2_official.sum() / communes.area_km2.sum()
    assert 0.9 < float(np.median(r)) < 1.1
    assert float(np.percentile(r, 75)) < 1.2


# --------------------------------------------------------------------------------------
# one grid with data/camau
# --------------------------------------------------------------------------------------
def test_grid_aligns_with_camau(pop):
    a_cm, t_cm, crs_cm = _read_pop(CAMAU / "population_100m.tif")
    t = pop["transform"]
    assert pop["crs"].to_epsg() == crs_cm.to_epsg() == EPSG
    assert pop["res"] == (100.0, 100.0) and (t.a, t.e) == (t_cm.a, t_cm.e) == (100.0, -100.0)
    assert t.b == t.d == t_cm.b == t_cm.d == 0
    # both origins on multiples of 100 m: every cell of one grid is a cell of the other
    assert t.c % 100 == 0 and t.f % 100 == 0 and t_cm.c % 100 == 0 and t_cm.f % 100 == 0
    col_off, row_off = (t.c - t_cm.c) / 100, (t_cm.f - t.f) / 100
    assert col_off == int(col_off) and row_off == int(row_off)
    # put both on one canvas: no cell is in both provinces, nobody is counted twice
    a = pop["a"]
    c0, r0 = min(0, int(col_off)), min(0, int(row_off))
    w = max(a_cm.shape[1], int(col_off) + a.shape[1]) - c0
    h = max(a_cm.shape[0], int(row_off) + a.shape[0]) - r0
    both = np.zeros((h, w), np.int8)
    both[-r0: -r0 + a_cm.shape[0], -c0: -c0 + a_cm.shape[1]] += (a_cm >= 0)
    both[int(row_off) - r0: int(row_off) - r0 + a.shape[0], int(col_off) - c0: int(col_off) - c0 + a.shape[1]] += (a >= 0)
    assert both.max() == 1
    assert (both == 1).sum() == (a_cm >= 0).sum() + (a >= 0).sum()


def test_shared_roads_meet_at_the_border():
    """Quốc lộ 1 of both samples ends at the same point of the shared border."""
    ends = []
    for folder, gpkg in ((SAMPLE, "baclieu.gpkg"), (CAMAU, "camau.gpkg")):
        r = gpd.read_file(folder / gpkg, layer="roads")
        ql1 = r[(r.name == "Quốc lộ 1") & (r.kind == "road")].geometry.to_numpy()
        ends.append(np.vstack([shapely.get_coordinates(shapely.get_point(ql1, k)) for k in (0, -1)]))
    d = np.hypot(*(ends[0][:, None, :] - ends[1][None, :, :]).transpose(2, 0, 1))
    assert d.min() < 0.01  # metres (coordinates are stored to 1 cm)


# --------------------------------------------------------------------------------------
# roads: one connected network + two deliberate islands; the real main lines by name
# --------------------------------------------------------------------------------------
def test_road_network_connected_with_two_islands():
    r = gpd.read_file(GPKG, layer="roads")
    assert {"road", "canal", "river"} <= set(r.kind)
    net = r[r.kind != "river"]
    noded, seg_lab, length = road_components(net.geometry.to_numpy())
    main = int(np.argmax(length))
    others = [k for k in range(len(length)) if k != main]
    assert len(others) == 2, f"expected exactly the 2 deliberate islands, got {len(others)}"
    isl = shapely.union_all(net[net.name.str.startswith("Kênh biệt lập")].geometry.to_numpy())
    assert isl.length == pytest.approx(length[others].sum(), rel=1e-9)
    ham = gpd.read_file(GPKG, layer="hamlets").geometry
    cen = ham.centroid
    anchor = np.where(ham.contains(cen), cen, ham.representative_point())
    main_geom = shapely.union_all(noded[seg_lab == main])
    assert (shapely.distance(anchor, main_geom) < 1.0).all()  # every hamlet centre on the network


def test_main_roads_canals_and_river():
    """Quốc lộ 1 runs from the Sóc Trăng border (east of 105.78°E) to the Cà Mau border
    (west of 105.30°E) through Bạc Liêu city (within 1 km of its centre); the Gành Hào
    river lies on the Cà Mau border."""
    r = gpd.read_file(GPKG, layer="roads").to_crs(4326)
    names = set(r.name)
    assert {"Quốc lộ 1", "Đường Quản Lộ – Phụng Hiệp", "Đường Bạc Liêu – Nhà Mát",
            "Đường ven biển Nhà Mát – Gành Hào", "Kênh xáng Bạc Liêu – Cà Mau", "Kênh Quản Lộ – Phụng Hiệp",
            "Sông Gành Hào"} <= names
    ql1 = shapely.union_all(r[(r.name == "Quốc lộ 1") & (r.road_class == "national")].geometry.to_numpy())
    lon = shapely.get_coordinates(ql1)[:, 0]
    assert lon.max() > 105.78 and lon.min() < 105.30
    centre = gpd.GeoSeries.from_xy([105.7206], [9.284], crs=4326).to_crs(EPSG).iloc[0]
    assert gpd.GeoSeries([ql1], crs=4326).to_crs(EPSG).iloc[0].distance(centre) < 1000
    cm = gpd.read_file(CAMAU / "camau.gpkg", layer="communes").to_crs(EPSG)
    river = r[r.name == "Sông Gành Hào"].to_crs(EPSG).geometry.iloc[0]
    border = shapely.union_all(cm.geometry.to_numpy()).boundary
    assert shapely.hausdorff_distance(river, border.intersection(river.buffer(200))) < 200
    assert river.length > 15_000


# --------------------------------------------------------------------------------------
# layers load through ictplan
# --------------------------------------------------------------------------------------
def test_layers_load():
    import ictplan

    st = ictplan.study.load(SAMPLE)
    assert st.province == "Bạc Liêu"
    checks = st.check()
    assert not [c for c in checks if c.error], [f"{c.name}: {c.error}" for c in checks if c.error]
    n = {c.name: c for c in checks}
    assert {"communes", "hamlets", "population", "landcover", "sites", "cells", "roads", "fiber_routes",
            "access_points", "postal_points", "facilities", "dtt_transmitters"} <= set(n)
    communes = st.layer("communes")
    assert len(communes) == 64
    sites = pd.read_csv(SAMPLE / "sites.csv")
    assert set(sites.operator) == {"Viettel", "VNPT", "MobiFone"}
    assert set(sites.technology) == {"4G", "5G"}


@pytest.mark.parametrize("name", LAYERS)
def test_gpkg_layers_in_the_working_crs(name):
    gdf = gpd.read_file(GPKG, layer=name)
    assert len(gdf) > 0 and gdf.crs.to_epsg() == EPSG
    assert gdf.geometry.is_valid.all()


@pytest.mark.realdata
def test_builder_is_reproducible(tmp_path, communes, pop):
    """The committed sample is what the builder makes from the real inputs (seed 2021)."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("build_camau_sample", REPO / "scripts" / "build_camau_sample.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["build_camau_sample"] = mod
    spec.loader.exec_module(mod)
    mod.build(SHARED, tmp_path, seed=2021, province="Bạc Liêu")
    again = gpd.read_file(tmp_path / "baclieu.gpkg", layer="communes")
    pd.testing.assert_frame_equal(again.drop(columns="geometry"), communes.drop(columns="geometry"))
    assert again.geometry.geom_equals_exact(communes.geometry, tolerance=0).all()
    with rasterio.open(tmp_path / "population_100m.tif") as src:
        assert src.transform == pop["transform"]
        np.testing.assert_array_equal(src.read(1), pop["a"])
    assert (tmp_path / "sites.csv").read_bytes() == (SAMPLE / "sites.csv").read_bytes()
