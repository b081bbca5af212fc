"""The plan's targets as data, each indicator on hand-built inputs with known answers, the
scorecard, what-if, outputs, the CLI, and the whole scorecard on the Cà Mau sample."""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS
from shapely.geometry import LineString, Point, box

from ictplan import targets
from ictplan.errors import ConfigError, InputValidationError, OutputExistsError
from ictplan.grid import Grid, Population

REPO = Path(__file__).resolve().parents[1]
TARGETS = REPO / "data" / "targets" / "camau_2021_2030.toml"
PROFILES = REPO / "data" / "profiles" / "default.toml"
SEED_VI = REPO.parent / "shared" / "plan" / "seed-vi.txt"
UTM = CRS.from_epsg(32648)
X0, Y0 = 500000.0, 1001000.0


# =========================================================================== the targets file
def test_shipped_targets_load_with_every_plan_id():
    plan = targets.load_targets(TARGETS)
    ids = set(plan.ids)
    for want in ["P1", "P2", "P3", "P4", "F1", "F2", "F3", "F4", "F5", "F6", "M1", "M2", "M3", "M4", "M5",
                 "X1", "X2", "B1", "D1", "D2", "D3"]:
        assert want in ids
    assert {t.year for t in plan.targets} <= {2025, 2030, 2050}
    assert plan["P1"].threshold == 300 and plan["P1"].level == "province"
    assert plan["M3"].threshold == 20 and plan["X2"].threshold == 99 and plan["M3"].theme == plan["X2"].theme
    assert plan["M4"].table_column == "adult_smartphone_pct"
    for t in plan.targets:  # every spatial indicator is registered and documented
        if not t.is_policy and t.table_column is None:
            assert t.indicator in targets.INDICATORS
            assert len(targets.INDICATORS[t.indicator].doc) > 80


@pytest.mark.skipif(not SEED_VI.is_file(), reason="the plan's Vietnamese text is in ../shared/plan")
def test_text_vi_is_the_plans_exact_words():
    seed = SEED_VI.read_text(encoding="utf-8")
    plan = targets.load_targets(TARGETS)
    for t in plan.targets:
        assert t.text_vi in seed, t.id


BAD = """schema_version = 1
[plan]
name = "x"

[targets.P1]
year = 2025
text_vi = "a"
text_en = "b"
indicator = "postal_points_count"
threshold = 300
unit = "points"
comparison = ">="
level = "province"
colour = "red"

[targets.Q1]
year = 2025
text_vi = "a"
indicator = "no_such_indicator"
threshold = 1
unit = "%"
comparison = "=>"
level = "province"
"""


def test_bad_targets_file_lists_every_problem_with_lines(tmp_path):
    p = tmp_path / "t.toml"
    p.write_text(BAD, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        targets.load_targets(p)
    msg = str(err.value)
    assert "4 problem(s)" in msg
    assert "line 14: unknown key 'colour'" in msg
    assert "line 19: unknown indicator 'no_such_indicator'" in msg
    assert "line 22: comparison of Q1" in msg and "'=>'" in msg
    assert "[targets.Q1] is missing text_en" in msg


def test_targets_unit_must_match_indicator_and_types(tmp_path):
    text = BAD.split("[targets.Q1]")[0].replace('colour = "red"\n', "").replace('unit = "points"', 'unit = "%"')
    text = text.replace("year = 2025", 'year = "2025"')
    p = tmp_path / "t.toml"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"measures 'points', but the unit says '%'") as err:
        targets.load_targets(p)
    assert "year of P1 must be a whole year" in str(err.value)


def test_missing_targets_file():
    from ictplan.errors import MissingFileError

    with pytest.raises(MissingFileError, match="targets file not found"):
        targets.load_targets("/nonexistent/targets.toml")


def test_describe_indicators():
    d = targets.describe_indicators()
    assert {"pop_5g_pct", "dtt_pop_pct", "datacentre_pairs_redundant_pct", "agencies_connected_pct"} <= set(d["indicator"])
    assert (d["how"].str.len() > 50).all()


# =========================================================================== hand-built study
def communes() -> gpd.GeoDataFrame:
    """Three 1 km squares: A1, A2 in district A; B1 in district B; each 10 × 10 cells of 100 m."""
    return gpd.GeoDataFrame(
        {"commune_code": ["00001", "00002", "00003"], "commune_name": ["A1", "A2", "B1"],
         "commune_type": "Xã", "district_code": ["A", "A", "B"], "district_name": ["Dist A", "Dist A", "Dist B"]},
        geometry=[box(X0, Y0 - 1000, X0 + 1000, Y0), box(X0 + 1000, Y0 - 1000, X0 + 2000, Y0),
                  box(X0 + 2000, Y0 - 1000, X0 + 3000, Y0)],
        crs=UTM,
    )


def postal() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"point_id": ["p1", "p2", "p3", "p4", "p5"], "name": "bưu cục",
         "commune_code": ["00001", "00001", "00002", "00003", "00003"],
         "staffed": [True, True, False, True, False], "internet": [True, False, True, True, True],
         "online_services": [True, True, True, False, True]},
        geometry=[Point(X0 + 100, Y0 - 100), Point(X0 + 200, Y0 - 200), Point(X0 + 1500, Y0 - 500),
                  Point(X0 + 2500, Y0 - 500), Point(X0 + 2600, Y0 - 600)],
        crs=UTM,
    )


