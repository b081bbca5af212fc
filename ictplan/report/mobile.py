"""The report's mobile parts (issue 11): the sensitivity of the headline mobile figures, and
the operators below a target judged per operator.

:func:`sensitivity_section` turns :func:`ictplan.sensitivity.table` into the report's small
table, in the reader's language and notation (every number through :mod:`.numbers`), with
one sentence computed from the table: which assumption moves each headline figure (M1, M2,
M3) most, and whether that takes a plan target across its threshold. The table's ``value``
column is English text (``"× 1.5"``, ``"90 % of people indoors"``); the report writes each
scenario's value again in the reader's words from the table's numeric ``setting`` and
``year`` columns (:func:`scenario_value`).

:func:`operators_below` reads the scorecard's province rows ``operators_below`` (M1, M2,
M3/X2: the operators whose own figure misses the target, lowest first) into one sentence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from . import words
from .numbers import number

__all__ = ["FIGURES", "cell", "scenario_value", "most_moving", "sensitivity_section", "operators_below"]

#: The table's figures: (column, indicator of the plan judged on it, vi label, en label, unit).
FIGURES: tuple[tuple[str, str, str, str, str], ...] = (
    ("m1_mbps", "mean_4g_mbps", "M1 · Tốc độ 4G trung bình (Mb/s)", "M1 · Mean 4G speed (Mb/s)", "Mb/s"),
    ("m2_mbps", "mean_5g_mbps", "M2 · Tốc độ 5G trung bình (Mb/s)", "M2 · Mean 5G speed (Mb/s)", "Mb/s"),
    ("m3_pct", "pop_5g_pct", "M3 · Dân số có sóng 5G ngoài trời (%)", "M3 · People within outdoor 5G (%)", "%"),
    ("cov_4g_outdoor_pct", "", "Phủ sóng 4G ngoài trời (%)", "4G outdoor coverage (%)", "%"),
    ("cov_4g_indoor_pct", "", "Phủ sóng 4G trong nhà (%)", "4G indoor coverage (%)", "%"),
    ("cov_5g_indoor_pct", "", "Phủ sóng 5G trong nhà (%)", "5G indoor coverage (%)", "%"),
)
_HEADLINE = ("m1_mbps", "m2_mbps", "m3_pct")

# scenario -> (vi name, en name, vi value, en value); the value's {0}, {1} are the numbers of the
# table's value text, in its order
_SCENARIOS: dict[str, tuple[str, str, str, str]] = {
    "base": ("Như đã chạy", "As run", "xác suất vị trí {0} %, năm {1}", "location probability {0} %, year {1}"),
    "location probability": ("Xác suất vị trí", "Location probability", "{0} %", "{0} %"),
    "indoor share": ("Tỷ lệ người ở trong nhà", "Share of people indoors", "{0} %", "{0} %"),
    "busy-hour demand": ("Nhu cầu giờ cao điểm", "Busy-hour demand", "× {0} ({1})", "× {0} ({1})"),
    "5G uptake": ("Tỷ lệ thuê bao dùng 5G", "5G uptake", "{1} % (mức năm {0})", "{1} % (the {0} level)"),
}

_W = {
    "vi": {
        "heading": "Độ nhạy của các chỉ tiêu di động",
        "intro": "Mỗi dòng thay đổi một giả định so với lần chạy của báo cáo, các giả định khác giữ nguyên; số trong "
                 "ngoặc là mức thay đổi so với dòng đầu. Số liệu toàn tỉnh, cùng định nghĩa với bảng đánh giá chỉ tiêu.",
        "assumption": "Giả định", "value": "Giá trị",
        "not_run": "Phân tích độ nhạy không chạy trong lần lập báo cáo này: chưa có bảng độ nhạy.",
        "skipped": "Phân tích độ nhạy không chạy được (lý do ghi ở đầu báo cáo): chưa có bảng độ nhạy.",
        "note_lp": "Tốc độ (M1, M2) tính với tín hiệu trung vị nên không đổi theo xác suất vị trí.",
        "note_indoor": "Các dòng tỷ lệ người ở trong nhà: M3 và phủ sóng 4G tính cho số người ở trong nhà theo tỷ lệ "
                       "đó (phần còn lại ở ngoài trời); tốc độ chỉ được mô hình hóa ngoài trời nên để trống.",
        "most": "Giả định làm thay đổi các chỉ tiêu chính nhiều nhất: {items}.",
        "item": "với {fig} là {what} {value} ({a} → {b} {unit})",
        "cross_down": ", khi đó {id} không còn đạt mục tiêu {cmp} {thr} {unit}",
        "cross_up": ", khi đó {id} đạt mục tiêu {cmp} {thr} {unit}",
        "none": "Không giả định nào làm thay đổi các chỉ tiêu chính.",
        "op_head": "Đánh giá riêng từng nhà mạng, các nhà mạng chưa đạt mục tiêu (thấp nhất trước): {items}.",
        "op_item": "{id} {name} ({cmp} {thr}): {ops}",
    },
    "en": {
        "heading": "Sensitivity of the mobile indicators",
        "intro": "Each row moves one assumption from the report's run, the others kept; the figure in brackets is the "
                 "change from the first row. Province figures, defined as in the scorecard.",
        "assumption": "Assumption", "value": "Value",
        "not_run": "The sensitivity analysis did not run for this report: there is no sensitivity table.",
        "skipped": "The sensitivity analysis could not run (the reason is at the top of the report): there is no sensitivity table.",
        "note_lp": "Speeds (M1, M2) use the median signal, so they do not move with the location probability.",
        "note_indoor": "Indoor-share rows: M3 and 4G coverage count that share of the people indoors (the rest "
                       "outdoors); speeds are modelled outdoors only, so they are left blank.",
        "most": "What moves the headline figures most: {items}.",
        "item": "for {fig}, the {what} {value} ({a} → {b} {unit})",
        "cross_down": ", which takes {id} below its target of {cmp} {thr} {unit}",
        "cross_up": ", which makes {id} meet its target of {cmp} {thr} {unit}",
        "none": "No assumption moves the headline figures.",
        "op_head": "Judged per operator, the operators below the target (lowest first): {items}.",
        "op_item": "{id} {name} ({cmp} {thr}): {ops}",
    },
}
_CMP = {">=": "≥", ">": ">", "<=": "≤", "==": "="}
_OPS = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b}


def _fmt(v: Any, lang: str) -> str:
    return number(v, lang, digits=1)


def _signed(ch: float, lang: str) -> str:
    return ("+" if ch > 0 else "−") + _fmt(abs(ch), lang)


def cell(value: Any, change: Any, lang: str, *, base: bool = False) -> str:
    """One figure of the table: ``"20,2"`` (the base row, or a change under 0.05), else with
    its change from the base ``"15,3 (−4,9)"``; ``"–"`` where the figure is not computed."""
    v = float(value) if value is not None and not pd.isna(value) else math.nan
    if not math.isfinite(v):
        return "–"
    ch = float(change) if change is not None and not pd.isna(change) else 0.0
    return _fmt(v, lang) if base or abs(ch) < 0.05 else f"{_fmt(v, lang)} ({_signed(ch, lang)})"


def scenario_value(scenario: str, setting: float, year: int, lang: str) -> tuple[str, str]:
    """The scenario's name and its value in ``lang`` from the table's numeric ``setting`` and
    ``year`` (a year without grouping). An unknown scenario keeps its name and shows the setting."""
    spec = _SCENARIOS.get(str(scenario))
    if spec is None:
        return str(scenario), number(setting, lang)
    i = 0 if lang == "vi" else 1
    if scenario == "busy-hour demand":
        args = [number(setting, lang), ("+" if setting >= 1 else "−") + number(abs(setting - 1) * 100, lang) + " %"]
    elif scenario == "5G uptake":
        args = [number(year, lang, grouping=False), number(setting, lang)]
    elif scenario == "base":
        args = [number(setting, lang), number(year, lang, grouping=False)]
    else:
        args = [number(setting, lang)]
    return spec[i], spec[2 + i].format(*args).replace(" %", "\u00a0%")


def _targets(sc: Any, year: int | None) -> dict[str, list[Any]]:
    """Per plan indicator, its measurable targets of ``year`` (every year when ``None``)."""
    out: dict[str, list[Any]] = {}
    plan = getattr(sc, "plan", None)
    for tg in getattr(plan, "targets", ()) or ():
        if getattr(tg, "threshold", None) is None or getattr(tg, "comparison", None) not in _OPS:
            continue
        if year is None or getattr(tg, "year", None) in (None, year):
            out.setdefault(str(tg.indicator), []).append(tg)
    return out


def _crossing(tg: Any, a: float, b: float, lang: str) -> str:
    ok = _OPS[tg.comparison]
    was, now = ok(a, float(tg.threshold)), ok(b, float(tg.threshold))
    if was == now:
        return ""
    key = "cross_down" if was else "cross_up"
    return _W[lang][key].format(id=tg.id, cmp=_CMP[tg.comparison], thr=number(tg.threshold, lang),
                                unit=words.unit(tg.unit, lang)).replace(" %", "\u00a0%").rstrip()


def _year(tab: pd.DataFrame) -> int | None:
    """The run's year (the base row's)."""
    return int(tab["year"].iloc[0]) if "year" in tab and pd.notna(tab["year"].iloc[0]) else None


def most_moving(tab: pd.DataFrame, /) -> dict[str, int]:
    """Per headline figure (M1, M2, M3) that some row moves by 0.05 or more: the position
    (``iloc``) of the row that moves it most (largest absolute change from the base row)."""
    out = {}
    for col in _HEADLINE:
        if f"{col}_change" not in tab.columns or len(tab) < 2:
            continue
        ch = pd.to_numeric(tab[f"{col}_change"].iloc[1:], errors="coerce").abs().reset_index(drop=True)
        if ch.notna().any() and float(ch.max()) >= 0.05:
            out[col] = 1 + int(ch.idxmax())
    return out


def _meaning(tab: pd.DataFrame, sc: Any, lang: str) -> str:
    """One sentence from the table: per headline figure, the row that moves it most (and a
    plan target of the run's year it takes across its threshold)."""
    W = _W[lang]
    targets = _targets(sc, _year(tab))
    spec = {f[0]: f for f in FIGURES}
    items = []
    for col, pos in most_moving(tab).items():
        _, ind, lab_vi, lab_en, unit = spec[col]
        r = tab.iloc[pos]
        a, b = float(tab[col].iloc[0]), float(r[col])
        what, value = scenario_value(str(r["scenario"]), float(r["setting"]), int(r["year"]), lang)
        fig = (lab_vi if lang == "vi" else lab_en).split(" · ")[0]
        text = W["item"].format(fig=fig, what=what[0].lower() + what[1:], value=value.split(" (")[0],
                                a=_fmt(a, lang), b=_fmt(b, lang), unit=unit).replace(" %)", "\u00a0%)")
        text += "".join(_crossing(tg, a, b, lang) for tg in targets.get(ind, ()))
        items.append(text)
    return W["most"].format(items="; ".join(items)) if items else W["none"]


def sensitivity_section(tab: pd.DataFrame | None, lang: str, *, sc: Any = None, skipped: str | None = None) -> dict[str, Any]:
    """The report's sensitivity section: ``heading``, ``line`` (one line when the table is
    missing: the job was not asked for, or it could not run -- ``skipped``, its reason, is
    listed with the other skipped jobs at the top of the page), else ``intro``, ``table`` (``head``
    and ``rows`` of text cells), ``notes`` and ``meaning`` (the one sentence)."""
    W = _W[lang]
    out: dict[str, Any] = {"heading": W["heading"], "line": "", "intro": "", "table": None, "notes": [], "meaning": ""}
    if tab is None or not len(tab):
        out["line"] = W["skipped"] if skipped else W["not_run"]
        return out
    cols = [f for f in FIGURES if f[0] in tab.columns]
    head = [W["assumption"], W["value"], *((f[2] if lang == "vi" else f[3]) for f in cols)]
    rows = []
    for i, (_, r) in enumerate(tab.iterrows()):
        name, value = scenario_value(str(r["scenario"]), float(r["setting"]), int(r["year"]), lang)
        rows.append([name, value, *(cell(r[f[0]], r.get(f"{f[0]}_change"), lang, base=i == 0) for f in cols)])
    scen = set(tab["scenario"].astype(str))
    notes = [W["note_lp"]] if "location probability" in scen else []
    notes += [W["note_indoor"]] if "indoor share" in scen else []
    out.update(intro=W["intro"], notes=notes, meaning=_meaning(tab, sc, lang),
               table={"classes": "data sensitivity", "head": head, "rows": rows, "index": True,
                      "row_classes": ["base"] + [""] * (len(rows) - 1)})
    return out


def operators_below(sc: Any, lang: str) -> str:
    """One sentence naming, per target judged per operator, the operators below it at the
    province (the scorecard's ``operators_below``, as it lists them); ``""`` when none is."""
    if sc is None or not hasattr(sc, "province"):
        return ""
    prov = sc.province()
    if "operators_below" not in prov.columns:
        return ""
    items = []
    for r in prov.to_dict("records"):
        ops = r.get("operators_below")
        if not isinstance(ops, str) or not ops.strip():
            continue
        thr = f"{number(r.get('threshold'), lang)}\u00a0{words.unit(r.get('unit'), lang)}".strip()
        items.append(_W[lang]["op_item"].format(id=r["target_id"], name=words.name(str(r.get("indicator", "")), lang),
                                                cmp=_CMP.get(str(r.get("comparison")), ""), thr=thr, ops=ops))
    return _W[lang]["op_head"].format(items="; ".join(items)) if items else ""


def labels(lang: str) -> Mapping[str, str]:
    """The section's words in ``lang`` (for the page's navigation)."""
    return _W[lang]
