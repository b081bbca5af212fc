"""Map layers of a plan (:class:`ictplan.planning.plan.PlanResult`): proposed 5G sites by kind,
extra carriers, fiber extension routes, postal points and data-centre sites, one layer per
phase, in colours apart from the operators' and from the commune colour scale; all off when
the map opens (the planner turns a phase on in the layer panel)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd

if TYPE_CHECKING:  # pragma: no cover
    from ..planning.plan import PlanResult

__all__ = ["plan_layers", "KIND_COLOURS"]

#: Proposed 5G sites by kind (none of them an operator's colour or on the purple scale).
KIND_COLOURS: dict[str, str] = {"upgrade": "#00bcd4", "colocation": "#ffc107", "new_tower": "#212121"}
_WORDS = {
    "en": {"sites": "Plan {p}: 5G sites", "carriers": "Plan {p}: extra 5G carriers", "fiber": "Plan {p}: new fiber",
           "postal": "Plan {p}: postal points", "dc": "Data-centre sites (ranked)", "kind": "What",
           "operator": "Operator", "cost": "Cost (bn VND)", "people": "People newly covered", "length": "Length (m)",
           "households": "Households connected", "hamlets": "Hamlets connected", "rank": "Rank", "score": "Score",
           "why": "Why", "commune": "Commune",
           "upgrade": "upgrade of a 4G site", "colocation": "on another operator's tower", "new_tower": "new tower",
           "aerial": "aerial", "duct": "in duct", "neutral": "neutral host"},
    "vi": {"sites": "Kế hoạch {p}: trạm 5G", "carriers": "Kế hoạch {p}: thêm sóng mang 5G",
           "fiber": "Kế hoạch {p}: tuyến cáp quang mới", "postal": "Kế hoạch {p}: điểm bưu chính",
           "dc": "Địa điểm trung tâm dữ liệu (xếp hạng)", "kind": "Hạng mục", "operator": "Nhà mạng",
           "cost": "Chi phí (tỷ đồng)", "people": "Số người được phủ thêm", "length": "Chiều dài (m)",
           "households": "Số hộ được kết nối", "hamlets": "Số ấp, khóm được kết nối", "rank": "Thứ hạng",
           "score": "Điểm", "why": "Lý do", "commune": "Xã",
           "upgrade": "nâng cấp trạm 4G", "colocation": "dùng chung cột của nhà mạng khác", "new_tower": "cột mới",
           "aerial": "treo trên cột", "duct": "trong cống bể", "neutral": "doanh nghiệp hạ tầng trung lập"},
}


def _words(frame: gpd.GeoDataFrame, columns: tuple[str, ...], W: dict[str, str]) -> gpd.GeoDataFrame:
    out = frame.copy()
    for c in columns:
        if c in out:
            out[c] = out[c].map(lambda v: W.get(str(v), v)).astype(object)
    if "cost_vnd" in out:
        out["cost_bn_vnd"] = (out["cost_vnd"] / 1e9).round(2)
    return out


def _by_phase(gdf: gpd.GeoDataFrame) -> list[tuple[str, gpd.GeoDataFrame]]:
    if gdf is None or not len(gdf):
        return []
    return [(str(p), part) for p, part in gdf.groupby("phase", sort=True)]


def plan_layers(plan: PlanResult, /, *, lang: str = "en") -> list[dict[str, Any]]:
    """``extra`` layer specs for :func:`ictplan.maps.study_map`, one per phase and kind."""
    W = _WORDS[lang]
    out: list[dict[str, Any]] = []
    for p, part in _by_phase(plan.sites):
        g = _words(part.assign(kind_text=part["kind"]), ("kind_text", "operator"), W)
        out.append({"key": f"plan_sites_{p}", "gdf": g, "name": W["sites"].format(p=p), "colour_by": "kind_text",
                    "colours": {W[k]: c for k, c in KIND_COLOURS.items()}, "radius": 5, "show": False,
                    "fields": {"kind_text": W["kind"], "operator": W["operator"],
                               **({"people_added": W["people"]} if "people_added" in g else {}),
                               "cost_bn_vnd": W["cost"]}})
    for p, part in _by_phase(plan.carriers):
        g = _words(part, ("operator",), W)
        out.append({"key": f"plan_carriers_{p}", "gdf": g, "name": W["carriers"].format(p=p), "colour": "#8d6e63",
                    "radius": 4, "show": False, "fields": {"operator": W["operator"], "cost_bn_vnd": W["cost"]}})
    for p, part in _by_phase(plan.fiber):
        g = _words(part, ("placement", "operator"), W)
        fields = {k: v for k, v in (("operator", W["operator"]), ("placement", W["kind"]), ("length_m", W["length"]),
                                    ("households_passed", W["households"]), ("hamlets_connected", W["hamlets"]),
                                    ("cost_bn_vnd", W["cost"])) if k in g}
        out.append({"key": f"plan_fiber_{p}", "gdf": g, "name": W["fiber"].format(p=p), "colour": "#d81b60",
                    "weight": 4, "show": False, "fields": fields})
    for p, part in _by_phase(plan.postal):
        g = _words(part, (), W)
        fields = {k: v for k, v in (("commune_name", W["commune"]), ("people_within_reach", W["people"]),
                                    ("cost_bn_vnd", W["cost"])) if k in g}
        out.append({"key": f"plan_postal_{p}", "gdf": g, "name": W["postal"].format(p=p), "colour": "#795548",
                    "radius": 5, "show": False, "fields": fields})
    dc = plan.datacentres
    if dc is not None and len(dc):
        why = "explanation_vi" if lang == "vi" and "explanation_vi" in dc else "explanation"
        fields = {k: v for k, v in (("rank", W["rank"]), ("score", W["score"]), (why, W["why"])) if k in dc}
        out.append({"key": "plan_datacentres", "gdf": dc.head(10), "name": W["dc"], "colour": "#000000", "radius": 7,
                    "show": False, "fields": fields})
    return out
