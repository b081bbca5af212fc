"""ictplan.workflow: jobs in dependency order, each once; one policy for missing inputs;
parameters from defaults < study.toml [parameters] < overrides, recorded per job."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import ictplan
from ictplan import coverage, fiber, sharing, targets, workflow
from ictplan import study as _study
from ictplan.errors import ConfigError, InputValidationError
from ictplan.parameters import FIBER

from ._studydata import build_study
from .conftest import REPO, SAMPLE


def _sample_copy(tmp: Path, extra: str = "") -> Path:
    """The sample's study.toml in ``tmp`` (paths made absolute), with ``extra`` appended."""
    text = (SAMPLE / "study.toml").read_text(encoding="utf-8")
    text = text.replace('path = "', f'path = "{SAMPLE.as_posix()}/')
    tmp.mkdir(parents=True, exist_ok=True)
    (tmp / "study.toml").write_text(text + "\n" + extra, encoding="utf-8")
    return tmp


@pytest.fixture()
def calls(monkeypatch):
    """Replace every analysis by a stub that records its call (job, keywords) in order."""
    log: list[tuple[str, dict]] = []

    def stub(job):
        def run(study, /, **kw):
            log.append((job, kw))
            return f"{job}-result"
        return run

    for job, mod in (("coverage", coverage), ("fiber", fiber), ("sharing", sharing), ("scorecard", targets)):
        monkeypatch.setattr(mod, "run", stub(job))
    return log


def test_workflow_is_exported():
    assert ictplan.workflow is workflow
    assert workflow.JOBS == ("coverage", "fiber", "sharing", "scorecard")


def test_jobs_run_once_in_dependency_order(calls):
    s = _study.load(SAMPLE)
    res = workflow.run(s, jobs=("scorecard", "fiber", "scorecard"))  # asked twice, in the wrong order
    assert [job for job, _ in calls] == ["coverage", "fiber", "scorecard"]  # pulled in, each once; no sharing
    assert res.ran == ["coverage", "fiber", "scorecard"] and res.skipped == {}
    kw = calls[-1][1]
    assert kw["coverage"] == "coverage-result" and kw["fiber"] == "fiber-result" and kw["sharing"] is None
    assert set(res.seconds) == {"coverage", "fiber", "scorecard"} and all(v >= 0 for v in res.seconds.values())
    calls.clear()
    res = workflow.run(s)
    assert [job for job, _ in calls] == list(workflow.JOBS)
    assert calls[-1][1]["sharing"] == "sharing-result"
    assert res.get("sharing") == "sharing-result" and res.require("fiber") == "fiber-result"


def test_jobs_for():
    assert workflow.jobs_for("scorecard") == ["coverage", "fiber", "scorecard"]
    assert workflow.jobs_for(["sharing", "coverage"]) == ["coverage", "sharing"]
    with pytest.raises(ConfigError, match="unknown job"):
        workflow.jobs_for(["fibre"])


def test_parameters_resolved_and_passed(calls, tmp_path):
    s = _study.load(_sample_copy(tmp_path, "[parameters.fiber]\ndrop_limit_m = 500\ncorridor_m = 25\n"))
    res = workflow.run(s, jobs=("fiber",), fiber={"corridor_m": 30, "hamlet_threshold_frac": None})
    kw = dict(calls)["fiber"]
    assert kw["drop_limit_m"] == 500.0  # study.toml over the default
    assert kw["corridor_m"] == 30.0  # the keyword over study.toml
    assert kw["hamlet_threshold_frac"] == FIBER.hamlet_threshold_frac  # None leaves the value
    p = res.parameters["fiber"]
    assert (p.drop_limit_m, p.corridor_m, p.hamlet_threshold_frac) == (500.0, 30.0, FIBER.hamlet_threshold_frac)


