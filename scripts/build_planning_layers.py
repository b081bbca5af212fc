"""Build the sample's SYNTHETIC planning layers: substations, energy zones, protected forest, elevation.

    python scripts/build_planning_layers.py data/camau      # writes data/camau/planning.gpkg, elevation_100m.tif

The data-centre siting (:mod:`ictplan.planning.datacentre`) needs four layers the sample lacks.
They are made here from the study's own layers only (the real commune names and the synthetic
commune polygons, roads and land cover), placed plausibly on the real geography, and every
feature says so in its ``source`` column ("synthetic: ..."). None is a survey of the real
Cà Mau grid, plan or forest: do not use them to make statements about the real province.

* ``substations`` (points): 3 × 220 kV (Cà Mau city, the Khánh An power complex, Năm Căn) and
  11 × 110 kV (the district towns, Cà Mau city's south-east, two coastal wind collectors), each
  within 1.5 km of its commune's representative point (seeded offset, kept inside the commune),
  the Khánh An one at the power complex's representative point (its switchyard).
* ``energy_zones`` (polygons): the Khánh An industrial park (2.4 × 1.6 km, in Khánh An where it
  is nearest Cà Mau city) and the power complex beside it; the Hòa Trung industrial park in
  Lương Thế Trân; two coastal wind zones (a 3 km strip along the sea in Khánh Hội / Khánh Bình Tây
  and in Tân Thuận / Tân Tiến / Nguyễn Huân); a solar zone (3 × 2 km) in Khánh Bình Đông.
* ``protected_areas`` (polygons, from the synthetic land cover): the U Minh Hạ national park
  (special-use forest) = the tree-cover cells (class 10); the Mũi Cà Mau national park
  (special-use) = the mangrove cells (95) of Đất Mũi, Viên An, Viên An Đông and Tân Ân; the
  coastal protection forest = every other mangrove cell (95). Energy zones (and 300 m around
  them) are cut out.
* ``elevation_100m.tif`` (int16 decimetres above mean sea level on the population grid, DEFLATE,
  nodata −32768 outside the province, tag ``synthetic = yes``): a low delta, 0.8 m in the south
  rising to 1.3 m in the north-east, ± 0.25 m smooth seeded noise; water (80: rivers, canals,
  shrimp ponds) 0.2 m; mangroves (95) 0.4 m; tree cover (10, peat swamp) + 0.2 m; built-up (50)
  + 1.0 m (filled land); industrial parks and the power complex 1.2 m above the local ground
  (filled above the floods); road embankments + 1.5 m (national, provincial), + 0.8 m (district,
  commune), + 0.3 m (hamlet dikes) on the cells the road crosses; clipped to [0, 4] m.

Deterministic for a ``--seed`` (default 2021).
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from rasterio import features
from scipy import ndimage

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import ictplan  # noqa: E402

SRC = "synthetic: scripts/build_planning_layers.py, placed on the sample's communes"
NODATA = -32768

# (name, voltage kV, commune)
SUBSTATIONS = [
    ("TBA 220 kV Cà Mau", 220.0, "Phường Tân Xuyên"),
    ("TBA 220 kV Khánh An", 220.0, "Xã Khánh An"),
    ("TBA 220 kV Năm Căn", 220.0, "Thị Trấn Năm Căn"),
    ("TBA 110 kV Cà Mau 2", 110.0, "Phường 6"),
    ("TBA 110 kV Thới Bình", 110.0, "Thị trấn Thới Bình"),
    ("TBA 110 kV U Minh", 110.0, "Thị trấn U Minh"),
    ("TBA 110 kV Trần Văn Thời", 110.0, "Thị trấn Trần Văn Thời"),
    ("TBA 110 kV Sông Đốc", 110.0, "Thị trấn Sông Đốc"),
    ("TBA 110 kV Cái Nước", 110.0, "Thị trấn Cái Nước"),
    ("TBA 110 kV Đầm Dơi", 110.0, "Thị trấn Đầm Dơi"),
    ("TBA 110 kV Cái Đôi Vàm", 110.0, "Thị trấn Cái Đôi Vàm"),
    ("TBA 110 kV Rạch Gốc", 110.0, "Thị trấn Rạch Gốc"),
    ("TBA 110 kV điện gió Khánh Hội", 110.0, "Xã Khánh Hội"),
    ("TBA 110 kV điện gió Tân Thuận", 110.0, "Xã Tân Thuận"),
]
WIND_WEST = ("Xã Khánh Hội", "Xã Khánh Bình Tây")
WIND_EAST = ("Xã Tân Thuận", "Xã Tân Tiến", "Xã Nguyễn Huân")
CAPE_PARK = ("Xã Đất Mũi", "Xã Viên An", "Xã Viên An Đông", "Xã Tân Ân")
TREE, BUILT, WATER, MANGROVE = 10, 50, 80, 95


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", " ".join(str(s).split()))


def _commune(communes: gpd.GeoDataFrame, name: str) -> shapely.Geometry:
    names = communes["commune_name"].map(_nfc)
    hit = communes.geometry[names == _nfc(name)]
    if len(hit) != 1:
        raise SystemExit(f"commune {name!r} not found once in the communes layer (found {len(hit)})")
    return hit.iloc[0]


def _coast(communes: gpd.GeoDataFrame) -> shapely.Geometry:
    return shapely.union_all(communes.geometry.values).boundary


def substations(communes: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, rng: np.random.Generator) -> gpd.GeoDataFrame:
    """The substations, each within 1.5 km of its commune's representative point, inside it; the
    Khánh An 220 kV one at the power complex (its switchyard)."""
    rows = []
    power = zones.geometry[zones["kind"] == "power"].iloc[0].representative_point()
    for i, (name, kv, commune) in enumerate(SUBSTATIONS, 1):
        poly = _commune(communes, commune)
        p = poly.representative_point()
        for _ in range(0 if "Khánh An" in name else 50):
            r, a = 1500.0 * np.sqrt(rng.random()), 2 * np.pi * rng.random()
            q = shapely.Point(p.x + r * np.cos(a), p.y + r * np.sin(a))
            if poly.buffer(-100).contains(q):
                p = q
                break
        p = power if "Khánh An" in name else p
        rows.append({"substation_id": f"SUB-{i:02d}", "name": name, "voltage_kv": kv, "source": SRC, "geometry": p})
    return gpd.GeoDataFrame(rows, crs=communes.crs)


def _box(cx: float, cy: float, w: float, h: float) -> shapely.Geometry:
    return shapely.box(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def energy_zones(communes: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Industrial parks, the power complex, the wind and solar zones (see the module docstring)."""
    khanh_an = _commune(communes, "Xã Khánh An")
    city = _commune(communes, "Phường 2").representative_point()
    edge = shapely.ops.nearest_points(khanh_an, city)[0]
    inner = khanh_an.representative_point()
    d = np.array([inner.x - edge.x, inner.y - edge.y])
    d /= np.linalg.norm(d)
    ip_c = (edge.x + 1500 * d[0], edge.y + 1500 * d[1])
    pw_c = (ip_c[0] - 1800 * d[1], ip_c[1] + 1800 * d[0])  # beside the park, across the direction inwards
    luong = _commune(communes, "Xã Lương Thế Trân").representative_point()
    solar = _commune(communes, "Xã Khánh Bình Đông").representative_point()
    coast = _coast(communes)

    def wind(names: tuple[str, ...]) -> shapely.Geometry:
        area = shapely.union_all([_commune(communes, n) for n in names])
        return area.intersection(coast.buffer(3000))

    zones = [
        ("EZ-01", "Khu công nghiệp Khánh An", "industrial", _box(*ip_c, 2400, 1600).intersection(khanh_an)),
        ("EZ-02", "Cụm khí – điện – đạm Cà Mau", "power", _box(*pw_c, 1600, 1200).intersection(khanh_an)),
        ("EZ-03", "Khu công nghiệp Hòa Trung", "industrial", _box(luong.x, luong.y, 1500, 1500)),
        ("EZ-04", "Vùng điện gió ven biển phía Tây", "wind", wind(WIND_WEST)),
        ("EZ-05", "Vùng điện gió ven biển phía Đông", "wind", wind(WIND_EAST)),
        ("EZ-06", "Vùng điện mặt trời Khánh Bình Đông", "solar", _box(solar.x, solar.y, 3000, 2000)),
    ]
    outline = shapely.union_all(communes.geometry.values)
    geoms = [shapely.make_valid(g.intersection(outline)) for *_, g in zones]
    return gpd.GeoDataFrame({"zone_id": [z[0] for z in zones], "name": [z[1] for z in zones],
                             "kind": [z[2] for z in zones], "source": SRC}, geometry=geoms, crs=communes.crs)


