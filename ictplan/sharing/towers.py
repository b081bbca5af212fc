"""Towers, the co-location graph of towers of different operators, candidate groups, tenancy."""

from __future__ import annotations

import logging
import math
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from .._errors import InputValidationError, MissingColumnError
from ..parameters import SHARING
from ._common import _check_frame, _check_kind, _join_sorted, _pairs_within, _uid, _working_crs, _xy

logger = logging.getLogger("ictplan.sharing")


# --------------------------------------------------------------------------- towers
def towers(sites: gpd.GeoDataFrame, /) -> gpd.GeoDataFrame:
    """One row per tower (shared or not) from the physical sites.

    Parameters
    ----------
    sites
        The output of :func:`physical_sites` (any CRS; a ``tower_uid`` per site).

    Returns
    -------
    geopandas.GeoDataFrame
        In the CRS of ``sites``, sorted by ``tower_uid``: ``tower_uid, operators``
        (';'-joined, sorted), ``n_operators, n_sites, owner`` (the ``owner`` given in a
        sector table, else the operator with the most cells and sectors there -- the anchor
        tenant), ``height_m`` (max), ``technologies, site_uids`` and the point (mean of the
        sites' positions, computed in the working CRS).

    Raises
    ------
    MissingColumnError, MissingCRSError, InputValidationError
    """
    crs = _check_frame(sites, "`sites`", ("site_uid", "tower_uid", "operator"))
    if len(sites) == 0:
        msg = "`sites` is empty; run `physical_sites` on cells or sector tables first."
        raise InputValidationError(msg)
    wcrs = _working_crs(crs, None, sites, "`sites`")
    xy = _xy(sites.geometry if crs.equals(wcrs) else sites.geometry.to_crs(wcrs))
    df = pd.DataFrame(sites.drop(columns=sites.geometry.name)).assign(x=xy[:, 0], y=xy[:, 1])
    for c, default in (("technologies", ""), ("height_m", np.nan), ("owner", None), ("n_cells", 0), ("n_sectors", 0)):
        if c not in df.columns:
            df[c] = default
    df["size"] = df["n_cells"].fillna(0) + df["n_sectors"].fillna(0)
    code, uids = pd.factorize(df["tower_uid"], sort=True)
    df["tcode"] = code
    g = df.groupby("tcode", sort=True)
    t = g.agg(
        n_sites=("site_uid", "size"),
        height_m=("height_m", "max"),
        x=("x", "mean"),
        y=("y", "mean"),
    )
    t["tower_uid"] = np.asarray(uids)[t.index.to_numpy()]
    t["operators"] = _join_sorted(df["operator"], code).reindex(t.index)
    t["n_operators"] = g["operator"].nunique()
    tech = df[["tcode"]].assign(t=df["technologies"].fillna("").astype(str).str.split(";")).explode("t")
    t["technologies"] = _join_sorted(tech["t"], tech["tcode"].to_numpy()).reindex(t.index).fillna("")
    t["site_uids"] = _join_sorted(df["site_uid"], code).reindex(t.index)
    opc = pd.factorize(df["operator"], sort=True)[0]
    order = np.lexsort((opc, -df["size"].to_numpy(), code))
    first = order[np.r_[True, code[order][1:] != code[order][:-1]]]
    anchor = pd.Series(df["operator"].to_numpy()[first], index=code[first])
    # the owner named most often in the sector tables (ties: alphabetical)
    named = df.dropna(subset=["owner"]).assign(owner=lambda d: d["owner"].astype(str))
    counts = named.groupby(["tcode", "owner"]).size().rename("n").reset_index()
    given = counts.sort_values(["tcode", "n", "owner"], ascending=[True, False, True]).groupby("tcode")["owner"].first()
    t["owner"] = given.reindex(t.index).fillna(anchor.reindex(t.index))
    t = t.reset_index(drop=True)
    geom = gpd.GeoSeries(gpd.points_from_xy(t["x"], t["y"]), crs=wcrs)
    if not wcrs.equals(crs):
        geom = geom.to_crs(crs)
    cols = ["tower_uid", "operators", "n_operators", "n_sites", "owner", "height_m", "technologies", "site_uids"]
    return gpd.GeoDataFrame(t[cols], geometry=geom.values, crs=crs)


