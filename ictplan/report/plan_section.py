"""The report's "what to build next" section, from the planner's result (``Results.plan``).

With a plan (:class:`ictplan.planning.plan.PlanResult`, or anything with its fields): what
the plan aims at (year, operator or neutral host, budget, the targets it was built to),
then one table of what to build per phase -- 5G sites by kind, km of fiber, postal points,
data-centre sites -- with the cost of each phase in billions of VND ("tỷ đồng" / "VND bn"),
the communes that take the most of it, and the province scorecard after the plan beside
today's (targets met before → after). Without a plan: one sentence saying how to get one
(``ictplan plan STUDY --out DIR`` or ``make plan``), in the reader's language.

Every figure is read from the plan's tables (``phases``, ``by_commune``) and the two
scorecards; nothing is planned or re-measured here. The planner's own notes are English
developer sentences: the English report lists them, the Vietnamese one says how many there
are and where they are written.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from . import words
from .findings import _value
from .numbers import number, percent
from .tables import STATUS_CLASS, STATUS_TEXT

__all__ = ["ITEMS", "plan_section", "billions"]

#: item of ``PlanResult.phases`` -> (vi, en, vi unit, en unit), in the table's order
ITEMS: dict[str, tuple[str, str, str, str]] = {
    "5g_upgrade": ("Trạm hiện có nâng cấp lên 5G", "Existing sites upgraded to 5G", "trạm", "sites"),
    "5g_colocation": ("Trạm 5G lắp trên cột sẵn có của đơn vị khác (dùng chung)",
                      "5G sites on another owner's existing tower (shared)", "trạm", "sites"),
    "5g_new_tower": ("Trạm 5G trên cột ăng-ten xây mới", "5G sites on new towers", "trạm", "sites"),
    "5g_carrier": ("Sóng mang 5G bổ sung (trạm quá tải)", "Second 5G carriers (busy sectors)", "sóng mang", "carriers"),
    "fiber_km": ("Cáp quang kéo mới", "New fiber", "km", "km"),
    "fiber_access_point": ("Điểm truy nhập cáp quang mới (hộp chia FAT)", "New fiber access points (FATs)", "điểm",
                           "points"),
    "postal_point": ("Điểm phục vụ bưu chính mới", "New postal service points", "điểm", "points"),
    "datacentre_site": ("Địa điểm trung tâm dữ liệu", "Data-centre sites", "địa điểm", "sites"),
}

_W = {
    "vi": {
        "heading": "Cần xây dựng gì tiếp theo",
        "missing": "Chưa có kế hoạch đầu tư trong báo cáo này. Để có mục này (các trạm 5G, số km cáp quang, điểm bưu "
                   "chính cần xây theo từng giai đoạn 2025 và 2030, chi phí, và bảng chỉ tiêu sau kế hoạch), chạy lệnh "
                   "{cmd} (hoặc {make}).",
        "cmd": "ictplan plan <thư mục nghiên cứu> --out <thư mục kết quả>",
        "aim": "Kế hoạch đến năm {year}, {who}{budget}.",
        "host": "cho một đơn vị hạ tầng dùng chung (mọi nhà mạng cùng sử dụng)",
        "operator": "cho nhà mạng {op}",
        "budget": ", ngân sách 5G tối đa {v} tỷ đồng",
        "built_to": "Kế hoạch được tính để đạt: {items}.",
        "cost": "Tổng chi phí ước tính: {total} tỷ đồng ({phases}).",
        "phase_cost": "giai đoạn {phase}: {v} tỷ đồng",
        "h_item": "Hạng mục", "h_unit": "Đơn vị", "h_qty": "Khối lượng {phase}", "h_cost": "Chi phí {phase} (tỷ đồng)",
        "h_total_qty": "Tổng khối lượng", "h_total_cost": "Tổng chi phí (tỷ đồng)", "total": "Tổng cộng",
        "h_operators": "Theo nhà mạng", "host_short": "dùng chung",
        "communes_title": "Các xã cần đầu tư nhiều nhất",
        "h_commune": "Xã, phường, thị trấn", "h_what": "Hạng mục chính",
        "after_title": "Bảng chỉ tiêu toàn tỉnh: hiện nay và sau kế hoạch",
        "after_line": "Sau kế hoạch, toàn tỉnh đạt {after} trên {n} chỉ tiêu đo được (hiện nay {before}).",
        "now_met": "Đạt nhờ kế hoạch: {ids}.",
        "no_after": "Chưa có bảng chỉ tiêu sau kế hoạch (các phân tích chưa chạy lại trên kế hoạch).",
        "h_target": "Chỉ tiêu", "h_goal": "Mục tiêu", "h_today": "Hiện nay", "h_after": "Sau kế hoạch",
        "h_gap": "Còn thiếu sau kế hoạch",
        "still_nd": "Vẫn chưa có dữ liệu để đánh giá: {ids}.",
        "notes": "Bộ lập kế hoạch ghi {n} lưu ý kỹ thuật (bằng tiếng Anh) trong kết quả của lệnh lập kế hoạch.",
        "nothing": "Kế hoạch không cần xây thêm hạng mục nào: các chỉ tiêu mà bộ lập kế hoạch tính đã đạt.",
        "headline": "Kế hoạch đầu tư đến năm {year} (mục “Cần xây dựng gì tiếp theo”): khoảng {cost} tỷ đồng; {sites} trạm 5G, "
                    "{km} km cáp quang, {postal} điểm bưu chính mới.{after}",
        "headline_after": " Sau kế hoạch, toàn tỉnh đạt {after} trên {n} chỉ tiêu (hiện nay {before}).",
        "uncosted": "Dấu – ở cột chi phí: hạng mục chỉ chọn địa điểm, chưa có đơn giá (chi phí do nhà đầu tư), không tính vào tổng.",
    },
    "en": {
        "heading": "What to build next",
        "missing": "This report holds no investment plan. To get this section (the 5G sites, km of fiber and postal "
                   "points to build in the 2025 and 2030 phases, their cost, and the scorecard after the plan), run "
                   "{cmd} (or {make}).",
        "cmd": "ictplan plan STUDY --out DIR",
        "aim": "The plan to {year}, {who}{budget}.",
        "host": "for a neutral host (one shared network for every operator)",
        "operator": "for {op}",
        "budget": ", with a 5G budget of at most VND {v} bn",
        "built_to": "It was built to reach: {items}.",
        "cost": "Estimated cost in all: VND {total} bn ({phases}).",
        "phase_cost": "{phase} phase: VND {v} bn",
        "h_item": "Item", "h_unit": "Unit", "h_qty": "Quantity {phase}", "h_cost": "Cost {phase} (VND bn)",
        "h_total_qty": "Total quantity", "h_total_cost": "Total cost (VND bn)", "total": "Total",
        "h_operators": "By operator", "host_short": "shared",
        "communes_title": "The communes that need the most investment",
        "h_commune": "Commune", "h_what": "Main items",
        "after_title": "Province scorecard: today and after the plan",
        "after_line": "After the plan the province meets {after} of {n} measurable targets (today {before}).",
        "now_met": "Met thanks to the plan: {ids}.",
        "no_after": "No scorecard after the plan (the analyses were not re-run on the plan).",
        "h_target": "Target", "h_goal": "Target value", "h_today": "Today", "h_after": "After the plan",
        "h_gap": "Still missing after the plan",
        "still_nd": "Still no data to judge: {ids}.",
        "notes": "The planner's notes:",
        "nothing": "The plan builds nothing more: the targets the planner works to are already met.",
        "headline": "The investment plan to {year} (see “What to build next”): about VND {cost} bn for {sites} 5G sites, "
                    "{km} km of fiber and {postal} new postal points.{after}",
        "headline_after": " After it the province meets {after} of {n} targets (today {before}).",
        "uncosted": "A – in the cost columns: the item is sited, not costed (the investor's cost), and is not in the totals.",
    },
}

_CMP = {">=": "≥", ">": ">", "<=": "≤", "==": "="}
_MEASURED = ("met", "not met", "no data")


def billions(vnd: Any, lang: str) -> str:
    """An amount in VND as billions in ``lang``'s notation (``12,3`` / ``12.3``); "–" when missing."""
    try:
        x = float(vnd)
    except (TypeError, ValueError):
        return number(None, lang)
    return number(x / 1e9, lang)


