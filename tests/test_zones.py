"""One zone accounting (ictplan.zones): exact weights against a shapely oracle, overlaps
resolved so nobody is counted twice, and coverage and fiber on the same weights."""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from affine import Affine

from ictplan import coverage, engine, fiber, radio, study, zones
from ictplan.errors import RepairWarning
from ictplan.grid import OUTSIDE_ZONES, Grid, Population

from ._studydata import build_study

REPO = Path(__file__).resolve().parents[1]
UTM = pyproj.CRS(32648)
X0, Y0 = 500_000.0, 1_000_000.0
RES = 100.0


def grid(w=20, h=15):
    return Grid(Affine(RES, 0, X0, 0, -RES, Y0), w, h, UTM)


def population(g, seed=3):
    rng = np.random.default_rng(seed)
    counts = rng.gamma(2.0, 5.0, g.shape)
    return Population(g, counts, np.zeros(g.shape, bool))


def frame(geoms, codes=None):
    codes = codes or [f"Z{i}" for i in range(len(geoms))]
    return gpd.GeoDataFrame({"commune_code": codes, "commune_name": [f"Xã {c}" for c in codes]},
                            geometry=list(geoms), crs=UTM)


def oracle(gdf, g):
    """Cell fractions by shapely: area(cell ∩ zone) / cell area, zones × cells (dense)."""
    H, W = g.shape
    cols, rows = np.meshgrid(np.arange(W), np.arange(H))
    x0 = X0 + cols.ravel() * RES
    y1 = Y0 - rows.ravel() * RES
    cells = shapely.box(x0, y1 - RES, x0 + RES, y1)
    return np.array([shapely.area(shapely.intersection(cells, z)) / RES**2 for z in gdf.geometry.values])


# a triangle and a rotated square whose edges cut cells; a square overlapping both
CUT = [shapely.Polygon([(X0 + 130, Y0 - 170), (X0 + 1270, Y0 - 230), (X0 + 610, Y0 - 1310)]),
       shapely.affinity.rotate(shapely.box(X0 + 1250, Y0 - 1350, X0 + 1850, Y0 - 400), 17),
       shapely.box(X0 + 1033, Y0 - 777, X0 + 1444, Y0 - 333)]


def test_exact_weights_equal_the_shapely_oracle_on_cut_cells():
    g = grid()
    gdf = frame(CUT[:2])
    zw = zones.build(gdf, g)
    want = oracle(gdf, g)
    assert zw.overlap.n_pairs == 0 and zw.overlap.cells == 0
    np.testing.assert_allclose(zw.matrix.toarray(), want, atol=1e-6)
    np.testing.assert_allclose(zw.outside, 1.0 - want.sum(axis=0), atol=1e-6)
    # people in cells cut by the boundaries: zone rows + outside = the raster total
    pop = population(g)
    sums = zw.sums_with_outside(pop.counts)
    assert sums.sum() == pytest.approx(pop.total, rel=1e-6)
    np.testing.assert_allclose(zw.sums(pop.counts), want @ pop.counts.ravel(), rtol=1e-6)


def test_overlapping_zones_split_proportionally_nobody_counted_twice():
    g = grid()
    gdf = frame(CUT)  # zone 2 overlaps both others, with people in the overlap
    pop = population(g)
    zw = zones.build(gdf, g, population=pop)
    raw = oracle(gdf, g)
    col = raw.sum(axis=0)
    assert (col > 1 + 1e-6).any()  # the overlap holds whole and cut cells
    want = raw / np.maximum(col, 1.0)  # the documented rule: over-full columns scaled to 1
    np.testing.assert_allclose(zw.matrix.toarray(), want, atol=1e-6)
    assert zw.matrix.sum(axis=0).max() <= 1.0 + 1e-12
    sums = zw.sums_with_outside(pop.counts)
    assert sums.sum() == pytest.approx(pop.total, rel=1e-6)
    # the report: pairs and areas from the polygons, cells and people from the grid
    rep = zw.overlap
    areas = {(a, b): shapely.area(shapely.intersection(CUT[i], CUT[j]))
             for (i, a), (j, b) in [((0, "Z0"), (2, "Z2")), ((1, "Z1"), (2, "Z2"))]}
    assert rep.n_pairs == 2
    got = {(r.zone_a, r.zone_b): r.area_m2 for r in rep.pairs.itertuples()}
    assert got == pytest.approx(areas, rel=1e-9)
    assert rep.area_m2 == pytest.approx(sum(areas.values()), rel=1e-9)
    assert rep.cells == int((col > 1 + 1e-6).sum()) > 0
    assert rep.people == pytest.approx(float(np.maximum(col - 1, 0) @ pop.counts.ravel()), rel=1e-5)
    assert "2 overlapping pair(s)" in rep.summary() and "split proportionally" in rep.summary()
    # the same numbers from overlap_report, with and without a grid
    assert zones.overlap_report(gdf, population=pop).people == pytest.approx(rep.people)
    assert zones.overlap_report(gdf).n_pairs == 2


