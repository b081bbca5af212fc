"""Writers: the scorecard as CSV, GeoPackage and Markdown; the what-if comparison."""

from __future__ import annotations

import math
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import io as _io
from .plan import ZONE_LEVELS

if TYPE_CHECKING:  # pragma: no cover
    from .scoring import Scorecard

__all__ = ["markdown", "write_scorecard", "write_comparison"]


def _fmt(v: Any, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, (int, float, np.floating, np.integer)):
        v = float(v)
        if unit == "%":
            return f"{v:.1f} %"
        if abs(v) >= 100 or v == int(v):
            return f"{v:,.0f}" + (f" {unit}" if unit else "")
        return f"{v:.1f}" + (f" {unit}" if unit else "")
    return str(v)


_ICON = {"met": "✅ met", "not met": "❌ not met", "no data": "… no data", "not applicable": "— n/a"}


def _md_header(sc: Scorecard) -> list[str]:
    plan = sc.plan
    lines = [f"# Scorecard: {plan.name_en or plan.name}", ""]
    if sc.meta.get("study"):
        variant = f" (variant of {sc.meta['variant_of']})" if sc.meta.get("variant_of") else ""
        lines += [f"Study: **{sc.meta['study']}**" + variant, ""]
    lines += [f"Province: {sc.meta.get('province') or plan.province}. Targets: {len(plan.targets)}. "
              "Status: met / not met / no data (the reason says what is missing) / not applicable.", ""]
    if sc.meta.get("plan_applied_to"):
        lines += [f"**Note: {sc.meta['plan_applied_to']}.**", ""]
    return lines


def _md_province(sc: Scorecard) -> list[str]:
    prov = sc.province().set_index("target_id")
    lines = ["## Province", "", "| id | year | target | value | target | status | gap | why / detail |",
             "|---|---|---|---|---|---|---|---|"]
    for t in sc.plan.targets:
        r = prov.loc[t.id]
        thr = "–" if t.threshold is None else f"{t.comparison} {_fmt(t.threshold, t.unit)}"
        gap = "" if pd.isna(r["gap"]) else f"{_fmt(r['gap'])} {r['gap_unit']}"
        below = f"operators below the target: {r['operators_below']}" if r.get("operators_below") else ""
        why = "; ".join(s for s in (str(r["reason"]), str(r["detail"]), below) if s and s != "nan")
        lines.append(f"| {t.id} | {t.year} | {t.text_en} | {_fmt(r['value'], t.unit)} | {thr} | {_ICON[r['status']]} "
                     f"| {gap} | {why} |")
    return lines


def _md_side_by_side(sc: Scorecard) -> list[str]:
    sbs = sc.side_by_side("province")
    yc = [c for c in sbs.columns if c.startswith("target_id_") and c.split("_")[-1] in ("2025", "2030")]
    if len(yc) < 2:
        return []
    y = [c.split("_")[-1] for c in yc]
    lines = ["", "## 2025 and 2030 side by side (province)", "",
             f"| theme | {' | '.join(f'{yy}: id | value | status' for yy in y)} |",
             "|---|" + "---|---|---|" * len(y)]
    for _, r in sbs.iterrows():
        if sum(isinstance(r[c], str) for c in yc) < 2:
            continue
        cells = []
        for yy in y:
            cells += [str(r[f"target_id_{yy}"]) if isinstance(r[f"target_id_{yy}"], str) else "",
                      _fmt(r[f"value_{yy}"], r[f"unit_{yy}"] if isinstance(r[f"unit_{yy}"], str) else ""),
                      _ICON.get(r[f"status_{yy}"], "") if isinstance(r[f"status_{yy}"], str) else ""]
        lines.append(f"| {r['theme']} | " + " | ".join(cells) + " |")
    return lines


