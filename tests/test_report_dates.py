"""The report's sources give the data's own dates (ictplan.report.dates), beside the files' dates."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd
import pytest
import rasterio
from rasterio.transform import from_origin

from ictplan import study as _study
from ictplan.report import dates, tables

from .conftest import SAMPLE


def _tif(path, **tags):
    with rasterio.open(path, "w", driver="GTiff", width=2, height=2, count=1, dtype="uint8", crs="EPSG:32648",
                       transform=from_origin(500000, 1000000, 100, 100)) as ds:
        ds.write(np.zeros((1, 2, 2), dtype="uint8"))
        ds.update_tags(**tags)
    return path


def test_the_study_toml_date_then_the_data_then_none(tmp_path):
    assert dates.data_date(tmp_path, {"path": "x.gpkg", "date": "2019-04-01"}) == "2019-04-01"
    assert dates.data_date(tmp_path, {"path": "x.gpkg"}) == ""
    _tif(tmp_path / "a.tif", TIFFTAG_DATETIME="2020:06:30 12:00:00")
    _tif(tmp_path / "b.tif", date="2021-01-15")
    _tif(tmp_path / "c.tif")
    assert [dates.data_date(tmp_path, {"path": f"{n}.tif"}) for n in "abc"] == ["2020-06-30", "2021-01-15", ""]
    cells = pd.DataFrame({"updated": [1476755238, 1528972905, np.nan]})  # 2016-10-18, 2018-06-14 (UTC)
    assert dates.data_date(tmp_path, {"path": "c.csv", "format": "opencellid"}, cells) == "2018-06-14"
    assert dates.data_date(tmp_path, {"path": "c.csv", "format": "opencellid"}, None) == ""


@pytest.mark.skipif(not (SAMPLE / "camau.gpkg").exists(), reason="the sample study (data/camau) is not built")
def test_the_samples_sources():
    src = tables.sources(_study.load(SAMPLE)).set_index("layer")
    assert src.loc["communes", "date"] == src.loc["population", "date"] == "2019-04-01"  # the census, from study.toml
    raw = pd.read_csv(SAMPLE / "opencellid_452.csv", usecols=["updated"])["updated"].max()
    assert src.loc["cells", "date"] == _dt.datetime.fromtimestamp(int(raw), tz=_dt.UTC).date().isoformat()
    assert src["modified"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()  # the files' dates stay beside them
    assert pd.isna(src.loc["population", "features"]) and src.loc["communes", "features"] == 101
