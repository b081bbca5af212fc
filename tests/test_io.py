"""Loaders on every format they accept, and one test per bad-input case.

Each bad-input test asserts the error type and that the message names the fix.
"""

from __future__ import annotations

import os
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
from affine import Affine
from shapely.geometry import LineString, Point, Polygon

from ictplan import errors, io
from ictplan.grid import Grid
from ictplan.names import name_key, nfc

BOUNDS = (104.6, 8.45, 105.6, 9.7)  # Cà Mau lon/lat box


def communes_gdf(n: int = 3, crs=32648) -> gpd.GeoDataFrame:
    x0, y0 = 520_000, 1_010_000
    polys = [Polygon([(x0 + i * 1000, y0), (x0 + (i + 1) * 1000, y0), (x0 + (i + 1) * 1000, y0 + 1000), (x0 + i * 1000, y0 + 1000)]) for i in range(n)]
    return gpd.GeoDataFrame(
        {
            "commune_code": [f"3{2000 + i}" for i in range(n)],
            "commune_name": ["Phường 9", "Khánh Bình Tây Bắc", "Tân Lộc"][:n],
            "commune_type": ["Phường", "Xã", "Xã"][:n],
            "district_code": ["964", "966", "966"][:n],
            "district_name": ["Thành phố Cà Mau", "Huyện Trần Văn Thời", "Huyện Trần Văn Thời"][:n],
            "pop2019": [1000, 2000, 3000][:n],
            "hh2019": [250, 500, 750][:n],
        },
        geometry=polys,
        crs=crs,
    )


def sites_df() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sector_id": ["VTL-1-A", "VTL-1-B", "VNP-2-A"],
            "site_id": ["VTL-1", "VTL-1", "VNP-2"],
            "operator": ["Viettel", "viettel", "VNPT"],
            "technology": ["4G", "4G", "5g"],
            "band": ["B3", "B3", "n78"],
            "azimuth_deg": [0, 120, 240],
            "height_m": [30, 30, 25],
            "lon": [105.15, 105.15, 105.16],
            "lat": [9.18, 9.18, 9.19],
        }
    )


# ------------------------------------------------------------------ formats
@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".shp", ".fgb"])
def test_read_communes_every_vector_format(tmp_path, suffix):
    path = tmp_path / f"communes{suffix}"
    src = communes_gdf() if suffix != ".geojson" else communes_gdf().to_crs(4326)
    src.to_file(path, layer="communes" if suffix == ".gpkg" else None, engine="pyogrio")
    gdf = io.read_communes(path, bounds_lonlat=BOUNDS).sort_values("commune_code", ignore_index=True)
    assert len(gdf) == 3
    assert list(gdf["commune_code"]) == ["32000", "32001", "32002"]
    assert gdf.loc[1, "commune_name"] == "Khánh Bình Tây Bắc"
    assert gdf.crs.to_epsg() == (4326 if suffix == ".geojson" else 32648)


def test_read_sites_csv_and_normalises_choices(tmp_path):
    path = tmp_path / "sites.csv"
    sites_df().to_csv(path, index=False)
    gdf = io.read_sites(path, bounds_lonlat=BOUNDS)
    assert gdf.crs.to_epsg() == 4326
    assert list(gdf["operator"]) == ["Viettel", "Viettel", "VNPT"]  # case normalised to the canonical name
    assert list(gdf["technology"]) == ["4G", "4G", "5G"]
    assert gdf.geometry.x.iloc[2] == pytest.approx(105.16)
    assert gdf["azimuth_deg"].dtype == float


def test_read_sites_from_geopackage(tmp_path):
    df = sites_df()
    gdf = gpd.GeoDataFrame(df.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(df.lon, df.lat), crs=4326).to_crs(32648)
    gdf.to_file(tmp_path / "s.gpkg", layer="sectors", engine="pyogrio")
    out = io.read_sites(tmp_path / "s.gpkg", layer="sectors", bounds_lonlat=BOUNDS)
    assert len(out) == 3 and out.crs.to_epsg() == 32648


