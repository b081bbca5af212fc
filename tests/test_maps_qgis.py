"""The QGIS project beside the outputs (ictplan.maps.qgis): every layer it names is a file the
analyses wrote (paths relative to the project), styled like the web map; where QGIS itself is
installed (Debian's python3-qgis), QGIS opens it with every layer valid."""

from __future__ import annotations

import shutil
import subprocess
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pyogrio
import pytest

from ictplan import coverage, sharing, targets, workflow
from ictplan import study as _study
from ictplan.maps import OPERATOR_COLOURS
from ictplan.maps.qgis import write_qgis_project

from ._studydata import PROFILES, TARGETS, build_study


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    """The small study's coverage, sharing and scorecard outputs as the CLI writes them."""
    root = build_study(tmp_path_factory.mktemp("qgs") / "st")
    with open(root / "study.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[profiles]\npath = "{PROFILES.as_posix()}"\n\n[targets]\npath = "{TARGETS.as_posix()}"\n')
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = workflow.run(_study.load(root), progress=False)
    out = root.parent / "out"
    coverage.write_outputs(res.coverage, out / "coverage")
    sharing.write_outputs(res.sharing, out / "sharing")
    targets.write_scorecard(res.scorecard, out / "scorecard")
    return out


def _layers(path: Path) -> list[ET.Element]:
    return ET.parse(path).getroot().find("projectlayers").findall("maplayer")


def test_every_layer_is_a_written_file_styled_like_the_web_map(outputs):
    path = write_qgis_project(outputs, crs="EPSG:32648", lang="vi")
    assert path == outputs / "ictplan.qgs"
    root = ET.parse(path).getroot()
    assert root.find("projectCrs/spatialrefsys/authid").text == "EPSG:32648"
    assert root.find("properties/Paths/Absolute").text == "false"
    layers = _layers(path)
    names = [m.find("layername").text for m in layers]
    assert names == ["Trạm BTS theo nhà mạng", "Tốc độ 4G giờ cao điểm (Mb/s)", "Tốc độ 5G giờ cao điểm (Mb/s)",
                     "Dân số được phủ sóng 4G theo xã (%)", "Dân số được phủ sóng 5G theo xã (%)",
                     "Chỉ tiêu M3: tình trạng theo xã"]  # rasters above the commune colours, as in the web map
    for m in layers:
        source = m.find("datasource").text
        file, _, layer = source.partition("|layername=")
        assert file.startswith("./") and (outputs / file).exists(), source
        if layer:
            assert layer in {name for name, _ in pyogrio.list_layers(outputs / file)}, source
    tree = root.find("layer-tree-group").findall("layer-tree-layer")
    assert [t.get("id") for t in tree] == [m.find("id").text for m in layers]
    assert [t.get("checked") for t in tree].count("Qt::Checked") == 2  # sites and 4G coverage; the rest off
    # sites: one category per operator, in the web map's colours (and a grey 'other')
    ren = layers[0].find("renderer-v2")
    cats = {c.get("value"): c.get("symbol") for c in ren.find("categories")}
    colours = {s.get("name"): s.find("layer/Option/Option[@name='color']").get("value") for s in ren.find("symbols")}
    for op, hexc in OPERATOR_COLOURS.items():
        rgb = ",".join(str(int(hexc[i:i + 2], 16)) for i in (1, 3, 5))
        assert colours[cats[op]] == f"{rgb},255", op


def test_coverage_classes_cover_the_values_hold_each_one_and_take_the_thresholds(outputs):
    layer = _layers(write_qgis_project(outputs, crs="EPSG:32648", lang="en", overwrite=True))[3]
    ren = layer.find("renderer-v2")
    assert ren.get("type") == "graduatedSymbol" and ren.get("attr") == "pct_covered_4g_any"
    bounds = [(float(r.get("lower")), float(r.get("upper"))) for r in ren.find("ranges")]
    vals = pyogrio.read_dataframe(outputs / "coverage" / "coverage.gpkg", layer="coverage_communes",
                                  columns=["pct_covered_4g_any"], read_geometry=False)["pct_covered_4g_any"].to_numpy(float)
    assert bounds[0][0] == pytest.approx(vals.min(), abs=1e-6) and bounds[-1][1] == pytest.approx(vals.max(), abs=1e-6)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))  # contiguous
    for i, (lo, hi) in enumerate(bounds):  # no empty class: each holds a commune (the first includes its lower end)
        n = ((vals > lo) | ((vals >= lo) if i == 0 else False)) & (vals <= hi + 1e-9)
        assert n.sum() >= 1, (lo, hi)
    inner = [t for t in (50.0, 80.0, 90.0, 95.0, 99.0) if vals.min() < t < vals.max()]
    uppers = {round(hi, 6) for _, hi in bounds}
    for t in inner:  # a target threshold is a bound, unless the class below it would be empty
        below = vals[(vals <= t) & (vals > max([lo for lo, _ in bounds if lo < t], default=-np.inf))]
        assert t in uppers or len(below) == 0, t


