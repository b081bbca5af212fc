"""The report's first screen: what was found, in sentences generated from the results.

From a plan's scorecard: how many province targets are met, not met and unknown; each
target not met with its value, target and the gap in its natural unit; what is still
needed per horizon year; which data would settle the unknown ones; and, per target not
met, the communes furthest behind (largest gap). Without a scorecard, the measured
headline figures in sentences. Every number is read from the results, none is computed
anew here except counts of rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from . import words
from .numbers import number

_CMP = {">=": "≥", ">": ">", "<=": "≤", "==": "="}

_S = {
    "vi": {
        "overall": "Trong {n} chỉ tiêu đo được của quy hoạch, toàn tỉnh đã đạt {met}, chưa đạt {not_met} và "
                   "{no_data} chỉ tiêu chưa có dữ liệu để đánh giá.",
        "policy": " {k} chỉ tiêu khác là định hướng chính sách, không đo bằng số liệu.",
        "met": "Đã đạt: {items}.",
        "not_met_head": "Chưa đạt (giá trị hiện nay so với mục tiêu, phần còn thiếu):",
        "needed": "Để đạt các chỉ tiêu năm {year} còn thiếu: {items}.",
        "unknown_table": "Chưa có dữ liệu cho {ids}: đây là số liệu thống kê, không có trong dữ liệu không gian. "
                         "Để đánh giá, thêm vào nghiên cứu bảng chỉ tiêu (tệp CSV theo xã hoặc toàn tỉnh) với các cột: {cols}.",
        "unknown_other": "Chưa đo được {ids}: thiếu lớp dữ liệu hoặc phân tích cần thiết chưa chạy (xem mục Cách đo).",
        "no_plan": "Chưa có bảng chỉ tiêu của quy hoạch: các số liệu dưới đây đo trên dữ liệu của nghiên cứu.",
        "cov": "Sóng 4G phủ {v4} % dân số và sóng 5G phủ {v5} % dân số (mọi nhà mạng).",
        "fib": "{v} % số hộ gia đình ở trong tầm cáp quang; cần kéo thêm khoảng {km} km cáp để tới các ấp chưa có.",
        "f3_same": "F3 bằng F2 ({v} %): theo mô hình PON, điểm truy nhập bận nhất vẫn cho mỗi hộ {low} Mb/s vào giờ cao "
                   "điểm (từ 200 Mb/s trở lên), nên mọi hộ có cổng đều đạt 200 Mb/s; F3 chỉ thấp hơn F2 khi PON hoặc "
                   "đường lên OLT bị lấp đầy.",
        "f3_below": "F3 ({f3} %) thấp hơn F2 ({f2} %): {n} điểm truy nhập có hộ dưới 200 Mb/s vào giờ cao điểm (PON hoặc "
                    "đường lên OLT đã đầy; thấp nhất {low} Mb/s).",
        "target": "mục tiêu",
        "gap": "còn thiếu",
        "over": "vượt",
    },
    "en": {
        "overall": "Of the plan's {n} measurable targets, the province meets {met}, does not meet {not_met}, and "
                   "{no_data} have no data to judge them.",
        "policy": " {k} more are policy directions that no figure measures.",
        "met": "Met: {items}.",
        "not_met_head": "Not met (today's value against the target, and what is missing):",
        "needed": "Still missing for the {year} targets: {items}.",
        "unknown_table": "No data for {ids}: these are statistics, not geodata. To judge them, add the study's "
                         "indicators table (a CSV file per commune or for the province) with the columns: {cols}.",
        "unknown_other": "Not measured: {ids}: a layer is missing or the analysis they need did not run (see the methods).",
        "no_plan": "No plan scorecard was given: the figures below are measured on the study's data.",
        "cov": "4G reaches {v4} % of the people and 5G {v5} % (any operator).",
        "fib": "{v} % of households are within reach of fiber; about {km} km of new fiber would reach the hamlets without.",
        "f3_same": "F3 equals F2 ({v} %): under the PON model the busiest access point still gives each household "
                   "{low} Mb/s in the busy hour (200 Mb/s or more), so every household with a port reaches 200 Mb/s; F3 "
                   "falls below F2 only where a PON or an OLT uplink fills up.",
        "f3_below": "F3 ({f3} %) is below F2 ({f2} %): {n} access point(s) give their households under 200 Mb/s in the "
                    "busy hour (a full PON or OLT uplink; the lowest {low} Mb/s).",
        "target": "target",
        "gap": "missing",
        "over": "over",
    },
}


def num(v: Any, lang: str = "en", *, digits: int | None = None) -> str:
    """A number as the report writes it (:func:`.numbers.number`): thousands separated,
    one decimal below 100, in ``lang``'s notation."""
    return number(v, lang, digits=digits)


