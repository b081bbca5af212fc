"""The study-level sharing run, its result, the words for people and the files written."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pyproj

from .. import crs as _crs
from .. import parameters as _parameters
from .._errors import OutputExistsError
from .ducts import DuplicatedRoutes, duplicated_routes
from .poles import poles_and_spans
from .sites import physical_sites
from .towers import candidate_edges, candidate_groups, colocation_graph, sharing_summary, towers

if TYPE_CHECKING:  # pragma: no cover
    from ..parameters import SharingParameters
    from ..study import Study


# --------------------------------------------------------------------------- study-level run
@dataclass(frozen=True)
class SharingResult:
    """Everything :func:`run` found; see the fields' producers for their columns.

    ``parameters`` holds the resolved :class:`ictplan.parameters.SharingParameters` (as a
    dict, as written to ``sharing_summary.json``) and the working ``crs``.
    """

    sites: gpd.GeoDataFrame | None
    towers: gpd.GeoDataFrame | None
    tower_graph: nx.Graph | None
    candidate_edges: gpd.GeoDataFrame | None
    groups: gpd.GeoDataFrame | None
    poles: gpd.GeoDataFrame | None
    spans: gpd.GeoDataFrame | None
    pole_graph: nx.MultiGraph | None
    duplicated: DuplicatedRoutes | None
    summary: dict[str, Any]
    parameters: dict[str, Any]


def _mark_groups(towers_gdf: gpd.GeoDataFrame, groups: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Add ``group_uid``, ``group_rank`` and ``not_needed`` (merged into its group's anchor)."""
    out = towers_gdf.copy()
    if groups.empty:
        return out.assign(group_uid=pd.Series(None, index=out.index, dtype=object),
                          group_rank=pd.array([pd.NA] * len(out), dtype="Int64"), not_needed=False)
    member = groups[["group_uid", "rank", "anchor_tower_uid", "tower_uids"]].assign(
        tower_uid=groups["tower_uids"].str.split(";")
    ).explode("tower_uid")
    m = member.set_index("tower_uid")
    out["group_uid"] = out["tower_uid"].map(m["group_uid"])
    out["group_rank"] = out["tower_uid"].map(m["rank"]).astype("Int64")
    out["not_needed"] = out["group_uid"].notna() & (out["tower_uid"] != out["tower_uid"].map(m["anchor_tower_uid"]))
    return out


def summary_text(summary: dict[str, Any], /) -> str:
    """The sharing summary as a few lines for people (the CLI prints this).

    Parameters
    ----------
    summary
        ``SharingResult.summary``.

    Returns
    -------
    str
        One figure per line; parts whose layers were absent are left out.

    Raises
    ------
    None
    """
    s = summary
    lines = []
    if "n_towers" in s:
        lines += [
            f"physical sites (one operator each): {s['n_physical_sites']:,} on {s['n_towers']:,} towers "
            f"({s['n_shared_towers']:,} shared)",
            f"tenancy today: {s['tenancy_today']:.2f} operators per tower; if the {s['n_groups']:,} candidate groups "
            f"were merged: {s['tenancy_potential']:.2f} on {s['n_towers_potential']:,} towers "
            f"({s['towers_saved']:,} towers would not need building)",
        ]
    if "n_spans" in s:
        lines.append(
            f"poles and spans: {s['n_shared_spans']:,} of {s['n_spans']:,} spans shared by >= 2 operators "
            f"({s['shared_span_km']:.1f} km); {s['n_overloaded_poles']:,} of {s['n_poles']:,} poles over their cable "
            f"limit; {s['n_poles_without_span']:,} poles without a span"
        )
    if "duplicated_trench_km" in s:
        lines.append(
            f"fiber: {s['duplicated_route_km']:.1f} of {s['fiber_route_km']:.1f} route km run alongside another "
            f"operator's route; {s['duplicated_trench_km']:.1f} km of duplicated trenching; "
            f"{s['n_duct_candidates']:,} duct-sharing candidates"
        )
    return "\n".join(lines)


def _study_layer(study: Study, name: str) -> gpd.GeoDataFrame | None:
    """The study's layer ``name`` in its working CRS, None when the study has no such layer."""
    return study.layer_in_crs(name) if study.has(name) else None


