"""Tests for ictplan.fiber: households, access, reach, zone figures, hamlets, organisations, outputs."""

from __future__ import annotations

import dataclasses
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ictplan import fiber, parameters
from ictplan import network as nw
from ictplan._errors import (
    CRSMismatchError,
    IctplanWarning,
    InputValidationError,
    RepairWarning,
    SkippedFeaturesWarning,
)
from ictplan.grid import Grid, Population

CRS = 32648


def lines_gdf(geoms, kinds=None, **cols):
    return gpd.GeoDataFrame({"kind": kinds or ["road"] * len(geoms), **cols}, geometry=list(geoms), crs=CRS)


def build(geoms, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepairWarning)
        return nw.build_edges(lines_gdf(geoms), **kw)


def routes_gdf(geoms, techs):
    n = len(geoms)
    return gpd.GeoDataFrame(
        {"route_id": [f"r{i}" for i in range(n)], "operator": ["VNPT"] * n, "technology": techs,
         "placement": ["aerial"] * n},
        geometry=list(geoms), crs=CRS,
    )


def communes_gdf(boxes, codes=None, pop=None, hh=None):
    n = len(boxes)
    codes = codes or [f"C{i}" for i in range(n)]
    return gpd.GeoDataFrame(
        {"commune_code": codes, "commune_name": codes, "district_code": ["D1"] * n, "district_name": ["Huyện 1"] * n,
         "pop2019": pop if pop is not None else [None] * n, "hh2019": hh if hh is not None else [None] * n},
        geometry=[shapely.box(*b) for b in boxes], crs=CRS,
    )


def points_hh(xy, counts=None):
    g = gpd.GeoDataFrame(geometry=[shapely.Point(p) for p in xy], crs=CRS)
    if counts is not None:
        g["households"] = counts
    return g


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def straight():
    """A 2000 m road along y=0; fiber (GPON) along its first 200 m; two communes."""
    net = build([shapely.LineString([(0, 0), (2000, 0)])])
    routes = routes_gdf([shapely.LineString([(0, 0), (200, 0)])], ["GPON"])
    communes = communes_gdf([(0, -500, 1000, 500), (1000, -500, 2000, 500)])
    return net, routes, communes


# --------------------------------------------------------------------------- reach
def test_straight_road_known_answers(straight):
    net, routes, communes = straight
    # distances: drop + way along the road to x=200 (end of the fiber corridor is 20 m wider)
    xy = [(100, 30), (400, 50), (500, 10), (700, 0), (1500, 5)]
    hh = fiber.households_from_points(points_hh(xy), communes)
    res = fiber.analyse(net, hh, communes=communes, fiber_routes=routes, corridor_m=0.0, drop_limit_m=300)
    d = res.households["dist_to_fiber_m"].to_numpy()
    assert d[:2] == pytest.approx([30.0, 250.0])
    assert np.isinf(d[2:]).all()
    assert res.households["reachable"].tolist() == [True, True, False, False, False]
    c = res.communes.set_index("commune_code")
    assert c.loc["C0", "households"] == 4 and c.loc["C0", "households_reachable"] == 2
    assert c.loc["C1", "households_reachable"] == 0
    assert res.province["pct_reachable"].iloc[0] == pytest.approx(40.0)
    # a larger drop limit reaches (500,10): 10 + 300
    res2 = fiber.analyse(net, hh, communes=communes, fiber_routes=routes, corridor_m=0.0, drop_limit_m=310.5)
    assert res2.households["dist_to_fiber_m"].iloc[2] == pytest.approx(310.0)


def test_snap_to_edge_rule_reaches_household_beside_long_edge(straight):
    net, _, communes = straight
    routes = routes_gdf([shapely.LineString([(0, 0), (2000, 0)])], ["XGS-PON"])
    hh = fiber.households_from_points(points_hh([(1000, 12)]), communes)
    res = fiber.analyse(net, hh, communes=communes, fiber_routes=routes)
    assert res.households["dist_to_fiber_m"].iloc[0] == pytest.approx(12.0)
    assert bool(res.households["reachable"].iloc[0])
    # the nearest-node rule would join it at x=0 or x=2000: 1000 m, beyond 300 m
    assert np.hypot(*(net.node_xy - [1000, 12]).T).min() > 300


