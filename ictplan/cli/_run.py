"""How the subcommands run analyses: through :func:`ictplan.workflow.run`, printing each
step (with ``steps=True``) and why any job was skipped."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._main import echo, progress

if TYPE_CHECKING:  # pragma: no cover
    from ..study import Study
    from ..targets import Plan
    from ..workflow import Results


class Steps:
    """A :mod:`ictplan.workflow` progress callback that prints through ``echo``.

    ``bars`` (the analyses' progress bars) follows ``-q``; ``steps`` prints each job's start
    and time, ``skipped`` why a job was skipped.
    """

    def __init__(self, *, steps: bool = False, skipped: bool = True) -> None:
        self.steps, self.skipped = steps, skipped
        self.bars = progress()

    def __call__(self, job: str, event: str, detail: str) -> None:
        if event == "skipped" and self.skipped:
            echo(f"[{job}] skipped: {detail}")
        elif self.steps and event == "start":
            echo(f"\n[{job}] ...")
        elif self.steps and event == "done":
            echo(f"[{job}] done in {detail}")


def run_jobs(study: Study, jobs: Iterable[str], *, steps: bool = False, targets_plan: Plan | None = None,
             **overrides: Any) -> Results:
    """:func:`ictplan.workflow.run` with the CLI's progress (``None`` flags leave the study's values)."""
    from .. import workflow

    return workflow.run(study, jobs=tuple(jobs), progress=Steps(steps=steps), targets_plan=targets_plan, **overrides)


def run_job(study: Study, job: str, /, **overrides: Any) -> Any:
    """The result of one job that needs no other: raises the error (or the reason) that stopped it."""
    from .. import workflow

    res = workflow.run(study, jobs=(job,), progress=Steps(skipped=False), **overrides)
    return res.require(job)
