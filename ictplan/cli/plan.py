"""``ictplan plan STUDY``: what to build by 2025 and 2030, where and at what cost, checked by
re-running the analyses on the plan."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import click

from ._main import cli, echo, out_dir, out_opt, overwrite_opt, study_arg
from ._run import run_jobs


def _budget(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value.replace("_", "").replace(",", ""))
    except ValueError as err:
        raise click.BadParameter(f"{value!r}: give an amount in VND, e.g. 5e11 or 500_000_000_000") from err


@cli.command()
@study_arg
@out_opt
@overwrite_opt
@click.option("--target", "targets", multiple=True, metavar="ID=VALUE",
              help="A target to build to in the phase of --year, e.g. M3=0.99 (repeatable; default: the plan's "
                   "own thresholds per phase).")
@click.option("--year", type=click.Choice(["2025", "2030"]), default=None,
              help="The last phase planned (default: the study's [parameters.plan], else 2030).")
@click.option("--operator", default=None, help="Plan one operator's 5G (e.g. Viettel).")
@click.option("--neutral-host", is_flag=True, help="Plan a neutral host's 5G: any operator's 5G counts (default).")
@click.option("--budget", "budget_vnd", callback=_budget, default=None, metavar="VND",
              help="Cap on the 5G roll-out's cost over both phases: the most people for the money.")
@click.option("--solver", type=click.Choice(["greedy", "highs"]), default=None,
              help="Lazy greedy + swap (default) or the HiGHS MILP (gap to its bound reported).")
def plan(study: Path, out: Path, overwrite: bool, targets: tuple[str, ...], year: str | None, operator: str | None,
         neutral_host: bool, budget_vnd: float | None, solver: str | None) -> None:
    """What to build, where and at what cost: the 5G roll-out, fiber to every hamlet, postal
    points, data-centre sites, phased to 2025 and 2030. The plan is written as variant
    studies (OUT/variants/) and the scorecard re-run on them."""
    from .. import study as _study
    from ..planning import outputs as _outputs
    from ..planning.plan import check_request

    if operator and neutral_host:
        raise click.UsageError("give --operator or --neutral-host, not both.")
    t0 = time.perf_counter()
    s = _study.load(study)
    prm = {"targets": targets or None, "year": int(year) if year else None, "operator": "" if neutral_host else operator,
           "budget_vnd": budget_vnd, "solver": solver, "variant_dir": str(out / "variants")}
    check_request(s, **prm)  # a bad flag is refused before the analyses run (and before OUT is made)
    fresh = not out.exists()
    out = out_dir(out, overwrite)
    try:
        res = run_jobs(s, ("plan",), steps=True, plan=prm).require("plan")
        paths = _outputs.write_outputs(res, out, overwrite=True)
    except BaseException:
        if fresh:  # a failed plan leaves no half-written folder behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    for line in _outputs.summary_lines(res):
        echo(line)
    echo(f"\nWrote {len(paths)} files and {len(res.variants)} variant studies to {out} "
         f"in {time.perf_counter() - t0:.1f} s.")
