"""One self-contained HTML report for leadership, in Vietnamese or English.

The report holds, in one file that opens anywhere (no network, no other file):

* the scorecard at each level the study has -- province, districts (where the study has
  districts), communes -- either the plan's scorecard (``Results.scorecard``) or, without
  one, the study's key figures measured here (:func:`key_figures`);
* the headline figures, read from the province row of each result (never re-summed from
  districts, which would count the people outside every commune);
* charts drawn with matplotlib, embedded as base64 PNG;
* the key maps, embedded whole (``<iframe srcdoc>``: Leaflet inlined, so they stay live);
* which analyses did not run and why (``Results.skipped``);
* the data sources with their dates, and how each indicator was measured.

The page comes from the jinja2 template ``ictplan/templates/report.html.j2`` with
autoescape on, so every text from data is escaped; it declares UTF-8 so diacritics show as
written. :func:`build` returns the page as a string; :func:`save` writes it atomically.
Nothing is run here: the report shows what the :class:`~ictplan.workflow.Results` hold.
"""

from __future__ import annotations

import base64
import datetime as _dt
import io as _pyio
import tomllib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import jinja2
import numpy as np
import pandas as pd

from ._errors import IctplanError, InputValidationError, MissingColumnError

if TYPE_CHECKING:  # pragma: no cover
    from .coverage import CoverageResult
    from .fiber import FiberResult
    from .study import Study
    from .targets import Scorecard
    from .workflow import Results

__all__ = ["LANGS", "key_figures", "result_figures", "add_people", "plan_tables", "split_levels", "charts", "sources",
           "methods", "build", "save"]

LANGS = ("vi", "en")
LEVELS = ("province", "districts", "communes")

_T = {
    "vi": {
        "title": "Báo cáo hạ tầng thông tin và truyền thông",
        "generated": "Lập ngày",
        "synthetic": "Dữ liệu mẫu: hạ tầng là dữ liệu tổng hợp (giả lập), chỉ dùng để minh họa.",
        "contents": "Nội dung",
        "summary": "Tóm tắt toàn tỉnh",
        "scorecard": "Bảng đánh giá chỉ tiêu",
        "province": "Toàn tỉnh",
        "districts": "Theo huyện, thành phố",
        "communes": "Theo xã, phường, thị trấn",
        "charts": "Biểu đồ",
        "maps": "Bản đồ",
        "overview_map": "Bản đồ tổng hợp: dân số, hạ tầng di động, cáp quang, bưu chính",
        "fiber_map": "Cáp quang: tỷ lệ hộ trong tầm cáp quang theo xã và các ấp chưa có cáp",
        "map_note": "Bản đồ tương tác: bật/tắt lớp ở góc phải; di chuột hoặc bấm vào đối tượng để xem số liệu. "
                    "Bản đồ nền trực tuyến chỉ hiện khi có Internet; các lớp dữ liệu luôn hiển thị.",
        "sources": "Nguồn dữ liệu",
        "methods": "Cách đo các chỉ tiêu",
        "layer": "Lớp", "file": "Tệp", "features": "Số đối tượng", "modified": "Ngày cập nhật tệp",
        "indicator": "Chỉ tiêu", "how": "Cách tính",
        "key_figures": "Số liệu chính của nghiên cứu",
        "targets_met": "Chỉ tiêu toàn tỉnh đã đạt",
        "marks": "✓ đạt, ✗ chưa đạt, ? chưa có dữ liệu.",
        "key_figures_note": "Chưa có bảng chỉ tiêu của quy hoạch: bảng dưới đây là các số liệu chính đo trên dữ liệu của nghiên cứu.",
        "study": "Nghiên cứu", "crs": "Hệ tọa độ tính toán", "targets_file": "Tệp chỉ tiêu quy hoạch",
        "by_district": "theo huyện",
        "no_data": "không có",
        "by_commune": "theo xã",
        "skipped": "Chưa có trong báo cáo (phân tích không chạy được)",
        "no_census_raster": "Các xã không có số liệu điều tra dân số (pop2019): dân số và mật độ dưới đây tính trên lưới dân số.",
        "no_census": "Các xã không có số liệu điều tra dân số (pop2019) và nghiên cứu không có lưới dân số: không có số liệu dân số.",
    },
    "en": {
        "title": "ICT infrastructure report",
        "generated": "Generated",
        "synthetic": "Sample data: the infrastructure is synthetic, for illustration only.",
        "contents": "Contents",
        "summary": "Province at a glance",
        "scorecard": "Scorecard",
        "province": "Province",
        "districts": "By district",
        "communes": "By commune",
        "charts": "Charts",
        "maps": "Maps",
        "overview_map": "Overview: people, mobile sites, fiber, postal points",
        "fiber_map": "Fiber: households within reach per commune, and the hamlets not reached",
        "map_note": "Interactive map: switch layers on and off at the top right; hover or click a feature for its figures. "
                    "The online basemap shows only with Internet; the data layers always show.",
        "sources": "Data sources",
        "methods": "How each indicator was measured",
        "layer": "Layer", "file": "File", "features": "Features", "modified": "File date",
        "indicator": "Indicator", "how": "How it is measured",
        "key_figures": "The study's key figures",
        "targets_met": "Province targets met",
        "marks": "✓ met, ✗ not met, ? no data.",
        "key_figures_note": "No plan scorecard was given: the tables below are the study's key figures measured on its data.",
        "study": "Study", "crs": "Working CRS", "targets_file": "Plan targets file",
        "by_district": "by district",
        "no_data": "none",
        "by_commune": "by commune",
        "skipped": "Not in this report (the analysis could not run)",
        "no_census_raster": "The communes have no census figures (pop2019): people and densities below are counted on the population raster.",
        "no_census": "The communes have no census figures (pop2019) and the study has no population raster: no population figures.",
    },
}