def test_read_layer_lines_and_points(tmp_path):
    roads = gpd.GeoDataFrame({"kind": ["road", "Canal"]}, geometry=[LineString([(0, 0), (1, 1)]), LineString([(1, 1), (2, 0)])], crs=32648)
    roads.to_file(tmp_path / "r.fgb", engine="pyogrio")
    out = io.read_layer(tmp_path / "r.fgb", "roads")
    assert sorted(out["kind"]) == ["canal", "road"]
    assert (out["crossing_cost_m"] == 0).all()  # optional column gets its default


def test_read_population(tmp_path):
    arr = np.array([[1.0, 2.0], [-1.0, 4.0]], dtype="float32")
    path = tmp_path / "pop.tif"
    _write_tif(path, arr, nodata=-1)
    pop = io.read_population(path)
    assert pop.total == 7.0
    assert pop.nodata_mask.tolist() == [[False, False], [True, False]]
    assert pop.grid.res_m == (100.0, 100.0)


def test_read_cells_opencellid_with_and_without_header(tmp_path):
    rows = [
        "LTE,452,4,12001,3075,0,105.15,9.18,1000,12,1,1600000000,1700000000,0",
        "NR,452,2,12002,3076,0,105.16,9.19,500,3,1,1600000000,1700000000,0",
        "LTE,452,1,12003,3077,0,105.17,9.17,800,5,1,1600000000,1700000000,0",
        "LTE,310,260,1,1,0,-100.0,40.0,800,5,1,1600000000,1700000000,0",
    ]
    header = ",".join(io.OPENCELLID_COLUMNS)
    (tmp_path / "with.csv").write_text(header + "\n" + "\n".join(rows) + "\n")
    (tmp_path / "without.csv").write_text("\n".join(rows) + "\n")
    for name in ("with.csv", "without.csv"):
        with pytest.warns(errors.SkippedFeaturesWarning, match="MCC other than 452"):
            cells = io.read_cells(tmp_path / name, bounds_lonlat=BOUNDS)
        assert list(cells["operator"]) == ["Viettel", "VNPT", "MobiFone"]
        assert cells.attrs["ictplan_report"]["skipped_other_mcc"] == 1
        assert cells.loc[0, "cell_key"] == "LTE-452-4-12001-3075"


# ------------------------------------------------------------------ bad input
def test_missing_file_names_the_path(tmp_path):
    with pytest.raises(errors.MissingFileError, match="file not found") as ei:
        io.read_communes(tmp_path / "nope.gpkg")
    assert isinstance(ei.value, FileNotFoundError)


def test_corrupt_file(tmp_path):
    path = tmp_path / "broken.gpkg"
    path.write_bytes(b"this is not a geopackage" * 10)
    with pytest.raises(errors.DataSourceError, match="corrupt"):
        io.read_communes(path)
    bad_tif = tmp_path / "broken.tif"
    bad_tif.write_bytes(b"II*\x00garbage")
    with pytest.raises(errors.DataSourceError, match="corrupt"):
        io.read_population(bad_tif)


def test_empty_layer(tmp_path):
    gdf = communes_gdf().iloc[:0]
    gdf.to_file(tmp_path / "c.gpkg", layer="communes", engine="pyogrio")
    with pytest.raises(errors.EmptyLayerError, match="no features"):
        io.read_communes(tmp_path / "c.gpkg")


def test_missing_columns_listed_all_at_once(tmp_path):
    gdf = communes_gdf().drop(columns=["commune_name", "commune_type"])
    gdf.to_file(tmp_path / "c.gpkg", layer="communes", engine="pyogrio")
    with pytest.raises(errors.MissingColumnError) as ei:
        io.read_communes(tmp_path / "c.gpkg")
    msg = str(ei.value)
    assert "commune_name, commune_type" in msg and "Rename them" in msg and "columns = { commune_name" in msg
    assert "ten_xa→commune_name" in msg and "loai_xa→commune_type" in msg
    assert isinstance(ei.value, KeyError)


