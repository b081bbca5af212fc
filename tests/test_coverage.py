"""Best-server engine and population covered: analytic cases, brute force, properties, bad input."""

from __future__ import annotations

import dataclasses
import math
import types
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
import shapely
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from ictplan import coverage, radio
from ictplan._errors import (
    GeographicCRSError,
    IctplanWarning,
    InputValidationError,
    MissingColumnError,
    NoDataInBoundsError,
    ProfileError,
)
from ictplan.grid import OUTSIDE_ZONES, Grid, Population, zone_weights

REPO = Path(__file__).resolve().parents[1]
PROFILES = radio.load_profiles(REPO / "data" / "profiles" / "default.toml")
UTM = pyproj.CRS(32648)
X0, Y0 = 500_000.0, 1_000_000.0


def make_grid(w=120, h=100, res=100.0):
    return Grid(Affine(res, 0, X0, 0, -res, Y0), w, h, UTM)


def sites(xy, *, az=None, h=35.0, op="Viettel", tech="4G", band="B3", tilt=4.0, tx=None, crs=UTM):
    n = len(xy)
    data = {
        "sector_id": [f"s{i}" for i in range(n)], "site_id": [f"site{i}" for i in range(n)],
        "operator": op, "technology": tech, "band": band,
        "azimuth_deg": np.full(n, np.nan) if az is None else np.asarray(az, float),
        "height_m": np.broadcast_to(np.asarray(h, float), (n,)).copy(), "tilt_deg": tilt,
    }
    if tx is not None:
        data["tx_power_dbm"] = np.broadcast_to(np.asarray(tx, float), (n,)).copy()
    return gpd.GeoDataFrame(data, geometry=gpd.points_from_xy(*zip(*xy, strict=True)), crs=crs)


def lte(**kw):
    return dataclasses.replace(radio.profile_for(PROFILES, "Viettel", "4G", "B3"), **kw)


def brute_rsrp(gdf, grid, prof):
    """Independent per-sector RSRP over the whole grid with the radio functions (no tables, no windows)."""
    xc, yc = grid.cell_centres()
    out = []
    for _, s in gdf.iterrows():
        dx, dy = xc - s.geometry.x, yc - s.geometry.y
        pl = radio.path_loss_db(np.hypot(dx, dy), model=prof.model, freq_mhz=prof.freq_mhz, h_bs_m=s.height_m,
                                h_ut_m=prof.ue_height_m, los=prof.los, environment=prof.environment)
        g = radio.antenna_gain_dbi(dx, dy, azimuth_deg=s.azimuth_deg, h_bs_m=s.height_m, h_ut_m=prof.ue_height_m,
                                   gain_dbi=prof.antenna_gain_dbi, pattern=prof.pattern, tilt_deg=s.tilt_deg,
                                   beamwidth_deg=prof.beamwidth_deg, front_to_back_db=prof.front_to_back_db,
                                   vertical_beamwidth_deg=prof.vertical_beamwidth_deg, sla_v_db=prof.sla_v_db)
        tx = s.tx_power_dbm if "tx_power_dbm" in gdf.columns else prof.tx_power_dbm
        out.append(tx - 10 * math.log10(12 * prof.n_rb) + g - prof.feeder_loss_db - pl)
    return np.array(out)


# ---------------------------------------------------------------- analytic cases
@pytest.mark.parametrize("model", ["38901_rma", "cost231", "fspl"])
def test_one_site_disc_radius_equals_model_range(model):
    g = make_grid(140, 140)
    prof = lte(model=model, environment="urban", pattern="omni", tx_power_dbm=30.0 if model == "fspl" else 46.0,
               rsrp_threshold_dbm=-110.0 if model != "fspl" else -95.0)
    cx, cy = X0 + 7000.0 + 37.0, Y0 - 7000.0 - 12.0
    bs = coverage.best_server(sites([(cx, cy)], h=35.0), g, prof)
    covered = bs["rsrp_dbm"] >= prof.rsrp_threshold_dbm
    r = radio.range_m(np.array([prof.rsrp_offset_db - prof.rsrp_threshold_dbm]), model=model,
                      freq_mhz=prof.freq_mhz, h_bs_m=35.0, los=prof.los, environment="urban")[0]
    assert 1000 < r < 6500  # a disc well inside the grid
    xc, yc = g.cell_centres()
    d = np.hypot(xc - cx, yc - cy)
    assert d[covered].max() <= r + 100.0 and d[~covered].min() >= r - 100.0  # within a cell
    # and the covered area is the disc's: π r² within the boundary cells' share
    assert covered.sum() * 1e4 == pytest.approx(math.pi * r * r, rel=0.03)


