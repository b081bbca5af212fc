"""PON capacity: busy-hour speed by hand and by brute force, port limits counted,
the nearest labelled source against networkx, and F1 under both rules (issue 12)."""

from __future__ import annotations

import dataclasses
import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from ictplan import fiber, parameters
from ictplan import fiber_capacity as fc
from ictplan import network as nw
from ictplan._errors import InputValidationError, RepairWarning

CRS = 32648
GPON_CAP = 2488.32 * 0.92
XGS_CAP = 9953.28 * 0.92


def _net(lines):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepairWarning)
        return nw.build_edges(gpd.GeoDataFrame({"kind": ["road"] * len(lines)}, geometry=lines, crs=CRS))


def _communes(box):
    return gpd.GeoDataFrame({"commune_code": ["C0"], "commune_name": ["Xã 0"]}, geometry=[shapely.box(*box)], crs=CRS)


def _aps(xy, tech="GPON", ports=None, split=None):
    d = {"ap_id": [f"AP{i}" for i in range(len(xy))], "operator": ["VNPT"] * len(xy), "technology": [tech] * len(xy)}
    if ports is not None:
        d["ports"] = ports
    if split is not None:
        d["split_ratio"] = split
    return gpd.GeoDataFrame(d, geometry=[shapely.Point(p) for p in xy], crs=CRS)


def _hh(xy, counts):
    g = gpd.GeoDataFrame({"households": counts}, geometry=[shapely.Point(p) for p in xy], crs=CRS)
    return g


# --------------------------------------------------------------------------- speed by hand
def test_busy_hour_speed_by_hand_small_splitter():
    # 20 subscribers, 20 % active -> 4 active users: the household and 3 others.
    # Others: half on 100 Mb/s, half on 1 Gb/s. Capacity 2488.32 x 0.92 = 2289.25 Mb/s.
    # Water level L: 1.5 x 100 + 1.5 x L + L = 2289.25  ->  L = 855.70 (the household's top plan is 1000)
    v = fc.busy_hour_mbps("GPON", 20, active_frac=0.2, plan_mbps=[100, 1000], plan_share=[0.5, 0.5],
                          efficiency_frac=0.92)
    assert v[0] == pytest.approx((GPON_CAP - 150) / 2.5)
    assert v[0] == pytest.approx(855.70, abs=0.01)
    # everyone on 1 Gb/s: 4 equal shares
    v = fc.busy_hour_mbps("GPON", 20, active_frac=0.2, plan_mbps=[1000], plan_share=[1.0], efficiency_frac=0.92)
    assert v[0] == pytest.approx(GPON_CAP / 4)
    # alone in the busy hour (5 x 0.2 = 1 active): the top plan, 1000 Mb/s (the ONT's port)
    v = fc.busy_hour_mbps("GPON", [5, 2], active_frac=0.2, plan_mbps=[1000], plan_share=[1.0], efficiency_frac=0.92)
    assert v.tolist() == [1000.0, 1000.0]
    # XGS-PON: 3 others at 1 Gb/s leave 9157 - 3000 to a household whose top plan is 10 Gb/s
    v = fc.busy_hour_mbps("XGS-PON", 40, active_frac=0.1, plan_mbps=[1000], plan_share=[1.0], efficiency_frac=0.92)
    assert v[0] == pytest.approx(XGS_CAP - 3000)


@settings(max_examples=60, deadline=None)
@given(subs=st.floats(0, 128), act=st.floats(0.01, 1.0),
       mix=st.lists(st.tuples(st.floats(10, 3000), st.floats(0.01, 1)), min_size=1, max_size=4),
       tech=st.sampled_from(["GPON", "XGS-PON"]))
def test_busy_hour_speed_equals_bisection_of_the_water_filling(subs, act, mix, tech):
    s = np.array([m[0] for m in mix])
    f = np.array([m[1] for m in mix])
    f = f / f.sum()
    got = fc.busy_hour_mbps(tech, subs, active_frac=act, plan_mbps=s, plan_share=f, efficiency_frac=0.92)[0]
    cap = fc.PON_LINE_RATE_MBPS[tech][0] * 0.92
    top = fiber.SPEEDS_MBPS[tech][1]
    others = max(1.0, act * subs) - 1.0

    def load(L):
        return others * float((f * np.minimum(s, L)).sum()) + min(top, L)

    if load(top) <= cap:
        want = top
    else:
        lo, hi = 0.0, top
        for _ in range(200):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if load(mid) <= cap else (lo, mid)
        want = lo
    assert got == pytest.approx(want, rel=1e-7, abs=1e-6)


