"""Calibration against measurements (issue 11 item 6): drive-test points through
``ictplan calibrate``, Ookla tiles in their published schemas, quadkeys, weighted Spearman."""

from __future__ import annotations

import math
import tomllib

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import scipy.stats
import shapely

from ictplan import calibration as cal
from ictplan import coverage, io, radio
from ictplan import study as _study
from ictplan._errors import InputValidationError, MissingColumnError, NoDataInBoundsError
from ictplan.cli import main
from tests._studydata import small_study
from tests.test_demand import QUIET, _case


# ---------------------------------------------------------------- quadkeys
def test_quadkey_to_tile_and_bounds_by_hand():
    # Microsoft's "Bing Maps Tile System" example: tile (3, 5) at level 3 is quadkey "213"
    # (digits 2·y_bit + x_bit: x = 011, y = 101 → 2·1+0, 2·0+1, 2·1+1)
    assert cal.quadkey_to_tile("213") == (3, 5, 3)
    assert cal.tile_to_quadkey(3, 5, 3) == "213"
    # bounds by hand: lon = x/8·360 − 180 → −45 … 0; lat = atan(sinh(π(1 − 2y/8))):
    # y = 5: atan(sinh(−π/4)) = atan(−0.868671) = −40.979898°; y = 6: atan(sinh(−π/2)) = atan(−2.301299) = −66.513260°
    minx, miny, maxx, maxy = cal.quadkey_bounds("213")
    assert (minx, maxx) == (-45.0, 0.0)
    assert maxy == pytest.approx(-40.979898, abs=1e-6) and miny == pytest.approx(-66.513260, abs=1e-6)
    assert cal.quadkey_bounds("0") == pytest.approx((-180.0, 0.0, 0.0, 85.0511287798))
    with pytest.raises(InputValidationError, match="0-3"):
        cal.quadkey_to_tile("1204")


def test_z16_tile_of_a_point_in_ca_mau():
    # Cà Mau city, 105.15 E 9.18 N: x = floor(285.15/360 · 65536) = floor(51909.97) = 51909
    # y = floor((1 − ln(tan φ + sec φ)/π)/2 · 65536) with φ = 9.18°: ln(0.161633 + 1.012971) = 0.161070
    #   → (1 − 0.051270)/2 · 65536 = 31088.0 → 31087 or 31088; check by the tile's own bounds
    x, y = cal.lonlat_to_tile(np.array([105.15]), np.array([9.18]))
    assert int(x[0]) == 51909
    qk = cal.tile_to_quadkey(int(x[0]), int(y[0]), 16)
    assert len(qk) == 16 and cal.quadkey_to_tile(qk) == (51909, int(y[0]), 16)
    minx, miny, maxx, maxy = cal.quadkey_bounds(qk)
    assert minx <= 105.15 < maxx and miny <= 9.18 < maxy
    assert maxx - minx == pytest.approx(360 / 65536)  # 0.00549° ≈ 600 m


# ---------------------------------------------------------------- weighted Spearman
def test_weighted_spearman_equals_spearman_of_the_repeated_sample():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=40), rng.normal(size=40)
    y[:10] = x[:10]  # some agreement
    x[5] = x[6]  # a tie
    assert cal.weighted_spearman(x, y) == pytest.approx(scipy.stats.spearmanr(x, y).statistic, rel=1e-12)
    w = rng.integers(1, 6, 40)
    want = scipy.stats.spearmanr(np.repeat(x, w), np.repeat(y, w)).statistic
    assert cal.weighted_spearman(x, y, w) == pytest.approx(want, rel=1e-12)


# ---------------------------------------------------------------- Ookla tiles in the published schemas
def _tiles_over(grid, value_fn):
    """The z16 tiles over a grid, in Ookla's schema, with ``avg_d_kbps = value_fn(i)``."""
    minx, miny, maxx, maxy = gpd.GeoSeries([shapely.box(*grid.bounds)], crs=grid.crs).to_crs(4326).total_bounds
    x0, y1 = cal.lonlat_to_tile(np.array([minx]), np.array([miny]))
    x1, y0 = cal.lonlat_to_tile(np.array([maxx]), np.array([maxy]))
    rows = []
    for i, (tx, ty) in enumerate((a, b) for a in range(int(x0[0]), int(x1[0]) + 1) for b in range(int(y0[0]), int(y1[0]) + 1)):
        qk = cal.tile_to_quadkey(tx, ty, 16)
        rows.append({"quadkey": qk, "tile": shapely.box(*cal.quadkey_bounds(qk)).wkt, "avg_d_kbps": int(value_fn(i)),
                     "avg_u_kbps": 9000, "avg_lat_ms": 30, "tests": 1 + i % 7, "devices": 1 + i % 3})
    return pd.DataFrame(rows)


