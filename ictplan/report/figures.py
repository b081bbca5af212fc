"""The study's key figures per commune, district and province, and the analyses' headline
columns added from each level's rows of their results (the province from the province row)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from .._errors import SkippedFeaturesWarning

if TYPE_CHECKING:  # pragma: no cover
    from ..coverage import CoverageResult
    from ..fiber import FiberResult
    from ..study import Study

_COUNTS = ("communes", "sites", "sites_4G", "sites_5G", "postal_points", "postal_staffed", "facilities", "pop2019", "hh2019")


def _has_numbers(s: pd.Series) -> bool:
    return bool(np.isfinite(pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")).any())


def _has_districts(communes: pd.DataFrame) -> bool:
    return "district_name" in communes.columns and bool(communes["district_name"].notna().any())


def _count_by_commune(codes: pd.Series, index: pd.Series) -> np.ndarray:
    return codes.dropna().astype(str).value_counts().reindex(index.astype(str)).fillna(0).to_numpy()


def _sites_per_commune(study: Study, communes: gpd.GeoDataFrame, c: pd.DataFrame) -> None:
    """``sites``, ``sites_4G``, ``sites_5G`` per commune, each site placed by
    :func:`ictplan.services.assign_communes` (the one rule: counted once, never lost)."""
    from ..services import assign_communes

    sites = study.layer("sites").to_crs(study.crs)
    one = sites.groupby("site_id").agg(tech=("technology", lambda s: set(map(str, s))), geometry=(sites.geometry.name, "first"))
    one = gpd.GeoDataFrame(one, geometry="geometry", crs=study.crs)
    one["commune_code"] = np.nan  # placed by location
    with warnings.catch_warnings():  # its message is about wrong codes; these sites carry none
        warnings.simplefilter("ignore", SkippedFeaturesWarning)
        code = assign_communes(one, communes, what="sites")
    lost = int(code.isna().sum())
    if lost:
        warnings.warn(f"{lost} of {len(one)} sites lie in no commune; the report's per-commune site counts leave "
                      "them out (the coverage figures still count their signal).", SkippedFeaturesWarning, stacklevel=3)
    c["sites"] = _count_by_commune(code, c["commune_code"])
    for tech in ("4G", "5G"):
        has = one["tech"].map(lambda s, t=tech: t in s).to_numpy(dtype=bool)
        c[f"sites_{tech}"] = _count_by_commune(code[has], c["commune_code"])


def _commune_table(study: Study, communes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per commune: names, census figures (where given), area, sites, fiber, postal points, facilities."""
    from ..services import assign_communes

    base = [k for k in ("commune_code", "commune_name") if k in communes.columns]
    if _has_districts(communes):
        base.append("district_name")
    c = pd.DataFrame(communes[base].copy())
    c["commune_code"] = c["commune_code"].astype(str)
    for col in ("pop2019", "hh2019"):
        if col in communes.columns and _has_numbers(communes[col]):
            c[col] = pd.to_numeric(communes[col], errors="coerce")
    c["area_km2"] = communes.geometry.area.to_numpy() / 1e6
    zones = communes[["commune_code", communes.geometry.name]]
    if study.has("sites"):
        _sites_per_commune(study, zones, c)
    if study.has("fiber_routes"):
        routes = study.layer("fiber_routes").to_crs(study.crs)[["geometry"]]
        pieces = gpd.overlay(routes, zones, how="intersection", keep_geom_type=True)
        km = (pieces.length / 1000.0).groupby(pieces["commune_code"].astype(str)).sum()
        c["fiber_km"] = km.reindex(c["commune_code"]).fillna(0).to_numpy()
    if study.has("postal_points"):
        p = study.layer("postal_points")
        code = assign_communes(p, zones, what="postal points")
        c["postal_points"] = _count_by_commune(code, c["commune_code"])
        if "staffed" in p.columns:
            c["postal_staffed"] = _count_by_commune(code[p["staffed"].fillna(False).astype(bool).to_numpy()], c["commune_code"])
    if study.has("facilities"):
        code = assign_communes(study.layer("facilities"), zones, what="facilities")
        c["facilities"] = _count_by_commune(code, c["commune_code"])
    return c


def _rates(t: pd.DataFrame) -> pd.DataFrame:
    """Densities and rates recomputed from a level's sums; counts as integers."""
    t = t.copy()
    people = "pop2019" if "pop2019" in t.columns else ("pop_raster" if "pop_raster" in t.columns else None)
    if people is not None:
        t["density_per_km2"] = t[people] / t["area_km2"].where(t["area_km2"] > 0)
        if "sites" in t.columns:
            t["sites_per_10k"] = 1e4 * t["sites"] / t[people].where(t[people] > 0)
    for col in (*_COUNTS, "pop_raster"):
        if col in t.columns:
            t[col] = pd.to_numeric(t[col], errors="coerce").round().astype("Int64")
    return t


