"""A routable network from road and canal-bank lines; snapping points onto it; reach searches.

The network is built once from the ``roads`` layer (kinds per
``schemas.SCHEMAS["roads"]``) and kept in two forms:

* :class:`EdgeNetwork`, a compact table of numpy arrays (node coordinates, edge end
  nodes, lengths, costs, geometries). Every heavy step (snapping millions of points,
  multi-source searches) runs on it with numpy and :mod:`scipy.sparse.csgraph`.
* a :class:`networkx.MultiGraph` for planners (:func:`build_network`,
  :func:`to_networkx`), with ``G.graph["crs"]``, ``G.graph["repairs"]`` and
  ``G.graph["components"]``; convert back with :func:`from_networkx`.

Edge attributes: ``edge_id``, ``length_m`` (geometric length in metres),
``crossing_cost_m`` (the share of a bridge's or ferry's crossing cost that falls on this
edge), ``cost_m = length_m + crossing_cost_m`` (the default search weight), ``kind``,
``component`` and ``geometry`` (oriented from ``u`` to ``v``). Node attributes: ``x``,
``y`` (metres in the network's CRS) and ``component``.

Rules of the build (each repair is counted in ``repairs``):

* ``river`` lines are not traversable along their length (they are what bridges and
  ferries cross) and are left out; ``road``, ``bridge`` and ``ferry`` lines are edges.
* A ``canal`` line stands for two banks: it becomes two edges offset ``canal_half_width_m``
  to its left and right (``side`` +1 / −1), noded like the other lines, so only a line
  that crosses the canal (a road's bridge, a ``bridge`` or ``ferry``) joins the banks; the
  canal line itself is water. A cable serves a bank only from its own side
  (:func:`same_bank`; a cable drawn on the canal's line is on its left bank).
* MultiLineStrings are exploded, Z values dropped, empty and zero-length parts removed.
* Lines are noded where they cross or where one line's end lies on another's interior
  (a bucketed numpy segment test picks the pairs, GEOS intersects only those, and one
  vectorised split follows; attributes are kept, which a ``union_all`` would lose). A
  line passing through its own end point is noded there too (GEOS's mod-2 rule would
  call that point boundary).
* Line ends closer than ``snap_tolerance_m`` are joined into one node (clusters of
  ends within the tolerance, transitively).
* Edges collapsed by the snapping and duplicate edges (same end nodes, same length and
  same midpoint to 1 mm) are removed.

Distances from a point on an edge (:func:`distance_to_nearest`) are exact: the drop from
the point to the edge, plus the way along the edge to one of its end nodes and the network
distance from there, or, for a source on the same edge, the direct way along the edge.

Modules: :mod:`.table` (the :class:`EdgeNetwork` table), :mod:`.noding` (splitting lines
where they meet), :mod:`.build` (repairs and the build), :mod:`.convert` (networkx, scipy
and GeoDataFrame forms), :mod:`.snapping` (points onto edges), :mod:`.paths` (reach
searches) and :mod:`.redundancy` (data-centre path redundancy). Every public name is
re-exported here: ``from ictplan import network as nw; nw.build_edges(...)``.
"""

from __future__ import annotations

# the private helpers re-exported here (``x as x``) are used through the package: fiber
# calls ``_nw._point_xy`` and ``_nw._as_net``, the tests ``nw._node_lines``
from .build import build_edges, build_network
from .convert import _as_net as _as_net
from .convert import from_networkx, to_csgraph, to_gdfs, to_networkx
from .noding import _node_lines as _node_lines
from .noding import _noding_pairs as _noding_pairs
from .paths import distance_to_nearest, nearest_source, node_distances
from .redundancy import datacentre_redundancy
from .snapping import _point_xy as _point_xy
from .snapping import same_bank, snap_points, snap_xy
from .table import TRAVERSABLE_KINDS, EdgeNetwork
from .table import _components as _components
from .table import _csr as _csr

__all__ = [
    "EdgeNetwork",
    "TRAVERSABLE_KINDS",
    "build_edges",
    "build_network",
    "to_networkx",
    "from_networkx",
    "to_csgraph",
    "to_gdfs",
    "snap_points",
    "snap_xy",
    "same_bank",
    "distance_to_nearest",
    "nearest_source",
    "node_distances",
    "datacentre_redundancy",
]

