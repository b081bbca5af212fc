"""One self-contained HTML report for leadership, in Vietnamese or English.

The report holds, in one file that opens anywhere (no network, no other file):

* the scorecard at three levels -- province, districts, communes -- either the plan's
  scorecard (a DataFrame from :mod:`ictplan.targets`, passed in) or, without one, the
  study's key figures measured here (:func:`key_figures`);
* charts drawn with matplotlib, embedded as base64 PNG;
* the key maps, embedded whole (``<iframe srcdoc>``: Leaflet inlined, so they stay live);
* the data sources with their dates, and how each indicator was measured.

Every text from data is escaped; the page declares UTF-8 so diacritics show as written.
:func:`build` returns the page as a string; :func:`save` writes it atomically.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io as _pyio
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import IctplanError, InputValidationError, MissingColumnError

__all__ = ["LANGS", "key_figures", "result_figures", "plan_tables", "split_levels", "charts", "sources", "methods", "build", "save"]

LANGS = ("vi", "en")

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
def key_figures(study: Any, /) -> dict[str, pd.DataFrame]:
    """The study's key figures per commune, district and province (no plan targets needed).

    Columns (where the layers exist): ``pop2019``, ``hh2019``, ``area_km2`` and
    ``density_per_km2`` (full geometry, study CRS), ``sites``, ``sites_4G``,
    ``sites_5G``, ``sites_per_10k``, ``fiber_km``, ``postal_points``,
    ``postal_staffed``, ``facilities``. District and province rows are sums of their
    communes (densities and rates recomputed), so every figure adds up; a site on a
    boundary shared by two communes counts in the first of them.

    Returns
    -------
    dict
        ``{"province": 1-row DataFrame, "districts": ..., "communes": ...}``.

    Raises
    ------
    ConfigError, InputValidationError
        From loading the study's layers.
    """
    communes = study.layer_in_crs("communes") if hasattr(study, "layer_in_crs") else study.layer("communes").to_crs(study.crs)
    base = ["commune_code", "commune_name", "district_name"]
    c = pd.DataFrame(communes[base].copy())
    for col in ("pop2019", "hh2019"):
        if col in communes.columns:
            c[col] = pd.to_numeric(communes[col], errors="coerce")
    c["area_km2"] = communes.geometry.area.to_numpy() / 1e6
    zones = communes[["commune_code", communes.geometry.name]]
    if study.has("sites"):
        sites = study.layer("sites").to_crs(study.crs)
        one = sites.groupby("site_id").agg(tech=("technology", lambda s: set(map(str, s))), geometry=(sites.geometry.name, "first"))
        one = gpd.GeoDataFrame(one, geometry="geometry", crs=study.crs)
        # a site on a shared boundary goes to the first commune it touches: counted once, never lost
        j = gpd.sjoin(one, zones, predicate="intersects", how="inner")
        j = j[~j.index.duplicated(keep="first")]
        c["sites"] = j.groupby("commune_code").size().reindex(c["commune_code"]).fillna(0).to_numpy()
        for tech in ("4G", "5G"):
            has = j[j["tech"].map(lambda s, t=tech: t in s)]
            c[f"sites_{tech}"] = has.groupby("commune_code").size().reindex(c["commune_code"]).fillna(0).to_numpy()
    if study.has("fiber_routes"):
        routes = study.layer("fiber_routes").to_crs(study.crs)[["geometry"]]
        pieces = gpd.overlay(routes, zones, how="intersection", keep_geom_type=True)
        km = (pieces.length / 1000.0).groupby(pieces["commune_code"]).sum()
        c["fiber_km"] = km.reindex(c["commune_code"]).fillna(0).to_numpy()
    if study.has("postal_points"):
        p = study.layer("postal_points")
        c["postal_points"] = p.groupby("commune_code").size().reindex(c["commune_code"]).fillna(0).to_numpy()
        if "staffed" in p.columns:
            c["postal_staffed"] = p[p["staffed"].astype(bool)].groupby("commune_code").size().reindex(c["commune_code"]).fillna(0).to_numpy()
    if study.has("facilities"):
        f = study.layer("facilities")
        c["facilities"] = f.groupby("commune_code").size().reindex(c["commune_code"]).fillna(0).to_numpy()
    numeric = [k for k in c.columns if k not in base]
    d = c.groupby("district_name", sort=True)[numeric].sum()
    d.insert(0, "communes", c.groupby("district_name").size())
    p_row = pd.DataFrame(c[numeric].sum()).T
    p_row.insert(0, "communes", len(c))
    p_row.index = [getattr(study, "name", "province")]
    out = {"province": p_row, "districts": d, "communes": c.set_index("commune_code")}
    for k, t in out.items():
        t = t.copy()
        if "pop2019" in t.columns:
            t["density_per_km2"] = t["pop2019"] / t["area_km2"].where(t["area_km2"] > 0)
            if "sites" in t.columns:
                t["sites_per_10k"] = 1e4 * t["sites"] / t["pop2019"].where(t["pop2019"] > 0)
        for col in ("communes", "sites", "sites_4G", "sites_5G", "postal_points", "postal_staffed", "facilities", "pop2019", "hh2019"):
            if col in t.columns:
                t[col] = t[col].round().astype("Int64")
        out[k] = t
    return out


def result_figures(tables: Mapping[str, pd.DataFrame], /, *, coverage: Any = None, fiber: Any = None) -> dict[str, pd.DataFrame]:
    """``tables`` (from :func:`key_figures`) with the analyses' headline columns added.

    From a coverage result (:func:`ictplan.coverage.run`): ``pct_4g_covered`` and
    ``pct_5g_covered`` (people, any operator); from a fiber result
    (:func:`ictplan.fiber.run`): ``pct_fiber_reachable`` (households) and
    ``missing_fiber_km``. Province figures are recomputed from the district sums
    (people- or household-weighted), never averaged.
    """
    out = {k: v.copy() for k, v in tables.items()}
    if coverage is not None and getattr(coverage, "table", None) is not None:
        t = coverage.table[coverage.table["operator"] == "any"]
        for tech in ("4G", "5G"):
            col = f"pct_{tech.lower()}_covered"
            sel = t[t["technology"] == tech]
            c = sel[sel["level"] == "communes"].set_index(sel[sel["level"] == "communes"]["zone_code"].astype(str))
            d = sel[sel["level"] == "districts"].set_index("zone_name")
            if "communes" in out and len(c):
                out["communes"][col] = c["pct_covered"].reindex(out["communes"].index.astype(str)).to_numpy()
            if "districts" in out and len(d):
                out["districts"][col] = d["pct_covered"].reindex(out["districts"].index).to_numpy()
            base = d if len(d) else c
            if "province" in out and len(base) and base["population"].sum() > 0:
                out["province"][col] = 100.0 * base["pop_covered"].sum() / base["population"].sum()
    if fiber is not None:
        for key, frame, idx in (("communes", getattr(fiber, "communes", None), "commune_code"),
                                ("districts", getattr(fiber, "districts", None), "district_name")):
            if key in out and frame is not None and "pct_reachable" in frame.columns:
                f = frame.set_index(frame[idx].astype(str))
                out[key]["pct_fiber_reachable"] = f["pct_reachable"].reindex(out[key].index.astype(str)).to_numpy()
                if "missing_fiber_m" in f.columns:
                    out[key]["missing_fiber_km"] = (f["missing_fiber_m"] / 1000.0).reindex(out[key].index.astype(str)).to_numpy()
        prov = getattr(fiber, "province", None)
        if "province" in out and prov is not None and len(prov) and "pct_reachable" in prov.columns:
            out["province"]["pct_fiber_reachable"] = float(prov["pct_reachable"].iloc[0])
            if "missing_fiber_m" in prov.columns:
                out["province"]["missing_fiber_km"] = float(prov["missing_fiber_m"].iloc[0]) / 1000.0
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
           max_charts: int = 6) -> list[tuple[str, bytes]]:
    """Horizontal bar charts of ``districts`` columns (one per numeric column), as PNG bytes.

    Returns ``[(title, png_bytes), ...]``; the title is in ``lang``.

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
        title = f"{_label(col, lang)} — {T['by_district']}"
        fig, ax = plt.subplots(figsize=(6.4, 0.35 * len(s) + 1.0))
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
def sources(study: Any, /, *, count: bool = True) -> pd.DataFrame:
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
_CSS = """
body{font:15px/1.5 system-ui,"Segoe UI",Roboto,"Noto Sans",Arial,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#0b4f6c;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:24px} header p{margin:4px 0 0;opacity:.9}
main{max-width:1180px;margin:0 auto;padding:8px 24px 40px}
h2{border-bottom:2px solid #0b4f6c;padding-bottom:4px;margin-top:34px}
.note{background:#fff3cd;border:1px solid #e0c36a;padding:8px 12px;border-radius:4px}
table.data{border-collapse:collapse;font-size:13px;margin:8px 0 18px;background:#fff}
table.data th,table.data td{border:1px solid #ccc;padding:3px 7px;text-align:right}
table.data th{background:#eef3f6} table.data td:first-child,table.data th:first-child{text-align:left}
table.plan td:nth-child(3){text-align:left;min-width:280px}
.scroll{max-height:520px;overflow:auto;border:1px solid #ddd}
.charts{display:flex;flex-wrap:wrap;gap:14px} .charts figure{margin:0;background:#fff;border:1px solid #ddd;padding:6px}
.charts img{max-width:540px;height:auto;display:block}
iframe.map{width:100%;height:640px;border:1px solid #bbb;background:#f2efe9}
nav a{margin-right:14px} .kpi{display:flex;flex-wrap:wrap;gap:10px}
.kpi div{background:#fff;border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:140px}
.kpi b{display:block;font-size:20px;color:#0b4f6c}
"""