def test_two_sites_sinr_at_midpoint():
    g = make_grid(81, 21)
    prof = lte(pattern="omni", model="fspl", tx_power_dbm=10.0, load_factor=0.7)
    y = Y0 - 1050.0
    xa, xb = X0 + 2050.0, X0 + 6050.0  # the midpoint X0+4050 is cell (10, 40)'s centre
    bs = coverage.best_server(sites([(xa, y), (xb, y)], h=31.5), g, prof)
    d_mid = math.hypot(2000.0, 30.0)
    s = 10 - 10 * math.log10(1200) + prof.antenna_gain_dbi - prof.feeder_loss_db - ref_fspl(d_mid, prof.freq_mhz)
    noise = -174 + 10 * math.log10(15e3) + prof.ue_noise_figure_db
    expect = s - 10 * math.log10(0.7 * 10 ** (s / 10) + 10 ** (noise / 10))
    assert bs["rsrp_dbm"][10, 40] == pytest.approx(s, abs=0.02)
    assert bs["sinr_db"][10, 40] == pytest.approx(expect, abs=0.02)
    assert expect == pytest.approx(-10 * math.log10(0.7), abs=0.2)  # interference-limited: ≈ 1/load
    # each half is served by its own site
    assert (bs["server"][:, :40] == 0).all() and (bs["server"][:, 41:] == 1).all()


def ref_fspl(d_m, f_mhz):
    return 20 * math.log10(4 * math.pi * d_m * f_mhz * 1e6 / 299_792_458.0)


def test_engine_matches_brute_force_sectors():
    g = make_grid(90, 70)
    prof = lte()
    gdf = sites([(X0 + 2000.0, Y0 - 2000.0), (X0 + 2000.0, Y0 - 2000.0), (X0 + 6123.0, Y0 - 4567.0),
                 (X0 - 1500.0, Y0 - 3000.0)], az=[30.0, 250.0, 180.0, 90.0], h=[35.0, 35.0, 28.0, 40.0],
                tilt=[4.0, 2.0, 6.0, 3.0])
    bs = coverage.best_server(gdf, g, prof, window_rows=17)
    r = brute_rsrp(gdf, g, prof)
    cutoff = prof.rsrp_threshold_dbm - 20.0
    best = r.max(axis=0)
    seen = best > cutoff + 0.05
    assert (np.isfinite(bs["rsrp_dbm"]) | ~seen).all()
    np.testing.assert_allclose(bs["rsrp_dbm"][seen], best[seen], atol=0.03)
    clear = seen & (np.sort(r, axis=0)[-1] - np.sort(r, axis=0)[-2] > 0.1)
    assert (bs["server"][clear] == r.argmax(axis=0)[clear]).all()
    lin = np.where(r > cutoff, 10 ** (r / 10), 0.0)
    others = lin.sum(axis=0) - np.where(best > cutoff, 10 ** (best / 10), 0)
    sinr = best - 10 * np.log10(prof.load_factor * others + 10 ** (prof.noise_re_dbm / 10))
    far = seen & (np.abs(r - cutoff) > 0.05).all(axis=0)  # away from the cutoff edge
    np.testing.assert_allclose(bs["sinr_db"][far], sinr[far], atol=0.05)
    expect_rate = radio.throughput_mbps(bs["sinr_db"], bandwidth_mhz=20, mimo_layers=2, alpha=0.6,
                                        max_se_bps_hz=4.4, overhead=0.25)
    np.testing.assert_allclose(bs["rate_mbps"], expect_rate, rtol=1e-5)


def test_windows_and_jobs_do_not_change_the_answer():
    g = make_grid(60, 50)
    gdf = sites([(X0 + 1000.0 * i, Y0 - 700.0 * i) for i in range(6)], az=[0, 60, 120, 180, 240, 300])
    a = coverage.best_server(gdf, g, lte(), window_rows=256)
    b = coverage.best_server(gdf, g, lte(), window_rows=7, n_jobs=2)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


def test_clutter_loss_lowers_rsrp_by_its_value():
    g = make_grid(40, 40)
    gdf = sites([(X0 + 2000.0, Y0 - 2000.0)])
    lc = np.full(g.shape, 80, dtype=np.uint8)  # ESA WorldCover 80: water, 0 dB
    lc[:, 20:] = 95  # mangroves
    cl = coverage.clutter_loss_db(lc, PROFILES)
    assert cl[0, 0] == 0.0 and cl[0, 30] == np.float32(PROFILES["clutter_loss_db"]["mangroves"]) > 0
    a = coverage.best_server(gdf, g, lte())
    b = coverage.best_server(gdf, g, lte(), clutter_loss=cl)
    m = np.isfinite(b["rsrp_dbm"])
    np.testing.assert_allclose((a["rsrp_dbm"] - b["rsrp_dbm"])[m], cl[m], atol=1e-4)
    with pytest.raises(InputValidationError, match="code"):
        coverage.clutter_loss_db(np.full((2, 2), 9), PROFILES)


# ---------------------------------------------------------------- full computation
def uniform_population(g, value=10.0):
    return Population(grid=g, counts=np.full(g.shape, value), nodata_mask=np.zeros(g.shape, bool))