def test_no_crs(tmp_path):
    gdf = communes_gdf().set_crs(None, allow_override=True)
    gdf.to_file(tmp_path / "c.geojson", engine="pyogrio")
    # GeoJSON implies WGS84, so use a shapefile without .prj
    gdf.to_file(tmp_path / "c.shp", engine="pyogrio")
    (tmp_path / "c.prj").unlink(missing_ok=True)
    with pytest.raises(errors.MissingCRSError, match=r"set_crs\(4326\)"):
        io.read_communes(tmp_path / "c.shp")
    # assigning the CRS in the call (as study.toml's crs= does) fixes it
    assert io.read_communes(tmp_path / "c.shp", crs=32648).crs.to_epsg() == 32648


def test_crs_mismatch_between_layers():
    from ictplan.crs import check_same_crs

    with pytest.raises(errors.CRSMismatchError, match="to_crs"):
        check_same_crs(communes=communes_gdf(), sites=communes_gdf(crs=32748))


def test_swapped_lon_lat(tmp_path):
    df = sites_df().rename(columns={"lon": "lat", "lat": "lon"})
    df.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(errors.CoordinateError, match="swapped"):
        io.read_sites(tmp_path / "s.csv", bounds_lonlat=BOUNDS)


def test_points_outside_province_and_wrong_crs(tmp_path):
    df = sites_df()
    df["lon"] += 3  # somewhere in the South China Sea
    df.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(errors.CoordinateError, match="outside the study area"):
        io.read_sites(tmp_path / "s.csv", bounds_lonlat=BOUNDS)
    # UTM metres declared as lon/lat
    utm = communes_gdf().set_crs(4326, allow_override=True)
    utm.to_file(tmp_path / "c.gpkg", layer="communes", engine="pyogrio")
    with pytest.raises(errors.CoordinateError, match="projected CRS"):
        io.read_communes(tmp_path / "c.gpkg")


def test_invalid_geometry_repaired_and_counted(tmp_path):
    gdf = communes_gdf()
    bowtie = Polygon([(520_000, 1_010_000), (521_000, 1_011_000), (521_000, 1_010_000), (520_000, 1_011_000)])
    gdf.loc[0, "geometry"] = bowtie
    gdf.to_file(tmp_path / "c.gpkg", layer="communes", engine="pyogrio")
    with pytest.warns(errors.RepairWarning, match="1 invalid geometry was repaired"):
        out = io.read_communes(tmp_path / "c.gpkg")
    assert len(out) == 3  # nothing dropped
    assert out.is_valid.all()
    assert out.attrs["ictplan_report"]["repaired_invalid_geometry"] == 1
    assert out.geometry.iloc[0].area == pytest.approx(500_000)  # two triangles of the bow-tie


def test_null_geometry_skipped_and_counted(tmp_path):
    df = sites_df()
    df.loc[1, "lon"] = None
    df.to_csv(tmp_path / "s.csv", index=False)
    with pytest.warns(errors.SkippedFeaturesWarning, match="1 row"):
        out = io.read_sites(tmp_path / "s.csv")
    assert len(out) == 2 and out.attrs["ictplan_report"]["skipped_no_position"] == 1


def test_duplicate_ids(tmp_path):
    gdf = communes_gdf()
    gdf.loc[2, "commune_code"] = "32000"
    gdf.to_file(tmp_path / "c.gpkg", layer="communes", engine="pyogrio")
    with pytest.raises(errors.DuplicateIdError, match="32000.*unique"):
        io.read_communes(tmp_path / "c.gpkg")


def test_wrong_geometry_type(tmp_path):
    gdf = communes_gdf()
    gdf.geometry = gdf.centroid
    gdf.to_file(tmp_path / "c.gpkg", layer="communes", engine="pyogrio")
    with pytest.raises(errors.GeometryTypeError, match="Polygon.*Point"):
        io.read_communes(tmp_path / "c.gpkg")


def test_bad_choice_value(tmp_path):
    df = sites_df()
    df.loc[0, "technology"] = "6G"
    df.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(errors.InputValidationError, match="6G.*4G"):
        io.read_sites(tmp_path / "s.csv")


def test_raster_without_nodata_but_sentinels(tmp_path):
    arr = np.array([[1.0, -9999.0], [3.0, 4.0]], dtype="float32")
    _write_tif(tmp_path / "p.tif", arr, nodata=None)
    with pytest.raises(errors.NodataError, match="gdal_edit.py -a_nodata -9999"):
        io.read_population(tmp_path / "p.tif")


