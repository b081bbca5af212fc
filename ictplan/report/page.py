"""The page: the context each part of the template needs, rendered by jinja2 with
autoescape from ``ictplan/templates/report.html.j2``; and writing it."""

from __future__ import annotations

import base64
import datetime as _dt
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import numpy as np
import pandas as pd

from .._errors import IctplanError, InputValidationError
from ..io import read_toml
from ..study import DEFAULT_UNITS
from . import findings as _fnd
from . import mobile as _mobile
from . import plan_section as _plan
from . import skipped as _skipped
from . import units as _units
from . import words
from .figures import _coverage_rows, add_people, key_figures, result_figures
from .numbers import number
from .tables import charts, methods, plan_matrix, plan_tables, sources, split_levels
from .text import LAYERS, LEVELS, _label, _t

if TYPE_CHECKING:  # pragma: no cover
    from ..study import Study
    from ..targets import Scorecard
    from ..workflow import Results

@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("ictplan", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _cell(v: Any, years: bool, lang: str = "en") -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if isinstance(v, float | np.floating):
        x = float(v)
        return number(x, lang, digits=1 if abs(x) < 1000 else 0)
    if isinstance(v, int | np.integer) and not isinstance(v, bool):
        return str(int(v)) if years else number(int(v), lang)
    return str(v)


def _table(df: pd.DataFrame, lang: str, *, classes: str = "data", index: bool = True, labels: bool = True,
           row_classes: Sequence[str] | None = None) -> dict[str, Any]:
    """A DataFrame as the template's table: header labels (in ``lang``) and formatted cells."""
    cols = list(df.columns)
    years = {c: bool(pd.api.types.is_integer_dtype(df[c]) and len(df[c].dropna()) and df[c].dropna().between(1900, 2100).all())
             for c in cols}
    head = [_label(str(c), lang) if labels else str(c) for c in cols]
    rows = []
    for key, rec in zip(df.index, df.itertuples(index=False, name=None), strict=True):
        cells = [_cell(v, years[c], lang) for c, v in zip(cols, rec, strict=True)]
        rows.append([_cell(key, False, lang), *cells] if index else cells)
    return {"classes": classes, "head": ([""] if index else []) + head, "rows": rows, "index": index,
            "row_classes": list(row_classes) if row_classes is not None else [""] * len(rows)}


def _number(v: float, lang: str = "en") -> str:
    return number(v, lang, digits=0 if abs(float(v)) >= 100 or float(v).is_integer() else 1)


_HEADLINE = ("pct_4g_covered", "pct_5g_covered", "pct_fiber_reachable", "missing_fiber_km")


def _kpis(prov: pd.DataFrame | None, sc: Any, T: Mapping[str, str], lang: str) -> list[dict[str, str]]:
    """The headline tiles, read from the province row (and the plan's province statuses);
    each with its column (``key``) and the unrounded figure (``raw``), so a reader or a test
    can trace it to the analyses' province rows."""
    kpis: list[dict[str, str]] = []
    if hasattr(sc, "plan"):
        st = sc.province()["status"]
        met, nm, nd = (int((st == k).sum()) for k in ("met", "not met", "no data"))
        kpis.append({"value": f"{met} / {met + nm + nd}", "key": "targets_met", "raw": str(met), "wide": "wide",
                     "label": T["targets_met"].format(not_met=nm, no_data=nd)})
    if prov is None or not len(prov):
        return kpis
    row = prov.iloc[0]
    order = [c for c in _HEADLINE if c in row.index] + [c for c in row.index if c not in _HEADLINE]
    for col in order:
        v = row[col]
        if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) and pd.notna(v):
            kpis.append({"value": _number(float(v), lang), "label": _label(str(col), lang), "key": str(col),
                         "raw": repr(float(v)), "wide": ""})
    return kpis[:12]


