"""A workflow's results in the study's own units (``[study] units``), and the new province as a
study made of parts (``[study] parts``).

The analyses always run on the grid, in the communes the study's layers give (the units
before 1 July 2025 for the sample). A study with ``units = "2025"`` is then reported in the
units since the reform: :func:`results_in_new_units` gives back the same
:class:`~ictplan.workflow.Results` with

* ``scorecard`` in the new units (:func:`~ictplan.admin.studies.scorecard_in_new_units`:
  grid indicators measured with the new units' zone weights, the rest moved by the
  crosswalk from numerators and denominators);
* ``coverage.table`` measured on the new units' polygons (zone weights, no re-analysis);
* ``fiber.communes`` moved by the crosswalk (counts; shares re-derived), no districts;
* ``study``: the same study whose communes layer is the new units' polygons, so the map
  and the report draw and tabulate the new units with their names and types;
* ``old_units``: the results in the old units, ``side_by_side``: the province of both
  (:func:`~ictplan.admin.studies.units_side_by_side`, same totals over the same territory).

A study with ``parts`` (e.g. ``data/camau_2025``: old Cà Mau and old Bạc Liêu) runs each
part in the new units and combines them (:func:`run_parts`): the scorecard by
:func:`~ictplan.admin.studies.new_province_scorecard` (the old plan's targets applied to
the new province), the coverage and fiber tables by concatenating the parts' new units and
summing their province counts.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._errors import ConfigError
from ..study import DEFAULT_UNITS
from . import studies

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from ..coverage import CoverageResult
    from ..fiber import FiberResult
    from ..study import Study
    from ..workflow import Results

__all__ = ["study_in_new_units", "results_in_new_units", "run_parts", "territory", "combined_study"]

_DERIVED = ("communes", "districts", "zones")  # cache keys that hold the communes or what is built on them


def _fresh_cache(study: Study) -> dict[str, Any]:
    """The study's loaded layers, without the communes and what was built on them."""
    return {k: v for k, v in study._cache.items() if not str(k).startswith(_DERIVED) and "communes" not in str(k)}


def study_in_new_units(study: Study, polygons: gpd.GeoDataFrame, /) -> Study:
    """``study`` with the new units' polygons as its communes (names, types, ``formed_from``;
    no districts since 1 July 2025) and ``units = "2025"``; every other layer is the study's."""
    com = polygons.drop(columns=[c for c in ("district_code", "district_name") if c in polygons.columns])
    cache = _fresh_cache(study)
    cache["communes"] = com
    cache["communes@work"] = com if com.crs.equals(study.crs) else com.to_crs(study.crs)
    return dataclasses.replace(study, units="2025", _cache=cache)


def _coverage_new(cov: CoverageResult | None, study: Study, polygons: gpd.GeoDataFrame) -> CoverageResult | None:
    if cov is None or cov.table is None:
        return cov
    return dataclasses.replace(cov, table=studies.coverage_in_new_units(cov, study.population, polygons))


def _fiber_new(fib: FiberResult | None, cw: Any, polygons: gpd.GeoDataFrame) -> FiberResult | None:
    if fib is None or fib.communes is None or "commune_code" not in fib.communes.columns:
        return fib
    tab = studies.fiber_in_new_units(pd.DataFrame(fib.communes), cw)
    names = polygons.set_index("commune_code")["commune_name"]
    if "commune_name" not in tab.columns:
        tab.insert(1, "commune_name", tab["commune_code"].map(names).to_numpy())
    else:
        tab["commune_name"] = tab["commune_code"].map(names).fillna(tab["commune_name"]).to_numpy()
    return dataclasses.replace(fib, communes=tab, districts=fib.districts.iloc[:0])


