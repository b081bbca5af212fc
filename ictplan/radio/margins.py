"""Location probability, shadow fading, building penetration (O2I) and terminal clutter loss.

* **Shadow fading** σ per path-loss model and LOS state: 3GPP TR 38.901 Table 7.4.1-1
  (RMa LOS 4 dB before the breakpoint, 6 dB beyond, NLOS 8 dB; UMa LOS 4, NLOS 6; UMi LOS 4,
  NLOS 7.82). Profiles with ``los = "prob"`` take the NLOS σ: at the cell edge, where the
  coverage decision is made, the LOS probability is small (RMa: e^{−(d−10)/1000} < 0.14 beyond
  2 km). Hata and COST-Hata: 8 dB (a usual planning value for log-normal shadowing).
* **Location probability**: a cell is covered at probability ``p`` when
  ``RSRP − z_p·σ ≥ threshold``, ``z_p = Φ⁻¹(p)`` (single-server margin, no macro-diversity
  gain: conservative).
* **O2I** (indoor users): TR 38.901 §7.4.3.1, low-loss (30 % glass, 70 % concrete) and
  high-loss (70 % IRR glass, 30 % concrete) buildings, mean indoor distance loss
  ``0.5 · E[d_2D-in]`` with d_2D-in the minimum of two uniform draws on 0–25 m (UMa/UMi:
  mean 8.33 m) or 0–10 m (RMa: 3.33 m), and σ_P = 4.4 / 6.5 dB added to the shadowing in
  quadrature.
* **Terminal clutter**: ITU-R P.2108-1 §3.1 height-gain terminal correction (0.03–3 GHz).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy.stats import norm

from .._errors import InputValidationError

__all__ = ["SHADOW_SIGMA_DB", "shadow_sigma_db", "location_margin_db", "o2i_loss_db", "O2I_SIGMA_DB",
           "mean_indoor_distance_m", "p2108_height_gain_db", "P2108_CLUTTER_TYPES"]

SHADOW_SIGMA_DB: dict[tuple[str, str], float] = {
    ("38901_rma", "los"): 4.0, ("38901_rma", "los_beyond_bp"): 6.0, ("38901_rma", "nlos"): 8.0,
    ("38901_uma", "los"): 4.0, ("38901_uma", "nlos"): 6.0,
    ("38901_umi", "los"): 4.0, ("38901_umi", "nlos"): 7.82,
    ("hata", "nlos"): 8.0, ("cost231", "nlos"): 8.0, ("fspl", "los"): 0.0, ("fspl", "nlos"): 0.0,
}
"""Shadow-fading standard deviation (dB), TR 38.901 Table 7.4.1-1 (Hata/COST-Hata: 8 dB)."""

O2I_SIGMA_DB = {"low": 4.4, "high": 6.5}
"""σ_P of the O2I penetration loss, TR 38.901 Table 7.4.3-2."""


def shadow_sigma_db(model: str, los: str) -> float:
    """The shadow-fading σ (dB) of a model and LOS mode (``prob`` / ``prob_power``: the NLOS σ;
    RMa ``los``: the 4 dB before the breakpoint)."""
    state = "los" if los == "los" else "nlos"
    if model in ("hata", "cost231"):
        state = "nlos"
    try:
        return SHADOW_SIGMA_DB[(model, state)]
    except KeyError:
        raise InputValidationError(f"no shadow-fading σ for model {model!r} ({los}).") from None


def location_margin_db(location_probability: float, sigma_db: float) -> float:
    """``z·σ`` with ``z = Φ⁻¹(p)``: 1.2816 σ at 90 %, 1.6449 σ at 95 %, 0 at 50 %.

    Raises
    ------
    InputValidationError
        ``p`` outside [0.5, 0.9999] (below the median the margin would be negative).
    """
    p = float(location_probability)
    if not 0.5 <= p <= 0.9999:
        raise InputValidationError(f"location probability must lie in [0.5, 0.9999], got {p:g}.")
    return float(norm.ppf(p)) * float(sigma_db)


def mean_indoor_distance_m(model: str) -> float:
    """Mean of min(U₁, U₂) with U uniform on 0–25 m (UMa, UMi) or 0–10 m (RMa): a/3."""
    return (10.0 if model == "38901_rma" else 25.0) / 3.0


def o2i_loss_db(freq_mhz: Any, *, kind: str, model: str = "38901_uma") -> np.ndarray:
    """Mean O2I building-penetration loss (dB), TR 38.901 §7.4.3.1 (Table 7.4.3-1/-2).

    ``PL_tw = 5 − 10 log10(Σ p_i 10^(−L_i/10))`` with, ``f`` in GHz,
    ``L_glass = 2 + 0.2 f``, ``L_IRRglass = 23 + 0.3 f``, ``L_concrete = 5 + 4 f``;
    low loss: 0.3 glass + 0.7 concrete; high loss: 0.7 IRR glass + 0.3 concrete; plus
    ``PL_in = 0.5 · E[d_2D-in]`` (:func:`mean_indoor_distance_m`).
    """
    fc = np.asarray(freq_mhz, float) / 1000.0
    concrete = 5.0 + 4.0 * fc
    if kind == "low":
        glass = 2.0 + 0.2 * fc
        mix = 0.3 * 10 ** (-glass / 10) + 0.7 * 10 ** (-concrete / 10)
    elif kind == "high":
        irr = 23.0 + 0.3 * fc
        mix = 0.7 * 10 ** (-irr / 10) + 0.3 * 10 ** (-concrete / 10)
    else:
        raise InputValidationError(f"unknown building kind {kind!r}; use low or high.")
    return 5.0 - 10.0 * np.log10(mix) + 0.5 * mean_indoor_distance_m(model)


P2108_CLUTTER_TYPES = ("water_sea", "open_rural", "suburban", "urban", "trees_forest", "dense_urban")


def p2108_height_gain_db(freq_mhz: float, *, h_m: float, clutter_type: str, r_m: float,
                         street_width_m: float = 27.0) -> float:
    """ITU-R P.2108-1 §3.1 height-gain terminal correction (dB, ≥ 0), 0.03–3 GHz.

    Water/sea and open/rural: ``K_h2 log10(R/h)`` with ``K_h2 = 21.8 + 6.2 log10 f``.
    Others: ``J(ν) − 6.03`` with ``ν = K_ν √(h_dif θ_clut)``, ``K_ν = 0.342 √f``,
    ``h_dif = R − h``, ``θ_clut = atan(h_dif / w_s)`` in degrees,
    ``J(ν) = 6.9 + 20 log10(√((ν − 0.1)² + 1) + ν − 0.1)``. Zero when ``h ≥ R``.

    Raises
    ------
    InputValidationError
        Frequency outside 0.03–3 GHz or unknown clutter type.
    """
    f = freq_mhz / 1000.0
    if not 0.03 <= f <= 3.0:
        raise InputValidationError(f"P.2108 §3.1 holds for 0.03–3 GHz, not {f:g} GHz.")
    if clutter_type not in P2108_CLUTTER_TYPES:
        raise InputValidationError(f"unknown P.2108 clutter type {clutter_type!r}; use {', '.join(P2108_CLUTTER_TYPES)}.")
    if h_m >= r_m:
        return 0.0
    if clutter_type in ("water_sea", "open_rural"):
        return -(21.8 + 6.2 * math.log10(f)) * math.log10(h_m / r_m)
    h_dif = r_m - h_m
    theta = math.degrees(math.atan(h_dif / street_width_m))
    nu = 0.342 * math.sqrt(f) * math.sqrt(h_dif * theta)
    return 6.9 + 20.0 * math.log10(math.sqrt((nu - 0.1) ** 2 + 1.0) + nu - 0.1) - 6.03
