"""ictplan.report: a self-contained, bilingual, escaped report whose figures add up."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from ictplan import maps, report, workflow
from ictplan import study as _study
from ictplan._errors import (
    InputValidationError,
    MissingColumnError,
    OutputExistsError,
    SkippedFeaturesWarning,
)

from ._mapstudy import BOTTOM_ROWS, bottom_communes, gso_communes, variant
from ._studydata import EVIL, build_study


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return _study.load(build_study(tmp_path_factory.mktemp("report") / "st"))


@pytest.fixture(scope="module")
def pages(study):
    return {lang: report.build(workflow.Results(study=study), lang=lang) for lang in ("vi", "en")}


def _srcdocs(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'srcdoc="([^"]*)"', page)]


def test_self_contained_and_utf8(pages):
    for page in pages.values():
        assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
        assert maps.external_resources(page) == []
        docs = _srcdocs(page)
        assert len(docs) == 1
        assert maps.external_resources(docs[0]) == [] and "Leaflet 1.9.4" in docs[0]
        imgs = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
        assert len(imgs) >= 3
        assert all(base64.b64decode(b)[:8] == b"\x89PNG\r\n\x1a\n" for b in imgs)


def test_languages_and_diacritics(pages):
    vi, en = pages["vi"], pages["en"]
    assert '<html lang="vi">' in vi and "Toàn tỉnh" in vi and "Theo xã, phường, thị trấn" in vi and "Nguồn dữ liệu" in vi
    assert "Cách đo các chỉ tiêu" in vi and "Dân số 2019" in vi
    assert '<html lang="en">' in en and "By commune" in en and "Data sources" in en and "People (2019)" in en
    assert "Toàn tỉnh" not in en
    for page in (vi, en):
        assert "Khánh Bình Đông" in page and "Trần Văn Thời" in page  # NFC text written as is
    with pytest.raises(InputValidationError, match="lang"):
        report.build(SimpleNamespace(), lang="fr")


def test_injected_script_is_escaped(pages):
    for page in pages.values():
        assert EVIL not in page
        assert html.escape(EVIL) in page  # shown in the communes table, as text
        for doc in _srcdocs(page):
            assert EVIL not in doc


def test_key_figures_add_up_and_match_brute_force(study):
    t = report.key_figures(study)
    prov, dist, com = t["province"], t["districts"], t["communes"]
    assert len(com) == 6 and len(dist) == 2
    for col in ("pop2019", "hh2019", "sites", "sites_4G", "sites_5G", "postal_points", "facilities"):
        assert int(com[col].sum()) == int(dist[col].sum()) == int(prov[col].iloc[0]), col
    for col in ("area_km2", "fiber_km"):
        assert com[col].sum() == pytest.approx(dist[col].sum()) == pytest.approx(prov[col].iloc[0])
    assert prov["pop2019"].iloc[0] == 73_000
    assert prov["density_per_km2"].iloc[0] == pytest.approx(73_000 / prov["area_km2"].iloc[0])
    # brute force, one feature at a time with shapely
    communes = study.layer("communes").to_crs(study.crs)
    sites = study.layer("sites").to_crs(study.crs).drop_duplicates("site_id")
    routes = study.layer("fiber_routes").to_crs(study.crs)
    owner = [next((c["commune_code"] for _, c in communes.iterrows() if c.geometry.intersects(p)), None) for p in sites.geometry]
    assert None not in owner  # every site counted ...
    for _, c in communes.iterrows():
        n = owner.count(c["commune_code"])  # ... once (S4 sits on a shared boundary: first commune wins)
        km = sum(c.geometry.intersection(r).length for r in routes.geometry) / 1000
        assert com.loc[c["commune_code"], "sites"] == n
        assert com.loc[c["commune_code"], "fiber_km"] == pytest.approx(km, rel=1e-9, abs=1e-9)
        assert com.loc[c["commune_code"], "area_km2"] == pytest.approx(c.geometry.area / 1e6)
    assert prov["sites"].iloc[0] == 5 and prov["sites_5G"].iloc[0] == 1
    assert prov["fiber_km"].iloc[0] == pytest.approx(sum(r.length for r in routes.geometry) / 1000, rel=1e-6)


def test_result_figures_read_the_province_row(study):
    t = report.key_figures(study)
    codes = list(t["communes"].index)
    rows = []
    for lvl, zone, name, pop, cov in [("communes", codes[0], "a", 25_000, 25_000), ("communes", codes[1], "b", 12_000, 0),
                                      ("communes", "(outside zones)", "(outside zones)", 50_000, 0),
                                      ("districts", "964", "Thành phố Cà Mau", 45_000, 30_000),
                                      ("districts", "970", "Trần Văn Thời", 28_000, 7_000),
                                      ("districts", "(outside zones)", "(outside zones)", 50_000, 0),
                                      ("province", "province", "province", 73_000, 37_000)]:
        rows.append({"level": lvl, "zone_code": zone, "zone_name": name, "technology": "4G", "operator": "any",
                     "population": pop, "pop_covered": cov, "pct_covered": 100 * cov / pop})
    cov = SimpleNamespace(table=pd.DataFrame(rows))
    fib = SimpleNamespace(communes=pd.DataFrame({"commune_code": codes, "pct_reachable": np.arange(6.0), "missing_fiber_m": 1000.0}),
                          districts=pd.DataFrame({"district_name": ["Thành phố Cà Mau", "Trần Văn Thời"], "pct_reachable": [10.0, 20.0],
                                                  "missing_fiber_m": [3000.0, 3000.0]}),
                          province=pd.DataFrame({"pct_reachable": [14.0], "missing_fiber_m": [6000.0]}))
    out = report.result_figures(t, coverage=cov, fiber=fib)
    # the province row, not a sum over the district rows (which hold the 50,000 people outside every commune)
    assert out["province"]["pct_4g_covered"].iloc[0] == pytest.approx(100 * 37_000 / 73_000)
    assert out["districts"].loc["Trần Văn Thời", "pct_4g_covered"] == pytest.approx(25.0)
    assert out["communes"].loc[codes[1], "pct_4g_covered"] == 0.0 and np.isnan(out["communes"].loc[codes[2], "pct_4g_covered"])
    assert "(outside zones)" not in out["communes"].index and "(outside zones)" not in out["districts"].index
    assert out["communes"]["pct_fiber_reachable"].tolist() == list(np.arange(6.0))
    assert out["province"]["pct_fiber_reachable"].iloc[0] == 14.0 and out["province"]["missing_fiber_km"].iloc[0] == 6.0
    assert "pct_4g_covered" not in t["province"].columns  # input unchanged


def test_split_levels():
    sc = pd.DataFrame({"level": ["province", "district", "commune", "commune"], "zone": ["P", "D", "C1", "C2"], "value": [1, 2, 3, 4]})
    out = report.split_levels(sc)
    assert set(out) == {"province", "districts", "communes"} and len(out["communes"]) == 2
    assert "level" not in out["communes"].columns
    with pytest.raises(MissingColumnError, match="level"):
        report.split_levels(sc.drop(columns="level"))


def test_report_with_a_given_scorecard_and_maps(study):
    sc = {"province": pd.DataFrame({"target": ["P1"], "value": [128.0], "status": ["<b>not met</b>"]}),
          "district": pd.DataFrame({"value": [1.0, 2.0]}, index=["Huyện A", "Huyện B"]), "communes": None}
    m = maps.to_html(maps.new_map((105.0, 9.0, 105.2, 9.2)))
    page = report.build(workflow.Results(study=study), lang="en", scorecard=sc, maps=[("Only map", m)],
                        notes={"value": "Counted by hand."})
    assert "&lt;b&gt;not met&lt;/b&gt;" in page and "Counted by hand." in page and "Only map" in page
    assert "No plan scorecard" not in page and "The study&#39;s key figures" in page  # jinja2's escape of '
    assert len(re.findall(r"<h3[^>]*>By commune</h3>", page)) == 1  # the scorecard had none: only the key figures' table
    assert len(re.findall(r"<h3[^>]*>By district</h3>", page)) == 2 and "Huyện A" in page
    with pytest.raises(InputValidationError, match="external"):
        report.build(workflow.Results(study=study), lang="en", scorecard=sc,
                     maps=[("bad", '<script src="https://x/y.js"></script>')])


def test_charts_are_pngs_per_numeric_column():
    d = pd.DataFrame({"pop2019": [3, 1, 2], "name": ["a", "b", "c"], "fiber_km": [1.5, np.nan, 2.0]}, index=["X", "Y", "Z"])
    out = report.charts(d, lang="vi")
    assert [t for t, _ in out] == ["Cáp quang (km) — theo huyện", "Dân số 2019 — theo huyện"]  # most telling first
    assert all(p[:4] == b"\x89PNG" for _, p in out)


def test_sources_and_methods(study):
    s = report.sources(study)
    assert set(s["layer"]) == set(study.layer_specs) and s["modified"].str.match(r"\d{4}-\d{2}-\d{2}").all()
    assert s.set_index("layer").loc["communes", "features"] == 6
    m = report.methods(["pop2019", "nope", "fiber_km"], lang="en")
    assert len(m) == 2 and "UTM 48N" in m["how"].iloc[1]


def test_save_and_cli(study, tmp_path):
    from ictplan.cli import main

    p = report.save("<!DOCTYPE html><p>x</p>", tmp_path / "r.html")
    with pytest.raises(OutputExistsError):
        report.save("y", p)
    out = tmp_path / "out"
    assert main(["report", str(study.root), "--out", str(out), "--lang", "en", "--no-results"]) == 0
    page = (out / "report_en.html").read_text(encoding="utf-8")
    assert "By district" in page and maps.external_resources(page) == []
    assert main(["report", str(study.root), "--out", str(out), "--no-results"]) == 1  # not empty, no --overwrite



def _fake_scorecard():
    targets = [SimpleNamespace(id="P1", text_vi="300 điểm phục vụ bưu chính", text_en="300 postal points", is_policy=False,
                               indicator="postal_points_count", unit="points"),
               SimpleNamespace(id="M3", text_vi="Phủ 5G 20% dân số", text_en="5G for 20% of people", is_policy=False,
                               indicator="pop_5g_pct", unit="%"),
               SimpleNamespace(id="X9", text_vi="Chính sách", text_en="A policy", is_policy=True, indicator="policy", unit="")]
    rows = [
        ("P1", 2025, "province", "province", "Cà Mau", 126.0, 300.0, "points", "not met", 174.0, "points", "postal_points_count", ">="),
        ("M3", 2025, "province", "province", "Cà Mau", 32.4, 20.0, "%", "met", 0.0, "people", "pop_5g_pct", ">="),
        ("X9", 2030, "province", "province", "Cà Mau", np.nan, np.nan, "", "not applicable", np.nan, "", "policy", None),
        ("P1", 2025, "district", "964", "Thành phố Cà Mau", 31.0, np.nan, "points", "not applicable", np.nan, "points",
         "postal_points_count", ">="),
        ("M3", 2025, "district", "964", "Thành phố Cà Mau", 72.55, 20.0, "%", "met", 0.0, "people", "pop_5g_pct", ">="),
        ("P1", 2025, "commune", "32010", "Phường 5", 3.0, np.nan, "points", "not applicable", np.nan, "points",
         "postal_points_count", ">="),
        ("M3", 2025, "commune", "32010", "Phường 5", np.nan, 20.0, "%", "no data", np.nan, "people", "pop_5g_pct", ">="),
        ("X9", 2030, "commune", "32010", "Phường 5", np.nan, np.nan, "", "not applicable", np.nan, "", "policy", None),
    ]
    table = pd.DataFrame(rows, columns=["target_id", "year", "level", "zone_code", "zone_name", "value", "threshold", "unit",
                                        "status", "gap", "gap_unit", "indicator", "comparison"])
    plan = SimpleNamespace(targets=tuple(targets), ids=[t.id for t in targets], name="Quy hoạch", name_en="The plan")
    return SimpleNamespace(table=table, plan=plan, province=lambda: table[table["level"] == "province"].reset_index(drop=True))


def test_plan_tables_from_a_scorecard():
    sc = _fake_scorecard()
    en = report.plan_tables(sc, lang="en")
    p = en["province"]
    assert list(p.index) == ["P1", "M3", "X9"] and p.loc["P1", "Plan text"] == "300 postal points"
    assert p.loc["P1", "Status"] == "✗ not met" and p.loc["M3", "Status"] == "✓ met"
    assert p.loc["P1", "Gap"] == "174\u00a0points" and p.loc["M3", "Gap"] == ""  # gaps always with their unit
    assert p.loc["P1", "Measured as"] == "Postal service points" and p.loc["M3", "Target value"] == "≥ 20\u00a0%"
    d, c = en["districts"], en["communes"]
    assert list(d.columns) == ["P1", "M3"]  # policies are not columns
    assert d.loc["Thành phố Cà Mau", "M3"] == "72.5 % ✓" or d.loc["Thành phố Cà Mau", "M3"] == "72.6 % ✓"
    assert d.loc["Thành phố Cà Mau", "P1"] == "31.0 points"
    assert c.loc["Phường 5", "M3"] == "?"
    vi = report.plan_tables(sc, lang="vi")["province"]
    assert vi.loc["P1", "Tình trạng"] == "✗ chưa đạt" and vi.loc["M3", "Nội dung"] == "Phủ 5G 20% dân số"
    assert vi.loc["P1", "Còn thiếu"] == "174\u00a0điểm" and vi.loc["P1", "Giá trị"] == "126\u00a0điểm"
    assert report.plan_tables(sc, lang="vi")["districts"].loc["Thành phố Cà Mau", "P1"] == "31,0 điểm"  # decimal comma


def test_report_with_a_plan_scorecard(study):
    page = report.build(workflow.Results(study=study), lang="vi", scorecard=_fake_scorecard(), maps=[])
    assert "Quy hoạch." in page and "✓ đạt, ✗ chưa đạt" in page
    assert "<b>1 / 2</b>chỉ tiêu toàn tỉnh đã đạt; 1 chưa đạt, 0 chưa có dữ liệu" in page  # met / measurable
    assert "Số liệu chính của nghiên cứu" in page  # the key figures follow the plan's scorecard
    # how the targets are measured, in Vietnamese and without code names
    assert "P1 · Số điểm phục vụ bưu chính" in page and "postal_points_count" not in page
    assert "P1 Số điểm phục vụ bưu chính: 126\u00a0điểm (mục tiêu ≥ 300\u00a0điểm), còn thiếu 174\u00a0điểm" in page
    assert 'class="st-met"' in page and 'class="st-na"' in page  # the matrix's status colours


def test_report_runs_nothing():
    for f in Path(report.__file__).parent.glob("*.py"):
        src = f.read_text(encoding="utf-8")
        assert "importlib" not in src and ".run(" not in src, f.name


def test_report_names_the_skipped_jobs(study):
    res = workflow.Results(study=study, skipped={"fiber": "needs <roads> — add a roads layer"})
    page = report.build(res, lang="en", maps=[])
    assert "Not in this report (the analysis could not run)" in page
    # a sentence not written by the workflow's rules: said in general, the original kept (escaped) as the detail
    assert "<li>Fiber: the analysis could not run; the reason is in the technical detail.<details>" in page
    assert '<span lang="en" translate="no">needs &lt;roads&gt; — add a roads layer</span>' in page and "<roads>" not in page




def _tiles(page: str) -> dict[str, str]:
    box = re.search(r'<div class="kpi">(.*?)</div></div>', page, flags=re.S).group(1) + "</div>"
    return {label: value for value, label in re.findall(r"<div[^>]*><b>([^<]*)</b>([^<]*)</div>", box)}


def test_headline_figures_are_the_province_row(bottom):
    s, cov = bottom
    t = cov.table
    prov = t[(t["level"] == "province") & (t["operator"] == "any") & (t["technology"] == "4G")]
    pct = float(prov["pct_covered"].iloc[0])
    # independent oracle: people covered / people in the three communes, cell by cell (whole 100 m cells)
    pop, covered = s.population.counts, cov.layers[("any", "4G")].covered
    brute = 100 * (pop[BOTTOM_ROWS] * covered[BOTTOM_ROWS]).sum() / pop[BOTTOM_ROWS].sum()
    assert pct == pytest.approx(brute, rel=1e-6)
    everyone = 100 * (pop * covered).sum() / pop.sum()  # what summing every district row (outside zones too) gave
    assert abs(everyone - pct) > 1.0
    with pytest.warns(SkippedFeaturesWarning, match="2 of 5 sites lie in no commune"):  # the two beyond the communes
        page = report.build(workflow.Results(study=s, coverage=cov), lang="en", maps=[])
    tiles = _tiles(page)
    assert tiles["Cell sites"] == "3"
    assert tiles["People covered by 4G (%)"] == f"{pct:,.1f}"
    assert tiles["People (2019)"] == "45,000"  # the census of the three communes
    with pytest.warns(SkippedFeaturesWarning):
        figures = report.result_figures(report.key_figures(s), coverage=cov)
    assert figures["province"]["pct_4g_covered"].iloc[0] == pytest.approx(pct)


def test_report_without_census_uses_the_raster(bottom, tmp_path):
    s = _study.load(variant(tmp_path / "st", communes=bottom_communes(census=False)))
    with pytest.warns(SkippedFeaturesWarning):
        page = report.build(workflow.Results(study=s), lang="en", maps=[])
    assert "people and densities below are counted on the population raster" in page
    pop = s.population.counts
    people = pop[BOTTOM_ROWS].sum()
    tiles = _tiles(page)
    assert tiles["People (population raster)"] == f"{round(people):,}"
    assert "People (2019)" not in tiles
    # with a coverage result, the people come from its table (same zone accounting)
    _, cov = bottom
    s2 = _study.load(variant(tmp_path / "st2", communes=bottom_communes(census=False), profiles=True))
    with pytest.warns(SkippedFeaturesWarning):
        page2 = report.build(workflow.Results(study=s2, coverage=cov), lang="en", maps=[])
    prov = cov.table[(cov.table["level"] == "province") & (cov.table["operator"] == "any")]
    assert _tiles(page2)["People (population raster)"] == f"{round(float(prov['population'].iloc[0])):,}"
    assert float(prov["population"].iloc[0]) == pytest.approx(people, rel=1e-6)


def test_report_and_cli_on_gso_columns_without_districts(tmp_path):
    from ictplan.cli import main

    root = variant(tmp_path / "st", communes=gso_communes())
    s = _study.load(root)
    t = report.key_figures(s)
    assert set(t) == {"province", "communes"} and "district_name" not in t["communes"].columns
    assert int(t["province"]["sites"].iloc[0]) == 5 and int(t["communes"]["sites"].sum()) == 5
    page = report.build(workflow.Results(study=s), lang="en")
    assert re.search(r"<h3[^>]*>By district</h3>", page) is None and re.search(r"<h3[^>]*>By commune</h3>", page)
    assert "— by commune" in page  # charts per commune
    assert EVIL not in page and html.escape(EVIL) in page
    out = tmp_path / "out"
    assert main(["report", str(root), "--out", str(out), "--lang", "vi", "--no-results"]) == 0
    assert maps.external_resources((out / "report_vi.html").read_text(encoding="utf-8")) == []


def test_province_name_comes_from_the_study(tmp_path):
    root = build_study(tmp_path / "st")
    toml = (root / "study.toml").read_text(encoding="utf-8")
    (root / "study.toml").write_text(toml.replace("[study]\n", '[study]\nprovince = "Cà Mau"\n', 1), encoding="utf-8")
    s = _study.load(root)
    assert s.province == "Cà Mau"
    assert list(report.key_figures(s)["province"].index) == ["Cà Mau"]
    page = report.build(workflow.Results(study=s), lang="en", maps=[])
    assert "<title>ICT infrastructure report — Cà Mau</title>" in page
    assert "<p>Cà Mau · Thử nghiệm — synthetic · Generated" in page
    vi = report.build(workflow.Results(study=s), lang="vi", maps=[])  # a synthetic study reads as sample data in vi
    assert "<p>Cà Mau · Dữ liệu mẫu · Lập ngày" in vi
    # without a province, the study's name
    plain = report.build(workflow.Results(study=_study.load(build_study(tmp_path / "st2"))), lang="en", maps=[])
    assert "<title>ICT infrastructure report — Thử nghiệm — synthetic</title>" in plain


def test_every_indicator_is_named_and_explained_in_both_languages():
    from ictplan import targets
    from ictplan.report import words

    for ind in targets.INDICATORS:  # a new indicator needs its words in ictplan/report/words.py
        assert ind in words.INDICATORS, ind
        for lang in ("vi", "en"):
            name, how = words.name(ind, lang), words.how(ind, lang)
            assert name and how and "``" not in how and ":func:" not in how and "{" not in how, (ind, lang)
    assert "300 m" in words.how("households_fiber_pct", "vi", {"fiber": targets_params(300.0)})
    assert "500 m" in words.how("households_fiber_pct", "en", {"fiber": targets_params(500.0)})  # the run's own limit
    assert words.unit("households", "vi") == "hộ" and words.unit("yes=1", "vi") == "(1 = có)"
    assert words.plain("as :func:`ictplan.radio.dtt_received_dbm` with ``threshold_dbm``") == "as dtt_received_dbm with threshold_dbm"


def targets_params(drop_m: float):
    from dataclasses import replace

    from ictplan.parameters import FIBER

    return replace(FIBER, drop_limit_m=drop_m)


# ============================================================================ numbers in the reader's notation
@pytest.mark.parametrize(("value", "lang", "kw", "want"), [
    (1_194_476, "vi", {}, "1.194.476"), (1_194_476, "en", {}, "1,194,476"),
    (19.66, "vi", {}, "19,7"), (19.66, "en", {}, "19.7"),
    (1234.5, "vi", {"digits": 1}, "1.234,5"), (1234.5, "en", {"digits": 1}, "1,234.5"),
    (0.012, "vi", {}, "0,012"), (-0.04, "en", {"digits": 1}, "0.0"),
    (2025, "vi", {"grouping": False}, "2025"), (float("nan"), "vi", {}, "–"), (None, "en", {}, "–"),
])
def test_numbers_in_vietnamese_and_english_notation(value, lang, kw, want):
    from ictplan.report.numbers import number

    assert number(value, lang, **kw) == want


def test_percent_and_the_report_helpers_use_one_notation():
    from ictplan.report import findings, numbers, tables

    assert numbers.percent(19.66, "vi") == "19,7\u00a0%" and numbers.percent(19.66, "en") == "19.7\u00a0%"
    assert findings._value(1_194_476, "people", "vi") == "1.194.476\u00a0người"
    assert findings._value(1_194_476, "people", "en") == "1,194,476\u00a0people"
    assert findings._value(19.66, "%", "vi") == "19,7\u00a0%"
    assert tables._short(12.34, "Mb/s", "vi") == "12,3" and tables._short(1234.0, "points", "vi") == "1.234"


# ============================================================================ the mobile figures (issue 11)
def _vi(text: str) -> str:
    return text.translate(str.maketrans({",": ".", ".": ","}))


def _expect_cell(v: float, ch: float, lang: str, base: bool) -> str:
    """A figure as the report must show it, written here without the report's helpers."""
    if not np.isfinite(v):
        return "–"
    val = f"{v:,.1f}" if lang == "en" else _vi(f"{v:,.1f}")
    if base or not np.isfinite(ch) or abs(ch) < 0.05:
        return val
    mag = f"{abs(ch):,.1f}" if lang == "en" else _vi(f"{abs(ch):,.1f}")
    return f"{val} ({'+' if ch > 0 else '−'}{mag})"


