"""The plan's targets as data, the indicators that measure them, and the scorecard.

A targets file (``data/targets/camau_2021_2030.toml``) lists every target of the plan:
id, year, the plan's words in Vietnamese and English, the *indicator* that measures it,
threshold, unit, comparison and level. :func:`load_targets` validates it (every problem
at once, each with its line). The indicators are the functions registered in
:data:`INDICATORS` (each docstring says exactly how it is measured), plus
``table:<column>`` for figures that are not geodata (read from the study's optional
indicators table) and ``policy`` for directions no figure measures.

:func:`scorecard` measures every target for the province, each district and each
commune, computing the coverage and fiber analyses it needs, and says for each row:
value, target, status (``met`` / ``not met`` / ``no data`` / ``not applicable``), the
gap in natural units (people, households, hamlets, communes, points, facilities) and,
when there is no value, why. :func:`write_scorecard` writes CSV, GeoPackage (commune
polygons with the scorecard columns, wide) and Markdown; :func:`compare` sets a study
variant's scorecard beside the base and gives the difference (what-if).

Zone figures are sums over communes: a district is the sum of its communes, the
province the sum of all communes (for shares the numerators and denominators are summed,
then divided), so a district's figure is always consistent with its communes'.
"""

from __future__ import annotations

import logging
import math
import re
import time
import tomllib
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from . import services
from ._errors import ConfigError, IctplanError, InputValidationError, MissingFileError
from .grid import Grid, Population

logger = logging.getLogger(__name__)

__all__ = [
    "STATUSES",
    "COMPARISONS",
    "LEVELS",
    "INDICATORS",
    "Indicator",
    "Target",
    "Plan",
    "MobileInputs",
    "FixedInputs",
    "ScoreInputs",
    "Scorecard",
    "load_targets",
    "parse_targets",
    "describe_indicators",
    "mobile_inputs",
    "fixed_inputs",
    "read_indicators_table",
    "dtt_received_dbm",
    "datacentre_redundancy",
    "inputs_from_study",
    "evaluate",
    "scorecard",
    "write_scorecard",
    "compare",
    "write_comparison",
]

STATUSES = ("met", "not met", "no data", "not applicable")
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": lambda v, t: v >= t - 1e-9,
    ">": lambda v, t: v > t + 1e-9,
    "<=": lambda v, t: v <= t + 1e-9,
    "==": lambda v, t: np.isclose(v, t, rtol=0.0, atol=1e-9),
}
LEVELS = ("province", "district", "commune", "facility")
"""Where a target is judged. ``province``: only the province row gets a status (districts
and communes show their value, status "not applicable"); the others: every zone."""

_TARGET_KEYS = {"year", "text_vi", "text_en", "indicator", "threshold", "unit", "comparison", "level", "theme", "note"}
_REQUIRED = ("year", "text_vi", "text_en", "indicator", "threshold", "unit", "comparison", "level")
_POLICY_OPTIONAL = {"threshold", "unit", "comparison"}
_TOP_KEYS = {"schema_version", "plan", "targets"}
_PLAN_KEYS = {"name", "name_en", "province", "source"}
_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_COL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ZONE_LEVELS = ("province", "district", "commune")


# =========================================================================== targets
@dataclass(frozen=True)
class Target:
    """One target of the plan (see the module docstring for the fields)."""

    id: str
    year: int
    text_vi: str
    text_en: str
    indicator: str
    threshold: float | None
    unit: str
    comparison: str | None
    level: str
    theme: str = ""
    note: str = ""

    @property
    def is_policy(self) -> bool:
        return self.indicator == "policy"

    @property
    def table_column(self) -> str | None:
        return self.indicator.split(":", 1)[1] if self.indicator.startswith("table:") else None


@dataclass(frozen=True)
class Plan:
    """A plan: its name, province and targets (in file order)."""

    name: str
    province: str
    targets: tuple[Target, ...]
    name_en: str = ""
    source: str = ""

    def __getitem__(self, target_id: str) -> Target:
        for t in self.targets:
            if t.id == target_id:
                return t
        raise KeyError(f"no target {target_id!r} in the plan (it has {', '.join(t.id for t in self.targets)}).")

    @property
    def ids(self) -> list[str]:
        return [t.id for t in self.targets]


def _key_lines(text: str) -> dict[tuple[str, str], int]:
    """(table, key) -> line number of each ``key = value`` line, and (table, "") -> header line."""
    out: dict[tuple[str, str], int] = {}
    table = ""
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^\[\s*([^\]]+?)\s*\]", line)
        if m:
            table = m.group(1).replace('"', "").replace(" ", "")
            out.setdefault((table, ""), i)
            continue
        m = re.match(r'^("?)([A-Za-z0-9_\-]+)\1\s*=', line)
        if m:
            out.setdefault((table, m.group(2)), i)
    return out


def parse_targets(data: dict[str, Any], /, *, source: str = "<dict>", text: str | None = None) -> Plan:
    """Validate already-parsed targets data; see :func:`load_targets`.

    Parameters
    ----------
    data
        The parsed TOML.
    source
        The file name used in messages.
    text
        The file's text, to give line numbers in messages.

    Returns
    -------
    Plan

    Raises
    ------
    ConfigError
        Every problem found, listed at once: unknown keys (with their line), unknown
        indicators, bad comparisons or levels, missing fields, wrong types.
    """
    lines = _key_lines(text) if text else {}
    problems: list[str] = []

    def where(table: str, key: str = "") -> str:
        ln = lines.get((table, key)) or lines.get((table, ""))
        return f"{source}, line {ln}" if ln else source

    for key in data:
        if key not in _TOP_KEYS:
            problems.append(f"{where(key) if (key, '') in lines else where('', key)}: unknown top-level key {key!r}; "
                            f"allowed: {', '.join(sorted(_TOP_KEYS))}.")
    plan_tab = data.get("plan", {}) or {}
    if not isinstance(plan_tab, dict):
        problems.append(f"{source}: [plan] must be a table.")
        plan_tab = {}
    for key in plan_tab:
        if key not in _PLAN_KEYS:
            problems.append(f"{where('plan', key)}: unknown key {key!r} in [plan]; allowed: {', '.join(sorted(_PLAN_KEYS))}.")
    raw = data.get("targets")
    if not isinstance(raw, dict) or not raw:
        problems.append(f"{source}: no targets: add tables like [targets.P1] with {', '.join(_REQUIRED)}.")
        raw = {}
    targets: list[Target] = []
    for tid, tab in raw.items():
        tname = f"targets.{tid}"
        n_before = len(problems)
        if not _ID_RE.match(str(tid)):
            problems.append(f"{where(tname)}: target id {tid!r} must start with a letter and hold letters, digits or _.")
        if not isinstance(tab, dict):
            problems.append(f"{where(tname)}: [targets.{tid}] must be a table of fields.")
            continue
        for key in tab:
            if key not in _TARGET_KEYS:
                problems.append(f"{where(tname, key)}: unknown key {key!r} in [targets.{tid}]; allowed: "
                                f"{', '.join(sorted(_TARGET_KEYS))}.")
        indicator = tab.get("indicator")
        policy = indicator == "policy"
        missing = [k for k in _REQUIRED if k not in tab and not (policy and k in _POLICY_OPTIONAL)]
        if missing:
            problems.append(f"{where(tname)}: [targets.{tid}] is missing {', '.join(missing)}.")
        year = tab.get("year")
        if "year" in tab and (not isinstance(year, int) or isinstance(year, bool) or not 2000 <= year <= 2100):
            problems.append(f"{where(tname, 'year')}: year of {tid} must be a whole year such as 2025 or 2030, got {year!r}.")
        for key in ("text_vi", "text_en", "unit", "theme", "note"):
            if key in tab and not isinstance(tab[key], str):
                problems.append(f"{where(tname, key)}: {key} of {tid} must be a string, got {tab[key]!r}.")
        for key in ("text_vi", "text_en"):
            if isinstance(tab.get(key), str) and not tab[key].strip():
                problems.append(f"{where(tname, key)}: {key} of {tid} is empty.")
        if indicator is not None:
            if not isinstance(indicator, str):
                problems.append(f"{where(tname, 'indicator')}: indicator of {tid} must be a string, got {indicator!r}.")
            elif indicator.startswith("table:"):
                col = indicator.split(":", 1)[1]
                if not _COL_RE.match(col):
                    problems.append(f"{where(tname, 'indicator')}: {indicator!r} of {tid}: the table column must be a "
                                    "plain name such as table:adult_smartphone_pct.")
            elif not policy and indicator not in INDICATORS:
                problems.append(f"{where(tname, 'indicator')}: unknown indicator {indicator!r} for {tid}; known: "
                                f"{', '.join(sorted(INDICATORS))}, table:<column> or policy.")
            elif not policy and isinstance(tab.get("unit"), str) and INDICATORS[indicator].unit != tab["unit"]:
                problems.append(f"{where(tname, 'unit')}: {tid}'s indicator {indicator} measures "
                                f"{INDICATORS[indicator].unit!r}, but the unit says {tab['unit']!r}.")
        thr = tab.get("threshold")
        if "threshold" in tab and (isinstance(thr, bool) or not isinstance(thr, (int, float)) or not math.isfinite(thr)):
            problems.append(f"{where(tname, 'threshold')}: threshold of {tid} must be a number, got {thr!r}.")
        comp = tab.get("comparison")
        if "comparison" in tab and comp not in COMPARISONS:
            problems.append(f"{where(tname, 'comparison')}: comparison of {tid} must be one of "
                            f"{', '.join(repr(c) for c in COMPARISONS)}, got {comp!r}.")
        level = tab.get("level")
        if "level" in tab and level not in LEVELS:
            problems.append(f"{where(tname, 'level')}: level of {tid} must be one of {', '.join(LEVELS)}, got {level!r}.")
        if len(problems) == n_before:
            try:
                targets.append(Target(
                    id=str(tid), year=int(year), text_vi=tab["text_vi"], text_en=tab["text_en"],
                    indicator=indicator, threshold=None if thr is None else float(thr), unit=tab.get("unit", ""),
                    comparison=comp, level=level, theme=tab.get("theme", str(tid)), note=tab.get("note", ""),
                ))
            except (KeyError, TypeError, ValueError):  # already reported above
                pass
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the targets file {source}:\n  - " + "\n  - ".join(problems))
    return Plan(name=plan_tab.get("name", ""), name_en=plan_tab.get("name_en", ""),
                province=plan_tab.get("province", ""), targets=tuple(targets), source=source)


