"""Digital terrestrial TV (DVB-T2): the strongest received field at grid cells."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .propagation import path_loss_db

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from ..grid import Grid

__all__ = ["DBD_TO_DBI", "dtt_received_dbm"]

DBD_TO_DBI = 2.15
"""A half-wave dipole's gain over isotropic (dB): ERP (dBd) + 2.15 = EIRP (dBi)."""


def _cell_centres(grid: Grid, cells: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Projected x, y of the centres of ``cells`` (flat indices; default: all)."""
    if cells is None:
        cells = np.arange(grid.width * grid.height)
    rows, cols = np.divmod(np.asarray(cells, dtype=np.int64), grid.width)
    t = grid.transform
    return t.c + t.a * (cols + 0.5), t.f + t.e * (rows + 0.5)


def dtt_received_dbm(transmitters: gpd.GeoDataFrame, grid: Grid, /, *, profile: dict[str, Any],
                     cells: np.ndarray | None = None) -> np.ndarray:
    """Strongest digital-TV signal (dBm at the receiver) at grid cells, from the transmitters.

    Parameters
    ----------
    transmitters
        The ``dtt_transmitters`` layer: ``freq_mhz``, ``erp_dbm`` (effective radiated
        power, dipole reference), ``height_m`` (antenna above ground). Any CRS.
    grid
        The analysis grid (metric CRS).
    profile
        The ``[dtt]`` profile: ``model``, ``environment``, ``ue_height_m`` (receiving
        antenna height), optional ``antenna_gain_dbi`` and ``feeder_loss_db``.
    cells
        Flat indices of the cells to evaluate (default: all).

    Returns
    -------
    numpy.ndarray
        Received power per cell (float64), −inf where there is no transmitter.

    Raises
    ------
    MissingColumnError
        A transmitter column is missing.

    Notes
    -----
    ``P_rx = ERP + 2.15 (dBd → dBi) + G_rx − L_feeder − PL(d)``, with the median path loss
    of the profile's model (:func:`ictplan.radio.path_loss_db`) at each transmitter's own
    frequency and height; the best transmitter wins (no single-frequency-network gain). Beyond
    a model's validity the loss is extrapolated (documented in :mod:`ictplan.radio`).
    Cost: one vectorised evaluation per transmitter over the cells.
    """
    from ..services import _require

    _require(transmitters, ["freq_mhz", "erp_dbm", "height_m"], "dtt_transmitters")
    tx = transmitters if transmitters.crs is None or transmitters.crs.equals(grid.crs) else transmitters.to_crs(grid.crs)
    x, y = _cell_centres(grid, cells)
    best = np.full(x.size, -np.inf)
    gain = float(profile.get("antenna_gain_dbi", 0.0)) - float(profile.get("feeder_loss_db", 0.0)) + DBD_TO_DBI
    for tx_x, tx_y, f, erp, h in zip(tx.geometry.x, tx.geometry.y, tx["freq_mhz"], tx["erp_dbm"], tx["height_m"],
                                     strict=True):
        d = np.hypot(x - tx_x, y - tx_y)
        pl = path_loss_db(d, model=profile.get("model", "hata"), freq_mhz=float(f), h_bs_m=float(h),
                          h_ut_m=float(profile.get("ue_height_m", 10.0)),
                          environment=profile.get("environment", "rural"), los=profile.get("los", "nlos"))
        np.maximum(best, float(erp) + gain - pl, out=best)
    return best
