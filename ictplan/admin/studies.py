"""Studies in either unit set: a scorecard measured in the old communes, reported in the new
units beside the old, with the same totals over the same territory.

The analyses run on the grid; the scorecard keeps, for every target and commune, the
indicator's numerator and denominator (people covered and people, households reached and
households, points, ...). :func:`scorecard_in_new_units` moves those through a
:class:`~ictplan.admin.crosswalk.Crosswalk` and re-derives every value from them (shares
and means are never averaged), then judges each new unit with the scorecard's own rules.
Whole-mapped new units are exact; a new unit that receives part of a split old commune
carries the crosswalk's apportionment (its weight and source are in
``Scorecard.meta["crosswalk"]``). The province row is the old scorecard's: the territory
is the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._errors import InputValidationError
from ..targets.indicators import INDICATORS
from ..targets.inputs import MobileInputs, NoData, ScoreInputs
from ..targets.scoring import _COLUMNS, Scorecard, _base_rows, _judge, _Values
from .crosswalk import Crosswalk, approximate_pieces, crosswalk
from .units import units_table

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from ..coverage import CoverageResult
    from ..grid import Population
    from ..study import Study

__all__ = ["study_crosswalk", "new_unit_polygons", "scorecard_in_new_units", "units_side_by_side", "TABLE_REASON",
           "ZONE_INDICATORS", "mobile_in_units", "BY_CROSSWALK", "BY_ZONES", "FIBER_RATIOS", "fiber_in_new_units",
           "coverage_in_new_units", "NEW_PROVINCE", "new_province_scorecard"]

TABLE_REASON = ("a figure of the indicators table has no numerator and denominator, so it cannot be moved to "
                "other units: give the table in the new units")
ZONE_INDICATORS = ("pop_5g_pct", "mean_4g_mbps", "mean_5g_mbps", "dtt_pop_pct")
"""Indicators that are sums over the grid's cells: with the new units' polygons they are
measured exactly by the new units' zone weights (no re-analysis), not moved by the crosswalk."""
BY_CROSSWALK = "new units: the old communes' numerators and denominators moved by the crosswalk"
BY_ZONES = "new units: measured on the grid with the new units' zone weights"


def study_crosswalk(study: Study, /, *, weight: str = "population") -> Crosswalk:
    """The crosswalk of a study in the old units: its communes' polygons cut among the new
    units (Voronoi of the new units' points where an old commune was split), weighted by its
    population raster (or by area)."""
    com = study.layer_in_crs("communes")
    return crosswalk(com, population=study.population if weight == "population" else None, weight=weight)


def new_unit_polygons(communes: gpd.GeoDataFrame, /) -> gpd.GeoDataFrame:
    """Approximate polygons of the new units over old communes' polygons (dissolved pieces
    of :func:`~ictplan.admin.crosswalk.approximate_pieces`): ``commune_code, commune_name,
    commune_type, district_code, district_name`` (the last two empty: no districts since
    2025), ``formed_from``, ``geometry_source``."""
    import geopandas as gpd

    pcs = approximate_pieces(communes)
    new = units_table("new").set_index("code")
    d = pcs.dissolve(by="new_code", as_index=False)
    return gpd.GeoDataFrame({
        "commune_code": d["new_code"].astype(str), "commune_name": d["new_code"].map(new["name"]).to_numpy(),
        "commune_type": d["new_code"].map(new["kind"]).to_numpy(), "district_code": "", "district_name": "",
        "formed_from": pcs.groupby("new_code")["old_code"].agg(";".join).reindex(d["new_code"]).to_numpy(),
        "geometry_source": "approximate: union of the old communes' polygons, split ones cut by the Voronoi cells "
                           "of the new units' points"}, geometry=d.geometry.to_numpy(), crs=communes.crs)


def _zones_new(sc: Scorecard, cw: Crosswalk) -> pd.DataFrame:
    new = cw.pairs.drop_duplicates("new_code").sort_values("new_code")
    prov = sc.table[sc.table["level"] == "province"].iloc[0]
    com = pd.DataFrame({"level": "commune", "zone_code": new["new_code"].to_numpy(),
                        "zone_name": new["new_name"].to_numpy(), "district_code": "", "district_name": ""})
    top = pd.DataFrame({"level": ["province"], "zone_code": ["province"], "zone_name": [prov["zone_name"]],
                        "district_code": [""], "district_name": [""]})
    return pd.concat([top, com], ignore_index=True)


def _moved(rows: pd.DataFrame, cw: Crosswalk, kind: str) -> pd.DataFrame:
    """Commune numerators/denominators of one target moved to the new units."""
    tab = rows[["zone_code", "numerator", "denominator"]].rename(columns={"zone_code": "commune_code"})
    cols = ["numerator"] if kind == "count" else ["numerator", "denominator"]
    x = tab["numerator"].to_numpy(dtype=float)
    whole = kind == "count" and bool(np.all(np.isfinite(x)) and np.allclose(x, np.round(x)))
    out = cw.to_new(tab, counts=cols, integer=["numerator"] if whole else ())  # whole points stay whole
    return out.set_index("commune_code")