def results_in_new_units(results: Results, /) -> Results:
    """``results`` (of a study in the old communes) reported in the new units (module docstring).

    Raises
    ------
    InputValidationError
        The study's communes are not old units of the official mapping, or do not make up
        whole new units (from the crosswalk).
    """
    study = results.study
    com = study.layer_in_crs("communes")
    cw = studies.study_crosswalk(study)
    polys = studies.new_unit_polygons(com)
    cov = results.coverage
    sc = results.scorecard
    scn = side = None
    if sc is not None:
        pop = study.population if cov is not None else None
        scn = studies.scorecard_in_new_units(sc, cw, polygons=polys, coverage=cov, population=pop)
        side = studies.units_side_by_side(sc, scn)
    return dataclasses.replace(
        results, study=study_in_new_units(study, polys), coverage=_coverage_new(cov, study, polys),
        fiber=_fiber_new(results.fiber, cw, polys), scorecard=scn, units="2025", old_units=results, side_by_side=side,
        crosswalk=cw)


# ============================================================================ the new province from its parts
def combined_study(study: Study, parts: list[Study], /) -> Study:
    """The study of the new province: its communes are the parts' (already new units), every
    vector layer that all parts have is theirs together (in the study's CRS); no population
    raster (each part has its own grid)."""
    import geopandas as gpd

    cache: dict[str, Any] = {}
    specs: dict[str, Any] = {}
    common = [n for n in parts[0].layer_specs if all(n in p.layer_specs for p in parts)]
    for name in common:
        if name in ("population", "landcover"):
            continue
        frames = [p.layer_in_crs(name) for p in parts]
        frames = [f if f.crs is None or f.crs.equals(study.crs) else f.to_crs(study.crs) for f in frames]
        g = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry=frames[0].geometry.name, crs=study.crs)
        cache[name] = cache[f"{name}@work"] = g
        # the first part's file, relative to the study (no machine path in a report)
        specs[name] = {**parts[0].layer_specs[name], "path": os.path.relpath(parts[0].path_of(name), study.root)}
    return dataclasses.replace(study, layer_specs=specs, _cache=cache,
                               synthetic=study.synthetic or any(p.synthetic for p in parts))


#: Coverage table columns that are counts (summed over parts) and the means and shares kept as
#: (column, weight column): re-derived as Σ weight × value / Σ weight, never averaged.
_COV_COUNTS = ("population", "pop_covered", "pop_ge_target", "pop_covered_indoor", "users")
_COV_MEANS = {"mean_tput_mbps": "pop_covered", "mean_user_mbps": "users", "pct_users_ge_target": "users"}
_COV_SHARES = {"pct_covered": "pop_covered", "pct_ge_target": "pop_ge_target", "pct_covered_indoor": "pop_covered_indoor"}