def test_user_throughput_is_the_processor_sharing_share_of_the_cell_rate():
    """One omni site alone (no interferer): people served = people where the median RSRP
    reaches the threshold; flow throughput = peak × (1 − ρ) (the load model itself is
    tested by hand in tests/test_demand.py)."""
    g = make_grid(60, 60)
    pop = uniform_population(g, 0.5)  # a light load: ρ < 1
    gdf = sites([(X0 + 3000.0, Y0 - 3000.0)])
    res = coverage.compute(gdf, pop, PROFILES)
    lay = res.layers[("Viettel", "4G")]
    served = lay.rsrp_dbm >= -110.0
    assert res.sectors.loc[0, "pop_served"] == pytest.approx(0.5 * served.sum())
    assert (lay.covered <= served).all()  # covered at the 90 % location probability ⊆ served at the median
    rho = res.sectors.loc[0, "utilisation"]
    assert 0 < rho < 1
    rate = radio.peak_rate_mbps(lay.sinr_db, bandwidth_mhz=20, max_layers=2, alpha=0.6, sinr_min_db=-10.0,
                                max_se_bps_hz=4.4, overhead=0.25)
    np.testing.assert_allclose(lay.tput_mbps[served], (rate * (1 - rho))[served], rtol=1e-5)
    assert (lay.tput_mbps[~served] == 0).all()
    assert set(res.layers) == {("Viettel", "4G"), ("any", "4G")}


def two_operator_case():
    g = make_grid(80, 60)
    rng = np.random.default_rng(3)
    pop = Population(grid=g, counts=rng.gamma(0.7, 15, g.shape), nodata_mask=np.zeros(g.shape, bool))
    a = sites([(X0 + 2000.0, Y0 - 2500.0)] * 3, az=[0, 120, 240], op="Viettel")
    b = sites([(X0 + 6000.0, Y0 - 3000.0)] * 3, az=[10, 130, 250], op="VNPT")
    c = sites([(X0 + 5000.0, Y0 - 1000.0)], op="VNPT", tech="5G", band="n78", h=30.0)
    allsites = pd.concat([a, b, c], ignore_index=True)
    allsites["sector_id"] = [f"x{i}" for i in range(len(allsites))]
    minx, miny, maxx, maxy = g.bounds
    communes = gpd.GeoDataFrame({
        "commune_code": ["001", "002", "003"], "commune_name": ["Một", "Hai", "Ba"],
        "district_code": ["D1", "D1", "D2"], "district_name": ["Đ1", "Đ1", "Đ2"]},
        geometry=[shapely.box(minx, miny, minx + 3333.0, maxy), shapely.box(minx + 3333.0, miny, maxx, miny + 2500.0),
                  shapely.box(minx + 3333.0, miny + 2500.0, maxx - 1000.0, maxy)], crs=UTM)
    return g, pop, gpd.GeoDataFrame(allsites, crs=UTM), communes


def test_population_covered_tables_add_up():
    g, pop, gdf, communes = two_operator_case()
    res = coverage.compute(gdf, pop, PROFILES)
    districts = communes.dissolve(by=["district_code", "district_name"], as_index=False)
    tab = coverage.population_covered(res, pop, {"communes": communes, "districts": districts})
    cols = ["level", "zone_code", "zone_name", "technology", "operator", "population", "pop_covered", "pct_covered",
            "mean_tput_mbps", "pop_ge_target", "pct_ge_target", "target_mbps", "pop_covered_indoor",
            "pct_covered_indoor", "users", "mean_user_mbps", "pct_users_ge_target", "p10_user_mbps"]
    assert list(tab.columns) == cols
    total = pop.counts.sum()
    for level in ("communes", "districts"):
        part = tab[(tab.level == level) & (tab.technology == "4G") & (tab.operator == "any")]
        assert part.population.sum() == pytest.approx(total, rel=1e-6)  # zones + outside = raster total
        assert OUTSIDE_ZONES in set(part.zone_code)
        # covered people: exact brute-force sum
        cov = res.layers[("any", "4G")].covered
        assert part.pop_covered.sum() == pytest.approx(pop.counts[cov].sum(), rel=1e-6)
    prov = tab[(tab.level == "province") & (tab.technology == "4G")].set_index("operator")
    com = tab[(tab.level == "communes") & (tab.technology == "4G") & (tab.zone_code != OUTSIDE_ZONES)]
    assert prov.loc["any", "population"] == pytest.approx(com[com.operator == "any"].population.sum(), rel=1e-9)
    # the union covers at least as many people as each operator, at most their sum
    any_cov = prov.loc["any", "pop_covered"]
    assert any_cov >= max(prov.loc["Viettel", "pop_covered"], prov.loc["VNPT", "pop_covered"]) - 1e-6
    assert any_cov <= prov.loc["Viettel", "pop_covered"] + prov.loc["VNPT", "pop_covered"] + 1e-6
    # mean throughput, by hand for one commune
    lay = res.layers[("VNPT", "4G")]
    w = zone_weights(communes.iloc[[1]], g).toarray()[0].reshape(g.shape)
    pc = w * pop.counts * lay.covered
    row = tab[(tab.level == "communes") & (tab.zone_code == "002") & (tab.operator == "VNPT") & (tab.technology == "4G")]
    assert row.mean_tput_mbps.iloc[0] == pytest.approx((pc * lay.tput_mbps).sum() / pc.sum(), rel=1e-5)
    ge = (w * pop.counts * (lay.covered & (lay.tput_mbps >= 40))).sum() / (w * pop.counts).sum() * 100
    assert row.pct_ge_target.iloc[0] == pytest.approx(ge, rel=1e-6, abs=1e-9)
    assert tab[tab.technology == "5G"].target_mbps.unique().tolist() == [100.0]


