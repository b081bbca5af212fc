"""``ictplan scorecard STUDY``: the plan's scorecard (CSV, GeoPackage, Markdown), optionally a what-if.

The scorecard runs through :func:`ictplan.workflow.run` (coverage and fiber first), so
``--drop-limit-m`` here and ``ictplan fiber --drop-limit-m`` give the same reach.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
from ._run import run_jobs

if TYPE_CHECKING:  # pragma: no cover
    from ..targets import Scorecard


def _print_province(name: str, sc: Scorecard) -> None:
    from .. import targets as _targets

    prov = sc.province()
    counts = prov["status"].value_counts()
    echo(f"{name}: {len(prov)} targets — " + ", ".join(f"{counts.get(k, 0)} {k}" for k in _targets.STATUSES))
    if sc.meta.get("plan_applied_to"):
        echo(f"  Note: {sc.meta['plan_applied_to']}.")
    for r in prov.itertuples():
        val = "–" if r.value != r.value else f"{r.value:,.1f}"
        thr = "" if r.threshold != r.threshold else f"{r.comparison} {r.threshold:g}"
        gap = "" if r.gap != r.gap or r.gap == 0 else f"  gap {r.gap:,.0f} {r.gap_unit}"
        why = f"  ({r.reason})" if r.status in ("no data", "not applicable") and r.reason else ""
        echo(f"  {r.target_id:<3} {r.year}  {val:>12} {r.unit:<13} {thr:<8} {r.status:<14}{gap}{why}")


def _what_if(variant: Path, sc: Scorecard, base_name: str, out: Path, overrides: dict[str, Any]) -> dict[str, Path]:
    """Score the variant study through the workflow too (same plan, same parameters) and write the difference."""
    from .. import study as _study
    from .. import targets as _targets

    sv = _study.load(variant)
    scv = run_jobs(sv, ("scorecard",), targets_plan=sc.plan, **overrides).require("scorecard")
    scv.meta["variant_of"] = base_name
    _targets.write_scorecard(scv, out / "variant", overwrite=True)
    diff = _targets.compare(sc, scv)
    cpaths = _targets.write_comparison(diff, out, overwrite=True)
    changed = diff[(diff["level"] == "province") & (diff["change"] != "same")]
    echo(f"\nWhat-if ({sv.name}): {len(changed)} province figure(s) changed")
    for r in changed.itertuples():
        echo(f"  {r.target_id:<3} {r.value_base:,.1f} → {r.value_variant:,.1f} {r.unit}  {r.change}")
    return {f"whatif_{k}": v for k, v in cpaths.items()}


@cli.command()
@study_arg
@out_opt
@overwrite_opt
@click.option("--variant", "variant", type=click.Path(path_type=Path), default=None,
              help="A second study (e.g. planned sites or routes): score it too and write the difference.")
@click.option("--targets", "targets_path", type=click.Path(path_type=Path), default=None,
              help="Targets file (default: the study's [targets] path).")
@drop_limit_opt
@hamlet_threshold_opt
@click.option("--units", "units", type=UNIT_CHOICE, callback=old_or_new, default=None,
              help="old (2019): the communes before 1 July 2025; new (2025): also the units since then (crosswalk; units_new/). "
                   "Default: the study's [study] units (\"2025\": the scorecard itself in the new units).")
def scorecard(study: Path, out: Path, overwrite: bool, variant: Path | None, targets_path: Path | None,
              drop_limit_m: float | None, hamlet_threshold: float | None, units: str | None = None) -> None:
    """Every target of the plan for the province, each district and each commune."""
    import dataclasses

    from .. import study as _study
    from .. import targets as _targets

    t0 = time.perf_counter()
    s = _study.load(study)
    if units == "old" and s.unit_set == "new":
        if s.parts:
            raise click.UsageError("a study made of parts is reported in the new units only; score each part for the old.")
        s = dataclasses.replace(s, units="2019")
    elif units == "new" and s.unit_set == "new":
        units = None  # the study is reported in the new units already
    plan = _targets.load_targets(targets_path) if targets_path else None
    out = out_dir(out, overwrite)
    overrides: dict[str, Any] = {"fiber": {"drop_limit_m": drop_limit_m, "hamlet_threshold_frac": hamlet_threshold}}
    res = run_jobs(s, ("scorecard",), targets_plan=plan, **overrides)
    sc = res.require("scorecard")
    paths = _targets.write_scorecard(sc, out, overwrite=True)
    _print_province(s.name, sc)
    if res.units == "2025":
        from .admin import write_study_units

        paths.update(write_study_units(res, out))
    if variant is not None:
        paths.update(_what_if(variant, sc, s.name, out, overrides))
    if units == "new":
        from .admin import write_in_new_units

        paths.update(write_in_new_units(s, sc, out, coverage=res.coverage))
    echo(f"\nWrote {', '.join(str(p) for p in paths.values())} in {time.perf_counter() - t0:.1f} s.")