@pytest.mark.parametrize("overrides, toml, match", [
    ({"fiber": {"drop_limitm": 5}}, "", "unknown fiber parameter 'drop_limitm'"),
    ({"fibre": {"drop_limit_m": 5}}, "", "unknown job"),
    ({"fiber": 500}, "", "as a dict"),
    ({"sharing": {"corridor": 5}}, "", "unknown sharing parameter 'corridor'"),  # sharing not run: still refused
    ({}, "[parameters.fiber]\ndroplimit = 5\n", "unknown fiber parameter 'droplimit'"),
    ({}, '[parameters.fiber]\ndrop_limit_m = "far"\n', "expected a float"),
])
def test_bad_parameter_is_a_config_error_before_any_job(calls, tmp_path, overrides, toml, match):
    s = _study.load(_sample_copy(tmp_path, toml))
    with pytest.raises(ConfigError, match=match):
        workflow.run(s, jobs=("fiber",), **overrides)
    assert calls == []


def test_refused_data_is_skipped_with_its_error(calls, monkeypatch):
    def refuse(study, /, **kw):
        raise InputValidationError("the roads layer has 3 lines with no geometry")

    monkeypatch.setattr(fiber, "run", refuse)
    events: list[tuple[str, str, str]] = []
    res = workflow.run(_study.load(SAMPLE), jobs=("scorecard",), progress=lambda *e: events.append(e))
    assert res.ran == ["coverage", "scorecard"]
    assert "no geometry" in res.skipped["fiber"] and isinstance(res.errors["fiber"], InputValidationError)
    assert dict(calls)["scorecard"]["skipped"] == {"fiber": res.skipped["fiber"]}  # the scorecard is told why
    assert [(j, e) for j, e, _ in events] == [("coverage", "start"), ("coverage", "done"), ("fiber", "start"),
                                               ("fiber", "skipped"), ("scorecard", "start"), ("scorecard", "done")]
    with pytest.raises(InputValidationError, match="no geometry"):
        res.require("fiber")
    with pytest.raises(ConfigError, match="not asked for"):
        res.require("sharing")
    with pytest.raises(KeyError):
        res.get("fibre")


def test_progress_flag_reaches_the_analyses(calls):
    workflow.run(_study.load(SAMPLE), jobs=("coverage",), progress=False)
    assert dict(calls)["coverage"]["progress"] is False

    class Steps:  # a callback; its `bars` attribute goes to the analyses
        bars = True

        def __call__(self, job, event, detail):
            pass

    calls.clear()
    workflow.run(_study.load(SAMPLE), jobs=("fiber",), progress=Steps())
    assert dict(calls)["fiber"]["progress"] is True


# ---------------------------------------------------------------------------- real analyses
def _no_roads_study(root: Path) -> _study.Study:
    """The small synthetic study (no roads), with profiles and the sample's targets."""
    build_study(root)
    with open(root / "study.toml", "a", encoding="utf-8") as f:
        f.write(f'\n[profiles]\npath = "{(REPO / "data/profiles/default.toml").as_posix()}"\n'
                f'\n[targets]\npath = "{(REPO / "data/targets/camau_2021_2030.toml").as_posix()}"\n')
    return _study.load(root)


def test_study_without_roads_skips_fiber_and_still_scores(tmp_path):
    s = _no_roads_study(tmp_path / "s")
    res = workflow.run(s, progress=False)
    assert res.fiber is None and "roads" in res.skipped["fiber"]
    assert res.ran == ["coverage", "sharing", "scorecard"]
    sc = res.scorecard
    prov = sc.province().set_index("target_id")
    assert prov.loc["F2", "status"] == "no data" and "roads" in prov.loc["F2", "reason"]  # the absence, with its reason
    # mobile targets were scored from the coverage result: M1 (mean 4G speed over all users, own operator)
    cov = res.coverage.table
    row = cov[(cov["level"] == "province") & (cov["operator"] == "any") & (cov["technology"] == "4G")].iloc[0]
    assert prov.loc["M1", "value"] == pytest.approx(float(row["mean_user_mbps"]))
    assert set(res.seconds) == {"coverage", "sharing", "scorecard"}