def _levels(c: pd.DataFrame, province_name: str, numeric: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Commune rows summed to districts (where there are) and to the province."""
    numeric = list(numeric)
    p_row = pd.DataFrame(c[numeric].sum()).T
    p_row.insert(0, "communes", len(c))
    p_row.index = [province_name]
    out = {"province": p_row}
    if "district_name" in c.columns:
        d = c.groupby("district_name", sort=True)[numeric].sum()
        d.insert(0, "communes", c.groupby("district_name").size())
        out["districts"] = d
    out["communes"] = c.set_index("commune_code")
    return {k: _rates(t) for k, t in out.items()}


def _province_name(study: Study) -> str:
    return study.province or study.name


def key_figures(study: Study, /) -> dict[str, pd.DataFrame]:
    """The study's key figures per commune, district and province (no plan targets needed).

    Columns (where the layers exist): ``pop2019``, ``hh2019`` (where the communes carry
    census figures), ``area_km2`` and ``density_per_km2`` (full geometry, study CRS),
    ``sites``, ``sites_4G``, ``sites_5G``, ``sites_per_10k``, ``fiber_km``,
    ``postal_points``, ``postal_staffed``, ``facilities``. District and province rows are
    sums of their communes (densities and rates recomputed), so every figure adds up.
    Sites, postal points and facilities are placed in communes by
    :func:`ictplan.services.assign_communes` (a point on a shared boundary counts once).

    Returns
    -------
    dict
        ``{"province": 1-row DataFrame, "districts": ..., "communes": ...}``; no
        ``"districts"`` when the communes carry no district.

    Raises
    ------
    ConfigError, InputValidationError
        From loading the study's layers.
    """
    communes = study.layer_in_crs("communes")
    c = _commune_table(study, communes)
    numeric = [k for k in c.columns if k not in ("commune_code", "commune_name", "district_name")]
    return _levels(c, _province_name(study), numeric)


def add_people(tables: Mapping[str, pd.DataFrame], people: pd.Series, /, *, province: float | None = None) -> dict[str, pd.DataFrame]:
    """``tables`` with ``pop_raster`` (people per commune on the population raster, by
    commune code) where the communes carry no census figures; districts sum their
    communes; the province takes ``province`` (the result's province row) when given.
    Densities and rates follow."""
    out = {k: v.copy() for k, v in tables.items()}
    com = out["communes"]
    com["pop_raster"] = people.reindex(com.index.astype(str)).to_numpy(dtype="float64")
    if "districts" in out and "district_name" in com.columns:
        out["districts"]["pop_raster"] = com.groupby("district_name")["pop_raster"].sum().reindex(out["districts"].index).to_numpy()
    out["province"]["pop_raster"] = float(com["pop_raster"].sum()) if province is None else float(province)
    return {k: _rates(t) for k, t in out.items()}


def _coverage_rows(cov: CoverageResult, tech: str) -> dict[str, pd.DataFrame]:
    t = cov.table if cov.table is not None else pd.DataFrame(columns=["level", "operator", "technology"])
    sel = t[(t["operator"] == "any") & (t["technology"] == tech)]
    return {"communes": sel[sel["level"] == "communes"].set_index(sel[sel["level"] == "communes"]["zone_code"].astype(str)),
            "districts": sel[sel["level"] == "districts"].set_index("zone_name"),
            "province": sel[sel["level"] == "province"]}


def _add_coverage(out: dict[str, pd.DataFrame], cov: CoverageResult) -> None:
    for tech in ("4G", "5G"):
        col = f"pct_{tech.lower()}_covered"
        rows = _coverage_rows(cov, tech)
        for key in ("communes", "districts"):
            if key in out and len(rows[key]):
                out[key][col] = rows[key]["pct_covered"].reindex(out[key].index.astype(str)).to_numpy()
        if "province" in out and len(rows["province"]):  # the province row, never a sum of districts
            out["province"][col] = float(rows["province"]["pct_covered"].iloc[0])


def _add_fiber(out: dict[str, pd.DataFrame], fib: FiberResult) -> None:
    for key, frame, idx in (("communes", fib.communes, "commune_code"), ("districts", fib.districts, "district_name")):
        if key in out and frame is not None and idx in frame.columns and "pct_reachable" in frame.columns:
            f = frame.set_index(frame[idx].astype(str))
            out[key]["pct_fiber_reachable"] = f["pct_reachable"].reindex(out[key].index.astype(str)).to_numpy()
            if "missing_fiber_m" in f.columns:
                out[key]["missing_fiber_km"] = (f["missing_fiber_m"] / 1000.0).reindex(out[key].index.astype(str)).to_numpy()
    prov = fib.province
    if "province" in out and prov is not None and len(prov) and "pct_reachable" in prov.columns:
        out["province"]["pct_fiber_reachable"] = float(prov["pct_reachable"].iloc[0])
        if "missing_fiber_m" in prov.columns:
            out["province"]["missing_fiber_km"] = float(prov["missing_fiber_m"].iloc[0]) / 1000.0


def result_figures(tables: Mapping[str, pd.DataFrame], /, *, coverage: CoverageResult | None = None,
                   fiber: FiberResult | None = None) -> dict[str, pd.DataFrame]:
    """``tables`` (from :func:`key_figures`) with the analyses' headline columns added.

    From a coverage result: ``pct_4g_covered`` and ``pct_5g_covered`` (people, any
    operator); from a fiber result: ``pct_fiber_reachable`` (households) and
    ``missing_fiber_km``. Each level's figures come from that level's rows of the
    result; the **province figures are the result's province row**, never re-summed
    from districts (whose sum would include or leave out the "(outside zones)" people).
    """
    out = {k: v.copy() for k, v in tables.items()}
    if coverage is not None:
        _add_coverage(out, coverage)
    if fiber is not None:
        _add_fiber(out, fiber)
    return out
