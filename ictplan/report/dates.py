"""The data's own date for the report's sources table (not the date a file was copied).

In order: the layer's ``date`` in study.toml (as its source gives it: ``date = "2019-04-01"``
for the 2019 census); else a date the data carries -- OpenCelliD's last ``updated`` time
for a cells layer, a GeoTIFF's ``date`` or ``TIFFTAG_DATETIME`` tag; else "" (the table
still gives the file's date beside it).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["data_date"]

_RASTER_SUFFIXES = (".tif", ".tiff", ".vrt")


def _cells_date(layer: Any) -> str:
    """The last ``updated`` (Unix seconds) of an OpenCelliD table, as an ISO date."""
    if layer is None or "updated" not in getattr(layer, "columns", ()):
        return ""
    t = pd.to_numeric(layer["updated"], errors="coerce").dropna()
    if not len(t) or float(t.max()) <= 0:
        return ""
    return _dt.datetime.fromtimestamp(float(t.max()), tz=_dt.UTC).date().isoformat()


def _raster_date(path: Path) -> str:
    try:
        import rasterio

        with rasterio.open(path) as ds:
            tags = ds.tags()
    except Exception:  # noqa: BLE001  # no readable tags: no date, the file date stays beside it
        return ""
    raw = str(tags.get("date") or tags.get("TIFFTAG_DATETIME") or "").strip()
    return raw[:10].replace(":", "-") if raw[:4].isdigit() else raw  # "2019:04:01 00:00:00" -> "2019-04-01"


def data_date(root: Path, spec: Mapping[str, Any], layer: Any = None) -> str:
    """The date of one study layer's data ("" when neither study.toml nor the data gives one).

    ``spec``: the layer's entry under [layers]; ``layer``: the loaded layer (for a cells
    table), if the caller has it.
    """
    if spec.get("date"):
        return str(spec["date"])
    if str(spec.get("format", "")).lower() == "opencellid":
        return _cells_date(layer)
    path = Path(root) / str(spec.get("path", ""))
    if path.suffix.lower() in _RASTER_SUFFIXES:
        return _raster_date(path)
    return ""
