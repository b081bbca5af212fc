"""Administrative units before and after the 1 July 2025 reform (issue 14).

* :mod:`~ictplan.admin.units` — the GSO unit lists (old: 1 May 2024; new: since 1 July 2025)
  and a look-up by name or code that answers an ambiguous name with its candidates.
* :mod:`~ictplan.admin.crosswalk` — the official old → new mapping and the crosswalk that moves
  per-commune figures between the two (counts by weights, shares and means through their
  numerators and denominators), totals preserved.
* :mod:`~ictplan.admin.studies` — a study's scorecard in the new units beside the old.
"""

from __future__ import annotations

from .units import UNIT_SYSTEMS, Unit, bare_name, candidates, lookup, split_prefix, units_table

__all__ = ["UNIT_SYSTEMS", "Unit", "bare_name", "candidates", "lookup", "split_prefix", "units_table"]
from .crosswalk import (  # noqa: E402
    RATE_HINTS,
    Crosswalk,
    Ratio,
    approximate_old_units,
    approximate_pieces,
    census_population,
    crosswalk,
    official_mapping,
    pieces_from_polygons,
)

__all__ += ["RATE_HINTS", "Crosswalk", "Ratio", "approximate_old_units", "approximate_pieces", "census_population", "crosswalk",
            "official_mapping", "pieces_from_polygons"]
