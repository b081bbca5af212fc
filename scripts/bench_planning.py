"""Bench: the 5G roll-out solvers (lazy greedy + swap, HiGHS MILP) against pysal/spopt's MCLP,
at provincial and national size, and the roll-out to 99 % on the sample.

Pieces (each returns a dict; :func:`main` turns them into the runner's records):

1. :func:`vs_spopt` — 2,000 cells × 200 candidate sites, p = 20, synthetic coverage sets
   (60 × 60 km province, log-distance path loss with 8 dB log-normal shadowing per (cell,
   site), a maximum-path-loss threshold): ictplan's MILP and greedy against spopt 0.8's MCLP
   (PuLP + CBC, dense matrix) on the same instance: the same optimum, the time ratio.
2. :func:`greedy_vs_highs` — 20,000 × 1,000, p = 100: objective and time of the greedy and of
   HiGHS (60 s limit, warm-started from the greedy), with both bounds.
3. :func:`national` — 100,000 candidates over a 33 M-cell grid (each covers a shadowed disc
   of a few hundred cells; the sparse matrix built directly, in chunks), greedy to 95 % of
   the coverable people, peak memory (``resource.getrusage``) in a process of its own.
4. :func:`sample_99` — ``plan_5g`` end to end on the sample to 99 % (neutral host and each
   operator): sites per kind, cost, time.

Anchors: ../shared/docs/BENCHMARKS.md (spopt 2,000 × 200 optimal in ~2 s; 20,000 × 1,000:
1–1.5 min build, 1.4 GB, then RuntimeError).

    .venv/bin/python scripts/bench_planning.py [--only spopt,highs,national,sample] [--scale small|full]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PL_SLOPE_DB = 37.6  # log-distance exponent × 10 (3GPP macro, 128.1 + 37.6 log10 d_km)
SHADOW_DB = 8.0


def synthetic_sets(n_cells: int, n_sites: int, *, side_km: float = 60.0, radius_km: float = 3.0,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Path-loss margin matrix (dense, cells × sites, dB over the threshold; ≤ 0 covers) and
    people per cell: PL = 37.6·log10(d / radius) + N(0, 8 dB); people lognormal."""
    rng = np.random.default_rng(seed)
    cells = rng.uniform(0, side_km, (n_cells, 2))
    sites = rng.uniform(0, side_km, (n_sites, 2))
    out = np.empty((n_cells, n_sites), dtype=np.float32)
    for a in range(0, n_cells, 5000):
        d = np.hypot(*(cells[a:a + 5000, None, :] - sites[None, :, :]).transpose(2, 0, 1))
        out[a:a + 5000] = PL_SLOPE_DB * np.log10(np.maximum(d, 0.01) / radius_km) + rng.normal(0, SHADOW_DB, d.shape)
    people = np.round(rng.lognormal(3.0, 1.0, n_cells))
    return out, people


