"""What the indicators read, and the adapters that build it from analysis results.

:class:`ScoreInputs` holds everything an indicator may need (the communes, the service
layers, the population, the ``[dtt]`` profile, and the mobile / fixed figures per
commune); any part may be missing, and then ``missing`` says why. :func:`mobile_inputs`
and :func:`fixed_inputs` are the one place that knows the coverage and fiber results'
format; :func:`inputs_from_study` gathers a study's layers and the results it is given
(it runs no analysis: the workflow runs what is missing).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import parameters, services, zones
from .._errors import IctplanError, InputValidationError, MissingFileError
from ..grid import Grid, Population
from ..parameters import FIBER, SCORECARD, SHARING

if TYPE_CHECKING:  # pragma: no cover
    from ..coverage import CoverageResult
    from ..fiber import FiberResult
    from ..study import Study

__all__ = ["MobileInputs", "FixedInputs", "ScoreInputs", "NoData", "mobile_inputs", "fixed_inputs",
           "read_indicators_table", "inputs_from_study"]


@dataclass(frozen=True)
class MobileInputs:
    """What the mobile indicators need, per commune and per facility.

    ``per_commune`` (index ``commune_code``): ``population``, ``pop_4g``, ``pop_5g``
    (people covered outdoors by 4G / 5G of at least one operator, at the coverage run's
    location probability), ``users_4g``, ``users_5g`` (subscribers of the technology, all
    operators) and ``mbps_users_4g``, ``mbps_users_5g`` (Σ users × their busy-hour speed
    on their own operator's network, 0 for a user it does not cover), so that
    ``mbps_users / users`` is the subscriber-weighted mean over the operators.
    ``per_operator`` (index ``commune_code``, ``operator``, ``technology``; province rows
    under ``"province"``): ``users``, ``mean_user_mbps``, ``pct_users_ge_target``,
    ``pct_covered``, ``pct_covered_indoor``, ``p10_user_mbps``.
    ``facilities`` (index ``facility_id``): ``has_4g``, ``has_5g`` at the facility's cell.
    """

    per_commune: pd.DataFrame
    facilities: pd.DataFrame | None = None
    source: str = ""
    per_operator: pd.DataFrame | None = None


@dataclass(frozen=True)
class FixedInputs:
    """What the fixed-broadband indicators need, per commune and per facility.

    ``per_commune`` (index ``commune_code``): ``households``, ``households_reachable``
    (fiber within the drop limit), ``households_with_port`` (... and a free port),
    ``households_port_limited`` (within the limit, no port), ``households_ge_200mbps``
    (busy-hour speed ≥ 200 Mb/s, 2025 demand), ``households_gt_1gbps`` (> 1 Gb/s, 2030
    demand), ``households_copper_only``, ``hamlets``, ``hamlets_reached`` (by the fiber
    run's ``hamlet_rule``), ``hamlets_reached_share``, ``hamlets_reached_access_point``,
    ``missing_fiber_m``. ``hamlet_rule``: the rule ``hamlets_reached`` follows.
    ``facilities`` (index ``facility_id``): ``fiber_reach`` (bool), ``offered_mbps``
    (the minimum offered speed of the best reachable technology).
    ``unreached_hamlets``: the fiber result's list (for the report).
    """

    per_commune: pd.DataFrame
    facilities: pd.DataFrame | None = None
    unreached_hamlets: pd.DataFrame | None = None
    drop_limit_m: float = FIBER.drop_limit_m
    source: str = ""
    hamlet_rule: str = FIBER.hamlet_rule
    hamlet_threshold_frac: float = FIBER.hamlet_threshold_frac
    network: Any = None  # the fiber run's road/canal network (D2 reuses it)


_MOBILE_COLUMNS = ("population", "pop_4g", "pop_5g", "users_4g", "users_5g", "mbps_users_4g", "mbps_users_5g")
_FIXED_COLUMNS = ("households", "households_reachable", "households_with_port", "households_port_limited",
                  "households_ge_200mbps", "households_gt_1gbps", "households_copper_only", "hamlets",
                  "hamlets_reached", "hamlets_reached_share", "hamlets_reached_access_point", "missing_fiber_m")



def mobile_inputs(coverage: CoverageResult, /, *, facilities: gpd.GeoDataFrame | None = None) -> MobileInputs:
    """The mobile indicators' inputs from a :class:`ictplan.coverage.CoverageResult`.

    Parameters
    ----------
    coverage
        From :func:`ictplan.coverage.run` (its ``table`` must hold ``communes`` rows).
    facilities
        Facility points (any CRS): their cells' 4G / 5G coverage (operator ``any``) is read
        from the result's ``covered`` rasters.

    Returns
    -------
    MobileInputs

    Raises
    ------
    InputValidationError
        The result has no per-commune table or no ``any``-operator 4G/5G layers.

    Notes
    -----
    This adapter is the one place that knows the coverage result's format. Coverage is the
    ``any`` rows' ``pop_covered`` (at least one operator); speeds are the ``any`` rows'
    ``users × mean_user_mbps``: each subscriber on their own operator's network, over all
    users (see :mod:`ictplan.coverage_tables`), never the best-operator figure.
    """
    from ..coverage import ANY_OPERATOR

    tab = coverage.table
    if tab is None or not (tab["level"] == "communes").any():
        raise InputValidationError("the coverage result has no per-commune table: run ictplan.coverage.run(study) "
                                   "with 'communes' among its levels.")
    t = tab[(tab["level"] == "communes") & (tab["operator"] == ANY_OPERATOR)]
    out = pd.DataFrame(index=pd.Index(pd.unique(t["zone_code"].astype(str)), name="commune_code"))
    out["population"] = t.drop_duplicates("zone_code").set_index("zone_code")["population"].reindex(out.index)
    for tech in ("4G", "5G"):
        sub = t[t["technology"] == tech].set_index("zone_code")
        key = tech.lower()
        if len(sub):
            out[f"pop_{key}"] = sub["pop_covered"].reindex(out.index).fillna(0.0)
            out[f"users_{key}"] = sub["users"].reindex(out.index).fillna(0.0)
            out[f"mbps_users_{key}"] = (sub["mean_user_mbps"].fillna(0.0) * sub["users"]).reindex(out.index).fillna(0.0)
        else:  # no site of this technology: nobody is covered (a measured zero, not missing data)
            out[f"pop_{key}"] = 0.0
            out[f"users_{key}"] = 0.0
            out[f"mbps_users_{key}"] = 0.0
    out = out.drop(index=[c for c in out.index if c.startswith("(")], errors="ignore")
    fac = None
    if facilities is not None and len(facilities):
        grid: Grid = coverage.grid
        fac = pd.DataFrame(index=pd.Index(facilities["facility_id"].astype(str), name="facility_id"))
        for tech in ("4G", "5G"):
            lay = coverage.layers.get((ANY_OPERATOR, tech))
            if lay is None:
                fac[f"has_{tech.lower()}"] = False
            else:
                fac[f"has_{tech.lower()}"] = services.sample_grid(lay.covered, grid, facilities, fill=False).astype(bool)
    cols = ["users", "mean_user_mbps", "pct_users_ge_target", "pct_covered", "pct_covered_indoor", "p10_user_mbps"]
    ops = tab[tab["level"].isin(["communes", "province"]) & (tab["operator"] != ANY_OPERATOR)]
    per_op = ops.assign(commune_code=ops["zone_code"].astype(str)).set_index(
        ["commune_code", "operator", "technology"])[cols]
    return MobileInputs(per_commune=out, facilities=fac, source="ictplan.coverage", per_operator=per_op)


def fixed_inputs(fiber: FiberResult, /) -> FixedInputs:
    """The fixed-broadband indicators' inputs from a :class:`ictplan.fiber.FiberResult`.

    Parameters
    ----------
    fiber
        From :func:`ictplan.fiber.run`.

    Returns
    -------
    FixedInputs

    Raises
    ------
    InputValidationError
        The result has no per-commune table.

    Notes
    -----
    The one place that knows the fiber result's format. A facility's ``fiber_reach`` is
    the fiber analysis's ``reachable`` (fiber access within the drop limit along the
    network, drop included); ``offered_mbps`` its ``offer_min_mbps``.
    """
    com = fiber.communes
    if com is None or "commune_code" not in com:
        raise InputValidationError("the fiber result has no per-commune table: run ictplan.fiber.run(study).")
    pc = com.set_index(com["commune_code"].astype(str))
    out = pd.DataFrame(index=pd.Index(pc.index, name="commune_code"))
    for col in _FIXED_COLUMNS:
        out[col] = pd.to_numeric(pc[col], errors="coerce") if col in pc else (0.0 if col.startswith("hamlets") else np.nan)
    org = fiber.organisations
    fac = None
    if org is not None and len(org):
        offered = pd.to_numeric(org["offer_min_mbps"], errors="coerce").to_numpy(np.float64)
        if "ge_1gbps" in org:  # 1 Gb/s by the run's organisation_1gbps rule (dedicated fiber or XGS-PON)
            offered = np.where(org["ge_1gbps"].astype(bool).to_numpy(), np.maximum(offered, 1000.0), offered)
        fac = pd.DataFrame({"fiber_reach": org["reachable"].astype(bool).to_numpy(), "offered_mbps": offered},
                           index=pd.Index(org["facility_id"].astype(str), name="facility_id"))
    unreached = None
    try:
        unreached = fiber.unreached_hamlets
    except Exception:  # noqa: BLE001 - optional detail only
        unreached = None
    return FixedInputs(per_commune=out, facilities=fac, unreached_hamlets=unreached,
                       drop_limit_m=float(fiber.parameters.get("drop_limit_m", FIBER.drop_limit_m)),
                       source="ictplan.fiber", hamlet_rule=str(fiber.parameters.get("hamlet_rule", FIBER.hamlet_rule)),
                       hamlet_threshold_frac=float(fiber.parameters.get("hamlet_threshold_frac",
                                                                        FIBER.hamlet_threshold_frac)),
                       network=fiber.network)


def read_indicators_table(path: str | Path, /) -> pd.DataFrame:
    """Read the optional table of non-spatial indicators (CSV, UTF-8).

    One row per zone: a ``zone`` column holding ``province``, a district code or a
    commune code (or a ``commune_code`` / ``district_code`` column instead), then one
    numeric column per indicator (``adult_smartphone_pct``, ...). Empty cells are
    missing values.

    Returns
    -------
    pandas.DataFrame
        Columns ``zone`` (str) and the indicator columns (float).

    Raises
    ------
    MissingFileError
        No such file.
    InputValidationError
        No zone column, or a value column that is not numeric.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"indicators table not found: {path}. Fix [parameters.scorecard] indicators_table in study.toml.")
    df = pd.read_csv(path, dtype=str, encoding="utf-8", keep_default_na=False)
    df.columns = [c.strip() for c in df.columns]
    zone_col = next((c for c in ("zone", "commune_code", "district_code") if c in df.columns), None)
    if zone_col is None:
        raise InputValidationError(f"{path.name} needs a `zone` column (province, a district code or a commune code); "
                                   f"it has {', '.join(df.columns)}.")
    out = pd.DataFrame({"zone": df[zone_col].str.strip()})
    bad = []
    for col in df.columns:
        if col in ("zone", "commune_code", "district_code", "name", "zone_name", "commune_name", "district_name"):
            continue
        vals = df[col].str.strip().replace("", np.nan)
        num = pd.to_numeric(vals, errors="coerce")
        if (num.isna() & vals.notna()).any():
            bad.append(f"{col} (e.g. {vals[num.isna() & vals.notna()].iloc[0]!r})")
        out[col] = num
    if bad:
        raise InputValidationError(f"{path.name}: non-numeric values in {', '.join(bad)}. Use numbers "
                                   "(percentages 0–100, counts, 1/0 for yes/no) or leave the cell empty.")
    return out


