"""A small synthetic study folder for the map, report and browser tests (built in a temp dir)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from affine import Affine

EVIL = "<script>alert(1)</script>"
UTM = "EPSG:32648"
X0, Y0 = 510_000.0, 1_010_000.0  # near Cà Mau city, UTM 48N
SIZE = 5_000.0  # commune square side, m


def _wiggly_square(x0: float, y0: float, s: float, n: int = 400, *, bumps: bool = False) -> shapely.Polygon:
    # a square with n vertices per edge (many vertices); with `bumps`, its bottom and left edges
    # (the outside of the block) carry 20 m teeth: +0.1 km² that a simplified outline loses
    t = np.linspace(0, 1, n, endpoint=False)
    amp = np.where(np.arange(n) % 2 == 1, 20.0, 0.0) if bumps else np.zeros(n)
    bottom = np.c_[x0 + s * t, y0 - amp]
    right = np.c_[np.full(n, x0 + s), y0 + s * t]
    top = np.c_[x0 + s - s * t, np.full(n, y0 + s)]
    left = np.c_[x0 - amp, y0 + s - s * t]
    return shapely.Polygon(np.vstack([bottom, right, top, left]))


def communes_frame() -> gpd.GeoDataFrame:
    names = ["Phường 5", "Tân Thành", EVIL, "Lý Văn Lâm", "Khánh Bình Đông", "Đất Mũi"]
    districts = ["Thành phố Cà Mau"] * 3 + ["Trần Văn Thời"] * 3
    geoms = [_wiggly_square(X0 + (i % 3) * SIZE, Y0 + (i // 3) * SIZE, SIZE, bumps=i == 0) for i in range(6)]
    return gpd.GeoDataFrame(
        {
            "commune_code": [f"3201{i}" for i in range(6)],
            "commune_name": names,
            "commune_type": ["Phường", "Xã", "Xã", "Xã", "Xã", "Xã"],
            "district_code": ["964"] * 3 + ["970"] * 3,
            "district_name": districts,
            "pop2019": [25_000, 12_000, 8_000, 15_000, 9_000, 4_000],
            "hh2019": [6_500, 3_100, 2_000, 3_900, 2_300, 1_000],
        },
        geometry=geoms,
        crs=UTM,
    )


def build_study(root: Path) -> Path:
    """Write a small study (communes, hamlets, sites, fiber, postal, facilities, population)."""
    root.mkdir(parents=True, exist_ok=True)
    gpkg = root / "s.gpkg"
    communes = communes_frame()
    communes.to_file(gpkg, layer="communes", driver="GPKG")
    rng = np.random.default_rng(7)
    # hamlets as points, 4 per commune
    cx, cy = communes.geometry.centroid.x.to_numpy(), communes.geometry.centroid.y.to_numpy()
    hx = np.repeat(cx, 4) + rng.uniform(-1500, 1500, 24)
    hy = np.repeat(cy, 4) + rng.uniform(-1500, 1500, 24)
    hamlets = gpd.GeoDataFrame(
        {"hamlet_code": [f"H{i:03d}" for i in range(24)], "hamlet_name": [f"Ấp {i}" for i in range(23)] + [EVIL],
         "commune_code": np.repeat(communes["commune_code"].to_numpy(), 4), "households": rng.integers(50, 400, 24)},
        geometry=gpd.points_from_xy(hx, hy), crs=UTM)
    hamlets.to_file(gpkg, layer="hamlets", driver="GPKG")
    routes = gpd.GeoDataFrame(
        {"route_id": ["R1", "R2", "R3"], "operator": ["Viettel", "VNPT", "Viettel"], "technology": ["GPON", "XGS-PON", "GPON"],
         "placement": ["aerial", "duct", "buried"]},
        geometry=[shapely.LineString([(X0 + 200, Y0 + 200), (X0 + 14_000, Y0 + 9_000)]),
                  shapely.LineString([(X0 + 300, Y0 + 9_500), (X0 + 14_500, Y0 + 500)]),
                  shapely.LineString([(X0 + 7_500, Y0 + 100), (X0 + 7_500, Y0 + 9_900)])],
        crs=UTM)
    routes.to_file(gpkg, layer="fiber_routes", driver="GPKG")
    postal = gpd.GeoDataFrame(
        {"point_id": ["P1", "P2"], "name": ["Bưu cục Cà Mau", EVIL], "commune_code": ["32010", "32012"],
         "staffed": [True, False], "internet": [True, True], "online_services": [True, False]},
        geometry=gpd.points_from_xy([X0 + 2000, X0 + 12000], [Y0 + 2000, Y0 + 2500]), crs=UTM)
    postal.to_file(gpkg, layer="postal_points", driver="GPKG")
    fac = gpd.GeoDataFrame(
        {"facility_id": ["F1", "F2", "F3"], "name": ["UBND xã Tân Thành", "Trạm y tế", "Trường THPT"],
         "kind": ["commune_office", "health_station", "school"], "commune_code": ["32011", "32013", "32014"],
         "level": ["commune", "commune", "commune"]},
        geometry=gpd.points_from_xy([X0 + 7000, X0 + 3000, X0 + 12000], [Y0 + 2000, Y0 + 7000, Y0 + 8000]), crs=UTM)
    fac.to_file(gpkg, layer="facilities", driver="GPKG")
    # sites: 4 three-sector sites + 1 omni, as lon/lat CSV
    sx = np.array([X0 + 2500, X0 + 7500, X0 + 12500, X0 + 5000, X0 + 10000])
    sy = np.array([Y0 + 2500, Y0 + 7500, Y0 + 2500, Y0 + 7500, Y0 + 5000])
    rows = []
    lonlat = gpd.GeoSeries(gpd.points_from_xy(sx, sy), crs=UTM).to_crs(4326)
    ops = ["Viettel", "VNPT", "MobiFone", "Viettel", "Vietnamobile"]
    for i in range(5):
        azs = [np.nan] if i == 4 else [0.0, 120.0, 240.0]
        for j, az in enumerate(azs):
            rows.append({"sector_id": f"S{i}-{j}", "site_id": f"S{i}", "operator": ops[i], "technology": "5G" if i == 1 else "4G",
                         "band": "n78" if i == 1 else "B3", "azimuth_deg": az, "height_m": 30.0,
                         "lon": lonlat.x.iloc[i], "lat": lonlat.y.iloc[i]})
    pd.DataFrame(rows).to_csv(root / "sites.csv", index=False)
    # population 100 m grid over the 15 x 10 km block
    pop = rng.gamma(2.0, 2.0, (100, 150)).astype("float32")
    with rasterio.open(root / "pop.tif", "w", driver="GTiff", width=150, height=100, count=1, dtype="float32",
                       crs=UTM, transform=Affine(100.0, 0.0, X0, 0.0, -100.0, Y0 + 10_000), nodata=-99999.0) as ds:
        ds.write(pop, 1)
    (root / "study.toml").write_text(
        """[study]
