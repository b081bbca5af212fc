#!/usr/bin/env python
"""Build the embedded sample studies (seeded, reproducible): old Cà Mau in ``data/camau/``
(``--province "Cà Mau"``, the default) and old Bạc Liêu in ``data/baclieu/``
(``--province "Bạc Liêu"``), by the same rules; together they cover the new (post-July-2025)
Cà Mau province. Both use one grid: EPSG:32648, 100 m cells on multiples of 100 m.

Real inputs (read from ``--shared``, default ``<repo>/../shared/data/camau``):

* ``commune_points_2019.csv`` (Cà Mau, 101 communes) or ``commune_points_2019_baclieu.csv``
  (Bạc Liêu, 64): GSO codes, names, types, districts, one real point inside each commune,
  official areas, 2019 census population and households; a point that the coarse outline
  leaves outside the province (4 in Bạc Liêu, none in Cà Mau) is moved to the nearest point
  300 m inside it;
* ``census2019_communes_camau_baclieu.csv``: 2019 census urban population (no GID_* columns
  are read);
* ``province_outline_geoboundaries.geojson``: the Cà Mau and Bạc Liêu outlines (geoBoundaries,
  CC BY 4.0);
* ``worldpop_2020_1km_unadj_camau_baclieu.tif``: WorldPop 2020 (CC BY 4.0), only as a guide
  for where people live inside each commune.

Everything else (commune polygons, hamlets, roads, canals, rivers, sites, cells, fiber,
copper, poles, spans, access points, postal points, facilities, DTT transmitters) is
SYNTHETIC, generated here from one seed. See ``data/README.md``.

Usage::

    python scripts/build_camau_sample.py [--province "Bạc Liêu"] [--shared DIR] [--out DIR] [--seed 2021]

The builder writes into a temporary folder and moves the finished files into ``--out``.
It never reads any GADM boundary file.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
import shapely.ops
from pyproj import Transformer
from rasterio import features
from rasterio.transform import from_origin
from scipy import ndimage, sparse
from scipy.cluster.vq import kmeans2
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sample_network import (  # noqa: E402  (scripts/ is not a package)
    build_access_points,
    build_fiber,
    build_poles,
    hamlet_anchor,
)

logger = logging.getLogger("build_camau_sample")

REPO = Path(__file__).resolve().parents[1]
CRS = "EPSG:32648"
# Vector layers by GeoPackage: split so that no committed file exceeds 5 MB. "main" is the
# province's own GeoPackage (camau.gpkg, baclieu.gpkg).
GPKG_OF_LAYER = {
    "communes": "main", "districts": "main", "hamlets": "main", "roads": "main",
    "postal_points": "main", "facilities": "main", "dtt_transmitters": "main",
    "poles": "main", "spans": "main",
    "fiber_routes": "fiber.gpkg", "copper_routes": "fiber.gpkg", "access_points": "access_points.gpkg",
}
RES_M = 100.0  # grid cells on multiples of RES_M in EPSG:32648: every sample's grid aligns
OUTSIDE_POINT_INSET_M = 300.0  # a real point outside the coarse outline moves this far inside
POP_QUANTUM = 8  # population is stored in multiples of 1/8 person: exact in float32 sums
NODATA = -1.0
LOCAL_CANAL_FRAC = 0.08  # share of the side lines of a hamlet that are canal-bank paths
DIST_FALLOFF_M = 90.0  # population weight ~ exp(-distance to the nearest road/canal / this)

TO_UTM = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
TO_LL = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)

GPKG_LAYERS = (
    "communes", "districts", "hamlets", "roads", "fiber_routes", "copper_routes",
    "access_points", "poles", "spans", "postal_points", "facilities", "dtt_transmitters",
)


def nfc(s: str) -> str:
    return unicodedata.normalize("NFC", str(s))


def utm(lon: float, lat: float) -> np.ndarray:
    x, y = TO_UTM.transform(lon, lat)
    return np.array([x, y])


@dataclass(frozen=True)
class Province:
    """What differs between the provinces; every rule of the build is shared.

    ``density`` thins/boosts the base density (X, Y, outline, neighbour, dens) -> dens;
    ``main_roads`` adds the national and provincial roads, named canals and rivers and
    returns (main road indices, city centre, towns by key, rivers [(name, line, half width)]);
    ``farmland`` is where the canal grid runs; ``dtt`` is (name, town key or "city", MHz,
    ERP dBm, height m)."""

    name: str
    slug: str  # the main GeoPackage's name and the default output folder under data/
    neighbour: str  # the other old province of the new Cà Mau (shares the border)
    points_csv: str
    n_communes: int
    population: int  # GSO 2019 census total, checked
    city_district: str
    city_seat: str  # the commune holding the city's offices
    city_lonlat: tuple[float, float]  # centre of the city density boost
    remote_districts: tuple[str, ...]  # hamlets deliberately beyond fiber are drawn from these
    sites: dict[str, int]  # 4G sites per operator
    lac_base: int  # OpenCelliD area code = lac_base + 100 * net + (district code - district_base)
    district_base: int
    city_post_offices: int  # extra post offices in the city wards
    dtt: tuple[tuple[str, str, float, float, float], ...]
    ferries: tuple[tuple[str, tuple[float, float]], ...]  # wanted ferry spots, in order
    min_ferries: int
    island_spots: tuple[tuple[float, float], ...]
    density: Callable = field(repr=False)
    main_roads: Callable = field(repr=False)
    farmland: Callable = field(repr=False)


# --------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------
def _outline(outl: gpd.GeoDataFrame, name: str):
    g = outl[outl.shapeName == nfc(name)].to_crs(CRS).geometry.iloc[0]
    g = shapely.make_valid(shapely.set_precision(g, 0.01))
    # drop the outline's zero-width spikes (river mouths drawn as slits): a 5 m opening
    g = g.buffer(-5, join_style="mitre").buffer(5, join_style="mitre")
    return shapely.make_valid(shapely.set_precision(g, 0.01))


def move_inside(pts: pd.DataFrame, outline) -> pd.DataFrame:
    """Move each real point that the coarse outline leaves outside the province to the
    nearest point OUTSIDE_POINT_INSET_M inside it (recorded in ``moved_m``)."""
    inner = outline.buffer(-OUTSIDE_POINT_INSET_M)
    xy = pts[["x", "y"]].to_numpy()
    out = ~shapely.contains_xy(outline, xy[:, 0], xy[:, 1])
    moved = np.zeros(len(pts))
    for i in np.flatnonzero(out):
        q = shapely.ops.nearest_points(inner, shapely.points(xy[i]))[0]
        moved[i] = np.hypot(q.x - xy[i, 0], q.y - xy[i, 1])
        xy[i] = (q.x, q.y)
        logger.info("point of %s %s moved %.0f m inside the outline", pts.ma_xa.iloc[i],
                    pts.ten_xa.iloc[i], moved[i])
    pts = pts.copy()
    pts["x"], pts["y"], pts["moved_m"] = xy[:, 0], xy[:, 1], moved
    return pts


def load_inputs(shared: Path, spec: Province) -> tuple[pd.DataFrame, shapely.Geometry, shapely.Geometry, Path]:
    """The real points (merged with the census), the province outline (cleaned), the
    neighbour's outline as read, and the WorldPop path."""
    pts = pd.read_csv(shared / spec.points_csv, dtype={"ma_xa": str, "ma_huyen": str})
    census = pd.read_csv(
        shared / "census2019_communes_camau_baclieu.csv",
        dtype={"ma_xa": str},
        usecols=["ma_xa", "pop2019_urban", "hh2019_total"],
    )
    pts = pts.merge(census.rename(columns={"pop2019_urban": "urban_c", "hh2019_total": "hh_c"}),
                    on="ma_xa", how="left", validate="one_to_one")
    if pts.urban_c.isna().any() or len(pts) != spec.n_communes:
        raise SystemExit(f"census table does not cover the {spec.n_communes} communes")
    for c in ("ten_xa", "loai_xa", "ten_huyen"):
        pts[c] = pts[c].map(nfc)
    xy = np.column_stack(TO_UTM.transform(pts.lon.to_numpy(), pts.lat.to_numpy()))
    pts["x"], pts["y"] = xy[:, 0], xy[:, 1]
    assert pts.pop2019_total.sum() == spec.population
    outl = gpd.read_file(shared / "province_outline_geoboundaries.geojson")
    outl["shapeName"] = outl.shapeName.map(nfc)
    outline = _outline(outl, spec.name)
    neighbour = outl[outl.shapeName == nfc(spec.neighbour)].to_crs(CRS).geometry.iloc[0]
    pts = move_inside(pts, outline)
    return pts, outline, neighbour, shared / "worldpop_2020_1km_unadj_camau_baclieu.tif"


# --------------------------------------------------------------------------------------
# communes: a power diagram of the real points, weights fitted to the official areas
# --------------------------------------------------------------------------------------
def _clip_convex(poly: list, a: np.ndarray, c: float) -> list:
    """Sutherland–Hodgman: keep the part of a convex polygon with a·x <= c."""
    out = []
    n = len(poly)
    for k in range(n):
        p, q = poly[k], poly[(k + 1) % n]
        fp, fq = a @ p - c, a @ q - c
        if fp <= 0:
            out.append(p)
        if fp * fq < 0:
            out.append(p + (q - p) * (fp / (fp - fq)))
    return out


def _ring_without_spikes(xy: np.ndarray) -> np.ndarray:
    """Remove zero-width spikes (… A, B, A …) from a closed ring."""
    pts = [tuple(p) for p in xy[:-1]]
    changed = True
    while changed and len(pts) > 3:
        changed = False
        n = len(pts)
        for k in range(n):
            a, c = pts[k - 1], pts[(k + 1) % n]
            if abs(a[0] - c[0]) < 1e-6 and abs(a[1] - c[1]) < 1e-6:
                drop = {k, (k + 1) % n}
                pts = [p for j, p in enumerate(pts) if j not in drop]
                changed = True
                break
    return np.array(pts + [pts[0]])


def _drop_spikes(geom):
    """Rebuild a (multi)polygon without zero-width spikes; coordinates are kept exactly."""
    polys = []
    for p in shapely.get_parts(geom):
        if p.geom_type != "Polygon":
            continue
        shell = _ring_without_spikes(np.asarray(p.exterior.coords))
        holes = [_ring_without_spikes(np.asarray(r.coords)) for r in p.interiors]
        polys.append(shapely.Polygon(shell, holes))
    return shapely.multipolygons(polys) if len(polys) > 1 else polys[0]