@dataclass
class ScoreInputs:
    """Everything the indicators read; any part may be missing (then ``missing`` says why).

    ``communes`` needs ``commune_code``, ``commune_name``, ``district_code``,
    ``district_name`` and polygons. The other layers follow :data:`ictplan.schemas.SCHEMAS`.
    ``dtt_profile`` is the ``[dtt]`` table of the profiles (see :mod:`ictplan.radio`).
    ``commune_weights`` are the study's resolved commune weights (:func:`ictplan.zones.for_study`;
    None: built from ``communes`` when an indicator needs them).
    ``drop_limit_m`` is the fiber drop limit (the fiber result's, else the study's
    ``[parameters.fiber]``): a data centre joins the route graph within it.
    """

    communes: gpd.GeoDataFrame
    province_name: str = "province"
    postal_points: gpd.GeoDataFrame | None = None
    facilities: gpd.GeoDataFrame | None = None
    fiber_routes: gpd.GeoDataFrame | None = None
    roads: gpd.GeoDataFrame | None = None
    dtt_transmitters: gpd.GeoDataFrame | None = None
    population: Population | None = None
    dtt_profile: dict[str, Any] | None = None
    mobile: MobileInputs | None = None
    fixed: FixedInputs | None = None
    table: pd.DataFrame | None = None
    drop_limit_m: float = FIBER.drop_limit_m
    corridor_m: float = SHARING.corridor_m  # D2's trench width ([parameters.sharing] corridor_m)
    canal_half_width_m: float = FIBER.canal_half_width_m  # D2's canal banks when it builds its own network
    snap_tolerance_m: float = FIBER.snap_tolerance_m  # ... and its snapping ([parameters.fiber])
    commune_weights: zones.ZoneWeights | None = None
    satellite_tv: bool = SCORECARD.satellite_tv
    no_satellite_communes: tuple[str, ...] = SCORECARD.no_satellite_communes
    missing: dict[str, str] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def need(self, name: str) -> Any:
        """The input ``name``; raises :class:`NoData` with the recorded reason when it is missing."""
        value = getattr(self, name)
        if value is None:
            raise NoData(self.missing.get(name, f"the study has no {name.replace('_', ' ')}"))
        return value

    @property
    def commune_codes(self) -> pd.Index:
        return pd.Index(self.communes["commune_code"].astype(str), name="commune_code")


