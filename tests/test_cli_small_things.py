"""The small things a new user meets first (issue 15): a missing study folder said as such, a
failed job that leaves no empty output folder, "Wrote N files" that counts the files written,
the job named once in its error, and names without doubled spaces."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

from ictplan import names
from ictplan import study as _study
from ictplan.cli import main

from ._studydata import PROFILES, build_study

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def st(tmp_path_factory) -> Path:
    """The small study with radio profiles and no roads: coverage runs, fiber cannot."""
    root = build_study(tmp_path_factory.mktemp("small") / "st")
    with open(root / "study.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[profiles]\npath = "{PROFILES.as_posix()}"\n')
    return root


def _err(capsys, *args: str) -> tuple[int, str]:
    code = main([*args])
    cap = capsys.readouterr()
    return code, cap.err


def test_a_missing_study_folder_is_said_as_such(tmp_path, capsys):
    gone = tmp_path / "no_such_study"
    code, err = _err(capsys, "coverage", str(gone), "--out", str(tmp_path / "o"))
    assert code == 1 and f"no study folder {gone}: it does not exist" in err and "study.toml is missing" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = _err(capsys, "coverage", str(empty), "--out", str(tmp_path / "o"))
    assert code == 1 and "study.toml is missing" in err  # a folder without its study.toml: that is what is missing
    assert not (tmp_path / "o").exists()


def test_a_failed_job_leaves_no_empty_output_folder(st, tmp_path, capsys):
    out = tmp_path / "new" / "fiber"
    code, err = _err(capsys, "fiber", str(st), "--out", str(out))
    assert code == 1 and not (tmp_path / "new").exists()  # neither the folder nor the parent it made
    assert err.strip() == "error: fiber: needs roads — missing (add the layer under [layers] in study.toml)"  # named once
    kept = tmp_path / "kept"
    kept.mkdir()
    assert _err(capsys, "fiber", str(st), "--out", str(kept))[0] == 1 and kept.is_dir()  # the user's own folder stays


def test_wrote_n_files_counts_the_files(st, tmp_path, capsys):
    out = tmp_path / "cov"
    assert main(["coverage", str(st), "--out", str(out)]) == 0
    said = re.search(r"Wrote (\d+) files to ", capsys.readouterr().out)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert said and int(said.group(1)) == len(files) > 5


def test_names_without_doubled_spaces(tmp_path):
    root = build_study(tmp_path / "st")
    gpkg = next(root.glob("*.gpkg"))
    com = gpd.read_file(gpkg, layer="communes")
    first = com["commune_name"].iloc[0]
    com.loc[com.index[0], "commune_name"] = "  Tạ An Khương  Đông "
    com.to_file(gpkg, layer="communes", driver="GPKG")
    layer = _study.load(root).layer("communes")
    assert first != "Tạ An Khương Đông" and layer["commune_name"].iloc[0] == "Tạ An Khương Đông"
    assert layer.attrs["ictplan_report"]["names_spaces_tidied"] == 1
    df = gpd.GeoDataFrame({"name": ["a  b", None, "c"], "code": ["x  y", "z", "w"]})
    tidy, n = names.tidy_name_columns(df)
    assert n == 1 and tidy["name"].iloc[[0, 2]].tolist() == ["a b", "c"] and pd.isna(tidy["name"].iloc[1])
    assert tidy["code"].tolist() == ["x  y", "z", "w"]  # only names
    assert df["name"].iloc[0] == "a  b"  # the caller's frame is not changed
