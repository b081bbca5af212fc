"""Infrastructure sharing: physical sites, tower co-location, poles and ducts, duplicated routes.

The plan asks operators to share passive infrastructure (towers, poles, ducts) and to keep a
digital twin of every physical asset. This module answers, from the layers of a study:

* **What stands where** -- :func:`physical_sites` consolidates OpenCelliD cells (approximate
  positions; grouped by distance and by LTE eNodeB id, and attached to the operator's
  sector-table site when one is near) and operators' sector tables into physical sites of
  one operator, and sites of different operators that stand together into *towers*
  (:func:`towers`). Every site and tower gets a stable digital-twin id (see *Stable ids*).
* **Where one tower could serve several operators** -- :func:`colocation_graph` joins towers
  of different operators that stand within a candidate distance; :func:`candidate_groups`
  turns that graph into groups of towers that could be merged into one, ranked by the
  towers they save; :func:`sharing_summary` gives tenancy today and potential.
* **Poles and ducts** -- :func:`poles_and_spans`: which spans carry several operators'
  cables, which poles carry more cables than they are rated for, poles without spans.
* **Duplicated trenching** -- :func:`duplicated_routes`: fiber routes of different operators
  running along the same corridor for a minimum length; duct-sharing candidates and the
  province's km of duplicated trenching.
* :func:`run` does all of it for a study; :func:`write_outputs` writes a GeoPackage, the
  graphs as GraphML, the duct candidates as CSV and a JSON summary, each atomically;
  :func:`summary_text` words the summary for the CLI.

Distances are measured in a projected (metric) working CRS: the input's CRS when it is
projected, else the UTM zone estimated from the data, or ``working_crs=`` when given.
Candidate pairs are found with a KD-tree (:class:`scipy.spatial.cKDTree`) and tested with
exact Euclidean distances in the working CRS -- never with polygonal buffers, which miss
pairs just inside the limit.

Stable ids
----------
A site's id is ``S-`` + a 12-hex-digit BLAKE2b hash of its operator and the sorted ids of
what defines it: the operator's own ``site_id`` values when the site comes from a sector
table (cells that attach to it do not change it), else the sorted OpenCelliD cell keys
(``radio-mcc-net-area-cell``). A tower's id is ``T-`` + the hash of its sorted site ids; a
candidate group's id is ``G-`` + the hash of its sorted tower ids. Ids therefore do not
depend on row order or coordinates' float noise and survive re-runs on the same data; they
change when the membership changes (a new cell joining a cell-only site gives it a new id,
by design: it is a different consolidation).

Modules: :mod:`.sites` (physical sites), :mod:`.towers` (towers, the co-location graph,
candidate groups, tenancy), :mod:`.poles` (poles and spans), :mod:`.ducts` (duplicated
routes) and :mod:`.analysis` (the study-level :func:`run`, :class:`SharingResult`, the
summary in words and the files written); every public name is re-exported here.
"""

from __future__ import annotations

from ._common import RADIO_TECHNOLOGY
from .analysis import SharingResult, run, summary_text, write_outputs
from .ducts import DuplicatedRoutes, duplicated_routes
from .poles import poles_and_spans
from .sites import physical_sites
from .towers import (
    candidate_edges,
    candidate_groups,
    candidate_pairs,
    colocation_graph,
    sharing_summary,
    towers,
)

__all__ = [
    "physical_sites",
    "towers",
    "candidate_pairs",
    "colocation_graph",
    "candidate_edges",
    "candidate_groups",
    "sharing_summary",
    "poles_and_spans",
    "duplicated_routes",
    "DuplicatedRoutes",
    "SharingResult",
    "run",
    "summary_text",
    "write_outputs",
    "RADIO_TECHNOLOGY",
]