def build_communes(pts: pd.DataFrame, outline, rng) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    P = pts[["x", "y"]].to_numpy()
    origin = P.mean(axis=0)
    Pc = P - origin
    n = len(P)
    # area fitting on a 250 m lattice
    minx, miny, maxx, maxy = outline.bounds
    gx, gy = np.meshgrid(np.arange(minx, maxx, 250.0) + 125, np.arange(miny, maxy, 250.0) + 125)
    inside = shapely.contains_xy(outline, gx, gy)
    C = np.column_stack([gx[inside], gy[inside]]) - origin
    cell_km2 = 0.0625
    target = pts.area_km2.to_numpy() * (inside.sum() * cell_km2 / pts.area_km2.sum())
    # power diagram with movable generators g and weights w: Lloyd moves + weight steps
    # towards the official areas, while each real point (and a 200 m ring around it)
    # stays inside its own cell
    ang = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    ring = np.column_stack([np.cos(ang), np.sin(ang)]) * 200.0
    Q = np.vstack([Pc, (Pc[:, None, :] + ring[None]).reshape(-1, 2)])
    own = np.r_[np.arange(n), np.repeat(np.arange(n), 8)]

    def label(X, g, w):
        # power-diagram labels as a 3-D nearest neighbour: lift generator i to height
        # sqrt(W - w_i), so |x - g_i|^2 + W - w_i = power distance + W
        lift = np.sqrt(w.max() + 1.0 - w)
        tree = cKDTree(np.column_stack([g, lift]))
        return tree.query(np.column_stack([X, np.zeros(len(X))]))[1]

    def fix(g, w):
        for _ in range(200):
            bad = np.unique(own[label(Q, g, w) != own])
            if len(bad) == 0:
                return g, w
            g[bad] = 0.5 * (g[bad] + Pc[bad])
            w[bad] += 2e5
        raise SystemExit("could not keep the real points inside their cells")

    g = Pc.copy()
    w = np.zeros(n)
    for _ in range(100):
        lab = label(C, g, w)
        cnt = np.bincount(lab, minlength=n)
        area = cnt * cell_km2
        cen = np.column_stack([np.bincount(lab, weights=C[:, 0], minlength=n),
                               np.bincount(lab, weights=C[:, 1], minlength=n)]) / np.maximum(cnt, 1)[:, None]
        w = w + 1e6 * (target - area) / np.pi * 0.5
        has = cnt > 0
        g[has] += 0.3 * (cen[has] - g[has])
        g, w = fix(g, w)
        w -= w.mean()
    g, w = fix(g, w)
    # exact cells: half-plane intersections
    big = 2e5
    box = [np.array(v, float) for v in [(-big, -big), (big, -big), (big, big), (-big, big)]]
    cells = []
    for i in range(n):
        poly = box
        for j in range(n):
            if j == i:
                continue
            a = 2 * (g[j] - g[i])
            c = (g[j] ** 2).sum() - (g[i] ** 2).sum() - w[j] + w[i]
            poly = _clip_convex(poly, a, c)
        cells.append(shapely.Polygon(np.array(poly) + origin))
    # a vertex shared by neighbouring cells is computed once per cell; snapping to a 1 mm
    # grid makes the copies identical, and a fixed-precision overlay with the outline keeps
    # them so: the communes form an exact coverage (no gaps, no overlaps, matched edges)
    cells = shapely.set_precision(np.array(cells), 0.001)
    geoms = shapely.intersection(cells, outline, grid_size=0.001)
    geoms = np.array([shapely.make_valid(x) for x in geoms])
    own_pt = shapely.points(P)
    if not shapely.contains(geoms, own_pt).all():
        raise SystemExit("a real commune point fell outside its polygon")
    gdf = gpd.GeoDataFrame(
        {
            "commune_code": pts.ma_xa.str.zfill(5),
            "commune_name": pts.ten_xa,
            "commune_type": pts.loai_xa,
            "district_code": pts.ma_huyen.str.zfill(3),
            "district_name": pts.ten_huyen,
            "pop2019": pts.pop2019_total.astype("int64"),
            "hh2019": pts.hh2019_total.astype("int64"),
            "pop2019_urban": pts.urban_c.astype("int64"),
            "area_km2": np.round(shapely.area(geoms) / 1e6, 3),
            "area_km2_official": pts.area_km2.astype(float),
        },
        geometry=geoms,
        crs=CRS,
    )
    return gdf, P


# --------------------------------------------------------------------------------------
# grid and density
# --------------------------------------------------------------------------------------
def make_grid(outline):
    minx, miny, maxx, maxy = outline.bounds
    x0 = np.floor(minx / RES_M) * RES_M
    y1 = np.ceil(maxy / RES_M) * RES_M
    width = int(np.ceil((maxx - x0) / RES_M))
    height = int(np.ceil((y1 - miny) / RES_M))
    y0 = y1 - height * RES_M
    transform = from_origin(x0, y1, RES_M, RES_M)
    xs = x0 + (np.arange(width) + 0.5) * RES_M
    ys = y1 - (np.arange(height) + 0.5) * RES_M
    return transform, (height, width), xs, ys, (x0, y0)


def zone_rasters(communes: gpd.GeoDataFrame, outline, transform, shape):
    ids = features.rasterize(
        ((g, i + 1) for i, g in enumerate(communes.geometry)), out_shape=shape,
        transform=transform, fill=0, dtype="int32",
    )
    bnd = shapely.buffer(communes.boundary.to_numpy(), 1.0)
    touched = features.rasterize(((g, 1) for g in bnd), out_shape=shape, transform=transform,
                                 fill=0, all_touched=True, dtype="uint8").astype(bool)
    inprov = features.rasterize([(outline, 1)], out_shape=shape, transform=transform,
                                fill=0, dtype="uint8").astype(bool)
    interior = (ids > 0) & ~touched
    return ids, interior, inprov


def worldpop_guide(path: Path, xs, ys) -> np.ndarray:
    with rasterio.open(path) as src:
        a = src.read(1).astype(float)
        t = src.transform
        nod = src.nodata
    valid = np.isfinite(a) & (a >= 0) & (a != nod)
    a = np.where(valid, a, 0.0)
    X, Y = np.meshgrid(xs, ys)
    lon, lat = TO_LL.transform(X.ravel(), Y.ravel())
    col = (lon - t.c) / t.a - 0.5
    row = (lat - t.f) / t.e - 0.5
    num = ndimage.map_coordinates(a, [row, col], order=1, mode="constant", cval=0.0)
    den = ndimage.map_coordinates(valid.astype(float), [row, col], order=1, mode="constant", cval=0.0)
    out = np.where(den > 0.25, num / np.maximum(den, 1e-9), np.nan).reshape(X.shape)
    # no WorldPop data south of 8.558°N (the Đất Mũi tip): continue the nearest values
    # smoothly instead of a step at the data edge
    hole = np.isnan(out)
    if hole.any():
        idx = ndimage.distance_transform_edt(hole, return_distances=False, return_indices=True)
        filled = out[tuple(idx)]
        out = np.where(hole, ndimage.gaussian_filter(filled, 8.0), out)
    return out


def base_density(pts, outline, neighbour, xs, ys, wp, rng, spec: Province) -> np.ndarray:
    X, Y = np.meshgrid(xs, ys)
    dens = np.maximum(np.nan_to_num(wp, nan=15.0), 5.0)
    town = np.zeros_like(dens)
    for r in pts.itertuples():
        if r.loai_xa == "Xã":
            continue
        amp, sig = (10.0, 900.0) if r.loai_xa == "Phường" else (8.0, 1100.0)
        d2 = (X - r.x) ** 2 + (Y - r.y) ** 2
        town += amp * np.exp(-d2 / (2 * sig**2))
    city = utm(*spec.city_lonlat)
    town += 10.0 * np.exp(-((X - city[0]) ** 2 + (Y - city[1]) ** 2) / (2 * 2500.0**2))
    dens = dens * (1 + town)
    dens = spec.density(X, Y, outline, neighbour, dens)
    z = ndimage.gaussian_filter(rng.standard_normal(dens.shape), 2.0)
    z /= z.std()
    return dens * np.exp(0.45 * z)


def _lat_of(Y: np.ndarray) -> np.ndarray:
    return np.interp(Y, [utm(105, 8.5)[1], utm(105, 9.7)[1]], [8.5, 9.7])


def density_camau(X, Y, outline, neighbour, dens) -> np.ndarray:
    """U Minh Hạ forest core (thin), mangrove coast in the south (thin), the cape (thin)."""
    fc = utm(104.965, 9.225)
    ell = ((X - fc[0]) / 7000.0) ** 2 + ((Y - fc[1]) / 9500.0) ** 2
    edge = np.sqrt(ell) + 0.15 * np.sin(np.arctan2(Y - fc[1], X - fc[0]) * 3 + 1.0)
    dens *= 0.06 + 0.94 / (1 + np.exp(-(edge - 1.0) / 0.08))
    lat_ = _lat_of(Y)
    coast = shapely.get_coordinates(outline.boundary.segmentize(500))
    dcoast, _ = cKDTree(coast).query(np.column_stack([X.ravel(), Y.ravel()]))
    dcoast = dcoast.reshape(X.shape)
    belt = 1 / (1 + np.exp(-(dcoast - 3000.0) / 600.0))  # 0 at the coast, 1 inland
    south = 1 / (1 + np.exp((lat_ - 8.86) / 0.01))  # 1 in the south
    dens *= 1 - 0.88 * south * (1 - belt)
    dens *= 0.35 + 0.65 / (1 + np.exp(-(lat_ - 8.66) / 0.01))  # the cape: thin
    return dens


def baclieu_coast(outline, neighbour) -> np.ndarray:
    """Vertices (every 500 m) of Bạc Liêu's sea coast: the outline south of 9.258°N (the Sóc
    Trăng border meets the sea there) and away from the Cà Mau border."""
    b = shapely.get_coordinates(outline.boundary.segmentize(500))
    lat = TO_LL.transform(b[:, 0], b[:, 1])[1]
    far = shapely.distance(neighbour.boundary, shapely.points(b)) > 200.0
    return b[(lat < 9.258) & far]


def density_baclieu(X, Y, outline, neighbour, dens) -> np.ndarray:
    """Thin near the sea coast (mangrove belt and shrimp ponds): the Cà Mau coast rule,
    without Cà Mau's forest core and cape."""
    dcoast, _ = cKDTree(baclieu_coast(outline, neighbour)).query(np.column_stack([X.ravel(), Y.ravel()]))
    belt = 1 / (1 + np.exp(-(dcoast.reshape(X.shape) - 3000.0) / 600.0))  # 0 at the coast, 1 inland
    return dens * (1 - 0.88 * (1 - belt))


def allocate(weights: np.ndarray, zone: np.ndarray, totals: np.ndarray) -> np.ndarray:
    """Split each zone's integer total over its cells ∝ weights, in 1/POP_QUANTUM units
    (largest remainder): float sums are exact."""
    out = np.zeros(weights.shape, float)
    flat_z = zone.ravel()
    flat_w = weights.ravel()
    sel = np.flatnonzero(flat_z > 0)
    z = flat_z[sel] - 1
    wsum = np.bincount(z, weights=flat_w[sel], minlength=len(totals))
    if (wsum <= 0).any():
        raise SystemExit(f"zones without weight: {np.flatnonzero(wsum <= 0)}")
    units = totals.astype(np.int64) * POP_QUANTUM
    share = flat_w[sel] / wsum[z] * units[z]
    base = np.floor(share).astype(np.int64)
    rem = share - base
    deficit = units - np.bincount(z, weights=base, minlength=len(totals)).astype(np.int64)
    order = np.lexsort((-rem, z))
    zs = z[order]
    start = np.searchsorted(zs, np.arange(len(totals)))
    rank = np.arange(len(zs)) - start[zs]
    add = np.zeros(len(sel), np.int64)
    add[order] = (rank < deficit[zs]).astype(np.int64)
    vals = (base + add) / POP_QUANTUM
    out.ravel()[sel] = vals
    return out


