"""The plan's tables: what is built per phase, item and operator; per commune; and the
scorecard today beside the scorecard re-run after each phase."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..grid import OUTSIDE_ZONES

if TYPE_CHECKING:  # pragma: no cover
    from ..study import Study
    from ..workflow import Results

__all__ = ["features", "phases_table", "by_commune", "check_table", "PHASE_COLUMNS", "ITEMS"]

PHASE_COLUMNS: tuple[str, ...] = ("phase", "item", "operator", "count", "km", "cost_vnd")
#: The items of the phases table, in the order a reader sees them.
ITEMS: tuple[str, ...] = ("5g_upgrade", "5g_colocation", "5g_new_tower", "5g_carrier", "fiber_km",
                          "fiber_access_point", "postal_point", "datacentre_site")
_SITE_ITEMS = {"upgrade": "5g_upgrade", "colocation": "5g_colocation", "new_tower": "5g_new_tower"}


def _concat(parts: list[gpd.GeoDataFrame], crs: Any) -> gpd.GeoDataFrame:
    parts = [p for p in parts if p is not None and len(p)]
    if not parts:
        return gpd.GeoDataFrame({"phase": pd.Series(dtype=str)}, geometry=gpd.GeoSeries([], crs=crs), crs=crs)
    out = pd.concat([p.to_crs(crs) if p.crs is not None else p for p in parts], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crs)


def features(study: Study, state: Mapping[str, Any], dc: Any, first: str, prm: Any) -> dict[str, gpd.GeoDataFrame]:
    """The planned features, in the study's CRS, each with its ``phase`` (and ``cost_vnd``)."""
    crs = study.crs
    fib = state.get("fiber")
    aps = fib.access_points.assign(phase=first, cost_vnd=float(prm.cost_fat_vnd)) \
        if fib is not None and len(fib.access_points) else None
    pst = state.get("postal")
    dcs = dc.sites.assign(phase="2030", build=np.arange(len(dc.sites)) == 0) if dc is not None and len(dc.sites) else None
    return {
        "sites": _concat(list(state["sites"]), crs),
        "carriers": _concat(list(state["carriers"]), crs),
        "fiber": _concat([fib.segments.assign(phase=first)] if fib is not None else [], crs),
        "access_points": _concat([aps] if aps is not None else [], crs),
        "postal": _concat([pst.points.assign(phase=first)] if pst is not None else [], crs),
        "datacentres": _concat([dcs] if dcs is not None else [], crs),
    }


def _rows(frame: pd.DataFrame, item: Any, *, km: bool = False, by: str = "operator") -> pd.DataFrame:
    """``frame``'s features summed per phase × item × ``by`` (``item`` None: from the site kind)."""
    if not len(frame):
        return pd.DataFrame(columns=list(PHASE_COLUMNS))
    f = pd.DataFrame({"phase": frame["phase"].astype(str),
                      "item": frame["kind"].map(_SITE_ITEMS) if item is None else item,
                      by: frame[by].astype(str) if by in frame else "",
                      "count": 1.0,
                      "km": frame["length_m"].to_numpy(float) / 1000.0 if km else 0.0,
                      "cost_vnd": frame["cost_vnd"].to_numpy(float) if "cost_vnd" in frame else np.nan})
    return f.groupby(["phase", "item", by], as_index=False).agg(
        count=("count", "sum"), km=("km", "sum"), cost_vnd=("cost_vnd", lambda s: s.sum(min_count=1)))


def phases_table(feats: Mapping[str, gpd.GeoDataFrame], /) -> pd.DataFrame:
    """One row per phase × item × operator: ``count``, ``km`` (fiber) and ``cost_vnd``.
    The data centre is sited, not costed (its cost is the investor's): ``cost_vnd`` NaN."""
    dc = feats["datacentres"]
    parts = [_rows(feats["sites"], None), _rows(feats["carriers"], "5g_carrier"),
             _rows(feats["fiber"], "fiber_km", km=True), _rows(feats["access_points"], "fiber_access_point"),
             _rows(feats["postal"], "postal_point"),
             _rows(dc[dc["build"]] if len(dc) else dc, "datacentre_site").assign(cost_vnd=np.nan)]
    out = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else parts[0]
    out["order"] = out["item"].map({k: i for i, k in enumerate(ITEMS)})
    return out.sort_values(["phase", "order", "operator"]).drop(columns="order").reset_index(drop=True)