def _polygons(mask: np.ndarray, transform: rasterio.Affine) -> shapely.Geometry:
    """The cells of ``mask`` as one (multi)polygon, simplified to 50 m, slivers under 0.5 km² dropped."""
    shapes = [shapely.geometry.shape(g) for g, v in features.shapes(mask.astype(np.uint8), mask=mask,
                                                                    transform=transform) if v]
    geom = shapely.union_all(shapes).simplify(50.0)
    parts = [p for p in shapely.get_parts(geom) if p.area >= 5e5]
    return shapely.make_valid(shapely.multipolygons(parts)) if parts else shapely.Polygon()


def protected_areas(communes: gpd.GeoDataFrame, landcover: np.ndarray, grid: ictplan.grid.Grid,
                    zones: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """National parks and coastal protection forest from the land cover (see the module docstring)."""
    inside = features.rasterize(((g, 1) for g in communes.geometry), out_shape=grid.shape,
                                transform=grid.transform, fill=0, dtype="uint8").astype(bool)
    cape = shapely.union_all([_commune(communes, n) for n in CAPE_PARK])
    in_cape = features.rasterize([(cape, 1)], out_shape=grid.shape, transform=grid.transform, fill=0,
                                 dtype="uint8").astype(bool)
    mangrove = (landcover == MANGROVE) & inside
    cut = shapely.union_all(zones.geometry.values).buffer(300.0)
    rows = [
        ("PA-01", "Vườn quốc gia U Minh Hạ", "special_use", _polygons((landcover == TREE) & inside, grid.transform)),
        ("PA-02", "Vườn quốc gia Mũi Cà Mau", "special_use", _polygons(mangrove & in_cape, grid.transform)),
        ("PA-03", "Rừng phòng hộ ven biển", "protection", _polygons(mangrove & ~in_cape, grid.transform)),
    ]
    geoms = [shapely.make_valid(g.difference(cut)) for *_, g in rows]
    return gpd.GeoDataFrame({"area_id": [r[0] for r in rows], "name": [r[1] for r in rows],
                             "kind": [r[2] for r in rows], "source": SRC}, geometry=geoms, crs=communes.crs)


def _smooth_noise(shape: tuple[int, int], rng: np.random.Generator, sigma_cells: float) -> np.ndarray:
    z = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_cells)
    return z / (np.abs(z).max() or 1.0)


