"""The fiber extension (ictplan.planning.steiner, ictplan.planning.fiber_ext).

Checked against independent computations: networkx's Mehlhorn Steiner tree, a brute force
over Steiner-node subsets, networkx paths for the prize order, and the fiber analysis
re-run on a variant study with the new routes and access points.
"""

from __future__ import annotations

import itertools
import tomllib
import warnings
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import tomli_w

from ictplan._errors import InputValidationError
from ictplan.planning import steiner

DATA = Path(__file__).resolve().parents[1] / "data" / "camau"


# =========================================================================== graphs
def _random_graph(rng: np.random.Generator, n: int, p: float) -> nx.Graph:
    G = nx.gnp_random_graph(n, p, seed=int(rng.integers(1 << 30)))
    G.add_edges_from(nx.path_graph(n).edges)  # connected
    for a, b in G.edges:
        G[a][b]["weight"] = float(rng.uniform(1.0, 10.0))
    return G


def _road_grid(rng: np.random.Generator, side: int, drop: float = 0.15) -> nx.Graph:
    """A jittered grid with random edges removed (kept connected)."""
    G = nx.grid_2d_graph(side, side)
    G = nx.convert_node_labels_to_integers(G, ordering="sorted")
    xy = np.array([(i // side, i % side) for i in range(side * side)], float) * 100.0
    xy += rng.uniform(-30, 30, size=xy.shape)
    edges = list(G.edges)
    for k in rng.permutation(len(edges))[: int(drop * len(edges))]:
        a, b = edges[k]
        G.remove_edge(a, b)
        if not nx.has_path(G, a, b):
            G.add_edge(a, b)
    for a, b in G.edges:
        G[a][b]["weight"] = float(np.hypot(*(xy[a] - xy[b])))
    return G


def _matrix(G: nx.Graph):
    u = np.array([a for a, _ in G.edges])
    v = np.array([b for _, b in G.edges])
    w = np.array([G[a][b]["weight"] for a, b in G.edges])
    return steiner.graph_from_edges(G.number_of_nodes(), u, v, w)


def _nx_total(G: nx.Graph, terminals) -> float:
    T = nx.algorithms.approximation.steiner_tree(G, list(map(int, terminals)), weight="weight", method="mehlhorn")
    return float(sum(d["weight"] for _, _, d in T.edges(data=True)))


def _assert_tree(G: nx.Graph, tree: steiner.SteinerTree) -> None:
    """The edges exist in G with their weights, form one tree and span the terminals."""
    T = nx.Graph()
    T.add_nodes_from(map(int, tree.terminals))
    for a, b, w in zip(tree.u, tree.v, tree.weight, strict=True):
        assert G.has_edge(int(a), int(b))
        assert w == pytest.approx(G[int(a)][int(b)]["weight"])
        T.add_edge(int(a), int(b))
    assert nx.is_tree(T)


def _brute_force(G: nx.Graph, terminals) -> float:
    """The minimum Steiner tree: the best MST over terminals plus every subset of the others."""
    term = set(map(int, terminals))
    others = [x for x in G.nodes if x not in term]
    best = np.inf
    for k in range(len(others) + 1):
        for extra in itertools.combinations(others, k):
            H = G.subgraph(term | set(extra))
            if nx.is_connected(H):
                best = min(best, sum(d["weight"] for _, _, d in nx.minimum_spanning_edges(H, data=True)))
    return float(best)


def test_mehlhorn_against_networkx_and_the_exact_milp():
    rng = np.random.default_rng(7)
    ratios = []
    for _ in range(25):
        n = int(rng.integers(10, 36))
        G = _random_graph(rng, n, 0.15)
        term = rng.choice(n, size=int(rng.integers(3, 8)), replace=False)
        M = _matrix(G)
        plain = steiner.mehlhorn(M, term, improve_rounds=0)
        better = steiner.mehlhorn(M, term)
        opt = steiner.exact(M, term)
        ref = _nx_total(G, term)
        _assert_tree(G, plain)
        _assert_tree(G, better)
        _assert_tree(G, opt)
        assert opt.optimal
        assert plain.total == pytest.approx(ref, rel=1e-9)  # the same algorithm, distinct weights
        assert better.total <= plain.total + 1e-9
        assert abs(better.total - ref) <= 0.10 * ref
        assert opt.total - 1e-6 <= better.total <= 2.0 * opt.total
        ratios.append(better.total / opt.total)
    assert max(ratios) < 1.5


def test_mehlhorn_on_a_road_grid_is_close_to_networkx():
    rng = np.random.default_rng(3)
    G = _road_grid(rng, 30)
    term = rng.choice(G.number_of_nodes(), size=40, replace=False)
    M = _matrix(G)
    plain = steiner.mehlhorn(M, term, improve_rounds=0)
    better = steiner.mehlhorn(M, term, improve_rounds=3)
    ref = _nx_total(G, term)
    _assert_tree(G, better)
    assert plain.total == pytest.approx(ref, rel=1e-9)
    assert ref * 0.9 <= better.total <= ref + 1e-6


def test_mehlhorn_spans_many_terminals():
    """More than 46,341 terminals: pair keys (k * k) overflow int32 (scipy's MST indices)."""
    from scipy.sparse.csgraph import connected_components

    rng = np.random.default_rng(2)
    ids = np.arange(250 * 250).reshape(250, 250)
    u = np.r_[ids[:, :-1].ravel(), ids[:-1, :].ravel()]
    v = np.r_[ids[:, 1:].ravel(), ids[1:, :].ravel()]
    g = steiner.graph_from_edges(ids.size, u, v, rng.uniform(50.0, 150.0, len(u)))
    term = rng.choice(g.shape[0], size=50_000, replace=False)
    t = steiner.mehlhorn(g, term, improve_rounds=0)
    n_comp, lab = connected_components(t.matrix(g.shape[0]), directed=False)
    assert len(np.unique(lab[term])) == 1
    assert len(t.u) == len(t.nodes) - 1  # a tree


def test_exact_milp_equals_brute_force_on_tiny_graphs():
    rng = np.random.default_rng(11)
    for _ in range(12):
        n = int(rng.integers(5, 10))
        G = _random_graph(rng, n, 0.4)
        term = rng.choice(n, size=int(rng.integers(2, min(n, 5) + 1)), replace=False)
        opt = steiner.exact(_matrix(G), term)
        assert opt.total == pytest.approx(_brute_force(G, term), rel=1e-9)


def test_exact_refuses_big_graphs_and_bad_input():
    G = _road_grid(np.random.default_rng(0), 25)
    with pytest.raises(InputValidationError, match="max_nodes"):
        steiner.exact(_matrix(G), [0, 5, 9])
    M = _matrix(_random_graph(np.random.default_rng(1), 6, 0.5)).tolil()
    M[0, 1] = 3.0
    M[1, 0] = 4.0
    with pytest.raises(InputValidationError, match="symmetric"):
        steiner.mehlhorn(M.tocsr(), [0, 2])
    with pytest.raises(InputValidationError, match="node ids"):
        steiner.mehlhorn(_matrix(_random_graph(np.random.default_rng(1), 6, 0.5)), [0, 99])


def test_disconnected_terminals_give_a_forest():
    G = nx.Graph()
    G.add_weighted_edges_from([(0, 1, 1.0), (1, 2, 2.0), (3, 4, 1.5), (4, 5, 1.0)])
    t = steiner.mehlhorn(_matrix(G), [0, 2, 3, 5])
    assert t.components == 2
    assert t.total == pytest.approx(5.5)
    with pytest.raises(InputValidationError, match="components"):
        steiner.exact(_matrix(G), [0, 2, 3, 5])


# =========================================================================== prize order
def _tree_paths(tree: steiner.SteinerTree, root: int, nodes) -> list[set[tuple[int, int]]]:
    T = nx.Graph()
    for a, b in zip(tree.u, tree.v, strict=True):
        T.add_edge(int(a), int(b))
    out = []
    for x in nodes:
        p = nx.shortest_path(T, int(x), root)
        out.append({(min(a, b), max(a, b)) for a, b in zip(p[:-1], p[1:], strict=True)})
    return out


def test_prize_order_picks_the_most_prize_per_weight_each_step():
    rng = np.random.default_rng(5)
    G = _road_grid(rng, 14)
    M = _matrix(G)
    root = 0
    nodes = rng.choice(np.arange(1, G.number_of_nodes()), size=24, replace=False)
    groups = np.arange(24) % 9
    prizes = rng.uniform(5.0, 50.0, size=9)
    po = steiner.prize_order(M, nodes, prizes, root=root, groups=groups)
    tree = po.tree
    wt = {(min(int(a), int(b)), max(int(a), int(b))): float(w) for a, b, w in zip(tree.u, tree.v, tree.weight,
                                                                                  strict=True)}
    paths = _tree_paths(tree, root, nodes)
    need = [set().union(*(paths[i] for i in np.flatnonzero(groups == g))) for g in range(9)]
    built: set[tuple[int, int]] = set()
    left = set(range(9))
    assert sorted(po.order.tolist()) == list(range(9))
    for k, g in enumerate(po.order):
        marg = {h: sum(wt[e] for e in need[h] - built) for h in left}
        ratio = {h: prizes[h] / marg[h] if marg[h] > 0 else np.inf for h in left}
        assert ratio[int(g)] >= max(ratio.values()) * (1 - 1e-9)
        assert po.marginal[k] == pytest.approx(marg[int(g)])
        for e in need[int(g)] - built:  # each edge is built at the first step that needs it
            pos = list(zip(np.minimum(tree.u, tree.v), np.maximum(tree.u, tree.v), strict=True)).index(e)
            assert po.edge_step[pos] == k
        built |= need[int(g)]
        left.remove(int(g))
    assert po.cum_weight[-1] == pytest.approx(tree.total)
    # a budget: what is built stays within it; a target: stops once reached
    half = steiner.prize_order(M, nodes, prizes, root=root, groups=groups, tree=tree, budget=0.5 * tree.total)
    assert half.cum_weight[-1] <= 0.5 * tree.total + 1e-6 and len(half.order) < 9
    tgt = steiner.prize_order(M, nodes, prizes, root=root, groups=groups, tree=tree, target=0.5 * prizes.sum())
    assert tgt.cum_prize[-1] >= 0.5 * prizes.sum() and tgt.cum_prize[-2] < 0.5 * prizes.sum()
    assert list(tgt.order) == list(po.order[: len(tgt.order)])


# =========================================================================== the sample
def _variant(tmp: Path, ext) -> Path:
    """data/camau/study.toml with absolute layer paths; fiber routes and access points with
    the extension's appended."""
    cfg = tomllib.loads((DATA / "study.toml").read_text(encoding="utf-8"))
    for spec in cfg["layers"].values():
        spec["path"] = str((DATA / spec["path"]).resolve())
    for sec in ("profiles", "targets"):
        cfg[sec]["path"] = str((DATA / cfg[sec]["path"]).resolve())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        routes = gpd.read_file(DATA / "fiber.gpkg", layer="fiber_routes")
        aps = gpd.read_file(DATA / "access_points.gpkg", layer="access_points")
    new_r = ext.routes_layer().to_crs(routes.crs)
    new_a = ext.access_points_layer().to_crs(aps.crs)
    both_r = gpd.GeoDataFrame(pd.concat([routes, new_r], ignore_index=True), crs=routes.crs)
    both_a = gpd.GeoDataFrame(pd.concat([aps, new_a], ignore_index=True), crs=aps.crs)
    gpkg = tmp / "plan_fiber.gpkg"
    both_r.to_file(gpkg, layer="fiber_routes", driver="GPKG")
    both_a.to_file(gpkg, layer="access_points", driver="GPKG")
    cfg["layers"]["fiber_routes"] = {"path": str(gpkg), "layer": "fiber_routes"}
    cfg["layers"]["access_points"] = {"path": str(gpkg), "layer": "access_points"}
    (tmp / "study.toml").write_text(tomli_w.dumps(cfg), encoding="utf-8")
    return tmp


@pytest.mark.filterwarnings("ignore")
def test_sample_extension_reaches_every_hamlet_in_the_rerun(tmp_path):
    from ictplan import fiber, study
    from ictplan.parameters import resolve
    from ictplan.planning.fiber_ext import SEGMENT_COLUMNS, extend_fiber

    st = study.load(DATA)
    ext = extend_fiber(st)
    tot = ext.totals
    seg = ext.segments
    assert list(seg.columns) == [*SEGMENT_COLUMNS, "geometry"]
    assert tot["hamlets_unreached"] > 0 and tot["hamlets_not_connectable"] == 0
    assert tot["hamlets_reached_after"] == tot["hamlets"]
    assert (seg.geometry.geom_type == "LineString").all() and seg.crs.equals(st.crs)
    assert np.allclose(seg.length_m, seg.geometry.length, rtol=1e-6)
    # every cost is a unit cost times km or a count
    pp = resolve("plan", st)
    blend = pp.aerial_share * pp.cost_fiber_aerial_vnd_per_km + (1 - pp.aerial_share) * pp.cost_fiber_duct_vnd_per_km
    per_km = np.where(seg.placement == "aerial", blend, pp.cost_fiber_duct_vnd_per_km)
    assert np.allclose(seg.cost_vnd, seg.length_m / 1000 * per_km + seg.crossings * pp.cost_crossing_vnd, rtol=1e-9)
    assert tot["cost_vnd"] == pytest.approx(seg.cost_vnd.sum())
    h = ext.hamlets[ext.hamlets.selected].sort_values("order")
    # segments in build order; each built at the step of a selected hamlet (a hamlet on today's
    # cables needs access points only and builds no segment)
    assert (np.diff(seg["order"].to_numpy()) >= 0).all()
    assert set(seg["order"]) <= set(h["order"])
    assert (h["marginal_cost_vnd"].to_numpy() >= 0).all()
    assert h["cum_cost_vnd"].iloc[-1] == pytest.approx(tot["cost_vnd"], rel=1e-9)
    assert ext.routes_layer().columns.tolist() == ["route_id", "operator", "technology", "placement", "owner",
                                                   "geometry"]
    # the re-run analysis on the variant study counts every hamlet reached
    after = fiber.run(study.load(_variant(tmp_path, ext)))
    prov = after.province.iloc[0]
    assert int(prov["hamlets_reached"]) == int(prov["hamlets"]) == tot["hamlets"]
    assert float(prov["households_reachable"]) == pytest.approx(tot["households_reachable_after"], rel=1e-6)


@pytest.mark.filterwarnings("ignore")
def test_extension_refuses_bad_arguments():
    from ictplan import study
    from ictplan.planning.fiber_ext import extend_fiber

    st = study.load(DATA)
    with pytest.raises(InputValidationError, match="households_target_frac"):
        extend_fiber(st, households_target_frac=1.5)
    with pytest.raises(InputValidationError, match="budget_vnd"):
        extend_fiber(st, budget_vnd=-1.0)
    with pytest.raises(InputValidationError, match="operator 'Nobody'"):
        extend_fiber(st, operator="Nobody")
