"""The generated map and report in a real browser: headless Chromium, every network request blocked.

Asserts that Leaflet loaded (from the page itself), that every expected layer is listed
with its feature count, that a screenshot is not blank, and that a commune named
``<script>alert(1)</script>`` shows as text and runs nothing. On a 1366 × 768 laptop
screen: the report's first screen holds the findings sentences, nothing scrolls sideways,
the Vietnamese report holds no English unit, code markup or machine path, and printing
to PDF gives A4 pages with nothing wider; the map's layer panel is collapsed, a real
click on a commune in the default view opens its popup, and the scale bar shows no
miles. No test writes into tracked files (``make screenshot`` refreshes docs/img/ with
scripts/screenshots.py).

Chromium comes from Debian's ``chromium`` package (``.ci/run`` installs it); the tests
skip, saying so, only where it is not installed. No browser is downloaded.
"""

from __future__ import annotations

import io
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ictplan import _assets, maps, report, workflow
from ictplan import study as _study

from ._cdp import Browser, find_chromium
from ._studydata import EVIL, PROFILES, TARGETS, build_study

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "camau"
CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (apt-get install chromium; .ci/run does it): the browser tests cannot run here",
)

OVERLAY_COUNTS = """(() => {
  const key = Object.keys(window).find(k => /^layer_control_.*_layers$/.test(k));
  const out = {};
  for (const [name, layer] of Object.entries(window[key].overlays)) {
    let n = 0;
    const walk = l => {
      if (l instanceof L.GeoJSON) { n += l.getLayers().length; }
      else if (l instanceof L.ImageOverlay) { n += (l._image && l._image.complete && l._image.naturalWidth > 0) ? 1 : 0; }
      else if (l.eachLayer) { l.eachLayer(walk); }
    };
    walk(layer);
    out[name] = n;
  }
  return out;
})()"""

# open the popup of the feature whose name is the injected script; return what the popup shows
OPEN_EVIL_POPUP = """(() => {
  const key = Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k));
  const map = window[key];
  let target = null;
  map.eachLayer(l => { if (!target && l.feature && l.feature.properties && l.feature.properties.commune_name
                          && l.feature.properties.commune_name.indexOf('alert(1)') >= 0) target = l; });
  if (!target) return null;
  const at = target.getBounds().getCenter();
  target.fire('click', {latlng: at}, true);      // as a click does: the GeoJSON layer opens its popup
  target.fire('mouseover', {latlng: at}, true);  // and hovering opens its tooltip
  const el = document.querySelector('.leaflet-popup-content');
  const tip = document.querySelector('.leaflet-tooltip');
  return {popup: el ? el.textContent : null, popupScripts: el ? el.querySelectorAll('script').length : -1,
          tooltip: tip ? tip.textContent : null, tooltipScripts: tip ? tip.querySelectorAll('script').length : -1};
})()"""


def _not_blank(png: bytes) -> tuple[int, float]:
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    colours = len(np.unique(img.reshape(-1, 3), axis=0))
    return colours, float(img.std())


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    with Browser(CHROMIUM, width=1200, height=800) as b:
        yield b


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return _study.load(build_study(tmp_path_factory.mktemp("browser") / "st"))


@needs_chromium
def test_map_offline_layers_counts_and_no_script_run(browser, study, tmp_path):
    pop = study.population
    m = maps.study_map(study, layers=("communes", "districts", "sites", "fiber_routes", "postal_points", "facilities", "hamlets"),
                       rasters=[{"values": pop.counts, "grid": pop.grid, "name": "People", "unit": "per ha"}])
    path = maps.save_html(m, tmp_path / "map.html")
    page = browser.open(path, settle_s=1.0)
    assert page.eval("typeof L") == "object"
    assert page.eval("L.version") == _assets.leaflet_version() == "1.9.4"
    counts = page.eval(OVERLAY_COUNTS)
    assert counts == {
        "Communes: Population density": 6, "Districts": 2, "People": 1, "Hamlets": 24, "Fiber routes": 3,
        "Sectors": 13, "Cell sites": 5, "Postal points": 2, "Facilities": 3,
    }
    assert page.eval("document.querySelectorAll('.leaflet-control-layers-overlays label').length") == 9
    assert page.eval("document.querySelectorAll('.ictplan-legend').length") >= 5
    # the injected name: shown as text in the popup, never run
    shown = page.eval(OPEN_EVIL_POPUP)
    assert shown is not None and EVIL in shown["popup"] and shown["popupScripts"] == 0
    assert EVIL in shown["tooltip"] and shown["tooltipScripts"] == 0
    page.pump(0.5)
    assert page.eval("window.__ictplan_alerts") == []
    assert browser.dialogs == []
    assert page.eval("[...document.scripts].filter(s => s.text.trim() === 'alert(1)').length") == 0
    assert browser.exceptions == []
    # the network was cut: only tile requests were attempted, and all were refused
    assert all(u.startswith(("http://", "https://")) for u in browser.blocked)
    assert all("tile.openstreetmap.org" in u for u in browser.blocked), browser.blocked[:5]
    colours, std = _not_blank(page.screenshot())
    assert colours > 50 and std > 10