def test_centre_method_matches_rasterised_brute_force():
    g, pop, gdf, communes = two_operator_case()
    res = coverage.compute(gdf, pop, PROFILES)
    tab = coverage.population_covered(res, pop, {"communes": communes}, method="centre")
    xc, yc = g.cell_centres()
    cov = res.layers[("Viettel", "4G")].covered
    for _, c in communes.iterrows():
        inside = shapely.contains_xy(c.geometry, xc, yc)
        row = tab[(tab.zone_code == c.commune_code) & (tab.operator == "Viettel") & (tab.technology == "4G")].iloc[0]
        assert row.population == pytest.approx(pop.counts[inside].sum())
        assert row.pop_covered == pytest.approx(pop.counts[inside & cov].sum())


def test_disc_coverage_centre_rule():
    g = make_grid(50, 40)
    pts = gpd.GeoSeries(gpd.points_from_xy([X0 + 1234.0, X0 + 4000.0, X0 - 300.0], [Y0 - 1500.0, Y0 - 3900.0, Y0 - 10.0]),
                        crs=UTM)
    m = coverage.disc_coverage(pts, g, radius_m=np.array([800.0, 450.0, 1200.0]))
    xc, yc = g.cell_centres()
    brute = np.zeros(g.shape, bool)
    for p, r in zip(pts, [800.0, 450.0, 1200.0], strict=True):
        brute |= np.hypot(xc - p.x, yc - p.y) <= r
    assert (m == brute).all()
    m4326 = coverage.disc_coverage(pts.to_crs(4326), g, radius_m=800.0)
    assert m4326.sum() > 0


# ---------------------------------------------------------------- properties
@settings(max_examples=12, deadline=None)
@given(extra_db=st.floats(0.5, 15.0), az=st.floats(0, 359), h=st.sampled_from([20.0, 35.0, 50.0]))
def test_property_more_power_never_lowers_coverage(extra_db, az, h):
    g = make_grid(40, 40)
    base = sites([(X0 + 2000.0, Y0 - 2000.0), (X0 + 2600.0, Y0 - 1500.0)], az=[az, 90.0], h=h, tx=[40.0, 44.0])
    more = base.copy()
    more["tx_power_dbm"] = more["tx_power_dbm"] + extra_db
    prof = lte()
    a = coverage.best_server(base, g, prof)
    b = coverage.best_server(more, g, prof)
    ca, cb = a["rsrp_dbm"] >= prof.rsrp_threshold_dbm, b["rsrp_dbm"] >= prof.rsrp_threshold_dbm
    assert (cb | ~ca).all() and cb.sum() >= ca.sum()


@settings(max_examples=12, deadline=None)
@given(x=st.floats(-500, 4500), y=st.floats(-500, 4500), az=st.floats(0, 360), h=st.floats(10, 80),
       tilt=st.floats(-5, 15))
def test_property_adding_a_site_never_lowers_best_rsrp(x, y, az, h, tilt):
    g = make_grid(40, 40)
    prof = lte()
    base = sites([(X0 + 1000.0, Y0 - 1200.0), (X0 + 3000.0, Y0 - 2500.0)], az=[45.0, 200.0])
    added = pd.concat([base, sites([(X0 + x, Y0 - y)], az=[az], h=h, tilt=tilt)], ignore_index=True)
    added["sector_id"] = [f"k{i}" for i in range(len(added))]
    a = coverage.best_server(base, g, prof)["rsrp_dbm"]
    b = coverage.best_server(gpd.GeoDataFrame(added, crs=UTM), g, prof)["rsrp_dbm"]
    fa, fb = np.nan_to_num(a, nan=-np.inf), np.nan_to_num(b, nan=-np.inf)
    assert (fb >= fa).all()


# ---------------------------------------------------------------- bad input
def test_invalid_sectors_listed():
    g = make_grid(20, 20)
    bad = sites([(X0 + 100.0, Y0 - 100.0)] * 4, az=[400.0, 10.0, 10.0, -5.0], h=[30.0, -3.0, 30.0, 30.0],
                tx=[43.0, 43.0, 95.0, 43.0])
    with pytest.raises(InputValidationError) as err:
        coverage.prepare_sectors(bad, g, PROFILES)
    msg = str(err.value)
    assert "azimuth" in msg and "s0" in msg and "s3" in msg
    assert "height" in msg and "s1" in msg
    assert "transmit power" in msg and "s2" in msg
    with pytest.raises(MissingColumnError, match="height_m"):
        coverage.prepare_sectors(bad.drop(columns=["height_m"]), g, PROFILES)


