"""Evaluation: every target of a plan measured for the province, districts and communes.

:func:`evaluate` turns a :class:`~ictplan.targets.plan.Plan` and
:class:`~ictplan.targets.inputs.ScoreInputs` into a :class:`Scorecard`; :func:`run` does
it for a study and the analysis results given (it runs no analysis itself: a missing
result gives "no data" rows that say why); :func:`compare` sets a variant's scorecard
beside the base (what-if).

Zone figures are sums over communes: a district is the sum of its communes, the
province the sum of all communes (for shares the numerators and denominators are summed,
then divided), so a district's figure is always consistent with its communes'.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import services
from .._errors import ConfigError, IctplanError, InputValidationError
from ..io import has_districts
from .indicators import INDICATORS, Indicator
from .inputs import NoData, ScoreInputs, inputs_from_study
from .plan import COMPARISONS, STATUSES, Plan, Target, load_targets
from .writers import markdown

if TYPE_CHECKING:  # pragma: no cover
    from ..coverage import CoverageResult
    from ..fiber import FiberResult
    from ..sharing import SharingResult
    from ..study import Study

logger = logging.getLogger("ictplan.targets")

__all__ = ["Scorecard", "evaluate", "run", "scorecard", "compare", "applied_to"]


def _zones(inputs: ScoreInputs) -> pd.DataFrame:
    c = inputs.communes
    com = pd.DataFrame({"level": "commune", "zone_code": c["commune_code"].astype(str).to_numpy(),
                        "zone_name": c["commune_name"].astype(str).to_numpy(),
                        "district_code": c["district_code"].astype(str).to_numpy(),
                        "district_name": c["district_name"].astype(str).to_numpy()})
    dis = com.drop_duplicates("district_code")[["district_code", "district_name"]].sort_values("district_code")
    if not has_districts(c):  # since the 2025 reform there may be none: no district level
        dis = dis.iloc[:0]
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
    if not (zones["level"] == "district").any():
        dis = dis.iloc[:0]
    prov = com[num_cols].sum().to_frame().T
    prov.index = ["province"]
    parts = [prov.assign(level="province"), dis.assign(level="district"), com[num_cols].assign(level="commune")]
    out = pd.concat(parts)
    out.index.name = "zone_code"
    return out.reset_index().set_index(["level", "zone_code"])


def _table_rows(inputs: ScoreInputs, column: str, zones: pd.DataFrame) -> pd.DataFrame:
    tab = inputs.table
    if tab is None:
        raise NoData(inputs.missing.get("table", "no indicators table: add [parameters.scorecard] "
                                         "indicators_table = \"indicators.csv\" to study.toml (a CSV per commune or province)"))
    if column not in tab.columns:
        raise NoData(f"the indicators table has no column {column!r}")
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
            "denominator", "target_level", "reason", "detail", "measure", "definition", "operators_below"]

#: Indicators also judged per operator (M1, M2, M3/X2): technology and column of
#: :attr:`MobileInputs.per_operator`; a zone's figure of an operator is the users-weighted
#: (speeds) or population-weighted (coverage) mean over its communes.
_PER_OPERATOR: dict[str, tuple[str, str]] = {"mean_4g_mbps": ("4G", "mean_user_mbps"),
                                             "mean_5g_mbps": ("5G", "mean_user_mbps"),
                                             "pop_5g_pct": ("5G", "pct_covered")}


@dataclass
class _Values:
    """One target's figures on every zone row, before they are judged."""

    value: np.ndarray
    num: np.ndarray
    den: np.ndarray
    kind: str  # the indicator's kind, or "table"
    empty: str  # the reason where a zone has no value
    empty_status: str  # "no data" (table) or "not applicable"
    all_unknown: np.ndarray  # every facility of the zone has an unknown value


def _base_rows(t: Target, zones: pd.DataFrame) -> pd.DataFrame:
    """The zone rows of target ``t``, its fields filled, nothing measured yet."""
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
    base["measure"] = t.measure
    base["operators_below"] = ""
    ind = INDICATORS.get(t.indicator)
    first = " ".join((ind.doc if ind is not None else "").split()).split(". ")[0]
    base["definition"] = t.definition or (first + "." if first else t.text_en)
    return base


def _registered(t: Target) -> Indicator:
    ind = INDICATORS.get(t.indicator)
    if ind is None:
        raise ConfigError(f"target {t.id}: unknown indicator {t.indicator!r}; known: {', '.join(sorted(INDICATORS))}, "
                          "table:<column> or policy.")
    return ind