@needs_chromium
def test_report_offline_with_live_map(browser, study, tmp_path):
    path = report.save(report.build(workflow.Results(study=study), lang="vi"), tmp_path / "report.html")
    n_exc = len(browser.exceptions)
    page = browser.open(path, settle_s=1.5)
    assert page.eval("document.characterSet") == "UTF-8"
    assert page.eval("document.querySelector('h1').textContent") == "Báo cáo hạ tầng thông tin và truyền thông"
    imgs = page.eval("[...document.images].map(i => i.complete && i.naturalWidth > 0)")
    assert len(imgs) >= 3 and all(imgs)
    inner = page.eval("(() => { const w = document.querySelector('iframe.map').contentWindow;"
                      " return {L: w.L ? w.L.version : null, n: w.document.querySelectorAll('.leaflet-interactive').length}; })()")
    assert inner["L"] == "1.9.4" and inner["n"] > 10
    text = page.eval("document.body.innerText")
    assert EVIL in text and "Khánh Bình Đông" in text
    page.pump(0.5)
    assert page.eval("window.__ictplan_alerts") == [] and browser.dialogs == []
    assert browser.exceptions[n_exc:] == []
    colours, std = _not_blank(page.screenshot())
    assert colours > 50 and std > 10


@needs_chromium
@pytest.mark.skipif(not (SAMPLE / "camau.gpkg").exists(), reason="the sample study (data/camau) is not built")
def test_sample_map_screenshot(browser, tmp_path):
    s = _study.load(SAMPLE)
    path = maps.save_html(maps.study_map(s, lang="en"), tmp_path / "camau_map.html")
    page = browser.open(path, settle_s=2.0)
    assert page.eval("L.version") == "1.9.4"
    counts = page.eval(OVERLAY_COUNTS)
    assert counts["Communes: Population density"] == len(s.layer("communes"))
    assert counts["Cell sites"] == s.layer("sites")["site_id"].nunique()
    assert counts["Fiber routes"] == len(s.layer("fiber_routes"))
    png = page.screenshot()
    colours, std = _not_blank(png)
    assert colours > 100 and std > 10
    assert Image.open(io.BytesIO(png)).size == (1200, 800)


# ============================================================================ a laptop screen: report and map
A4_WIDTH_PT, A4_HEIGHT_PT = 595.28, 841.89
PRINTABLE_PX = round((210 - 2 * 12) / 25.4 * 96)  # A4 less the report's 12 mm margins, in CSS px
# English a Vietnamese reader must not meet (units, the sample's English name, code markup)
ENGLISH = ("points", "households", "data centres", "yes=1", "embedded sample", "people", "communes", "hamlets",
           "schools", "agencies", "not met", "no data")


@pytest.fixture(scope="module")
def laptop():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    with Browser(CHROMIUM, width=1366, height=768) as b:
        yield b


