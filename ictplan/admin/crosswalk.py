"""Crosswalks between the old (pre-1 July 2025) and the new commune-level units.

The official mapping (:func:`official_mapping`, 186 rows from the reform decisions) names,
for every old commune of Cà Mau and Bạc Liêu, the new unit(s) it went to: 145 old communes
went wholly to one new unit, 19 were split between two or three. A :class:`Crosswalk`
adds a **weight** to every pair:

* a whole mapping has weight 1, exactly (source ``"official: whole unit"``);
* a split old unit is apportioned among the new units the mapping names — and only those —
  by a **measure** of each piece: the people of the population raster inside the
  intersection of the old and the new polygon (``weight="population"``), or its area
  (``weight="area"``). Pieces touching units the mapping does not name (slivers of
  misaligned boundaries) are left out and reported in :attr:`Crosswalk.dropped`.
* When the new units are known only by their points, each split old unit is cut among its
  named new units by the Voronoi cells of their points (:func:`approximate_pieces`), the
  way the sample's communes are built from points: an approximation, and the source says so.

Moving figures (:meth:`Crosswalk.to_new`, :meth:`Crosswalk.to_old`):

* **counts** (people, households, sites, km, points) move as ``y_new = Σ_old w · x_old``;
  every old unit's weights sum to 1, so the total is preserved; ``integer=`` columns are
  apportioned by largest remainder, so each unit's total — and the grand total — is kept
  exactly in whole numbers;
* **shares and means** are never averaged: they are re-derived as ``scale · num / den`` from
  their moved numerator and denominator (``ratios={"pct": ("num", "den", 100)}``).

Backward (new → old) a new unit's count goes to its old units in proportion to each pair's
measure (``measure(o, n) = measure(o) · w(o → n)``), so again every unit's weights sum to 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._errors import ConfigError, InputValidationError, MissingColumnError
from ..names import nfc
from .units import INTERIM_MERGERS, admin_dir, units_table

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from ..grid import Population

__all__ = ["Crosswalk", "official_mapping", "approximate_pieces", "pieces_from_polygons", "crosswalk",
           "Ratio", "RATE_HINTS", "census_population",
           "approximate_old_units"]

Ratio = tuple[str, str] | tuple[str, str, float]
"""``(numerator, denominator)`` or ``(numerator, denominator, scale)`` (100 for a percentage)."""

RATE_HINTS = ("_pct", "pct_", "_share", "_rate", "_mean", "mean_", "_mbps", "_density", "density_", "_per_")
"""Column-name parts that mark a share or mean: such a column is refused as a count."""


def official_mapping() -> pd.DataFrame:
    """The official old → new mapping for the units of the 1 May 2024 list.

    Columns ``old_code, old_name, old_province_code, new_code, new_name, n_new`` (strings but
    ``n_new``), one row per (old, new) pair. The file starts from the 1 March 2025 list;
    an old unit merged before then (:data:`~ictplan.admin.units.INTERIM_MERGERS`) takes its
    host's rows.
    """
    path = admin_dir() / "admin_2025_old_to_new.csv"
    if not path.exists():
        raise ConfigError(f"the official mapping {path} is missing; rebuild data/admin with "
                          "`python scripts/build_admin_data.py`.")
    m = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    m = pd.DataFrame({"old_code": m["old_ma_xa"], "old_province_code": m["old_ma_tinh"], "new_code": m["new_ma_xa"],
                      "new_name": m["new_ten_xa"].map(nfc), "n_new": m["n_new_units"].astype(int)})
    extra = [m[m["old_code"] == host].assign(old_code=code) for code, host in INTERIM_MERGERS.items()]
    m = pd.concat([m, *extra], ignore_index=True)
    old = units_table("old").set_index("code")["name"]
    m["old_name"] = m["old_code"].map(old)
    if m["old_name"].isna().any():
        raise ConfigError(f"the mapping names old units not in the 1 May 2024 list: "
                          f"{sorted(m.loc[m['old_name'].isna(), 'old_code'])[:5]}")
    return m[["old_code", "old_name", "old_province_code", "new_code", "new_name", "n_new"]].sort_values(
        ["old_code", "new_code"]).reset_index(drop=True)


# ============================================================================ pieces
def _codes(gdf: gpd.GeoDataFrame, column: str, what: str) -> pd.Series:
    if column not in gdf.columns:
        raise MissingColumnError(f"the {what} layer has no {column!r} column (it has: {', '.join(map(str, gdf.columns))}).")
    return gdf[column].astype(str)


def pieces_from_polygons(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame, /, *, old_code: str = "commune_code",
                         new_code: str = "commune_code") -> gpd.GeoDataFrame:
    """Every non-empty intersection of an old and a new polygon: ``old_code, new_code,
    geometry`` (in ``old``'s CRS)."""
    import geopandas as gpd

    a = gpd.GeoDataFrame({"old_code": _codes(old, old_code, "old units").to_numpy()}, geometry=old.geometry.to_numpy(),
                         crs=old.crs)
    nb = new.to_crs(old.crs) if new.crs is not None and old.crs is not None and not new.crs.equals(old.crs) else new
    b = gpd.GeoDataFrame({"new_code": _codes(nb, new_code, "new units").to_numpy()}, geometry=nb.geometry.to_numpy(),
                         crs=old.crs)
    out = gpd.overlay(a, b, how="intersection", keep_geom_type=True)
    return out[~out.geometry.is_empty].reset_index(drop=True)


def approximate_pieces(old: gpd.GeoDataFrame, /, *, old_code: str = "commune_code",
                       mapping: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Pieces of the old polygons when the new units are known only by their points.

    An old unit mapped wholly is one piece. A split old unit is cut among the new units the
    mapping names by the Voronoi cells of those units' representative points (GSO list of
    1 July 2025, ``data/admin/commune_points_2025.csv``): each part of the old polygon goes
    to the nearest named new unit. Returns ``old_code, new_code, geometry`` (``old``'s CRS);
    the dissolve by ``new_code`` is an approximate polygon of each new unit.
    """
    import geopandas as gpd
    import shapely

    m = official_mapping() if mapping is None else mapping
    codes = _codes(old, old_code, "old units")
    pts = units_table("new")
    pts_xy = gpd.GeoSeries(gpd.points_from_xy(pts["lon"], pts["lat"]), crs=4326)
    pts_xy = pts_xy.to_crs(old.crs) if old.crs is not None else pts_xy
    where = dict(zip(pts["code"], pts_xy, strict=True))
    rows: list[tuple[str, str, object]] = []
    by_old = m.groupby("old_code")["new_code"].apply(list)
    for code, geom in zip(codes, old.geometry, strict=True):
        targets = by_old.get(code)
        if targets is None:
            continue
        if len(targets) == 1:
            rows.append((code, targets[0], geom))
            continue
        seeds = shapely.MultiPoint([where[t] for t in targets])
        cells = shapely.voronoi_polygons(seeds, extend_to=shapely.box(*shapely.bounds(geom)).buffer(1.0))
        for cell in shapely.get_parts(cells):
            owner = next(t for t in targets if cell.intersects(where[t]))
            part = shapely.intersection(geom, cell)
            if not part.is_empty and part.area > 0:
                rows.append((code, owner, part))
    return gpd.GeoDataFrame({"old_code": [r[0] for r in rows], "new_code": [r[1] for r in rows]},
                            geometry=[r[2] for r in rows], crs=old.crs)


WORLDPOP = "worldpop_2020_1km_unadj_camau_baclieu.tif"
OUTLINES = "province_outline_geoboundaries.geojson"
_PROVINCE_OF_OUTLINE = {"95": "Bạc Liêu", "96": "Cà Mau"}


def approximate_old_units(crs: str = "EPSG:32648") -> gpd.GeoDataFrame:
    """Approximate polygons of the 165 old communes when no study gives them: the Voronoi
    cells of their representative points within their province's real outline
    (geoBoundaries, in ``data/admin``). ``commune_code, commune_name, province_code, geometry``."""
    import geopandas as gpd
    import shapely

    t = units_table("old")
    outl = gpd.read_file(admin_dir() / OUTLINES).to_crs(crs)
    outl["shapeName"] = outl["shapeName"].map(nfc)
    pts = gpd.GeoSeries(gpd.points_from_xy(t["lon"], t["lat"]), crs=4326).to_crs(crs)
    geoms = np.empty(len(t), dtype=object)
    for prov, name in _PROVINCE_OF_OUTLINE.items():
        shape = shapely.make_valid(outl.loc[outl["shapeName"] == nfc(name)].geometry.union_all())
        sel = np.flatnonzero(t["province_code"].to_numpy() == prov)
        cells = shapely.get_parts(shapely.voronoi_polygons(shapely.MultiPoint(list(pts.iloc[sel])),
                                                           extend_to=shape.envelope.buffer(1000.0)))
        for i in sel:
            cell = next(c for c in cells if c.intersects(pts.iloc[i]))
            geoms[i] = shapely.intersection(cell, shape)
    return gpd.GeoDataFrame({"commune_code": t["code"], "commune_name": t["name"], "province_code": t["province_code"]},
                            geometry=list(geoms), crs=crs)


def _measure_pieces(pieces: gpd.GeoDataFrame, weight: str, population: Population | None) -> np.ndarray:
    if weight == "area":
        return pieces.geometry.area.to_numpy(dtype=float)
    if weight != "population":
        raise ConfigError(f"unknown crosswalk weight {weight!r}; use 'population' or 'area'.")
    if population is None:
        raise InputValidationError("weight='population' needs the study's population raster (population=).")
    from ..grid import zone_sums, zone_weights

    w = zone_weights(pieces, population.grid, method="exact")
    return np.asarray(zone_sums(w, population.counts.reshape(-1)), dtype=float)


# ============================================================================ the crosswalk
@dataclass(frozen=True)
class Crosswalk:
    """Weighted old ↔ new pairs.

    ``pairs``: one row per official (old, new) pair: ``old_code, old_name, new_code,
    new_name, n_new, measure`` (people or m² of the pair; for a whole mapping the old
    unit's own measure), ``w_to_new`` (share of the old unit going to the new; 1 for a
    whole mapping), ``w_to_old`` (share of the new unit coming from the old) and
    ``source`` (what the weight rests on). ``dropped``: pieces outside the official
    pairs, left out (``old_code, new_code, measure``). ``weight``: ``"population"``,
    ``"area"`` or ``"whole units only"``.
    """

    pairs: pd.DataFrame
    weight: str
    dropped: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["old_code", "new_code", "measure"]))

    # ------------------------------------------------------------ reports
    def splits(self) -> pd.DataFrame:
        """The pairs of the split old units, with every weight and its source."""
        return self.pairs[self.pairs["n_new"] > 1].reset_index(drop=True)

    def new_units_of(self, old_code: str) -> list[str]:
        """The new units an old unit maps to (the official mapping's, in code order)."""
        return sorted(self.pairs.loc[self.pairs["old_code"] == str(old_code), "new_code"])

    def restrict(self, old_codes: Sequence[str], *, partial: bool = False) -> Crosswalk:
        """The crosswalk of a territory given by its old units (e.g. old Cà Mau's 101).

        Refuses a territory that cuts a new unit (its figures would be partial) unless
        ``partial``; then ``w_to_old`` is re-normalised over the old units kept.
        """
        codes = {str(c) for c in old_codes}
        unknown = codes - set(self.pairs["old_code"])
        if unknown:
            raise InputValidationError(f"{len(unknown)} old unit(s) are not in the official mapping, e.g. "
                                       f"{sorted(unknown)[:5]}; codes must be GSO commune codes of the 1 May 2024 list.")
        inside = self.pairs["old_code"].isin(codes)
        new_in = set(self.pairs.loc[inside, "new_code"])
        cut = self.pairs[self.pairs["new_code"].isin(new_in) & ~inside]
        if len(cut) and not partial:
            raise InputValidationError(f"the territory cuts {cut['new_code'].nunique()} new unit(s) (e.g. "
                                       f"{cut['new_name'].iloc[0]}, also formed from {cut['old_name'].iloc[0]}); "
                                       "give every old unit of the new units concerned.")
        p = self.pairs[inside].reset_index(drop=True)
        if len(cut):
            tot = p.groupby("new_code")["measure"].transform("sum")
            cnt = p.groupby("new_code")["old_code"].transform("count")
            p["w_to_old"] = np.where(tot > 0, p["measure"] / tot.where(tot > 0, 1.0), 1.0 / cnt)
        return Crosswalk(p, self.weight,
                         self.dropped[self.dropped["old_code"].isin(codes)].reset_index(drop=True))

    # ------------------------------------------------------------ moving figures
    def to_new(self, table: pd.DataFrame, /, *, code: str = "commune_code", counts: Sequence[str] | None = None,
               ratios: Mapping[str, Ratio] | None = None, integer: Sequence[str] = ()) -> pd.DataFrame:
        """Move a per-old-unit table to the new units (see the module docstring).

        Parameters
        ----------
        table
            One row per old unit, its GSO code in ``code``.
        counts
            Columns moved by weight (default: every numeric column but the ratios' outputs).
        ratios
            ``{out: (num, den[, scale])}``: ``out`` re-derived as ``scale · num / den`` after
            the move (NaN where ``den`` is 0); ``num``/``den`` are moved as counts.
        integer
            Count columns holding whole numbers, moved by largest remainder per unit.

        Returns
        -------
        pandas.DataFrame
            One row per new unit reached: ``code`` (the new code), ``commune_name`` (the new
            name), the counts and ratios.

        Raises
        ------
        InputValidationError
            A code not in the crosswalk; a share or mean given as a count; non-numeric counts.
        """
        return _move(self.pairs, table, "old_code", "new_code", "w_to_new", "new_name", code=code, counts=counts,
                     ratios=ratios, integer=integer)

    def to_old(self, table: pd.DataFrame, /, *, code: str = "commune_code", counts: Sequence[str] | None = None,
               ratios: Mapping[str, Ratio] | None = None, integer: Sequence[str] = ()) -> pd.DataFrame:
        """Move a per-new-unit table back to the old units (as :meth:`to_new`)."""
        return _move(self.pairs, table, "new_code", "old_code", "w_to_old", "old_name", code=code, counts=counts,
                     ratios=ratios, integer=integer)


def _columns(table: pd.DataFrame, code: str, counts: Sequence[str] | None,
             ratios: Mapping[str, Ratio]) -> list[str]:
    if code not in table.columns:
        raise MissingColumnError(f"the table has no code column {code!r}; pass code=.")
    parts = [c for r in ratios.values() for c in r[:2]]
    if counts is None:
        counts = [c for c in table.columns if c != code and c not in ratios and pd.api.types.is_numeric_dtype(table[c])]
        rates = [c for c in counts if c not in parts and any(h in str(c).lower() for h in RATE_HINTS)]
        if rates:
            raise InputValidationError(f"column(s) {rates} look like shares or means: they cannot be summed. Give "
                                       "them as ratios={out: (numerator, denominator)} or list counts= explicitly.")
    cols = list(dict.fromkeys([*counts, *parts]))
    missing = [c for c in cols if c not in table.columns]
    if missing:
        raise MissingColumnError(f"the table has no column(s) {missing}.")
    bad = [c for c in cols if not pd.api.types.is_numeric_dtype(table[c])]
    if bad:
        raise InputValidationError(f"column(s) {bad} are not numeric: only counts can be moved by weight.")
    return cols


def _largest_remainder(src: np.ndarray, values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Whole-number shares of each source's value, summing exactly to it."""
    raw = values * weights
    out = np.floor(raw + 1e-9)
    left = np.round(pd.Series(values).groupby(src).transform("first").to_numpy() -
                    pd.Series(out).groupby(src).transform("sum").to_numpy()).astype(np.int64)
    frac = raw - out
    order = pd.DataFrame({"src": src, "frac": -frac, "i": np.arange(len(src))}).sort_values(["src", "frac", "i"])
    rank = order.groupby("src").cumcount().to_numpy()
    add = np.zeros(len(src))
    add[order["i"].to_numpy()] = (rank < left[order["i"].to_numpy()]).astype(float)
    return out + add


def _move(pairs: pd.DataFrame, table: pd.DataFrame, src: str, dst: str, wcol: str, dst_name: str, *, code: str,
          counts: Sequence[str] | None, ratios: Mapping[str, Ratio] | None, integer: Sequence[str]) -> pd.DataFrame:
    ratios = dict(ratios or {})
    cols = _columns(table, code, counts, ratios)
    t = table.assign(**{code: table[code].astype(str)})
    if t[code].duplicated().any():
        raise InputValidationError(f"the table has duplicated codes, e.g. {t.loc[t[code].duplicated(), code].iloc[0]}.")
    unknown = sorted(set(t[code]) - set(pairs[src]))
    if unknown:
        raise InputValidationError(f"{len(unknown)} code(s) of the table are not in the crosswalk, e.g. {unknown[:5]}.")
    p = pairs[pairs[src].isin(t[code])]
    j = p[[src, dst, dst_name, wcol]].merge(t[[code, *cols]], left_on=src, right_on=code, how="left")
    moved = pd.DataFrame({dst: j[dst].to_numpy()})
    w = j[wcol].to_numpy(dtype=float)
    for c in cols:
        x = j[c].to_numpy(dtype=float)
        if c in integer:
            if not np.allclose(x[~np.isnan(x)], np.round(x[~np.isnan(x)])):
                raise InputValidationError(f"column {c!r} is not whole numbers; leave it out of integer=.")
            moved[c] = _largest_remainder(j[src].to_numpy(), np.nan_to_num(x), w)
        else:
            moved[c] = x * w
    out = moved.groupby(dst, sort=True)[cols].sum(min_count=1)
    names = p.drop_duplicates(dst).set_index(dst)[dst_name]
    out.insert(0, "commune_name", names.reindex(out.index).to_numpy())
    for name, r in ratios.items():
        num, den = out[r[0]].to_numpy(dtype=float), out[r[1]].to_numpy(dtype=float)
        scale = float(r[2]) if len(r) > 2 else 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            out[name] = np.where(den > 0, scale * num / den, np.nan)
    out.index.name = code
    return out.reset_index()


# ============================================================================ building one
def _split_weights(pairs: pd.DataFrame, meas: pd.DataFrame, area: pd.DataFrame, weight: str) -> pd.DataFrame:
    """``w_to_new`` and ``source`` of every pair from the pieces' measures (population, then area, then equal)."""
    p = pairs.merge(meas, on=["old_code", "new_code"], how="left").fillna({"piece": 0.0})
    tot = p.groupby("old_code")["piece"].transform("sum")
    p["w_to_new"] = np.where(tot > 0, p["piece"] / tot.where(tot > 0, 1.0), np.nan)
    p["source"] = np.where(tot > 0, f"{weight} in the intersection of the old and new polygons", "")
    pa = p[["old_code", "new_code"]].merge(area, on=["old_code", "new_code"], how="left").fillna({"piece": 0.0})
    atot = pa.groupby("old_code")["piece"].transform("sum")
    use = p["w_to_new"].isna() & (atot > 0)
    p.loc[use, "w_to_new"] = (pa["piece"] / atot.where(atot > 0, 1.0))[use]
    p.loc[use, "source"] = "area of the intersection (nobody lives in it)"
    rest = p["w_to_new"].isna()
    p.loc[rest, "w_to_new"] = 1.0 / p.loc[rest, "n_new"]
    p.loc[rest, "source"] = "equal split (no polygon of the pair has area)"
    whole = p["n_new"] == 1
    p.loc[whole, "w_to_new"] = 1.0
    p.loc[whole, "source"] = "official: whole unit"
    return p.drop(columns="piece")


def _measures(old: gpd.GeoDataFrame, new: gpd.GeoDataFrame | None, m: pd.DataFrame, weight: str,
              population: Population | None, old_code: str, new_code: str
              ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The pieces' measures on the official pairs, their areas, and the pieces off them (dropped)."""
    pcs = approximate_pieces(old, old_code=old_code, mapping=m) if new is None else pieces_from_polygons(
        old, new, old_code=old_code, new_code=new_code)
    pcs = pcs.assign(piece=_measure_pieces(pcs, weight, population))
    pcs["area"] = pcs.geometry.area.to_numpy(dtype=float)
    key = pcs[["old_code", "new_code"]].merge(m[["old_code", "new_code"]].assign(official=True), how="left")
    official = key["official"].fillna(False).astype(bool).to_numpy()
    dropped = pcs.loc[~official, ["old_code", "new_code", "piece"]].rename(columns={"piece": "measure"})
    grouped = pcs[official].groupby(["old_code", "new_code"], as_index=False)[["piece", "area"]].sum()
    area = grouped[["old_code", "new_code", "area"]].rename(columns={"area": "piece"})
    return grouped[["old_code", "new_code", "piece"]], area, dropped.reset_index(drop=True)


def crosswalk(old: gpd.GeoDataFrame | None = None, new: gpd.GeoDataFrame | None = None, /, *,
              population: Population | None = None, weight: str = "population", old_code: str = "commune_code",
              new_code: str = "commune_code", old_measure: pd.Series | None = None, partial: bool = False) -> Crosswalk:
    """The crosswalk of the official mapping, weighted from the geometry at hand.

    Parameters
    ----------
    old
        Polygons of the old units (e.g. a study's communes); the crosswalk covers these
        units only (a territory that cuts a new unit is refused). Without them: every old
        unit of both provinces, approximated by :func:`approximate_old_units`, split units
        weighted by the WorldPop 2020 people of their pieces (``population`` overrides),
        backward weights by the 2019 census population; the source says so.
    new
        Polygons of the new units; without them (the usual case) the split units are cut by
        the Voronoi cells of the new units' points (:func:`approximate_pieces`).
    population
        The study's population raster (``weight="population"``).
    weight
        ``"population"`` (people in each piece) or ``"area"`` (m² of each piece).
    old_measure
        Each old unit's own measure, by code (default: the sum of its pieces). Used for the
        backward weights only.
    partial
        Accept old units that do not make up whole new units (their new units' figures are
        then partial); by default such a territory is refused.
    """
    m = official_mapping()
    registry = old is None
    if old is None:  # no study: approximate old units, people from WorldPop 2020
        from ..io import read_population

        old, new = approximate_old_units(), None
        if weight == "population" and population is None:
            population = read_population(admin_dir() / WORLDPOP)
        if old_measure is None:
            old_measure = census_population()
    meas, area, dropped = _measures(old, new, m, weight, population, old_code, new_code)
    label = weight if new is not None else f"{weight} (new units approximated from their points)"
    p = _split_weights(m, meas, area, weight)
    if new is None:
        what = "WorldPop 2020 people" if registry and weight == "population" else weight
        where = (" within the old unit approximated by the Voronoi cell of its point in the province outline"
                 if registry else " within the old unit")
        split = (p["n_new"] > 1) & p["source"].str.startswith(weight)
        p.loc[split, "source"] = f"{what} in the Voronoi cells of the new units' points{where} (approximate: no new polygons)"
    if registry:
        label = f"{weight} (no study: old and new units approximated from their points" + (
            ", people from WorldPop 2020)" if weight == "population" else ")")
    own = old_measure.rename(index=str) if old_measure is not None else meas.groupby("old_code")["piece"].sum()
    p["measure"] = p["old_code"].map(own).fillna(0.0).to_numpy() * p["w_to_new"].to_numpy()
    tot = p.groupby("new_code")["measure"].transform("sum")
    cnt = p.groupby("new_code")["old_code"].transform("count")
    p["w_to_old"] = np.where(tot > 0, p["measure"] / tot.where(tot > 0, 1.0), 1.0 / cnt)
    cols = ["old_code", "old_name", "new_code", "new_name", "n_new", "measure", "w_to_new", "w_to_old", "source"]
    cw = Crosswalk(p[cols].reset_index(drop=True), label, dropped.reset_index(drop=True))
    return cw if registry else cw.restrict(_codes(old, old_code, "old units").tolist(), partial=partial)


def census_population() -> pd.Series:
    """2019 census population of every old unit (GSO), by code."""
    path = admin_dir() / "census2019_communes.csv"
    c = pd.read_csv(path, dtype={"ma_xa": str}, encoding="utf-8")
    pop = c.set_index("ma_xa")["pop2019_total"].astype(float)
    pop.index.name = "old_code"
    return pop