def _md_districts(sc: Scorecard) -> list[str]:
    """Value per district and target (status marks)."""
    dis = sc.table[sc.table["level"] == "district"]
    if dis.empty:  # no district level (communes without districts)
        return []
    judged = [t for t in sc.plan.targets if not t.is_policy and t.level != "province"]
    if not (len(dis) and judged):
        return []
    lines = ["", "## Districts", "", "Value per district (✅ met, ❌ not met, … no data, — n/a).", "",
             "| district | " + " | ".join(t.id for t in judged) + " |", "|---|" + "---|" * len(judged)]
    for _code, g in dis.groupby("zone_code", sort=True):
        g = g.set_index("target_id")
        cells = []
        for t in judged:
            r = g.loc[t.id]
            mark = {"met": "✅", "not met": "❌", "no data": "…", "not applicable": "—"}[r["status"]]
            cells.append(f"{mark} {_fmt(r['value'], t.unit)}" if r["status"] in ("met", "not met") else mark)
        lines.append(f"| {g['zone_name'].iloc[0]} | " + " | ".join(cells) + " |")
    return lines


def _md_communes(sc: Scorecard) -> list[str]:
    """The communes furthest behind, per target."""
    com = sc.table[(sc.table["level"] == "commune") & (sc.table["status"] == "not met")]
    if not len(com):
        return []
    lines = ["", "## Communes not meeting targets", "", "| id | communes not met | largest gaps |", "|---|---|---|"]
    for t in sc.plan.targets:
        g = com[com["target_id"] == t.id]
        if not len(g):
            continue
        top = g.sort_values("gap", ascending=False).head(5)
        lst = ", ".join(f"{r.zone_name} ({_fmt(r.gap)} {r.gap_unit})" for r in top.itertuples())
        lines.append(f"| {t.id} | {len(g)} | {lst} |")
    return lines


def _md_hamlets(sc: Scorecard, max_communes: int) -> list[str]:
    uh = sc.details.get("unreached_hamlets")
    if uh is None or not len(uh):
        return []
    lines = ["", f"## Unreached hamlets ({len(uh)}), with the new fiber that would reach them", "",
             "| commune | hamlet | households | missing fiber (m) |", "|---|---|---|---|"]
    names = sc.communes.set_index(sc.communes["commune_code"].astype(str))["commune_name"]
    for r in uh.sort_values("missing_fiber_m", ascending=False).head(max_communes).itertuples():
        lines.append(f"| {names.get(str(r.commune_code), r.commune_code)} | {getattr(r, 'hamlet_name', r.hamlet_code)} | "
                     f"{_fmt(getattr(r, 'households', float('nan')))} | {_fmt(r.missing_fiber_m)} |")
    if len(uh) > max_communes:
        lines.append(f"| … | {len(uh) - max_communes} more in scorecard.csv / the fiber outputs | | |")
    return lines


def _md_sharing_and_no_data(sc: Scorecard) -> list[str]:
    lines: list[str] = []
    shared = sc.meta.get("sharing")
    if isinstance(shared, dict) and shared:
        lines += ["", "## Shared infrastructure (the plan's direction; no numeric target)", ""]
        lines += [f"- {k}: {_fmt(v) if isinstance(v, (int, float)) else v}" for k, v in shared.items()
                  if not isinstance(v, (dict, list))]
    nd = sc.province()
    nd = nd[nd["status"] == "no data"]
    if len(nd):
        lines += ["", "## Not measured, and why", ""]
        lines += [f"- **{r.target_id}**: {r.reason}" for r in nd.itertuples()]
    return lines


def markdown(sc: Scorecard, /, *, max_communes: int = 25) -> str:
    """A Markdown report: the province side by side, districts, the communes furthest behind."""
    lines = (_md_header(sc) + _md_province(sc) + _md_side_by_side(sc) + _md_districts(sc) + _md_communes(sc)
             + _md_hamlets(sc, max_communes) + _md_sharing_and_no_data(sc))
    return "\n".join(lines) + "\n"


