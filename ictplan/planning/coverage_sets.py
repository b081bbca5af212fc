"""The sparse cells × candidates coverage matrix of a 5G roll-out, from the radio engine.

A candidate covers a cell when the best of its sectors' RSRP reaches the coverage job's
rule for ``covered`` (:func:`ictplan.cellload._covered`): ``RSRP ≥ threshold + z_p·σ`` with
the path-loss model of the cell (TR 38.901 RMa, UMa in urban cells), the study's clutter
loss and the location probability of the coverage run. The RSRP is the engine's own
(:func:`ictplan.engine._sector_signal` on the carrier plan of :func:`ictplan.engine._plan`,
float32, the same tables), computed once per sector over its evaluation box at once: a
vectorised array per sector, no loop over cells. The boxes are those of the covering
threshold (the engine's exact reach bound, at 0.01 dB below the lowest threshold of the
two environments), so nothing that could be covered lies outside them.

Because the operator's coverage is the per-cell *maximum* over its sectors of RSRP and
the rule is a threshold on it, a set of candidates added to the study covers exactly the
existing cells plus the union of their columns: the re-run coverage job agrees with the
matrix cell for cell (tests/test_planning_rollout.py checks it), provided the variant's
``sites.csv`` carries the positions of :func:`candidate_sectors` at full precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import cellload as _cellload
from .. import coverage as _coverage
from .. import engine as _eng
from .. import parameters as _parameters
from .. import radio
from ..coverage import CoverageResult
from .candidates import NEUTRAL, candidate_sectors

__all__ = ["CoverageSets", "coverage_matrix", "existing_covered", "study_radio"]

_BOX_SAFETY_DB = 0.01  # the boxes' cutoff lies this far below the lowest covering threshold
_PRM_KEYS = ("location_probability", "urban_model", "urban_density_per_km2", "urban_commune_types",
             "clutter_zero_in_urban", "margin_db")


@dataclass
class CoverageSets:
    """Which populated cells each candidate covers.

    ``matrix`` is cells × candidates (CSC, uint8 0/1): row ``i`` is the flat grid cell
    ``cells[i]`` with ``people[i]`` > 0 people; column ``j`` the candidate ``candidate_ids[j]``.
    ``covered0`` marks the rows already covered by the existing 5G (kept fixed);
    ``total_people`` is the whole study population (the share's denominator).
    """

    matrix: sp.csc_matrix
    cells: np.ndarray
    people: np.ndarray
    candidate_ids: np.ndarray
    covered0: np.ndarray
    total_people: float
    seconds: float = 0.0

    @property
    def csr(self) -> sp.csr_matrix:
        return self.matrix.tocsr()


@dataclass(frozen=True)
class StudyRadio:
    """The coverage job's inputs for the engine: profiles, population, urban cells, clutter."""

    profiles: dict[str, Any]
    population: Any
    urban: np.ndarray | None
    prm: Any
    landcover: np.ndarray | None


def study_radio(study: Any, coverage: CoverageResult | None = None) -> StudyRadio:
    """The profiles, urban mask and coverage parameters of the coverage run (its
    ``result.parameters`` where given, else the study's)."""
    recorded = dict(coverage.parameters) if coverage is not None else {}
    prm = _parameters.resolve("coverage", study, **{k: recorded[k] for k in _PRM_KEYS if k in recorded})
    if coverage is not None and "location_probability" not in recorded:
        prm = _parameters.resolve("coverage", study, location_probability=float(coverage.location_probability))
    profiles = radio.parse_profiles(study.profiles, source=str(study.profiles_path or "profiles"))
    population = study.population
    urban = _coverage._study_urban(study, population, prm)
    return StudyRadio(profiles, population, urban, prm, study.landcover)


def existing_covered(coverage: CoverageResult, operator: str | None) -> np.ndarray:
    """Flat bool per grid cell: covered by the operator's existing 5G (``None``: by any
    operator's); all False when the coverage result has no such layer."""
    key = (operator if operator is not None else _coverage.ANY_OPERATOR, "5G")
    lay = coverage.layers.get(key)
    if lay is None:
        return np.zeros(coverage.grid.height * coverage.grid.width, dtype=bool)
    return np.asarray(lay.covered, dtype=bool).reshape(-1)


def _carrier(rad: StudyRadio, sec: pd.DataFrame, operator: str, band: str) -> tuple[Any, float, float, Any]:
    """The engine plan of the candidates' sectors, the rural and urban covering thresholds
    (dBm, the coverage job's expressions) and the per-cell rasters."""
    prof = radio.profile_for(rad.profiles, operator, "5G", band)
    opts = _cellload.ServeOptions(location_probability=float(rad.prm.location_probability),
                                  urban_model=str(rad.prm.urban_model))
    uprof = _cellload.urban_profile(prof, opts, rad.urban)
    p_loc = opts.location_probability
    thr_r = prof.rsrp_threshold_dbm + _cellload._margin(prof, p_loc)
    thr_u = uprof.rsrp_threshold_dbm + _cellload._margin(uprof, p_loc) if uprof is not None else thr_r
    cutoff = min(thr_r, thr_u) - _BOX_SAFETY_DB
    grid = rad.population.grid
    plan = _eng._plan(sec, grid, prof, prof.rsrp_threshold_dbm - cutoff, 256, None, rad.urban, uprof)
    clutter, clutter_u = _coverage._study_clutter(rad.landcover, rad.profiles, rad.urban, [band], rad.prm)
    loss = clutter_u if (uprof is not None and clutter_u is not None) else clutter
    cells = _eng._Cells(None if loss is None else loss[band], rad.urban if plan.urban_any is not None else None)
    return plan, thr_r, thr_u, cells


def _sector_cells(plan: Any, s: int, thr_r: float, thr_u: float, cells: Any) -> np.ndarray:
    """Flat grid indices of the cells sector ``s`` covers (its whole box at once)."""
    ra, rb, ca, cb = int(plan.r0[s]), int(plan.r1[s]), int(plan.c0[s]), int(plan.c1[s])
    sig = _eng._sector_signal(plan, s, ra, rb, cells)
    ok = sig >= thr_r
    if cells.urban is not None and thr_u != thr_r:
        u = cells.urban[ra:rb, ca:cb]
        ok[u] = sig[u] >= thr_u
    r, c = np.nonzero(ok)
    return (r + ra).astype(np.int64) * plan.shape[1] + (c + ca)


def coverage_matrix(study: Any, cands: gpd.GeoDataFrame, /, *, coverage: CoverageResult | None = None,
                  operator: str | None = None, radio_inputs: StudyRadio | None = None) -> CoverageSets:
    """The cells × candidates matrix of ``cands`` (:func:`ictplan.planning.candidates.candidate_sites`).

    ``coverage`` (the study's coverage run) gives the location probability and the cells
    already covered by ``operator``'s existing 5G (``None``: any operator's; the neutral host).
    Only populated cells are rows. Candidates of one band and operator label (as built).
    """
    import time

    t0 = time.perf_counter()
    rad = radio_inputs or study_radio(study, coverage)
    pop = rad.population
    counts = np.where(pop.nodata_mask, 0.0, pop.counts).reshape(-1)
    populated = np.flatnonzero(counts > 0)
    row_of = np.full(counts.size, -1, dtype=np.int64)
    row_of[populated] = np.arange(populated.size)
    rows, cols = _coverage_pairs(rad, cands, row_of)
    mat = sp.csc_matrix((np.ones(rows.size, dtype=np.uint8), (rows, cols)), shape=(populated.size, len(cands)))
    mat.sum_duplicates()
    mat.data[:] = 1
    cov0 = existing_covered(coverage, operator)[populated] if coverage is not None else np.zeros(populated.size, bool)
    return CoverageSets(matrix=mat, cells=populated, people=counts[populated], covered0=cov0,
                        candidate_ids=cands["candidate_id"].astype(str).to_numpy(),
                        total_people=float(counts.sum()), seconds=time.perf_counter() - t0)


def _coverage_pairs(rad: StudyRadio, cands: gpd.GeoDataFrame, row_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, candidate) pairs, one per covered populated cell per covering sector."""
    if len(cands) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    rows_l, cols_l = [], []
    secs = candidate_sectors(cands)
    owner = np.repeat(np.arange(len(cands)), [len(s) for s in cands["sectors"]])
    for (op, band), idx in secs.groupby(["operator", "band"]).groups.items():
        part = secs.loc[idx]
        gdf = gpd.GeoDataFrame(part, geometry=gpd.points_from_xy(part["lon"], part["lat"]), crs="EPSG:4326")
        sec = _coverage.prepare_sectors(gdf, rad.population.grid, rad.profiles)
        plan, thr_r, thr_u, cells = _carrier(rad, sec, str(op), str(band))
        who = owner[np.asarray(idx)]
        for s in np.flatnonzero(plan.active).tolist():
            flat = _sector_cells(plan, s, thr_r, thr_u, cells)
            r = row_of[flat]
            r = r[r >= 0]
            rows_l.append(r)
            cols_l.append(np.full(r.size, who[s], dtype=np.int64))
    if not rows_l:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows_l), np.concatenate(cols_l)


def neutral_label(operator: str | None) -> str:
    """The operator label of a plan's candidates: the operator, or ``"neutral"``."""
    return operator if operator is not None else NEUTRAL