@pytest.fixture(scope="module")
def plan_reports(tmp_path_factory):
    """The small study with the plan's targets, run through the workflow, reported in vi and en."""
    root = build_study(tmp_path_factory.mktemp("plan") / "st")
    with open(root / "study.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[profiles]\npath = "{PROFILES.as_posix()}"\n\n[targets]\npath = "{TARGETS.as_posix()}"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = workflow.run(_study.load(root), progress=False)
        assert res.scorecard is not None
        paths = {lang: report.save(report.build(res, lang=lang), root.parent / f"report_{lang}.html") for lang in ("vi", "en")}
    return res, paths


def _visible_text(page) -> str:
    """The page's text less the table of source files (file and layer names are identifiers, shown as they are)."""
    return page.eval("(() => { const b = document.body.cloneNode(true); b.querySelector('#source-files').remove();"
                     " document.documentElement.appendChild(b); const t = b.innerText; b.remove(); return t; })()")


@needs_chromium
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_report_first_screen_holds_the_findings_and_nothing_scrolls_sideways(laptop, plan_reports, lang):
    res, paths = plan_reports
    page = laptop.open(paths[lang], settle_s=1.0)
    leads = page.eval("[...document.querySelectorAll('p.lead')].map(p => ({t: p.innerText, "
                      "bottom: p.getBoundingClientRect().bottom}))")
    st = res.scorecard.province()["status"]
    met, nm, nd = (int((st == k).sum()) for k in ("met", "not met", "no data"))
    assert leads and all(p["bottom"] <= 768 for p in leads)  # on the first screen, without scrolling
    first = leads[0]["t"]
    assert str(met + nm + nd) in first and f"{met}" in first and f"{nm}" in first and f"{nd}" in first
    tile = page.eval("document.querySelector('.kpi [data-key=targets_met]').innerText")
    assert f"{met} / {met + nm + nd}" in tile and f"{nd}" in tile  # the unknown targets are not hidden
    assert page.eval("document.documentElement.scrollWidth") <= page.eval("document.documentElement.clientWidth")


@needs_chromium
def test_vietnamese_report_has_no_english_units_markup_or_paths(laptop, plan_reports):
    res, paths = plan_reports
    page = laptop.open(paths["vi"], settle_s=1.0)
    text = _visible_text(page)
    assert "Cách đo các chỉ tiêu" in text and "Kết quả chính" in text
    for word in ENGLISH:
        hit = re.search(rf"(?<![\w]){re.escape(word)}(?![\w])", text)
        assert hit is None, f"{word!r} in: {text[max(0, hit.start() - 60):hit.end() + 30]!r}"
    raw = re.sub(r'srcdoc="[^"]*"', "", paths["vi"].read_text(encoding="utf-8"))  # the page less its embedded maps
    for bad in (":func:", "``", str(res.study.root), str(Path.home()), "file://"):
        assert bad not in raw, bad


@needs_chromium
def test_report_prints_to_a4(laptop, plan_reports):
    _, paths = plan_reports
    page = laptop.open(paths["vi"], settle_s=1.0)
    page.media("print")
    page.viewport(PRINTABLE_PX, 1000)
    assert page.eval("document.documentElement.scrollWidth") <= PRINTABLE_PX  # nothing wider than the paper
    assert page.eval("getComputedStyle(document.querySelector('iframe.map').parentElement).display") == "none"
    pdf = page.pdf()
    page.media("")
    page.viewport(1366, 768)
    assert pdf.startswith(b"%PDF")
    boxes = [tuple(map(float, m)) for m in re.findall(rb"/MediaBox\s*\[\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)]
    count = re.search(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf, flags=re.S)
    assert boxes and count and int(count.group(1)) >= 2 and len(boxes) >= int(count.group(1))  # a box per page (and the tree's)
    for x0, y0, x1, y1 in boxes:
        assert x1 - x0 <= A4_WIDTH_PT + 0.5 and y1 - y0 <= A4_HEIGHT_PT + 0.5


# a point of a commune, in page pixels, where a click lands on that commune's own shape (not on
# a district drawn over it, a site, a control or a legend); and the commune's name
COMMUNE_TARGET = """(() => {
  const key = Object.keys(window).find(k => /^map_[0-9a-f]+$/.test(k));
  const map = window[key];
  const size = map.getSize(), box = map.getContainer().getBoundingClientRect();
  let found = null;
  map.eachLayer(l => {
    if (found || !l.feature || !l.feature.properties || !l.feature.properties.commune_name || !l._path) return;
    const b = l.getBounds();
    for (let i = 1; i < 8 && !found; i++) for (let j = 1; j < 8 && !found; j++) {
      const ll = L.latLng(b.getSouth() + (b.getNorth() - b.getSouth()) * i / 8, b.getWest() + (b.getEast() - b.getWest()) * j / 8);
      const p = map.latLngToContainerPoint(ll);
      if (p.x < 5 || p.y < 5 || p.x > size.x - 5 || p.y > size.y - 5) continue;
      // the topmost element there must be this commune's own shape: nothing (a district) drawn over it
      if (document.elementFromPoint(box.left + p.x, box.top + p.y) === l._path)
        found = {x: box.left + p.x, y: box.top + p.y, name: l.feature.properties.commune_name};
    }
  });
  return found;
})()"""


@needs_chromium
def test_map_panel_collapsed_scale_metric_and_a_click_opens_a_commune_popup(laptop, study, tmp_path):
    m = maps.study_map(study, lang="vi")  # the default layers: communes, districts on top, sites, fiber...
    page = laptop.open(maps.save_html(m, tmp_path / "map.html"), settle_s=1.0)
    assert page.eval("document.querySelectorAll('.leaflet-control-layers').length") == 1
    assert page.eval("document.querySelectorAll('.leaflet-control-layers-expanded').length") == 0  # collapsed
    scale = page.eval("[...document.querySelectorAll('.leaflet-control-scale-line')].map(e => e.innerText)")
    assert scale and all(re.fullmatch(r"\d+ (m|km)", t) for t in scale), scale  # metres only: no miles, no feet
    target = page.eval(COMMUNE_TARGET)
    assert target is not None, "no commune centre can be clicked in the default view"
    assert page.eval("document.querySelector('.leaflet-popup-content')") is None
    page.click(target["x"], target["y"])
    popup = page.eval("(() => { const e = document.querySelector('.leaflet-popup-content'); return e ? e.innerText : null; })()")
    assert popup is not None and target["name"] in popup
    assert "Dân số (2019)" in popup  # labelled fields, in the map's language
