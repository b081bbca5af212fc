"""A study: a folder of layers and a ``study.toml`` that names them.

```toml
[study]
name = "Cà Mau — embedded sample"
province = "Cà Mau"
crs = "EPSG:32648"                   # working CRS for metric analysis
bounds_lonlat = [104.6, 8.45, 105.6, 9.7]

[layers]
communes   = { path = "camau.gpkg", layer = "communes" }   # GSO ma_xa/ten_xa/loai_xa are recognised
# a planner's own column names: schema name = the file's name
# communes = { path = "xa.shp", columns = { commune_code = "MaXa", commune_name = "TenXa" } }
population = { path = "population_100m.tif" }
sites      = { path = "sites.csv", x = "lon", y = "lat", crs = "EPSG:4326" }
cells      = { path = "opencellid_452.csv", format = "opencellid" }

[profiles]
path = "../profiles/default.toml"

[targets]
path = "../targets/camau_2021_2030.toml"
```

``[study] units`` says which administrative units the study's analyses, tables, map and
report are in: ``"2019"`` (default, :data:`DEFAULT_UNITS`: the communes before 1 July
2025, those of the 2019 census and of the 2021-2030 plan) or ``"2025"`` (the units since
the reform: the analyses still run on the grid in the communes the layers give, and are
then reported in the new units, with the old and new side by side). A study of the new
province is made of parts, each a study folder of one old province, and has no layers of
its own::

    [study]
    name = "Cà Mau (new province)"
    province = "Cà Mau"
    units = "2025"
    parts = ["../camau", "../baclieu"]

Paths are relative to the study folder. Layers load lazily on first use and are cached;
``Study.check()`` loads them all and reports what each loader repaired or skipped;
``Study.check_all()`` adds the profiles, targets and ``[parameters]``, whether each job
has what it needs, and the overlapping zones (what ``ictplan check`` prints).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import geopandas as gpd
import numpy as np
import pyproj

from . import io as _io
from . import validation as _v
from ._errors import ConfigError, IctplanError, MissingFileError
from .crs import as_crs
from .grid import Population
from .schemas import LAYER_NAMES, SCHEMAS

__all__ = ["Study", "load", "LayerCheck", "FileCheck", "StudyCheck", "LayerSpec", "DEFAULT_UNITS", "UNIT_SETS"]

_TOP_KEYS = {"study", "layers", "profiles", "targets", "parameters"}
_STUDY_KEYS = {"name", "province", "crs", "bounds_lonlat", "synthetic", "description", "units", "parts"}

#: The administrative units a study reports in by default (``[study] units``): the communes
#: before 1 July 2025, in which the plan and the 2019 census are written.
DEFAULT_UNITS = "2019"
#: ``[study] units`` -> the unit set of :mod:`ictplan.admin` ("old": before 1 July 2025; "new": since).
UNIT_SETS = {"2019": "old", "2025": "new"}
_LAYER_KEYS = {"path", "layer", "x", "y", "crs", "format", "schema", "columns", "date"}


class LayerSpec(TypedDict, total=False):
    """One entry of ``[layers]`` in study.toml (``path`` is always there)."""

    path: str
    layer: str
    x: str
    y: str
    crs: str | int
    format: str
    schema: str
    columns: dict[str, str]  # schema name -> the file's column name
    date: str  # the data's own date as its source gives it (e.g. "2019-04-01", the census): the report's sources


def _line_of(text: str, needle: str) -> int | None:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    return None


@dataclass(frozen=True)
class LayerCheck:
    """What loading one layer found. ``columns``: the file's columns renamed to the
    schema's (file name → schema name), from ``columns =`` or the GSO names."""

    name: str
    ok: bool
    n_features: int | None
    seconds: float
    report: dict[str, int]
    warnings: list[str]
    error: str | None = None
    columns: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileCheck:
    """What checking one file or table named in study.toml found (profiles, targets,
    ``[parameters]``): ``detail`` is a short summary, or the error when not ``ok``."""

    name: str
    path: Path | None
    ok: bool
    detail: str


