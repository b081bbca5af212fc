"""Drops that never swim: a household drop crosses no river or canal; water is crossed on
the network only (bridges, ferries); crossing costs stay out of the metres (issue 12)."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from ictplan import fiber
from ictplan import network as nw
from ictplan._errors import RepairWarning

CRS = 32648


def _build(lines, kinds, cost=None):
    d = {"kind": kinds}
    if cost is not None:
        d["crossing_cost_m"] = cost
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepairWarning)
        return nw.build_edges(gpd.GeoDataFrame(d, geometry=lines, crs=CRS))


def _crosses_water(net, x, y, sx, sy):
    """The drop meets water at a point more than 1 cm from both of its ends."""
    seg = shapely.LineString([(x, y), (sx, sy)])
    ends = shapely.MultiPoint([(x, y), (sx, sy)])
    for w in net.water:
        for p in shapely.get_parts(seg.intersection(w)):
            if p.distance(ends) > 0.01 + 1e-9:
                return True
    return False


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 100_000), kind=st.sampled_from(["canal", "river"]))
def test_no_drop_crosses_water_on_random_canals(seed, kind):
    rng = np.random.default_rng(seed)
    # roads: 3 horizontal and 3 vertical lines over a 1 km square; water: a random 3-vertex line across it
    ys, xs = np.sort(rng.uniform(50, 950, 3)), np.sort(rng.uniform(50, 950, 3))
    roads = [shapely.LineString([(0, y), (1000, y)]) for y in ys] + [shapely.LineString([(x, 0), (x, 1000)]) for x in xs]
    water = shapely.LineString([(-10, rng.uniform(0, 1000)), (rng.uniform(200, 800), rng.uniform(0, 1000)),
                                (1010, rng.uniform(0, 1000))])
    net = _build(roads + [water], ["road"] * 6 + [kind])
    assert len(net.water) == 2  # the water line, as its two straight segments
    px, py = rng.uniform(0, 1000, 60), rng.uniform(0, 1000, 60)
    limit = 300.0
    snap = nw.snap_xy(net, px, py, max_distance_m=limit, dry=True)
    for i in range(len(px)):
        # brute force: the nearest point of every edge whose drop does not cross the water
        best = np.inf
        for g in net.geometry:
            q = g.interpolate(g.project(shapely.Point(px[i], py[i])))
            d = float(np.hypot(q.x - px[i], q.y - py[i]))
            if d <= limit and not _crosses_water(net, px[i], py[i], q.x, q.y):
                best = min(best, d)
        if snap["edge_id"][i] < 0:
            assert not np.isfinite(best)
            continue
        assert not _crosses_water(net, px[i], py[i], snap["x_snap"][i], snap["y_snap"][i])
        assert snap["drop_m"][i] == pytest.approx(best, abs=1e-6)
        g = net.geometry[snap["edge_id"][i]]
        q = g.interpolate(snap["along_m"][i])
        assert (q.x, q.y) == pytest.approx((snap["x_snap"][i], snap["y_snap"][i]), abs=1e-6)


def _communes():
    return gpd.GeoDataFrame({"commune_code": ["C0"], "commune_name": ["Xã 0"]},
                            geometry=[shapely.box(-100, -600, 3100, 600)], crs=CRS)


def _routes(line):
    return gpd.GeoDataFrame({"route_id": ["r"], "operator": ["VNPT"], "technology": ["GPON"], "placement": ["aerial"]},
                            geometry=[line], crs=CRS)


def test_household_across_a_canal_is_reached_over_the_bridge_only():
    # road A along y=0 carries fiber; a canal along y=20 (banks at y=15 and y=25, 5 m each side);
    # road B along y=40 on the far bank. A household at (1000, 30) is 5 m from its bank, 10 m
    # from road B and 30 m from road A across the canal.
    road_a = shapely.LineString([(0, 0), (3000, 0)])
    road_b = shapely.LineString([(0, 40), (3000, 40)])
    canal = shapely.LineString([(-50, 20), (3050, 20)])
    hh_pts = gpd.GeoDataFrame(geometry=[shapely.Point(1000, 30)], crs=CRS)
    communes = _communes()
    hh = fiber.households_from_points(hh_pts, communes)
    # no bridge: the household's dry drops are onto its own bank (5 m) or road B, which never meet road A
    net = _build([road_a, road_b, canal], ["road", "road", "canal"])
    res = fiber.analyse(net, hh, communes=communes, fiber_routes=_routes(road_a), corridor_m=5.0)
    h = res.households.iloc[0]
    assert h["drop_m"] == pytest.approx(5.0)  # onto its bank (y = 25), not 30 m across the canal to road A
    assert not h["reachable"]
    # a bridge at x=1100 joins the banks: 5 (drop) + 100 (along the bank) + 25 - 5 (bridge to A's corridor)
    bridge = shapely.LineString([(1100, 0), (1100, 40)])
    net = _build([road_a, road_b, canal, bridge], ["road", "road", "canal", "bridge"])
    res = fiber.analyse(net, hh, communes=communes, fiber_routes=_routes(road_a), corridor_m=5.0)
    h = res.households.iloc[0]
    assert h["reachable"] and h["dist_to_fiber_m"] == pytest.approx(5 + 100 + 20, abs=1e-6)  # corridor 5 m


def test_ferry_crossing_cost_stays_out_of_the_missing_metres():
    # fiber on road A (x in [0, 500]); a ferry (length 200 m, crossing cost 2000 m) to road B;
    # a hamlet on road B whose households are 100 m beyond the ferry landing.
    road_a = shapely.LineString([(0, 0), (1000, 0)])
    ferry = shapely.LineString([(1000, 0), (1200, 0)])
    road_b = shapely.LineString([(1200, 0), (2500, 0)])
    net = _build([road_a, ferry, road_b], ["road", "ferry", "road"], cost=[0.0, 2000.0, 0.0])
    communes = _communes()
    hamlets = gpd.GeoDataFrame({"hamlet_code": ["B"], "hamlet_name": ["Ấp B"], "commune_code": ["C0"]},
                               geometry=[shapely.box(1200, -100, 2000, 100)], crs=CRS)
    hh = fiber.households_from_points(gpd.GeoDataFrame(geometry=[shapely.Point(1300, 0)], crs=CRS), communes,
                                      hamlets=hamlets)
    res = fiber.analyse(net, hh, communes=communes, hamlets=hamlets,
                        fiber_routes=_routes(shapely.LineString([(0, 0), (500, 0)])), corridor_m=0.0)
    h = res.hamlets.iloc[0]
    # metres along the network: 500 (rest of A) + 200 (ferry) + 100 = 800, minus the 300 m drop limit
    assert h["missing_fiber_m"] == pytest.approx(800 - 300)
    # the crossing cost is reported beside them, never as metres
    assert h["missing_cost_m"] == pytest.approx(800 + 2000 - 300)
    assert res.province["missing_fiber_m"].iloc[0] == pytest.approx(500)
