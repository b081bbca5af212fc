"""Conversions: networkx graphs, scipy sparse graphs and GeoDataFrames."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from scipy import sparse

from .. import crs as _crs
from .._errors import InputValidationError, NetworkError
from .table import EdgeNetwork, _components, _csr


def to_networkx(net: EdgeNetwork) -> nx.MultiGraph:
    """The :class:`EdgeNetwork` as a networkx MultiGraph (nodes 0..n-1, edge key = edge_id)."""
    G = nx.MultiGraph()
    G.graph["crs"] = net.crs
    G.graph["repairs"] = dict(net.repairs)
    G.graph["components"] = net.component_sizes
    comp = net.node_component
    G.add_nodes_from(
        (i, {"x": float(x), "y": float(y), "component": int(c)})
        for i, (x, y), c in zip(range(net.n_nodes), net.node_xy, comp, strict=True)
    )
    cost = net.cost_m
    G.add_edges_from(
        (int(a), int(b), int(k), {
            "edge_id": int(k), "length_m": float(ln), "crossing_cost_m": float(cc), "cost_m": float(c),
            "kind": str(kd), "component": int(comp[a]), "geometry": g,
        })
        for k, (a, b, ln, cc, c, kd, g) in enumerate(
            zip(net.u, net.v, net.length_m, net.crossing_cost_m, cost, net.kind, net.geometry, strict=True)
        )
    )
    return G


def from_networkx(G: nx.Graph) -> EdgeNetwork:
    """An :class:`EdgeNetwork` from a networkx graph with node ``x``/``y`` and ``G.graph["crs"]``.

    Edges without a ``geometry`` become straight lines; ``length_m`` defaults to the
    geometry's length, ``crossing_cost_m`` to 0.

    Raises
    ------
    NetworkError
        Nodes lack ``x``/``y`` or the graph has no edges.
    MissingCRSError
        ``G.graph["crs"]`` is missing.
    """
    if G.number_of_edges() == 0:
        raise NetworkError("the graph has no edges; build it with `network.build_network(lines)`.")
    crs = _crs.as_crs(G.graph.get("crs"))
    nodes = list(G.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    try:
        xy = np.array([(G.nodes[n]["x"], G.nodes[n]["y"]) for n in nodes], dtype=np.float64)
    except KeyError as err:
        raise NetworkError(f"graph nodes need 'x' and 'y' attributes (metres); node {err} has none.") from err
    edges = list(G.edges(data=True))
    u = np.array([index[a] for a, _, _ in edges], np.int64)
    v = np.array([index[b] for _, b, _ in edges], np.int64)
    geoms = []
    for (_, _, d), iu, iv in zip(edges, u, v, strict=True):
        g = d.get("geometry")
        if g is None:
            g = shapely.LineString([xy[iu], xy[iv]])
        else:  # orient from u to v
            c = shapely.get_coordinates(g)
            if np.hypot(*(c[0] - xy[iu])) > np.hypot(*(c[-1] - xy[iu])):
                g = shapely.reverse(g)
        geoms.append(g)
    geoms_a = np.array(geoms, dtype=object)
    length = np.array([d.get("length_m", np.nan) for _, _, d in edges], np.float64)
    length = np.where(np.isnan(length), shapely.length(geoms_a), length)
    cc = np.array([d.get("crossing_cost_m", 0.0) for _, _, d in edges], np.float64)
    kind = np.array([str(d.get("kind", "road")) for _, _, d in edges])
    return EdgeNetwork(
        node_xy=xy, u=u, v=v, length_m=length, crossing_cost_m=cc, geometry=geoms_a, kind=kind,
        source_index=np.arange(len(edges)), node_component=_components(len(nodes), u, v), crs=crs,
        repairs=dict(G.graph.get("repairs", {})),
    )


def _as_net(network: EdgeNetwork | nx.Graph) -> EdgeNetwork:
    if isinstance(network, EdgeNetwork):
        return network
    if isinstance(network, nx.Graph):
        return from_networkx(network)
    raise InputValidationError(
        f"expected an EdgeNetwork or a networkx graph, got {type(network).__name__}. "
        "Build one with `network.build_edges(lines)` or `network.build_network(lines)`."
    )


def to_csgraph(network: EdgeNetwork | nx.Graph, *, weight: Any = "cost_m") -> tuple[sparse.csr_matrix, np.ndarray]:
    """The network as a symmetric :class:`scipy.sparse.csr_matrix` for :mod:`scipy.sparse.csgraph`.

    Parameters
    ----------
    network
        An :class:`EdgeNetwork` or a networkx graph.
    weight
        Edge attribute name (networkx convention) or, for a networkx graph, a callable
        ``(u, v, data) -> float``. Parallel edges keep their smallest weight; self-loops
        are dropped.

    Returns
    -------
    (matrix, node_index)
        ``node_index[i]`` is the node label of row/column ``i``.

    Raises
    ------
    InputValidationError
        Unknown weight or negative weights.
    """
    if isinstance(network, EdgeNetwork):
        return network._csr(weight), np.arange(network.n_nodes)
    if not isinstance(network, nx.Graph):
        raise InputValidationError(f"expected an EdgeNetwork or a networkx graph, got {type(network).__name__}.")
    nodes = np.array(list(network.nodes), dtype=object)
    index = {n: i for i, n in enumerate(nodes)}
    edges = network.edges(data=True)
    u = np.fromiter((index[a] for a, _, _ in edges), np.int64, network.number_of_edges())
    v = np.fromiter((index[b] for _, b, _ in edges), np.int64, network.number_of_edges())
    if callable(weight):
        w = np.fromiter((weight(a, b, d) for a, b, d in edges), np.float64, network.number_of_edges())
    else:
        w = np.fromiter((d.get(weight, 1.0) for _, _, d in edges), np.float64, network.number_of_edges())
    if (w < 0).any() or not np.isfinite(w).all():
        raise InputValidationError(f"edge weights {weight!r} must be finite and >= 0; min seen {float(np.nanmin(w))}.")
    try:
        node_index = nodes.astype(np.int64)
    except (TypeError, ValueError):
        node_index = nodes
    return _csr(len(nodes), u, v, w), node_index


def to_gdfs(network: EdgeNetwork | nx.Graph) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nodes and edges as GeoDataFrames in the network's CRS, ready to write.

    Nodes: ``node_id``, ``component``, points. Edges: ``edge_id``, ``u``, ``v``,
    ``length_m``, ``crossing_cost_m``, ``cost_m``, ``kind``, ``component``, lines.

    Raises
    ------
    InputValidationError
        Not a network.
    """
    net = _as_net(network)
    nodes = gpd.GeoDataFrame(
        {"node_id": np.arange(net.n_nodes), "component": net.node_component},
        geometry=shapely.points(net.node_xy), crs=net.crs,
    )
    edges = gpd.GeoDataFrame(
        {
            "edge_id": np.arange(net.n_edges), "u": net.u, "v": net.v, "length_m": net.length_m,
            "crossing_cost_m": net.crossing_cost_m, "cost_m": net.cost_m, "kind": net.kind,
            "component": net.edge_component,
        },
        geometry=net.geometry, crs=net.crs,
    )
    return nodes, edges