def facilities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"facility_id": ["h1", "h2", "s1", "o1", "g1", "g2"], "name": "n",
         "kind": ["health_station", "health_station", "school", "commune_office", "agency", "agency"],
         "commune_code": ["00001", "00002", "00001", "00003", "00001", "00002"],
         "level": [None, None, None, "commune", "province", "district"],
         "urban": [False, False, True, False, True, True]},
        geometry=[Point(X0 + 100, Y0 - 900), Point(X0 + 1100, Y0 - 100), Point(X0 + 500, Y0 - 500),
                  Point(X0 + 2700, Y0 - 700), Point(X0 + 900, Y0 - 900), Point(X0 + 1900, Y0 - 100)],
        crs=UTM,
    )


def mobile() -> targets.MobileInputs:
    per = pd.DataFrame({"population": [100.0, 100.0, 100.0], "pop_4g": [100.0, 50.0, 0.0], "pop_5g": [40.0, 0.0, 0.0],
                        "mbps_pop_4g": [100 * 50.0, 50 * 20.0, 0.0], "mbps_pop_5g": [40 * 150.0, 0.0, 0.0],
                        # subscribers of each technology, and Σ users × speed on their own operator (0: not covered)
                        "users_4g": [100.0, 100.0, 0.0], "mbps_users_4g": [100 * 50.0, 50 * 20.0, 0.0],
                        "users_5g": [40.0, 0.0, 0.0], "mbps_users_5g": [40 * 150.0, 0.0, 0.0]},
                       index=pd.Index(["00001", "00002", "00003"], name="commune_code"))
    fac = pd.DataFrame({"has_4g": [True, False, True, True, True, True], "has_5g": [False, False, True, False, True, False]},
                       index=["h1", "h2", "s1", "o1", "g1", "g2"])
    return targets.MobileInputs(per_commune=per, facilities=fac)


def fixed() -> targets.FixedInputs:
    per = pd.DataFrame({"households": [100.0, 50.0, 0.0], "households_reachable": [100.0, 25.0, 0.0],
                        "households_ge_200mbps": [100.0, 10.0, 0.0], "households_gt_1gbps": [50.0, 0.0, 0.0],
                        "households_copper_only": [0.0, 5.0, 0.0], "hamlets": [2, 3, 0], "hamlets_reached": [2, 1, 0],
                        "missing_fiber_m": [0.0, 300.0, 0.0]},
                       index=pd.Index(["00001", "00002", "00003"], name="commune_code"))
    fac = pd.DataFrame({"fiber_reach": [True, False, True, False, True, True],
                        "offered_mbps": [1000.0, 0.0, 200.0, 0.0, 1000.0, 200.0]},
                       index=["h1", "h2", "s1", "o1", "g1", "g2"])
    return targets.FixedInputs(per_commune=per, facilities=fac)


def inputs(**kw) -> targets.ScoreInputs:
    base = dict(communes=communes(), province_name="Test", postal_points=postal(), facilities=facilities(),
                mobile=mobile(), fixed=fixed())
    base.update(kw)
    return targets.ScoreInputs(**base)


@pytest.fixture(scope="module")
def plan() -> targets.Plan:
    return targets.load_targets(TARGETS)


@pytest.fixture(scope="module")
def sc(plan) -> targets.Scorecard:
    tab = pd.DataFrame({"zone": ["province", "00001"], "adult_smartphone_pct": [80.0, 100.0]})
    return targets.evaluate(plan, inputs(table=tab))


def cell(sc, tid, zone="province"):
    return sc.row(tid, zone)


def test_scorecard_has_every_target_for_every_zone(sc, plan):
    assert len(sc.table) == len(plan.targets) * (1 + 2 + 3)
    assert set(sc.table["status"]) <= set(targets.STATUSES)
    blank = sc.table[sc.table["status"].isin(["no data", "not applicable"]) & (sc.table["reason"] == "")]
    assert blank.empty, blank[["target_id", "zone_code"]]


def test_postal_indicators(sc):
    r = cell(sc, "P1")
    assert (r.value, r.status, r.gap, r.gap_unit) == (5, "not met", 295, "points")
    r = cell(sc, "P1", "00001")  # a province-wide count: shown but not judged per commune
    assert r.value == 2 and r.status == "not applicable" and "province as a whole" in r.reason
    assert (cell(sc, "P2").value, cell(sc, "P2").gap) == (pytest.approx(200 / 3), 1)  # A2 has no staffed point
    assert cell(sc, "P2", "00002").status == "not met" and cell(sc, "P2", "00001").status == "met"
    assert cell(sc, "P2", "A").value == 50 and cell(sc, "P2", "B").value == 100
    # P3 over staffed points: p1 yes, p2 no, p4 yes -> 2/3; A2 has none -> not applicable
    assert cell(sc, "P3").value == pytest.approx(200 / 3) and cell(sc, "P3").gap == 1
    r = cell(sc, "P3", "00002")
    assert r.status == "not applicable" and "no staffed postal point" in r.reason and math.isnan(r.value)
    assert cell(sc, "P4").value == pytest.approx(200 / 3)  # p1, p2 online; p4 not


