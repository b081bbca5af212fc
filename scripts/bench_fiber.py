"""Fiber reach benchmarks (issue 4): ictplan's reach search and end-to-end runs.

Every workload runs in its own fresh worker process (multiprocessing "spawn"); peak
memory is that worker's max RSS (interpreter and libraries included). Inputs are
synthetic and seeded (a jittered lattice of two-segment roads with 17% of links missing,
spacing 684 m: 20,000 edges for a province, 1.17 M for the nation), built in a temporary
folder and deleted afterwards.

Workloads:

* ``fiber.search.nearest_node``: the same graph, the same households snapped to their
  nearest node (cKDTree), access at nodes: networkx ``multi_source_dijkstra_path_length``
  with ``cutoff`` vs ictplan's ``network.distance_to_nearest`` (CSR graph, one Dijkstra
  with ``limit``). Distances must agree to 1e-6 m and reachable sets exactly.
* ``fiber.search.on_edge``: ictplan's rule (households join the nearest point on an
  edge): networkx Dijkstra with cutoff on a graph where every snapped household and
  access point is inserted as a node vs ictplan's exact edge-endpoint computation. The
  networkx insertion time is reported in ``notes`` (not in ``conventional_s``).
* ``fiber.e2e.province``: files to the per-commune table (GeoPackage roads, communes and
  access points; GeoTIFF population with 100 m cells): ictplan (``build_edges`` →
  ``households_from_population`` → ``analyse``) vs the conventional pipeline (geopandas
  read, networkx graph keyed by end coordinates, nearest-node snap, multi-source
  Dijkstra with cutoff, groupby). The rules differ (nearest point on an edge vs nearest
  node), so answers are not expected to agree; the share of households classified
  differently is in ``notes``.
* ``fiber.e2e.national`` (``scale="full"``): ictplan only, 1.17 M road edges and ~10 M
  populated cells of a 5,745 × 5,745 raster, 10,000 communes.
* ``fiber.sample``: ``fiber.run(study.load("data/camau"))`` with % of households
  reachable, and the per-commune unreached hamlets with missing metres written to
  ``out/bench/fiber_sample_*.csv``.

    python scripts/bench_fiber.py [small|full]
"""

from __future__ import annotations

import json
import multiprocessing as mp
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
CRS = 32648
SPACING_M = 684.0

from ictplan.parameters import FIBER  # noqa: E402 - after the repository is on sys.path

DROP_M = FIBER.drop_limit_m  # the analysis' own default

SCALES = {
    "small": {"n_lattice": 30, "n_households": 20_000, "n_access": 150, "raster": 200, "communes_side": 4},
    "full": {"n_lattice": 110, "n_households": 300_000, "n_access": 2_000, "raster": 750, "communes_side": 10},
}
NATIONAL = {"n_lattice": 840, "raster": 5745, "communes_side": 100, "n_access": 60_000, "populated_frac": 0.30}


# =========================================================================== synthetic inputs
def lattice_roads(n: int, spacing: float = SPACING_M, keep: float = 0.83, seed: int = 0):
    """Two-segment road edges between neighbours of a jittered n × n lattice."""
    import shapely

    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    px = ii.ravel() * spacing + rng.uniform(-0.2, 0.2, n * n) * spacing
    py = jj.ravel() * spacing + rng.uniform(-0.2, 0.2, n * n) * spacing
    idx = ii * n + jj
    a = np.concatenate([idx[:-1, :].ravel(), idx[:, :-1].ravel()])
    b = np.concatenate([idx[1:, :].ravel(), idx[:, 1:].ravel()])
    k = rng.uniform(0, 1, len(a)) < keep
    a, b = a[k], b[k]
    mx = (px[a] + px[b]) / 2 + rng.normal(0, 0.05 * spacing, len(a))
    my = (py[a] + py[b]) / 2 + rng.normal(0, 0.05 * spacing, len(a))
    coords = np.stack([np.c_[px[a], py[a]], np.c_[mx, my], np.c_[px[b], py[b]]], axis=1)
    return shapely.linestrings(coords)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _in_worker(fn, *args):
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(fn, args)