# column -> (vi label, en label, vi method, en method)
_COLUMNS: dict[str, tuple[str, str, str, str]] = {
    "commune_code": ("Mã xã", "Commune code", "", ""),
    "commune_name": ("Xã, phường, thị trấn", "Commune", "", ""),
    "district_name": ("Huyện, thành phố", "District", "", ""),
    "communes": ("Số xã", "Communes", "Đếm số đơn vị hành chính cấp xã.", "Count of commune-level units."),
    "pop2019": ("Dân số 2019", "People (2019)", "Tổng điều tra dân số 2019 (TCTK), theo xã.",
                "2019 census (GSO), per commune."),
    "hh2019": ("Số hộ 2019", "Households (2019)", "Tổng điều tra dân số 2019 (TCTK), theo xã.",
               "2019 census (GSO), per commune."),
    "pop_raster": ("Dân số (lưới dân số)", "People (population raster)",
                   "Dân số trên lưới dân số, cộng theo tỷ lệ diện tích ô nằm trong ranh giới (dùng khi xã không có số liệu điều tra).",
                   "People on the population raster, summed with each cell's exact share inside the boundary (used where the communes have no census figures)."),
    "area_km2": ("Diện tích (km²)", "Area (km²)",
                 "Diện tích ranh giới xã đầy đủ (không giản lược), đo trong hệ tọa độ UTM 48N.",
                 "Area of the full commune boundary (not the simplified display one), measured in UTM 48N."),
    "density_per_km2": ("Mật độ (người/km²)", "Density (people/km²)", "Dân số 2019 chia cho diện tích.",
                        "People (2019) divided by area."),
    "sites": ("Số trạm BTS", "Cell sites", "Số trạm (site_id) khác nhau nằm trong ranh giới.",
              "Distinct sites (site_id) inside the boundary."),
    "sites_4G": ("Trạm 4G", "4G sites", "Số trạm có ít nhất một sector 4G.", "Sites with at least one 4G sector."),
    "sites_5G": ("Trạm 5G", "5G sites", "Số trạm có ít nhất một sector 5G.", "Sites with at least one 5G sector."),
    "sites_per_10k": ("Trạm/10.000 dân", "Sites per 10,000 people", "Số trạm chia cho dân số, nhân 10.000.",
                      "Sites divided by people, times 10,000."),
    "fiber_km": ("Cáp quang (km)", "Fiber (km)",
                 "Chiều dài tuyến cáp quang của mọi nhà mạng, cắt theo ranh giới, đo trong UTM 48N (tuyến chung hành lang được tính mỗi nhà mạng một lần).",
                 "Length of every operator's fiber routes clipped to the boundary, measured in UTM 48N (routes sharing a corridor count once per operator)."),
    "postal_points": ("Điểm bưu chính", "Postal points", "Số điểm phục vụ bưu chính trong xã (theo mã xã).",
                      "Postal service points in the commune (by commune code)."),
    "postal_staffed": ("Điểm BC có người phục vụ", "Staffed postal points",
                       "Số điểm bưu chính có người phục vụ.", "Postal points with staff."),
    "pct_4g_covered": ("Dân số phủ 4G (%)", "People covered by 4G (%)",
                       "Vùng phủ trạm phục vụ tốt nhất (RSRP ≥ ngưỡng của cấu hình công nghệ), mọi nhà mạng; dân số trên lưới 100 m cộng theo tỷ lệ diện tích ô nằm trong ranh giới.",
                       "Best-server coverage (RSRP at or above the technology profile's threshold), any operator; people on the 100 m grid summed with each cell's exact share inside the boundary."),
    "pct_5g_covered": ("Dân số phủ 5G (%)", "People covered by 5G (%)",
                       "Như 4G, cho các sóng mang 5G.", "As for 4G, for the 5G carriers."),
    "pct_fiber_reachable": ("Hộ trong tầm cáp quang (%)", "Households within reach of fiber (%)",
                            "Hộ gia đình cách tuyến cáp quang không quá giới hạn dây thuê bao, đo theo đường đi trên mạng đường bộ và bờ kênh.",
                            "Households within the drop-cable limit of a fiber route, measured along roads and canal banks (network distance)."),
    "missing_fiber_km": ("Cáp quang còn thiếu (km)", "Fiber still missing (km)",
                         "Tổng chiều dài cáp quang cần kéo thêm để tới các ấp chưa có cáp.",
                         "Total length of fiber still needed to reach the hamlets not reached."),
    "facilities": ("Cơ quan, cơ sở", "Facilities", "Số cơ quan, trường học, trạm y tế... trong xã (theo mã xã).",
                   "Agencies, schools, health stations... in the commune (by commune code)."),
}


