"""Tests for ictplan.network: building, repairs, snapping to edges, exact reach distances.

Distances are checked against independent computations: hand arithmetic on a straight
road, and networkx Dijkstra on a graph where every snapped point is inserted as a node
(hypothesis-generated random networks).
"""

from __future__ import annotations

import warnings

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ictplan import network as nw
from ictplan._errors import (
    CRSMismatchError,
    EmptyLayerError,
    GeographicCRSError,
    GeometryTypeError,
    InputValidationError,
    MissingColumnError,
    MissingCRSError,
    RepairWarning,
)

CRS = 32648


def gdf(geoms, kinds=None, crs=CRS, **cols):
    kinds = kinds or ["road"] * len(geoms)
    return gpd.GeoDataFrame({"kind": kinds, **cols}, geometry=list(geoms), crs=crs)


def quiet_build(lines, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RepairWarning)
        return nw.build_edges(lines, **kw)


# --------------------------------------------------------------------------- build
def test_crossing_and_t_junction_are_noded():
    lines = gdf([
        shapely.LineString([(0, 0), (100, 0)]),
        shapely.LineString([(50, -50), (50, 50)]),   # crosses the first at (50, 0)
        shapely.LineString([(80, 0), (80, 40)]),     # T: ends on the first's interior
    ])
    net = quiet_build(lines)
    assert net.n_edges == 2 + 2 + 1 + 1  # first line split twice -> 3, cross -> 2, T -> 1
    assert net.n_edges == 6
    assert net.n_nodes == 7
    assert net.component_sizes == [7]
    assert net.length_m.sum() == pytest.approx(100 + 100 + 40)
    G = nw.to_networkx(net)
    # the T stub is reachable from the cross's top through (50,0) -> (80,0)
    node = {(d["x"], d["y"]): n for n, d in G.nodes(data=True)}
    d = nx.shortest_path_length(G, node[(50.0, 50.0)], node[(80.0, 40.0)], weight="length_m")
    assert d == pytest.approx(50 + 30 + 40)


def test_repairs_are_counted():
    lines = gdf(
        [
            shapely.LineString([(0, 0, 3), (100, 0, 3)]),                       # Z
            shapely.MultiLineString([[(100.4, 0), (200, 0)], [(200, 0), (200, 100)]]),  # multi + 0.4 m gap
            shapely.LineString([(0, 0), (100, 0)]),                             # duplicate of the first
            shapely.LineString([(500, 500), (500, 500)]),                       # zero length
            shapely.LineString([(300, 0), (400, 0)]),                           # 100 m away: its own piece
            shapely.LineString([(150, -50), (150, 50)]),                        # river: not traversable
            None,
        ],
        kinds=["road", "canal", "road", "road", "road", "river", "road"],
    )
    with pytest.warns(RepairWarning, match="lines_with_z_dropped_z=1"):
        net = nw.build_edges(lines, snap_tolerance_m=1.0, canal_half_width_m=0.0)  # the canal as one line here
    r = net.repairs
    assert r["lines_with_z_dropped_z"] == 1
    assert r["multilines_exploded"] == 1
    assert r["duplicate_edges_removed"] == 1
    assert r["zero_length_parts_removed"] == 1
    assert r["river_lines_excluded"] == 1
    assert r["empty_geometries_removed"] == 1
    assert r["endpoints_snapped"] == 1  # (100.4, 0) joined to (100, 0)
    assert net.component_sizes == [4, 2]
    assert not shapely.has_z(net.geometry).any()
    # the river crossed the canal at (150, 0) but created no node there
    assert not np.any(np.all(net.node_xy == [150.0, 0.0], axis=1))
    G = nw.to_networkx(net)
    assert G.graph["repairs"] == r
    assert G.graph["components"] == [4, 2]
    assert {d["component"] for _, _, d in G.edges(data=True)} == {0, 1}


def test_snap_tolerance_joins_only_close_ends():
    a = shapely.LineString([(0, 0), (100, 0)])
    b = shapely.LineString([(102, 0), (200, 0)])  # 2 m gap
    assert quiet_build(gdf([a, b]), snap_tolerance_m=1.0).component_sizes == [2, 2]
    net = quiet_build(gdf([a, b]), snap_tolerance_m=2.5)
    assert net.component_sizes == [3]
    assert net.repairs["endpoints_snapped"] == 1
    # geometry ends match node coordinates after snapping
    c = shapely.get_coordinates(net.geometry)
    assert set(map(tuple, c)) <= set(map(tuple, net.node_xy))


def test_crossing_cost_is_spread_over_pieces():
    lines = gdf(
        [shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(25, -10), (25, 10)])],
        kinds=["bridge", "road"],
        crossing_cost_m=[80.0, 0.0],
    )
    net = quiet_build(lines)
    bridge = net.kind == "bridge"
    assert net.crossing_cost_m[bridge].sum() == pytest.approx(80.0)
    assert sorted(net.crossing_cost_m[bridge]) == pytest.approx([20.0, 60.0])
    assert np.allclose(net.cost_m, net.length_m + net.crossing_cost_m)