def test_access_points_drop_counts_and_far_ones_are_reported(straight):
    net, routes, communes = straight
    aps = gpd.GeoDataFrame(
        {"ap_id": ["near", "far"], "operator": ["VNPT", "VNPT"], "technology": ["GPON", "XGS-PON"]},
        geometry=[shapely.Point(1000, 20), shapely.Point(1900, 400)], crs=CRS,
    )
    hh = fiber.households_from_points(points_hh([(1100, 30), (1900, 0)]), communes)
    with pytest.warns(IctplanWarning, match="1 fiber access point"):
        res = fiber.analyse(net, hh, communes=communes, access_points=aps, fiber_routes=routes, far_access_m=100)
    assert res.diagnostics["fiber_access_mode"] == "access_points"
    far = res.diagnostics["far_access_points"]
    assert far["id"].tolist() == ["far"] and far["drop_m"].iloc[0] == pytest.approx(400.0)
    d = res.households["dist_to_fiber_m"].to_numpy()
    assert d[0] == pytest.approx(30 + 100 + 20)  # drop + along + the access point's own drop
    assert np.isinf(d[1])  # only the far XGS-PON point is near: 400 m drop alone exceeds 300


def test_routes_off_network_are_counted(straight):
    net, routes, communes = straight
    lost = routes_gdf([shapely.LineString([(0, 0), (200, 0)]), shapely.LineString([(5000, 5000), (6000, 5000)])],
                      ["GPON", "GPON"])
    hh = fiber.households_from_points(points_hh([(100, 10)]), communes)
    with pytest.warns(SkippedFeaturesWarning, match="1 fiber route"):
        res = fiber.analyse(net, hh, communes=communes, fiber_routes=lost)
    assert res.diagnostics["routes_off_network"] == ["r1"]
    assert bool(res.households["reachable"].iloc[0])


def test_network_in_pieces_is_reported_not_an_error():
    net = build([shapely.LineString([(0, 0), (1000, 0)]), shapely.LineString([(0, 100), (1000, 100)])])
    assert net.component_sizes == [2, 2]
    routes = routes_gdf([shapely.LineString([(0, 0), (1000, 0)])], ["GPON"])
    communes = communes_gdf([(-10, -50, 1010, 200)])
    # (500, 60) is nearer the fiberless piece (y=100): unreachable, although 60 m from fiber as the crow flies
    hh = fiber.households_from_points(points_hh([(500, 20), (500, 60)]), communes)
    res = fiber.analyse(net, hh, communes=communes, fiber_routes=routes, corridor_m=5)
    assert res.households["reachable"].tolist() == [True, False]
    assert res.diagnostics["components"] == [2, 2]


def test_offers_speed_table_and_copper_only():
    net = build([shapely.LineString([(0, 0), (3000, 0)])])
    fib = routes_gdf([shapely.LineString([(0, 0), (500, 0)]), shapely.LineString([(400, 0), (1000, 0)])],
                     ["GPON", "XGS-PON"])
    copper = gpd.GeoDataFrame({"route_id": ["c"], "operator": ["VNPT"], "technology": ["VDSL"]},
                              geometry=[shapely.LineString([(2000, 0), (3000, 0)])], crs=CRS)
    communes = communes_gdf([(-10, -50, 3010, 50)])
    hh = fiber.households_from_points(points_hh([(100, 5), (450, 5), (2500, 5), (1600, 5)]), communes)
    res = fiber.analyse(net, hh, communes=communes, fiber_routes=fib, copper_routes=copper, corridor_m=1)
    h = res.households
    # (100,5): GPON 5 m away, XGS-PON 305 m away (beyond 300): GPON
    assert h["offer_tech"].tolist() == ["GPON", "XGS-PON", "VDSL", ""]
    # (450,5) lies on both routes' corridors: 5 m from each; the nearest is a tie -> XGS-PON
    assert h["nearest_fiber_tech"].tolist() == ["GPON", "XGS-PON", "", ""]
    # nearest GPON (5 m) but XGS-PON within the limit too (about 24 m): the offer is XGS-PON
    one = fiber.analyse(net, fiber.households_from_points(points_hh([(380, 5)]), communes), communes=communes,
                        fiber_routes=fib, corridor_m=1).households.iloc[0]
    assert one["nearest_fiber_tech"] == "GPON" and one["offer_tech"] == "XGS-PON"
    assert h["offer_min_mbps"].tolist() == [200, 1000, 50, 0]
    assert h["ge_200mbps"].tolist() == [True, True, False, False]
    assert h["gt_1gbps"].tolist() == [False, True, False, False]
    assert h["copper_only"].tolist() == [False, False, True, False]
    assert res.communes["households_copper_only"].iloc[0] == 1
    assert fiber.SPEEDS_MBPS["XGS-PON"][0] >= 1000 and fiber.SPEEDS_MBPS["GPON"][0] >= 200