@dataclass(frozen=True)
class StudyCheck:
    """Everything ``ictplan check`` reports: layers, files, job readiness, overlaps.

    ``overlaps``: one line per zone level (from :func:`ictplan.zones.overlap_report`).
    ``ok`` is False when any layer or file has an error; a job that lacks an input is
    not an error (the study may simply not ask for it).
    """

    layers: list[LayerCheck]
    files: list[FileCheck]
    jobs: list[_v.JobReadiness]
    overlaps: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return ([f"{c.name}: {c.error}" for c in self.layers if c.error]
                + [f"{f.name}: {f.detail}" for f in self.files if not f.ok])

    @property
    def n_warnings(self) -> int:
        return sum(len(c.warnings) for c in self.layers)

    @property
    def ok(self) -> bool:
        return not self.errors

    def verdict(self) -> str:
        """The last line of ``ictplan check``."""
        if self.ok:
            return f"check: OK — {len(self.layers)} layers, {self.n_warnings} warnings"
        return f"check: FAILED — {len(self.errors)} error{'s' if len(self.errors) != 1 else ''}"


@dataclass
class Study:
    """A study folder: its settings and its layers, loaded lazily.

    Use :func:`load` to make one. ``layer(name)`` returns a validated GeoDataFrame;
    ``population`` the population raster; ``profiles`` and ``targets_path`` the
    technology profiles and the plan's targets; ``province`` the province's name
    (``[study] province``), ``parameters`` the ``[parameters]`` table (one sub-table per
    job, see :mod:`ictplan.parameters`).
    """

    root: Path
    name: str
    crs: pyproj.CRS
    bounds_lonlat: tuple[float, float, float, float] | None
    layer_specs: dict[str, LayerSpec]
    profiles_path: Path | None = None
    targets_path: Path | None = None
    parameters: dict[str, dict[str, Any]] = field(default_factory=dict)
    synthetic: bool = False
    province: str | None = None
    description: str | None = None
    units: str = DEFAULT_UNITS
    parts: tuple[Path, ...] = ()
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def unit_set(self) -> str:
        """``"old"`` (units before 1 July 2025) or ``"new"`` (since), from ``[study] units``."""
        return UNIT_SETS[self.units]

    # ---------------------------------------------------------------- layers
    @property
    def layer_names(self) -> list[str]:
        return list(self.layer_specs)

    def has(self, name: str) -> bool:
        """Whether the study has the layer ``name``. ``districts``: a districts layer, or
        communes that name their district (loads the communes; False if they fail)."""
        if name in self.layer_specs:
            return True
        if name == "districts" and "communes" in self.layer_specs:
            try:
                return _io.has_districts(self.layer("communes"))
            except IctplanError:
                return False
        return False

    def path_of(self, name: str) -> Path:
        return self.root / self.layer_specs[name]["path"]

    def layer(self, name: str) -> gpd.GeoDataFrame:
        """The validated layer ``name`` (cached). ``districts`` is dissolved from communes
        unless the study names a districts layer."""
        if name in self._cache:
            gdf: gpd.GeoDataFrame = self._cache[name]
            return gdf
        if name == "districts" and "districts" not in self.layer_specs:
            gdf = _io.read_districts(self.layer("communes"))
        elif name in ("population", "landcover", "elevation"):
            raise ConfigError(f"the {name} raster is `study.{name}`, not a layer.")
        elif name not in self.layer_specs:
            raise ConfigError(
                f"the study {self.name!r} has no layer {name!r} (it has: {', '.join(self.layer_specs)}). "
                f"Add it under [layers] in {self.root / 'study.toml'}."
            )
        else:
            gdf = self._read_layer(name, self.layer_specs[name])
        self._cache[name] = gdf
        return gdf

    def _read_layer(self, name: str, spec: LayerSpec) -> gpd.GeoDataFrame:
        path = self.root / spec["path"]
        if spec.get("format") == "opencellid" or name == "cells":
            return _io.read_cells(path, bounds_lonlat=self.bounds_lonlat)
        geometry_kinds = {"Polygon", "MultiPolygon", "Point", "MultiPoint"} if name == "hamlets" else None
        layer = spec.get("layer") if path.suffix.lower() == ".gpkg" else None
        if name == "buildings" or spec.get("format") == "open_buildings":  # footprints/points, e.g. Open Buildings CSV
            return _io.read_buildings(path, format=spec.get("format"), layer=layer, crs=spec.get("crs"), x=spec.get("x"),
                                      y=spec.get("y"), bounds_lonlat=self.bounds_lonlat, columns=spec.get("columns"))
        return _io.read_layer(path, spec.get("schema", name), layer=layer, crs=spec.get("crs"), x=spec.get("x"),
                              y=spec.get("y"), bounds_lonlat=self.bounds_lonlat, geometry_kinds=geometry_kinds,
                              columns=spec.get("columns"))

    def layer_in_crs(self, name: str) -> gpd.GeoDataFrame:
        """The layer projected to the study's working CRS (cached)."""
        key = f"{name}@work"
        if key not in self._cache:
            gdf = self.layer(name)
            self._cache[key] = gdf if gdf.crs.equals(self.crs) else gdf.to_crs(self.crs)
        out: gpd.GeoDataFrame = self._cache[key]
        return out

    @property
    def population(self) -> Population:
        if "population" not in self._cache:
            if "population" not in self.layer_specs:
                raise ConfigError(f"the study {self.name!r} names no population raster; add `population = {{ path = \"...tif\" }}` under [layers].")
            self._cache["population"] = _io.read_population(self.root / self.layer_specs["population"]["path"])
        pop: Population = self._cache["population"]
        return pop

    @property
    def landcover(self) -> np.ndarray | None:
        """Land-cover class codes on the population grid (for clutter loss), or None when the
        study names no ``landcover`` raster."""
        if "landcover" not in self.layer_specs:
            return None
        if "landcover" not in self._cache:
            self._cache["landcover"] = _io.read_landcover(self.root / self.layer_specs["landcover"]["path"], self.population.grid)
        lc: np.ndarray = self._cache["landcover"]
        return lc

    @property
    def elevation(self) -> np.ndarray | None:
        """Ground elevation in metres (float32, NaN outside) on the population grid, or None when
        the study names no ``elevation`` raster (:func:`ictplan.io.read_elevation`)."""
        if "elevation" not in self.layer_specs:
            return None
        if "elevation" not in self._cache:
            from .io import read_elevation

            self._cache["elevation"] = read_elevation(self.root / self.layer_specs["elevation"]["path"],
                                                      self.population.grid)
        dem: np.ndarray = self._cache["elevation"]
        return dem

    @property
    def profiles(self) -> dict[str, Any]:
        """The technology profiles TOML as a dict (validated by :mod:`ictplan.radio`)."""
        if "profiles" not in self._cache:
            if self.profiles_path is None:
                raise ConfigError(f"the study {self.name!r} names no [profiles] path in {self.root / 'study.toml'}.")
            self._cache["profiles"] = _io.read_toml(self.profiles_path, "profiles")
        prof: dict[str, Any] = self._cache["profiles"]
        return prof

    # ---------------------------------------------------------------- checks
    def _check_layer(self, name: str) -> LayerCheck:
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                columns: dict[str, str] = {}
                report: dict[str, int] = {}
                if name == "population":
                    n, report = int((self.population.counts > 0).sum()), {}
                elif name == "landcover":
                    lc = self.landcover
                    n, report = (0 if lc is None else int(lc.size)), {}
                elif name == "elevation":
                    dem = self.elevation
                    n, report = (0 if dem is None else int(np.isfinite(dem).sum())), {}
                else:
                    obj = self.layer(name)
                    n, report = len(obj), dict(obj.attrs.get("ictplan_report", {}))
                    columns = dict(obj.attrs.get("ictplan_columns", {}))
                return LayerCheck(name, True, n, time.perf_counter() - t0, report, [str(w.message) for w in caught],
                                  columns=columns)
            except IctplanError as err:
                return LayerCheck(name, False, None, time.perf_counter() - t0, {}, [str(w.message) for w in caught], str(err))

    def check(self) -> list[LayerCheck]:
        """Load every layer; return what each found (counts, repairs, warnings, errors)."""
        return [self._check_layer(name) for name in self.layer_names]

    def _check_profiles(self) -> tuple[FileCheck | None, dict[str, Any] | None]:
        if self.profiles_path is None:
            return None, None
        from . import radio

        try:
            parsed = radio.parse_profiles(self.profiles, source=str(self.profiles_path))
        except IctplanError as err:
            return FileCheck("profiles", self.profiles_path, False, str(err)), None
        n = len({k for k in parsed["carriers"] if k[0] == "default"})
        return FileCheck("profiles", self.profiles_path, True, f"{n} carrier profile(s) by default, "
                         f"{len(parsed['carriers'])} with the operators'"), parsed

    def _check_targets(self) -> FileCheck | None:
        if self.targets_path is None:
            return None
        from . import targets

        try:
            plan = targets.load_targets(self.targets_path)
        except IctplanError as err:
            return FileCheck("targets", self.targets_path, False, str(err))
        return FileCheck("targets", self.targets_path, True, f"{len(plan.targets)} target(s)")

    def _check_parameters(self) -> FileCheck | None:
        from . import parameters

        if not self.parameters:
            return None
        problems = parameters.check_table(self.parameters)
        where = self.root / "study.toml"
        if problems:
            return FileCheck("parameters", where, False, " ".join(problems))
        return FileCheck("parameters", where, True, f"[parameters] for {', '.join(self.parameters)}")

    def _check_bands(self, layers: list[LayerCheck], profiles: Mapping[str, Any] | None) -> list[LayerCheck]:
        """The sites' bands must be known to the profiles: a failure marks the sites' check."""
        if profiles is None or "sites" not in self.layer_specs:
            return layers
        out = []
        for c in layers:
            if c.name == "sites" and c.ok:
                problem = _v.unknown_bands(self.layer("sites"), profiles["carriers"], what=f"sites ({self.path_of('sites').name})",
                                           source=str(self.profiles_path))
                if problem:
                    c = LayerCheck(c.name, False, c.n_features, c.seconds, c.report, c.warnings, problem, c.columns)
            out.append(c)
        return out

    def _overlaps(self, layers: list[LayerCheck]) -> list[str]:
        """One line per polygon zone level whose layer loaded (when :mod:`ictplan.zones` is there)."""
        try:
            from . import zones
        except ImportError:  # pragma: no cover - zones is part of the package
            return []
        ok = {c.name for c in layers if c.ok}
        lines = []
        for level in ("communes", "hamlets"):
            if level not in ok:
                continue
            gdf = self.layer_in_crs(level)
            if not gdf.geom_type.isin(["Polygon", "MultiPolygon"]).all():
                continue
            try:
                report = (zones.overlap_report(self, level=level) if "population" in ok
                          else zones.overlap_report(gdf, level=level))
            except IctplanError as err:
                lines.append(f"{level}: overlaps not measured ({err})")
                continue
            lines.append(report.summary())
        return lines

    def check_all(self) -> StudyCheck:
        """:meth:`check`, plus the profiles (parsed, and the sites' bands known to them), the
        targets file, the ``[parameters]`` table, whether each job has what it needs and the
        overlapping zones. ``StudyCheck.verdict()`` is ``ictplan check``'s last line. A study
        made of parts checks each part (its lines prefixed with the part's name)."""
        if self.parts:
            return self._check_parts()
        loaded = self.check()
        prof_check, profiles = self._check_profiles()
        files = [f for f in (prof_check, self._check_targets(), self._check_parameters()) if f is not None]
        layers = self._check_bands(loaded, profiles)
        failed = {c.name: c.error or "" for c in loaded if not c.ok}
        failed.update({f.name: f.detail for f in files if not f.ok})
        jobs = _v.readiness(self, failed)
        if any(a.ok and not b.ok for a, b in zip(loaded, layers, strict=True)):  # only coverage reads the bands
            jobs = [_v.JobReadiness(j.job, (*j.missing, "sectors with bands the profiles know (see sites)"))
                    if j.job == "coverage" else j for j in jobs]
        return StudyCheck(layers=layers, files=files, jobs=jobs, overlaps=self._overlaps(layers))

    def _check_parts(self) -> StudyCheck:
        import dataclasses

        layers: list[LayerCheck] = []
        files = [f for f in (self._check_targets(), self._check_parameters()) if f is not None]
        jobs: list[_v.JobReadiness] = []
        overlaps: list[str] = []
        for path in self.parts:
            part = load(path)
            res = part.check_all()
            tag = part.province or part.name
            layers += [dataclasses.replace(c, name=f"{tag}: {c.name}") for c in res.layers]
            files += [dataclasses.replace(f, name=f"{tag}: {f.name}") for f in res.files]
            jobs += [_v.JobReadiness(f"{tag}: {j.job}", j.missing) for j in res.jobs]
            overlaps += [f"{tag}: {line}" for line in res.overlaps]
        return StudyCheck(layers=layers, files=files, jobs=jobs, overlaps=overlaps)

    def __repr__(self) -> str:
        return f"Study({self.name!r}, root={str(self.root)!r}, crs=EPSG:{self.crs.to_epsg()}, layers={self.layer_names})"


