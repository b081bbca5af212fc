"""The plan's phases: build each phase on the one before, write it as a variant study and
re-run the analyses on it (:func:`ictplan.planning.plan.run` is the entry point)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from . import variant as _variant

if TYPE_CHECKING:  # pragma: no cover
    from ..study import Study
    from ..workflow import Results



def _empty(crs: Any) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"phase": pd.Series(dtype=str)}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


# ============================================================================ the pieces
def _fiber(study: Study, before: Results, kinds: Mapping[str, float], operator: str | None, prm: Any,
           progress: bool | None) -> Any:
    from .fiber_ext import extend_fiber

    if before.fiber is None or not study.has("roads"):
        return None
    return extend_fiber(study, before.fiber, operator=operator, households_target_frac=kinds.get("households"),
                        progress=progress, **_plan_overrides(prm))


def _postal(study: Study, kinds: Mapping[str, float], prm: Any, progress: bool | None) -> Any:
    from .postal import postal_gaps

    if not study.has("postal_points"):
        return None
    over = _plan_overrides(prm)
    if "postal_points" in kinds:  # P1's count, from the targets file (or --target P1=N), not a second default
        over["postal_points_target"] = int(round(kinds["postal_points"]))
    return postal_gaps(study, progress=progress, **over)


def _datacentres(study: Study, prm: Any, progress: bool | None) -> Any:
    from .datacentre import datacentre_sites

    return datacentre_sites(study, progress=progress, **_plan_overrides(prm))


_ORCHESTRATION = ("targets", "year", "operator", "budget_vnd", "variant_dir", "households_target_frac")


def _plan_overrides(prm: Any) -> dict[str, Any]:
    """The resolved plan parameters as keyword overrides for the pieces (which resolve them
    again), less the ones this module passes by name."""
    return {f.name: getattr(prm, f.name) for f in dataclasses.fields(prm) if f.name not in _ORCHESTRATION}


def _rollout(study: Study, before: Results, share: float | None, operator: str | None, budget_left: float | None,
             fixed: list[str], prm: Any, progress: bool | None) -> Any:
    """The phase's roll-out: to ``share`` at least cost; when that costs more than the budget
    left, the most people for the budget left instead."""
    from .rollout import plan_5g

    cov = before.require("coverage")
    kw = _plan_overrides(prm)
    ro = plan_5g(study, cov, operator=operator, target_share=share if share is not None else 0.0, fixed=fixed,
                 progress=progress, **kw)
    ro.meta["form"] = "target"
    if budget_left is not None and ro.cost_vnd > budget_left:
        ro = plan_5g(study, cov, operator=operator, budget_vnd=budget_left, fixed=fixed, progress=progress, **kw)
        ro.meta["form"] = "budget"
    return ro


def _moran(rows: pd.DataFrame, study: Study) -> pd.DataFrame:
    """A neutral host's sectors as every operator's own carrier on the shared site (multi-operator
    RAN): the operators with 5G in the sites layer (else every operator), each on its 5G band, so
    that each operator's subscribers load their own carrier in the re-run."""
    from .candidates import NEUTRAL, operator_band

    neutral = rows["operator"].astype(str) == NEUTRAL
    if not neutral.any():
        return rows
    sites = study.layer("sites")
    ops = sorted(set(sites.loc[sites["technology"].astype(str) == "5G", "operator"].astype(str))) \
        or sorted(set(sites["operator"].astype(str)))
    parts = [rows[~neutral]]
    for op in ops:
        band = operator_band(sites, op, str(rows.loc[neutral, "band"].iloc[0]))
        parts.append(rows[neutral].assign(operator=op, band=band, sector_id=rows.loc[neutral, "sector_id"] + f"-{op}"))
    return pd.concat(parts, ignore_index=True)