def test_fixed_indicators(sc):
    r = cell(sc, "F1", "00002")
    assert r.value == pytest.approx(100 / 3) and r.gap == 2 and r.gap_unit == "hamlets" and "300 m" in r.detail
    r = cell(sc, "F1", "00003")
    assert r.status == "not applicable" and r.reason == "no hamlet in this commune"
    assert cell(sc, "F1", "A").value == 60 and cell(sc, "F1").gap == 2
    r = cell(sc, "F2")
    assert r.value == pytest.approx(100 * 125 / 150) and r.gap == 25 and r.gap_unit == "households"
    r = cell(sc, "F3")  # 90 % of 150 = 135 needed, 110 have it
    assert r.value == pytest.approx(100 * 110 / 150) and r.gap == 25 and r.status == "not met"
    assert cell(sc, "F3", "00001").status == "met" and cell(sc, "F3", "00002").gap == 35
    r = cell(sc, "F5")
    assert (r.value, r.status, r.gap) == (5, "not met", 5)
    assert cell(sc, "F5", "00001").status == "met" and cell(sc, "F5", "00003").status == "met"
    assert cell(sc, "X1").value == pytest.approx(100 * 50 / 150)
    # F4: urban organisations s1 (200 Mb/s), g1 (1 Gb/s), g2 (200 Mb/s) -> 1 of 3
    r = cell(sc, "F4")
    assert r.value == pytest.approx(100 / 3) and r.gap == 2 and r.gap_unit == "organisations"
    assert cell(sc, "F4", "00003").status == "not applicable"


def test_mobile_indicators(sc):
    assert cell(sc, "M1", "00001").value == 50 and cell(sc, "M1", "00001").status == "met"
    r = cell(sc, "M1", "00002")  # half of its 100 4G users at 20 Mb/s, half not covered (0): mean 10
    assert r.value == 10 and r.status == "not met" and r.gap == 30 and r.gap_unit == "Mb/s"
    assert cell(sc, "M1", "00003").reason == "no 4G user here"
    assert cell(sc, "M1", "A").value == pytest.approx(6000 / 200) and cell(sc, "M1", "A").status == "not met"
    r = cell(sc, "M3")  # 40 of 300 people: 13.3 % against 20 %: 20 people short
    assert r.value == pytest.approx(40 / 3) and r.status == "not met" and r.gap == 20 and r.gap_unit == "people"
    assert cell(sc, "M3", "00001").status == "not applicable" and cell(sc, "M3", "00001").value == 40
    r = cell(sc, "X2", "00001")  # the 2030 target is judged per commune
    assert r.status == "not met" and r.gap == 59
    assert cell(sc, "M2", "00001").value == 150 and cell(sc, "M2", "00002").status == "not applicable"


def test_facility_indicators(sc, plan):
    r = cell(sc, "M5")  # agencies + commune offices: g1, g2 reached; o1 not
    assert r.value == pytest.approx(200 / 3) and r.gap == 1 and r.gap_unit == "agencies"
    assert cell(sc, "M5", "00003").status == "not met"
    assert cell(sc, "H2").value == 50 and cell(sc, "H3").value == 50  # h1 fiber + 4G; h2 neither
    assert cell(sc, "E2").value == 100 and cell(sc, "E3").value == 100
    assert cell(sc, "G1").value == 0
    # commune offices' 4G/5G coverage is a derived indicator, not a target of the plan (G2's sentence is M5's)
    assert "G2" not in {t.id for t in plan.targets}
    mob = targets.INDICATORS["commune_offices_mobile_pct"].func(inputs())  # still computed on demand
    assert 100 * mob["num"].sum() / mob["den"].sum() == 100
    assert cell(sc, "H2", "00003").status == "not applicable" and "no commune health stations" in cell(sc, "H2", "00003").reason


def test_table_policy_and_no_data(sc):
    r = cell(sc, "M4")
    assert (r.value, r.status, r.gap, r.gap_unit) == (80, "not met", 20, "pp")
    assert cell(sc, "M4", "00001").status == "met"
    r = cell(sc, "M4", "00002")
    assert r.status == "no data" and "no figure for this zone" in r.reason
    assert cell(sc, "H1").status == "no data" and "no column 'health_record_pct'" in cell(sc, "H1").reason
    assert cell(sc, "D3").status == "not applicable" and "policy" in cell(sc, "D3").reason
    r = cell(sc, "D2")  # no data centre in this study
    assert r.status == "not applicable" and "fewer than two data centres" in r.reason
    r = cell(sc, "B1")  # no transmitters / population given
    assert r.status == "no data" and "dtt transmitters" in r.reason


def test_missing_analyses_say_why(plan):
    s = targets.evaluate(plan, inputs(mobile=None, fixed=None, missing={"mobile": "the study has no sites layer"}))
    r = s.row("M1")
    assert r.status == "no data" and r.reason == "the study has no sites layer"
    assert s.row("F2").status == "no data" and "fixed" in s.row("F2").reason
    assert s.row("M4").status == "no data" and "indicators_table" in s.row("M4").reason
    assert s.row("P1").value == 5  # what can be measured still is


