"""The report's "what to build next" section (ictplan.report.plan_section), from a fake planner
result (a SimpleNamespace with PlanResult's fields) until ``Results.plan`` exists.

Every expected figure is summed here by hand from the rows the test writes, not read back
from the module: quantities per item and phase, costs in billions, targets met before and
after the plan.
"""

from __future__ import annotations

import html
import re
from types import SimpleNamespace

import pandas as pd
import pytest

from ictplan import report, workflow
from ictplan import study as _study
from ictplan.report import plan_section as ps

from ._studydata import build_study

# (phase, item, operator, count, km, cost_vnd)
PHASES = [
    ("2025", "5g_upgrade", "Viettel", 3.0, 0.0, 3 * 1.2e9),
    ("2025", "5g_upgrade", "VNPT", 2.0, 0.0, 2 * 1.2e9),
    ("2025", "5g_new_tower", "Viettel", 1.0, 0.0, 2.5e9),
    ("2025", "fiber_km", None, 0.0, 12.5, 12.5 * 0.15e9),
    ("2025", "postal_point", None, 4.0, 0.0, 4 * 0.02e9),
    ("2030", "5g_upgrade", "Viettel", 5.0, 0.0, 5 * 1.2e9),
    ("2030", "5g_colocation", "VNPT", 2.0, 0.0, 2 * 0.8e9),
    ("2030", "fiber_km", None, 0.0, 3.25, 3.25 * 0.15e9),
    ("2030", "datacentre_site", "", 1.0, 0.0, float("nan")),  # sited, not costed (as the planner writes it)
    ("2030", "5g_carrier", "Viettel", 0.0, 0.0, 0.0),  # nothing: left out of the table
]
COLS = ["phase", "item", "operator", "count", "km", "cost_vnd"]


def _phases() -> pd.DataFrame:
    return pd.DataFrame(PHASES, columns=COLS)


def _province(rows: list[tuple]) -> pd.DataFrame:
    cols = ["target_id", "indicator", "year", "value", "unit", "comparison", "threshold", "status", "gap", "gap_unit"]
    return pd.DataFrame(rows, columns=cols)


TODAY = [("P1", "postal_points_count", 2025, 320.0, "points", ">=", 300.0, "met", 0.0, "points"),
         ("F1", "hamlets_reached_pct", 2025, 74.4, "%", ">=", 100.0, "not met", 227.0, "hamlets"),
         ("M3", "pop_5g_pct", 2025, 14.7, "%", ">=", 20.0, "not met", 63191.0, "people"),
         ("M4", "table:adult_smartphone_pct", 2025, float("nan"), "%", ">=", 100.0, "no data", float("nan"), None),
         ("D3", "policy", 2030, float("nan"), None, None, float("nan"), "not applicable", float("nan"), None)]
AFTER = [("P1", "postal_points_count", 2025, 324.0, "points", ">=", 300.0, "met", 0.0, "points"),
         ("F1", "hamlets_reached_pct", 2025, 99.7, "%", ">=", 100.0, "not met", 3.0, "hamlets"),
         ("M3", "pop_5g_pct", 2025, 21.2, "%", ">=", 20.0, "met", 0.0, "people"),
         ("M4", "table:adult_smartphone_pct", 2025, float("nan"), "%", ">=", 100.0, "no data", float("nan"), None),
         ("D3", "policy", 2030, float("nan"), None, None, float("nan"), "not applicable", float("nan"), None)]


def _scorecard(rows):
    frame = _province(rows)
    return SimpleNamespace(province=lambda: frame.copy())