def test_empty_sites_and_no_zones_refused():
    from ictplan._errors import EmptyLayerError

    g, pop, gdf, _ = two_operator_case()
    with pytest.raises(EmptyLayerError):
        coverage.compute(gdf.iloc[:0], pop, PROFILES)
    res = coverage.compute(gdf, pop, PROFILES)
    with pytest.raises(InputValidationError, match="no zone layers"):
        coverage.population_covered(res, pop, {})


def test_unknown_profile_named():
    g = make_grid(20, 20)
    with pytest.raises(ProfileError, match="5G/n258"):
        coverage.prepare_sectors(sites([(X0, Y0)], tech="5G", band="n258"), g, PROFILES)


def test_sites_outside_grid_warn_and_still_radiate():
    g = make_grid(30, 30)
    pop = uniform_population(g)
    outside = sites([(X0 - 800.0, Y0 - 1500.0)])  # 800 m west of the grid
    with pytest.warns(IctplanWarning, match="1 of 1 sector.*outside the population grid"):
        res = coverage.compute(outside, pop, PROFILES)
    assert res.layers[("Viettel", "4G")].covered[:, 0].any()
    assert not res.sectors.in_grid.iloc[0]


def test_sites_in_lonlat_are_projected():
    g = make_grid(40, 40)
    a = sites([(X0 + 2000.0, Y0 - 2000.0)], az=[120.0])
    b = a.to_crs(4326)
    ra = coverage.best_server(a, g, lte())["rsrp_dbm"]
    rb = coverage.best_server(b, g, lte())["rsrp_dbm"]
    np.testing.assert_allclose(ra, rb, atol=1e-3)


def test_geographic_grid_matches_geodesic_brute_force():
    """A population raster in lon/lat is used as it is (never resampled): sites are projected
    into it and distances measured in metres; RSRP matches an independent geodesic computation."""
    g = Grid(Affine(0.001, 0, 105.24, 0, -0.001, 9.30), 90, 80, pyproj.CRS(4326))
    utm_sites = sites([(531_000.0, 1_024_000.0), (534_000.0, 1_022_500.0)], az=[60.0, 250.0], crs=UTM)
    prof = lte()
    bs = coverage.best_server(utm_sites, g, prof)  # sites in UTM, grid in degrees
    ll = utm_sites.to_crs(4326)
    xc, yc = g.cell_centres()
    geod = pyproj.Geod(ellps="WGS84")
    per_sector = []
    for (_, srow), pt in zip(utm_sites.iterrows(), ll.geometry, strict=True):
        az_fwd, _, dist = geod.inv(np.full(xc.shape, pt.x), np.full(xc.shape, pt.y), xc, yc)
        dx, dy = dist * np.sin(np.radians(az_fwd)), dist * np.cos(np.radians(az_fwd))
        pl = radio.path_loss_db(np.maximum(dist, 1.0), model=prof.model, freq_mhz=prof.freq_mhz, h_bs_m=srow.height_m,
                                h_ut_m=prof.ue_height_m, los=prof.los, environment=prof.environment)
        gain = radio.antenna_gain_dbi(dx, dy, azimuth_deg=srow.azimuth_deg, h_bs_m=srow.height_m, h_ut_m=prof.ue_height_m,
                                      gain_dbi=prof.antenna_gain_dbi, pattern=prof.pattern, tilt_deg=srow.tilt_deg,
                                      beamwidth_deg=prof.beamwidth_deg, front_to_back_db=prof.front_to_back_db,
                                      vertical_beamwidth_deg=prof.vertical_beamwidth_deg, sla_v_db=prof.sla_v_db)
        per_sector.append(prof.tx_power_dbm - 10 * math.log10(12 * prof.n_rb) + gain - prof.feeder_loss_db - pl)
    expect = np.max(per_sector, axis=0)
    seen = np.isfinite(bs["rsrp_dbm"]) & (expect > prof.rsrp_threshold_dbm)
    assert seen.sum() > 1000
    np.testing.assert_allclose(bs["rsrp_dbm"][seen], expect[seen], atol=0.1)
    covered, covered_expected = (bs["rsrp_dbm"] >= prof.rsrp_threshold_dbm).sum(), (expect >= prof.rsrp_threshold_dbm).sum()
    assert abs(int(covered) - int(covered_expected)) <= 0.01 * covered_expected  # only cells at the threshold differ


def test_circle_model_refuses_geographic_grid():
    g = Grid(Affine(0.001, 0, 105.0, 0, -0.001, 9.5), 20, 20, pyproj.CRS(4326))
    with pytest.raises(GeographicCRSError, match="gdalwarp -r sum"):
        coverage.disc_coverage(sites([(105.01, 9.49)], crs=4326), g, radius_m=500.0)


def test_zones_not_overlapping_raise():
    g, pop, gdf, _ = two_operator_case()
    res = coverage.compute(gdf, pop, PROFILES)
    far = gpd.GeoDataFrame({"commune_code": ["9"], "commune_name": ["x"]}, geometry=[shapely.box(0, 0, 10, 10)], crs=UTM)
    with pytest.raises(NoDataInBoundsError):
        coverage.population_covered(res, pop, {"communes": far})