def _sectors(study: Study, sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The planned sites' 5G sectors (sites.csv columns) with their phase, as WGS84 points."""
    from .candidates import candidate_sectors

    parts = [candidate_sectors(part).assign(phase=str(ph)) for ph, part in sites.groupby("phase", sort=True)]
    return _variant.sectors_frame(_moran(pd.concat(parts, ignore_index=True), study))


def _capacity(study: Study, after: Results, ro: Any, prm: Any) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Second carriers (costed; their effect is the load model's estimate) and neighbour sites
    (candidates added to the plan) for the sectors over ``max_utilisation`` on the re-run plan."""
    from .rollout import capacity_additions

    empty = _empty(study.crs)
    if after.coverage is None or not len(ro.chosen):
        return empty, empty.iloc[:0]
    from .candidates import NEUTRAL

    ops = sorted(set(after.coverage.sectors["operator"].astype(str))) if ro.operator == NEUTRAL else [ro.operator]
    found = [capacity_additions(after.coverage, dataclasses.replace(ro, operator=op), study=study,
                                **_plan_overrides(prm)) for op in ops]  # a neutral host: every operator's carrier
    add = pd.concat([f for f in found if len(f)], ignore_index=True) if any(len(f) for f in found) else found[0]
    if not len(add):
        return empty, empty.iloc[:0]
    grid_crs = after.coverage.grid.crs
    pts = gpd.GeoDataFrame(add, geometry=gpd.points_from_xy(add["x"], add["y"]), crs=grid_crs).to_crs(study.crs)
    carriers = pts[pts["action"] == "second_carrier"].drop(columns=["x", "y"])
    ids = set(pts.loc[pts["action"] == "neighbour_site", "candidate_id"].astype(str))
    cands = ro.candidates
    neighbours = cands[cands["candidate_id"].astype(str).isin(ids)].assign(reason="capacity")
    return gpd.GeoDataFrame(carriers, crs=study.crs), neighbours


# ============================================================================ one phase
def _additions(study: Study, sites: list[gpd.GeoDataFrame], fiber: Any, postal: Any) -> dict[str, gpd.GeoDataFrame]:
    """Layer name → the planned features to add, for a variant of every phase so far."""
    out: dict[str, gpd.GeoDataFrame] = {}
    planned = [s for s in sites if len(s)]
    if planned:
        out["sites"] = _sectors(study, pd.concat(planned, ignore_index=True))
    if fiber is not None and len(fiber.segments):
        out["fiber_routes"] = fiber.routes_layer().assign(phase="2025")
        if len(fiber.access_points) and study.has("access_points"):  # new FATs: ports for the households passed
            out["access_points"] = fiber.access_points_layer().assign(phase="2025")
    if postal is not None and len(postal.points):
        out["postal_points"] = postal.points_layer().assign(phase="2025")
    return out


def _today_parameters(study: Study, before: Results, year: int) -> dict[str, dict[str, Any]]:
    """The analyses' parameters as today's run resolved them (study.toml and CLI flags), for the
    variant, with files named relative to the study made absolute and the phase's demand year."""
    out: dict[str, dict[str, Any]] = {}
    for job in ("coverage", "fiber", "sharing", "scorecard"):
        prm = before.parameters.get(job)
        if prm is None:
            continue
        vals = {k: v for k, v in dataclasses.asdict(prm).items() if v is not None}
        for k, v in vals.items():
            if k.endswith("_table") and isinstance(v, str):
                vals[k] = str((study.root / v).resolve())
        out[job] = vals
    out.setdefault("coverage", {})["year"] = year
    return out


def _check_phase(study: Study, before: Results, py: str, additions: dict[str, gpd.GeoDataFrame], root: Path,
                 progress: bool | None) -> tuple[Results, Path]:
    from .. import workflow

    folder = root / f"variant_{py}"
    name = f"{study.name} — plan to {py}"
    v = _variant.write_variant(study, folder, additions=additions, name=name,
                               description=f"ictplan plan: today's layers plus what the plan builds by {py}",
                               parameters=_today_parameters(study, before, int(py)))
    return workflow.run(v, jobs=("scorecard",), progress=progress), folder


def _affordable(frame: gpd.GeoDataFrame, state: dict[str, Any]) -> gpd.GeoDataFrame:
    """The rows of ``frame`` (in order) that fit in what is left of the budget (all without one),
    their cost counted as spent; the rows left out are counted in ``state["over_budget"]``."""
    if state["budget"] is None or not len(frame):
        keep = frame
    else:
        room = max(state["budget"] - state["spent"], 0.0)
        keep = frame[frame["cost_vnd"].cumsum().to_numpy() <= room + 1e-6]
        state["over_budget"] += len(frame) - len(keep)
    state["spent"] += float(keep["cost_vnd"].sum()) if len(keep) else 0.0
    return keep


def _phase(study: Study, before: Results, py: str, kinds: Mapping[str, float], state: dict[str, Any], prm: Any,
           root: Path, progress: bool | None) -> None:
    """Build phase ``py`` on ``state`` (the phases so far), write it, re-run the analyses on it.
    Every cost of the phase (sites, then carriers and neighbour sites) is counted against the budget."""
    left = None if state["budget"] is None else max(state["budget"] - state["spent"], 0.0)
    fixed = [str(i) for s in state["sites"] for i in s["candidate_id"]]
    ro = _rollout(study, before, kinds.get("pop_5g"), state["operator"], left, fixed, prm, progress)
    state["rollout"][py] = ro
    state["sites"].append(ro.chosen.assign(phase=py, reason="coverage"))
    state["spent"] += float(ro.chosen["cost_vnd"].sum()) if len(ro.chosen) else 0.0
    after, folder = _check_phase(study, before, py, _additions(study, state["sites"], state["fiber"],
                                                                state["postal"]), root, progress)
    carriers, neighbours = _capacity(study, after, ro, prm)
    carriers, neighbours = _affordable(carriers, state), _affordable(neighbours, state)
    if len(carriers):  # costed; their effect is the load model's estimate (a re-run has one carrier per band)
        state["carriers"].append(carriers.assign(phase=py))
    if len(neighbours):  # neighbour sites are built and the plan checked again with them
        state["sites"].append(neighbours.assign(phase=py))
        after, folder = _check_phase(study, before, py, _additions(study, state["sites"], state["fiber"],
                                                                    state["postal"]), root, progress)
    state["after"][py] = after
    state["variants"][py] = folder


def _timed(seconds: dict[str, float], key: str, fn: Any, *args: Any) -> Any:
    t0 = time.perf_counter()
    out = fn(*args)
    seconds[key] = time.perf_counter() - t0
    return out


def build(study: Study, before: Results, kinds: Mapping[str, Mapping[str, float]], *, operator: str | None,
          budget_vnd: float | None, prm: Any, root: Path, progress: bool | None,
          seconds: dict[str, float]) -> dict[str, Any]:
    """Every phase of the plan, its variant studies re-run, and the tables of what is built."""
    from . import tables as _tables

    first = next(iter(kinds))
    state: dict[str, Any] = {"operator": operator, "budget": budget_vnd, "spent": 0.0, "over_budget": 0,
                             "sites": [], "carriers": [],
                             "rollout": {}, "after": {}, "variants": {}}
    # fiber and postal points are built in the first phase to the last phase's targets (they hold every
    # earlier one, and a --target F2=... or P1=N given for --year 2030)
    end = kinds[list(kinds)[-1]]
    state["fiber"] = _timed(seconds, "fiber", _fiber, study, before, end, operator, prm, progress)
    state["postal"] = _timed(seconds, "postal", _postal, study, end, prm, progress)
    dc = _timed(seconds, "datacentre", _datacentres, study, prm, progress) if "2030" in kinds else None
    for py, k in kinds.items():
        _timed(seconds, f"phase_{py}", _phase, study, before, py, k, state, prm, root, progress)
    last = list(kinds)[-1]
    feats = _tables.features(study, state, dc, first, prm)
    return {
        **feats,
        "phases": _tables.phases_table(feats),
        "by_commune": _tables.by_commune(study, feats),
        "check": (check := _tables.check_table(before, state["after"])),
        "scorecard_after": state["after"][last].scorecard,
        "variants": state["variants"],
        "rollout": state["rollout"],
        "notes": _tables.notes(state, kinds, check),
    }
