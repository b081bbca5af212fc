"""Households on buildings (issue 12, item 8): placement by footprint area, filters and the
population-cell fallback counted, reach from buildings, the Open Buildings reader, the
per-household GeoTIFFs, and the study without buildings unchanged.

The hand case: a 2000 × 1000 m grid of 100 m cells, 10 people per cell; commune C0 (west
half, 4 persons per household: 250 households) and C1 (east half, 5: 200 households); a
road along y = Y0 − 500 with GPON fiber on its first 200 m (corridor 0).
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import shapely
from affine import Affine

from ictplan import fiber, households, io, study
from ictplan import network as nw
from ictplan._errors import (
    CoordinateError,
    CRSMismatchError,
    InputValidationError,
    MissingColumnError,
    NoDataInBoundsError,
    RepairWarning,
    SkippedFeaturesWarning,
)
from ictplan.grid import Grid, Population

CRS = "EPSG:32648"
X0, Y0 = 500_000.0, 1_000_000.0
BOUNDS = (104.9, 8.9, 105.1, 9.1)
TO_LONLAT = pyproj.Transformer.from_crs(CRS, 4326, always_xy=True)


# --------------------------------------------------------------------------- the hand case
def _population() -> Population:
    g = Grid(Affine(100.0, 0, X0, 0, -100.0, Y0), 20, 10, pyproj.CRS(CRS))
    return Population(g, np.full(g.shape, 10.0), np.zeros(g.shape, bool))


def _communes() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"commune_code": ["C0", "C1"], "commune_name": ["Xã 0", "Xã 1"], "commune_type": "Xã",
                             "pop2019": [1000, 1000], "hh2019": [250, 200]},
                            geometry=[shapely.box(X0, Y0 - 1000, X0 + 1000, Y0),
                                      shapely.box(X0 + 1000, Y0 - 1000, X0 + 2000, Y0)], crs=CRS)


def _hamlets() -> gpd.GeoDataFrame:
    c = _communes()
    return gpd.GeoDataFrame({"hamlet_code": ["H0", "H1"], "hamlet_name": ["Ấp 0", "Ấp 1"], "commune_code": ["C0", "C1"]},
                            geometry=list(c.geometry), crs=CRS)


def _square(x: float, y: float, area: float) -> shapely.Polygon:
    h = np.sqrt(area) / 2
    return shapely.box(x - h, y - h, x + h, y + h)


#: (dx, dy below the top, area m², confidence): A near the fiber, D in A's cell, B within
#: reach along the road, C beyond it, a shed and a doubtful detection (both dropped)
BUILDINGS = [
    ("A", 100, 470, 100.0, 0.9), ("D", 150, 420, 100.0, 0.8), ("B", 400, 550, 300.0, 0.95),
    ("C", 900, 460, 100.0, 0.75), ("shed", 600, 300, 15.0, 0.9), ("doubt", 700, 300, 200.0, 0.5),
]


def _buildings(as_points: bool = False) -> gpd.GeoDataFrame:
    geoms = [shapely.Point(X0 + dx, Y0 - dy) if as_points else _square(X0 + dx, Y0 - dy, a)
             for _, dx, dy, a, _ in BUILDINGS]
    b = gpd.GeoDataFrame({"name": [n for n, *_ in BUILDINGS], "confidence": [c for *_, c in BUILDINGS]},
                         geometry=geoms, crs=CRS)
    if as_points:
        b["area_m2"] = [a for *_, a, _ in BUILDINGS]
    return b


def _network_and_routes() -> tuple[nw.EdgeNetwork, gpd.GeoDataFrame]:
    road = gpd.GeoDataFrame({"kind": ["road"]}, geometry=[shapely.LineString([(X0, Y0 - 500), (X0 + 2000, Y0 - 500)])],
                            crs=CRS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepairWarning)
        net = nw.build_edges(road)
    routes = gpd.GeoDataFrame({"route_id": ["r0"], "operator": ["VNPT"], "technology": ["GPON"], "placement": ["aerial"]},
                              geometry=[shapely.LineString([(X0, Y0 - 500), (X0 + 200, Y0 - 500)])], crs=CRS)
    return net, routes


def _hand_households(**kw) -> pd.DataFrame:
    with pytest.warns(SkippedFeaturesWarning, match="keep the population cells"):
        return households.households_from_buildings(_buildings(**kw), _population(), _communes(), hamlets=_hamlets())


# --------------------------------------------------------------------------- placement by hand
@pytest.mark.parametrize("as_points", [False, True])
def test_households_per_building_by_hand(as_points):
    hh = _hand_households(as_points=as_points)
    # C0: 250 households on A, D, B, C (areas 100, 100, 300, 100 of 600 m²); shed and doubt dropped
    b = hh.iloc[:4]
    assert b["households"].to_numpy() == pytest.approx([250 / 6, 250 / 6, 125.0, 250 / 6])
    assert b["persons"].to_numpy() == pytest.approx(4 * b["households"].to_numpy())
    assert b["x"].to_numpy() == pytest.approx([X0 + 100, X0 + 150, X0 + 400, X0 + 900])
    assert (b["row"].tolist(), b["col"].tolist()) == ([4, 4, 5, 4], [1, 1, 4, 9])
    # C1 has no building: its 100 cells keep 10 / 5 = 2 households each
    cells = hh.iloc[4:]
    assert len(cells) == 100 and (cells["commune_idx"] == 1).all()
    assert cells["households"].to_numpy() == pytest.approx(np.full(100, 2.0))
    assert hh.attrs["source"] == "buildings"
    assert np.asarray(hh.attrs["commune_shares"].sum(axis=1)).ravel() == pytest.approx([250.0, 200.0])
    assert np.asarray(hh.attrs["hamlet_shares"].sum(axis=1)).ravel() == pytest.approx([250.0, 200.0])


def test_filters_and_fallback_are_counted():
    hh = _hand_households()
    rep = hh.attrs["buildings_report"]
    assert rep["buildings_read"] == 6 and rep["buildings_used"] == 4
    assert (rep["dropped_low_confidence"], rep["dropped_small"], rep["dropped_outside_communes"],
            rep["dropped_no_households"]) == (1, 1, 0, 0)
    assert rep["communes_fallback"] == 1 and rep["fallback_communes"] == ["C1"]
    assert rep["households_on_buildings"] == pytest.approx(250.0)
    assert rep["households_fallback"] == pytest.approx(200.0)
    assert (rep["min_confidence"], rep["min_area_m2"], rep["weights"]) == (0.7, 20.0, "area")
    tab = hh.attrs["buildings_communes"].set_index("commune_code")
    assert tab.loc["C0", "method"] == "buildings" and tab.loc["C1", "method"] == "population cells"
    assert tab.loc["C0", ["buildings", "buildings_low_confidence", "buildings_small"]].tolist() == [4, 1, 1]
    assert tab.loc["C0", "households_per_building"] == pytest.approx(62.5)
    # looser filters keep the shed and the doubtful one: 250 households over 815 m²
    with pytest.warns(SkippedFeaturesWarning, match="6 of 6 hold the households; dropped 0 below"):
        loose = households.households_from_buildings(_buildings(), _population(), _communes(), min_confidence=0.0,
                                                     min_area_m2=0.0)
    assert loose.attrs["buildings_report"]["buildings_used"] == 6
    assert loose["households"].iloc[:6].to_numpy() == pytest.approx(
        250 * np.array([100, 100, 300, 100, 15, 200]) / 815)


def test_buildings_without_area_weigh_the_same():
    pts = _buildings(as_points=True).iloc[:4].drop(columns=["area_m2"])  # points, no area anywhere
    with pytest.warns(SkippedFeaturesWarning, match="keep the population cells"):
        hh = households.households_from_buildings(pts, _population(), _communes())
    assert hh["households"].iloc[:4].to_numpy() == pytest.approx(np.full(4, 62.5))
    assert hh.attrs["buildings_report"]["weights"] == "count"
    zero = _buildings(as_points=True).iloc[:2].assign(area_m2=0.0)  # areas of 0 m², kept with min_area_m2 = 0
    with pytest.warns(SkippedFeaturesWarning):
        hh0 = households.households_from_buildings(zero, _population(), _communes(), min_area_m2=0.0)
    assert hh0["households"].iloc[:2].to_numpy() == pytest.approx([125.0, 125.0])


def test_buildings_outside_communes_and_in_empty_communes_are_counted():
    com = pd.concat([_communes(), gpd.GeoDataFrame(
        {"commune_code": ["C2"], "commune_name": ["Xã 2"], "commune_type": "Xã", "pop2019": [0], "hh2019": [0]},
        geometry=[shapely.box(X0 + 2000, Y0 - 1000, X0 + 3000, Y0)], crs=CRS)], ignore_index=True)
    b = pd.concat([_buildings(), gpd.GeoDataFrame({"name": ["far", "empty"], "confidence": [0.9, 0.9]},
                                                  geometry=[_square(X0 + 5000, Y0 - 500, 80),
                                                            _square(X0 + 2500, Y0 - 500, 80)], crs=CRS)],
                  ignore_index=True)
    with pytest.warns(SkippedFeaturesWarning) as seen:  # C2 lies off the grid too (zones says so)
        hh = households.households_from_buildings(b, _population(), com)
    assert any("1 outside every commune; 1 in communes without households" in str(w.message) for w in seen)
    rep = hh.attrs["buildings_report"]
    assert (rep["dropped_outside_communes"], rep["dropped_no_households"]) == (1, 1)
    assert hh.attrs["buildings_communes"].set_index("commune_code").loc["C2", "method"] == "none"
    assert hh["households"].sum() == pytest.approx(450.0)


# --------------------------------------------------------------------------- reach from buildings
def test_reach_of_buildings_near_and_far_from_the_cable(tmp_path):
    net, routes = _network_and_routes()
    hh = _hand_households()
    res = fiber.analyse(net, hh, communes=_communes(), hamlets=_hamlets(), fiber_routes=routes, corridor_m=0.0,
                        drop_limit_m=300.0)
    d = res.households["dist_to_fiber_m"].to_numpy()
    # A: 30 m drop onto fiber; D: 80 m; B: 50 m drop + 200 m along the road; C: 40 + 700 > 300
    assert d[:3] == pytest.approx([30.0, 80.0, 250.0])
    assert np.isinf(d[3]) and np.isinf(d[4:]).all()  # C, and every C1 cell (≥ 800 m from the fiber)
    com = res.communes.set_index("commune_code")
    assert com.loc["C0", "households_reachable"] == pytest.approx(250 / 6 * 2 + 125)
    assert com.loc["C1", "households_reachable"] == 0 and com.loc["C1", "households"] == pytest.approx(200)
    assert res.hamlets.set_index("hamlet_code").loc["H0", "households"] == pytest.approx(250.0)
    assert res.parameters["households_source"] == "buildings"
    # outputs: GeoTIFFs on the grid, two buildings in cell (4, 1) summed and averaged
    paths = fiber.write_outputs(res, tmp_path)
    assert "households_csv" not in paths
    with rasterio.open(paths["households_households_tif"]) as ds:
        h = ds.read(1)
    with rasterio.open(paths["households_dist_to_fiber_m_tif"]) as ds:
        dist = ds.read(1)
    with rasterio.open(paths["households_port_frac_tif"]) as ds:
        port = ds.read(1)
    assert h[4, 1] == pytest.approx(2 * 250 / 6) and h[5, 4] == pytest.approx(125.0)
    assert h[4, 9] == pytest.approx(250 / 6) and h[0, 15] == pytest.approx(2.0)
    assert np.isnan(h[0, 0])  # a C0 cell without a building holds no household
    assert np.nansum(h) == pytest.approx(450.0, rel=1e-6)
    assert dist[4, 1] == pytest.approx(55.0) and dist[5, 4] == pytest.approx(250.0) and np.isnan(dist[4, 9])
    assert port[4, 1] == pytest.approx(1.0) and port[4, 9] == pytest.approx(0.0)


def test_bad_inputs_one_clear_error():
    pop, com = _population(), _communes()
    with pytest.raises(CRSMismatchError, match="to_crs"):
        households.households_from_buildings(_buildings().to_crs(4326), pop, com)
    far = _buildings().translate(50_000, 0)
    with pytest.raises(NoDataInBoundsError, match="CRS"):
        households.households_from_buildings(far, pop, com)
    with pytest.raises(InputValidationError, match="building_min_confidence"):
        households.households_from_buildings(_buildings(), pop, com, min_confidence=70)


# --------------------------------------------------------------------------- Open Buildings CSV
def _open_buildings_csv(path, rows, swap=False):
    """An Open Buildings CSV with the published header from (x, y, area, confidence) in UTM."""
    out = []
    for x, y, area, conf in rows:
        lon, lat = TO_LONLAT.transform(x, y)
        ring = [TO_LONLAT.transform(*p) for p in _square(x, y, area).exterior.coords]
        wkt = "POLYGON((" + ", ".join(f"{a:.8f} {b:.8f}" for a, b in ring) + "))"
        out.append({"latitude": lon if swap else lat, "longitude": lat if swap else lon, "area_in_meters": area,
                    "confidence": conf, "geometry": wkt, "full_plus_code": "7P3X2222+22"})
    pd.DataFrame(out).to_csv(path, index=False)
    return path


def test_open_buildings_csv_is_read_to_points_with_area_and_confidence(tmp_path):
    rows = [(X0 + 100, Y0 - 470, 100.0, 0.9), (X0 + 400, Y0 - 550, 300.0, 0.95), (X0 + 9e5, Y0, 50.0, 0.9)]
    p = _open_buildings_csv(tmp_path / "open_buildings.csv", rows)
    with pytest.warns(SkippedFeaturesWarning, match="1 of 3 buildings lie outside"):
        b = io.read_buildings(p, bounds_lonlat=BOUNDS)  # format recognised from the header
    assert len(b) == 2 and b.crs.to_epsg() == 4326 and set(b.geom_type) == {"Point"}
    assert b["area_m2"].tolist() == [100.0, 300.0] and b["confidence"].tolist() == [0.9, 0.95]
    assert b.attrs["ictplan_report"]["outside_study_bounds"] == 1
    xy = np.c_[pyproj.Transformer.from_crs(4326, CRS, always_xy=True).transform(b.geometry.x, b.geometry.y)]
    assert xy[:, 0] == pytest.approx([X0 + 100, X0 + 400], abs=1e-3)
    # gzipped, as Google publishes the tiles
    pd.read_csv(p).to_csv(tmp_path / "t.csv.gz", index=False)
    with pytest.warns(SkippedFeaturesWarning):
        assert len(io.read_buildings(tmp_path / "t.csv.gz", format="open_buildings", bounds_lonlat=BOUNDS)) == 2


def test_open_buildings_bad_files(tmp_path):
    rows = [(X0 + 100, Y0 - 470, 100.0, 0.9), (X0 + 400, Y0 - 550, 300.0, 0.95)]
    swapped = _open_buildings_csv(tmp_path / "swapped.csv", rows, swap=True)
    with pytest.raises(CoordinateError, match="swapped"):
        io.read_buildings(swapped, format="open_buildings", bounds_lonlat=BOUNDS)
    pd.read_csv(swapped).drop(columns=["area_in_meters"]).to_csv(tmp_path / "no_area.csv", index=False)
    with pytest.raises(MissingColumnError, match="area_in_meters"):
        io.read_buildings(tmp_path / "no_area.csv", format="open_buildings", bounds_lonlat=BOUNDS)
    far = _open_buildings_csv(tmp_path / "far.csv", [(X0 + 9e5, Y0, 50.0, 0.9)])
    with pytest.raises(NoDataInBoundsError, match="CRS"):
        io.read_buildings(far, bounds_lonlat=BOUNDS)


def test_vector_buildings_in_a_projected_layer(tmp_path):
    b = _buildings().drop(columns=["name"])
    b.to_file(tmp_path / "b.gpkg", layer="buildings", engine="pyogrio")
    got = io.read_buildings(tmp_path / "b.gpkg", layer="buildings", bounds_lonlat=BOUNDS)
    assert len(got) == 6 and got["area_m2"].isna().all()  # the area is the footprint's, taken here:
    with pytest.warns(SkippedFeaturesWarning):
        hh = households.households_from_buildings(got.to_crs(CRS), _population(), _communes())
    assert hh["households"].iloc[:4].to_numpy() == pytest.approx([250 / 6, 250 / 6, 125.0, 250 / 6])
    # a UTM layer declared as lon/lat: one error naming the CRS
    b.set_crs(4326, allow_override=True).to_file(tmp_path / "wrong.gpkg", engine="pyogrio")
    with pytest.raises(CoordinateError, match="CRS"):
        io.read_buildings(tmp_path / "wrong.gpkg", bounds_lonlat=BOUNDS)


# --------------------------------------------------------------------------- a study, with and without buildings
def _study(tmp_path, with_buildings: bool):
    root = tmp_path / ("with" if with_buildings else "without")
    root.mkdir()
    pop = _population()
    io.write_raster(pop.counts.astype(np.float32), pop.grid, root / "pop.tif")
    _communes().to_file(root / "s.gpkg", layer="communes", engine="pyogrio")
    net_roads = gpd.GeoDataFrame({"kind": ["road"]}, geometry=[shapely.LineString([(X0, Y0 - 500), (X0 + 2000, Y0 - 500)])],
                                 crs=CRS)
    net_roads.to_file(root / "s.gpkg", layer="roads", engine="pyogrio")
    _network_and_routes()[1].to_file(root / "s.gpkg", layer="fiber_routes", engine="pyogrio")
    layers = ['communes = { path = "s.gpkg", layer = "communes" }', 'roads = { path = "s.gpkg", layer = "roads" }',
              'fiber_routes = { path = "s.gpkg", layer = "fiber_routes" }', 'population = { path = "pop.tif" }']
    if with_buildings:
        _open_buildings_csv(root / "open_buildings.csv", [(X0 + dx, Y0 - dy, a, c) for _, dx, dy, a, c in BUILDINGS])
        layers.append('buildings = { path = "open_buildings.csv", format = "open_buildings" }')
    (root / "study.toml").write_text(
        f'[study]\nname = "t"\ncrs = "{CRS}"\nbounds_lonlat = {list(BOUNDS)}\n\n[layers]\n' + "\n".join(layers)
        + "\n\n[parameters.fiber]\ncorridor_m = 0.0\n", encoding="utf-8")
    return study.load(root)


def test_study_with_buildings_and_without(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepairWarning)
        with pytest.warns(SkippedFeaturesWarning, match="keep the population cells"):
            on_b = fiber.run(_study(tmp_path, True))
        plain = fiber.run(_study(tmp_path, False))
    assert on_b.diagnostics["buildings_report"]["buildings_used"] == 4
    com = on_b.communes.set_index("commune_code")
    assert com.loc["C0", "households_reachable"] == pytest.approx(250 / 6 * 2 + 125, rel=1e-6)
    paths = fiber.write_outputs(on_b, tmp_path / "out")
    assert pd.read_csv(paths["buildings_csv"])["method"].tolist() == ["buildings", "population cells"]
    # without buildings: the population cells as before, one row per cell, 2.5 and 2 households each
    assert plain.parameters["households_source"] == "population raster"
    assert "buildings_report" not in plain.diagnostics and len(plain.households) == 200
    hh = plain.households.sort_values(["row", "col"])["households"].to_numpy().reshape(10, 20)
    assert hh[:, :10] == pytest.approx(np.full((10, 10), 2.5)) and hh[:, 10:] == pytest.approx(np.full((10, 10), 2.0))
    # the cells within reach: C0's cells whose centre is within 300 m along the road of x ≤ 200
    c0 = plain.communes.set_index("commune_code").loc["C0"]
    ref = households.households_from_population(_population(), _communes())
    net, routes = _network_and_routes()
    direct = fiber.analyse(net, ref, communes=_communes(), fiber_routes=routes, corridor_m=0.0)
    assert c0["households_reachable"] == pytest.approx(direct.communes.iloc[0]["households_reachable"], rel=1e-12)
    p_out = fiber.write_outputs(plain, tmp_path / "plain")
    with rasterio.open(p_out["households_dist_to_fiber_m_tif"]) as ds:
        dist = ds.read(1)
    want = plain.households["dist_to_fiber_m"].to_numpy()
    r, c = plain.households["row"].to_numpy(), plain.households["col"].to_numpy()
    assert np.array_equal(dist[r, c], np.where(np.isfinite(want), want, np.nan).astype(np.float32), equal_nan=True)
