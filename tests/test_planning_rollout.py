"""The 5G roll-out on the sample: candidates, coverage sets from the radio engine, the plan,
and the plan fed back through the coverage job (it must reach its target, and cover exactly
the cells the coverage matrix says)."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import ictplan.coverage as cov
from ictplan import datasets, schemas
from ictplan._errors import InputValidationError
from ictplan.planning import candidates as C
from ictplan.planning import coverage_sets as CS
from ictplan.planning import rollout as R
from ictplan.study import load

N_NEUTRAL_EXTRA = 12  # neutral-host candidates (co-locations and new towers) added to the variant


@pytest.fixture(scope="module")
def base():
    study = datasets.camau()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = cov.run(study, progress=False)
    return study, result


@pytest.fixture(scope="module")
def viettel20(base):
    study, result = base
    return R.plan_5g(study, result, operator="Viettel", target_share=0.2)


@pytest.fixture(scope="module")
def neutral_extra(base):
    """A few neutral-host candidates of each kind but upgrades, with their coverage sets."""
    study, result = base
    cands = C.candidate_sites(study, operator=None)
    pick = pd.concat([cands[cands["kind"] == k].iloc[::97].head(N_NEUTRAL_EXTRA // 2) for k in ("colocation", "new_tower")])
    pick = pick.reset_index(drop=True)
    return pick, CS.coverage_matrix(study, pick, coverage=result, operator=None)


@pytest.fixture(scope="module")
def rerun(base, viettel20, neutral_extra, tmp_path_factory):
    """The sample with Viettel's 20 % plan and the neutral extras built, coverage re-run."""
    study, _ = base
    root = tmp_path_factory.mktemp("variant")
    data = Path(study.root).parent
    for name in ("camau", "profiles", "targets"):
        shutil.copytree(data / name, root / name)
    sites = pd.concat([R.sites_with(study, viettel20.chosen), C.candidate_sectors(neutral_extra[0])], ignore_index=True)
    sites.to_csv(root / "camau" / "sites.csv", index=False)
    # the sites schema does not list the neutral host's operator label yet (the lead adds it)
    choices = schemas.SCHEMAS["sites"].choices
    with warnings.catch_warnings(), pytest.MonkeyPatch.context() as mp:
        if C.NEUTRAL not in choices["operator"]:
            mp.setitem(choices, "operator", (*choices["operator"], C.NEUTRAL))
        warnings.simplefilter("ignore")
        return cov.run(load(root / "camau"), progress=False)


def test_candidates_have_the_kinds_costs_and_sectors(base) -> None:
    study, _ = base
    sites = study.layer("sites")
    c = C.candidate_sites(study, operator="VNPT")
    assert set(c["kind"]) == {"upgrade", "colocation", "new_tower"}
    assert (c["band"] == "n78").all() and (c["operator"] == "VNPT").all()
    assert c["candidate_id"].is_unique
    prm = R._parameters.resolve("plan", study)
    costs = c.groupby("kind")["cost_vnd"].unique()
    assert costs["upgrade"][0] == prm.cost_upgrade_vnd and costs["new_tower"][0] == prm.cost_new_tower_vnd
    assert costs["colocation"][0] == prm.cost_colocation_vnd < prm.cost_new_tower_vnd
    # upgrades: every VNPT 4G site without VNPT 5G, and no other
    own = sites[sites["operator"] == "VNPT"]
    no5g = set(own.loc[own["technology"] == "4G", "site_id"]) - set(own.loc[own["technology"] == "5G", "site_id"])
    assert set(c.loc[c["kind"] == "upgrade", "host_site_id"]) == no5g
    # the upgrade keeps the 4G azimuths; others are 3 sectors 120° apart
    up = c[c["kind"] == "upgrade"].iloc[0]
    az4 = sorted(own.loc[(own["site_id"] == up["host_site_id"]) & (own["technology"] == "4G"), "azimuth_deg"])
    assert sorted(a for a, _, _ in up["sectors"]) == pytest.approx(az4)
    new = c[c["kind"] == "new_tower"].iloc[0]
    assert [a for a, _, _ in new["sectors"]] == [0.0, 120.0, 240.0]
    secs = C.candidate_sectors(c)
    assert list(secs.columns) == C.SITES_COLUMNS and len(secs) == sum(len(s) for s in c["sectors"])
    # the neutral host: no upgrades, co-location on every tower, its own band
    n = C.candidate_sites(study, operator=None)
    assert set(n["kind"]) == {"colocation", "new_tower"} and (n["band"] == prm.neutral_host_band).all()
    with pytest.raises(InputValidationError, match="no sites"):
        C.candidate_sites(study, operator="Gmobile")


def test_new_tower_rule_people_within_1km(base) -> None:
    study, _ = base
    c = C.candidate_sites(study, operator=None, kinds=("new_tower",), new_tower_min_people=400.0)
    pop = study.population
    t = pop.grid.transform
    cols = ((c.geometry.x.to_numpy() - t.c) / t.a).astype(int)
    rows = ((c.geometry.y.to_numpy() - t.f) / t.e).astype(int)
    rr, cc = np.mgrid[-10:11, -10:11]
    disc = (rr**2 + cc**2) <= 100
    counts = np.pad(pop.counts, 10)
    near = np.array([counts[r:r + 21, q:q + 21][disc].sum() for r, q in zip(rows, cols, strict=True)])
    assert (near >= 400.0 - 1e-6).all()  # hand-summed disc of 1 km around each point


