"""Calibration of the coverage model against drive-test or crowd-sourced RSRP measurements.

For each measured point (``operator``, ``technology``, ``rsrp_dbm``; optional ``sinr_db``,
``dl_mbps``) the modelled RSRP is read at the point's grid cell from the operator's
coverage layer (the strongest carrier there; its band is the serving sector's). Per
operator × technology × band: ``n``, the bias ``mean(measured − modelled)`` (the fitted
offset: add it to the model), the RMSE, and the residual standard deviation σ (the
fitted shadow-fading σ, to compare with TR 38.901's). A point where the model has no
signal (below the engine's cutoff) is counted and left out of the fit.

:func:`calibrated_overrides` turns the offsets into profile overrides
(``[<Operator>.<tech>.<band>] antenna_gain_dbi`` shifted by the offset), which a study
adopts by adding them to its profiles file.

Ookla open-data performance tiles (CC BY-NC-SA 4.0) are not handled yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import radio, services
from ._errors import InputValidationError, MissingColumnError

if TYPE_CHECKING:  # pragma: no cover
    from .coverage import CoverageResult

__all__ = ["rsrp_residuals", "calibrate_rsrp", "calibrated_overrides", "overrides_toml"]

_REQUIRED = ("operator", "technology", "rsrp_dbm")


def rsrp_residuals(result: CoverageResult, points: gpd.GeoDataFrame, /) -> pd.DataFrame:
    """Per point: ``operator, technology, band, measured_dbm, modelled_dbm, residual_db``
    (measured − modelled; NaN where the model has no signal or the point is off the grid).

    Raises
    ------
    MissingColumnError
        ``operator``, ``technology`` or ``rsrp_dbm`` missing.
    InputValidationError
        The coverage result kept no RSRP rasters (``keep_rasters=False``).
    """
    missing = [c for c in _REQUIRED if c not in points.columns]
    if missing:
        raise MissingColumnError(f"the measurements lack column(s) {', '.join(missing)}; "
                                 f"they need {', '.join(_REQUIRED)} (optional sinr_db, dl_mbps).")
    op = points["operator"].astype(str).to_numpy()
    tech = points["technology"].astype(str).str.upper().to_numpy()
    measured = pd.to_numeric(points["rsrp_dbm"], errors="coerce").to_numpy(float)
    modelled = np.full(len(points), np.nan)
    band = np.full(len(points), "", dtype=object)
    bands = result.sectors["band"].astype(str).to_numpy()
    for key in sorted(set(zip(op, tech, strict=True))):
        lay = result.layers.get(key)
        sel = (op == key[0]) & (tech == key[1])
        if lay is None:
            continue
        if lay.rsrp_dbm is None or lay.server is None:
            raise InputValidationError("the coverage result kept no RSRP rasters: run it with keep_rasters=True.")
        pts = points.loc[sel]
        modelled[sel] = services.sample_grid(lay.rsrp_dbm.astype(float), result.grid, pts, fill=np.nan)
        srv = services.sample_grid(lay.server, result.grid, pts, fill=-1).astype(np.int64)
        band[sel] = np.where(srv >= 0, bands[np.maximum(srv, 0)], "")
    return pd.DataFrame({"operator": op, "technology": tech, "band": band, "measured_dbm": measured,
                         "modelled_dbm": modelled, "residual_db": measured - modelled})


def calibrate_rsrp(result: CoverageResult, points: gpd.GeoDataFrame, /) -> pd.DataFrame:
    """Bias, RMSE and fitted offset and σ of modelled vs measured RSRP per operator × technology × band.

    Returns
    -------
    pandas.DataFrame
        ``operator, technology, band, n, n_no_signal, offset_db`` (mean residual: add it to
        the model), ``bias_db`` (the same, measured − modelled), ``rmse_db``, ``sigma_db``
        (residual standard deviation, ddof 1), ``model_sigma_db`` (TR 38.901's for the
        carrier's profile, where known).
    """
    res = rsrp_residuals(result, points)
    rows = []
    for (op, tech), part in res.groupby(["operator", "technology"], sort=True):
        no_signal = int(part["residual_db"].isna().sum())
        for band, bp in part.dropna(subset=["residual_db"]).groupby("band", sort=True):
            r = bp["residual_db"].to_numpy(float)
            rows.append({"operator": op, "technology": tech, "band": band, "n": int(r.size),
                         "n_no_signal": no_signal, "offset_db": float(r.mean()), "bias_db": float(r.mean()),
                         "rmse_db": float(np.sqrt(np.mean(r * r))),
                         "sigma_db": float(r.std(ddof=1)) if r.size > 1 else float("nan")})
    return pd.DataFrame(rows, columns=["operator", "technology", "band", "n", "n_no_signal", "offset_db", "bias_db",
                                       "rmse_db", "sigma_db"])


def calibrated_overrides(fit: pd.DataFrame, profiles: Mapping[str, Any], /, *,
                         min_points: int = 30) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Profile overrides that apply the fitted offsets: ``{operator: {tech: {band:
    {"antenna_gain_dbi": g + offset}}}}`` for every group with at least ``min_points``."""
    out: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for r in fit.itertuples(index=False):
        if r.n < min_points or not np.isfinite(r.offset_db):
            continue
        prof = radio.profile_for(dict(profiles), str(r.operator), str(r.technology), str(r.band))
        out.setdefault(str(r.operator), {}).setdefault(str(r.technology), {})[str(r.band)] = {
            "antenna_gain_dbi": round(prof.antenna_gain_dbi + float(r.offset_db), 2)}
    return out


def overrides_toml(overrides: Mapping[str, Any], /) -> str:
    """The overrides as TOML tables to append to a profiles file."""
    lines = ["# calibrated against measurements (ictplan.calibration): antenna gain shifted by the fitted offset"]
    for op, techs in overrides.items():
        for tech, bands in techs.items():
            for band, vals in bands.items():
                lines.append(f"[{op}.{tech}.{band}]")
                lines += [f"{k} = {v!r}" for k, v in vals.items()]
    return "\n".join(lines) + "\n"