def load_targets(path: str | Path, /) -> Plan:
    """Load and validate a targets file (TOML).

    Parameters
    ----------
    path
        The targets file, e.g. ``data/targets/camau_2021_2030.toml``.

    Returns
    -------
    Plan
        The plan's name, province and targets in file order.

    Raises
    ------
    MissingFileError
        No such file.
    ConfigError
        The file is not UTF-8 TOML, or holds problems: every problem is listed at once
        (unknown key with its line number, unknown indicator, bad comparison or level,
        missing fields, wrong types).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"targets file not found: {path}. Point [targets] path in study.toml at it "
                               "(e.g. ../targets/camau_2021_2030.toml).")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 text: re-save it as UTF-8.") from err
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}. Fix that line.") from err
    return parse_targets(data, source=str(path), text=text)


# =========================================================================== inputs
@dataclass(frozen=True)
class MobileInputs:
    """What the mobile indicators need, per commune and per facility.

    ``per_commune`` (index ``commune_code``): ``population``, ``pop_4g``, ``pop_5g``
    (people covered by 4G / 5G of any operator), ``mbps_pop_4g``, ``mbps_pop_5g``
    (Σ people × per-user throughput in Mb/s over the covered people).
    ``facilities`` (index ``facility_id``): ``has_4g``, ``has_5g`` at the facility's cell.
    """

    per_commune: pd.DataFrame
    facilities: pd.DataFrame | None = None
    source: str = ""


@dataclass(frozen=True)
class FixedInputs:
    """What the fixed-broadband indicators need, per commune and per facility.

    ``per_commune`` (index ``commune_code``): ``households``, ``households_reachable``,
    ``households_ge_200mbps``, ``households_gt_1gbps``, ``households_copper_only``,
    ``hamlets``, ``hamlets_reached``, ``missing_fiber_m``.
    ``facilities`` (index ``facility_id``): ``fiber_reach`` (bool), ``offered_mbps``
    (the minimum offered speed of the best reachable technology).
    ``unreached_hamlets``: the fiber result's list (for the report).
    """

    per_commune: pd.DataFrame
    facilities: pd.DataFrame | None = None
    unreached_hamlets: pd.DataFrame | None = None
    drop_limit_m: float = 300.0
    source: str = ""


_MOBILE_COLUMNS = ("population", "pop_4g", "pop_5g", "mbps_pop_4g", "mbps_pop_5g")
_FIXED_COLUMNS = ("households", "households_reachable", "households_ge_200mbps", "households_gt_1gbps",
                  "households_copper_only", "hamlets", "hamlets_reached", "missing_fiber_m")


def mobile_inputs(coverage_result: Any, /, *, facilities: gpd.GeoDataFrame | None = None) -> MobileInputs:
    """The mobile indicators' inputs from a :class:`ictplan.coverage.CoverageResult`.

    Parameters
    ----------
    coverage_result
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
    This adapter is the one place that knows the coverage result's format. Throughput is
    the best-server per-user throughput of the ``any`` layer; the population-weighted mean
    is taken over the covered people (``mean_tput_mbps × pop_covered`` is summed).
    """
    from .coverage import ANY_OPERATOR

    tab = getattr(coverage_result, "table", None)
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
            out[f"mbps_pop_{key}"] = (sub["mean_tput_mbps"].fillna(0.0) * sub["pop_covered"]).reindex(out.index).fillna(0.0)
        else:  # no site of this technology: nobody is covered (a measured zero, not missing data)
            out[f"pop_{key}"] = 0.0
            out[f"mbps_pop_{key}"] = 0.0
    out = out.drop(index=[c for c in out.index if c.startswith("(")], errors="ignore")
    fac = None
    if facilities is not None and len(facilities):
        grid: Grid = coverage_result.grid
        fac = pd.DataFrame(index=pd.Index(facilities["facility_id"].astype(str), name="facility_id"))
        for tech in ("4G", "5G"):
            lay = coverage_result.layers.get((ANY_OPERATOR, tech))
            if lay is None:
                fac[f"has_{tech.lower()}"] = False
            else:
                fac[f"has_{tech.lower()}"] = services.sample_grid(lay.covered, grid, facilities, fill=False).astype(bool)
    return MobileInputs(per_commune=out, facilities=fac, source="ictplan.coverage")


def fixed_inputs(fiber_result: Any, /) -> FixedInputs:
    """The fixed-broadband indicators' inputs from a :class:`ictplan.fiber.FiberResult`.

    Parameters
    ----------
    fiber_result
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
    com = getattr(fiber_result, "communes", None)
    if com is None or "commune_code" not in com:
        raise InputValidationError("the fiber result has no per-commune table: run ictplan.fiber.run(study).")
    pc = com.set_index(com["commune_code"].astype(str))
    out = pd.DataFrame(index=pd.Index(pc.index, name="commune_code"))
    for col in _FIXED_COLUMNS:
        out[col] = pd.to_numeric(pc[col], errors="coerce") if col in pc else (0.0 if col.startswith("hamlets") else np.nan)
    org = getattr(fiber_result, "organisations", None)
    fac = None
    if org is not None and len(org):
        fac = pd.DataFrame({"fiber_reach": org["reachable"].astype(bool).to_numpy(),
                            "offered_mbps": pd.to_numeric(org["offer_min_mbps"], errors="coerce").to_numpy()},
                           index=pd.Index(org["facility_id"].astype(str), name="facility_id"))
    unreached = None
    try:
        unreached = fiber_result.unreached_hamlets
    except Exception:  # noqa: BLE001 - optional detail only
        unreached = None
    return FixedInputs(per_commune=out, facilities=fac, unreached_hamlets=unreached,
                       drop_limit_m=float(getattr(fiber_result, "parameters", {}).get("drop_limit_m", 300.0)),
                       source="ictplan.fiber")


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
        raise MissingFileError(f"indicators table not found: {path}. Fix [parameters] indicators_table in study.toml.")
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
    """

    communes: gpd.GeoDataFrame
    province_name: str = "province"
    postal_points: gpd.GeoDataFrame | None = None
    facilities: gpd.GeoDataFrame | None = None
    fiber_routes: gpd.GeoDataFrame | None = None
    dtt_transmitters: gpd.GeoDataFrame | None = None
    population: Population | None = None
    dtt_profile: dict[str, Any] | None = None
    mobile: MobileInputs | None = None
    fixed: FixedInputs | None = None
    table: pd.DataFrame | None = None
    missing: dict[str, str] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def need(self, name: str) -> Any:
        """The input ``name`` or :class:`_NoData` with the recorded reason."""
        value = getattr(self, name)
        if value is None:
            raise _NoData(self.missing.get(name, f"the study has no {name.replace('_', ' ')}"))
        return value

    @property
    def commune_codes(self) -> pd.Index:
        return pd.Index(self.communes["commune_code"].astype(str), name="commune_code")


class _NoData(Exception):
    """An indicator cannot be measured: the message says why."""


# =========================================================================== indicators
@dataclass(frozen=True)
class Indicator:
    """A registered indicator: what it measures and in which units.

    ``kind``: ``share`` (value = 100 × numerator / denominator, %), ``mean``
    (numerator / denominator), ``count`` (value = numerator) or ``pairs`` (province only).
    ``gap_unit`` names the natural unit of the gap (people, households, ...).
    """

    name: str
    func: Callable[[ScoreInputs], Any]
    kind: str
    unit: str
    gap_unit: str
    empty_reason: str

    @property
    def doc(self) -> str:
        return (self.func.__doc__ or "").strip()


INDICATORS: dict[str, Indicator] = {}


def _indicator(name: str, *, kind: str, gap_unit: str, unit: str | None = None, empty: str = "") -> Callable:
    def deco(func: Callable[[ScoreInputs], Any]) -> Callable[[ScoreInputs], Any]:
        INDICATORS[name] = Indicator(name, func, kind, unit or ("%" if kind in ("share", "pairs") else gap_unit),
                                     gap_unit, empty or "nothing to count here")
        return func

    return deco


def describe_indicators() -> pd.DataFrame:
    """Every registered indicator with its kind, unit, gap unit and how it is measured.

    Returns
    -------
    pandas.DataFrame
        One row per indicator: ``indicator``, ``kind``, ``unit``, ``gap_unit``, ``how``.
    """
    return pd.DataFrame([{"indicator": i.name, "kind": i.kind, "unit": i.unit, "gap_unit": i.gap_unit,
                          "how": " ".join(i.doc.split())} for i in INDICATORS.values()])


def _per_commune(inputs: ScoreInputs, num: pd.Series, den: pd.Series, unknown: pd.Series | None = None) -> pd.DataFrame:
    idx = inputs.commune_codes
    out = pd.DataFrame({"num": num.reindex(idx).fillna(0.0).astype(float),
                        "den": den.reindex(idx).fillna(0.0).astype(float)}, index=idx)
    if unknown is not None:
        out["unknown"] = unknown.reindex(idx).fillna(0.0).astype(float)
    return out


@_indicator("postal_points_count", kind="count", gap_unit="points", empty="")
def postal_points_count(inputs: ScoreInputs) -> pd.DataFrame:
    """Postal service points (any kind, staffed or not) in each zone of the ``postal_points``
    layer, each placed in its commune by ``commune_code`` (by location when the code is
    unknown). The province figure is the count in the whole province (P1 compares it with 300)."""
    p = services.postal_presence(inputs.need("postal_points"), inputs.communes)
    return _per_commune(inputs, p["points"], p["points"])


@_indicator("communes_staffed_postal_pct", kind="share", gap_unit="communes")
def communes_staffed_postal_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of communes with at least one staffed postal service point (``staffed`` true).
    A commune is 100 % or 0 %; a district or the province counts its communes. The gap
    is the number of communes without a staffed point."""
    p = services.postal_presence(inputs.need("postal_points"), inputs.communes)
    return _per_commune(inputs, p["has_staffed"], pd.Series(1.0, index=p.index))