def test_plan_mix_is_checked():
    bad = dataclasses.replace(parameters.FIBER, plan_mix_2025=((300.0, 0.5),))
    with pytest.raises(InputValidationError, match="sum to 1"):
        fc.demand(bad, 2025)
    with pytest.raises(InputValidationError, match="take_up_2030_frac"):
        fc.demand(dataclasses.replace(parameters.FIBER, take_up_2030_frac=1.5), 2030)


# --------------------------------------------------------------------------- ports
def test_port_limits_counted():
    # road 0..1000; AP0 at x=0 with 2 ports, AP1 at x=1000 with 10 ports. 10 households at x=100.
    # Take-up 0.5: they want 5 ports at AP0 (100 m away), which has 2: it serves 2 / 0.5 = 4 households.
    # The other 6 try AP1: 900 m away, beyond the 300 m limit -> port-limited.
    net = _net([shapely.LineString([(0, 0), (1000, 0)])])
    communes = _communes((-10, -50, 1010, 50))
    aps = _aps([(0, 0), (1000, 0)], ports=[2, 10])
    prm = dataclasses.replace(parameters.FIBER, take_up_2025_frac=0.5, take_up_2030_frac=0.5)
    hh = fiber.households_from_points(_hh([(100, 0)], [10]), communes)
    res = fiber.analyse(net, hh, communes=communes, access_points=aps, capacity=prm)
    p = res.province.iloc[0]
    assert p["households_reachable"] == pytest.approx(10)
    assert p["households_with_port"] == pytest.approx(4)
    assert p["households_port_limited"] == pytest.approx(6)
    ap = res.diagnostics["access_point_capacity"]
    assert ap["subscribers_2025"].tolist() == pytest.approx([2.0, 0.0])
    # a longer drop limit lets the 6 refused households reach AP1 (3 more ports): none limited
    res = fiber.analyse(net, hh, communes=communes, access_points=aps, capacity=prm, drop_limit_m=1000)
    p = res.province.iloc[0]
    assert p["households_with_port"] == pytest.approx(10) and p["households_port_limited"] == pytest.approx(0)
    assert res.diagnostics["access_point_capacity"]["subscribers_2025"].tolist() == pytest.approx([2.0, 3.0])
    # default ports (16 per access point, no column): 5 subscribers fit at AP0
    res = fiber.analyse(net, hh, communes=communes, access_points=_aps([(0, 0)]), capacity=prm)
    assert res.province["households_port_limited"].iloc[0] == pytest.approx(0)


def test_port_limited_households_count_in_f2_and_speed_follows_the_fill():
    # one AP with 8 ports at 1:8 split (the AP is the whole PON); 20 households at take-up 0.5:
    # 10 want ports, 8 get them -> 16 households served, 4 port-limited. The PON carries
    # 8 subscribers; 10 % active -> max(1, 0.8) = 1: the household alone gets its top plan.
    net = _net([shapely.LineString([(0, 0), (1000, 0)])])
    communes = _communes((-10, -50, 1010, 50))
    prm = dataclasses.replace(parameters.FIBER, take_up_2025_frac=0.5, busy_hour_active_2025_frac=1.0,
                              olt_uplink_mbps=(('GPON', 1e12), ('XGS-PON', 1e12)))  # the PON alone (the uplink: test_olt_uplink_*)
    hh = fiber.households_from_points(_hh([(50, 0)], [20]), communes)
    res = fiber.analyse(net, hh, communes=communes, access_points=_aps([(0, 0)], ports=[8], split=[8]), capacity=prm)
    p = res.province.iloc[0]
    assert p["households_with_port"] == pytest.approx(16) and p["households_port_limited"] == pytest.approx(4)
    # all 8 subscribers active, each others' demand from the 2025 mix: the speed is the water level
    mix = np.array(prm.plan_mix_2025)
    want = fc.busy_hour_mbps("GPON", 8, active_frac=1.0, plan_mbps=mix[:, 0], plan_share=mix[:, 1],
                             efficiency_frac=0.92)[0]
    assert res.diagnostics["access_point_capacity"]["busy_hour_mbps_2025"].iloc[0] == pytest.approx(want)
    assert want < 400  # 7 others with a 395 Mb/s mean demand share 2289 Mb/s
    assert p["households_ge_200mbps"] == pytest.approx(16 if want >= 200 else 0)
    assert p["households_gt_1gbps"] == pytest.approx(0)  # GPON never exceeds 1 Gb/s


