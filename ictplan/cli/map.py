"""``ictplan map``: the study's layered map as one self-contained HTML file."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._main import cli, echo, out_dir, out_opt, overwrite_opt, study_arg, units_opt, with_units

#: The jobs whose results the map draws.
MAP_JOBS = ("coverage", "fiber", "sharing")


@cli.command(name="map")
@study_arg
@out_opt
@overwrite_opt
@click.option("--column", default=None, help="Communes column to colour by (default: population density).")
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True, help="Labels' language.")
@click.option("--results/--no-results", default=True, show_default=True,
              help="Run the analyses (coverage, fiber, sharing) and map their results too.")
@units_opt
def map_(study: Path, out: Path, overwrite: bool, column: str | None, lang: str, results: bool,
         units: str | None = None) -> None:
    """Write OUT/map.html: communes, districts, sites, fiber and more, viewable offline."""
    from .. import maps, workflow
    from .. import study as _study
    from ._run import Steps

    t0 = time.perf_counter()
    s = with_units(_study.load(study), units)
    out = out_dir(out, overwrite)
    res = workflow.run(s, jobs=MAP_JOBS, progress=Steps()) if results else workflow.Results(study=s)
    m = maps.results_map(res, column=column, lang=lang)
    path = maps.save_html(m, out / "map.html", overwrite=True)
    size_mb = path.stat().st_size / 1e6
    echo(f"Wrote {path} ({size_mb:.1f} MB) in {time.perf_counter() - t0:.1f} s. Open: file://{path.resolve()}")