@_indicator("staffed_postal_internet_pct", kind="share", gap_unit="points", empty="no staffed postal point in this zone")
def staffed_postal_internet_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of staffed postal service points whose ``internet`` flag is true (NA counts as
    false). Not applicable in a zone with no staffed point. Gap: staffed points without Internet."""
    p = services.postal_presence(inputs.need("postal_points"), inputs.communes)
    return _per_commune(inputs, p["staffed_internet"], p["staffed"])


@_indicator("staffed_postal_online_pct", kind="share", gap_unit="points", empty="no staffed postal point in this zone")
def staffed_postal_online_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of staffed postal service points whose ``online_services`` flag is true (able to
    help citizens use online public services; NA counts as false). Not applicable with no
    staffed point. Gap: staffed points that cannot."""
    p = services.postal_presence(inputs.need("postal_points"), inputs.communes)
    return _per_commune(inputs, p["staffed_online"], p["staffed"])


def _fixed(inputs: ScoreInputs) -> pd.DataFrame:
    return inputs.need("fixed").per_commune


@_indicator("hamlets_reached_pct", kind="share", gap_unit="hamlets", empty="no hamlet in this commune")
def hamlets_reached_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of hamlets (ấp, khóm) reached by fiber, from the fiber analysis: a hamlet is
    reached when at least ``hamlet_threshold_frac`` (default 80 %) of its households have
    fiber access within the drop limit along roads and canal banks (a hamlet with no
    households: its centre). Gap: hamlets not reached; ``detail`` gives the metres of new
    fiber along the network that would reach them."""
    f = _fixed(inputs)
    if not (f["hamlets"] > 0).any():
        raise _NoData("the study has no hamlets layer (or no hamlet lies in a commune)")
    out = _per_commune(inputs, f["hamlets_reached"], f["hamlets"])
    out["missing_fiber_m"] = f["missing_fiber_m"].reindex(out.index).fillna(0.0)
    return out


@_indicator("households_fiber_pct", kind="share", gap_unit="households", empty="no households in this zone")
def households_fiber_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of households with fiber access within the drop limit (default 300 m) along
    the network, drop from the household to its nearest edge included (fiber analysis).
    Households come from household points or the population raster ÷ census persons per
    household. Gap: households without fiber reach."""
    f = _fixed(inputs)
    return _per_commune(inputs, f["households_reachable"], f["households"])


@_indicator("users_200mbps_pct", kind="share", gap_unit="households", empty="no households in this zone")
def users_200mbps_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of users (households: one fixed connection each) offered at least 200 Mb/s: the
    minimum speed of the best technology within the drop limit is ≥ 200 Mb/s (GPON or
    XGS-PON; copper is slower). Gap: households below 200 Mb/s."""
    f = _fixed(inputs)
    return _per_commune(inputs, f["households_ge_200mbps"], f["households"])


@_indicator("users_1gbps_pct", kind="share", gap_unit="households", empty="no households in this zone")
def users_1gbps_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of users (households) that can get more than 1 Gb/s: the maximum speed of the
    best technology within the drop limit is > 1 Gb/s (XGS-PON). Gap: households without."""
    f = _fixed(inputs)
    return _per_commune(inputs, f["households_gt_1gbps"], f["households"])


@_indicator("copper_only_households", kind="count", gap_unit="households")
def copper_only_households(inputs: ScoreInputs) -> pd.DataFrame:
    """Households in old residential areas still on copper only: within the drop limit of a
    copper (ADSL/VDSL) route but not of fiber (fiber analysis). Target: none left. Gap:
    those households."""
    f = _fixed(inputs)
    return _per_commune(inputs, f["households_copper_only"], f["households"])


def _facility_table(inputs: ScoreInputs, *, need_fiber: bool, need_mobile: bool) -> pd.DataFrame:
    key = f"fac:{need_fiber}:{need_mobile}"
    if key in inputs._cache:
        return inputs._cache[key]
    fac = inputs.need("facilities")
    fiber = mobile = None
    if need_fiber:
        fixed = inputs.need("fixed")
        if fixed.facilities is None:
            raise _NoData("the fiber result has no per-facility reach (the study's facilities were not analysed)")
        fiber = fixed.facilities
    if need_mobile:
        mob = inputs.need("mobile")
        if mob.facilities is None:
            raise _NoData("the coverage result was not sampled at the facilities")
        mobile = mob.facilities
    conn = services.facility_connectivity(fac, inputs.communes, fiber=fiber, mobile=mobile)
    inputs._cache[key] = conn
    return conn


def _facility_share(inputs: ScoreInputs, kinds: tuple[str, ...] | None, column: str, *, urban_only: bool = False,
                    min_mbps: float | None = None) -> pd.DataFrame:
    conn = _facility_table(inputs, need_fiber=column == "fiber_reach", need_mobile=column == "has_mobile")
    c = services.facility_counts(conn, inputs.communes, kinds=kinds, column=column, urban_only=urban_only,
                                 min_mbps=min_mbps)
    return _per_commune(inputs, c["served"], c["facilities"], c["unknown"])


@_indicator("urban_organisations_1gbps_pct", kind="share", gap_unit="organisations",
            empty="no urban organisation in this zone")
def urban_organisations_1gbps_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of urban organisations (facilities flagged ``urban`` of kinds school, hospital,
    health_station, agency, commune_office) with fiber reach whose offered minimum speed is
    ≥ 1 Gb/s (an XGS-PON route within the drop limit). Businesses are not in the geodata.
    Gap: urban organisations without 1 Gb/s."""
    from .fiber import ORGANISATION_KINDS

    return _facility_share(inputs, tuple(ORGANISATION_KINDS), "fiber_reach", urban_only=True, min_mbps=1000.0)


@_indicator("agencies_connected_pct", kind="share", gap_unit="agencies", empty="no State agency in this zone")
def agencies_connected_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of Party and State agencies, province to commune level (facilities of kind
    ``agency`` at any level, and ``commune_office``), connected to the specialised data
    network. Rule: an agency counts as connected when fiber access lies within the drop
    limit (default 300 m) of it along the network, drop included (the fiber analysis's
    per-facility reach): the specialised network rides on that fiber. Gap: agencies not connected."""
    return _facility_share(inputs, services.AGENCY_KINDS, "fiber_reach")


def _facility_indicator(name: str, kind: str, column: str, what: str, plural: str) -> None:
    how = ("fiber access within the drop limit along the network (fiber analysis)" if column == "fiber_reach"
           else "4G or 5G coverage of any operator at the facility's grid cell (best-server RSRP at or above "
                "the carrier's threshold, coverage analysis)")

    def func(inputs: ScoreInputs) -> pd.DataFrame:
        return _facility_share(inputs, (kind,), column)

    func.__name__ = name
    func.__doc__ = f"Share of {what} (facilities of kind ``{kind}``) with {how}. Gap: {plural} without it."
    globals()[name] = func
    _indicator(name, kind="share", gap_unit=plural, empty=f"no {what} in this zone")(func)