def _quiet():
    warnings.simplefilter("ignore")


# =========================================================================== search workloads
def _search_setup(cfg):
    import geopandas as gpd
    import networkx as nx
    import shapely
    from scipy.spatial import cKDTree

    from ictplan import network as nw

    rng = np.random.default_rng(42)
    lines = lattice_roads(cfg["n_lattice"])
    net = nw.build_edges(gpd.GeoDataFrame({"kind": np.full(len(lines), "road")}, geometry=lines, crs=CRS))
    # households near roads: a random point of a random edge + N(0, 150 m)
    e = rng.integers(0, net.n_edges, cfg["n_households"])
    p = shapely.get_coordinates(shapely.line_interpolate_point(net.geometry[e], rng.uniform(0, 1, len(e)), normalized=True))
    hx, hy = p[:, 0] + rng.normal(0, 150, len(e)), p[:, 1] + rng.normal(0, 150, len(e))
    ea = rng.integers(0, net.n_edges, cfg["n_access"])
    ap = shapely.get_coordinates(shapely.line_interpolate_point(net.geometry[ea], rng.uniform(0, 1, len(ea)), normalized=True))
    G = nx.Graph()  # simple graph: the lattice has no parallel edges
    G.add_weighted_edges_from(zip(net.u.tolist(), net.v.tolist(), net.cost_m.tolist(), strict=True), weight="cost_m")
    tree = cKDTree(net.node_xy)
    nw.to_csgraph(net)  # the compressed graph, built once like G (cached on the network)
    return net, G, tree, hx, hy, ap