def test_raster_without_nodata_refused(tmp_path):
    io = pytest.importorskip("ictplan.io")
    from ictplan._errors import NodataError

    path = tmp_path / "pop.tif"
    arr = np.full((5, 5), 3.0, dtype=np.float32)
    arr[0, 0] = -9999.0
    with rasterio.open(path, "w", driver="GTiff", width=5, height=5, count=1, dtype="float32", crs="EPSG:32648",
                       transform=Affine(100, 0, X0, 0, -100, Y0)) as ds:
        ds.write(arr, 1)
    with pytest.raises(NodataError, match="nodata"):
        io.read_population(path)


def test_inputs_not_mutated():
    g, pop, gdf, communes = two_operator_case()
    before_sites, before_counts, before_zones = gdf.copy(), pop.counts.copy(), communes.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = coverage.compute(gdf, pop, PROFILES)
        coverage.population_covered(res, pop, {"communes": communes})
    pd.testing.assert_frame_equal(gdf, before_sites)
    np.testing.assert_array_equal(pop.counts, before_counts)
    pd.testing.assert_frame_equal(communes, before_zones)


# ---------------------------------------------------------------- study + outputs
def test_run_and_write_outputs(tmp_path):
    g, pop, gdf, communes = two_operator_case()
    hamlets = gpd.GeoDataFrame({"hamlet_code": ["h1"], "hamlet_name": ["Ấp 1"], "commune_code": ["001"]},
                               geometry=[shapely.Point(X0 + 100, Y0 - 100)], crs=UTM)
    districts = communes.dissolve(by=["district_code", "district_name"], as_index=False)
    layers = {"sites": gdf, "communes": communes, "hamlets": hamlets, "districts": districts}
    study = types.SimpleNamespace(
        population=pop, profiles={k: v for k, v in _raw_profiles().items()}, profiles_path="default.toml",
        layer=lambda name: layers[name], has=lambda name: name in layers, landcover=None, parameters={}, _cache={})
    with pytest.warns(Warning, match="points"):
        res = coverage.run(study)
    assert set(res.table.level) == {"communes", "districts", "province"}
    files = coverage.write_outputs(res, tmp_path / "out")
    assert all(isinstance(k, str) and isinstance(p, Path) for k, p in files.items())
    names = {p.name for p in files.values()}
    assert {"coverage_4G_any_rsrp_dbm.tif", "coverage_5G_VNPT_tput_mbps.tif", "coverage_communes.csv",
            "coverage.gpkg", "coverage_sectors.csv", "coverage_province.csv"} <= names
    with rasterio.open(tmp_path / "out" / "coverage_4G_Viettel_server.tif") as ds:
        assert ds.crs.to_epsg() == 32648 and ds.nodata == -1
        np.testing.assert_array_equal(ds.read(1), res.layers[("Viettel", "4G")].server)
    back = pd.read_csv(tmp_path / "out" / "coverage_communes.csv", dtype={"zone_code": str})
    assert back.pop_covered.sum() == pytest.approx(res.table[res.table.level == "communes"].pop_covered.sum())
    gp = gpd.read_file(tmp_path / "out" / "coverage.gpkg", layer="coverage_communes")
    inside = back[back.zone_code != OUTSIDE_ZONES]
    assert len(gp) == inside.zone_code.nunique() and not gp.zone_code.duplicated().any()  # one feature per zone
    want = inside[(inside.technology == "4G") & (inside.operator == "Viettel")].set_index("zone_code")["pct_covered"]
    got = gp.set_index("zone_code")["pct_covered_4g_viettel"]
    np.testing.assert_allclose(got.loc[want.index].to_numpy(), want.to_numpy())
    from ictplan._errors import OutputExistsError

    with pytest.raises(OutputExistsError):
        coverage.write_outputs(res, tmp_path / "out")
    assert len(coverage.write_outputs(res, tmp_path / "out", overwrite=True)) == len(files)


def _raw_profiles():
    import tomllib

    with (REPO / "data" / "profiles" / "default.toml").open("rb") as fh:
        return tomllib.load(fh)


@settings(max_examples=15, deadline=None)
@given(az=st.floats(0, 360), h_dm=st.integers(100, 900), tilt=st.floats(-5, 20), tx=st.floats(20, 50),
       model=st.sampled_from(["38901_rma", "38901_uma", "cost231", "fspl"]))
