"""One self-contained HTML report for leadership, in Vietnamese or English.

The report holds, in one file that opens anywhere (no network, no other file):

* a first screen of findings in sentences (:mod:`.findings`): how many of the plan's
  targets the province meets, misses (each with its value, target and gap in its natural
  unit) and cannot judge yet (with the data that would settle them); then the communes
  furthest behind per target; the operators below each target judged per operator (M1,
  M2, M3/X2: the scorecard's ``operators_below``, :mod:`.mobile`);

* the scorecard at each level the study has -- province, districts (where the study has
  districts), communes -- either the plan's scorecard (``Results.scorecard``) or, without
  one, the study's key figures measured here (:func:`key_figures`);
* the headline figures, read from the province row of each result (never re-summed from
  districts, which would count the people outside every commune);
* charts drawn with matplotlib, embedded as base64 PNG;
* the key maps, embedded whole (``<iframe srcdoc>``: Leaflet inlined, so they stay live);
* the sensitivity of the headline mobile figures (``Results.sensitivity``, the workflow's
  optional job): how M1, M2, M3 and 4G/5G outdoor and indoor coverage move with the
  location probability, the indoor share, demand ±50 % and 5G uptake, with one sentence
  computed from the table (:mod:`.mobile`); one line when the job did not run;
* which analyses did not run and why (``Results.skipped``);
* the data sources with their dates, and how each indicator was measured, in the
  reader's language with the proxies named (:mod:`.words`; no code names).

A plan's district and commune scorecards are colour-coded matrices (target × zone,
:func:`plan_matrix`). The page fits a 1366 px screen and prints to A4 (maps left out).

The page comes from the jinja2 template ``ictplan/templates/report.html.j2`` with
autoescape on, so every text from data is escaped; it declares UTF-8 so diacritics show as
written. :func:`build` returns the page as a string; :func:`save` writes it atomically.
Nothing is run here: the report shows what the :class:`~ictplan.workflow.Results` hold.
"""

from __future__ import annotations

from .figures import add_people, key_figures, result_figures
from .page import build, save
from .tables import charts, methods, plan_matrix, plan_tables, sources, split_levels
from .text import LANGS, LEVELS

__all__ = ["LANGS", "LEVELS", "key_figures", "result_figures", "add_people", "plan_tables", "plan_matrix", "split_levels", "charts",
           "sources", "methods", "build", "save"]