def work_search(cfg) -> list[dict]:
    _quiet()
    import networkx as nx

    from ictplan import network as nw

    net, G, tree, hx, hy, ap = _search_setup(cfg)
    n_hh = len(hx)
    recs = []
    # ---------------- nearest-node rule, both sides (at the drop limit and at 2 km)
    hd, hn = tree.query(np.c_[hx, hy])
    _, an = tree.query(ap)
    sources = sorted(set(an.tolist()))
    # ictplan: a node is a point at one end of an incident edge
    inc = np.full(net.n_nodes, -1)
    at_u = np.zeros(net.n_nodes, bool)
    inc[net.v] = np.arange(net.n_edges)
    inc[net.u] = np.arange(net.n_edges)
    at_u[net.u] = True
    along = np.where(at_u, 0.0, net.length_m[inc])
    tgt = {"edge_id": inc[hn], "along_m": along[hn], "drop_m": hd}
    src = np.array(sources)
    for cutoff, label in ((DROP_M, "fiber.search.nearest_node"), (2000.0, "fiber.search.nearest_node.2km")):
        t = time.perf_counter()
        dist = nx.multi_source_dijkstra_path_length(G, sources, cutoff=cutoff, weight="cost_m")
        d_nx = np.array([hd[i] + dist[n] if n in dist else np.inf for i, n in enumerate(hn)])
        d_nx[d_nx > cutoff] = np.inf
        t_nx = time.perf_counter() - t
        t = time.perf_counter()
        d_ip = nw.distance_to_nearest(net, tgt, source_edge=inc[src], source_start_m=along[src], limit_m=cutoff)
        t_ip = time.perf_counter() - t
        agree = bool(np.array_equal(np.isinf(d_ip), np.isinf(d_nx))
                     and np.allclose(d_ip[np.isfinite(d_ip)], d_nx[np.isfinite(d_nx)], atol=1e-6))
        recs.append({
            "workload": label, "ictplan_s": t_ip, "conventional_s": t_nx, "ratio": t_nx / t_ip,
            "answers_agree": agree, "tolerance": "reachable sets equal; distances to 1e-6 m",
            "notes": f"{net.n_edges} edges, {n_hh} households, {len(sources)} access nodes, cutoff {cutoff:g} m; "
                     f"{np.isfinite(d_ip).mean() * 100:.1f}% within; both sides include turning node distances into "
                     "household distances",
        })
    # ---------------- on-edge rule
    t = time.perf_counter()
    hs = nw.snap_xy(net, hx, hy, max_distance_m=DROP_M)
    t_snap = time.perf_counter() - t
    asnap = nw.snap_xy(net, ap[:, 0], ap[:, 1])
    se, sa = asnap["edge_id"], asnap["along_m"]
    t = time.perf_counter()
    d_ip = nw.distance_to_nearest(net, hs, source_edge=se, source_start_m=sa, limit_m=DROP_M)
    t_ip = time.perf_counter() - t
    # networkx: insert every snapped point as a node
    t = time.perf_counter()
    H = G.copy()
    ok = hs["edge_id"] >= 0
    pts_e = np.concatenate([hs["edge_id"][ok], se])
    pts_a = np.concatenate([hs["along_m"][ok], sa])
    labels = [("h", int(i)) for i in np.flatnonzero(ok)] + [("s", j) for j in range(len(se))]
    order = np.lexsort((pts_a, pts_e))
    w = net.cost_m
    L = net.length_m
    k = 0
    nloc = len(order)
    while k < nloc:
        e = int(pts_e[order[k]])
        j = k
        while j < nloc and pts_e[order[j]] == e:
            j += 1
        u, v = int(net.u[e]), int(net.v[e])
        if H.has_edge(u, v):
            H.remove_edge(u, v)
        scale = w[e] / L[e]
        prev, ppos = u, 0.0
        for q in order[k:j]:
            node = ("p", labels[q])
            H.add_edge(prev, node, cost_m=(pts_a[q] - ppos) * scale)
            prev, ppos = node, pts_a[q]
        H.add_edge(prev, v, cost_m=(L[e] - ppos) * scale)
        k = j
    for i in np.flatnonzero(ok):
        H.add_edge(("hh", int(i)), ("p", ("h", int(i))), cost_m=float(hs["drop_m"][i]))
    t_insert = time.perf_counter() - t
    t = time.perf_counter()
    dist = nx.multi_source_dijkstra_path_length(H, [("p", ("s", j)) for j in range(len(se))], cutoff=DROP_M, weight="cost_m")
    d_nx = np.array([dist.get(("hh", i), np.inf) for i in range(n_hh)])
    t_nx = time.perf_counter() - t
    agree = bool(np.array_equal(np.isinf(d_ip), np.isinf(d_nx)) and np.allclose(d_ip[np.isfinite(d_ip)], d_nx[np.isfinite(d_nx)], atol=1e-6))
    recs.append({
        "workload": "fiber.search.on_edge", "ictplan_s": t_ip, "conventional_s": t_nx, "ratio": t_nx / t_ip,
        "answers_agree": agree, "tolerance": "reachable sets equal; distances to 1e-6 m",
        "notes": f"same graph and snapped households; ictplan snap of {n_hh} households {t_snap:.2f} s (not in ictplan_s); "
                 f"networkx node insertion {t_insert:.2f} s (not in conventional_s); {np.isfinite(d_ip).mean() * 100:.1f}% reachable",
    })
    peak = _peak_mb()
    for r in recs:
        r["peak_mb"] = peak
    return recs