def mobile_in_units(coverage: CoverageResult, population: Population, polygons: gpd.GeoDataFrame, /) -> MobileInputs:
    """The mobile indicators' inputs per zone of ``polygons`` from a coverage result: the
    coverage rasters summed with the polygons' zone weights (built once; no re-analysis)."""
    import dataclasses

    from ..coverage import population_covered
    from ..targets.inputs import mobile_inputs

    tab = population_covered(coverage, population, {"communes": polygons})
    return mobile_inputs(dataclasses.replace(coverage, table=tab))


def _zone_measure(t, zone_inputs: ScoreInputs | None) -> pd.DataFrame | None:
    """``num``/``den`` per new unit measured by zone weights, or None (then the crosswalk is used)."""
    if zone_inputs is None or t.indicator not in ZONE_INDICATORS:
        return None
    try:
        return INDICATORS[t.indicator].func(zone_inputs)
    except NoData:
        return None


def _target_rows(t, sc: Scorecard, cw: Crosswalk, zones: pd.DataFrame,
                 zone_inputs: ScoreInputs | None = None) -> pd.DataFrame:
    old = sc.table[sc.table["target_id"] == t.id]
    prov = old[old["level"] == "province"].iloc[0]
    base = _base_rows(t, zones)
    if t.is_policy or prov["status"] == "no data" or t.table_column is not None:
        base["status"], base["reason"] = prov["status"], prov["reason"]
        if t.table_column is not None and prov["status"] != "no data":
            base.loc[base["level"] == "commune", ["status", "reason"]] = ["no data", TABLE_REASON]
            base.loc[base["level"] == "province", ["value", "gap", "gap_unit"]] = [prov["value"], prov["gap"],
                                                                                   prov["gap_unit"]]
        return base
    ind = INDICATORS[t.indicator]
    com = old[old["level"] == "commune"]
    exact = _zone_measure(t, zone_inputs)
    if exact is not None:
        mv = exact.rename(columns={"num": "numerator", "den": "denominator"}).reindex(zones["zone_code"])
    else:
        mv = _moved(com, cw, ind.kind).reindex(zones["zone_code"])
    num = mv["numerator"].to_numpy(dtype=float, copy=True)
    den = mv["denominator"].to_numpy(dtype=float, copy=True) if ind.kind != "count" else np.full(len(num), np.nan)
    num[0], den[0] = prov["numerator"], prov["denominator"]  # the province row: the same territory
    with np.errstate(invalid="ignore", divide="ignore"):
        if ind.kind in ("share", "pairs"):
            value = np.where(den > 0, 100.0 * num / den, np.nan)
        elif ind.kind == "mean":
            value = np.where(den > 0, num / den, np.nan)
        else:
            value = num.copy()
    value[0] = prov["value"]
    base["numerator"], base["denominator"], base["gap_unit"] = num, den, ind.gap_unit
    _judge(t, base, _Values(value, num, den, ind.kind, ind.empty_reason, "not applicable", np.zeros(len(num), bool)))
    base.loc[base["level"] == "commune", "detail"] = BY_ZONES if exact is not None else BY_CROSSWALK
    return base


def scorecard_in_new_units(sc: Scorecard, /, cw: Crosswalk, *, polygons: gpd.GeoDataFrame | None = None,
                           coverage: CoverageResult | None = None, population: Population | None = None) -> Scorecard:
    """The scorecard ``sc`` (old communes) reported in the new units (see the module docstring).

    Parameters
    ----------
    sc
        A scorecard of a study in the old units.
    cw
        The crosswalk of the same territory (:func:`study_crosswalk`).
    polygons
        The new units' polygons for maps and the GeoPackage (default: approximate ones,
        :func:`new_unit_polygons` of ``sc.communes``).
    coverage, population
        The coverage result and population raster the scorecard was measured on: then the
        grid indicators (:data:`ZONE_INDICATORS`: 5G share, mean speeds) are measured on the
        new units' polygons with their own zone weights (exact, also in split communes);
        every other indicator is moved by the crosswalk. Each new-unit row's ``detail``
        says which.

    Returns
    -------
    Scorecard
        Rows for the province (the old scorecard's) and each new unit (no district level);
        ``meta["units"] = "new"``, ``meta["crosswalk"]`` the split pairs with their weights.

    Raises
    ------
    InputValidationError
        The scorecard's communes are not the crosswalk's old units.
    """
    codes = set(sc.table.loc[sc.table["level"] == "commune", "zone_code"].astype(str))
    if codes != set(cw.pairs["old_code"]):
        raise InputValidationError(f"the scorecard's {len(codes)} communes are not the crosswalk's "
                                   f"{cw.pairs['old_code'].nunique()} old units; build the crosswalk from the same study.")
    zones = _zones_new(sc, cw)
    polys = new_unit_polygons(sc.communes) if polygons is None else polygons
    zin = None
    if coverage is not None and population is not None:
        zin = ScoreInputs(communes=polys, province_name=str(sc.meta.get("province") or "province"),
                          mobile=mobile_in_units(coverage, population, polys))
    table = pd.concat([_target_rows(t, sc, cw, zones, zin) for t in sc.plan.targets], ignore_index=True)[_COLUMNS]
    n_new = zones["level"].eq("commune").sum()
    where = (f"{sc.meta.get('study') or 'study'} — in the {n_new} units since 1 July 2025 (crosswalk of "
             f"{len(codes)} old communes; split communes weighted by {cw.weight})")
    meta = {**sc.meta, "study": where, "units": "new", "crosswalk_weight": cw.weight, "crosswalk": cw.splits()}
    return Scorecard(table=table, plan=sc.plan, communes=polys, details={}, meta=meta)