def write_scorecard(sc: Scorecard, out_dir: str | Path, /, *, overwrite: bool = False) -> dict[str, Path]:
    """Write the scorecard: CSV (tidy), CSV (2025 | 2030 side by side), GeoPackage, Markdown.

    Parameters
    ----------
    sc
        From :func:`ictplan.targets.run`.
    out_dir
        Output folder (created).
    overwrite
        Replace existing files.

    Returns
    -------
    dict
        ``{"csv", "side_by_side", "gpkg", "markdown"}`` → paths. The GeoPackage holds layer
        ``communes`` (commune polygons with ``<prefix>_value``, ``_status``, ``_gap`` per
        target, for QGIS; the prefix is the id, what is measured and the year, e.g.
        ``M3_people_covered_by_5g_2025``: :func:`field_prefixes`), ``districts``
        (dissolved, same columns) and ``targets``, a table without geometry that gives each
        prefix its target's id, words (vi, en), unit and threshold (:func:`lookup_table`).

    Raises
    ------
    OutputExistsError
        A file exists and ``overwrite`` is false.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "csv": _io.write_table(sc.table, out / "scorecard.csv", overwrite=overwrite),
        "side_by_side": _io.write_table(pd.concat([sc.side_by_side(lv) for lv in ZONE_LEVELS], ignore_index=True),
                                        out / "scorecard_2025_2030.csv", overwrite=overwrite),
    }
    com = sc.communes[["commune_code", "geometry"]].copy()
    com["commune_code"] = com["commune_code"].astype(str)
    wide = sc.wide("commune").rename(columns={"zone_code": "commune_code", "zone_name": "commune_name"})
    gdf = gpd.GeoDataFrame(com.merge(wide, on="commune_code", how="left"), geometry="geometry", crs=sc.communes.crs)
    gpkg = out / "scorecard.gpkg"
    if gpkg.exists() and overwrite:
        gpkg.unlink()
    prefixes = field_prefixes(sc.plan)
    _io.write_layer(readable_fields(gdf, prefixes), gpkg, layer="communes", overwrite=overwrite)
    if (sc.table["level"] == "district").any():
        _write_districts(sc, gpkg, prefixes)
    _write_lookup(sc.plan, prefixes, gpkg)
    paths["gpkg"] = gpkg
    md = out / "scorecard.md"
    with _io.atomic_path(md, overwrite=overwrite) as tmp:
        tmp.write_text(sc.to_markdown(), encoding="utf-8")
    paths["markdown"] = md
    return paths


_SUFFIXES = ("_operators_below", "_value", "_status", "_gap")


def field_prefixes(plan: Any) -> dict[str, str]:
    """Target id -> the readable start of its fields in ``scorecard.gpkg``: the id, what is
    measured and the year (``M3`` -> ``M3_people_covered_by_5g_2025``), so that a QGIS user
    tells the fields apart without the targets file (the ``targets`` table has the rest)."""
    from ..report import words  # the indicators' short English names

    out = {}
    for t in plan.targets:
        ascii_name = unicodedata.normalize("NFKD", words.name(t.indicator, "en")).encode("ascii", "ignore").decode()
        slug = re.sub(r"[^0-9a-z]+", "_", ascii_name.lower()).strip("_")
        while len(slug) > 36 and "_" in slug:  # whole words, short enough to read in a field list
            slug = slug.rsplit("_", 1)[0]
        out[t.id] = "_".join(p for p in (t.id, slug, str(t.year)) if p)
    return out


def readable_fields(frame: pd.DataFrame, prefixes: dict[str, str]) -> pd.DataFrame:
    """``M3_value`` -> ``M3_people_covered_by_5g_2025_value`` (and ``_status``, ``_gap``,
    ``_operators_below``); other columns as they are."""
    names = {}
    for col in frame.columns:
        tid, suffix = next(((str(col)[: -len(x)], x) for x in _SUFFIXES if str(col).endswith(x)), ("", ""))
        if tid in prefixes:
            names[col] = prefixes[tid] + suffix
    return frame.rename(columns=names)


def lookup_table(plan: Any, prefixes: dict[str, str]) -> pd.DataFrame:
    """One row per target: its field prefix in ``scorecard.gpkg``, id, year, what it measures
    (vi, en), the plan's text, unit, comparison, threshold and kind of figure."""
    from ..report import words

    rows = [{"field_prefix": prefixes[t.id], "target_id": t.id, "year": int(t.year), "theme": t.theme,
             "indicator": t.indicator, "name_vi": words.name(t.indicator, "vi"), "name_en": words.name(t.indicator, "en"),
             "text_vi": t.text_vi, "text_en": t.text_en, "unit": t.unit or "", "comparison": t.comparison or "",
             "threshold": float("nan") if t.threshold is None else float(t.threshold), "level": t.level,
             "measure": getattr(t, "measure", "")} for t in plan.targets]
    return pd.DataFrame(rows)