# =========================================================================== end to end (files)
def make_province_files(folder: Path, cfg, *, seed: int = 7) -> dict[str, Path]:
    """Roads, communes and access points (GeoPackage) and a population GeoTIFF."""
    import geopandas as gpd
    import rasterio
    import shapely
    from affine import Affine

    rng = np.random.default_rng(seed)
    lines = lattice_roads(cfg["n_lattice"])
    side_m = cfg["raster"] * 100.0
    span = (cfg["n_lattice"] - 1) * SPACING_M
    # the raster covers the lattice; cells near roads are populated more
    paths = {}
    roads = gpd.GeoDataFrame({"kind": np.full(len(lines), "road"), "name": "", "road_class": "", "crossing_cost_m": 0.0},
                             geometry=lines, crs=CRS)
    paths["roads"] = folder / "roads.gpkg"
    roads.to_file(paths["roads"], layer="roads", engine="pyogrio")
    k = cfg["communes_side"]
    step = side_m / k
    boxes = [shapely.box(i * step, j * step, (i + 1) * step, (j + 1) * step) for i in range(k) for j in range(k)]
    codes = [f"{i:05d}" for i in range(k * k)]
    pop = rng.integers(3000, 20000, k * k)
    communes = gpd.GeoDataFrame({
        "commune_code": codes, "commune_name": [f"Xã {c}" for c in codes], "commune_type": "Xã",
        "district_code": [f"D{int(c) // 10:03d}" for c in codes], "district_name": [f"Huyện {int(c) // 10}" for c in codes],
        "pop2019": pop, "hh2019": (pop / rng.uniform(3.3, 4.0, k * k)).astype(int),
    }, geometry=boxes, crs=CRS)
    paths["communes"] = folder / "communes.gpkg"
    communes.to_file(paths["communes"], layer="communes", engine="pyogrio")
    ea = rng.integers(0, len(lines), cfg["n_access"])
    ap = shapely.line_interpolate_point(lines[ea], rng.uniform(0, 1, len(ea)), normalized=True)
    aps = gpd.GeoDataFrame({"ap_id": [f"AP{i}" for i in range(len(ap))], "operator": "VNPT",
                            "technology": rng.choice(["GPON", "XGS-PON"], len(ap), p=[0.7, 0.3])}, geometry=ap, crs=CRS)
    paths["access_points"] = folder / "access_points.gpkg"
    aps.to_file(paths["access_points"], layer="access_points", engine="pyogrio")
    n = cfg["raster"]
    frac = cfg.get("populated_frac", 0.55)
    counts = np.where(rng.uniform(0, 1, (n, n)) < frac, rng.lognormal(0.8, 0.9, (n, n)), 0.0).astype("float32")
    transform = Affine(100.0, 0, -0.5 * (side_m - span) * 0, 0, -100.0, side_m)
    paths["population"] = folder / "population.tif"
    with rasterio.open(paths["population"], "w", driver="GTiff", width=n, height=n, count=1, dtype="float32", crs=f"EPSG:{CRS}",
                       transform=transform, nodata=-1.0, compress="deflate", tiled=True, blockxsize=256, blockysize=256) as ds:
        ds.write(counts, 1)
    return paths


def work_e2e_ictplan(paths: dict[str, str]) -> dict:
    _quiet()
    t = time.perf_counter()

    from ictplan import fiber, io
    from ictplan import network as nw

    roads = io.read_layer(paths["roads"], "roads", layer="roads")
    communes = io.read_layer(paths["communes"], "communes", layer="communes")
    aps = io.read_layer(paths["access_points"], "access_points", layer="access_points")
    pop = io.read_population(paths["population"])
    t_read = time.perf_counter() - t
    t1 = time.perf_counter()
    net = nw.build_edges(roads)
    del roads
    t_build = time.perf_counter() - t1
    t1 = time.perf_counter()
    hh = fiber.households_from_population(pop, communes)
    del pop
    t_hh = time.perf_counter() - t1
    t1 = time.perf_counter()
    res = fiber.analyse(net, hh, communes=communes, access_points=aps, drop_limit_m=DROP_M)
    t_an = time.perf_counter() - t1
    total = time.perf_counter() - t
    reach = res.households["reachable"].to_numpy()
    rows, cols = (res.households["row"].to_numpy(), res.households["col"].to_numpy())
    return {
        "seconds": total, "peak_mb": _peak_mb(), "n_edges": net.n_edges, "n_cells": len(hh),
        "pct_reachable": float(res.province["pct_reachable"].iloc[0]),
        "breakdown": f"read {t_read:.1f} s, network {t_build:.1f} s, households {t_hh:.1f} s, reach+tables {t_an:.1f} s",
        "reach_key": (rows.astype(np.int64) * 100_000 + cols)[reach].tolist() if len(hh) < 2_000_000 else None,
    }


