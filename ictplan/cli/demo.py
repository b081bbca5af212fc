"""``ictplan demo``: check every layer, run every analysis once, write tables, maps, scorecard and report."""

from __future__ import annotations

import time
from pathlib import Path

import click

from .._errors import IctplanError
from ._main import _print_checks, cli, echo, out_dir, out_opt, overwrite_opt, progress, study_arg


def district_summary(s) -> object:
    """Communes, people, households, hamlets, sites and fiber km per district (a DataFrame)."""
    import pandas as pd

    communes = s.layer("communes")
    by = communes.groupby("district_name").agg(communes=("commune_code", "count"), pop2019=("pop2019", "sum"), hh2019=("hh2019", "sum"))
    code_to_district = communes.set_index("commune_code")["district_name"]
    if s.has("hamlets"):
        h = s.layer("hamlets")
        by["hamlets"] = h["commune_code"].map(code_to_district).value_counts()
    work = s.layer_in_crs("communes")[["district_name", "geometry"]]
    if s.has("sites"):
        sites = s.layer_in_crs("sites").drop_duplicates(["site_id", "technology"])
        j = sites.sjoin(work, predicate="within", how="left")
        for tech in ("4G", "5G"):
            by[f"sites_{tech}"] = j[j["technology"] == tech]["district_name"].value_counts()
    if s.has("fiber_routes"):
        import geopandas as gpd

        routes = s.layer_in_crs("fiber_routes")[["geometry"]]
        pieces = gpd.overlay(routes, work, how="intersection", keep_geom_type=True)
        by["fiber_km"] = (pieces.assign(km=pieces.length / 1000).groupby("district_name")["km"].sum()).round(1)
    by = by.fillna(0)
    by = by.astype({c: int for c in by.columns if c != "fiber_km"})
    total = pd.DataFrame(by.sum(numeric_only=True)).T
    total.index = ["Tỉnh (province)"]
    out = pd.concat([by, total])
    return out.astype({c: int for c in out.columns if c != "fiber_km"})


@cli.command()
@study_arg
@out_opt
@overwrite_opt
@click.option("--lang", type=click.Choice(["vi", "en"]), default="vi", show_default=True, help="Language of the map and report.")
def demo(study: Path, out: Path, overwrite: bool, lang: str) -> None:
    """The main job: check every layer, run every analysis once, write tables, maps, scorecard and report."""
    import pandas as pd

    from .. import coverage, fiber, maps, report, sharing, targets
    from .. import io as _io
    from .. import study as _study

    t_start = time.perf_counter()
    s = _study.load(study)
    echo(f"Study: {s.name}  ({s.root})")
    out = out_dir(out, overwrite)
    if not _print_checks(s.check()):
        raise IctplanError("some layers failed to load (see above); fix them and run again.")
    echo("\nPer district:")
    summary = district_summary(s)
    with pd.option_context("display.width", 160, "display.max_columns", 20):
        echo(summary.to_string())
    _io.write_table(summary.reset_index(names="district_name"), out / "district_summary.csv", overwrite=True)

    def step(label, fn):
        t0 = time.perf_counter()
        echo(f"\n[{label}] ...")
        res = fn()
        echo(f"[{label}] done in {time.perf_counter() - t0:.1f} s")
        return res

    cov = step("coverage", lambda: coverage.run(s, progress=progress()))
    coverage.write_outputs(cov, out / "coverage", overwrite=True)
    t = cov.table
    for _, r in t[(t["level"] == "province") & (t["operator"] == "any")].iterrows():
        echo(f"  {r['technology']} (any operator): {r['pct_covered']:.1f} % of people covered, "
             f"mean {r['mean_tput_mbps']:.0f} Mb/s, {r['pct_ge_target']:.1f} % at >= {r['target_mbps']:.0f} Mb/s")
    fib = step("fiber", lambda: fiber.run(s))
    fiber.write_outputs(fib, out / "fiber", overwrite=True)
    p = fib.province.iloc[0]
    echo(f"  households within reach of fiber: {p['pct_reachable']:.1f} %; hamlets reached: "
         f"{int(p['hamlets_reached'])} of {int(p['hamlets'])}")
    shr = step("sharing", lambda: sharing.run(s))
    sharing.write_outputs(shr, out / "sharing", overwrite=True)
    for line in sharing.summary_text(shr.summary).splitlines():
        echo(f"  {line}")
    sc = step("scorecard", lambda: targets.scorecard(s, coverage_result=cov, fiber_result=fib, sharing_result=shr))
    targets.write_scorecard(sc, out / "scorecard", overwrite=True)
    prov = sc.province()
    echo(prov["status"].value_counts().rename_axis("province status").to_string())

    def make_map():
        layers = maps.result_layers(s, coverage=cov, fiber=fib, sharing=shr, lang=lang, run=False)
        return maps.save_html(maps.study_map(s, lang=lang, **layers), out / "map.html", overwrite=True)

    map_path = step("map", make_map)
    report_path = step("report", lambda: report.save(
        report.build(s, lang=lang, scorecard=sc, coverage=cov, fiber=fib, sharing=shr), out / f"report_{lang}.html", overwrite=True))
    echo(f"\nDone in {time.perf_counter() - t_start:.1f} s. Outputs in {out}/ (coverage/, fiber/, sharing/, scorecard/).")
    echo(f"Open the report: file://{report_path.resolve()}")
    echo(f"Open the map:    file://{map_path.resolve()}")