def test_geographic_crs_refused_unless_working_crs():
    lines = gdf([shapely.LineString([(105.0, 9.0), (105.01, 9.0)])], crs=4326)
    with pytest.raises(GeographicCRSError, match="to_crs"):
        nw.build_edges(lines)
    net = nw.build_edges(lines, working_crs=CRS)
    assert net.crs.to_epsg() == CRS
    assert net.length_m[0] == pytest.approx(1099.6, abs=2.0)  # 0.01° of longitude at 9°N


def test_bad_inputs_have_clear_errors():
    with pytest.raises(MissingColumnError, match="kind"):
        nw.build_edges(gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 1)])], crs=CRS))
    with pytest.raises(InputValidationError, match="unknown line kinds"):
        nw.build_edges(gdf([shapely.LineString([(0, 0), (1, 1)])], kinds=["railway"]))
    with pytest.raises(GeometryTypeError):
        nw.build_edges(gdf([shapely.Point(0, 0)]))
    with pytest.raises(MissingCRSError):
        nw.build_edges(gdf([shapely.LineString([(0, 0), (1, 1)])], crs=None))
    with pytest.raises(EmptyLayerError):
        nw.build_edges(gdf([shapely.LineString([(0, 0), (1, 1)])], kinds=["river"]))
    with pytest.raises(InputValidationError, match="snap_tolerance_m"):
        nw.build_edges(gdf([shapely.LineString([(0, 0), (1, 1)])]), snap_tolerance_m=-1)
    with pytest.raises(InputValidationError, match="GeoDataFrame"):
        nw.build_edges([shapely.LineString([(0, 0), (1, 1)])])


def test_build_does_not_mutate_input():
    lines = gdf([shapely.LineString([(0, 0, 1), (100, 0, 1)]), shapely.LineString([(50, -5), (50, 5)])])
    before = lines.copy()
    quiet_build(lines)
    assert lines.equals(before)
    assert shapely.has_z(lines.geometry.values[0])


def test_networkx_roundtrip_and_gdfs_keep_crs():
    lines = gdf([shapely.LineString([(0, 0), (100, 0), (100, 100)]), shapely.LineString([(50, -50), (50, 50)])])
    G = nw.build_network(lines)
    assert G.graph["crs"].to_epsg() == CRS
    net = nw.from_networkx(G)
    assert net.crs.to_epsg() == CRS
    assert net.n_edges == G.number_of_edges()
    assert net.length_m.sum() == pytest.approx(300.0)
    nodes, edges = nw.to_gdfs(G)
    assert nodes.crs.to_epsg() == CRS and edges.crs.to_epsg() == CRS
    assert {"edge_id", "u", "v", "length_m", "cost_m", "component"} <= set(edges.columns)
    assert len(nodes) == G.number_of_nodes()


def test_csgraph_matches_networkx():
    rng = np.random.default_rng(1)
    segs = [shapely.LineString(rng.uniform(0, 1000, (2, 2))) for _ in range(25)]
    G = nw.build_network(gdf(segs), snap_tolerance_m=0.0)
    mat, index = nw.to_csgraph(G, weight="length_m")
    from scipy.sparse.csgraph import dijkstra

    src = index[0]
    d_sp = dijkstra(mat, indices=0)
    d_nx = nx.single_source_dijkstra_path_length(G, src, weight="length_m")
    for i, n in enumerate(index):
        assert d_sp[i] == pytest.approx(d_nx.get(n, np.inf))


# --------------------------------------------------------------------------- snapping
def test_snap_is_to_the_nearest_point_on_an_edge():
    net = quiet_build(gdf([shapely.LineString([(0, 0), (2000, 0)]), shapely.LineString([(0, 0), (0, 2000)])]))
    s = nw.snap_xy(net, np.array([1000.0, 30.0, -10.0]), np.array([15.0, 900.0, -10.0]))
    assert s["drop_m"].tolist() == pytest.approx([15.0, 30.0, np.hypot(10, 10)])
    assert s["x_snap"].tolist() == pytest.approx([1000.0, 0.0, 0.0])
    assert s["y_snap"].tolist() == pytest.approx([0.0, 900.0, 0.0])
    e = s["edge_id"]
    horiz = int(np.flatnonzero(np.isclose(net.node_xy[net.v, 0] + net.node_xy[net.u, 0], 2000))[0])
    assert e[0] == horiz
    # along is measured from the edge's u end
    ux = net.node_xy[net.u[horiz], 0]
    assert s["along_m"][0] == pytest.approx(abs(1000.0 - ux))