def _brute_force_tiles(res, pop, tiles):
    """Per tile by brute force: cells whose lon/lat centre lies in the quadkey's bounds; each cell's
    served users and their speeds from the layers (5G users on 5G where it gives > 0 Mb/s, else 4G)."""
    xc, yc = res.grid.cell_centres()
    ll = gpd.GeoSeries(gpd.points_from_xy(xc.reshape(-1), yc.reshape(-1)), crs=res.grid.crs).to_crs(4326)
    lon, lat = ll.x.to_numpy(), ll.y.to_numpy()
    u = res.demand.uptake_5g
    counts = pop.counts.reshape(-1)
    num, den = np.zeros(counts.size), np.zeros(counts.size)
    for op in {o for o, _ in res.layers if o != "any"}:
        l4, l5 = res.layers.get((op, "4G")), res.layers.get((op, "5G"))
        s = l4.users_per_person.base  # the operator's subscribers per person (its 4G layer's base)
        for c in range(counts.size):
            t4 = float(l4.tput_mbps.reshape(-1)[c])
            t5 = float(l5.tput_mbps.reshape(-1)[c]) if l5 is not None else 0.0
            five = u if t5 > 0 else 0.0
            four = (1 - five) if t4 > 0 else 0.0
            num[c] += counts[c] * s * (five * t5 + four * t4)
            den[c] += counts[c] * s * (five + four)
    out = {}
    for r in tiles.itertuples():
        a, b, c_, d = cal.quadkey_bounds(r.quadkey)
        m = (lon >= a) & (lon < c_) & (lat >= b) & (lat < d)
        if counts[m].sum() > 0:
            out[r.quadkey] = num[m].sum() / den[m].sum() if den[m].sum() > 0 else float("nan")
    return out


@pytest.mark.parametrize("fmt", ["parquet", "shp"])
def test_ookla_tiles_modelled_vs_measured(tmp_path, fmt):
    g, pop, gdf = _case(w=60, h=50, seed=3)
    res = coverage.compute(gdf, pop, radio_profiles(), parameters=QUIET)
    raw = _tiles_over(g, lambda i: 20_000 + 3_000 * (i % 11))
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
        path = tmp_path / "2025-q1_performance_mobile_tiles.parquet"
        raw.to_parquet(path)
    else:  # the published shapefiles: geometry, no `tile` column
        path = tmp_path / "gps_mobile_tiles.shp"
        gpd.GeoDataFrame(raw.drop(columns=["tile"]), geometry=shapely.from_wkt(raw["tile"]), crs=4326).to_file(path)
    read = io.read_table_file(path)
    assert cal.is_ookla(read)
    tiles = cal.prepare_ookla_tiles(read)
    assert tiles.geometry.iloc[0].equals_exact(shapely.box(*cal.quadkey_bounds(tiles.quadkey.iloc[0])), 1e-9)
    per_tile, summary = cal.compare_ookla(res, tiles, pop)
    want = _brute_force_tiles(res, pop, tiles)
    got = per_tile.set_index("quadkey")["modelled_mbps"]
    assert set(got.index) == set(want)
    np.testing.assert_allclose(got.reindex(list(want)).to_numpy(), np.array(list(want.values())), rtol=1e-9)
    ok = per_tile.dropna(subset=["modelled_mbps"])
    r = ok["measured_mbps"] - ok["modelled_mbps"]
    w = ok["tests"].to_numpy(float)
    s = summary.iloc[0]
    assert s.n_tiles_compared == len(ok) and s.tests == w.sum()
    assert s.bias_mbps == pytest.approx(float((w * r).sum() / w.sum()), rel=1e-12)
    assert s.rmse_mbps == pytest.approx(math.sqrt(float((w * r * r).sum() / w.sum())), rel=1e-12)
    assert s.spearman_unweighted == pytest.approx(
        scipy.stats.spearmanr(ok["measured_mbps"], ok["modelled_mbps"]).statistic, rel=1e-9)