def run(study: Study, /, *, progress: bool | None = None, **overrides: Any) -> SharingResult:
    """Run the whole sharing analysis on a study.

    Uses the layers the study has among ``cells``, ``sites`` (sector tables),
    ``poles``/``spans`` and ``fiber_routes``; parts whose layers are absent are ``None``.
    Everything is computed in the study's CRS (``study.crs``, metric).

    Parameters
    ----------
    study
        An :class:`ictplan.study.Study`.
    progress
        Accepted for the common signature of the analyses (:func:`ictplan.workflow.run`);
        sharing runs in seconds and shows no progress bar.
    **overrides
        Parameters of :class:`ictplan.parameters.SharingParameters` (``site_tolerance_m``,
        ``colocation_m``, ``attach_m``, ``duplicate_m``, ``group_by_enb`` for
        :func:`physical_sites`; ``candidate_m`` for :func:`colocation_graph`;
        ``max_cables``, ``default_cable_limit``, ``snap_m`` for :func:`poles_and_spans`;
        ``corridor_m``, ``min_length_m`` for :func:`duplicated_routes`). They go on top of
        the defaults and the study's ``[parameters.sharing]``; ``None`` leaves a value as
        it was. The resolved values are in ``result.parameters``.

    Returns
    -------
    SharingResult
        With ``summary``: the keys of :func:`sharing_summary` plus ``n_shared_spans``,
        ``n_overloaded_poles``, ``n_poles_without_span``, ``duplicated_route_km``,
        ``duplicated_trench_km``, ``n_duct_candidates`` where the layers exist, and
        ``parameters`` (the resolved parameters and the CRS).

    Raises
    ------
    ConfigError
        An unknown parameter name or a value of the wrong type.
    InputValidationError, DataSourceError
        From loading the study's layers or from the analyses.
    """
    prm: SharingParameters = _parameters.resolve("sharing", study, **overrides)
    _crs.require_projected(study.crs, "the study's CRS")
    params: dict[str, Any] = {**dataclasses.asdict(prm), "crs": _crs.crs_label(study.crs)}
    summary: dict[str, Any] = {}
    sites, tw, G, edges, groups = _tower_part(study, prm, summary)
    poles, spans, PG = _pole_part(study, prm, summary)
    dup = None
    routes = _study_layer(study, "fiber_routes")
    if routes is not None:
        dup = duplicated_routes(routes, corridor_m=prm.corridor_m, min_length_m=prm.min_length_m)
        summary["fiber_route_km"] = dup.total_route_km
        summary["duplicated_route_km"] = dup.duplicated_route_km
        summary["duplicated_trench_km"] = dup.duplicated_trench_km
        summary["n_duct_candidates"] = len(dup.candidates)
    return SharingResult(sites=sites, towers=tw, tower_graph=G, candidate_edges=edges, groups=groups, poles=poles,
                         spans=spans, pole_graph=PG, duplicated=dup, summary=summary, parameters=params)


_Frame: TypeAlias = gpd.GeoDataFrame | None


def _tower_part(study: Study, prm: SharingParameters,
                summary: dict[str, Any]) -> tuple[_Frame, _Frame, nx.Graph | None, _Frame, _Frame]:
    """Sites, towers, the co-location graph, its edges and the candidate groups (None each
    when the study has neither cells nor sector tables); fills ``summary``."""
    frames = [f for f in (_study_layer(study, "sites"), _study_layer(study, "cells")) if f is not None]
    if not frames:
        return None, None, None, None, None
    sites = physical_sites(
        frames,
        site_tolerance_m=prm.site_tolerance_m,
        colocation_m=prm.colocation_m,
        attach_m=prm.attach_m,
        duplicate_m=prm.duplicate_m,
        group_by_enb=prm.group_by_enb,
        bounds_lonlat=study.bounds_lonlat,
        working_crs=study.crs,
    )
    tw = towers(sites)
    G = colocation_graph(tw, candidate_m=prm.candidate_m)
    edges = candidate_edges(G)
    groups = candidate_groups(G)
    tw = _mark_groups(tw, groups)
    summary.update(sharing_summary(tw, groups))
    summary["n_physical_sites"] = len(sites)
    summary["n_candidate_edges"] = G.number_of_edges()
    per_op = sites.groupby("operator").size()
    summary["sites_per_operator"] = {str(k): int(v) for k, v in per_op.items()}
    return sites, tw, G, edges, groups


def _pole_part(study: Study, prm: SharingParameters,
               summary: dict[str, Any]) -> tuple[_Frame, _Frame, nx.MultiGraph | None]:
    """Poles, spans and the pole graph (None each without both layers); fills ``summary``."""
    p_layer, s_layer = _study_layer(study, "poles"), _study_layer(study, "spans")
    if p_layer is None or s_layer is None:
        return None, None, None
    PG, poles, spans = poles_and_spans(p_layer, s_layer, max_cables=prm.max_cables, snap_m=prm.snap_m,
                                       default_cable_limit=prm.default_cable_limit)
    summary["n_poles"] = len(poles)
    summary["n_spans"] = len(spans)
    summary["n_shared_spans"] = int(spans["shared"].sum())
    summary["shared_span_km"] = float(spans.loc[spans["shared"], "geometry"].length.sum() / 1000.0)
    summary["n_overloaded_poles"] = int(poles["overloaded"].sum())
    summary["n_poles_without_span"] = int(poles["no_span"].sum())
    return poles, spans, PG