def test_raster_without_crs(tmp_path):
    _write_tif(tmp_path / "p.tif", np.ones((2, 2), "float32"), nodata=-1, crs=None)
    with pytest.raises(errors.MissingCRSError, match="Assign"):
        io.read_population(tmp_path / "p.tif")


@pytest.mark.parametrize("encoding", ["cp1258", "latin-1"])
def test_text_not_utf8(tmp_path, encoding):
    df = sites_df()
    df["note"] = "Cà Mau"
    df.to_csv(tmp_path / "s.csv", index=False, encoding=encoding)
    with pytest.raises(errors.EncodingError, match="Windows-1258.*TCVN3.*UTF-8"):
        io.read_sites(tmp_path / "s.csv")


def test_shapefile_declaring_non_utf8(tmp_path):
    communes_gdf().to_file(tmp_path / "c.shp", engine="pyogrio")
    (tmp_path / "c.cpg").write_text("1258")
    with pytest.raises(errors.EncodingError, match="UTF-8"):
        io.read_communes(tmp_path / "c.shp")


def test_names_normalised_to_nfc(tmp_path):
    gdf = communes_gdf()
    import unicodedata

    gdf.loc[1, "commune_name"] = unicodedata.normalize("NFD", "Khánh Bình Tây Bắc")
    gdf.to_file(tmp_path / "c.gpkg", layer="communes", engine="pyogrio")
    out = io.read_communes(tmp_path / "c.gpkg")
    assert out.loc[1, "commune_name"] == nfc("Khánh Bình Tây Bắc")
    assert out.attrs["ictplan_report"]["names_normalised_nfc"] >= 1


def test_name_lookup_across_diacritics_and_spacing():
    assert name_key("KhánhBìnhTâyBắc") == name_key("Khánh Bình Tây Bắc") == name_key("khanh binh tay bac")
    assert name_key("Đầm Dơi") == name_key("dam doi")
    assert name_key("Phường 9") != name_key("Phường 8")


