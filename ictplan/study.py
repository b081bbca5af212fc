"""A study: a folder of layers and a ``study.toml`` that names them.

```toml
[study]
name = "Cà Mau — embedded sample"
crs = "EPSG:32648"                   # working CRS for metric analysis
bounds_lonlat = [104.6, 8.45, 105.6, 9.7]

[layers]
communes   = { path = "camau.gpkg", layer = "communes" }
population = { path = "population_100m.tif" }
sites      = { path = "sites.csv", x = "lon", y = "lat", crs = "EPSG:4326" }
cells      = { path = "opencellid_452.csv", format = "opencellid" }

[profiles]
path = "../profiles/default.toml"

[targets]
path = "../targets/camau_2021_2030.toml"
```

Paths are relative to the study folder. Layers load lazily on first use and are cached;
``Study.check()`` loads them all and reports what each loader repaired or skipped.
"""

from __future__ import annotations

import os
import time
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pyproj

from . import io as _io
from ._errors import ConfigError, IctplanError, MissingFileError
from .crs import as_crs
from .grid import Population
from .schemas import LAYER_NAMES, SCHEMAS

__all__ = ["Study", "load", "LayerCheck"]

_TOP_KEYS = {"study", "layers", "profiles", "targets", "parameters"}
_STUDY_KEYS = {"name", "province", "crs", "bounds_lonlat", "synthetic", "description"}
_LAYER_KEYS = {"path", "layer", "x", "y", "crs", "format"}


def _line_of(text: str, needle: str) -> int | None:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    return None


@dataclass(frozen=True)
class LayerCheck:
    """What loading one layer found."""

    name: str
    ok: bool
    n_features: int | None
    seconds: float
    report: dict[str, int]
    warnings: list[str]
    error: str | None = None


@dataclass
class Study:
    """A study folder: its settings and its layers, loaded lazily.

    Use :func:`load` to make one. ``layer(name)`` returns a validated GeoDataFrame;
    ``population`` the population raster; ``profiles`` and ``targets_path`` the
    technology profiles and the plan's targets.
    """

    root: Path
    name: str
    crs: pyproj.CRS
    bounds_lonlat: tuple[float, float, float, float] | None
    layer_specs: dict[str, dict[str, Any]]
    profiles_path: Path | None = None
    targets_path: Path | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    synthetic: bool = False
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    # ---------------------------------------------------------------- layers
    @property
    def layer_names(self) -> list[str]:
        return list(self.layer_specs)

    def has(self, name: str) -> bool:
        return name in self.layer_specs or (name == "districts" and "communes" in self.layer_specs)

    def path_of(self, name: str) -> Path:
        return self.root / self.layer_specs[name]["path"]

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """The validated layer ``name`` (cached). ``districts`` is dissolved from communes
        unless the study names a districts layer."""
        if name in self._cache:
            return self._cache[name]
        if name == "districts" and "districts" not in self.layer_specs:
            gdf = _io.read_districts(self.layer("communes"))
        elif name in ("population", "landcover"):
            raise ConfigError(f"the {name} raster is `study.{name}`, not a layer.")
        elif name not in self.layer_specs:
            raise ConfigError(
                f"the study {self.name!r} has no layer {name!r} (it has: {', '.join(self.layer_specs)}). "
                f"Add it under [layers] in {self.root / 'study.toml'}."
            )
        else:
            spec = self.layer_specs[name]
            path = self.root / spec["path"]
            kw: dict[str, Any] = {"bounds_lonlat": self.bounds_lonlat}
            if spec.get("format") == "opencellid" or name == "cells":
                gdf = _io.read_cells(path, **kw)
            else:
                for key in ("layer", "x", "y", "crs"):
                    if key in spec:
                        kw[key] = spec[key]
                if name == "hamlets":
                    kw["geometry_kinds"] = {"Polygon", "MultiPolygon", "Point", "MultiPoint"}
                schema = spec.get("schema", name)
                if path.suffix.lower() != ".gpkg":
                    kw.pop("layer", None)
                gdf = _io.read_layer(path, schema, **kw)
        self._cache[name] = gdf
        return gdf

    def layer_in_crs(self, name: str) -> gpd.GeoDataFrame:
        """The layer projected to the study's working CRS (cached)."""
        key = f"{name}@work"
        if key not in self._cache:
            gdf = self.layer(name)
            self._cache[key] = gdf if gdf.crs.equals(self.crs) else gdf.to_crs(self.crs)
        return self._cache[key]

    @property
    def population(self) -> Population:
        if "population" not in self._cache:
            if "population" not in self.layer_specs:
                raise ConfigError(f"the study {self.name!r} names no population raster; add `population = {{ path = \"...tif\" }}` under [layers].")
            self._cache["population"] = _io.read_population(self.root / self.layer_specs["population"]["path"])
        return self._cache["population"]

    @property
    def landcover(self) -> Any:
        """Land-cover class codes on the population grid (for clutter loss), or None when the
        study names no ``landcover`` raster."""
        if "landcover" not in self.layer_specs:
            return None
        if "landcover" not in self._cache:
            self._cache["landcover"] = _io.read_landcover(self.root / self.layer_specs["landcover"]["path"], self.population.grid)
        return self._cache["landcover"]

    @property
    def profiles(self) -> dict[str, Any]:
        """The technology profiles TOML as a dict (validated by :mod:`ictplan.radio`)."""
        if "profiles" not in self._cache:
            if self.profiles_path is None:
                raise ConfigError(f"the study {self.name!r} names no [profiles] path in {self.root / 'study.toml'}.")
            self._cache["profiles"] = _read_toml(self.profiles_path, "profiles")
        return self._cache["profiles"]

    # ---------------------------------------------------------------- checks
    def check(self) -> list[LayerCheck]:
        """Load every layer; return what each found (counts, repairs, warnings, errors)."""
        out = []
        for name in self.layer_names:
            t0 = time.perf_counter()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    if name == "population":
                        n, report = int((self.population.counts > 0).sum()), {}
                    elif name == "landcover":
                        n, report = int(self.landcover.size), {}
                    else:
                        obj = self.layer(name)
                        n, report = len(obj), dict(obj.attrs.get("ictplan_report", {}))
                    res = LayerCheck(name, True, n, time.perf_counter() - t0, report, [str(w.message) for w in caught])
                except IctplanError as err:
                    res = LayerCheck(name, False, None, time.perf_counter() - t0, {}, [str(w.message) for w in caught], str(err))
            out.append(res)
        return out

    def __repr__(self) -> str:
        return f"Study({self.name!r}, root={str(self.root)!r}, crs=EPSG:{self.crs.to_epsg()}, layers={self.layer_names})"


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    if not path.exists():
        raise MissingFileError(f"{what} file not found: {path}. Fix the path in study.toml (relative to the study folder).")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path} is not UTF-8 text: re-save it as UTF-8.") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path} is not valid TOML: {err}. Fix that line.") from err