# --------------------------------------------------------------------------- households
def _population(counts, x0=0.0, y0=1000.0, res=100.0, crs=CRS):
    h, w = counts.shape
    grid = Grid(Affine(res, 0, x0, 0, -res, y0), w, h, pyproj.CRS.from_epsg(crs))
    return Population(grid, counts.astype(float), np.zeros(counts.shape, bool))


def test_households_from_raster_use_commune_persons_per_household():
    counts = np.zeros((10, 10))
    counts[:, :5] = 8.0   # commune A (x < 500): 4 persons per household
    counts[:, 5:] = 6.0   # commune B: 3 persons per household
    counts[0, 0] = 0.0
    communes = communes_gdf([(0, 0, 500, 1000), (500, 0, 1000, 1000)], codes=["A", "B"], pop=[400, 300], hh=[100, 100])
    hh = fiber.households_from_population(_population(counts), communes)
    assert len(hh) == 99  # populated cells only
    a = hh[hh["commune_idx"] == 0]
    assert a["households"].sum() == pytest.approx(49 * 8 / 4)
    assert hh[hh["commune_idx"] == 1]["households"].sum() == pytest.approx(50 * 6 / 3)
    assert hh["x"].min() == pytest.approx(50.0) and hh["y"].max() == pytest.approx(950.0)  # cell centres


def test_households_outside_communes_are_counted_but_not_in_the_province():
    # the province row is the sum of the commune rows (as in coverage); the rest is reported
    counts = np.full((10, 10), 3.6)
    communes = communes_gdf([(0, 0, 500, 1000)])  # covers half the raster; no census -> default ratio
    hh = fiber.households_from_population(_population(counts), communes)
    assert hh["households"].sum() == pytest.approx(100.0)
    net = build([shapely.LineString([(0, 500), (1000, 500)])])
    res = fiber.analyse(net, hh, communes=communes, fiber_routes=routes_gdf([shapely.LineString([(0, 500), (1000, 500)])], ["GPON"]))
    assert res.province["households"].iloc[0] == pytest.approx(50.0)
    assert res.communes["households"].sum() == pytest.approx(50.0)
    assert res.households["households"].sum() == pytest.approx(100.0)
    assert res.diagnostics["households_outside_communes"] == pytest.approx(50.0)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), limit=st.floats(20.0, 600.0))
def test_zone_figures_sum_to_the_province(seed, limit):
    rng = np.random.default_rng(seed)
    counts = rng.poisson(2.0, (20, 20)).astype(float)
    pop = _population(counts, y0=2000.0)
    communes = communes_gdf([(0, 0, 1000, 2000), (1000, 0, 2000, 1000), (1000, 1000, 2000, 2000)],
                            pop=[300, 200, 100], hh=[100, 50, 25])
    hamlets = gpd.GeoDataFrame({"hamlet_code": ["h1", "h2"], "hamlet_name": ["Ấp 1", "Khóm 2"], "commune_code": ["C0", "C1"]},
                               geometry=[shapely.box(0, 0, 1000, 1000), shapely.box(1000, 0, 2000, 1000)], crs=CRS)
    segs = [shapely.LineString(rng.uniform(0, 2000, (2, 2))) for _ in range(8)]
    net = build(segs)
    routes = routes_gdf([segs[0]], ["GPON"])
    hh = fiber.households_from_population(pop, communes, hamlets=hamlets)
    res = fiber.analyse(net, hh, communes=communes, hamlets=hamlets, fiber_routes=routes, drop_limit_m=limit)
    tot = res.province["households"].iloc[0]
    assert tot == pytest.approx(res.communes["households"].sum())
    assert res.province["households_reachable"].iloc[0] == pytest.approx(res.communes["households_reachable"].sum())
    assert res.districts["households"].sum() == pytest.approx(tot)
    assert res.households["households"].sum() == pytest.approx(tot)
    # reachable never exceeds households; distances are within the limit
    assert (res.communes["households_reachable"] <= res.communes["households"] + 1e-9).all()
    d = res.households["dist_to_fiber_m"].to_numpy()
    assert (d[np.isfinite(d)] <= limit + 1e-9).all()
    # a bigger limit never reaches fewer households
    res2 = fiber.analyse(net, hh, communes=communes, hamlets=hamlets, fiber_routes=routes, drop_limit_m=limit * 2)
    assert res2.province["households_reachable"].iloc[0] >= res.province["households_reachable"].iloc[0] - 1e-9