# ------------------------------------------------------------------ writers
def test_write_layer_is_atomic_and_refuses_overwrite(tmp_path, monkeypatch):
    path = tmp_path / "out.gpkg"
    io.write_layer(communes_gdf(), path, layer="communes")
    io.write_layer(communes_gdf().iloc[:1], path, layer="other")  # adds a layer, keeps the first
    assert len(gpd.read_file(path, layer="communes")) == 3
    with pytest.raises(errors.OutputExistsError, match="overwrite=True"):
        io.write_layer(communes_gdf(), path, layer="communes")
    io.write_layer(communes_gdf().iloc[:2], path, layer="communes", overwrite=True)
    assert len(gpd.read_file(path, layer="communes")) == 2
    # a failing write leaves the old file intact and no temporary files behind
    real_to_file = gpd.GeoDataFrame.to_file

    def half_then_fail(self, filename, **kw):
        real_to_file(self.iloc[:1], filename, **kw)
        raise OSError("disk full")

    monkeypatch.setattr(gpd.GeoDataFrame, "to_file", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        io.write_layer(communes_gdf(), path, layer="communes", overwrite=True)
    with pytest.raises(OSError, match="disk full"):
        io.write_layer(communes_gdf(), tmp_path / "new.gpkg")
    assert len(gpd.read_file(path, layer="communes")) == 2
    assert sorted(os.listdir(tmp_path)) == ["out.gpkg"]


def test_write_table_and_raster_roundtrip(tmp_path):
    io.write_table(pd.DataFrame({"tên": ["Đầm Dơi"], "x": [1]}), tmp_path / "t.csv")
    assert pd.read_csv(tmp_path / "t.csv", encoding="utf-8").iloc[0, 0] == "Đầm Dơi"
    grid = Grid(Affine(100, 0, 500_000, 0, -100, 1_000_000), 3, 2, __import__("pyproj").CRS.from_epsg(32648))
    arr = np.arange(6, dtype="float32").reshape(2, 3)
    io.write_raster(arr, grid, tmp_path / "r.tif", nodata=-1)
    with rasterio.open(tmp_path / "r.tif") as ds:
        assert ds.crs.to_epsg() == 32648 and ds.read(1).tolist() == arr.tolist()
    with pytest.raises(errors.OutputExistsError):
        io.write_raster(arr, grid, tmp_path / "r.tif", nodata=-1)


def test_loaders_do_not_mutate_inputs():
    gdf = communes_gdf()
    before = gdf.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        io.validate_layer(gdf, "communes")
    pd.testing.assert_frame_equal(pd.DataFrame(gdf.drop(columns="geometry")), pd.DataFrame(before.drop(columns="geometry")))


# ------------------------------------------------------------------ helpers
def _write_tif(path, arr, *, nodata, crs="EPSG:32648"):
    with rasterio.open(
        path, "w", driver="GTiff", width=arr.shape[1], height=arr.shape[0], count=1, dtype=arr.dtype.name,
        crs=crs, transform=Affine(100, 0, 500_000, 0, -100, 1_000_000), nodata=nodata,
    ) as ds:
        ds.write(arr, 1)


@pytest.mark.parametrize("schema_name", sorted(__import__("ictplan").schemas.SCHEMAS))
@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".csv"])
def test_every_schema_loads_from_minimal_layer(tmp_path, schema_name, suffix):
    """A two-feature layer made from each schema's required columns loads in each format."""
    from ictplan.schemas import SCHEMAS

    schema = SCHEMAS[schema_name]
    if suffix == ".csv" and schema.geometry != "point":
        pytest.skip("CSV holds points only")
    values = {"str": ["a1", "a2"], "float": [30.0, 45.0], "int": [1, 2], "bool": ["yes", "0"]}
    data = {c: list(values[k]) for c, k in schema.required.items()}
    for col, allowed in schema.choices.items():
        if col in data:
            data[col] = [allowed[0], allowed[-1]]
    x, y = 105.15, 9.18
    geoms = {
        "point": [Point(x, y), Point(x + 0.01, y)],
        "line": [LineString([(x, y), (x + 0.01, y)]), LineString([(x, y), (x, y + 0.01)])],
        "polygon": [Point(x, y).buffer(0.005), Point(x + 0.02, y).buffer(0.005)],
    }[schema.geometry]
    path = tmp_path / f"layer{suffix}"
    if suffix == ".csv":
        pd.DataFrame(data | {"lon": [g.x for g in geoms], "lat": [g.y for g in geoms]}).to_csv(path, index=False)
    else:
        gpd.GeoDataFrame(data, geometry=geoms, crs=4326).to_file(path, engine="pyogrio")
    out = io.read_layer(path, schema_name, bounds_lonlat=BOUNDS)
    assert len(out) == 2
    assert set(schema.required) | set(schema.optional) <= set(out.columns)
    if "bool" in schema.required.values():
        col = next(c for c, k in schema.required.items() if k == "bool")
        assert list(out[col]) == [True, False]


def test_hamlets_accept_points(tmp_path):
    gdf = gpd.GeoDataFrame({"hamlet_code": ["1", "2"], "hamlet_name": ["Ấp 1", "Khóm 2"], "commune_code": ["32002", "32002"]},
                           geometry=[Point(105.1, 9.1), Point(105.11, 9.1)], crs=4326)
    gdf.to_file(tmp_path / "h.geojson", engine="pyogrio")
    out = io.read_hamlets(tmp_path / "h.geojson", bounds_lonlat=BOUNDS)
    assert list(out.geom_type) == ["Point", "Point"] and out.loc[1, "hamlet_name"] == "Khóm 2"


def test_outputs_get_ordinary_permissions(tmp_path):
    path = io.write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.csv")
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~umask)


def test_read_landcover_on_grid_and_refused_off_grid(tmp_path):
    from ictplan.io import read_landcover

    grid = Grid(Affine(100, 0, 500_000, 0, -100, 1_000_000), 2, 2, __import__("pyproj").CRS.from_epsg(32648))
    codes = np.array([[1, 2], [3, 4]], dtype="uint8")
    _write_tif(tmp_path / "lc.tif", codes, nodata=None)
    assert read_landcover(tmp_path / "lc.tif", grid).tolist() == [[1, 2], [3, 4]]
    other = Grid(Affine(50, 0, 500_000, 0, -50, 1_000_000), 4, 4, grid.crs)
    with pytest.raises(errors.InputValidationError, match=r"never resamples.*gdalwarp -t_srs EPSG:32648 -tr 50 50"):
        read_landcover(tmp_path / "lc.tif", other)
    _write_tif(tmp_path / "nocrs.tif", codes, nodata=None, crs=None)
    with pytest.raises(errors.MissingCRSError):
        read_landcover(tmp_path / "nocrs.tif", grid)