class NoData(Exception):
    """An indicator cannot be measured: the message says why."""


_JOB_INPUT = {"coverage": "mobile", "fiber": "fixed"}


def _no_result(job: str, study: Study, skipped: Mapping[str, str]) -> str:
    """Why there is no ``job`` result: the caller's reason, else a generic one."""
    if skipped.get(job):
        return f"no {job} result: {skipped[job]}"
    needs = {"coverage": "sites", "fiber": "roads"}[job]
    if not study.has(needs):
        return f"no {job} result: the study has no {needs} layer (add it under [layers] in study.toml)"
    return (f"no {job} result was given: run the {job} analysis first (ictplan.workflow.run runs what is "
            "missing)")


def _optional_layer(study: Study, name: str, missing: dict[str, str]) -> gpd.GeoDataFrame | None:
    """A layer in the study's CRS, or None with the reason recorded in ``missing``."""
    if not study.has(name):
        missing[name] = f"the study has no {name} layer (add it under [layers] in study.toml)"
        return None
    try:
        return study.layer_in_crs(name)
    except IctplanError as err:
        missing[name] = f"the {name} layer could not be loaded: {err}"
        return None


def _population_and_dtt(study: Study, missing: dict[str, str]) -> tuple[Population | None, dict[str, Any] | None]:
    """The population raster and the profiles' ``[dtt]`` table (None, with a reason, when absent)."""
    population = None
    try:
        population = study.population
    except IctplanError as err:
        missing["population"] = f"no population raster: {err}"
    dtt_profile = None
    try:
        dtt_profile = (study.profiles or {}).get("dtt")
        if dtt_profile is None:
            missing["dtt_profile"] = "the profiles have no [dtt] broadcast profile"
    except IctplanError as err:
        missing["dtt_profile"] = f"no profiles: {err}"
    return population, dtt_profile


