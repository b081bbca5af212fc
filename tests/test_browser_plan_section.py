"""The "what to build next" section in a real browser (headless Chromium, network blocked): with a
plan (a fake PlanResult beside the small study's real scorecard) it fits a 1366 px screen and an A4
page, and reads in Vietnamese."""

from __future__ import annotations

import re
import warnings

import pytest

from ictplan import report, workflow
from ictplan import study as _study

from ._cdp import Browser, find_chromium
from ._studydata import PROFILES, TARGETS, build_study
from .test_report_plan_section import fake_plan

pytestmark = pytest.mark.browser
CHROMIUM = find_chromium()
PRINTABLE_PX = round((210 - 2 * 12) / 25.4 * 96)  # A4 less the report's 12 mm margins, in CSS px


@pytest.fixture(scope="module")
def page_path(tmp_path_factory):
    root = build_study(tmp_path_factory.mktemp("planb") / "st")
    with open(root / "study.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[profiles]\npath = "{PROFILES.as_posix()}"\n\n[targets]\npath = "{TARGETS.as_posix()}"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = workflow.run(_study.load(root), progress=False)
    assert res.scorecard is not None
    res.plan = fake_plan(scorecard_after=res.scorecard, operator="Viettel", budget_vnd=5e11)
    return report.save(report.build(res, lang="vi", maps=[]), root.parent / "report_plan_vi.html"), res


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium; .ci/run does it)")
def test_plan_section_fits_the_screen_and_a4(page_path):
    path, res = page_path
    with Browser(CHROMIUM, width=1366, height=768) as b:
        page = b.open(path, settle_s=0.5)
        text = page.eval("document.getElementById('plan').parentElement.innerText")
        assert "Cần xây dựng gì tiếp theo" in text and "tỷ đồng" in text and "cho nhà mạng Viettel" in text
        measured = int(res.scorecard.province()["status"].isin(["met", "not met", "no data"]).sum())
        assert re.search(rf"Sau kế hoạch, toàn tỉnh đạt \d+ trên {measured} chỉ tiêu đo được", text)
        widths = page.eval("[...document.querySelectorAll('table.build, table.after')].map(t => t.getBoundingClientRect().right)")
        assert len(widths) == 3 and max(widths) <= 1366
        assert page.eval("document.documentElement.scrollWidth") <= page.eval("document.documentElement.clientWidth")
        page.media("print")
        page.viewport(PRINTABLE_PX, 1000)
        assert page.eval("document.documentElement.scrollWidth") <= PRINTABLE_PX
        assert page.pdf().startswith(b"%PDF")
