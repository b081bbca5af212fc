"""Weighted partial set cover and budgeted maximum coverage on a sparse cells × sites matrix.

Pure functions of ``(A, people, cost, covered0)``: ``A`` cells × candidates (any scipy
sparse, nonzero = covers), ``people`` per cell, ``cost`` per candidate (> 0) and the cells
``covered0`` already covered (existing sites kept fixed: they count, they cost nothing).

Two forms:

* **min cost** s.t. covered people ≥ ``target_people`` (weighted partial set cover);
* **max people** s.t. cost ≤ ``budget`` (budgeted maximum coverage).

Two solvers:

* :func:`greedy` — lazy greedy (a priority queue of marginal people per VND, re-evaluated on
  pop: submodularity makes stale keys upper bounds) followed by swap local search (drop a
  chosen site when the rest still meets the target; swap a chosen site for a cheaper one at
  equal-or-better coverage; in the budget form, swap for one that raises coverage within the
  budget, then fill the budget left). For the budget form the best single affordable site is
  also tried (Khuller, Moss & Naor 1999: with it the greedy is within (1 − 1/e)/2 of OPT).

  **Bounds stated** (``bound_kind="online"``): for max people, the online bound of Leskovec
  et al. (2007, "Cost-effective outbreak detection", Thm. 4): for any set S,
  ``OPT ≤ f(S) + max{Σ_{k∈T} δ_k(S) : c(T) ≤ B}``, the knapsack relaxed to its fractional
  form (an upper bound on it), evaluated at checkpoints S of the greedy path and the answer;
  the least is reported. For min cost, its mirror: for any S, the optimum O satisfies
  ``Σ_{k∈O∖S} δ_k(S) ≥ T − f(S)``, so ``c(O) ≥`` the fractional-knapsack cost of collecting
  ``T − f(S)`` from the marginals; the greatest over the checkpoints is reported.
  ``bound_kind="lp"`` reports the LP relaxation of the MILP (HiGHS) instead.
* :func:`milp` — the exact MILP in HiGHS (``highspy``), built in bulk from the sparse
  arrays (``x_k`` binary per site, ``y_i ∈ [0, 1]`` per cell group with
  ``y_i ≤ Σ_k A_ik x_k``), warm-started from the greedy, stopped at ``mip_gap`` or
  ``time_limit_s``; it returns the incumbent, HiGHS's dual bound and the gap.

Cells with the same set of covering candidates are merged into one row (their people
summed; exact), and rows already covered, empty or uncoverable are dropped, before either
solver runs.
"""

from __future__ import annotations

import heapq
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from .._errors import InputValidationError

__all__ = ["Instance", "SolveResult", "reduce_instance", "greedy", "milp", "lp_bound", "covered_people"]

_EPS = 1e-9
_CHECKPOINTS = 12  # greedy states at which the online bound is evaluated (plus ∅ and the answer)
_IPM_ROOT_SIZE = 20_000  # above this many columns HiGHS's MIP LPs use its interior-point solver: on the
# sample's 99 % model (55,000 rows) the dual-simplex root made no progress in 150 s, IPM bounded it in ~70 s
SWAP_TIME_S = 30.0  # the swap local search stops after this long (national cases: greedy only)


@dataclass
class Instance:
    """A reduced instance: rows are groups of cells with the same covering candidates."""

    csc: sp.csc_matrix  # rows × candidates, float64 0/1
    csr: sp.csr_matrix
    people: np.ndarray  # per row
    cost: np.ndarray  # per candidate
    base_people: float  # already covered (fixed)
    coverable_people: float  # base + every row some candidate covers

    @property
    def n(self) -> int:
        return int(self.cost.size)


@dataclass
class SolveResult:
    """A solver's answer; ``chosen`` in the order taken (greedy) or by index (MILP)."""

    chosen: np.ndarray
    people: float  # covered people: base + added
    added_people: np.ndarray  # per chosen site, its marginal people in ``chosen`` order
    cost: float
    bound: float  # min cost: a lower bound on OPT's cost; max people: an upper bound on OPT's people
    bound_kind: str  # "online" | "lp" | "highs"
    gap: float  # relative: (cost − bound)/cost, or (bound − people)/bound
    solver: str
    seconds: float
    status: str = "ok"
    meta: dict[str, Any] = field(default_factory=dict)