def test_snap_points_checks_crs_and_keeps_index():
    net = quiet_build(gdf([shapely.LineString([(0, 0), (1000, 0)])]))
    pts = gpd.GeoSeries([shapely.Point(10, 5), shapely.Point(20, -7)], index=[7, 3], crs=CRS)
    res = nw.snap_points(pts, net)
    assert res.index.tolist() == [7, 3]
    assert res["drop_m"].tolist() == pytest.approx([5.0, 7.0])
    with pytest.raises(CRSMismatchError, match="to_crs"):
        nw.snap_points(pts.to_crs(4326), net)
    before = pts.copy()
    nw.snap_points(pts, net)
    assert pts.equals(before)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    max_d=st.one_of(st.none(), st.floats(1.0, 400.0)),
)
def test_snap_matches_brute_force(seed, max_d):
    rng = np.random.default_rng(seed)
    segs = [shapely.LineString(rng.uniform(0, 1000, (rng.integers(2, 5), 2))) for _ in range(rng.integers(1, 15))]
    net = quiet_build(gdf(segs), snap_tolerance_m=0.0)
    px, py = rng.uniform(-200, 1200, 60), rng.uniform(-200, 1200, 60)
    s = nw.snap_xy(net, px, py, max_distance_m=max_d)
    pts = shapely.points(px, py)
    brute = shapely.distance(pts[:, None], net.geometry[None, :]).min(axis=1)
    within = brute <= (np.inf if max_d is None else max_d)
    assert np.array_equal(s["edge_id"] >= 0, within)
    assert np.allclose(s["drop_m"][within], brute[within], atol=1e-6)
    # the snapped point is on the chosen edge at the reported position
    e = s["edge_id"][within]
    on = shapely.line_interpolate_point(net.geometry[e], s["along_m"][within])
    assert np.allclose(shapely.get_x(on), s["x_snap"][within], atol=1e-6)
    assert np.allclose(shapely.get_y(on), s["y_snap"][within], atol=1e-6)


# --------------------------------------------------------------------------- distances
def test_straight_road_known_answers():
    # one 1000 m road, access along its first 100 m (a fiber interval) and a point source at 900 m
    net = quiet_build(gdf([shapely.LineString([(0, 0), (1000, 0)])]))
    tgt = nw.snap_xy(net, np.array([500.0, 50.0, 300.0, 960.0, 1500.0]), np.array([50.0, 10.0, 20.0, -5.0, 0.0]))
    flip = net.node_xy[net.u[0], 0] != 0.0  # along_m is measured from u
    pos = (lambda a: 1000.0 - a) if flip else (lambda a: a)
    d = nw.distance_to_nearest(
        net, tgt, source_edge=np.array([0, 0]), source_start_m=np.array([pos(0.0), pos(900.0)]),
        source_end_m=np.array([pos(100.0), pos(900.0)]), source_offset_m=np.array([0.0, 7.0]),
    )
    assert d.tolist() == pytest.approx([50 + 400, 10 + 0, 20 + 200, 5 + 60 + 7, 500 + 100 + 7])
    lim = nw.distance_to_nearest(
        net, tgt, source_edge=np.array([0]), source_start_m=np.array([pos(0.0)]), source_end_m=np.array([pos(100.0)]),
        limit_m=300.0,
    )
    assert lim[1] == pytest.approx(10.0) and lim[2] == pytest.approx(220.0)
    assert np.isinf(lim[[0, 3, 4]]).all()


def test_snap_to_edge_reaches_where_nearest_node_misses():
    # a 2000 m road with fiber along it; a household 10 m beside its middle
    net = quiet_build(gdf([shapely.LineString([(0, 0), (2000, 0)])]))
    hh = nw.snap_xy(net, np.array([1000.0]), np.array([10.0]), max_distance_m=300)
    d = nw.distance_to_nearest(net, hh, source_edge=np.array([0]), source_start_m=np.array([0.0]),
                               source_end_m=np.array([2000.0]), limit_m=300)
    assert d[0] == pytest.approx(10.0)
    # the nearest-node rule: the household joins node (0,0) or (2000,0), 1000 m away
    nearest_node = np.hypot(*(net.node_xy - [1000.0, 10.0]).T).min()
    assert nearest_node > 300


def test_crossing_cost_counts_in_cost_weight_only():
    lines = gdf(
        [shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(100, 0), (150, 0)]),
         shapely.LineString([(150, 0), (250, 0)])],
        kinds=["road", "ferry", "road"], crossing_cost_m=[0.0, 500.0, 0.0],
    )
    net = quiet_build(lines)
    tgt = nw.snap_xy(net, np.array([240.0]), np.array([0.0]))
    e0 = int(np.flatnonzero(np.isclose(shapely.get_x(shapely.centroid(net.geometry)), 50.0))[0])
    start = 0.0 if net.node_xy[net.u[e0], 0] == 0 else 100.0
    kw = dict(source_edge=np.array([e0]), source_start_m=np.array([start]))
    assert nw.distance_to_nearest(net, tgt, weight="length_m", **kw)[0] == pytest.approx(240.0)
    assert nw.distance_to_nearest(net, tgt, weight="cost_m", **kw)[0] == pytest.approx(740.0)


