"""``ictplan demo``: check every layer, run every analysis once through the workflow (the
default jobs and the sensitivity table of the mobile figures), write tables, maps, scorecard,
sensitivity and report.

Headline figures are read from each analysis' province row, never re-summed from districts.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .._errors import IctplanError
from ..grid import OUTSIDE_ZONES
from ..parameters import FIBER
from ._main import _print_checks, cli, echo, out_dir, out_opt, overwrite_opt, study_arg
from ._run import run_jobs

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd
    import pandas as pd

    from ..study import Study
    from ..workflow import Results

PROVINCE_ROW = "Tỉnh (province)"


# ============================================================================ district summary
def _zone_key(communes: gpd.GeoDataFrame) -> str:
    """``district_name`` when the communes carry districts, else ``commune_name``."""
    if "district_name" in communes.columns and communes["district_name"].notna().any():
        return "district_name"
    return "commune_name"


def _site_zones(s: Study, communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per physical site and technology with its commune (NaN outside every commune)."""
    from ..services import assign_communes

    sites = s.layer_in_crs("sites").drop_duplicates(["site_id", "technology"])
    pts = sites[["technology", "geometry"]].assign(commune_code=None)
    with warnings.catch_warnings():  # sites in no commune are the "(outside zones)" row
        warnings.simplefilter("ignore")
        code = assign_communes(pts, communes, what="sites")
    return pts.assign(commune_code=code.to_numpy())