def _check(A: Any, people: np.ndarray, cost: np.ndarray, covered0: np.ndarray | None) -> tuple[Any, ...]:
    A = sp.csc_matrix(A)
    w = np.asarray(people, dtype=np.float64).reshape(-1)
    c = np.asarray(cost, dtype=np.float64).reshape(-1)
    if A.shape != (w.size, c.size):
        raise InputValidationError(f"the coverage matrix is {A.shape} but there are {w.size} people values "
                                   f"and {c.size} costs; pass one per row and one per column.")
    if not np.isfinite(c).all() or (c <= 0).any():
        raise InputValidationError(f"{int((~np.isfinite(c) | (c <= 0)).sum())} candidate cost(s) are not > 0; "
                                   "give every candidate a positive cost (VND).")
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputValidationError("people per cell must be finite and ≥ 0.")
    cov0 = np.zeros(w.size, bool) if covered0 is None else np.asarray(covered0, bool).reshape(-1)
    if cov0.size != w.size:
        raise InputValidationError(f"covered0 has {cov0.size} values for {w.size} rows.")
    return A, w, c, cov0


def reduce_instance(A: Any, people: np.ndarray, cost: np.ndarray, covered0: np.ndarray | None = None) -> Instance:
    """Drop covered, empty and uncoverable rows; merge rows with the same column set (exact)."""
    A, w, c, cov0 = _check(A, people, cost, covered0)
    base = float(w[cov0].sum())
    csr = A.tocsr()
    csr.eliminate_zeros()
    csr.data[:] = 1
    deg = np.diff(csr.indptr)
    keep = np.flatnonzero(~cov0 & (w > 0) & (deg > 0))
    csr = csr[keep]
    wk = w[keep]
    first, inv = _same_rows(csr, c.size)
    red = csr[first].astype(np.float64)
    wr = np.bincount(inv, weights=wk, minlength=first.size)
    return Instance(csc=red.tocsc(), csr=sp.csr_matrix(red), people=wr, cost=c, base_people=base,
                    coverable_people=base + float(wr.sum()))


