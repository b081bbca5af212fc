"""Build a study's SYNTHETIC land-cover raster (ESA WorldCover codes) on its population grid.

    python scripts/build_landcover.py data/camau            # writes data/camau/landcover_100m.tif

Made only from the study's own layers: the population raster (its grid, its nodata = outside
the province, its density), the communes (district and commune names) and the roads layer's
``kind`` column (``river``, ``canal``). Deterministic: the same inputs and ``--seed`` give
the same bytes' worth of classes. The rules, in the order they are painted (a later rule wins):

1. **base**: cropland (40, rice and rice–shrimp) everywhere inside the study;
2. **aquaculture** in the ``--aquaculture-districts``: shrimp ponds as water (80) on
   ``--pond-share`` of the cells (a smooth seeded noise field, ponds in clusters of a few
   hundred metres), the dikes, gardens and fallow between them as herbaceous wetland (90).
   WorldCover maps water standing most of the year as 80 whatever its use, so ponds are 80;
3. **U Minh Hạ forest**: tree cover (10, Melaleuca and peat-swamp forest) in the
   ``--forest-communes`` where the people per hectare, averaged over 900 m × 900 m, are below
   ``--empty-per-ha``; the rest of those communes herbaceous wetland (90, the swamp margins);
4. **mangroves** (95): every cell within ``--coast-belt-m`` of the sea (the protective
   coastal belt), and in the ``--mangrove-districts`` (the southern cape: mangrove forest and
   mangrove–shrimp farms) every cell where the people per hectare over 900 m × 900 m are
   below ``--cape-per-ha``;
5. **canals** (80): cells the ``canal`` lines cross;
6. **built-up** (50): cells where the people per hectare, averaged over 300 m × 300 m, reach
   ``--built-up-per-ha`` (default 15 = 1,500 per km², the GHSL Degree-of-Urbanisation density
   of an urban centre's cells, used here as a stand-in for built-up land: an assumption);
7. **rivers** (80): the ``river`` lines buffered by ``--river-half-width-m``;
8. **outside the study** (population nodata): sea (80), except the land beyond the province's
   land border, which takes cropland (40). ``--outside-land ne`` (Cà Mau) takes as land the
   outside cells north of the outline's easternmost point and east of its north-western
   corner (Kiên Giang and Bạc Liêu); ``all``: every outside cell is land; ``none``: all sea.
   ``--coast LON1,LAT1,LON2,LAT2`` (``--outside-land coast``, any shape of province): the sea lies
   on the RIGHT of the coast walked from the first point to the second (so Bạc Liêu's coast,
   ``105.44,9.06,105.83,9.26`` from the Gành Hào mouth north-east to the Sóc Trăng border, has
   the sea to the south-east). The coast is the province outline's own boundary between the
   points nearest the two given (of the outline's two arcs between them, the one lying further
   to the right, i.e. seaward), continued straight beyond both ends along the line from the
   first point to the second; outside cells whose centres lie on its right are sea, the other
   outside cells land.

Writes uint8, DEFLATE, the WorldCover colour table, and tags ``synthetic = yes`` and the rules.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import rasterio
import shapely
from pyproj import Transformer
from rasterio import features
from scipy import ndimage
from shapely import ops

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import ictplan  # noqa: E402

TREE, CROP, BUILT, WATER, WETLAND, MANGROVE = 10, 40, 50, 80, 90, 95
# ESA WorldCover v200 legend colours (product user manual)
COLOURS = {10: "#006400", 20: "#ffbb22", 30: "#ffff4c", 40: "#f096ff", 50: "#fa0000", 60: "#b4b4b4",
           70: "#f0f0f0", 80: "#0064c8", 90: "#0096a0", 95: "#00cf75", 100: "#fae6a0"}
CAMAU_FOREST = ("Xã Khánh An", "Xã Khánh Lâm", "Xã Khánh Thuận", "Xã Nguyễn Phích", "Xã Trần Hợi",
                "Xã Khánh Bình Tây Bắc")  # the U Minh Hạ forest communes (U Minh, Trần Văn Thời)
CAMAU_MANGROVE = ("Huyện Ngọc Hiển", "Huyện Năm Căn")  # the cape (Đất Mũi lies in Ngọc Hiển)
CAMAU_AQUACULTURE = ("Huyện Cái Nước", "Huyện Đầm Dơi", "Huyện Phú Tân", "Huyện Năm Căn", "Huyện Ngọc Hiển")


def _mean_per_ha(people: np.ndarray, cells: int, cell_ha: float) -> np.ndarray:
    return ndimage.uniform_filter(people, size=cells, mode="constant") / cell_ha


def _by_name(values: np.ndarray, wanted: tuple[str, ...], what: str) -> np.ndarray:
    import unicodedata

    norm = np.array([unicodedata.normalize("NFC", str(v)) for v in values])
    want = [unicodedata.normalize("NFC", w) for w in wanted]
    missing = sorted(set(want) - set(norm))
    if missing:
        print(f"warning: no {what} named {', '.join(missing)} in the study; skipped", file=sys.stderr)
    return np.isin(norm, want)


def _outside_land(inside: np.ndarray, outline_xy: np.ndarray, grid, mode: str) -> np.ndarray:
    if mode == "all":
        return ~inside
    if mode == "none":
        return np.zeros_like(inside)
    y_east = outline_xy[np.argmax(outline_xy[:, 0]), 1]
    x_nw, _ = outline_xy[np.argmax(outline_xy[:, 1] - outline_xy[:, 0])]
    rows, cols = np.indices(inside.shape)
    xs, ys = rasterio.transform.xy(grid.transform, rows.ravel(), cols.ravel())
    xs = np.asarray(xs).reshape(inside.shape)
    ys = np.asarray(ys).reshape(inside.shape)
    return ~inside & (ys > y_east) & (xs > x_nw)


def _coast_arc(ring: shapely.LineString, a: np.ndarray, b: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The outline's boundary from the point nearest ``a`` to the point nearest ``b``: of its two
    arcs between them, the one whose points lie, on average, further to the ``right`` (seaward)."""
    s_a, s_b = ring.project(shapely.Point(a)), ring.project(shapely.Point(b))
    if abs(s_a - s_b) < 1.0:
        raise SystemExit("--coast: both points fall on the same place of the outline; give the coast's two ends")

    def forward(s0: float, s1: float) -> np.ndarray:  # along the ring's own direction, s0 → s1
        if s0 <= s1:
            return shapely.get_coordinates(ops.substring(ring, s0, s1))
        return np.vstack([shapely.get_coordinates(ops.substring(ring, s0, ring.length)),
                          shapely.get_coordinates(ops.substring(ring, 0.0, s1))[1:]])

    arcs = [forward(s_a, s_b), forward(s_b, s_a)[::-1]]

    def seaward_m(xy: np.ndarray) -> float:
        line = shapely.LineString(xy)
        pts = shapely.get_coordinates(line.interpolate(np.linspace(0.0, 1.0, 201), normalized=True))
        return float(((pts - a) @ right).mean())

    return max(arcs, key=seaward_m)


