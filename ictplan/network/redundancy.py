"""Path redundancy between data centres: corridor-disjoint fiber paths (Menger, as a max-flow)."""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from networkx.algorithms.flow import edmonds_karp

from ..crs import check_same_crs
from ..parameters import FIBER, SHARING
from ..services import _require
from .build import build_edges
from .snapping import same_bank, snap_xy
from .table import EdgeNetwork

_COLUMNS = ["a", "b", "disjoint_paths", "redundant"]


def datacentre_redundancy(fiber_routes: gpd.GeoDataFrame, datacentres: gpd.GeoDataFrame, /, *,
                          attach_distance_m: float = FIBER.drop_limit_m,
                          snap_tolerance_m: float = FIBER.snap_tolerance_m,
                          roads: gpd.GeoDataFrame | EdgeNetwork | None = None,
                          corridor_m: float = SHARING.corridor_m,
                          canal_half_width_m: float = FIBER.canal_half_width_m) -> pd.DataFrame:
    """Corridor-disjoint (shared-risk-disjoint) fiber paths between every pair of data centres.

    With ``roads`` (the study's road/canal layer, or the network built from it), two paths are redundant only if they
    share no edge of the road/canal network: every fiber route is laid onto the road and
    canal edges it runs along (an edge counts as carrying fiber when at least half its
    length, sampled every ~20 m, lies within ``corridor_m`` of a route, the trench width of
    :data:`ictplan.parameters.SHARING`), and the paths are counted on those edges, each
    edge one corridor however many cables it carries. Two cables in one trench are then one
    path; two cables on two separate roads are two. Without ``roads``, the routes themselves
    are the graph and routes closer than ``corridor_m`` are still merged into one trench
    only where they share their noded edges (a weaker test: say so when you report it).

    Parameters
    ----------
    fiber_routes
        Fiber routes of every operator (lines, metric CRS); they are noded where they cross
        or touch (:func:`ictplan.network.build_edges`).
    datacentres
        Data-centre points with ``facility_id`` (same CRS as the routes).
    attach_distance_m
        A data centre joins the fiber graph at the nearest point of a route within this
        distance (metres); farther, it has no fiber path at all. Default: the fiber drop
        limit (``parameters.FIBER.drop_limit_m``).
    snap_tolerance_m
        Route ends closer than this are joined (``parameters.FIBER.snap_tolerance_m``).
    canal_half_width_m
        A canal's two banks lie this far either side of its line when the network is built
        here from ``roads`` (``parameters.FIBER.canal_half_width_m``); unused when ``roads``
        is the fiber analysis's network already.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``a``, ``b`` (facility ids), ``disjoint_paths`` (the number of
        edge-disjoint fiber paths, capped at 2: Menger's theorem, as a maximum flow with
        unit capacities), ``redundant`` (≥ 2).

    Raises
    ------
    MissingColumnError
        ``facility_id`` missing.
    CRSMismatchError, GeographicCRSError
        From the network build, when the layers are not in one metric CRS.

    Notes
    -----
    A data centre snapped into the interior of an edge splits it, so a data centre on a
    ring has two ways out. Parallel cables between the same two nodes count as separate
    edges (capacity = their number). A pair joined by 2 paths can lose any one cable
    section and stay connected. Cost: one network build plus one max-flow (cut off at 2)
    per pair on the noded route graph.
    """
    _require(datacentres, ["facility_id"], "data centres")
    ids = datacentres["facility_id"].astype(str).tolist()
    pairs = [(ids[i], ids[j]) for i in range(len(ids)) for j in range(i + 1, len(ids))]
    if not pairs:
        return pd.DataFrame(columns=_COLUMNS)
    if len(fiber_routes) == 0:
        return pd.DataFrame({"a": [p[0] for p in pairs], "b": [p[1] for p in pairs], "disjoint_paths": 0,
                             "redundant": False})
    check_same_crs(fiber_routes=fiber_routes, datacentres=datacentres)
    if roads is not None and (isinstance(roads, EdgeNetwork) or len(roads)):
        lines = _fiber_corridors(roads, fiber_routes, corridor_m, snap_tolerance_m, canal_half_width_m)
        if lines is None:
            return pd.DataFrame({"a": [p[0] for p in pairs], "b": [p[1] for p in pairs], "disjoint_paths": 0,
                                 "redundant": False})
        net = _route_network(lines, snap_tolerance_m)
    else:
        net = _route_network(fiber_routes, snap_tolerance_m)
    snap = snap_xy(net, datacentres.geometry.x.to_numpy(), datacentres.geometry.y.to_numpy(),
                   max_distance_m=attach_distance_m)
    G, node_of = _capacity_graph(net, ids, np.asarray(snap["edge_id"]), np.asarray(snap["along_m"]))
    rows = []
    for a, b in pairs:
        k = _disjoint_paths(G, node_of[a], node_of[b])
        rows.append({"a": a, "b": b, "disjoint_paths": k, "redundant": k >= 2})
    return pd.DataFrame(rows)