# --------------------------------------------------------------------------- outputs
def _graphml_ready(G: nx.Graph) -> nx.Graph:
    def scalar(v: Any) -> Any:
        if isinstance(v, bool | int | float | str):
            return v
        if isinstance(v, np.generic):
            return v.item()
        if isinstance(v, tuple | list | set | frozenset):
            return ";".join(map(str, v))
        if isinstance(v, pyproj.CRS):
            return _crs.crs_label(v)
        return "" if v is None else str(v)

    H = G.__class__()
    H.graph.update({k: scalar(v) for k, v in G.graph.items()})
    H.add_nodes_from((n, {k: scalar(v) for k, v in d.items()}) for n, d in G.nodes(data=True))
    if G.is_multigraph():
        H.add_edges_from((u, v, key, {k: scalar(x) for k, x in d.items()}) for u, v, key, d in G.edges(keys=True, data=True))
    else:
        H.add_edges_from((u, v, {k: scalar(x) for k, x in d.items()}) for u, v, d in G.edges(data=True))
    return H


def write_outputs(result: SharingResult, out_dir: str | os.PathLike, /, *, overwrite: bool = False) -> dict[str, Path]:
    """Write the sharing outputs: GeoPackage layers, GraphML graphs, JSON summary.

    Files in ``out_dir``: ``sharing.gpkg`` (layers ``sites, towers, candidate_edges,
    groups, poles, spans, duplicated_segments``, those that exist), ``duct_candidates.csv``,
    ``tower_graph.graphml``, ``pole_graph.graphml`` and ``sharing_summary.json``. Each file is
    written to a temporary name beside it and renamed into place, so a reader never sees
    half a file. Tuple attributes are written as ';'-joined strings in GraphML.

    Parameters
    ----------
    result
        The output of :func:`run`.
    out_dir
        Folder (created if absent).
    overwrite
        Replace existing outputs; default refuses.

    Returns
    -------
    dict
        Output kind -> path written.

    Raises
    ------
    OutputExistsError
        An output exists and ``overwrite`` is false.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    targets = {
        "gpkg": out / "sharing.gpkg",
        "tower_graph": out / "tower_graph.graphml",
        "pole_graph": out / "pole_graph.graphml",
        "duct_candidates": out / "duct_candidates.csv",
        "summary": out / "sharing_summary.json",
    }
    if not overwrite:
        existing = [str(p) for p in targets.values() if p.exists()]
        if existing:
            msg = f"outputs already exist: {', '.join(existing)}. Pass overwrite=True (CLI: --overwrite) to replace them."
            raise OutputExistsError(msg)
    written: dict[str, Path] = {}
    dup = result.duplicated
    layers = {
        "sites": result.sites,
        "towers": result.towers,
        "candidate_edges": result.candidate_edges,
        "groups": result.groups,
        "poles": result.poles,
        "spans": result.spans,
        "duplicated_segments": dup.segments if dup is not None else None,
    }
    geom_types = {"sites": "Point", "towers": "Point", "candidate_edges": "LineString", "groups": "MultiPoint",
                  "poles": "Point", "spans": "LineString", "duplicated_segments": "LineString"}
    from ..io import (
        atomic_path,  # only io touches files: every output goes through its atomic writer
    )

    with atomic_path(targets["gpkg"], overwrite=True) as tmp:
        for name, gdf in layers.items():
            if gdf is None:
                continue
            frame = gdf.copy()
            frame.attrs = {}
            for c in frame.columns:
                if c != frame.geometry.name and frame[c].dtype == object:
                    frame[c] = frame[c].map(lambda v: ";".join(map(str, v)) if isinstance(v, tuple | list) else v)
            frame.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio", geometry_type=geom_types[name])
    if targets["gpkg"].exists():
        written["gpkg"] = targets["gpkg"]
    for key, G in (("tower_graph", result.tower_graph), ("pole_graph", result.pole_graph)):
        if G is None:
            continue
        with atomic_path(targets[key], overwrite=True) as tmp:
            nx.write_graphml(_graphml_ready(G), tmp)
        written[key] = targets[key]
    if dup is not None:
        with atomic_path(targets["duct_candidates"], overwrite=True) as tmp:
            dup.candidates.to_csv(tmp, index=False, encoding="utf-8")
        written["duct_candidates"] = targets["duct_candidates"]
    with atomic_path(targets["summary"], overwrite=True) as tmp:
        tmp.write_text(json.dumps({"summary": result.summary, "parameters": result.parameters}, indent=2,
                                  ensure_ascii=False, default=float), encoding="utf-8")
    written["summary"] = targets["summary"]
    return written
