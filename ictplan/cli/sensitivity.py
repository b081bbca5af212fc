"""``ictplan sensitivity STUDY``: how M1, M2, M3 and 4G/5G coverage move with the assumptions."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._main import cli, echo, out_dir, out_opt, overwrite_opt, study_arg


def _floats(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise click.BadParameter(f"{text!r}: give numbers separated by commas, e.g. 0.5,0.9,0.95") from err


@cli.command()
@study_arg
@out_opt
@overwrite_opt
@click.option("--location-probabilities", default=None,
              help="Comma-separated, e.g. 0.5,0.9,0.95 (default: the study's [parameters.sensitivity]).")
@click.option("--indoor-shares", default=None, help="Shares of people counted indoors, e.g. 0,0.5,1.")
@click.option("--demand-factors", default=None, help="Busy-hour volume factors, e.g. 0.5,1.5.")
def sensitivity(study: Path, out: Path, overwrite: bool, location_probabilities: str | None,
                indoor_shares: str | None, demand_factors: str | None) -> None:
    """The headline mobile figures (M1, M2, M3, 4G outdoor/indoor, 5G indoor coverage) with one
    assumption moved at a time: location probability, indoor share, demand ±50 %, 5G uptake
    (2025 vs 2030 value). Writes sensitivity.csv and sensitivity.md."""
    from .. import sensitivity as _sens
    from .. import study as _study

    t0 = time.perf_counter()
    s = _study.load(study)
    out = out_dir(out, overwrite)
    tab = _sens.table(s, location_probabilities=_floats(location_probabilities), indoor_shares=_floats(indoor_shares),
                      demand_factors=_floats(demand_factors))
    paths = _sens.write_outputs(tab, out, overwrite=True)
    echo(f"{s.name}: sensitivity of the province figures")
    echo(f"  {'scenario':<22} {'value':<40} {'M1':>6} {'M2':>6} {'M3 %':>6} {'4G out':>7} {'4G in':>6} {'5G in':>6}")
    for r in tab.itertuples():
        vals = " ".join(f"{v:>6.1f}" if v == v else f"{'–':>6}" for v in (r.m1_mbps, r.m2_mbps, r.m3_pct))
        cov = " ".join(f"{v:>6.1f}" if v == v else f"{'–':>6}" for v in (r.cov_4g_outdoor_pct, r.cov_4g_indoor_pct,
                                                                           r.cov_5g_indoor_pct))
        echo(f"  {r.scenario:<22} {r.value[:40]:<40} {vals}  {cov}")
    echo(f"\nWrote {', '.join(str(p) for p in paths.values())} in {time.perf_counter() - t0:.1f} s.")
