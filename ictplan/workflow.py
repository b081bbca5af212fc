"""One path through a study: run the analyses in dependency order, each once, into
:class:`Results`, which the scorecard, maps, report and ``ictplan demo`` consume.

>>> import ictplan as ip
>>> res = ip.workflow.run(ip.datasets.camau(), fiber={"drop_limit_m": 500})
>>> res.ran, res.skipped            # which jobs ran; why the others did not
>>> res.fiber.province

The layers and files each job needs are :data:`ictplan.validation.JOB_INPUTS` (the
table ``ictplan check`` reports from). The scorecard uses the coverage and fiber results
(asking for the scorecard runs them too) and the sharing result when sharing was asked for.

One policy for missing inputs: a job whose layers are missing, or whose analysis refuses
the data (any :class:`~ictplan.errors.IctplanError`), is recorded in
``Results.skipped`` with the reason, and the jobs that use it run without it (the
scorecard marks the targets it cannot score "no data", with that reason).
Parameters come from :mod:`ictplan.parameters`: defaults, then the study's
``[parameters.<job>]`` table, then the keyword overrides given here (one dict per job);
they are resolved, and unknown names refused, before any job runs.

Progress: ``progress=False`` silences the analyses' bars; a callback sees every step,
e.g. one tqdm bar over the jobs::

    bar = tqdm(total=len(ip.workflow.jobs_for(ip.workflow.JOBS)))
    ip.workflow.run(study, progress=lambda job, event, detail: bar.update(event != "start"))
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import parameters as _parameters
from . import validation as _validation
from ._errors import ConfigError, IctplanError
from .study import DEFAULT_UNITS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .coverage import CoverageResult
    from .fiber import FiberResult
    from .planning.plan import PlanResult
    from .sharing import SharingResult
    from .study import Study
    from .targets import Plan, Scorecard

__all__ = ["JOBS", "OPTIONAL_JOBS", "NEEDS", "USES", "Results", "run", "jobs_for"]

log = logging.getLogger(__name__)

#: Every job, in dependency order.
JOBS: tuple[str, ...] = ("coverage", "fiber", "sharing", "scorecard")

#: Jobs run only when asked for (not in the default set): ``"sensitivity"`` reruns coverage
#: per assumption (:mod:`ictplan.sensitivity`); ``"plan"`` plans what to build to the targets and re-runs
#: the analyses on the plan (:mod:`ictplan.planning`).
OPTIONAL_JOBS: tuple[str, ...] = ("sensitivity", "plan")
_ALL: tuple[str, ...] = JOBS + OPTIONAL_JOBS

#: Results a job needs: asking for the job runs these first (it still runs if they are skipped).
NEEDS: dict[str, tuple[str, ...]] = {"coverage": (), "fiber": (), "sharing": (), "scorecard": ("coverage", "fiber"),
                                 "sensitivity": ("coverage",), "plan": ("scorecard",)}

#: Results a job uses when they were asked for, without pulling them in.
USES: dict[str, tuple[str, ...]] = {"scorecard": ("sharing",)}

#: A progress callback: ``progress(job, event, detail)`` with ``event`` one of
#: ``"start"``, ``"done"`` (detail: the seconds, formatted) and ``"skipped"`` (detail: the reason).
ProgressCallback = Callable[[str, str, str], Any]


@dataclass
class Results:
    """What a study's workflow produced: one result per job that ran.

    ``skipped`` maps each job that did not run to the reason (one sentence that says how
    to make it run); ``seconds`` how long each job took; ``parameters`` the resolved
    parameters of each job (:mod:`ictplan.parameters` dataclasses); ``errors`` the
    error each refused job raised (absent for jobs skipped for missing layers).
    """

    study: Study
    coverage: CoverageResult | None = None
    fiber: FiberResult | None = None
    sharing: SharingResult | None = None
    scorecard: Scorecard | None = None
    sensitivity: pd.DataFrame | None = None
    plan: PlanResult | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, IctplanError] = field(default_factory=dict, repr=False)
    # the study's units ([study] units, ictplan.admin.inunits): "2025" results keep the old
    # units' results, the province side by side and the crosswalk; a study of parts, each part's
    units: str = DEFAULT_UNITS
    old_units: Results | None = field(default=None, repr=False)
    side_by_side: Any = field(default=None, repr=False)
    crosswalk: Any = field(default=None, repr=False)
    parts: list[Results] = field(default_factory=list, repr=False)

    @property
    def ran(self) -> list[str]:
        """The jobs that produced a result, in dependency order."""
        return [job for job in _ALL if getattr(self, job) is not None]

    def get(self, job: str) -> Any:
        """The result of ``job``, or ``None`` when it did not run."""
        if job not in _ALL:
            raise KeyError(f"unknown job {job!r}; jobs: {', '.join(_ALL)}")
        return getattr(self, job)

    def require(self, job: str) -> Any:
        """The result of ``job``; raises the error that stopped it (or a :class:`ConfigError`
        with the reason it was skipped) when it did not run."""
        res = self.get(job)
        if res is not None:
            return res
        if job in self.errors:
            raise self.errors[job]
        why = self.skipped.get(job, "it was not asked for")
        raise ConfigError(why if why.startswith((f"{job}:", f"{job} ")) else f"{job}: {why}")  # the job named once


# ============================================================================ planning
def jobs_for(jobs: Iterable[str] | str, /) -> list[str]:
    """The jobs to run for ``jobs``, with what they need, in dependency order (each once)."""
    asked = [jobs] if isinstance(jobs, str) else list(jobs)
    unknown = [j for j in asked if j not in _ALL]
    if unknown:
        raise ConfigError(f"unknown job(s) {', '.join(map(repr, unknown))}; jobs: {', '.join(_ALL)}.")
    todo: set[str] = set()
    stack = list(asked)
    while stack:
        job = stack.pop()
        if job not in todo:
            todo.add(job)
            stack.extend(NEEDS[job])
    return [job for job in _ALL if job in todo]


def _resolve_all(study: Study, order: list[str], overrides: Mapping[str, Any]) -> dict[str, Any]:
    unknown = [k for k in overrides if k not in _ALL]
    if unknown:
        raise ConfigError(f"unknown job(s) {', '.join(map(repr, unknown))} in the overrides; jobs: {', '.join(_ALL)}. "
                          "Pass one dict per job, e.g. fiber={'drop_limit_m': 500}.")
    out = {}
    for job in (j for j in _ALL if j in order or j in overrides):  # a typo is refused even for a job not run
        given = overrides.get(job) or {}
        if not isinstance(given, Mapping):
            raise ConfigError(f"{job}={given!r}: pass the {job} parameters as a dict, e.g. {job}={{'name': value}}.")
        out[job] = _parameters.resolve(job, study, **given)
    return {job: out[job] for job in order}


# ============================================================================ running
def _call(fn: Callable[..., Any], study: Study, params: Any, progress: bool | None, **extra: Any) -> Any:
    """``fn(study, **resolved parameters, **extra, progress=...)``: every analysis takes its
    parameters by name (and resolves the same values again from the same sources)."""
    kw: dict[str, Any] = {f.name: getattr(params, f.name) for f in dataclasses.fields(params)}
    return fn(study, **kw, **extra, progress=progress)


def _run_coverage(study: Study, res: Results, params: Any, progress: bool | None, targets_plan: Plan | None) -> Any:
    from . import coverage

    return _call(coverage.run, study, params, progress)


def _run_fiber(study: Study, res: Results, params: Any, progress: bool | None, targets_plan: Plan | None) -> Any:
    from . import fiber

    return _call(fiber.run, study, params, progress)


def _run_sharing(study: Study, res: Results, params: Any, progress: bool | None, targets_plan: Plan | None) -> Any:
    from . import sharing

    return _call(sharing.run, study, params, progress)


def _run_scorecard(study: Study, res: Results, params: Any, progress: bool | None, targets_plan: Plan | None) -> Any:
    from . import targets

    uses = (*NEEDS["scorecard"], *USES["scorecard"])
    return _call(targets.run, study, params, progress, plan=targets_plan, coverage=res.coverage, fiber=res.fiber,
                 sharing=res.sharing, skipped={job: why for job, why in res.skipped.items() if job in uses})


def _run_sensitivity(study: Study, res: Results, params: Any, progress: bool | None, targets_plan: Plan | None) -> Any:
    from . import sensitivity

    if res.coverage is None:
        raise ConfigError(f"sensitivity needs the coverage result: {res.skipped.get('coverage', 'it did not run')}")
    return _call(sensitivity.table, study, params, progress, coverage=res.coverage)


def _run_plan(study: Study, res: Results, params: Any, progress: bool | None, targets_plan: Plan | None) -> Any:
    from .planning import plan

    return _call(plan.run, study, params, progress, before=res)


_RUNNERS: dict[str, Callable[[Study, Results, Any, bool | None, Any], Any]] = {
    "coverage": _run_coverage, "fiber": _run_fiber, "sharing": _run_sharing, "scorecard": _run_scorecard,
    "sensitivity": _run_sensitivity, "plan": _run_plan,
}


def _notify(progress: Any, job: str, event: str, detail: str) -> None:
    if callable(progress):
        progress(job, event, detail)


def _one_job(job: str, results: Results, progress: Any, targets_plan: Plan | None) -> None:
    study = results.study
    reason = _validation.skip_reason(study, "coverage" if job == "sensitivity" else job)
    if reason is not None:
        results.skipped[job] = reason
        log.info("workflow: %s skipped: %s", job, reason)
        _notify(progress, job, "skipped", reason)
        return
    _notify(progress, job, "start", "")
    flag = getattr(progress, "bars", None) if callable(progress) else progress
    t0 = time.perf_counter()
    try:
        out = _RUNNERS[job](study, results, results.parameters[job], flag, targets_plan)
    except IctplanError as err:
        results.seconds[job] = time.perf_counter() - t0
        results.errors[job] = err
        results.skipped[job] = f"{job} could not run: {err}"
        log.info("workflow: %s refused the data: %s", job, err)
        _notify(progress, job, "skipped", results.skipped[job])
        return
    results.seconds[job] = time.perf_counter() - t0
    setattr(results, job, out)
    _notify(progress, job, "done", f"{results.seconds[job]:.1f} s")


def run(study: Study, /, *, jobs: Iterable[str] | str = JOBS, progress: bool | None | ProgressCallback = None,
        targets_plan: Plan | None = None, **overrides: Mapping[str, Any] | None) -> Results:
    """Run ``jobs`` (and what they need) on ``study``, each once, in dependency order.

    Parameters
    ----------
    study
        A loaded study (:func:`ictplan.study.load`).
    jobs
        Job names among :data:`JOBS` (default: all of them) and :data:`OPTIONAL_JOBS`
        (``"sensitivity"``, only when asked for); the ones they need are added.
    progress
        ``True``/``False``/``None``: the analyses' own progress bars (``None``: shown on a
        terminal). Or a callback ``progress(job, event, detail)`` (see
        :data:`ProgressCallback`), e.g. to print each step or advance a tqdm bar; the
        callback's ``bars`` attribute, if it has one, is then passed to the analyses.
    targets_plan
        The targets the scorecard scores (default: the study's ``[targets]`` file).
    **overrides
        One dict of parameters per job, e.g. ``fiber={"drop_limit_m": 500}``; ``None``
        values leave the study's value.

    Returns
    -------
    Results
        Every job that ran, ``skipped`` with the reason for each job that did not,
        ``seconds`` and resolved ``parameters`` per job.

    Raises
    ------
    ConfigError
        An unknown job or parameter name, or a parameter value of the wrong type (in the
        overrides or the study's ``[parameters]``); raised before any job runs.
    """
    if study.parts:  # the new province from its parts (ictplan.admin.inunits)
        from .admin.inunits import run_parts

        return run_parts(study, jobs=jobs, progress=progress, targets_plan=targets_plan, **overrides)
    order = jobs_for(jobs)
    results = Results(study=study, parameters=_resolve_all(study, order, overrides))
    for job in order:
        _one_job(job, results, progress, targets_plan)
    if study.unit_set == "new":  # [study] units = "2025": reported in the units since 1 July 2025
        from .admin.inunits import results_in_new_units

        return results_in_new_units(results)
    return results