def _brute_force(net, tgt, src_edge, src_a, src_b, src_off, weight):
    """Independent distances: every snapped point becomes a node of a networkx graph."""
    w = net.weight_array(weight)
    G = nx.Graph()
    per_edge: dict[int, list] = {}
    for i, (e, a) in enumerate(zip(tgt["edge_id"], tgt["along_m"], strict=True)):
        if e >= 0:
            per_edge.setdefault(int(e), []).append((a, ("t", i)))
    for j, (e, a, b) in enumerate(zip(src_edge, src_a, src_b, strict=True)):
        per_edge.setdefault(int(e), []).append((min(a, b), ("sa", j)))
        per_edge.setdefault(int(e), []).append((max(a, b), ("sb", j)))
    for e in range(net.n_edges):
        L = net.length_m[e]
        scale = w[e] / L
        pts = [(0.0, ("n", int(net.u[e])))] + sorted(per_edge.get(e, []), key=lambda p: p[0]) + [(L, ("n", int(net.v[e])))]
        chain = []
        for pos, label in pts:
            node = label if label[0] == "n" else ("p", e, label)
            chain.append((pos, node))
        for (p0, n0), (p1, n1) in zip(chain, chain[1:], strict=False):
            if n0 == n1:
                continue
            wt = (p1 - p0) * scale
            if G.has_edge(n0, n1):
                wt = min(wt, G[n0][n1]["w"])
            G.add_edge(n0, n1, w=wt)
        # every chain point inside a source interval is access
        for j in [j for j, ee in enumerate(src_edge) if ee == e]:
            lo, hi = min(src_a[j], src_b[j]), max(src_a[j], src_b[j])
            for pos, node in chain:
                if lo - 1e-9 <= pos <= hi + 1e-9:
                    if G.has_edge("S", node):
                        G["S"][node]["w"] = min(G["S"][node]["w"], src_off[j])
                    else:
                        G.add_edge("S", node, w=src_off[j])
    for i, (e, dr) in enumerate(zip(tgt["edge_id"], tgt["drop_m"], strict=True)):
        if e >= 0:
            G.add_edge(("h", i), ("p", int(e), ("t", i)), w=dr)
    if "S" not in G:
        return np.full(len(tgt["edge_id"]), np.inf)
    dist = nx.single_source_dijkstra_path_length(G, "S", weight="w")
    return np.array([dist.get(("h", i), np.inf) for i in range(len(tgt["edge_id"]))])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 100_000),
    n_lines=st.integers(1, 12),
    n_src=st.integers(0, 5),
    weight=st.sampled_from(["length_m", "cost_m"]),
    limit=st.sampled_from([np.inf, 150.0, 400.0]),
)
def test_distances_match_networkx_brute_force(seed, n_lines, n_src, weight, limit):
    rng = np.random.default_rng(seed)
    segs = [shapely.LineString(rng.uniform(0, 1000, (rng.integers(2, 4), 2))) for _ in range(n_lines)]
    kinds = rng.choice(["road", "canal", "bridge", "ferry"], n_lines).tolist()
    cost = rng.choice([0.0, 0.0, 50.0, 300.0], n_lines)
    net = quiet_build(gdf(segs, kinds=kinds, crossing_cost_m=cost), snap_tolerance_m=float(rng.choice([0.0, 5.0])))
    px, py = rng.uniform(-100, 1100, 40), rng.uniform(-100, 1100, 40)
    tgt = nw.snap_xy(net, px, py, max_distance_m=None if np.isinf(limit) else limit)
    se = rng.integers(0, net.n_edges, n_src)
    sa = rng.uniform(0, 1, n_src) * net.length_m[se]
    interval = rng.uniform(0, 1, n_src) < 0.5
    sb = np.where(interval, rng.uniform(0, 1, n_src) * net.length_m[se], sa)
    so = np.where(rng.uniform(0, 1, n_src) < 0.5, 0.0, rng.uniform(0, 100, n_src))
    got = nw.distance_to_nearest(net, tgt, source_edge=se, source_start_m=sa, source_end_m=sb,
                                 source_offset_m=so, weight=weight, limit_m=limit)
    want = _brute_force(net, tgt, se, sa, sb, so, weight)
    want = np.where(want > limit, np.inf, want)
    assert np.array_equal(np.isinf(got), np.isinf(want))
    fin = np.isfinite(want)
    assert np.allclose(got[fin], want[fin], rtol=1e-9, atol=1e-6)


def test_distance_input_errors():
    net = quiet_build(gdf([shapely.LineString([(0, 0), (100, 0)])]))
    tgt = nw.snap_xy(net, np.array([1.0]), np.array([1.0]))
    with pytest.raises(InputValidationError, match="limit_m"):
        nw.distance_to_nearest(net, tgt, source_edge=np.array([0]), source_start_m=np.array([0.0]), limit_m=-1)
    with pytest.raises(InputValidationError, match="weight"):
        nw.distance_to_nearest(net, tgt, source_edge=np.array([0]), source_start_m=np.array([0.0]), weight="time")
    with pytest.raises(InputValidationError, match="same length"):
        nw.snap_xy(net, np.array([1.0, 2.0]), np.array([1.0]))


def _geos_noding_pairs(geoms):
    """Reference: pairs whose DE-9IM says they meet other than end to end."""
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if not len(i):
        return set()
    r = np.array([list(x) for x in shapely.relate(geoms[i], geoms[j])])
    need = (r[:, 0] != "F") | (r[:, 1] != "F") | (r[:, 3] != "F")
    return set(zip(i[need].tolist(), j[need].tolist(), strict=True))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 100_000), n=st.integers(2, 25), grid=st.sampled_from([3, 5, 50]))
