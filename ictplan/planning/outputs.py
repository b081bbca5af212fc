"""Writing a plan: GeoPackage layers for QGIS, CSV tables and a short Markdown summary."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import io as _io

if TYPE_CHECKING:  # pragma: no cover
    from .plan import PlanResult

__all__ = ["write_outputs", "summary_lines"]

#: GeoPackage layer name of each planned feature set.
LAYERS: dict[str, str] = {"sites": "sites_5g", "carriers": "carriers_5g", "fiber": "fiber_extension",
                          "access_points": "fiber_access_points", "postal": "postal_points",
                          "datacentres": "datacentre_sites"}


def _plain(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns a GeoPackage keeps: categoricals and objects as text, infinities as empty."""
    out = gdf.copy()
    for c in out.columns:
        if c == out.geometry.name:
            continue
        if out[c].dtype.kind == "f":
            out[c] = out[c].where(np.isfinite(out[c]))
        elif out[c].dtype.kind in "Ob" or isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(str) if out[c].dtype.kind != "b" else out[c].astype(int)
    return out


def write_outputs(result: PlanResult, out_dir: str | Path, /, *, overwrite: bool = False) -> dict[str, Path]:
    """``plan.gpkg`` (layers sites_5g, carriers_5g, fiber_extension, fiber_access_points, postal_points,
    datacentre_sites: the non-empty ones, each with ``phase``), ``plan_phases.csv``,
    ``plan_by_commune.csv``, ``plan_check.csv`` (the province scorecard today and after each
    phase), one CSV per layer without geometry, and ``plan.md``. The variant studies are
    where :func:`ictplan.planning.plan.run` wrote them (``result.variants``).

    Raises
    ------
    OutputExistsError
        A file exists and ``overwrite`` is False.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    gpkg = out / "plan.gpkg"
    if gpkg.exists() and overwrite:
        gpkg.unlink()
    for attr, layer in LAYERS.items():
        gdf = getattr(result, attr)
        if not len(gdf):
            continue
        plain = _plain(gdf)
        _io.write_layer(plain, gpkg, layer=layer, overwrite=overwrite)
        paths[f"{layer}_csv"] = _io.write_table(pd.DataFrame(plain.drop(columns=plain.geometry.name)),
                                                out / f"plan_{layer}.csv", overwrite=overwrite)
    if gpkg.exists():
        paths["gpkg"] = gpkg
    for name in ("phases", "by_commune", "check"):
        paths[name] = _io.write_table(getattr(result, name), out / f"plan_{name}.csv", overwrite=overwrite)
    md = out / "plan.md"
    if md.exists() and not overwrite:
        from .._errors import OutputExistsError

        raise OutputExistsError(f"{md} exists. Pass overwrite=True (CLI: --overwrite) to replace it.")
    md.write_text("\n".join(summary_lines(result)) + "\n", encoding="utf-8")
    paths["md"] = md
    return paths


def _bn(vnd: float) -> str:
    return "not costed" if vnd != vnd else f"{vnd / 1e9:,.1f} bn VND"


def _fmt(v: float) -> str:
    return "–" if v != v else f"{v:,.1f}"


def _solver_line(ro: object) -> str | None:
    """How far the phase's 5G answer can be from the optimum: the solver's bound and gap."""
    gap, bound = getattr(ro, "gap", float("nan")), getattr(ro, "bound", float("nan"))
    if gap != gap or bound != bound:
        return None
    meta = getattr(ro, "meta", {}) or {}
    kind = {"online": "the greedy's online bound", "lp": "the LP relaxation", "highs": "HiGHS's dual bound"}.get(
        str(getattr(ro, "bound_kind", "")), str(getattr(ro, "bound_kind", "")))
    if meta.get("form") == "budget":
        what = f"at most {bound:,.0f} people for the money ({kind})"
    else:
        what = f"no plan reaches the target for less than {_bn(float(bound))} ({kind})"
    return f"- 5G solver {getattr(ro, 'solver', '')}: {what}; gap ≤ {100 * float(gap):.1f} %"


def summary_lines(result: PlanResult, /) -> list[str]:
    """The plan in a few lines: per phase the sites by kind, km of fiber, postal points and
    cost; then the targets today and after the plan (the re-run analyses)."""
    who = result.operator or "a neutral host"
    lines = [f"# Plan for {result.study.name} to {result.year} ({who})", ""]
    ph = result.phases
    for phase, part in ph.groupby("phase", sort=True):
        lines.append(f"## By {phase}: {_bn(float(part['cost_vnd'].sum(min_count=1)))}")
        for r in part.itertuples():
            what = f"{r.km:,.1f} km" if r.item == "fiber_km" else f"{r.count:,.0f}"
            lines.append(f"- {r.item} ({r.operator}): {what}, {_bn(float(r.cost_vnd))}")
        solver = _solver_line(result.rollout.get(str(phase))) if str(phase) in result.rollout else None
        lines += [solver] if solver else []
        lines.append("")
    lines += ["## Targets today and after the plan (re-run analyses, province)", "",
              "| target | threshold | today | " + " | ".join(f"after {p}" for p in result.phase_targets) + " |",
              "|---|---|---|" + "---|" * len(result.phase_targets)]
    for r in result.check.itertuples():
        vals = [f"{_fmt(getattr(r, f'value_{p}', float('nan')))} ({getattr(r, f'status_{p}', '')})"
                for p in result.phase_targets]
        thr = f"{r.comparison} {r.threshold:g} {r.unit}" if r.threshold == r.threshold else "–"
        lines.append(f"| {r.target_id} | {thr} | {_fmt(r.value_today)} ({r.status_today}) | " + " | ".join(vals) + " |")
    lines += [""] + [f"- {n}" for n in result.notes]
    return lines