# --------------------------------------------------------------------------- hamlets
def test_hamlet_rule_and_missing_metres():
    # road along y=0 from 0 to 3000; fiber on [0, 500]. Hamlet A near the fiber, B far along the road.
    net = build([shapely.LineString([(0, 0), (3000, 0)])])
    routes = routes_gdf([shapely.LineString([(0, 0), (500, 0)])], ["GPON"])
    communes = communes_gdf([(-10, -100, 3010, 100)])
    hamlets = gpd.GeoDataFrame(
        {"hamlet_code": ["A", "B", "E"], "hamlet_name": ["Ấp A", "Ấp B", "Ấp trống"], "commune_code": ["C0"] * 3},
        geometry=[shapely.box(0, -100, 1000, 100), shapely.box(1000, -100, 2500, 100), shapely.box(2500, -100, 3000, 100)],
        crs=CRS,
    )
    # A: 4 households, 3 within reach (75% < 80%); B: 2 households around x=2000
    xy = [(100, 10), (300, 10), (600, 10), (950, 10), (1900, 20), (2100, 20)]
    hh = fiber.households_from_points(points_hh(xy), communes, hamlets=hamlets)
    res = fiber.analyse(net, hh, communes=communes, hamlets=hamlets, fiber_routes=routes, corridor_m=0.0)
    h = res.hamlets.set_index("hamlet_code")
    assert h.loc["A", "share_reachable_frac"] == pytest.approx(0.75)
    assert not h.loc["A", "reached"]
    # A's centre: x = (100+300+600+950)/4 = 487.5, drop 10 -> 10 m from fiber: 0 by the centre rule;
    # its households are 10, 10, 110 and 460 m away: 80% of 4 needs the 4th, 460 - 300 = 160 m
    assert h.loc["A", "centre_dist_to_fiber_m"] == pytest.approx(10.0)
    assert h.loc["A", "missing_centre_m"] == pytest.approx(0.0)
    assert h.loc["A", "missing_share_m"] == pytest.approx(160.0)
    assert h.loc["A", "missing_fiber_m"] == pytest.approx(160.0)
    # B's centre (2000, 20): 20 + 1500 from the fiber's end, minus the 300 m limit; its households
    # are 1420 and 1620 m away: 80% of 2 needs the 2nd: 1320 m
    assert h.loc["B", "missing_centre_m"] == pytest.approx(20 + 1500 - 300)
    assert h.loc["B", "missing_share_m"] == pytest.approx(1620 - 300)
    assert h.loc["B", "missing_fiber_m"] == pytest.approx(1620 - 300)
    # E has no households: judged by its centre (representative point), the centre rule only
    assert h.loc["E", "judged_by"] == "centre" and not h.loc["E", "reached"]
    assert np.isnan(h.loc["E", "missing_share_m"])
    assert h.loc["E", "missing_fiber_m"] == pytest.approx(h.loc["E", "centre_dist_to_fiber_m"] - 300)
    res70 = fiber.analyse(net, hh, communes=communes, hamlets=hamlets, fiber_routes=routes, corridor_m=0.0,
                          hamlet_threshold_frac=0.7)
    assert bool(res70.hamlets.set_index("hamlet_code").loc["A", "reached"])
    un = res.unreached_hamlets
    assert set(un["hamlet_code"]) == {"A", "B", "E"}
    c = res.communes.iloc[0]
    assert c["hamlets"] == 3 and c["hamlets_reached"] == 0
    assert c["missing_fiber_m"] == pytest.approx(h["missing_fiber_m"].sum())