def _sea_side(outline, grid, coast_lonlat: tuple[float, float, float, float]) -> np.ndarray:
    """Cells whose centres lie on the sea side (the right) of the coast from point 1 to point 2."""
    to_grid = Transformer.from_crs("EPSG:4326", grid.crs, always_xy=True)
    a = np.array(to_grid.transform(coast_lonlat[0], coast_lonlat[1]))
    b = np.array(to_grid.transform(coast_lonlat[2], coast_lonlat[3]))
    u = (b - a) / np.linalg.norm(b - a)
    right = np.array([u[1], -u[0]])
    main = max(shapely.get_parts(outline), key=lambda g: g.area)
    arc = _coast_arc(shapely.LineString(main.exterior.coords), a, b, right)
    far_m = 4.0 * abs(grid.transform.a) * (grid.width + grid.height)  # well beyond the raster
    start, end = arc[0] - far_m * u, arc[-1] + far_m * u
    sea = shapely.Polygon(np.vstack([start, arc, end, end + far_m * right, start + far_m * right]))
    if not sea.is_valid:
        raise SystemExit("--coast: the outline between the two points doubles back across the line joining "
                         "them; give points nearer the coast's ends")
    return features.rasterize([(sea, 1)], out_shape=grid.shape, transform=grid.transform, fill=0,
                              dtype="uint8").astype(bool)