def _summed_rows(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows of several parts with the same ``keys`` as one: counts summed, means and shares
    re-derived from them (:data:`_COV_MEANS`, :data:`_COV_SHARES`); ``target_mbps`` kept where
    the parts agree; ``p10_user_mbps`` (a percentile of each part's users) cannot be combined."""
    counts = [c for c in _COV_COUNTS if c in rows.columns]
    means = {m: w for m, w in _COV_MEANS.items() if m in rows.columns and w in rows.columns}
    work = rows.assign(**{f"_w_{m}": np.nan_to_num(rows[m].to_numpy(np.float64)) * rows[w].to_numpy(np.float64)
                          for m, w in means.items()})
    g = work.groupby(keys, sort=False, dropna=False)
    out = g[counts + [f"_w_{m}" for m in means]].sum(min_count=1).reset_index()
    first = g[[c for c in ("zone_name",) if c in rows.columns]].first().reset_index(drop=True)
    out = pd.concat([out, first], axis=1)
    if "target_mbps" in rows.columns:
        tgt = g["target_mbps"].agg(lambda v: v.iloc[0] if v.nunique(dropna=False) == 1 else np.nan)
        out["target_mbps"] = tgt.to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        for m, w in means.items():
            out[m] = np.where(out[w] > 0, out.pop(f"_w_{m}") / out[w].where(out[w] > 0, 1.0), np.nan)
        for sh, num in _COV_SHARES.items():
            if sh in rows.columns and num in out.columns:
                out[sh] = np.where(out["population"] > 0, 100.0 * out[num] / out["population"], np.nan)
    if "p10_user_mbps" in rows.columns:
        out["p10_user_mbps"] = np.nan
    return out


def _combined_coverage(parts: list[Results]) -> CoverageResult | None:
    """The parts' coverage tables as one: their new units' rows, and the province and every
    level's ``"(outside zones)"`` row summed over the parts (:func:`_summed_rows`)."""
    from ..grid import OUTSIDE_ZONES

    covs = [p.coverage for p in parts]
    if any(c is None or c.table is None for c in covs):
        return None
    tabs: list[pd.DataFrame] = [c.table for c in covs if c is not None and c.table is not None]
    cat = pd.concat(tabs, ignore_index=True)
    whole = (cat["level"] == "province") | (cat["zone_code"].astype(str) == OUTSIDE_ZONES)
    keys = ["level", "zone_code", "technology", "operator"]
    summed = _summed_rows(cat[whole], keys)
    prov, outside = summed[summed["level"] == "province"], summed[summed["level"] != "province"]
    table = pd.concat([prov, cat[~whole], outside], ignore_index=True)[list(tabs[0].columns)]
    return dataclasses.replace(covs[0], table=table, layers={})  # type: ignore[type-var]


def _concat_networks(nets: list[Any]) -> tuple[Any, list[int]]:
    """The parts' road networks as one (nodes and edges renumbered, components kept apart),
    and each part's first edge id in it."""
    from ..network import EdgeNetwork

    n0 = np.cumsum([0] + [n.n_nodes for n in nets[:-1]])
    e0 = np.cumsum([0] + [n.n_edges for n in nets[:-1]]).tolist()
    c0 = np.cumsum([0] + [int(n.node_component.max()) + 1 if n.n_nodes else 0 for n in nets[:-1]])
    cat = np.concatenate
    repairs: dict[str, int] = {}
    for n in nets:
        for k, v in n.repairs.items():
            repairs[k] = repairs.get(k, 0) + int(v)
    net = EdgeNetwork(
        node_xy=cat([n.node_xy for n in nets]), u=cat([n.u + o for n, o in zip(nets, n0, strict=True)]),
        v=cat([n.v + o for n, o in zip(nets, n0, strict=True)]), length_m=cat([n.length_m for n in nets]),
        crossing_cost_m=cat([n.crossing_cost_m for n in nets]), geometry=cat([n.geometry for n in nets]),
        kind=cat([n.kind for n in nets]), source_index=cat([np.asarray(n.source_index, dtype=object) for n in nets]),
        node_component=cat([n.node_component + o for n, o in zip(nets, c0, strict=True)]), crs=nets[0].crs,
        repairs=repairs, water=cat([n.water for n in nets]), side=cat([n.bank_side for n in nets]))
    return net, e0


def _with_edge_offset(tab: pd.DataFrame, offset: int) -> pd.DataFrame:
    """A part's table with its ``edge_id`` (−1: none) numbered in the combined network."""
    if "edge_id" not in tab.columns or offset == 0:
        return tab
    e = tab["edge_id"].to_numpy()
    return tab.assign(edge_id=np.where(e >= 0, e + offset, e))


def _combined_organisation_summary(fibs: list[Any]) -> pd.DataFrame:
    """The organisations per group over the parts: counts summed, shares re-derived."""
    tabs = [f.organisation_summary for f in fibs if len(f.organisation_summary)]
    if not tabs:
        return fibs[0].organisation_summary
    out = pd.concat(tabs, ignore_index=True).groupby("group", as_index=False, sort=False)[
        ["organisations", "reachable", "ge_1gbps"]].sum()
    m = out["organisations"].to_numpy(np.float64)
    for pct, num in (("pct_reachable", "reachable"), ("pct_ge_1gbps", "ge_1gbps")):
        out[pct] = np.where(m > 0, 100.0 * out[num].to_numpy(np.float64) / np.where(m > 0, m, 1.0), np.nan)
    return out[list(tabs[0].columns)]


def _combined_fiber(parts: list[Results]) -> FiberResult | None:
    """The parts' fiber results as one: their tables concatenated (``edge_id`` numbered in the
    parts' networks put together), the province's counts summed and its shares re-derived.
    No ``grid``: each part's households lie on its own population grid, so the combined
    households are written as points. ``diagnostics``: the tables every part has,
    concatenated, and each part's own under ``"parts"``."""
    fibs: list[Any] = [p.fiber for p in parts]
    if any(f is None for f in fibs):
        return None
    f0 = fibs[0]
    net, e0 = _concat_networks([f.network for f in fibs])
    cat = {name: pd.concat([_with_edge_offset(getattr(f, name), o) for f, o in zip(fibs, e0, strict=True)],
                           ignore_index=True)
           for name in ("communes", "households", "hamlets", "organisations")}
    provs = [f.province for f in fibs]
    counts = [c for c in provs[0].columns if pd.api.types.is_numeric_dtype(provs[0][c]) and not str(c).startswith("pct_")]
    prov = pd.DataFrame([{c: sum(float(p[c].iloc[0]) for p in provs) for c in counts}])
    ratios = {**studies.FIBER_RATIOS, "pct_hamlets_reached": ("hamlets_reached", "hamlets", 100.0)}
    for out, (num, den, scale) in ratios.items():
        if num in prov.columns and den in prov.columns:
            prov[out] = np.where(prov[den] > 0, scale * prov[num] / prov[den].where(prov[den] > 0, 1.0), np.nan)
    org_sum = _combined_organisation_summary(fibs)
    if "pct_urban_orgs_1gbps" in provs[0].columns and len(org_sum):
        urban = org_sum[org_sum["group"] == "urban"]
        prov["pct_urban_orgs_1gbps"] = float(urban["pct_ge_1gbps"].iloc[0]) if len(urban) else np.nan
    for c in ("level", "zone_code", "zone_name"):
        if c in provs[0].columns:
            prov.insert(0, c, provs[0][c].iloc[0])
    geoms = [f.hamlet_geometry for f in fibs]
    hgeom = (np.concatenate([np.asarray(list(g), dtype=object) for g in geoms])
             if all(g is not None for g in geoms) else None)
    shared = [k for k, v in f0.diagnostics.items()
              if isinstance(v, pd.DataFrame) and all(isinstance(f.diagnostics.get(k), pd.DataFrame) for f in fibs)]
    diag: dict[str, Any] = {k: pd.concat([f.diagnostics[k] for f in fibs], ignore_index=True) for k in shared}
    diag["parts"] = [f.diagnostics for f in fibs]
    return dataclasses.replace(f0, province=prov[[c for c in provs[0].columns if c in prov.columns]],
                               districts=f0.districts.iloc[:0], organisation_summary=org_sum, network=net,
                               hamlet_geometry=hgeom, grid=None, diagnostics=diag, **cat)


def run_parts(study: Study, /, *, jobs: Iterable[str] | str, progress: Any = None, targets_plan: Any = None,
              **overrides: Mapping[str, Any] | None) -> Results:
    """Run ``jobs`` on each part of ``study`` (``[study] parts``), each in the new units, and
    combine them (module docstring). ``Results.parts`` holds each part's results (in the new
    units; each with its ``old_units``). The plan is the study's ``[targets]`` (else each
    part's own, which must be the same targets).

    Raises
    ------
    ConfigError
        A part is itself made of parts.
    InputValidationError
        The parts share a new unit, or score different targets.
    """
    from .. import study as _study
    from .. import targets as _targets
    from .. import workflow

    loaded = [_study.load(p) for p in study.parts]
    if any(p.parts for p in loaded):
        raise ConfigError(f"{study.root / 'study.toml'}: a part is itself made of parts; list the old provinces' studies.")
    if targets_plan is None and study.targets_path is not None:
        targets_plan = _targets.load_targets(study.targets_path)
    done = []
    for p in loaded:
        r = workflow.run(dataclasses.replace(p, units="2025"), jobs=jobs, progress=progress, targets_plan=targets_plan, **overrides)
        done.append(r)
    combined = combined_study(study, [r.study for r in done])
    sc = None
    if all(r.scorecard is not None for r in done):
        sc = studies.new_province_scorecard([r.scorecard for r in done],  # type: ignore[misc]
                                            name=study.province or study.name)
        sc.meta["study"] = f"{study.name}: {studies.NEW_PROVINCE}"
    skipped = {job: "; ".join(f"{r.study.name}: {r.skipped[job]}" for r in done if job in r.skipped)
               for job in dict.fromkeys(j for r in done for j in r.skipped)}
    for job in ("sharing", "sensitivity"):  # per part only: said, not dropped silently
        if job not in skipped and any(r.get(job) is not None for r in done):
            skipped[job] = (f"{job} is not combined over the parts of {study.name}; each part's result is in "
                            "Results.parts (run the job on each part's study)")
    res = workflow.Results(study=combined, coverage=_combined_coverage(done), fiber=_combined_fiber(done),
                           sharing=None, scorecard=sc, skipped=skipped,
                           seconds={k: sum(r.seconds.get(k, 0.0) for r in done) for k in done[0].seconds},
                           parameters=done[0].parameters)
    res.units, res.parts = "2025", done
    return res


# ============================================================================ which territory
_TERRITORY = {
    "vi": {"parts": "Toàn tỉnh {p} mới (từ 1/7/2025), gồm địa bàn tỉnh {names} cũ",
           "old": "Tỉnh {p} cũ (địa giới trước 1/7/2025)",
           "units_old": "báo cáo theo {n} xã, phường, thị trấn trước 1/7/2025",
           "units_new": "báo cáo theo {n} đơn vị hành chính cấp xã từ 1/7/2025",
           "of_new": " ({n} trong {total} đơn vị của tỉnh mới)"},
    "en": {"parts": "The whole new {p} province (since 1 July 2025), made of the old {names} provinces",
           "old": "The old {p} province (boundaries before 1 July 2025)",
           "units_old": "reported in its {n} communes before 1 July 2025",
           "units_new": "reported in {n} commune-level units since 1 July 2025",
           "of_new": " ({n} of the new province's {total} units)"},
}


def territory(results: Results, /, lang: str = "en") -> str:
    """Which territory a study's results cover and in which units, in ``lang``: the whole new
    province (a study made of parts) or the old province alone, e.g. "The old Cà Mau province
    (boundaries before 1 July 2025), reported in 39 commune-level units since 1 July 2025 (39
    of the new province's 64 units)"."""
    W = _TERRITORY["vi" if lang == "vi" else "en"]
    s = results.study
    p = s.province or s.name
    try:
        n = int(len(s.layer("communes")))
    except Exception:  # noqa: BLE001 - a study without communes still has a territory
        n = 0
    parts = getattr(results, "parts", None) or []
    if parts:
        names = [str(r.study.province or r.study.name) for r in parts]
        joined = (", ".join(names[:-1]) + (" và " if lang == "vi" else " and ") + names[-1]) if len(names) > 1 else names[0]
        head = W["parts"].format(p=p, names=joined)
    else:
        head = W["old"].format(p=p)
    if getattr(results, "units", DEFAULT_UNITS) == "2025":
        from .units import units_table

        total = len(units_table("new"))  # the new Cà Mau province: the registry's 64 units
        tail = ", " + W["units_new"].format(n=n) + ("" if parts and n == total else W["of_new"].format(n=n, total=total))
    else:
        tail = ", " + W["units_old"].format(n=n)
    return head + tail