def test_missing_share_counts_households_beyond_every_edge():
    net = build([shapely.LineString([(0, 0), (2000, 0)])])
    routes = routes_gdf([shapely.LineString([(0, 0), (100, 0)])], ["GPON"])
    communes = communes_gdf([(-10, -500, 2010, 500)])
    hamlets = gpd.GeoDataFrame({"hamlet_code": ["F"], "hamlet_name": ["Ấp xa"], "commune_code": ["C0"]},
                               geometry=[shapely.box(500, -500, 1500, 500)], crs=CRS)
    # (1000, 400) is 400 m from the only road: no fiber along the network reaches it
    hh = fiber.households_from_points(points_hh([(1000, 10), (1000, 400), (1200, 5), (1300, 5)]), communes,
                                      hamlets=hamlets)
    res = fiber.analyse(net, hh, communes=communes, hamlets=hamlets, fiber_routes=routes, corridor_m=0.0)
    f = res.hamlets.iloc[0]
    assert f["households_reachable"] == 0
    assert np.isnan(f["missing_share_m"])  # 80% of 4 households includes the unreachable one
    cx, cy = (1000 + 1000 + 1200 + 1300) / 4, (10 + 400 + 5 + 5) / 4
    assert f["missing_centre_m"] == pytest.approx(cy + cx - 100 - 300)
    assert f["missing_fiber_m"] == pytest.approx(f["missing_centre_m"])
    res70 = fiber.analyse(net, hh, communes=communes, hamlets=hamlets, fiber_routes=routes, corridor_m=0.0,
                          hamlet_threshold_frac=0.7)  # 3 of 4: the third nearest, 5 + 1200 m
    assert res70.hamlets["missing_share_m"].iloc[0] == pytest.approx(5 + 1200 - 300)

# --------------------------------------------------------------------------- organisations
def test_organisations_urban_1gbps_indicator(straight):
    net, _, communes = straight
    routes = routes_gdf([shapely.LineString([(0, 0), (500, 0)]), shapely.LineString([(1500, 0), (2000, 0)])],
                        ["XGS-PON", "GPON"])
    fac = gpd.GeoDataFrame(
        {"facility_id": ["s", "h", "a", "dc"], "name": ["Trường", "Bệnh viện", "UBND", "DC"],
         "kind": ["school", "hospital", "agency", "data_centre"], "commune_code": ["C0", "C1", "C1", "C1"],
         "urban": [True, True, False, True]},
        geometry=[shapely.Point(100, 50), shapely.Point(1600, 30), shapely.Point(1000, 900), shapely.Point(100, 0)], crs=CRS,
    )
    xgs_only = dataclasses.replace(parameters.FIBER, organisation_1gbps="xgs_pon")
    res = fiber.analyse(net, fiber.households_from_points(points_hh([(10, 10)]), communes), communes=communes,
                        fiber_routes=routes, facilities=fac, capacity=xgs_only)
    org = res.organisations.set_index("facility_id")
    assert "dc" not in org.index  # data centres are not among the plan's organisations
    assert org.loc["s", "offer_tech"] == "XGS-PON" and org.loc["s", "ge_1gbps"]
    assert org.loc["h", "offer_tech"] == "GPON" and not org.loc["h", "ge_1gbps"]
    assert not org.loc["a", "reachable"]
    s = res.organisation_summary.set_index("group")
    assert s.loc["urban", "pct_ge_1gbps"] == pytest.approx(50.0)
    assert res.province["pct_urban_orgs_1gbps"].iloc[0] == pytest.approx(50.0)
    # the default rule: a dedicated fiber from any cable within the drop limit gives 1 Gb/s too,
    # so the hospital 30 m from the GPON cable counts; the agency 900 m away still does not
    res = fiber.analyse(net, fiber.households_from_points(points_hh([(10, 10)]), communes), communes=communes,
                        fiber_routes=routes, facilities=fac)
    org = res.organisations.set_index("facility_id")
    assert org["ge_1gbps"].to_dict() == {"s": True, "h": True, "a": False}
    assert org["dedicated_fiber"].to_dict() == {"s": True, "h": True, "a": False}
    assert res.province["pct_urban_orgs_1gbps"].iloc[0] == pytest.approx(100.0)