#: (PlanParameters field, vi, en, unit): the unit costs the plan's costs are made of, in the reader's words
_UNIT_COSTS: tuple[tuple[str, str, str, str], ...] = (
    ("cost_upgrade_vnd", "nâng cấp trạm 4G lên 5G", "5G upgrade of a 4G site", "bn"),
    ("cost_colocation_vnd", "trạm 5G trên cột dùng chung", "5G on a shared tower", "bn"),
    ("cost_new_tower_vnd", "cột mới có trạm 5G", "new tower with 5G", "bn"),
    ("cost_carrier_vnd", "sóng mang 5G bổ sung", "second 5G carrier", "bn"),
    ("cost_fiber_aerial_vnd_per_km", "cáp quang treo", "aerial fiber", "M/km"),
    ("cost_fiber_duct_vnd_per_km", "cáp quang trong cống bể", "fiber in duct", "M/km"),
    ("cost_crossing_vnd", "vượt sông, kênh", "river or canal crossing", "M"),
    ("cost_fat_vnd", "hộp chia FAT", "FAT", "M"),
    ("cost_postal_point_vnd", "điểm bưu chính có người phục vụ", "staffed postal point", "bn"),
)
_BASIS = {
    "vi": ("Chi phí = đơn giá × khối lượng. Đơn giá là giả định (giá năm 2025, thay bằng đơn giá thực tế trong "
           "[parameters.plan] của study.toml): {items}.", {"bn": "tỷ đồng", "M": "triệu đồng", "M/km": "triệu đồng/km"}),
    "en": ("Cost = unit cost × quantity. The unit costs are assumptions (2025 prices; replace them with real ones in "
           "study.toml's [parameters.plan]): {items}.", {"bn": "VND bn", "M": "VND M", "M/km": "VND M/km"}),
}