def _commune_of(frame: gpd.GeoDataFrame, communes: gpd.GeoDataFrame) -> pd.Series:
    if "commune_code" in frame and frame["commune_code"].notna().all():
        return frame["commune_code"].astype(str)
    pts = frame.copy()
    pts["geometry"] = frame.geometry.representative_point()
    if "commune_code" not in pts:
        pts["commune_code"] = pd.NA
    from ..services import assign_communes

    with warnings.catch_warnings():  # a planned point outside every commune keeps NaN: counted below
        warnings.simplefilter("ignore")
        return assign_communes(pts, communes, what="planned features")


def by_commune(study: Study, feats: Mapping[str, gpd.GeoDataFrame]) -> pd.DataFrame:
    """``commune_code, commune_name, phase, item, count, km, cost_vnd``: what each commune gets
    (features in no commune, e.g. a tower on an islet outside the polygons, under ``(outside zones)``:
    the rows add up to the phases table)."""
    communes = study.layer_in_crs("communes")
    names = communes.set_index(communes["commune_code"].astype(str))["commune_name"] \
        if "commune_name" in communes else pd.Series(dtype=str)
    rows = []
    for key, item in (("sites", None), ("carriers", "5g_carrier"), ("fiber", "fiber_km"),
                      ("access_points", "fiber_access_point"), ("postal", "postal_point")):
        f = feats[key]
        if not len(f):
            continue
        code = _commune_of(f, communes).fillna(OUTSIDE_ZONES).to_numpy()  # a feature in no commune: its own row
        rows.append(_rows(f.assign(commune_code=code), item, km=key == "fiber", by="commune_code"))
    if not rows:
        return pd.DataFrame(columns=["commune_code", "commune_name", "phase", "item", "count", "km", "cost_vnd"])
    out = pd.concat(rows, ignore_index=True)
    out.insert(1, "commune_name", out["commune_code"].map(names))
    return out.sort_values(["commune_code", "phase", "item"]).reset_index(drop=True)


def check_table(before: Results, after: Mapping[str, Results]) -> pd.DataFrame:
    """The province scorecard today and after each phase: ``target_id, year, unit, threshold,
    value_today, status_today`` and ``value_<phase>, status_<phase>`` per phase."""
    keep = ["target_id", "year", "unit", "comparison", "threshold", "value", "status"]
    today = before.require("scorecard").province()[keep].rename(columns={"value": "value_today",
                                                                       "status": "status_today"})
    for py, res in after.items():
        if res.scorecard is None:
            continue
        p = res.scorecard.province()[["target_id", "value", "status"]]
        today = today.merge(p.rename(columns={"value": f"value_{py}", "status": f"status_{py}"}), on="target_id",
                            how="left")
    return today


#: Why a target the planner builds to can still be missed in the re-run, by target kind.
_SHORT_WHY = {
    "households": "the fiber extension brings every hamlet to its F1 share of households within reach "
                  "(hamlet_threshold_frac); the households beyond that share, and those an access point has no "
                  "free port for, remain",
    "pop_5g": "the candidates could not cover more, or the budget ran out",
}
_KIND_TARGETS = {"pop_5g": ("M3", "X2"), "hamlets": ("F1",), "households": ("F2",), "postal_points": ("P1",),
                 "postal_communes": ("P2",)}


def notes(state: Mapping[str, Any], kinds: Mapping[str, Mapping[str, float]], check: pd.DataFrame) -> list[str]:
    """Sentences on what the plan could not do: the roll-out short of its target, and every target
    the plan builds to that the re-run analyses still find not met, with the reason."""
    out = []
    for py, ro in state["rollout"].items():
        want = kinds[py].get("pop_5g")
        if want is not None and getattr(ro, "share", 1.0) + 1e-9 < want:
            out.append(f"{py}: the 5G roll-out reaches {100 * ro.share:.1f} % of people, short of "
                       f"{100 * want:.0f} % (budget or candidates exhausted).")
    if state.get("over_budget"):
        out.append(f"{state['over_budget']} capacity addition(s) (second carriers or neighbour sites) are left out: "
                   "they do not fit in the budget.")
    last = list(kinds)[-1]
    c = check.set_index("target_id")
    for kind in kinds[last]:
        for tid in _KIND_TARGETS.get(kind, ()):
            if tid in c.index and int(c.loc[tid, "year"]) <= int(last) and c.loc[tid, f"status_{last}"] == "not met":
                out.append(f"{tid} is still not met after the plan ({c.loc[tid, f'value_{last}']:.1f} {c.loc[tid, 'unit']} "
                           f"in the re-run analyses): {_SHORT_WHY.get(kind, 'see the re-run scorecard')}.")
    return out