#: Makes the ConfigError for a study.toml problem (message, text to find its line by).
_Bad = Callable[..., ConfigError]


def _check_columns(name: str, columns: object, bad: _Bad) -> dict[str, str]:
    if not isinstance(columns, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in columns.items()):
        raise bad(f"layer {name!r}: `columns` must map the schema's names to the file's, e.g. "
                  "columns = { commune_code = \"ma_xa\", commune_name = \"ten_xa\" }.", name)
    return dict(columns)


def _parse_layers(cfg: dict[str, Any], root: Path, toml_path: Path, text: str, bad: _Bad) -> dict[str, LayerSpec]:
    layers = cfg.get("layers", {})
    if not layers and cfg.get("study", {}).get("parts"):
        return {}  # a study made of parts has the parts' layers
    if not layers:
        raise bad("the [layers] section is empty or missing; name at least the communes and population layers.")
    specs: dict[str, LayerSpec] = {}
    for name, spec in layers.items():
        if isinstance(spec, str):
            spec = {"path": spec}
        if not isinstance(spec, dict) or "path" not in spec:
            raise bad(f"layer {name!r} needs a path, e.g. {name} = {{ path = \"file.gpkg\", layer = \"{name}\" }}.", name)
        unknown = set(spec) - _LAYER_KEYS
        if unknown:
            raise bad(f"layer {name!r} has unknown key(s) {sorted(unknown)}; allowed: {', '.join(sorted(_LAYER_KEYS))}.", name)
        schema = spec.get("schema", name)
        if name not in LAYER_NAMES and schema not in SCHEMAS:
            raise bad(f"unknown layer {name!r}; known layers: {', '.join(LAYER_NAMES)} (or give `schema = \"...\"`).", name)
        if "columns" in spec:
            spec = {**spec, "columns": _check_columns(name, spec["columns"], bad)}
        if not (root / spec["path"]).exists():
            raise MissingFileError(f"{toml_path}, line {_line_of(text, name) or '?'}: layer {name!r}: file not found: {root / spec['path']}. Fix the path (relative to {root}).")
        specs[name] = LayerSpec(**spec)
    return specs