def _value(v: Any, u: Any, lang: str) -> str:
    un = words.unit(u, lang)
    return f"{num(v, lang)}\u00a0{un}".strip() if un else num(v, lang)


def _gap(row: Mapping[str, Any], lang: str) -> str:
    gu = row.get("gap_unit")
    gu = gu if isinstance(gu, str) and gu else row.get("unit")
    return _value(row.get("gap"), gu, lang)


def target_line(row: Mapping[str, Any], lang: str) -> str:
    """``"F2 Hộ gia đình trong tầm cáp quang: 88.2 % (mục tiêu ≥ 100 %), còn thiếu 35,943 hộ"``."""
    S = _S[lang]
    name = words.name(str(row.get("indicator", "")), lang)
    cmp = _CMP.get(str(row.get("comparison")), "")
    text = (f"{row['target_id']} {name}: {_value(row.get('value'), row.get('unit'), lang)} "
            f"({S['target']} {cmp} {_value(row.get('threshold'), row.get('unit'), lang)})".replace("  ", " "))
    if row.get("status") == "not met" and pd.notna(row.get("gap")):
        text += f", {S['gap']} {_gap(row, lang)}"
    return text


def _needed(prov: pd.DataFrame, lang: str) -> list[str]:
    out = []
    nm = prov[(prov["status"] == "not met") & prov["gap"].notna()]
    for year, grp in nm.groupby("year", sort=True):
        items = [f"{_gap(r, lang)} ({r['target_id']})" for r in grp.to_dict("records")]
        out.append(_S[lang]["needed"].format(year=int(year), items="; ".join(items)))
    return out


def _unknown(prov: pd.DataFrame, lang: str) -> list[str]:
    S = _S[lang]
    nd = prov[prov["status"] == "no data"]
    table = nd[nd["indicator"].astype(str).str.startswith("table:")]
    other = nd.drop(index=table.index)
    out = []
    if len(table):
        cols = ", ".join(dict.fromkeys(str(i).split(":", 1)[1] for i in table["indicator"]))
        out.append(S["unknown_table"].format(ids=", ".join(table["target_id"]), cols=cols))
    if len(other):
        out.append(S["unknown_other"].format(ids=", ".join(other["target_id"])))
    return out


def plan_findings(sc: Any, lang: str) -> dict[str, Any]:
    """The findings of a plan's scorecard: ``lead`` (sentences), ``not_met`` (one line per
    target not met, in plan order), ``more`` (what is needed per year, what data would
    settle the unknown targets) and the status ``counts``."""
    S = _S[lang]
    prov = sc.province()
    st = prov["status"]
    counts = {k: int((st == k).sum()) for k in ("met", "not met", "no data", "not applicable")}
    n = counts["met"] + counts["not met"] + counts["no data"]
    lead = S["overall"].format(n=n, met=counts["met"], not_met=counts["not met"], no_data=counts["no data"])
    if counts["not applicable"]:
        lead += S["policy"].format(k=counts["not applicable"])
    rows = prov.to_dict("records")
    met = [f"{r['target_id']} {words.name(str(r.get('indicator', '')), lang)} ({_value(r.get('value'), r.get('unit'), lang)})"
           for r in rows if r["status"] == "met"]
    sentences = [lead] + ([S["met"].format(items="; ".join(met))] if met else [])
    return {"lead": sentences, "not_met_head": S["not_met_head"],
            "not_met": [target_line(r, lang) for r in rows if r["status"] == "not met"],
            "more": _needed(prov, lang) + _unknown(prov, lang), "counts": counts, "n": n}