def test_unknown_facility_values_are_no_data(plan):
    f = fixed()
    fac = f.facilities.copy()
    fac = fac.drop(index=["h1", "h2"])  # health stations not analysed
    s = targets.evaluate(plan, inputs(fixed=targets.FixedInputs(per_commune=f.per_commune, facilities=fac)))
    assert s.row("H2").status == "no data" and "known value" in s.row("H2").reason


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=3, max_size=3), st.lists(st.floats(0, 1), min_size=3, max_size=3))
def test_districts_and_province_are_sums_of_communes(pop, frac):
    per = pd.DataFrame({"population": pop, "pop_4g": pop, "mbps_pop_4g": pop,
                        "pop_5g": [p * f for p, f in zip(pop, frac, strict=True)], "mbps_pop_5g": 0.0},
                       index=pd.Index(["00001", "00002", "00003"], name="commune_code"))
    full = targets.load_targets(TARGETS)
    plan = targets.Plan(name="", province="", targets=(full["X2"],))
    s = targets.evaluate(plan, inputs(mobile=targets.MobileInputs(per_commune=per)))
    t = s.table[s.table["target_id"] == "X2"].set_index("zone_code")
    assert t.loc["A", "numerator"] == pytest.approx(t.loc["00001", "numerator"] + t.loc["00002", "numerator"])
    assert t.loc["province", "denominator"] == pytest.approx(sum(pop))
    assert t.loc["province", "numerator"] == pytest.approx(sum(p * f for p, f in zip(pop, frac, strict=True)))
    ok = t[t["status"].isin(["met", "not met"])]
    assert ((ok["status"] == "met") == (ok["value"] >= 99 - 1e-9)).all()
    assert (ok.loc[ok["status"] == "met", "gap"] == 0).all()
    # the gap is the fewest people whose coverage meets the target
    g = ok["gap"].to_numpy()
    assert np.all(100 * (ok["numerator"] + g) / ok["denominator"] >= 99 - 1e-6)


# =========================================================================== digital TV (B1)
def hata_rural_by_hand(d_m, f, hb, hm):
    lf = math.log10(f)
    a_hm = (1.1 * lf - 0.7) * hm - (1.56 * lf - 0.8)
    d_km = max(d_m, 1000.0) / 1000.0
    return (69.55 + 26.16 * lf - 13.82 * math.log10(hb) - a_hm + (44.9 - 6.55 * math.log10(hb)) * math.log10(d_km)
            - 4.78 * lf**2 + 18.33 * lf - 40.94)