def test_routes_only_pon_of_split_ratio_homes():
    # no access points: a PON passes split_ratio homes, take-up of them subscribe
    net = _net([shapely.LineString([(0, 0), (1000, 0)])])
    communes = _communes((-10, -50, 1010, 50))
    routes = gpd.GeoDataFrame({"route_id": ["r"], "operator": ["VNPT"], "technology": ["XGS-PON"],
                               "placement": ["aerial"]}, geometry=[shapely.LineString([(0, 0), (500, 0)])], crs=CRS)
    hh = fiber.households_from_points(_hh([(100, 5), (900, 5)], [1, 1]), communes)
    f = dataclasses.replace(parameters.FIBER, olt_uplink_mbps=(('GPON', 1e12), ('XGS-PON', 1e12)))  # the PON alone
    res = fiber.analyse(net, hh, communes=communes, fiber_routes=routes, capacity=f)
    h = res.households
    mix = np.array(f.plan_mix_2030)
    want = fc.busy_hour_mbps("XGS-PON", f.split_ratio * f.take_up_2030_frac, active_frac=f.busy_hour_active_2030_frac,
                             plan_mbps=mix[:, 0], plan_share=mix[:, 1], efficiency_frac=f.pon_efficiency_frac)[0]
    assert h["busy_hour_mbps_2030"].iloc[0] == pytest.approx(want, rel=1e-6)
    assert np.isnan(h["busy_hour_mbps_2030"].iloc[1])  # 400 m from fiber: no service
    assert h["gt_1gbps"].tolist() == [float(want > 1000), 0.0]
    assert res.province["households_port_limited"].iloc[0] == 0


# --------------------------------------------------------------------------- OLT uplink
def test_olt_uplink_binds_by_hand():
    # a GPON PON with 40 subscribers, 10 % active: the household and 3 others on 300 Mb/s.
    # PON alone: 3 x 300 + L = 2289.25 -> L = 1389 > the 1 Gb/s top plan: 1000.
    # Its OLT: 10 Gb/s for 8 PONs like it -> 1250 per PON: 3 x min(300, L) + L = 1250 -> L = 350.
    pon = fc.busy_hour_mbps("GPON", 40, active_frac=0.1, plan_mbps=[300], plan_share=[1.0], efficiency_frac=0.92)
    assert pon[0] == pytest.approx(1000.0)
    got = fc.olt_limited_mbps(pon, np.array([3.0]), group=np.array([0]), weight=np.array([8.0]),
                              uplink_mbps=np.array([10000.0]), plan_mbps=[300], plan_share=[1.0])
    assert got[0] == pytest.approx(350.0, abs=1e-6)
    # a 20 Gb/s uplink does not bind: 8 x (900 + 1000) = 15.2 Gb/s
    got = fc.olt_limited_mbps(pon, np.array([3.0]), group=np.array([0]), weight=np.array([8.0]),
                              uplink_mbps=np.array([20000.0]), plan_mbps=[300], plan_share=[1.0])
    assert got[0] == pytest.approx(1000.0)