def _rule(t: Target) -> tuple[str, float]:
    if t.comparison is None or t.threshold is None:
        raise ConfigError(f"target {t.id} has no comparison or threshold: only policy targets may omit them.")
    return t.comparison, t.threshold


def _measure(t: Target, inputs: ScoreInputs, zones: pd.DataFrame) -> tuple[tuple[str, Any], float]:
    """Run ``t``'s indicator once: ``("table" | "ok", rows)`` or ``("nodata", reason)``, and seconds."""
    t0 = time.perf_counter()
    res: tuple[str, Any]
    try:
        if t.table_column is not None:
            res = ("table", _table_rows(inputs, t.table_column, zones))
        else:
            res = ("ok", _aggregate(inputs, _registered(t).func(inputs), zones))
    except NoData as why:
        res = ("nodata", str(why))
    return res, time.perf_counter() - t0


def _table_values(t: Target, base: pd.DataFrame, r: pd.DataFrame) -> _Values:
    value = r["value"].to_numpy(dtype=float)
    base["gap_unit"] = "pp" if t.unit == "%" else t.unit
    nan = np.full(len(value), np.nan)
    return _Values(value, nan, nan, "table", "the indicators table has no figure for this zone", "no data",
                   np.zeros(len(value), bool))


def _indicator_values(ind: Indicator, base: pd.DataFrame, r: pd.DataFrame) -> _Values:
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
    if "unknown" in r:
        all_unknown = (den > 0) & (r["unknown"].to_numpy(dtype=float) >= den)
        value = np.where(all_unknown, np.nan, value)
    else:
        all_unknown = np.zeros(len(value), bool)
    base["numerator"] = num if kind != "count" else value
    base["denominator"] = den if kind != "count" else np.nan
    base["gap_unit"] = ind.gap_unit
    if "missing_fiber_m" in r:
        mf = np.nan_to_num(r["missing_fiber_m"].to_numpy(dtype=float))
        base["detail"] = np.where(mf > 0, [f"new fiber to reach the unreached hamlets: {m:,.0f} m" for m in mf], "")
    return _Values(value, num, den, kind, ind.empty_reason, "not applicable", all_unknown)


def _judge(t: Target, base: pd.DataFrame, v: _Values) -> None:
    """Status, reason and gap of every zone row (the rules are in :func:`evaluate`)."""
    comparison, threshold = _rule(t)
    value = v.value
    base["value"] = value
    has = ~np.isnan(value)
    prov_only = (t.level == "province") & (base["level"].to_numpy() != "province")
    judged = has & ~prov_only
    ok = np.zeros(len(value), bool)
    ok[judged] = COMPARISONS[comparison](value[judged], threshold)
    status = np.where(judged, np.where(ok, "met", "not met"), "not applicable")
    reason = np.where(prov_only & has, "the target is set for the province as a whole", "")
    missing_val = ~has
    status = np.where(missing_val & v.all_unknown, "no data", status)
    reason = np.where(missing_val & v.all_unknown, "no facility here has a known value", reason)
    missing_val &= ~v.all_unknown
    status = np.where(missing_val, v.empty_status, status)
    reason = np.where(missing_val, v.empty, reason)
    if t.level == "province" and v.kind == "pairs":
        reason = np.where(prov_only, "judged for the province only", reason)
    base["status"] = status
    base["reason"] = reason
    g = np.full(len(value), np.nan)
    if v.kind == "table":
        g[judged] = _gap("mean", comparison, threshold, value[judged], value[judged], value[judged])
    else:
        g[judged] = _gap(v.kind, comparison, threshold, value[judged], v.num[judged], v.den[judged])
        if v.kind == "count":  # whole points / households
            g = np.ceil(g - 1e-9)
    base["gap"] = g


def _operator_values(inputs: ScoreInputs, indicator: str, zones: pd.DataFrame) -> pd.DataFrame | None:
    """Each operator's figure of ``indicator`` per zone row (index ``level, zone_code``, a column
    per operator; NaN: the operator has no user there), or None without per-operator inputs."""
    m = inputs.mobile
    if indicator not in _PER_OPERATOR or m is None or m.per_operator is None or not len(m.per_operator):
        return None
    tech, col = _PER_OPERATOR[indicator]
    po = m.per_operator.reset_index()
    po = po[(po["technology"] == tech) & po[col].notna()]
    prov = po[po["commune_code"] == "province"].set_index("operator")[col]
    com = po[po["commune_code"] != "province"].copy()
    com["w"] = (com["users"] if col == "mean_user_mbps" else
                com["commune_code"].map(m.per_commune["population"])).astype(float).fillna(0.0)
    com = com[com["w"] > 0]
    com["wv"] = com["w"] * com[col]
    czones = zones[zones["level"] == "commune"].set_index("zone_code")
    com["district_code"] = com["commune_code"].map(czones["district_code"])
    parts = [pd.DataFrame([prov.to_dict()], index=pd.MultiIndex.from_tuples([("province", "province")]))]
    for level, key in (("district", "district_code"), ("commune", "commune_code")):
        if level == "district" and not (zones["level"] == "district").any():
            continue
        g = com.groupby([key, "operator"])[["wv", "w"]].sum()
        v = (g["wv"] / g["w"]).unstack("operator")
        v.index = pd.MultiIndex.from_arrays([[level] * len(v), v.index.astype(str)])
        parts.append(v)
    out = pd.concat(parts)
    out.index.names = ["level", "zone_code"]
    return out


