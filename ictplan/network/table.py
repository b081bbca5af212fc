"""The compact network table (:class:`EdgeNetwork`) and the sparse adjacency beneath it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pyproj
import shapely
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .._errors import InputValidationError
from ..schemas import SCHEMAS

TRAVERSABLE_KINDS = ("road", "canal", "bridge", "ferry")
"""Line kinds that become edges; ``river`` lines are crossed, never followed."""

_ALL_KINDS = SCHEMAS["roads"].choices["kind"]

# =========================================================================== the table
@dataclass(frozen=True, eq=False)
class EdgeNetwork:
    """A noded, undirected network as numpy arrays (metres in ``crs``).

    Attributes
    ----------
    node_xy : (n_nodes, 2) float64 node coordinates.
    u, v : (n_edges,) int64 end nodes; ``geometry[i]`` runs from ``u[i]`` to ``v[i]``.
    length_m, crossing_cost_m, cost_m : (n_edges,) float64.
    geometry : (n_edges,) shapely LineStrings.
    kind : (n_edges,) str.
    source_index : (n_edges,) the index label of the input line each edge came from.
    node_component : (n_nodes,) int64 component id, 0 = the largest component.
    crs : the metric CRS of the coordinates.
    repairs : counts of every repair made while building.
    water : river and canal lines (shapely, 2-D) that a household drop may not cross
      (:func:`ictplan.network.snap_xy` with ``dry=True``); empty when unknown.
    side : (n_edges,) int8 bank of a canal-bank edge: +1 the left bank, −1 the right bank
      (in the canal line's drawing direction), 0 any other edge; None: all 0
      (:attr:`bank_side`).
    """

    node_xy: np.ndarray
    u: np.ndarray
    v: np.ndarray
    length_m: np.ndarray
    crossing_cost_m: np.ndarray
    geometry: np.ndarray
    kind: np.ndarray
    source_index: np.ndarray
    node_component: np.ndarray
    crs: pyproj.CRS
    repairs: dict[str, int] = field(default_factory=dict)
    water: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    side: np.ndarray | None = None

    @property
    def n_nodes(self) -> int:
        return int(self.node_xy.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.u.shape[0])

    @property
    def bank_side(self) -> np.ndarray:
        """Per edge: +1 / −1 on a canal's left / right bank, 0 elsewhere."""
        return np.zeros(self.n_edges, np.int8) if self.side is None else np.asarray(self.side, np.int8)

    @property
    def cost_m(self) -> np.ndarray:
        return self.length_m + self.crossing_cost_m

    @property
    def edge_component(self) -> np.ndarray:
        return self.node_component[self.u]

    @property
    def component_sizes(self) -> list[int]:
        """Node counts per component, largest first (index = component id)."""
        return np.bincount(self.node_component).tolist() if self.n_nodes else []

    def weight_array(self, weight: str = "cost_m") -> np.ndarray:
        """Per-edge weights: ``"cost_m"`` or ``"length_m"`` (or any per-edge array attribute)."""
        if weight not in ("cost_m", "length_m", "crossing_cost_m"):
            raise InputValidationError(
                f"unknown edge weight {weight!r}: use 'cost_m' (length + crossing cost) or 'length_m'."
            )
        return np.asarray(getattr(self, weight), dtype=np.float64)

    @cached_property
    def _segments(self) -> dict[str, np.ndarray]:
        """Straight segments of all edge geometries (for vectorised snapping)."""
        coords, idx = shapely.get_coordinates(self.geometry, return_index=True)
        same = idx[:-1] == idx[1:]
        k = np.flatnonzero(same)
        a = coords[k]
        b = coords[k + 1]
        seg_len = np.hypot(b[:, 0] - a[:, 0], b[:, 1] - a[:, 1])
        edge = idx[k]
        cum = np.cumsum(seg_len) - seg_len
        first = np.r_[True, edge[1:] != edge[:-1]]
        start_cum = np.maximum.accumulate(np.where(first, cum, -np.inf))
        return {"a": a, "b": b, "len": seg_len, "edge": edge, "offset": cum - start_cum}

    def _csr(self, weight: str = "cost_m") -> sparse.csr_matrix:
        """Symmetric adjacency for ``weight`` (cached)."""
        cache = self.__dict__.setdefault("_csr_cache", {})
        if weight not in cache:
            cache[weight] = _csr(self.n_nodes, self.u, self.v, self.weight_array(weight))
        return cache[weight]

    @cached_property
    def _tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.geometry)

    @cached_property
    def _water_tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.water)


def _csr(n: int, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> sparse.csr_matrix:
    """Symmetric CSR adjacency keeping the smallest weight of parallel edges."""
    rows = np.concatenate([u, v])
    cols = np.concatenate([v, u])
    data = np.concatenate([w, w])
    ok = rows != cols
    rows, cols, data = rows[ok], cols[ok], data[ok]
    key = rows.astype(np.int64) * n + cols
    order = np.lexsort((data, key))
    key, data = key[order], data[order]
    first = np.r_[True, key[1:] != key[:-1]]
    key, data = key[first], data[first]
    return sparse.csr_matrix((data, (key // n, key % n)), shape=(n, n))


def _components(n: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Component id per node, 0 = largest (ties: lowest node id first)."""
    adj = sparse.coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n))
    k, lab = connected_components(adj, directed=False)
    sizes = np.bincount(lab, minlength=k)
    firsts = np.full(k, n, np.int64)
    np.minimum.at(firsts, lab, np.arange(n))
    rank = np.lexsort((firsts, -sizes))
    new = np.empty(k, np.int64)
    new[rank] = np.arange(k)
    return new[lab]