def test_noding_prefilter_finds_every_pair_geos_would_node(seed, n, grid):
    # coordinates on a coarse grid: many shared ends, T-junctions, collinear overlaps, duplicates
    rng = np.random.default_rng(seed)
    geoms = np.array([shapely.LineString(rng.integers(0, grid, (rng.integers(2, 5), 2)) * 10.0) for _ in range(n)])
    # simple lines only: for a line that passes through its own end, GEOS's mod-2 rule
    # calls that point boundary (no node); ictplan nodes it (a junction on the ground)
    geoms = geoms[(shapely.length(geoms) > 0) & shapely.is_simple(geoms)]
    if len(geoms) < 2:
        return
    ref = sorted(_geos_noding_pairs(geoms))
    ref_pairs = (np.array([a for a, _ in ref], np.int64), np.array([b for _, b in ref], np.int64))
    got = nw._node_lines(geoms, 1e-9)
    want = nw._node_lines(geoms, 1e-9, pairs=ref_pairs)
    # the same pieces, from the same lines, as noding every pair GEOS's DE-9IM flags
    key = lambda res: sorted(zip(shapely.to_wkb(shapely.normalize(res[0])).tolist(), res[1].tolist(), strict=True))  # noqa: E731
    assert key(got) == key(want)
    assert got[2] == want[2]


# =========================================================================== data-centre redundancy
def _dcs(points):
    return gpd.GeoDataFrame({"facility_id": [f"dc{i}" for i in range(len(points))]},
                            geometry=[shapely.Point(p) for p in points], crs=CRS)


def _routes(segs):
    return gpd.GeoDataFrame({"route_id": [str(i) for i in range(len(segs))]},
                            geometry=[shapely.LineString(s) for s in segs], crs=CRS)


def test_datacentre_ring_line_and_far():
    ring = _routes([[(0, 0), (1000, 0)], [(1000, 0), (1000, 1000)], [(1000, 1000), (0, 1000)], [(0, 1000), (0, 0)]])
    r = nw.datacentre_redundancy(ring, _dcs([(500, 0), (500, 1000)]))
    assert r["disjoint_paths"].tolist() == [2] and r["redundant"].tolist() == [True]
    chain = _routes([[(0, 0), (1000, 0)], [(1000, 0), (2000, 0)]])
    r = nw.datacentre_redundancy(chain, _dcs([(100, 10), (1900, -10)]))
    assert r["disjoint_paths"].tolist() == [1] and r["redundant"].tolist() == [False]
    r = nw.datacentre_redundancy(ring, _dcs([(500, 0), (5000, 5000)]), attach_distance_m=300)
    assert r["disjoint_paths"].tolist() == [0]
    # two routes crossing without a shared vertex are noded at the crossing
    cross = _routes([[(0, 500), (1000, 500)], [(500, 0), (500, 1000)], [(0, 500), (0, 0), (500, 0)]])
    r = nw.datacentre_redundancy(cross, _dcs([(0, 250), (250, 500)]))
    assert r["disjoint_paths"].tolist() == [2]


def test_datacentre_redundancy_edge_cases():
    from ictplan.parameters import FIBER

    ring = _routes([[(0, 0), (1000, 0)], [(1000, 0), (1000, 1000)], [(1000, 1000), (0, 1000)], [(0, 1000), (0, 0)]])
    # one centre: no pair; no routes: every pair has 0 paths
    assert nw.datacentre_redundancy(ring, _dcs([(0, 0)])).columns.tolist() == ["a", "b", "disjoint_paths", "redundant"]
    assert len(nw.datacentre_redundancy(ring, _dcs([(0, 0)]))) == 0
    r = nw.datacentre_redundancy(ring.iloc[:0], _dcs([(0, 0), (10, 0), (20, 0)]))
    assert list(zip(r["a"], r["b"], strict=True)) == [("dc0", "dc1"), ("dc0", "dc2"), ("dc1", "dc2")]
    assert r["disjoint_paths"].tolist() == [0, 0, 0]
    # two centres at one node: nothing to cut between them
    assert nw.datacentre_redundancy(ring, _dcs([(0, 0), (0, 0)]))["disjoint_paths"].tolist() == [2]
    # the attach default is the fiber drop limit: a centre just inside attaches, just outside not
    near = nw.datacentre_redundancy(ring, _dcs([(500, 0), (500, 1000 + FIBER.drop_limit_m - 1)]))
    far = nw.datacentre_redundancy(ring, _dcs([(500, 0), (500, 1000 + FIBER.drop_limit_m + 1)]))
    assert near["disjoint_paths"].tolist() == [2] and far["disjoint_paths"].tolist() == [0]
    with pytest.raises(MissingColumnError, match="facility_id"):
        nw.datacentre_redundancy(ring, _dcs([(0, 0), (1, 1)]).rename(columns={"facility_id": "id"}))
    with pytest.raises(CRSMismatchError):
        nw.datacentre_redundancy(ring, _dcs([(0, 0), (1, 1)]).set_crs(32649, allow_override=True))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.booleans(), min_size=24, max_size=24),
       st.lists(st.integers(0, 15), min_size=2, max_size=4, unique=True))