def units_side_by_side(sc_old: Scorecard, sc_new: Scorecard, /) -> pd.DataFrame:
    """The province rows of the two scorecards side by side: ``target_id, year, indicator,
    unit, value_old, value_new, numerator_old, numerator_new, denominator_old,
    denominator_new, status_old, status_new, communes_old, units_new`` (zones counted),
    ``sum_numerator_old`` / ``sum_numerator_new`` (the communes' / new units' numerators
    summed) and ``same_total`` (the two sums agree, relative 1e-9, or neither has one)."""
    a, b = sc_old.province().set_index("target_id"), sc_new.province().set_index("target_id")
    out = a[["year", "indicator", "unit"]].copy()
    for c in ("value", "numerator", "denominator", "status"):
        out[f"{c}_old"], out[f"{c}_new"] = a[c], b[c].reindex(a.index)
    com_new = sc_new.table[sc_new.table["level"] == "commune"]
    summed = com_new.groupby("target_id")["numerator"].sum(min_count=1)
    out["communes_old"] = sc_old.table[sc_old.table["level"] == "commune"]["zone_code"].nunique()
    out["units_new"] = com_new["zone_code"].nunique()
    com_old = sc_old.table[sc_old.table["level"] == "commune"]
    out["sum_numerator_old"] = com_old.groupby("target_id")["numerator"].sum(min_count=1).reindex(a.index)
    out["sum_numerator_new"] = summed.reindex(a.index)
    p, s = out["sum_numerator_old"].to_numpy(dtype=float), out["sum_numerator_new"].to_numpy(dtype=float)
    out["same_total"] = (np.isnan(p) & np.isnan(s)) | np.isclose(p, s, rtol=1e-9, atol=1e-9)
    return out.reset_index()


FIBER_RATIOS = {"pct_reachable": ("households_reachable", "households", 100.0),
                "pct_with_port": ("households_with_port", "households", 100.0),
                "pct_ge_200mbps": ("households_ge_200mbps", "households", 100.0),
                "pct_gt_1gbps": ("households_gt_1gbps", "households", 100.0)}
"""The fiber commune table's shares and the counts they are re-derived from."""


def fiber_in_new_units(communes: pd.DataFrame, cw: Crosswalk, /) -> pd.DataFrame:
    """The fiber result's per-commune table (old communes) in the new units: every count
    moved by the crosswalk, the shares (:data:`FIBER_RATIOS`) re-derived from them; other
    ``pct_`` columns and text columns are left out."""
    counts = [c for c in communes.columns if c != "commune_code" and not str(c).startswith("pct_")
              and pd.api.types.is_numeric_dtype(communes[c])]
    ratios = {k: v for k, v in FIBER_RATIOS.items() if v[0] in communes.columns and v[1] in communes.columns}
    return cw.to_new(communes, counts=counts, ratios=ratios)


def coverage_in_new_units(coverage: CoverageResult, population: Population, polygons: gpd.GeoDataFrame, /
                          ) -> pd.DataFrame:
    """The coverage table (people covered and speeds per zone × technology × operator) for the
    new units, from the coverage rasters and the new units' zone weights: exact, no re-analysis."""
    from ..coverage import population_covered

    return population_covered(coverage, population, {"communes": polygons})


NEW_PROVINCE = "the old plan's targets applied to the new province"
"""The label of every province row of :func:`new_province_scorecard`."""