def test_olt_uplink_shared_by_its_access_points_by_hand():
    # two access points on one OLT, each a quarter of a PON (16 ports of a 1:64 PON), 500 Mb/s uplink.
    # A: 3 others, own level 1000; B: 1 other, own level 1000.
    # 0.25 (3 min(300, L) + L) + 0.25 (min(300, L) + L) = 500 -> for L > 300: 0.25 (1200 + 2 L) = 500 -> L = 400
    kw = dict(group=np.array(["o", "o"]), weight=np.array([0.25, 0.25]), uplink_mbps=np.array([500.0, 500.0]),
              plan_mbps=[300], plan_share=[1.0])
    got = fc.olt_limited_mbps(np.array([1000.0, 1000.0]), np.array([3.0, 1.0]), **kw)
    assert got == pytest.approx([400.0, 400.0], abs=1e-6)
    # B limited to 100 by its own PON: 0.25 (900 + L) + 0.25 (100 + 100) = 500 -> L = 900 for A, B keeps 100
    got = fc.olt_limited_mbps(np.array([1000.0, 100.0]), np.array([3.0, 1.0]), **kw)
    assert got == pytest.approx([900.0, 100.0], abs=1e-6)
    # on two separate OLTs each has the whole 500 Mb/s (x 4 PONs' worth): 0.25 (3 min(300,L) + L) = 500 -> L = 1100 -> 1000
    got = fc.olt_limited_mbps(np.array([1000.0, 1000.0]), np.array([3.0, 1.0]), **{**kw, "group": np.array(["a", "b"])})
    assert got == pytest.approx([1000.0, 1000.0])


def test_olt_uplink_caps_the_busy_hour_speed_in_the_analysis():
    # one access point, 8 ports at 1:8 (the whole PON), 20 households at take-up 0.5 -> 8 subscribers,
    # all active: 7 others on the 2025 mix (150: 0.3, 300: 0.5, 1000: 0.2).
    # PON: 7 (195 + 0.2 L) + L = 2289.25 -> L = 385.1. OLT: 2 Gb/s for 2 such PONs -> 1000 per PON:
    # 7 g(L) + L = 1000 with g(L) = L below 150 -> 8 L = 1000 -> L = 125: below F3's 200 Mb/s.
    net = _net([shapely.LineString([(0, 0), (1000, 0)])])
    communes = _communes((-10, -50, 1010, 50))
    hh = fiber.households_from_points(_hh([(50, 0)], [20]), communes)
    aps = _aps([(0, 0)], ports=[8], split=[8])
    base = dict(take_up_2025_frac=0.5, busy_hour_active_2025_frac=1.0, pons_per_olt=2)
    for uplink, want, ge200 in ((2000.0, 125.0, 0.0), (1e12, (GPON_CAP - 1365) / 2.4, 16.0)):
        prm = dataclasses.replace(parameters.FIBER, olt_uplink_mbps=(("GPON", uplink),), **base)
        res = fiber.analyse(net, hh, communes=communes, access_points=aps, capacity=prm)
        ap = res.diagnostics["access_point_capacity"]
        assert ap["busy_hour_mbps_2025"].iloc[0] == pytest.approx(want, abs=1e-6)
        assert bool(ap["uplink_limited_2025"].iloc[0]) == (uplink < 1e6)
        assert res.province["households_ge_200mbps"].iloc[0] == pytest.approx(ge200)
    # the access points' own olt_id / olt_uplink_mbps columns: two such PONs on one 2 Gb/s OLT, each
    # a whole PON (8 ports / 1:8): the same 125 Mb/s. On 4 Gb/s, 2000 per PON:
    # 7 (45 + 0.7 L) + L = 2000 (150 < L < 300) -> L = 285.6; on 5 Gb/s (> 2 x 2289) the PONs' own 385.1
    two = _aps([(0, 0), (1000, 0)], ports=[8, 8], split=[8, 8])
    hh2 = fiber.households_from_points(_hh([(50, 0), (950, 0)], [20, 20]), communes)
    for uplink, want in ((2000.0, 125.0), (4000.0, (2000 - 315) / 5.9), (5000.0, (GPON_CAP - 1365) / 2.4)):
        two["olt_id"], two["olt_uplink_mbps"] = ["OLT-1", "OLT-1"], [uplink, uplink]
        prm = dataclasses.replace(parameters.FIBER, **base)
        res = fiber.analyse(net, hh2, communes=communes, access_points=two, capacity=prm)
        assert res.diagnostics["access_point_capacity"]["busy_hour_mbps_2025"].tolist() == pytest.approx([want, want])