def elevation(roads: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, landcover: np.ndarray, grid: ictplan.grid.Grid,
              outside: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Elevation in metres on the grid (rules in the module docstring); NaN outside the province."""
    h, w = grid.shape
    rows, cols = np.mgrid[0:h, 0:w]
    south_north = rows[::-1] / max(h - 1, 1)  # 0 south, 1 north
    west_east = cols / max(w - 1, 1)
    z = 0.8 + 0.5 * (0.6 * south_north + 0.4 * west_east) + 0.25 * _smooth_noise(grid.shape, rng, 30.0)
    z = np.where(landcover == TREE, z + 0.2, z)
    z = np.where(landcover == BUILT, z + 1.0, z)
    z = np.where(landcover == MANGROVE, 0.4, z)
    z = np.where(landcover == WATER, 0.2, z)
    road = roads[roads["kind"].astype(str).str.lower().isin(["road", "bridge"])]
    cls = road["road_class"].astype(str).str.lower()
    for classes, lift in ((("hamlet",), 0.3), (("district", "commune"), 0.8), (("national", "provincial"), 1.5)):
        sel = road.geometry[cls.isin(classes).to_numpy()]
        if len(sel):
            hit = features.rasterize(((g, 1) for g in sel), out_shape=grid.shape, transform=grid.transform,
                                     fill=0, dtype="uint8", all_touched=False).astype(bool)
            base = np.where(landcover == WATER, 0.8 + 0.5 * south_north, z)  # an embankment across water
            z = np.where(hit, np.maximum(z, base + lift), z)
    parks = zones.geometry[zones["kind"].isin(["industrial", "power"]).to_numpy()]
    filled = features.rasterize(((g, 1) for g in parks), out_shape=grid.shape, transform=grid.transform, fill=0,
                                dtype="uint8").astype(bool)
    z = np.where(filled, np.maximum(z, 0.8 + 0.5 * south_north) + 1.2, z)  # parks are filled above the floods
    z = np.clip(z, 0.0, 4.0)
    z[outside] = np.nan
    return z


def write_elevation(path: Path, z_m: np.ndarray, grid: ictplan.grid.Grid) -> None:
    dm = np.where(np.isfinite(z_m), np.round(z_m * 10.0), NODATA).astype(np.int16)
    with rasterio.open(path, "w", driver="GTiff", width=grid.width, height=grid.height, count=1, dtype="int16",
                       crs=grid.crs, transform=grid.transform, nodata=NODATA, compress="deflate", predictor=2,
                       tiled=True, blockxsize=256, blockysize=256) as ds:
        ds.write(dm, 1)
        ds.update_tags(synthetic="yes", units="decimetres above mean sea level", source=SRC,
                       rules="scripts/build_planning_layers.py docstring")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("study", type=Path, help="study folder (e.g. data/camau)")
    ap.add_argument("--seed", type=int, default=2021)
    args = ap.parse_args(argv)
    study = ictplan.study.load(args.study)
    rng = np.random.default_rng(args.seed)
    communes = study.layer_in_crs("communes")
    grid = study.population.grid
    landcover = study.landcover
    if landcover is None:
        raise SystemExit("the study has no landcover raster: build it first (scripts/build_landcover.py)")
    outside = study.population.nodata_mask
    zones = energy_zones(communes)
    subs = substations(communes, zones, rng)
    prot = protected_areas(communes, landcover, grid, zones)
    out = args.study / "planning.gpkg"
    out.unlink(missing_ok=True)
    for name, gdf in (("substations", subs), ("energy_zones", zones), ("protected_areas", prot)):
        gdf.to_file(out, layer=name, engine="pyogrio", SPATIAL_INDEX="NO")
    z = elevation(study.layer_in_crs("roads"), zones, landcover, grid, outside, rng)
    write_elevation(args.study / "elevation_100m.tif", z, grid)
    inside = np.isfinite(z)
    print(f"substations {len(subs)}, energy zones {len(zones)} ({zones.area.sum() / 1e6:.0f} km²), protected areas "
          f"{len(prot)} ({', '.join(f'{n}: {a / 1e6:.0f} km²' for n, a in zip(prot['name'], prot.area, strict=True))})")
    print(f"elevation: mean {np.nanmean(z):.2f} m, share above 1.5 m {np.mean(z[inside] > 1.5):.1%}; "
          f"{out.stat().st_size / 1e3:.0f} kB + {(args.study / 'elevation_100m.tif').stat().st_size / 1e3:.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