def _fmt_table(df: pd.DataFrame, lang: str, *, index_label: str | None = None) -> str:
    t = df.copy()
    for col in t.columns:
        if pd.api.types.is_float_dtype(t[col]):
            t[col] = t[col].map(lambda v: "" if pd.isna(v) else (f"{v:,.1f}" if abs(v) < 1000 else f"{v:,.0f}"))
        elif pd.api.types.is_integer_dtype(t[col]):
            years = t[col].dropna().between(1900, 2100).all() and len(t[col].dropna())
            t[col] = t[col].map(lambda v, y=years: "" if pd.isna(v) else (str(int(v)) if y else f"{int(v):,}"))
    t = t.rename(columns={c: _label(str(c), lang) for c in t.columns})
    t.index.name = None if index_label is None else index_label
    return t.to_html(classes="data", escape=True, border=0, na_rep="")


def build(
    study: Any,
    /,
    *,
    lang: str = "vi",
    scorecard: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
    maps: Sequence[tuple[str, str]] | None = None,
    chart_columns: Sequence[str] | None = None,
    notes: Mapping[str, str] | None = None,
    generated: _dt.date | None = None,
    results: bool = False,
    coverage: Any = None,
    fiber: Any = None,
    sharing: Any = None,
) -> str:
    """The report as one self-contained HTML page.

    Parameters
    ----------
    study
        An :class:`ictplan.study.Study`.
    lang
        "vi" (default) or "en": every heading and label.
    scorecard
        The plan's scorecard (see :func:`split_levels`); ``None`` uses :func:`key_figures`.
    maps
        ``[(title, map_html), ...]`` -- pages from :func:`ictplan.maps.to_html`; ``None``
        makes the study's map (:func:`ictplan.maps.study_map`) in ``lang``.
    chart_columns
        District columns to chart (default: the first numeric ones).
    notes
        Indicator -> how it was measured, added to the methods table.
    generated
        The date printed on the report (default: today).
    results
        Run the analyses that are not given (coverage, fiber, sharing) and add their
        figures to the tables and their layers to the map.
    coverage, fiber, sharing
        Results of :func:`ictplan.coverage.run`, :func:`ictplan.fiber.run`,
        :func:`ictplan.sharing.run` (computed when ``results`` and not given).

    Raises
    ------
    InputValidationError
        Unknown ``lang``, or a map needing external resources.
    MissingColumnError
        A scorecard without levels.
    """
    from . import maps as _maps

    T = _t(lang)
    esc = html.escape
    layers: dict[str, Any] = {}
    if results or coverage is not None or fiber is not None or sharing is not None:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if results:
                coverage, fiber, sharing = (_run_analysis(n, g, study) for n, g in
                                            (("coverage", coverage), ("fiber", fiber), ("sharing", sharing)))
            layers = _maps.result_layers(study, coverage=coverage, fiber=fiber, sharing=sharing, lang=lang, run=False)
    figures = result_figures(key_figures(study), coverage=coverage, fiber=fiber)
    plan_name = ""
    if scorecard is None and results and getattr(study, "targets_path", None) is not None:
        try:
            from . import targets as _targets

            scorecard = _targets.scorecard(study, coverage_result=coverage, fiber_result=fiber, sharing_result=sharing,
                                           compute=False)
        except (ImportError, IctplanError):
            scorecard = None
    if scorecard is not None and hasattr(scorecard, "plan") and hasattr(scorecard, "table"):
        plan_name = scorecard.plan.name if lang == "vi" else (scorecard.plan.name_en or scorecard.plan.name)
        tables = plan_tables(scorecard, lang=lang)
    elif scorecard is not None:
        tables = split_levels(scorecard)
    else:
        tables = figures
    if maps is None:
        maps = [(T["overview_map"], _maps.to_html(_maps.study_map(study, lang=lang, **layers)))]
        vals = layers.get("values")
        if vals is not None and "pct_fiber_reachable" in vals.columns:
            unreached = [e for e in layers.get("extra", []) if e.get("key") == "unreached_hamlets"]
            fiber_map = _maps.study_map(study, lang=lang, layers=("communes", "districts", "fiber_routes"),
                                        values=vals[["pct_fiber_reachable"]], value_labels=layers.get("value_labels"),
                                        extra=[{**e, "show": True} for e in unreached])
            maps.append((T["fiber_map"], _maps.to_html(fiber_map)))
    generated = generated or _dt.date.today()
    parts: list[str] = []
    title = f"{T['title']} — {getattr(study, 'province', None) or study.name}"
    parts.append(f"<header><h1>{esc(T['title'])}</h1><p>{esc(study.name)} · {esc(T['generated'])} {generated.isoformat()}</p></header><main>")
    nav = [("summary", T["summary"]), ("scorecard", T["scorecard"]), ("charts", T["charts"]), ("maps", T["maps"]),
           ("sources", T["sources"]), ("methods", T["methods"])]
    parts.append("<nav>" + "".join(f'<a href="#{a}">{esc(b)}</a>' for a, b in nav) + "</nav>")
    if getattr(study, "synthetic", False):
        parts.append(f'<p class="note">{esc(T["synthetic"])}</p>')
    # summary KPIs from the province row
    prov = figures.get("province")
    parts.append(f'<h2 id="summary">{esc(T["summary"])}</h2>')
    if prov is not None and len(prov):
        row = prov.iloc[0]
        kpis = []
        if hasattr(scorecard, "plan"):
            st = scorecard.province()["status"]
            judged = int(st.isin(["met", "not met"]).sum())
            kpis.append(f"<div><b>{int((st == 'met').sum())} / {judged}</b>{esc(T['targets_met'])}</div>")
        first = [c for c in ("pct_4g_covered", "pct_5g_covered", "pct_fiber_reachable", "missing_fiber_km") if c in row.index]
        for col, v in list(row[first].items()) + [(c, x) for c, x in row.items() if c not in first]:
            if isinstance(v, int | float | np.integer | np.floating) and not isinstance(v, bool) and pd.notna(v):
                kpis.append(f"<div><b>{float(v):,.{0 if abs(float(v)) >= 100 or float(v).is_integer() else 1}f}</b>{esc(_label(str(col), lang))}</div>")
        parts.append('<div class="kpi">' + "".join(kpis[:12]) + "</div>")
    # scorecard tables
    parts.append(f'<h2 id="scorecard">{esc(T["scorecard"])}</h2>')
    if scorecard is None:
        parts.append(f'<p class="note">{esc(T["key_figures_note"])}</p>')
    elif plan_name:
        parts.append(f"<p>{esc(plan_name)}. {esc(T['marks'])}</p>")
    sections = [("", tables)] if tables is figures else [("", tables), (T["key_figures"], figures)]
    for heading, tabs in sections:
        if heading:
            parts.append(f'<h2 id="figures">{esc(heading)}</h2>')
        for key in ("province", "districts", "communes"):
            t = tabs.get(key)
            if t is None:
                continue
            parts.append(f"<h3>{esc(T[key])}</h3>")
            wrap = ' class="scroll"' if len(t) > 15 else ""
            table_html = _fmt_table(t, lang)
            if heading == "" and key == "province" and hasattr(scorecard, "plan"):
                table_html = table_html.replace('class="dataframe data"', 'class="dataframe data plan"', 1)
            parts.append(f"<div{wrap}>{table_html}</div>")
    # charts
    parts.append(f'<h2 id="charts">{esc(T["charts"])}</h2><div class="charts">')
    d = figures.get("districts")
    if d is not None and len(d):
        for ctitle, png in charts(d, lang=lang, columns=chart_columns):
            b64 = base64.b64encode(png).decode("ascii")
            parts.append(f'<figure><img alt="{esc(ctitle)}" src="data:image/png;base64,{b64}"><figcaption>{esc(ctitle)}</figcaption></figure>')
    parts.append("</div>")
    # maps
    parts.append(f'<h2 id="maps">{esc(T["maps"])}</h2><p>{esc(T["map_note"])}</p>')
    for mtitle, page in maps:
        ext = _maps.external_resources(page)
        if ext:
            msg = f"the map {mtitle!r} needs external resources {ext}; build it with ictplan.maps.to_html."
            raise InputValidationError(msg)
        parts.append(f'<h3>{esc(mtitle)}</h3><iframe class="map" title="{esc(mtitle)}" srcdoc="{esc(page, quote=True)}"></iframe>')
    # sources
    parts.append(f'<h2 id="sources">{esc(T["sources"])}</h2>')
    parts.append(f"<p>{esc(T['study'])}: {esc(study.name)} ({esc(str(study.root))}) · {esc(T['crs'])}: EPSG:{study.crs.to_epsg()}</p>")
    tp = getattr(study, "targets_path", None)
    if tp is not None and Path(tp).exists():
        try:
            plan = tomllib.loads(Path(tp).read_text(encoding="utf-8")).get("plan", {})
            pname = plan.get("name" if lang == "vi" else "name_en") or plan.get("name", "")
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            pname = ""
        parts.append(f"<p>{esc(T['targets_file'])}: {esc(Path(tp).name)}{' — ' + esc(pname) if pname else ''}</p>")
    src = sources(study).rename(columns={"layer": T["layer"], "file": T["file"], "features": T["features"], "modified": T["modified"]})
    parts.append(src.to_html(classes="data", escape=True, border=0, index=False, na_rep=""))
    # methods
    cols: list[str] = []
    for t in list(tables.values()) + list(figures.values()):
        cols.extend(str(c) for c in t.columns)
    notes = dict(notes or {})
    if hasattr(scorecard, "plan"):
        try:
            from . import targets as _targets

            desc = _targets.describe_indicators().set_index("indicator")["how"]
            for tg in scorecard.plan.targets:
                if tg.indicator in desc.index:
                    notes.setdefault(tg.id, f"{tg.indicator}: {desc[tg.indicator]}")
                    cols.append(tg.id)
        except ImportError:
            pass
    meth = methods(cols, lang=lang, notes=notes).rename(columns={"indicator": T["indicator"], "how": T["how"]})
    parts.append(f'<h2 id="methods">{esc(T["methods"])}</h2>')
    parts.append(meth.to_html(classes="data", escape=True, border=0, index=False))
    parts.append("</main>")
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>" + "\n".join(parts) + "</body></html>\n"
    )


def _run_analysis(name: str, given: Any, study: Any) -> Any:
    if given is not None:
        return given
    import importlib

    try:
        mod = importlib.import_module(f"ictplan.{name}")
    except ImportError:
        return None
    try:
        return mod.run(study)
    except IctplanError:
        return None


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
