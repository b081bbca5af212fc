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
    assert "<li>Fiber: needs &lt;roads&gt; — add a roads layer</li>" in page and "<roads>" not in page




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