def largest_remainder(total: int, shares: np.ndarray) -> np.ndarray:
    shares = np.asarray(shares, float)
    q = shares / shares.sum() * total
    base = np.floor(q).astype(np.int64)
    k = int(total - base.sum())
    order = np.argsort(-(q - base), kind="stable")
    base[order[:k]] += 1
    return base


# --------------------------------------------------------------------------------------
# hamlets
# --------------------------------------------------------------------------------------
AP_NAMES = [
    "Tân Lợi", "Tân Hưng", "Tân Thành", "Bình Minh", "Bình Định", "Kinh Xáng", "Cái Keo",
    "Rạch Cui", "Lung Lá", "Đồng Tâm", "Tân Phong", "Tân Hòa", "Hòa Thành", "Hòa Lợi",
    "Thạnh Phú", "Phú Hưng", "Phú Thạnh", "Vàm Đình", "Xóm Mới", "Xẻo Đước", "Kênh Tư",
    "Kênh Ngang", "Mương Điều", "Cây Dừa", "Bào Sen", "Đá Bạc", "Nhà Thờ", "Lộ Xe",
    "Chợ Thủ", "Bến Dựa", "Lý Ấn", "Vồ Dơi", "Tắc Vân", "Hòa Đông", "Hòa Tây", "Tân Thới",
    "Thuận Hòa", "Tân Điền", "Kinh Hòn", "Rạch Ráng", "Cây Khô", "Mỹ Bình", "Lung Tràm",
    "Đầu Sấu", "Giáp Nước", "Ông Muộn", "Tân Quảng", "Bà Hính", "Trảng Cò", "Kinh Đứng",
]


def build_hamlets(communes, interior, ids, dens, xs, ys, rng):
    rows = []
    for i, c in enumerate(communes.itertuples()):
        n = int(np.clip(round(c.hh2019 / 340), 3, 20))
        cell = np.flatnonzero((ids.ravel() == i + 1) & interior.ravel())
        w = dens.ravel()[cell]
        pick = rng.choice(cell, size=40 * n, p=w / w.sum())
        r, col = np.divmod(pick, len(xs))
        cand = np.column_stack([xs[col], ys[r]]) + rng.uniform(-45, 45, (len(pick), 2))
        cand = np.unique(cand, axis=0)
        cent, _ = kmeans2(cand, n, seed=rng, minit="++")
        tree = cKDTree(cand)
        seeds = []
        used = set()
        for p in cent:
            for k in tree.query(p, k=min(len(cand), 30))[1]:
                if k not in used:
                    used.add(k)
                    seeds.append(cand[k])
                    break
        seeds = np.array(seeds)
        # number hamlets outward from the commune's real point
        cp = np.array([c.geometry.representative_point().x, c.geometry.representative_point().y])
        seeds = seeds[np.argsort(np.hypot(*(seeds - cp).T), kind="stable")]
        vor = shapely.voronoi_polygons(shapely.multipoints(seeds),
                                       extend_to=c.geometry.envelope.buffer(5000), ordered=True)
        cells = shapely.get_parts(vor)
        parts = shapely.intersection(cells, c.geometry)
        urban = c.commune_type != "Xã"
        named = (not urban) and rng.random() < 0.45
        names = list(rng.permutation(AP_NAMES)[:n])
        k = 0
        for j, g in enumerate(parts):
            if g.is_empty or g.area < 1.0:
                continue
            k += 1
            g = shapely.make_valid(g)
            if g.geom_type == "GeometryCollection":
                g = shapely.union_all([p for p in shapely.get_parts(g) if p.geom_type in ("Polygon", "MultiPolygon")])
            if urban:
                name, kind = f"Khóm {k}", "khóm"
            elif named:
                name, kind = f"Ấp {names[j]}", "ấp"
            else:
                name, kind = f"Ấp {k}", "ấp"
            rows.append({"hamlet_code": f"{c.commune_code}{k:02d}", "hamlet_name": nfc(name),
                         "commune_code": c.commune_code, "hamlet_kind": nfc(kind), "geometry": g})
    return gpd.GeoDataFrame(rows, crs=CRS)


# --------------------------------------------------------------------------------------
# roads, canals, rivers
# --------------------------------------------------------------------------------------
class Net:
    """Lines as coordinate arrays, with vertex insertion so that links end exactly on lines."""

    def __init__(self):
        self.coords: list[np.ndarray] = []
        self.attrs: list[dict] = []

    def add(self, xy, **attrs) -> int:
        xy = np.asarray(xy, float)
        keep = np.r_[True, (np.abs(np.diff(xy, axis=0)) > 1e-9).any(1)]
        xy = xy[keep]
        if len(xy) < 2:
            return -1
        self.coords.append(xy)
        self.attrs.append({"name": "", "road_class": "", "crossing_cost_m": 0.0} | attrs)
        return len(self.coords) - 1

    def geoms(self, idx=None):
        idx = range(len(self.coords)) if idx is None else idx
        return np.array([shapely.linestrings(self.coords[i]) for i in idx])

    def snap_to(self, i: int, p: np.ndarray) -> np.ndarray:
        """Nearest point of line i to p, inserted as a vertex of line i; returned exactly."""
        c = self.coords[i]
        a, b = c[:-1], c[1:]
        ab = b - a
        L2 = (ab**2).sum(1)
        t = np.clip(((p - a) * ab).sum(1) / np.where(L2 > 0, L2, 1), 0, 1)
        q = a + ab * t[:, None]
        k = int(np.argmin(((q - p) ** 2).sum(1)))
        if t[k] <= 1e-9:
            return c[k].copy()
        if t[k] >= 1 - 1e-9:
            return c[k + 1].copy()
        qk = q[k]
        self.coords[i] = np.vstack([c[: k + 1], qk, c[k + 1:]])
        return qk.copy()