def test_ookla_tiles_from_quadkeys_only_and_refused_when_elsewhere():
    raw = pd.DataFrame({"quadkey": ["1322221213021123"], "avg_d_kbps": [50_000], "tests": [3]})  # no `tile`
    t = cal.prepare_ookla_tiles(raw)
    assert t.geometry.iloc[0].bounds == pytest.approx(cal.quadkey_bounds("1322221213021123"))
    assert t.measured_mbps.iloc[0] == 50.0
    with pytest.raises(MissingColumnError, match="tests"):
        cal.prepare_ookla_tiles(raw.drop(columns=["tests"]))
    with pytest.raises(InputValidationError, match="zoom 16"):
        cal.prepare_ookla_tiles(raw.assign(quadkey=["13222212130211230"]))
    g, pop, gdf = _case(w=40, h=30)
    res = coverage.compute(gdf, pop, radio_profiles(), parameters=QUIET)
    far = pd.DataFrame({"quadkey": [cal.tile_to_quadkey(*map(int, (a[0] for a in cal.lonlat_to_tile(
        np.array([2.35]), np.array([48.85])))), 16)], "avg_d_kbps": [1000], "tests": [1]})  # Paris
    with pytest.raises(NoDataInBoundsError, match="Ookla"):
        cal.compare_ookla(res, cal.prepare_ookla_tiles(far), pop)


def radio_profiles():
    from tests.test_coverage import PROFILES

    return PROFILES


# ---------------------------------------------------------------- drive-test points: errors
def test_measurements_refused_with_one_clear_error():
    g, pop, gdf = _case(w=30, h=20)
    xc, yc = g.cell_centres()
    pts = gpd.GeoDataFrame({"operator": ["viettel"] * 3, "technology": ["LTE"] * 3, "rsrp_dbm": [-90.0, -95.0, -100.0]},
                           geometry=gpd.points_from_xy(xc[5, 5:8], yc[5, 5:8]), crs=g.crs)
    ok = cal.prepare_measurements(pts, operators=["Viettel", "VNPT"], grid=g)
    assert list(ok["operator"]) == ["Viettel"] * 3 and list(ok["technology"]) == ["4G"] * 3  # names as the sites spell them
    with pytest.raises(MissingColumnError, match="rsrp_dbm"):
        cal.prepare_measurements(pts.drop(columns=["rsrp_dbm"]), operators=["Viettel"], grid=g)
    with pytest.raises(MissingColumnError, match="lon and lat"):
        cal.prepare_measurements(pd.DataFrame(pts.drop(columns="geometry")), operators=["Viettel"], grid=g)
    with pytest.raises(InputValidationError, match="Gmobile.*known: VNPT, Viettel"):
        cal.prepare_measurements(pts.assign(operator=["Viettel", "Gmobile", "Viettel"]), operators=["Viettel", "VNPT"],
                                 grid=g)
    with pytest.raises(InputValidationError, match="rsrp_dbm"):
        cal.prepare_measurements(pts.assign(rsrp_dbm=[-90.0, 40.0, -100.0]), operators=["Viettel"], grid=g)
    with pytest.raises(NoDataInBoundsError, match="none of the 3"):
        cal.prepare_measurements(pts.set_geometry(pts.geometry.translate(1e6, 0)), operators=["Viettel"], grid=g)


# ---------------------------------------------------------------- the command, end to end
def _drive_test(study_root, offset_db, sigma_db, n=1500, seed=1):
    s = _study.load(study_root)
    res = coverage.run(s, progress=False)
    lay = res.layers[("Viettel", "4G")]
    rng = np.random.default_rng(seed)
    cells = np.flatnonzero(np.isfinite(lay.rsrp_dbm.reshape(-1)))
    pick = rng.choice(cells, n)
    xc, yc = res.grid.cell_centres()
    ll = gpd.GeoSeries(gpd.points_from_xy(xc.reshape(-1)[pick], yc.reshape(-1)[pick]), crs=res.grid.crs).to_crs(4326)
    meas = lay.rsrp_dbm.reshape(-1)[pick] + offset_db + rng.normal(0, sigma_db, n)
    return pd.DataFrame({"lon": ll.x, "lat": ll.y, "operator": "Viettel", "technology": "4G",
                         "rsrp_dbm": np.round(meas, 2), "dl_mbps": 20.0})


