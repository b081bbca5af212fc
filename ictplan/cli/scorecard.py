"""``ictplan scorecard STUDY``: the plan's scorecard (CSV, GeoPackage, Markdown), optionally a what-if."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._main import cli, echo, out_dir, out_opt, overwrite_opt, study_arg


@cli.command()
@study_arg
@out_opt
@overwrite_opt
@click.option("--variant", "variant", type=click.Path(path_type=Path), default=None,
              help="A second study (e.g. planned sites or routes): score it too and write the difference.")
@click.option("--targets", "targets_path", type=click.Path(path_type=Path), default=None,
              help="Targets file (default: the study's [targets] path).")
def scorecard(study: Path, out: Path, overwrite: bool, variant: Path | None, targets_path: Path | None) -> None:
    """Every target of the plan for the province, each district and each commune."""
    from .. import study as _study
    from .. import targets as _targets

    t0 = time.perf_counter()
    s = _study.load(study)
    plan = _targets.load_targets(targets_path) if targets_path else None
    out = out_dir(out, overwrite)
    sc = _targets.scorecard(s, plan=plan)
    paths = _targets.write_scorecard(sc, out, overwrite=True)
    prov = sc.province()
    counts = prov["status"].value_counts()
    echo(f"{s.name}: {len(prov)} targets — " + ", ".join(f"{counts.get(k, 0)} {k}" for k in _targets.STATUSES))
    for r in prov.itertuples():
        val = "–" if r.value != r.value else f"{r.value:,.1f}"
        thr = "" if r.threshold != r.threshold else f"{r.comparison} {r.threshold:g}"
        gap = "" if r.gap != r.gap or r.gap == 0 else f"  gap {r.gap:,.0f} {r.gap_unit}"
        why = f"  ({r.reason})" if r.status in ("no data", "not applicable") and r.reason else ""
        echo(f"  {r.target_id:<3} {r.year}  {val:>12} {r.unit:<13} {thr:<8} {r.status:<14}{gap}{why}")
    if variant is not None:
        sv = _study.load(variant)
        scv = _targets.scorecard(sv, plan=sc.plan)
        scv.meta["variant_of"] = s.name
        vdir = out / "variant"
        _targets.write_scorecard(scv, vdir, overwrite=True)
        diff = _targets.compare(sc, scv)
        cpaths = _targets.write_comparison(diff, out, overwrite=True)
        changed = diff[(diff["level"] == "province") & (diff["change"] != "same")]
        echo(f"\nWhat-if ({sv.name}): {len(changed)} province figure(s) changed")
        for r in changed.itertuples():
            echo(f"  {r.target_id:<3} {r.value_base:,.1f} → {r.value_variant:,.1f} {r.unit}  {r.change}")
        paths.update({f"whatif_{k}": v for k, v in cpaths.items()})
    echo(f"\nWrote {', '.join(str(p) for p in paths.values())} in {time.perf_counter() - t0:.1f} s.")