def test_datacentre_redundancy_matches_networkx_edge_connectivity(keep, nodes):
    G = nx.grid_2d_graph(4, 4)
    edges = [e for e, k in zip(sorted(G.edges()), keep, strict=True) if k]
    H = nx.Graph()
    H.add_nodes_from(G.nodes())
    H.add_edges_from(edges)
    xy = {n: (n[0] * 1000.0, n[1] * 1000.0) for n in G.nodes()}
    routes = _routes([[xy[a], xy[b]] for a, b in edges]) if edges else _routes([[(9e4, 9e4), (9.1e4, 9e4)]])
    pts = [list(G.nodes())[i] for i in nodes]
    r = nw.datacentre_redundancy(routes, _dcs([xy[p] for p in pts]), attach_distance_m=1.0)
    got = dict(zip(zip(r["a"], r["b"], strict=True), r["disjoint_paths"], strict=True))
    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            want = min(2, nx.edge_connectivity(H, pts[i], pts[j])) if H.degree(pts[i]) and H.degree(pts[j]) else 0
            assert got[(f"dc{i}", f"dc{j}")] == want


# =========================================================================== the package's seams
def test_package_exports_and_private_helpers_fiber_uses():
    import ictplan.network as pkg
    from ictplan.network import build, convert, paths, redundancy, snapping, table

    for name in pkg.__all__:
        assert getattr(pkg, name) is not None
    assert pkg.build_edges is build.build_edges and pkg.snap_xy is snapping.snap_xy
    assert pkg.to_networkx is convert.to_networkx and pkg.distance_to_nearest is paths.distance_to_nearest
    assert pkg.EdgeNetwork is table.EdgeNetwork and pkg.datacentre_redundancy is redundancy.datacentre_redundancy
    for name in ("_point_xy", "_as_net", "_node_lines"):  # used as nw._x by fiber and the tests
        assert callable(getattr(pkg, name))


def test_repair_warning_points_at_the_caller():
    lines = gdf([shapely.LineString([(0, 0), (100, 0)]), shapely.LineString([(100.5, 0), (200, 0)])])
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        nw.build_edges(lines)
    assert [w.category for w in rec] == [RepairWarning]
    assert rec[0].filename == __file__ and "endpoints_snapped=1" in str(rec[0].message)


def _roads(segs):
    return gpd.GeoDataFrame({"kind": ["road"] * len(segs)}, geometry=[shapely.LineString(s) for s in segs], crs=CRS)


def test_datacentre_redundancy_two_cables_in_one_trench_are_one_path():
    # one road from (0,0) to (2000,0); two operators' cables along it, 4 m apart (one trench)
    road = _roads([[(0, 0), (2000, 0)]])
    cables = _routes([[(0, 2), (2000, 2)], [(0, -2), (2000, -2)]])
    dcs = _dcs([(10, 0), (1990, 0)])
    # on the cables alone (the old reading) the two lines look like two paths once joined at the ends
    joined = _routes([[(0, 2), (2000, 2)], [(0, -2), (2000, -2)], [(0, 2), (0, -2)], [(2000, 2), (2000, -2)]])
    assert nw.datacentre_redundancy(joined, _dcs([(0, 0), (2000, 0)]))["disjoint_paths"].tolist() == [2]
    # on the road corridors: one trench, one path
    for routes in (cables, joined):
        r = nw.datacentre_redundancy(routes, dcs, roads=road)
        assert r["disjoint_paths"].tolist() == [1] and r["redundant"].tolist() == [False]


def test_datacentre_redundancy_two_separate_roads_are_redundant():
    # two roads between the same towns: a northern one and a southern one; one cable on each
    roads = _roads([[(0, 0), (1000, 500), (2000, 0)], [(0, 0), (1000, -500), (2000, 0)], [(-500, 0), (0, 0)],
                    [(2000, 0), (2500, 0)]])
    cables = _routes([[(0, 3), (1000, 503), (2000, 3)], [(0, -3), (1000, -503), (2000, -3)]])
    r = nw.datacentre_redundancy(cables, _dcs([(5, 0), (1995, 0)]), roads=roads)
    assert r["disjoint_paths"].tolist() == [2] and r["redundant"].tolist() == [True]
    # take the southern cable away: the southern road carries no fiber, one path is left
    r = nw.datacentre_redundancy(cables.iloc[:1], _dcs([(5, 0), (1995, 0)]), roads=roads)
    assert r["disjoint_paths"].tolist() == [1]
    # no road carries fiber: no path at all
    far = _routes([[(0, 5000), (2000, 5000)]])
    assert nw.datacentre_redundancy(far, _dcs([(5, 0), (1995, 0)]), roads=roads)["disjoint_paths"].tolist() == [0]