def _same_rows(csr: sp.csr_matrix, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Groups of rows with the same column set (every row has one): (first row of each group,
    group of each row). Rows are keyed by two random 64-bit hashes of their columns (sums mod
    2^64) and their length, sorted together (a false merge needs both hashes to collide)."""
    if csr.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(12345)
    h1, h2 = rng.integers(1, 2**62, size=(2, n_cols), dtype=np.uint64)
    starts = csr.indptr[:-1]
    k1 = np.add.reduceat(h1[csr.indices], starts)
    k2 = np.add.reduceat(h2[csr.indices], starts)
    deg = np.diff(csr.indptr)
    order = np.lexsort((k2, k1, deg))
    k1, k2, deg = k1[order], k2[order], deg[order]
    new = np.r_[True, (k1[1:] != k1[:-1]) | (k2[1:] != k2[:-1]) | (deg[1:] != deg[:-1])]
    group = np.cumsum(new) - 1
    inv = np.empty(order.size, dtype=np.int64)
    inv[order] = group
    return order[new], inv


def covered_people(inst: Instance, chosen: np.ndarray) -> float:
    """People covered by ``chosen`` (base included)."""
    if len(chosen) == 0:
        return inst.base_people
    hit = np.asarray(inst.csr[:, np.asarray(chosen, dtype=np.int64)].sum(axis=1)).reshape(-1) > 0
    return inst.base_people + float(inst.people[hit].sum())


# ============================================================================ greedy
class _State:
    """Cover counts per row and the chosen set, with marginal gains on demand; after
    :meth:`track` the gains of every candidate are kept up to date on each move (the rows
    whose count leaves or reaches 0 change them), instead of one sparse product per call."""

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.cnt = np.zeros(inst.people.size, dtype=np.int32)
        self.chosen: list[int] = []
        self.in_s = np.zeros(inst.n, dtype=bool)
        self.f = 0.0  # people added
        self.cost = 0.0
        self._g: np.ndarray | None = None  # δ_k(S) of every candidate, the chosen included

    def rows(self, k: int) -> np.ndarray:
        a = self.inst.csc
        return a.indices[a.indptr[k]:a.indptr[k + 1]]

    def gain(self, k: int) -> float:
        r = self.rows(k)
        return float(self.inst.people[r][self.cnt[r] == 0].sum())

    def track(self) -> None:
        self._g = np.asarray(self.inst.csc.T @ (self.inst.people * (self.cnt == 0)))

    def _shift(self, rows: np.ndarray, sign: float) -> None:
        if self._g is not None and rows.size:
            self._g += sign * np.asarray(self.inst.csr[rows].T @ self.inst.people[rows]).reshape(-1)

    def add(self, k: int) -> float:
        r = self.rows(k)
        new = r[self.cnt[r] == 0]
        g = float(self.inst.people[new].sum())
        self.cnt[r] += 1
        self._shift(new, -1.0)
        self.chosen.append(k)
        self.in_s[k] = True
        self.f += g
        self.cost += float(self.inst.cost[k])
        return g

    def drop(self, k: int) -> None:
        r = self.rows(k)
        self.cnt[r] -= 1
        lost = r[self.cnt[r] == 0]
        self._shift(lost, 1.0)
        self.chosen.remove(k)
        self.in_s[k] = False
        self.f -= float(self.inst.people[lost].sum())
        self.cost -= float(self.inst.cost[k])

    def gains(self) -> np.ndarray:
        """δ_k(S) for every candidate (0 for the chosen)."""
        g = self._g.copy() if self._g is not None else np.asarray(self.inst.csc.T @ (self.inst.people * (self.cnt == 0)))
        g[self.in_s] = 0.0
        return g


def _frac_knapsack_value(gain: np.ndarray, cost: np.ndarray, budget: float) -> float:
    """max Σ δ x, Σ c x ≤ B, 0 ≤ x ≤ 1 (by ratio)."""
    pos = gain > 0
    g, c = gain[pos], cost[pos]
    order = np.argsort(-g / c, kind="stable")
    g, c = g[order], c[order]
    cum = np.cumsum(c)
    full = np.searchsorted(cum, budget, side="right")
    val = float(g[:full].sum())
    if full < g.size:
        left = budget - (cum[full - 1] if full > 0 else 0.0)
        val += float(g[full] * left / c[full])
    return val


def _frac_cover_cost(gain: np.ndarray, cost: np.ndarray, need: float) -> float:
    """min Σ c x, Σ δ x ≥ need, 0 ≤ x ≤ 1 (by ratio); inf when unreachable."""
    if need <= _EPS:
        return 0.0
    pos = gain > 0
    g, c = gain[pos], cost[pos]
    order = np.argsort(-g / c, kind="stable")
    g, c = g[order], c[order]
    cum = np.cumsum(g)
    full = int(np.searchsorted(cum, need, side="left"))
    if full >= g.size:
        return float("inf")
    before = cum[full - 1] if full > 0 else 0.0
    return float(c[:full].sum() + c[full] * (need - before) / g[full])


def _lazy(st: _State, need: float | None, budget: float | None, checkpoints: list[float]) -> list[float]:
    """Lazy greedy by people per VND until ``need`` added people or nothing affordable/useful.
    Returns the bounds evaluated at the checkpoints (every few steps)."""
    inst = st.inst
    g0 = st.gains()
    heap = [(-g0[k] / inst.cost[k], k) for k in np.flatnonzero(g0 > 0).tolist()]
    heapq.heapify(heap)
    every = max(1, len(heap) // (_CHECKPOINTS * 4))
    bounds: list[float] = []
    steps = 0
    while heap and (need is None or st.f < need - _EPS):
        key, k = heapq.heappop(heap)
        if budget is not None and st.cost + inst.cost[k] > budget + _EPS:
            continue  # never affordable again: the budget left only shrinks
        g = st.gain(k)
        if g <= _EPS:
            continue
        ratio = g / inst.cost[k]
        if heap and ratio < -heap[0][0] - 1e-15:
            heapq.heappush(heap, (-ratio, k))
            continue
        st.add(k)
        steps += 1
        if steps % every == 0 and len(bounds) < _CHECKPOINTS:
            bounds.append(_online(st, need, budget))
    return bounds


def _online(st: _State, need: float | None, budget: float | None) -> float:
    """The online bound at the current state (see the module docstring)."""
    g = st.gains()
    if budget is not None:
        return st.f + _frac_knapsack_value(g, st.inst.cost, budget)
    assert need is not None
    return _frac_cover_cost(g, st.inst.cost, need - st.f)


def greedy(A: Any, people: np.ndarray, cost: np.ndarray, covered0: np.ndarray | None = None, *,
           target_people: float | None = None, budget: float | None = None, local_search: bool = True,
           bound_kind: str = "online", instance: Instance | None = None) -> SolveResult:
    """Lazy greedy + swap local search, for a people target (min cost) or a budget (max people).

    ``target_people`` counts the already-covered people too (a share of the population
    times the population); exactly one of ``target_people`` and ``budget`` is given (neither:
    cover every coverable person at least cost). A target above what the candidates can
    reach is capped there (``status="target_unreachable"``, the shortfall in ``meta``).
    """
    t0 = time.perf_counter()
    inst = instance if instance is not None else reduce_instance(A, people, cost, covered0)
    need, status, meta = _need(inst, target_people, budget)
    st = _State(inst)
    bounds = [_online(st, need, budget)]
    bounds += _lazy(st, need, budget, bounds)
    if budget is not None:
        _best_single(st, budget)
    if local_search:
        meta["swaps"] = _local_search(st, need, budget, t0 + SWAP_TIME_S)
    bounds.append(_online(st, need, budget))
    res = _result(st, inst, "greedy", t0, status, meta)
    if bound_kind not in ("online", "lp"):
        raise InputValidationError(f"bound_kind {bound_kind!r}: use \"online\" or \"lp\".")
    res.bound = min(bounds) + inst.base_people if budget is not None else max(bounds)
    if bound_kind == "lp":  # the LP's bound where HiGHS solves it in time, else the online one (said in meta)
        lp = lp_bound(inst, target_people=None if need is None else inst.base_people + need, budget=budget)
        res.meta["lp_bound"] = lp
        if np.isfinite(lp):
            res.bound, res.bound_kind = lp, "lp"
    res.gap = _gap(res, budget is not None)
    res.seconds = time.perf_counter() - t0
    return res


def _need(inst: Instance, target_people: float | None, budget: float | None) -> tuple[float | None, str, dict[str, Any]]:
    if target_people is not None and budget is not None:
        raise InputValidationError("give a people target or a budget, not both.")
    if budget is not None:
        if budget < 0:
            raise InputValidationError(f"budget must be ≥ 0 VND, got {budget:g}.")
        return None, "ok", {}
    target = inst.coverable_people if target_people is None else float(target_people)
    status, meta = "ok", {}
    if target > inst.coverable_people + _EPS:
        status = "target_unreachable"
        meta = {"target_people": target, "coverable_people": inst.coverable_people,
                "shortfall_people": target - inst.coverable_people}
        target = inst.coverable_people
    return max(target - inst.base_people, 0.0), status, meta


def _best_single(st: _State, budget: float) -> None:
    """Khuller et al.'s safeguard: the best affordable single site, if it beats the greedy."""
    inst = st.inst
    g = np.asarray(inst.csc.T @ inst.people)
    g[inst.cost > budget + _EPS] = -1.0
    k = int(np.argmax(g))
    if g[k] > st.f + _EPS:
        for j in list(st.chosen):
            st.drop(j)
        st.add(k)


def _local_search(st: _State, need: float | None, budget: float | None, deadline: float) -> int:
    """Drop and swap moves until none improves (or the deadline); returns the moves made."""
    moves, improved = 0, True
    st.track()
    while improved and time.perf_counter() < deadline:
        improved = False
        for j in sorted(st.chosen, key=lambda k: -st.inst.cost[k]):
            if time.perf_counter() > deadline:
                break
            if j in st.chosen and _try_move(st, j, need, budget):
                moves += 1
                improved = True
        if budget is not None:
            moves += _fill(st, budget)
    return moves


def _without(st: _State, j: int) -> tuple[float, np.ndarray]:
    """People lost by dropping ``j``, and δ_k(S ∖ {j}) for every candidate."""
    inst = st.inst
    r = st.rows(j)
    uniq = r[st.cnt[r] == 1]
    loss = float(inst.people[uniq].sum())
    g = st.gains()
    if uniq.size:
        extra = inst.csr[uniq].T @ inst.people[uniq]
        g = g + np.asarray(extra).reshape(-1)
    g[st.in_s] = 0.0
    return loss, g


def _try_move(st: _State, j: int, need: float | None, budget: float | None) -> bool:
    inst = st.inst
    loss, g = _without(st, j)
    c = inst.cost
    if budget is None:
        assert need is not None
        if st.f - loss >= need - _EPS:
            st.drop(j)
            return True
        ok = (g >= need - (st.f - loss) - _EPS) & (c < c[j] - _EPS)
        if not ok.any():
            return False
        k = int(np.flatnonzero(ok)[np.argmin(c[ok])])
    else:
        room = budget - st.cost + c[j]
        score = np.where(c <= room + _EPS, g - loss, -np.inf)
        k = int(np.argmax(score))
        if score[k] <= 1e-6 * max(1.0, st.f):
            return False
    st.drop(j)
    st.add(k)
    return True


def _fill(st: _State, budget: float) -> int:
    """Add affordable sites with a positive gain, best ratio first."""
    n = 0
    while True:
        g = st.gains()
        room = budget - st.cost
        ok = (st.inst.cost <= room + _EPS) & (g > _EPS)
        if not ok.any():
            return n
        idx = np.flatnonzero(ok)
        st.add(int(idx[np.argmax(g[idx] / st.inst.cost[idx])]))
        n += 1


def _marginals(inst: Instance, order: list[int]) -> np.ndarray:
    cnt = np.zeros(inst.people.size, dtype=bool)
    out = np.zeros(len(order))
    for i, k in enumerate(order):
        r = inst.csc.indices[inst.csc.indptr[k]:inst.csc.indptr[k + 1]]
        new = r[~cnt[r]]
        out[i] = inst.people[new].sum()
        cnt[new] = True
    return out


def _result(st: _State, inst: Instance, solver: str, t0: float, status: str, meta: dict[str, Any]) -> SolveResult:
    chosen = np.asarray(st.chosen, dtype=np.int64)
    return SolveResult(chosen=chosen, people=inst.base_people + st.f, added_people=_marginals(inst, st.chosen),
                       cost=float(inst.cost[chosen].sum()), bound=np.nan, bound_kind="online", gap=np.nan,
                       solver=solver, seconds=time.perf_counter() - t0, status=status, meta=meta)


def _gap(res: SolveResult, maximise: bool) -> float:
    if maximise:
        return float(max(res.bound - res.people, 0.0) / res.bound) if res.bound > 0 else 0.0
    return float(max(res.cost - res.bound, 0.0) / res.cost) if res.cost > 0 else 0.0


# ============================================================================ MILP
def _model(inst: Instance, need: float | None, budget: float | None, *, relax: bool) -> Any:
    """The HiGHS model, in bulk from the CSC arrays: columns x (sites) then y (row groups)."""
    import highspy

    n, m = inst.n, inst.people.size
    A = inst.csc
    x_cols = sp.vstack([-A, sp.csr_matrix(inst.cost[None, :] if budget is not None else np.zeros((1, n)))])
    y_cols = sp.vstack([sp.identity(m, format="csr"), sp.csr_matrix(inst.people[None, :] if need is not None
                                                                    else np.zeros((1, m)))])
    M = sp.hstack([x_cols, y_cols]).tocsc()
    M.eliminate_zeros()
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n + m, m + 1
    maximise = budget is not None
    lp.col_cost_ = np.concatenate([np.zeros(n) if maximise else inst.cost, inst.people if maximise else np.zeros(m)])
    lp.col_lower_ = np.zeros(n + m)
    lp.col_upper_ = np.ones(n + m)
    inf = highspy.kHighsInf
    lp.row_lower_ = np.concatenate([np.full(m, -inf), [-inf if maximise else float(need or 0.0)]])
    lp.row_upper_ = np.concatenate([np.zeros(m), [inf if budget is None else float(budget)]])
    lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = M.indptr.astype(np.int32)
    lp.a_matrix_.index_ = M.indices.astype(np.int32)
    lp.a_matrix_.value_ = M.data.astype(np.float64)
    if not relax:
        lp.integrality_ = [highspy.HighsVarType.kInteger] * n + [highspy.HighsVarType.kContinuous] * m
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.passModel(lp)
    return h


def lp_bound(inst: Instance, *, target_people: float | None = None, budget: float | None = None,
             time_limit_s: float = 120.0) -> float:
    """The LP relaxation's optimum: a lower bound on the min cost, an upper bound on the max
    people; NaN when HiGHS does not solve it to optimality within ``time_limit_s`` (an
    unfinished LP's objective bounds nothing)."""
    need, _, _ = _need(inst, target_people, budget)
    h = _model(inst, need, budget, relax=True)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.run()
    if h.modelStatusToString(h.getModelStatus()) != "Optimal":
        return float("nan")
    val = float(h.getInfo().objective_function_value)
    return val + inst.base_people if budget is not None else val


def milp(A: Any, people: np.ndarray, cost: np.ndarray, covered0: np.ndarray | None = None, *,
         target_people: float | None = None, budget: float | None = None, mip_gap: float = 0.005,
         time_limit_s: float = 120.0, warm_start: SolveResult | None | bool = True,
         instance: Instance | None = None) -> SolveResult:
    """The exact MILP in HiGHS (see the module docstring); ``warm_start=True`` runs the greedy
    first and passes its answer, a :class:`SolveResult` passes that one, ``False`` none.
    ``bound`` is HiGHS's dual bound (``bound_kind="highs"``), ``gap`` the relative gap."""
    t0 = time.perf_counter()
    inst = instance if instance is not None else reduce_instance(A, people, cost, covered0)
    need, status, meta = _need(inst, target_people, budget)
    if warm_start is True:
        warm_start = greedy(None, inst.people, inst.cost, target_people=target_people, budget=budget, instance=inst)
    h = _model(inst, need, budget, relax=False)
    h.setOptionValue("mip_rel_gap", float(mip_gap))
    h.setOptionValue("time_limit", float(time_limit_s))
    if inst.people.size + inst.n > _IPM_ROOT_SIZE:
        h.setOptionValue("mip_lp_solver", "ipm")  # see _IPM_ROOT_SIZE
    if isinstance(warm_start, SolveResult):
        _warm(h, inst, warm_start.chosen)
    h.run()
    res = _milp_result(h, inst, budget is not None, t0, status, meta)
    if isinstance(warm_start, SolveResult) and _worse(res, warm_start, budget is not None):
        res.chosen, res.people, res.cost = warm_start.chosen, warm_start.people, warm_start.cost
        res.added_people = warm_start.added_people
        res.meta["kept_warm_start"] = True
    res.gap = _gap(res, budget is not None)
    res.seconds = time.perf_counter() - t0
    return res


def _warm(h: Any, inst: Instance, chosen: np.ndarray) -> None:
    import highspy

    x = np.zeros(inst.n)
    x[np.asarray(chosen, dtype=np.int64)] = 1.0
    y = (np.asarray(inst.csr @ x).reshape(-1) > 0).astype(np.float64)
    sol = highspy.HighsSolution()
    sol.col_value = np.concatenate([x, y]).tolist()
    h.setSolution(sol)


def _milp_result(h: Any, inst: Instance, maximise: bool, t0: float, status: str, meta: dict[str, Any]) -> SolveResult:
    info = h.getInfo()
    ms = h.modelStatusToString(h.getModelStatus())
    vals = np.asarray(h.getSolution().col_value[:inst.n]) if info.primal_solution_status > 0 else np.zeros(inst.n)
    chosen = np.flatnonzero(vals > 0.5)
    order = chosen[np.argsort(-np.asarray(inst.csc.T @ inst.people)[chosen] / inst.cost[chosen], kind="stable")]
    meta = {**meta, "model_status": ms, "nodes": int(info.mip_node_count)}
    bound = float(info.mip_dual_bound)
    res = SolveResult(chosen=order, people=covered_people(inst, order), added_people=_marginals(inst, order.tolist()),
                      cost=float(inst.cost[order].sum()), bound=bound + inst.base_people if maximise else bound,
                      bound_kind="highs", gap=np.nan, solver="highs", seconds=time.perf_counter() - t0,
                      status=status if ms == "Optimal" else f"{status}; highs: {ms}", meta=meta)
    return res


def _worse(res: SolveResult, warm: SolveResult, maximise: bool) -> bool:
    """HiGHS stopped with an incumbent worse than the warm start (or none): keep the greedy's."""
    if res.chosen.size == 0 and warm.chosen.size > 0:
        return True
    return res.people < warm.people - _EPS if maximise else res.cost > warm.cost + _EPS
