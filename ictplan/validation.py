"""Checks shared by every loader and analysis: value ranges per row, and what each job needs.

Two contracts live here, so that loaders, ``Study.check``, ``ictplan check`` and
:mod:`ictplan.workflow` say the same thing:

* **Value ranges** (:data:`RANGES`, :func:`check_values`): a sector's azimuth in
  [0, 360]°, antenna height in (0, 300] m, tilt in [-20, 60]°, transmit power in
  [0, 70] dBm. A failure names the rows (counted from 1 in file order, the header not
  counted) and the values::

      sites (sites.csv): 2 rows with height_m outside (0, 300] m: row 5 (site S12) -5.0,
      row 9 (site S30) 400.0; fix the values.

* **What each job needs** (:data:`JOB_INPUTS`, :func:`missing_inputs`,
  :func:`readiness`): the layers and files without which a job cannot run, e.g.
  ``fiber: needs roads — missing``. ``workflow.run`` records the same sentence as the
  reason a job was skipped.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from ._errors import CoordinateError, InputValidationError
from .crs import crs_label

if TYPE_CHECKING:  # pragma: no cover
    from .study import Study

__all__ = [
    "ValueRange",
    "RANGES",
    "AZIMUTH_RANGE_DEG",
    "HEIGHT_RANGE_M",
    "TILT_RANGE_DEG",
    "TX_POWER_RANGE_DBM",
    "check_values",
    "unknown_bands",
    "check_lonlat",
    "coerce_column",
    "value_problems",
    "rows_text",
    "row_numbers",
    "JOB_INPUTS",
    "INPUT_FILES",
    "missing_inputs",
    "skip_reason",
    "readiness",
    "JobReadiness",
]

AZIMUTH_RANGE_DEG = (0.0, 360.0)
HEIGHT_RANGE_M = (0.0, 300.0)  # (low exclusive, high inclusive]
TILT_RANGE_DEG = (-20.0, 60.0)  # mechanical and electrical, and their sum (coverage's range)
TX_POWER_RANGE_DBM = (0.0, 70.0)  # per sector; 20 W = 43 dBm, 80 W = 49 dBm

_SHOWN_ROWS = 5


@dataclass(frozen=True)
class ValueRange:
    """An allowed range for one numeric column.

    ``low_open``: the low end is excluded (a height of 0 m is refused). ``missing_ok``: a
    blank value is allowed (an omni sector has no azimuth; a blank power takes the
    profile's). ``hint`` ends the message.
    """

    column: str
    low: float
    high: float
    unit: str = ""
    low_open: bool = False
    missing_ok: bool = True
    hint: str = "fix the values"

    def describe(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}]{unit}"

    def bad(self, values: np.ndarray) -> np.ndarray:
        """A mask of the values outside the range (blank ones too unless ``missing_ok``)."""
        finite = np.isfinite(values)
        with np.errstate(invalid="ignore"):
            low_bad = values <= self.low if self.low_open else values < self.low
            out = finite & (low_bad | (values > self.high))
        if not self.missing_ok:
            out |= ~finite
        else:
            out |= np.isinf(values)
        return out


#: Range checks per layer schema, applied by :func:`ictplan.io.validate_layer`.
RANGES: dict[str, tuple[ValueRange, ...]] = {
    "sites": (
        ValueRange("azimuth_deg", *AZIMUTH_RANGE_DEG, "°", hint="use degrees clockwise from north, blank for omni"),
        ValueRange("height_m", *HEIGHT_RANGE_M, "m", low_open=True, missing_ok=False,
                   hint="give the antenna height above ground in metres"),
        ValueRange("tilt_deg", *TILT_RANGE_DEG, "°", hint="downtilt in degrees, positive down"),
        ValueRange("etilt_deg", *TILT_RANGE_DEG, "°", hint="electrical downtilt in degrees"),
        ValueRange("tx_power_dbm", *TX_POWER_RANGE_DBM, "dBm",
                   hint="give dBm per sector (watts? 20 W = 43 dBm), blank for the profile's"),
    ),
    "buildings": (
        ValueRange("area_m2", 0.0, 1e6, "m²", hint="give the footprint area in square metres, blank to take the polygon's"),
        ValueRange("confidence", 0.0, 1.0, hint="give the detection score between 0 and 1, blank when unknown"),
    ),
    "dtt_transmitters": (
        ValueRange("height_m", 0.0, 600.0, "m", low_open=True, missing_ok=False,
                   hint="give the antenna height above ground in metres"),
        ValueRange("freq_mhz", 30.0, 3000.0, "MHz", missing_ok=False, hint="give the channel's centre frequency in MHz"),
        ValueRange("erp_dbm", 0.0, 110.0, "dBm", missing_ok=False, hint="give the ERP in dBm (1 kW = 60 dBm)"),
    ),
}

#: The column that names a row in messages, per schema (else the schema's id column).
_LABELS: dict[str, tuple[str, str]] = {"sites": ("site", "site_id")}


def rows_text(rows: Sequence[int], *, labels: Sequence[str] | None = None, values: Sequence[str] | None = None,
              shown: int = _SHOWN_ROWS) -> str:
    """``row 5 (site S12) -5.0, row 9 400.0 and 3 more``: rows counted from 1."""
    parts = []
    for i, row in enumerate(rows[:shown]):
        text = f"row {row}"
        if labels is not None and labels[i]:
            text += f" ({labels[i]})"
        if values is not None:
            text += f" {values[i]}"
        parts.append(text)
    more = f" and {len(rows) - shown} more" if len(rows) > shown else ""
    return ", ".join(parts) + more


def _row_labels(df: pd.DataFrame, schema: str, id_column: str | None, mask: np.ndarray) -> list[str]:
    word, col = _LABELS.get(schema, (id_column or "", id_column or ""))
    if not col or col not in df.columns:
        return [""] * int(mask.sum())
    return [f"{word} {v}" if v is not None and v == v else "" for v in df[col].to_numpy()[mask]]


def row_numbers(df: pd.DataFrame | pd.Series, mask: np.ndarray) -> list[int]:
    """The 1-based row numbers of ``mask``'s rows: the integer index + 1 (loaders keep the
    file's order and index), else the position + 1."""
    index = df.index
    if pd.api.types.is_integer_dtype(index):
        return [int(i) + 1 for i in index.to_numpy()[mask]]
    return [int(i) + 1 for i in np.flatnonzero(mask)]


def value_problems(df: pd.DataFrame, schema: str, *, what: str, id_column: str | None = None,
                   ranges: Iterable[ValueRange] | None = None) -> list[str]:
    """One sentence per column with values out of range (empty: all fine).

    Rows are named by the frame's integer index + 1 (the loaders keep the file's order).
    """
    problems = []
    for rule in RANGES.get(schema, ()) if ranges is None else ranges:
        if rule.column not in df.columns:
            continue
        values = pd.to_numeric(df[rule.column], errors="coerce").to_numpy(dtype=float)
        bad = rule.bad(values)
        if not bad.any():
            continue
        n = int(bad.sum())
        shown = [("blank" if math.isnan(v) else f"{v:g}") for v in values[bad]]
        rows = rows_text(row_numbers(df, bad), labels=_row_labels(df, schema, id_column, bad), values=shown)
        problems.append(f"{what}: {n} row{'s' if n > 1 else ''} with {rule.column} outside {rule.describe()}: "
                        f"{rows}; {rule.hint}.")
    if schema == "sites" and not problems and {"tilt_deg", "etilt_deg"} <= set(df.columns):
        problems += _total_tilt_problems(df, schema, what=what, id_column=id_column)
    return problems


def _total_tilt_problems(df: pd.DataFrame, schema: str, *, what: str, id_column: str | None) -> list[str]:
    """Mechanical plus electrical tilt within :data:`TILT_RANGE_DEG` (coverage adds them)."""
    total = (pd.to_numeric(df["tilt_deg"], errors="coerce").fillna(0.0)
             + pd.to_numeric(df["etilt_deg"], errors="coerce").fillna(0.0)).to_numpy(dtype=float)
    rule = ValueRange("tilt_deg + etilt_deg", *TILT_RANGE_DEG, "°")
    bad = rule.bad(total)
    if not bad.any():
        return []
    rows = rows_text(row_numbers(df, bad), labels=_row_labels(df, schema, id_column, bad),
                     values=[f"{v:g}" for v in total[bad]])
    return [f"{what}: {int(bad.sum())} row(s) with total tilt (tilt_deg + etilt_deg) outside "
            f"{rule.describe()}: {rows}; fix the values."]


def check_values(df: pd.DataFrame, schema: str, *, what: str, id_column: str | None = None) -> None:
    """Raise one :class:`~ictplan.errors.InputValidationError` listing every out-of-range column."""
    problems = value_problems(df, schema, what=what, id_column=id_column)
    if problems:
        raise InputValidationError("\n".join(problems))


def unknown_bands(sites: pd.DataFrame, carriers: Mapping[tuple[str, str, str], object], *, what: str,
                  source: str = "the profiles") -> str | None:
    """A sentence naming the sectors whose technology/band no profile knows, or None.

    A sector is known when ``carriers`` (``radio.parse_profiles(...)["carriers"]``) has
    its ``(operator, technology, band)`` or ``("default", technology, band)``, the look-up
    coverage makes (:func:`ictplan.radio.profile_for`).
    """
    if sites.empty or not {"technology", "band"} <= set(sites.columns):
        return None
    ops = sites["operator"].astype(str) if "operator" in sites.columns else pd.Series("default", index=sites.index)
    tech, band = sites["technology"].astype(str), sites["band"].astype(str)
    known = np.array([(o, t, b) in carriers or ("default", t, b) in carriers for o, t, b in zip(ops, tech, band, strict=True)], dtype=bool)
    if known.all():
        return None
    bad = ~known
    labels = _row_labels(sites, "sites", "sector_id", bad)
    values = [f"{t}/{b}" for t, b in zip(tech[bad], band[bad], strict=True)]
    have = sorted({f"{t}/{b}" for (_, t, b) in carriers})
    first_t, first_b = values[0].split("/", 1)
    return (f"{what}: {int(bad.sum())} row(s) with a band the profiles do not know: "
            f"{rows_text(row_numbers(sites, bad), labels=labels, values=values)}; {source} knows {', '.join(have)}. "
            f"Fix the band, or add a [default.{first_t}.{first_b}] table to the profiles.")


# --------------------------------------------------------------------------- columns and places
_TRUE = {"1", "true", "yes", "y", "t", "có", "co", "x"}
_FALSE = {"0", "false", "no", "n", "f", "không", "khong", ""}


def _to_str(v: object) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _to_bool(v: object, column: str, what: str) -> bool | None:
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    if s.replace(".", "", 1).isdigit():
        return float(s) != 0
    raise InputValidationError(
        f"{what}: column {column!r} must be true/false; got {v!r}. Use true/false, yes/no or 1/0."
    )


def coerce_column(series: pd.Series, kind: str, column: str, what: str) -> pd.Series:
    """A column as its schema kind ("str", "int", "float", "bool"), or one error naming the values."""
    if kind == "str":
        return series.map(_to_str).astype(object)
    if kind in ("float", "int"):
        out = pd.to_numeric(series, errors="coerce")
        bad = out.isna() & series.notna()
        if bad.any():
            rows = rows_text(row_numbers(series, bad.to_numpy()),
                             values=[repr(v) for v in series[bad]])
            raise InputValidationError(
                f"{what}: column {column!r} must be numeric; {int(bad.sum())} value(s) are not "
                f"(e.g. {series[bad].iloc[0]!r}; {rows}). Fix them in the source file."
            )
        return out.astype(float) if kind == "float" else out
    if kind == "bool":
        return series.map(lambda v: _to_bool(v, column, what)).astype(object)
    raise ValueError(kind)


def check_lonlat(gdf: gpd.GeoDataFrame, what: str, bounds_lonlat: Sequence[float] | None) -> None:
    """Catch swapped lon/lat, out-of-range degrees and data far from the study area."""
    if gdf.empty:
        return
    crs = gdf.crs
    geoms = gdf.geometry
    if not crs.is_geographic:
        if bounds_lonlat is None:
            return
        try:
            geoms = geoms.to_crs(4326)
        except Exception as err:
            raise CoordinateError(f"{what}: could not transform from {crs_label(crs)} to lon/lat: {err}") from err
    b = np.asarray(geoms.bounds)
    ok = np.isfinite(b).all(axis=1)
    b = b[ok]
    if b.size == 0:
        return
    xmin, ymin, xmax, ymax = b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()
    if crs.is_geographic and (ymin < -90 or ymax > 90) and -90 <= xmin and xmax <= 90 and -180 <= ymin and ymax <= 180:
        raise CoordinateError(
            f"{what}: lon and lat look swapped: y runs {ymin:.3f}..{ymax:.3f}, beyond ±90° latitude, while x fits "
            "a latitude. Swap the columns (x = longitude, y = latitude) or fix the source."
        )
    if crs.is_geographic and (ymin < -90 or ymax > 90 or xmin < -180 or xmax > 180):
        raise CoordinateError(
            f"{what}: coordinates out of range for lon/lat degrees (x {xmin:.3f}..{xmax:.3f}, y {ymin:.3f}..{ymax:.3f}). "
            "The layer is probably in a projected CRS (e.g. UTM metres) but declared as EPSG:4326; set the right CRS."
        )
    if bounds_lonlat is None:
        return
    bx0, by0, bx1, by1 = bounds_lonlat
    cx = (b[:, 0] + b[:, 2]) / 2
    cy = (b[:, 1] + b[:, 3]) / 2
    inside = (cx >= bx0) & (cx <= bx1) & (cy >= by0) & (cy <= by1)
    swapped = (cy >= bx0) & (cy <= bx1) & (cx >= by0) & (cx <= by1)
    if inside.mean() >= 0.5:
        return
    if swapped.mean() >= 0.5:
        raise CoordinateError(
            f"{what}: lon and lat look swapped: {int(swapped.sum())} of {len(cx)} features fall in the study area "
            f"({bx0}..{bx1} E, {by0}..{by1} N) only when x and y are exchanged. Swap the columns "
            "(x = longitude, y = latitude) or fix the source."
        )
    raise CoordinateError(
        f"{what}: {int((~inside).sum())} of {len(cx)} features lie outside the study area "
        f"({bx0}..{bx1} E, {by0}..{by1} N); their centre is near lon {np.median(cx):.4f}, lat {np.median(cy):.4f}. "
        "Check the layer's CRS (a wrong CRS moves everything) and that it covers this province."
    )




# --------------------------------------------------------------------------- job inputs
#: Inputs that are files named in study.toml rather than layers.
INPUT_FILES: dict[str, str] = {
    "profiles": "a [profiles] file",
    "targets": "a [targets] file",
}

#: What each job needs: every group must be satisfied; a group is a tuple of
#: alternatives, and an alternative a tuple of inputs that must all be present.
JOB_INPUTS: dict[str, tuple[tuple[tuple[str, ...], ...], ...]] = {
    "coverage": ((("sites",),), (("population",),), (("communes",),), (("profiles",),)),
    # fiber also uses an optional `buildings` layer (households placed on buildings, ictplan.households);
    # it still needs the population raster: its grid holds the outputs, its cells the communes without buildings
    "fiber": ((("roads",),), (("communes",),), (("population",), ("households",))),
    "sharing": ((("sites",), ("cells",), ("poles", "spans"), ("fiber_routes",)),),
    "scorecard": ((("targets",),), (("communes",),)),
    # the planner (ictplan.planning): the 5G roll-out needs coverage's inputs and the targets; the fiber
    # extension, postal points and data-centre siting each run when their own layers are there
    "plan": ((("sites",),), (("population",),), (("communes",),), (("profiles",),), (("targets",),)),
}


def _name(item: str) -> str:
    return INPUT_FILES.get(item, item)


def _alternative_text(alt: tuple[str, ...]) -> str:
    return " and ".join(_name(a) for a in alt)


def missing_inputs(job: str, available: Collection[str], failed: Mapping[str, str] | None = None) -> list[str]:
    """What ``job`` lacks, one phrase per unmet group (empty: it can run).

    ``available``: the layer names and files (``"profiles"``, ``"targets"``) the study has;
    ``failed``: inputs that are named but did not load (name → error), reported as
    "failed to load" rather than "missing".
    """
    if job not in JOB_INPUTS:
        raise KeyError(f"unknown job {job!r}; jobs: {', '.join(JOB_INPUTS)}")
    failed = failed or {}
    out = []
    for group in JOB_INPUTS[job]:
        usable = [alt for alt in group if all(a in available and a not in failed for a in alt)]
        if usable:
            continue
        broken = [a for alt in group for a in alt if a in failed]
        text = " or ".join(_alternative_text(alt) for alt in group)
        out.append(f"{text} — {'failed to load (' + ', '.join(broken) + ')' if broken else 'missing'}")
    return out


@dataclass(frozen=True)
class JobReadiness:
    """Whether a study has what one job needs; ``missing`` lists what it lacks."""

    job: str
    missing: tuple[str, ...]

    @property
    def ready(self) -> bool:
        return not self.missing

    def __str__(self) -> str:
        return f"{self.job}: ready" if self.ready else f"{self.job}: needs {'; '.join(self.missing)}"


def _available(study: Study) -> set[str]:
    names = {n for n in study.layer_names}
    if study.profiles_path is not None:
        names.add("profiles")
    if study.targets_path is not None:
        names.add("targets")
    return names


def skip_reason(study: Study, job: str, failed: Mapping[str, str] | None = None) -> str | None:
    """The sentence ``workflow.run`` records for a job the study cannot run, or None.

    >>> skip_reason(study, "fiber")          # doctest: +SKIP
    'fiber: needs roads — missing (add the layer under [layers] in study.toml)'
    """
    missing = missing_inputs(job, _available(study), failed)
    if not missing:
        return None
    files = [f for f, text in INPUT_FILES.items() if any(text in m for m in missing)]
    hints = [f"a [{f}] section with its path" for f in files]
    if len(files) < len(missing):
        hints.append("the layer under [layers]")
    where = " and ".join(hints) + " in study.toml"
    return f"{job}: needs {'; '.join(missing)} (add {where})"


def readiness(study: Study, failed: Mapping[str, str] | None = None,
              jobs: Iterable[str] = tuple(JOB_INPUTS)) -> list[JobReadiness]:
    """Per job, whether the study has what it needs (``failed``: inputs that did not load)."""
    available = _available(study)
    return [JobReadiness(job, tuple(missing_inputs(job, available, failed))) for job in jobs]
