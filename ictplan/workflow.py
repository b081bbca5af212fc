"""One path through a study: run the analyses in dependency order, each once, into
:class:`Results`, which the scorecard, maps, report and ``ictplan demo`` consume.

>>> import ictplan as ip
>>> res = ip.workflow.run(ip.datasets.camau(), fiber={"drop_limit_m": 500})
>>> res.ran, res.skipped            # which jobs ran; why the others did not
>>> res.fiber.province

A job that cannot run (its layers are missing, or its analysis refused the data) is
recorded in ``Results.skipped`` with the reason; jobs that need it are skipped in turn.
Parameters come from :mod:`ictplan.parameters`: defaults, then the study's
``[parameters.<job>]`` table, then the keyword overrides given here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .coverage import CoverageResult
    from .fiber import FiberResult
    from .sharing import SharingResult
    from .study import Study
    from .targets import Scorecard

__all__ = ["JOBS", "Results", "run"]

#: Every job, in dependency order.
JOBS: tuple[str, ...] = ("coverage", "fiber", "sharing", "scorecard")


@dataclass
class Results:
    """What a study's workflow produced: one result per job that ran.

    ``skipped`` maps each job that did not run to the reason (one sentence that says how
    to make it run); ``seconds`` how long each job took; ``parameters`` the resolved
    parameters of each job (:mod:`ictplan.parameters` dataclasses).
    """

    study: Study
    coverage: CoverageResult | None = None
    fiber: FiberResult | None = None
    sharing: SharingResult | None = None
    scorecard: Scorecard | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def ran(self) -> list[str]:
        """The jobs that produced a result, in dependency order."""
        return [job for job in JOBS if getattr(self, job) is not None]

    def get(self, job: str) -> Any:
        """The result of ``job``, or ``None`` when it did not run."""
        if job not in JOBS:
            raise KeyError(f"unknown job {job!r}; jobs: {', '.join(JOBS)}")
        return getattr(self, job)


def run(study: Study, /, *, jobs: tuple[str, ...] | list[str] = JOBS, progress: bool | None = None,
        **overrides: dict[str, Any]) -> Results:
    """Run ``jobs`` (and what they need) on ``study``; see the module docstring."""
    raise NotImplementedError("being written (issue 10)")
