"""The report of a study in the units since 1 July 2025: which territory it covers, and the
province in the old units beside the new (same totals over the same territory)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from . import words
from .numbers import number

_W = {
    "vi": {"side_by_side": "Cùng chỉ tiêu theo xã cũ và theo đơn vị mới",
           "side_note": "Toàn tỉnh tính theo {n_old} xã, phường, thị trấn trước 1/7/2025 và theo {n_new} đơn vị hành chính "
                        "cấp xã từ 1/7/2025, trên cùng địa bàn. Xã cũ nhập trọn vào đơn vị mới được cộng chính xác; xã "
                        "cũ bị chia được phân bổ theo dân số trên lưới dân số (tỷ lệ nêu trong bảng trọng số đi kèm).",
           "communes_new": "Theo đơn vị hành chính cấp xã (từ 1/7/2025)",
           "new_province": "Chỉ tiêu của quy hoạch tỉnh cũ áp dụng cho tỉnh mới",
           "other_province": "Chỉ tiêu của quy hoạch tỉnh {plan} áp dụng cho địa bàn tỉnh {p}",
           "territory": "Địa bàn",
           "head": ["Chỉ tiêu", "Đo bằng", "Theo xã cũ", "Theo đơn vị mới", "Cùng tổng số"],
           "yes": "✓ có", "no": "✗ không", "na": "–"},
    "en": {"side_by_side": "The same targets in the old communes and in the new units",
           "side_note": "The province measured in its {n_old} communes before 1 July 2025 and in its {n_new} "
                        "commune-level units since 1 July 2025, over the same territory. Old communes merged whole into a "
                        "new unit add up exactly; split ones are apportioned by the people on the population raster "
                        "(the weights are in the crosswalk table beside the outputs).",
           "communes_new": "By commune-level unit (since 1 July 2025)",
           "new_province": "The old plan's targets applied to the new province",
           "other_province": "The {plan} plan's targets applied to {p}'s territory",
           "territory": "Territory",
           "head": ["Target", "Measured as", "Old communes", "New units", "Same total"],
           "yes": "✓ yes", "no": "✗ no", "na": "–"},
}


def unit_words(lang: str) -> Mapping[str, Any]:
    """The report's words about units and territory in ``lang``."""
    return _W["vi" if lang == "vi" else "en"]


def side_table(side: pd.DataFrame, indicators: Mapping[str, str], lang: str) -> pd.DataFrame:
    """The side-by-side province table (:func:`ictplan.admin.studies.units_side_by_side`) in
    the reader's words: per target, what it measures, its value in the old communes and in the
    new units (with units) and whether the communes' and the new units' numerators sum alike."""
    W = unit_words(lang)

    def val(v: Any, u: Any) -> str:
        un = words.unit(u, lang)
        return "" if pd.isna(v) else f"{number(v, lang)}\u00a0{un}".strip()

    h = W["head"]
    same = [W["na"] if pd.isna(a) and pd.isna(b) else W["yes"] if s else W["no"]
            for a, b, s in zip(side["sum_numerator_old"], side["sum_numerator_new"], side["same_total"], strict=True)]
    return pd.DataFrame({
        h[0]: side["target_id"].astype(str),
        h[1]: [words.name(str(indicators.get(t, "")), lang) for t in side["target_id"]],
        h[2]: [val(v, u) for v, u in zip(side["value_old"], side["unit"], strict=True)],
        h[3]: [val(v, u) for v, u in zip(side["value_new"], side["unit"], strict=True)],
        h[4]: same,
    }).set_index(h[0])


def context(results: Any, sc: Any, lang: str) -> dict[str, Any]:
    """The template's ``territory`` line, ``side`` (the side-by-side table or None) with its
    note, and ``plan_label`` (the new province's targets label, or "")."""
    from ..admin.inunits import territory

    W = unit_words(lang)
    out: dict[str, Any] = {"territory": f"{W['territory']}: {territory(results, lang)}", "side": None,
                           "side_title": W["side_by_side"], "side_note": "", "plan_label": ""}
    if getattr(results, "parts", None):
        out["plan_label"] = W["new_province"]
    elif getattr(sc, "meta", {}).get("plan_applied_to"):  # an old province's plan on another territory
        out["plan_label"] = W["other_province"].format(plan=sc.plan.province, p=sc.meta.get("province"))
    side = getattr(results, "side_by_side", None)
    if side is not None and len(side) and hasattr(sc, "plan"):
        ind = {t.id: t.indicator for t in sc.plan.targets}
        out["side"] = side_table(side, ind, lang)
        out["side_note"] = W["side_note"].format(n_old=int(side["communes_old"].iloc[0]),
                                                 n_new=int(side["units_new"].iloc[0]))
    return out