def _parse_study_table(st: dict[str, Any], bad: _Bad) -> tuple[pyproj.CRS, tuple[float, float, float, float] | None]:
    for key in st:
        if key not in _STUDY_KEYS:
            raise bad(f"unknown key {key!r} in [study]; allowed: {', '.join(sorted(_STUDY_KEYS))}.", key)
    for key in ("name", "province", "description"):
        if key in st and not isinstance(st[key], str):
            raise bad(f"[study] {key} must be text, got {st[key]!r}.", key)
    try:
        crs = as_crs(st.get("crs", "EPSG:32648"))
    except IctplanError as err:
        raise bad(f"bad crs: {err}", "crs") from err
    if crs.is_geographic:
        raise bad(f"the study crs must be projected (metres), got {crs.name}. Use e.g. EPSG:32648 (UTM 48N).", "crs")
    bounds = st.get("bounds_lonlat")
    if bounds is None:
        return crs, None
    if len(bounds) != 4 or not (bounds[0] < bounds[2] and bounds[1] < bounds[3]):
        raise bad(f"bounds_lonlat must be [min lon, min lat, max lon, max lat]; got {bounds}.", "bounds_lonlat")
    b = tuple(float(v) for v in bounds)
    return crs, (b[0], b[1], b[2], b[3])