def _operators_below(t: Target, base: pd.DataFrame, values: pd.DataFrame | None) -> None:
    """``operators_below`` of the judged rows: the operators whose own figure misses the target
    (lowest first), e.g. ``"Viettel, VNPT"``; empty where every operator meets it."""
    base["operators_below"] = ""
    if values is None or t.comparison is None or t.threshold is None:
        return
    judged = base["status"].isin(["met", "not met"]).to_numpy()
    v = values.reindex(pd.MultiIndex.from_frame(base[["level", "zone_code"]]))
    names = []
    for ok_row, (_, row) in zip(judged, v.iterrows(), strict=True):
        r = row.dropna()
        bad = r[~COMPARISONS[t.comparison](r.to_numpy(float), t.threshold)].sort_values(kind="stable") if ok_row else r.iloc[:0]
        names.append(", ".join(map(str, bad.index)))
    base["operators_below"] = names


def _details(inputs: ScoreInputs) -> dict[str, pd.DataFrame]:
    """Supporting lists: unreached hamlets, data-centre pairs, communes without a staffed point."""
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
            details["communes_without_staffed_postal_point"] = c.loc[no, ["commune_name", "district_name"]].reset_index(
                drop=False)
        except IctplanError:
            pass
    return details


def evaluate(plan: Plan, inputs: ScoreInputs, /) -> Scorecard:
    """Measure every target of ``plan`` on ``inputs`` for the province, districts and communes.

    Parameters
    ----------
    plan
        From :func:`~ictplan.targets.load_targets`.
    inputs
        What the indicators read (see :class:`~ictplan.targets.ScoreInputs`; missing parts
        give "no data" rows that say why).

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
    results: dict[str, tuple[str, Any]] = {}
    per_op: dict[str, pd.DataFrame | None] = {}
    timings: dict[str, float] = {}
    frames = []
    for t in plan.targets:
        base = _base_rows(t, zones)
        frames.append(base)
        if t.is_policy:
            base["status"] = "not applicable"
            base["reason"] = "a policy direction: no figure measures it"
            continue
        if t.indicator not in results:
            results[t.indicator], timings[t.indicator] = _measure(t, inputs, zones)
        kind_of, res = results[t.indicator]
        if kind_of == "nodata":
            base["status"] = "no data"
            base["reason"] = res
            continue
        r = res.reindex(key)
        _judge(t, base, _table_values(t, base, r) if kind_of == "table" else _indicator_values(_registered(t), base, r))
        if t.indicator in _PER_OPERATOR:
            if t.indicator not in per_op:
                per_op[t.indicator] = _operator_values(inputs, t.indicator, zones)
            _operators_below(t, base, per_op[t.indicator])
    table = pd.concat(frames, ignore_index=True)[_COLUMNS]
    return Scorecard(table=table, plan=plan, communes=inputs.communes, details=_details(inputs),
                     meta={"province": inputs.province_name, "indicator_s": timings, "missing": dict(inputs.missing),
                           "plan_applied_to": applied_to(plan, inputs.province_name)})


def applied_to(plan: Plan, province: str | None) -> str:
    """"" when the study is the plan's own province; else the label every output shows, e.g.
    "the Cà Mau plan's targets applied to Bạc Liêu's territory" (an old province's plan judged on
    another territory, as after the 2025 merger)."""
    norm = unicodedata.normalize
    if not province or not plan.province or norm("NFC", province).casefold() == norm("NFC", plan.province).casefold():
        return ""
    return f"the {plan.province} plan's targets applied to {province}'s territory"


@dataclass
class Scorecard:
    """A plan's scorecard: one tidy row per target × zone (province, districts, communes).

    ``table`` columns: ``target_id, year, theme, level, zone_code, zone_name,
    district_code, district_name, indicator, value, unit, comparison, threshold, status,
    gap, gap_unit, numerator, denominator, target_level, reason, detail, measure, definition,
    operators_below`` (M1, M2, M3/X2: the operators whose own figure misses the target, lowest
    first, on the judged rows).
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
        """One row per zone of ``level``: ``<id>_value``, ``<id>_status``, ``<id>_gap`` per target
        (and ``<id>_operators_below`` for the per-operator targets M1, M2, M3/X2)."""
        t = self.table[self.table["level"] == level]
        base = t.drop_duplicates("zone_code")[["zone_code", "zone_name", "district_code", "district_name"]]
        base = base.set_index("zone_code")
        for tid in self.plan.ids:
            s = t[t["target_id"] == tid].set_index("zone_code")
            base[f"{tid}_value"] = s["value"]
            base[f"{tid}_status"] = s["status"]
            base[f"{tid}_gap"] = s["gap"]
            if self.plan[tid].indicator in _PER_OPERATOR:
                base[f"{tid}_operators_below"] = s["operators_below"]
        return base.reset_index()

    def to_markdown(self, *, max_communes: int = 25) -> str:
        """A Markdown report: the province side by side, districts, the communes furthest behind."""
        return markdown(self, max_communes=max_communes)