def test_plan_to_20_percent_reaches_it_in_the_rerun(base, viettel20, rerun) -> None:
    study, _ = base
    p = viettel20
    assert p.share >= 0.2 and p.status == "ok"
    assert p.cost_vnd == pytest.approx(p.chosen["cost_vnd"].sum())
    assert p.bound <= p.cost_vnd + 1e-6
    assert p.chosen["people_added"].gt(0).all() and list(p.chosen["order"]) == list(range(1, len(p.chosen) + 1))
    people = study.population.counts
    share = float((people * rerun.layers[("Viettel", "5G")].covered).sum() / people.sum())
    assert share >= 0.2
    assert share == pytest.approx(p.share, abs=1e-9)  # the optimiser's count is the coverage job's


def test_coverage_matrix_agrees_with_the_coverage_job(base, viettel20, neutral_extra, rerun) -> None:
    """The re-run covers exactly the existing cells plus the union of the built candidates'
    columns: no tolerance is needed (same engine, same float32 arithmetic, positions written
    at full precision, and coverage is a threshold on the per-cell maximum RSRP)."""
    sets = viettel20.sets
    chosen = np.flatnonzero(viettel20.candidates["candidate_id"].isin(viettel20.chosen["candidate_id"]))
    want = sets.covered0 | (np.asarray(sets.matrix[:, chosen].sum(axis=1)).reshape(-1) > 0)
    got = rerun.layers[("Viettel", "5G")].covered.reshape(-1)[sets.cells]
    assert int((want != got).sum()) == 0
    picks, nsets = neutral_extra
    assert nsets.matrix.nnz > 0
    want_n = np.asarray(nsets.matrix.sum(axis=1)).reshape(-1) > 0
    got_n = rerun.layers[("neutral", "5G")].covered.reshape(-1)[nsets.cells]
    assert int((want_n != got_n).sum()) == 0
    # each candidate alone: its column is inside what the re-run covers
    for j in range(len(picks)):
        col = nsets.matrix[:, j].toarray().reshape(-1) > 0
        assert col.sum() > 0 and got_n[col].all()


def test_capacity_additions_on_the_rerun(base, viettel20, rerun) -> None:
    study, _ = base
    sec = rerun.sectors
    v5 = sec[(sec["technology"] == "5G") & (sec["operator"] == "Viettel")]
    limit = float(np.quantile(v5["utilisation"], 0.9))
    add = R.capacity_additions(rerun, viettel20, study=study, max_utilisation=limit)
    over_sites = set(v5.loc[v5["utilisation"] > limit, "site_id"])
    carriers = add[add["action"] == "second_carrier"]
    assert set(carriers["site_id"]) == over_sites
    assert (carriers["cost_vnd"] == R._parameters.resolve("plan", study).cost_carrier_vnd).all()
    nb = add[add["action"] == "neighbour_site"]
    assert set(nb["site_id"]) == set(carriers.loc[carriers["utilisation"] / 2 > limit, "site_id"])
    assert not nb["candidate_id"].isin(viettel20.chosen["candidate_id"]).any()
    assert R.capacity_additions(rerun, viettel20, study=study, max_utilisation=1e9).empty


def test_budget_fixed_and_bad_arguments(base, viettel20) -> None:
    study, result = base
    b = R.plan_5g(study, result, operator="Viettel", budget_vnd=viettel20.cost_vnd / 2)
    assert b.cost_vnd <= viettel20.cost_vnd / 2 + 1e-6
    assert b.existing_people < b.covered_people <= b.bound + 1e-6
    # a later phase keeps the earlier phase's sites fixed: they count and cost nothing
    later = R.plan_5g(study, result, operator="Viettel", target_share=0.25, fixed=list(viettel20.chosen["candidate_id"]))
    assert not later.chosen["candidate_id"].isin(viettel20.chosen["candidate_id"]).any()
    assert later.share >= 0.25
    with pytest.raises(InputValidationError, match="exactly one"):
        R.plan_5g(study, result, operator="Viettel")
    with pytest.raises(InputValidationError, match="solver"):
        R.plan_5g(study, result, operator="Viettel", target_share=0.2, solver="cplex")
    with pytest.raises(InputValidationError, match="not candidates"):
        R.plan_5g(study, result, operator="Viettel", target_share=0.2, exclude=["nope"])


def test_highs_plan_is_no_worse_than_the_greedy_and_bounded(base, viettel20) -> None:
    study, result = base
    h = R.plan_5g(study, result, operator="Viettel", target_share=0.2, solver="highs", time_limit_s=4.0)
    assert h.share >= 0.2 and h.solver == "highs" and h.bound_kind == "highs"
    assert h.bound - 1e-6 <= h.cost_vnd <= viettel20.cost_vnd + 1e-6  # warm-started from the greedy
    assert viettel20.bound <= h.cost_vnd + 1e-6  # the greedy's lower bound holds for HiGHS's answer too


def test_road_towers_lie_on_roads_near_unserved_people(base) -> None:
    study, result = base
    c = C.candidate_sites(study, operator=None, kinds=("new_tower",))
    road, grid = c[c["source"] == "road"], c[c["source"] == "grid"]
    assert len(road) > 0 and len(grid) > 0
    roads = study.layer("roads").to_crs(c.crs)
    roads = roads[roads["kind"] == "road"]
    assert road.geometry.distance(roads.union_all()).max() < 1.0  # on a road line (m)
    gap = road.geometry.apply(lambda p: grid.geometry.distance(p).min())
    prm = R._parameters.resolve("plan", study)
    assert gap.min() > prm.new_tower_grid_m * C._ROAD_SPACING / 2.0
    # nobody unserved: no road towers; the grid is unchanged
    none = C.candidate_sites(study, operator=None, kinds=("new_tower",), unserved=np.zeros(study.population.counts.shape, bool))
    assert (none["source"] == "grid").all() and len(none) == len(grid)