def cost_basis(prm: Any, lang: str) -> str:
    """One sentence: the plan's costs are unit costs × quantities, and the unit costs (assumptions)."""
    if prm is None:
        return ""
    text, units = _BASIS[lang]
    parts = []
    for name, vi, en, unit in _UNIT_COSTS:
        v = getattr(prm, name, None)
        if v is None:
            continue
        scale = 1e9 if unit == "bn" else 1e6
        parts.append(f"{vi if lang == 'vi' else en} {number(float(v) / scale, lang)} {units[unit]}")
    return text.format(items="; ".join(parts))


def _frame(df: Any, columns: tuple[str, ...]) -> pd.DataFrame:
    """``df`` as a DataFrame with at least ``columns`` (missing ones empty)."""
    out = pd.DataFrame(df).copy() if df is not None else pd.DataFrame()
    for c in columns:
        if c not in out.columns:
            out[c] = pd.Series(dtype=float if c in ("count", "km", "cost_vnd") else object)
    return out


def _quantity(item: str, rows: pd.DataFrame) -> float:
    col = "km" if item == "fiber_km" else "count"
    return float(pd.to_numeric(rows[col], errors="coerce").fillna(0.0).sum())


def _qty_text(item: str, q: float, lang: str) -> str:
    return number(q, lang, digits=1 if item == "fiber_km" and not float(q).is_integer() else 0)


_NO_OPERATOR = {"", "none", "nan", "<na>", "neutral"}  # the planner's rows without an operator (fiber, postal, a neutral host)


def _operator_names(col: pd.Series, lang: str) -> pd.Series:
    s = col.astype(object)
    blank = s.isna() | s.astype(str).str.strip().str.lower().isin(_NO_OPERATOR)
    return s.where(~blank, _W[lang]["host_short"]).astype(str)


def _operators(rows: pd.DataFrame, item: str, lang: str) -> str:
    """"Viettel 12 · VNPT 8" (the operator's quantities over every phase), "" for one or none."""
    by = rows.assign(operator=_operator_names(rows["operator"], lang)).groupby("operator", sort=True)
    if by.ngroups < 2:
        return ""
    return " · ".join(f"{op} {_qty_text(item, _quantity(item, g), lang)}" for op, g in by)


def _cost(rows: pd.DataFrame) -> float | None:
    """The rows' cost; None when there are rows and none has a cost (a data-centre site is sited, not costed)."""
    v = pd.to_numeric(rows["cost_vnd"], errors="coerce")
    return float(v.sum()) if v.notna().any() or not len(rows) else None


def _phases_of(phases: pd.DataFrame) -> list[str]:
    return sorted({str(p) for p in phases["phase"].dropna()})


