"""Tests for ictplan.sharing: hand-built cases with known answers, brute-force and
networkx cross-checks, hypothesis properties, bad input, outputs."""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyogrio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point

from ictplan import sharing
from ictplan.errors import (
    CRSMismatchError,
    GeographicCRSError,
    GeometryTypeError,
    InputValidationError,
    MissingColumnError,
    MissingCRSError,
    OutputExistsError,
    RepairWarning,
    SkippedFeaturesWarning,
)

CRS = 32648
X0, Y0 = 520_000.0, 1_000_000.0  # inside UTM 48N, near Cà Mau
NET = {"MobiFone": 1, "VNPT": 2, "Viettel": 4, "Vietnamobile": 5}
OPS = list(NET)
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "camau"
PROP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cells_frame(rows, crs=CRS):
    """rows: (operator, dx, dy[, samples]) -> an OpenCelliD-like frame at X0+dx, Y0+dy."""
    recs, geoms = [], []
    for k, r in enumerate(rows):
        op, dx, dy = r[:3]
        recs.append({"radio": "LTE", "mcc": 452, "net": NET[op], "area": 7, "cell": (1000 + k) * 256 + 1, "range": 500,
                     "samples": r[3] if len(r) > 3 else 1})
        geoms.append(Point(X0 + dx, Y0 + dy))
    return gpd.GeoDataFrame(recs, geometry=geoms, crs=crs)


def sectors_frame(rows, crs=CRS):
    """rows: (operator, site_id, dx, dy, technology, height_m)."""
    recs, geoms = [], []
    for k, (op, sid, dx, dy, tech, h) in enumerate(rows):
        recs.append({"sector_id": f"{sid}-{k}", "site_id": sid, "operator": op, "technology": tech, "band": "B3",
                     "azimuth_deg": 120.0 * k % 360, "height_m": h})
        geoms.append(Point(X0 + dx, Y0 + dy))
    return gpd.GeoDataFrame(recs, geometry=geoms, crs=crs)


def brute_components(xy, ops, dist, *, same_op):
    """Groups by brute force with networkx: join i, j within dist (same or different operator)."""
    G = nx.Graph()
    G.add_nodes_from(range(len(xy)))
    for i, j in itertools.combinations(range(len(xy)), 2):
        if np.hypot(*(xy[i] - xy[j])) <= dist and ((ops[i] == ops[j]) == same_op):
            G.add_edge(i, j)
    return {frozenset(c) for c in nx.connected_components(G)}


def frame_hash(gdf):
    return pd.util.hash_pandas_object(gdf.drop(columns=gdf.geometry.name), index=True).sum(), tuple(gdf.geometry.to_wkb())


# --------------------------------------------------------------------------- physical sites
def test_cells_consolidate_into_known_sites_and_towers():
    cells = cells_frame([
        ("Viettel", 0, 0), ("Viettel", 60, 0), ("Viettel", 120, 0),  # chain: one site (single linkage)
        ("Viettel", 400, 0),  # alone
        ("VNPT", 30, 20),  # 36.1 m from the Viettel site at (60, 0): one tower
        ("MobiFone", 400, 49), ("MobiFone", 400, 60),  # one MobiFone site at (400, 54.5)
    ])
    sites = sharing.physical_sites(cells, site_tolerance_m=100, colocation_m=50)
    assert len(sites) == 4
    by_members = {frozenset(m.split(";")): r for m, r in zip(sites["members"], sites.itertuples(), strict=True)}
    chain = frozenset({f"cell:LTE-452-4-7-{(1000 + k) * 256 + 1}" for k in range(3)})
    assert chain in by_members
    site = by_members[chain]
    assert site.geometry.x == pytest.approx(X0 + 60) and site.n_cells == 3 and site.source == "cells"
    # VNPT at (30, 20) is 36.1 m from the Viettel site at (60, 0): one tower
    vnpt = sites[sites["operator"] == "VNPT"].iloc[0]
    assert vnpt["tower_uid"] == site.tower_uid
    # MobiFone site at (400, 54.5) is 54.5 m from Viettel at (400, 0): beyond 50 m, own tower
    mobi = sites[sites["operator"] == "MobiFone"].iloc[0]
    lone = sites[(sites["operator"] == "Viettel") & (sites["n_cells"] == 1)].iloc[0]
    assert mobi.geometry.y == pytest.approx(Y0 + 54.5)
    assert mobi["tower_uid"] != lone["tower_uid"]
    tw = sharing.towers(sites)
    assert len(tw) == 3
    assert sorted(tw["n_operators"]) == [1, 1, 2]
    assert tw.loc[tw["n_operators"] == 2, "operators"].iloc[0] == "VNPT;Viettel"
    # owner defaults to the anchor tenant (most cells): Viettel
    assert tw.loc[tw["n_operators"] == 2, "owner"].iloc[0] == "Viettel"


def test_lte_cells_of_one_enodeb_are_one_site():
    cells = cells_frame([("VNPT", 0, 0), ("VNPT", 400, 0), ("VNPT", 0, 900)])
    cells.loc[1, "cell"] = cells.loc[0, "cell"] + 1  # same eNB (cell // 256), other sector
    sites = sharing.physical_sites(cells)
    assert sorted(sites["n_cells"]) == [1, 2]
    assert len(sharing.physical_sites(cells, group_by_enb=False)) == 3
    nr = cells.assign(radio="NR")  # gNB id length is operator-specific: no grouping by id
    assert len(sharing.physical_sites(nr)) == 3


