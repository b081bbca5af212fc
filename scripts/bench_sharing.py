"""Infrastructure sharing benchmarks: candidate site pairs and duplicated fiber routes.

Workloads (each method timed in its own fresh worker process, median of 3 runs; peak
memory is that worker's max RSS, interpreter and libraries included):

* ``sharing.pairs.<r>m.vs_buffer``: pairs of sites of different operators within r metres
  among 100,000 synthetic sites (10,000 at ``scale="small"``): ``sharing.candidate_pairs``
  (KD-tree + exact test) vs the common geopandas way (``buffer(r)`` + ``sjoin(intersects)``).
  The polygonal buffer is inscribed in the circle, so it misses pairs near the limit: the
  number missed is reported. Some pairs are planted just inside the limit (r - 0..5 cm).
* ``sharing.pairs.<r>m.vs_dwithin``: the same against ``sjoin(predicate="dwithin")``.
  Both ictplan and dwithin must give exactly the pairs of an exact distance test
  (reference: dwithin at r + 1 m, then ``hypot(dx, dy) <= r`` in numpy).
At ``scale="small"`` (a smoke test) everything runs in this process, once.

* ``sharing.duplicated_routes.sample``: ``sharing.duplicated_routes`` on the sample's
  ``fiber_routes`` (read with geopandas) vs buffer + sjoin + intersection per pair; must be
  under 5 s. Without ``data/camau/camau.gpkg`` a seeded synthetic province-sized route set
  is used instead (said in ``notes``).

    python scripts/bench_sharing.py [small|full]
"""

from __future__ import annotations

import multiprocessing as mp
import resource
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ictplan.parameters import SHARING  # noqa: E402  (after the path: runs from a fresh clone)

SAMPLE_GPKG = REPO / "data" / "camau" / "fiber.gpkg"
CRS = 32648
OPERATORS = ("Viettel", "VNPT", "MobiFone", "Vietnamobile", "Gmobile")
N_SITES = {"small": 10_000, "full": 100_000}
REPS = 3


# --------------------------------------------------------------------------- synthetic sites
def make_sites(n: int, seed: int = 5):
    """n sites in a 300 km x 600 km box: 60% in 2,000 towns (sigma 1.5 km), 40% spread out,
    plus 1% planted pairs of different operators just inside 100 m and 300 m."""
    import geopandas as gpd

    rng = np.random.default_rng(seed)
    x0, y0, w, h = 400_000.0, 950_000.0, 300_000.0, 600_000.0
    n_plant = n // 100
    n_rest = n - 2 * n_plant
    n_town = int(n_rest * 0.6)
    towns = np.column_stack([rng.uniform(x0, x0 + w, 2000), rng.uniform(y0, y0 + h, 2000)])
    tx = towns[rng.integers(0, 2000, n_town)] + rng.normal(0, 1500, (n_town, 2))
    ux = np.column_stack([rng.uniform(x0, x0 + w, n_rest - n_town), rng.uniform(y0, y0 + h, n_rest - n_town)])
    base = np.vstack([tx, ux])
    ops = rng.choice(len(OPERATORS), n_rest, p=[0.35, 0.3, 0.2, 0.1, 0.05])
    # planted pairs: half at 100 m - U(0, 5 cm), half at 300 m - U(0, 5 cm), random bearing
    anchors = np.column_stack([rng.uniform(x0, x0 + w, n_plant), rng.uniform(y0, y0 + h, n_plant)])
    d = np.where(np.arange(n_plant) % 2 == 0, 100.0, 300.0) - rng.uniform(0, 0.05, n_plant)
    ang = rng.uniform(0, 2 * np.pi, n_plant)
    partners = anchors + np.column_stack([d * np.cos(ang), d * np.sin(ang)])
    pa = rng.integers(0, len(OPERATORS), n_plant)
    pb = (pa + rng.integers(1, len(OPERATORS), n_plant)) % len(OPERATORS)
    xy = np.vstack([base, anchors, partners])
    op = np.concatenate([ops, pa, pb])
    perm = rng.permutation(len(xy))
    xy, op = xy[perm], op[perm]
    return gpd.GeoDataFrame({"operator": np.array(OPERATORS)[op]}, geometry=gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=CRS)


