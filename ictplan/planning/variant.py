"""A plan written as a variant study: today's layers with the planned sites, routes and
postal points added, so that every analysis (coverage, fiber, the scorecard) can be re-run
on it and the targets judged by the analyses, not by the optimiser's own count.

The variant is a study folder of its own: a ``study.toml`` whose layers point back to the
original files (absolute paths), except the layers the plan adds to, which are written
whole (today's features plus the new ones, each new feature flagged ``planned = 1`` with
its ``phase``) into ``plan_layers.gpkg`` beside it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import tomli_w

from .. import io as _io
from .. import study as _study
from .._errors import ConfigError, InputValidationError

__all__ = ["write_variant", "sectors_frame"]

_SITE_COLUMNS = ("sector_id", "site_id", "operator", "technology", "band", "azimuth_deg", "height_m", "tilt_deg",
                 "tx_power_dbm")


def sectors_frame(rows: pd.DataFrame, /) -> gpd.GeoDataFrame:
    """Planned sectors (sites.csv columns with ``lon``/``lat``) as WGS84 points."""
    missing = [c for c in (*_SITE_COLUMNS[:5], "lon", "lat") if c not in rows.columns]
    if missing:
        raise InputValidationError(f"planned sectors lack the column(s) {missing}; give them in the sites.csv columns.")
    geom = gpd.points_from_xy(rows["lon"], rows["lat"], crs="EPSG:4326")
    return gpd.GeoDataFrame(rows.drop(columns=["lon", "lat"]), geometry=geom, crs="EPSG:4326")


def _absolute(spec: Mapping[str, Any], root: Path) -> dict[str, Any]:
    out = dict(spec)
    out["path"] = str((root / spec["path"]).resolve())
    return out


def _appended(study: _study.Study, name: str, new: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Today's layer ``name`` (validated, its own CRS) with ``new`` appended and flagged."""
    old = study.layer(name)
    add = new.to_crs(old.crs) if new.crs is not None and old.crs is not None else new
    if add.geometry.name != old.geometry.name:
        add = add.rename_geometry(old.geometry.name)
    extra = [c for c in add.columns if c not in old.columns and c not in ("planned", "phase")]
    if extra:
        add = add.drop(columns=extra)
    if {"lon", "lat"} <= set(old.columns):  # a CSV's coordinate columns, kept consistent for the new rows
        ll = add.geometry.to_crs("EPSG:4326")
        add = add.assign(lon=ll.x.round(6), lat=ll.y.round(6))
    old = old.assign(planned=0, phase="")
    add = add.assign(planned=1, phase=add["phase"].astype(str) if "phase" in add else "")
    both = pd.concat([old, add], ignore_index=True)
    return gpd.GeoDataFrame(both, geometry=old.geometry.name, crs=old.crs)


def _study_table(study: _study.Study, raw: Mapping[str, Any], name: str, description: str) -> dict[str, Any]:
    table = dict(raw.get("study", {}))
    table["name"] = name
    if description:
        table["description"] = description
    table.pop("parts", None)
    return table


def write_variant(study: _study.Study, out_dir: str | os.PathLike[str], /, *,
                  additions: Mapping[str, gpd.GeoDataFrame], name: str, description: str = "",
                  parameters: Mapping[str, Mapping[str, Any]] | None = None) -> _study.Study:
    """Write ``study`` with ``additions`` (layer name → new features) as a study folder in
    ``out_dir`` and load it.

    ``parameters`` is merged into the variant's ``[parameters]`` (one table per job), e.g.
    ``{"coverage": {"year": 2030}}`` to judge a 2030 phase with 2030 demand.

    Raises
    ------
    ConfigError
        A study made of parts (plan each part), or an addition to a layer the study lacks.
    """
    if study.parts:
        raise ConfigError("a study made of parts cannot be planned as one; plan each part's study.")
    lacking = [k for k in additions if not study.has(k)]
    if lacking:
        raise ConfigError(f"the plan adds to the layer(s) {lacking}, which the study lacks; add them under [layers].")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    raw = _io.read_toml(study.root / "study.toml", "study")
    layers = {k: _absolute(v, study.root) for k, v in study.layer_specs.items()}
    gpkg = out / "plan_layers.gpkg"
    if gpkg.exists():
        gpkg.unlink()
    for lname, new in additions.items():
        _io.write_layer(_appended(study, lname, new), gpkg, layer=lname, overwrite=True)
        layers[lname] = {"path": gpkg.name, "layer": lname}
    cfg: dict[str, Any] = {"study": _study_table(study, raw, name, description), "layers": layers}
    for section, path in (("profiles", study.profiles_path), ("targets", study.targets_path)):
        if path is not None:
            cfg[section] = {"path": str(path)}
    params = {job: dict(v) for job, v in (study.parameters or {}).items()}
    for job, values in (parameters or {}).items():
        params.setdefault(job, {}).update(values)
    if params:
        cfg["parameters"] = params
    (out / "study.toml").write_text(
        "# A plan written by ictplan plan (ictplan.planning): today's layers plus the planned features\n"
        "# (planned = 1, with their phase). Re-run any analysis on this folder to check the plan.\n"
        + tomli_w.dumps(cfg), encoding="utf-8")
    return _study.load(out)
