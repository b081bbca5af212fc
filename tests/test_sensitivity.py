"""The sensitivity table (issue 11 item 7): each row against an independent coverage run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ictplan import coverage, sensitivity, workflow
from ictplan import study as _study
from ictplan._errors import InputValidationError
from ictplan.cli import main
from tests._studydata import PROFILES, build_study


@pytest.fixture(scope="module")
def sens(tmp_path_factory):
    root = build_study(tmp_path_factory.mktemp("sens") / "s")
    with (root / "study.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n[profiles]\npath = "{PROFILES.as_posix()}"\n')
    s = _study.load(root)
    base = coverage.run(s, progress=False)
    tab = sensitivity.table(s, coverage=base, location_probabilities=(0.5, 0.9, 0.95), indoor_shares=(0.0, 0.5, 1.0),
                            demand_factors=(0.5, 1.5), uptake_years=(2025, 2030))
    return s, base, tab


def _prov(res, tech, col):
    t = res.table
    return float(t[(t.level == "province") & (t.operator == "any") & (t.technology == tech)][col].iloc[0])


def _row(tab, scenario, value_start):
    r = tab[(tab.scenario == scenario) & tab.value.str.startswith(value_start)]
    assert len(r) == 1, (scenario, value_start, tab[["scenario", "value"]])
    return r.iloc[0]


def test_base_row_is_the_coverage_tables_province(sens):
    s, base, tab = sens
    b = tab.iloc[0]
    assert b.scenario == "base" and "90 %" in b.value  # the default location probability, not rerun
    assert b.m1_mbps == pytest.approx(_prov(base, "4G", "mean_user_mbps"))
    assert b.m2_mbps == pytest.approx(_prov(base, "5G", "mean_user_mbps"))
    assert b.m3_pct == pytest.approx(_prov(base, "5G", "pct_covered"))
    assert b.cov_4g_indoor_pct == pytest.approx(_prov(base, "4G", "pct_covered_indoor"))
    assert list(tab.scenario) == ["base", "indoor share", "indoor share", "location probability",
                                  "location probability", "busy-hour demand", "busy-hour demand", "5G uptake"]
    assert (tab.loc[0, [c for c in tab.columns if c.endswith("_change")]] == 0).all()


def test_indoor_share_mixes_outdoor_and_indoor(sens):
    s, base, tab = sens
    full, half = _row(tab, "indoor share", "100 %"), _row(tab, "indoor share", "50 %")
    # everyone indoors: the indoor coverage; half: the mean of outdoor and indoor (linear in the share)
    assert full.m3_pct == pytest.approx(_prov(base, "5G", "pct_covered_indoor"), rel=1e-9)
    assert full.cov_4g_outdoor_pct == pytest.approx(_prov(base, "4G", "pct_covered_indoor"), rel=1e-9)
    out4, in4 = _prov(base, "4G", "pct_covered"), _prov(base, "4G", "pct_covered_indoor")
    assert half.cov_4g_outdoor_pct == pytest.approx((out4 + in4) / 2, rel=1e-9)
    assert np.isnan(half.m1_mbps) and "outdoors" in half.note  # speeds are not modelled indoors
    with pytest.raises(InputValidationError, match="indoor share"):
        sensitivity.indoor_share_figures(base, s.population, 1.5)


def test_location_probability_rows_match_a_run_at_that_probability(sens):
    s, base, tab = sens
    lo, hi = _row(tab, "location probability", "50 %"), _row(tab, "location probability", "95 %")
    run50 = coverage.run(s, progress=False, location_probability=0.5)
    assert lo.m3_pct == pytest.approx(_prov(run50, "5G", "pct_covered"))
    assert lo.cov_4g_outdoor_pct == pytest.approx(_prov(run50, "4G", "pct_covered"))
    # a higher probability never raises coverage; the speeds use the median signal and do not move
    b = tab.iloc[0]
    assert lo.cov_4g_outdoor_pct >= b.cov_4g_outdoor_pct >= hi.cov_4g_outdoor_pct
    assert lo.m3_pct >= b.m3_pct >= hi.m3_pct
    assert lo.m1_mbps == pytest.approx(b.m1_mbps) and hi.m2_mbps == pytest.approx(b.m2_mbps)


def test_demand_and_uptake_rows_go_through_the_load_model(sens):
    s, base, tab = sens
    b = tab.iloc[0]
    lo, hi = _row(tab, "busy-hour demand", "× 0.5"), _row(tab, "busy-hour demand", "× 1.5")
    prm = base.parameters
    run15 = coverage.run(s, progress=False, gb_per_month_2025=prm["gb_per_month_2025"] * 1.5,
                         gb_per_month_2030=prm["gb_per_month_2030"] * 1.5)
    assert hi.m1_mbps == pytest.approx(_prov(run15, "4G", "mean_user_mbps"), rel=1e-6)
    assert lo.m1_mbps >= b.m1_mbps >= hi.m1_mbps  # more demand never raises a speed
    assert lo.m3_pct == pytest.approx(b.m3_pct)  # coverage does not depend on the load
    up = _row(tab, "5G uptake", "2030")
    run_u = coverage.run(s, progress=False, uptake_5g_2025=prm["uptake_5g_2030"])
    assert up.m2_mbps == pytest.approx(_prov(run_u, "5G", "mean_user_mbps"), rel=1e-6)
    assert up.m1_mbps_change == pytest.approx(up.m1_mbps - b.m1_mbps)
    assert (tab.seconds[3:] > 0).all() and tab.attrs["seconds"] >= tab.seconds.sum()


def test_cli_and_optional_workflow_job(sens, tmp_path, capsys):
    s, base, tab = sens
    assert "sensitivity" not in workflow.jobs_for(workflow.JOBS)  # not in the default set
    assert workflow.jobs_for("sensitivity") == ["coverage", "sensitivity"]
    out = tmp_path / "o"
    assert main(["sensitivity", str(s.root), "--out", str(out), "--demand-factors", "1.5",
                 "--location-probabilities", "0.9", "--indoor-shares", "1"]) == 0
    csv = pd.read_csv(out / "sensitivity.csv")
    assert list(csv.scenario) == ["base", "indoor share", "busy-hour demand", "5G uptake"]
    assert csv.m1_mbps.iloc[2] == pytest.approx(_row(tab, "busy-hour demand", "× 1.5").m1_mbps, rel=1e-6)
    md = (out / "sensitivity.md").read_text(encoding="utf-8")
    assert "| busy-hour demand | × 1.5 |" in md and "M3" in md
    assert "sensitivity.md" in capsys.readouterr().out
    res = workflow.run(s, jobs=("sensitivity",), progress=False,
                       sensitivity={"location_probabilities": (0.9,), "demand_factors": (), "uptake_years": (),
                                    "indoor_shares": (1.0,)})
    assert res.ran == ["coverage", "sensitivity"] and len(res.sensitivity) == 2
    assert res.sensitivity.m3_pct.iloc[1] == pytest.approx(_row(tab, "indoor share", "100 %").m3_pct)