def _section(page: str) -> str:
    return page[page.index('<h2 id="sensitivity">'):page.index('<h2 id="charts">')]


def sensitivity_rows(page: str) -> list[list[str]]:
    """The cells of the report's sensitivity table (header row first), unescaped."""
    box = re.search(r'<table class="data sensitivity">(.*?)</table>', _section(page), flags=re.S)
    assert box is not None, "no sensitivity table"
    return [[html.unescape(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, flags=re.S)]
            for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", box.group(1), flags=re.S)]


FIGS = ("m1_mbps", "m2_mbps", "m3_pct", "cov_4g_outdoor_pct", "cov_4g_indoor_pct", "cov_5g_indoor_pct")


@pytest.fixture(scope="module")
def mobile_run(tmp_path_factory):
    """The small study with profiles and the plan's targets, run with the sensitivity job."""
    import warnings

    from ._studydata import PROFILES, TARGETS

    root = build_study(tmp_path_factory.mktemp("mobile") / "st")
    with open(root / "study.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[profiles]\npath = "{PROFILES.as_posix()}"\n\n[targets]\npath = "{TARGETS.as_posix()}"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = workflow.run(_study.load(root), jobs=(*workflow.JOBS, "sensitivity"), progress=False)
        pages = {lang: report.build(res, lang=lang, maps=[]) for lang in ("vi", "en")}
    assert res.sensitivity is not None and res.scorecard is not None, res.skipped
    return res, pages


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_sensitivity_section_shows_the_table_in_the_readers_notation(mobile_run, lang):
    res, pages = mobile_run
    tab = res.sensitivity
    rows = sensitivity_rows(pages[lang])
    assert len(rows) == 1 + len(tab) and len(rows[0]) == 2 + len(FIGS)
    for i, (cells, (_, r)) in enumerate(zip(rows[1:], tab.iterrows(), strict=True)):
        want = [_expect_cell(float(r[c]), float(r[f"{c}_change"]), lang, i == 0) for c in FIGS]
        assert cells[2:] == want, (lang, r["scenario"])
    names = {"vi": {"base": "Như đã chạy", "location probability": "Xác suất vị trí", "indoor share": "Tỷ lệ người ở trong nhà",
                    "busy-hour demand": "Nhu cầu giờ cao điểm", "5G uptake": "Tỷ lệ thuê bao dùng 5G"},
             "en": {"base": "As run", "location probability": "Location probability", "indoor share": "Share of people indoors",
                    "busy-hour demand": "Busy-hour demand", "5G uptake": "5G uptake"}}[lang]
    assert [c[0] for c in rows[1:]] == [names[s] for s in tab["scenario"]]
    values = dict(zip(tab["value"], (c[1] for c in rows[1:]), strict=True))
    half = "× 0,5 (−50\u00a0%)" if lang == "vi" else "× 0.5 (−50\u00a0%)"
    assert values["× 0.5"] == half and values["95 %"] == "95\u00a0%"
    assert values["as run (location probability 90 %, year 2025)"] == (
        "xác suất vị trí 90\u00a0%, năm 2025" if lang == "vi" else "location probability 90\u00a0%, year 2025")
    up = next(v for k, v in values.items() if k.startswith("2030 value"))
    assert up.endswith("(mức năm 2030)" if lang == "vi" else "(the 2030 level)")
    text = html.unescape(re.sub(r"<[^>]+>", " ", _section(pages[lang])))
    if lang == "vi":
        for word in ("location probability", "indoors", "demand", "uptake", "as run", "value"):
            assert word not in text, word
    # the sentence: per headline figure, the row that moves it most (found here by brute force)
    meaning = html.unescape(re.search(r'<p class="meaning">(.*?)</p>', _section(pages[lang]), flags=re.S).group(1))
    for col, fig in (("m1_mbps", "M1"), ("m2_mbps", "M2"), ("m3_pct", "M3")):
        best, best_ch = None, 0.0
        for i in range(1, len(tab)):
            ch = float(tab[f"{col}_change"].iloc[i])
            if np.isfinite(ch) and abs(ch) > abs(best_ch):
                best, best_ch = i, ch
        if best is None or abs(best_ch) < 0.05:
            assert f"{fig} " not in meaning
            continue
        a = _expect_cell(float(tab[col].iloc[0]), 0.0, lang, True)
        b = _expect_cell(float(tab[col].iloc[best]), 0.0, lang, True)
        name = names[tab["scenario"].iloc[best]]
        assert f"{name[0].lower()}{name[1:]}" in meaning.split(fig, 1)[1].split(";")[0], (fig, meaning)
        assert f"({a} → {b}" in meaning, (fig, a, b, meaning)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_report_names_the_operators_below_each_target(mobile_run, lang):
    res, pages = mobile_run
    prov = res.scorecard.province()
    below = {r["target_id"]: r["operators_below"] for _, r in prov.iterrows()
             if isinstance(r["operators_below"], str) and r["operators_below"]}
    assert {"M1", "M3"} <= set(below)  # the small study has operators below M1 and M3
    found = re.search(r"<section id=\"findings\".*?</section>", pages[lang], flags=re.S).group(0)
    text = html.unescape(re.sub(r"<[^>]+>", " ", found))
    head = "Đánh giá riêng từng nhà mạng" if lang == "vi" else "Judged per operator"
    sentence = text[text.index(head):].split("\n")[0]
    named = dict(re.findall(r"\b([A-Z]\d) [^:;]*?\([^)]*\): ([^;]+?)(?=;|\.\s*$)", sentence.strip()))
    assert named == below, sentence


def test_report_without_the_sensitivity_job(mobile_run):
    import dataclasses

    res, _ = mobile_run
    plain = dataclasses.replace(res, sensitivity=None)
    vi, en = (report.build(plain, lang=lang, maps=[]) for lang in ("vi", "en"))
    assert "Phân tích độ nhạy không chạy trong lần lập báo cáo này" in _section(vi)
    assert "The sensitivity analysis did not run for this report" in _section(en)
    assert "sensitivity" not in re.sub(r'id="sensitivity"|href="#sensitivity"', "", _section(vi)) and "<table" not in _section(en)
    failed = dataclasses.replace(res, sensitivity=None, skipped={**res.skipped, "sensitivity": "sensitivity could not run: x"})
    page = report.build(failed, lang="vi", maps=[])
    assert "Phân tích độ nhạy không chạy được" in _section(page)
    assert ("<li>Độ nhạy của các chỉ tiêu di động: phân tích đã chạy nhưng dừng lại: dữ liệu không dùng được cho phân tích "
            "này.") in page and '<span lang="en" translate="no">x</span>' in page  # the reason, with the others, in Vietnamese
    assert "Phân tích độ nhạy không chạy" in _section(report.build(workflow.Results(study=res.study), lang="vi", maps=[]))


def test_sensitivity_sentence_says_when_a_target_changes_status():
    from ictplan.report import mobile

    cols = {c: [0.0, 0.0, 0.0] for c in FIGS}
    tab = pd.DataFrame({"scenario": ["base", "busy-hour demand", "location probability"],
                        "value": ["as run (location probability 90 %, year 2025)", "× 0.5", "95 %"],
                        "setting": [90.0, 0.5, 95.0], "year": [2025, 2025, 2025], **cols})
    tab["m1_mbps"] = [38.0, 44.5, 38.0]   # demand × 0.5 lifts M1 over its 40 Mb/s
    tab["m3_pct"] = [22.0, 22.0, 18.25]   # 95 % takes M3 under its 20 %
    tab["m2_mbps"] = [120.0, 120.02, 120.0]  # moved by less than 0.05: not named
    for c in FIGS:
        tab[f"{c}_change"] = tab[c] - tab[c].iloc[0]
    targets = [SimpleNamespace(id="M1", indicator="mean_4g_mbps", threshold=40.0, comparison=">=", unit="Mb/s", year=2025),
               SimpleNamespace(id="M3", indicator="pop_5g_pct", threshold=20.0, comparison=">=", unit="%", year=2025),
               SimpleNamespace(id="X2", indicator="pop_5g_pct", threshold=99.0, comparison=">=", unit="%", year=2030)]
    sc = SimpleNamespace(plan=SimpleNamespace(targets=targets))
    vi = mobile.sensitivity_section(tab, "vi", sc=sc)["meaning"]
    assert vi == ("Giả định làm thay đổi các chỉ tiêu chính nhiều nhất: với M1 là nhu cầu giờ cao điểm × 0,5 "
                  "(38,0 → 44,5 Mb/s), khi đó M1 đạt mục tiêu ≥ 40 Mb/s; với M3 là xác suất vị trí 95\u00a0% "
                  "(22,0 → 18,2\u00a0%), khi đó M3 không còn đạt mục tiêu ≥ 20\u00a0%.")
    en = mobile.sensitivity_section(tab, "en", sc=sc)["meaning"]
    assert "which makes M1 meet its target of ≥ 40 Mb/s" in en and "which takes M3 below its target of ≥ 20\u00a0%" in en
    assert "X2" not in en and "M2" not in en  # a 2030 target is not judged on a 2025 run; M2 did not move
    flat = tab.assign(**{f"{c}_change": 0.0 for c in FIGS})
    assert mobile.sensitivity_section(flat, "en")["meaning"] == "No assumption moves the headline figures."
    assert mobile.scenario_value("something new", 1.5, 2030, "vi") == ("something new", "1,5")
    assert mobile.scenario_value("5G uptake", 70.0, 2030, "vi") == ("Tỷ lệ thuê bao dùng 5G", "70\u00a0% (mức năm 2030)")
    assert mobile.scenario_value("busy-hour demand", 1.5, 2025, "en") == ("Busy-hour demand", "× 1.5 (+50\u00a0%)")


def test_findings_say_why_f3_equals_f2_or_how_far_below(monkeypatch):
    """F3 = F2 is explained by the slowest busy-hour speed of an access point with subscribers (an idle one
    does not count); F3 < F2 names the access points under 200 Mb/s and the lowest speed."""
    from types import SimpleNamespace

    from ictplan.report import findings

    def sc(f2, f3):
        prov = pd.DataFrame({"target_id": ["F2", "F3"], "value": [f2, f3]})
        return SimpleNamespace(province=lambda: prov)

    ap = pd.DataFrame({"subscribers_2025": [3, 0, 5], "busy_hour_mbps_2025": [450.0, 100.0, 334.4]})
    fib = SimpleNamespace(diagnostics={"access_point_capacity": ap})
    vi = findings.f3_versus_f2(sc(83.2, 83.2), fib, "vi")
    assert vi.startswith("F3 bằng F2 (83,2 %)") and "334 Mb/s" in vi and "100 Mb/s" not in vi
    ap2 = ap.assign(busy_hour_mbps_2025=[450.0, 100.0, 150.0])
    en = findings.f3_versus_f2(sc(83.2, 50.9), SimpleNamespace(diagnostics={"access_point_capacity": ap2}), "en")
    assert en == ("F3 (50.9 %) is below F2 (83.2 %): 1 access point(s) give their households under 200 Mb/s in the "
                  "busy hour (a full PON or OLT uplink; the lowest 150 Mb/s).")
    assert findings.f3_versus_f2(sc(83.2, 83.2), None, "en") == ""
    # equal to the shown decimal but an access point under 200 Mb/s: never "every household reaches 200 Mb/s"
    en = findings.f3_versus_f2(sc(83.2, 83.18), SimpleNamespace(diagnostics={"access_point_capacity": ap2}), "en")
    assert en.startswith("F3 (83.2 %) is below F2 (83.2 %): 1 access point(s)") and "equals" not in en