def test_dtt_population_matches_brute_force(plan):
    grid = Grid(Affine(100, 0, X0, 0, -100, Y0), 30, 10, UTM)
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 20, size=(10, 30)).astype(float)
    pop = Population(grid, counts, np.zeros_like(counts, bool))
    tx = gpd.GeoDataFrame({"tx_id": ["t"], "name": "t", "freq_mhz": [600.0], "erp_dbm": [30.0], "height_m": [50.0]},
                          geometry=[Point(X0 + 500, Y0 - 500)], crs=UTM)
    prof = {"model": "hata", "environment": "rural", "ue_height_m": 10.0, "antenna_gain_dbi": 10.0,
            "feeder_loss_db": 4.0, "threshold_dbm": -40.0}
    covered = np.zeros(3)
    total = np.zeros(3)
    for r in range(10):
        for c in range(30):
            x, y = X0 + 100 * c + 50, Y0 - 100 * r - 50
            rx = 30 + 2.15 + 10 - 4 - hata_rural_by_hand(math.hypot(x - X0 - 500, y - Y0 + 500), 600, 50, 10)
            total[c // 10] += counts[r, c]
            covered[c // 10] += counts[r, c] * (rx >= -40)
    assert 0 < covered.sum() < total.sum()  # the test must be able to fail both ways
    s = targets.evaluate(plan, inputs(population=pop, dtt_transmitters=tx, dtt_profile=prof, satellite_tv=False))
    for code, cov, tot in zip(["00001", "00002", "00003"], covered, total, strict=True):
        r = s.row("B1", code)
        assert r.numerator == pytest.approx(cov) and r.denominator == pytest.approx(tot)
    assert s.row("B1").gap == math.ceil(total.sum() - covered.sum())


def test_dtt_counts_overlapping_communes_once(plan):
    """A2 overlaps A1 by half of A1: the shared cells are split half and half (ictplan.zones),
    so the communes add up to the raster total instead of counting the overlap twice."""
    grid = Grid(Affine(100, 0, X0, 0, -100, Y0), 30, 10, UTM)
    pop = Population(grid, np.ones((10, 30)), np.zeros((10, 30), bool))
    com = communes()
    com.loc[1, "geometry"] = box(X0 + 500, Y0 - 1000, X0 + 2000, Y0)
    tx = gpd.GeoDataFrame({"tx_id": ["t"], "name": "t", "freq_mhz": [600.0], "erp_dbm": [90.0], "height_m": [50.0]},
                          geometry=[Point(X0 + 1500, Y0 - 500)], crs=UTM)
    prof = {"model": "hata", "environment": "rural", "ue_height_m": 10.0, "threshold_dbm": -100.0}
    s = targets.evaluate(plan, inputs(communes=com, population=pop, dtt_transmitters=tx, dtt_profile=prof,
                                      satellite_tv=False))
    den = {c: s.row("B1", c).denominator for c in ("00001", "00002", "00003")}
    # A1: 50 cells of its own + half of the 50 shared; A2: 100 of its own + the other half; B1: 100
    assert den == {"00001": pytest.approx(75.0), "00002": pytest.approx(125.0), "00003": pytest.approx(100.0)}
    assert s.row("B1").denominator == pytest.approx(pop.counts.sum())
    assert s.row("B1").value == pytest.approx(100.0)  # 90 dBm ERP reaches every cell at -100 dBm


# =========================================================================== data centres (D2)
def dcs(points):
    return gpd.GeoDataFrame({"facility_id": [f"dc{i}" for i in range(len(points))]},
                            geometry=[Point(p) for p in points], crs=UTM)


def lines(segs):
    return gpd.GeoDataFrame({"route_id": [str(i) for i in range(len(segs))]},
                            geometry=[LineString(s) for s in segs], crs=UTM)


def test_d2_indicator_on_hand_built(plan):
    fac = pd.concat([facilities(), gpd.GeoDataFrame(
        {"facility_id": ["d1", "d2"], "name": "dc", "kind": "data_centre", "commune_code": ["00001", "00003"],
         "level": None, "urban": True}, geometry=[Point(X0 + 100, Y0 - 500), Point(X0 + 2900, Y0 - 500)], crs=UTM)],
        ignore_index=True)
    fac = gpd.GeoDataFrame(fac, crs=UTM)
    one_route = lines([[(X0 + 100, Y0 - 500), (X0 + 2900, Y0 - 500)]])
    s = targets.evaluate(plan, inputs(facilities=fac, fiber_routes=one_route))
    r = s.row("D2")
    assert (r.value, r.status, r.gap, r.gap_unit) == (0, "not met", 1, "pairs")
    assert s.row("D2", "00001").status == "not applicable"
    ring = lines([[(X0 + 100, Y0 - 500), (X0 + 2900, Y0 - 500)],
                  [(X0 + 100, Y0 - 500), (X0 + 100, Y0 - 900), (X0 + 2900, Y0 - 900), (X0 + 2900, Y0 - 500)]])
    s = targets.evaluate(plan, inputs(facilities=fac, fiber_routes=ring))
    assert s.row("D2").status == "met" and s.details["datacentre_pairs"]["redundant"].all()


# =========================================================================== what-if, outputs
def test_compare_variant(plan, sc):
    m = mobile()
    per = m.per_commune.copy()
    per["pop_5g"] = [100.0, 100.0, 100.0]
    per["mbps_pop_5g"] = per["pop_5g"] * 120
    per["mbps_users_5g"] = per["users_5g"] * 120  # every 5G user covered at 120 Mb/s
    var = targets.evaluate(plan, inputs(mobile=targets.MobileInputs(per_commune=per, facilities=m.facilities),
                                        table=pd.DataFrame({"zone": ["province", "00001"],
                                                            "adult_smartphone_pct": [80.0, 100.0]})))
    d = targets.compare(sc, var)
    r = d[(d["target_id"] == "X2") & (d["zone_code"] == "province")].iloc[0]
    assert r.change == "now met" and r.gap_base == math.ceil(297 - 40) and r.gap_variant == 0 and r.gap_closed == 257
    r = d[(d["target_id"] == "M2") & (d["zone_code"] == "00001")].iloc[0]
    assert r.delta == -30 and r.change == "worse" and r.status_variant == "met"
    assert (d[d["target_id"] == "P1"]["change"] == "same").all()
    with pytest.raises(InputValidationError, match="different zones"):
        other = targets.Scorecard(table=var.table[var.table["zone_code"] != "00003"], plan=plan, communes=communes())
        targets.compare(sc, other)


def test_write_scorecard(sc, tmp_path):
    paths = targets.write_scorecard(sc, tmp_path)
    df = pd.read_csv(paths["csv"], dtype={"zone_code": str})
    assert len(df) == len(sc.table) and set(df["status"]) <= set(targets.STATUSES)
    layers = dict(pyogrio.list_layers(paths["gpkg"]))
    assert set(layers) == {"communes", "districts", "targets"} and layers["targets"] is None  # a table, no geometry
    g = gpd.read_file(paths["gpkg"], layer="communes")
    # readable field names: the id, what is measured, the year (whole words, at most 36 characters between)
    p2, x2 = "P2_communes_with_a_staffed_postal_point_2025", "X2_people_covered_by_5g_2030"
    assert len(g) == 3 and {f"{p2}_value", f"{p2}_status", f"{x2}_gap"} <= set(g.columns)
    assert "F3_households_offered_at_least_200_mb_s_2025_value" in g.columns and "P2_value" not in g.columns
    assert g.set_index("commune_code").loc["00002", f"{p2}_status"] == "not met"
    assert g.set_index("commune_code").loc["00002", f"{p2}_status"] == cell(sc, "P2", "00002")["status"]
    look = pyogrio.read_dataframe(paths["gpkg"], layer="targets").set_index("target_id")
    assert list(look.index) == [t.id for t in sc.plan.targets]  # every target once, in the plan's order
    assert look.loc["X2", "field_prefix"] == x2 and look.loc["X2", "year"] == 2030 and look.loc["X2", "threshold"] == 99
    assert look.loc["M3", "name_vi"] == "Dân số được phủ sóng 5G" and look.loc["M3", "unit"] == "%"
    prefixes = set(look["field_prefix"])
    assert len(prefixes) == len(look) and all(any(c.startswith(p + "_") for c in g.columns) for p in prefixes)
    assert set(pyogrio.read_dataframe(paths["gpkg"], layer="districts", read_geometry=False).columns) >= {f"{p2}_value"}
    md = paths["markdown"].read_text(encoding="utf-8")
    assert "| P1 | 2025 |" in md and "side by side" in md and "Not measured, and why" in md
    side = pd.read_csv(paths["side_by_side"])
    assert {"value_2025", "value_2030"} <= set(side.columns)
    with pytest.raises(OutputExistsError):
        targets.write_scorecard(sc, tmp_path)


def test_side_by_side_pairs_2025_and_2030(sc):
    s = sc.side_by_side("province").set_index("theme")
    assert s.loc["pop_5g", "target_id_2025"] == "M3" and s.loc["pop_5g", "target_id_2030"] == "X2"
    assert s.loc["fixed_speed", "target_id_2025"] == "F3" and s.loc["fixed_speed", "target_id_2030"] == "X1"


def test_evaluate_does_not_mutate_inputs(plan):
    inp = inputs()
    before = (inp.communes.copy(), inp.postal_points.copy(), inp.facilities.copy(), inp.mobile.per_commune.copy())
    targets.evaluate(plan, inp)
    for a, b in zip(before, (inp.communes, inp.postal_points, inp.facilities, inp.mobile.per_commune), strict=True):
        pd.testing.assert_frame_equal(a, b)


# =========================================================================== a study folder + the CLI
def make_study(root: Path, *, extra_points: int = 0) -> Path:
    from ictplan import io

    root.mkdir(parents=True, exist_ok=True)
    io.write_layer(communes(), root / "s.gpkg", layer="communes")
    p = postal()
    if extra_points:
        more = gpd.GeoDataFrame({"point_id": [f"x{i}" for i in range(extra_points)], "name": "x",
                                 "commune_code": "00002", "staffed": True, "internet": True, "online_services": True},
                                geometry=[Point(X0 + 1500, Y0 - 500)] * extra_points, crs=UTM)
        p = gpd.GeoDataFrame(pd.concat([p, more], ignore_index=True), crs=UTM)
    io.write_layer(p, root / "s.gpkg", layer="postal_points")
    io.write_layer(facilities(), root / "s.gpkg", layer="facilities")
    grid = Grid(Affine(100, 0, X0, 0, -100, Y0), 30, 10, UTM)
    io.write_raster(np.full((10, 30), 2.0, dtype="float32"), grid, root / "pop.tif", nodata=-1)
    (root / "indicators.csv").write_text("zone,adult_smartphone_pct\nprovince,97.5\n00001,100\n", encoding="utf-8")
    (root / "study.toml").write_text(f"""[study]
name = "tiny"
province = "Test"
crs = "EPSG:32648"
[layers]
communes = {{ path = "s.gpkg", layer = "communes" }}
postal_points = {{ path = "s.gpkg", layer = "postal_points" }}
facilities = {{ path = "s.gpkg", layer = "facilities" }}
population = {{ path = "pop.tif" }}
[profiles]
path = "{PROFILES.as_posix()}"
[targets]
path = "{TARGETS.as_posix()}"
[parameters.scorecard]
indicators_table = "indicators.csv"
""", encoding="utf-8")
    return root


def test_scorecard_on_a_study_folder(tmp_path):
    from ictplan import study

    s = study.load(make_study(tmp_path / "tiny"))
    sc = targets.run(s)
    assert sc.row("P1").value == 5
    assert sc.row("M4").value == 97.5 and sc.row("M4").status == "not met"
    assert sc.row("M1").status == "no data" and "sites" in sc.row("M1").reason
    assert sc.row("F2").status == "no data" and "roads" in sc.row("F2").reason
    assert sc.row("B1").status == "no data" and "dtt_transmitters" in sc.row("B1").reason


def test_run_runs_no_analysis_and_records_the_callers_reason(tmp_path, monkeypatch):
    from ictplan import coverage, fiber, study

    def refuse(*a, **k):
        raise AssertionError("targets.run must not run an analysis")

    monkeypatch.setattr(coverage, "run", refuse)
    monkeypatch.setattr(fiber, "run", refuse)
    s = study.load(make_study(tmp_path / "tiny"))
    sc = targets.run(s, skipped={"coverage": "the study has no sites layer", "fiber": "roads missing"})
    assert sc.row("M1").reason == "no coverage result: the study has no sites layer"
    assert sc.row("F2").reason == "no fiber result: roads missing"
    assert targets.scorecard is targets.run
    with pytest.raises(TypeError):
        targets.run(s, coverage_result=None)


def test_run_reads_parameters_and_the_province(tmp_path):
    from ictplan import study

    root = make_study(tmp_path / "tiny")
    (root / "other.csv").write_text("zone,adult_smartphone_pct\nprovince,100\n", encoding="utf-8")
    toml = (root / "study.toml").read_text(encoding="utf-8")
    (root / "study.toml").write_text(toml + "[parameters.fiber]\ndrop_limit_m = 500\ncanal_half_width_m = 8.0\n\n"
                                     "[parameters.sharing]\ncorridor_m = 12.0\n", encoding="utf-8")
    s = study.load(root)
    inp = targets.inputs_from_study(s)
    assert inp.drop_limit_m == 500 and inp.province_name == "Test"
    assert inp.canal_half_width_m == 8.0 and inp.corridor_m == 12.0  # D2 builds its network with the study's values
    sc = targets.run(s, indicators_table="other.csv")
    assert sc.row("M4").value == 100 and sc.row("M4").status == "met"  # 97.5 (not met) in indicators.csv
    assert sc.row("P1").zone_name == "Test" and sc.meta["province"] == "Test"
    (root / "study.toml").write_text(toml.replace('province = "Test"\n', ""), encoding="utf-8")
    assert targets.run(study.load(root)).row("P1").zone_name == "tiny"  # no province: the study's name


def test_cli_scorecard_with_variant(tmp_path):
    from click.testing import CliRunner

    from ictplan.cli._main import _register_subcommands, cli

    _register_subcommands()
    base = make_study(tmp_path / "base")
    var = make_study(tmp_path / "var", extra_points=300)
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["scorecard", str(base), "--out", str(out), "--variant", str(var)])
    assert res.exit_code == 0, res.output
    assert "P1" in res.output and "What-if" in res.output and "now met" in res.output
    for f in ("scorecard.csv", "scorecard.gpkg", "scorecard.md", "scorecard_whatif.csv", "scorecard_whatif.md",
              "variant/scorecard.csv"):
        assert (out / f).is_file(), f
    d = pd.read_csv(out / "scorecard_whatif.csv", dtype={"zone_code": str})
    p1 = d[(d["target_id"] == "P1") & (d["zone_code"] == "province")].iloc[0]
    assert (p1.value_base, p1.value_variant, p1.change) == (5, 305, "now met")
    res = CliRunner().invoke(cli, ["scorecard", str(base), "--out", str(out)])
    assert res.exit_code != 0 and "--overwrite" in str(res.exception) + res.output


# =========================================================================== the sample
SAMPLE = REPO / "data" / "camau"


@pytest.fixture(scope="module")
def sample_sc():
    if not (SAMPLE / "camau.gpkg").is_file():
        pytest.skip("the embedded sample is not built")
    from ictplan import coverage, fiber, study

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = study.load(SAMPLE)
        sc = targets.run(s, coverage=coverage.run(s, levels=("communes",)), fiber=fiber.run(s))
    return sc, time.perf_counter() - t0


def test_sample_scorecard_complete(sample_sc):
    sc, _ = sample_sc  # speed: make bench (bench_scorecard)
    prov = sc.province().set_index("target_id")
    computable = [t.id for t in sc.plan.targets if not t.is_policy and t.table_column is None]
    assert not prov.loc[computable, "value"].isna().any(), prov.loc[computable, ["value", "reason"]]
    assert prov.loc[computable, "status"].isin(["met", "not met", "not applicable"]).all()
    others = prov.drop(index=computable)
    assert others["status"].isin(["no data", "not applicable"]).all()
    assert (others["reason"].str.len() > 10).all()
    blank = sc.table[sc.table["status"].isin(["no data", "not applicable"]) & (sc.table["reason"] == "")]
    assert blank.empty
    assert prov.loc["P1", "value"] == len(gpd.read_file(SAMPLE / "camau.gpkg", layer="postal_points"))
    com = sc.table[sc.table["level"] == "commune"]
    assert com["zone_code"].nunique() == len(sc.communes)
    # district figures add up from communes
    f2 = sc.table[sc.table["target_id"] == "F2"]
    d = f2[f2["level"] == "district"]["denominator"].sum()
    assert d == pytest.approx(f2[f2["level"] == "commune"]["denominator"].sum())
    assert f2[f2["level"] == "province"]["denominator"].iloc[0] == pytest.approx(d)


def test_b1_with_and_without_satellite(plan):
    """B1 counts terrestrial or satellite TV: with satellite everyone is served; without it
    (or in a commune listed as without satellite) only the terrestrial reach counts, which
    the terrestrial indicator reports on its own."""
    grid = Grid(Affine(100, 0, X0, 0, -100, Y0), 30, 10, UTM)
    pop = Population(grid, np.ones((10, 30)), np.zeros((10, 30), bool))
    # a weak transmitter in A1's centre: reaches part of A1 only
    tx = gpd.GeoDataFrame({"tx_id": ["t"], "name": "t", "freq_mhz": [600.0], "erp_dbm": [30.0], "height_m": [50.0]},
                          geometry=[Point(X0 + 500, Y0 - 500)], crs=UTM)
    prof = {"model": "hata", "environment": "rural", "ue_height_m": 10.0, "threshold_dbm": -40.0}
    base = dict(population=pop, dtt_transmitters=tx, dtt_profile=prof)
    terr = targets.INDICATORS["dtt_pop_pct"].func(inputs(**base))
    assert 0 < terr["num"].sum() < terr["den"].sum() and terr.loc["00003", "num"] == 0
    with_sat = targets.evaluate(plan, inputs(**base))
    assert with_sat.row("B1").value == pytest.approx(100.0) and with_sat.row("B1").status == "met"
    without = targets.evaluate(plan, inputs(**base, satellite_tv=False))
    assert without.row("B1").numerator == pytest.approx(terr["num"].sum())
    assert without.row("B1").status == "not met"
    part = targets.evaluate(plan, inputs(**base, no_satellite_communes=("00003",)))
    assert part.row("B1", "00003").numerator == pytest.approx(0.0)
    assert part.row("B1", "00002").value == pytest.approx(100.0)
    assert part.row("B1").numerator == pytest.approx(200.0)


def test_every_scorecard_row_names_its_definition_and_measure(sc, plan):
    """Issue 12: each row says what it counts and whether it is a measurement or a proxy."""
    assert all(t.measure in targets.plan.MEASURES and len(t.definition) > 20 for t in plan.targets)
    assert {"measure", "definition"} <= set(sc.table.columns)
    assert (sc.table["definition"].str.len() > 20).all()
    by_id = sc.table.drop_duplicates("target_id").set_index("target_id")
    assert by_id.loc["F4", "measure"] == "proxy" and "proxy" in by_id.loc["F4", "definition"].lower()
    assert by_id.loc["F3", "measure"] == "measurement" and "busy-hour" in by_id.loc["F3", "definition"]
    assert by_id.loc["F6", "measure"] == "reported" and by_id.loc["D3", "measure"] == "policy"


def test_measure_must_be_known(tmp_path):
    p = tmp_path / "t.toml"
    p.write_text('[targets.X]\nyear = 2025\ntext_vi = "a"\ntext_en = "a"\nindicator = "pop_5g_pct"\nthreshold = 1\n'
                 'unit = "%"\ncomparison = ">="\nlevel = "province"\nmeasure = "guess"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="measure of X must be one of"):
        targets.load_targets(p)
    # without the keys: a registered indicator is a measurement, its docstring's first sentence the definition
    p.write_text(p.read_text(encoding="utf-8").replace('measure = "guess"\n', ""), encoding="utf-8")
    t = targets.load_targets(p).targets[0]
    assert t.measure == "measurement" and t.definition == ""


def _per_operator() -> pd.DataFrame:
    """Two operators in the hand-built communes, consistent with :func:`mobile` (Σ users × speed)."""
    rows = [  # commune, operator, technology, users, mean_user_mbps, pct_covered
        ("00001", "Viettel", "4G", 60.0, 58.0, 100.0), ("00001", "VNPT", "4G", 40.0, 38.0, 100.0),
        ("00002", "Viettel", "4G", 60.0, 5.0, 50.0), ("00002", "VNPT", "4G", 40.0, 17.5, 50.0),
        ("00003", "Viettel", "4G", 0.0, np.nan, 0.0), ("00003", "VNPT", "4G", 0.0, np.nan, 0.0),
        ("00001", "Viettel", "5G", 24.0, 160.0, 40.0), ("00001", "VNPT", "5G", 16.0, 135.0, 25.0),
        ("00002", "Viettel", "5G", 0.0, np.nan, 0.0), ("00002", "VNPT", "5G", 0.0, np.nan, 0.0),
        # province rows as the coverage table gives them: users-weighted speeds, people-weighted coverage
        ("province", "Viettel", "4G", 120.0, 31.5, 50.0), ("province", "VNPT", "4G", 80.0, 27.75, 50.0),
        ("province", "Viettel", "5G", 24.0, 160.0, 40 / 3), ("province", "VNPT", "5G", 16.0, 135.0, 25 / 3),
    ]
    df = pd.DataFrame(rows, columns=["commune_code", "operator", "technology", "users", "mean_user_mbps", "pct_covered"])
    return df.assign(pct_users_ge_target=np.nan, pct_covered_indoor=np.nan, p10_user_mbps=np.nan).set_index(
        ["commune_code", "operator", "technology"])


def test_scorecard_names_the_operators_below_the_target(plan, tmp_path):
    m = mobile()
    s = targets.evaluate(plan, inputs(mobile=targets.MobileInputs(per_commune=m.per_commune, facilities=m.facilities,
                                                                  per_operator=_per_operator())))
    # the per-operator figures check out against the province figure (subscriber-weighted)
    assert cell(s, "M1", "00001").value == pytest.approx((60 * 58 + 40 * 38) / 100)
    # M1 (≥ 40 Mb/s): commune 00001 is met (50) but VNPT's users get 38; 00002: both, Viettel lowest (5)
    assert cell(s, "M1", "00001").status == "met" and cell(s, "M1", "00001").operators_below == "VNPT"
    assert cell(s, "M1", "00002").operators_below == "Viettel, VNPT"
    # district A by hand: Viettel (60·58 + 60·5)/120 = 31.5, VNPT (40·38 + 40·17.5)/80 = 27.75: both, VNPT first
    assert cell(s, "M1", "A").operators_below == "VNPT, Viettel"
    assert cell(s, "M1").operators_below == "VNPT, Viettel"
    assert cell(s, "M1", "00003").operators_below == ""  # nobody there: not judged
    assert cell(s, "M2", "00001").operators_below == ""  # 160 and 135 ≥ 100
    # M3 (province, ≥ 20 %): Viettel 13.3 %, VNPT 8.3 %; communes are not judged on M3
    assert cell(s, "M3").operators_below == "VNPT, Viettel" and cell(s, "M3", "00001").operators_below == ""
    # X2 (≥ 99 % per commune), district A people-weighted: Viettel (100·40 + 100·0)/200 = 20, VNPT 12.5
    assert cell(s, "X2", "A").operators_below == "VNPT, Viettel"
    assert (s.table.loc[~s.table["indicator"].isin(["mean_4g_mbps", "mean_5g_mbps", "pop_5g_pct"]),
                        "operators_below"] == "").all()
    paths = targets.write_scorecard(s, tmp_path)
    csv = pd.read_csv(paths["csv"], dtype={"zone_code": str}, keep_default_na=False)
    assert csv.set_index(["target_id", "zone_code"]).loc[("M1", "00001"), "operators_below"] == "VNPT"
    assert "operators below the target: VNPT, Viettel" in paths["markdown"].read_text(encoding="utf-8")
    assert s.wide("commune").set_index("zone_code").loc["00002", "M1_operators_below"] == "Viettel, VNPT"
    # without per-operator figures the column is there, empty
    plain = targets.evaluate(plan, inputs())
    assert (plain.table["operators_below"] == "").all()


def test_a_plan_judged_on_another_province_says_so(plan):
    """The Cà Mau plan scored on Bạc Liêu's territory is labelled in the scorecard and its Markdown;
    on its own province (any case, any Unicode form) it is not."""
    import unicodedata

    own = targets.evaluate(plan, inputs(province_name=plan.province))
    assert own.meta["plan_applied_to"] == "" and "applied to" not in own.to_markdown()
    other = targets.applied_to(plan, "Bạc Liêu")
    assert other == f"the {plan.province} plan's targets applied to Bạc Liêu's territory"
    assert targets.applied_to(plan, unicodedata.normalize("NFD", plan.province.upper())) == ""
    sc = targets.evaluate(plan, inputs(province_name="Bạc Liêu"))
    assert sc.meta["plan_applied_to"] == other and f"**Note: {other}.**" in sc.to_markdown()