# --------------------------------------------------------------------------- bad input
def test_household_layer_in_another_crs_is_refused(straight):
    net, routes, communes = straight
    pts = points_hh([(100, 10)]).to_crs(4326)
    with pytest.raises(CRSMismatchError, match="to_crs"):
        fiber.households_from_points(pts, communes)
    hh = fiber.households_from_points(points_hh([(100, 10)]), communes)
    hh.attrs["crs"] = pyproj.CRS.from_epsg(4326)
    with pytest.raises(CRSMismatchError, match="Reproject"):
        fiber.analyse(net, hh, communes=communes, fiber_routes=routes)
    with pytest.raises(CRSMismatchError):
        fiber.analyse(net, fiber.households_from_points(points_hh([(1, 1)]), communes), communes=communes,
                      fiber_routes=routes.to_crs(4326))


@pytest.mark.parametrize("bad", [0, -5, float("nan"), float("inf"), "300", True])
def test_drop_limit_must_be_positive(straight, bad):
    net, routes, communes = straight
    hh = fiber.households_from_points(points_hh([(100, 10)]), communes)
    with pytest.raises(InputValidationError, match="drop_limit_m"):
        fiber.analyse(net, hh, communes=communes, fiber_routes=routes, drop_limit_m=bad)


def test_analyse_does_not_mutate_inputs(straight):
    net, routes, communes = straight
    pts = points_hh([(100, 10), (900, 10)])
    hh = fiber.households_from_points(pts, communes)
    before = (routes.copy(), communes.copy(), hh.copy(), net.length_m.copy(), net.u.copy())
    fiber.analyse(net, hh, communes=communes, fiber_routes=routes)
    assert routes.equals(before[0]) and communes.equals(before[1]) and hh.equals(before[2])
    assert np.array_equal(net.length_m, before[3]) and np.array_equal(net.u, before[4])


# --------------------------------------------------------------------------- outputs
def test_write_outputs(tmp_path, straight):
    net, routes, communes = straight
    hamlets = gpd.GeoDataFrame({"hamlet_code": ["A"], "hamlet_name": ["Ấp Một"], "commune_code": ["C1"]},
                               geometry=[shapely.box(1000, -500, 2000, 500)], crs=CRS)
    hh = fiber.households_from_points(points_hh([(100, 10), (1500, 10)]), communes, hamlets=hamlets)
    res = fiber.analyse(net, hh, communes=communes, hamlets=hamlets, fiber_routes=routes)
    paths = fiber.write_outputs(res, tmp_path)
    layers = {row[0] for row in pyogrio.list_layers(paths["gpkg"])}
    assert {"households", "unreached_hamlets", "network_edges"} <= layers
    edges = gpd.read_file(paths["gpkg"], layer="network_edges")
    assert "component" in edges.columns and edges.crs.to_epsg() == CRS
    un = pd.read_csv(paths["unreached_hamlets_csv"])
    assert un["hamlet_name"].tolist() == ["Ấp Một"]
    assert un["missing_fiber_m"].iloc[0] == pytest.approx(10 + 1500 - 200 - 20 - 300)
    com = pd.read_csv(paths["communes_csv"])
    assert com["households"].sum() == 2
    assert not list(tmp_path.glob(".*"))  # no temporary files left