def _item_row(item: str, sub: pd.DataFrame, names: list[str], lang: str) -> tuple[list[str], dict[str, float | None]] | None:
    """One item's cells (label, unit, quantity per phase and in all, cost per phase and in all) and
    its cost per phase; None when it builds nothing and costs nothing."""
    qty = {p: _quantity(item, sub[sub["phase"] == p]) for p in names}
    cost = {p: _cost(sub[sub["phase"] == p]) for p in names}
    if not any(qty.values()) and not any(cost.values()):
        return None
    label = ITEMS.get(item, (item, item, "", ""))
    cells = [label[0 if lang == "vi" else 1], label[2 if lang == "vi" else 3],
             *(_qty_text(item, qty[p], lang) for p in names), _qty_text(item, sum(qty.values()), lang),
             *(billions(cost[p], lang) for p in names), billions(_cost(sub), lang)]
    return cells, cost


def build_table(phases: pd.DataFrame, lang: str) -> dict[str, Any]:
    """Item × phase: quantity (count, or km for fiber) and cost in billions, with totals.

    Items in :data:`ITEMS` order (an unknown item is shown by its code, last); rows whose
    quantity and cost are both zero are left out; an item without a cost ("–", e.g. a
    data-centre site) is not in the totals (``uncosted``); ``total`` is the cost total row.
    """
    W = _W[lang]
    ph = _frame(phases, ("phase", "item", "operator", "count", "km", "cost_vnd"))
    ph["phase"] = ph["phase"].astype(str)
    names = _phases_of(ph)
    items = [i for i in ITEMS if i in set(ph["item"])] + sorted(set(ph["item"].dropna()) - set(ITEMS))
    rows, ops, cost_by_phase, uncosted = [], [], {p: 0.0 for p in names}, False
    for item in items:
        sub = ph[ph["item"] == item]
        made = _item_row(item, sub, names, lang)
        if made is None:
            continue
        rows.append(made[0])
        ops.append(_operators(sub, item, lang))
        for p, c in made[1].items():
            cost_by_phase[p] += c or 0.0
            uncosted = uncosted or c is None
    many_ops = any(ops)
    if many_ops:
        rows = [r + [o] for r, o in zip(rows, ops, strict=True)]
    head = [W["h_item"], W["h_unit"], *(W["h_qty"].format(phase=p) for p in names), W["h_total_qty"],
            *(W["h_cost"].format(phase=p) for p in names), W["h_total_cost"]] + ([W["h_operators"]] if many_ops else [])
    total = [W["total"], "", *("" for _ in names), "", *(billions(cost_by_phase[p], lang) for p in names),
             billions(sum(cost_by_phase.values()), lang)] + ([""] if many_ops else [])
    return {"head": head, "rows": rows, "total": total, "cost_by_phase": cost_by_phase, "ops": many_ops,
            "uncosted": W["uncosted"] if uncosted else ""}


#: the planner's kinds of target (``PlanResult.targets`` keys) -> the targets file's indicator
#: (:data:`ictplan.planning.plan.TARGET_KINDS`, reversed)
KIND_INDICATORS: dict[str, str] = {"pop_5g": "pop_5g_pct", "hamlets": "hamlets_reached_pct",
                                   "households": "households_fiber_pct", "postal_points": "postal_points_count",
                                   "postal_communes": "communes_staffed_postal_pct"}


def _target_row(key: str, today: pd.DataFrame | None, year: int) -> tuple[str, pd.Series | None]:
    """The target a key of ``PlanResult.targets`` stands for: a target id (``"M3"``), or a kind of
    target (``"pop_5g"``): the target of that indicator in the plan's year, else the latest before."""
    if today is None:
        return key, None
    if key in today.index:
        return key, today.loc[key]
    ind = KIND_INDICATORS.get(key)
    rows = today[today["indicator"] == ind] if ind else today.iloc[:0]
    rows = rows[pd.to_numeric(rows["year"], errors="coerce") <= year].sort_values("year", kind="stable")
    return (str(rows.index[-1]), rows.iloc[-1]) if len(rows) else (key, None)


def _target_goal(key: str, value: float, today: pd.DataFrame | None, lang: str, year: int = 2030) -> str:
    """``"X2 Dân số được phủ sóng 5G ≥ 99 %"``: a target the plan was built to (a fraction; a count for
    postal points), by target id or by the planner's kind of target."""
    tid, row = _target_row(key, today, year)
    unit = str(row["unit"]) if row is not None and isinstance(row["unit"], str) else "%"
    name = words.name(str(row["indicator"]), lang) if row is not None else ""
    cmp = _CMP.get(str(row["comparison"]), "≥") if row is not None else "≥"
    pct = round(value * 100.0, 6)  # 0.29 * 100 is 28.999999999999996
    shown = percent(pct, lang, digits=None) if unit == "%" else _value(pct if value <= 1 else value, unit, lang)
    return " ".join(s for s in (tid, name, cmp, shown) if s)


