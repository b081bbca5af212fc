"""The generated map and report in a real browser: headless Chromium, every network request blocked.

Asserts that Leaflet loaded (from the page itself), that every expected layer is listed
with its feature count, that a screenshot is not blank, and that a commune named
``<script>alert(1)</script>`` shows as text and runs nothing. The sample's map screenshot
is written under the test's temporary folder; only when ``ICTPLAN_SCREENSHOT`` names a
file (``make screenshot`` sets it to ``docs/img/map.png``, shown in the README) is it
copied there. No test writes into tracked files otherwise.

Chromium comes from Debian's ``chromium`` package (``.ci/run`` installs it); the tests
skip, saying so, only where it is not installed. No browser is downloaded.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ictplan import _assets, maps, report, workflow
from ictplan import study as _study

from ._cdp import Browser, find_chromium
from ._studydata import EVIL, build_study

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
    shot = tmp_path / "map.png"
    shot.write_bytes(png)
    assert Image.open(shot).size[0] > 0
    target = os.environ.get("ICTPLAN_SCREENSHOT")
    if target:  # `make screenshot` refreshes the README's picture; plain test runs never touch it
        out = Path(target) if Path(target).is_absolute() else REPO / target
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".png.tmp")
        shutil.copyfile(shot, tmp)
        os.replace(tmp, out)