def wiggly(waypoints, rng, *, step_m=250.0, amp_m=120.0, wavelength_m=2500.0) -> np.ndarray:
    """A polyline through waypoints with smooth lateral meanders; waypoints kept exact."""
    pts = np.asarray(waypoints, float)
    out = [pts[0]]
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        d = b - a
        L = float(np.hypot(*d))
        if L < 1e-6:
            continue
        m = max(int(L // step_m), 1)
        t = np.linspace(0, 1, m + 1)[1:-1]
        if len(t):
            nrm = np.array([-d[1], d[0]]) / L
            k = max(L / wavelength_m, 1.0)
            ph = rng.uniform(0, 2 * np.pi, 2)
            amp = min(amp_m, 0.08 * L)
            off = amp * np.sin(np.pi * t) * (0.7 * np.sin(2 * np.pi * k * t + ph[0])
                                            + 0.3 * np.sin(2 * np.pi * 2.3 * k * t + ph[1]))
            out.extend(a + d * t[:, None] + off[:, None] * nrm)
        out.append(b)
    return np.array(out)


def snap_avoiding(net: Net, i: int, p: np.ndarray, avoid) -> np.ndarray:
    """Like Net.snap_to, but never onto a stretch of line inside ``avoid`` (river banks,
    which the river crossing step cuts away)."""
    line = shapely.linestrings(net.coords[i])
    if avoid is not None and line.intersects(avoid):
        ok = line.difference(avoid)
        if not ok.is_empty:
            q = shapely.ops.nearest_points(ok, shapely.points(p))[0]
            return net.snap_to(i, np.array([q.x, q.y]))
    return net.snap_to(i, p)


def attach(net: Net, p: np.ndarray, candidates: list[int], tree, rng, avoid=None, **attrs) -> int:
    """Link point p to the nearest of the given lines (indices into net) with a short road."""
    geoms = net.geoms(candidates) if tree is None else None
    if tree is None:
        d = shapely.distance(geoms, shapely.points(p))
        i = candidates[int(np.argmin(d))]
    else:
        i = candidates[int(tree.query_nearest(shapely.points(p))[0])]
    q = snap_avoiding(net, i, p, avoid)
    if np.hypot(*(q - p)) < 1.0:
        return -1
    line = wiggly([p, q], rng, step_m=200.0, amp_m=40.0, wavelength_m=1200.0)
    return net.add(line, **attrs)


def outline_point_near(outline, lon, lat) -> np.ndarray:
    p = shapely.points(utm(lon, lat))
    q = shapely.ops.nearest_points(outline.boundary, p)[0]
    return np.array([q.x, q.y])


def border_point(camau, baclieu, lon: float, lat: float) -> np.ndarray:
    """The point of the Cà Mau – Bạc Liêu border nearest (lon, lat): both samples end
    their shared roads there (Cà Mau's cleaned outline, within 50 m of Bạc Liêu's)."""
    shared_border = camau.boundary.intersection(baclieu.buffer(50)).buffer(1)
    q = shapely.ops.nearest_points(camau.boundary.intersection(shared_border), shapely.points(utm(lon, lat)))[0]
    return np.array([q.x, q.y])


QL1_BORDER_LONLAT = (105.36, 9.27)  # Quốc lộ 1 crosses the border nearest this point
QLPH_BORDER_LONLAT = (105.26, 9.345)  # the Quản Lộ – Phụng Hiệp road, likewise


def street_grids(net: Net, main: list[int], centres, outline, rng) -> None:
    """Street grids (centre, radius m, spacing m) in the city and the district towns."""
    street_no = 0
    for centre, radius, spacing in centres:
        ang = rng.uniform(0, np.pi / 2)
        u = np.array([np.cos(ang), np.sin(ang)])
        v = np.array([-u[1], u[0]])
        disc = shapely.Point(centre).buffer(radius).intersection(outline.buffer(-100))
        for a_, b_ in ((u, v), (v, u)):
            for off in np.arange(-radius, radius, spacing) + rng.uniform(0, spacing):
                seg = shapely.linestrings([centre + off * b_ - radius * a_, centre + off * b_ + radius * a_])
                for part in shapely.get_parts(seg.intersection(disc)):
                    if part.geom_type == "LineString" and part.length > 150:
                        street_no += 1
                        main.append(net.add(shapely.get_coordinates(part.segmentize(400)), kind="road",
                                            road_class="commune", name=nfc(f"Đường số {street_no}")))


def add_rivers(net: Net, rivers, outline, rng) -> list:
    """Rivers (name, waypoints, half width m), drawn beyond the coast and clipped to the province."""
    river_geoms = []
    for name, wps, half_w in rivers:
        line = shapely.linestrings(wiggly(wps, rng, step_m=300, amp_m=250, wavelength_m=4000))
        for part in shapely.get_parts(line.intersection(outline)):
            if part.geom_type == "LineString" and part.length > 500:
                net.add(shapely.get_coordinates(part), kind="river", name=nfc(name))
                river_geoms.append((part, half_w, name))
    return river_geoms


def main_roads_camau(net: Net, pts, outline, baclieu, rng):
    P = pts[["x", "y"]].to_numpy()
    by_name = {n: P[i] for i, n in enumerate(pts.ten_xa)}
    city = by_name[nfc("Phường 2")]
    T = {
        "uminh": by_name[nfc("Thị trấn U Minh")], "thoibinh": by_name[nfc("Thị trấn Thới Bình")],
        "tvt": by_name[nfc("Thị trấn Trần Văn Thời")], "songdoc": by_name[nfc("Thị trấn Sông Đốc")],
        "cainuoc": by_name[nfc("Thị trấn Cái Nước")], "damdoi": by_name[nfc("Thị trấn Đầm Dơi")],
        "namcan": by_name[nfc("Thị Trấn Năm Căn")], "caidoi": by_name[nfc("Thị trấn Cái Đôi Vàm")],
        "rachgoc": by_name[nfc("Thị trấn Rạch Gốc")],
    }
    bl = border_point(outline, baclieu, *QL1_BORDER_LONLAT)
    north = outline_point_near(outline, 105.10, 9.60)
    main: list[int] = []

    def road(wps, cls, name, **kw):
        i = net.add(wiggly(wps, rng, **kw), kind="road", road_class=cls, name=nfc(name))
        main.append(i)
        return i

    # national roads
    road([city, utm(105.24, 9.225), bl], "national", "Quốc lộ 1")
    road([city, utm(105.09, 9.06), T["cainuoc"], utm(105.01, 8.85), T["namcan"]], "national", "Quốc lộ 1")
    road([city, utm(105.11, 9.27), T["thoibinh"], north], "national", "Quốc lộ 63")
    # provincial roads between district towns (they end on existing lines)
    prov = [
        ([city, utm(105.06, 9.32), T["uminh"]], "Đường tỉnh 983"),
        ([city, utm(105.05, 9.14), T["tvt"]], "Đường tỉnh 985"),
        ([T["tvt"], T["songdoc"]], "Đường tỉnh 985"),
        ([city, utm(105.19, 9.09), T["damdoi"]], "Đường tỉnh 986"),
        ([T["cainuoc"], utm(104.92, 8.90), T["caidoi"]], "Đường tỉnh 986B"),
        ([T["namcan"], utm(104.995, 8.70), T["rachgoc"]], "Đường Hồ Chí Minh"),
        ([T["damdoi"], utm(105.09, 8.95), T["cainuoc"]], "Đường tỉnh 988"),
        ([T["uminh"], utm(105.02, 9.39), T["thoibinh"]], "Đường tỉnh 984"),
        ([T["tvt"], utm(105.00, 9.02), T["cainuoc"]], "Đường tỉnh 987"),
        ([T["songdoc"], utm(104.85, 8.96), T["caidoi"]], "Đường ven biển Tây"),
        ([T["uminh"], utm(104.90, 9.25), T["tvt"]], "Đường tỉnh 983B"),
    ]
    for wps, name in prov:
        road(wps, "provincial", name)
    street_grids(net, main, [(city, 2600.0, 330.0)] + [(t, 850.0, 280.0) for t in T.values()], outline, rng)
    rivers = [
        ("Sông Ông Đốc", [utm(105.135, 9.176), utm(105.03, 9.125), utm(104.93, 9.075),
                          utm(104.845, 9.042), utm(104.70, 9.03)], 90.0),
        ("Sông Gành Hào", [utm(105.160, 9.170), utm(105.24, 9.10), utm(105.31, 9.06),
                           utm(105.40, 9.03), utm(105.55, 9.00)], 110.0),
        ("Sông Cửa Lớn", [utm(104.60, 8.66), utm(104.78, 8.69), utm(104.90, 8.735),
                          utm(104.97, 8.758), utm(105.06, 8.755), utm(105.20, 8.77),
                          utm(105.45, 8.78)], 160.0),
    ]
    return main, city, T, add_rivers(net, rivers, outline, rng)


def farmland_camau(outline, neighbour):
    """Not in the U Minh Hạ forest core nor the southern mangroves."""
    minx, miny, maxx, _ = outline.bounds
    farmland = outline.difference(shapely.Point(utm(104.965, 9.225)).buffer(6500))
    south = shapely.box(minx - 1e4, miny - 1e4, maxx + 1e4, utm(105.0, 8.74)[1])
    return farmland.difference(south).buffer(-800)


def main_roads_baclieu(net: Net, pts, outline, camau, rng):
    """Bạc Liêu's main lines, by approximate lon/lat waypoints (SYNTHETIC geometry, real
    names): Quốc lộ 1 from the Sóc Trăng border through Châu Hưng, Bạc Liêu city, Hòa Bình,
    Láng Tròn, Giá Rai and Hộ Phòng to the Cà Mau border (at the point where the Cà Mau
    sample's Quốc lộ 1 ends); the Quản Lộ – Phụng Hiệp road from the Cà Mau border through
    Phước Long towards Ngã Năm; the coastal Bạc Liêu – Nhà Mát – Gành Hào road; roads between
    the district towns; the Bạc Liêu – Cà Mau and Quản Lộ – Phụng Hiệp canals; the Gành Hào
    river along the Cà Mau border."""
    P = pts[["x", "y"]].to_numpy()
    by_code = {c: P[i] for i, c in enumerate(pts.ma_xa.str.zfill(5))}
    city = by_code["31816"]  # Phường 3, the city centre
    T = {"chauhung": by_code["31900"], "hoabinh": by_code["31891"], "giarai": by_code["31942"],
         "hophong": by_code["31945"], "langtron": by_code["31951"], "phuoclong": by_code["31867"],
         "ngandua": by_code["31843"], "ganhhao": by_code["31972"]}
    nhamat = by_code["31831"]
    camau_clean = shapely.make_valid(shapely.set_precision(
        shapely.make_valid(shapely.set_precision(camau, 0.01)).buffer(-5, join_style="mitre")
        .buffer(5, join_style="mitre"), 0.01))  # Cà Mau's outline as its own build cleans it
    ql1_cm = border_point(camau_clean, outline, *QL1_BORDER_LONLAT)
    qlph_cm = border_point(camau_clean, outline, *QLPH_BORDER_LONLAT)
    main: list[int] = []

    def road(wps, cls, name, **kw):
        main.append(net.add(wiggly(wps, rng, **kw), kind="road", road_class=cls, name=nfc(name)))

    road([outline_point_near(outline, 105.80, 9.395), utm(105.762, 9.368), T["chauhung"],
          utm(105.735, 9.315), city, utm(105.68, 9.283), T["hoabinh"], utm(105.57, 9.276), T["langtron"],
          T["giarai"], T["hophong"], utm(105.345, 9.245), ql1_cm], "national", "Quốc lộ 1")
    road([qlph_cm, utm(105.31, 9.362), utm(105.36, 9.385), utm(105.41, 9.415), T["phuoclong"],
          utm(105.51, 9.48), outline_point_near(outline, 105.56, 9.52)], "national", "Đường Quản Lộ – Phụng Hiệp")
    prov = [
        ([city, nhamat], "Đường Bạc Liêu – Nhà Mát"),
        ([nhamat, utm(105.664, 9.204), utm(105.609, 9.183), utm(105.538, 9.155), utm(105.481, 9.111),
          T["ganhhao"]], "Đường ven biển Nhà Mát – Gành Hào"),
        ([T["hophong"], utm(105.44, 9.18), utm(105.43, 9.10), T["ganhhao"]], "Đường Hộ Phòng – Gành Hào"),
        ([utm(105.665, 9.283), utm(105.609, 9.384), utm(105.518, 9.495), T["ngandua"]], "Đường Cầu Sập – Ngan Dừa"),
        ([T["giarai"], utm(105.453, 9.299), utm(105.45, 9.38), T["phuoclong"]], "Đường Giá Rai – Phước Long"),
        ([T["ngandua"], utm(105.384, 9.560), utm(105.328, 9.578)], "Đường Ngan Dừa – Vĩnh Lộc"),
        ([T["phuoclong"], utm(105.38, 9.44), utm(105.347, 9.498)], "Đường Phước Long – Ninh Thạnh Lợi"),
        ([city, utm(105.791, 9.262), outline_point_near(outline, 105.83, 9.28)], "Đường Bạc Liêu – Vĩnh Châu"),
        ([T["hoabinh"], utm(105.64, 9.23), utm(105.664, 9.204)], "Đường Hòa Bình – Vĩnh Hậu"),
        ([T["langtron"], utm(105.524, 9.223), utm(105.538, 9.155)], "Đường Láng Tròn – Long Điền Đông"),
        ([utm(105.336, 9.222), utm(105.335, 9.156), utm(105.296, 9.140)], "Đường Tân Phong – Định Thành"),
        ([T["chauhung"], utm(105.817, 9.369)], "Đường Châu Hưng – Hưng Thành"),
    ]
    for wps, name in prov:
        road(wps, "provincial", name)
    street_grids(net, main, [(city, 2200.0, 330.0)] + [(t, 850.0, 280.0) for t in T.values()], outline, rng)
    canals = [
        ("Kênh xáng Bạc Liêu – Cà Mau", [utm(105.735, 9.272), utm(105.63, 9.268), utm(105.51, 9.262),
                                          utm(105.465, 9.232), utm(105.42, 9.220), utm(105.33, 9.212),
                                          utm(105.22, 9.21)]),
        ("Kênh Quản Lộ – Phụng Hiệp", [utm(105.24, 9.335), utm(105.31, 9.355), utm(105.36, 9.378),
                                        utm(105.41, 9.408), utm(105.46, 9.444), utm(105.51, 9.475),
                                        utm(105.57, 9.515)]),
    ]
    for name, wps in canals:
        line = shapely.linestrings(wiggly(wps, rng, step_m=300, amp_m=150, wavelength_m=4000))
        for part in shapely.get_parts(line.intersection(outline.buffer(-20))):
            if part.geom_type == "LineString" and part.length > 800:
                net.add(shapely.get_coordinates(part.segmentize(2000)), kind="canal", name=nfc(name))
    # the Gành Hào river is the Cà Mau border from its mouth up to about 9.16°N
    on_border = outline.boundary.intersection(camau.buffer(60))
    south = shapely.box(*(utm(105.0, 8.9)), *(utm(105.6, 9.16)))
    parts = [g for g in shapely.get_parts(shapely.line_merge(on_border.intersection(south)))
             if g.geom_type == "LineString"]
    river = max(parts, key=lambda g: g.length)
    net.add(shapely.get_coordinates(river), kind="river", name=nfc("Sông Gành Hào"))
    return main, city, T, [(river, 110.0, nfc("Sông Gành Hào"))]


def farmland_baclieu(outline, camau):
    """Not in the coastal belt (2.5 km from the sea: mangroves and shrimp ponds)."""
    coast = shapely.linestrings(baclieu_coast(outline, camau))
    return outline.difference(coast.buffer(2500)).buffer(-800)


def build_roads(pts, hamlets, outline, neighbour, rng, spec: Province):
    net = Net()
    code = pts.ma_xa.str.zfill(5).to_numpy()
    P = pts[["x", "y"]].to_numpy()
    main, city, T, river_geoms = spec.main_roads(net, pts, outline, neighbour, rng)
    avoid = shapely.union_all([g.buffer(hw + 40) for g, hw, _ in river_geoms]) if river_geoms else None
    if avoid is not None:
        shapely.prepare(avoid)
    # district roads: commune centres linked Prim-style to the growing network
    todo = [i for i in range(len(P))]
    tree_idx = list(main)
    while todo:
        tree = shapely.STRtree(net.geoms(tree_idx))
        d = tree.query_nearest(shapely.points(P[todo]), return_distance=True, all_matches=False)[1]
        order = np.argsort(d, kind="stable")[: max(1, len(todo) // 4)]
        for o in order:
            k = todo[o]
            j = attach(net, P[k], tree_idx, tree, rng, avoid, kind="road", road_class="district",
                       name=nfc(f"Đường huyện {pts.ten_xa.iloc[k]}"))
            if j >= 0:
                tree_idx.append(j)
        todo = [t for ii, t in enumerate(todo) if ii not in set(order.tolist())]
    # hamlet roads
    anchors = np.array([[a.x, a.y] for a in map(hamlet_anchor, hamlets.geometry)])
    road_idx = list(tree_idx)
    tree = shapely.STRtree(net.geoms(road_idx))
    for cc in code:
        sel = np.flatnonzero(hamlets.commune_code.to_numpy() == cc)
        A = anchors[sel]
        local: list[int] = []
        dd = tree.query_nearest(shapely.points(A), return_distance=True, all_matches=False)[1]
        for o in np.argsort(dd, kind="stable"):
            p = A[o]
            gi = road_idx[int(tree.query_nearest(shapely.points(p))[0])]
            best, bd = gi, shapely.distance(net.geoms([gi])[0], shapely.points(p))
            if local:
                dl = shapely.distance(net.geoms(local), shapely.points(p))
                if dl.min() < bd:
                    best = local[int(np.argmin(dl))]
            q = snap_avoiding(net, best, p, avoid)
            L = np.hypot(*(q - p))
            if L < 1.0:
                continue
            cls = "hamlet" if L < 1500 else "commune"
            j = net.add(wiggly([p, q], rng, step_m=200.0, amp_m=40.0, wavelength_m=1200.0),
                        kind="road", road_class=cls, name=nfc(f"Đường {hamlets.hamlet_name.iloc[sel[o]]}"))
            if j >= 0:
                local.append(j)
        road_idx.extend(local)
    # the local network: hamlet roads, dikes and canal-bank paths along each hamlet's long
    # axis, linked to the network (in the delta nearly every house lines one of them)
    hamlet_network(net, hamlets, anchors, road_idx, avoid, rng)
    # canals: a rotated grid in farmland
    ang = np.deg2rad(12.0)
    R = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    minx, miny, maxx, maxy = outline.bounds
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half = 90_000
    farmland = spec.farmland(outline, neighbour)
    canal_no = 0
    for s, spacing in ((0, 5200.0), (1, 6100.0)):
        for off in np.arange(-half, half, spacing) + rng.uniform(0, spacing):
            if s == 0:
                seg = np.array([[off, -half], [off, half]])
            else:
                seg = np.array([[-half, off], [half, off]])
            seg = seg @ R.T + [cx, cy]
            g = shapely.linestrings(seg).intersection(farmland)
            for part in shapely.get_parts(g):
                if part.geom_type != "LineString" or part.length < 800:
                    continue
                canal_no += 1
                c = shapely.get_coordinates(part.segmentize(2000))
                net.add(c, kind="canal", name=nfc(f"Kênh {canal_no}" if rng.random() < 0.6 else
                                                  f"Kênh xáng {rng.choice(AP_NAMES)}"))
    # crossings: roads get bridges, canals stop short of the river
    net = cut_at_rivers(net, river_geoms)
    net = add_ferries(net, river_geoms, rng, spec)
    net = add_islands(net, outline, rng, spec)
    net = keep_connected(net)
    return net, city, T


def hamlet_network(net: Net, hamlets, anchors, connected: list[int], avoid, rng) -> None:
    """Add 1-4 local lines per hamlet, parallel to its long axis (about 650 m apart and
    through its centre), clipped to the hamlet and off the river banks; then link every
    piece Prim-style to the growing connected network (``connected`` is extended)."""
    pieces = []
    for k, (g, a) in enumerate(zip(hamlets.geometry, anchors, strict=True)):
        rect = shapely.get_coordinates(shapely.minimum_rotated_rectangle(g))[:4]
        e1, e2 = rect[1] - rect[0], rect[2] - rect[1]
        if np.hypot(*e1) < np.hypot(*e2):
            e1, e2 = e2, e1
        L, W = float(np.hypot(*e1)), float(np.hypot(*e2))
        if L < 1.0:
            continue
        u, v = e1 / L, e2 / max(W, 1e-9)
        n = int(np.clip(round(W / 650.0), 1, 4))
        across = (np.arange(n) - (n - 1) / 2) * (W / n) + rng.uniform(-60, 60, n)
        # the line nearest the hamlet centre passes through it
        ctr = rect.mean(axis=0)
        a_off = float((a - ctr) @ v)
        across[int(np.argmin(np.abs(across - a_off)))] = a_off
        along0 = float((a - ctr) @ u)
        area = g.difference(avoid) if avoid is not None else g
        hname = hamlets.hamlet_name.iloc[k]
        for j, off in enumerate(across):
            base = ctr + off * v + along0 * u
            wps = [base - (L / 2 + along0 + 200) * u, base, base + (L / 2 - along0 + 200) * u]
            line = shapely.linestrings(wiggly(wps, rng, step_m=200.0, amp_m=35.0, wavelength_m=1500.0))
            for part in shapely.get_parts(line.intersection(area)):
                if part.geom_type != "LineString" or part.length < 150:
                    continue
                canal = j != 0 and rng.random() < LOCAL_CANAL_FRAC
                attrs = ({"kind": "canal", "name": nfc(f"Kênh {hname.removeprefix('Ấp ').removeprefix('Khóm ')}")}
                         if canal else {"kind": "road", "road_class": "hamlet", "name": nfc(f"Lộ {hname}")})
                pieces.append((shapely.get_coordinates(part), attrs))
    todo = list(range(len(pieces)))
    n_links = 0
    while todo:
        tree = shapely.STRtree(net.geoms(connected))
        geoms = np.array([shapely.linestrings(pieces[t][0]) for t in todo])
        d = tree.query_nearest(geoms, return_distance=True, all_matches=False)[1]
        order = np.argsort(d, kind="stable")[: max(1, len(todo) // 4)]
        for o in order:
            xy, attrs = pieces[todo[o]]
            j = net.add(xy, **attrs)
            if j < 0:
                continue
            connected.append(j)
            if d[o] > 0:  # not touching: a short link road from its nearer end
                ends = xy[[0, -1]]
                de = tree.query_nearest(shapely.points(ends), return_distance=True, all_matches=False)[1]
                p = ends[int(np.argmin(de))]
                li = attach(net, p, connected, tree, rng, avoid, kind="road",
                            road_class="hamlet", name=nfc(f"Đường nối {attrs['name']}"))
                if li >= 0:
                    connected.append(li)
                    n_links += 1
        done = set(order.tolist())
        todo = [t for ii, t in enumerate(todo) if ii not in done]
    logger.info("local network: %d pieces, %d links", len(pieces), n_links)


def cut_at_rivers(net: Net, river_geoms) -> Net:
    out = Net()
    rtree = shapely.STRtree([g for g, _, _ in river_geoms])
    for xy, at in zip(net.coords, net.attrs, strict=True):
        if at["kind"] == "river":
            out.add(xy, **at)
            continue
        line = shapely.linestrings(xy)
        hits = rtree.query(line, predicate="intersects")
        if len(hits) == 0:
            out.add(xy, **at)
            continue
        cuts = []
        for h in hits:
            rg, half_w, rname = river_geoms[h]
            for p in shapely.get_parts(line.intersection(rg)):
                if p.geom_type == "Point":
                    cuts.append((line.project(p), half_w, rname))
        cuts.sort()
        pos = 0.0
        for s, half_w, rname in cuts:
            a, b = max(s - half_w, pos), min(s + half_w, line.length)
            if a > pos + 1e-6:
                out.add(shapely.get_coordinates(shapely.ops.substring(line, pos, a)), **at)
            if at["kind"] == "road" and b > a:
                pa, pb = line.interpolate(a), line.interpolate(b)
                out.add([[pa.x, pa.y], [pb.x, pb.y]], kind="bridge", road_class=at["road_class"],
                        name=nfc(f"Cầu {rname.removeprefix('Sông ')}"))
            pos = b
        if pos < line.length - 1e-6:
            out.add(shapely.get_coordinates(shapely.ops.substring(line, pos, line.length)), **at)
    return out


def add_ferries(net: Net, river_geoms, rng, spec: Province) -> Net:
    """Up to three ferries straight across a river (at the province's wanted spots, in
    order), each bank landing linked to the nearest road vertex on its own bank by a short
    access road."""
    if not spec.ferries:
        return net
    road_i = [i for i, a in enumerate(net.attrs) if a["kind"] == "road"]
    V = np.vstack([net.coords[i] for i in road_i])
    tree = cKDTree(V)
    rivers = shapely.union_all([g for g, _, _ in river_geoms])
    wanted = spec.ferries
    n_ferries = 0
    all_lines = shapely.STRtree(net.geoms())
    for rname, (lon, lat) in wanted:
        if n_ferries == 3:
            break
        rg, half_w = max(((g, hw) for g, hw, n in river_geoms if n == rname), key=lambda t: t[0].length)
        s = rg.project(shapely.points(utm(lon, lat)))
        p0 = rg.interpolate(s)
        q0, q1 = rg.interpolate(max(s - 50, 0)), rg.interpolate(min(s + 50, rg.length))
        tang = np.array([q1.x - q0.x, q1.y - q0.y])
        tang /= np.hypot(*tang)
        nrm = np.array([-tang[1], tang[0]])
        c = np.array([p0.x, p0.y])
        landings = [c + nrm * (half_w + 60), c - nrm * (half_w + 60)]
        access = []
        for e, sgn in zip(landings, (1, -1), strict=True):
            cand = tree.query_ball_point(e, 2500)
            cand = sorted(cand, key=lambda k: np.hypot(*(V[k] - e)))
            for k in cand[:40]:
                if sgn * ((V[k] - c) @ nrm) <= 0:
                    continue
                seg = shapely.linestrings([e, V[k]])
                if not seg.intersects(rivers):
                    access.append(np.array([e, V[k]]))
                    break
        if len(access) != 2:
            continue
        ferry = shapely.linestrings(np.array(landings))
        crossing = [h for h in all_lines.query(ferry, predicate="intersects") if net.attrs[h]["kind"] != "river"]
        if crossing:
            continue
        name = rname.removeprefix("Sông ")
        net.add(np.array(landings), kind="ferry", road_class="district",
                name=nfc(f"Bến phà {name}"), crossing_cost_m=2000.0)
        for xy in access:
            net.add(xy, kind="road", road_class="hamlet", name=nfc(f"Đường bến phà {name}"))
        n_ferries += 1
    if n_ferries < spec.min_ferries:
        raise SystemExit(f"could not place at least {spec.min_ferries} ferries")
    return net


def add_islands(net: Net, outline, rng, spec: Province) -> Net:
    """Two deliberate small islands: isolated canal pieces that touch nothing."""
    lines = shapely.union_all(net.geoms())
    placed = 0
    for lon, lat in spec.island_spots:
        if placed == 2:
            break
        c = utm(lon, lat)
        for _ in range(200):
            p = c + rng.uniform(-4000, 4000, 2)
            a = rng.uniform(0, np.pi)
            d = np.array([np.cos(a), np.sin(a)])
            xy = np.array([p - 300 * d, p, p + 300 * d + [0, 80]])
            g = shapely.linestrings(xy)
            if outline.buffer(-300).contains(g) and g.distance(lines) > 150:
                net.add(xy[:2], kind="canal", name=nfc(f"Kênh biệt lập {placed + 1}"))
                net.add(xy[1:], kind="canal", name=nfc(f"Kênh biệt lập {placed + 1}"))
                placed += 1
                break
    if placed != 2:
        raise SystemExit("could not place the two deliberate network islands")
    return net


def network_components(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node lines (shapely union) and label every input line with its component.

    Returns (labels per input line, component length in m, component id per noded piece)."""
    noded = shapely.get_parts(shapely.union_all(geoms))
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(noded, 0)),
                      shapely.get_coordinates(shapely.get_point(noded, -1))])
    uniq, inv = np.unique(ends, axis=0, return_inverse=True)
    m = len(noded)
    a, b = inv[:m], inv[m:]
    g = sparse.coo_matrix((np.ones(m), (a, b)), shape=(len(uniq), len(uniq)))
    _, lab = csgraph.connected_components(g, directed=False)
    comp_len = np.bincount(lab[a], weights=shapely.length(noded))
    first = shapely.get_coordinates(shapely.get_point(geoms, 0))
    key = {tuple(u): k for k, u in enumerate(uniq)}
    line_lab = np.array([lab[key[tuple(f)]] for f in first])
    return line_lab, comp_len, lab[a]


def keep_connected(net: Net) -> Net:
    idx = [i for i, a in enumerate(net.attrs) if a["kind"] != "river"]
    lab, comp_len, _ = network_components(net.geoms(idx))
    main = int(np.argmax(comp_len))
    island = {lab[k] for k, i in enumerate(idx) if net.attrs[i]["name"].startswith(nfc("Kênh biệt lập"))}
    drop = {i for k, i in enumerate(idx) if lab[k] != main and lab[k] not in island}
    out = Net()
    for i, (xy, at) in enumerate(zip(net.coords, net.attrs, strict=True)):
        if i not in drop:
            out.add(xy, **at)
    logger.info("roads: dropped %d stray pieces", len(drop))
    return out


# --------------------------------------------------------------------------------------
# main build
# --------------------------------------------------------------------------------------
def gpkg_of(layer: str, spec: Province) -> str:
    f = GPKG_OF_LAYER[layer]
    return f"{spec.slug}.gpkg" if f == "main" else f


def build(shared: Path, out: Path, seed: int = 2021, province: str = "Cà Mau") -> dict:
    spec = PROVINCES[nfc(province)]
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    pts, outline, neighbour, wp_path = load_inputs(shared, spec)
    communes, P = build_communes(pts, outline, rng)
    logger.info("communes built (%.1fs)", time.perf_counter() - t0)
    transform, shape, xs, ys, _ = make_grid(outline)
    ids, interior, inprov = zone_rasters(communes, outline, transform, shape)
    wp = worldpop_guide(wp_path, xs, ys)
    base = base_density(pts, outline, neighbour, xs, ys, wp, rng, spec)
    hamlets = build_hamlets(communes, interior, ids, base, xs, ys, rng)
    logger.info("hamlets %d (%.1fs)", len(hamlets), time.perf_counter() - t0)
    net, city, towns = build_roads(pts, hamlets, outline, neighbour, rng, spec)
    roads = gpd.GeoDataFrame(
        [a | {"geometry": shapely.linestrings(np.round(c, 2))} for c, a in zip(net.coords, net.attrs, strict=True)],
        crs=CRS,
    )[["kind", "road_class", "name", "crossing_cost_m", "geometry"]]
    logger.info("roads %d (%.1fs)", len(roads), time.perf_counter() - t0)
    # final population: base density boosted along roads, canals and rivers
    # people live along the roads, dikes and canal banks: weight falls off over ~100 m
    # from the nearest line (a touched cell's centre lies within 71 m of it)
    def dist_to(kinds):
        mask = features.rasterize(((g, 1) for g in roads.geometry[roads.kind.isin(kinds)]), out_shape=shape,
                                  transform=transform, all_touched=True, dtype="uint8")
        return ndimage.distance_transform_edt(mask == 0) * RES_M

    d_road, d_any = dist_to(["road", "bridge"]), dist_to(["road", "bridge", "canal"])
    dens = base * (0.002 + 3.0 * np.exp(-d_road / DIST_FALLOFF_M) + 1.0 * np.exp(-d_any / DIST_FALLOFF_M))
    zone = np.where(interior, ids, 0)
    pop = allocate(dens, zone, communes.pop2019.to_numpy())
    popf = np.where(inprov, pop, NODATA).astype("float32")
    # hamlet households from their population share (cell-centre rule)
    hid = features.rasterize(((g, i + 1) for i, g in enumerate(hamlets.geometry)), out_shape=shape,
                             transform=transform, fill=0, dtype="int32")
    hpop = np.bincount(hid.ravel(), weights=pop.ravel(), minlength=len(hamlets) + 1)[1:]
    hh = np.zeros(len(hamlets), np.int64)
    for c in communes.itertuples():
        sel = np.flatnonzero(hamlets.commune_code.to_numpy() == c.commune_code)
        hh[sel] = largest_remainder(int(c.hh2019), hpop[sel] + 1.0)
    hamlets["households"] = hh
    hamlets = hamlets[["hamlet_code", "hamlet_name", "commune_code", "hamlet_kind", "households", "geometry"]]

    ctx = {"communes": communes, "hamlets": hamlets, "roads": roads, "pop": pop, "xs": xs, "ys": ys,
           "transform": transform, "ids": ids, "city": city, "towns": towns, "rng": rng, "pts": pts,
           "outline": outline, "seed": seed, "spec": spec, "population": spec.population,
           "city_district": spec.city_district, "remote_districts": spec.remote_districts}
    sites, g5 = build_sites(ctx)
    cells = build_cells(sites, ctx)
    fiber, copper, fib_info = build_fiber(ctx)
    aps = build_access_points(fiber, ctx)
    poles, spans = build_poles(fiber, copper, fib_info, ctx)
    postal = build_postal(ctx)
    facilities = build_facilities(ctx)
    dtt = build_dtt(ctx)
    districts = communes.dissolve("district_code", aggfunc={"district_name": "first", "pop2019": "sum",
                                                             "hh2019": "sum"}).reset_index()
    districts = districts[["district_code", "district_name", "pop2019", "hh2019", "geometry"]]

    layers = {"communes": communes, "districts": districts, "hamlets": hamlets, "roads": roads,
              "fiber_routes": fiber, "copper_routes": copper, "access_points": aps, "poles": poles,
              "spans": spans, "postal_points": postal, "facilities": facilities, "dtt_transmitters": dtt}
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        tmp = Path(tmp)
        for name, gdf in layers.items():
            gdf = gdf.reset_index(drop=True)
            gdf.to_file(tmp / gpkg_of(name, spec), layer=name, driver="GPKG", engine="pyogrio",
                        SPATIAL_INDEX="NO")  # keeps the committed sample small (~3 MB less)
        prof = {"driver": "GTiff", "dtype": "float32", "width": shape[1], "height": shape[0],
                "count": 1, "crs": CRS, "transform": transform, "nodata": NODATA,
                "compress": "deflate", "predictor": 3, "zlevel": 9, "tiled": True,
                "blockxsize": 256, "blockysize": 256}
        with rasterio.open(tmp / "population_100m.tif", "w", **prof) as dst:
            dst.write(popf, 1)
            dst.update_tags(source="SYNTHETIC distribution of the GSO 2019 census per commune; "
                                   "guide WorldPop 2020 (CC BY 4.0)", seed=str(seed))
        sites.to_csv(tmp / "sites.csv", index=False, lineterminator="\n")
        cells.to_csv(tmp / "opencellid_452.csv", index=False, lineterminator="\n")
        for f in sorted({gpkg_of(n, spec) for n in GPKG_OF_LAYER}) + ["population_100m.tif", "sites.csv", "opencellid_452.csv"]:
            shutil.move(str(tmp / f), str(out / f))
    info = {name: len(g) for name, g in layers.items()}
    info |= {"sites_rows": len(sites), "sites": sites.site_id.nunique(), "cells": len(cells),
             "seconds": round(time.perf_counter() - t0, 1), "g5_coverage": g5}
    info |= fib_info.get("report", {})
    return info


# --------------------------------------------------------------------------------------
# sites and cells
# --------------------------------------------------------------------------------------
OPS = {"Viettel": "VTL", "VNPT": "VNP", "MobiFone": "MBF"}  # site id prefixes
# 4G sites per operator in Cà Mau (assumption, sized to the sample); other provinces scale
# them by census population (the same sites per person)
OPS_SITES_CAMAU = {"Viettel": 480, "VNPT": 330, "MobiFone": 290}


def _commune_at(ctx, xy: np.ndarray) -> np.ndarray:
    """Index of the commune holding each point (-1 if none)."""
    g = ctx["communes"].geometry.to_numpy()
    tree = shapely.STRtree(g)
    pi, ci = tree.query(shapely.points(xy), predicate="within")
    out = np.full(len(xy), -1)
    out[pi] = ci
    miss = np.flatnonzero(out < 0)
    if len(miss):
        out[miss] = tree.query_nearest(shapely.points(xy[miss]), all_matches=False)[1]
    return out


def build_sites(ctx):
    rng, pop, xs, ys = ctx["rng"], ctx["pop"], ctx["xs"], ctx["ys"]
    outline = ctx["outline"]
    cells = np.flatnonzero(pop.ravel() > 0)
    # sites go where people live: cells of < 2 persons (the thin fields between the
    # roads and canals) hold no site
    w = np.where(pop.ravel()[cells] >= 2.0, pop.ravel()[cells], 0.0) ** 0.55
    w /= w.sum()
    r, c = np.divmod(cells, len(xs))
    cxy = np.column_stack([xs[c], ys[r]])
    dens = pop.ravel()[cells]  # people per ha
    inner = outline.buffer(-150)

    def sample_independent(n, avoid=None, avoid_m=0.0):
        acc = []
        while len(acc) < n:
            pick = rng.choice(len(cells), size=4000, p=w)
            for k in pick:
                p = cxy[k] + rng.uniform(-40, 40, 2)
                spacing = 450.0 if dens[k] > 20 else 1800.0
                if acc and np.hypot(*(np.array(acc) - p).T).min() < spacing:
                    continue
                if avoid is not None and np.hypot(*(avoid - p).T).min() < avoid_m:
                    continue
                acc.append(p)
                if len(acc) == n:
                    break
        return np.array(acc)

    site_xy = {}
    n_sites = ctx["spec"].sites
    site_xy["Viettel"] = sample_independent(n_sites["Viettel"])
    vt = site_xy["Viettel"]
    for op in ("VNPT", "MobiFone"):
        n = n_sites[op]
        n_co, n_near = round(0.15 * n), round(0.10 * n)
        hosts = rng.choice(len(vt), size=n_co + n_near, replace=False)
        rows = []
        for k, h in enumerate(hosts):
            for _ in range(100):
                dist = rng.uniform(0, 30) if k < n_co else rng.uniform(60, 300)
                a = rng.uniform(0, 2 * np.pi)
                p = vt[h] + dist * np.array([np.cos(a), np.sin(a)])
                if inner.contains(shapely.points(p)):
                    break
            rows.append(p)
        indep = sample_independent(n - len(rows), avoid=vt, avoid_m=400.0)
        site_xy[op] = np.vstack([np.array(rows), indep])
        site_xy[op] = site_xy[op][rng.permutation(len(site_xy[op]))]
    communes = ctx["communes"]
    recs = []
    site_meta = []
    for op, pref in OPS.items():
        xy = site_xy[op]
        ci = _commune_at(ctx, xy)
        urban = communes.commune_type.to_numpy()[ci] != "Xã"
        for k, p in enumerate(xy):
            sid = f"{pref}-{k + 1:05d}"
            h = rng.uniform(20, 30) if urban[k] else rng.uniform(30, 45)
            off = rng.uniform(0, 120)
            tilt = rng.uniform(2, 6)
            pw = rng.choice([43.0, 44.0, 45.0, 46.0])
            for s, letter in enumerate("ABC"):
                recs.append({"sector_id": f"{sid}-{letter}", "site_id": sid, "operator": op,
                             "technology": "4G", "band": "B3",
                             "azimuth_deg": round((s * 120 + off) % 360, 1),
                             "height_m": round(h, 1), "tilt_deg": round(tilt, 1),
                             "tx_power_dbm": pw, "x": p[0], "y": p[1]})
            site_meta.append((sid, op, p, bool(urban[k]), h, off))
    # 5G on existing sites in the city and district towns, sized for ~20 % population
    meta = pd.DataFrame(site_meta, columns=["site_id", "operator", "p", "urban", "h", "off"])
    pc = pop.ravel()[cells]
    tree = cKDTree(cxy)
    # effective radii of one 5G site under ictplan's default profiles (TR 38.901 UMa, SS-RSRP
    # ≥ -110 dBm, 64T64R), measured on the sample's coverage rasters: n41 ≈ 1.9 km, n78 ≈ 1.6 km
    radius = {"Viettel": 1900.0, "VNPT": 1600.0, "MobiFone": 1600.0}
    score = np.array([pc[tree.query_ball_point(p, radius[o])].sum() for p, o in zip(meta.p, meta.operator, strict=True)])
    meta["score"] = np.where(meta.urban, score, score * 0.3)
    share = {"Viettel": 0.45, "VNPT": 0.30, "MobiFone": 0.25}

    def pick(total):
        chosen = []
        for op, s in share.items():
            m = meta[meta.operator == op].sort_values("score", ascending=False)
            chosen.append(m.head(round(total * s)))
        return pd.concat(chosen)

    def coverage(ch):
        covered = np.zeros(len(cxy), bool)
        for op in share:
            pp = np.vstack(ch[ch.operator == op].p.to_numpy()) if (ch.operator == op).any() else None
            if pp is None:
                continue
            d, _ = cKDTree(pp).query(cxy, distance_upper_bound=radius[op])
            covered |= np.isfinite(d)
        return float(pc[covered].sum() / ctx["population"])

    best = None
    for total in range(20, 151, 2):
        ch = pick(total)
        cov = coverage(ch)
        if best is None or abs(cov - 0.20) < abs(best[1] - 0.20):
            best = (ch, cov, total)
    ch, cov, _ = best
    for row in ch.itertuples():
        band = "n41" if row.operator == "Viettel" else "n78"
        tilt = rng.uniform(3, 8)
        pw = float(rng.choice([49.0, 50.0, 51.0, 52.0, 53.0]))
        for s, letter in enumerate("DEF"):
            recs.append({"sector_id": f"{row.site_id}-{letter}", "site_id": row.site_id,
                         "operator": row.operator, "technology": "5G", "band": band,
                         "azimuth_deg": round((s * 120 + row.off) % 360, 1),
                         "height_m": round(row.h, 1), "tilt_deg": round(tilt, 1),
                         "tx_power_dbm": pw, "x": row.p[0], "y": row.p[1]})
    df = pd.DataFrame(recs)
    lon, lat = TO_LL.transform(df.x.to_numpy(), df.y.to_numpy())
    df["lon"], df["lat"] = np.round(lon, 6), np.round(lat, 6)
    ctx["site_xy"] = site_xy
    ctx["g5_sites"] = len(ch)
    df = df.drop(columns=["x", "y"])
    return df, {"pop_frac": round(cov, 4), "sites": int(len(ch))}


def build_cells(sites: pd.DataFrame, ctx) -> pd.DataFrame:
    rng = ctx["rng"]
    net = {"Viettel": 4, "VNPT": 2, "MobiFone": 1}
    xy = np.column_stack(TO_UTM.transform(sites.lon.to_numpy(), sites.lat.to_numpy()))
    ci = _commune_at(ctx, xy)
    dcode = ctx["communes"].district_code.to_numpy()[ci].astype(int)
    rows = []
    base_enb = {"Viettel": 120000, "VNPT": 240000, "MobiFone": 360000}
    lac_base, district_base = ctx["spec"].lac_base, ctx["spec"].district_base
    for k, r in enumerate(sites.itertuples()):
        num = int(r.site_id.split("-")[1])
        sec = "ABCDEF".index(r.sector_id[-1])
        enb = base_enb[r.operator] + num + (50000 if r.technology == "5G" else 0)
        dist = rng.uniform(50, 300)
        a = rng.uniform(0, 2 * np.pi)
        p = xy[k] + dist * np.array([np.cos(a), np.sin(a)])
        created = int(rng.integers(1_420_070_400, 1_672_531_200))  # 2015..2023
        rows.append({
            "radio": "LTE" if r.technology == "4G" else "NR", "mcc": 452, "net": net[r.operator],
            "area": lac_base + 100 * net[r.operator] + (dcode[k] - district_base),
            "cell": enb * 256 + (sec % 3) + 1, "unit": int(rng.integers(0, 504)),
            "x": p[0], "y": p[1], "range": int(rng.integers(300, 6000)),
            "samples": int(rng.integers(1, 400)), "changeable": int(rng.random() < 0.95),
            "created": created, "updated": int(created + rng.integers(86400, 2 * 365 * 86400)),
            "averageSignal": 0,
        })
    # a few Vietnamobile rows and some legacy GSM/UMTS rows near existing sites
    vt = ctx["site_xy"]["Viettel"]
    for k in range(12):
        p = vt[rng.integers(len(vt))] + rng.uniform(-400, 400, 2)
        created = int(rng.integers(1_420_070_400, 1_672_531_200))
        rows.append({"radio": "LTE" if k < 8 else "GSM", "mcc": 452, "net": 5,
                     "area": 30100 + k % 3, "cell": (int(rng.integers(1000, 9000)) * 256 + 1) if k < 8
                     else int(rng.integers(1000, 65535)), "unit": int(rng.integers(0, 504)) if k < 8 else 0,
                     "x": p[0], "y": p[1], "range": int(rng.integers(500, 5000)),
                     "samples": int(rng.integers(1, 60)), "changeable": 1, "created": created,
                     "updated": created + 86400 * int(rng.integers(1, 500)), "averageSignal": 0})
    for k in range(30):
        op = ["Viettel", "VNPT", "MobiFone"][k % 3]
        xy_op = ctx["site_xy"][op]
        p = xy_op[rng.integers(len(xy_op))] + rng.uniform(-300, 300, 2)
        gsm = k < 18
        created = int(rng.integers(1_262_304_000, 1_514_764_800))  # 2010..2017
        rows.append({"radio": "GSM" if gsm else "UMTS", "mcc": 452, "net": net[op],
                     "area": int(rng.integers(10000, 10100)),
                     "cell": int(rng.integers(1, 65535)) if gsm else int(rng.integers(100, 4000)) * 65536
                     + int(rng.integers(1, 65535)),
                     "unit": 0 if gsm else int(rng.integers(0, 512)),
                     "x": p[0], "y": p[1], "range": int(rng.integers(1000, 10000)),
                     "samples": int(rng.integers(1, 200)), "changeable": 1, "created": created,
                     "updated": created + 86400 * int(rng.integers(1, 1500)), "averageSignal": 0})
    df = pd.DataFrame(rows)
    lon, lat = TO_LL.transform(df.x.to_numpy(), df.y.to_numpy())
    df["lon"], df["lat"] = np.round(lon, 6), np.round(lat, 6)
    cols = ["radio", "mcc", "net", "area", "cell", "unit", "lon", "lat", "range", "samples",
            "changeable", "created", "updated", "averageSignal"]
    return df[cols]


# --------------------------------------------------------------------------------------
# postal points, facilities, DTT
# --------------------------------------------------------------------------------------
def _near(p, rng, lo=30.0, hi=250.0):
    a = rng.uniform(0, 2 * np.pi)
    d = rng.uniform(lo, hi)
    return p + d * np.array([np.cos(a), np.sin(a)])


def _short(name: str) -> str:
    for pre in ("Thị trấn ", "Thị Trấn ", "Xã ", "Phường "):
        if name.startswith(nfc(pre)):
            return name[len(nfc(pre)):]
    return name


def _town_name(district_name: str) -> str:
    for pre in ("Huyện ", "Thành phố "):
        if district_name.startswith(nfc(pre)):
            return district_name[len(nfc(pre)):]
    return district_name


def _inside(p, poly, rng, centre):
    for _ in range(50):
        if poly.contains(shapely.points(p)):
            return p
        p = centre + (p - centre) * 0.5
    return centre


def build_postal(ctx):
    rng, communes, pts = ctx["rng"], ctx["communes"], ctx["pts"]
    P = pts[["x", "y"]].to_numpy()
    rows = []
    spec = ctx["spec"]
    city_d, pname = nfc(spec.city_district), nfc(spec.name)
    remote = (communes.commune_type.to_numpy() == "Xã") & (communes.district_name.to_numpy() != city_d)
    no_staff = set(rng.choice(np.flatnonzero(remote), 4, replace=False).tolist())
    agents = set(sorted(no_staff)[:2])
    for i, c in enumerate(communes.itertuples()):
        if i in no_staff:
            if i in agents:  # two of them keep an unstaffed agent point
                p = _inside(_near(P[i], rng), c.geometry, rng, P[i])
                rows.append({"name": nfc(f"Đại lý bưu điện {_short(c.commune_name)}"), "commune": i,
                             "staffed": False, "kind": "agent", "geometry": p})
            continue
        p = _inside(_near(P[i], rng), c.geometry, rng, P[i])
        if c.commune_type == "Xã":
            name, kind = f"Điểm BĐ-VHX {_short(c.commune_name)}", "cultural_post"
        else:
            name, kind = f"Bưu cục {_short(c.commune_name)}", "post_office"
        rows.append({"name": nfc(name), "commune": i, "staffed": True, "kind": kind, "geometry": p})
    # extra post offices in the city and district towns
    city_w = np.flatnonzero((communes.district_name == city_d).to_numpy())
    rows.append({"name": nfc(f"Bưu điện tỉnh {pname}"), "commune": -1, "staffed": True, "kind": "post_office",
                 "geometry": _near(ctx["city"], rng, 50, 200)})
    rows.append({"name": nfc(f"Bưu cục {pname}"), "commune": -1, "staffed": True, "kind": "post_office",
                 "geometry": _near(ctx["city"], rng, 300, 700)})
    for k in range(spec.city_post_offices):
        i = int(rng.choice(city_w))
        p = _inside(_near(P[i], rng, 300, 1500), communes.geometry.iloc[i], rng, P[i])
        rows.append({"name": nfc(f"Bưu cục {pname} {k + 2}"), "commune": i, "staffed": True,
                     "kind": "post_office", "geometry": p})
    towns = communes[(communes.commune_type != "Xã") & (communes.district_name != city_d)]
    for i in towns.index:
        for k in range(1 + int(rng.random() < 0.5)):
            p = _inside(_near(P[i], rng, 200, 1200), communes.geometry.iloc[i], rng, P[i])
            rows.append({"name": nfc(f"Bưu cục {_short(communes.commune_name.iloc[i])} {k + 2}"),
                         "commune": i, "staffed": True, "kind": "post_office", "geometry": p})
    df = pd.DataFrame(rows)
    xy = np.vstack(df.geometry.to_numpy())
    ci = _commune_at(ctx, xy)
    n = len(df)
    rural = np.flatnonzero(df.kind.to_numpy() == "cultural_post")
    no_net = rng.choice(rural, 10, replace=False)
    no_online = np.r_[no_net, rng.choice(np.setdiff1d(rural, no_net), 10, replace=False)]
    internet = np.ones(n, bool)
    internet[no_net] = False
    online = np.ones(n, bool)
    online[no_online] = False
    agent = df.kind.to_numpy() == "agent"
    internet[agent] = False
    online[agent] = False
    return gpd.GeoDataFrame({
        "point_id": [f"BD-{k + 1:04d}" for k in range(n)], "name": df.name,
        "commune_code": communes.commune_code.to_numpy()[ci], "staffed": df.staffed.astype(bool),
        "internet": internet, "online_services": online, "kind": df.kind,
    }, geometry=shapely.points(xy), crs=CRS)


PROVINCE_AGENCIES = [
    "Văn phòng Tỉnh ủy {p}", "Văn phòng UBND tỉnh {p}", "Văn phòng Đoàn ĐBQH và HĐND tỉnh",
    "Sở Thông tin và Truyền thông", "Sở Kế hoạch và Đầu tư", "Sở Tài chính", "Sở Nội vụ",
    "Sở Tư pháp", "Sở Công Thương", "Sở Nông nghiệp và Phát triển nông thôn",
    "Sở Tài nguyên và Môi trường", "Sở Giao thông vận tải", "Sở Xây dựng", "Sở Y tế",
    "Sở Giáo dục và Đào tạo", "Sở Lao động - Thương binh và Xã hội", "Sở Văn hóa, Thể thao và Du lịch",
    "Sở Khoa học và Công nghệ", "Thanh tra tỉnh", "Ban Dân tộc tỉnh", "Công an tỉnh {p}",
    "Bộ Chỉ huy Quân sự tỉnh", "Trung tâm Phục vụ hành chính công tỉnh", "Cục Thuế tỉnh {p}",
    "Kho bạc Nhà nước {p}",
]
DISTRICT_AGENCIES = [
    "UBND {t}", "Huyện ủy {t}", "Phòng Văn hóa và Thông tin {t}", "Phòng Tài chính - Kế hoạch {t}",
    "Phòng Nội vụ {t}", "Phòng Giáo dục và Đào tạo {t}", "Phòng Tài nguyên và Môi trường {t}",
    "Bộ phận Một cửa {t}",
]


def _lower_type(district_name: str, city: bool = True) -> str:
    """'Huyện X' -> 'huyện X' (as inside a name); also 'Thị xã', and 'Thành phố' if ``city``."""
    t = district_name.replace("Huyện", "huyện").replace("Thị xã", "thị xã")
    return t.replace("Thành phố", "thành phố") if city else t


def build_facilities(ctx):
    rng, communes, pts = ctx["rng"], ctx["communes"], ctx["pts"]
    P = pts[["x", "y"]].to_numpy()
    rows = []

    def add(name, kind, level, p):
        rows.append({"name": nfc(name), "kind": kind, "level": level, "geometry": p})

    city = ctx["city"]
    spec = ctx["spec"]
    pname, city_d = nfc(spec.name), nfc(spec.city_district)
    for nm in PROVINCE_AGENCIES:
        add(nm.format(p=pname), "agency", "province", _near(city, rng, 100, 1800))
    seats = {}
    for d, grp in communes.groupby("district_code"):
        dn = grp.district_name.iloc[0]
        towns = grp[grp.commune_type != "Xã"]
        seat = P[towns.index[0]] if len(towns) else P[grp.index[0]]
        if dn == city_d:
            seat = P[communes.index[(communes.commune_name == nfc(spec.city_seat))
                                    & (communes.district_name == city_d)][0]]
        seats[d] = seat
        t = _lower_type(dn)
        for nm in DISTRICT_AGENCIES:
            add(nm.format(t=t), "agency", "district", _near(seat, rng, 50, 700))
    for i, c in enumerate(communes.itertuples()):
        ty = c.commune_type.lower()
        sn = _short(c.commune_name)
        base = P[i]
        add(f"UBND {ty} {sn}", "commune_office", "commune", _inside(_near(base, rng, 10, 120), c.geometry, rng, base))
        add(f"Trạm Y tế {ty} {sn}", "health_station", "commune", _inside(_near(base, rng, 80, 500), c.geometry, rng, base))
        schools = [f"Trường Tiểu học {sn}", f"Trường THCS {sn}", f"Trường Mầm non {sn}"]
        if rng.random() < 0.3:
            schools.append(f"Trường Tiểu học {sn} 2")
        for s in schools:
            add(s, "school", "commune", _inside(_near(base, rng, 150, 2500), c.geometry, rng, base))
    hospitals = ["Bệnh viện Đa khoa tỉnh {p}", "Bệnh viện Sản - Nhi {p}",
                 "Bệnh viện Y học cổ truyền {p}", "Bệnh viện Lao và Bệnh phổi {p}"]
    for nm in hospitals:
        add(nm.format(p=pname), "hospital", "province", _near(city, rng, 500, 3000))
    for d, seat in seats.items():
        dn = communes.district_name[communes.district_code == d].iloc[0]
        if dn == city_d:
            continue
        add(f"Trung tâm Y tế {_lower_type(dn, city=False)}", "hospital", "district", _near(seat, rng, 200, 900))
    add(f"Trung tâm dữ liệu Viettel {pname}", "data_centre", None, _near(city, rng, 800, 2000))
    add(f"Trung tâm dữ liệu VNPT {pname}", "data_centre", None, _near(city, rng, 300, 1200))
    df = pd.DataFrame(rows)
    xy = np.vstack(df.geometry.to_numpy())
    ci = _commune_at(ctx, xy)
    return gpd.GeoDataFrame({
        "facility_id": [f"FAC-{k + 1:04d}" for k in range(len(df))], "name": df.name, "kind": df.kind,
        "commune_code": communes.commune_code.to_numpy()[ci], "level": df.level,
        "urban": communes.commune_type.to_numpy()[ci] != "Xã",
    }, geometry=shapely.points(xy), crs=CRS)


def build_dtt(ctx):
    rng = ctx["rng"]
    T = ctx["towns"] | {"city": ctx["city"]}
    spec = [(name, T[key], f, erp, h) for name, key, f, erp, h in ctx["spec"].dtt]
    return gpd.GeoDataFrame({
        "tx_id": [f"DTT-{k + 1}" for k in range(len(spec))], "name": [nfc(s[0]) for s in spec],
        "freq_mhz": [s[2] for s in spec], "erp_dbm": [s[3] for s in spec], "height_m": [s[4] for s in spec],
    }, geometry=[shapely.points(_near(s[1], rng, 300, 900)) for s in spec], crs=CRS)


# --------------------------------------------------------------------------------------
# the provinces
# --------------------------------------------------------------------------------------
CAMAU_POP, BACLIEU_POP = 1_194_476, 907_236  # GSO 2019 census totals (checked on load)

PROVINCES = {nfc(p.name): p for p in (
    Province(
        name="Cà Mau", slug="camau", neighbour="Bạc Liêu", points_csv="commune_points_2019.csv",
        n_communes=101, population=CAMAU_POP, city_district="Thành phố Cà Mau", city_seat="Phường 5",
        city_lonlat=(105.152, 9.183),
        remote_districts=("Huyện Ngọc Hiển", "Huyện U Minh", "Huyện Đầm Dơi", "Huyện Năm Căn"),
        sites=OPS_SITES_CAMAU, lac_base=12000, district_base=964, city_post_offices=12,
        dtt=(("Đài phát DVB-T2 Cà Mau", "city", 610.0, 69.5, 150.0),
             ("Đài phát DVB-T2 Năm Căn", "namcan", 554.0, 67.8, 120.0),
             ("Đài phát DVB-T2 Thới Bình", "thoibinh", 658.0, 68.2, 105.0)),
        ferries=(("Sông Cửa Lớn", (104.86, 8.715)), ("Sông Cửa Lớn", (105.13, 8.765)),
                 ("Sông Gành Hào", (105.30, 9.065)), ("Sông Cửa Lớn", (104.78, 8.69)),
                 ("Sông Gành Hào", (105.36, 9.04)), ("Sông Ông Đốc", (104.90, 9.06))),
        min_ferries=2, island_spots=((104.93, 8.61), (105.28, 8.80), (104.80, 9.50), (104.90, 8.78)),
        density=density_camau, main_roads=main_roads_camau, farmland=farmland_camau,
    ),
    Province(
        name="Bạc Liêu", slug="baclieu", neighbour="Cà Mau", points_csv="commune_points_2019_baclieu.csv",
        n_communes=64, population=BACLIEU_POP, city_district="Thành phố Bạc Liêu", city_seat="Phường 3",
        city_lonlat=(105.724, 9.288), remote_districts=("Huyện Đông Hải", "Huyện Hồng Dân"),
        sites={op: round(n * BACLIEU_POP / CAMAU_POP) for op, n in OPS_SITES_CAMAU.items()},
        lac_base=11000, district_base=954, city_post_offices=round(12 * BACLIEU_POP / CAMAU_POP),
        dtt=(("Đài phát DVB-T2 Bạc Liêu", "city", 626.0, 69.0, 150.0),
             ("Đài phát DVB-T2 Giá Rai", "giarai", 570.0, 67.5, 110.0),
             ("Đài phát DVB-T2 Hồng Dân", "ngandua", 642.0, 67.0, 100.0)),
        ferries=(),  # the Gành Hào ferry lands in Cà Mau, outside this study
        min_ferries=0, island_spots=((105.33, 9.47), (105.36, 9.12), (105.60, 9.42), (105.80, 9.30)),
        density=density_baclieu, main_roads=main_roads_baclieu, farmland=farmland_baclieu,
    ),
)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--province", default="Cà Mau", choices=sorted(PROVINCES),
                    help="which old province to build (default: Cà Mau)")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data" / "camau",
                    help="folder with the real inputs (default: <repo>/../shared/data/camau)")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default: data/<camau|baclieu>)")
    ap.add_argument("--seed", type=int, default=2021)
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if not args.shared.is_dir():
        raise SystemExit(f"real inputs not found at {args.shared}; pass --shared DIR")
    spec = PROVINCES[nfc(args.province)]
    out = args.out if args.out is not None else REPO / "data" / spec.slug
    info = build(args.shared, out, args.seed, spec.name)
    for k, v in info.items():
        print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
