"""The 5G roll-out: which candidate sites to build for a coverage target or a budget.

:func:`plan_5g` builds the candidates (:mod:`.candidates`), their coverage sets from the
radio engine (:mod:`.coverage_sets`), keeps the existing 5G fixed (its covered cells count
and cost nothing) and solves (:mod:`.solvers`: lazy greedy + swap local search by default,
``solver="highs"`` for the exact MILP warm-started from it, with its gap). The target share
is of the whole study population, M3's definition: people within outdoor 5G coverage at the
coverage run's location probability — the operator's own coverage for an operator plan,
any operator's for the neutral host.

After the plan is built into a variant study and the coverage job re-run on it,
:func:`capacity_additions` lists the 5G sites whose busy-hour utilisation exceeds
``max_utilisation`` and proposes a second carrier (``cost_carrier_vnd``), or, where even
that leaves it over the limit, the nearest unchosen candidate next to it.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import parameters as _parameters
from .._errors import IctplanWarning, InputValidationError
from ..coverage import CoverageResult
from . import solvers as _solvers
from .candidates import NEUTRAL, candidate_sectors, candidate_sites
from .coverage_sets import CoverageSets, coverage_matrix, existing_covered

__all__ = ["RolloutResult", "plan_5g", "capacity_additions", "sites_with"]

_TARGET_SLACK = 1e-9  # relative: the people target is share × population × (1 + this)


@dataclass
class RolloutResult:
    """A 5G roll-out plan.

    ``chosen``: the candidates to build (candidate columns, ``people_added`` — the people
    each adds in ``order``, the order taken). ``covered_people`` / ``share`` are the
    optimiser's count (existing 5G included) of ``total_people``; ``bound`` is the solver's
    (min cost: a lower bound on the optimum's cost; budget: an upper bound on its people),
    ``gap`` relative. ``capacity`` (filled by :func:`capacity_additions`) lists the carriers
    and neighbour sites the load model asks for on the re-run plan.
    """

    operator: str
    band: str
    chosen: gpd.GeoDataFrame
    covered_people: float
    total_people: float
    share: float
    cost_vnd: float
    solver: str
    bound: float
    bound_kind: str
    gap: float
    seconds: float
    status: str
    existing_people: float
    candidates: gpd.GeoDataFrame
    sets: CoverageSets | None = None
    capacity: pd.DataFrame = field(default_factory=pd.DataFrame)
    timings_s: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Chosen sites per kind."""
        vc = self.chosen["kind"].value_counts()
        return {k: int(vc.get(k, 0)) for k in ("upgrade", "colocation", "new_tower")}

    def cost_by_kind(self) -> dict[str, float]:
        g = self.chosen.groupby("kind")["cost_vnd"].sum()
        return {k: float(g.get(k, 0.0)) for k in ("upgrade", "colocation", "new_tower")}


def _ids(values: Iterable[str] | None) -> set[str]:
    return {str(v) for v in (values or ())}


def _split_fixed(cands: gpd.GeoDataFrame, exclude: set[str], fixed: set[str]) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Candidates left to choose from, and the mask (over ``cands``) of the fixed ones."""
    ids = cands["candidate_id"].astype(str)
    unknown = sorted((exclude | fixed) - set(ids))
    if unknown:
        raise InputValidationError(f"{len(unknown)} excluded/fixed candidate id(s) are not candidates of this plan "
                                   f"(e.g. {', '.join(unknown[:3])}); pass ids from an earlier plan of the same "
                                   "study, operator and parameters.")
    return cands, ids.isin(fixed).to_numpy() & ~ids.isin(exclude).to_numpy()


def plan_5g(study: Any, coverage: CoverageResult, /, *, operator: str | None, target_share: float | None = None,
            budget_vnd: float | None = None, exclude: Iterable[str] | None = None,
            fixed: Iterable[str] | None = None, progress: bool | None = None, bound: str = "online",
            **overrides: Any) -> RolloutResult:
    """The sites to build for ``operator`` (``None``: the neutral host) to reach ``target_share``
    of the study population at least cost, or the most people for ``budget_vnd``.

    Parameters
    ----------
    study, coverage
        The study and its coverage run (:func:`ictplan.coverage.run`): its location
        probability and the existing 5G coverage (kept fixed).
    operator
        An operator of the sites layer, or ``None`` for a neutral host.
    target_share, budget_vnd
        One of them: the share (0–1) of the whole population within the plan's 5G, or a budget.
    exclude, fixed
        Candidate ids never to choose, and ids built in an earlier phase (their coverage
        counts, their cost is not this plan's).
    bound
        The greedy's stated bound: ``"online"`` (from its marginal gains, free; weak near full
        coverage) or ``"lp"`` (the LP relaxation in HiGHS, tighter; ~20 s on the sample at 20 %,
        but not solved within 120 s at 99 % with ~10,000 candidates, when the online bound is
        kept and ``meta["lp_bound"]`` is NaN); see :mod:`ictplan.planning.solvers`. HiGHS
        (``solver="highs"``) reports its own dual bound.
    overrides
        :class:`ictplan.parameters.PlanParameters` fields (``solver="highs"``, costs, grid ...).

    Raises
    ------
    InputValidationError
        Neither or both of target and budget, a share outside [0, 1], unknown ids.

    Warns
    -----
    IctplanWarning
        The target lies above what the candidates can cover (the plan covers what they can).
    """
    if (target_share is None) == (budget_vnd is None):
        raise InputValidationError("give target_share (e.g. 0.99) or budget_vnd, exactly one of them.")
    if target_share is not None and not 0.0 <= target_share <= 1.0:
        raise InputValidationError(f"target_share is a share of the population in [0, 1], got {target_share:g}.")
    prm = _parameters.resolve("plan", study, **overrides)
    if prm.solver not in ("greedy", "highs"):
        raise InputValidationError(f"[parameters.plan] solver = {prm.solver!r}: use \"greedy\" or \"highs\".")
    if bound not in ("online", "lp"):
        raise InputValidationError(f"bound = {bound!r}: use \"online\" (the greedy's own) or \"lp\" (LP relaxation).")
    t0 = time.perf_counter()
    unserved = ~existing_covered(coverage, operator)  # road towers go where the existing 5G does not reach
    cands = candidate_sites(study, operator=operator, unserved=unserved, **overrides)
    exc, fix = _ids(exclude), _ids(fixed)
    cands, fixed_mask = _split_fixed(cands, exc, fix)
    t1 = time.perf_counter()
    sets = coverage_matrix(study, cands, coverage=coverage, operator=operator)
    t2 = time.perf_counter()
    res = _solve(sets, cands, fixed_mask, ~cands["candidate_id"].astype(str).isin(exc | fix).to_numpy(),
                 prm, target_share, budget_vnd, bound)
    t3 = time.perf_counter()
    return _rollout(operator, cands, sets, res, fixed_mask,
                    {"candidates_s": t1 - t0, "coverage_sets_s": t2 - t1, "solve_s": t3 - t2, "total_s": t3 - t0})


def _solve(sets: CoverageSets, cands: gpd.GeoDataFrame, fixed_mask: np.ndarray, free: np.ndarray, prm: Any,
           target_share: float | None, budget_vnd: float | None, bound: str) -> _solvers.SolveResult:
    """The solver on the free candidates, the fixed ones' cells added to the covered."""
    A = sets.matrix
    cov0 = sets.covered0.copy()
    if fixed_mask.any():
        cov0 |= np.asarray(A[:, np.flatnonzero(fixed_mask)].sum(axis=1)).reshape(-1) > 0
    cols = np.flatnonzero(free)
    cost = cands["cost_vnd"].to_numpy(float)[cols]
    # a hair above the share, so that the re-run's own float sums (zone weights) still reach it
    target = None if target_share is None else float(target_share) * sets.total_people * (1.0 + _TARGET_SLACK)
    inst = _solvers.reduce_instance(A[:, cols], sets.people, cost, cov0)
    if prm.solver == "highs":
        res = _solvers.milp(None, inst.people, inst.cost, target_people=target, budget=budget_vnd,
                            mip_gap=prm.mip_gap, time_limit_s=prm.time_limit_s, instance=inst)
    else:
        res = _solvers.greedy(None, inst.people, inst.cost, target_people=target, budget=budget_vnd, instance=inst,
                              bound_kind=bound)
    if res.status.startswith("target_unreachable"):
        m = res.meta
        warnings.warn(f"the 5G target ({m['target_people']:,.0f} people) is above what the candidates can cover "
                      f"({m['coverable_people']:,.0f}, short by {m['shortfall_people']:,.0f}); the plan covers what "
                      "they can. Add candidates: a finer new_tower_grid_m or a lower new_tower_min_people.",
                      IctplanWarning, stacklevel=3)
    res.chosen = cols[res.chosen]
    return res


def _rollout(operator: str | None, cands: gpd.GeoDataFrame, sets: CoverageSets, res: _solvers.SolveResult,
             fixed_mask: np.ndarray, timings: dict[str, float]) -> RolloutResult:
    chosen = cands.iloc[res.chosen].copy()
    chosen["people_added"] = res.added_people
    chosen["order"] = np.arange(1, len(chosen) + 1)
    chosen = chosen.reset_index(drop=True)
    existing = float(sets.people[sets.covered0].sum())
    band = str(cands["band"].iloc[0]) if len(cands) else ""
    return RolloutResult(operator=operator or NEUTRAL, band=band, chosen=chosen, covered_people=res.people,
                         total_people=sets.total_people, share=res.people / sets.total_people if sets.total_people else 0.0,
                         cost_vnd=res.cost, solver=res.solver, bound=res.bound, bound_kind=res.bound_kind, gap=res.gap,
                         seconds=timings["total_s"], status=res.status, existing_people=existing, candidates=cands,
                         sets=sets, timings_s=timings, meta={**res.meta, "fixed": int(fixed_mask.sum())})


# ============================================================================ variant sites
def sites_with(study: Any, chosen: gpd.GeoDataFrame, /) -> pd.DataFrame:
    """The study's ``sites`` table (its CSV, as written) with the chosen candidates' sectors
    appended (:func:`ictplan.planning.candidates.candidate_sectors`): the variant's ``sites.csv``."""
    path = study.path_of("sites")
    if path.suffix.lower() != ".csv":
        raise InputValidationError(f"the sites layer is {path.name}; sites_with writes CSV sites tables only "
                                   "(append candidate_sectors(chosen) to the layer yourself).")
    base = pd.read_csv(path)
    return pd.concat([base, candidate_sectors(chosen)], ignore_index=True)


# ============================================================================ capacity
def capacity_additions(coverage_after: CoverageResult, plan: RolloutResult, /, *, study: Any = None,
                       **overrides: Any) -> pd.DataFrame:
    """What the load model asks for on the built plan: per 5G site of the plan's operator whose
    busiest sector's busy-hour utilisation (``coverage_after.sectors``, the load fixed point of
    :mod:`ictplan.cellload`) exceeds ``max_utilisation``: a second carrier (``cost_carrier_vnd``;
    the site's capacity doubles, utilisation estimated at half), and where half is still over the
    limit the nearest unchosen candidate of the plan as a neighbour site (its cost).

    Columns: ``site_id, operator, band, sectors_over, utilisation`` (max), ``action``
    (``second_carrier`` | ``neighbour_site``), ``candidate_id`` (the neighbour; ``""``),
    ``utilisation_after`` (estimate), ``cost_vnd``, ``x, y`` (the site, grid CRS). Also
    stored as ``plan.capacity``.
    """
    prm = _parameters.resolve("plan", study, **overrides)
    sec = coverage_after.sectors
    mine = sec[(sec["technology"] == "5G") & (sec["operator"] == plan.operator)]
    over = mine[mine["utilisation"] > prm.max_utilisation]
    cols = ["site_id", "operator", "band", "sectors_over", "utilisation", "action", "candidate_id",
            "utilisation_after", "cost_vnd", "x", "y"]
    if len(over) == 0:
        plan.capacity = pd.DataFrame(columns=cols)
        return plan.capacity
    g = over.groupby("site_id", sort=True).agg(operator=("operator", "first"), band=("band", "first"),
                                               sectors_over=("sector_id", "size"), utilisation=("utilisation", "max"),
                                               x=("x", "mean"), y=("y", "mean")).reset_index()
    rows = [g.assign(action="second_carrier", candidate_id="", utilisation_after=g["utilisation"] / 2.0,
                     cost_vnd=float(prm.cost_carrier_vnd))]
    still = g[g["utilisation"] / 2.0 > prm.max_utilisation]
    if len(still):
        rows.append(_neighbours(still, plan))
    out = pd.concat(rows, ignore_index=True)[cols]
    plan.capacity = out
    return out


def _neighbours(still: pd.DataFrame, plan: RolloutResult) -> pd.DataFrame:
    """The nearest unchosen candidate of each still-overloaded site (one candidate per site)."""
    from scipy.spatial import cKDTree

    pool = plan.candidates[~plan.candidates["candidate_id"].isin(plan.chosen["candidate_id"])]
    if len(pool) == 0:
        return pd.DataFrame()
    xy = np.column_stack([pool.geometry.x.to_numpy(), pool.geometry.y.to_numpy()])
    k = min(len(pool), len(still) + 1)
    _, idx = cKDTree(xy).query(still[["x", "y"]].to_numpy(), k=k)
    idx = np.atleast_2d(idx).reshape(len(still), -1)
    taken: set[int] = set()
    pick = []
    for row in idx.tolist():  # one neighbour per overloaded site, none twice (sites, not cells)
        j = next(j for j in row if j not in taken)
        taken.add(j)
        pick.append(j)
    nb = pool.iloc[pick]
    return still.assign(action="neighbour_site", candidate_id=nb["candidate_id"].to_numpy(),
                        utilisation_after=still["utilisation"] / 3.0, cost_vnd=nb["cost_vnd"].to_numpy(float))