# --------------------------------------------------------------------------- nearest source
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_nearest_source_matches_networkx(seed):
    rng = np.random.default_rng(seed)
    pts = rng.uniform(0, 1000, size=(8, 2))
    lines = [shapely.LineString([pts[i], pts[j]]) for i in range(8) for j in range(i + 1, 8) if rng.random() < 0.35]
    if not lines:
        return
    net = _net(lines)
    k = int(rng.integers(1, 16))  # many sources: several share an edge with each other and with targets
    se = rng.integers(0, net.n_edges, k)
    sa = rng.uniform(0, 1, k) * net.length_m[se]
    so = rng.uniform(0, 30, k)
    tx, ty = rng.uniform(0, 1000, 30), rng.uniform(0, 1000, 30)
    snap = nw.snap_xy(net, tx, ty)
    dist, src = nw.nearest_source(net, snap, source_edge=se, source_along_m=sa, source_offset_m=so, weight="length_m")
    # oracle: networkx graph with every source and target as a node splitting its edge
    G = nx.Graph()
    marks: dict[int, list[tuple[float, object]]] = {}
    for i in range(k):
        marks.setdefault(int(se[i]), []).append((float(sa[i]), ("s", i)))
    for t in range(len(tx)):
        marks.setdefault(int(snap["edge_id"][t]), []).append((float(snap["along_m"][t]), ("t", t)))
    for e in range(net.n_edges):
        chain = [(0.0, int(net.u[e]))] + sorted(marks.get(e, []), key=lambda m: m[0]) + [(float(net.length_m[e]), int(net.v[e]))]
        for (a0, n0), (a1, n1) in zip(chain[:-1], chain[1:], strict=True):
            w = a1 - a0
            if G.has_edge(n0, n1):
                w = min(w, G[n0][n1]["w"])
            G.add_edge(n0, n1, w=w)
    for i in range(k):
        G.add_edge(("S", i), ("s", i), w=float(so[i]))
    for t in range(len(tx)):
        best = min(((nx.shortest_path_length(G, ("S", i), ("t", t), weight="w") if nx.has_path(G, ("S", i), ("t", t))
                     else np.inf), i) for i in range(k))
        want = best[0] + snap["drop_m"][t]
        assert dist[t] == pytest.approx(want, abs=1e-6)
        if np.isfinite(want):
            d_chosen = (nx.shortest_path_length(G, ("S", int(src[t])), ("t", t), weight="w") + snap["drop_m"][t])
            assert d_chosen == pytest.approx(want, abs=1e-6)
        else:
            assert src[t] == -1


# --------------------------------------------------------------------------- F1 both rules
def test_f1_under_both_rules():
    # road 0..3000; an access point in hamlet A at x=100; hamlet B (x 1000..2000) holds an access
    # point at x=1990 but its households sit at x=1100..1300, > 300 m from it -> B has an access
    # point (access_point rule) but < 80 % of its households can reach fiber (share rule).
    net = _net([shapely.LineString([(0, 0), (3000, 0)])])
    communes = _communes((-10, -100, 3010, 100))
    hamlets = gpd.GeoDataFrame({"hamlet_code": ["A", "B", "C"], "hamlet_name": ["A", "B", "C"],
                                "commune_code": ["C0"] * 3},
                               geometry=[shapely.box(0, -100, 1000, 100), shapely.box(1000, -100, 2000, 100),
                                         shapely.box(2000, -100, 3000, 100)], crs=CRS)
    aps = _aps([(100, 10), (1990, 10)])
    xy = [(150, 5), (250, 5), (1100, 5), (1200, 5), (1300, 5), (2500, 5)]
    hh = fiber.households_from_points(_hh(xy, [1] * 6), communes, hamlets=hamlets)
    res = fiber.analyse(net, hh, communes=communes, hamlets=hamlets, access_points=aps)
    h = res.hamlets.set_index("hamlet_code")
    assert h["reached_share"].tolist() == [True, False, False]
    assert h["reached_access_point"].tolist() == [True, True, False]
    assert h["reached"].tolist() == h["reached_share"].tolist()  # the default rule
    res2 = fiber.analyse(net, hh, communes=communes, hamlets=hamlets, access_points=aps, hamlet_rule="access_point")
    assert res2.hamlets["reached"].tolist() == [True, True, False]
    p = res2.province.iloc[0]
    assert (p["hamlets_reached"], p["hamlets_reached_share"], p["hamlets_reached_access_point"]) == (2, 1, 2)
    with pytest.raises(InputValidationError, match="hamlet_rule"):
        fiber.analyse(net, hh, communes=communes, hamlets=hamlets, access_points=aps, hamlet_rule="any")