def _value(kind: str, num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        if kind in ("share", "pairs"):
            return np.where(den > 0, 100.0 * num / den, np.nan)
        if kind == "mean":
            return np.where(den > 0, num / den, np.nan)
    return num.copy()


def _province_target(t, parts: list[Scorecard], zones: pd.DataFrame) -> pd.DataFrame:
    rows = [p.table[p.table["target_id"] == t.id] for p in parts]
    com = pd.concat([r[r["level"] == "commune"] for r in rows], ignore_index=True)
    prov = [r[r["level"] == "province"].iloc[0] for r in rows]
    base = _base_rows(t, zones)
    nodata = [f"{p.meta.get('study', 'a part')}: {r['reason']}" for p, r in zip(parts, prov, strict=True)
              if r["status"] == "no data"]
    same = {str(r["reason"]) for r in prov if r["status"] == "no data"}
    if len(nodata) == len(parts) > 1 and len(same) == 1:
        nodata = [f"every part: {same.pop()}"]  # one reason, said once
    kind = INDICATORS[t.indicator].kind if t.indicator in INDICATORS else ""
    if t.is_policy or t.table_column is not None or nodata or kind == "pairs":
        base = base.set_index("zone_code")
        keep = com.set_index("zone_code")
        for c in ("value", "status", "reason", "gap", "gap_unit", "numerator", "denominator", "detail"):
            base.loc[keep.index, c] = keep[c]
        why = ("a policy direction: no figure measures it" if t.is_policy else "; ".join(nodata) if nodata else
               "data-centre pairs must be measured on the new province's own network" if kind == "pairs" else
               "a figure of the indicators table cannot be summed over the parts: give it for the new province")
        base.loc["province", ["status", "reason"]] = ["not applicable" if t.is_policy else "no data", why]
        base.loc["province", "detail"] = NEW_PROVINCE
        return base.reset_index()[_COLUMNS]
    ind = INDICATORS[t.indicator]
    num = np.concatenate([[sum(float(r["numerator"]) for r in prov)], com["numerator"].to_numpy(float)])
    den = np.concatenate([[sum(float(r["denominator"]) for r in prov)], com["denominator"].to_numpy(float)])
    if kind == "count":
        den[:] = np.nan
    base["numerator"], base["denominator"], base["gap_unit"] = num, den, ind.gap_unit
    _judge(t, base, _Values(_value(kind, num, den), num, den, kind, ind.empty_reason, "not applicable",
                            np.zeros(len(num), bool)))
    base["detail"] = np.concatenate([[NEW_PROVINCE], com["detail"].to_numpy()])
    return base[_COLUMNS]


def new_province_scorecard(parts: list[Scorecard], /, *, name: str = "Cà Mau (new province since 1 July 2025)"
                           ) -> Scorecard:
    """One scorecard of the new province from scorecards of its parts in the new units (e.g.
    old Cà Mau's and old Bạc Liêu's, each from :func:`scorecard_in_new_units`).

    The new units' rows are the parts' (the parts hold disjoint new units: no new unit
    straddles the old provinces); the province row sums the parts' numerators and
    denominators and re-derives the value, judged against the old plan's targets and
    labelled :data:`NEW_PROVINCE` (``detail``). A target with no data in one part has no
    data for the province (the reason names the part). ``meta["complete"]``: whether the
    parts cover all 64 new units.

    Raises
    ------
    InputValidationError
        A part is not in the new units, parts share a new unit, or their plans differ.
    """
    if not parts or any(p.meta.get("units") != "new" for p in parts):
        raise InputValidationError("give scorecards in the new units (scorecard_in_new_units) of each part.")
    if len({tuple(p.plan.ids) for p in parts}) > 1:
        raise InputValidationError("the parts' scorecards measure different targets; score them with the same plan.")
    codes = [set(p.table.loc[p.table["level"] == "commune", "zone_code"]) for p in parts]
    shared = set.intersection(*codes) if len(codes) > 1 else set()
    if shared:
        raise InputValidationError(f"the parts share new unit(s) {sorted(shared)[:5]}: each new unit belongs to one part.")
    com = pd.concat([p.table[(p.table["level"] == "commune")].drop_duplicates("zone_code") for p in parts])
    top = pd.DataFrame({"level": ["province"], "zone_code": ["province"], "zone_name": [name], "district_code": [""],
                        "district_name": [""]})
    zones = pd.concat([top, com[["level", "zone_code", "zone_name", "district_code", "district_name"]]],
                      ignore_index=True)
    table = pd.concat([_province_target(t, parts, zones) for t in parts[0].plan.targets], ignore_index=True)
    polys = pd.concat([p.communes for p in parts], ignore_index=True)
    every = set(units_table("new")["code"])
    meta = {"study": f"{name}: {NEW_PROVINCE}", "province": name, "units": "new", "parts": [p.meta.get("study")
            for p in parts], "complete": set().union(*codes) == every}
    return Scorecard(table=table, plan=parts[0].plan, communes=polys, details={}, meta=meta)
