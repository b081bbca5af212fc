"""Link budget: power per resource element, thermal noise, SINR → spectral efficiency → rate."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .._errors import InputValidationError
from ..parameters import COVERAGE
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


def tdd_dl_share(pattern: str, *, special_dl_symbols: int = 10, symbols_per_slot: int = 14) -> float:
    """Downlink share of a TDD frame pattern (``"DDDSU"``; ``""``: FDD, 1.0).

    ``(n_D + n_S · special_dl_symbols / symbols_per_slot) / len(pattern)``: a downlink slot
    counts whole, a special slot for its downlink symbols (e.g. S = 10:2:2 of 14), an
    uplink slot not at all. DDDSU with 10:2:2 gives (3 + 10/14)/5 = 0.743.

    Raises
    ------
    InputValidationError
        A pattern with other letters than D, S, U, or special symbols outside 0..14.
    """
    p = pattern.strip().upper()
    if not p:
        return 1.0
    if set(p) - set("DSU") or not 0 <= special_dl_symbols <= symbols_per_slot:
        raise InputValidationError(f"TDD pattern {pattern!r} (special slot {special_dl_symbols} DL symbols): use "
                                   "the letters D, S, U and 0..14 downlink symbols in S.")
    return (p.count("D") + p.count("S") * special_dl_symbols / symbols_per_slot) / len(p)


RANK_SINR_DB: tuple[float, ...] = tuple(COVERAGE.rank_sinr_db)
"""SINR (dB) from which 2, 3 and 4 MIMO layers are used (planning assumption: below 5 dB
one layer, as channel-quality reports typically ask for rank 1 at the cell edge); the one
default is :attr:`ictplan.parameters.CoverageParameters.rank_sinr_db`."""


def mimo_rank(sinr_db: Any, *, max_layers: int, thresholds_db: tuple[float, ...] = RANK_SINR_DB) -> np.ndarray:
    """MIMO layers used at a SINR: ``1 + #{k : SINR ≥ thresholds_db[k]}``, at most ``max_layers``
    (NaN SINR: 1)."""
    s = np.nan_to_num(_f(sinr_db), nan=-np.inf)
    r = np.ones(s.shape, dtype=np.int8)
    for th in thresholds_db[: max(0, max_layers - 1)]:
        r += (s >= th).astype(np.int8)
    return r


def peak_rate_mbps(sinr_db: Any, *, bandwidth_mhz: float, max_layers: int, alpha: float, sinr_min_db: float,
                   max_se_bps_hz: float, overhead: float, dl_share: float = 1.0,
                   rank_thresholds_db: tuple[float, ...] = RANK_SINR_DB) -> np.ndarray:
    """Single-user downlink rate (Mb/s): ``SE(SINR) × B × rank(SINR) × (1 − overhead) × dl_share``.

    :func:`spectral_efficiency` per layer, the rank from :func:`mimo_rank`, the TDD
    downlink share from :func:`tdd_dl_share` (1 for FDD). float32 in, float32 out.
    """
    se = spectral_efficiency(sinr_db, alpha=alpha, sinr_min_db=sinr_min_db, max_se_bps_hz=max_se_bps_hz)
    rank = mimo_rank(sinr_db, max_layers=max_layers, thresholds_db=rank_thresholds_db)
    return (se * rank * (bandwidth_mhz * (1.0 - overhead) * dl_share)).astype(se.dtype, copy=False)
