"""The roll-out solvers against brute force over every subset and against spopt's MCLP."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from ictplan._errors import InputValidationError
from ictplan.planning import solvers as S


def _instance(seed: int) -> tuple[sp.csc_matrix, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    m, n = int(rng.integers(12, 40)), int(rng.integers(5, 11))
    dense = rng.random((m, n)) < rng.uniform(0.12, 0.35)
    dense[:3] |= dense[3:6]  # some identical-ish rows for the row merge
    w = rng.integers(0, 60, m).astype(float)
    c = rng.integers(1, 12, n).astype(float)
    cov0 = rng.random(m) < 0.1
    return sp.csc_matrix(dense.astype(np.uint8)), w, c, cov0


def _brute(A: sp.csc_matrix, w: np.ndarray, c: np.ndarray, cov0: np.ndarray, *, target: float | None = None,
           budget: float | None = None) -> float:
    """Min cost reaching ``target`` people, or max people within ``budget``, over all 2^n subsets."""
    dense = A.toarray() > 0
    n = c.size
    best = np.inf if target is not None else -np.inf
    for r in range(n + 1):
        for sub in itertools.combinations(range(n), r):
            hit = cov0 | dense[:, list(sub)].any(axis=1) if sub else cov0
            people, cost = float(w[hit].sum()), float(c[list(sub)].sum())
            if target is not None and people >= target - 1e-9:
                best = min(best, cost)
            if budget is not None and cost <= budget + 1e-9:
                best = max(best, people)
    return best


@pytest.mark.parametrize("seed", range(12))
def test_min_cost_milp_equals_brute_force_and_greedy_within_its_bound(seed: int) -> None:
    A, w, c, cov0 = _instance(seed)
    inst = S.reduce_instance(A, w, c, cov0)
    target = float(w[cov0].sum()) + 0.7 * (inst.coverable_people - float(w[cov0].sum()))
    opt = _brute(A, w, c, cov0, target=target)
    m = S.milp(A, w, c, cov0, target_people=target, mip_gap=0.0)
    assert m.cost == pytest.approx(opt)
    assert m.people >= target - 1e-9
    g = S.greedy(A, w, c, cov0, target_people=target)
    assert S.covered_people(inst, g.chosen) >= target - 1e-9  # feasible (recounted)
    assert g.bound <= opt + 1e-9 <= g.cost + 1e-9  # the stated lower bound holds
    assert g.bound > 0 or opt == 0  # and says something (a bound of 0 would pass the line above)
    lp = S.greedy(A, w, c, cov0, target_people=target, bound_kind="lp")
    assert g.bound <= opt + 1e-9 and lp.bound <= opt + 1e-6  # the LP relaxation's bound holds too


@pytest.mark.parametrize("seed", range(12))
def test_budget_milp_equals_brute_force_and_greedy_within_its_bound(seed: int) -> None:
    A, w, c, cov0 = _instance(100 + seed)
    budget = 0.35 * float(c.sum())
    opt = _brute(A, w, c, cov0, budget=budget)
    m = S.milp(A, w, c, cov0, budget=budget, mip_gap=0.0)
    assert m.people == pytest.approx(opt)
    assert m.cost <= budget + 1e-9
    g = S.greedy(A, w, c, cov0, budget=budget)
    assert g.cost <= budget + 1e-9
    assert S.covered_people(S.reduce_instance(A, w, c, cov0), g.chosen) == pytest.approx(g.people)
    assert g.people <= opt + 1e-9 <= g.bound + 1e-9  # the online (Leskovec) upper bound holds
    assert g.people >= (1 - 1 / np.e) / 2 * opt - 1e-9  # Khuller et al.'s guarantee
    assert S.lp_bound(S.reduce_instance(A, w, c, cov0), budget=budget) >= opt - 1e-6


def test_row_merge_is_exact_and_existing_cells_cost_nothing() -> None:
    A, w, c, cov0 = _instance(7)
    inst = S.reduce_instance(A, w, c, cov0)
    assert inst.people.size <= int((~cov0 & (w > 0)).sum())
    assert inst.base_people == pytest.approx(w[cov0].sum())
    rng = np.random.default_rng(3)
    for _ in range(20):  # any subset covers the same people on the merged rows as on the cells
        sub = np.flatnonzero(rng.random(c.size) < 0.4)
        direct = float(w[cov0 | (A[:, sub].toarray().any(axis=1) if sub.size else cov0)].sum())
        assert S.covered_people(inst, sub) == pytest.approx(direct)
    # a target the existing cells already meet needs nothing
    g = S.greedy(A, w, c, cov0, target_people=float(w[cov0].sum()))
    assert g.chosen.size == 0 and g.cost == 0.0


def test_unreachable_target_is_capped_and_reported() -> None:
    A, w, c, cov0 = _instance(11)
    g = S.greedy(A, w, c, cov0, target_people=float(w.sum()) + 1000.0)
    assert g.status == "target_unreachable"
    assert g.meta["shortfall_people"] > 1000.0 - 1e-9
    assert g.people == pytest.approx(S.reduce_instance(A, w, c, cov0).coverable_people)


def test_bad_input_names_the_problem() -> None:
    A, w, c, cov0 = _instance(2)
    with pytest.raises(InputValidationError, match="cost"):
        S.greedy(A, w, np.zeros_like(c), cov0, budget=5.0)
    with pytest.raises(InputValidationError, match="one per row"):
        S.greedy(A, w[:-1], c, cov0, budget=5.0)
    with pytest.raises(InputValidationError, match="not both"):
        S.greedy(A, w, c, cov0, budget=5.0, target_people=3.0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_spopt_mclp_gives_the_milp_optimum() -> None:
    locate = pytest.importorskip("spopt.locate")
    pulp = pytest.importorskip("pulp")
    rng = np.random.default_rng(5)
    m, n, p = 400, 40, 6
    dense = rng.random((m, n)) < 0.06
    w = rng.integers(1, 100, m).astype(float)
    mclp = locate.MCLP.from_cost_matrix(np.where(dense, 0.0, 10.0), w, service_radius=1.0, p_facilities=p)
    mclp = mclp.solve(pulp.PULP_CBC_CMD(msg=False))
    spopt_people = float(pulp.value(mclp.problem.objective))
    ours = S.milp(sp.csc_matrix(dense.astype(np.uint8)), w, np.ones(n), budget=float(p), mip_gap=0.0)
    assert ours.people == pytest.approx(spopt_people)
    g = S.greedy(sp.csc_matrix(dense.astype(np.uint8)), w, np.ones(n), budget=float(p))
    assert g.people <= spopt_people + 1e-9 <= g.bound + 1e-9
