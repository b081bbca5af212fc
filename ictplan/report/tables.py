"""Tables and charts for the report: the plan's scorecard per level, scorecards given as
tables, bar charts (PNG), the data sources and how each indicator was measured."""

from __future__ import annotations

import datetime as _dt
import io as _pyio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import IctplanError, MissingColumnError
from .dates import data_date
from .numbers import number
from .text import _COLUMNS, _label, _t

if TYPE_CHECKING:  # pragma: no cover
    from ..study import Study

_STATUS_MARK = {"met": "✓", "not met": "✗", "no data": "?", "not applicable": ""}
STATUS_TEXT = {"vi": {"met": "đạt", "not met": "chưa đạt", "no data": "chưa có dữ liệu", "not applicable": "không áp dụng"},
               "en": {"met": "met", "not met": "not met", "no data": "no data", "not applicable": "not applicable"}}
STATUS_CLASS = {"met": "st-met", "not met": "st-not", "no data": "st-nodata", "not applicable": "st-na"}
_CMP = {">=": "≥", ">": ">", "<=": "≤", "==": "="}


def _short(v: Any, unit: str, lang: str = "en") -> str:
    """A matrix cell: the value, short (no unit: the column says it)."""
    if v is None or (isinstance(v, float) and np.isnan(v)) or pd.isna(v):
        return ""
    x = float(v)
    if unit == "%" or abs(x) >= 100 or x.is_integer() or round(x, 1).is_integer():
        return number(x, lang, digits=0)
    return number(x, lang, digits=1)


def plan_tables(sc: Any, /, *, lang: str = "vi") -> dict[str, pd.DataFrame]:
    """A :class:`ictplan.targets.Scorecard` as province / districts / communes tables for the report.

    Province: one row per target with the plan's words (in ``lang``), what is measured (a
    short name that tells similar targets apart), value, target and gap, each with its unit
    in ``lang``, and the status. Districts and communes: one row per zone, one column per
    target holding "value unit" and a mark (✓ met, ✗ not met, ? no data).
    """
    from . import findings, words

    _t(lang)
    text = {tg.id: (tg.text_vi if lang == "vi" else tg.text_en) for tg in sc.plan.targets}
    measures = {tg.id: getattr(tg, "measure", "") for tg in sc.plan.targets}
    prov = sc.province()
    head = {"vi": ["Chỉ tiêu", "Năm", "Nội dung", "Đo bằng", "Giá trị", "Mục tiêu", "Tình trạng", "Còn thiếu"],
            "en": ["Target", "Year", "Plan text", "Measured as", "Value", "Target value", "Status", "Gap"]}[lang]
    rec = prov.to_dict("records")
    gap_unit = prov["gap_unit"] if "gap_unit" in prov.columns else prov["unit"]
    p = pd.DataFrame({
        head[0]: prov["target_id"], head[1]: prov["year"], head[2]: prov["target_id"].map(text),
        head[3]: [words.name(str(r.get("indicator", "")), lang)
                  + (" (" + words.measure("proxy", lang) + ")" if measures.get(r["target_id"]) == "proxy" else "")
                  for r in rec],
        head[4]: [findings._value(r.get("value"), r.get("unit"), lang) if pd.notna(r.get("value")) else "" for r in rec],
        head[5]: [f"{_CMP.get(str(r.get('comparison')), '')} {findings._value(r.get('threshold'), r.get('unit'), lang)}".strip()
                  if pd.notna(r.get("threshold")) else "" for r in rec],
        head[6]: prov["status"].map(lambda v: f"{_STATUS_MARK.get(v, '')} {STATUS_TEXT[lang].get(v, v)}".strip()),
        head[7]: [findings._value(r.get("gap"), gu if isinstance(gu, str) and gu else r.get("unit"), lang)
                  if r.get("status") == "not met" and pd.notna(r.get("gap")) else ""
                  for r, gu in zip(rec, gap_unit, strict=True)],
    }).set_index(head[0])
    out = {"province": p}

    def cell(row: Mapping[str, Any]) -> str:
        v = row["value"]
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return _STATUS_MARK.get(row["status"], "")
        num = number(v, lang, digits=1 if abs(float(v)) < 1000 else 0)
        return f"{num} {words.unit(row['unit'], lang)} {_STATUS_MARK.get(row['status'], '')}".replace("  ", " ").strip()

    for key, wide in _wide(sc).items():
        out[key] = wide.map(lambda r: "" if r is None else cell(r))
    return out