for _name, _kind, _col, _what, _plural in (
    ("health_stations_fiber_pct", "health_station", "fiber_reach", "commune health stations", "health stations"),
    ("health_stations_mobile_pct", "health_station", "has_mobile", "commune health stations", "health stations"),
    ("schools_fiber_pct", "school", "fiber_reach", "schools", "schools"),
    ("schools_mobile_pct", "school", "has_mobile", "schools", "schools"),
    ("commune_offices_fiber_pct", "commune_office", "fiber_reach", "commune offices", "commune offices"),
    ("commune_offices_mobile_pct", "commune_office", "has_mobile", "commune offices", "commune offices"),
):
    _facility_indicator(_name, _kind, _col, _what, _plural)


def _mobile(inputs: ScoreInputs) -> pd.DataFrame:
    return inputs.need("mobile").per_commune


@_indicator("mean_4g_mbps", kind="mean", gap_unit="Mb/s", empty="nobody covered by 4G here")
def mean_4g_mbps(inputs: ScoreInputs) -> pd.DataFrame:
    """Population-weighted mean 4G download speed (Mb/s) over the people covered by 4G of any
    operator: Σ people × per-user throughput of the best 4G server ÷ people covered
    (coverage analysis: SINR → attenuated Shannon rate shared among the sector's active
    users). Not applicable where nobody is covered. Gap: Mb/s short of the target."""
    m = _mobile(inputs)
    return _per_commune(inputs, m["mbps_pop_4g"], m["pop_4g"])


@_indicator("mean_5g_mbps", kind="mean", gap_unit="Mb/s", empty="nobody covered by 5G here")
def mean_5g_mbps(inputs: ScoreInputs) -> pd.DataFrame:
    """Population-weighted mean 5G download speed (Mb/s) over the people covered by 5G of any
    operator (as :func:`mean_4g_mbps`). Not applicable where nobody is covered by 5G.
    Gap: Mb/s short of the target."""
    m = _mobile(inputs)
    return _per_commune(inputs, m["mbps_pop_5g"], m["pop_5g"])