@pytest.fixture(scope="module")
def fiber_500(tmp_path_factory):
    """The sample with [parameters.fiber] drop_limit_m = 500, run to the scorecard (coverage refused)."""
    root = _sample_copy(tmp_path_factory.mktemp("p500"), "[parameters.fiber]\ndrop_limit_m = 500\n")
    mp = pytest.MonkeyPatch()

    def refuse(study, /, **kw):
        raise InputValidationError("coverage left out of this test")

    mp.setattr(coverage, "run", refuse)
    try:
        return workflow.run(_study.load(root), jobs=("scorecard",))
    finally:
        mp.undo()


def test_study_parameters_reach_fiber_and_the_scorecard(fiber_500):
    res = fiber_500
    assert res.ran == ["fiber", "scorecard"] and "left out" in res.skipped["coverage"]
    assert res.parameters["fiber"].drop_limit_m == 500.0
    assert res.fiber.parameters["drop_limit_m"] == 500.0
    p = res.fiber.province.iloc[0]
    prov = res.scorecard.province().set_index("target_id")
    assert prov.loc["F2", "value"] == pytest.approx(p["pct_with_port"])  # households within reach, with a port
    assert prov.loc["F1", "value"] == pytest.approx(p["pct_hamlets_reached"])  # hamlets reached
    assert prov.loc["M1", "status"] == "no data" and "left out" in prov.loc["M1", "reason"]


def test_keyword_override_equals_study_parameters(fiber_500):
    res = workflow.run(_study.load(SAMPLE), jobs=("fiber",), fiber={"drop_limit_m": 500})
    pd.testing.assert_frame_equal(res.fiber.province, fiber_500.fiber.province)
    pd.testing.assert_frame_equal(res.fiber.communes, fiber_500.fiber.communes)


def test_gso_communes_without_districts_run_coverage_scorecard_map_and_report(tmp_path):
    """Communes in GSO column names (ma_xa, ten_xa, loai_xa), no district, no census: the
    whole workflow runs, the district level is absent everywhere, and the report's 4G
    headline is the coverage table's province row."""
    import warnings

    from ictplan import maps, report
    from ictplan import study as _study

    from ._mapstudy import gso_communes, variant

    root = variant(tmp_path / "st", communes=gso_communes(), profiles=True)
    targets = (Path(__file__).resolve().parents[1] / "data" / "targets" / "camau_2021_2030.toml").as_posix()
    with open(root / "study.toml", "a", encoding="utf-8") as fh:
        fh.write(f'\n[targets]\npath = "{targets}"\n')
    s = _study.load(root)
    assert not s.has("districts")
    assert set(s.layer("communes")["commune_code"]) == set(gso_communes()["ma_xa"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = workflow.run(s)
    assert res.ran == ["coverage", "sharing", "scorecard"]
    assert set(res.skipped) == {"fiber"} and "roads" in res.skipped["fiber"]
    t = res.coverage.table
    assert "districts" not in set(t["level"])
    assert set(res.scorecard.table["level"]) == {"province", "commune"}
    prov = t[(t["level"] == "province") & (t["operator"] == "any") & (t["technology"] == "4G")].iloc[0]
    # people in the six communes = raster total (the communes tile the raster exactly)
    assert prov["population"] == pytest.approx(float(s.population.counts.sum()), rel=1e-9)
    figures = report.result_figures(report.key_figures(s), coverage=res.coverage)
    assert figures["province"]["pct_4g_covered"].iloc[0] == pytest.approx(prov["pct_covered"])
    page = report.build(res, lang="vi")
    assert "<h3>By district</h3>" not in page
    assert maps.external_resources(maps.to_html(maps.results_map(res))) == []
    from ictplan import targets as _targets

    paths = _targets.write_scorecard(res.scorecard, tmp_path / "sc")
    import pyogrio

    assert [name for name, _ in pyogrio.list_layers(paths["gpkg"])] == ["communes", "targets"]  # targets: the field lookup
    assert "## Districts" not in paths["markdown"].read_text(encoding="utf-8")