def vs_spopt(n_cells: int = 2000, n_sites: int = 200, p: int = 20, seed: int = 0) -> dict[str, Any]:
    from ictplan.planning import solvers as S

    margin, people = synthetic_sets(n_cells, n_sites, seed=seed)
    A = sp.csc_matrix((margin <= 0).astype(np.uint8))
    cost = np.ones(n_sites)
    t0 = time.perf_counter()
    g = S.greedy(A, people, cost, budget=float(p))
    t1 = time.perf_counter()
    m = S.milp(A, people, cost, budget=float(p), mip_gap=0.0, time_limit_s=300.0)
    t2 = time.perf_counter()
    out: dict[str, Any] = {"instance": f"{n_cells} x {n_sites}, p = {p}", "nnz": int(A.nnz),
                           "greedy_people": g.people, "greedy_s": t1 - t0, "greedy_bound": g.bound,
                           "milp_people": m.people, "milp_s": t2 - t1, "milp_status": m.meta.get("model_status")}
    try:
        import pulp
        import spopt.locate as locate
    except ImportError:
        return out | {"spopt": "not installed"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t3 = time.perf_counter()
        mclp = locate.MCLP.from_cost_matrix(margin.astype(float), people, service_radius=0.0, p_facilities=p)
        t4 = time.perf_counter()
        mclp = mclp.solve(pulp.PULP_CBC_CMD(msg=False))
        t5 = time.perf_counter()
    sp_people = float(pulp.value(mclp.problem.objective))
    return out | {"spopt_people": sp_people, "spopt_build_s": t4 - t3, "spopt_solve_s": t5 - t4,
                  "spopt_s": t5 - t3, "same_optimum": bool(abs(sp_people - m.people) < 1e-6),
                  "ratio_spopt_over_milp": (t5 - t3) / (t2 - t1), "ratio_spopt_over_greedy": (t5 - t3) / (t1 - t0)}


def greedy_vs_highs(n_cells: int = 20_000, n_sites: int = 1_000, p: int = 100, time_limit_s: float = 60.0,
                    seed: int = 1) -> dict[str, Any]:
    from ictplan.planning import solvers as S

    margin, people = synthetic_sets(n_cells, n_sites, seed=seed)
    A = sp.csc_matrix((margin <= 0).astype(np.uint8))
    del margin
    cost = np.ones(n_sites)
    t0 = time.perf_counter()
    inst = S.reduce_instance(A, people, cost)
    g = S.greedy(None, inst.people, inst.cost, budget=float(p), instance=inst)
    t1 = time.perf_counter()
    m = S.milp(None, inst.people, inst.cost, budget=float(p), mip_gap=0.0, time_limit_s=time_limit_s,
               warm_start=g, instance=inst)
    t2 = time.perf_counter()
    return {"instance": f"{n_cells} x {n_sites}, p = {p}", "nnz": int(A.nnz), "rows_after_merge": int(inst.people.size),
            "greedy_people": g.people, "greedy_s": t1 - t0, "greedy_online_bound": g.bound,
            "greedy_share_of_bound": g.people / g.bound, "highs_people": m.people, "highs_s": t2 - t1,
            "highs_bound": m.bound, "highs_gap": m.gap, "highs_status": m.meta.get("model_status"),
            "greedy_share_of_highs_bound": g.people / m.bound}


def national_matrix(n_sites: int = 100_000, shape: tuple[int, int] = (5500, 6000), *, r0_cells: float = 8.0,
                    r_max_cells: int = 12, chunk: int = 10_000, seed: int = 2) -> tuple[sp.csc_matrix, np.ndarray]:
    """Sites × shadowed discs on a ``shape`` grid, built column by column in chunks (CSC)."""
    rng = np.random.default_rng(seed)
    H, W = shape
    dy, dx = np.mgrid[-r_max_cells:r_max_cells + 1, -r_max_cells:r_max_cells + 1]
    inside = dy**2 + dx**2 <= r_max_cells**2
    dy, dx = dy[inside], dx[inside]
    lg = PL_SLOPE_DB * np.log10(np.maximum(np.hypot(dy, dx), 0.5) / r0_cells)
    cy, cx = rng.integers(0, H, n_sites), rng.integers(0, W, n_sites)
    indices, counts = [], np.zeros(n_sites, dtype=np.int64)
    for a in range(0, n_sites, chunk):
        b = min(a + chunk, n_sites)
        yy, xx = cy[a:b, None] + dy[None, :], cx[a:b, None] + dx[None, :]
        ok = (yy >= 0) & (yy < H) & (xx >= 0) & (xx < W)
        ok &= lg[None, :] + rng.normal(0, SHADOW_DB, ok.shape).astype(np.float32) <= 0
        counts[a:b] = ok.sum(axis=1)
        indices.append((yy * W + xx)[ok].astype(np.int32))
    idx = np.concatenate(indices)
    indptr = np.r_[0, np.cumsum(counts)]
    A = sp.csc_matrix((np.ones(idx.size, dtype=np.uint8), idx, indptr), shape=(H * W, n_sites))
    people = rng.gamma(0.5, 8.0, H * W).astype(np.float32)
    return A, people


def national(n_sites: int = 100_000, shape: tuple[int, int] = (5500, 6000), target_frac: float = 0.95) -> dict[str, Any]:
    from ictplan.planning import solvers as S

    t0 = time.perf_counter()
    A, people = national_matrix(n_sites, shape)
    t1 = time.perf_counter()
    cost = np.random.default_rng(3).choice([6e8, 9e8, 1.6e9], n_sites)
    inst = S.reduce_instance(A, people, cost)
    t2 = time.perf_counter()
    g = S.greedy(None, inst.people, inst.cost, target_people=target_frac * inst.coverable_people,
                 local_search=False, instance=inst)
    t3 = time.perf_counter()
    return {"instance": f"{shape[0] * shape[1]:,} cells x {n_sites:,} candidates", "nnz": int(A.nnz),
            "cells_per_candidate": A.nnz / n_sites, "rows_after_merge": int(inst.people.size),
            "build_s": t1 - t0, "reduce_s": t2 - t1, "greedy_s": t3 - t2, "chosen": int(g.chosen.size),
            "covered_frac_of_coverable": g.people / inst.coverable_people, "cost_vnd": g.cost,
            "online_lower_bound_vnd": g.bound, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def national_subprocess(**kw: Any) -> dict[str, Any]:
    """:func:`national` in a fresh process, so that its peak memory is its own."""
    code = (f"import json, sys; sys.path.insert(0, {str(HERE)!r}); sys.path.insert(0, {str(REPO)!r}); "
            f"import bench_planning as b; print('@@' + json.dumps(b.national(**{kw!r}), default=float))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("@@"):
            return dict(json.loads(line[2:]))
    return {"failed": proc.stderr.strip().splitlines()[-3:]}


def sample_99(target: float = 0.99, operators: tuple[str | None, ...] = (None, "Viettel", "VNPT", "MobiFone")) -> dict[str, Any]:
    import ictplan.coverage as cov
    from ictplan import datasets
    from ictplan.planning.rollout import plan_5g

    study = datasets.camau()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = cov.run(study, progress=False)
    out: dict[str, Any] = {"coverage_run_s": time.perf_counter() - t0}
    for op in operators:
        t1 = time.perf_counter()
        p = plan_5g(study, result, operator=op, target_share=target)
        out[op or "neutral"] = {"seconds": time.perf_counter() - t1, "share": p.share, "cost_vnd": p.cost_vnd,
                                "sites": p.counts(), "cost_by_kind_vnd": p.cost_by_kind(), "bound_vnd": p.bound,
                                "gap": p.gap, "existing_share": p.existing_people / p.total_people,
                                "timings_s": p.timings_s, "status": p.status}
    return out


def _records(res: dict[str, Any], scale: str) -> list[dict[str, Any]]:
    recs = []
    if "spopt" in res:
        r = res["spopt"]
        recs.append({"workload": f"5G site selection vs spopt MCLP ({r['instance']})", "scale": scale, "ictplan_s": r["milp_s"],
                     "conventional_s": r.get("spopt_s"), "ratio": r.get("ratio_spopt_over_milp"), "peak_mb": None,
                     "answers_agree": r.get("same_optimum"), "tolerance": "same optimum (people)", "notes": json.dumps(r, default=float)})
    if "highs" in res:
        r = res["highs"]
        recs.append({"workload": f"5G greedy vs HiGHS ({r['instance']})", "scale": scale, "ictplan_s": r["greedy_s"],
                     "conventional_s": r["highs_s"], "ratio": r["highs_s"] / r["greedy_s"], "peak_mb": None,
                     "answers_agree": r["greedy_people"] >= 0.9 * r["highs_bound"], "tolerance": "greedy >= 90 % of HiGHS's bound",
                     "notes": json.dumps(r, default=float)})
    if "national" in res:
        r = res["national"]
        recs.append({"workload": f"5G greedy, national ({r.get('instance', 'failed')})", "scale": scale, "ictplan_s": r.get("greedy_s"),
                     "conventional_s": None, "ratio": None, "peak_mb": r.get("peak_mb"),
                     "answers_agree": bool(r.get("peak_mb", 1e9) < 6144), "tolerance": "peak < 6 GB", "notes": json.dumps(r, default=float)})
    if "sample" in res:
        r = res["sample"]
        worst = max(v["seconds"] for k, v in r.items() if isinstance(v, dict))
        recs.append({"workload": "5G roll-out to 99 % on the sample", "scale": scale, "ictplan_s": worst, "conventional_s": None,
                     "ratio": None, "peak_mb": None, "answers_agree": bool(worst < 60 and all(
                         v["share"] >= 0.99 - 1e-9 for v in r.values() if isinstance(v, dict))),
                     "tolerance": "< 60 s, share >= 99 %", "notes": json.dumps(r, default=float)})
    return recs


def run(only: tuple[str, ...] = ("spopt", "highs", "national", "sample"), scale: str = "full") -> dict[str, Any]:
    small = scale == "small"
    res: dict[str, Any] = {}
    if "spopt" in only:
        res["spopt"] = vs_spopt()
    if "highs" in only:
        res["highs"] = greedy_vs_highs(5_000, 300, 30, 30.0) if small else greedy_vs_highs()
    if "national" in only:
        res["national"] = national_subprocess(n_sites=10_000, shape=(1700, 2000)) if small else national_subprocess()
    if "sample" in only:
        res["sample"] = sample_99(operators=(None, "Viettel")) if small else sample_99()
    return res


def main(scale: str = "full") -> list[dict[str, Any]]:
    """The runner's records (scripts/bench.py)."""
    return _records(run(scale=scale), scale)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="spopt,highs,national,sample")
    ap.add_argument("--scale", default="full", choices=["small", "full"])
    a = ap.parse_args()
    print(json.dumps(run(tuple(a.only.split(",")), a.scale), indent=1, default=float))