def _indicators_table(study: Study, missing: dict[str, str], indicators_table: str | None) -> pd.DataFrame | None:
    """The study's optional indicators table, named in ``[parameters.scorecard]`` (or given)."""
    tpath = parameters.resolve("scorecard", study, indicators_table=indicators_table).indicators_table
    if tpath:
        return read_indicators_table(Path(study.root) / tpath)
    missing["table"] = ("no indicators table: add [parameters.scorecard] indicators_table = \"indicators.csv\" to "
                        "study.toml (one row per commune or for the province) for the non-spatial targets")
    return None


def inputs_from_study(
    study: Study,
    /,
    *,
    coverage: CoverageResult | None = None,
    fiber: FiberResult | None = None,
    skipped: Mapping[str, str] | None = None,
    indicators_table: str | None = None,
    satellite_tv: bool | None = None,
    no_satellite_communes: tuple[str, ...] | None = None,
) -> ScoreInputs:
    """Gather a study's layers and the analysis results given into :class:`ScoreInputs`.

    Parameters
    ----------
    study
        A loaded study (:func:`ictplan.study.load`).
    coverage, fiber
        Results of :func:`ictplan.coverage.run` / :func:`ictplan.fiber.run`; this function
        runs no analysis. A missing one is recorded in ``missing`` with its reason.
    skipped
        Why a job did not run, by job name (``{"coverage": "the study has no sites
        layer"}``, as in :attr:`ictplan.workflow.Results.skipped`); a generic reason is
        used for a job not named here.
    indicators_table
        The indicators table (relative to the study folder); None: the study's
        ``[parameters.scorecard] indicators_table``, if any.
    satellite_tv, no_satellite_communes
        Overrides of ``[parameters.scorecard]`` (B1's satellite reception).

    Returns
    -------
    ScoreInputs
        ``missing`` says, for every absent part, why (no layer, no analysis result, ...).

    Raises
    ------
    ConfigError
        The study has no communes layer, or a bad ``[parameters.scorecard]`` table.
    MissingFileError, InputValidationError
        The indicators table named in study.toml is missing or not numeric.
    """
    missing: dict[str, str] = {}
    skipped = skipped or {}
    communes = study.layer_in_crs("communes")
    postal, facilities = _optional_layer(study, "postal_points", missing), _optional_layer(study, "facilities", missing)
    routes, dtt = _optional_layer(study, "fiber_routes", missing), _optional_layer(study, "dtt_transmitters", missing)
    roads = _optional_layer(study, "roads", missing)  # D2's corridors (shared-risk diversity)
    sc_prm = parameters.resolve("scorecard", study, satellite_tv=satellite_tv,
                                no_satellite_communes=no_satellite_communes)
    population, dtt_profile = _population_and_dtt(study, missing)
    for job, result in (("coverage", coverage), ("fiber", fiber)):
        if result is None:
            missing[_JOB_INPUT[job]] = _no_result(job, study, skipped)
    mobile = None if coverage is None else mobile_inputs(coverage, facilities=facilities)
    fixed = None if fiber is None else fixed_inputs(fiber)
    fib_prm = parameters.resolve("fiber", study)
    drop_limit_m = fixed.drop_limit_m if fixed is not None else fib_prm.drop_limit_m
    weights = None
    if population is not None and dtt is not None and dtt_profile is not None:  # only the DTT indicator needs them
        weights = zones.for_study(study, "communes")
    return ScoreInputs(communes=communes, province_name=study.province or study.name, postal_points=postal,
                       facilities=facilities, fiber_routes=routes, roads=roads, dtt_transmitters=dtt, population=population,
                       dtt_profile=dtt_profile, mobile=mobile, fixed=fixed,
                       table=_indicators_table(study, missing, indicators_table), drop_limit_m=float(drop_limit_m),
                       corridor_m=float(parameters.resolve("sharing", study).corridor_m),
                       canal_half_width_m=float(fib_prm.canal_half_width_m),
                       snap_tolerance_m=float(fib_prm.snap_tolerance_m),
                       commune_weights=weights, satellite_tv=bool(sc_prm.satellite_tv),
                       no_satellite_communes=tuple(str(c) for c in sc_prm.no_satellite_communes), missing=missing)