def test_property_evaluation_box_never_cuts_a_signal(az, h_dm, tilt, tx, model):
    # every cell where the brute-force RSRP clears the cutoff must be evaluated, whatever the pattern
    # (heights on the engine's 0.1 m table grid; tilt to 0.01°)
    h, tilt = h_dm / 10.0, round(tilt, 2)
    g = make_grid(70, 70)
    prof = lte(model=model, environment="urban", rsrp_threshold_dbm=-95.0)
    gdf = sites([(X0 + 3510.0, Y0 - 3490.0)], az=[az], h=h, tilt=tilt, tx=tx)
    bs = coverage.best_server(gdf, g, prof, margin_db=10.0)
    r = brute_rsrp(gdf, g, prof)[0]
    clear = r > prof.rsrp_threshold_dbm - 10.0 + 0.1
    assert np.isfinite(bs["rsrp_dbm"][clear]).all()
    # tabulation: ≤ 0.01 dB path loss + ≤ 0.065 dB vertical pattern (steep tilt next to the mast)
    np.testing.assert_allclose(bs["rsrp_dbm"][clear], r[clear], atol=0.08)


def test_progress_bar_on_request_and_results_unchanged(capsys):
    """A progress bar over the carriers goes to standard error; it changes no number."""
    import ictplan

    study = ictplan.datasets.camau()
    quiet = ictplan.coverage.run(study, levels=("communes",), progress=False)
    assert "carrier" not in capsys.readouterr().err
    shown = ictplan.coverage.run(study, levels=("communes",), progress=True)
    err = capsys.readouterr().err
    assert "coverage" in err and "6/6" in err
    pd.testing.assert_frame_equal(quiet.table, shown.table)


def test_study_landcover_adds_clutter_loss(tmp_path):
    """A study's land-cover raster (all mangroves) lowers coverage against the same study without one."""
    import re

    import rasterio

    import ictplan

    base_study = ictplan.datasets.camau()
    grid = base_study.population.grid
    with rasterio.open(tmp_path / "landcover.tif", "w", driver="GTiff", width=grid.width, height=grid.height, count=1,
                       dtype="uint8", crs=grid.crs.to_wkt(), transform=grid.transform) as ds:
        ds.write(np.full(grid.shape, 95, dtype="uint8"), 1)  # 95 = mangroves (ESA WorldCover)
    text = (base_study.root / "study.toml").read_text(encoding="utf-8")
    text = re.sub(r"^landcover\s*=.*\n", "", text, flags=re.M)  # the sample's own synthetic land cover
    text = re.sub(r'path = "([^"]+)"', lambda m: f'path = "{(base_study.root / m.group(1)).resolve().as_posix()}"', text)
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "study.toml").write_text(text, encoding="utf-8")
    without = ictplan.study.load(tmp_path / "none")
    assert without.landcover is None
    text = text.replace("[layers]\n", '[layers]\nlandcover = { path = "landcover.tif" }\n')
    (tmp_path / "study.toml").write_text(text, encoding="utf-8")
    with_lc = ictplan.study.load(tmp_path)
    assert with_lc.landcover.shape == grid.shape
    assert {c.name: c.ok for c in with_lc.check()}["landcover"]

    def pct(study):
        t = ictplan.coverage.run(study, levels=("communes",)).table
        row = t[(t.level == "province") & (t.technology == "4G") & (t.operator == "any")]
        return float(row.pct_covered.iloc[0])

    assert pct(with_lc) < pct(without) - 1.0


def test_streamed_zone_tables_equal_dense_sums_whatever_the_chunk(monkeypatch):
    """The tables stream the cells in chunks (and the quantile refines its histogram): with tiny
    chunks every figure equals the dense computation by hand, and the one-chunk answer."""
    from ictplan import coverage_tables as ct

    g, pop, gdf, communes = two_operator_case()
    res = coverage.compute(gdf, pop, PROFILES)
    lay = res.layers[("VNPT", "4G")]
    lay.users_per_person = np.linspace(0.05, 0.3, pop.counts.size)  # per cell, as with commune market shares
    one = coverage.population_covered(res, pop, {"communes": communes})
    monkeypatch.setattr(ct, "_CHUNK", 97)
    monkeypatch.setattr(ct, "_QGATHER", 5)
    monkeypatch.setattr(ct, "_QBINS", 7)
    tab = coverage.population_covered(res, pop, {"communes": communes})
    pd.testing.assert_frame_equal(one, tab, rtol=1e-9, atol=1e-9)
    w = zone_weights(communes, g).toarray()
    p = pop.counts.reshape(-1)
    tp, upp = lay.tput_mbps.reshape(-1).astype(float), lay.users_per_person
    users = p * upp
    for z, code in enumerate(communes.commune_code):
        row = tab[(tab.level == "communes") & (tab.zone_code == code) & (tab.operator == "VNPT")
                  & (tab.technology == "4G")].iloc[0]
        assert row.users == pytest.approx(w[z] @ users, rel=1e-9)
        assert row.mean_user_mbps == pytest.approx((w[z] * users) @ tp / (w[z] @ users), rel=1e-9)
        assert row.pop_covered_indoor == pytest.approx(w[z] @ (p * lay.covered_indoor.reshape(-1) / 100.0), rel=1e-9)
    prov = tab[(tab.level == "province") & (tab.operator == "VNPT") & (tab.technology == "4G")].iloc[0]
    wp = w.sum(axis=0) * users  # the province's users per cell
    o = np.argsort(tp, kind="stable")
    want = tp[o][np.flatnonzero(np.cumsum(wp[o]) >= 0.1 * wp.sum() * (1 - 1e-12))[0]]
    assert prov.p10_user_mbps == want


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1000), st.floats(0, 5)), min_size=1, max_size=300),
       st.floats(0.01, 0.99), st.integers(1, 40))
