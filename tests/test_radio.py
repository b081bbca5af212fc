"""Radio engine: path loss against the published formulas (re-written here by hand),
validity limits, antenna pattern, noise, attenuated Shannon and the profiles loader."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ictplan import radio
from ictplan._errors import InputValidationError, MissingFileError, ProfileError

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "data" / "profiles" / "default.toml"
C = 299_792_458.0
L = math.log10


# ---------------------------------------------------------------- independent references
def ref_fspl(d_m, f_mhz):
    return 20 * L(4 * math.pi * d_m * f_mhz * 1e6 / C)


def ref_cost231(d_km, f, hb, hm, cm=0.0):
    a = (1.1 * L(f) - 0.7) * hm - (1.56 * L(f) - 0.8)
    return 46.3 + 33.9 * L(f) - 13.82 * L(hb) - a + (44.9 - 6.55 * L(hb)) * L(d_km) + cm


def ref_hata(d_km, f, hb, hm):
    a = (1.1 * L(f) - 0.7) * hm - (1.56 * L(f) - 0.8)
    return 69.55 + 26.16 * L(f) - 13.82 * L(hb) - a + (44.9 - 6.55 * L(hb)) * L(d_km)


def ref_rma(d2, fc, hbs, hut, los, h=5.0, w=20.0):
    d3 = math.hypot(d2, hbs - hut)
    dbp = 2 * math.pi * hbs * hut * fc * 1e9 / C

    def pl1(d):
        return (20 * L(40 * math.pi * d * fc / 3) + min(0.03 * h**1.72, 10) * L(d)
                - min(0.044 * h**1.72, 14.77) + 0.002 * L(h) * d)

    pl_los = pl1(d3) if d2 <= dbp else pl1(dbp) + 40 * L(d3 / dbp)
    if los:
        return pl_los
    nlos = (161.04 - 7.1 * L(w) + 7.5 * L(h) - (24.37 - 3.7 * (h / hbs) ** 2) * L(hbs)
            + (43.42 - 3.1 * L(hbs)) * (L(d3) - 3) + 20 * L(fc) - (3.2 * (L(11.75 * hut)) ** 2 - 4.97))
    return max(pl_los, nlos)


def ref_uma(d2, fc, hbs, hut, los):
    d3 = math.hypot(d2, hbs - hut)
    dbp = 4 * (hbs - 1) * (hut - 1) * fc * 1e9 / C
    if d2 <= dbp:
        pl_los = 28 + 22 * L(d3) + 20 * L(fc)
    else:
        pl_los = 28 + 40 * L(d3) + 20 * L(fc) - 9 * L(dbp**2 + (hbs - hut) ** 2)
    if los:
        return pl_los
    return max(pl_los, 13.54 + 39.08 * L(d3) + 20 * L(fc) - 0.6 * (hut - 1.5))


def ref_umi(d2, fc, hbs, hut, los):
    d3 = math.hypot(d2, hbs - hut)
    dbp = 4 * (hbs - 1) * (hut - 1) * fc * 1e9 / C
    if d2 <= dbp:
        pl_los = 32.4 + 21 * L(d3) + 20 * L(fc)
    else:
        pl_los = 32.4 + 40 * L(d3) + 20 * L(fc) - 9.5 * L(dbp**2 + (hbs - hut) ** 2)
    if los:
        return pl_los
    return max(pl_los, 35.3 * L(d3) + 22.4 + 21.3 * L(fc) - 0.3 * (hut - 1.5))


# ---------------------------------------------------------------- path loss
@pytest.mark.parametrize("d", [1.0, 10.0, 250.0, 1000.0, 12345.0])
@pytest.mark.parametrize("f", [600.0, 1842.5, 3700.0])
def test_fspl_matches_friis(d, f):
    got = radio.path_loss_db(np.array([d]), model="fspl", freq_mhz=f, h_bs_m=1.5, h_ut_m=1.5)[0]
    assert got == pytest.approx(ref_fspl(d, f), abs=0.01)


def test_cost231_literal_value():
    # worked by hand: f=1800, hb=30, hm=1.5, d=1 km, urban: a(hm)=0.0430 -> 136.197 dB
    got = radio.cost231_hata_db(np.array([1000.0]), freq_mhz=1800, h_bs_m=30, h_ut_m=1.5, environment="urban")[0]
    assert got == pytest.approx(136.197, abs=0.01)
    metro = radio.cost231_hata_db(np.array([1000.0]), freq_mhz=1800, h_bs_m=30, h_ut_m=1.5, environment="metropolitan")[0]
    assert metro - got == pytest.approx(3.0)


@pytest.mark.parametrize("d_km", [1.0, 3.0, 7.5, 20.0])
@pytest.mark.parametrize(("f", "hb", "hm"), [(1500.0, 30.0, 1.5), (1842.5, 45.0, 1.5), (2000.0, 120.0, 5.0)])
def test_cost231_matches_formula(d_km, f, hb, hm):
    got = radio.path_loss_db(np.array([d_km * 1000]), model="cost231", freq_mhz=f, h_bs_m=hb, h_ut_m=hm,
                             environment="urban")[0]
    assert got == pytest.approx(ref_cost231(d_km, f, hb, hm), abs=1e-6)
    sub = radio.path_loss_db(np.array([d_km * 1000]), model="cost231", freq_mhz=f, h_bs_m=hb, h_ut_m=hm,
                             environment="suburban")[0]
    assert sub == pytest.approx(ref_cost231(d_km, f, hb, hm) - 2 * L(f / 28) ** 2 - 5.4, abs=1e-6)
    rural = radio.path_loss_db(np.array([d_km * 1000]), model="cost231", freq_mhz=f, h_bs_m=hb, h_ut_m=hm,
                               environment="rural")[0]
    assert rural == pytest.approx(ref_cost231(d_km, f, hb, hm) - 4.78 * L(f) ** 2 + 18.33 * L(f) - 40.94, abs=1e-6)


def test_hata_matches_formula():
    for d_km in (1, 2, 10, 20):
        got = radio.hata_db(np.array([d_km * 1e3]), freq_mhz=900, h_bs_m=50, h_ut_m=1.5)[0]
        assert got == pytest.approx(ref_hata(d_km, 900, 50, 1.5), abs=1e-6)
    # literal, by hand: 69.55 + 77.2830 - 23.4798 - 0.0159 + 33.7717*0.69897 = 146.943 dB
    assert radio.hata_db(np.array([5000.0]), freq_mhz=900, h_bs_m=50, h_ut_m=1.5)[0] == pytest.approx(146.943, abs=0.002)


@pytest.mark.parametrize("d", [10.0, 35.0, 400.0, 1500.0, 3000.0, 4999.0])
@pytest.mark.parametrize(("fc", "hbs", "hut"), [(0.7, 35.0, 1.5), (1.8425, 35.0, 1.5), (3.7, 25.0, 2.0),
                                                (2.6, 60.0, 1.5)])
@pytest.mark.parametrize("los", [True, False])
def test_rma_matches_formula(d, fc, hbs, hut, los):
    got = radio.rma_db(np.array([d]), freq_mhz=fc * 1000, h_bs_m=hbs, h_ut_m=hut, los="los" if los else "nlos")[0]
    assert got == pytest.approx(ref_rma(d, fc, hbs, hut, los), abs=1e-6)


def test_rma_breakpoint_is_where_expected_and_continuous():
    fc, hbs, hut = 1.8, 35.0, 1.5
    dbp = 2 * math.pi * hbs * hut * fc * 1e9 / C  # ≈ 1979 m
    assert 1975 < dbp < 1985
    d = np.array([dbp - 0.01, dbp + 0.01])
    pl = radio.rma_db(d, freq_mhz=1800, h_bs_m=hbs, h_ut_m=hut, los="los")
    assert abs(pl[1] - pl[0]) < 0.05  # no jump at the breakpoint (PL2 starts from PL1(d_BP))
    # beyond d_BP the slope is 40 dB/decade
    far = radio.rma_db(np.array([4000.0, 8000.0]), freq_mhz=1800, h_bs_m=hbs, h_ut_m=hut, los="los")
    d3 = np.hypot([4000.0, 8000.0], hbs - hut)
    assert far[1] - far[0] == pytest.approx(40 * L(d3[1] / d3[0]), abs=1e-6)


@pytest.mark.parametrize("d", [10.0, 50.0, 200.0, 900.0, 1500.0, 4900.0])
@pytest.mark.parametrize(("fc", "hut"), [(2.6, 1.5), (3.7, 1.5), (3.7, 10.0), (28.0, 1.5)])
@pytest.mark.parametrize("los", [True, False])
def test_uma_umi_match_formula(d, fc, hut, los):
    mode = "los" if los else "nlos"
    assert radio.uma_db(np.array([d]), freq_mhz=fc * 1e3, h_bs_m=25, h_ut_m=hut, los=mode)[0] == pytest.approx(
        ref_uma(d, fc, 25, hut, los), abs=1e-6)
    assert radio.umi_db(np.array([d]), freq_mhz=fc * 1e3, h_bs_m=10, h_ut_m=hut, los=mode)[0] == pytest.approx(
        ref_umi(d, fc, 10, hut, los), abs=1e-6)


def test_uma_breakpoint_used():
    # UMa 3.7 GHz, h_UT 1.5: d'_BP = 4*24*0.5*3.7e9/c ≈ 592 m; below it the 22 dB/decade law
    dbp = 4 * 24 * 0.5 * 3.7e9 / C
    below = radio.uma_db(np.array([100.0, 500.0]), freq_mhz=3700, h_bs_m=25, h_ut_m=1.5, los="los")
    d3 = np.hypot([100.0, 500.0], 23.5)
    assert below[1] - below[0] == pytest.approx(22 * L(d3[1] / d3[0]), abs=1e-9)
    above = radio.uma_db(np.array([1000.0, 2000.0]), freq_mhz=3700, h_bs_m=25, h_ut_m=1.5, los="los")
    d3 = np.hypot([1000.0, 2000.0], 23.5)
    assert above[1] - above[0] == pytest.approx(40 * L(d3[1] / d3[0]), abs=1e-9)
    assert 590 < dbp < 595


def test_los_probability_table_7_4_2_1():
    d = np.array([5.0, 10.0, 18.0, 100.0, 1000.0])
    rma = radio.los_probability(d, scenario="rma")
    assert rma == pytest.approx([1, 1, math.exp(-8 / 1000), math.exp(-90 / 1000), math.exp(-990 / 1000)])
    umi = radio.los_probability(d, scenario="umi")
    ref = [1, 1, 1] + [18 / x + math.exp(-x / 36) * (1 - 18 / x) for x in (100.0, 1000.0)]
    assert umi == pytest.approx(ref)
    uma = radio.los_probability(d, scenario="uma", h_ut_m=18.0)
    cp = ((18 - 13) / 10) ** 1.5
    ref = [1, 1, 1] + [(18 / x + math.exp(-x / 63) * (1 - 18 / x)) * (1 + cp * 1.25 * (x / 100) ** 3 * math.exp(-x / 150))
                       for x in (100.0, 1000.0)]
    assert uma == pytest.approx(ref)


def test_los_probability_weighting():
    d = np.array([300.0, 2000.0])
    p = np.exp(-(d - 10) / 1000)
    los = radio.rma_db(d, freq_mhz=1800, los="los")
    nlos = radio.rma_db(d, freq_mhz=1800, los="nlos")
    assert radio.rma_db(d, freq_mhz=1800, los="prob") == pytest.approx(p * los + (1 - p) * nlos)
    power = -10 * np.log10(p * 10 ** (-los / 10) + (1 - p) * 10 ** (-nlos / 10))
    assert radio.rma_db(d, freq_mhz=1800, los="prob_power") == pytest.approx(power)
    assert (power <= p * los + (1 - p) * nlos + 1e-9).all()  # power weighting favours the stronger path


# ---------------------------------------------------------------- validity limits
def test_below_min_distance_is_clamped():
    for model, dmin in (("38901_rma", 10.0), ("38901_uma", 10.0), ("38901_umi", 10.0), ("cost231", 1000.0),
                        ("fspl", 1.0)):
        h_bs = 1.5 if model == "fspl" else 35.0  # free space: d3D = d2D, clamped at 1 m
        kw = {"model": model, "freq_mhz": 1800.0, "h_bs_m": h_bs, "h_ut_m": 1.5}
        at_min = radio.path_loss_db(np.array([dmin]), **kw)[0]
        inside = radio.path_loss_db(np.array([0.0, dmin / 3]), **kw)
        assert inside == pytest.approx([at_min, at_min], abs=1e-9)
        assert radio.path_loss_db(np.array([dmin * 1.5]), **kw)[0] > at_min  # and it grows beyond
        assert not radio.outside_validity(np.array([dmin / 3]), los="nlos", **kw).any()


def test_beyond_max_distance_extrapolates_and_flags():
    kw = {"model": "38901_rma", "freq_mhz": 1800.0, "h_bs_m": 35.0, "h_ut_m": 1.5, "los": "nlos"}
    d = np.array([4000.0, 5000.0, 6000.0, 12000.0])
    pl = radio.path_loss_db(d, **kw)
    assert pl[2] == pytest.approx(ref_rma(6000.0, 1.8, 35, 1.5, False))  # same formula, extrapolated
    assert radio.outside_validity(d, **kw).tolist() == [False, False, True, True]  # NLOS valid to 5 km
    assert radio.outside_validity(d, **{**kw, "los": "los"}).tolist() == [False, False, False, True]  # LOS to 10 km
    with pytest.raises(InputValidationError, match="validity"):
        radio.path_loss_db(d, strict=True, **kw)
    radio.path_loss_db(d[:2], strict=True, **kw)  # inside: fine


def test_frequency_and_height_outside_validity_flagged():
    d = np.array([2000.0])
    assert radio.outside_validity(d, model="cost231", freq_mhz=3500, h_bs_m=30, h_ut_m=1.5).all()
    assert radio.outside_validity(d, model="cost231", freq_mhz=1800, h_bs_m=20, h_ut_m=1.5).all()
    assert not radio.outside_validity(d, model="cost231", freq_mhz=1800, h_bs_m=30, h_ut_m=1.5).any()
    with pytest.raises(InputValidationError, match="COST 231"):
        radio.path_loss_db(d, model="cost231", freq_mhz=3500, h_bs_m=30, h_ut_m=1.5, strict=True)


def test_bad_model_and_negative_distance():
    with pytest.raises(InputValidationError, match="unknown path-loss model"):
        radio.path_loss_db(np.array([1.0]), model="okumura", freq_mhz=900, h_bs_m=30)
    with pytest.raises(InputValidationError, match="≥ 0"):
        radio.path_loss_db(np.array([-1.0]), model="fspl", freq_mhz=900, h_bs_m=30)


@settings(max_examples=40, deadline=None)
@given(model=st.sampled_from(radio.MODELS), los=st.sampled_from(radio.LOS_MODES),
       h=st.floats(10, 100), f=st.floats(600, 4000))
def test_path_loss_non_decreasing_in_distance(model, los, h, f):
    d = np.geomspace(1, 50_000, 400)
    pl = radio.path_loss_db(d, model=model, freq_mhz=f, h_bs_m=h, h_ut_m=1.5, los=los, environment="urban")
    assert (np.diff(pl) >= -1e-9).all()


def test_float32_stays_float32():
    d = np.linspace(10, 5000, 50, dtype=np.float32)
    for model in radio.MODELS:
        out = radio.path_loss_db(d, model=model, freq_mhz=1800, h_bs_m=35.0, h_ut_m=1.5, los="prob")
        assert out.dtype == np.float32


def test_range_inverts_path_loss():
    target = np.array([120.0, 140.0, 160.0])
    r = radio.range_m(target, model="38901_rma", freq_mhz=1842.5, h_bs_m=35.0, los="prob")
    pl = radio.path_loss_db(r, model="38901_rma", freq_mhz=1842.5, h_bs_m=35.0, los="prob")
    assert pl == pytest.approx(target, abs=1e-6)
    assert radio.range_m(np.array([10.0]), model="fspl", freq_mhz=1800, h_bs_m=1.5)[0] == 0.0


# ---------------------------------------------------------------- antennas
def test_sector_pattern_points():
    att = radio.sector_attenuation_db(np.array([0.0, 32.5, -32.5, 65.0, 180.0, 540.0]), np.zeros(6),
                                      beamwidth_deg=65, front_to_back_db=30)
    assert att == pytest.approx([0, -3, -3, -12, -30, -30])
    # vertical: tilt 6°, user 6° below -> 0; 11° below (θ3dB=10) -> -3 dB; combined capped at A_m
    v = radio.sector_attenuation_db(np.zeros(3), np.array([6.0, 11.0, 90.0]), tilt_deg=6, vertical_beamwidth_deg=10)
    assert v == pytest.approx([0, -3, -30])
    both = radio.sector_attenuation_db(np.array([65.0]), np.array([16.0]), tilt_deg=6, vertical_beamwidth_deg=10)
    assert both[0] == pytest.approx(-24.0)  # -12 horizontal + -12 vertical
    capped = radio.sector_attenuation_db(np.array([100.0]), np.array([20.0]), tilt_deg=0)
    assert capped[0] == pytest.approx(-30.0)


def test_antenna_gain_bearing_convention():
    # azimuth 90° (east): a user due east is at boresight; due west gets the back lobe
    kw = {"azimuth_deg": 90.0, "h_bs_m": 31.5, "h_ut_m": 1.5, "gain_dbi": 17.0, "tilt_deg": 0.0,
          "vertical_beamwidth_deg": 10.0}
    g = radio.antenna_gain_dbi(np.array([1e6, -1e6, 0.0]), np.array([0.0, 0.0, 1e6]), **kw)
    assert g[0] == pytest.approx(17.0, abs=1e-6)
    assert g[1] == pytest.approx(17.0 - 30.0)
    assert g[2] == pytest.approx(17.0 - 12 * (90 / 65) ** 2, abs=1e-6)
    # downtilt: user 300 m away, 30 m below: θ = atan(30/300) = 5.71°; tilt 5.71 → 0 dB
    theta = math.degrees(math.atan(30 / 300))
    g2 = radio.antenna_gain_dbi(np.array([300.0]), np.array([0.0]), **{**kw, "tilt_deg": theta})
    assert g2[0] == pytest.approx(17.0, abs=1e-4)
    omni = radio.antenna_gain_dbi(np.array([1.0, -1.0]), np.array([0.0, 5.0]), **{**kw, "pattern": "omni"})
    assert omni.tolist() == [17.0, 17.0]
    nan_az = radio.antenna_gain_dbi(np.array([-1.0]), np.array([0.0]), **{**kw, "azimuth_deg": float("nan")})
    assert nan_az[0] == 17.0


# ---------------------------------------------------------------- link budget and rate
def test_noise_and_rsrp_offset():
    assert radio.thermal_noise_dbm(20e6, noise_figure_db=7) == pytest.approx(-174 + 10 * L(20e6) + 7)
    assert radio.noise_per_re_dbm(15, noise_figure_db=7) == pytest.approx(-174 + 10 * L(15e3) + 7)
    # 46 dBm over 100 RB (1200 subcarriers) + 17 dBi - 1 dB
    assert float(radio.rsrp_offset_db(46.0, n_rb=100, antenna_gain_dbi=17, feeder_loss_db=1)) == pytest.approx(
        46 - 10 * L(1200) + 16)
    with pytest.raises(InputValidationError):
        radio.thermal_noise_dbm(0)


def test_attenuated_shannon_36942():
    sinr = np.array([-20.0, -10.0, 0.0, 10.0, 30.0, np.nan])
    se = radio.spectral_efficiency(sinr, alpha=0.6, sinr_min_db=-10.0, max_se_bps_hz=4.4)
    assert se[0] == 0.0 and se[-1] == 0.0
    assert se[1] == pytest.approx(0.6 * math.log2(1.1))
    assert se[2] == pytest.approx(0.6)
    assert se[3] == pytest.approx(0.6 * math.log2(11))
    assert se[4] == pytest.approx(4.4)
    mbps = radio.throughput_mbps(np.array([10.0]), bandwidth_mhz=20, mimo_layers=2, alpha=0.6, max_se_bps_hz=4.4,
                                 overhead=0.25)
    assert mbps[0] == pytest.approx(0.6 * math.log2(11) * 20 * 2 * 0.75)


# ---------------------------------------------------------------- profiles
def test_default_profiles_load_and_inherit():
    p = radio.load_profiles(PROFILES)
    vt = radio.profile_for(p, "Viettel", "4G", "B3")
    assert vt.market_share == 0.54 and vt.freq_mhz == 1842.5 and vt.n_rb == 100
    nr = radio.profile_for(p, "VNPT", "5G", "n78")
    assert nr.n_rb == 273 and nr.bandwidth_mhz == 100 and nr.freq_mhz == 3700
    assert radio.profile_for(p, "MobiFone", "5G", "n41").freq_mhz == 2600
    other = radio.profile_for(p, "Vietnamobile", "4G", "B3")  # unknown operator inherits the defaults
    assert other.operator == "Vietnamobile" and other.market_share == 1.0
    assert p["dtt"]["model"] == "p1546"
    assert p["clutter_classes"][95] == "mangroves" and p["clutter_classes"][80] == "water"


def test_profile_errors_name_key_and_file(tmp_path):
    good = PROFILES.read_text()
    bad = tmp_path / "typo.toml"
    bad.write_text(good.replace("mimo_layers = 2", "mimo_layer = 2"))
    with pytest.raises(ProfileError, match=r"mimo_layer.*|typo.toml") as err:
        radio.load_profiles(bad)
    assert "typo.toml" in str(err.value) and "mimo_layer" in str(err.value)
    out = tmp_path / "range.toml"
    out.write_text(good.replace('los = "prob" ', 'los = "maybe" '))
    with pytest.raises(ProfileError, match="los.*maybe"):
        radio.load_profiles(out)
    miss = tmp_path / "missing.toml"
    miss.write_text(good.replace("rsrp_threshold_dbm = -110.0     # covered (outdoor)", ""))
    with pytest.raises(ProfileError, match=r"missing\.toml.*rsrp_threshold_dbm"):
        radio.load_profiles(miss)
    with pytest.raises(MissingFileError):
        radio.load_profiles(tmp_path / "nope.toml")
    p = radio.load_profiles(PROFILES)
    with pytest.raises(ProfileError, match="n257"):
        radio.profile_for(p, "Viettel", "5G", "n257")


# ============================================================================ digital TV
def test_dtt_received_dbm_matches_hata_by_hand():
    import geopandas as gpd
    from affine import Affine
    from pyproj import CRS
    from shapely.geometry import Point

    from ictplan._errors import MissingColumnError
    from ictplan.grid import Grid

    grid = Grid(Affine(100, 0, 500000, 0, -100, 1001000), 40, 20, CRS.from_epsg(32648))
    tx = gpd.GeoDataFrame({"freq_mhz": [600.0, 700.0], "erp_dbm": [60.0, 50.0], "height_m": [80.0, 40.0]},
                          geometry=[Point(500500, 1000500), Point(503500, 999500)], crs="EPSG:32648")
    prof = {"model": "hata", "environment": "rural", "ue_height_m": 10.0, "antenna_gain_dbi": 7.0,
            "feeder_loss_db": 3.0}
    cells = np.array([0, 41, 399, 799])
    got = radio.dtt_received_dbm(tx, grid, profile=prof, cells=cells)
    for k, c in enumerate(cells):
        r, col = divmod(int(c), 40)
        x, y = 500000 + 100 * col + 50, 1001000 - 100 * r - 50
        want = -math.inf
        for (tx_x, tx_y), f, erp, h in zip([(500500, 1000500), (503500, 999500)], [600, 700], [60, 50], [80, 40],
                                           strict=True):
            d_km = max(math.hypot(x - tx_x, y - tx_y), 1000.0) / 1000.0
            lf = math.log10(f)
            a_hm = (1.1 * lf - 0.7) * 10 - (1.56 * lf - 0.8)
            pl = (69.55 + 26.16 * lf - 13.82 * math.log10(h) - a_hm + (44.9 - 6.55 * math.log10(h)) * math.log10(d_km)
                  - 4.78 * lf**2 + 18.33 * lf - 40.94)
            want = max(want, erp + 2.15 + 7 - 3 - pl)
        assert got[k] == pytest.approx(want, abs=1e-6)
    assert radio.dtt_received_dbm(tx, grid, profile=prof).shape == (800,)
    assert np.all(radio.dtt_received_dbm(tx.iloc[:0], grid, profile=prof, cells=cells) == -np.inf)
    with pytest.raises(MissingColumnError, match="erp_dbm"):
        radio.dtt_received_dbm(tx.drop(columns="erp_dbm"), grid, profile=prof)