def _write_lookup(plan: Any, prefixes: dict[str, str], gpkg: Path) -> None:
    """The ``targets`` attribute table (no geometry) of the scorecard's GeoPackage."""
    import pyogrio

    with _io.atomic_path(gpkg, overwrite=True, copy_existing=True) as tmp:
        pyogrio.write_dataframe(lookup_table(plan, prefixes), tmp, layer="targets", driver="GPKG")


def _write_districts(sc: Scorecard, gpkg: Path, prefixes: dict[str, str]) -> None:
    """The ``districts`` layer of the scorecard's GeoPackage (communes dissolved)."""
    dgeo = sc.communes.assign(district_code=sc.communes["district_code"].astype(str)).dissolve(by="district_code")[["geometry"]]
    dwide = sc.wide("district").drop(columns=["district_code", "district_name"]).rename(
        columns={"zone_code": "district_code", "zone_name": "district_name"})
    dg = gpd.GeoDataFrame(dgeo.reset_index().merge(dwide, on="district_code", how="left"), geometry="geometry",
                          crs=sc.communes.crs)
    _io.write_layer(readable_fields(dg, prefixes), gpkg, layer="districts", overwrite=True)



def write_comparison(diff: pd.DataFrame, out_dir: str | Path, /, *, overwrite: bool = False) -> dict[str, Path]:
    """Write :func:`ictplan.targets.compare`'s table as CSV and a Markdown summary (province rows + changed counts).

    Raises
    ------
    OutputExistsError
        A file exists and ``overwrite`` is false.
    """
    out = Path(out_dir)
    csv = _io.write_table(diff, out / "scorecard_whatif.csv", overwrite=overwrite)
    prov = diff[diff["level"] == "province"]
    lines = ["# What-if: variant against base", "", "| id | year | base | variant | change | gap closed |",
             "|---|---|---|---|---|---|"]
    for r in prov.itertuples():
        gc = "" if pd.isna(r.gap_closed) else f"{_fmt(r.gap_closed)} {r.gap_unit}"
        lines.append(f"| {r.target_id} | {r.year} | {_fmt(r.value_base, r.unit)} ({r.status_base}) | "
                     f"{_fmt(r.value_variant, r.unit)} ({r.status_variant}) | {r.change} | {gc} |")
    com = diff[diff["level"] == "commune"]
    ch = com.groupby("target_id")["change"].value_counts().unstack(fill_value=0)
    if len(ch):
        lines += ["", "## Communes changed per target", "", "| id | " + " | ".join(ch.columns) + " |",
                  "|---|" + "---|" * len(ch.columns)]
        for tid, r in ch.iterrows():
            lines.append(f"| {tid} | " + " | ".join(str(int(v)) for v in r) + " |")
    md = out / "scorecard_whatif.md"
    with _io.atomic_path(md, overwrite=overwrite) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"csv": csv, "markdown": md}