def test_refuses_to_overwrite_and_none_without_outputs(outputs, tmp_path):
    from ictplan._errors import OutputExistsError

    write_qgis_project(outputs, crs="EPSG:32648", overwrite=True)
    with pytest.raises(OutputExistsError):
        write_qgis_project(outputs, crs="EPSG:32648")
    assert write_qgis_project(tmp_path, crs="EPSG:32648") is None and not (tmp_path / "ictplan.qgs").exists()


QGIS_PY = "/usr/bin/python3"
OPEN_IN_QGIS = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from qgis.core import QgsApplication, QgsProject
app = QgsApplication([], False); app.initQgis()
p = QgsProject.instance()
assert p.read(sys.argv[1]), "QGIS could not read the project"
bad = [l.name() for l in p.mapLayers().values() if not l.isValid()]
kinds = sorted(set(l.renderer().type() for l in p.mapLayers().values() if hasattr(l, "renderer") and l.renderer()))
print(len(p.mapLayers()), "layers;", "invalid:", bad, "renderers:", kinds, "crs:", p.crs().authid())
assert not bad
"""


def _has_qgis() -> bool:
    if not shutil.which(QGIS_PY):
        return False
    return subprocess.run([QGIS_PY, "-c", "import qgis.core"], capture_output=True, timeout=60).returncode == 0


@pytest.mark.skipif(not _has_qgis(), reason="QGIS is not installed (Debian: apt-get install python3-qgis)")
def test_qgis_opens_it_with_every_layer_valid(outputs):
    path = write_qgis_project(outputs, crs="EPSG:32648", overwrite=True)
    run = subprocess.run([QGIS_PY, "-c", OPEN_IN_QGIS, str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr[-2000:]
    assert "6 layers;" in run.stdout and "invalid: []" in run.stdout and "crs: EPSG:32648" in run.stdout
    for kind in ("categorizedSymbol", "graduatedSymbol", "singlebandpseudocolor"):
        assert kind in run.stdout, run.stdout


@pytest.fixture(scope="module")
def with_plan(outputs, tmp_path_factory) -> Path:
    """The outputs and a small plan.gpkg as the planner writes it: 5G sites of two phases, new fiber."""
    import geopandas as gpd
    import shapely

    out = tmp_path_factory.mktemp("qgsplan") / "out"
    shutil.copytree(outputs, out, ignore=shutil.ignore_patterns("*.qgs"))
    (out / "plan").mkdir()
    pts = [shapely.Point(500100 + 50 * i, 1000100 + 30 * i) for i in range(5)]
    gpd.GeoDataFrame({"kind": ["upgrade", "new_tower", "colocation", "new_tower", "upgrade"],
                      "phase": ["2025", "2025", "2030", "2030", "2030"]}, geometry=pts, crs="EPSG:32648").to_file(
        out / "plan" / "plan.gpkg", layer="sites_5g")
    gpd.GeoDataFrame({"phase": ["2025"]}, geometry=[shapely.LineString([(500000, 1000000), (500500, 1000200)])],
                     crs="EPSG:32648").to_file(out / "plan" / "plan.gpkg", layer="fiber_extension")
    return out


def test_a_plan_adds_its_layers_one_per_phase(with_plan):
    from ictplan.maps.planlayers import KIND_COLOURS

    layers = _layers(write_qgis_project(with_plan, crs="EPSG:32648", lang="vi"))
    names = [m.find("layername").text for m in layers]
    assert names[:3] == ["Kế hoạch 2025: trạm 5G", "Kế hoạch 2030: trạm 5G", "Kế hoạch 2025: tuyến cáp quang mới"]
    assert names[3] == "Trạm BTS theo nhà mạng"  # the plan above today's sites
    assert layers[1].find("datasource").text == "./plan/plan.gpkg|layername=sites_5g|subset=\"phase\" = '2030'"
    cats = [c.get("value") for c in layers[0].find("renderer-v2/categories")]
    assert cats == [*KIND_COLOURS, ""]  # by kind, in the web map's plan colours (and 'other')


COUNT_IN_QGIS = """
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from qgis.core import QgsApplication, QgsProject
app = QgsApplication([], False); app.initQgis()
p = QgsProject.instance(); assert p.read(sys.argv[1])
print({l.name(): l.featureCount() for l in p.mapLayers().values() if hasattr(l, "featureCount")})
"""


@pytest.mark.skipif(not _has_qgis(), reason="QGIS is not installed (Debian: apt-get install python3-qgis)")
def test_qgis_counts_each_phase(with_plan):
    path = write_qgis_project(with_plan, crs="EPSG:32648", lang="en", overwrite=True)
    run = subprocess.run([QGIS_PY, "-c", COUNT_IN_QGIS, str(path)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    counts = eval(run.stdout.strip().splitlines()[-1])  # noqa: S307  # the dict the script printed
    assert counts["Plan 2025: 5G sites"] == 2 and counts["Plan 2030: 5G sites"] == 3  # by hand: the rows written above
    assert counts["Plan 2025: new fiber"] == 1