def _wide(sc: Any) -> dict[str, pd.DataFrame]:
    """Per level (districts, communes): zones × measurable targets, each cell the scorecard row (a dict)."""
    t = sc.table
    out = {}
    ids = [tg.id for tg in sc.plan.targets if not tg.is_policy]
    for level, key in (("district", "districts"), ("commune", "communes")):
        sub = t[(t["level"] == level) & (t["target_id"].isin(ids))]
        if not len(sub):
            continue
        zones = sub.drop_duplicates("zone_code")[["zone_code", "zone_name"]]
        cells = {(r["zone_code"], r["target_id"]): r for r in sub.to_dict("records")}
        cols = [i for i in ids if i in set(sub["target_id"])]
        wide = pd.DataFrame({c: [cells.get((z, c)) for z in zones["zone_code"]] for c in cols},
                            index=pd.Index(zones["zone_name"].to_numpy(), name=None), dtype=object)
        out[key] = wide
    return out


def plan_matrix(sc: Any, /, *, lang: str = "vi") -> dict[str, dict[str, Any]]:
    """The district and commune scorecards as colour-coded matrices (target × zone).

    Per level: ``head`` (target id, unit, what it measures -- the column's tooltip) and
    ``rows`` (zone name, then per target the short value, the status class and a tooltip
    "value unit: status"). Policies are not columns.
    """
    from . import words

    _t(lang)
    ind = {tg.id: tg for tg in sc.plan.targets}
    out = {}
    for key, wide in _wide(sc).items():
        head = []
        for c in wide.columns:
            tg = ind[c]
            u = words.unit(tg.unit, lang)
            head.append({"id": c, "unit": u, "title": f"{c}: {words.name(tg.indicator, lang)} ({u})"})
        rows = []
        for zone, rec in zip(wide.index, wide.itertuples(index=False, name=None), strict=True):
            cells = []
            for c, r in zip(wide.columns, rec, strict=True):
                if r is None:
                    cells.append({"text": "", "cls": "st-na", "title": ""})
                    continue
                st = str(r["status"])
                val = _short(r["value"], str(r["unit"]), lang)
                tip = f"{c} · {zone}: {val} {words.unit(r['unit'], lang)} · {STATUS_TEXT[lang].get(st, st)}"
                cells.append({"text": val if val else _STATUS_MARK.get(st, ""), "cls": STATUS_CLASS.get(st, "st-na"), "title": tip})
            rows.append({"zone": str(zone), "cells": cells})
        out[key] = {"head": head, "rows": rows}
    return out


def split_levels(scorecard: pd.DataFrame | Mapping[str, pd.DataFrame], /) -> dict[str, pd.DataFrame]:
    """A scorecard as ``{"province", "districts", "communes"}`` tables.

    Accepts a mapping with those keys (``district``/``commune`` also accepted), or one
    DataFrame with a ``level`` column holding province / district / commune.

    Raises
    ------
    MissingColumnError
        A single DataFrame without a ``level`` column.
    """
    aliases = {"province": "province", "provinces": "province", "district": "districts", "districts": "districts",
               "commune": "communes", "communes": "communes"}
    if isinstance(scorecard, Mapping):
        return {aliases.get(str(k), str(k)): v for k, v in scorecard.items() if v is not None}
    if "level" not in scorecard.columns:
        msg = f"a scorecard DataFrame needs a `level` column (province/district/commune); it has {list(scorecard.columns)}."
        raise MissingColumnError(msg)
    out = {}
    for lvl, t in scorecard.groupby("level", sort=False):
        out[aliases.get(str(lvl).lower(), str(lvl))] = t.drop(columns="level")
    return out