def work_e2e_conventional(paths: dict[str, str]) -> dict:
    _quiet()
    t = time.perf_counter()
    import geopandas as gpd
    import networkx as nx
    import rasterio
    import rasterio.features
    from scipy.spatial import cKDTree

    roads = gpd.read_file(paths["roads"], engine="pyogrio")
    communes = gpd.read_file(paths["communes"], engine="pyogrio")
    aps = gpd.read_file(paths["access_points"], engine="pyogrio")
    with rasterio.open(paths["population"]) as ds:
        counts = ds.read(1, masked=True).filled(0).astype("float64")
        transform = ds.transform
    # graph keyed by end coordinates (momepy.gdf_to_nx style)
    G = nx.Graph()
    for geom in roads.geometry:
        c = list(geom.coords)
        a, b = c[0], c[-1]
        w = geom.length
        if not G.has_edge(a, b) or G[a][b]["length"] > w:
            G.add_edge(a, b, length=w)
    nodes = list(G.nodes)
    tree = cKDTree(np.array(nodes))
    rows, cols = np.nonzero(counts > 0)
    x = transform.c + transform.a * (cols + 0.5)
    y = transform.f + transform.e * (rows + 0.5)
    hd, hn = tree.query(np.c_[x, y])
    _, an = tree.query(np.c_[aps.geometry.x, aps.geometry.y])
    dist = nx.multi_source_dijkstra_path_length(G, [nodes[i] for i in set(an.tolist())], cutoff=DROP_M, weight="length")
    dn = np.array([dist.get(nodes[n], np.inf) for n in hn]) + hd
    reach = dn <= DROP_M
    # households per cell by commune persons/household; per commune sums
    cid = rasterio.features.rasterize(((g, i + 1) for i, g in enumerate(communes.geometry)), out_shape=counts.shape,
                                      transform=transform, fill=0, dtype="int32")[rows, cols] - 1
    pph = (communes["pop2019"] / communes["hh2019"]).to_numpy()
    hh = counts[rows, cols] / pph[cid]
    tab = (
        gpd.pd.DataFrame({"c": cid, "hh": hh, "r": hh * reach}).groupby("c").sum()
    )
    pct = 100 * tab["r"].sum() / tab["hh"].sum()
    return {"seconds": time.perf_counter() - t, "peak_mb": _peak_mb(), "pct_reachable": float(pct),
            "reach_key": (rows.astype(np.int64) * 100_000 + cols)[reach].tolist()}


def work_make_files(folder: str, cfg: dict) -> dict[str, str]:
    _quiet()
    return {k: str(v) for k, v in make_province_files(Path(folder), cfg).items()}