def test_datacentre_redundancy_reads_the_corridor_width():
    # the towns of the previous test, the southern cable drawn 12 m off its road: with a 15 m
    # trench (the default, [parameters.sharing] corridor_m) it runs along the road; with 10 m not
    roads = _roads([[(0, 0), (1000, 500), (2000, 0)], [(0, 0), (1000, -500), (2000, 0)], [(-500, 0), (0, 0)],
                    [(2000, 0), (2500, 0)]])
    cables = _routes([[(0, 3), (1000, 503), (2000, 3)], [(0, -12), (1000, -512), (2000, -12)]])
    dcs = _dcs([(5, 0), (1995, 0)])
    assert nw.datacentre_redundancy(cables, dcs, roads=roads)["disjoint_paths"].tolist() == [2]
    assert nw.datacentre_redundancy(cables, dcs, roads=roads, corridor_m=15.0)["disjoint_paths"].tolist() == [2]
    assert nw.datacentre_redundancy(cables, dcs, roads=roads, corridor_m=10.0)["disjoint_paths"].tolist() == [1]


def test_datacentre_redundancy_a_canal_cable_is_one_bank():
    # two towns joined by a canal (y = 0) and nothing else; one cable along the canal's line:
    # the canal's two banks are two edges, but the cable is on one of them: one path, not two
    canal = gpd.GeoDataFrame({"kind": ["canal", "road", "road"]},
                             geometry=[shapely.LineString([(0, 0), (2000, 0)]), shapely.LineString([(0, -50), (0, 50)]),
                                       shapely.LineString([(2000, -50), (2000, 50)])], crs=CRS)
    cable = _routes([[(0, 0), (2000, 0)]])
    r = nw.datacentre_redundancy(cable, _dcs([(5, 20), (1995, 20)]), roads=canal)
    assert r["disjoint_paths"].tolist() == [1]
    # with the canal read as one line for both banks, as before, also one path
    net = quiet_build(canal, canal_half_width_m=0.0)
    assert nw.datacentre_redundancy(cable, _dcs([(5, 20), (1995, 20)]), roads=net)["disjoint_paths"].tolist() == [1]


# --------------------------------------------------------------------------- canal banks
def _canal_t_junctions(half_width=5.0, crossing=True):
    # a canal drawn west -> east along y = 0; road N ends on it from the north at x = 300,
    # road S from the south at x = 320 (two roads ending at one point would be one road
    # crossing the canal); road X crosses it at x = 700 (its bridge)
    lines = [shapely.LineString([(0, 0), (1000, 0)]), shapely.LineString([(300, 100), (300, 0)]),
             shapely.LineString([(320, -100), (320, 0)])]
    kinds = ["canal", "road", "road"]
    if crossing:
        lines.append(shapely.LineString([(700, 100), (700, -100)]))
        kinds.append("road")
    return quiet_build(gdf(lines, kinds), canal_half_width_m=half_width)


def _node(net, xy):
    return int(np.flatnonzero(np.all(np.isclose(net.node_xy, xy), axis=1))[0])


def _dist(net, a, b):
    """Shortest length between the nodes at a and b, by networkx on the converted graph."""
    G = nw.to_networkx(net)
    node = {(round(d["x"], 6), round(d["y"], 6)): n for n, d in G.nodes(data=True)}
    try:
        return nx.shortest_path_length(G, node[a], node[b], weight="length_m")
    except nx.NetworkXNoPath:
        return np.inf


def test_canal_is_two_banks_joined_only_where_a_line_crosses_it():
    net = _canal_t_junctions(crossing=False)
    side = net.bank_side
    assert sorted(set(side.tolist())) == [-1, 0, 1]
    left = shapely.union_all(net.geometry[side == 1])
    right = shapely.union_all(net.geometry[side == -1])
    assert left.distance(shapely.Point(500, 5)) < 1e-9 and right.distance(shapely.Point(500, -5)) < 1e-9  # left = north
    assert shapely.length(left) == pytest.approx(1000) and shapely.length(right) == pytest.approx(1000)
    n, s = _node(net, (300, 100)), _node(net, (320, -100))
    # road N reaches the north bank, road S the south bank; nothing joins them (the old
    # reading, one canal line for both banks, joined them along the canal for free)
    assert net.node_component[n] != net.node_component[s]
    old = _canal_t_junctions(half_width=0.0, crossing=False)
    assert _dist(old, (300, 100), (320, -100)) == pytest.approx(100 + 20 + 100)
    assert _dist(net, (300, 100), (320, -100)) == np.inf
    # a road that crosses the canal (its bridge, at x = 700) joins the banks there:
    # 95 (N to its bank) + 400 + 10 (across) + 380 + 95 = 980 m
    net = _canal_t_junctions(crossing=True)
    assert _dist(net, (300, 100), (320, -100)) == pytest.approx(95 + 400 + 10 + 380 + 95)