def figure_findings(prov: pd.DataFrame | None, lang: str, *, no_plan: bool = True) -> dict[str, Any]:
    """Without a plan: the measured headline figures of the province row in sentences
    (first saying there is no plan scorecard, with ``no_plan``)."""
    S = _S[lang]
    lead = [S["no_plan"]] if no_plan else []
    if prov is not None and len(prov):
        r = prov.iloc[0]
        if "pct_4g_covered" in r.index and "pct_5g_covered" in r.index:
            lead.append(S["cov"].format(v4=num(r["pct_4g_covered"], lang), v5=num(r["pct_5g_covered"], lang)))
        if "pct_fiber_reachable" in r.index and "missing_fiber_km" in r.index:
            lead.append(S["fib"].format(v=num(r["pct_fiber_reachable"], lang), km=num(r["missing_fiber_km"], lang)))
    return {"lead": lead, "not_met_head": "", "not_met": [], "more": [], "counts": {}, "n": 0}


def priority_communes(sc: Any, lang: str, *, per_target: int = 3) -> list[dict[str, Any]]:
    """Per target not met in the communes: the ``per_target`` communes with the largest gap
    (in the target's natural unit), each ``"Name (District): value, missing gap"``."""
    t = sc.table
    com = t[(t["level"] == "commune") & (t["status"] == "not met") & t["gap"].notna()]
    out = []
    for tid in sc.plan.ids:
        sub = com[com["target_id"] == tid]
        if not len(sub):
            continue
        sub = sub.assign(_g=pd.to_numeric(sub["gap"], errors="coerce")).sort_values(["_g", "zone_name"],
                                                                                     ascending=[False, True])
        total = len(t[(t["level"] == "commune") & (t["target_id"] == tid)])
        first = sub.iloc[0]
        items = []
        for r in sub.head(per_target).to_dict("records"):
            where = f"{r['zone_name']}" + (f" ({r['district_name']})" if isinstance(r.get("district_name"), str) and r["district_name"] else "")
            items.append(f"{where}: {_value(r.get('value'), r.get('unit'), lang)}, {_S[lang]['gap']} {_gap(r, lang)}")
        out.append({"id": tid, "name": words.name(str(first.get("indicator", "")), lang),
                    "behind": f"{len(sub)} / {total}", "communes": items})
    return out


def f3_versus_f2(sc: Any, fiber: Any, lang: str) -> str:
    """Why F3 (≥ 200 Mb/s in the busy hour) equals F2 (a household with a port), or how far
    below it is, from the fiber result's access points (``busy_hour_mbps_2025`` of those with
    subscribers); "" without both targets or without the access points' capacity table."""
    if not hasattr(sc, "province") or fiber is None:
        return ""
    ap = getattr(fiber, "diagnostics", {}).get("access_point_capacity")
    prov = sc.province().set_index("target_id")
    if ap is None or not len(ap) or not {"F2", "F3"} <= set(prov.index) or "busy_hour_mbps_2025" not in ap:
        return ""
    used = ap[ap["subscribers_2025"] > 0]
    f2, f3 = float(prov.loc["F2", "value"]), float(prov.loc["F3", "value"])
    if not len(used) or not (np.isfinite(f2) and np.isfinite(f3)):
        return ""
    low = number(float(used["busy_hour_mbps_2025"].min()), lang, digits=0)
    S = _S["vi" if lang == "vi" else "en"]
    slow = int((used["busy_hour_mbps_2025"] < 200.0 - 1e-9).sum())
    if abs(f2 - f3) < 0.05 and slow == 0:  # "every household with a port reaches 200 Mb/s" must be true
        return S["f3_same"].format(v=number(f3, lang, digits=1), low=low)
    return S["f3_below"].format(f3=number(f3, lang, digits=1), f2=number(f2, lang, digits=1), n=number(slow, lang),
                                low=low)