def fake_plan(**kw) -> SimpleNamespace:
    by_commune = pd.DataFrame([
        ("96001", "Phường 1", "2025", "5g_upgrade", 2.0, 2.4e9), ("96001", "Phường 1", "2030", "5g_upgrade", 1.0, 1.2e9),
        ("96002", "Tân Thành", "2025", "fiber_km", 0.0, 1.875e9), ("96003", "Khánh Bình Đông", "2025", "postal_point", 1.0, 0.02e9),
        ("96004", "Tạ An Khương Đông", "2025", "5g_new_tower", 1.0, 2.5e9),
    ], columns=["commune_code", "commune_name", "phase", "item", "count", "cost_vnd"])
    base = dict(phases=_phases(), by_commune=by_commune, scorecard_after=_scorecard(AFTER), targets={"M3": 0.2},
                year=2030, operator=None, budget_vnd=None, notes=["candidate site 17 has no road within 500 m"])
    base.update(kw)
    return SimpleNamespace(**base)


def _by_hand() -> tuple[dict[tuple[str, str], float], dict[tuple[str, str], float]]:
    qty: dict[tuple[str, str], float] = {}
    cost: dict[tuple[str, str], float] = {}
    for phase, item, _op, count, km, vnd in PHASES:
        qty[(item, phase)] = qty.get((item, phase), 0.0) + (km if item == "fiber_km" else count)
        cost[(item, phase)] = cost.get((item, phase), 0.0) + vnd
    return qty, cost


def _vi(x: float, digits: int) -> str:
    return f"{x:,.{digits}f}".translate(str.maketrans({",": ".", ".": ","}))


def test_billions_in_each_language():
    assert ps.billions(12_345_000_000, "vi") == "12,3" and ps.billions(12_345_000_000, "en") == "12.3"
    assert ps.billions(1_250e9, "vi") == "1.250" and ps.billions(1_250e9, "en") == "1,250"
    assert ps.billions(None, "vi") == "–"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_build_table_sums_each_item_per_phase(lang):
    tab = ps.build_table(_phases(), lang)
    qty, cost = _by_hand()
    items = [i for i in ps.ITEMS if any(qty.get((i, p)) or cost.get((i, p)) for p in ("2025", "2030"))]
    assert "5g_carrier" not in items and len(tab["rows"]) == len(items) == 6
    fmt = (lambda x, d: _vi(x, d)) if lang == "vi" else (lambda x, d: f"{x:,.{d}f}")
    for row, item in zip(tab["rows"], items, strict=True):
        label = ps.ITEMS[item]
        assert row[0] == label[0 if lang == "vi" else 1] and row[1] == label[2 if lang == "vi" else 3]
        q25, q30 = qty.get((item, "2025"), 0.0), qty.get((item, "2030"), 0.0)
        c25, c30 = cost.get((item, "2025"), 0.0) / 1e9, cost.get((item, "2030"), 0.0) / 1e9
        d = 1 if item == "fiber_km" else 0
        assert row[2:5] == [fmt(q25, d if not q25.is_integer() else 0), fmt(q30, d if not q30.is_integer() else 0),
                            fmt(q25 + q30, d if not (q25 + q30).is_integer() else 0)], item
        if item == "datacentre_site":  # no rows in 2025: 0; sited, not costed in 2030: "–", and so in all
            assert row[5:8] == ["0", "–", "–"]
            continue
        for shown, c in zip(row[5:8], (c25, c30, c25 + c30), strict=True):
            assert float(shown.replace(".", "").replace(",", ".") if lang == "vi" else shown.replace(",", "")) == \
                pytest.approx(c, abs=0.05 if c >= 0.05 else 0.0051), item
    assert tab["head"][2] == ("Khối lượng 2025" if lang == "vi" else "Quantity 2025")
    total25 = sum(v for (i, p), v in cost.items() if p == "2025" and v == v) / 1e9  # v == v: not NaN
    total30 = sum(v for (i, p), v in cost.items() if p == "2030" and v == v) / 1e9
    assert tab["uncosted"].startswith("Dấu – ở cột chi phí" if lang == "vi" else "A – in the cost columns")
    assert tab["cost_by_phase"] == pytest.approx({"2025": total25 * 1e9, "2030": total30 * 1e9})
    assert tab["total"][5:8] == [fmt(total25, 1), fmt(total30, 1), fmt(total25 + total30, 1)]
    # two operators: the 5G rows say how many each builds, over both phases
    ops = dict(zip(items, (r[-1] for r in tab["rows"]), strict=True))
    assert ops["5g_upgrade"] == "VNPT 2 · Viettel 8" and ops["5g_new_tower"] == "" and ops["fiber_km"] == ""


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_scorecard_after_the_plan_beside_today(lang):
    out = ps.after_table(_scorecard(TODAY), _scorecard(AFTER), lang)
    measured = [r for r in AFTER if r[7] in ("met", "not met", "no data")]
    before = sum(r[7] == "met" for r in TODAY if r[0] in {m[0] for m in measured})
    after = sum(r[7] == "met" for r in measured)
    assert (out["met_before"], out["met_after"], out["n"]) == (before, after, len(measured)) == (1, 2, 4)
    assert [r["target"].split(" · ")[0] for r in out["rows"]] == ["P1", "F1", "M3"]  # M4: no data before and after
    f1 = out["rows"][1]
    if lang == "vi":
        assert out["lines"][0] == "Sau kế hoạch, toàn tỉnh đạt 2 trên 4 chỉ tiêu đo được (hiện nay 1)."
        assert out["lines"][1:] == ["Đạt nhờ kế hoạch: M3.", "Vẫn chưa có dữ liệu để đánh giá: M4."]
        assert f1["gap"] == "3\u00a0ấp, khóm" and f1["today"]["text"] == "74,4\u00a0% · chưa đạt"
        assert f1["goal"] == "≥ 100\u00a0%" and out["rows"][2]["after"] == {"text": "21,2\u00a0% · đạt", "cls": "st-met"}
    else:
        assert out["lines"][0] == "After the plan the province meets 2 of 4 measurable targets (today 1)."
        assert f1["gap"] == "3\u00a0hamlets" and out["rows"][2]["today"]["cls"] == "st-not"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_without_a_plan_one_sentence_says_how_to_get_one(lang):
    out = ps.plan_section(None, lang)
    assert not out["ready"]
    code = [t for t, is_code in out["parts"] if is_code]
    assert code == [ps._W[lang]["cmd"], "make plan"] and code[0].startswith("ictplan plan ")
    assert out["line"].count("ictplan plan") == 1 and ("Chưa có kế hoạch" in out["line"]) == (lang == "vi")