def _fiber_corridors(roads: gpd.GeoDataFrame | EdgeNetwork, fiber_routes: gpd.GeoDataFrame, corridor_m: float,
                     snap_tolerance_m: float, canal_half_width_m: float = FIBER.canal_half_width_m
                     ) -> gpd.GeoDataFrame | None:
    """The road/canal edges that carry fiber (half their length within ``corridor_m`` of a
    route, sampled every ~20 m), one line each: the corridors. None when no edge carries fiber.
    ``roads`` may be the built network already (the fiber analysis's, in the routes' CRS)."""
    if isinstance(roads, EdgeNetwork):
        net = roads
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = build_edges(roads, snap_tolerance_m=snap_tolerance_m, working_crs=fiber_routes.crs,
                              canal_half_width_m=canal_half_width_m)
    # points every ~20 m along each edge (at least 5): an edge carries fiber when half of
    # them lie within corridor_m of a route
    n = np.clip(np.ceil(net.length_m / 20.0).astype(np.int64), 5, None)
    e = np.repeat(np.arange(net.n_edges), n)
    k = np.arange(len(e)) - np.repeat(np.cumsum(n) - n, n)
    pts = shapely.line_interpolate_point(net.geometry[e], (k + 0.5) / n[e], normalized=True)
    # the routes as short straight segments: tight boxes (a long route's box covers a district)
    coords, idx = shapely.get_coordinates(shapely.get_parts(np.asarray(fiber_routes.geometry.values, dtype=object)),
                                          return_index=True)
    j = np.flatnonzero(idx[:-1] == idx[1:])
    segs = shapely.linestrings(np.stack([coords[j], coords[j + 1]], axis=1))
    hit, si = shapely.STRtree(segs).query(pts, predicate="dwithin", distance=max(float(corridor_m), 1e-6))
    # a route serves an edge only from its own side of the water (a canal's other bank is another corridor)
    q = shapely.get_coordinates(shapely.get_point(shapely.shortest_line(pts[hit], segs[si]), 1))
    p_xy = shapely.get_coordinates(pts[hit])
    dry = same_bank(net, p_xy[:, 0], p_xy[:, 1], q[:, 0], q[:, 1])
    near = np.zeros(len(pts), bool)
    near[hit[dry]] = True
    keep = np.bincount(e, weights=near, minlength=net.n_edges) >= 0.5 * n
    if not keep.any():
        return None
    return gpd.GeoDataFrame(geometry=net.geometry[keep], crs=net.crs)


def _route_network(fiber_routes: gpd.GeoDataFrame, snap_tolerance_m: float) -> EdgeNetwork:
    """All routes as one noded network (every route traversable; repairs not reported)."""
    lines = gpd.GeoDataFrame({"kind": np.full(len(fiber_routes), "road")}, geometry=fiber_routes.geometry.values,
                             crs=fiber_routes.crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_edges(lines, snap_tolerance_m=snap_tolerance_m, crossing_cost_column=None)


def _capacity_graph(net: EdgeNetwork, ids: list[str], edge_ids: np.ndarray,
                    along: np.ndarray) -> tuple[nx.Graph, dict[str, Any]]:
    """The route graph with every data centre as a node (splitting the edge it lies on);
    capacity = number of parallel cable sections. Returns the graph and each centre's node."""
    u, v, length = net.u.tolist(), net.v.tolist(), net.length_m
    node_of: dict[str, Any] = {}
    split: dict[int, list[tuple[float, str]]] = {}
    for dc, e, a in zip(ids, edge_ids, along, strict=True):
        if e < 0:
            node_of[dc] = ("dc", dc)  # isolated: no path
            continue
        split.setdefault(int(e), []).append((float(a), dc))
    edges: list[tuple[Any, Any]] = [(u[i], v[i]) for i in range(net.n_edges) if i not in split]
    for e, items in split.items():
        items.sort()
        chain: list[Any] = [u[e]]
        for a, dc in items:
            if a <= 1e-6:
                node_of[dc] = u[e]
            elif a >= length[e] - 1e-6:
                node_of[dc] = v[e]
            else:
                node_of[dc] = ("dc", dc)
                chain.append(node_of[dc])
        chain.append(v[e])
        edges += list(zip(chain[:-1], chain[1:], strict=False))
    cap = Counter(tuple(sorted((p, q), key=repr)) for p, q in edges if p != q)
    G = nx.Graph()
    G.add_nodes_from(node_of.values())
    G.add_edges_from((p, q, {"capacity": c}) for (p, q), c in cap.items())
    return G, node_of


def _disjoint_paths(G: nx.Graph, na: Any, nb: Any) -> int:
    """Edge-disjoint paths between two nodes, capped at 2 (the same node: 2, nothing to cut)."""
    if na == nb:
        return 2
    if not nx.has_path(G, na, nb):
        return 0
    return int(min(2, nx.maximum_flow_value(G, na, nb, capacity="capacity", flow_func=edmonds_karp, cutoff=2)))