def _figures(results: Results) -> tuple[dict[str, pd.DataFrame], str | None]:
    """Key figures plus the results' columns; people from the population raster where the
    communes carry no census figures (the key into ``_T`` of the note saying so, or None)."""
    from .. import maps as _maps

    study = results.study
    figures = result_figures(key_figures(study), coverage=results.coverage, fiber=results.fiber)
    if "pop2019" in figures["communes"].columns:
        return figures, None
    people, province = None, None
    cov = results.coverage
    if cov is not None and cov.table is not None:
        rows = _coverage_rows(cov, str(cov.table["technology"].iloc[0])) if len(cov.table) else {}
        if rows and len(rows["communes"]):
            people = rows["communes"]["population"]
            province = float(rows["province"]["population"].iloc[0]) if len(rows["province"]) else None
    if people is None:
        try:
            people = _maps.raster_people(study)
        except IctplanError:
            people = None
    if people is None:
        return figures, "no_census"
    return add_people(figures, people, province=province), "no_census_raster"


def _scorecard_tables(sc: Any, figures: dict[str, pd.DataFrame], lang: str) -> tuple[dict[str, pd.DataFrame], str]:
    """The tables shown as the scorecard, and the plan's name ("" without a plan)."""
    if sc is not None and hasattr(sc, "plan") and hasattr(sc, "table"):
        name = sc.plan.name if lang == "vi" else (sc.plan.name_en or sc.plan.name)
        return plan_tables(sc, lang=lang), name
    if sc is not None:
        return split_levels(sc), ""
    return figures, ""


def _sections(tables: dict[str, pd.DataFrame], figures: dict[str, pd.DataFrame], sc: Any, T: Mapping[str, str],
              lang: str) -> list[dict[str, Any]]:
    """The scorecard and key-figure sections; a plan's districts and communes as colour-coded matrices."""
    from .tables import STATUS_CLASS

    plan = hasattr(sc, "plan") and hasattr(sc, "table")
    matrices = plan_matrix(sc, lang=lang) if plan else {}
    sections = [("", tables)] if tables is figures else [("", tables), (T["key_figures"], figures)]
    out = []
    for heading, tabs in sections:
        parts = []
        for key in LEVELS:
            t = tabs.get(key)
            if t is None:
                continue
            if heading == "" and key in matrices:
                parts.append({"title": T[key], "scroll": len(t) > 15, "matrix": matrices[key], "table": None,
                              "anchor": f"sc-{key}"})
                continue
            prov_plan = plan and heading == "" and key == "province"
            rc = [STATUS_CLASS.get(v, "") for v in sc.province()["status"]] if prov_plan else None
            parts.append({"title": T[key], "scroll": len(t) > 15 and not prov_plan, "matrix": None,
                          "anchor": f"{'fig' if heading else 'sc'}-{key}",
                          "table": _table(t, lang, classes="dataframe data plan" if prov_plan else "dataframe data",
                                          row_classes=rc)})
        out.append({"heading": heading, "tables": parts})
    return out


def _charts(figures: dict[str, pd.DataFrame], lang: str, columns: Sequence[str] | None) -> list[tuple[str, str]]:
    by = "districts" if "districts" in figures and len(figures["districts"]) else "communes"
    frame = figures.get(by)
    if frame is None or not len(frame):
        return []
    if by == "communes" and "commune_name" in frame.columns:
        frame = frame.set_index("commune_name")
    return [(title, base64.b64encode(png).decode("ascii")) for title, png in charts(frame, lang=lang, columns=columns, by=by)]


def _default_maps(results: Results, lang: str, T: Mapping[str, str]) -> list[tuple[str, str]]:
    """The overview map and, when fiber ran, the fiber map; as self-contained pages."""
    from .. import maps as _maps

    layers = _maps.result_layers(results, lang=lang)
    out = [(T["overview_map"], _maps.to_html(_maps.study_map(results.study, lang=lang, **layers)))]
    vals = layers.get("values")
    if vals is not None and "pct_fiber_reachable" in vals.columns:
        unreached = [e for e in layers["extra"] if e.get("key") == "unreached_hamlets"]
        fiber_map = _maps.study_map(results.study, lang=lang, layers=("communes", "districts", "fiber_routes"),
                                    values=vals[["pct_fiber_reachable"]], value_labels=layers["value_labels"],
                                    extra=[{**e, "show": True} for e in unreached])
        out.append((T["fiber_map"], _maps.to_html(fiber_map)))
    return out