# --------------------------------------------------------------------------- a study folder
def test_run_on_a_study_folder(tmp_path):
    import rasterio

    from ictplan import study

    x0, y0 = 510_000.0, 1_010_000.0  # near Cà Mau city, UTM 48N
    gpkg = tmp_path / "s.gpkg"
    communes = communes_gdf([(x0, y0, x0 + 1000, y0 + 1000), (x0 + 1000, y0, x0 + 2000, y0 + 1000)],
                            codes=["32001", "32002"], pop=[400, 300], hh=[100, 100])
    communes["commune_type"] = "Xã"
    communes.to_file(gpkg, layer="communes")
    roads = lines_gdf([shapely.LineString([(x0, y0 + 500), (x0 + 2000, y0 + 500)]),
                       shapely.LineString([(x0 + 1500, y0), (x0 + 1500, y0 + 1000)])], kinds=["road", "canal"])
    roads.to_file(gpkg, layer="roads")
    routes_gdf([shapely.LineString([(x0, y0 + 500), (x0 + 600, y0 + 500)])], ["XGS-PON"]).to_file(gpkg, layer="fiber_routes")
    gpd.GeoDataFrame({"hamlet_code": ["h1", "h2"], "hamlet_name": ["Ấp 1", "Ấp 2"], "commune_code": ["32001", "32002"]},
                     geometry=[shapely.box(x0, y0, x0 + 1000, y0 + 1000), shapely.box(x0 + 1000, y0, x0 + 2000, y0 + 1000)],
                     crs=CRS).to_file(gpkg, layer="hamlets")
    counts = np.full((10, 20), 4.0, dtype="float32")
    with rasterio.open(tmp_path / "pop.tif", "w", driver="GTiff", width=20, height=10, count=1, dtype="float32",
                       crs="EPSG:32648", transform=Affine(100, 0, x0, 0, -100, y0 + 1000), nodata=-1) as ds:
        ds.write(counts, 1)
    (tmp_path / "study.toml").write_text(
        '[study]\nname = "tiny"\ncrs = "EPSG:32648"\n[layers]\n'
        'communes = { path = "s.gpkg", layer = "communes" }\nhamlets = { path = "s.gpkg", layer = "hamlets" }\n'
        'roads = { path = "s.gpkg", layer = "roads" }\nfiber_routes = { path = "s.gpkg", layer = "fiber_routes" }\n'
        'population = { path = "pop.tif" }\n', encoding="utf-8")
    s = study.load(tmp_path)
    with pytest.raises(InputValidationError, match="drop_limit_m"):
        fiber.run(s, drop_limit_m=0)
    res = fiber.run(s)
    h = res.households
    assert len(h) == 200 and h["households"].sum() == pytest.approx(100 * 4 / 4 + 100 * 4 / 3)
    # cell centres at 50 m from the road (rows 4 and 5) up to 450 m; fiber on x in [x0, x0 + 620]
    expect = (np.abs(h["y"] - (y0 + 500)) + np.maximum(h["x"] - (x0 + 620), 0)) <= 300
    assert np.array_equal(h["reachable"].to_numpy(), expect.to_numpy())
    assert res.province["households"].iloc[0] == pytest.approx(res.communes["households"].sum())
    assert set(res.hamlets["hamlet_code"]) == {"h1", "h2"}
    assert (h["offer_tech"][h["reachable"]] == "XGS-PON").all()
    paths = fiber.write_outputs(res, tmp_path / "out")
    assert paths["communes_csv"].exists() and paths["gpkg"].exists()


def test_raster_households_are_written_as_geotiffs_on_the_population_grid(tmp_path):
    """Issue 12: households from the population raster go out as GeoTIFFs (one band per
    figure), not as points; the cell values are the household table's."""
    import rasterio

    counts = np.zeros((10, 10))
    counts[2, 1:9] = 7.0
    communes = communes_gdf([(0, 0, 1000, 1000)], pop=[700], hh=[200])
    hh = fiber.households_from_population(_population(counts), communes)
    net = build([shapely.LineString([(0, 750), (1000, 750)])])
    routes = routes_gdf([shapely.LineString([(0, 750), (300, 750)])], ["GPON"])
    res = fiber.analyse(net, hh, communes=communes, fiber_routes=routes, corridor_m=0.0)
    paths = fiber.write_outputs(res, tmp_path)
    assert "households_csv" not in paths
    assert "households" not in {row[0] for row in pyogrio.list_layers(paths["gpkg"])}
    with rasterio.open(paths["households_dist_to_fiber_m_tif"]) as ds:
        arr = ds.read(1)
        assert ds.transform == res.grid.transform
    h = res.households
    d = h["dist_to_fiber_m"].to_numpy()
    got = arr[h["row"].to_numpy(), h["col"].to_numpy()]
    assert np.allclose(np.where(np.isfinite(d), d, np.nan), got, equal_nan=True, atol=1e-3)
    # the cells sit on the road (y = 750): 0 on the fiber (x <= 300), then the way along it; x = 850 is beyond 300 m
    assert h["x"].tolist()[:5] == [150.0, 250.0, 350.0, 450.0, 550.0]
    assert got[:5] == pytest.approx([0.0, 0.0, 50.0, 150.0, 250.0]) and np.isnan(got[-1])
    assert np.isnan(arr[0, 0])  # no household there