def _encode(i, j, n):
    i, j = np.minimum(i, j), np.maximum(i, j)
    return np.unique(i.astype(np.int64) * n + j.astype(np.int64))


def _pairs_ictplan(sites, r):
    from ictplan import sharing

    p = sharing.candidate_pairs(sites, distance_m=r)
    return _encode(p["i"].to_numpy(), p["j"].to_numpy(), len(sites))


def _pairs_buffer(sites, r):
    import geopandas as gpd

    pts = sites[["operator", "geometry"]].reset_index(drop=True)
    buf = pts.copy()
    buf["geometry"] = pts.buffer(r)
    j = gpd.sjoin(buf, pts, predicate="intersects", how="inner", lsuffix="a", rsuffix="b")
    li = j.index.to_numpy()
    ri = j["index_b"].to_numpy()
    keep = (li < ri) & (j["operator_a"].to_numpy() != j["operator_b"].to_numpy())
    return _encode(li[keep], ri[keep], len(sites))


def _pairs_dwithin(sites, r):
    import geopandas as gpd

    pts = sites[["operator", "geometry"]].reset_index(drop=True)
    j = gpd.sjoin(pts, pts, predicate="dwithin", distance=r, how="inner", lsuffix="a", rsuffix="b")
    li = j.index.to_numpy()
    ri = j["index_b"].to_numpy()
    keep = (li < ri) & (j["operator_a"].to_numpy() != j["operator_b"].to_numpy())
    return _encode(li[keep], ri[keep], len(sites))


def _pairs_reference(sites, r):
    """Exact distance test: a superset from dwithin at r + 1 m, then hypot <= r in numpy."""
    import shapely

    cand = _pairs_dwithin(sites, r + 1.0)
    n = len(sites)
    i, j = cand // n, cand % n
    g = sites.geometry.values
    x, y = shapely.get_x(g), shapely.get_y(g)
    ok = np.hypot(x[i] - x[j], y[i] - y[j]) <= r
    return cand[ok]


PAIR_METHODS = {"ictplan": _pairs_ictplan, "buffer": _pairs_buffer, "dwithin": _pairs_dwithin, "reference": _pairs_reference}


def _worker_pairs(method, n, r, reps, conn):
    warnings.simplefilter("ignore")
    import ictplan.sharing  # noqa: F401  (imports are not part of any method's time)
    sites = make_sites(n)
    fn = PAIR_METHODS[method]
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn(sites, r)
        times.append(time.perf_counter() - t0)
    conn.send((statistics.median(times), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, out))
    conn.close()


class _Inline:
    """A stand-in for a pipe end when a worker runs in this process (scale="small")."""

    def send(self, obj):
        self.obj = obj

    def close(self):
        pass


def _in_fresh_process(target, *args, inline=False):
    if inline:  # smoke test: no process start-up per method; peak memory is this process's
        conn = _Inline()
        target(*args, conn)
        return conn.obj
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    parent, child = ctx.Pipe(duplex=False)
    p = ctx.Process(target=target, args=(*args, child))
    p.start()
    child.close()
    res = parent.recv()
    p.join()
    return res