name = "Thử nghiệm — synthetic"
crs = "EPSG:32648"
bounds_lonlat = [104.6, 8.45, 105.6, 9.7]
synthetic = true

[layers]
communes = { path = "s.gpkg", layer = "communes" }
hamlets = { path = "s.gpkg", layer = "hamlets" }
population = { path = "pop.tif" }
sites = { path = "sites.csv", x = "lon", y = "lat", crs = "EPSG:4326" }
fiber_routes = { path = "s.gpkg", layer = "fiber_routes" }
postal_points = { path = "s.gpkg", layer = "postal_points" }
facilities = { path = "s.gpkg", layer = "facilities" }
""",
        encoding="utf-8",
    )
    return root


# ---------------------------------------------------------------- small studies for `check`
REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "data" / "profiles" / "default.toml"
TARGETS = REPO / "data" / "targets" / "camau_2021_2030.toml"
LONLAT_BOX = (104.6, 8.45, 105.6, 9.7)


def gso_communes_frame(n: int = 3) -> gpd.GeoDataFrame:
    """Communes as a GSO/boundary file names them: ma_xa, ten_xa, loai_xa, dan_so; no district."""
    polys = [shapely.box(X0 + i * SIZE, Y0, X0 + (i + 1) * SIZE, Y0 + SIZE) for i in range(n)]
    return gpd.GeoDataFrame(
        {"ma_xa": [f"3200{i}" for i in range(n)], "ten_xa": ["Phường 9", "Tân Thành", "An Xuyên"][:n],
         "loai_xa": ["Phường", "Xã", "Xã"][:n], "dan_so": [1000, 2000, 3000][:n]},
        geometry=polys, crs=UTM)


def sectors_frame() -> pd.DataFrame:
    """Six sectors on two sites inside the communes of :func:`gso_communes_frame`, lon/lat."""
    pts = gpd.GeoSeries(gpd.points_from_xy([X0 + 2500, X0 + 7500], [Y0 + 2500, Y0 + 2500]), crs=UTM).to_crs(4326)
    rows = []
    for i in range(2):
        for j, az in enumerate((0.0, 120.0, 240.0)):
            rows.append({"sector_id": f"S{i}-{j}", "site_id": f"S{i}", "operator": "Viettel", "technology": "4G",
                         "band": "B3", "azimuth_deg": az, "height_m": 30.0, "tilt_deg": 4.0, "tx_power_dbm": 43.0,
                         "lon": pts.x.iloc[i], "lat": pts.y.iloc[i]})
    return pd.DataFrame(rows)


def write_population(path: Path, *, crs: str | None = UTM, width: int = 150, height: int = 50) -> Path:
    """A 100 m population raster over the communes (``crs=None``: a raster with no CRS)."""
    rng = np.random.default_rng(3)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=1, dtype="float32", crs=crs,
                       transform=Affine(100.0, 0.0, X0, 0.0, -100.0, Y0 + SIZE), nodata=-99999.0) as ds:
        ds.write(rng.gamma(2.0, 2.0, (height, width)).astype("float32"), 1)
    return path


def small_study(root: Path, *, communes: gpd.GeoDataFrame | None = None, sites: pd.DataFrame | None = None,
                communes_spec: str = 'communes = { path = "s.gpkg", layer = "communes" }',
                population_crs: str | None = UTM, profiles: str | None = str(PROFILES),
                targets: str | None = str(TARGETS), extra: str = "") -> Path:
    """A study with GSO-named communes, a sector table, a population raster, profiles and
    targets; each argument breaks one thing (``profiles=None`` leaves the section out)."""
    root.mkdir(parents=True, exist_ok=True)
    (gso_communes_frame() if communes is None else communes).to_file(root / "s.gpkg", layer="communes", driver="GPKG")
    (sectors_frame() if sites is None else sites).to_csv(root / "sites.csv", index=False)
    write_population(root / "pop.tif", crs=population_crs)
    files = ""
    if profiles is not None:
        files += f'\n[profiles]\npath = "{profiles}"\n'
    if targets is not None:
        files += f'\n[targets]\npath = "{targets}"\n'
    (root / "study.toml").write_text(
        f'[study]\nname = "Kiểm tra"\nprovince = "Cà Mau"\ncrs = "EPSG:32648"\nbounds_lonlat = {list(LONLAT_BOX)}\n\n'
        f'[layers]\n{communes_spec}\npopulation = {{ path = "pop.tif" }}\n'
        'sites = { path = "sites.csv", x = "lon", y = "lat", crs = "EPSG:4326" }\n'
        f"{files}{extra}",
        encoding="utf-8",
    )
    return root


def road_components(geoms: np.ndarray):
    """Noded pieces of a line layer, their connected-component label and each component's
    length (brute force: shapely noding + scipy connected components), for the samples' tests."""
    from scipy import sparse
    from scipy.sparse import csgraph

    noded = shapely.get_parts(shapely.union_all(geoms))
    ends = np.vstack([shapely.get_coordinates(shapely.get_point(noded, 0)),
                      shapely.get_coordinates(shapely.get_point(noded, -1))])
    uniq, inv = np.unique(ends, axis=0, return_inverse=True)
    m = len(noded)
    g = sparse.coo_matrix((np.ones(m), (inv[:m], inv[m:])), shape=(len(uniq),) * 2)
    n, lab = csgraph.connected_components(g, directed=False)
    seg_lab = lab[inv[:m]]
    return noded, seg_lab, np.bincount(seg_lab, weights=shapely.length(noded), minlength=n)
