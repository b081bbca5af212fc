"""Maps for leadership: ictplan's offline map vs geopandas ``explore()`` on the same layers.

Workloads (synthetic, seeded; nothing written to the repository):

* **map_html** -- communes as a quantile choropleth of density + districts + sites, saved
  as one HTML page. ictplan: simplified for display, coordinates rounded to ~1 m, Leaflet
  inlined (works offline). Conventional: ``GeoDataFrame.explore()`` on the full geometry
  (CDN scripts, so it needs the Internet). Compared: time, HTML size, peak memory; the
  answers agree when both pages hold the same number of features and the same class bounds.
* **raster_overlay** -- a province-sized 100 m raster drawn as an image overlay: ictplan
  warps it to Web Mercator (nearest) and colours it; conventional: folium's
  ``ImageOverlay(mercator_project=True)`` on the array, which treats UTM rows as lat/lon
  rows. Agreement: the overlay's lon/lat bounds match the grid's true extent within 0.002°.

Each workload runs in a fresh process (fork) so its peak memory is its own.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import re
import resource
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np

SCALES = {"small": {"communes": 20, "vertices": 200, "sites": 200, "raster": 200},
          "full": {"communes": 100, "vertices": 580, "sites": 1500, "raster": 750}}


def _layers(scale: str):
    import geopandas as gpd
    import pyproj
    import shapely
    from shapely.ops import voronoi_diagram

    p = SCALES[scale]
    rng = np.random.default_rng(42)
    x0, y0, side = 480_000.0, 950_000.0, 75_000.0
    box = shapely.box(x0, y0, x0 + side, y0 + side)
    seeds = shapely.multipoints(np.c_[rng.uniform(x0, x0 + side, p["communes"]), rng.uniform(y0, y0 + side, p["communes"])])
    cells = [c.intersection(box) for c in voronoi_diagram(seeds, envelope=box).geoms]
    # densify to about p["vertices"] vertices per commune, with a little noise (digitised boundaries)
    geoms = []
    for c in cells:
        seg = c.exterior.length / p["vertices"]
        ring = np.asarray(shapely.segmentize(c, seg).exterior.coords)
        ring[1:-1] += rng.normal(0, 2.0, ring[1:-1].shape)
        geoms.append(shapely.Polygon(ring).buffer(0))
    crs = pyproj.CRS.from_epsg(32648)
    communes = gpd.GeoDataFrame({
        "commune_code": [f"{i:05d}" for i in range(len(geoms))], "commune_name": [f"Xã Số {i}" for i in range(len(geoms))],
        "commune_type": "Xã", "district_code": [f"{i % 9:03d}" for i in range(len(geoms))],
        "district_name": [f"Huyện {i % 9}" for i in range(len(geoms))],
        "pop2019": rng.integers(3_000, 30_000, len(geoms)), "hh2019": rng.integers(800, 8_000, len(geoms)),
    }, geometry=geoms, crs=crs)
    n = p["sites"]
    ops = rng.choice(["Viettel", "VNPT", "MobiFone"], n)
    sites = gpd.GeoDataFrame({
        "sector_id": [f"S{i}" for i in range(n)], "site_id": [f"S{i}" for i in range(n)], "operator": ops,
        "technology": rng.choice(["4G", "5G"], n, p=[0.7, 0.3]), "band": "B3", "azimuth_deg": np.nan, "height_m": 30.0,
    }, geometry=gpd.points_from_xy(rng.uniform(x0, x0 + side, n), rng.uniform(y0, y0 + side, n)), crs=crs)
    districts = communes.dissolve("district_name", as_index=False)[["district_name", "geometry"]]
    districts["n_communes"] = communes.groupby("district_name").size().to_numpy()
    return communes, districts, sites


def _n_features(page: str) -> int:
    return len(re.findall(r'"type":\s*"Feature"', page))


def _fake_study(communes, districts, sites):
    layers = {"communes": communes, "districts": districts, "sites": sites}
    return SimpleNamespace(name="bench", crs=communes.crs, bounds_lonlat=None, layer=layers.__getitem__, layer_specs=layers,
                           has=lambda n: n in layers)


def _ictplan_map(scale: str, q) -> None:
    import folium  # noqa: F401 - imports are not timed, for either side
    import mapclassify  # noqa: F401
    import matplotlib.pyplot  # noqa: F401

    from ictplan import maps

    communes, districts, sites = _layers(scale)
    s = _fake_study(communes, districts, sites)
    t0 = time.perf_counter()
    page = maps.to_html(maps.study_map(s, layers=("communes", "districts", "sites")))
    dt = time.perf_counter() - t0
    bounds, _ = maps.classify(maps.commune_figures(communes, crs=communes.crs)["density_per_km2"], scheme="quantiles", k=5)
    q.put({"s": dt, "bytes": len(page.encode()), "features": _n_features(page),
           "external": len(maps.external_resources(page)), "bins": [float(b) for b in bounds],
           "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def _explore_map(scale: str, q) -> None:
    import folium  # noqa: F401
    import mapclassify
    import matplotlib.pyplot  # noqa: F401

    communes, districts, sites = _layers(scale)
    t0 = time.perf_counter()
    c = communes.copy()
    c["density_per_km2"] = c["pop2019"] / (c.area / 1e6)
    m = c.explore(column="density_per_km2", scheme="quantiles", k=5, tooltip=["commune_name", "district_name", "pop2019"])
    districts.explore(m=m, style_kwds={"fill": False, "color": "#222"})
    sites.drop_duplicates("site_id").explore(m=m, column="operator", marker_type="circle_marker")
    with tempfile.TemporaryDirectory() as d:
        m.save(f"{d}/m.html")
        page = Path(f"{d}/m.html").read_text(encoding="utf-8")
    dt = time.perf_counter() - t0
    from ictplan import maps

    q.put({"s": dt, "bytes": len(page.encode()), "features": _n_features(page),
           "external": len(maps.external_resources(page)),
           "bins": [float(b) for b in mapclassify.Quantiles(c["density_per_km2"], k=5).bins],
           "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def _grid(scale: str):
    import pyproj
    from affine import Affine

    from ictplan.grid import Grid

    n = SCALES[scale]["raster"]
    return Grid(Affine(100.0, 0, 480_000.0, 0, -100.0, 950_000.0 + 100.0 * n), n, n, pyproj.CRS.from_epsg(32648))


def _true_extent(g):
    import pyproj

    x0, y0, x1, y1 = g.bounds
    xs = np.r_[np.linspace(x0, x1, 50), np.full(50, x1), np.linspace(x1, x0, 50), np.full(50, x0)]
    ys = np.r_[np.full(50, y0), np.linspace(y0, y1, 50), np.full(50, y1), np.linspace(y1, y0, 50)]
    lon, lat = pyproj.Transformer.from_crs(g.crs, 4326, always_xy=True).transform(xs, ys)
    return (min(lon), min(lat), max(lon), max(lat))


def _ictplan_raster(scale: str, q) -> None:
    from ictplan import maps

    g = _grid(scale)
    v = np.random.default_rng(1).gamma(2.0, 10.0, g.shape)
    t0 = time.perf_counter()
    png, b, _ = maps.raster_image(v, g, cmap="viridis")
    dt = time.perf_counter() - t0
    err = max(abs(a - e) for a, e in zip(b, _true_extent(g), strict=True))
    q.put({"s": dt, "bytes": len(png), "err_deg": float(err), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def _folium_raster(scale: str, q) -> None:
    import folium
    import pyproj
    from matplotlib import colormaps

    g = _grid(scale)
    v = np.random.default_rng(1).gamma(2.0, 10.0, g.shape)
    t0 = time.perf_counter()
    x0, y0, x1, y1 = g.bounds
    lon0, lat0 = pyproj.Transformer.from_crs(g.crs, 4326, always_xy=True).transform(x0, y0)  # corners only
    lon1, lat1 = pyproj.Transformer.from_crs(g.crs, 4326, always_xy=True).transform(x1, y1)
    rgba = colormaps["viridis"]((v - v.min()) / (v.max() - v.min()))
    ov = folium.raster_layers.ImageOverlay(rgba, bounds=[[lat0, lon0], [lat1, lon1]], mercator_project=True)
    m = folium.Map(location=[lat0, lon0])
    ov.add_to(m)
    page = m.get_root().render()
    dt = time.perf_counter() - t0
    err = max(abs(a - e) for a, e in zip((lon0, lat0, lon1, lat1), _true_extent(g), strict=True))
    q.put({"s": dt, "bytes": len(page), "err_deg": float(err), "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def _in_child(fn, scale: str) -> dict:
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=fn, args=(scale, q))
    p.start()
    out = q.get(timeout=900)
    p.join(timeout=60)
    return out


def main(scale: str = "full") -> list[dict]:
    warnings.simplefilter("ignore")
    reps = 1 if scale == "small" else 3
    ip = min((_in_child(_ictplan_map, scale) for _ in range(reps)), key=lambda r: r["s"])
    cv = min((_in_child(_explore_map, scale) for _ in range(reps)), key=lambda r: r["s"])
    n_sectors = SCALES[scale]["sites"]  # ictplan also draws a sector wedge per site (explore has none)
    agree = ip["features"] == cv["features"] + n_sectors and np.allclose(ip["bins"], cv["bins"], rtol=0, atol=0.05)
    rows = [{
        "workload": "map_html: communes choropleth + districts + sites, one HTML page", "scale": scale,
        "ictplan_s": ip["s"], "conventional_s": cv["s"], "ratio": cv["s"] / ip["s"], "peak_mb": ip["peak_mb"],
        "answers_agree": bool(agree), "tolerance": "same features in the page (ictplan = explore + one sector wedge per site); same quantile class bounds within 0.05 people/km² (ictplan shows density rounded to 0.1)",
        "notes": (f"HTML {ip['bytes'] / 1e6:.2f} MB offline ({ip['external']} external refs) vs explore() "
                  f"{cv['bytes'] / 1e6:.2f} MB needing {cv['external']} CDN files; conventional peak {cv['peak_mb']:.0f} MB; "
                  f"features ictplan {ip['features']} vs explore {cv['features']}"),
    }]
    ir = min((_in_child(_ictplan_raster, scale) for _ in range(reps)), key=lambda r: r["s"])
    fr = min((_in_child(_folium_raster, scale) for _ in range(reps)), key=lambda r: r["s"])
    rows.append({
        "workload": "raster_overlay: 100 m UTM raster as a map image", "scale": scale,
        "ictplan_s": ir["s"], "conventional_s": fr["s"], "ratio": fr["s"] / ir["s"], "peak_mb": ir["peak_mb"],
        "answers_agree": bool(ir["err_deg"] < 0.002), "tolerance": "overlay bounds within 0.002° of the grid's true lon/lat extent",
        "notes": (f"bounds error ictplan {ir['err_deg']:.5f}° vs folium mercator_project on corner-only bounds {fr['err_deg']:.5f}°; "
                  f"PNG {ir['bytes'] / 1e6:.2f} MB vs page {fr['bytes'] / 1e6:.2f} MB; conventional peak {fr['peak_mb']:.0f} MB"),
    })
    return rows


if __name__ == "__main__":
    import sys

    for r in main(sys.argv[1] if len(sys.argv) > 1 else "small"):
        print(json.dumps(r, default=float, ensure_ascii=False))