def test_aim_names_host_budget_and_targets():
    today = _province(TODAY).set_index("target_id")
    vi = ps._aim(fake_plan(budget_vnd=5e11), today, "vi")
    assert vi == ["Kế hoạch đến năm 2030, cho một đơn vị hạ tầng dùng chung (mọi nhà mạng cùng sử dụng), "
                  "ngân sách 5G tối đa 500 tỷ đồng.", "Kế hoạch được tính để đạt: M3 Dân số được phủ sóng 5G ≥ 20\u00a0%."]
    en = ps._aim(fake_plan(operator="Viettel", targets={}), today, "en")
    assert en == ["The plan to 2030, for Viettel."]
    # the planner's own form: its kinds of target in the plan's year (5G: M3 in 2025, X2 in 2030; postal points a count)
    full = _province(TODAY + [("X2", "pop_5g_pct", 2030, 14.7, "%", ">=", 99.0, "not met", 1e6, "people")]).set_index("target_id")
    kinds = {"postal_points": 300.0, "hamlets": 1.0, "pop_5g": 0.99}
    assert ps._aim(fake_plan(targets=kinds), full, "vi")[1] == (
        "Kế hoạch được tính để đạt: P1 Số điểm phục vụ bưu chính ≥ 300\u00a0điểm; F1 Ấp, khóm có cáp quang ≥ 100\u00a0%; "
        "X2 Dân số được phủ sóng 5G ≥ 99\u00a0%.")
    assert ps._aim(fake_plan(targets=kinds, year=2025), full, "en")[1].endswith("M3 People covered by 5G ≥ 99\u00a0%.")


# ============================================================================ in the report
@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return _study.load(build_study(tmp_path_factory.mktemp("plansec") / "st"))


