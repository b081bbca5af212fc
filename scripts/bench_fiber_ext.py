"""Bench: the fiber extension's Steiner tree against networkx's Mehlhorn on a road-like graph.

A jittered square grid of ~200,000 nodes with a share of its edges removed at random (the
largest component kept), edge weights = Euclidean metres, ~2,000 terminals drawn from it.
Both solvers get the same graph and terminals; the result is a dict (JSON on stdout):
lengths, times and their ratios. The anchor (../shared/docs/BENCHMARKS.md): networkx 4.6 s
on 197,600 nodes / 2,000 terminals.

    .venv/bin/python scripts/bench_fiber_ext.py [--nodes 200000] [--terminals 2000] [--seed 0] [--sample]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components


def road_graph(n_nodes: int = 200_000, *, drop_frac: float = 0.15, jitter_m: float = 30.0, spacing_m: float = 100.0,
               seed: int = 0) -> tuple[sparse.csr_matrix, np.ndarray]:
    """A jittered grid of about ``n_nodes`` nodes, ``drop_frac`` of its edges removed, the
    largest component relabelled 0..n-1. Returns (symmetric CSR of metres, node xy)."""
    from ictplan.planning.steiner import graph_from_edges

    rng = np.random.default_rng(seed)
    side = int(round(np.sqrt(n_nodes)))
    ids = np.arange(side * side).reshape(side, side)
    xy = np.stack(np.divmod(np.arange(side * side), side), axis=1).astype(float) * spacing_m
    xy += rng.uniform(-jitter_m, jitter_m, size=xy.shape)
    u = np.r_[ids[:, :-1].ravel(), ids[:-1, :].ravel()]
    v = np.r_[ids[:, 1:].ravel(), ids[1:, :].ravel()]
    keep = rng.random(len(u)) >= drop_frac
    u, v = u[keep], v[keep]
    w = np.hypot(*(xy[u] - xy[v]).T)
    g = graph_from_edges(side * side, u, v, w)
    _, lab = connected_components(g, directed=False)
    big = lab == np.bincount(lab).argmax()
    new = np.cumsum(big) - 1
    ok = big[u] & big[v]
    return graph_from_edges(int(big.sum()), new[u[ok]], new[v[ok]], w[ok]), xy[big]


def to_networkx(g: sparse.csr_matrix) -> Any:
    import networkx as nx

    up = sparse.triu(g, k=1).tocoo()
    G = nx.Graph()
    G.add_nodes_from(range(g.shape[0]))
    G.add_weighted_edges_from(zip(up.row.tolist(), up.col.tolist(), up.data.tolist(), strict=True))
    return G


def run(n_nodes: int = 200_000, n_terminals: int = 2_000, *, seed: int = 0, with_networkx: bool = True) -> dict[str, Any]:
    """Both solvers on one graph; lengths in km, times in s."""
    from ictplan.planning import steiner

    t = time.perf_counter()
    g, _ = road_graph(n_nodes, seed=seed)
    t_graph = time.perf_counter() - t
    rng = np.random.default_rng(seed + 1)
    term = rng.choice(g.shape[0], size=n_terminals, replace=False)
    out: dict[str, Any] = {"nodes": int(g.shape[0]), "edges": int(g.nnz // 2), "terminals": int(n_terminals),
                           "graph_s": round(t_graph, 2)}
    for name, rounds in (("ictplan_mehlhorn", 0), ("ictplan_mehlhorn_keynodes", 1)):
        t = time.perf_counter()
        tree = steiner.mehlhorn(g, term, improve_rounds=rounds)
        out[f"{name}_s"] = round(time.perf_counter() - t, 3)
        out[f"{name}_km"] = round(tree.total / 1000.0, 3)
    if with_networkx:
        import networkx as nx

        t = time.perf_counter()
        G = to_networkx(g)
        out["networkx_build_s"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        T = nx.algorithms.approximation.steiner_tree(G, term.tolist(), weight="weight", method="mehlhorn")
        out["networkx_mehlhorn_s"] = round(time.perf_counter() - t, 3)
        out["networkx_mehlhorn_km"] = round(T.size(weight="weight") / 1000.0, 3)
        ref_km, ref_s = out["networkx_mehlhorn_km"], out["networkx_mehlhorn_s"]
        for name in ("ictplan_mehlhorn", "ictplan_mehlhorn_keynodes"):
            out[f"{name}_length_ratio"] = round(out[f"{name}_km"] / ref_km, 5)
            out[f"{name}_speedup"] = round(ref_s / max(out[f"{name}_s"], 1e-9), 2)
    return out


def sample(path: str = "data/camau", operator: str | None = None) -> dict[str, Any]:
    """The extension to every unreached hamlet of a study (default: the embedded sample)."""
    import warnings

    from ictplan import study
    from ictplan.planning.fiber_ext import extend_fiber

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ext = extend_fiber(study.load(path), operator=operator)
    t = ext.totals
    return {"study": path, "operator": operator or "neutral", "km": round(t["km"], 1),
            "cost_bn_vnd": round(t["cost_vnd"] / 1e9, 1), "hamlets_connected": t["hamlets_connected"],
            "hamlets_unreached": t["hamlets_unreached"], "households_connected": round(t["households_connected"]),
            "access_points": t["access_points"], "seconds": round(t["seconds"], 1)}


def main(scale: str = "full") -> list[dict[str, Any]]:
    """Records for scripts/bench.py: the 200,000-node graph (full) or 20,000 nodes (small)."""
    import resource

    n = 200_000 if scale == "full" else 20_000
    r = run(n, 2_000 if scale == "full" else 300)
    return [{
        "workload": f"fiber extension: Steiner tree, {r['nodes']:,}-node road graph, {r['terminals']:,} terminals",
        "scale": scale, "ictplan_s": r["ictplan_mehlhorn_s"], "conventional_s": r["networkx_mehlhorn_s"],
        "ratio": r["ictplan_mehlhorn_speedup"], "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "answers_agree": abs(r["ictplan_mehlhorn_length_ratio"] - 1.0) <= 0.10,
        "tolerance": "length within 10 % of networkx steiner_tree(method='mehlhorn')",
        "notes": f"ictplan {r['ictplan_mehlhorn_km']:,.1f} km vs networkx {r['networkx_mehlhorn_km']:,.1f} km; "
                 f"with one key-node round {r['ictplan_mehlhorn_keynodes_km']:,.1f} km in "
                 f"{r['ictplan_mehlhorn_keynodes_s']:.2f} s",
        **r,
    }]


def cli() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=200_000)
    ap.add_argument("--terminals", type=int, default=2_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-networkx", action="store_true")
    ap.add_argument("--sample", action="store_true", help="also time the extension on data/camau")
    a = ap.parse_args()
    out = run(a.nodes, a.terminals, seed=a.seed, with_networkx=not a.no_networkx)
    if a.sample:
        out["sample"] = sample()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    cli()
