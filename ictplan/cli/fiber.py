"""``ictplan fiber STUDY``: fiber reach to households, hamlets and organisations along roads and canals."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._main import (
    UNIT_CHOICE,
    cli,
    drop_limit_opt,
    echo,
    hamlet_threshold_opt,
    old_or_new,
    out_dir,
    out_opt,
    overwrite_opt,
    study_arg,
)
from ._run import run_job


@cli.command()
@study_arg
@out_opt
@overwrite_opt
@drop_limit_opt
@hamlet_threshold_opt
@click.option("--units", "units", type=UNIT_CHOICE, callback=old_or_new, default="old", show_default=True,
              help="new (2025): also the commune table in the units since 1 July 2025 (units_new/); old = 2019.")
def fiber(study: Path, out: Path, overwrite: bool, drop_limit_m: float | None, hamlet_threshold: float | None,
          units: str = "old") -> None:
    """Households and hamlets within reach of fiber; metres of new fiber each unreached hamlet needs."""
    from .. import fiber as _fiber
    from .. import study as _study

    t0 = time.perf_counter()
    s = _study.load(study)
    out = out_dir(out, overwrite)
    res = run_job(s, "fiber", fiber={"drop_limit_m": drop_limit_m, "hamlet_threshold_frac": hamlet_threshold})
    paths = _fiber.write_outputs(res, out, overwrite=True)
    p = res.province.iloc[0]
    echo(f"{s.name}: fiber reach (drop limit {res.parameters['drop_limit_m']:g} m along roads and canals)")
    for col in [c for c in res.province.columns if c not in ("level", "zone_code", "zone_name")]:
        v = p[col]
        echo(f"  {col:<28} {v:,.1f}" if isinstance(v, float) else f"  {col:<28} {v}")
    unreached = res.hamlets[~res.hamlets["reached"]]
    echo(f"  unreached hamlets: {len(unreached)} of {len(res.hamlets)}; "
         f"new fiber they need: {unreached['missing_fiber_m'].sum() / 1000:,.1f} km (where a road reaches them)")
    if units == "new":
        from .admin import write_fiber_in_new_units

        paths["units_new"] = write_fiber_in_new_units(s, res.communes, out)
    echo(f"\nWrote {len(paths)} files to {out} in {time.perf_counter() - t0:.1f} s.")