# --------------------------------------------------------------------------- duplicated routes
def make_routes(scale: str, seed: int = 11):
    """Synthetic province: a 1 km road grid over 60 x 60 km (30 x 30 at small); each
    operator lays routes along random walks on the grid, offset from the road centreline
    by an operator-specific 2-6 m plus noise, so operators on one road share a corridor."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    size = 60 if scale == "full" else 30
    n_routes = 250 if scale == "full" else 60
    offsets = {"Viettel": -6.0, "VNPT": -2.0, "MobiFone": 2.0, "Vietnamobile": 6.0}
    rows, geoms = [], []
    for op, off in offsets.items():
        for k in range(n_routes):
            p = rng.integers(0, size, 2)
            pts = [p.copy()]
            for _ in range(rng.integers(3, 15)):
                step = [(1, 0), (-1, 0), (0, 1), (0, -1)][rng.integers(0, 4)]
                q = np.clip(pts[-1] + step, 0, size)
                if (q != pts[-1]).any():
                    pts.append(q)
            if len(pts) < 2:
                continue
            xy = np.array(pts, dtype=float) * 1000.0
            dense = []
            for a, b in zip(xy[:-1], xy[1:], strict=True):
                t = np.linspace(0, 1, 11)[:-1, None]
                dense.append(a + t * (b - a))
            dense.append(xy[-1:])
            line = np.vstack(dense) + rng.normal(0, 1.0, (sum(len(d) for d in dense), 2))
            g = shapely.offset_curve(shapely.LineString(line + [480_000.0, 1_000_000.0]), off)
            if g.is_empty or g.geom_type != "LineString":
                continue
            rows.append({"route_id": f"{op[:3].upper()}-{k:04d}", "operator": op, "technology": "GPON", "placement": "buried"})
            geoms.append(g)
    return gpd.GeoDataFrame(rows, geometry=geoms, crs=CRS)


def _load_routes(scale):
    import geopandas as gpd

    if SAMPLE_GPKG.exists():
        routes = gpd.read_file(SAMPLE_GPKG, layer="fiber_routes")
        return routes.to_crs(CRS), "sample fiber_routes"
    return make_routes(scale), "synthetic routes (data/camau/fiber.gpkg not built yet)"


def _dup_ictplan(routes, corridor_m, min_length_m):
    from ictplan import sharing

    d = sharing.duplicated_routes(routes, corridor_m=corridor_m, min_length_m=min_length_m)
    seg = d.segments
    return {"total_directed_m": float(seg["length_m"].sum()), "n_pairs": len(d.candidates),
            "trench_km": d.duplicated_trench_km, "route_km": d.duplicated_route_km, "total_km": d.total_route_km}


def _dup_conventional(routes, corridor_m, min_length_m):
    """The common way: buffer every route, sjoin, intersect each route with each other
    operator's buffer, keep pieces of at least min_length_m."""
    import geopandas as gpd
    import shapely

    r = routes[routes["operator"].notna()].reset_index(drop=True)
    buf = r[["route_id", "operator", "geometry"]].copy()
    buf["geometry"] = r.buffer(corridor_m)
    j = gpd.sjoin(r[["route_id", "operator", "geometry"]], buf, predicate="intersects", lsuffix="a", rsuffix="b")
    j = j[j["operator_a"] != j["operator_b"]]
    inter = shapely.intersection(r.geometry.values[j.index.to_numpy()], buf.geometry.values[j["index_b"].to_numpy()])
    parts, idx = shapely.get_parts(shapely.line_merge(inter), return_index=True)
    lengths = shapely.length(parts)
    keep = lengths >= min_length_m
    pair_ids = np.unique(np.minimum(j.index.to_numpy()[idx[keep]], j["index_b"].to_numpy()[idx[keep]]) * len(r)
                         + np.maximum(j.index.to_numpy()[idx[keep]], j["index_b"].to_numpy()[idx[keep]]))
    return {"total_directed_m": float(lengths[keep].sum()), "n_pairs": len(pair_ids)}


def _worker_dup(method, scale, reps, conn):
    warnings.simplefilter("ignore")
    import ictplan.sharing  # noqa: F401
    routes, what = _load_routes(scale)
    fn = _dup_ictplan if method == "ictplan" else _dup_conventional
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn(routes, SHARING.corridor_m, SHARING.min_length_m)
        times.append(time.perf_counter() - t0)
    out["what"] = what
    out["n_routes"] = len(routes)
    conn.send((statistics.median(times), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, out))
    conn.close()


