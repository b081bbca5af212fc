"""The plan's targets as data, the indicators that measure them, and the scorecard.

A targets file (``data/targets/camau_2021_2030.toml``) lists every target of the plan:
id, year, the plan's words in Vietnamese and English, the *indicator* that measures it,
threshold, unit, comparison and level. :func:`load_targets` validates it (every problem
at once, each with its line). The indicators are the functions registered in
:data:`INDICATORS` (each docstring says exactly how it is measured), plus
``table:<column>`` for figures that are not geodata (read from the study's optional
indicators table, ``[parameters.scorecard] indicators_table``) and ``policy`` for
directions no figure measures.

:func:`run` measures every target for the province, each district and each commune from
the analysis results it is given (``coverage=``, ``fiber=``, ``sharing=``; it runs no
analysis itself) and says for each row: value, target, status (``met`` / ``not met`` /
``no data`` / ``not applicable``), the gap in natural units (people, households,
hamlets, communes, points, facilities) and, when there is no value, why.
:func:`write_scorecard` writes CSV, GeoPackage (commune polygons with the scorecard
columns, wide) and Markdown; :func:`compare` sets a study variant's scorecard beside the
base and gives the difference (what-if).

The package, one concern per module:

* :mod:`~ictplan.targets.plan`: the targets as data (:class:`Target`, :class:`Plan`, :func:`load_targets`);
* :mod:`~ictplan.targets.inputs`: what the indicators read (:class:`ScoreInputs`) and the adapters
  from the coverage and fiber results;
* :mod:`~ictplan.targets.indicators`: the indicator registry and every indicator;
* :mod:`~ictplan.targets.scoring`: :func:`evaluate`, :class:`Scorecard`, :func:`compare`, :func:`run`;
* :mod:`~ictplan.targets.writers`: CSV, GeoPackage and Markdown.

The DVB-T2 field strength is :func:`ictplan.radio.dtt_received_dbm`; the data-centre path
redundancy is ``ictplan.network.datacentre_redundancy``.
"""

from __future__ import annotations

from .indicators import INDICATORS, Indicator, describe_indicators
from .inputs import (
    FixedInputs,
    MobileInputs,
    NoData,
    ScoreInputs,
    fixed_inputs,
    inputs_from_study,
    mobile_inputs,
    read_indicators_table,
)
from .plan import (
    COMPARISONS,
    LEVELS,
    STATUSES,
    ZONE_LEVELS,
    Plan,
    Target,
    load_targets,
    parse_targets,
)
from .scoring import Scorecard, applied_to, compare, evaluate, run, scorecard
from .writers import markdown, write_comparison, write_scorecard

__all__ = [
    "STATUSES",
    "COMPARISONS",
    "LEVELS",
    "ZONE_LEVELS",
    "INDICATORS",
    "Indicator",
    "Target",
    "Plan",
    "MobileInputs",
    "FixedInputs",
    "ScoreInputs",
    "NoData",
    "Scorecard",
    "applied_to",
    "load_targets",
    "parse_targets",
    "describe_indicators",
    "mobile_inputs",
    "fixed_inputs",
    "read_indicators_table",
    "inputs_from_study",
    "evaluate",
    "run",
    "scorecard",
    "markdown",
    "write_scorecard",
    "compare",
    "write_comparison",
]