@_indicator("pop_5g_pct", kind="share", gap_unit="people", empty="nobody lives here")
def pop_5g_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of the population covered by 5G of any operator: people in grid cells where the
    best 5G RSRP is at or above the carrier's threshold, each zone summed with exact cell
    fractions (coverage analysis). Gap: people without 5G."""
    m = _mobile(inputs)
    return _per_commune(inputs, m["pop_5g"], m["population"])


def dtt_received_dbm(transmitters: gpd.GeoDataFrame, grid: Grid, /, *, profile: dict[str, Any],
                     cells: np.ndarray | None = None) -> np.ndarray:
    """Strongest digital-TV signal (dBm at the receiver) at grid cells, from the transmitters.

    Parameters
    ----------
    transmitters
        The ``dtt_transmitters`` layer: ``freq_mhz``, ``erp_dbm`` (effective radiated
        power, dipole reference), ``height_m`` (antenna above ground). Any CRS.
    grid
        The analysis grid (metric CRS).
    profile
        The ``[dtt]`` profile: ``model``, ``environment``, ``ue_height_m`` (receiving
        antenna height), optional ``antenna_gain_dbi`` and ``feeder_loss_db``.
    cells
        Flat indices of the cells to evaluate (default: all).

    Returns
    -------
    numpy.ndarray
        Received power per cell (float64), −inf where there is no transmitter.

    Raises
    ------
    MissingColumnError
        A transmitter column is missing.

    Notes
    -----
    ``P_rx = ERP + 2.15 (dBd → dBi) + G_rx − L_feeder − PL(d)``, with the median path loss
    of the profile's model (:func:`ictplan.radio.path_loss_db`) at each transmitter's own
    frequency and height; the best transmitter wins (no single-frequency-network gain). Beyond
    a model's validity the loss is extrapolated (documented in :mod:`ictplan.radio`).
    Cost: one vectorised evaluation per transmitter over the cells.
    """
    from . import radio

    services._require(transmitters, ["freq_mhz", "erp_dbm", "height_m"], "dtt_transmitters")
    tx = transmitters if transmitters.crs is None or transmitters.crs.equals(grid.crs) else transmitters.to_crs(grid.crs)
    if cells is None:
        cells = np.arange(grid.width * grid.height)
    rows, cols = np.divmod(np.asarray(cells, dtype=np.int64), grid.width)
    t = grid.transform
    x = t.c + t.a * (cols + 0.5)
    y = t.f + t.e * (rows + 0.5)
    best = np.full(x.size, -np.inf)
    gain = float(profile.get("antenna_gain_dbi", 0.0)) - float(profile.get("feeder_loss_db", 0.0)) + 2.15
    for tx_x, tx_y, f, erp, h in zip(tx.geometry.x, tx.geometry.y, tx["freq_mhz"], tx["erp_dbm"], tx["height_m"],
                                     strict=True):
        d = np.hypot(x - tx_x, y - tx_y)
        pl = radio.path_loss_db(d, model=profile.get("model", "hata"), freq_mhz=float(f), h_bs_m=float(h),
                                h_ut_m=float(profile.get("ue_height_m", 10.0)),
                                environment=profile.get("environment", "rural"), los=profile.get("los", "nlos"))
        np.maximum(best, float(erp) + gain - pl, out=best)
    return best


@_indicator("dtt_pop_pct", kind="share", gap_unit="people", empty="nobody lives here")
def dtt_pop_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of the population within digital terrestrial TV coverage: people in grid cells
    where the strongest DVB-T2 signal (:func:`dtt_received_dbm`, the profiles' ``[dtt]``
    model and receiving antenna) is at or above its ``threshold_dbm``; zones summed with
    exact cell fractions. Satellite reception is not modelled. Gap: people without DTT."""
    from .grid import zone_sums, zone_weights

    tx = inputs.need("dtt_transmitters")
    pop: Population = inputs.need("population")
    prof = inputs.need("dtt_profile")
    if "threshold_dbm" not in prof:
        raise _NoData("the [dtt] profile has no threshold_dbm")
    flat = pop.counts.reshape(-1)
    cells = np.flatnonzero(flat > 0)
    covered = np.zeros(flat.size)
    if len(tx):
        rx = dtt_received_dbm(tx, pop.grid, profile=prof, cells=cells)
        covered[cells] = np.where(rx >= float(prof["threshold_dbm"]), flat[cells], 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = zone_weights(inputs.communes, pop.grid, method="exact")
    idx = inputs.commune_codes
    return _per_commune(inputs, pd.Series(zone_sums(w, covered), index=idx), pd.Series(zone_sums(w, flat), index=idx))


def datacentre_redundancy(fiber_routes: gpd.GeoDataFrame, datacentres: gpd.GeoDataFrame, /, *,
                          attach_distance_m: float = 300.0, snap_tolerance_m: float = 1.0) -> pd.DataFrame:
    """Edge-disjoint fiber paths between every pair of data centres.

    Parameters
    ----------
    fiber_routes
        Fiber routes of every operator (lines, metric CRS); they are noded where they cross
        or touch (:func:`ictplan.network.build_edges`).
    datacentres
        Data-centre points with ``facility_id`` (same CRS as the routes).
    attach_distance_m
        A data centre joins the fiber graph at the nearest point of a route within this
        distance (metres); farther, it has no fiber path at all.
    snap_tolerance_m
        Route ends closer than this are joined.

    Returns
    -------
    pandas.DataFrame
        One row per pair: ``a``, ``b`` (facility ids), ``disjoint_paths`` (the number of
        edge-disjoint fiber paths, capped at 2: Menger's theorem, as a maximum flow with
        unit capacities), ``redundant`` (≥ 2).

    Raises
    ------
    MissingColumnError
        ``facility_id`` missing.
    CRSMismatchError, GeographicCRSError
        From the network build, when the layers are not in one metric CRS.

    Notes
    -----
    A data centre snapped into the interior of an edge splits it, so a data centre on a
    ring has two ways out. Parallel cables between the same two nodes count as separate
    edges (capacity = their number). A pair joined by 2 paths can lose any one cable
    section and stay connected. Cost: one network build plus one max-flow (cut off at 2)
    per pair on the noded route graph.
    """
    from . import network as _nw
    from .crs import check_same_crs

    services._require(datacentres, ["facility_id"], "data centres")
    ids = datacentres["facility_id"].astype(str).tolist()
    pairs = [(ids[i], ids[j]) for i in range(len(ids)) for j in range(i + 1, len(ids))]
    if not pairs:
        return pd.DataFrame(columns=["a", "b", "disjoint_paths", "redundant"])
    if len(fiber_routes) == 0:
        return pd.DataFrame({"a": [p[0] for p in pairs], "b": [p[1] for p in pairs], "disjoint_paths": 0,
                             "redundant": False})
    check_same_crs(fiber_routes=fiber_routes, datacentres=datacentres)
    lines = gpd.GeoDataFrame({"kind": np.full(len(fiber_routes), "road")}, geometry=fiber_routes.geometry.values,
                             crs=fiber_routes.crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = _nw.build_edges(lines, snap_tolerance_m=snap_tolerance_m, crossing_cost_column=None)
    snap = _nw.snap_xy(net, datacentres.geometry.x.to_numpy(), datacentres.geometry.y.to_numpy(),
                       max_distance_m=attach_distance_m)
    edge_ids = np.asarray(snap["edge_id"])
    along = np.asarray(snap["along_m"])
    u, v, length = net.u.tolist(), net.v.tolist(), net.length_m
    node_of: dict[str, Any] = {}
    split: dict[int, list[tuple[float, str]]] = {}
    for dc, e, a in zip(ids, edge_ids, along, strict=True):
        if e < 0:
            node_of[dc] = ("dc", dc)  # isolated: no path
            continue
        split.setdefault(int(e), []).append((float(a), dc))
    edges: list[tuple[Any, Any]] = [(u[i], v[i]) for i in range(net.n_edges) if i not in split]
    for e, items in split.items():
        items.sort()
        chain: list[Any] = [u[e]]
        for a, dc in items:
            if a <= 1e-6:
                node_of[dc] = u[e]
            elif a >= length[e] - 1e-6:
                node_of[dc] = v[e]
            else:
                node_of[dc] = ("dc", dc)
                chain.append(node_of[dc])
        chain.append(v[e])
        edges += list(zip(chain[:-1], chain[1:], strict=False))
    cap = Counter(tuple(sorted((p, q), key=repr)) for p, q in edges if p != q)
    G = nx.Graph()
    G.add_nodes_from(node_of.values())
    G.add_edges_from((p, q, {"capacity": c}) for (p, q), c in cap.items())
    from networkx.algorithms.flow import edmonds_karp

    rows = []
    for a, b in pairs:
        na, nb = node_of[a], node_of[b]
        if na == nb:
            k = 2  # the same place: nothing to cut between them
        elif nx.has_path(G, na, nb):
            k = int(min(2, nx.maximum_flow_value(G, na, nb, capacity="capacity", flow_func=edmonds_karp, cutoff=2)))
        else:
            k = 0
        rows.append({"a": a, "b": b, "disjoint_paths": k, "redundant": k >= 2})
    return pd.DataFrame(rows)


@_indicator("datacentre_pairs_redundant_pct", kind="pairs", gap_unit="pairs",
            empty="fewer than two data centres: no pair to join")
def datacentre_pairs_redundant_pct(inputs: ScoreInputs) -> pd.DataFrame:
    """Share of pairs of data centres (facilities of kind ``data_centre``) joined by at least
    two edge-disjoint fiber paths over all operators' fiber routes (:func:`datacentre_redundancy`:
    a data centre joins the route graph within the fiber drop limit). Judged for the province
    only; not applicable with fewer than two data centres. Gap: pairs without a backup path."""
    fac = inputs.need("facilities")
    dcs = fac[fac["kind"].astype(str).str.lower() == "data_centre"]
    if len(dcs) < 2:
        return pd.DataFrame({"level": ["province"], "zone_code": ["province"], "num": [0.0], "den": [0.0]})
    routes = inputs.need("fiber_routes")
    if dcs.crs is not None and routes.crs is not None and not dcs.crs.equals(routes.crs):
        dcs = dcs.to_crs(routes.crs)
    limit = inputs.fixed.drop_limit_m if inputs.fixed is not None else 300.0
    pairs = datacentre_redundancy(routes, dcs, attach_distance_m=limit)
    inputs._cache["datacentre_pairs"] = pairs
    return pd.DataFrame({"level": ["province"], "zone_code": ["province"],
                         "num": [float(pairs["redundant"].sum())], "den": [float(len(pairs))]})


# =========================================================================== evaluation
def _zones(inputs: ScoreInputs) -> pd.DataFrame:
    c = inputs.communes
    com = pd.DataFrame({"level": "commune", "zone_code": c["commune_code"].astype(str).to_numpy(),
                        "zone_name": c["commune_name"].astype(str).to_numpy(),
                        "district_code": c["district_code"].astype(str).to_numpy(),
                        "district_name": c["district_name"].astype(str).to_numpy()})
    dis = com.drop_duplicates("district_code")[["district_code", "district_name"]].sort_values("district_code")
    dis = dis.assign(level="district", zone_code=dis["district_code"], zone_name=dis["district_name"])
    prov = pd.DataFrame({"level": ["province"], "zone_code": ["province"], "zone_name": [inputs.province_name or "province"],
                         "district_code": [""], "district_name": [""]})
    return pd.concat([prov, dis[com.columns], com], ignore_index=True)


def _aggregate(inputs: ScoreInputs, per: pd.DataFrame, zones: pd.DataFrame) -> pd.DataFrame:
    """Commune num/den(/unknown/extra) → rows for communes, districts and the province."""
    if "level" in per.columns:
        return per.set_index(["level", "zone_code"])
    com = per.copy()
    district = pd.Series(zones.loc[zones["level"] == "commune", "district_code"].to_numpy(),
                         index=zones.loc[zones["level"] == "commune", "zone_code"].to_numpy())
    com["district_code"] = district.reindex(com.index).to_numpy()
    num_cols = [c for c in com.columns if c != "district_code"]
    dis = com.groupby("district_code")[num_cols].sum()
    prov = com[num_cols].sum().to_frame().T
    prov.index = ["province"]
    parts = [prov.assign(level="province"), dis.assign(level="district"), com[num_cols].assign(level="commune")]
    out = pd.concat(parts)
    out.index.name = "zone_code"
    return out.reset_index().set_index(["level", "zone_code"])


def _table_rows(inputs: ScoreInputs, column: str, zones: pd.DataFrame) -> pd.DataFrame:
    tab = inputs.table
    if tab is None:
        raise _NoData(inputs.missing.get("table", "no indicators table: add [parameters] indicators_table = "
                                         "\"indicators.csv\" to study.toml (a CSV per commune or province)"))
    if column not in tab.columns:
        raise _NoData(f"the indicators table has no column {column!r}")
    vals = tab.dropna(subset=[column]).drop_duplicates("zone", keep="last").set_index("zone")[column]
    key = zones["zone_code"].where(zones["level"] != "province", "province")
    v = key.map(vals)
    if zones["level"].eq("province").any() and pd.isna(v[zones["level"] == "province"]).all():
        name_match = vals.reindex([inputs.province_name]).dropna()
        if len(name_match):
            v[zones["level"] == "province"] = float(name_match.iloc[0])
    return pd.DataFrame({"value": v.to_numpy(dtype=float)}, index=pd.MultiIndex.from_frame(zones[["level", "zone_code"]]))


def _gap(kind: str, comp: str, thr: float, value: np.ndarray, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if kind in ("share", "pairs"):
            need = thr / 100.0 * den
            if comp == ">=":
                g = np.ceil(np.round(need - num, 9))
            elif comp == ">":
                g = np.floor(np.round(need - num, 9)) + 1
            elif comp == "<=":
                g = np.ceil(np.round(num - need, 9))
            else:
                g = np.ceil(np.abs(np.round(num - need, 9)))
            return np.maximum(g, 0.0)
        if comp in (">=", ">"):
            return np.maximum(thr - value, 0.0)
        if comp == "<=":
            return np.maximum(value - thr, 0.0)
        return np.abs(value - thr)


_COLUMNS = ["target_id", "year", "theme", "level", "zone_code", "zone_name", "district_code", "district_name",
            "indicator", "value", "unit", "comparison", "threshold", "status", "gap", "gap_unit", "numerator",
            "denominator", "target_level", "reason", "detail"]


def evaluate(plan: Plan, inputs: ScoreInputs, /) -> Scorecard:
    """Measure every target of ``plan`` on ``inputs`` for the province, districts and communes.

    Parameters
    ----------
    plan
        From :func:`load_targets`.
    inputs
        What the indicators read (see :class:`ScoreInputs`; missing parts give "no data"
        rows that say why).

    Returns
    -------
    Scorecard

    Raises
    ------
    MissingColumnError
        ``inputs.communes`` lacks a zone column.

    Notes
    -----
    Status rules, in order: ``policy`` targets are "not applicable"; an indicator that
    cannot be measured (an input is missing) gives "no data" with the reason; a zone with
    nothing to count (no staffed point, no hamlet, nobody covered, fewer than two data
    centres) is "not applicable"; a province-level target is judged on the province row
    only (other rows show their value, status "not applicable"); otherwise the value is
    compared with the threshold (1e-9 tolerance). The gap is reported only where a status
    is met / not met: for shares the count of missing units (people, households, ...,
    rounded up), for means and counts the difference in the target's unit.
    """
    services._require(inputs.communes, ["commune_code", "commune_name", "district_code", "district_name"], "communes")
    zones = _zones(inputs)
    key = pd.MultiIndex.from_frame(zones[["level", "zone_code"]])
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    frames = []
    for t in plan.targets:
        base = zones.copy()
        base["target_id"], base["year"], base["theme"], base["indicator"] = t.id, t.year, t.theme, t.indicator
        base["unit"], base["comparison"], base["threshold"], base["target_level"] = (
            t.unit, t.comparison or "", t.threshold if t.threshold is not None else np.nan, t.level)
        base["value"] = np.nan
        base["numerator"] = np.nan
        base["denominator"] = np.nan
        base["gap"] = np.nan
        base["gap_unit"] = ""
        base["detail"] = ""
        if t.is_policy:
            base["status"] = "not applicable"
            base["reason"] = "a policy direction: no figure measures it"
            frames.append(base)
            continue
        ind = INDICATORS.get(t.indicator)
        if t.indicator not in results:
            t0 = time.perf_counter()
            try:
                if t.table_column is not None:
                    results[t.indicator] = ("table", _table_rows(inputs, t.table_column, zones))
                else:
                    results[t.indicator] = ("ok", _aggregate(inputs, ind.func(inputs), zones))
            except _NoData as why:
                results[t.indicator] = ("nodata", str(why))
            timings[t.indicator] = time.perf_counter() - t0
        kind_of, res = results[t.indicator]
        if kind_of == "nodata":
            base["status"] = "no data"
            base["reason"] = res
            frames.append(base)
            continue
        r = res.reindex(key)
        if kind_of == "table":
            value = r["value"].to_numpy(dtype=float)
            num = den = np.full(len(value), np.nan)
            kind = "table"
            empty = "the indicators table has no figure for this zone"
            nodata_empty = True
            base["gap_unit"] = "pp" if t.unit == "%" else t.unit
        else:
            num = r["num"].to_numpy(dtype=float)
            den = r["den"].to_numpy(dtype=float)
            kind = ind.kind
            with np.errstate(invalid="ignore", divide="ignore"):
                if kind in ("share", "pairs"):
                    value = np.where(den > 0, 100.0 * num / den, np.nan)
                elif kind == "mean":
                    value = np.where(den > 0, num / den, np.nan)
                else:
                    value = num.copy()
            empty = ind.empty_reason
            nodata_empty = False
            if "unknown" in r:
                unknown = r["unknown"].to_numpy(dtype=float)
                all_unknown = (den > 0) & (unknown >= den)
                value = np.where(all_unknown, np.nan, value)
            else:
                all_unknown = np.zeros(len(value), bool)
            base["numerator"] = num if kind != "count" else value
            base["denominator"] = den if kind != "count" else np.nan
            base["gap_unit"] = ind.gap_unit
            if "missing_fiber_m" in r:
                mf = r["missing_fiber_m"].to_numpy(dtype=float)
                base["detail"] = np.where(np.nan_to_num(mf) > 0, [f"new fiber to reach the unreached hamlets: "
                                                                  f"{m:,.0f} m" for m in np.nan_to_num(mf)], "")
        base["value"] = value
        has = ~np.isnan(value)
        prov_only = (t.level == "province") & (base["level"].to_numpy() != "province")
        judged = has & ~prov_only
        ok = np.zeros(len(value), bool)
        ok[judged] = COMPARISONS[t.comparison](value[judged], t.threshold)
        status = np.where(judged, np.where(ok, "met", "not met"), "not applicable")
        reason = np.where(prov_only & has, "the target is set for the province as a whole", "")
        missing_val = ~has
        if kind_of != "table":
            status = np.where(missing_val & all_unknown, "no data", status)
            reason = np.where(missing_val & all_unknown, "no facility here has a known value", reason)
            missing_val &= ~all_unknown
        status = np.where(missing_val, "no data" if nodata_empty else "not applicable", status)
        reason = np.where(missing_val, empty, reason)
        if t.level == "province" and kind == "pairs":
            reason = np.where(prov_only, "judged for the province only", reason)
        base["status"] = status
        base["reason"] = reason
        g = np.full(len(value), np.nan)
        if kind == "table":
            g[judged] = _gap("mean", t.comparison, t.threshold, value[judged], value[judged], value[judged])
        else:
            g[judged] = _gap(kind, t.comparison, t.threshold, value[judged], num[judged], den[judged])
            if kind == "count":  # whole points / households
                g = np.ceil(g - 1e-9)
        base["gap"] = g
        frames.append(base)
    table = pd.concat(frames, ignore_index=True)[_COLUMNS]
    details: dict[str, pd.DataFrame] = {}
    if inputs.fixed is not None and inputs.fixed.unreached_hamlets is not None:
        details["unreached_hamlets"] = inputs.fixed.unreached_hamlets
    if "datacentre_pairs" in inputs._cache:
        details["datacentre_pairs"] = inputs._cache["datacentre_pairs"]
    if inputs.postal_points is not None:
        try:
            p = services.postal_presence(inputs.postal_points, inputs.communes)
            no = p[p["has_staffed"] == 0].index
            c = inputs.communes.set_index(inputs.communes["commune_code"].astype(str))
            details["communes_without_staffed_postal_point"] = c.loc[no, ["commune_name", "district_name"]].reset_index(drop=False)
        except IctplanError:
            pass
    return Scorecard(table=table, plan=plan, communes=inputs.communes, details=details,
                     meta={"province": inputs.province_name, "indicator_s": timings, "missing": dict(inputs.missing)})


# =========================================================================== scorecard
@dataclass
class Scorecard:
    """A plan's scorecard: one tidy row per target × zone (province, districts, communes).

    ``table`` columns: ``target_id, year, theme, level, zone_code, zone_name,
    district_code, district_name, indicator, value, unit, comparison, threshold, status,
    gap, gap_unit, numerator, denominator, target_level, reason, detail``.
    ``details`` holds supporting lists (unreached hamlets with their missing metres,
    communes without a staffed postal point, data-centre pairs).
    """

    table: pd.DataFrame
    plan: Plan
    communes: gpd.GeoDataFrame
    details: dict[str, pd.DataFrame] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def province(self) -> pd.DataFrame:
        """The province rows, one per target."""
        return self.table[self.table["level"] == "province"].reset_index(drop=True)

    def zone(self, zone_code: str) -> pd.DataFrame:
        """The rows of one zone (``"province"``, a district code or a commune code)."""
        return self.table[self.table["zone_code"] == str(zone_code)].reset_index(drop=True)

    def row(self, target_id: str, zone_code: str = "province") -> pd.Series:
        """One target in one zone."""
        t = self.table
        sel = t[(t["target_id"] == target_id) & (t["zone_code"] == str(zone_code))]
        if len(sel) != 1:
            raise KeyError(f"no single row for target {target_id!r} in zone {zone_code!r}.")
        return sel.iloc[0]

    def summary(self) -> pd.DataFrame:
        """Status counts per target over the communes (plus the province's status)."""
        com = self.table[self.table["level"] == "commune"]
        counts = com.pivot_table(index="target_id", columns="status", values="zone_code", aggfunc="count",
                                 fill_value=0).reindex(columns=list(STATUSES), fill_value=0)
        counts.columns = [f"communes_{c.replace(' ', '_')}" for c in counts.columns]
        prov = self.province().set_index("target_id")[["year", "value", "threshold", "unit", "status", "gap", "gap_unit"]]
        return prov.join(counts).reindex(self.plan.ids)

    def side_by_side(self, level: str = "province") -> pd.DataFrame:
        """2025 and 2030 targets of one theme side by side, one row per zone × theme."""
        t = self.table[self.table["level"] == level]
        years = sorted(t["year"].unique())
        keys = ["level", "zone_code", "zone_name", "theme"]
        out = None
        for y in years:
            sub = t[t["year"] == y][keys + ["target_id", "value", "threshold", "unit", "status", "gap", "gap_unit"]]
            sub = sub.drop_duplicates(keys).rename(columns={c: f"{c}_{y}" for c in
                                                            ("target_id", "value", "threshold", "unit", "status",
                                                             "gap", "gap_unit")})
            out = sub if out is None else out.merge(sub, on=keys, how="outer")
        order = {th: i for i, th in enumerate(dict.fromkeys(t["theme"]))}
        return out.sort_values(["zone_code", "theme"], key=lambda s: s.map(order) if s.name == "theme" else s
                               ).reset_index(drop=True) if out is not None else pd.DataFrame()

    def wide(self, level: str = "commune") -> pd.DataFrame:
        """One row per zone of ``level``: ``<id>_value``, ``<id>_status``, ``<id>_gap`` per target."""
        t = self.table[self.table["level"] == level]
        base = t.drop_duplicates("zone_code")[["zone_code", "zone_name", "district_code", "district_name"]]
        base = base.set_index("zone_code")
        for tid in self.plan.ids:
            s = t[t["target_id"] == tid].set_index("zone_code")
            base[f"{tid}_value"] = s["value"]
            base[f"{tid}_status"] = s["status"]
            base[f"{tid}_gap"] = s["gap"]
        return base.reset_index()

    def to_markdown(self, *, max_communes: int = 25) -> str:
        """A Markdown report: the province side by side, districts, the communes furthest behind."""
        return _markdown(self, max_communes=max_communes)


def _fmt(v: Any, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, (int, float, np.floating, np.integer)):
        v = float(v)
        if unit == "%":
            return f"{v:.1f} %"
        if abs(v) >= 100 or v == int(v):
            return f"{v:,.0f}" + (f" {unit}" if unit else "")
        return f"{v:.1f}" + (f" {unit}" if unit else "")
    return str(v)


_ICON = {"met": "✅ met", "not met": "❌ not met", "no data": "… no data", "not applicable": "— n/a"}


def _markdown(sc: Scorecard, *, max_communes: int) -> str:
    plan = sc.plan
    lines = [f"# Scorecard: {plan.name_en or plan.name}", ""]
    if sc.meta.get("study"):
        lines += [f"Study: **{sc.meta['study']}**" + (f" (variant of {sc.meta['variant_of']})" if sc.meta.get("variant_of") else ""), ""]
    lines += [f"Province: {sc.meta.get('province') or plan.province}. Targets: {len(plan.targets)}. "
              "Status: met / not met / no data (the reason says what is missing) / not applicable.", ""]
    prov = sc.province().set_index("target_id")
    lines += ["## Province", "", "| id | year | target | value | target | status | gap | why / detail |",
              "|---|---|---|---|---|---|---|---|"]
    for t in plan.targets:
        r = prov.loc[t.id]
        thr = "–" if t.threshold is None else f"{t.comparison} {_fmt(t.threshold, t.unit)}"
        gap = "" if pd.isna(r["gap"]) else f"{_fmt(r['gap'])} {r['gap_unit']}"
        why = "; ".join(s for s in (str(r["reason"]), str(r["detail"])) if s and s != "nan")
        lines.append(f"| {t.id} | {t.year} | {t.text_en} | {_fmt(r['value'], t.unit)} | {thr} | {_ICON[r['status']]} "
                     f"| {gap} | {why} |")
    sbs = sc.side_by_side("province")
    yc = [c for c in sbs.columns if c.startswith("target_id_") and c.split("_")[-1] in ("2025", "2030")]
    if len(yc) >= 2:
        y = [c.split("_")[-1] for c in yc]
        lines += ["", "## 2025 and 2030 side by side (province)", "",
                  f"| theme | {' | '.join(f'{yy}: id | value | status' for yy in y)} |",
                  "|---|" + "---|---|---|" * len(y)]
        for _, r in sbs.iterrows():
            if sum(isinstance(r[c], str) for c in yc) < 2:
                continue
            cells = []
            for yy in y:
                cells += [str(r[f"target_id_{yy}"]) if isinstance(r[f"target_id_{yy}"], str) else "",
                          _fmt(r[f"value_{yy}"], r[f"unit_{yy}"] if isinstance(r[f"unit_{yy}"], str) else ""),
                          _ICON.get(r[f"status_{yy}"], "") if isinstance(r[f"status_{yy}"], str) else ""]
            lines.append(f"| {r['theme']} | " + " | ".join(cells) + " |")
    # districts: status counts per target
    dis = sc.table[sc.table["level"] == "district"]
    judged = [t for t in plan.targets if not t.is_policy and t.level != "province"]
    if len(dis) and judged:
        lines += ["", "## Districts", "", "Value per district (✅ met, ❌ not met, … no data, — n/a).", "",
                  "| district | " + " | ".join(t.id for t in judged) + " |", "|---|" + "---|" * len(judged)]
        for _code, g in dis.groupby("zone_code", sort=True):
            g = g.set_index("target_id")
            cells = []
            for t in judged:
                r = g.loc[t.id]
                mark = {"met": "✅", "not met": "❌", "no data": "…", "not applicable": "—"}[r["status"]]
                cells.append(f"{mark} {_fmt(r['value'], t.unit)}" if r["status"] in ("met", "not met") else mark)
            lines.append(f"| {g['zone_name'].iloc[0]} | " + " | ".join(cells) + " |")
    # communes furthest behind on the main spatial targets
    com = sc.table[(sc.table["level"] == "commune") & (sc.table["status"] == "not met")]
    if len(com):
        lines += ["", "## Communes not meeting targets", "", "| id | communes not met | largest gaps |", "|---|---|---|"]
        for t in plan.targets:
            g = com[com["target_id"] == t.id]
            if not len(g):
                continue
            top = g.sort_values("gap", ascending=False).head(5)
            lst = ", ".join(f"{r.zone_name} ({_fmt(r.gap)} {r.gap_unit})" for r in top.itertuples())
            lines.append(f"| {t.id} | {len(g)} | {lst} |")
    uh = sc.details.get("unreached_hamlets")
    if uh is not None and len(uh):
        lines += ["", f"## Unreached hamlets ({len(uh)}), with the new fiber that would reach them", "",
                  "| commune | hamlet | households | missing fiber (m) |", "|---|---|---|---|"]
        names = sc.communes.set_index(sc.communes["commune_code"].astype(str))["commune_name"]
        for r in uh.sort_values("missing_fiber_m", ascending=False).head(max_communes).itertuples():
            lines.append(f"| {names.get(str(r.commune_code), r.commune_code)} | {getattr(r, 'hamlet_name', r.hamlet_code)} | "
                         f"{_fmt(getattr(r, 'households', float('nan')))} | {_fmt(r.missing_fiber_m)} |")
        if len(uh) > max_communes:
            lines.append(f"| … | {len(uh) - max_communes} more in scorecard.csv / the fiber outputs | | |")
    shared = sc.meta.get("sharing")
    if isinstance(shared, dict) and shared:
        lines += ["", "## Shared infrastructure (the plan's direction; no numeric target)", ""]
        lines += [f"- {k}: {_fmt(v) if isinstance(v, (int, float)) else v}" for k, v in shared.items()
                  if not isinstance(v, (dict, list))]
    nd = sc.province()
    nd = nd[nd["status"] == "no data"]
    if len(nd):
        lines += ["", "## Not measured, and why", ""]
        lines += [f"- **{r.target_id}**: {r.reason}" for r in nd.itertuples()]
    return "\n".join(lines) + "\n"


# =========================================================================== study → inputs
def inputs_from_study(
    study: Any,
    /,
    *,
    coverage_result: Any = None,
    fiber_result: Any = None,
    compute: bool = True,
) -> ScoreInputs:
    """Gather a study's layers and analysis results into :class:`ScoreInputs`.

    Parameters
    ----------
    study
        A loaded study (:func:`ictplan.study.load`).
    coverage_result, fiber_result
        Results already computed; ``None`` with ``compute=True`` runs
        :func:`ictplan.coverage.run` / :func:`ictplan.fiber.run` when the study has what
        they need (sites / roads).
    compute
        Run missing analyses.

    Returns
    -------
    ScoreInputs
        ``missing`` says, for every absent part, why (no layer, the analysis failed and
        its error, ...).

    Raises
    ------
    ConfigError
        The study has no communes layer.
    """
    missing: dict[str, str] = {}
    communes = study.layer_in_crs("communes")

    def opt(name: str) -> gpd.GeoDataFrame | None:
        if not study.has(name):
            missing[name] = f"the study has no {name} layer (add it under [layers] in study.toml)"
            return None
        try:
            return study.layer_in_crs(name)
        except IctplanError as err:
            missing[name] = f"the {name} layer could not be loaded: {err}"
            return None

    postal, facilities = opt("postal_points"), opt("facilities")
    routes, dtt = opt("fiber_routes"), opt("dtt_transmitters")
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
    mobile = fixed = None
    if coverage_result is None and compute:
        if study.has("sites") and population is not None:
            try:
                from . import coverage

                coverage_result = coverage.run(study, levels=("communes",))
            except IctplanError as err:
                missing["mobile"] = f"the coverage analysis failed: {err}"
        else:
            missing["mobile"] = "the study has no sites layer (or no population raster): no coverage analysis"
    elif coverage_result is None:
        missing["mobile"] = "no coverage result was given"
    if coverage_result is not None:
        mobile = mobile_inputs(coverage_result, facilities=facilities)
    if fiber_result is None and compute:
        if study.has("roads"):
            try:
                from . import fiber

                fiber_result = fiber.run(study)
            except IctplanError as err:
                missing["fixed"] = f"the fiber analysis failed: {err}"
        else:
            missing["fixed"] = "the study has no roads layer: no fiber-reach analysis"
    elif fiber_result is None:
        missing["fixed"] = "no fiber result was given"
    if fiber_result is not None:
        fixed = fixed_inputs(fiber_result)
    table = None
    tpath = (getattr(study, "parameters", {}) or {}).get("indicators_table")
    if tpath:
        table = read_indicators_table(Path(study.root) / tpath)
    else:
        missing["table"] = ("no indicators table: add [parameters] indicators_table = \"indicators.csv\" to "
                            "study.toml (one row per commune or for the province) for the non-spatial targets")
    prov = getattr(study, "name", "province")
    try:
        import tomllib as _t  # the study's province name, when given

        cfg = _t.loads((Path(study.root) / "study.toml").read_text(encoding="utf-8"))
        prov = cfg.get("study", {}).get("province", prov)
    except (OSError, ValueError):
        pass
    return ScoreInputs(communes=communes, province_name=prov, postal_points=postal, facilities=facilities,
                       fiber_routes=routes, dtt_transmitters=dtt, population=population, dtt_profile=dtt_profile,
                       mobile=mobile, fixed=fixed, table=table, missing=missing)


def scorecard(
    study: Any,
    /,
    *,
    coverage_result: Any = None,
    fiber_result: Any = None,
    sharing_result: Any = None,
    plan: Plan | None = None,
    compute: bool = True,
) -> Scorecard:
    """The plan's scorecard for a study: every target, for the province, districts and communes.

    Parameters
    ----------
    study
        A loaded study; its ``[targets]`` file is the plan unless ``plan`` is given.
    coverage_result, fiber_result
        Analysis results to reuse; missing ones are computed (``compute=True``).
    sharing_result
        Optional :mod:`ictplan.sharing` result; the plan sets no numeric sharing target,
        so it is only recorded in ``meta`` (tenancy and duplicated trenching, where given).
    plan
        The targets (default: ``load_targets(study.targets_path)``).
    compute
        Run the coverage and fiber analyses when their results are not given.

    Returns
    -------
    Scorecard

    Raises
    ------
    ConfigError
        No targets file and no ``plan``; a bad targets file.
    MissingFileError
        The targets file does not exist.

    Notes
    -----
    Cost on the Cà Mau sample: the coverage (≈ 7 s) and fiber (≈ 2 s) analyses dominate;
    the indicators themselves take well under a second (DTT: one path-loss evaluation per
    transmitter over the populated cells; data centres: one max-flow per pair).
    """
    t0 = time.perf_counter()
    if plan is None:
        tp = getattr(study, "targets_path", None)
        if tp is None:
            raise ConfigError(f"the study {getattr(study, 'name', '')!r} names no [targets] path; add "
                              "`[targets] path = \"../targets/camau_2021_2030.toml\"` to study.toml or pass plan=.")
        plan = load_targets(tp)
    inputs = inputs_from_study(study, coverage_result=coverage_result, fiber_result=fiber_result, compute=compute)
    t1 = time.perf_counter()
    sc = evaluate(plan, inputs)
    sc.meta.update({"study": getattr(study, "name", ""), "inputs_s": t1 - t0, "total_s": time.perf_counter() - t0})
    if sharing_result is not None:
        summary = getattr(sharing_result, "summary", None)
        sc.meta["sharing"] = summary if isinstance(summary, dict) else repr(type(sharing_result).__name__)
    logger.info("scorecard: %d targets × %d zones in %.1f s", len(plan.targets),
                sc.table["zone_code"].nunique(), sc.meta["total_s"])
    return sc


# =========================================================================== outputs
def write_scorecard(sc: Scorecard, out_dir: str | Path, /, *, overwrite: bool = False) -> dict[str, Path]:
    """Write the scorecard: CSV (tidy), CSV (2025 | 2030 side by side), GeoPackage, Markdown.

    Parameters
    ----------
    sc
        From :func:`scorecard`.
    out_dir
        Output folder (created).
    overwrite
        Replace existing files.

    Returns
    -------
    dict
        ``{"csv", "side_by_side", "gpkg", "markdown"}`` → paths. The GeoPackage holds layer
        ``communes`` (commune polygons with ``<id>_value``, ``<id>_status``, ``<id>_gap``
        per target, for QGIS) and ``districts`` (dissolved, same columns).

    Raises
    ------
    OutputExistsError
        A file exists and ``overwrite`` is false.
    """
    from . import io as _io

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "csv": _io.write_table(sc.table, out / "scorecard.csv", overwrite=overwrite),
        "side_by_side": _io.write_table(pd.concat([sc.side_by_side(lv) for lv in _ZONE_LEVELS], ignore_index=True),
                                        out / "scorecard_2025_2030.csv", overwrite=overwrite),
    }
    com = sc.communes[["commune_code", "geometry"]].copy()
    com["commune_code"] = com["commune_code"].astype(str)
    wide = sc.wide("commune").rename(columns={"zone_code": "commune_code", "zone_name": "commune_name"})
    gdf = gpd.GeoDataFrame(com.merge(wide, on="commune_code", how="left"), geometry="geometry", crs=sc.communes.crs)
    gpkg = out / "scorecard.gpkg"
    if gpkg.exists() and overwrite:
        gpkg.unlink()
    _io.write_layer(gdf, gpkg, layer="communes", overwrite=overwrite)
    dgeo = sc.communes.assign(district_code=sc.communes["district_code"].astype(str)).dissolve(by="district_code")[["geometry"]]
    dwide = sc.wide("district").drop(columns=["district_code", "district_name"]).rename(
        columns={"zone_code": "district_code", "zone_name": "district_name"})
    dg = gpd.GeoDataFrame(dgeo.reset_index().merge(dwide, on="district_code", how="left"), geometry="geometry",
                          crs=sc.communes.crs)
    _io.write_layer(dg, gpkg, layer="districts", overwrite=True)
    paths["gpkg"] = gpkg
    md = out / "scorecard.md"
    with _io.atomic_path(md, overwrite=overwrite) as tmp:
        tmp.write_text(sc.to_markdown(), encoding="utf-8")
    paths["markdown"] = md
    return paths


_RANK = {"met": 2, "not met": 1, "no data": 0, "not applicable": 0}


def compare(sc_base: Scorecard, sc_variant: Scorecard, /) -> pd.DataFrame:
    """The difference between a base scorecard and a variant's (what-if).

    Parameters
    ----------
    sc_base, sc_variant
        Scorecards of the same plan on two studies sharing the communes (e.g. today's
        sites and a planned 2030 build-out).

    Returns
    -------
    pandas.DataFrame
        One row per target × zone: ``value_base``, ``value_variant``, ``delta`` (variant −
        base), ``status_base``, ``status_variant``, ``gap_base``, ``gap_variant``,
        ``gap_closed`` (base gap − variant gap, in the gap unit) and ``change``
        (``now met`` / ``no longer met`` / ``better`` / ``worse`` / ``same``).

    Raises
    ------
    InputValidationError
        The two scorecards have different targets or zones.
    """
    keys = ["target_id", "level", "zone_code"]
    a, b = sc_base.table, sc_variant.table
    if set(a["target_id"]) != set(b["target_id"]):
        raise InputValidationError("the two scorecards measure different targets; score both with the same plan.")
    za, zb = set(a["zone_code"]), set(b["zone_code"])
    if za != zb:
        raise InputValidationError(f"the two scorecards cover different zones ({len(za ^ zb)} differ, e.g. "
                                   f"{sorted(za ^ zb)[:3]}); a variant must keep the base's communes.")
    cols = ["value", "status", "gap"]
    m = a[keys + ["year", "zone_name", "unit", "threshold", "gap_unit", "comparison"] + cols].merge(
        b[keys + cols], on=keys, suffixes=("_base", "_variant"), how="left")
    m["delta"] = m["value_variant"] - m["value_base"]
    m["gap_closed"] = m["gap_base"] - m["gap_variant"]
    sign = np.where(m["comparison"].isin(["<="]), -1.0, 1.0)
    better = (sign * m["delta"]) > 1e-9
    worse = (sign * m["delta"]) < -1e-9
    change = np.where(better, "better", np.where(worse, "worse", "same"))
    change = np.where((m["status_base"] != "met") & (m["status_variant"] == "met"), "now met", change)
    change = np.where((m["status_base"] == "met") & (m["status_variant"] == "not met"), "no longer met", change)
    m["change"] = change
    return m[keys + ["year", "zone_name", "unit", "threshold", "value_base", "value_variant", "delta", "status_base",
                     "status_variant", "gap_unit", "gap_base", "gap_variant", "gap_closed", "change"]]


def write_comparison(diff: pd.DataFrame, out_dir: str | Path, /, *, overwrite: bool = False) -> dict[str, Path]:
    """Write :func:`compare`'s table as CSV and a Markdown summary (province rows + changed counts).

    Raises
    ------
    OutputExistsError
        A file exists and ``overwrite`` is false.
    """
    from . import io as _io

    out = Path(out_dir)
    csv = _io.write_table(diff, out / "scorecard_whatif.csv", overwrite=overwrite)
    prov = diff[diff["level"] == "province"]
    lines = ["# What-if: variant against base", "", "| id | year | base | variant | change | gap closed |",
             "|---|---|---|---|---|---|"]
    for r in prov.itertuples():
        gc = "" if pd.isna(r.gap_closed) else f"{_fmt(r.gap_closed)} {r.gap_unit}"
        lines.append(f"| {r.target_id} | {r.year} | {_fmt(r.value_base, r.unit)} ({r.status_base}) | "
                     f"{_fmt(r.value_variant, r.unit)} ({r.status_variant}) | {r.change} | {gc} |")
    com = diff[diff["level"] == "commune"]
    ch = com.groupby("target_id")["change"].value_counts().unstack(fill_value=0)
    if len(ch):
        lines += ["", "## Communes changed per target", "", "| id | " + " | ".join(ch.columns) + " |",
                  "|---|" + "---|" * len(ch.columns)]
        for tid, r in ch.iterrows():
            lines.append(f"| {tid} | " + " | ".join(str(int(v)) for v in r) + " |")
    md = out / "scorecard_whatif.md"
    with _io.atomic_path(md, overwrite=overwrite) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"csv": csv, "markdown": md}