# --------------------------------------------------------------------------- candidate pairs
def candidate_pairs(
    points: gpd.GeoDataFrame,
    /,
    *,
    distance_m: float,
    group_column: str | None = "operator",
    working_crs: Any = None,
) -> pd.DataFrame:
    """Pairs of points of different groups (operators) within an exact distance.

    Parameters
    ----------
    points
        Points in any CRS.
    distance_m
        Distance in metres (working CRS); a pair qualifies when its Euclidean distance is
        ``<= distance_m``.
    group_column
        Column whose values must differ within a pair (e.g. ``"operator"``); ``None`` keeps
        all pairs.
    working_crs
        Projected CRS for the distances; default: the input CRS if projected, else UTM.

    Returns
    -------
    pandas.DataFrame
        Columns ``i, j`` (positions in ``points``, ``i < j``), ``distance_m``; sorted by
        ``(i, j)``.

    Raises
    ------
    MissingCRSError, GeographicCRSError, MissingColumnError, GeometryTypeError,
    InputValidationError

    Notes
    -----
    A KD-tree (:meth:`scipy.spatial.cKDTree.query_pairs`) finds the candidates and an
    exact distance test keeps them: no polygonal buffer, so no pair just inside the limit
    is lost. O(n log n + pairs) time, O(n + pairs) memory.
    """
    crs = _check_frame(points, "`points`", (group_column,) if group_column else ())
    if not (isinstance(distance_m, int | float) and math.isfinite(distance_m) and distance_m >= 0):
        msg = f"`distance_m` must be a distance in metres >= 0; got {distance_m!r}."
        raise InputValidationError(msg)
    _check_kind(points, "`points`", {"Point"})
    wcrs = _working_crs(crs, working_crs, points, "`points`")
    xy = _xy(points.geometry if crs.equals(wcrs) else points.geometry.to_crs(wcrs))
    ok = np.isfinite(xy).all(axis=1)
    if not ok.all():
        xy = np.where(ok[:, None], xy, 0.0)
    i, j, d = _pairs_within(xy, distance_m)
    keep = ok[i] & ok[j]
    if group_column:
        codes = pd.factorize(points[group_column])[0]
        keep &= codes[i] != codes[j]
    i, j, d = i[keep], j[keep], d[keep]
    order = np.lexsort((j, i))
    return pd.DataFrame({"i": i[order], "j": j[order], "distance_m": d[order]})


# --------------------------------------------------------------------------- tower graph
def colocation_graph(
    towers_gdf: gpd.GeoDataFrame,
    /,
    *,
    candidate_m: float = SHARING.candidate_m,
    working_crs: Any = None,
) -> nx.Graph:
    """Graph of towers; edges join towers of different operators within ``candidate_m``.

    Parameters
    ----------
    towers_gdf
        The output of :func:`towers` (any CRS), with ``tower_uid`` and ``operators``.
    candidate_m
        Distance in metres (working CRS) within which one tower could serve both.
    working_crs
        Projected CRS for distances; default: the input CRS if projected, else UTM.

    Returns
    -------
    networkx.Graph
        Nodes are ``tower_uid`` with ``operators`` (tuple), ``n_operators, owner,
        height_m, technologies`` (tuple) and ``x, y`` (working CRS). An edge joins two
        towers whose operator sets do not overlap (one tower could host all of them) and
        whose exact distance is ``<= candidate_m``; it carries ``distance_m``.
        ``G.graph`` holds ``crs`` (working CRS) and ``candidate_m``.

    Raises
    ------
    MissingColumnError, MissingCRSError, GeographicCRSError, InputValidationError

    Notes
    -----
    Raising ``candidate_m`` never removes an edge. Towers that share an operator are never
    joined: merging them would only move that operator, not share a tower.
    """
    crs = _check_frame(towers_gdf, "`towers`", ("tower_uid", "operators"))
    if not (isinstance(candidate_m, int | float) and math.isfinite(candidate_m) and candidate_m >= 0):
        msg = f"`candidate_m` must be a distance in metres >= 0; got {candidate_m!r}."
        raise InputValidationError(msg)
    wcrs = _working_crs(crs, working_crs, towers_gdf, "`towers`")
    xy = _xy(towers_gdf.geometry if crs.equals(wcrs) else towers_gdf.geometry.to_crs(wcrs))
    ops = towers_gdf["operators"].fillna("").astype(str).str.split(";")
    names = sorted({o for lst in ops for o in lst if o})
    if len(names) > 62:
        msg = f"`towers` name {len(names)} operators; at most 62 are supported."
        raise InputValidationError(msg)
    bit = {o: np.int64(1) << np.int64(k) for k, o in enumerate(names)}
    mask = np.array([sum((bit[o] for o in lst if o), np.int64(0)) for lst in ops], dtype=np.int64)
    i, j, d = _pairs_within(xy, candidate_m)
    keep = (mask[i] & mask[j]) == 0
    i, j, d = i[keep], j[keep], d[keep]
    uid = towers_gdf["tower_uid"].to_numpy()
    G = nx.Graph(crs=wcrs, candidate_m=float(candidate_m))
    techs = towers_gdf["technologies"] if "technologies" in towers_gdf.columns else pd.Series("", index=towers_gdf.index)
    owner = towers_gdf["owner"] if "owner" in towers_gdf.columns else pd.Series(None, index=towers_gdf.index)
    height = towers_gdf["height_m"] if "height_m" in towers_gdf.columns else pd.Series(np.nan, index=towers_gdf.index)
    G.add_nodes_from(
        (
            u,
            {
                "operators": tuple(o for o in op_list if o),
                "n_operators": sum(1 for o in op_list if o),
                "owner": ow,
                "height_m": float(h),
                "technologies": tuple(t for t in str(tc or "").split(";") if t),
                "x": float(x),
                "y": float(y),
            },
        )
        for u, op_list, ow, h, tc, x, y in zip(uid, ops, owner, height, techs, xy[:, 0], xy[:, 1], strict=True)
    )
    G.add_edges_from((uid[a], uid[b], {"distance_m": float(dd)}) for a, b, dd in zip(i, j, d, strict=True))
    logger.info("tower co-location graph: %d towers, %d candidate edges within %g m", G.number_of_nodes(), G.number_of_edges(), candidate_m)
    return G