def run(
    study: Study,
    /,
    *,
    coverage: CoverageResult | None = None,
    fiber: FiberResult | None = None,
    sharing: SharingResult | None = None,
    plan: Plan | None = None,
    skipped: Mapping[str, str] | None = None,
    indicators_table: str | None = None,
    satellite_tv: bool | None = None,
    no_satellite_communes: tuple[str, ...] | None = None,
    progress: bool | None = None,
) -> Scorecard:
    """The plan's scorecard for a study: every target, for the province, districts and communes.

    Parameters
    ----------
    study
        A loaded study; its ``[targets]`` file is the plan unless ``plan`` is given; its
        ``[parameters.scorecard] indicators_table`` names the optional indicators table.
    coverage, fiber
        Results of :func:`ictplan.coverage.run` and :func:`ictplan.fiber.run`. None
        computes nothing: the indicators that need it say "no data" and why
        (:func:`ictplan.workflow.run` runs what is missing).
    sharing
        Optional :func:`ictplan.sharing.run` result; the plan sets no numeric sharing
        target, so its summary is only recorded in ``meta["sharing"]``.
    plan
        The targets (default: ``load_targets(study.targets_path)``).
    skipped
        Why a job did not run, by job (as :attr:`ictplan.workflow.Results.skipped`): the
        reason given in the "no data" rows; a generic one for a job not named.
    indicators_table
        Override of the ``[parameters.scorecard] indicators_table`` (relative to the study
        folder).
    satellite_tv, no_satellite_communes
        Overrides of ``[parameters.scorecard]``: whether B1 counts satellite TV, and the
        communes where it does not.
    progress
        Accepted for the common shape of ``run``; the scorecard takes well under a second
        and shows no progress.

    Returns
    -------
    Scorecard

    Raises
    ------
    ConfigError
        No targets file and no ``plan``; a bad targets file or ``[parameters.scorecard]``.
    MissingFileError
        The targets file or the indicators table does not exist.

    Notes
    -----
    The indicators take well under a second on the Cà Mau sample (DTT: one path-loss
    evaluation per transmitter over the populated cells; data centres: one max-flow per
    pair); the coverage and fiber analyses that feed it are not run here.
    """
    t0 = time.perf_counter()
    if plan is None:
        if study.targets_path is None:
            raise ConfigError(f"the study {study.name!r} names no [targets] path; add "
                              "`[targets] path = \"../targets/camau_2021_2030.toml\"` to study.toml or pass plan=.")
        plan = load_targets(study.targets_path)
    inputs = inputs_from_study(study, coverage=coverage, fiber=fiber, skipped=skipped,
                               indicators_table=indicators_table, satellite_tv=satellite_tv,
                               no_satellite_communes=no_satellite_communes)
    t1 = time.perf_counter()
    sc = evaluate(plan, inputs)
    sc.meta.update({"study": study.name, "inputs_s": t1 - t0, "total_s": time.perf_counter() - t0})
    if sharing is not None:
        sc.meta["sharing"] = dict(sharing.summary)
    logger.info("scorecard: %d targets × %d zones in %.1f s", len(plan.targets),
                sc.table["zone_code"].nunique(), sc.meta["total_s"])
    return sc


scorecard = run
"""The old name of :func:`run` (same function, same keywords)."""


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
