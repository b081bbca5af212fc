"""The study folder: study.toml parsing, lazy layers, errors that name the key and line."""

from __future__ import annotations

import geopandas as gpd
import pytest

from ictplan import errors, study
from tests.test_io import BOUNDS, communes_gdf, sites_df


def make_study(tmp_path, toml_extra: str = "", layers: str | None = None):
    communes_gdf().to_file(tmp_path / "s.gpkg", layer="communes", engine="pyogrio")
    sites_df().to_csv(tmp_path / "sites.csv", index=False)
    layers = layers or (
        'communes = { path = "s.gpkg", layer = "communes" }\n'
        'sites = { path = "sites.csv", x = "lon", y = "lat", crs = "EPSG:4326" }\n'
    )
    (tmp_path / "study.toml").write_text(
        f'[study]\nname = "Thử nghiệm"\ncrs = "EPSG:32648"\nbounds_lonlat = {list(BOUNDS)}\n{toml_extra}\n[layers]\n{layers}',
        encoding="utf-8",
    )
    return tmp_path


def test_load_is_lazy_and_caches(tmp_path):
    s = study.load(make_study(tmp_path))
    assert s.name == "Thử nghiệm" and s.crs.to_epsg() == 32648
    assert s._cache == {}  # nothing read yet
    c = s.layer("communes")
    assert s.layer("communes") is c
    assert len(s.layer("districts")) == 2
    assert s.layer_in_crs("sites").crs.to_epsg() == 32648
    checks = s.check()
    assert [c.name for c in checks] == ["communes", "sites"] and all(c.ok for c in checks)


def test_unknown_key_names_key_and_line(tmp_path):
    make_study(tmp_path, toml_extra='colour = "red"')
    with pytest.raises(errors.ConfigError, match=r"line 5: unknown key 'colour'"):
        study.load(tmp_path)


def test_missing_layer_file_names_line(tmp_path):
    make_study(tmp_path, layers='communes = { path = "nope.gpkg", layer = "communes" }\n')
    with pytest.raises(errors.MissingFileError, match=r"line 7: layer 'communes': file not found"):
        study.load(tmp_path)


def test_geographic_study_crs_refused(tmp_path):
    (tmp_path / "study.toml").write_text('[study]\ncrs = "EPSG:4326"\n[layers]\n')
    with pytest.raises(errors.ConfigError, match="must be projected"):
        study.load(tmp_path)


def test_no_study_here(tmp_path):
    with pytest.raises(errors.MissingFileError, match="study.toml is missing"):
        study.load(tmp_path)


def test_bad_toml_syntax(tmp_path):
    (tmp_path / "study.toml").write_text("[study\nname=1\n")
    with pytest.raises(errors.ConfigError, match="not valid TOML.*line 1"):
        study.load(tmp_path)


def test_layer_error_surfaces_in_check(tmp_path):
    s = study.load(make_study(tmp_path))
    gdf = communes_gdf().drop(columns=["commune_name"])
    gdf.to_file(tmp_path / "s.gpkg", layer="communes", engine="pyogrio")
    checks = {c.name: c for c in s.check()}
    assert not checks["communes"].ok and "commune_name" in checks["communes"].error
    assert checks["sites"].ok


def test_cli_errors_are_one_clean_line(tmp_path, capsys):
    from ictplan.cli import main

    assert main(["info", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "nowhere: it does not exist" in err[0]
    with pytest.raises(errors.MissingFileError):
        main(["-vv", "info", str(tmp_path / "nowhere")])


def test_gpd_readable(tmp_path):
    # a study's layers are ordinary GeoDataFrames
    s = study.load(make_study(tmp_path))
    assert isinstance(s.layer("sites"), gpd.GeoDataFrame)


def test_province_and_description_are_kept(tmp_path):
    s = study.load(make_study(tmp_path, toml_extra='province = "Cà Mau"\ndescription = "a test"'))
    assert s.province == "Cà Mau" and s.description == "a test"
    assert study.load(make_study(tmp_path)).province is None


def test_province_must_be_text(tmp_path):
    make_study(tmp_path, toml_extra="province = 96")
    with pytest.raises(errors.ConfigError, match=r"line 5: \[study\] province must be text"):
        study.load(tmp_path)


def test_check_all_without_files(tmp_path):
    s = study.load(make_study(tmp_path))
    result = s.check_all()
    assert result.ok and result.files == []
    assert [str(j) for j in result.jobs] == [
        "coverage: needs population — missing; a [profiles] file — missing",
        "fiber: needs roads — missing; population or households — missing",
        "sharing: ready",
        "scorecard: needs a [targets] file — missing",
        "plan: needs population — missing; a [profiles] file — missing; a [targets] file — missing",
    ]
    assert result.verdict() == "check: OK — 2 layers, 0 warnings"


def test_parameters_checked(tmp_path):
    s = study.load(make_study(tmp_path, toml_extra='\n[parameters.fiber]\ndrop_limit_m = "far"\ncolour = 1'))
    result = s.check_all()
    assert not result.ok
    (f,) = result.files
    assert f.name == "parameters" and "drop_limit_m" in f.detail


def test_layer_spec_columns_kept(tmp_path):
    layers = ('communes = { path = "s.gpkg", layer = "communes", columns = { commune_code = "commune_code" } }\n')
    s = study.load(make_study(tmp_path, layers=layers))
    assert s.layer_specs["communes"]["columns"] == {"commune_code": "commune_code"}
    assert s.layer("communes").attrs["ictplan_columns"] == {}  # mapped to itself: nothing renamed