def _route_km_by_commune(routes: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> pd.Series:
    """Route km per commune code, plus the km in no commune under a NaN key; each metre once.

    A route's part in a commune is its intersection with the polygon, less what an earlier
    commune (in layer order) already holds of it, so a route along a shared boundary or
    through overlapping communes is counted once and the rows add up to the routes' length.
    """
    import geopandas as gpd
    import numpy as np
    import pandas as pd

    r = gpd.GeoDataFrame({"_route": np.arange(len(routes))}, geometry=routes.geometry.to_numpy(), crs=routes.crs)
    c = gpd.GeoDataFrame({"commune_code": communes["commune_code"].astype(str).to_numpy(), "_order": np.arange(len(communes))},
                         geometry=communes.geometry.to_numpy(), crs=communes.crs)
    pieces = gpd.overlay(r, c, how="intersection", keep_geom_type=True).sort_values(["_route", "_order"])
    km: dict[Any, float] = {}
    for _, grp in pieces.groupby("_route"):
        taken = None
        for code, geom in zip(grp["commune_code"], grp.geometry, strict=True):
            part = geom if taken is None else geom.difference(taken)
            km[code] = km.get(code, 0.0) + part.length / 1000.0
            taken = geom if taken is None else taken.union(geom)
    out = pd.Series(km, dtype=float)
    outside = float(routes.length.sum()) / 1000.0 - float(out.sum())
    return pd.concat([out, pd.Series([max(outside, 0.0)], index=[np.nan])])


def _by_zone(values: pd.Series, zone_of: pd.Series) -> pd.Series:
    """Per-commune values (index: commune code, NaN = outside) summed per zone, outside as OUTSIDE_ZONES."""
    keys = values.index.map(lambda c: zone_of.get(c, OUTSIDE_ZONES) if isinstance(c, str) else OUTSIDE_ZONES)
    return values.groupby(keys).sum()


def district_summary(s: Study) -> pd.DataFrame:
    """Communes, people, households, hamlets, sites and fiber km per district (per commune when
    the communes carry no district), an ``"(outside zones)"`` row for sites and routes in no
    commune (only when there are any), and the province row, counted from the layers directly
    (so it is the sum of the rows above it).

    Points are placed with :func:`ictplan.services.assign_communes`, the rule the report uses.
    """
    import pandas as pd

    communes = s.layer_in_crs("communes")
    key = _zone_key(communes)
    zone_of = communes.assign(commune_code=communes["commune_code"].astype(str)).set_index("commune_code")[key]
    census = {c: (c, "sum") for c in ("pop2019", "hh2019") if c in communes.columns}
    agg = communes.groupby(key).agg(communes=("commune_code", "count"), **census)
    cols: dict[str, pd.Series] = {c: agg[c] for c in agg.columns}
    prov: dict[str, Any] = {"communes": len(communes), **{c: communes[c].sum() for c in census}}
    if s.has("hamlets"):
        from ..services import assign_communes

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = assign_communes(s.layer_in_crs("hamlets"), communes, what="hamlets")
        cols["hamlets"] = _by_zone(code.value_counts(dropna=False), zone_of)
        prov["hamlets"] = len(code)
    if s.has("sites"):
        sites = _site_zones(s, communes)
        for tech in ("4G", "5G"):
            sel = sites.loc[sites["technology"] == tech, "commune_code"]
            cols[f"sites_{tech}"] = _by_zone(sel.value_counts(dropna=False), zone_of)
            prov[f"sites_{tech}"] = len(sel)
    if s.has("fiber_routes"):
        km = _route_km_by_commune(s.layer_in_crs("fiber_routes"), communes)
        cols["fiber_km"] = _by_zone(km, zone_of)
        prov["fiber_km"] = float(km.sum())
    by = pd.DataFrame(cols).reindex([*agg.index, OUTSIDE_ZONES]).fillna(0)
    if not (by.loc[OUTSIDE_ZONES].round(1) != 0).any():
        by = by.drop(index=OUTSIDE_ZONES)
    out = pd.concat([by, pd.DataFrame(prov, index=[PROVINCE_ROW])]).fillna(0)
    if "fiber_km" in out.columns:
        out["fiber_km"] = out["fiber_km"].round(1)
    out.index.name = key
    return out.astype({c: int for c in out.columns if c != "fiber_km"})


def _print_summary(s: Study, out: Path) -> None:
    import pandas as pd

    from .. import io as _io

    summary = district_summary(s)
    if summary.index.name == "district_name":
        echo("\nPer district:")
    else:
        echo("\nPer commune (the communes carry no district column, so there is no district level):")
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.max_rows", 200):
        echo(summary.to_string())
    _io.write_table(summary.reset_index(), out / "district_summary.csv", overwrite=True)


# ============================================================================ outputs per job
def _write_coverage(res: Results, out: Path) -> None:
    from .. import coverage

    cov = res.require("coverage")
    coverage.write_outputs(cov, out / "coverage", overwrite=True)
    t = cov.table
    for _, r in t[(t["level"] == "province") & (t["operator"] == "any")].iterrows():
        echo(f"  {r['technology']}: {r['pct_covered']:.1f} % of people covered by at least one operator; "
             f"mean busy-hour download over all users on their own operator {r['mean_user_mbps']:.1f} Mb/s, "
             f"{r['pct_users_ge_target']:.1f} % of users at >= {r['target_mbps']:.0f} Mb/s")


def _write_fiber(res: Results, out: Path) -> None:
    from .. import fiber

    fib = res.require("fiber")
    fiber.write_outputs(fib, out / "fiber", overwrite=True)
    p = fib.province.iloc[0]
    echo(f"  households within reach of fiber: {p['pct_reachable']:.1f} % "
         f"(drop limit {res.parameters['fiber'].drop_limit_m:g} m); hamlets reached: "
         f"{int(p['hamlets_reached'])} of {int(p['hamlets'])}")


def _write_sharing(res: Results, out: Path) -> None:
    from .. import sharing

    shr = res.require("sharing")
    sharing.write_outputs(shr, out / "sharing", overwrite=True)
    for line in sharing.summary_text(shr.summary).splitlines():
        echo(f"  {line}")


def _write_scorecard(res: Results, out: Path) -> None:
    from .. import targets

    sc = res.require("scorecard")
    targets.write_scorecard(sc, out / "scorecard", overwrite=True)
    echo(sc.province()["status"].value_counts().rename_axis("province status").to_string())


def _write_sensitivity(res: Results, out: Path) -> None:
    from .. import sensitivity

    tab = res.require("sensitivity")
    sensitivity.write_outputs(tab, out / "sensitivity", overwrite=True)
    base = tab.iloc[0]
    for _, r in tab.iloc[1:].iterrows():
        moved = ", ".join(f"{col.split('_')[0].upper()} {r[col]:.1f} ({r[f'{col}_change']:+.1f})"
                          for col in ("m1_mbps", "m2_mbps", "m3_pct") if r[col] == r[col])
        echo(f"  {r['scenario']} {r['value']}: {moved}")
    echo(f"  (base: M1 {base['m1_mbps']:.1f} Mb/s, M2 {base['m2_mbps']:.1f} Mb/s, M3 {base['m3_pct']:.1f} %; "
         f"{tab.attrs.get('seconds', float('nan')):.1f} s)")


def _write_plan(res: Results, out: Path) -> None:
    from ..planning import outputs

    p = res.require("plan")
    outputs.write_outputs(p, out / "plan", overwrite=True)
    for line in outputs.summary_lines(p)[2:]:
        if line.startswith(("## By", "- ")):
            echo(f"  {line.removeprefix('## ')}")


_WRITERS = {"coverage": _write_coverage, "fiber": _write_fiber, "sharing": _write_sharing, "scorecard": _write_scorecard,
            "sensitivity": _write_sensitivity, "plan": _write_plan}

#: The jobs the demo runs beyond :data:`ictplan.workflow.JOBS`: the sensitivity table and the plan
#: (what to build by 2025 and 2030, re-run through the scorecard), both optional jobs.
DEMO_JOBS: tuple[str, ...] = ("sensitivity", "plan")


def _write_pages(res: Results, out: Path, lang: str) -> dict[str, Path]:
    """The map and the report of ``res``; one that cannot be made says why (and is left out)."""
    from .. import maps, report

    steps = {
        "map": lambda: maps.save_html(maps.results_map(res, lang=lang), out / "map.html", overwrite=True),
        "report": lambda: report.save(report.build(res, lang=lang), out / f"report_{lang}.html", overwrite=True),
        # a QGIS project of the outputs just written, styled like the map (None: no output to show)
        "qgis": lambda: maps.write_qgis_project(out, crs=res.study.crs, lang=lang, overwrite=True),
    }
    paths: dict[str, Path] = {}
    for name, make in steps.items():
        t0 = time.perf_counter()
        try:
            path = make()
        except IctplanError as err:
            echo(f"\n[{name}] could not be made: {err}")
            continue
        if path is not None:
            paths[name] = path
            echo(f"\n[{name}] done in {time.perf_counter() - t0:.1f} s")
    return paths


@cli.command()
@study_arg
@out_opt
@overwrite_opt
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True, help="Language of the map and report.")
@click.option("--drop-limit-m", type=float, default=None,
              help="Fiber reach: longest drop to fiber access "
                   f"(default: the study's [parameters.fiber], else {FIBER.drop_limit_m:g}).")