# --------------------------------------------------------------------------- charts
_CHART_ORDER = ("pct_4g_covered", "pct_5g_covered", "pct_fiber_reachable", "density_per_km2", "sites_per_10k",
                "missing_fiber_km", "fiber_km", "pop2019")

def _png(fig) -> bytes:
    buf = _pyio.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def charts(districts: pd.DataFrame, /, *, lang: str = "vi", columns: Sequence[str] | None = None,
           max_charts: int = 6, by: str = "districts") -> list[tuple[str, bytes]]:
    """Horizontal bar charts of ``districts`` columns (one per numeric column), as PNG bytes.

    ``by="communes"`` titles them per commune (a study without districts charts its
    communes). Returns ``[(title, png_bytes), ...]``; the title is in ``lang``.

    Raises
    ------
    InputValidationError
        Unknown ``lang``.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    T = _t(lang)
    if columns is None:  # the most telling first, then any other numeric column
        columns = [c for c in _CHART_ORDER if c in districts.columns] + [c for c in districts.columns if c not in _CHART_ORDER]
    num = [c for c in columns if c in districts.columns and pd.api.types.is_numeric_dtype(districts[c])
           and not pd.api.types.is_bool_dtype(districts[c])]
    out = []
    for col in num[:max_charts]:
        s = pd.to_numeric(districts[col], errors="coerce").astype("float64").sort_values()
        if not np.isfinite(s.to_numpy()).any():
            continue
        title = f"{_label(col, lang)} — {T['by_commune' if by == 'communes' else 'by_district']}"
        fig, ax = plt.subplots(figsize=(6.4, (0.22 if len(s) > 30 else 0.35) * len(s) + 1.0))
        ax.barh([str(i) for i in s.index], s.to_numpy(), color="#2b83ba")
        ax.set_title(title, fontsize=11)
        ax.grid(axis="x", alpha=0.3)
        for y, v in enumerate(s.to_numpy()):
            if np.isfinite(v):
                ax.text(v, y, " " + number(v, lang), va="center", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        out.append((title, _png(fig)))
        plt.close(fig)
    return out


# --------------------------------------------------------------------------- sources, methods
def sources(study: Study, /, *, count: bool = True) -> pd.DataFrame:
    """Each of the study's layers: file, layer, features (``count``: loads each layer), the data's own
    date (:func:`.dates.data_date`: study.toml's ``date``, or one the data carries) and the file's date (UTC)."""
    rows = []
    for name, spec in study.layer_specs.items():
        path = Path(study.root) / spec["path"]
        try:
            mtime = _dt.datetime.fromtimestamp(path.stat().st_mtime, tz=_dt.UTC).date().isoformat()
        except OSError:
            mtime = ""
        n, obj = None, None
        if count and name not in ("population", "landcover", "elevation"):
            try:
                obj = study.layer(name)
                n = len(obj)
            except IctplanError:
                n = None
        rows.append({"layer": name, "file": spec["path"] + (f" : {spec['layer']}" if "layer" in spec else ""),
                     "features": n, "date": data_date(Path(study.root), spec, obj), "modified": mtime})
    out = pd.DataFrame(rows, columns=["layer", "file", "features", "date", "modified"])
    out["features"] = out["features"].astype("Int64")
    return out


def methods(columns: Sequence[str], /, *, lang: str = "vi", notes: Mapping[str, str] | None = None) -> pd.DataFrame:
    """How each indicator in ``columns`` was measured, in ``lang`` (``notes`` adds or overrides)."""
    _t(lang)
    notes = dict(notes or {})
    rows = []
    for col in dict.fromkeys(columns):
        if col in notes:
            rows.append({"indicator": _label(col, lang), "how": notes[col]})
        elif col in _COLUMNS and _COLUMNS[col][2]:
            c = _COLUMNS[col]
            rows.append({"indicator": c[0] if lang == "vi" else c[1], "how": c[2] if lang == "vi" else c[3]})
    return pd.DataFrame(rows, columns=["indicator", "how"])