def candidate_edges(graph: nx.Graph, /, *, crs: Any = None) -> gpd.GeoDataFrame:
    """The candidate edges of a co-location graph as lines (for maps and GeoPackage).

    Parameters
    ----------
    graph
        The output of :func:`colocation_graph` (node ``x, y`` in ``graph.graph["crs"]``).
    crs
        CRS of the result; default: the graph's CRS.

    Returns
    -------
    geopandas.GeoDataFrame
        ``tower_uid_a, tower_uid_b, operators_a, operators_b, distance_m`` and a line.

    Raises
    ------
    InputValidationError
        The graph carries no CRS.
    """
    gcrs = graph.graph.get("crs")
    if gcrs is None:
        msg = "the graph has no `crs` in `graph.graph`; build it with `sharing.colocation_graph`."
        raise InputValidationError(msg)
    rows = sorted((min(u, v), max(u, v), d["distance_m"]) for u, v, d in graph.edges(data=True))
    a = [r[0] for r in rows]
    b = [r[1] for r in rows]
    nodes = graph.nodes
    coords = np.array([[nodes[u]["x"], nodes[u]["y"], nodes[v]["x"], nodes[v]["y"]] for u, v in zip(a, b, strict=True)]).reshape(-1, 4)
    lines = shapely.linestrings(coords.reshape(-1, 2, 2)) if len(rows) else np.empty(0, dtype=object)
    out = gpd.GeoDataFrame(
        {
            "tower_uid_a": a,
            "tower_uid_b": b,
            "operators_a": [";".join(nodes[u]["operators"]) for u in a],
            "operators_b": [";".join(nodes[v]["operators"]) for v in b],
            "distance_m": [r[2] for r in rows],
        },
        geometry=gpd.GeoSeries(lines, crs=gcrs).values,
        crs=gcrs,
    )
    return out.to_crs(crs) if crs is not None else out


