"""`ictplan check`: a non-zero exit on every broken study, a verdict as the last line, the
files and [parameters] checked, and what each job needs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ictplan import study as _study
from ictplan import validation
from ictplan.cli import main
from tests._studydata import REPO, gso_communes_frame, sectors_frame, small_study


def run_check(root: Path, capsys) -> tuple[int, str]:
    rc = main(["check", str(root)])
    out = capsys.readouterr()
    return rc, out.err + out.out  # the verdict is the last line of standard output


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def swapped_sites() -> pd.DataFrame:
    df = sectors_frame()
    df["lon"], df["lat"] = df["lat"].to_numpy(), df["lon"].to_numpy()
    return df


def bad_sectors() -> pd.DataFrame:
    df = sectors_frame()
    df.loc[1, "azimuth_deg"] = 400.0
    df.loc[4, "height_m"] = -5.0
    return df


def test_sound_small_study_passes(tmp_path, capsys):
    rc, text = run_check(small_study(tmp_path), capsys)
    assert rc == 0
    assert last_line(text) == "check: OK — 3 layers, 0 warnings"
    assert "fiber: needs roads — missing" in text and "coverage: ready" in text and "scorecard: ready" in text
    assert "ma_xa→commune_code" in text and "ten_xa→commune_name" in text and "loai_xa→commune_type" in text


BROKEN = {
    "wrong layer name": (dict(communes_spec='communes = { path = "s.gpkg", layer = "commune" }'),
                         "has no layer 'commune'; it has: communes"),
    "missing file": (dict(communes_spec='communes = { path = "nope.gpkg", layer = "communes" }'), "file not found"),
    "raster without CRS": (dict(population_crs=None), "has no CRS"),
    "swapped lon/lat": (dict(sites=swapped_sites()), "lon and lat look swapped"),
    "bad sector values": (dict(sites=bad_sectors()), "row 2 (site S0) 400"),
    "missing profiles file": (dict(profiles="nope/profiles.toml"), "profiles file"),
    "missing targets file": (dict(targets="nope/targets.toml"), "targets file not found"),
    "bad [parameters]": (dict(extra='\n[parameters.fiber]\ndrop_limit_m = "far"\n'), "drop_limit_m = 'far'"),
    "unknown job in [parameters]": (dict(extra='\n[parameters.fibre]\ndrop_limit_m = 500\n'), "unknown job"),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_study_exits_non_zero(tmp_path, capsys, case):
    kwargs, expected = BROKEN[case]
    rc, text = run_check(small_study(tmp_path, **kwargs), capsys)
    assert rc == 1, text
    assert expected in text
    assert last_line(text).startswith("check: FAILED — ")


def test_bad_sector_values_name_rows_and_values(tmp_path):
    s = _study.load(small_study(tmp_path, sites=bad_sectors()))
    checks = {c.name: c for c in s.check()}
    err = checks["sites"].error
    # rows counted from 1 in file order: the CSV's 2nd and 5th data rows
    assert "1 row with azimuth_deg outside [0, 360] °: row 2 (site S0) 400" in err
    assert "1 row with height_m outside (0, 300] m: row 5 (site S1) -5" in err
    result = s.check_all()
    assert not result.ok and result.verdict() == "check: FAILED — 1 error"
    assert str(result.jobs[0]).startswith("coverage: needs sites — failed to load (sites)")


def test_band_unknown_to_profiles(tmp_path, capsys):
    df = sectors_frame()
    df.loc[3, "band"] = "B99"
    rc, text = run_check(small_study(tmp_path, sites=df), capsys)
    assert rc == 1
    assert "1 row(s) with a band the profiles do not know: row 4 (site S1) 4G/B99" in text
    assert "[default.4G.B99]" in text
    assert "coverage: needs sectors with bands the profiles know (see sites)" in text
    assert "sharing: ready" in text


def test_sample_passes(capsys):
    rc, text = run_check(REPO / "data" / "camau", capsys)
    assert rc == 0, text
    assert last_line(text) == "check: OK — 19 layers, 0 warnings"
    for job in ("coverage", "fiber", "sharing", "scorecard"):
        assert f"{job}: ready" in text


def test_subprocess_exit_code(tmp_path):
    root = small_study(tmp_path, communes_spec='communes = { path = "s.gpkg", layer = "commune" }')
    proc = subprocess.run([sys.executable, "-m", "ictplan", "check", str(root)], capture_output=True, text=True,
                          cwd=REPO, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "check: FAILED — 1 error"


def test_other_commands_return_their_exit_code(tmp_path, capsys):
    # main() passes on what click returns (it used to drop it and return 0)
    assert main(["--help"]) == 0
    assert main(["check", "--no-such-option"]) == 2


# ------------------------------------------------------------------ job inputs
def test_missing_inputs_table():
    everything = {"sites", "population", "communes", "profiles", "roads", "targets"}
    assert validation.missing_inputs("coverage", everything) == []
    assert validation.missing_inputs("fiber", {"communes", "population"}) == ["roads — missing"]
    assert validation.missing_inputs("fiber", {"communes", "roads", "households"}) == []
    assert validation.missing_inputs("sharing", {"poles"}) == [
        "sites or cells or poles and spans or fiber_routes — missing"]
    assert validation.missing_inputs("scorecard", {"communes"}) == ["a [targets] file — missing"]
    assert validation.missing_inputs("coverage", everything, {"sites": "bad"}) == [
        "sites — failed to load (sites)"]


def test_skip_reason_for_workflow(tmp_path):
    s = _study.load(small_study(tmp_path, targets=None))
    assert validation.skip_reason(s, "coverage") is None
    assert validation.skip_reason(s, "fiber").startswith("fiber: needs roads — missing")
    assert validation.skip_reason(s, "scorecard").startswith("scorecard: needs a [targets] file — missing")


def test_no_profiles_section_is_not_an_error_but_coverage_is_not_ready(tmp_path, capsys):
    rc, text = run_check(small_study(tmp_path, profiles=None), capsys)
    assert rc == 0
    assert "coverage: needs a [profiles] file — missing" in text


def test_gso_communes_without_district(tmp_path):
    s = _study.load(small_study(tmp_path))
    c = s.layer("communes")
    assert list(c["commune_code"]) == ["32000", "32001", "32002"]
    assert list(c["commune_name"]) == ["Phường 9", "Tân Thành", "An Xuyên"]
    assert list(c["pop2019"]) == [1000, 2000, 3000]
    assert c["district_code"].isna().all()
    assert c.attrs["ictplan_columns"] == {"ma_xa": "commune_code", "ten_xa": "commune_name",
                                          "loai_xa": "commune_type", "dan_so": "pop2019"}
    assert s.province == "Cà Mau"
    assert not s.has("districts")
    with pytest.raises(Exception, match="no district"):
        s.layer("districts")


def test_explicit_columns_mapping(tmp_path, capsys):
    g = gso_communes_frame().rename(columns={"ma_xa": "MaXa", "ten_xa": "Ten"})
    g["huyen"] = ["964", "966", "966"]
    spec = 'communes = { path = "s.gpkg", layer = "communes", columns = { commune_code = "MaXa", commune_name = "Ten", district_code = "huyen" } }'
    root = small_study(tmp_path, communes=g, communes_spec=spec)
    s = _study.load(root)
    c = s.layer("communes")
    assert list(c["commune_code"]) == ["32000", "32001", "32002"] and list(c["district_code"]) == ["964", "966", "966"]
    assert s.has("districts") and len(s.layer("districts")) == 2
    rc, text = run_check(root, capsys)
    assert rc == 0 and "MaXa→commune_code, Ten→commune_name, huyen→district_code" in text


@pytest.mark.parametrize(("columns", "expected"), [
    ('{ commune_code = "nope" }', "names the column 'nope', which the file does not have"),
    ('{ name = "ten_xa" }', "names 'name', which is not a column of 'communes'"),
    ('{ commune_code = "ma_xa", commune_name = "ma_xa" }', "maps the file's 'ma_xa' to both 'commune_code' and 'commune_name'"),
])
def test_bad_columns_mapping(tmp_path, capsys, columns, expected):
    spec = f'communes = {{ path = "s.gpkg", layer = "communes", columns = {columns} }}'
    rc, text = run_check(small_study(tmp_path, communes_spec=spec), capsys)
    assert rc == 1 and expected in text


def test_mapping_onto_a_column_the_file_has(tmp_path, capsys):
    g = gso_communes_frame()
    g["commune_code"] = ["1", "2", "3"]
    spec = 'communes = { path = "s.gpkg", layer = "communes", columns = { commune_code = "ma_xa" } }'
    rc, text = run_check(small_study(tmp_path, communes=g, communes_spec=spec), capsys)
    assert rc == 1 and "but the file has a column 'commune_code' too" in text


def test_columns_must_be_a_table_of_text(tmp_path):
    small_study(tmp_path, communes_spec='communes = { path = "s.gpkg", layer = "communes", columns = ["ma_xa"] }')
    with pytest.raises(Exception, match="`columns` must map"):
        _study.load(tmp_path)


def test_gso_communes_run_coverage_without_a_district_level(tmp_path):
    import warnings

    import rasterio

    from ictplan import coverage

    root = small_study(tmp_path)
    s = _study.load(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = coverage.run(s)
    t = res.table
    assert "districts" not in set(t["level"])
    prov = t[(t["level"] == "province") & (t["technology"] == "4G") & (t["operator"] == "any")].iloc[0]
    with rasterio.open(root / "pop.tif") as ds:  # the communes tile the raster exactly
        total = float(ds.read(1).astype("float64").sum())
    assert prov["population"] == pytest.approx(total, rel=1e-9)
    communes = t[(t["level"] == "communes") & (t["technology"] == "4G") & (t["operator"] == "any")]
    assert set(communes["zone_code"]) >= {"32000", "32001", "32002"}
