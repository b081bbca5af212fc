"""Antenna patterns: the 3GPP sector pattern and the gain towards users around a sector."""

from __future__ import annotations

from typing import Any

import numpy as np

from .._errors import InputValidationError
from .propagation import _f


def sector_attenuation_db(azimuth_offset_deg: Any, downtilt_angle_deg: Any, *, tilt_deg: float = 0.0,
                          beamwidth_deg: float = 65.0, front_to_back_db: float = 30.0,
                          vertical_beamwidth_deg: float = 10.0, sla_v_db: float = 30.0) -> np.ndarray:
    """3GPP sector pattern attenuation (dB, ≤ 0), TR 36.814 Table A.2.1.1-2 / TR 38.901 Table 7.3-1.

    ``A_H(φ) = −min(12 (φ/φ3dB)², A_m)``, ``A_V(θ) = −min(12 ((θ − θ_tilt)/θ3dB)², SLA_V)``,
    ``A = −min(−(A_H + A_V), A_m)``, with ``A_m`` the front-to-back ratio.

    Parameters
    ----------
    azimuth_offset_deg
        Angle between the sector's azimuth and the direction to the user (degrees, any
        range; wrapped to [−180°, 180°]).
    downtilt_angle_deg
        Angle of the user below the antenna's horizontal plane (degrees, positive down).
    tilt_deg
        Total downtilt (mechanical + electrical) of the beam, degrees.

    Notes
    -----
    Mechanical tilt is treated as electrical tilt (it adds to the downtilt in every
    direction); the full 3-D rotation of TR 38.901 §7.1 is not modelled.
    """
    phi = (_f(azimuth_offset_deg) + 180.0) % 360.0 - 180.0
    a_h = np.minimum(12.0 * (phi / beamwidth_deg) ** 2, front_to_back_db)
    a_v = np.minimum(12.0 * ((_f(downtilt_angle_deg) - tilt_deg) / vertical_beamwidth_deg) ** 2, sla_v_db)
    return -np.minimum(a_h + a_v, front_to_back_db)


def antenna_gain_dbi(dx_m: Any, dy_m: Any, *, azimuth_deg: float, h_bs_m: float, h_ut_m: float,
                     gain_dbi: float, pattern: str = "sector3gpp", tilt_deg: float = 0.0,
                     beamwidth_deg: float = 65.0, front_to_back_db: float = 30.0,
                     vertical_beamwidth_deg: float = 10.0, sla_v_db: float = 30.0) -> np.ndarray:
    """Antenna gain (dBi) towards users at offsets (dx east, dy north, metres) from the antenna.

    ``pattern="omni"`` (or a NaN azimuth) gives the constant ``gain_dbi``; ``"sector3gpp"``
    adds :func:`sector_attenuation_db`, with azimuth measured clockwise from north.
    """
    dx, dy = np.broadcast_arrays(_f(dx_m), _f(dy_m))
    if pattern == "omni" or not np.isfinite(azimuth_deg):
        return np.full(dx.shape, gain_dbi, dtype=dx.dtype)
    if pattern != "sector3gpp":
        raise InputValidationError(f"unknown antenna pattern {pattern!r}; use omni or sector3gpp.")
    bearing = np.degrees(np.arctan2(dx, dy))
    d = np.hypot(dx, dy)
    theta = np.degrees(np.arctan2(h_bs_m - h_ut_m, d))
    return gain_dbi + sector_attenuation_db(bearing - azimuth_deg, theta, tilt_deg=tilt_deg,
                                            beamwidth_deg=beamwidth_deg, front_to_back_db=front_to_back_db,
                                            vertical_beamwidth_deg=vertical_beamwidth_deg, sla_v_db=sla_v_db)

