"""``ictplan units NAME`` (look a unit up) and ``ictplan crosswalk TABLE`` (move a per-commune
table between the old and the new units), issue 14."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .._errors import AmbiguousNameError, InputValidationError, UnitLookupError
from ._main import cli, echo

if TYPE_CHECKING:  # pragma: no cover
    from ..coverage import CoverageResult
    from ..study import Study
    from ..targets import Scorecard
    from ..workflow import Results

_RATIO = re.compile(r"^\s*([^=]+?)\s*=\s*([^/]+?)\s*/\s*([^*]+?)\s*(?:\*\s*([0-9.eE+-]+))?\s*$")


@cli.command()
@click.argument("query")
@click.option("--units", "units", type=click.Choice(["old", "new"]), default="old", show_default=True,
              help="old: GSO list of 1 May 2024; new: the units since 1 July 2025.")
@click.option("--province", default=None, help="Narrow to a province (name or code).")
@click.option("--district", default=None, help="Narrow to a district (name or code; old units only).")
def units(query: str, units: str, province: str | None, district: str | None) -> None:
    """Find a commune-level unit by name (with or without diacritics and type) or GSO code.

    An ambiguous name lists every candidate and exits 1; ictplan never guesses."""
    from .. import admin

    try:
        u = admin.lookup(query, units=units, province=province, district=district)
    except AmbiguousNameError as e:
        echo(str(e).split(": ")[0] + ":", err=True)
        for c in e.candidates:
            echo(f"  {c.label()}", err=True)
        raise SystemExit(1) from None
    except UnitLookupError as e:
        echo(str(e), err=True)
        raise SystemExit(1) from None
    echo(u.label())
    echo(f"  type {u.kind}; {units} units")
    if u.formed_from:
        old = admin.units_table("old").set_index("code")["name"]
        echo("  formed from: " + ", ".join(f"{old.get(c, '?')} ({c})" for c in u.formed_from))


def _ratios(specs: tuple[str, ...]) -> dict[str, tuple[str, str, float]]:
    out = {}
    for s in specs:
        m = _RATIO.match(s)
        if not m:
            raise InputValidationError(f"--ratio {s!r}: write OUT=NUMERATOR/DENOMINATOR or OUT=NUM/DEN*100.")
        out[m.group(1)] = (m.group(2), m.group(3), float(m.group(4)) if m.group(4) else 1.0)
    return out


@cli.command()
@click.argument("table", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--to", "to", type=click.Choice(["new", "old"]), default="new", show_default=True,
              help="Direction: old communes → new units, or back.")
@click.option("--study", "study", type=click.Path(path_type=Path), default=None,
              help="Weigh split communes by this study's communes and population raster (default: both "
                   "provinces' units approximated from their points, people from WorldPop 2020; labelled).")
@click.option("--weight", type=click.Choice(["population", "area"]), default="population", show_default=True)
@click.option("--code", "code", default="commune_code", show_default=True, help="The table's GSO code column.")
@click.option("--count", "counts", multiple=True, help="A count column to move (default: every numeric column).")
@click.option("--integer", "integer", multiple=True, help="A count column of whole numbers (kept whole, exactly).")
@click.option("--ratio", "ratios", multiple=True,
              help="A share or mean re-derived after the move: OUT=NUM/DEN or OUT=NUM/DEN*100.")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="Output CSV.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
def crosswalk(table: Path, to: str, study: Path | None, weight: str, code: str, counts: tuple[str, ...],
              integer: tuple[str, ...], ratios: tuple[str, ...], out: Path, overwrite: bool) -> None:
    """Move a per-commune CSV between the old (pre-1 July 2025) and the new units, totals kept.

    Writes OUT and OUT's stem + ``.weights.csv`` (every pair, its weight and source)."""
    import pandas as pd

    from .. import admin, io
    from .. import study as _study

    df = pd.read_csv(table, dtype={code: str}, encoding="utf-8")
    rat = _ratios(ratios)
    if study is not None:
        s = _study.load(study)
        cw = admin.crosswalk(s.layer_in_crs("communes"), population=s.population if weight == "population" else None,
                             weight=weight)
    else:
        cw = admin.crosswalk()
    move = cw.to_new if to == "new" else cw.to_old
    res = move(df, code=code, counts=list(counts) or None, ratios=rat, integer=integer)
    io.write_table(res, out, overwrite=overwrite)
    wpath = io.write_table(cw.pairs, out.with_name(out.stem + ".weights.csv"), overwrite=overwrite)
    n_split = int((cw.pairs["n_new"] > 1).sum())
    echo(f"{len(df)} rows → {len(res)} {to} units ({cw.weight}; {n_split} pairs of split communes). "
         f"Wrote {out} and {wpath}.")
    for c in res.columns:
        if c in df.columns and c != code and pd.api.types.is_numeric_dtype(res[c]) and c not in rat:
            echo(f"  {c}: total {df[c].sum():,.6g} → {res[c].sum():,.6g}")