def test_coverage_table_rows_plus_outside_equal_the_raster_total_with_overlaps():
    g = grid(30, 20)
    pop = population(g, seed=5)
    gdf = frame(CUT)
    sites = gpd.GeoDataFrame({"sector_id": ["a"], "operator": "Viettel", "technology": "4G", "band": "B3",
                              "azimuth_deg": [np.nan], "height_m": [30.0]},
                             geometry=[shapely.Point(X0 + 1000, Y0 - 800)], crs=UTM)
    profiles = radio.load_profiles(REPO / "data" / "profiles" / "default.toml")
    res = coverage.compute(sites, pop, profiles)
    tab = coverage.population_covered(res, pop, {"communes": gdf})
    part = tab[(tab.level == "communes") & (tab.operator == "any")]
    assert OUTSIDE_ZONES in set(part.zone_code)
    assert part.population.sum() == pytest.approx(pop.total, rel=1e-6)
    cov = res.layers[("any", "4G")].covered
    assert part.pop_covered.sum() == pytest.approx(pop.counts[cov].sum(), rel=1e-6)
    prov = tab[(tab.level == "province") & (tab.operator == "any")]
    inside = part[part.zone_code != OUTSIDE_ZONES]
    assert prov.population.iloc[0] == pytest.approx(inside.population.sum(), rel=1e-9)


def test_primary_zone_is_the_largest_share():
    g = grid()
    zw = zones.build(frame(CUT), g)
    dense = zw.matrix.toarray()
    want = np.where(dense.max(axis=0) > 0, dense.argmax(axis=0), -1)
    np.testing.assert_array_equal(zw.primary(), want)
    cells = np.array([0, 25, 61, 140])
    np.testing.assert_array_equal(zw.primary(cells), want[cells])


# --------------------------------------------------------------------------- a small study
def _cut_study(tmp_path):
    """The synthetic study with communes shifted by 37 m (their edges cut cells) and the
    first two overlapping by 60 m, plus a road grid; every cell is populated."""
    root = build_study(tmp_path / "s")
    gpkg = root / "s.gpkg"
    com = gpd.read_file(gpkg, layer="communes")
    geoms = [shapely.affinity.translate(g, 37.0, -37.0) for g in com.geometry]
    geoms[1] = shapely.affinity.translate(geoms[1], -60.0, 0.0)  # overlaps commune 0
    com = com.set_geometry(geoms)
    com.to_file(gpkg, layer="communes_cut", driver="GPKG")
    x0, y0 = 510_000.0, 1_010_000.0
    lines = [shapely.LineString([(x0, y0 + k), (x0 + 15_000, y0 + k)]) for k in range(500, 10_000, 1000)]
    lines += [shapely.LineString([(x0 + k, y0), (x0 + k, y0 + 10_000)]) for k in range(500, 15_000, 1000)]
    gpd.GeoDataFrame({"kind": ["road"] * len(lines)}, geometry=lines, crs="EPSG:32648").to_file(
        gpkg, layer="roads", driver="GPKG")
    toml = (root / "study.toml").read_text(encoding="utf-8")
    toml = toml.replace('communes = { path = "s.gpkg", layer = "communes" }',
                        'communes = { path = "s.gpkg", layer = "communes_cut" }\n'
                        'roads = { path = "s.gpkg", layer = "roads" }')
    toml += f'\n[profiles]\npath = "{(REPO / "data" / "profiles" / "default.toml").as_posix()}"\n'
    (root / "study.toml").write_text(toml, encoding="utf-8")
    return study.load(root)


def test_fiber_households_per_commune_equal_coverage_population_per_commune(tmp_path):
    s = _cut_study(tmp_path)
    with pytest.warns(RepairWarning, match="overlapping pair"):  # said when the weights are built ...
        zw = zones.for_study(s, "communes")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ... once: the cached weights say nothing more
        assert zones.for_study(s, "communes") is zw  # cached on the study
    assert zw.overlap.n_pairs >= 1 and zw.overlap.cells > 0 and zw.overlap.people > 0
    cov = coverage.run(s, levels=("communes",), progress=False)
    fib = fiber.run(s)
    t = cov.table
    pop = t[(t.level == "communes") & (t.operator == "any") & (t.technology == "4G")].set_index("zone_code")
    com = s.layer("communes")
    pph = (com["pop2019"] / com["hh2019"]).to_numpy()
    fc = fib.communes.set_index("commune_code")
    codes = com["commune_code"].astype(str).to_numpy()
    np.testing.assert_allclose(fc.loc[codes, "households"].to_numpy() * pph, pop.loc[codes, "population"].to_numpy(),
                               rtol=1e-9)
    # nobody lost: commune rows + outside = the raster; the province rows agree on who is in
    total = s.population.total
    assert pop.population.sum() == pytest.approx(total, rel=1e-6)
    assert fib.province["households"].iloc[0] == pytest.approx(fc["households"].sum(), rel=1e-12)
    prov = t[(t.level == "province") & (t.operator == "any") & (t.technology == "4G")]
    assert prov.population.iloc[0] == pytest.approx(pop.loc[codes, "population"].sum(), rel=1e-9)
    # the parameters used are recorded
    assert fib.parameters["drop_limit_m"] == fiber.FIBER.drop_limit_m
    assert cov.parameters["method"] == "exact"


