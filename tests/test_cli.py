"""Every ``ictplan`` subcommand once on the embedded sample (exit code 0, a real value read
back from its output files), the flags that override the study's [parameters], and the
demo's district summary.

The analyses run once per command (one output folder each); the map and the report run
with ``--no-results`` here, the demo writes them with every result.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely

from ictplan import study as _study
from ictplan import workflow
from ictplan.cli import main
from ictplan.cli.demo import PROVINCE_ROW, district_summary
from ictplan.grid import OUTSIDE_ZONES

from ._studydata import SIZE, UTM, X0, Y0, build_study
from .conftest import REPO, SAMPLE

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def out(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cli")


def _run(capsys, *args: str) -> str:
    code = main([*args])
    text = capsys.readouterr().out
    assert code == 0, text
    return text


def _province(path: Path) -> pd.Series:
    """The one row of fiber_province.csv."""
    t = pd.read_csv(path)
    assert len(t) == 1
    return t.iloc[0]


@pytest.fixture(scope="module")
def communes() -> gpd.GeoDataFrame:
    return gpd.read_file(SAMPLE / "camau.gpkg", layer="communes")


# ============================================================================ one run per subcommand
def test_check(capsys):
    text = _run(capsys, "check", str(SAMPLE))
    row = next(line for line in text.splitlines() if line.startswith("communes "))
    assert row.split()[1] == "101"
    assert "fiber: ready" in text


def test_coverage(capsys, out):
    _run(capsys, "coverage", str(SAMPLE), "--out", str(out / "coverage"), "--no-rasters")
    t = pd.read_csv(out / "coverage" / "coverage_communes.csv", dtype={"zone_code": str})
    prov = pd.read_csv(out / "coverage" / "coverage_province.csv", dtype={"zone_code": str})
    with rasterio.open(SAMPLE / "population_100m.tif") as ds:  # oracle: the raster's people
        a = ds.read(1, masked=True)
        people = float(a.filled(0).clip(min=0).sum())
    for tech in ("4G", "5G"):
        p = prov[(prov["technology"] == tech) & (prov["operator"] == "any")].iloc[0]
        rows = t[(t["technology"] == tech) & (t["operator"] == "any")]
        assert p["population"] == pytest.approx(people, rel=1e-6)
        assert rows["population"].sum() == pytest.approx(people, rel=1e-6)  # communes + (outside zones)
        assert rows["pop_covered"].sum() == pytest.approx(p["pop_covered"], rel=1e-6)
    # 4G of at least one operator, outdoor at the 90 % location probability (88.9 % on the sample)
    assert 80 < prov[(prov["technology"] == "4G") & (prov["operator"] == "any")]["pct_covered"].iloc[0] <= 100


def test_fiber_and_scorecard_agree_on_the_drop_limit(capsys, out):
    text = _run(capsys, "fiber", str(SAMPLE), "--out", str(out / "fiber"), "--drop-limit-m", "500")
    assert "drop limit 500 m" in text
    p = _province(out / "fiber" / "fiber_province.csv")
    pct = 100 * p["households_reachable"] / p["households"]  # the CSV rounds shares to 0.01
    assert p["pct_reachable"] == pytest.approx(pct, abs=0.005)
    assert p["households"] == pytest.approx(pd.read_csv(out / "fiber" / "fiber_communes.csv")["households"].sum(), rel=1e-6)
    _run(capsys, "scorecard", str(SAMPLE), "--out", str(out / "scorecard"), "--drop-limit-m", "500")
    sc = pd.read_csv(out / "scorecard" / "scorecard.csv", dtype={"zone_code": str})
    prov = sc[sc["level"] == "province"].set_index("target_id")
    # F2: households within reach that also have a free port (issue 12: port-limited ones do not count)
    with_port = 100 * p["households_with_port"] / p["households"]
    assert prov.loc["F2", "value"] == pytest.approx(with_port, rel=1e-6) and with_port <= pct + 1e-9
    assert prov.loc["F1", "value"] == pytest.approx(100 * p["hamlets_reached"] / p["hamlets"], rel=1e-9)


def test_sharing(capsys, out):
    _run(capsys, "sharing", str(SAMPLE), "--out", str(out / "sharing"), "--corridor-m", "15")
    summary = json.loads((out / "sharing" / "sharing_summary.json").read_text(encoding="utf-8"))["summary"]
    routes = gpd.read_file(SAMPLE / "fiber.gpkg", layer="fiber_routes").to_crs(UTM)
    assert summary["fiber_route_km"] == pytest.approx(routes.length.sum() / 1000, rel=1e-6)
    assert 0 < summary["duplicated_route_km"] <= summary["fiber_route_km"]


def test_map(capsys, out, communes):
    _run(capsys, "map", str(SAMPLE), "--out", str(out / "map"), "--no-results", "--lang", "en")
    page = (out / "map" / "map.html").read_text(encoding="utf-8")
    name = json.dumps(str(communes["commune_name"].iloc[0]))  # GeoJSON in the page escapes non-ASCII
    assert f'"commune_name": {name}' in page and "leaflet" in page.lower()


def test_report(capsys, out, communes):
    _run(capsys, "report", str(SAMPLE), "--out", str(out / "report"), "--no-results", "--lang", "en")
    page = (out / "report" / "report_en.html").read_text(encoding="utf-8")
    assert "Cà Mau" in page and f"{int(communes['pop2019'].sum()):,}" in page


def test_demo(demo_run, out, communes):
    d, text = demo_run  # one demo of the sample, shared with the output tests (conftest)
    for job in (*workflow.JOBS, "sensitivity"):  # the demo runs the sensitivity table too
        assert (d / job).is_dir(), job
    assert (d / "map.html").stat().st_size > 1e5 and (d / "report_vi.html").stat().st_size > 1e5
    summary = pd.read_csv(d / "district_summary.csv").set_index("district_name")
    prov = summary.loc[PROVINCE_ROW]
    assert prov["pop2019"] == communes["pop2019"].sum() and prov["communes"] == len(communes)
    sites = pd.read_csv(SAMPLE / "sites.csv").drop_duplicates(["site_id", "technology"])
    assert prov["sites_4G"] == (sites["technology"] == "4G").sum()
    rows = summary.drop(index=PROVINCE_ROW)
    np.testing.assert_allclose(rows.sum().to_numpy(float), prov.to_numpy(float), atol=0.15)  # rows add up
    # the headline is the fiber command's province row (at the default drop limit here)
    fib = _province(d / "fiber" / "fiber_province.csv")
    assert f"households within reach of fiber: {100 * fib['households_reachable'] / fib['households']:.1f} %" in text
    reach_500 = _province(out / "fiber" / "fiber_province.csv")["households_reachable"] if (out / "fiber").is_dir() else None
    assert reach_500 is None or fib["households_reachable"] < reach_500  # 300 m reaches fewer than 500 m
    assert "Ran: coverage, fiber, sharing, scorecard, sensitivity, plan." in text
    sens = pd.read_csv(d / "sensitivity" / "sensitivity.csv")
    assert sens["scenario"].iloc[0] == "base" and len(sens) >= 5 and (d / "sensitivity" / "sensitivity.md").is_file()
    cov = pd.read_csv(d / "coverage" / "coverage_province.csv")
    m3 = cov[(cov["technology"] == "5G") & (cov["operator"] == "any")]["pct_covered"].iloc[0]
    assert sens["m3_pct"].iloc[0] == pytest.approx(m3, abs=0.006)  # the base row is the demo's own coverage run
    assert f"M3 {sens['m3_pct'].iloc[0]:.1f} %" in text


# ============================================================================ the what-if and the summary
def _small(root: Path, *, drop_site: str | None = None) -> Path:
    build_study(root)
    if drop_site:
        s = pd.read_csv(root / "sites.csv")
        s[s["site_id"] != drop_site].to_csv(root / "sites.csv", index=False)
    with open(root / "study.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[profiles]\npath = "{(REPO / "data/profiles/default.toml").as_posix()}"\n'
                f'\n[targets]\npath = "{(REPO / "data/targets/camau_2021_2030.toml").as_posix()}"\n')
    return root


def test_scorecard_what_if_runs_the_workflow_on_the_variant(capsys, tmp_path):
    base, var = _small(tmp_path / "base"), _small(tmp_path / "var", drop_site="S0")
    text = _run(capsys, "scorecard", str(base), "--out", str(tmp_path / "out"), "--variant", str(var))
    assert "skipped: fiber: needs roads" in text  # the one policy: said, and the scorecard goes on
    diff = pd.read_csv(tmp_path / "out" / "scorecard_whatif.csv", dtype={"zone_code": str})
    m1 = diff[(diff["target_id"] == "M1") & (diff["zone_code"] == "province")].iloc[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expect = workflow.run(_study.load(var), jobs=("scorecard",), progress=False).scorecard.row("M1").value
    assert m1["value_variant"] == pytest.approx(expect) and m1["value_variant"] != pytest.approx(m1["value_base"])


def test_fiber_command_fails_with_the_reason(capsys, tmp_path):
    root = _small(tmp_path / "s")
    assert main(["fiber", str(root), "--out", str(tmp_path / "o")]) == 1
    assert "needs roads" in capsys.readouterr().err


def test_district_summary_counts_a_boundary_site_once_and_has_an_outside_row(tmp_path):
    root = _small(tmp_path / "s")
    sites = pd.read_csv(root / "sites.csv")
    edge = gpd.GeoSeries([shapely.Point(X0 + SIZE, Y0 + 2500.0), shapely.Point(X0 - 3000.0, Y0 + 2500.0)],
                         crs=UTM).to_crs(4326)  # on the boundary of communes 0 and 1; outside every commune
    extra = pd.DataFrame({"sector_id": ["E1", "E2"], "site_id": ["E1", "E2"], "operator": "Viettel", "technology": "4G",
                          "band": "B3", "azimuth_deg": np.nan, "height_m": 30.0, "lon": edge.x, "lat": edge.y})
    pd.concat([sites, extra]).to_csv(root / "sites.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = district_summary(_study.load(root))
    n4g = pd.concat([sites, extra]).drop_duplicates(["site_id", "technology"]).eval("technology == '4G'").sum()
    assert t.loc[PROVINCE_ROW, "sites_4G"] == n4g
    assert t.loc[OUTSIDE_ZONES, "sites_4G"] == 1
    assert t.drop(index=PROVINCE_ROW)["sites_4G"].sum() == n4g  # boundary sites counted once each


def test_district_summary_without_districts_is_per_commune(tmp_path):
    root = _small(tmp_path / "s")
    gpkg = root / "s.gpkg"
    c = gpd.read_file(gpkg, layer="communes").drop(columns=["district_code", "district_name"])
    c.to_file(gpkg, layer="communes", driver="GPKG")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = district_summary(_study.load(root))
    assert t.index.name == "commune_name" and len(t) == len(c) + 1  # communes + province; nothing outside
    assert t.loc[PROVINCE_ROW, "pop2019"] == c["pop2019"].sum()
    assert t["communes"].iloc[:-1].eq(1).all()


def test_demo_on_a_broken_layer_runs_what_it_can_and_fails(capsys, tmp_path):
    root = _small(tmp_path / "s")
    toml = (root / "study.toml").read_text(encoding="utf-8")
    (root / "study.toml").write_text(toml.replace('layer = "postal_points"', 'layer = "postal"'), encoding="utf-8")
    assert main(["demo", str(root), "--out", str(tmp_path / "out"), "--lang", "en"]) == 1
    cap = capsys.readouterr()
    assert "has no layer 'postal'" in cap.out and "some layers failed to load" in cap.err
    assert "skipped: fiber: needs roads" in cap.out
    prov = pd.read_csv(tmp_path / "out" / "coverage" / "coverage_province.csv")  # what could run, ran
    assert prov["population"].iloc[0] > 0
    sc = pd.read_csv(tmp_path / "out" / "scorecard" / "scorecard.csv", dtype={"zone_code": str})
    p1 = sc[(sc["target_id"] == "P1") & (sc["level"] == "province")].iloc[0]
    assert p1["status"] == "no data" and "postal" in p1["reason"]