def write_in_new_units(s: Study, sc: Scorecard, out: Path, *, coverage: CoverageResult | None = None) -> dict[str, Path]:
    """For ``ictplan scorecard --units new``: the scorecard in the new units (``out/units_new/``),
    the province side by side (``scorecard_units_side_by_side.csv``) and the crosswalk's weights.
    With the coverage result, the grid indicators are measured with the new units' zone weights."""
    from .. import io
    from .. import targets as _targets
    from ..admin import studies

    cw = studies.study_crosswalk(s)
    pop = s.population if coverage is not None else None
    scn = studies.scorecard_in_new_units(sc, cw, coverage=coverage, population=pop)
    paths = {f"new_{k}": v for k, v in _targets.write_scorecard(scn, out / "units_new", overwrite=True).items()}
    side = studies.units_side_by_side(sc, scn)
    paths["units_side_by_side"] = io.write_table(side, out / "scorecard_units_side_by_side.csv", overwrite=True)
    paths["crosswalk_weights"] = io.write_table(cw.pairs, out / "units_new" / "crosswalk_weights.csv", overwrite=True)
    n_old, n_new = int(side["communes_old"].iloc[0]), int(side["units_new"].iloc[0])
    same = int(side["same_total"].sum())
    echo(f"\nIn the new units (since 1 July 2025): {n_old} old communes → {n_new} new units; "
         f"{same} of {len(side)} targets keep their totals exactly; "
         f"{int((cw.pairs['n_new'] > 1).sum())} pairs of split communes weighted by {cw.weight}.")
    com = scn.table[(scn.table["level"] == "commune") & scn.table["status"].isin(["met", "not met"])]
    counts = com.groupby(["target_id", "status"]).size().unstack(fill_value=0)
    for tid in [t for t in side["target_id"] if t in counts.index][:40]:
        r = counts.loc[tid]
        echo(f"  {tid:<3} new units met {int(r.get('met', 0)):>3}, not met {int(r.get('not met', 0)):>3}")
    return paths


def write_coverage_in_new_units(s: Study, result: CoverageResult, out: Path) -> Path:
    """For ``ictplan coverage --units new``: ``out/units_new/coverage_communes.csv``."""
    from .. import io
    from ..admin import studies

    polys = studies.new_unit_polygons(s.layer_in_crs("communes"))
    tab = studies.coverage_in_new_units(result, s.population, polys)
    (out / "units_new").mkdir(parents=True, exist_ok=True)
    path = io.write_table(tab, out / "units_new" / "coverage_communes.csv", overwrite=True)
    echo(f"\nIn the {len(polys)} new units (since 1 July 2025; approximate polygons from the old communes): {path}")
    return path


def write_fiber_in_new_units(s: Study, communes: object, out: Path) -> Path:
    """For ``ictplan fiber --units new``: ``out/units_new/fiber_communes.csv`` (crosswalk)."""
    import pandas as pd

    from .. import io
    from ..admin import studies

    cw = studies.study_crosswalk(s)
    tab = studies.fiber_in_new_units(pd.DataFrame(communes), cw)
    (out / "units_new").mkdir(parents=True, exist_ok=True)
    path = io.write_table(tab, out / "units_new" / "fiber_communes.csv", overwrite=True)
    echo(f"\nIn the {len(tab)} new units (since 1 July 2025; crosswalk, {cw.weight}): {path}")
    return path


def write_study_units(res: Results, out: Path) -> dict[str, Path]:
    """For a study reported in the new units (``[study] units = "2025"``): the territory, the
    side-by-side table and the crosswalk's weights; the scorecard in the old units
    (``units_old/``); for a study of parts, each part's scorecard in the new units (``parts/<n>/``)."""
    from .. import io
    from .. import targets as _targets
    from ..admin.inunits import territory

    paths: dict[str, Path] = {}
    echo(f"\n{territory(res, 'en')}.")
    if res.side_by_side is not None:
        side = res.side_by_side
        paths["units_side_by_side"] = io.write_table(side, out / "scorecard_units_side_by_side.csv", overwrite=True)
        echo(f"Old communes → new units: {int(side['communes_old'].iloc[0])} → {int(side['units_new'].iloc[0])}; "
             f"{int(side['same_total'].sum())} of {len(side)} targets keep their totals exactly.")
    if res.crosswalk is not None:
        paths["crosswalk_weights"] = io.write_table(res.crosswalk.pairs, out / "crosswalk_weights.csv", overwrite=True)
    if res.old_units is not None and res.old_units.scorecard is not None:
        old = _targets.write_scorecard(res.old_units.scorecard, out / "units_old", overwrite=True)
        paths.update({f"old_{k}": v for k, v in old.items()})
    for i, part in enumerate(res.parts, 1):
        if part.scorecard is None:
            continue
        sub = out / "parts" / f"{i}"
        paths.update({f"part{i}_{k}": v for k, v in _targets.write_scorecard(part.scorecard, sub, overwrite=True).items()})
        paths.update({f"part{i}_{k}": v for k, v in write_study_units(part, sub).items()})
        echo(f"  part {i}: {part.old_units.study.name if part.old_units is not None else part.study.name} → {sub}")
    return paths
