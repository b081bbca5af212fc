"""``ictplan sharing STUDY``: towers, poles, ducts and routes shared (or sharable) between operators."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ..parameters import SHARING
from ._main import cli, echo, out_dir, out_opt, overwrite_opt, study_arg
from ._run import run_job


@cli.command()
@study_arg
@out_opt
@overwrite_opt
@click.option("--candidate-m", type=float, default=None,
              help="Towers of different operators within this distance could be one tower "
                   f"(default: the study's, else {SHARING.candidate_m:g}).")
@click.option("--colocation-m", type=float, default=None,
              help="Sites of different operators within this distance already share a tower "
                   f"(default: the study's, else {SHARING.colocation_m:g}).")
@click.option("--corridor-m", type=float, default=None,
              help="Fiber routes within this distance run in one corridor "
                   f"(default: the study's, else {SHARING.corridor_m:g}).")
@click.option("--min-length-m", type=float, default=None,
              help="Shortest shared stretch worth a shared duct "
                   f"(default: the study's, else {SHARING.min_length_m:g}).")
def sharing(study: Path, out: Path, overwrite: bool, candidate_m: float | None, colocation_m: float | None,
            corridor_m: float | None, min_length_m: float | None) -> None:
    """Co-location graph of towers, shared poles and spans, duplicated fiber trenching."""
    from .. import sharing as _sharing
    from .. import study as _study

    t0 = time.perf_counter()
    s = _study.load(study)
    out = out_dir(out, overwrite)
    res = run_job(s, "sharing", sharing={"candidate_m": candidate_m, "colocation_m": colocation_m,
                                         "corridor_m": corridor_m, "min_length_m": min_length_m})
    paths = _sharing.write_outputs(res, out, overwrite=True)
    echo(f"{s.name}:")
    for line in _sharing.summary_text(res.summary).splitlines():
        echo(f"  {line}")
    echo(f"\nWrote {', '.join(str(p) for p in paths.values())} in {time.perf_counter() - t0:.1f} s.")