def _aim(plan: Any, today: pd.DataFrame | None, lang: str) -> list[str]:
    W = _W[lang]
    op = getattr(plan, "operator", None)
    who = W["host"] if op is None else W["operator"].format(op=op)
    budget = getattr(plan, "budget_vnd", None)
    out = [W["aim"].format(year=int(getattr(plan, "year", 2030)), who=who,
                           budget=W["budget"].format(v=billions(budget, lang)) if budget is not None else "")]
    tg: Mapping[str, float] = getattr(plan, "targets", None) or {}
    if tg:
        year = int(getattr(plan, "year", 2030))
        out.append(W["built_to"].format(items="; ".join(_target_goal(k, float(v), today, lang, year) for k, v in tg.items())))
    return out


def _cost_line(cost_by_phase: Mapping[str, float], lang: str) -> str:
    W = _W[lang]
    parts = ", ".join(W["phase_cost"].format(phase=p, v=billions(v, lang)) for p, v in cost_by_phase.items())
    return W["cost"].format(total=billions(sum(cost_by_phase.values()), lang), phases=parts)


def communes_table(by_commune: Any, lang: str, *, top: int = 5) -> dict[str, Any] | None:
    """The ``top`` communes by the plan's cost there (both phases), each with its cost per phase and
    its largest items; None without ``by_commune`` rows."""
    W = _W[lang]
    bc = _frame(by_commune, ("commune_code", "commune_name", "phase", "item", "count", "cost_vnd"))
    if not len(bc):
        return None
    bc["phase"] = bc["phase"].astype(str)
    bc["cost_vnd"] = pd.to_numeric(bc["cost_vnd"], errors="coerce").fillna(0.0)
    names = _phases_of(bc)
    key = bc["commune_code"].astype(str)
    totals = bc.groupby(key)["cost_vnd"].sum().sort_values(ascending=False, kind="stable").head(top)
    rows = []
    for code in totals.index:
        sub = bc[key == code]
        by_item = sub.groupby("item")["cost_vnd"].sum().sort_values(ascending=False, kind="stable").head(2)
        what = ", ".join(ITEMS.get(str(i), (str(i), str(i)))[0 if lang == "vi" else 1] for i in by_item.index)
        name = sub["commune_name"].iloc[0]
        rows.append([str(name) if isinstance(name, str) and name else str(code),  # a commune not in the study: its code
                     *(billions(sub[sub["phase"] == p]["cost_vnd"].sum(), lang) for p in names),
                     billions(totals[code], lang), what])
    head = [W["h_commune"], *(W["h_cost"].format(phase=p) for p in names), W["h_total_cost"], W["h_what"]]
    return {"title": W["communes_title"], "head": head, "rows": rows}


def _cell(r: Mapping[str, Any] | None, lang: str) -> dict[str, str]:
    if r is None:
        return {"text": "", "cls": ""}
    st = str(r["status"])
    val = "" if pd.isna(r["value"]) else _value(r["value"], r["unit"], lang)
    return {"text": f"{val} · {STATUS_TEXT[lang].get(st, st)}" if val else STATUS_TEXT[lang].get(st, st),
            "cls": STATUS_CLASS.get(st, "")}


