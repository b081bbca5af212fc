"""What to build, where and at what cost: the planner behind ``ictplan plan``.

* :mod:`~ictplan.planning.candidates`, :mod:`~ictplan.planning.coverage_sets`,
  :mod:`~ictplan.planning.rollout`: the 5G roll-out (candidate sites as data, sparse
  cell × candidate coverage sets from the radio engine, lazy greedy + swap or HiGHS MILP);
* :mod:`~ictplan.planning.fiber_ext`: the least-cost fiber extension to unreached hamlets;
* :mod:`~ictplan.planning.postal`: postal points for the communes without a staffed one;
* :mod:`~ictplan.planning.datacentre`: data-centre sites scored by documented criteria;
* :mod:`~ictplan.planning.plan`: phases (2025, 2030), costs, the plan as a variant study
  re-run through the scorecard.

Unit costs and every other default are :class:`ictplan.parameters.PlanParameters`.
"""

from .candidates import candidate_sectors as candidate_sectors
from .candidates import candidate_sites as candidate_sites
from .coverage_sets import CoverageSets as CoverageSets
from .coverage_sets import coverage_matrix as coverage_matrix
from .datacentre import DatacentreSiting as DatacentreSiting
from .datacentre import datacentre_sites as datacentre_sites
from .fiber_ext import FiberExtension as FiberExtension
from .fiber_ext import extend_fiber as extend_fiber
from .postal import PostalPlan as PostalPlan
from .postal import postal_gaps as postal_gaps
from .rollout import RolloutResult as RolloutResult
from .rollout import capacity_additions as capacity_additions
from .rollout import plan_5g as plan_5g
from .rollout import sites_with as sites_with
