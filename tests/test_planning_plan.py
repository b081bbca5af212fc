"""The plan: targets per phase, the variant study it is written as, its tables."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from ictplan import datasets
from ictplan._errors import ConfigError
from ictplan.planning import plan as _plan
from ictplan.planning import tables as _tables
from ictplan.planning.variant import sectors_frame, write_variant


@pytest.fixture(scope="module")
def camau():
    return datasets.camau()


# ============================================================================ targets
def test_parse_targets_reads_fractions_and_percentages():
    assert _plan.parse_targets(["M3=0.99", "x2=95"]) == {"M3": 0.99, "X2": 0.95}
    assert _plan.parse_targets({"F1": 1}) == {"F1": 1.0}
    assert _plan.parse_targets(None) == {}
    assert _plan.parse_targets(["P1=350"]) == {"P1": 350.0}  # above 100: a count
    for bad in (["M3"], ["M3=abc"], ["M3=0"], ["M3=inf"], ["=0.5"]):
        with pytest.raises(ConfigError, match="target"):
            _plan.parse_targets(bad)


def test_phase_targets_take_counts_for_p1_and_refuse_them_for_shares(camau):
    assert _plan.phase_targets(camau, _plan.parse_targets(["P1=350"]), 2025)["2025"]["postal_points"] == 350.0
    assert _plan.phase_targets(camau, _plan.parse_targets(["P1=50"]), 2025)["2025"]["postal_points"] == 50.0
    with pytest.raises(ConfigError, match="M3 is a share"):
        _plan.phase_targets(camau, _plan.parse_targets(["M3=150"]), 2030)


def test_phase_targets_keep_the_stricter_threshold_whatever_the_file_order(camau, monkeypatch):
    from types import SimpleNamespace

    from ictplan import targets as _targets

    real = _targets.load_targets(camau.targets_path)
    monkeypatch.setattr(_targets, "load_targets", lambda _p: SimpleNamespace(targets=list(reversed(real.targets))))
    k = _plan.phase_targets(camau, {}, 2030)  # X2 (2030, 99 %) now read before M3 (2025, 20 %)
    assert k["2025"]["pop_5g"] == pytest.approx(0.20) and k["2030"]["pop_5g"] == pytest.approx(0.99)


def test_the_postal_piece_builds_to_the_p1_count_of_the_targets(camau, monkeypatch):
    from ictplan import parameters
    from ictplan.planning import phases, postal

    seen = {}
    monkeypatch.setattr(postal, "postal_gaps", lambda study, progress=None, **kw: seen.update(kw))
    phases._postal(camau, {"postal_points": 350.0}, parameters.resolve("plan", camau), None)
    assert seen["postal_points_target"] == 350


def test_phase_targets_take_the_plans_thresholds_and_the_given_one_in_its_year(camau):
    k = _plan.phase_targets(camau, {"M3": 0.99}, 2030)
    assert list(k) == ["2025", "2030"]
    assert k["2025"]["pop_5g"] == pytest.approx(0.20)  # M3's own 20 % by 2025
    assert k["2030"]["pop_5g"] == pytest.approx(0.99)  # the given target replaces X2's 99 % in 2030
    assert k["2025"]["hamlets"] == 1.0 and k["2025"]["postal_points"] == 300.0  # F1, P1 (2025) hold in 2030 too
    assert k["2030"]["hamlets"] == 1.0
    assert _plan.phase_targets(camau, {"X2": 0.5}, 2025)["2025"]["pop_5g"] == 0.5
    assert list(_plan.phase_targets(camau, {}, 2025)) == ["2025"]


def test_phase_targets_refuse_unknown_and_unplannable_targets(camau):
    with pytest.raises(ConfigError, match="unknown target"):
        _plan.phase_targets(camau, {"Z9": 0.5}, 2030)
    with pytest.raises(ConfigError, match="cannot build to"):
        _plan.phase_targets(camau, {"M1": 0.5}, 2030)  # a speed, not something the planner builds to


def test_run_refuses_a_bad_year_and_budget(camau):
    with pytest.raises(ConfigError, match="phases"):
        _plan.run(camau, year=2027)
    with pytest.raises(ConfigError, match="budget"):
        _plan.run(camau, budget_vnd=-5.0)


# ============================================================================ the variant study
def _new_sector(**kw):
    row = dict(sector_id="PLAN-1-A", site_id="PLAN-1", operator="Viettel", technology="5G", band="n41",
               azimuth_deg=90.0, height_m=35.0, tilt_deg=4.0, tx_power_dbm=49.0, lon=105.15, lat=9.18, phase="2025")
    row.update(kw)
    return sectors_frame(pd.DataFrame([row]))


def test_variant_keeps_every_layer_and_adds_the_planned_features(camau, tmp_path):
    v = write_variant(camau, tmp_path / "v", additions={"sites": _new_sector()}, name="plan",
                      parameters={"coverage": {"year": 2030}})
    assert v.layer_names == camau.layer_names
    old, new = camau.layer("sites"), v.layer("sites")
    assert len(new) == len(old) + 1
    added = new[new["planned"] == 1]
    assert added["sector_id"].tolist() == ["PLAN-1-A"] and added["phase"].tolist() == ["2025"]
    assert (new["planned"] == 0).sum() == len(old)
    assert added["lon"].iloc[0] == pytest.approx(105.15) and added["lat"].iloc[0] == pytest.approx(9.18)
    assert v.parameters["coverage"]["year"] == 2030
    # the layers not added to are today's files, read the same
    pd.testing.assert_frame_equal(pd.DataFrame(v.layer("hamlets").drop(columns="geometry")),
                                  pd.DataFrame(camau.layer("hamlets").drop(columns="geometry")))


def test_variant_refuses_a_layer_the_study_lacks(camau, tmp_path):
    pts = gpd.GeoDataFrame({"phase": ["2025"]}, geometry=[shapely.Point(105.1, 9.1)], crs="EPSG:4326")
    with pytest.raises(ConfigError, match="lacks"):
        write_variant(camau, tmp_path / "v", additions={"buildings": pts}, name="plan")


def test_sectors_frame_names_missing_columns():
    with pytest.raises(Exception, match="lon"):
        sectors_frame(pd.DataFrame([{"sector_id": "a"}]))


# ============================================================================ the tables
def _sites(crs):
    return gpd.GeoDataFrame(
        {"kind": ["upgrade", "upgrade", "new_tower", "colocation"], "operator": ["VNPT", "VNPT", "VNPT", "Viettel"],
         "cost_vnd": [6e8, 6e8, 1.6e9, 9e8], "phase": ["2025", "2030", "2030", "2030"],
         "commune_code": [None, None, None, None]},
        geometry=[shapely.Point(530000, 1010000)] * 4, crs=crs)


def test_phases_table_sums_counts_km_and_cost_per_phase_item_and_operator(camau):
    crs = camau.crs
    fiber = gpd.GeoDataFrame({"operator": ["VNPT", "VNPT"], "length_m": [1500.0, 500.0], "cost_vnd": [1e8, 5e7],
                              "phase": ["2025", "2025"], "commune_code": ["x", "x"]},
                             geometry=[shapely.LineString([(0, 0), (1500, 0)]), shapely.LineString([(0, 0), (500, 0)])],
                             crs=crs)
    empty = _tables._concat([], crs)
    aps = gpd.GeoDataFrame({"operator": ["VNPT"] * 3, "phase": ["2025"] * 3, "cost_vnd": [2.5e6] * 3},
                           geometry=[shapely.Point(0, 0)] * 3, crs=crs)
    feats = {"sites": _sites(crs), "carriers": empty, "fiber": fiber, "access_points": aps, "postal": empty,
             "datacentres": empty.assign(build=pd.Series(dtype=bool))}
    t = _tables.phases_table(feats)
    row = t[(t["phase"] == "2030") & (t["item"] == "5g_upgrade")].iloc[0]
    assert row["count"] == 1 and row["cost_vnd"] == 6e8
    fib = t[t["item"] == "fiber_km"].iloc[0]
    assert fib["km"] == pytest.approx(2.0) and fib["count"] == 2 and fib["cost_vnd"] == pytest.approx(1.5e8)
    fat = t[t["item"] == "fiber_access_point"].iloc[0]
    assert fat["count"] == 3 and fat["cost_vnd"] == pytest.approx(7.5e6)
    assert t["cost_vnd"].sum() == pytest.approx(6e8 * 2 + 1.6e9 + 9e8 + 1.5e8 + 7.5e6)
    assert list(t[t["phase"] == "2030"]["item"]) == ["5g_upgrade", "5g_colocation", "5g_new_tower"]  # reading order


def test_by_commune_places_each_feature_in_its_commune(camau):
    communes = camau.layer_in_crs("communes")
    c = communes.iloc[[3, 10]]
    pts = c.geometry.representative_point()
    sites = gpd.GeoDataFrame({"kind": ["upgrade", "new_tower"], "operator": ["VNPT"] * 2, "cost_vnd": [6e8, 1.6e9],
                              "phase": ["2025"] * 2}, geometry=pts.to_numpy(), crs=communes.crs)
    empty = _tables._concat([], camau.crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bc = _tables.by_commune(camau, {"sites": sites, "carriers": empty, "fiber": empty, "access_points": empty,
                                        "postal": empty})
    assert sorted(bc["commune_code"]) == sorted(c["commune_code"].astype(str))
    assert bc.set_index("commune_code").loc[str(c["commune_code"].iloc[1]), "cost_vnd"] == 1.6e9
    assert np.all(bc["commune_name"].notna())


def test_variant_is_judged_with_todays_resolved_parameters_and_the_phase_year(camau, tmp_path):
    import dataclasses

    from ictplan import parameters, workflow
    from ictplan.planning import phases

    prm = {j: parameters.resolve(j, camau) for j in ("coverage", "fiber", "sharing", "scorecard")}
    prm["fiber"] = dataclasses.replace(prm["fiber"], drop_limit_m=500.0)  # as a CLI flag would set it
    before = workflow.Results(study=camau, parameters=prm)
    v = write_variant(camau, tmp_path / "v", additions={}, name="x",
                      parameters=phases._today_parameters(camau, before, 2030))
    assert parameters.resolve("fiber", v) == prm["fiber"]  # tuples read back as tuples, the flag kept
    assert parameters.resolve("coverage", v) == dataclasses.replace(prm["coverage"], year=2030)
    assert parameters.resolve("scorecard", v) == prm["scorecard"]


def test_notes_name_every_planned_target_the_re_run_still_misses():
    check = pd.DataFrame({"target_id": ["F1", "F2", "X2", "M1"], "year": [2025, 2025, 2030, 2025],
                          "unit": ["%"] * 3 + ["Mb/s"], "status_2030": ["met", "not met", "not met", "not met"],
                          "value_2030": [100.0, 89.9, 97.0, 20.0]})
    kinds = {"2025": {"pop_5g": 0.2, "hamlets": 1.0, "households": 1.0},
             "2030": {"pop_5g": 0.99, "hamlets": 1.0, "households": 1.0}}
    short = type("R", (), {"share": 0.97})()
    n = _tables.notes({"rollout": {"2030": short}}, kinds, check)
    assert len(n) == 3  # the roll-out's own shortfall, F2 and X2; not F1 (met), not M1 (not planned)
    assert n[0].startswith("2030: the 5G roll-out reaches 97.0 %")
    assert any("F2 is still not met after the plan (89.9 %" in x for x in n[1:])
    assert any(x.startswith("X2 is still not met after the plan (97.0 %") for x in n[1:])


# ============================================================================ the command line
@pytest.mark.parametrize("flags, words", [
    (["--target", "Z9=1"], "unknown target"), (["--target", "M3=abc"], "give a number"),
    (["--target", "M1=0.5"], "cannot build to"), (["--budget", "-1"], "budget"),
    (["--operator", "Nobody"], "operator 'Nobody' has no sites"), (["--year", "2040"], "2040"),
])
def test_cli_refuses_a_bad_flag_at_once_and_leaves_no_folder(flags, words, tmp_path, capsys):
    """Before any analysis runs (each case here takes well under a second; the analyses ~20 s)."""
    import time

    from ictplan.cli._main import main

    out = tmp_path / "plan"
    t0 = time.perf_counter()
    rc = main(["plan", str(datasets.camau().root), "--out", str(out), *flags])
    assert rc != 0 and not out.exists()
    assert time.perf_counter() - t0 < 10.0
    err = capsys.readouterr().err
    assert words in err and err.lower().count("error") == 1, err  # said once


def test_check_request_names_a_missing_targets_file(camau, tmp_path):
    import tomllib

    import tomli_w

    from ictplan import study as _study

    cfg = tomllib.loads((camau.root / "study.toml").read_text(encoding="utf-8"))
    for spec in cfg["layers"].values():
        spec["path"] = str((camau.root / spec["path"]).resolve())
    cfg["profiles"]["path"] = str((camau.root / cfg["profiles"]["path"]).resolve())
    del cfg["targets"]
    (tmp_path / "study.toml").write_text(tomli_w.dumps(cfg), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[targets\]"):
        _plan.check_request(_study.load(tmp_path))


def test_plan_md_states_the_solvers_bound_and_gap_per_phase():
    from types import SimpleNamespace

    from ictplan.planning.outputs import summary_lines

    phases = pd.DataFrame({"phase": ["2025", "2030"], "item": ["5g_new_tower"] * 2, "operator": ["neutral"] * 2,
                           "count": [2.0, 3.0], "km": [0.0, 0.0], "cost_vnd": [3.2e9, 4.8e9]})
    ro = {"2025": SimpleNamespace(solver="greedy", bound=2.4e9, bound_kind="online", gap=0.25, meta={"form": "target"}),
          "2030": SimpleNamespace(solver="highs", bound=1234.0, bound_kind="highs", gap=0.01, meta={"form": "budget"})}
    check = pd.DataFrame(columns=["target_id", "comparison", "threshold", "unit", "value_today", "status_today"])
    res = SimpleNamespace(study=SimpleNamespace(name="s"), operator=None, year=2030, phases=phases, rollout=ro,
                          check=check, phase_targets={"2025": {}, "2030": {}}, notes=[])
    text = "\n".join(summary_lines(res))
    assert "- 5G solver greedy: no plan reaches the target for less than 2.4 bn VND (the greedy's online bound); " \
           "gap ≤ 25.0 %" in text
    assert "- 5G solver highs: at most 1,234 people for the money (HiGHS's dual bound); gap ≤ 1.0 %" in text


def test_capacity_additions_are_counted_against_the_budget():
    from ictplan.planning import phases

    add = gpd.GeoDataFrame({"cost_vnd": [3e8, 3e8, 3e8]}, geometry=[shapely.Point(0, 0)] * 3, crs="EPSG:32648")
    state = {"budget": 1.0e9, "spent": 5e8, "over_budget": 0}
    kept = phases._affordable(add, state)
    assert len(kept) == 1 and state["spent"] == pytest.approx(8e8) and state["over_budget"] == 2
    free = {"budget": None, "spent": 0.0, "over_budget": 0}
    assert len(phases._affordable(add, free)) == 3 and free["spent"] == pytest.approx(9e8)
    n = _tables.notes({"rollout": {}, "over_budget": 2}, {"2025": {}}, pd.DataFrame({"target_id": []}))
    assert n == ["2 capacity addition(s) (second carriers or neighbour sites) are left out: they do not fit in the budget."]