def _t(lang: str) -> dict[str, str]:
    if lang not in LANGS:
        msg = f"`lang` must be one of {', '.join(LANGS)}; got {lang!r}."
        raise InputValidationError(msg)
    return _T[lang]


def _label(col: str, lang: str) -> str:
    c = _COLUMNS.get(col)
    return (c[0] if lang == "vi" else c[1]) if c else col


# --------------------------------------------------------------------------- figures
_COUNTS = ("communes", "sites", "sites_4G", "sites_5G", "postal_points", "postal_staffed", "facilities", "pop2019", "hh2019")


def _has_numbers(s: pd.Series) -> bool:
    return bool(np.isfinite(pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")).any())


def _has_districts(communes: pd.DataFrame) -> bool:
    return "district_name" in communes.columns and bool(communes["district_name"].notna().any())


def _count_by_commune(codes: pd.Series, index: pd.Series) -> np.ndarray:
    return codes.dropna().astype(str).value_counts().reindex(index.astype(str)).fillna(0).to_numpy()


def _sites_per_commune(study: Study, communes: gpd.GeoDataFrame, c: pd.DataFrame) -> None:
    """``sites``, ``sites_4G``, ``sites_5G`` per commune, each site placed by
    :func:`ictplan.services.assign_communes` (the one rule: counted once, never lost)."""
    from .services import assign_communes

    sites = study.layer("sites").to_crs(study.crs)
    one = sites.groupby("site_id").agg(tech=("technology", lambda s: set(map(str, s))), geometry=(sites.geometry.name, "first"))
    one = gpd.GeoDataFrame(one, geometry="geometry", crs=study.crs)
    one["commune_code"] = np.nan  # placed by location
    code = assign_communes(one, communes, what="sites")
    c["sites"] = _count_by_commune(code, c["commune_code"])
    for tech in ("4G", "5G"):
        has = one["tech"].map(lambda s, t=tech: t in s).to_numpy(dtype=bool)
        c[f"sites_{tech}"] = _count_by_commune(code[has], c["commune_code"])


def _commune_table(study: Study, communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per commune: names, census figures (where given), area, sites, fiber, postal points, facilities."""
    from .services import assign_communes

    base = [k for k in ("commune_code", "commune_name") if k in communes.columns]
    if _has_districts(communes):
        base.append("district_name")
    c = pd.DataFrame(communes[base].copy())
    c["commune_code"] = c["commune_code"].astype(str)
    for col in ("pop2019", "hh2019"):
        if col in communes.columns and _has_numbers(communes[col]):
            c[col] = pd.to_numeric(communes[col], errors="coerce")
    c["area_km2"] = communes.geometry.area.to_numpy() / 1e6
    zones = communes[["commune_code", communes.geometry.name]]
    if study.has("sites"):
        _sites_per_commune(study, zones, c)
    if study.has("fiber_routes"):
        routes = study.layer("fiber_routes").to_crs(study.crs)[["geometry"]]
        pieces = gpd.overlay(routes, zones, how="intersection", keep_geom_type=True)
        km = (pieces.length / 1000.0).groupby(pieces["commune_code"].astype(str)).sum()
        c["fiber_km"] = km.reindex(c["commune_code"]).fillna(0).to_numpy()
    if study.has("postal_points"):
        p = study.layer("postal_points")
        code = assign_communes(p, zones, what="postal points")
        c["postal_points"] = _count_by_commune(code, c["commune_code"])
        if "staffed" in p.columns:
            c["postal_staffed"] = _count_by_commune(code[p["staffed"].fillna(False).astype(bool).to_numpy()], c["commune_code"])
    if study.has("facilities"):
        code = assign_communes(study.layer("facilities"), zones, what="facilities")
        c["facilities"] = _count_by_commune(code, c["commune_code"])
    return c


def _rates(t: pd.DataFrame) -> pd.DataFrame:
    """Densities and rates recomputed from a level's sums; counts as integers."""
    t = t.copy()
    people = "pop2019" if "pop2019" in t.columns else ("pop_raster" if "pop_raster" in t.columns else None)
    if people is not None:
        t["density_per_km2"] = t[people] / t["area_km2"].where(t["area_km2"] > 0)
        if "sites" in t.columns:
            t["sites_per_10k"] = 1e4 * t["sites"] / t[people].where(t[people] > 0)
    for col in (*_COUNTS, "pop_raster"):
        if col in t.columns:
            t[col] = pd.to_numeric(t[col], errors="coerce").round().astype("Int64")
    return t


def _levels(c: pd.DataFrame, province_name: str, numeric: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Commune rows summed to districts (where there are) and to the province."""
    numeric = list(numeric)
    p_row = pd.DataFrame(c[numeric].sum()).T
    p_row.insert(0, "communes", len(c))
    p_row.index = [province_name]
    out = {"province": p_row}
    if "district_name" in c.columns:
        d = c.groupby("district_name", sort=True)[numeric].sum()
        d.insert(0, "communes", c.groupby("district_name").size())
        out["districts"] = d
    out["communes"] = c.set_index("commune_code")
    return {k: _rates(t) for k, t in out.items()}


def _province_name(study: Study) -> str:
    return study.province or study.name


def key_figures(study: Study, /) -> dict[str, pd.DataFrame]:
    """The study's key figures per commune, district and province (no plan targets needed).

    Columns (where the layers exist): ``pop2019``, ``hh2019`` (where the communes carry
    census figures), ``area_km2`` and ``density_per_km2`` (full geometry, study CRS),
    ``sites``, ``sites_4G``, ``sites_5G``, ``sites_per_10k``, ``fiber_km``,
    ``postal_points``, ``postal_staffed``, ``facilities``. District and province rows are
    sums of their communes (densities and rates recomputed), so every figure adds up.
    Sites, postal points and facilities are placed in communes by
    :func:`ictplan.services.assign_communes` (a point on a shared boundary counts once).

    Returns
    -------
    dict
        ``{"province": 1-row DataFrame, "districts": ..., "communes": ...}``; no
        ``"districts"`` when the communes carry no district.

    Raises
    ------
    ConfigError, InputValidationError
        From loading the study's layers.
    """
    communes = study.layer_in_crs("communes")
    c = _commune_table(study, communes)
    numeric = [k for k in c.columns if k not in ("commune_code", "commune_name", "district_name")]
    return _levels(c, _province_name(study), numeric)


def add_people(tables: Mapping[str, pd.DataFrame], people: pd.Series, /, *, province: float | None = None) -> dict[str, pd.DataFrame]:
    """``tables`` with ``pop_raster`` (people per commune on the population raster, by
    commune code) where the communes carry no census figures; districts sum their
    communes; the province takes ``province`` (the result's province row) when given.
    Densities and rates follow."""
    out = {k: v.copy() for k, v in tables.items()}
    com = out["communes"]
    com["pop_raster"] = people.reindex(com.index.astype(str)).to_numpy(dtype="float64")
    if "districts" in out and "district_name" in com.columns:
        out["districts"]["pop_raster"] = com.groupby("district_name")["pop_raster"].sum().reindex(out["districts"].index).to_numpy()
    out["province"]["pop_raster"] = float(com["pop_raster"].sum()) if province is None else float(province)
    return {k: _rates(t) for k, t in out.items()}


def _coverage_rows(cov: CoverageResult, tech: str) -> dict[str, pd.DataFrame]:
    t = cov.table if cov.table is not None else pd.DataFrame(columns=["level", "operator", "technology"])
    sel = t[(t["operator"] == "any") & (t["technology"] == tech)]
    return {"communes": sel[sel["level"] == "communes"].set_index(sel[sel["level"] == "communes"]["zone_code"].astype(str)),
            "districts": sel[sel["level"] == "districts"].set_index("zone_name"),
            "province": sel[sel["level"] == "province"]}


def _add_coverage(out: dict[str, pd.DataFrame], cov: CoverageResult) -> None:
    for tech in ("4G", "5G"):
        col = f"pct_{tech.lower()}_covered"
        rows = _coverage_rows(cov, tech)
        for key in ("communes", "districts"):
            if key in out and len(rows[key]):
                out[key][col] = rows[key]["pct_covered"].reindex(out[key].index.astype(str)).to_numpy()
        if "province" in out and len(rows["province"]):  # the province row, never a sum of districts
            out["province"][col] = float(rows["province"]["pct_covered"].iloc[0])


def _add_fiber(out: dict[str, pd.DataFrame], fib: FiberResult) -> None:
    for key, frame, idx in (("communes", fib.communes, "commune_code"), ("districts", fib.districts, "district_name")):
        if key in out and frame is not None and idx in frame.columns and "pct_reachable" in frame.columns:
            f = frame.set_index(frame[idx].astype(str))
            out[key]["pct_fiber_reachable"] = f["pct_reachable"].reindex(out[key].index.astype(str)).to_numpy()
            if "missing_fiber_m" in f.columns:
                out[key]["missing_fiber_km"] = (f["missing_fiber_m"] / 1000.0).reindex(out[key].index.astype(str)).to_numpy()
    prov = fib.province
    if "province" in out and prov is not None and len(prov) and "pct_reachable" in prov.columns:
        out["province"]["pct_fiber_reachable"] = float(prov["pct_reachable"].iloc[0])
        if "missing_fiber_m" in prov.columns:
            out["province"]["missing_fiber_km"] = float(prov["missing_fiber_m"].iloc[0]) / 1000.0


def result_figures(tables: Mapping[str, pd.DataFrame], /, *, coverage: CoverageResult | None = None,
                   fiber: FiberResult | None = None) -> dict[str, pd.DataFrame]:
    """``tables`` (from :func:`key_figures`) with the analyses' headline columns added.

    From a coverage result: ``pct_4g_covered`` and ``pct_5g_covered`` (people, any
    operator); from a fiber result: ``pct_fiber_reachable`` (households) and
    ``missing_fiber_km``. Each level's figures come from that level's rows of the
    result; the **province figures are the result's province row**, never re-summed
    from districts (whose sum would include or leave out the "(outside zones)" people).
    """
    out = {k: v.copy() for k, v in tables.items()}
    if coverage is not None:
        _add_coverage(out, coverage)
    if fiber is not None:
        _add_fiber(out, fiber)
    return out


_STATUS_MARK = {"met": "✓", "not met": "✗", "no data": "?", "not applicable": ""}


def plan_tables(sc: Any, /, *, lang: str = "vi") -> dict[str, pd.DataFrame]:
    """A :class:`ictplan.targets.Scorecard` as province / districts / communes tables for the report.

    Province: one row per target with the plan's words (in ``lang``), value, threshold,
    unit, status and gap. Districts and communes: one row per zone, one column per target
    holding "value unit" and a mark (✓ met, ✗ not met, ? no data).
    """
    _t(lang)
    t = sc.table
    text = {tg.id: (tg.text_vi if lang == "vi" else tg.text_en) for tg in sc.plan.targets}
    prov = sc.province()
    head = {"vi": ["Chỉ tiêu", "Năm", "Nội dung", "Giá trị", "Ngưỡng", "Đơn vị", "Tình trạng", "Còn thiếu"],
            "en": ["Target", "Year", "Plan text", "Value", "Threshold", "Unit", "Status", "Gap"]}[lang]
    status_vi = {"met": "đạt", "not met": "chưa đạt", "no data": "chưa có dữ liệu", "not applicable": "không áp dụng"}
    p = pd.DataFrame({
        head[0]: prov["target_id"], head[1]: prov["year"], head[2]: prov["target_id"].map(text),
        head[3]: pd.to_numeric(prov["value"], errors="coerce"), head[4]: pd.to_numeric(prov["threshold"], errors="coerce"),
        head[5]: prov["unit"],
        head[6]: prov["status"].map(lambda v: f"{_STATUS_MARK.get(v, '')} {status_vi.get(v, v) if lang == 'vi' else v}".strip()),
        head[7]: pd.to_numeric(prov["gap"], errors="coerce"),
    }).set_index(head[0])
    out = {"province": p}

    def cell(row: pd.Series) -> str:
        v = row["value"]
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return _STATUS_MARK.get(row["status"], "")
        num = f"{float(v):,.1f}" if abs(float(v)) < 1000 else f"{float(v):,.0f}"
        return f"{num} {row['unit'] or ''} {_STATUS_MARK.get(row['status'], '')}".replace("  ", " ").strip()

    for level, key in (("district", "districts"), ("commune", "communes")):
        sub = t[(t["level"] == level) & (t["target_id"].isin([tg.id for tg in sc.plan.targets if not tg.is_policy]))]
        if not len(sub):
            continue
        sub = sub.assign(_cell=sub.apply(cell, axis=1))
        wide = sub.pivot_table(index=["zone_code", "zone_name"], columns="target_id", values="_cell", aggfunc="first")
        wide = wide.reindex(columns=[i for i in sc.plan.ids if i in wide.columns]).reset_index(level=0, drop=True)
        wide.columns.name = None
        out[key] = wide
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
                ax.text(v, y, f" {v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f" {v:,.1f}", va="center", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        out.append((title, _png(fig)))
        plt.close(fig)
    return out


# --------------------------------------------------------------------------- sources, methods
def sources(study: Study, /, *, count: bool = True) -> pd.DataFrame:
    """Each of the study's layers: file, layer, features (``count``: loads each layer) and the file's date (UTC)."""
    rows = []
    for name, spec in study.layer_specs.items():
        path = Path(study.root) / spec["path"]
        try:
            mtime = _dt.datetime.fromtimestamp(path.stat().st_mtime, tz=_dt.UTC).date().isoformat()
        except OSError:
            mtime = ""
        n = None
        if count and name != "population":
            try:
                n = len(study.layer(name))
            except IctplanError:
                n = None
        rows.append({"layer": name, "file": spec["path"] + (f" : {spec['layer']}" if "layer" in spec else ""),
                     "features": n, "modified": mtime})
    out = pd.DataFrame(rows, columns=["layer", "file", "features", "modified"])
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


# --------------------------------------------------------------------------- the page
@cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("ictplan", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _cell(v: Any, years: bool) -> str:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return ""
    if isinstance(v, float | np.floating):
        x = float(v)
        return f"{x:,.1f}" if abs(x) < 1000 else f"{x:,.0f}"
    if isinstance(v, int | np.integer) and not isinstance(v, bool):
        return str(int(v)) if years else f"{int(v):,}"
    return str(v)


def _table(df: pd.DataFrame, lang: str, *, classes: str = "data", index: bool = True, labels: bool = True) -> dict[str, Any]:
    """A DataFrame as the template's table: header labels (in ``lang``) and formatted cells."""
    cols = list(df.columns)
    years = {c: bool(pd.api.types.is_integer_dtype(df[c]) and len(df[c].dropna()) and df[c].dropna().between(1900, 2100).all())
             for c in cols}
    head = [_label(str(c), lang) if labels else str(c) for c in cols]
    rows = []
    for key, rec in zip(df.index, df.itertuples(index=False, name=None), strict=True):
        cells = [_cell(v, years[c]) for c, v in zip(cols, rec, strict=True)]
        rows.append([_cell(key, False), *cells] if index else cells)
    return {"classes": classes, "head": ([""] if index else []) + head, "rows": rows, "index": index}


def _number(v: float) -> str:
    return f"{float(v):,.{0 if abs(float(v)) >= 100 or float(v).is_integer() else 1}f}"


_HEADLINE = ("pct_4g_covered", "pct_5g_covered", "pct_fiber_reachable", "missing_fiber_km")


def _kpis(prov: pd.DataFrame | None, sc: Any, T: Mapping[str, str], lang: str) -> list[tuple[str, str]]:
    """The headline tiles, read from the province row (and the plan's province statuses)."""
    kpis: list[tuple[str, str]] = []
    if hasattr(sc, "plan"):
        st = sc.province()["status"]
        kpis.append((f"{int((st == 'met').sum())} / {int(st.isin(['met', 'not met']).sum())}", T["targets_met"]))
    if prov is None or not len(prov):
        return kpis
    row = prov.iloc[0]
    order = [c for c in _HEADLINE if c in row.index] + [c for c in row.index if c not in _HEADLINE]
    for col in order:
        v = row[col]
        if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) and pd.notna(v):
            kpis.append((_number(float(v)), _label(str(col), lang)))
    return kpis[:12]


def _figures(results: Results) -> tuple[dict[str, pd.DataFrame], str | None]:
    """Key figures plus the results' columns; people from the population raster where the
    communes carry no census figures (the key into ``_T`` of the note saying so, or None)."""
    from . import maps as _maps

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
    sections = [("", tables)] if tables is figures else [("", tables), (T["key_figures"], figures)]
    out = []
    for heading, tabs in sections:
        parts = []
        for key in LEVELS:
            t = tabs.get(key)
            if t is None:
                continue
            plan = heading == "" and key == "province" and hasattr(sc, "plan")
            parts.append({"title": T[key], "scroll": len(t) > 15,
                          "table": _table(t, lang, classes="dataframe data plan" if plan else "dataframe data")})
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
    from . import maps as _maps

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
    from . import maps as _maps

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
        plan = tomllib.loads(Path(tp).read_text(encoding="utf-8")).get("plan", {})
        pname = plan.get("name" if lang == "vi" else "name_en") or plan.get("name", "")
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        pname = ""
    return Path(tp).name, str(pname)


def _methods(tables: Mapping[str, pd.DataFrame], figures: Mapping[str, pd.DataFrame], sc: Any,
             notes: Mapping[str, str] | None, lang: str) -> pd.DataFrame:
    cols: list[str] = []
    for t in list(tables.values()) + list(figures.values()):
        cols.extend(str(c) for c in t.columns)
    notes = dict(notes or {})
    if hasattr(sc, "plan"):
        from . import targets as _targets

        desc = _targets.describe_indicators().set_index("indicator")["how"]
        for tg in sc.plan.targets:
            if tg.indicator in desc.index:
                notes.setdefault(tg.id, f"{tg.indicator}: {desc[tg.indicator]}")
                cols.append(tg.id)
    return methods(cols, lang=lang, notes=notes)


def _page_context(results: Results, sc: Any, maps: Sequence[tuple[str, str]] | None, chart_columns: Sequence[str] | None,
                  notes: Mapping[str, str] | None, generated: _dt.date, lang: str) -> dict[str, Any]:
    T = _t(lang)
    study = results.study
    figures, people_note = _figures(results)
    tables, plan_name = _scorecard_tables(sc, figures, lang)
    maps = _checked_maps(maps) if maps is not None else _default_maps(results, lang, T)
    targets_file, plan_file_name = _plan_file(study, lang)
    src = sources(study).rename(columns={"layer": T["layer"], "file": T["file"], "features": T["features"], "modified": T["modified"]})
    meth = _methods(tables, figures, sc, notes, lang).rename(columns={"indicator": T["indicator"], "how": T["how"]})
    province = study.province
    return {
        "lang": lang, "T": T, "page_title": f"{T['title']} — {province or study.name}", "province": province,
        "study_name": study.name, "generated": generated.isoformat(), "synthetic": study.synthetic,
        "nav": [(a, T[a]) for a in ("summary", "scorecard", "charts", "maps", "sources", "methods")],
        "skipped": list(results.skipped.items()), "notes": [T[people_note]] if people_note else [],
        "kpis": _kpis(figures.get("province"), sc, T, lang),
        "scorecard_note": T["key_figures_note"] if sc is None else "",
        "plan_line": f"{plan_name}. {T['marks']}" if plan_name else "",
        "sections": _sections(tables, figures, sc, T, lang), "charts": _charts(figures, lang, chart_columns),
        "maps": maps, "study_root": str(study.root), "epsg": study.crs.to_epsg(),
        "targets_file": targets_file, "plan_file_name": plan_file_name,
        "sources": _table(src, lang, index=False, labels=False), "methods": _table(meth, lang, index=False, labels=False),
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
    from . import io as _io

    with _io.atomic_path(path, overwrite=overwrite) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return Path(path)