def build(study_dir: Path, *, seed: int = 2021, forest_communes: tuple[str, ...] = CAMAU_FOREST,
          mangrove_districts: tuple[str, ...] = CAMAU_MANGROVE,
          aquaculture_districts: tuple[str, ...] = CAMAU_AQUACULTURE, pond_share: float = 0.6,
          empty_per_ha: float = 0.5, cape_per_ha: float = 1.0, coast_belt_m: float = 1000.0, built_up_per_ha: float = 15.0,
          river_half_width_m: float = 100.0, outside_land: str = "ne",
          coast_lonlat: tuple[float, float, float, float] | None = None) -> tuple[np.ndarray, dict[str, str]]:
    """The class raster (uint8, on the population grid) and the tags describing it."""
    study = ictplan.study.load(study_dir)
    pop = study.population
    grid = pop.grid
    inside = ~pop.nodata_mask
    people = np.where(inside, pop.counts, 0.0).astype(float)
    cell_ha = abs(grid.transform.a * grid.transform.e) / 1e4
    res_m = abs(grid.transform.a)
    communes = study.layer_in_crs("communes").reset_index(drop=True)
    zone = features.rasterize(((g, i + 1) for i, g in enumerate(communes.geometry)), out_shape=grid.shape,
                              transform=grid.transform, fill=0, dtype="int32")
    has_district = "district_name" in communes.columns
    district_of = communes["district_name"].to_numpy() if has_district else np.array([""] * len(communes))

    def in_zones(mask_rows: np.ndarray) -> np.ndarray:
        return np.isin(zone, np.flatnonzero(mask_rows) + 1)

    lc = np.full(grid.shape, CROP, dtype=np.uint8)
    # 2. aquaculture: ponds (water) and the land between them (wetland)
    aqua = in_zones(_by_name(district_of, aquaculture_districts, "district")) & inside
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.standard_normal(grid.shape), 2.0)
    ponds = noise <= np.quantile(noise[aqua], pond_share) if aqua.any() else np.zeros(grid.shape, bool)
    lc[aqua] = WETLAND
    lc[aqua & ponds] = WATER
    # 3. the U Minh Hạ forest
    forest_zone = in_zones(_by_name(communes["commune_name"].to_numpy(), forest_communes, "commune")) & inside
    per_ha_900 = _mean_per_ha(people, max(1, round(900 / res_m)), cell_ha)
    lc[forest_zone] = WETLAND
    lc[forest_zone & (per_ha_900 < empty_per_ha)] = TREE
    # 4. mangroves: the coastal belt and the cape
    outline = communes.geometry.union_all()
    if (outside_land == "coast") != (coast_lonlat is not None):
        raise ValueError("outside_land='coast' and coast_lonlat=(lon1, lat1, lon2, lat2) go together; "
                         "give both (the sea on the coast's right) or neither")
    if coast_lonlat is not None:
        land_out = ~inside & ~_sea_side(outline, grid, coast_lonlat)
    else:
        land_out = _outside_land(inside, shapely.get_coordinates(outline), grid, outside_land)
    sea = ~inside & ~land_out
    if sea.any():
        d_sea_m = ndimage.distance_transform_edt(~sea) * res_m
        lc[inside & (d_sea_m <= coast_belt_m)] = MANGROVE
    cape = in_zones(_by_name(district_of, mangrove_districts, "district")) & inside
    lc[cape & (per_ha_900 < cape_per_ha)] = MANGROVE
    # 5. canals
    roads = study.layer_in_crs("roads") if study.has("roads") else None
    if roads is not None and "kind" in roads.columns:
        canals = roads.geometry[roads["kind"] == "canal"]
        if len(canals):
            lc[features.rasterize(canals, out_shape=grid.shape, transform=grid.transform, fill=0,
                                  default_value=1, dtype="uint8").astype(bool) & inside] = WATER
    # 6. built-up
    dense = _mean_per_ha(people, max(1, round(300 / res_m)), cell_ha) >= built_up_per_ha
    lc[dense & inside] = BUILT
    # 7. rivers
    if roads is not None and "kind" in roads.columns:
        rivers = roads.geometry[roads["kind"] == "river"].buffer(river_half_width_m)
        if len(rivers):
            lc[features.rasterize(rivers, out_shape=grid.shape, transform=grid.transform, fill=0,
                                  default_value=1, dtype="uint8").astype(bool) & inside] = WATER
    # 8. outside the study
    lc[sea] = WATER
    lc[land_out] = CROP
    land_rule = outside_land if coast_lonlat is None else (
        "coast " + ",".join(f"{v:g}" for v in coast_lonlat) + ", sea on its right")
    tags = {
        "synthetic": "yes",
        "source": ("SYNTHETIC land cover (ESA WorldCover class codes) made by scripts/build_landcover.py from "
                   "the study's own layers; not a classification of imagery"),
        "classes": "10 tree cover, 40 cropland, 50 built-up, 80 water, 90 herbaceous wetland, 95 mangroves",
        "rules": (f"aquaculture districts: ponds 80 on {pond_share:g} of cells, else 90; forest communes: 10 where "
                  f"people/ha over 900 m < {empty_per_ha:g}, else 90; mangroves 95 within {coast_belt_m:g} m of "
                  f"the sea and in the cape districts where people/ha over 900 m < {cape_per_ha:g}; canals 80; "
                  f"built-up 50 where people/ha over 300 m >= {built_up_per_ha:g}; rivers 80 "
                  f"(±{river_half_width_m:g} m); outside: sea 80, land ({land_rule}) 40; else cropland 40"),
        "seed": str(seed),
    }
    return lc, tags