def test_fiber_hamlet_polygons_share_cells_like_communes():
    g = grid(20, 15)
    counts = np.full(g.shape, 4.0)
    pop = Population(g, counts, np.zeros(g.shape, bool))
    com = frame([shapely.box(X0 + 0, Y0 - 1500, X0 + 1050, Y0), shapely.box(X0 + 1050, Y0 - 1500, X0 + 2000, Y0)])
    com["pop2019"], com["hh2019"] = [400, 300], [100, 100]
    ham = gpd.GeoDataFrame({"hamlet_code": ["h1", "h2"], "hamlet_name": ["Ấp 1", "Ấp 2"], "commune_code": ["Z0", "Z1"]},
                           geometry=[shapely.box(X0, Y0 - 750, X0 + 2000, Y0 - 10),
                                     shapely.box(X0, Y0 - 1500, X0 + 2000, Y0 - 750)], crs=UTM)
    hh = fiber.households_from_population(pop, com, hamlets=ham)
    # column 10 is cut 50/50 by the commune boundary at x = 1050
    c_sh = hh.attrs["commune_shares"].toarray()
    assert c_sh.sum(axis=1) == pytest.approx([(10 * 15 + 0.5 * 15) * 4 / 4, (9 * 15 + 0.5 * 15) * 4 / 3])
    assert hh["households"].sum() == pytest.approx(c_sh.sum())
    h_sh = hh.attrs["hamlet_shares"].toarray()
    # the 10 m strip along the top is outside every hamlet
    assert h_sh.sum() == pytest.approx(hh["households"].sum() - hh[hh.row == 0]["households"].sum() * 0.1)


def test_spawned_workers_give_the_same_answer(monkeypatch):
    g = Grid(Affine(100.0, 0, X0, 0, -100.0, Y0), 40, 30, UTM)
    xy = [(X0 + 700.0 * i, Y0 - 500.0 * i) for i in range(5)]
    sites = gpd.GeoDataFrame({"sector_id": [f"s{i}" for i in range(5)], "operator": "default", "technology": "4G",
                              "band": "B3", "azimuth_deg": [0, 70, 140, 210, 280], "height_m": 30.0},
                             geometry=gpd.points_from_xy(*zip(*xy, strict=True)), crs=UTM)
    prof = radio.profile_for(radio.load_profiles(REPO / "data" / "profiles" / "default.toml"), "Viettel", "4G", "B3")
    clutter = np.full(g.shape, 2.5, np.float32)
    one = coverage.best_server(sites, g, prof, clutter_loss=clutter)
    monkeypatch.setattr(engine, "START_METHOD", "spawn")
    two = coverage.best_server(sites, g, prof, clutter_loss=clutter, window_rows=4, n_jobs=2)
    for k in one:
        np.testing.assert_array_equal(one[k], two[k])
    assert np.isfinite(one["rsrp_dbm"]).any()


def test_districts_absent_when_the_study_has_none():
    g = grid()
    pop = population(g)
    gdf = frame(CUT[:2])
    sites = gpd.GeoDataFrame({"sector_id": ["a"], "operator": "Viettel", "technology": "4G", "band": "B3",
                              "azimuth_deg": [np.nan], "height_m": [30.0]},
                             geometry=[shapely.Point(X0 + 1000, Y0 - 800)], crs=UTM)
    import tomllib
    import types

    with (REPO / "data" / "profiles" / "default.toml").open("rb") as fh:
        raw = tomllib.load(fh)
    layers = {"communes": gdf, "sites": sites}
    s = types.SimpleNamespace(population=pop, profiles=raw, profiles_path="default.toml", landcover=None,
                              layer=lambda n: layers[n], has=lambda n: n in layers, parameters={}, _cache={})
    res = coverage.run(s)
    assert set(res.table.level) == {"communes", "province"}
    assert isinstance(res.weights["communes"], zones.ZoneWeights)
    assert set(pd.unique(res.table.zone_code)) == {"Z0", "Z1", OUTSIDE_ZONES, "province"}