def _checked_maps(maps: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    from .. import maps as _maps

    for title, page in maps:
        ext = _maps.external_resources(page)
        if ext:
            msg = f"the map {title!r} needs external resources {ext}; build it with ictplan.maps.to_html."
            raise InputValidationError(msg)
    return list(maps)


def _plan_file(study: Study, lang: str) -> tuple[str, str]:
    """The targets file's name and the plan's name in it ("" when there is none)."""
    tp = study.targets_path
    if tp is None or not Path(tp).exists():
        return "", ""
    try:
        plan = read_toml(tp, "targets").get("plan", {})
        pname = plan.get("name" if lang == "vi" else "name_en") or plan.get("name", "")
    except IctplanError:
        pname = ""
    return Path(tp).name, str(pname)


def _methods(tables: Mapping[str, pd.DataFrame], figures: Mapping[str, pd.DataFrame], sc: Any,
             notes: Mapping[str, str] | None, lang: str, parameters: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """How each shown figure is measured: the plan's targets first (what each measures, in
    ``lang``, with the run's parameters), then the key figures' columns."""
    cols: list[str] = []
    for t in list(tables.values()) + list(figures.values()):
        cols.extend(str(c) for c in t.columns if not (hasattr(sc, "plan") and str(c) in sc.plan.ids))
    rows = []
    if hasattr(sc, "plan"):
        from .. import targets as _targets

        desc = _targets.describe_indicators().set_index("indicator")["how"]
        for tg in sc.plan.targets:
            doc = str(desc[tg.indicator]) if tg.indicator in desc.index else ""
            how = (notes or {}).get(tg.id) or words.how(tg.indicator, lang, parameters, doc)
            kind = words.measure(getattr(tg, "measure", ""), lang)
            rows.append({"indicator": f"{tg.id} · {words.name(tg.indicator, lang)}" + (f" ({kind})" if kind else ""),
                         "how": how})
    rest = methods(cols, lang=lang, notes=notes)
    return pd.concat([pd.DataFrame(rows, columns=["indicator", "how"]), rest], ignore_index=True)


def _findings(sc: Any, figures: Mapping[str, pd.DataFrame], lang: str,
              fiber: Any = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if hasattr(sc, "plan") and hasattr(sc, "table"):
        found = _fnd.plan_findings(sc, lang)
        below = _mobile.operators_below(sc, lang)  # M1, M2, M3/X2 judged per operator
        found["operators_below"] = below
        f3 = _fnd.f3_versus_f2(sc, fiber, lang)  # why F3 equals F2, or how far below it is
        found["more"] = ([below] if below else []) + ([f3] if f3 else []) + found["more"]
        return found, _fnd.priority_communes(sc, lang)
    return _fnd.figure_findings(figures.get("province"), lang, no_plan=sc is None), []


def _sources(study: Study, T: Mapping[str, str], lang: str) -> pd.DataFrame:
    src = sources(study)
    src["layer"] = [LAYERS.get(str(n), (str(n), str(n)))[0 if lang == "vi" else 1] for n in src["layer"]]
    return src.rename(columns={"layer": T["layer"], "file": T["file"], "features": T["features"], "date": T["data_date"],
                               "modified": T["modified"]})


def _page_context(results: Results, sc: Any, maps: Sequence[tuple[str, str]] | None, chart_columns: Sequence[str] | None,
                  notes: Mapping[str, str] | None, generated: _dt.date, lang: str) -> dict[str, Any]:
    T = dict(_t(lang))
    study = results.study
    uc = _units.context(results, sc, lang)
    if getattr(results, "units", DEFAULT_UNITS) == "2025":
        T["communes"] = _units.unit_words(lang)["communes_new"]
    figures, people_note = _figures(results)
    tables, plan_name = _scorecard_tables(sc, figures, lang)
    maps = _checked_maps(maps) if maps is not None else _default_maps(results, lang, T)
    targets_file, plan_file_name = _plan_file(study, lang)
    meth = _methods(tables, figures, sc, notes, lang, results.parameters).rename(
        columns={"indicator": T["indicator"], "how": T["how"]})
    province = study.province
    found, priority = _findings(sc, figures, lang, results.fiber)
    plan = _plan.plan_section(getattr(results, "plan", None), lang, today=sc)
    if plan.get("headline"):  # the plan in one sentence on the first screen; the section has the rest
        found = {**found, "more": [plan["headline"], *found.get("more", [])]}
    # a synthetic study is named as sample data in the reader's language, not by its (English) study name
    study_name = T["sample_study"] if study.synthetic and lang == "vi" else study.name
    return {
        "lang": lang, "T": T, "page_title": f"{T['title']} — {province or study_name}", "province": province,
        "study_name": study_name, "generated": generated.isoformat(), "synthetic": study.synthetic,
        "nav": [(a, T[a]) for a in ("findings", "plan", "scorecard", "sensitivity", "charts", "maps", "sources", "methods")],
        "skipped": _skipped.skipped_list(results, T, lang), "detail_label": _skipped.detail_label(lang),
        "notes": [T[people_note]] if people_note else [],
        "findings": found, "priority": priority,
        "plan": plan,
        "kpis": _kpis(figures.get("province"), sc, T, lang),
        "scorecard_note": T["key_figures_note"] if sc is None else "",
        "plan_line": (f"{plan_name}" + (f" — {uc['plan_label']}" if uc["plan_label"] else "") + f". {T['marks']}"
                      if plan_name else ""),
        "territory": uc["territory"], "side_title": uc["side_title"], "side_note": uc["side_note"],
        "side": None if uc["side"] is None else _table(uc["side"], lang, labels=False),
        "sections": _sections(tables, figures, sc, T, lang), "charts": _charts(figures, lang, chart_columns),
        "sensitivity": _mobile.sensitivity_section(getattr(results, "sensitivity", None), lang, sc=sc,
                                                   skipped=results.skipped.get("sensitivity")),
        "maps": maps, "epsg": study.crs.to_epsg(),
        "targets_file": targets_file, "plan_file_name": plan_file_name,
        "sources": _table(_sources(study, T, lang), lang, classes="data text", index=False, labels=False),
        "methods": _table(meth, lang, classes="data text", index=False, labels=False),
    }


def build(
    results: Results,
    /,
    *,
    lang: str = "vi",
    scorecard: Scorecard | pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
    maps: Sequence[tuple[str, str]] | None = None,
    chart_columns: Sequence[str] | None = None,
    notes: Mapping[str, str] | None = None,
    generated: _dt.date | None = None,
) -> str:
    """The report of a workflow's results as one self-contained HTML page.

    Parameters
    ----------
    results
        :class:`ictplan.workflow.Results` (from :func:`ictplan.workflow.run`): the report
        shows what they hold and names the jobs in ``results.skipped`` with the reason.
    lang
        "vi" (default) or "en": every heading and label.
    scorecard
        Shown instead of ``results.scorecard``: a scorecard, or tables per level (see
        :func:`split_levels`). Without either, the key figures (:func:`key_figures`).
    maps
        ``[(title, map_html), ...]`` -- pages from :func:`ictplan.maps.to_html`; ``None``
        makes the study's map with the results' layers in ``lang`` (and the fiber map
        when fiber ran).
    chart_columns
        District (or, without districts, commune) columns to chart (default: the most
        telling numeric ones).
    notes
        Indicator -> how it was measured, added to the methods table.
    generated
        The date printed on the report (default: today).

    Raises
    ------
    InputValidationError
        Unknown ``lang``, or a map needing external resources.
    MissingColumnError
        A scorecard without levels.
    """
    _t(lang)
    sc = scorecard if scorecard is not None else results.scorecard
    ctx = _page_context(results, sc, maps, chart_columns, notes, generated or _dt.date.today(), lang)
    return _env().get_template("report.html.j2").render(**ctx)


def save(page: str, path: str | Path, /, *, overwrite: bool = False) -> Path:
    """Write a report page atomically (UTF-8).

    Raises
    ------
    OutputExistsError
        When ``path`` exists and ``overwrite`` is false.
    """
    from .. import io as _io

    with _io.atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(path)
