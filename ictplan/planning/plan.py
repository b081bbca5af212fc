"""The plan: what to build by 2025 and by 2030, where and at what cost, checked by the analyses.

>>> import ictplan as ip
>>> res = ip.planning.plan.run(ip.datasets.camau(), targets={"M3": 0.99}, year=2030)
>>> res.phases                     # sites, km and points per phase, item and operator, with cost
>>> res.check                      # the scorecard today, after 2025 and after 2030

Phases. The 2025 phase builds to the plan's 2025 thresholds (M3 5G population coverage,
F1 every hamlet reached, P1/P2 postal points), the 2030 phase to the 2030 ones (X2); a target
given in ``targets`` (a target id of the targets file → a fraction, e.g. ``{"M3": 0.99}``)
replaces the threshold of its kind in the phase of ``year``. Existing sites and routes are
kept; each phase builds on the one before. The 5G roll-out is per operator (``operator``) or
for a neutral host (``operator=None``: any operator's existing 5G counts as served).

Budget. ``budget_vnd`` caps the 5G roll-out over both phases: each phase reaches its target
if the money allows, else the most people for what is left (the 2025 phase first).

The check. Each phase is written as a variant study (:mod:`ictplan.planning.variant`) and the
coverage, fiber and scorecard analyses are re-run on it (``check``): the targets are met by
the re-run analyses, not by the optimiser's own count. After the roll-out the load model is
run on the plan: sectors busier than ``max_utilisation`` get a second carrier, checked by a
second re-run.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from .. import parameters as _parameters
from .._errors import ConfigError
from . import phases as _phases

if TYPE_CHECKING:  # pragma: no cover
    from ..study import Study
    from ..workflow import Results

__all__ = ["PlanResult", "run", "check_request", "parse_targets", "TARGET_KINDS"]


#: The kinds of target the planner builds to, by the targets file's indicator.
TARGET_KINDS: dict[str, str] = {"pop_5g_pct": "pop_5g", "hamlets_reached_pct": "hamlets",
                                "households_fiber_pct": "households", "postal_points_count": "postal_points",
                                "communes_staffed_postal_pct": "postal_communes"}

PHASE_YEARS: tuple[int, ...] = (2025, 2030)


@dataclass
class PlanResult:
    """What :func:`run` planned and what the re-run analyses say of it.

    ``phases``: one row per phase × item × operator (``item`` one of ``5g_upgrade``,
    ``5g_colocation``, ``5g_new_tower``, ``5g_carrier``, ``fiber_km``, ``fiber_access_point``, ``postal_point``,
    ``datacentre_site``) with ``count``, ``km`` and ``cost_vnd``; ``by_commune`` the same per
    commune. ``sites``, ``carriers``, ``fiber``, ``access_points`` (new FATs), ``postal`` and ``datacentres`` are the
    planned features (GeoDataFrames with ``phase``). ``check``: the province scorecard rows
    today and after each phase (``value_today``, ``value_2025``, ``status_2025``, ...);
    ``scorecard_after`` the re-run scorecard of the last phase. ``targets``: the phase-of-
    ``year`` thresholds the plan was built to (fractions).
    """

    study: Study
    year: int
    operator: str | None
    budget_vnd: float | None
    targets: dict[str, float]
    phase_targets: dict[str, dict[str, float]]
    phases: pd.DataFrame
    by_commune: pd.DataFrame
    sites: gpd.GeoDataFrame
    carriers: gpd.GeoDataFrame
    fiber: gpd.GeoDataFrame
    access_points: gpd.GeoDataFrame
    postal: gpd.GeoDataFrame
    datacentres: gpd.GeoDataFrame
    check: pd.DataFrame
    scorecard_after: Any = None
    variants: dict[str, Path] = field(default_factory=dict)
    rollout: dict[str, Any] = field(default_factory=dict)  # phase -> the roll-out solver's result
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    parameters: Any = None

    @property
    def total_cost_vnd(self) -> float:
        return float(self.phases["cost_vnd"].sum()) if len(self.phases) else 0.0


# ============================================================================ targets
def parse_targets(values: Mapping[str, Any] | list[str] | tuple[str, ...] | None, /) -> dict[str, float]:
    """``{"M3": 0.99}`` from a mapping or from ``["M3=0.99", ...]`` (the CLI's ``--target``).

    A value in (1, 100] is read as a percentage (``M3=99`` → 0.99); one above 100 is kept as
    it is, a count (``P1=350`` points; :func:`phase_targets` refuses it for a share).
    """
    if values is None:
        return {}
    items = values.items() if isinstance(values, Mapping) else (_split(v) for v in values)
    out = {}
    for key, raw in items:
        try:
            val = float(raw)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"target {key}={raw!r}: give a number, e.g. --target M3=0.99.") from err
        if not 0 < val < float("inf"):
            raise ConfigError(f"target {key}={raw!r}: give a share in (0, 1], a percentage in (1, 100] or a count.")
        out[str(key).upper()] = val if val > 100 else val / 100.0 if val > 1 else val
    return out


def _split(text: str) -> tuple[str, str]:
    key, sep, val = str(text).partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"target {text!r}: write it as ID=VALUE, e.g. --target M3=0.99.")
    return key.strip(), val.strip()


def phase_targets(study: Study, targets: Mapping[str, float], year: int) -> dict[str, dict[str, float]]:
    """Per phase year (as text), the thresholds per target kind (fractions, or a count for
    postal points): the targets file's own, with ``targets`` replacing its kind in ``year``."""
    from ..targets import load_targets

    plan = load_targets(study.targets_path) if study.targets_path else None
    if plan is None:
        raise ConfigError("the study names no targets file ([targets] path in study.toml); the planner builds to it.")
    by_id = {t.id: t for t in plan.targets}
    unknown = [k for k in targets if k not in by_id]
    if unknown:
        raise ConfigError(f"unknown target(s) {unknown}; targets: {', '.join(by_id)}.")
    wrong = [k for k in targets if by_id[k].indicator not in TARGET_KINDS]
    if wrong:
        raise ConfigError(f"the planner cannot build to {wrong}; it plans {', '.join(_plannable(by_id))}.")
    out: dict[str, dict[str, float]] = {}
    for py in (y for y in PHASE_YEARS if y <= max(year, PHASE_YEARS[0])):
        kinds: dict[str, float] = {}
        for t in plan.targets:
            kind = TARGET_KINDS.get(t.indicator)
            if kind and t.threshold is not None and t.year <= py:  # a 2025 target still holds in 2030:
                kinds[kind] = max(kinds.get(kind, 0.0), _frac(t.indicator, t.threshold))  # the stricter, in any order
        if py == max(year, PHASE_YEARS[0]):
            for k, v in targets.items():
                kind = TARGET_KINDS[by_id[k].indicator]
                if kind != "postal_points" and v > 1:
                    raise ConfigError(f"target {k}={v:g}: {k} is a share; give it in (0, 1] or as a percentage "
                                      "in (1, 100], e.g. --target M3=0.99.")
                kinds[kind] = v * 100.0 if kind == "postal_points" and v <= 1 else v
        out[str(py)] = kinds
    return out


def _frac(indicator: str, threshold: float) -> float:
    return float(threshold) if indicator == "postal_points_count" else float(threshold) / 100.0


def _plannable(by_id: Mapping[str, Any]) -> list[str]:
    return [k for k, t in by_id.items() if t.indicator in TARGET_KINDS]


# ============================================================================ running
def check_request(study: Study, /, **overrides: Any) -> tuple[Any, dict[str, dict[str, float]]]:
    """The resolved plan parameters and the phase targets, or the one error that says what is
    wrong with the request (year, budget, targets, operator, a missing layer or targets file):
    cheap, so that ``ictplan plan`` refuses a bad flag before any analysis runs.

    Raises
    ------
    ConfigError
        A bad year, budget, target or operator, or a study the planner cannot run on.
    """
    from .. import validation

    if overrides.get("operator") is None:
        overrides.pop("operator", None)
    prm = _parameters.resolve("plan", study, **overrides)
    reason = validation.skip_reason(study, "plan")
    if reason is not None:
        raise ConfigError(reason)
    year = int(prm.year)
    if year not in PHASE_YEARS:
        raise ConfigError(f"year {year}: the plan's phases are {', '.join(map(str, PHASE_YEARS))}.")
    if prm.budget_vnd is not None and not prm.budget_vnd > 0:
        raise ConfigError(f"budget {prm.budget_vnd!r}: give a positive amount in VND, e.g. --budget 5e11.")
    kinds = phase_targets(study, parse_targets(prm.targets), year)
    if prm.operator:
        ops = sorted(set(study.layer("sites")["operator"].astype(str)))
        if prm.operator not in ops:
            raise ConfigError(f"operator {prm.operator!r} has no sites in the study; known: {', '.join(ops)}. "
                              "Pass one of them (--operator), or --neutral-host.")
    return prm, kinds


def _variant_root(variant_dir: str | os.PathLike[str] | None) -> Path:
    if variant_dir is not None:
        return Path(variant_dir)
    return Path(tempfile.mkdtemp(prefix="ictplan-plan-"))


def run(study: Study, /, *, before: Results | None = None, progress: bool | None = None,
        **overrides: Any) -> PlanResult:
    """Plan ``study`` to its targets: ``[parameters.plan]`` and ``overrides``
    (:class:`ictplan.parameters.PlanParameters`: ``targets`` e.g. ``{"M3": 0.99}`` or
    ``("M3=0.99",)``, ``year``, ``operator`` ("" or None: a neutral host), ``budget_vnd``,
    ``variant_dir``, unit costs, solver ...).

    ``before``: the workflow's results on today's layers with the scorecard (run here when
    not given).

    Raises
    ------
    ConfigError
        An unknown target or one the planner cannot build to, a bad year or budget.
    """
    from .. import workflow

    prm, kinds = check_request(study, **overrides)
    year = int(prm.year)
    operator = prm.operator or None
    t0 = time.perf_counter()
    if before is None or before.scorecard is None:
        before = workflow.run(study, jobs=("scorecard",), progress=progress)
    seconds = {"today": time.perf_counter() - t0}
    built = _phases.build(study, before, kinds, operator=operator, budget_vnd=prm.budget_vnd, prm=prm,
                          root=_variant_root(prm.variant_dir), progress=progress, seconds=seconds)
    return PlanResult(study=study, year=year, operator=operator, budget_vnd=prm.budget_vnd, targets=kinds[str(year)],
                      phase_targets=kinds, parameters=prm, seconds=seconds, **built)
