"""``ictplan report``: one self-contained HTML report for leadership (Vietnamese or English)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._main import cli, echo, out_dir, out_opt, overwrite_opt, study_arg, units_opt, with_units


@cli.command()
@study_arg
@out_opt
@overwrite_opt
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True, help="Report language.")
@click.option("--results/--no-results", default=True, show_default=True,
              help="Run the analyses (coverage, fiber, sharing, scorecard) and include their results.")
@units_opt
def report(study: Path, out: Path, overwrite: bool, lang: str, results: bool, units: str | None = None) -> None:
    """Write OUT/report_<lang>.html: scorecard, charts, maps, sources and methods in one file."""
    from .. import report as _report
    from .. import study as _study
    from .. import workflow
    from ._run import Steps

    t0 = time.perf_counter()
    s = with_units(_study.load(study), units)
    out = out_dir(out, overwrite)
    res = workflow.run(s, progress=Steps()) if results else workflow.Results(study=s)
    page = _report.build(res, lang=lang)
    path = _report.save(page, out / f"report_{lang}.html", overwrite=True)
    echo(f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - t0:.1f} s. Open: file://{path.resolve()}")