def test_calibrate_command_recovers_the_offset_and_writes_profiles_to_adopt(tmp_path, capsys):
    root = small_study(tmp_path / "s")
    offset, sigma = -5.0, 6.0
    _drive_test(root, offset, sigma).to_csv(tmp_path / "drive.csv", index=False)
    out = tmp_path / "out"
    assert main(["calibrate", str(root), "--measurements", str(tmp_path / "drive.csv"), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "[profiles]" in text and "profiles_calibrated.toml" in text
    fit = pd.read_csv(out / "calibration_rsrp.csv").set_index(["operator", "technology", "band"])
    r = fit.loc[("Viettel", "4G", "B3")]
    assert r.n == 1500 and abs(r.offset_db - offset) < 0.5 and abs(r.sigma_db - sigma) < 0.2 * sigma
    assert r.model_sigma_db == pytest.approx(radio.shadow_sigma_db("38901_rma", "prob"))
    assert "dl_bias_mbps" in fit.columns
    data = tomllib.loads((out / "profiles_calibrated.toml").read_text(encoding="utf-8"))
    prof = radio.parse_profiles(data)  # a whole, valid profiles file
    base = radio.profile_for(radio.parse_profiles(_study.load(root).profiles), "Viettel", "4G", "B3")
    got = radio.profile_for(prof, "Viettel", "4G", "B3")
    assert got.antenna_gain_dbi == pytest.approx(base.antenna_gain_dbi + r.offset_db, abs=0.01)
    assert got.market_share == base.market_share  # everything else as before
    # adopt it as the output says: the model then has (almost) no bias against the same points
    toml = (root / "study.toml").read_text(encoding="utf-8")
    rel = text.split('path = "')[-1].split('"')[0]
    (root / "study.toml").write_text(toml.split("[profiles]")[0] + f'[profiles]\npath = "{rel}"\n'
                                     + "[targets]" + toml.split("[targets]")[1], encoding="utf-8")
    out2 = tmp_path / "out2"
    assert main(["calibrate", str(root), "--measurements", str(tmp_path / "drive.csv"), "--out", str(out2)]) == 0
    r2 = pd.read_csv(out2 / "calibration_rsrp.csv").set_index(["operator", "technology", "band"]).loc[
        ("Viettel", "4G", "B3")]
    # the gain moved every RSRP by the offset: what is left is the noise's mean over the points that still
    # have a signal (a few near the cutoff drop out) less its mean over all: ≈ σ/√n
    assert r2.n <= 1500 and abs(r2.bias_db) < 0.3


def test_points_without_a_modelled_layer_are_reported_not_dropped():
    g, pop, gdf = _case(w=40, h=30)
    res = coverage.compute(gdf, pop, radio_profiles(), parameters=QUIET)
    xc, yc = g.cell_centres()
    pts = gpd.GeoDataFrame({"operator": ["Viettel", "Viettel", "MobiFone"], "technology": ["4G", "4G", "4G"],
                            "rsrp_dbm": [-90.0, -95.0, -99.0]},
                           geometry=gpd.points_from_xy(xc[10, 10:13], yc[10, 10:13]), crs=g.crs)
    fit = cal.calibrate_rsrp(res, pts).set_index(["operator", "technology"])
    assert fit.loc[("MobiFone", "4G"), "n"] == 0 and fit.loc[("MobiFone", "4G"), "n_no_signal"] == 1
    assert fit.loc[("Viettel", "4G"), "n"] == 2


def test_read_table_file_keeps_codes_as_text(tmp_path):
    (tmp_path / "shares.csv").write_text("commune_code,share_viettel\n00001,0.5\n", encoding="utf-8")
    t = io.read_table_file(tmp_path / "shares.csv")
    assert t["commune_code"].tolist() == ["00001"] and not isinstance(t, gpd.GeoDataFrame)
    (tmp_path / "pts.csv").write_text("lon,lat,operator\n105.1,9.1,VNPT\n", encoding="utf-8")
    p = io.read_table_file(tmp_path / "pts.csv")
    assert isinstance(p, gpd.GeoDataFrame) and p.crs.to_epsg() == 4326 and p.geometry.x.iloc[0] == 105.1
    from ictplan._errors import MissingFileError

    with pytest.raises(MissingFileError):
        io.read_table_file(tmp_path / "nope.parquet")


def test_calibrate_command_errors_are_one_line(tmp_path, capsys):
    root = small_study(tmp_path / "s")
    pd.DataFrame({"lon": [105.0], "lat": [9.0], "operator": ["Viettel"], "technology": ["4G"]}).to_csv(
        tmp_path / "m.csv", index=False)
    assert main(["calibrate", str(root), "--measurements", str(tmp_path / "m.csv"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "rsrp_dbm" in err and len(err.strip().splitlines()) == 1
    assert main(["calibrate", str(root), "--out", str(tmp_path / "o2")]) == 1
    assert "--measurements" in capsys.readouterr().err
