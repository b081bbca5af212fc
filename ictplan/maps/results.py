"""Map layers from a workflow's :class:`~ictplan.workflow.Results`: only what the results
hold is drawn (nothing is run here); jobs that were skipped are named in the legend with
the reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import folium
import numpy as np
import pandas as pd
import shapely

from .studymap import RASTER_PEOPLE, labels, study_map

if TYPE_CHECKING:  # pragma: no cover
    from ..coverage import CoverageResult
    from ..fiber import FiberResult
    from ..sharing import SharingResult
    from ..study import Study
    from ..workflow import Results

__all__ = ["result_layers", "results_map", "skipped_notes"]

_RESULT_LABELS = {
    "en": {"pct_4g": "People covered by 4G (any operator)", "pct_5g": "People covered by 5G (any operator)",
           "pct_fiber": "Households within reach of fiber", "tput_4g": "4G throughput (best server)",
           "tput_5g": "5G throughput (best server)", "missing": "Fiber still missing (m)", "pct": "%",
           "operators": "Operators", "n_towers": "Towers", "length": "Length (m)", "route": "Route"},
    "vi": {"pct_4g": "Dân số được phủ sóng 4G (mọi nhà mạng)", "pct_5g": "Dân số được phủ sóng 5G (mọi nhà mạng)",
           "pct_fiber": "Hộ gia đình trong tầm cáp quang", "tput_4g": "Tốc độ 4G (trạm phục vụ tốt nhất)",
           "tput_5g": "Tốc độ 5G (trạm phục vụ tốt nhất)", "missing": "Cáp quang còn thiếu (m)", "pct": "%",
           "operators": "Nhà mạng", "n_towers": "Số trạm", "length": "Chiều dài (m)", "route": "Tuyến"},
}


def skipped_notes(results: Results, /, *, lang: str = "en") -> list[str]:
    """One sentence per job that did not run: ``"<job>: <reason>"`` (prefixed "Not shown"):
    in English the workflow's own reason; in Vietnamese the job's name and the reason in
    Vietnamese (:func:`ictplan.report.skipped.explain`)."""
    L = labels(lang)
    if lang != "vi":
        return [f"{L['skipped']} — {job}: {why}" for job, why in results.skipped.items()]
    from ..report import skipped as _skipped
    from ..report.text import _t

    T = _t(lang)
    return [f"{L['skipped']} — {T.get('job_' + job, job)}: {_skipped.explain(results, job, str(why), lang)[0]}"
            for job, why in results.skipped.items()]


def _coverage_layers(cov: CoverageResult, values: pd.DataFrame, value_labels: dict[str, str],
                     rasters: list[dict[str, Any]], R: dict[str, str]) -> None:
    t = cov.table
    if t is not None and len(t):
        com = t[(t["level"] == "communes") & (t["operator"] == "any")]
        for tech in ("4G", "5G"):
            sel = com[com["technology"] == tech]
            if len(sel):
                col = f"pct_{tech.lower()}_covered"
                values[col] = sel.set_index(sel["zone_code"].astype(str))["pct_covered"].round(1)
                value_labels[col] = f"{R['pct_' + tech.lower()]} (%)"
        if len(com):  # people per commune on the population raster: the colouring when there is no census
            first = com[com["technology"] == com["technology"].iloc[0]]
            values[RASTER_PEOPLE] = first.set_index(first["zone_code"].astype(str))["population"]
    for tech in ("4G", "5G"):
        layer = cov.layers.get(("any", tech))
        if layer is not None and layer.tput_mbps is not None:
            arr = np.where(np.asarray(layer.covered, bool), np.asarray(layer.tput_mbps, float), np.nan)
            if np.isfinite(arr).any():
                rasters.append({"values": arr, "grid": cov.grid, "name": R["tput_" + tech.lower()], "unit": "Mb/s",
                                "cmap": "viridis", "vmin": 0.0, "show": False})


def _fiber_layers(fib: FiberResult, study: Study, values: pd.DataFrame, value_labels: dict[str, str],
                  extra: list[dict[str, Any]], L: dict[str, str], R: dict[str, str]) -> None:
    c = fib.communes
    if c is not None and "pct_reachable" in c.columns:
        values["pct_fiber_reachable"] = c.set_index(c["commune_code"].astype(str))["pct_reachable"].round(1)
        value_labels["pct_fiber_reachable"] = f"{R['pct_fiber']} (%)"
    un = fib.unreached_hamlets
    if len(un) and study.has("hamlets"):
        hl = study.layer("hamlets")
        h = hl[["hamlet_code", "hamlet_name", hl.geometry.name]]
        g = h.merge(un.drop(columns=[c for c in ("hamlet_name",) if c in un.columns]), on="hamlet_code", how="inner")
        g = g.set_geometry(g.geometry.representative_point())
        extra.append({"key": "unreached_hamlets", "gdf": g, "name": L["unreached"], "colour": "#e7298a", "radius": 3, "show": False,
                      "fields": {"hamlet_name": L["hamlet"], "hamlet_code": L["code"], "households": L["households"],
                                 "missing_fiber_m": R["missing"]}})


def _sharing_layers(sh: SharingResult, extra: list[dict[str, Any]], L: dict[str, str], R: dict[str, str]) -> None:
    edges = sh.candidate_edges
    if edges is not None and len(edges):
        extra.append({"key": "candidate_edges", "gdf": edges, "name": L["candidates"], "colour": "#ff00ff", "weight": 3, "show": False,
                      "fields": {"tower_uid_a": "A", "tower_uid_b": "B", "operators_a": f"{R['operators']} A",
                                 "operators_b": f"{R['operators']} B", "distance_m": L["distance"]}})
    groups = sh.groups
    if groups is not None and len(groups):
        gp = groups.set_geometry(groups.geometry.centroid) if not groups.geom_type.eq("Point").all() else groups
        extra.append({"key": "candidate_groups", "gdf": gp, "name": L["groups"], "colour": "#7570b3", "radius": 5, "show": False,
                      "fields": {"group_uid": "Id", "n_towers": R["n_towers"], "towers_saved": L["towers_saved"],
                                 "operators": R["operators"], "max_distance_m": L["distance"]}})
    seg = sh.duplicated.segments if sh.duplicated is not None else None
    if seg is not None and len(seg):
        # for display, one feature per pair of operators: the same stretch of road shows up in
        # several route pairs, and drawing each one made the sample's page 8 MB heavier
        shown = seg[["operator", "other_operator", "length_m", seg.geometry.name]].dissolve(
            by=["operator", "other_operator"], aggfunc={"length_m": "sum"}, as_index=False)
        shown["n_stretches"] = seg.groupby(["operator", "other_operator"]).size().to_numpy()
        shown = shown.set_geometry(shapely.line_merge(shown.geometry.to_numpy()), crs=seg.crs)
        extra.append({"key": "duplicated_routes", "gdf": shown, "name": L["duplicated"], "colour": "#000000", "weight": 4, "show": False,
                      "fields": {"operator": L["operator"], "other_operator": f"{L['operator']} 2",
                                 "n_stretches": "n", "length_m": R["length"]}})


def result_layers(results: Results, /, *, lang: str = "en") -> dict[str, Any]:
    """Keyword arguments for :func:`~ictplan.maps.study_map` that add what ``results`` hold.

    Adds: per-commune ``pct_4g_covered``, ``pct_5g_covered`` (any operator) and
    ``pct_fiber_reachable`` as choropleth values, and the people per commune on the
    population raster (:data:`~ictplan.maps.RASTER_PEOPLE`, from the coverage table);
    best-server throughput rasters; unreached hamlets; tower-sharing candidate pairs and
    groups; duplicated fiber stretches; and ``notes`` naming each skipped job with its
    reason. Nothing is computed that the results do not hold.

    Returns
    -------
    dict
        With ``values``, ``value_labels``, ``rasters``, ``extra`` and ``notes``.

    Raises
    ------
    InputValidationError
        Unknown ``lang``.
    """
    L = labels(lang)
    R = _RESULT_LABELS[lang]
    study = results.study
    values = pd.DataFrame(index=pd.Index(study.layer("communes")["commune_code"].astype(str), name="commune_code"))
    value_labels: dict[str, str] = {}
    rasters: list[dict[str, Any]] = []
    extra: list[dict[str, Any]] = []
    if results.coverage is not None:
        _coverage_layers(results.coverage, values, value_labels, rasters, R)
    if results.fiber is not None:
        _fiber_layers(results.fiber, study, values, value_labels, extra, L, R)
    if results.sharing is not None:
        _sharing_layers(results.sharing, extra, L, R)
    if results.plan is not None:
        from .planlayers import plan_layers

        extra.extend(plan_layers(results.plan, lang=lang))
    values = values.dropna(axis=1, how="all")
    return {"values": values if len(values.columns) else None, "value_labels": value_labels, "rasters": rasters,
            "extra": extra, "notes": skipped_notes(results, lang=lang)}


def results_map(results: Results, /, *, lang: str = "vi", **kw: Any) -> folium.Map:
    """The study's map with every layer ``results`` hold (see :func:`result_layers`).

    ``kw`` goes to :func:`~ictplan.maps.study_map` (e.g. ``column=``, ``layers=``, ``tiles=``).

    Raises
    ------
    MissingColumnError, InputValidationError, ConfigError
        See :func:`~ictplan.maps.study_map`.
    """
    layers = result_layers(results, lang=lang)
    for key in ("rasters", "extra", "notes"):
        if key in kw:
            layers[key] = list(layers[key]) + list(kw.pop(key))
    return study_map(results.study, lang=lang, **{**layers, **kw})