def _parse_units(st: dict[str, Any], root: Path, bad: _Bad) -> tuple[str, tuple[Path, ...]]:
    """``[study] units`` and ``parts`` (each part a study folder, relative to the study)."""
    units = str(st.get("units", DEFAULT_UNITS))
    if units not in UNIT_SETS:
        raise bad(f"[study] units = {st['units']!r}: write \"2019\" (the communes before 1 July 2025) or \"2025\" "
                  "(the units since the reform).", "units")
    parts = st.get("parts", [])
    if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
        raise bad('[study] parts must be a list of study folders, e.g. parts = ["../camau", "../baclieu"].', "parts")
    if parts and UNIT_SETS[units] != "new":
        raise bad("a study made of parts (old provinces) is reported in the units since 1 July 2025: "
                  'add units = "2025" to [study].', "parts")
    paths = tuple((root / p).resolve() for p in parts)
    for p in paths:
        if not (p / "study.toml").exists():
            raise MissingFileError(f"{root / 'study.toml'}: the part {p} has no study.toml. Each part is a study "
                                   "folder (e.g. data/camau); fix the path (relative to the study folder).")
    return units, paths


def load(path: str | os.PathLike[str]) -> Study:
    """Load a study folder (or its ``study.toml``). Layers are read lazily.

    Raises
    ------
    MissingFileError : no such folder / study.toml / layer file.
    ConfigError : unknown keys (named with their line), a bad CRS, bad bounds, a bad
        ``columns =`` mapping.
    """
    path = Path(path)
    toml_path = path if path.suffix == ".toml" else path / "study.toml"
    if not toml_path.parent.is_dir():  # say the folder is missing, not its study.toml
        raise MissingFileError(
            f"no study folder {toml_path.parent}: it does not exist. Give the folder that holds the study's "
            "study.toml (e.g. data/camau), relative to where you run the command, or an absolute path."
        )
    if not toml_path.exists():
        raise MissingFileError(
            f"no study found at {path}: {toml_path.name} is missing. A study is a folder with a study.toml; "
            "see data/camau/study.toml for an example."
        )
    cfg = _io.read_toml(toml_path, "study")
    text = toml_path.read_text(encoding="utf-8")
    root = toml_path.parent

    def bad(msg: str, needle: str | None = None) -> ConfigError:
        line = _line_of(text, needle) if needle else None
        where = f"{toml_path}" + (f", line {line}" if line else "")
        return ConfigError(f"{where}: {msg}")

    for key in cfg:
        if key not in _TOP_KEYS:
            raise bad(f"unknown section [{key}]; allowed: {', '.join(sorted(_TOP_KEYS))}.", key)
    st = cfg.get("study", {})
    crs, bounds = _parse_study_table(st, bad)
    units, parts = _parse_units(st, root, bad)
    specs = _parse_layers(cfg, root, toml_path, text, bad)

    def optional_path(section: str) -> Path | None:
        sec = cfg.get(section)
        if not sec:
            return None
        if "path" not in sec:
            raise bad(f"[{section}] needs a path.", f"[{section}]")
        return (root / sec["path"]).resolve()

    params = cfg.get("parameters", {})
    if not isinstance(params, dict):
        raise bad("[parameters] must be a table of tables, e.g. [parameters.fiber].", "parameters")
    return Study(
        root=root.resolve(),
        name=st.get("name", root.name),
        crs=crs,
        bounds_lonlat=bounds,
        layer_specs=specs,
        profiles_path=optional_path("profiles"),
        targets_path=optional_path("targets"),
        parameters=dict(params),
        synthetic=bool(st.get("synthetic", False)),
        province=st.get("province"),
        description=st.get("description"),
        units=units,
        parts=parts,
    )
