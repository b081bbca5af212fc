"""Sensitivity of the headline mobile figures to the assumptions behind them (issue 11 item 7).

:func:`table` recomputes, for the province, M1 (mean busy-hour 4G speed of the 4G users,
each on their own operator), M2 (the same for 5G), M3 (people within outdoor 5G coverage
of at least one operator), 4G outdoor and indoor coverage and 5G indoor coverage, one
assumption moved at a time from the study's run:

* **location probability** (``location_probabilities``, default 50 / 90 / 95 %): the
  coverage margin z·σ; the speeds use the median signal, so M1 and M2 do not move;
* **indoor share** (``indoor_shares``): the share of people counted indoors, coverage =
  (1 − s) · outdoor + s · indoor per cell. Taken from the run's own rasters (no new
  run); speeds are modelled outdoors only, so M1/M2 are left blank on these rows;
* **demand** (``demand_factors``, default × 0.5 and × 1.5): the busy-hour volume per
  subscriber (both anchor years scaled), through the whole load model;
* **5G uptake** (``uptake_years``): the share of subscribers with a 5G device and plan at
  its 2025 and its 2030 value, the demand year and volume kept.

Every row but the indoor ones is a new :func:`ictplan.coverage.run` with the run's own
parameters and that one change (zone weights are cached on the study; only the commune
level is tabulated; no rasters kept). The province figures are the coverage table's
``"any"`` rows, so they are the scorecard's definitions.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import parameters as _parameters
from ._errors import InputValidationError

if TYPE_CHECKING:  # pragma: no cover
    from .coverage import CoverageResult
    from .grid import Population
    from .study import Study

logger = logging.getLogger(__name__)

__all__ = ["FIGURES", "table", "run", "province_figures", "indoor_share_figures", "markdown", "write_outputs"]

#: The figures of each row: (column, label, technology, coverage-table column).
FIGURES: tuple[tuple[str, str, str, str], ...] = (
    ("m1_mbps", "M1: mean 4G speed of 4G users (Mb/s)", "4G", "mean_user_mbps"),
    ("m2_mbps", "M2: mean 5G speed of 5G users (Mb/s)", "5G", "mean_user_mbps"),
    ("m3_pct", "M3: people within outdoor 5G coverage (%)", "5G", "pct_covered"),
    ("cov_4g_outdoor_pct", "4G outdoor coverage (%)", "4G", "pct_covered"),
    ("cov_4g_indoor_pct", "4G indoor coverage (%)", "4G", "pct_covered_indoor"),
    ("cov_5g_indoor_pct", "5G indoor coverage (%)", "5G", "pct_covered_indoor"),
)
_COLS = [f[0] for f in FIGURES]


def province_figures(result: CoverageResult, /) -> dict[str, float]:
    """The headline figures of a coverage result: its table's province rows of operator ``"any"``
    (NaN for a technology the study has no site of)."""
    from .coverage import ANY_OPERATOR

    t = result.table
    if t is None or not (t["level"] == "province").any():
        raise InputValidationError("the coverage result has no province rows: run ictplan.coverage.run(study).")
    prov = t[(t["level"] == "province") & (t["operator"] == ANY_OPERATOR)].set_index("technology")
    return {col: float(prov.loc[tech, src]) if tech in prov.index else float("nan") for col, _, tech, src in FIGURES}


def indoor_share_figures(result: CoverageResult, population: Population, share: float, /) -> dict[str, float]:
    """Coverage with a share ``share`` of the people indoors: per cell ``(1 − s)·covered +
    s·covered_indoor``, summed over the province (the cells inside the result's first zone
    level, as its table's province row) with the people of ``population``; speeds NaN."""
    from .coverage import ANY_OPERATOR

    if not 0.0 <= share <= 1.0:
        raise InputValidationError(f"an indoor share is a fraction in [0, 1]; got {share!r}.")
    if not result.weights:
        raise InputValidationError("the coverage result has no zone weights: run ictplan.coverage.run(study).")
    first = next(iter(result.weights.values()))  # the province = the first level's zones (as its table)
    w = (1.0 - first.outside) * np.asarray(population.counts, float).reshape(-1)
    out = {c: float("nan") for c in _COLS}
    for col, tech in (("m3_pct", "5G"), ("cov_4g_outdoor_pct", "4G")):
        lay = result.layers.get((ANY_OPERATOR, tech))
        if lay is None or w.sum() <= 0:
            continue
        ind = lay.covered_indoor.reshape(-1) / 100.0 if lay.covered_indoor is not None else np.zeros(w.size)
        mix = (1.0 - share) * lay.covered.reshape(-1) + share * ind
        out[col] = 100.0 * float(w @ mix) / float(w.sum())
    return out


def _variants(prm: Any, sp: Any) -> list[tuple[str, str, float, int, dict[str, Any]]]:
    """(scenario, value text, setting, year, coverage overrides) of each rerun, the base's own value left out."""
    out: list[tuple[str, str, float, int, dict[str, Any]]] = []
    year = int(prm.year)
    for p in sp.location_probabilities:
        if abs(float(p) - float(prm.location_probability)) > 1e-12:
            out.append(("location probability", f"{100 * float(p):g} %", 100 * float(p), year,
                        {"location_probability": float(p)}))
    for f in sp.demand_factors:
        if abs(float(f) - 1.0) > 1e-12:
            out.append(("busy-hour demand", f"× {float(f):g}", float(f), year,
                        {"gb_per_month_2025": prm.gb_per_month_2025 * float(f),
                         "gb_per_month_2030": prm.gb_per_month_2030 * float(f)}))
    from .demand import demand_for

    base_u = demand_for(prm).uptake_5g
    for y in sp.uptake_years:
        u = float(getattr(prm, f"uptake_5g_{int(y)}", np.nan))
        if not np.isfinite(u):
            raise InputValidationError(f"uptake_years: {y} is not an anchor year of the 5G uptake (2025, 2030).")
        if abs(u - base_u) > 1e-12:
            out.append(("5G uptake", f"{int(y)} value: {100 * u:g} %", 100 * u, int(y),
                        {"uptake_5g_2025": u, "uptake_5g_2030": u}))
    return out


def table(study: Study, /, *, coverage: CoverageResult | None = None,
          location_probabilities: Sequence[float] | None = None, indoor_shares: Sequence[float] | None = None,
          demand_factors: Sequence[float] | None = None, uptake_years: Sequence[int] | None = None,
          progress: bool | None = None) -> pd.DataFrame:
    """How the headline mobile figures move with the assumptions (see the module docstring).

    Parameters
    ----------
    study
        A loaded study.
    coverage
        The study's coverage result (e.g. the workflow's): the base row and the indoor
        rows come from it; ``None`` runs it.
    location_probabilities, indoor_shares, demand_factors, uptake_years
        Overrides of ``[parameters.sensitivity]`` (:class:`ictplan.parameters.SensitivityParameters`).
    progress
        Accepted for the common shape of ``run``.

    Returns
    -------
    pandas.DataFrame
        One row per scenario: ``scenario`` (``base``, ``location probability``, ``indoor
        share``, ``busy-hour demand``, ``5G uptake``), ``value`` (the assumption's value,
        as text), ``setting`` (the same as a number: location probability or indoor share in %, the
        demand factor, the 5G uptake in %), ``year`` (the run's year; for ``5G uptake`` the year
        whose uptake is used), then :data:`FIGURES` (``m1_mbps, m2_mbps, m3_pct, cov_4g_outdoor_pct,
        cov_4g_indoor_pct, cov_5g_indoor_pct``), each also as ``<figure>_change`` (minus
        the base row), ``seconds`` (the rerun's time, 0 for rows from the base run) and
        ``note``. ``attrs["seconds"]``: the whole table's time.

    Raises
    ------
    ConfigError, InputValidationError
        A bad ``[parameters.sensitivity]`` value, or from the coverage runs.
    """
    from . import coverage as _coverage

    t0 = time.perf_counter()
    sp = _parameters.resolve("sensitivity", study, location_probabilities=location_probabilities,
                             indoor_shares=indoor_shares, demand_factors=demand_factors, uptake_years=uptake_years)
    quick = {"keep_rasters": False, "levels": ("communes",)}
    base = coverage if coverage is not None else _coverage.run(study, progress=False, **quick)
    prm = _parameters.resolve("coverage", study, **{k: v for k, v in base.parameters.items()
                                                    if k in _parameters.CoverageParameters.__dataclass_fields__})
    p0 = float(prm.location_probability)
    year = int(prm.year)
    rows: list[dict[str, Any]] = [{"scenario": "base", "value": f"as run (location probability {100 * p0:g} %, "
                                   f"year {prm.year})", "setting": 100 * p0, "year": year, **province_figures(base),
                                   "seconds": 0.0, "note": ""}]
    for s in sp.indoor_shares:
        if float(s) > 0:
            rows.append({"scenario": "indoor share", "value": f"{100 * float(s):g} % of people indoors",
                         "setting": 100 * float(s), "year": year,
                         **indoor_share_figures(base, study.population, float(s)), "seconds": 0.0,
                         "note": "coverage only: speeds are modelled outdoors"})
    for scen, val, setting, yr, over in _variants(prm, sp):
        t1 = time.perf_counter()
        res = _coverage.run(study, progress=False, **{**{f: getattr(prm, f) for f in prm.__dataclass_fields__},
                                                      **quick, **over})
        rows.append({"scenario": scen, "value": val, "setting": setting, "year": yr, **province_figures(res),
                     "seconds": time.perf_counter() - t1,
                     "note": "speeds use the median signal" if scen == "location probability" else ""})
        logger.info("sensitivity: %s %s in %.1f s", scen, val, rows[-1]["seconds"])
    out = pd.DataFrame(rows)
    for c in _COLS:
        out[f"{c}_change"] = out[c] - out.loc[0, c]
    out = out[["scenario", "value", "setting", "year", *_COLS, *(f"{c}_change" for c in _COLS), "seconds", "note"]]
    out.attrs["seconds"] = time.perf_counter() - t0
    return out


run = table
"""The workflow's name for :func:`table` (job ``"sensitivity"``)."""


def _cell(v: float, ch: float, base: bool) -> str:
    if v != v:
        return "–"
    return f"{v:.1f}" if base or abs(ch) < 0.05 else f"{v:.1f} ({ch:+.1f})"


def markdown(tab: pd.DataFrame, /) -> str:
    """The table as Markdown: one row per scenario, each figure with its change from the base."""
    lines = ["# Sensitivity of the headline mobile figures (province)", "",
             "Each row moves one assumption from the study's run; (±x) is the change from the base row.", "",
             "| scenario | value | " + " | ".join(f[1] for f in FIGURES) + " | note |",
             "|---|---|" + "---|" * len(FIGURES) + "---|"]
    for i, r in tab.iterrows():
        cells = [_cell(float(r[c]), float(r[f"{c}_change"]), i == 0) for c in _COLS]
        lines.append(f"| {r['scenario']} | {r['value']} | " + " | ".join(cells) + f" | {r['note']} |")
    return "\n".join(lines) + "\n"


def write_outputs(tab: pd.DataFrame, out_dir: str | Path, /, *, overwrite: bool = False) -> dict[str, Path]:
    """``sensitivity.csv`` and ``sensitivity.md`` in ``out_dir`` (created), written atomically.

    Raises
    ------
    OutputExistsError
        A file exists and ``overwrite`` is false.
    """
    from . import io as _io

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": _io.write_table(tab, out / "sensitivity.csv", overwrite=overwrite)}
    md = out / "sensitivity.md"
    with _io.atomic_path(md, overwrite=overwrite) as tmp:
        tmp.write_text(markdown(tab), encoding="utf-8")
    paths["markdown"] = md
    return paths
