"""Variants of the small study for the map and report tests: fewer communes than the
population raster covers, communes without census figures, GSO column names without
districts, and the technology profiles so coverage can run."""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd

from ._studydata import build_study, communes_frame

REPO = Path(__file__).resolve().parents[1]
PROFILES = REPO / "data" / "profiles" / "default.toml"

#: Rows of the population raster (100 m cells from the top) inside the three bottom communes.
BOTTOM_ROWS = slice(50, 100)


def variant(root: Path, *, communes: gpd.GeoDataFrame | None = None, profiles: bool = False,
            population: bool = True) -> Path:
    """The small study at ``root`` with its communes layer replaced by ``communes`` (and the
    hamlets, postal points and facilities of the communes that are left), with the default
    technology profiles when ``profiles``, and without the population raster unless
    ``population``."""
    build_study(root)
    gpkg = root / "s.gpkg"
    toml = (root / "study.toml").read_text(encoding="utf-8")
    if communes is not None:
        communes.to_file(gpkg, layer="communes", driver="GPKG")
        codes = set(communes[[c for c in ("commune_code", "ma_xa") if c in communes.columns][0]].astype(str))
        for layer in ("hamlets", "postal_points", "facilities"):
            g = gpd.read_file(gpkg, layer=layer)
            g[g["commune_code"].astype(str).isin(codes)].to_file(gpkg, layer=layer, driver="GPKG")
    if profiles:
        shutil.copy(PROFILES, root / "profiles.toml")
        toml += '\n[profiles]\npath = "profiles.toml"\n'
    if not population:
        toml = toml.replace('population = { path = "pop.tif" }\n', "")
    (root / "study.toml").write_text(toml, encoding="utf-8")
    return root


def bottom_communes(*, census: bool = True) -> gpd.GeoDataFrame:
    """The three bottom communes only (the raster extends 5 km beyond them)."""
    c = communes_frame().iloc[:3].copy()
    return c if census else c.drop(columns=["pop2019", "hh2019"])


def gso_communes() -> gpd.GeoDataFrame:
    """All six communes with the GSO column names (ma_xa, ten_xa, loai_xa), no district, no census."""
    c = communes_frame()
    return c[["commune_code", "commune_name", "commune_type", "geometry"]].rename(
        columns={"commune_code": "ma_xa", "commune_name": "ten_xa", "commune_type": "loai_xa"})