def test_a_cable_serves_its_own_bank_only():
    from ictplan import fiber

    canal = gdf([shapely.LineString([(0, 0), (1000, 0)])], ["canal"])
    communes = gpd.GeoDataFrame({"commune_code": ["C0"], "commune_name": ["Xã 0"]},
                                geometry=[shapely.box(-100, -300, 1100, 300)], crs=CRS)
    hh = fiber.households_from_points(gpd.GeoDataFrame(geometry=[shapely.Point(500, 20), shapely.Point(500, -20)],
                                                       crs=CRS), communes)

    def reach(net, cable):
        routes = gpd.GeoDataFrame({"route_id": ["r"], "operator": ["VNPT"], "technology": ["GPON"],
                                   "placement": ["aerial"]}, geometry=[cable], crs=CRS)
        return fiber.analyse(net, hh, communes=communes, fiber_routes=routes, corridor_m=20.0).households

    net = quiet_build(canal)
    # a cable on the canal's own line lies on its left (north) bank; one on the south bank serves the south
    on_line = reach(net, shapely.LineString([(0, 0), (1000, 0)]))
    assert on_line["reachable"].tolist() == [True, False]
    assert on_line["drop_m"].tolist() == pytest.approx([15.0, 15.0])  # each onto its own bank, never across
    south = reach(net, shapely.LineString([(0, -6), (1000, -6)]))
    assert south["reachable"].tolist() == [False, True]
    # a bridge at x = 600 joins the banks: the south household goes 15 + 100 m to the bridge, whose
    # span over the water (10 m, in the cable's corridor) counts as the cable's side: 115 m
    bridge = gdf([shapely.LineString([(0, 0), (1000, 0)]), shapely.LineString([(600, 40), (600, -40)])],
                 ["canal", "bridge"])
    b = reach(quiet_build(bridge), shapely.LineString([(0, 0), (1000, 0)]))
    assert b["reachable"].tolist() == [True, True]
    assert b["dist_to_fiber_m"].iloc[1] == pytest.approx(15 + 100)
    # the old reading (one line for both banks) served both from the same cable
    old = reach(quiet_build(canal, canal_half_width_m=0.0), shapely.LineString([(0, 0), (1000, 0)]))
    assert old["reachable"].tolist() == [True, True]


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 100_000))
def test_no_cable_serves_the_other_bank_of_a_random_canal(seed):
    """A random canal across a square, a cable on its north side, roads that end on the
    canal from both sides (no crossing): no household south of the canal is reachable."""
    from ictplan import fiber

    rng = np.random.default_rng(seed)
    ya, yb = rng.uniform(400, 600, 2)
    canal = shapely.LineString([(-10, ya), (500, rng.uniform(400, 600)), (1010, yb)])
    roads = []
    def on_canal(x):  # where the vertical line at x meets the canal
        return float(canal.intersection(shapely.LineString([(x, -1), (x, 1001)])).y)

    # roads end on the canal's line from the north (at x) and the south (at x + 15), 200 m apart so
    # that no two ends meet (ends within the snap tolerance would be one road crossing the canal)
    for x in 100.0 + 200.0 * np.arange(4) + rng.uniform(0, 50, 4):
        roads += [shapely.LineString([(x, 1000), (x, on_canal(x))]),
                  shapely.LineString([(x + 15, 0), (x + 15, on_canal(x + 15))])]
    net = quiet_build(gdf([canal, *roads], ["canal"] + ["road"] * len(roads)))
    cable = shapely.LineString([(0, 990), (1000, 990)])
    communes = gpd.GeoDataFrame({"commune_code": ["C0"], "commune_name": ["Xã 0"]},
                                geometry=[shapely.box(-100, -100, 1100, 1100)], crs=CRS)
    px, py = rng.uniform(0, 1000, 80), rng.uniform(0, 1000, 80)
    hh = fiber.households_from_points(gpd.GeoDataFrame(geometry=shapely.points(px, py), crs=CRS), communes)
    routes = gpd.GeoDataFrame({"route_id": ["r"], "operator": ["VNPT"], "technology": ["GPON"],
                               "placement": ["aerial"]}, geometry=[cable], crs=CRS)
    h = fiber.analyse(net, hh, communes=communes, fiber_routes=routes, corridor_m=20.0,
                      drop_limit_m=3000.0).households
    south = np.array([shapely.Point(x, y).distance(canal) > 6 and y < canal.interpolate(canal.project(
        shapely.Point(x, y))).y for x, y in zip(px, py, strict=True)])
    assert south.any()
    assert not h["reachable"].to_numpy()[south].any()
    assert h["reachable"].to_numpy()[~south].any()  # the north side is served (the test can fail both ways)


def test_datacentre_redundancy_builds_its_network_with_the_given_canal_banks(monkeypatch):
    """When D2 lays routes on the road/canal layer itself, the network gets the study's canal half-width."""
    from ictplan.network import redundancy

    seen: list = []
    real = redundancy.build_edges

    def spy(lines, **kw):
        seen.append(kw.get("canal_half_width_m"))
        return real(lines, **kw)

    monkeypatch.setattr(redundancy, "build_edges", spy)
    roads = gpd.GeoDataFrame({"kind": ["road", "canal"]}, geometry=[shapely.LineString([(0, 0), (2000, 0)]),
                                                                  shapely.LineString([(0, 500), (2000, 500)])], crs=CRS)
    pairs = redundancy.datacentre_redundancy(_routes([[(0, 2), (2000, 2)]]), _dcs([(0, 10), (2000, 10)]), roads=roads,
                                             canal_half_width_m=7.5)
    assert seen and seen[0] == 7.5 and len(pairs) == 1