def demo(study: Path, out: Path, overwrite: bool, lang: str, drop_limit_m: float | None) -> None:
    """The main job: check every layer, run every analysis once, write tables, maps, scorecard and report."""
    from .. import study as _study
    from .. import workflow

    t_start = time.perf_counter()
    s = _study.load(study)
    echo(f"Study: {s.name}  ({s.root})")
    out = out_dir(out, overwrite)
    layers_ok = _print_checks(s.check())
    if not layers_ok:
        echo("\nSome layers failed to load (see above): the jobs that need them are skipped.")
    try:
        _print_summary(s, out)
    except IctplanError as err:
        echo(f"\nNo district summary: {err}")
    res = run_jobs(s, (*workflow.JOBS, *DEMO_JOBS), steps=True, fiber={"drop_limit_m": drop_limit_m},
                   plan={"variant_dir": str(out / "plan" / "variants")})
    for job in res.ran:
        echo(f"\n{job}:")
        _WRITERS[job](res, out)
    pages = _write_pages(res, out, lang)
    skipped = f"; skipped: {', '.join(res.skipped)}" if res.skipped else ""
    echo(f"\nDone in {time.perf_counter() - t_start:.1f} s. Ran: {', '.join(res.ran)}{skipped}. "
         f"Outputs in {out}/ ({', '.join(f'{j}/' for j in res.ran)}).")
    for name, path in pages.items():
        if name == "qgis":
            echo(f"Open in QGIS:    {path.resolve()}")
        else:
            echo(f"Open the {name}:{' ' * (7 - len(name))}file://{path.resolve()}")
    if not layers_ok or not {"map", "report"} <= set(pages):
        raise IctplanError("some layers failed to load or a page could not be made (see above); fix them and run again.")
