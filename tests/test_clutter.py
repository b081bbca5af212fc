"""Clutter loss from ESA WorldCover land cover: P.2108 against the ITU reference code, the
profiles' table, the lookup by hand, bad codes, and the sample's synthetic raster."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio import features

import ictplan
from ictplan import engine, radio
from ictplan._errors import InputValidationError, NodataWarning
from ictplan.radio import clutter

REPO = Path(__file__).resolve().parents[1]
PROFILES = radio.load_profiles(REPO / "data" / "profiles" / "default.toml")
SAMPLE_LC = REPO / "data" / "camau" / "landcover_100m.tif"


def _p2108():
    return pytest.importorskip("ITS.ITU.PSeries.P2108")


# ---------------------------------------------------------------- P.2108 against proplib-p2108
@pytest.mark.parametrize("f_ghz", [0.7, 1.8425, 2.6, 3.0])
def test_terminal_excess_matches_proplib(f_ghz):
    p = _p2108()
    ct = p.ClutterType
    ref = p.HeightGainTerminalCorrectionModel(f_ghz, 1.5, 27.0, 10.0, ct.OpenRural)
    for kind, name, r_m in ((ct.TreesForest, "trees_forest", 15.0), (ct.Urban, "urban", 15.0),
                            (ct.Suburban, "suburban", 10.0), (ct.DenseUrban, "dense_urban", 20.0)):
        want = p.HeightGainTerminalCorrectionModel(f_ghz, 1.5, 27.0, r_m, kind) - ref
        assert clutter.p2108_excess_db(f_ghz * 1000, name, r_m) == pytest.approx(want, abs=1e-6)
    assert clutter.p2108_excess_db(f_ghz * 1000, "open_rural", 10.0) == 0.0
    assert clutter.p2108_excess_db(f_ghz * 1000, "water_sea", 10.0) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("f_ghz", [0.5, 2.0, 3.0, 3.5, 3.7, 28.0, 67.0])
@pytest.mark.parametrize("d_km", [0.25, 0.6, 1.0, 2.0, 10.0])
def test_statistical_median_matches_proplib(f_ghz, d_km):
    p = _p2108()
    want = p.TerrestrialStatisticalModel(f_ghz, d_km, 50.0)
    assert clutter.p2108_statistical_median_db(f_ghz * 1000, d_km) == pytest.approx(want, abs=1e-6)


def test_above_3ghz_takes_the_3ghz_excess_plus_the_statistical_trend():
    p = _p2108()
    ct = p.ClutterType
    at3 = (p.HeightGainTerminalCorrectionModel(3.0, 1.5, 27.0, 15.0, ct.TreesForest)
           - p.HeightGainTerminalCorrectionModel(3.0, 1.5, 27.0, 10.0, ct.OpenRural))
    for f in (3.5, 3.7):
        trend = p.TerrestrialStatisticalModel(f, 2.0, 50.0) - p.TerrestrialStatisticalModel(3.0, 2.0, 50.0)
        assert clutter.p2108_excess_db(f * 1000, "trees_forest", 15.0) == pytest.approx(at3 + trend, abs=1e-6)
    assert clutter.p2108_excess_db(3700.0, "open_rural", 10.0) == 0.0
    with pytest.raises(InputValidationError, match="0.5–67 GHz"):
        clutter.p2108_statistical_median_db(70_000.0)
    with pytest.raises(InputValidationError, match="clutter type"):
        clutter.p2108_excess_db(1800.0, "mangrove", 15.0)


# ---------------------------------------------------------------- the profiles' table
# the documented choice per WorldCover code: P.2108 clutter type (None: open land, 0 dB) and R
DOCUMENTED = {10: ("TreesForest", 15.0), 20: None, 30: None, 40: None, 50: ("Urban", 15.0), 60: None,
              70: None, 80: None, 90: None, 95: ("TreesForest", 15.0), 100: None, 0: None}


def test_default_table_is_the_documented_p2108_excess():
    p = _p2108()
    assert set(PROFILES["clutter_classes"]) == set(DOCUMENTED)
    assert {c: PROFILES["clutter_classes"][c] for c in clutter.WORLDCOVER_CLASSES} == clutter.WORLDCOVER_CLASSES
    for band, tech in (("B3", "4G"), ("n41", "5G"), ("n78", "5G")):
        f = radio.profile_for(PROFILES, "default", tech, band).freq_mhz / 1000.0
        losses = clutter.class_losses_db(PROFILES, band=band)
        for code, choice in DOCUMENTED.items():
            if choice is None:
                assert losses[code] == 0.0, (band, code)
                continue
            kind = getattr(p.ClutterType, choice[0])
            f31 = min(f, 3.0)
            want = (p.HeightGainTerminalCorrectionModel(f31, 1.5, 27.0, choice[1], kind)
                    - p.HeightGainTerminalCorrectionModel(f31, 1.5, 27.0, 10.0, p.ClutterType.OpenRural))
            if f > 3.0:
                want += p.TerrestrialStatisticalModel(f, 2.0, 50.0) - p.TerrestrialStatisticalModel(3.0, 2.0, 50.0)
            assert losses[code] == pytest.approx(want, abs=0.005), (band, code)
    # the plain values are B3's, and the table is what worldcover_table derives
    assert clutter.class_losses_db(PROFILES) == clutter.class_losses_db(PROFILES, band="B3")
    derived = clutter.worldcover_table({"B3": 1842.5, "n41": 2600.0, "n78": 3700.0})
    assert derived == pytest.approx(PROFILES["clutter_loss_db"])


# ---------------------------------------------------------------- lookup
def test_lookup_on_a_small_raster_by_hand():
    prof = {"clutter_classes": {10: "trees", 40: "crops", 80: "water"},
            "clutter_loss_db": {"trees": 5.0, "trees@n78": 7.5, "crops": 1.0, "water": 0.0}, "source": "t"}
    lc = np.array([[10, 40, 80], [80, 10, 40]], dtype=np.uint8)
    np.testing.assert_array_equal(clutter.clutter_loss_db(lc, prof), [[5.0, 1.0, 0.0], [0.0, 5.0, 1.0]])
    # a band with its own key takes it; the others keep the plain values
    np.testing.assert_array_equal(clutter.clutter_loss_db(lc, prof, band="n78"), [[7.5, 1.0, 0.0], [0.0, 7.5, 1.0]])
    np.testing.assert_array_equal(clutter.clutter_loss_db(lc, prof, band="B3"), [[5.0, 1.0, 0.0], [0.0, 5.0, 1.0]])
    out = clutter.clutter_loss_db(lc.astype(np.int32), prof)
    assert out.dtype == np.float32 and out.shape == lc.shape
    # the default profiles, by hand from the TOML: trees, built-up and mangroves 6.38 dB at B3
    wc = np.array([[10, 20, 30, 40], [50, 60, 80, 90], [95, 100, 70, 40]], dtype=np.uint8)
    want = np.where(np.isin(wc, [10, 50, 95]), 6.38, 0.0)
    np.testing.assert_allclose(clutter.clutter_loss_db(wc, PROFILES), want, atol=1e-6)
    np.testing.assert_allclose(clutter.clutter_loss_db(wc, PROFILES, band="n78"),
                               np.where(np.isin(wc, [10, 50, 95]), 8.30, 0.0), atol=1e-6)
    # engine.clutter_loss_db (what coverage.run calls) is the plain lookup
    np.testing.assert_array_equal(engine.clutter_loss_db(wc, PROFILES), clutter.clutter_loss_db(wc, PROFILES))


def test_unknown_codes_are_an_error_naming_them():
    lc = np.array([[10, 12, 12], [255, 40, 80]], dtype=np.uint8)
    with pytest.raises(InputValidationError) as err:
        clutter.clutter_loss_db(lc, PROFILES)
    msg = str(err.value)
    assert "12 (2 cells)" in msg and "255 (1 cells)" in msg and "WorldCover" in msg
    with pytest.raises(InputValidationError, match="integers"):
        clutter.clutter_loss_db(lc.astype(float), PROFILES)
    with pytest.raises(InputValidationError, match=r"\[clutter_classes\]"):
        clutter.clutter_loss_db(lc, {"source": "empty.toml"})
    assert clutter.class_counts(lc, PROFILES) == {"tree_cover": 1, "unmapped 12": 2, "unmapped 255": 1,
                                                  "cropland": 1, "water": 1}


def test_worldcover_nodata_code_zero_is_counted():
    lc = np.array([[0, 0, 10], [0, 40, 80]], dtype=np.uint8)
    with pytest.warns(NodataWarning, match="3 land-cover cell"):
        out = clutter.clutter_loss_db(lc, PROFILES)
    np.testing.assert_allclose(out, [[0.0, 0.0, 6.38], [0.0, 0.0, 0.0]], atol=1e-6)


# ---------------------------------------------------------------- the sample's synthetic raster
def _build_module():
    spec = importlib.util.spec_from_file_location("build_landcover", REPO / "scripts" / "build_landcover.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def sample():
    study = ictplan.study.load(REPO / "data" / "camau")
    grid = study.population.grid
    lc = ictplan.io.read_landcover(SAMPLE_LC, grid)  # refuses a raster off the population grid
    communes = study.layer_in_crs("communes").reset_index(drop=True)
    zone = features.rasterize(((g, i) for i, g in enumerate(communes.geometry)), out_shape=grid.shape,
                              transform=grid.transform, fill=-1, dtype="int32")
    return study, grid, lc, communes, zone


def test_sample_landcover_file_is_small_labelled_and_on_the_grid(sample):
    study, grid, lc, _, _ = sample
    assert SAMPLE_LC.stat().st_size < 300 * 1024
    with rasterio.open(SAMPLE_LC) as ds:
        assert ds.dtypes[0] == "uint8" and ds.compression is not None
        assert ds.tags()["synthetic"] == "yes" and "SYNTHETIC" in ds.tags()["source"]
    assert lc.shape == grid.shape
    assert set(np.unique(lc).tolist()) == {10, 40, 50, 80, 90, 95}
    assert set(np.unique(lc).tolist()) <= set(PROFILES["clutter_classes"])
    if "landcover" in study.layer_specs:  # the sample study names it
        np.testing.assert_array_equal(study.landcover, lc)


def test_sample_landcover_follows_the_geography(sample):
    study, grid, lc, communes, zone = sample
    inside = ~study.population.nodata_mask
    # the sea: outside the province, west of the west coast and south of the cape
    assert (lc[~inside] == 80).mean() > 0.6
    south = np.zeros(grid.shape, bool)
    south[grid.shape[0] // 2:, :] = True  # the land beyond the border lies in the north
    assert (lc[~inside & south] == 80).all()
    assert (lc[inside] != 80).mean() > 0.4  # ponds, canals and rivers aside, the province is land
    # rivers: the river lines' vertices fall in water cells
    roads = study.layer_in_crs("roads")
    xy = np.vstack([np.asarray(g.coords) for g in roads.geometry[roads["kind"] == "river"]])
    rows, cols = rasterio.transform.rowcol(grid.transform, xy[:, 0], xy[:, 1])
    on_river = lc[np.asarray(rows), np.asarray(cols)]
    assert (on_river == 80).mean() > 0.95

    def share(names, code, column="commune_name"):
        idx = np.flatnonzero(communes[column].isin(names).to_numpy())
        m = np.isin(zone, idx)
        assert m.any(), names
        return float((lc[m] == code).mean())

    # the southern cape is mostly mangrove; the forest communes of U Minh hold the tree cover
    assert share(["Huyện Ngọc Hiển", "Huyện Năm Căn"], 95, "district_name") > 0.5
    assert share(["Xã Đất Mũi"], 95) > 0.5
    forest = ["Xã Khánh An", "Xã Khánh Lâm", "Xã Khánh Thuận", "Xã Nguyễn Phích", "Xã Trần Hợi", "Xã Khánh Bình Tây Bắc"]
    assert share(forest, 10) > 0.2
    in_forest = np.isin(zone, np.flatnonzero(communes["commune_name"].isin(forest).to_numpy()))
    assert (lc[~in_forest] == 10).sum() == 0
    # built-up in the city wards, rare in rural communes; its cells hold the dense people
    assert share(communes.loc[communes["district_name"] == "Thành phố Cà Mau", "commune_name"]
                 [communes["commune_type"] == "Phường"].tolist(), 50) > 0.2
    rural = communes.loc[communes["commune_type"] == "Xã", "commune_name"].tolist()
    assert share(rural, 50) < 0.02
    people = np.where(inside, study.population.counts, 0.0)
    assert people[lc == 50].mean() > 5 * people[inside].mean()


def test_build_is_deterministic_and_reproduces_the_committed_file(sample):
    _, grid, lc, _, _ = sample
    mod = _build_module()
    a, tags = mod.build(REPO / "data" / "camau")
    b, _ = mod.build(REPO / "data" / "camau")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, lc)
    assert tags["synthetic"] == "yes"
    # another seed moves the ponds only (water ↔ wetland in the aquaculture districts)
    c, _ = mod.build(REPO / "data" / "camau", seed=7)
    diff = a != c
    assert diff.any() and set(np.unique(a[diff]).tolist()) | set(np.unique(c[diff]).tolist()) <= {80, 90}


def test_sample_clutter_losses(sample):
    _, _, lc, _, _ = sample
    loss = clutter.clutter_loss_db(lc, PROFILES)
    assert math.isclose(float(loss.max()), 6.38, abs_tol=1e-6)
    np.testing.assert_array_equal(loss > 0, np.isin(lc, [10, 50, 95]))


# ---------------------------------------------------------------- the Bạc Liêu sample's raster
BACLIEU = REPO / "data" / "baclieu"
# the coast's ends (WGS84): the Gành Hào mouth and the Sóc Trăng border; the sea lies south-east
COAST_A, COAST_B = (105.44, 9.06), (105.83, 9.26)


def _makefile_baclieu_argv() -> list[str]:
    import shlex

    text = (REPO / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(ln for ln in text.splitlines() if "build_landcover.py data/baclieu" in ln)
    argv = shlex.split(line)
    return argv[argv.index("scripts/build_landcover.py") + 1:]


@pytest.fixture(scope="module")
def baclieu():
    from pyproj import Transformer

    study = ictplan.study.load(BACLIEU)
    grid = study.population.grid
    lc = ictplan.io.read_landcover(BACLIEU / "landcover_100m.tif", grid)
    communes = study.layer_in_crs("communes").reset_index(drop=True)
    zone = features.rasterize(((g, i) for i, g in enumerate(communes.geometry)), out_shape=grid.shape,
                              transform=grid.transform, fill=-1, dtype="int32")
    rows, cols = np.indices(grid.shape)
    xs, ys = rasterio.transform.xy(grid.transform, rows.ravel(), cols.ravel())
    xy = np.column_stack([xs, ys])
    to_grid = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    a, b = np.array(to_grid.transform(*COAST_A)), np.array(to_grid.transform(*COAST_B))
    u = (b - a) / np.linalg.norm(b - a)
    seaward_m = ((xy - a) @ np.array([u[1], -u[0]])).reshape(grid.shape)  # > 0: south-east of the coast line
    along_m = ((xy - a) @ u).reshape(grid.shape)
    return study, grid, lc, communes, zone, seaward_m, along_m, float(np.linalg.norm(b - a))


def test_baclieu_landcover_is_small_labelled_and_what_the_makefile_builds(baclieu):
    study, grid, lc, _, _, _, _, _ = baclieu
    path = BACLIEU / "landcover_100m.tif"
    assert path.stat().st_size < 100 * 1024
    with rasterio.open(path) as ds:
        tags = ds.tags()
    assert tags["synthetic"] == "yes" and "coast 105.44,9.06,105.83,9.26, sea on its right" in tags["rules"]
    assert set(np.unique(lc).tolist()) == {40, 50, 80, 90, 95}  # no U Minh forest, no cape
    np.testing.assert_array_equal(study.landcover, lc)
    mod = _build_module()
    study_dir, _, kwargs = mod.options(_makefile_baclieu_argv())
    assert study_dir == Path("data/baclieu") and kwargs["outside_land"] == "coast"
    built, _ = mod.build(REPO / study_dir, **kwargs)
    np.testing.assert_array_equal(built, lc)


def test_baclieu_sea_lies_south_east_of_the_coast(baclieu):
    study, _, lc, _, _, seaward_m, _, _ = baclieu
    outside = study.population.nodata_mask
    far_sea = outside & (seaward_m > 1000)
    assert far_sea.sum() > 10_000 and (lc[far_sea] == 80).all()
    # the land around the province (Cà Mau, Kiên Giang, Hậu Giang, Sóc Trăng) is cropland, not sea;
    # the outline's coast bows up to ~3 km landward of the straight line, so "land" starts 5 km in
    far_land = outside & (seaward_m < -5000)
    assert far_land.sum() > 50_000 and (lc[far_land] == 40).all()
    # ponds, canals and rivers aside, the province is land
    assert (lc[~outside] != 80).mean() > 0.4


def test_baclieu_mangrove_belt_within_1km_of_the_coast(baclieu):
    from scipy.spatial import cKDTree

    study, grid, lc, communes, zone, _, along_m, coast_m = baclieu
    inside = ~study.population.nodata_mask
    sea = ~inside & (lc == 80)
    res = abs(grid.transform.a)
    rows, cols = np.indices(grid.shape)
    centres = np.column_stack([cols.ravel(), rows.ravel()]) * res
    d_sea_m, _ = cKDTree(centres[sea.ravel()]).query(centres[inside.ravel()])
    near = np.zeros(grid.shape, bool)
    near[inside] = d_sea_m <= 1000 + 1e-6
    # mangroves only in the belt (no cape districts here), and most of the belt is mangrove
    assert near.sum() > 3000
    assert not (lc[inside & ~near] == 95).any()
    assert (lc[near] == 95).mean() > 0.7
    # the belt runs the whole coast: no gap over 2 km between the Gành Hào mouth and Sóc Trăng
    s = np.sort(along_m[lc == 95])
    assert s[0] < 0.05 * coast_m and s[-1] > 0.95 * coast_m and np.diff(s).max() < 2000

    def share(names, code, column="commune_name"):
        m = np.isin(zone, np.flatnonzero(communes[column].isin(names).to_numpy()))
        assert m.any(), names
        return float((lc[m] == code).mean())

    for name in ("Xã Điền Hải", "Xã Long Điền Tây", "Phường Nhà Mát", "Xã Hiệp Thành", "Xã Vĩnh Thịnh"):
        assert share([name], 95) > 0.02, name
    assert share(["Huyện Hồng Dân", "Huyện Phước Long", "Huyện Vĩnh Lợi"], 95, "district_name") == 0.0


def test_baclieu_built_up_in_the_city_wards(baclieu):
    study, _, lc, communes, zone, _, _, _ = baclieu
    wards = communes[(communes["district_name"] == "Thành phố Bạc Liêu") & (communes["commune_type"] == "Phường")]
    assert len(wards) == 7
    m = np.isin(zone, wards.index.to_numpy())
    assert (lc[m] == 50).mean() > 0.2
    rural = np.isin(zone, np.flatnonzero((communes["commune_type"] == "Xã").to_numpy()))
    assert (lc[rural] == 50).mean() < 0.02
    inside = ~study.population.nodata_mask
    people = np.where(inside, study.population.counts, 0.0)
    assert people[lc == 50].mean() > 5 * people[inside].mean()


def test_coast_option_is_checked(capsys):
    mod = _build_module()
    for argv, msg in ((["--coast", "105.44,9.06,105.83"], "four numbers"),
                      (["--coast", "105.44,9.06,105.83,9.26", "--outside-land", "all"], "drop --outside-land"),
                      (["--outside-land", "coast"], "needs --coast")):
        with pytest.raises(SystemExit):
            mod.options(["data/baclieu", *argv])
        assert msg in capsys.readouterr().err
    _, _, kw = mod.options(["data/baclieu", "--coast", "105.44,9.06,105.83,9.26"])
    assert kw["outside_land"] == "coast" and kw["coast_lonlat"] == (105.44, 9.06, 105.83, 9.26)
    assert mod.options(["data/camau"])[2]["outside_land"] == "ne" and mod.options(["data/camau"])[2]["coast_lonlat"] is None
    with pytest.raises(ValueError, match="go together"):
        mod.build(BACLIEU, outside_land="coast")
