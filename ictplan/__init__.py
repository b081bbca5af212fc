"""ictplan: plan a province's ICT infrastructure from real geodata.

Modules (``import ictplan as ip; ip.io.read_layer(...)``): ``io`` (loaders and atomic
writers), ``study`` (a study folder), ``crs``, ``grid`` (analysis grid, zone weights),
``names`` (Vietnamese names), ``datasets`` (the embedded Cà Mau sample), and the
analyses ``radio``, ``coverage``, ``network``, ``fiber``, ``sharing``, ``targets``,
``maps``, ``report``; ``parameters`` (every analysis parameter and its one default) and
``workflow`` (``ip.workflow.run(study)``: every analysis once, in dependency order, into
one ``Results``); ``admin`` (the 2025 reform: old and new units, crosswalks).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import admin as admin
from . import coverage as coverage
from . import crs as crs
from . import datasets as datasets
from . import errors as errors
from . import fiber as fiber
from . import grid as grid
from . import io as io
from . import maps as maps
from . import names as names
from . import network as network
from . import parameters as parameters
from . import radio as radio
from . import report as report
from . import schemas as schemas
from . import services as services
from . import sharing as sharing
from . import study as study
from . import targets as targets
from . import workflow as workflow

try:
    __version__ = version("ictplan")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["admin", "coverage", "crs", "radio", "fiber", "maps", "network", "report", "datasets", "errors", "grid", "io", "names", "schemas", "services", "sharing", "study", "targets", "parameters", "workflow", "__version__", "show_versions"]


def show_versions() -> str:
    """Versions of ictplan and the geospatial stack (for bug reports)."""
    import sys

    import geopandas
    import numpy
    import pyogrio
    import pyproj
    import rasterio
    import shapely

    lines = [f"ictplan {__version__}", f"python {sys.version.split()[0]}"]
    for mod in (numpy, geopandas, shapely, pyogrio, pyproj, rasterio):
        lines.append(f"{mod.__name__} {mod.__version__}")
    lines.append(f"GDAL {rasterio.__gdal_version__}, PROJ {pyproj.proj_version_str}")
    return "\n".join(lines)
