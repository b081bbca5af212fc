"""Digital terrestrial TV (DVB-T2): the strongest received field at grid cells.

The field model is ITU-R P.1546-6 (:mod:`ictplan.radio.p1546`), the broadcast planning
standard, at 50 % of locations and 50 % of time, over land, sea or mixed land–sea paths.
A ``[dtt]`` profile may still name a mobile path-loss model (``model = "hata"`` …) for
comparison; that is not how broadcasters plan, and :func:`dtt_model_name` says so in words.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import IctplanWarning
from . import p1546
from .propagation import path_loss_db

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from ..grid import Grid

__all__ = ["DBD_TO_DBI", "DTT_MODEL", "dtt_received_dbm", "dtt_model_name", "sea_mask", "sea_fraction"]

DBD_TO_DBI = 2.15
"""A half-wave dipole's gain over isotropic (dB): ERP (dBd) + 2.15 = EIRP (dBi)."""


def _cell_centres(grid: Grid, cells: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Projected x, y of the centres of ``cells`` (flat indices; default: all)."""
    if cells is None:
        cells = np.arange(grid.width * grid.height)
    rows, cols = np.divmod(np.asarray(cells, dtype=np.int64), grid.width)
    t = grid.transform
    return t.c + t.a * (cols + 0.5), t.f + t.e * (rows + 0.5)


DTT_MODEL = "p1546"
"""The DTT field model when the ``[dtt]`` profile names none: ITU-R P.1546-6."""


def dtt_model_name(profile: dict[str, Any]) -> str:
    """The DTT field model of a ``[dtt]`` profile, in words (for tables and reports)."""
    model = str(profile.get("model", DTT_MODEL))
    if model == "p1546":
        return p1546.MODEL_NAME
    return f"{model} path loss (a mobile model, not the broadcast standard ITU-R P.1546)"


def sea_mask(land: gpd.GeoDataFrame, grid: Grid, /) -> np.ndarray:
    """Cells of ``grid`` whose centre lies outside every polygon of ``land`` (True = sea), for
    P.1546 mixed paths. ``land`` is e.g. the study's communes: right for a coastal province
    whose paths stay inside it or cross the sea; a land neighbour outside the layer counts as sea."""
    from rasterio import features

    layer = land if land.crs is None or land.crs.equals(grid.crs) else land.to_crs(grid.crs)
    inside = features.rasterize(((g, 1) for g in layer.geometry if g is not None and not g.is_empty),
                                out_shape=(grid.height, grid.width), transform=grid.transform, fill=0,
                                dtype="uint8")
    return inside == 0


def sea_fraction(sea: np.ndarray, grid: Grid, tx_xy: tuple[float, float], x: np.ndarray, y: np.ndarray, /, *,
                 samples: int = 64) -> np.ndarray:
    """Share of each straight path from ``tx_xy`` to the points ``(x, y)`` that lies over sea
    (``sea``: a boolean raster on ``grid``), from ``samples`` evenly spaced points per path
    (midpoints of equal parts; points off the grid count as land). Chunked over the paths."""
    out = np.empty(x.size)
    t = (np.arange(samples) + 0.5) / samples
    t_ = grid.transform
    step = max(1, 2_000_000 // samples)
    for s in range(0, x.size, step):
        px = tx_xy[0] + (x[s:s + step, None] - tx_xy[0]) * t
        py = tx_xy[1] + (y[s:s + step, None] - tx_xy[1]) * t
        col = np.floor((px - t_.c) / t_.a).astype(np.int64)  # north-up grid (no rotation terms)
        row = np.floor((py - t_.f) / t_.e).astype(np.int64)
        ok = (col >= 0) & (col < grid.width) & (row >= 0) & (row < grid.height)
        hit = np.zeros(px.shape, bool)
        hit[ok] = sea[row[ok], col[ok]]
        out[s:s + step] = hit.mean(axis=1)
    return out


def dtt_received_dbm(transmitters: gpd.GeoDataFrame, grid: Grid, /, *, profile: dict[str, Any],
                     cells: np.ndarray | None = None, sea: np.ndarray | None = None) -> np.ndarray:
    """Strongest digital-TV signal (dBm at the receiver) at grid cells, from the transmitters.

    Parameters
    ----------
    transmitters
        The ``dtt_transmitters`` layer: ``freq_mhz``, ``erp_dbm`` (effective radiated
        power, dipole reference), ``height_m`` (antenna above ground), optional ``heff_m``
        (effective height, P.1546 §3; default ``height_m``: flat terrain). Any CRS.
    grid
        The analysis grid (metric CRS).
    profile
        The ``[dtt]`` profile: ``model`` (default ``"p1546"``), ``environment``, ``ue_height_m``
        (receiving antenna height), optional ``antenna_gain_dbi`` and ``feeder_loss_db``.
    cells
        Flat indices of the cells to evaluate (default: all).
    sea
        Boolean raster on ``grid``, True over sea (:func:`sea_mask`): P.1546 mixed land–sea
        paths (§8) and receivers adjacent to the sea (§9). None: every path over land.

    Returns
    -------
    numpy.ndarray
        Received power per cell (float64), −inf where there is no transmitter.

    Raises
    ------
    MissingColumnError
        A transmitter column is missing.
    InputValidationError
        P.1546: a frequency outside 30–4000 MHz or a height of 3000 m or more.

    Warns
    -----
    IctplanWarning
        P.1546: cells whose strongest path is longer than 1000 km (extrapolated curves), with
        their number and that of paths shorter than 1 km (the recommendation's §15 extension).

    Notes
    -----
    With P.1546: ``P_rx = E(d; f, h1, h2, Fsea) + (ERP − 60) − 20 log10 f − 77.2 + G_rx −
    L_feeder``, the field ``E`` for 1 kW e.r.p. at 50 % locations and 50 % time
    (:func:`ictplan.radio.p1546.field_dbuvm`, ``h1`` by §3 from ``height_m``/``heff_m``,
    ``h2 = ue_height_m``). With another ``model``: ``P_rx = ERP + 2.15 (dBd → dBi) + G_rx −
    L_feeder − PL(d)``, the median path loss of :func:`ictplan.radio.path_loss_db`. The best
    transmitter wins (no single-frequency-network gain). Cost: one vectorised evaluation
    per transmitter over the cells (plus ~64 raster look-ups per cell with ``sea``).
    """
    from ..services import _require

    _require(transmitters, ["freq_mhz", "erp_dbm", "height_m"], "dtt_transmitters")
    tx = transmitters if transmitters.crs is None or transmitters.crs.equals(grid.crs) else transmitters.to_crs(grid.crs)
    x, y = _cell_centres(grid, cells)
    best = np.full(x.size, -np.inf)
    best_d = np.full(x.size, np.nan)
    model = str(profile.get("model", DTT_MODEL))
    h2 = float(profile.get("ue_height_m", 10.0))
    heff = tx["heff_m"] if "heff_m" in tx else tx["height_m"]
    at_sea: np.ndarray | bool = False
    if sea is not None and model == "p1546":
        flat = np.asarray(cells) if cells is not None else np.arange(grid.width * grid.height)
        at_sea = np.asarray(sea).reshape(-1)[flat]
    for tx_x, tx_y, f, erp, h, he in zip(tx.geometry.x, tx.geometry.y, tx["freq_mhz"], tx["erp_dbm"], tx["height_m"],
                                         heff, strict=True):
        d = np.hypot(x - tx_x, y - tx_y)
        if model == "p1546":
            fsea = 0.0 if sea is None else sea_fraction(sea, grid, (tx_x, tx_y), x, y)
            e = p1546.field_dbuvm(d / 1000.0, freq_mhz=float(f), h1_m=p1546.transmitting_height_m(d / 1000.0, float(h),
                                                                                             float(he)),
                                  sea_fraction=fsea, h2_m=h2, ha_m=float(h),
                                  environment=str(profile.get("environment", "rural")), receiver_at_sea=at_sea)
            rx = p1546.received_dbm(e, erp_dbm=float(erp), freq_mhz=float(f),
                                    antenna_gain_dbi=float(profile.get("antenna_gain_dbi", 0.0)),
                                    feeder_loss_db=float(profile.get("feeder_loss_db", 0.0)))
        else:
            gain = float(profile.get("antenna_gain_dbi", 0.0)) - float(profile.get("feeder_loss_db", 0.0)) + DBD_TO_DBI
            rx = float(erp) + gain - path_loss_db(d, model=model, freq_mhz=float(f), h_bs_m=float(h), h_ut_m=h2,
                                                  environment=profile.get("environment", "rural"),
                                                  los=profile.get("los", "nlos"))
        better = rx > best
        best_d[better] = d[better]
        np.maximum(best, rx, out=best)
    if model == "p1546" and len(tx):
        out = p1546.outside_curves(best_d[np.isfinite(best_d)] / 1000.0)
        if out["beyond_1000_km"]:
            warnings.warn(IctplanWarning(
                f"P.1546: {out['below_1_km']} cells are served over paths shorter than 1 km (the recommendation's "
                f"§15 extension) and {out['beyond_1000_km']} over paths longer than 1000 km (extrapolated curves)."),
                stacklevel=2)
    return best