def e2e(cfg, label: str, *, conventional: bool = True) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="ictplan_bench_fiber_"))
    try:
        t = time.perf_counter()
        paths = _in_worker(work_make_files, str(folder), cfg)
        t_make = time.perf_counter() - t
        ip = _in_worker(work_e2e_ictplan, paths)
        rec = {"workload": label, "ictplan_s": ip["seconds"], "peak_mb": ip["peak_mb"], "conventional_s": None, "ratio": None,
               "answers_agree": False, "tolerance": "different rules: nearest point on an edge (ictplan) vs nearest node",
               "notes": f"{ip['n_edges']} edges, {ip['n_cells']} populated cells; {ip['breakdown']}; ictplan "
                        f"{ip['pct_reachable']:.2f}% households reachable; inputs built in {t_make:.0f} s (not timed)"}
        if conventional:
            cv = _in_worker(work_e2e_conventional, paths)
            a, b = set(ip["reach_key"]), set(cv["reach_key"])
            diff = len(a ^ b) / max(ip["n_cells"], 1) * 100
            rec.update(conventional_s=cv["seconds"], ratio=cv["seconds"] / ip["seconds"])
            rec["notes"] += (f"; conventional (nearest node) {cv['pct_reachable']:.2f}% reachable, peak {cv['peak_mb']:.0f} MB; "
                             f"{diff:.1f}% of cells classified differently (nearest-node misses households beside long edges "
                             "and counts straight-line drops to nodes)")
        else:
            rec["answers_agree"] = True
            rec["tolerance"] = "no conventional run at this scale (BENCHMARKS.md W2: 108 s, 6.1 GB)"
        return rec
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# =========================================================================== sample
def work_sample() -> dict:
    _quiet()
    t = time.perf_counter()
    from ictplan import fiber, study

    s = study.load(REPO / "data" / "camau")
    res = fiber.run(s)
    sec = time.perf_counter() - t
    out = REPO / "out" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    com = res.communes[["district_name", "commune_code", "commune_name", "households", "households_reachable",
                        "pct_reachable", "hamlets", "hamlets_reached", "missing_fiber_m"]]
    com.to_csv(out / "fiber_sample_communes.csv", index=False)
    un = res.unreached_hamlets[["commune_code", "hamlet_code", "hamlet_name", "households", "pct_reachable",
                                "centre_dist_to_fiber_m", "missing_centre_m", "missing_share_m", "missing_fiber_m",
                                "no_fiber_on_piece"]]
    un.to_csv(out / "fiber_sample_unreached_hamlets.csv", index=False)
    p = res.province.iloc[0]
    return {"seconds": sec, "peak_mb": _peak_mb(), "pct": float(p["pct_reachable"]), "households": float(p["households"]),
            "hamlets": int(p.get("hamlets", 0)), "reached": int(p.get("hamlets_reached", 0)),
            "missing_km": float(p.get("missing_fiber_m", 0.0)) / 1000, "mode": res.diagnostics["fiber_access_mode"],
            "worst": com.sort_values("pct_reachable").head(3)[["commune_name", "pct_reachable"]].to_dict("records")}


# =========================================================================== main
def main(scale: str = "full") -> list[dict]:
    """Run the fiber benchmarks; ``scale`` is "small" (seconds) or "full"."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {sorted(SCALES)}, got {scale!r}")
    cfg = SCALES[scale]
    records: list[dict] = []
    records += _in_worker(work_search, cfg)
    records.append(e2e(cfg, "fiber.e2e.province"))
    if scale == "full":
        records.append(e2e(NATIONAL, "fiber.e2e.national", conventional=False))
    if (REPO / "data" / "camau" / "camau.gpkg").exists():
        s = _in_worker(work_sample)
        worst = "; ".join(f"{w['commune_name']} {w['pct_reachable']:.0f}%" for w in s["worst"])
        records.append({
            "workload": "fiber.sample", "ictplan_s": s["seconds"], "conventional_s": None, "ratio": None,
            "peak_mb": s["peak_mb"], "answers_agree": True, "tolerance": "n/a (no conventional run)",
            "notes": f"Cà Mau sample (access: {s['mode']}): {s['pct']:.1f}% of {s['households']:.0f} households reachable "
                     f"within {DROP_M:g} m; {s['reached']}/{s['hamlets']} hamlets reached (≥ 80% of households); "
                     f"{s['missing_km']:.1f} km of new fiber for the unreached; lowest: {worst}; per commune and per "
                     "hamlet lists in out/bench/fiber_sample_communes.csv and fiber_sample_unreached_hamlets.csv",
        })
    for r in records:
        r["scale"] = scale
    return records


if __name__ == "__main__":
    for rec in main(sys.argv[1] if len(sys.argv) > 1 else "full"):
        print(json.dumps(rec, default=float))
