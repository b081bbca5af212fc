"""Link budget: power per resource element, thermal noise, SINR → spectral efficiency → rate."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._errors import InputValidationError
from .propagation import _f


def rsrp_offset_db(tx_power_dbm: Any, *, n_rb: int, antenna_gain_dbi: float = 0.0,
                   feeder_loss_db: float = 0.0) -> Any:
    """Power per resource element at boresight before path loss: ``P_tx − 10 log10(12 N_RB) + G − L``."""
    return np.asarray(tx_power_dbm, float) - 10.0 * math.log10(12 * n_rb) + antenna_gain_dbi - feeder_loss_db


def thermal_noise_dbm(bandwidth_hz: float, *, noise_figure_db: float = 0.0) -> float:
    """Thermal noise ``−174 dBm/Hz + 10·log10(B_Hz) + NF`` (dBm), at 290 K."""
    if bandwidth_hz <= 0:
        raise InputValidationError(f"noise bandwidth must be > 0 Hz, got {bandwidth_hz!r}.")
    return -174.0 + 10.0 * math.log10(bandwidth_hz) + noise_figure_db


def noise_per_re_dbm(scs_khz: float, *, noise_figure_db: float) -> float:
    """Thermal noise in one resource element (one subcarrier of ``scs_khz``), dBm."""
    return thermal_noise_dbm(scs_khz * 1e3, noise_figure_db=noise_figure_db)


def spectral_efficiency(sinr_db: Any, *, alpha: float = 0.6, sinr_min_db: float = -10.0,
                        max_se_bps_hz: float = 4.4) -> np.ndarray:
    """Attenuated Shannon bound, 3GPP TR 36.942 Annex A.1 (bps/Hz per layer).

    ``0`` for SINR < ``sinr_min_db``; ``α·log2(1 + SINR)`` otherwise, capped at
    ``max_se_bps_hz``. NaN SINR (no signal) gives 0.
    """
    s = _f(sinr_db)
    se = alpha * np.log2(1.0 + np.power(10.0, s / 10.0))
    se = np.minimum(se, max_se_bps_hz)
    return np.where(np.isfinite(s) & (s >= sinr_min_db), se, 0.0).astype(s.dtype, copy=False)


def throughput_mbps(sinr_db: Any, *, bandwidth_mhz: float, mimo_layers: int = 1, alpha: float = 0.6,
                    sinr_min_db: float = -10.0, max_se_bps_hz: float = 4.4, overhead: float = 0.0) -> np.ndarray:
    """Cell rate (Mb/s) at a SINR for one user alone on the carrier.

    ``SE(SINR) × B_MHz × layers × (1 − overhead)`` with :func:`spectral_efficiency`.
    """
    se = spectral_efficiency(sinr_db, alpha=alpha, sinr_min_db=sinr_min_db, max_se_bps_hz=max_se_bps_hz)
    return se * (bandwidth_mhz * mimo_layers * (1.0 - overhead))
