"""``ictplan coverage STUDY``: 4G/5G best-server rasters and population covered per zone."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._main import UNIT_CHOICE, cli, echo, old_or_new, out_dir, out_opt, overwrite_opt, study_arg
from ._run import run_job


@cli.command()
@study_arg
@out_opt
@overwrite_opt
@click.option("--method", type=click.Choice(["exact", "centre"]), default=None,
              help="Zone sums: exact cell fractions, or whole cells by their centre (default: the study's, else exact).")
@click.option("--no-rasters", is_flag=True, help="Write the tables only, not the GeoTIFFs.")
@click.option("--units", "units", type=UNIT_CHOICE, callback=old_or_new, default="old", show_default=True,
              help="new (2025): also the table in the units since 1 July 2025 (units_new/); old = 2019.")
def coverage(study: Path, out: Path, overwrite: bool, method: str | None, no_rasters: bool, units: str = "old") -> None:
    """Best-server RSRP, SINR and throughput rasters; population covered per commune, hamlet, district."""
    from .. import coverage as _coverage
    from .. import study as _study

    t0 = time.perf_counter()
    s = _study.load(study)
    out = out_dir(out, overwrite)
    res = run_job(s, "coverage", coverage={"method": method})
    paths = _coverage.write_outputs(res, out, overwrite=True, rasters=not no_rasters)
    t = res.table
    prov = t[t["level"] == "province"] if "level" in t.columns else t.iloc[:0]
    echo(f"{s.name}: population covered (province)")
    for _, r in prov.iterrows():
        tput = r.get("mean_user_mbps", float("nan"))
        echo(f"  {r['technology']:<3} {r['operator']:<10} {r['pct_covered']:6.1f} % covered   "
             f"mean over all users {tput:7.1f} Mb/s")
    conv = _coverage.convergence_lines(res)
    if conv:
        echo("busy-hour load fixed point per carrier (utilisation ↔ interference):")
        for line in conv:
            echo(line)
    if units == "new":
        from .admin import write_coverage_in_new_units

        paths["units_new"] = write_coverage_in_new_units(s, res, out)
    echo(f"\nWrote {len(paths)} files to {out} in {time.perf_counter() - t0:.1f} s.")