def test_cell_clusters_attach_to_sector_sites_within_attach_m():
    sect = sectors_frame([("VNPT", "CM1", 0, 0, "4G", 30), ("VNPT", "CM2", 5000, 0, "4G", 30)])
    cells = cells_frame([("VNPT", 250, 0), ("VNPT", 260, 20), ("VNPT", 5350, 0), ("Viettel", 240, 0)])
    sites = sharing.physical_sites([sect, cells], attach_m=300)
    cm1 = sites[sites["site_ids"] == "CM1"].iloc[0]
    assert cm1["n_cells"] == 2 and cm1["source"] == "both" and cm1.geometry.x == pytest.approx(X0)
    assert (sites["site_ids"] == "").sum() == 2  # the cell 350 m from CM2, and the Viettel cell
    assert len(sharing.physical_sites([sect, cells], attach_m=100)) == 5


def test_sites_weighted_by_samples():
    cells = cells_frame([("VNPT", 0, 0, 1), ("VNPT", 80, 0, 3)])
    sites = sharing.physical_sites(cells)
    assert sites.geometry.x.iloc[0] == pytest.approx(X0 + 60)


@given(
    pts=st.lists(
        st.tuples(st.sampled_from(OPS[:3]), st.floats(0, 800), st.floats(0, 800)), min_size=1, max_size=30
    ),
    tol=st.floats(20, 150),
    coloc=st.floats(10, 100),
)
@PROP
def test_site_and_tower_groups_match_networkx(pts, tol, coloc):
    cells = cells_frame(pts)
    sites = sharing.physical_sites(cells, site_tolerance_m=tol, colocation_m=coloc)
    xy = np.array([(X0 + dx, Y0 + dy) for _, dx, dy in pts])
    ops = [p[0] for p in pts]
    expect = brute_components(xy, ops, tol, same_op=True)
    keys = cells_frame(pts).pipe(lambda c: "cell:LTE-452-" + c["net"].astype(str) + "-7-" + c["cell"].astype(str)).tolist()
    got = {frozenset(keys.index(k) for k in m.split(";")) for m in sites["members"]}
    assert got == expect
    # towers: different-operator sites within coloc, brute force on the site points
    sxy = np.column_stack([sites.geometry.x, sites.geometry.y])
    texpect = brute_components(sxy, sites["operator"].tolist(), coloc, same_op=False)
    tgot = {frozenset(np.flatnonzero(sites["tower_uid"].to_numpy() == t)) for t in sites["tower_uid"].unique()}
    assert tgot == texpect


