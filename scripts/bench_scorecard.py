"""Scorecard benchmarks: the whole sample scorecard, data-centre redundancy (D2), postal counts.

    python scripts/bench.py --only scorecard [--scale small|full]

* ``scorecard: whole sample`` — every target for province/districts/communes, with the
  coverage and fiber analyses it needs run first (target < 30 s). No conventional counterpart.
* ``D2: edge-disjoint fiber paths between data centres`` — a synthetic meshed fiber network
  (a grid of routes with a share removed) and 6 data centres: ictplan (network noding +
  max-flow cut off at 2 per pair) against the usual way (shapely ``union_all`` noding →
  networkx graph → ``nx.edge_connectivity`` per pair). Answers compared as min(2, λ).
* ``postal points per commune`` — ictplan (``services.postal_presence``: attribute codes,
  sjoin only for unknown codes) against ``sjoin(within)`` of every point + groupby.
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_child(fn, *args):  # noqa: ANN001, ANN002
    ctx = mp.get_context("fork")
    q = ctx.Queue()

    def target() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q.put(fn(*args) + (_peak_mb(),))

    p = ctx.Process(target=target)
    p.start()
    out = q.get()
    p.join()
    return out


# --------------------------------------------------------------------------- whole scorecard
def _scorecard() -> tuple:
    from ictplan import coverage, fiber, study, targets

    t0 = time.perf_counter()
    s = study.load(REPO / "data" / "camau")
    sc = targets.run(s, coverage=coverage.run(s, levels=("communes",)), fiber=fiber.run(s))
    dt = time.perf_counter() - t0
    prov = sc.province()
    computable = [t.id for t in sc.plan.targets if not t.is_policy and t.table_column is None]
    ok = bool(prov.set_index("target_id").loc[computable, "value"].notna().all())
    return dt, ok, len(sc.table)


# --------------------------------------------------------------------------- D2
def _grid_routes(n: int, seed: int):  # noqa: ANN202
    import geopandas as gpd
    from shapely.geometry import LineString

    rng = np.random.default_rng(seed)
    step = 500.0
    segs = []
    for i in range(n):
        for j in range(n):
            x, y = 500000 + i * step, 1000000 + j * step
            if i + 1 < n:
                segs.append(LineString([(x, y), (x + step, y)]))
            if j + 1 < n:
                segs.append(LineString([(x, y), (x, y + step)]))
    keep = rng.random(len(segs)) < 0.62
    routes = gpd.GeoDataFrame({"route_id": np.arange(keep.sum()).astype(str)}, geometry=[s for s, k in zip(segs, keep, strict=True) if k],
                              crs=32648)
    nodes = rng.choice(n * n, size=6, replace=False)
    pts = [(500000 + (k // n) * step, 1000000 + (k % n) * step) for k in nodes]
    dcs = gpd.GeoDataFrame({"facility_id": [f"dc{i}" for i in range(6)]},
                           geometry=gpd.points_from_xy([p[0] for p in pts], [p[1] for p in pts]), crs=32648)
    return routes, dcs


def _d2_ictplan(n: int, seed: int) -> tuple:
    from ictplan import network

    routes, dcs = _grid_routes(n, seed)
    t0 = time.perf_counter()
    r = network.datacentre_redundancy(routes, dcs, attach_distance_m=1.0)
    return time.perf_counter() - t0, r["disjoint_paths"].tolist()


def _d2_conventional(n: int, seed: int) -> tuple:
    import networkx as nx
    import shapely

    routes, dcs = _grid_routes(n, seed)
    t0 = time.perf_counter()
    noded = shapely.union_all(routes.geometry.values)
    parts = shapely.get_parts(noded)
    G = nx.Graph()
    for line in parts:
        c = shapely.get_coordinates(line)
        a, b = (round(c[0][0], 3), round(c[0][1], 3)), (round(c[-1][0], 3), round(c[-1][1], 3))
        if a != b:
            G.add_edge(a, b)
    pts = [(round(p.x, 3), round(p.y, 3)) for p in dcs.geometry]
    out = []
    for i in range(len(pts)):
        for j in range(i + 1, len(pts)):
            a, b = pts[i], pts[j]
            k = nx.edge_connectivity(G, a, b) if a in G and b in G else 0
            out.append(min(2, k))
    return time.perf_counter() - t0, out


# --------------------------------------------------------------------------- postal
def _postal_data(n_side: int, n_points: int, seed: int):  # noqa: ANN202
    import geopandas as gpd
    from shapely.geometry import box

    rng = np.random.default_rng(seed)
    size = 1000.0
    ij = [(i, j) for i in range(n_side) for j in range(n_side)]
    communes = gpd.GeoDataFrame({"commune_code": [f"{k:05d}" for k in range(len(ij))]},
                                geometry=[box(500000 + i * size, 1000000 + j * size, 500000 + (i + 1) * size,
                                              1000000 + (j + 1) * size) for i, j in ij], crs=32648)
    x = rng.uniform(500000, 500000 + n_side * size, n_points)
    y = rng.uniform(1000000, 1000000 + n_side * size, n_points)
    i = ((x - 500000) // size).astype(int)
    j = ((y - 1000000) // size).astype(int)
    code = np.char.zfill((i * n_side + j).astype(str), 5)
    pts = gpd.GeoDataFrame({"point_id": np.arange(n_points).astype(str), "commune_code": code,
                            "staffed": rng.random(n_points) < 0.7, "internet": rng.random(n_points) < 0.9,
                            "online_services": rng.random(n_points) < 0.8},
                           geometry=gpd.points_from_xy(x, y), crs=32648)
    return pts, communes


def _postal_ictplan(n_side: int, n_points: int, seed: int) -> tuple:
    from ictplan import services

    pts, com = _postal_data(n_side, n_points, seed)
    t0 = time.perf_counter()
    p = services.postal_presence(pts, com)
    return time.perf_counter() - t0, p[["points", "staffed", "staffed_internet"]].to_numpy().tolist()


def _postal_conventional(n_side: int, n_points: int, seed: int) -> tuple:
    import geopandas as gpd

    pts, com = _postal_data(n_side, n_points, seed)
    t0 = time.perf_counter()
    j = gpd.sjoin(pts.drop(columns="commune_code"), com, predicate="within")
    j["si"] = j["staffed"] & j["internet"]
    g = j.groupby("commune_code").agg(points=("point_id", "size"), staffed=("staffed", "sum"), si=("si", "sum"))
    g = g.reindex(com["commune_code"], fill_value=0)
    return time.perf_counter() - t0, g.to_numpy().tolist()


def main(scale: str = "full") -> list[dict]:
    small = scale == "small"
    recs = []
    if not small and (REPO / "data" / "camau" / "camau.gpkg").is_file():
        dt, ok, rows, peak = _in_child(_scorecard)
        recs.append({"workload": "scorecard: whole sample (all analyses)", "scale": "province (sample)",
                     "ictplan_s": dt, "conventional_s": None, "ratio": None, "peak_mb": peak, "answers_agree": ok,
                     "tolerance": "every computable target has a province value",
                     "notes": f"{rows} rows (36 targets × province, districts, communes); coverage + fiber + indicators; target < 30 s"})
    n = 12 if small else 45
    ti, ai, pi = _in_child(_d2_ictplan, n, 7)
    tc, ac, pc = _in_child(_d2_conventional, n, 7)
    recs.append({"workload": "D2: edge-disjoint fiber paths, 15 DC pairs", "scale": f"{n}x{n} route grid",
                 "ictplan_s": ti, "conventional_s": tc, "ratio": tc / ti if ti else None, "peak_mb": max(pi, pc),
                 "answers_agree": ai == ac, "tolerance": "identical min(2, λ) per pair",
                 "notes": "conventional = union_all noding + nx.edge_connectivity per pair; ictplan = network noding + max-flow cut off at 2"})
    side, npts = (20, 20_000) if small else (100, 1_000_000)
    ti, ai, pi = _in_child(_postal_ictplan, side, npts, 3)
    tc, ac, pc = _in_child(_postal_conventional, side, npts, 3)
    recs.append({"workload": "postal points per commune", "scale": f"{side * side} communes, {npts:,} points",
                 "ictplan_s": ti, "conventional_s": tc, "ratio": tc / ti if ti else None, "peak_mb": max(pi, pc),
                 "answers_agree": ai == ac, "tolerance": "identical counts per commune",
                 "notes": "conventional = sjoin(within) of every point + groupby"})
    return recs


if __name__ == "__main__":  # pragma: no cover
    import sys

    for r in main(sys.argv[1] if len(sys.argv) > 1 else "small"):
        print(r)