def after_table(today_sc: Any, after_sc: Any, lang: str) -> dict[str, Any]:
    """The province's measurable targets today and after the plan: value and status side by
    side, what is still missing after it; with the counts met before and after."""
    W = _W[lang]
    if after_sc is None or not hasattr(after_sc, "province"):
        return {"line": W["no_after"], "rows": [], "head": []}
    after = after_sc.province().set_index("target_id")
    today = today_sc.province().set_index("target_id") if today_sc is not None and hasattr(today_sc, "province") else None
    measured = [t for t in after.index if after.loc[t, "status"] in _MEASURED]
    judged = [t for t in measured if after.loc[t, "status"] != "no data"
              or (today is not None and t in today.index and today.loc[t, "status"] != "no data")]
    rows = []
    for t in judged:
        a = after.loc[t].to_dict()
        b = today.loc[t].to_dict() if today is not None and t in today.index else None
        goal = f"{_CMP.get(str(a['comparison']), '')} {_value(a['threshold'], a['unit'], lang)}".strip()
        gap = _value(a["gap"], a.get("gap_unit") or a["unit"], lang) if a["status"] == "not met" and pd.notna(a["gap"]) else ""
        rows.append({"target": f"{t} · {words.name(str(a['indicator']), lang)}", "goal": goal,
                     "today": _cell(b, lang), "after": _cell(a, lang), "gap": gap})
    met_after = sum(after.loc[t, "status"] == "met" for t in measured)
    met_before = sum(today.loc[t, "status"] == "met" for t in measured if t in today.index) if today is not None else None
    now_met = [t for t in measured if after.loc[t, "status"] == "met" and today is not None and t in today.index
               and today.loc[t, "status"] != "met"]
    lines = [W["after_line"].format(after=number(met_after, lang), n=number(len(measured), lang),
                                    before=number(met_before, lang))]
    if now_met:
        lines.append(W["now_met"].format(ids=", ".join(now_met)))
    still = [t for t in measured if t not in judged]
    if still:
        lines.append(W["still_nd"].format(ids=", ".join(still)))
    head = [W["h_target"], W["h_goal"], W["h_today"], W["h_after"], W["h_gap"]]
    return {"title": W["after_title"], "lines": lines, "head": head, "rows": rows,
            "met_before": met_before, "met_after": met_after, "n": len(measured)}


def _headline(plan: Any, build: dict[str, Any], after: dict[str, Any], lang: str) -> str:
    """The plan in one sentence for the first screen: its cost, 5G sites, km of fiber, postal points, targets after."""
    W = _W[lang]
    ph = _frame(getattr(plan, "phases", None), ("phase", "item", "operator", "count", "km", "cost_vnd"))
    sites = ph[ph["item"].isin(["5g_upgrade", "5g_colocation", "5g_new_tower"])]
    tail = (W["headline_after"].format(after=number(after["met_after"], lang), n=number(after["n"], lang),
                                       before=number(after["met_before"], lang)) if after.get("rows") else "")
    return W["headline"].format(
        year=int(getattr(plan, "year", 2030)), cost=billions(sum(build["cost_by_phase"].values()), lang),
        sites=_qty_text("5g_upgrade", _quantity("5g_upgrade", sites), lang),
        km=_qty_text("fiber_km", _quantity("fiber_km", ph[ph["item"] == "fiber_km"]), lang),
        postal=_qty_text("postal_point", _quantity("postal_point", ph[ph["item"] == "postal_point"]), lang), after=tail)


def plan_section(plan: Any, lang: str, *, today: Any = None) -> dict[str, Any]:
    """The section's context for the template (``_plan_section.html.j2``).

    ``plan``: the planner's result (``getattr(results, "plan", None)``) or None; ``today``:
    today's scorecard (``results.scorecard``), shown beside the scorecard after the plan.
    Keys: ``heading``, ``ready``; without a plan ``line`` (how to get one) and ``parts``
    (its pieces, ``(text, is_command)``); with one ``aim`` (sentences), ``build`` (item × phase table), ``cost``
    (sentence), ``communes`` (table or None), ``after`` (the scorecards side by side) and
    ``notes``.
    """
    W = _W[lang]
    if plan is None:
        code = {"{cmd}": W["cmd"], "{make}": "make plan"}
        parts = [(code.get(p, p), p in code) for p in re.split(r"(\{cmd\}|\{make\})", W["missing"]) if p]
        return {"heading": W["heading"], "ready": False, "line": "".join(t for t, _ in parts), "parts": parts}
    tprov = today.province().set_index("target_id") if today is not None and hasattr(today, "province") else None
    build = build_table(getattr(plan, "phases", None), lang)
    notes = [str(n) for n in (getattr(plan, "notes", None) or [])]
    after = after_table(today, getattr(plan, "scorecard_after", None), lang)
    return {
        "heading": W["heading"], "ready": True, "aim": _aim(plan, tprov, lang),
        "build": build, "cost": _cost_line(build["cost_by_phase"], lang) if build["rows"] else W["nothing"],
        "basis": cost_basis(getattr(plan, "parameters", None), lang),
        "communes": communes_table(getattr(plan, "by_commune", None), lang), "after": after,
        "headline": _headline(plan, build, after, lang) if build["rows"] else W["nothing"],
        "notes_head": (W["notes"] if lang == "en" else W["notes"].format(n=number(len(notes), lang))) if notes else "",
        "notes": notes if lang == "en" else [],
    }