# --------------------------------------------------------------------------- main
def main(scale: str = "full") -> list[dict]:
    if scale not in N_SITES:
        msg = f"scale must be 'small' or 'full'; got {scale!r}."
        raise ValueError(msg)
    n = N_SITES[scale]
    records: list[dict] = []
    for r in (100.0, 300.0):
        reps = REPS if scale == "full" else 1
        res = {m: _in_fresh_process(_worker_pairs, m, n, r, reps if m != "reference" else 1, inline=scale == "small")
               for m in PAIR_METHODS}
        ref = res["reference"][2]
        t_ip, mem_ip, got = res["ictplan"]
        exact = bool(np.array_equal(got, ref))
        missed = int(np.setdiff1d(ref, res["buffer"][2]).size)
        extra = int(np.setdiff1d(res["buffer"][2], ref).size)
        dw_exact = bool(np.array_equal(res["dwithin"][2], ref))
        common = f"{n:,} sites, 5 operators; {ref.size:,} pairs of different operators within {r:g} m (exact test)"
        for name, label in (("buffer", "vs_buffer"), ("dwithin", "vs_dwithin")):
            t_c, mem_c, _ = res[name]
            note = common + f"; ictplan exact={exact}"
            if name == "buffer":
                note += f"; buffer(r)+sjoin(intersects) missed {missed:,} pairs near the limit (and added {extra})"
            else:
                note += f"; dwithin exact={dw_exact}"
            records.append({
                "workload": f"sharing.pairs.{int(r)}m.{label}",
                "scale": scale,
                "ictplan_s": round(t_ip, 4),
                "conventional_s": round(t_c, 4),
                "ratio": round(t_c / t_ip, 2) if t_ip > 0 else None,
                "peak_mb": round(mem_ip, 1),
                "conventional_peak_mb": round(mem_c, 1),
                "answers_agree": exact and (dw_exact if name == "dwithin" else True),
                "tolerance": "identical pair sets (ictplan vs exact test); buffer way: missed pairs reported",
                "notes": note,
                "pairs": int(ref.size),
                "buffer_missed_pairs": missed,
            })
    reps = REPS if scale == "full" else 1
    t_ip, mem_ip, a = _in_fresh_process(_worker_dup, "ictplan", scale, reps, inline=scale == "small")
    t_c, mem_c, b = _in_fresh_process(_worker_dup, "conventional", scale, reps, inline=scale == "small")
    rel = abs(a["total_directed_m"] - b["total_directed_m"]) / max(b["total_directed_m"], 1.0)
    records.append({
        "workload": "sharing.duplicated_routes.sample",
        "scale": scale,
        "ictplan_s": round(t_ip, 4),
        "conventional_s": round(t_c, 4),
        "ratio": round(t_c / t_ip, 2) if t_ip > 0 else None,
        "peak_mb": round(mem_ip, 1),
        "conventional_peak_mb": round(mem_c, 1),
        "answers_agree": bool(rel <= 0.02) and t_ip < 5.0,
        "tolerance": "total stretch length (both directions) within 2% of buffer-intersection; ictplan < 5 s",
        "notes": (f"{a['what']}: {a['n_routes']} routes, {a['total_km']:.0f} km; corridor {SHARING.corridor_m:g} m, min {SHARING.min_length_m:g} m; "
                  f"stretch length ictplan {a['total_directed_m'] / 1000:.2f} km vs buffer-intersection "
                  f"{b['total_directed_m'] / 1000:.2f} km ({rel * 100:.2f}%); route pairs {a['n_pairs']} vs {b['n_pairs']}; "
                  f"duplicated trenching {a['trench_km']:.2f} km"),
    })
    return records


if __name__ == "__main__":
    import json

    print(json.dumps(main(sys.argv[1] if len(sys.argv) > 1 else "full"), indent=2))
