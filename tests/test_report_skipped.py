"""Why a job did not run, in the report's language (ictplan.report.skipped): the CLI's English
sentence stays as it is; the Vietnamese report says the same in Vietnamese, with no English
word and no folder of this machine."""

from __future__ import annotations

import html
import re
import warnings
from types import SimpleNamespace

import pytest

from ictplan import report, validation, workflow
from ictplan import study as _study
from ictplan.report import skipped as sk
from ictplan.report.text import _T

from ._studydata import build_study

ENGLISH = ("needs", "missing", "add", "could not run", "failed to load", "layer", "file", "roads", "households",
           "people", "communes", "hamlets", "points", "no data", "not met")


def _english_words(text: str) -> list[str]:
    return [w for w in ENGLISH if re.search(rf"(?<![\w\[]){re.escape(w)}(?![\w\]])", text)]


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    """The small study without profiles, targets or roads: coverage, fiber and scorecard are skipped."""
    st = _study.load(build_study(tmp_path_factory.mktemp("skip") / "st"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return workflow.run(st, progress=False)


def test_missing_inputs_in_each_language(bare):
    # what the study lacks, by hand: no [profiles], no [targets], no roads layer
    assert not bare.study.has("roads") and bare.study.profiles_path is None and bare.study.targets_path is None
    assert set(bare.skipped) == {"coverage", "fiber", "scorecard"}
    assert bare.skipped["fiber"] == "fiber: needs roads — missing (add the layer under [layers] in study.toml)"  # CLI: as it was
    vi = {s["job"]: s for s in sk.skipped_list(bare, _T["vi"], "vi")}
    en = {s["job"]: s for s in sk.skipped_list(bare, _T["en"], "en")}
    assert list(vi) == ["Vùng phủ di động", "Cáp quang", "Bảng chỉ tiêu"] and list(en) == ["Mobile coverage", "Fiber", "Scorecard"]
    assert vi["Cáp quang"]["text"] == ("chưa chạy được vì nghiên cứu còn thiếu lớp dữ liệu “Đường giao thông, bờ kênh”. "
                                       "Cách khắc phục: trong tệp study.toml, thêm lớp dữ liệu còn thiếu trong mục [layers].")
    assert "tệp cấu hình công nghệ vô tuyến (mục [profiles])" in vi["Vùng phủ di động"]["text"]
    assert "mục [targets] với đường dẫn tới tệp" in vi["Bảng chỉ tiêu"]["text"]
    assert en["Fiber"]["text"] == ("could not run: the study lacks the layer “Roads and canal banks” (roads). "
                                   "To fix it, add the missing layer under [layers] to study.toml.")
    for s in vi.values():
        assert s["detail"] == "" and _english_words(s["text"]) == [], s


def test_alternatives_and_both_kinds_of_fix():
    nothing = SimpleNamespace(layer_names=[], profiles_path=None, targets_path=None, name="x", root=None)
    why = validation.skip_reason(nothing, "sharing")
    assert why.startswith("sharing: needs sites or cells or poles and spans or fiber_routes — missing")
    res = SimpleNamespace(study=nothing, skipped={"sharing": why, "coverage": validation.skip_reason(nothing, "coverage")},
                          errors={}, parts=[])
    text, detail = sk.explain(res, "sharing", why, "vi")
    assert text == ("chưa chạy được vì nghiên cứu còn thiếu lớp dữ liệu “Trạm BTS” hoặc lớp dữ liệu “Trạm theo OpenCelliD” "
                    "hoặc lớp dữ liệu “Cột treo cáp” và lớp dữ liệu “Khoảng cột” hoặc lớp dữ liệu “Tuyến cáp quang”. "
                    "Cách khắc phục: trong tệp study.toml, thêm lớp dữ liệu còn thiếu trong mục [layers].") and detail == ""
    # coverage lacks three layers and the profiles file: four groups, a file section and layers to add
    text, _ = sk.explain(res, "coverage", res.skipped["coverage"], "vi")
    assert text.count("; ") == 3 and "mục [profiles] với đường dẫn tới tệp và lớp dữ liệu còn thiếu" in text


def test_an_analysis_that_refused_its_data(tmp_path):
    root = build_study(tmp_path / "st")
    (root / "bad.toml").write_text("[technologies]\nfoo = 1\n", encoding="utf-8")
    with open(root / "study.toml", "a", encoding="utf-8") as f:
        f.write('\n[profiles]\npath = "bad.toml"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = workflow.run(_study.load(root), jobs=("coverage",), progress=False)
    why = res.skipped["coverage"]
    assert why.startswith("coverage could not run: ") and str(root) in why  # the CLI's sentence names the file in full
    text, detail = sk.explain(res, "coverage", why, "vi")
    assert text.startswith("phân tích đã chạy nhưng dừng lại: cấu hình của nghiên cứu") and _english_words(text) == []
    assert detail == why.split(": ", 1)[1].replace(str(root) + "/", "") and detail.startswith("bad.toml: ")
    page = report.build(res, lang="vi")
    box = page[page.index('<div class="note skipped">'):]
    box = box[:box.index("</div>")]
    assert "<details><summary>Chi tiết kỹ thuật (tiếng Anh, như dòng lệnh in ra)</summary>" in box
    assert str(root) not in page.split("srcdoc=")[0] and str(tmp_path) not in box
    shown = html.unescape(re.sub(r"<details>.*?</details>|<[^>]+>", " ", box))
    assert "Vùng phủ di động" in shown and _english_words(shown) == []


def test_parts_and_unknown_sentences():
    part = SimpleNamespace(layer_names=["communes", "population", "sites"], profiles_path=None, targets_path=None,
                           name="Cà Mau (cũ)", root=None)
    pres = SimpleNamespace(study=part, skipped={"coverage": validation.skip_reason(part, "coverage")}, errors={}, parts=[])
    whole = SimpleNamespace(name="Cà Mau (mới)", root=None, layer_names=["communes"], profiles_path=None, targets_path=None)
    res = SimpleNamespace(study=whole, errors={}, parts=[pres], skipped={
        "coverage": f"Cà Mau (cũ): {pres.skipped['coverage']}",
        "sharing": "sharing is not combined over the parts of Cà Mau (mới); each part's result is in Results.parts"})
    text, _ = sk.explain(res, "coverage", res.skipped["coverage"], "vi")
    assert text.startswith("phần Cà Mau (cũ): chưa chạy được vì nghiên cứu còn thiếu tệp cấu hình công nghệ vô tuyến")
    text, _ = sk.explain(res, "sharing", res.skipped["sharing"], "vi")
    assert text.startswith("không cộng gộp được qua các phần của Cà Mau (mới)")
    lone = SimpleNamespace(study=whole, errors={}, parts=[], skipped={})
    text, detail = sk.explain(lone, "fiber", "fiber: something new at /home/u/data/x.gpkg", "vi")
    assert _english_words(text) == [] and detail == "fiber: something new at x.gpkg"


def test_no_paths():
    st = SimpleNamespace(root=None)
    assert sk.no_paths("see /usr/lib/a/b.csv and C:\\data\\f.gpkg; 3/4 done", st) == "see b.csv and f.gpkg; 3/4 done"


def test_the_vietnamese_map_says_it_in_vietnamese(bare):
    from ictplan import maps

    vi, en = maps.skipped_notes(bare, lang="vi"), maps.skipped_notes(bare, lang="en")
    assert en[1] == "Not shown — fiber: fiber: needs roads — missing (add the layer under [layers] in study.toml)"  # as before
    assert len(vi) == 3 and vi[1].startswith("Không hiển thị — Cáp quang: chưa chạy được vì nghiên cứu còn thiếu lớp dữ liệu")
    assert all(_english_words(n) == [] for n in vi)