def test_property_refined_weighted_quantile_matches_a_sort(pairs, q, chunk):
    from ictplan import coverage_tables as ct

    v, w = (np.array(a) for a in zip(*pairs, strict=True))
    old = ct._CHUNK, ct._QGATHER, ct._QBINS
    ct._CHUNK, ct._QGATHER, ct._QBINS = chunk, 3, 5
    try:
        got = ct.weighted_quantile([(v, lambda sl: w[sl])], q)
    finally:
        ct._CHUNK, ct._QGATHER, ct._QBINS = old
    if w.sum() == 0:
        assert math.isnan(got)
        return
    o = np.argsort(v, kind="stable")
    want = v[o][np.flatnonzero(np.cumsum(w[o]) >= q * w.sum() * (1 - 1e-12))[0]]
    assert got == want


def test_clutter_per_band_applies_each_bands_loss():
    """Clutter given per band: each carrier loses its own band's value (here 3 dB on B3, 9 dB on n78), equal
    to running each band alone with a single array."""
    g = make_grid(30, 30)
    pop = Population(grid=g, counts=np.ones(g.shape), nodata_mask=np.zeros(g.shape, bool))
    xy = [(X0 + 1500.0, Y0 - 1500.0)]
    gdf = pd.concat([sites(xy), sites(xy, tech="5G", band="n78")], ignore_index=True)
    gdf["sector_id"] = ["s4g", "s5g"]
    per_band = {"B3": np.full(g.shape, 3.0, np.float32), "n78": np.full(g.shape, 9.0, np.float32)}
    kw = {"keep_rasters": True, "progress": False}
    both = coverage.compute(gdf, pop, PROFILES, clutter_loss=per_band, **kw)
    none = coverage.compute(gdf, pop, PROFILES, **kw)
    for tech, band, loss in (("4G", "B3", 3.0), ("5G", "n78", 9.0)):
        alone = coverage.compute(gdf[gdf.band == band], pop, PROFILES, clutter_loss=per_band[band], **kw)
        a, b = both.layers[("Viettel", tech)].rsrp_dbm, alone.layers[("Viettel", tech)].rsrp_dbm
        assert np.array_equal(np.isfinite(a), np.isfinite(b)) and np.allclose(a[np.isfinite(a)], b[np.isfinite(b)])
        n = none.layers[("Viettel", tech)].rsrp_dbm
        m = np.isfinite(a) & np.isfinite(n)
        assert m.any() and np.allclose(n[m] - a[m], loss, atol=1e-3)


def test_speed_means_are_over_the_users_the_load_model_counts():
    """M1's weights: a 4G layer's users are every subscriber, times 1 − 5G uptake only where the operator's 5G
    serves (its 5G users are on 5G there); the mean over users is Σ users × speed / Σ users by hand."""
    g = make_grid(40, 30)
    rng = np.random.default_rng(3)
    pop = Population(grid=g, counts=rng.gamma(0.8, 10, g.shape), nodata_mask=np.zeros(g.shape, bool))
    xy = [(X0 + 1000.0, Y0 - 1500.0), (X0 + 3000.0, Y0 - 1500.0)]
    gdf = pd.concat([sites(xy), sites(xy[:1], tech="5G", band="n78")], ignore_index=True)
    gdf["sector_id"] = [f"s{i}" for i in range(len(gdf))]
    res = coverage.compute(gdf, pop, PROFILES, keep_rasters=True, progress=False)
    dem, lay4 = res.demand, res.layers[("Viettel", "4G")]
    sub = pop.counts.reshape(-1) * dem.subscribers_per_person  # one operator: every subscriber is Viettel's
    minx, miny, maxx, maxy = g.bounds
    one = gpd.GeoDataFrame({"commune_code": ["1"], "commune_name": ["A"]}, geometry=[shapely.box(minx, miny, maxx, maxy)],
                           crs=UTM)
    t = coverage.population_covered(res, pop, {"communes": one})
    r = t[(t.level == "province") & (t.technology == "4G") & (t.operator == "Viettel")].iloc[0]
    thr = radio.profile_for(PROFILES, "Viettel", "5G", "n78").rsrp_threshold_dbm
    served5 = res.layers[("Viettel", "5G")].rsrp_dbm.reshape(-1) >= thr  # 5G serves where its median RSRP reaches it
    assert np.array_equal(lay4.users_per_person.mask, served5)
    users = sub * np.where(served5, 1 - dem.uptake_5g, 1.0)
    assert r.users == pytest.approx(users.sum(), rel=1e-6)
    assert r.mean_user_mbps == pytest.approx((users * lay4.tput_mbps.reshape(-1)).sum() / users.sum(), rel=1e-5)
    assert served5.sum() < served5.size  # the weights differ by cell: a uniform 1 − uptake would be wrong