def load(path: str | os.PathLike) -> Study:
    """Load a study folder (or its ``study.toml``). Layers are read lazily.

    Raises
    ------
    MissingFileError : no such folder / study.toml / layer file.
    ConfigError : unknown keys (named with their line), a bad CRS, bad bounds.
    """
    path = Path(path)
    toml_path = path if path.suffix == ".toml" else path / "study.toml"
    if not toml_path.exists():
        raise MissingFileError(
            f"no study found at {path}: {toml_path.name} is missing. A study is a folder with a study.toml; "
            "see data/camau/study.toml for an example."
        )
    text = toml_path.read_text(encoding="utf-8")
    cfg = _read_toml(toml_path, "study")
    root = toml_path.parent

    def bad(msg: str, needle: str | None = None) -> ConfigError:
        line = _line_of(text, needle) if needle else None
        where = f"{toml_path}" + (f", line {line}" if line else "")
        return ConfigError(f"{where}: {msg}")

    for key in cfg:
        if key not in _TOP_KEYS:
            raise bad(f"unknown section [{key}]; allowed: {', '.join(sorted(_TOP_KEYS))}.", key)
    st = cfg.get("study", {})
    for key in st:
        if key not in _STUDY_KEYS:
            raise bad(f"unknown key {key!r} in [study]; allowed: {', '.join(sorted(_STUDY_KEYS))}.", key)
    try:
        crs = as_crs(st.get("crs", "EPSG:32648"))
    except IctplanError as err:
        raise bad(f"bad crs: {err}", "crs") from err
    if crs.is_geographic:
        raise bad(f"the study crs must be projected (metres), got {crs.name}. Use e.g. EPSG:32648 (UTM 48N).", "crs")
    bounds = st.get("bounds_lonlat")
    if bounds is not None:
        if len(bounds) != 4 or not (bounds[0] < bounds[2] and bounds[1] < bounds[3]):
            raise bad(f"bounds_lonlat must be [min lon, min lat, max lon, max lat]; got {bounds}.", "bounds_lonlat")
        bounds = tuple(float(b) for b in bounds)
    layers = cfg.get("layers", {})
    if not layers:
        raise bad("the [layers] section is empty or missing; name at least the communes and population layers.")
    specs: dict[str, dict[str, Any]] = {}
    for name, spec in layers.items():
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict) or "path" not in spec:
            raise bad(f"layer {name!r} needs a path, e.g. {name} = {{ path = \"file.gpkg\", layer = \"{name}\" }}.", name)
        unknown = set(spec) - _LAYER_KEYS - {"schema"}
        if unknown:
            raise bad(f"layer {name!r} has unknown key(s) {sorted(unknown)}; allowed: {', '.join(sorted(_LAYER_KEYS))}.", name)
        schema = spec.get("schema", name)
        if name not in LAYER_NAMES and schema not in SCHEMAS:
            raise bad(f"unknown layer {name!r}; known layers: {', '.join(LAYER_NAMES)} (or give `schema = \"...\"`).", name)
        if not (root / spec["path"]).exists():
            raise MissingFileError(f"{toml_path}, line {_line_of(text, name) or '?'}: layer {name!r}: file not found: {root / spec['path']}. Fix the path (relative to {root}).")
        specs[name] = dict(spec)

    def optional_path(section: str) -> Path | None:
        sec = cfg.get(section)
        if not sec:
            return None
        if "path" not in sec:
            raise bad(f"[{section}] needs a path.", f"[{section}]")
        return (root / sec["path"]).resolve()

    return Study(
        root=root.resolve(),
        name=st.get("name", root.name),
        crs=crs,
        bounds_lonlat=bounds,
        layer_specs=specs,
        profiles_path=optional_path("profiles"),
        targets_path=optional_path("targets"),
        parameters=dict(cfg.get("parameters", {})),
        synthetic=bool(st.get("synthetic", False)),
    )