def _section(page: str) -> str:
    part = page[page.index('<h2 id="plan">'):page.index('<h2 id="scorecard">')]
    return html.unescape(re.sub(r"<[^>]+>", " ", part))


def test_report_without_plan_says_how_to_get_it(study):
    res = workflow.Results(study=study)
    assert getattr(res, "plan", None) is None  # works before Results has the field, and with it None
    for lang, want in (("vi", "Cần xây dựng gì tiếp theo"), ("en", "What to build next")):
        page = report.build(res, lang=lang)
        assert '<a href="#plan">' in page and "<code>make plan</code>" in page
        text = _section(page)
        assert want in text and "ictplan plan" in text and "tỷ đồng" not in text


def test_report_with_a_plan(study):
    res = workflow.Results(study=study)
    res.plan = fake_plan()  # type: ignore[attr-defined]  # the lead adds Results.plan
    qty, cost = _by_hand()
    total = sum(v for v in cost.values() if v == v) / 1e9
    pages = {lang: report.build(res, lang=lang, maps=[]) for lang in ("vi", "en")}
    vi, en = (_section(pages[lang]) for lang in ("vi", "en"))
    # the plan in one sentence among the findings: sites by hand 3 + 2 + 5 upgrades, 1 new tower, 2 co-located = 13
    first = {lang: html.unescape(re.sub(r"<[^>]+>", " ", p[p.index('id="findings"'):p.index('<h2 id="plan">')]))
             for lang, p in pages.items()}
    assert (f"Kế hoạch đầu tư đến năm 2030 (mục “Cần xây dựng gì tiếp theo”): khoảng {_vi(total, 1)} tỷ đồng; 13 trạm 5G, "
            "15,8 km cáp quang, 4 điểm bưu chính mới. Sau kế hoạch, toàn tỉnh đạt 2 trên 4 chỉ tiêu (hiện nay –).") in first["vi"]
    assert f"about VND {total:,.1f} bn for 13 5G sites, 15.8 km of fiber and 4 new postal points." in first["en"]
    assert f"Tổng chi phí ước tính: {_vi(total, 1)} tỷ đồng" in vi and f"VND {total:,.1f} bn" in en
    assert "Trạm hiện có nâng cấp lên 5G" in vi and "Existing sites upgraded to 5G" in en
    assert "Các xã cần đầu tư nhiều nhất" in vi and "Tạ An Khương Đông" in vi
    # the communes ranked by their cost over both phases: Phường 1 (3.6 bn), Tạ An Khương Đông (2.5), Tân Thành (1.875)
    order = [vi.index(n) for n in ("Phường 1", "Tạ An Khương Đông", "Tân Thành", "Khánh Bình Đông")]
    assert order == sorted(order)
    assert "Bộ lập kế hoạch ghi 1 lưu ý kỹ thuật" in vi and "no road" not in vi and "no road within 500 m" in en
    # no scorecard today in these results: the table after the plan still shows, today's column empty
    assert "Sau kế hoạch, toàn tỉnh đạt 2 trên 4 chỉ tiêu đo được (hiện nay –)." in vi
    for word in ("points", "households", "people", "sites", "not met", "no data", "phase", "cost"):
        assert re.search(rf"(?<![\w]){word}(?![\w])", vi) is None, word


def test_the_cost_basis_names_the_unit_costs_as_assumptions():
    import dataclasses

    from ictplan.parameters import PLAN
    from ictplan.report.plan_section import cost_basis

    vi = cost_basis(PLAN, "vi")
    assert "giả định" in vi and "cột mới có trạm 5G 1,6 tỷ đồng" in vi and "hộp chia FAT 2,5 triệu đồng" in vi
    en = cost_basis(dataclasses.replace(PLAN, cost_new_tower_vnd=2.0e9), "en")
    assert "assumptions" in en and "new tower with 5G 2 VND bn" in en and "aerial fiber 60 VND M/km" in en
    assert cost_basis(None, "en") == ""
