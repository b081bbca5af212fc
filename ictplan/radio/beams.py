"""Antenna gain against its pattern: SS-RSRP on the SSB sweep envelope, interference at the
time-average beam gain.

A single beam cannot have a peak gain above its pattern's directivity
``D = 4π / ∫ 10^(A(φ, θ)/10) dΩ`` (:func:`pattern_directivity_dbi`): for the 3GPP sector
pattern of the default profiles (65° × 10°, A_m = 30 dB, SLA_V = 30 dB) ``D ≈ 17.5 dBi``, so
the 4G profile's 17 dBi is one fixed beam.

5G (64T64R arrays) profiles give a larger ``antenna_gain_dbi`` (24 dBi): the peak of the
**SSB sweep envelope**. SS-RSRP is measured on the SSB beam a UE receives best; each SSB beam
is narrow (8 beams over the sector in FR1) and sent at the full power in its own symbols, so
the envelope over the sector is about that narrow beam's gain. The 65° sector shape is kept
as the envelope's shape (conservative: a sweep's envelope falls off less across the sector).
The **traffic beam** serving a user (PDSCH) is steered to it; its gain over the SSB envelope
is taken as 0 dB (assumption: the SSB and traffic beams of such arrays have similar peak
gains), so the served signal is the SS-RSRP.

What a neighbour's traffic beams send towards a cell, averaged over where they point, is
bounded by the array's radiated power: the **time-average gain** is at most the sector
pattern's directivity. Interference from a sector whose gain exceeds its pattern's
directivity is therefore lowered by :func:`interference_offset_db` ``= max(0, G − D)``
(6.5 dB for the 5G default), in the engine's SINR only; RSRP and coverage are unchanged.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["pattern_directivity_dbi", "interference_offset_db"]


def pattern_directivity_dbi(*, beamwidth_deg: float, vertical_beamwidth_deg: float, front_to_back_db: float,
                            sla_v_db: float, n: int = 1441) -> float:
    """Directivity (dBi) of the 3GPP sector pattern (TR 38.901 Table 7.3-1), by a midpoint
    sum over azimuth (−180…180°) and elevation (−90…90°) on ``n`` × ``n // 2`` points:
    ``10 log10(4π / Σ 10^(A/10) cos(el) Δφ Δel)``."""
    phi = (np.arange(n) + 0.5) * (2 * math.pi / n) - math.pi
    el = (np.arange(n // 2) + 0.5) * (math.pi / (n // 2)) - math.pi / 2
    a_h = np.minimum(12.0 * (np.degrees(phi) / beamwidth_deg) ** 2, front_to_back_db)
    a_v = np.minimum(12.0 * (np.degrees(el) / vertical_beamwidth_deg) ** 2, sla_v_db)
    att = np.minimum(a_h[None, :] + a_v[:, None], front_to_back_db)
    power = (10.0 ** (-att / 10.0) * np.cos(el)[:, None]).sum() * (2 * math.pi / n) * (math.pi / (n // 2))
    return float(10.0 * math.log10(4 * math.pi / power))


def interference_offset_db(prof: Any) -> float:
    """``max(0, G − D)``: how far a profile's peak gain exceeds its pattern's directivity
    (0 for an omni profile and for a gain a single beam can have)."""
    if prof.pattern == "omni":
        return 0.0
    d = pattern_directivity_dbi(beamwidth_deg=prof.beamwidth_deg, vertical_beamwidth_deg=prof.vertical_beamwidth_deg,
                                front_to_back_db=prof.front_to_back_db, sla_v_db=prof.sla_v_db)
    return max(0.0, float(prof.antenna_gain_dbi) - d)