@given(
    pts=st.lists(st.tuples(st.sampled_from(OPS), st.floats(0, 600), st.floats(0, 600)), min_size=2, max_size=25),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_ids_stable_under_row_shuffling(pts, seed):
    cells = cells_frame(pts)
    sect = sectors_frame([("VNPT", "CM1", 10, 10, "4G", 30), ("VNPT", "CM1", 10, 10, "5G", 32), ("Viettel", "V9", 300, 300, "4G", 40)])
    a = sharing.physical_sites([sect, cells])
    perm = np.random.default_rng(seed).permutation(len(cells))
    b = sharing.physical_sites([sect.iloc[::-1], cells.iloc[perm]])
    cols = ["site_uid", "tower_uid", "operator", "members", "n_cells", "n_sectors"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    np.testing.assert_allclose(a.geometry.x, b.geometry.x, atol=1e-6)
    ta, tb = sharing.towers(a), sharing.towers(b)
    assert list(ta["tower_uid"]) == list(tb["tower_uid"])


def test_ids_survive_reruns_and_sector_sites_keep_their_id():
    sect = sectors_frame([("VNPT", "CM1", 0, 0, "4G", 30)])
    s1 = sharing.physical_sites(sect)
    more = sharing.physical_sites([sect, cells_frame([("VNPT", 40, 0)])])  # a cell attaches to the sector site
    assert s1["site_uid"].iloc[0] == more["site_uid"].iloc[0]
    assert more["n_cells"].iloc[0] == 1 and more["source"].iloc[0] == "both"
    assert s1["site_uid"].iloc[0].startswith("S-") and s1["tower_uid"].iloc[0].startswith("T-")


def test_sector_table_sites_and_attributes():
    sect = sectors_frame([
        ("VNPT", "CM1", 0, 0, "4G", 30), ("VNPT", "CM1", 0, 0, "5G", 35),
        ("Viettel", "VT7", 20, 0, "4G", 42),
    ])
    sites = sharing.physical_sites(sect)
    v = sites[sites["operator"] == "VNPT"].iloc[0]
    assert v["technologies"] == "4G;5G" and v["height_m"] == 35 and v["n_sectors"] == 2 and v["site_ids"] == "CM1"
    tw = sharing.towers(sites)
    assert len(tw) == 1 and tw["height_m"].iloc[0] == 42 and tw["technologies"].iloc[0] == "4G;5G"


def test_duplicate_site_ids_merged_with_counted_warning():
    sect = sectors_frame([
        ("VNPT", "CM1", 0, 0, "4G", 30), ("VNPT", "CM1-dup", 0.4, 0.3, "4G", 30),
        ("VNPT", "CM2", 30, 0, "4G", 30),  # 30 m away: a distinct site, not merged
    ])
    with pytest.warns(RepairWarning, match=r"1 site id\(s\).*CM1 = CM1-dup"):
        sites = sharing.physical_sites(sect)
    assert len(sites) == 2
    assert set(sites["site_ids"]) == {"CM1;CM1-dup", "CM2"}


def test_sectors_without_site_id_stand_alone():
    sect = sectors_frame([("VNPT", "CM1", 0, 0, "4G", 30), ("VNPT", "x", 0, 0, "5G", 30), ("VNPT", "y", 500, 0, "4G", 30)])
    sect.loc[[1, 2], "site_id"] = None
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sites = sharing.physical_sites(sect)
    msgs = [str(w.message) for w in rec if issubclass(w.category, RepairWarning)]
    assert any("2 sector(s) have no site_id" in m for m in msgs) and any("CM1 = x-1" in m for m in msgs)
    # the sector without a site id at CM1's position merges into CM1 (duplicate rule); the other stands alone
    assert len(sites) == 2 and sorted(sites["n_sectors"]) == [1, 2]


def test_cells_without_position_or_outside_are_counted_and_skipped():
    cells = cells_frame([("VNPT", 0, 0), ("VNPT", 1000, 0), ("Viettel", 0, 50)]).to_crs(4326)
    cells.loc[1, "geometry"] = Point(float("nan"), float("nan"))
    far = cells_frame([("Viettel", 0, 0)]).to_crs(4326)
    far.loc[0, "geometry"] = Point(106.7, 10.8)  # Ho Chi Minh City
    far.loc[0, "cell"] = 9
    allc = pd.concat([cells, far], ignore_index=True)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        sites = sharing.physical_sites(allc, bounds_lonlat=(104.6, 8.45, 105.6, 9.7))
    msgs = [str(w.message) for w in rec if issubclass(w.category, SkippedFeaturesWarning)]
    assert any("1 cell(s) have no position" in m for m in msgs)
    assert any("1 cell(s) lie outside the study area" in m for m in msgs)
    assert len(sites) == 2 and sites.crs.to_epsg() == 4326


def test_lonlat_input_gives_same_sites_as_projected():
    cells = cells_frame([("VNPT", 0, 0), ("VNPT", 90, 0), ("Viettel", 100, 20), ("MobiFone", 500, 0)])
    a = sharing.physical_sites(cells)
    b = sharing.physical_sites(cells.to_crs(4326))
    assert list(a["site_uid"]) == list(b["site_uid"]) and list(a["tower_uid"]) == list(b["tower_uid"])
    np.testing.assert_allclose(b.to_crs(CRS).geometry.x, a.geometry.x, atol=1e-3)


def test_unknown_operator_cells_skipped():
    cells = cells_frame([("VNPT", 0, 0), ("VNPT", 500, 0)])
    cells.loc[1, "net"] = 99
    with pytest.warns(SkippedFeaturesWarning, match="1 cell.*no operator"):
        sites = sharing.physical_sites(cells)
    assert len(sites) == 1


def test_physical_sites_bad_input():
    cells = cells_frame([("VNPT", 0, 0)])
    with pytest.raises(MissingColumnError, match="neither a sector table"):
        sharing.physical_sites(cells.drop(columns=["net"]))
    with pytest.raises(MissingCRSError, match="set_crs"):
        sharing.physical_sites(gpd.GeoDataFrame(cells.drop(columns="geometry"), geometry=list(cells.geometry)))
    with pytest.raises(CRSMismatchError, match="EPSG:4326"):
        sharing.physical_sites([cells, cells.to_crs(4326)])
    with pytest.raises(GeographicCRSError, match="degrees"):
        sharing.physical_sites(cells, working_crs=4326)
    with pytest.raises(GeometryTypeError, match="explode"):
        sharing.physical_sites(cells.assign(geometry=cells.buffer(5)))
    with pytest.raises(InputValidationError, match="site_tolerance_m"):
        sharing.physical_sites(cells, site_tolerance_m=-1)
    with pytest.raises(InputValidationError, match="empty list"):
        sharing.physical_sites([])


# --------------------------------------------------------------------------- pairs and tower graph
@given(
    pts=st.lists(st.tuples(st.sampled_from(OPS), st.floats(0, 500), st.floats(0, 500)), min_size=0, max_size=40),
    dist=st.floats(0, 300),
)
@PROP
def test_candidate_pairs_match_brute_force(pts, dist):
    gdf = gpd.GeoDataFrame({"operator": [p[0] for p in pts]},
                           geometry=[Point(X0 + p[1], Y0 + p[2]) for p in pts], crs=CRS)
    got = sharing.candidate_pairs(gdf, distance_m=dist)
    xy = np.array([(X0 + p[1], Y0 + p[2]) for p in pts]).reshape(-1, 2)
    expect = {(i, j) for i, j in itertools.combinations(range(len(pts)), 2)
              if pts[i][0] != pts[j][0] and np.hypot(*(xy[i] - xy[j])) <= dist}
    assert set(zip(got["i"], got["j"], strict=True)) == expect
    assert (got["distance_m"] <= dist).all()


def test_candidate_pairs_keep_pairs_just_inside_the_limit():
    # 99.99 m apart: a 16-segment polygonal buffer of 100 m misses this pair
    gdf = gpd.GeoDataFrame({"operator": ["VNPT", "Viettel"]},
                           geometry=[Point(X0, Y0), Point(X0 + 99.99 * np.cos(0.2), Y0 + 99.99 * np.sin(0.2))], crs=CRS)
    assert len(sharing.candidate_pairs(gdf, distance_m=100)) == 1
    buf = gdf.assign(geometry=gdf.buffer(50, quad_segs=2))
    assert len(gpd.sjoin(buf.iloc[[0]], buf.iloc[[1]], predicate="intersects")) == 0  # what buffers lose


def towers_frame(rows):
    """rows: (tower_uid, operators, dx, dy)."""
    return gpd.GeoDataFrame(
        {"tower_uid": [r[0] for r in rows], "operators": [r[1] for r in rows],
         "n_operators": [len(r[1].split(";")) for r in rows], "owner": ["x"] * len(rows),
         "height_m": [30.0] * len(rows), "technologies": ["4G"] * len(rows)},
        geometry=[Point(X0 + r[2], Y0 + r[3]) for r in rows], crs=CRS)


def test_colocation_graph_and_groups_hand_built():
    tw = towers_frame([
        ("T-a", "Viettel", 0, 0), ("T-b", "VNPT", 100, 0), ("T-c", "MobiFone", 50, 80),  # pairwise <= 300: one group
        ("T-d", "Viettel", 1000, 0), ("T-e", "VNPT", 1250, 0), ("T-f", "MobiFone", 1500, 0),  # chain: d-e, e-f; d-f 500 m
        ("T-g", "VNPT;Viettel", 3000, 0), ("T-h", "VNPT", 3100, 0),  # share VNPT: no edge
        ("T-i", "Vietnamobile", 5000, 0),
    ])
    G = sharing.colocation_graph(tw, candidate_m=300)
    assert set(map(frozenset, G.edges())) == {frozenset(e) for e in [("T-a", "T-b"), ("T-a", "T-c"), ("T-b", "T-c"), ("T-d", "T-e"), ("T-e", "T-f")]}
    assert G.edges["T-a", "T-b"]["distance_m"] == pytest.approx(100)
    assert G.nodes["T-g"]["operators"] == ("VNPT", "Viettel") and G.graph["crs"].to_epsg() == CRS
    groups = sharing.candidate_groups(G)
    assert list(groups["n_towers"]) == [3, 2]
    assert groups["tower_uids"].iloc[0] == "T-a;T-b;T-c" and groups["towers_saved"].iloc[0] == 2
    assert groups["tower_uids"].iloc[1] == "T-d;T-e"  # 250 m beats 250 m? d-e = e-f = 250: tie broken by id
    assert list(groups["rank"]) == [1, 2]
    summ = sharing.sharing_summary(tw, groups)
    assert summ["n_towers"] == 9 and summ["towers_saved"] == 3 and summ["n_towers_potential"] == 6
    assert summ["tenancy_today"] == pytest.approx(10 / 9) and summ["tenancy_potential"] == pytest.approx(10 / 6)
    edges = sharing.candidate_edges(G)
    assert len(edges) == 5 and edges.geometry.length.sort_values().iloc[0] == pytest.approx(94.34, abs=0.01)


@given(
    pts=st.lists(st.tuples(st.sets(st.sampled_from(OPS), min_size=1, max_size=2), st.floats(0, 1500), st.floats(0, 1500)),
                 min_size=1, max_size=30),
    d1=st.floats(0, 400), d2=st.floats(0, 400),
)
@PROP
def test_raising_candidate_distance_never_removes_an_edge(pts, d1, d2):
    lo, hi = sorted((d1, d2))
    tw = towers_frame([(f"T-{k:03d}", ";".join(sorted(o)), x, y) for k, (o, x, y) in enumerate(pts)])
    g_lo = sharing.colocation_graph(tw, candidate_m=lo)
    g_hi = sharing.colocation_graph(tw, candidate_m=hi)
    assert set(map(frozenset, g_lo.edges())) <= set(map(frozenset, g_hi.edges()))
    # groups are cliques of the graph, disjoint, and save n - 1 each
    groups = sharing.candidate_groups(g_hi)
    seen = set()
    for uids in groups["tower_uids"]:
        mem = uids.split(";")
        assert not seen & set(mem)
        seen |= set(mem)
        assert all(g_hi.has_edge(a, b) for a, b in itertools.combinations(mem, 2))
    assert groups["towers_saved"].sum() == sum(len(u.split(";")) - 1 for u in groups["tower_uids"])


# --------------------------------------------------------------------------- poles and spans
def test_poles_and_spans_hand_built():
    poles = gpd.GeoDataFrame({"pole_id": ["p1", "p2", "p3", "p4", "p5"], "owner": ["EVN"] * 5, "max_cables": [6, 6, 2, 6, 6]},
                             geometry=[Point(X0, Y0), Point(X0 + 40, Y0), Point(X0 + 80, Y0), Point(X0 + 120, Y0), Point(X0, Y0 + 900)], crs=CRS)
    spans = gpd.GeoDataFrame(
        {"span_id": ["s1", "s2", "s3", "s4"], "kind": ["aerial", "aerial", "aerial", "duct"],
         "operators": ["VNPT;Viettel", "Viettel; VNPT;MobiFone", "VNPT", "VNPT;Viettel;MobiFone;Vietnamobile"],
         "from_pole": ["p1", None, None, None], "to_pole": ["p2", None, None, None]},
        geometry=[LineString([(X0 + 5, Y0), (X0 + 35, Y0)]),  # named poles: geometry ends need not touch them
                  LineString([(X0 + 40, Y0), (X0 + 80.6, Y0)]), LineString([(X0 + 80, Y0 + 0.5), (X0 + 120, Y0)]),
                  LineString([(X0, Y0), (X0 + 120, Y0)])], crs=CRS)
    with pytest.warns(SkippedFeaturesWarning, match="1 pole.*no span.*p5"):
        G, p, s = sharing.poles_and_spans(poles, spans)
    assert list(s["shared"]) == [True, True, False, True]
    assert s["operators"].iloc[1] == "MobiFone;VNPT;Viettel"
    assert list(s["from_node"]) == ["p1", "p2", "p3", "p1"] and list(s["to_node"]) == ["p2", "p3", "p4", "p4"]
    # p2: spans of 2 and 3 cables -> max(3, ceil(5/2)) = 3; p3: 3 and 1 -> 3 > limit 2; duct span loads nothing
    assert list(p["cables"]) == [2, 3, 3, 1, 0]
    assert list(p["overloaded"]) == [False, False, True, False, False]
    assert list(p["no_span"]) == [False, False, False, False, True]
    assert p["n_operators"].iloc[0] == 4  # p1 touches the duct's 4 operators too
    assert G.number_of_edges() == 4 and G.number_of_nodes() == 5 and G.graph["crs"].to_epsg() == CRS
    assert G.degree("p1") == 2 and G.degree("p5") == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFeaturesWarning)
        _, p_lim, _ = sharing.poles_and_spans(poles, spans, max_cables=2)
    assert int(p_lim["overloaded"].sum()) == 2


def test_spans_without_operator_or_pole_are_counted():
    poles = gpd.GeoDataFrame({"pole_id": ["p1", "p2"], "owner": ["EVN"] * 2}, geometry=[Point(X0, Y0), Point(X0 + 40, Y0)], crs=CRS)
    spans = gpd.GeoDataFrame({"span_id": ["s1", "s2"], "kind": ["aerial", "aerial"], "operators": ["", "VNPT"]},
                             geometry=[LineString([(X0, Y0), (X0 + 40, Y0)]), LineString([(X0 + 40, Y0), (X0 + 90, Y0)])], crs=CRS)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        G, p, s = sharing.poles_and_spans(poles, spans)
    msgs = " | ".join(str(w.message) for w in rec)
    assert "1 span(s) name no operator" in msgs and "1 aerial span(s) have an end at no pole" in msgs
    assert s["to_node"].iloc[1].startswith("J-") and G.nodes[s["to_node"].iloc[1]]["kind"] == "junction"


def test_poles_bad_input():
    poles = gpd.GeoDataFrame({"pole_id": ["p1"], "owner": ["EVN"]}, geometry=[Point(X0, Y0)], crs=CRS)
    spans = gpd.GeoDataFrame({"span_id": ["s1"], "kind": ["aerial"], "operators": ["VNPT"]},
                             geometry=[LineString([(X0, Y0), (X0 + 40, Y0)])], crs=CRS)
    with pytest.raises(MissingColumnError, match="operators"):
        sharing.poles_and_spans(poles, spans.drop(columns=["operators"]))
    with pytest.raises(CRSMismatchError):
        sharing.poles_and_spans(poles, spans.to_crs(4326))
    with pytest.raises(GeographicCRSError):
        sharing.poles_and_spans(poles.to_crs(4326), spans.to_crs(4326))


# --------------------------------------------------------------------------- duplicated routes
def routes_frame(rows):
    """rows: (route_id, operator, [(dx, dy), ...])."""
    return gpd.GeoDataFrame({"route_id": [r[0] for r in rows], "operator": [r[1] for r in rows],
                             "technology": "GPON", "placement": "buried"},
                            geometry=[LineString([(X0 + x, Y0 + y) for x, y in r[2]]) for r in rows], crs=CRS)


def test_parallel_routes_known_length():
    routes = routes_frame([
        ("r1", "VNPT", [(0, 0), (1000, 0)]),
        ("r2", "Viettel", [(200, 10), (700, 10)]),  # 500 m, 10 m off r1
        ("r3", "Viettel", [(500, -500), (500, 500)]),  # crosses r1: a 22 m stretch, under 200 m
        ("r4", "VNPT", [(200, 12), (700, 12)]),  # same operator as r1: never a candidate with r1
    ])
    d = sharing.duplicated_routes(routes, corridor_m=15, min_length_m=200)
    # along r1, the part within 15 m of r2 is x in [200 - sqrt(15²-10²), 700 + sqrt(15²-10²)]
    half = np.sqrt(15**2 - 10**2)
    seg = d.segments.set_index(["route_id", "other_route_id"])
    assert seg.loc[("r1", "r2"), "length_m"] == pytest.approx(500 + 2 * half, abs=1e-6)
    assert seg.loc[("r2", "r1"), "length_m"] == pytest.approx(500, abs=1e-9)
    assert seg.loc[("r4", "r2"), "length_m"] == pytest.approx(500, abs=1e-9)
    assert set(seg.index) == {("r1", "r2"), ("r2", "r1"), ("r2", "r4"), ("r4", "r2")}
    cand = d.candidates.set_index(["route_id_a", "route_id_b"])
    assert cand.loc[("r1", "r2"), "length_m"] == pytest.approx(500)  # never more than the shorter route
    # independent check: the buffer-intersection length (a 256-gon per quarter circle)
    inter = routes.geometry.iloc[0].intersection(routes.geometry.iloc[1].buffer(15, quad_segs=256)).length
    assert seg.loc[("r1", "r2"), "length_m"] == pytest.approx(inter, abs=1e-3)
    geom = d.segments.set_index(["route_id", "other_route_id"]).geometry
    assert geom.loc[("r1", "r2")].length == pytest.approx(500 + 2 * half, abs=1e-6)
    assert geom.loc[("r1", "r2")].coords[0] == pytest.approx((X0 + 200 - half, Y0))
    # VNPT has the most km, so it keeps its trenches; Viettel's 500 m would not be needed
    assert d.operator_rank[0] == "VNPT"
    assert d.duplicated_trench_km == pytest.approx(0.5, abs=1e-9)
    assert d.duplicated_route_km == pytest.approx((500 + 2 * half + 500 + 500) / 1000, abs=1e-9)


def test_three_operators_in_one_corridor_two_trenches_redundant():
    routes = routes_frame([
        ("a", "VNPT", [(0, 0), (0, 2000)]), ("b", "Viettel", [(5, 0), (5, 2000)]), ("c", "MobiFone", [(-5, 0), (-5, 2000)]),
    ])
    d = sharing.duplicated_routes(routes)
    assert d.duplicated_trench_km == pytest.approx(4.0, abs=1e-9)
    assert d.duplicated_route_km == pytest.approx(6.0, abs=1e-9)
    assert len(d.candidates) == 3 and np.allclose(d.candidates["length_m"], 2000)


def test_short_or_distant_routes_are_not_candidates():
    routes = routes_frame([
        ("a", "VNPT", [(0, 0), (0, 2000)]),
        ("b", "Viettel", [(16, 0), (16, 2000)]),  # 16 m: outside a 15 m corridor
        ("c", "MobiFone", [(-10, 0), (-10, 150)]),  # 150 m alongside: under 200 m
    ])
    d = sharing.duplicated_routes(routes)
    assert d.candidates.empty and d.segments.empty and d.duplicated_trench_km == 0
    assert len(sharing.duplicated_routes(routes, corridor_m=20).candidates) == 1


def test_multilinestring_and_lonlat_routes():
    routes = routes_frame([("a", "VNPT", [(0, 0), (1000, 0)]), ("b", "Viettel", [(0, 5), (1000, 5)])])
    d1 = sharing.duplicated_routes(routes)
    d2 = sharing.duplicated_routes(routes.to_crs(4326))
    assert d2.segments.crs.to_epsg() == 4326
    assert d2.duplicated_trench_km == pytest.approx(d1.duplicated_trench_km, rel=1e-3)
    from shapely.geometry import MultiLineString

    multi = routes.copy()
    multi.loc[0, "geometry"] = MultiLineString([[(X0, Y0), (X0 + 400, Y0)], [(X0 + 500, Y0), (X0 + 1000, Y0)]])
    d3 = sharing.duplicated_routes(multi)  # Viettel has more km, so VNPT's two parts are the redundant trench
    assert d3.operator_rank[0] == "Viettel" and d3.duplicated_trench_km == pytest.approx(0.9)
    assert sorted(d3.segments.loc[d3.segments["redundant"], "length_m"]) == pytest.approx([400, 500])


def test_routes_without_operator_are_counted():
    routes = routes_frame([("a", "VNPT", [(0, 0), (1000, 0)]), ("b", "Viettel", [(0, 5), (1000, 5)]), ("c", None, [(0, 3), (900, 3)])])
    with pytest.warns(SkippedFeaturesWarning, match=r"1 route\(s\) have no operator \(e.g. c\)"):
        d = sharing.duplicated_routes(routes)
    assert len(d.candidates) == 1
    with pytest.raises(GeometryTypeError):
        sharing.duplicated_routes(routes.assign(geometry=routes.buffer(1)))
    with pytest.raises(InputValidationError, match="corridor_m"):
        sharing.duplicated_routes(routes, corridor_m=-1)


line_pts = st.lists(st.tuples(st.floats(0, 600), st.floats(0, 600)), min_size=2, max_size=5, unique=True)


@given(rows=st.lists(st.tuples(st.sampled_from(OPS[:3]), line_pts), min_size=2, max_size=6),
       corridor=st.floats(1, 60), min_len=st.floats(0, 300))
@PROP
def test_duplicated_length_never_exceeds_the_shorter_route(rows, corridor, min_len):
    routes = routes_frame([(f"r{k}", op, pts) for k, (op, pts) in enumerate(rows)])
    routes = routes[routes.length > 0]
    if len(routes) < 2:
        return
    d = sharing.duplicated_routes(routes, corridor_m=corridor, min_length_m=min_len)
    length = dict(zip(routes["route_id"], routes.length, strict=True))
    for r in d.candidates.itertuples():
        assert r.length_m <= min(length[r.route_id_a], length[r.route_id_b]) + 1e-6
        assert r.operator_a != r.operator_b
    assert (d.segments["length_m"] >= min_len - 1e-9).all()
    assert d.duplicated_trench_km <= d.duplicated_route_km + 1e-12 <= d.total_route_km + 1e-9


@given(rows=st.lists(st.tuples(st.sampled_from(OPS[:3]), line_pts), min_size=2, max_size=5), corridor=st.floats(1, 60))
@PROP
def test_alongside_length_matches_dense_sampling(rows, corridor):
    """Exact intervals vs brute force: sample every route every 0.25 m, measure the distance
    of each sample to every other operator's route with shapely."""
    import shapely

    routes = routes_frame([(f"r{k}", op, pts) for k, (op, pts) in enumerate(rows)])
    d = sharing.duplicated_routes(routes, corridor_m=corridor, min_length_m=0)
    step, total, tol = 0.25, 0.0, 1e-6
    for _, row in routes.iterrows():
        others = routes[routes["operator"] != row["operator"]]
        if others.empty:
            continue
        line = row.geometry
        n = max(int(np.ceil(line.length / step)), 1)
        at = np.linspace(0, line.length, n + 1)
        pts = shapely.line_interpolate_point(line, at)
        near = (shapely.distance(pts[:, None], np.array(list(others.geometry))[None, :]) <= corridor).any(axis=1)
        w = np.full(n + 1, line.length / n)
        w[[0, -1]] /= 2
        total += w[near].sum()
        tol += (np.count_nonzero(np.diff(near.astype(int))) + 2) * line.length / n
    assert d.duplicated_route_km * 1000 == pytest.approx(total, abs=tol)


# --------------------------------------------------------------------------- immutability
def test_public_functions_do_not_mutate_inputs():
    cells = cells_frame([("VNPT", 0, 0), ("Viettel", 30, 0), ("MobiFone", 200, 0)])
    sect = sectors_frame([("VNPT", "CM1", 0, 0, "4G", 30)])
    routes = routes_frame([("a", "VNPT", [(0, 0), (1000, 0)]), ("b", "Viettel", [(0, 5), (1000, 5)])])
    poles = gpd.GeoDataFrame({"pole_id": ["p1", "p2"], "owner": ["EVN"] * 2}, geometry=[Point(X0, Y0), Point(X0 + 40, Y0)], crs=CRS)
    spans = gpd.GeoDataFrame({"span_id": ["s1"], "kind": ["aerial"], "operators": ["VNPT;Viettel"]},
                             geometry=[LineString([(X0, Y0), (X0 + 40, Y0)])], crs=CRS)
    frames = [cells, sect, routes, poles, spans]
    before = [frame_hash(f) for f in frames]
    sites = sharing.physical_sites([sect, cells])
    s_before = frame_hash(sites)
    tw = sharing.towers(sites)
    t_before = frame_hash(tw)
    G = sharing.colocation_graph(tw)
    g_before = (dict(G.nodes(data=True)), list(G.edges(data=True)))
    sharing.candidate_groups(G)
    sharing.candidate_edges(G)
    sharing.candidate_pairs(cells, distance_m=100, group_column="net")
    sharing.duplicated_routes(routes)
    sharing.poles_and_spans(poles, spans)
    assert [frame_hash(f) for f in frames] == before
    assert frame_hash(sites) == s_before and frame_hash(tw) == t_before
    assert (dict(G.nodes(data=True)), list(G.edges(data=True))) == g_before


# --------------------------------------------------------------------------- run + outputs
def fake_study(layers, parameters=None):
    """What sharing.run uses of a Study: crs, bounds_lonlat, parameters, has, layer_in_crs."""
    crs = gpd.GeoSeries([], crs=CRS).crs
    return SimpleNamespace(crs=crs, bounds_lonlat=None, parameters=parameters or {}, has=lambda n: n in layers,
                           layer=lambda n: layers[n], layer_in_crs=lambda n: layers[n].to_crs(crs))


def test_run_and_write_outputs(tmp_path):
    layers = {
        "cells": cells_frame([("VNPT", 0, 0), ("Viettel", 30, 0), ("MobiFone", 200, 0), ("VNPT", 2000, 0)]).to_crs(4326),
        "sites": sectors_frame([("Viettel", "VT1", 2100, 0, "5G", 40)]),
        "fiber_routes": routes_frame([("a", "VNPT", [(0, 0), (1000, 0)]), ("b", "Viettel", [(0, 5), (1000, 5)])]),
        "poles": gpd.GeoDataFrame({"pole_id": ["p1", "p2", "p3"], "owner": ["EVN"] * 3},
                                  geometry=[Point(X0, Y0), Point(X0 + 40, Y0), Point(X0, Y0 + 500)], crs=CRS),
        "spans": gpd.GeoDataFrame({"span_id": ["s1"], "kind": ["aerial"], "operators": ["VNPT;Viettel"]},
                                  geometry=[LineString([(X0, Y0), (X0 + 40, Y0)])], crs=CRS),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFeaturesWarning)
        res = sharing.run(fake_study(layers))
    s = res.summary
    # towers: {VNPT, Viettel} at 0-30 m, MobiFone at 200 m, VNPT at 2000 m, Viettel at 2100 m (100 m > 50 m)
    assert s["n_physical_sites"] == 5 and s["n_towers"] == 4 and s["towers_saved"] == 2
    assert s["tenancy_today"] == pytest.approx(5 / 4) and s["tenancy_potential"] == pytest.approx(5 / 2)
    assert s["duplicated_trench_km"] == pytest.approx(1.0) and s["n_shared_spans"] == 1 and s["n_poles_without_span"] == 1
    assert int(res.towers["not_needed"].sum()) == s["towers_saved"]
    assert res.towers["group_uid"].notna().sum() == res.groups["n_towers"].sum()
    text = sharing.summary_text(s)
    assert "tenancy today: 1.25" in text and "2 towers would not need building" in text and "1.0 km of duplicated" in text
    out = sharing.write_outputs(res, tmp_path / "sharing")
    names = {row[0] for row in pyogrio.list_layers(out["gpkg"])}
    assert names == {"sites", "towers", "candidate_edges", "groups", "poles", "spans", "duplicated_segments"}
    back = gpd.read_file(out["gpkg"], layer="towers")
    assert sorted(back["tower_uid"]) == sorted(res.towers["tower_uid"]) and back.crs.to_epsg() == CRS
    H = nx.read_graphml(out["tower_graph"])
    assert H.number_of_edges() == res.tower_graph.number_of_edges() and H.graph["crs"] == "EPSG:32648"
    assert set(H.nodes[next(iter(H.nodes))]["operators"].split(";")) <= set(OPS)
    assert nx.read_graphml(out["pole_graph"]).number_of_edges() == 1
    assert json.loads(out["summary"].read_text())["summary"]["towers_saved"] == 2
    assert not [p for p in (tmp_path / "sharing").iterdir() if p.name.startswith(".")]  # no temp files left
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        sharing.write_outputs(res, tmp_path / "sharing")
    sharing.write_outputs(res, tmp_path / "sharing", overwrite=True)


def test_run_with_nothing_to_share(tmp_path):
    layers = {"cells": cells_frame([("VNPT", 0, 0), ("VNPT", 5000, 0)]),
              "fiber_routes": routes_frame([("a", "VNPT", [(0, 0), (1000, 0)]), ("b", "Viettel", [(0, 500), (1000, 500)])])}
    res = sharing.run(fake_study(layers))
    assert res.summary["towers_saved"] == 0 and res.summary["tenancy_potential"] == 1.0
    assert res.groups.empty and res.candidate_edges.empty and res.duplicated.segments.empty
    assert not res.towers["not_needed"].any()
    out = sharing.write_outputs(res, tmp_path)
    assert len(gpd.read_file(out["gpkg"], layer="groups")) == 0
    assert "0 towers would not need building" in sharing.summary_text(res.summary)


def test_run_with_only_some_layers(tmp_path):
    res = sharing.run(fake_study({"fiber_routes": routes_frame([("a", "VNPT", [(0, 0), (1000, 0)]), ("b", "Viettel", [(0, 5), (1000, 5)])])}))
    assert res.sites is None and res.tower_graph is None and res.summary["n_duct_candidates"] == 1
    out = sharing.write_outputs(res, tmp_path)
    assert {row[0] for row in pyogrio.list_layers(out["gpkg"])} == {"duplicated_segments"}


# --------------------------------------------------------------------------- the sample study
@pytest.mark.skipif(not (SAMPLE / "camau.gpkg").exists(), reason="sample GeoPackage not built yet")
def test_sample_study_sharing_summary():
    from ictplan import study as study_mod

    st_ = study_mod.load(SAMPLE / "study.toml")
    routes = st_.layer_in_crs("fiber_routes")
    d = sharing.duplicated_routes(routes)  # its speed is measured in make bench (bench_sharing), not here
    assert 0 <= d.duplicated_trench_km <= d.duplicated_route_km <= d.total_route_km
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sharing.run(st_)
    s = res.summary
    assert s["n_towers"] > 0 and 1.0 <= s["tenancy_today"] <= s["tenancy_potential"]


# --------------------------------------------------------------------------- parameters and seams
def test_data_functions_take_their_defaults_from_parameters():
    import inspect

    from ictplan.parameters import SHARING

    checked = 0
    for fn in (sharing.physical_sites, sharing.colocation_graph, sharing.poles_and_spans, sharing.duplicated_routes):
        for name, p in inspect.signature(fn).parameters.items():
            if hasattr(SHARING, name):
                assert p.default == getattr(SHARING, name), (fn.__name__, name)
                assert f"= SHARING.{name}," in inspect.getsource(fn), (fn.__name__, name)  # no literal of its own
                checked += 1
    assert checked == 11  # sites 5, colocation graph 1, poles 3, routes 2


def test_run_resolves_parameters_study_then_overrides():
    from ictplan.errors import ConfigError
    from ictplan.parameters import SHARING

    # VNPT and Viettel towers 120 m apart: a candidate pair at 300 m (default), none at 100 m
    layers = {"cells": cells_frame([("VNPT", 0, 0), ("Viettel", 120, 0)])}
    res = sharing.run(fake_study(layers))
    assert res.summary["towers_saved"] == 1 and res.parameters["candidate_m"] == SHARING.candidate_m
    assert res.parameters["crs"] == "EPSG:32648"
    res = sharing.run(fake_study(layers, {"sharing": {"candidate_m": 100}}))
    assert res.summary["towers_saved"] == 0 and res.parameters["candidate_m"] == 100.0
    res = sharing.run(fake_study(layers, {"sharing": {"candidate_m": 100}}), candidate_m=150.0)  # keyword on top
    assert res.summary["towers_saved"] == 1 and res.parameters["candidate_m"] == 150.0
    res = sharing.run(fake_study(layers, {"sharing": {"candidate_m": 100}}), candidate_m=None)  # None: the study's
    assert res.parameters["candidate_m"] == 100.0
    # colocation_m from study.toml: 130 m puts both on one tower already
    res = sharing.run(fake_study(layers, {"sharing": {"colocation_m": 130}}))
    assert res.summary["n_towers"] == 1 and res.summary["n_shared_towers"] == 1
    with pytest.raises(ConfigError, match="candidate_km"):
        sharing.run(fake_study(layers), candidate_km=1.0)


def test_pole_cable_limit_default_and_span_snap_are_parameters():
    # 7 cables pass p2 (two spans of 7); p2 has no max_cables value
    poles = gpd.GeoDataFrame({"pole_id": ["p1", "p2", "p3"], "owner": ["EVN"] * 3, "max_cables": [9, None, 9]},
                             geometry=[Point(X0, Y0), Point(X0 + 40, Y0), Point(X0 + 80, Y0)], crs=CRS)
    spans = gpd.GeoDataFrame({"span_id": ["s1", "s2"], "kind": ["aerial"] * 2, "operators": ["VNPT"] * 2,
                              "cable_count": [7, 7]},
                             geometry=[LineString([(X0 + 1.5, Y0), (X0 + 40, Y0)]), LineString([(X0 + 40, Y0), (X0 + 80, Y0)])],
                             crs=CRS)
    _, p, s = sharing.poles_and_spans(poles, spans)
    assert list(p["cable_limit"]) == [9, 6, 9] and list(p["overloaded"]) == [False, True, False]
    assert s["from_node"].iloc[0] == "p1"  # 1.5 m from p1: within snap_m = 2
    _, p, _ = sharing.poles_and_spans(poles, spans, default_cable_limit=8)
    assert list(p["cable_limit"]) == [9, 8, 9] and not p["overloaded"].any()
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        _, _, s = sharing.poles_and_spans(poles, spans, snap_m=1.0)
    msgs = " | ".join(str(w.message) for w in rec)
    assert "1 aerial span(s) have an end at no pole" in msgs and "1 pole(s) have no span (e.g. p1)" in msgs
    assert s["from_node"].iloc[0].startswith("J-")


def test_warnings_point_at_the_caller():
    # the analyses were split into steps: each warning must still name the line that called them
    def where(fn):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            fn()
        assert rec, "expected a warning"
        return {Path(w.filename).name for w in rec}

    cells = cells_frame([("VNPT", 0, 0), ("VNPT", 50, 0)])
    cells.loc[1, "geometry"] = Point(float("nan"), float("nan"))
    sect = sectors_frame([("VNPT", "A", 0, 0, "4G", 30), ("VNPT", "B", 0.5, 0, "4G", 30)])
    poles = gpd.GeoDataFrame({"pole_id": ["p1", "p9"], "owner": ["EVN"] * 2}, geometry=[Point(X0, Y0), Point(X0, Y0 + 900)], crs=CRS)
    spans = gpd.GeoDataFrame({"span_id": ["s1"], "kind": ["aerial"], "operators": [""]},
                             geometry=[LineString([(X0, Y0), (X0 + 40, Y0)])], crs=CRS)
    routes = routes_frame([("a", "VNPT", [(0, 0), (1000, 0)]), ("b", None, [(0, 5), (1000, 5)])])
    here = {Path(__file__).name}
    assert where(lambda: sharing.physical_sites(cells)) == here  # a cell with no position
    assert where(lambda: sharing.physical_sites(sect)) == here  # two site ids at one position: merged
    assert where(lambda: sharing.poles_and_spans(poles, spans)) == here  # no operator, end at no pole, no span
    assert where(lambda: sharing.duplicated_routes(routes)) == here  # a route with no operator