def candidate_groups(graph: nx.Graph, /) -> gpd.GeoDataFrame:
    """Groups of towers that could become one shared tower, ranked by the towers they save.

    A group is a clique of the co-location graph: every two of its towers are within the
    candidate distance and serve different operators, so one tower could serve them all.
    Groups are grown greedily from the shortest edge up (ties by tower id), merging two
    groups only if the union is still a clique. The kept tower of a group (its *anchor*) is
    the one with the most operators, then the tallest, then the smallest id; the others
    would not need building.

    Parameters
    ----------
    graph
        The output of :func:`colocation_graph`.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per group of >= 2 towers, in the graph's CRS, sorted by ``rank`` (1 =
        saves the most): ``group_uid, rank, n_towers, towers_saved, operators,
        n_operators, anchor_tower_uid, tower_uids, max_distance_m`` and a MultiPoint of
        its towers.

    Raises
    ------
    InputValidationError
        The graph carries no CRS.

    Notes
    -----
    Greedy clique partition: a Python loop over the candidate edges with a check of at
    most (operators)^2 pairs per merge -- linear in the edges for all practical inputs.
    It is deterministic and independent of row order.
    """
    gcrs = graph.graph.get("crs")
    if gcrs is None:
        msg = "the graph has no `crs` in `graph.graph`; build it with `sharing.colocation_graph`."
        raise InputValidationError(msg)
    group_of: dict[Any, int] = {}
    members: dict[int, list] = {}
    edges = sorted(((d["distance_m"], min(u, v), max(u, v)) for u, v, d in graph.edges(data=True)))
    next_id = 0
    for _, u, v in edges:
        gu, gv = group_of.get(u), group_of.get(v)
        if gu is not None and gu == gv:
            continue
        mu = members[gu] if gu is not None else [u]
        mv = members[gv] if gv is not None else [v]
        if not all(graph.has_edge(a, b) for a in mu for b in mv):
            continue
        merged = mu + mv
        for k in (gu, gv):
            if k is not None:
                del members[k]
        members[next_id] = merged
        for t in merged:
            group_of[t] = next_id
        next_id += 1
    nodes = graph.nodes
    rows = []
    for mem in members.values():
        mem = sorted(mem)
        anchor = min(mem, key=lambda t: (-nodes[t]["n_operators"], -_height_or(nodes[t]["height_m"], -1.0), t))
        ops = sorted({o for t in mem for o in nodes[t]["operators"]})
        dmax = max(graph.edges[a, b]["distance_m"] for k, a in enumerate(mem) for b in mem[k + 1 :])
        rows.append(
            {
                "group_uid": _uid("G", mem),
                "n_towers": len(mem),
                "towers_saved": len(mem) - 1,
                "operators": ";".join(ops),
                "n_operators": len(ops),
                "anchor_tower_uid": anchor,
                "tower_uids": ";".join(mem),
                "max_distance_m": float(dmax),
                "xy": [(nodes[t]["x"], nodes[t]["y"]) for t in mem],
            }
        )
    cols = ["group_uid", "rank", "n_towers", "towers_saved", "operators", "n_operators", "anchor_tower_uid", "tower_uids", "max_distance_m", "geometry"]
    if not rows:
        kinds = {"rank": "int64", "n_towers": "int64", "towers_saved": "int64", "n_operators": "int64", "max_distance_m": "float64"}
        data = {c: pd.Series([], dtype=kinds.get(c, "object")) for c in cols if c != "geometry"}
        return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=gcrs).values, crs=gcrs)[cols]
    df = pd.DataFrame(rows).sort_values(["towers_saved", "n_operators", "max_distance_m", "group_uid"], ascending=[False, False, True, True], ignore_index=True)
    df["rank"] = np.arange(1, len(df) + 1)
    xy = np.array([p for pts in df["xy"] for p in pts], dtype=float).reshape(-1, 2)
    df["geometry"] = shapely.multipoints(xy, indices=np.repeat(np.arange(len(df)), df["n_towers"].to_numpy()))
    return gpd.GeoDataFrame(df[cols], geometry="geometry", crs=gcrs)


def _height_or(h: Any, default: float) -> float:
    return default if h is None or (isinstance(h, float) and math.isnan(h)) else float(h)


def sharing_summary(towers_gdf: gpd.GeoDataFrame, groups: gpd.GeoDataFrame, /) -> dict[str, float | int]:
    """Tenancy today and if the candidate groups were merged; towers saved.

    Parameters
    ----------
    towers_gdf
        The output of :func:`towers`.
    groups
        The output of :func:`candidate_groups` on the graph of those towers.

    Returns
    -------
    dict
        ``n_operator_sites`` (tenancies: operators summed over towers), ``n_towers``,
        ``n_shared_towers`` (>= 2 operators), ``tenancy_today`` (operators per tower),
        ``towers_saved``, ``n_towers_potential``, ``tenancy_potential``, ``n_groups``.

    Raises
    ------
    MissingColumnError
        ``n_operators`` or ``towers_saved`` is missing.
    """
    if "n_operators" not in towers_gdf.columns or "towers_saved" not in groups.columns:
        msg = "`sharing_summary` needs `towers` from `sharing.towers` and `groups` from `sharing.candidate_groups`."
        raise MissingColumnError(msg)
    tenancies = int(towers_gdf["n_operators"].sum())
    n = len(towers_gdf)
    saved = int(groups["towers_saved"].sum())
    return {
        "n_operator_sites": tenancies,
        "n_towers": n,
        "n_shared_towers": int((towers_gdf["n_operators"] >= 2).sum()),
        "tenancy_today": tenancies / n if n else float("nan"),
        "n_groups": len(groups),
        "towers_saved": saved,
        "n_towers_potential": n - saved,
        "tenancy_potential": tenancies / (n - saved) if n - saved else float("nan"),
    }