def write(lc: np.ndarray, tags: dict[str, str], grid, out: Path) -> Path:
    profile = {"driver": "GTiff", "width": grid.width, "height": grid.height, "count": 1, "dtype": "uint8",
               "crs": grid.crs.to_wkt(), "transform": grid.transform, "nodata": 0, "compress": "deflate",
               "zlevel": 9, "predictor": 2, "tiled": True, "blockxsize": 256, "blockysize": 256}
    tmp = out.with_suffix(".tmp.tif")
    with rasterio.open(tmp, "w", **profile) as ds:
        ds.write(lc, 1)
        ds.update_tags(**tags)
        ds.set_band_description(1, "land cover (ESA WorldCover codes), SYNTHETIC")
        ds.write_colormap(1, {k: tuple(int(v[i:i + 2], 16) for i in (1, 3, 5)) + (255,) for k, v in COLOURS.items()})
    tmp.replace(out)
    return out


def options(argv: list[str] | None = None) -> tuple[Path, Path | None, dict]:
    """The command line as (study folder, --out, build()'s keyword arguments)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("study", type=Path, help="study folder (with study.toml)")
    ap.add_argument("--out", type=Path, help="output GeoTIFF (default: STUDY/landcover_100m.tif)")
    ap.add_argument("--seed", type=int, default=2021)
    ap.add_argument("--forest-communes", default=",".join(CAMAU_FOREST))
    ap.add_argument("--mangrove-districts", default=",".join(CAMAU_MANGROVE))
    ap.add_argument("--aquaculture-districts", default=",".join(CAMAU_AQUACULTURE))
    ap.add_argument("--pond-share", type=float, default=0.6)
    ap.add_argument("--empty-per-ha", type=float, default=0.5)
    ap.add_argument("--cape-per-ha", type=float, default=1.0)
    ap.add_argument("--coast-belt-m", type=float, default=1000.0)
    ap.add_argument("--built-up-per-ha", type=float, default=15.0)
    ap.add_argument("--river-half-width-m", type=float, default=100.0)
    ap.add_argument("--outside-land", choices=("ne", "all", "none", "coast"),
                    help="which outside cells are land (default: ne; coast when --coast is given)")
    ap.add_argument("--coast", metavar="LON1,LAT1,LON2,LAT2",
                    help="the coast's two ends (WGS84 degrees), walked with the sea on the right")
    args = ap.parse_args(argv)

    def names(s: str) -> tuple[str, ...]:
        return tuple(x.strip() for x in s.split(",") if x.strip())

    coast = None
    if args.coast is not None:
        try:
            coast = tuple(float(v) for v in args.coast.split(","))
        except ValueError:
            coast = ()
        if len(coast) != 4:
            ap.error(f"--coast {args.coast!r}: give four numbers LON1,LAT1,LON2,LAT2, e.g. 105.44,9.06,105.83,9.26")
        if args.outside_land not in (None, "coast"):
            ap.error(f"--coast says where the sea is; drop --outside-land {args.outside_land}")
    mode = args.outside_land or ("coast" if coast else "ne")
    if mode == "coast" and coast is None:
        ap.error("--outside-land coast needs --coast LON1,LAT1,LON2,LAT2 (the sea on its right)")
    kwargs = dict(seed=args.seed, forest_communes=names(args.forest_communes),
                  mangrove_districts=names(args.mangrove_districts),
                  aquaculture_districts=names(args.aquaculture_districts), pond_share=args.pond_share,
                  empty_per_ha=args.empty_per_ha, cape_per_ha=args.cape_per_ha, coast_belt_m=args.coast_belt_m,
                  built_up_per_ha=args.built_up_per_ha, river_half_width_m=args.river_half_width_m,
                  outside_land=mode, coast_lonlat=coast)
    return args.study, args.out, kwargs


def main(argv: list[str] | None = None) -> int:
    study, out_arg, kwargs = options(argv)
    lc, tags = build(study, **kwargs)
    out = out_arg or study / "landcover_100m.tif"
    grid = ictplan.study.load(study).population.grid
    write(lc, tags, grid, out)
    codes, n = np.unique(lc, return_counts=True)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KB): " +
          ", ".join(f"{int(c)}: {100 * k / lc.size:.1f} %" for c, k in zip(codes, n, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