# ------------------------------------------------------------------ value ranges, skipped rows, columns
def test_sector_values_out_of_range_name_rows_and_values(tmp_path):
    df = sites_df()
    df["tilt_deg"] = [4.0, 75.0, 4.0]
    df.loc[0, "height_m"] = -5.0
    df.loc[2, "height_m"] = 400.0
    df.loc[2, "azimuth_deg"] = 400.0
    df["tx_power_dbm"] = [43.0, np.nan, 80.0]  # blank: the profile's power
    df.to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(errors.InputValidationError) as ei:
        io.read_sites(tmp_path / "s.csv", bounds_lonlat=BOUNDS)
    lines = str(ei.value).splitlines()
    assert lines == [
        "sites (s.csv): 1 row with azimuth_deg outside [0, 360] °: row 3 (site VNP-2) 400; use degrees clockwise from north, blank for omni.",
        "sites (s.csv): 2 rows with height_m outside (0, 300] m: row 1 (site VTL-1) -5, row 3 (site VNP-2) 400; give the antenna height above ground in metres.",
        "sites (s.csv): 1 row with tilt_deg outside [-20, 60] °: row 2 (site VTL-1) 75; downtilt in degrees, positive down.",
        "sites (s.csv): 1 row with tx_power_dbm outside [0, 70] dBm: row 3 (site VNP-2) 80; give dBm per sector (watts? 20 W = 43 dBm), blank for the profile's.",
    ]


def test_blank_height_is_refused_blank_azimuth_is_omni(tmp_path):
    df = sites_df().astype({"height_m": float, "azimuth_deg": float})
    df.loc[1, "azimuth_deg"] = np.nan
    df.to_csv(tmp_path / "ok.csv", index=False)
    assert np.isnan(io.read_sites(tmp_path / "ok.csv")["azimuth_deg"].iloc[1])
    df.loc[1, "height_m"] = np.nan
    df.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(errors.InputValidationError, match=r"row 2 \(site VTL-1\) blank"):
        io.read_sites(tmp_path / "bad.csv")


def test_value_ranges_oracle():
    rule = __import__("ictplan").validation.ValueRange("h", 0.0, 300.0, low_open=True, missing_ok=False)
    values = np.array([0.0, 1e-9, 300.0, 300.0001, np.nan, np.inf, -5.0])
    assert rule.bad(values).tolist() == [True, False, False, True, True, True, True]


def test_csv_rows_without_position_are_named(tmp_path):
    df = sites_df()
    df["lon"] = df["lon"].astype(object)
    df.loc[1, "lon"] = ""
    df.to_csv(tmp_path / "s.csv", index=False)
    with pytest.warns(errors.SkippedFeaturesWarning, match=r"1 row\(s\) of s.csv have no usable lon/lat and were skipped: row 2 "):
        gdf = io.read_sites(tmp_path / "s.csv", bounds_lonlat=BOUNDS)
    assert list(gdf["sector_id"]) == ["VTL-1-A", "VNP-2-A"]


def test_opencellid_rows_without_position_are_named(tmp_path):
    rows = [
        "LTE,452,4,12001,3075,0,105.15,9.18,1000,12,1,1600000000,1700000000,0",
        "LTE,452,4,12001,3076,0,,,1000,12,1,1600000000,1700000000,0",
        "LTE,452,4,12001,3077,0,105.16,9.19,1000,12,1,1600000000,1700000000,0",
        "LTE,452,4,12001,3078,0,0,0,1000,12,1,1600000000,1700000000,0",
    ]
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n")
    with pytest.warns(errors.SkippedFeaturesWarning, match=r"2 cell\(s\) without a position were skipped: row 2, row 4\."):
        cells = io.read_cells(tmp_path / "c.csv", bounds_lonlat=BOUNDS)
    assert cells.attrs["ictplan_report"]["skipped_no_position"] == 2 and len(cells) == 2


def test_sector_aliases_and_explicit_columns(tmp_path):
    df = sites_df().rename(columns={"azimuth_deg": "Azimuth", "height_m": "height", "sector_id": "cell"})
    df["tilt"] = 3.0
    df.to_csv(tmp_path / "s.csv", index=False)
    gdf = io.read_sites(tmp_path / "s.csv", columns={"sector_id": "cell"})
    assert list(gdf["azimuth_deg"]) == [0.0, 120.0, 240.0] and list(gdf["height_m"]) == [30.0, 30.0, 25.0]
    assert list(gdf["tilt_deg"]) == [3.0, 3.0, 3.0] and list(gdf["sector_id"]) == ["VTL-1-A", "VTL-1-B", "VNP-2-A"]
    assert gdf.attrs["ictplan_columns"] == {"cell": "sector_id", "Azimuth": "azimuth_deg", "height": "height_m",
                                            "tilt": "tilt_deg"}


def test_alias_never_replaces_the_schema_column(tmp_path):
    df = sites_df()
    df["height"] = 99.0  # e.g. a building height: height_m is there, so it stays as it is
    df.to_csv(tmp_path / "s.csv", index=False)
    gdf = io.read_sites(tmp_path / "s.csv")
    assert list(gdf["height_m"]) == [30.0, 30.0, 25.0] and list(gdf["height"].astype(float)) == [99.0, 99.0, 99.0]


def test_gso_communes_shapefile_without_district(tmp_path):
    gdf = communes_gdf().rename(columns={"commune_code": "MA_XA", "commune_name": "TEN_XA", "commune_type": "LOAI_XA",
                                         "pop2019": "DAN_SO", "hh2019": "SO_HO"}).drop(columns=["district_code", "district_name"])
    gdf.to_file(tmp_path / "xa.shp", engine="pyogrio", encoding="UTF-8")
    out = io.read_communes(tmp_path / "xa.shp")
    assert list(out["commune_code"]) == ["32000", "32001", "32002"]
    assert list(out["hh2019"]) == [250, 500, 750]
    assert not io.has_districts(out)
    with pytest.raises(errors.ConfigError, match="no district column"):
        io.read_districts(out)


def test_districts_partly_missing_named(tmp_path):
    gdf = communes_gdf()
    gdf.loc[1, "district_code"] = None
    gdf.to_file(tmp_path / "c.gpkg", layer="communes", engine="pyogrio")
    out = io.read_communes(tmp_path / "c.gpkg")
    assert io.has_districts(out)
    with pytest.raises(errors.InputValidationError, match=r"1 commune\(s\) name no district.*row 2 \(32001\)"):
        io.read_districts(out)


def test_read_toml(tmp_path):
    p = tmp_path / "a.toml"
    p.write_text('[x]\nname = "Cà Mau"\n', encoding="utf-8")
    assert io.read_toml(p, "targets") == {"x": {"name": "Cà Mau"}}
    with pytest.raises(errors.MissingFileError, match="targets file not found"):
        io.read_toml(tmp_path / "no.toml", "targets")
    p.write_text("[x\n")
    with pytest.raises(errors.ConfigError, match="not valid TOML"):
        io.read_toml(p, "profiles")
    p.write_bytes('name = "Cà Mau"'.encode("cp1258"))
    with pytest.raises(errors.ConfigError, match="not UTF-8"):
        io.read_toml(p, "profiles")


def test_wrong_geopackage_layer_lists_the_layers(tmp_path):
    communes_gdf().to_file(tmp_path / "c.gpkg", layer="communes", engine="pyogrio")
    communes_gdf().to_file(tmp_path / "c.gpkg", layer="hamlets_old", engine="pyogrio")
    with pytest.raises(errors.DataSourceError, match=r"has no layer 'commune'; it has: communes, hamlets_old\. Fix the layer name \(`layer =`"):
        io.read_communes(tmp_path / "c.gpkg", layer="commune")
