"""Median path loss: free space, Okumura-Hata, COST-Hata, 3GPP TR 38.901 RMa / UMa / UMi,
their validity limits, and the range at which a loss is reached.

Distances are horizontal ground distances in metres (``d2d_m``); below a model's minimum
distance the distance is clamped, beyond its maximum the formula is extrapolated (see
:mod:`ictplan.radio`).
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np

from .._errors import InputValidationError

C_M_S = 299_792_458.0
"""Speed of light (m/s)."""

Model = Literal["fspl", "hata", "cost231", "38901_rma", "38901_uma", "38901_umi"]
MODELS: tuple[str, ...] = ("fspl", "hata", "cost231", "38901_rma", "38901_uma", "38901_umi")
LOS_MODES: tuple[str, ...] = ("los", "nlos", "prob", "prob_power")
HATA_ENVIRONMENTS: tuple[str, ...] = ("metropolitan", "urban", "suburban", "rural")

MODEL_VALIDITY: dict[str, dict[str, Any]] = {
    # d2d_m: (min, max) horizontal distance; freq_mhz; h_bs_m; h_ut_m. None = unbounded.
    "fspl": {"d2d_m": (1.0, None), "freq_mhz": (None, None), "h_bs_m": (None, None), "h_ut_m": (None, None),
             "source": "Friis free space"},
    "hata": {"d2d_m": (1000.0, 20000.0), "freq_mhz": (150.0, 1500.0), "h_bs_m": (30.0, 200.0), "h_ut_m": (1.0, 10.0),
             "source": "Okumura-Hata (Hata 1980)"},
    "cost231": {"d2d_m": (1000.0, 20000.0), "freq_mhz": (1500.0, 2000.0), "h_bs_m": (30.0, 200.0),
                "h_ut_m": (1.0, 10.0), "source": "COST 231 Final Report §4.4.1 (COST-Hata)"},
    "38901_rma": {"d2d_m": (10.0, 10000.0), "d2d_nlos_max_m": 5000.0, "freq_mhz": (500.0, 30000.0),
                  "h_bs_m": (10.0, 150.0), "h_ut_m": (1.0, 10.0), "source": "3GPP TR 38.901 Table 7.4.1-1 RMa"},
    "38901_uma": {"d2d_m": (10.0, 5000.0), "freq_mhz": (500.0, 100000.0), "h_bs_m": (None, None),
                  "h_ut_m": (1.5, 22.5), "source": "3GPP TR 38.901 Table 7.4.1-1 UMa (calibrated at h_BS = 25 m)"},
    "38901_umi": {"d2d_m": (10.0, 5000.0), "freq_mhz": (500.0, 100000.0), "h_bs_m": (None, None),
                  "h_ut_m": (1.5, 22.5), "source": "3GPP TR 38.901 Table 7.4.1-1 UMi-Street Canyon "
                  "(calibrated at h_BS = 10 m)"},
}
"""Published validity ranges per model (see the module docstring for what happens outside)."""



# ============================================================================ path loss
def _f(x: Any) -> np.ndarray:
    a = np.asarray(x)
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


def fspl_db(d3d_m: Any, *, freq_mhz: float) -> np.ndarray:
    """Free-space path loss ``20·log10(d_m) + 20·log10(f_MHz) − 27.55`` dB (Friis, isotropic).

    Distances below 1 m are clamped to 1 m.
    """
    d = np.maximum(_f(d3d_m), 1.0)
    return 20.0 * np.log10(d) + (20.0 * math.log10(freq_mhz) - 27.55)


def _hata_env_correction(freq_mhz: float, environment: str) -> float:
    lf = math.log10(freq_mhz)
    if environment in ("urban", "metropolitan"):
        return 0.0
    if environment == "suburban":
        return -2.0 * math.log10(freq_mhz / 28.0) ** 2 - 5.4
    if environment == "rural":  # open area
        return -4.78 * lf**2 + 18.33 * lf - 40.94
    raise InputValidationError(
        f"unknown Hata environment {environment!r}; use one of {', '.join(HATA_ENVIRONMENTS)}."
    )


def _a_hm(freq_mhz: float, h_ut_m: float) -> float:
    lf = math.log10(freq_mhz)
    return (1.1 * lf - 0.7) * h_ut_m - (1.56 * lf - 0.8)


def hata_db(d2d_m: Any, *, freq_mhz: float, h_bs_m: float, h_ut_m: float, environment: str = "urban") -> np.ndarray:
    """Okumura–Hata median loss (150–1500 MHz), small/medium-city mobile correction.

    ``69.55 + 26.16·log f − 13.82·log h_b − a(h_m) + (44.9 − 6.55·log h_b)·log d_km``, with
    the suburban ``−2(log(f/28))² − 5.4`` and open-rural ``−4.78(log f)² + 18.33 log f − 40.94``
    corrections. Distances below 1 km are clamped to 1 km.
    """
    d_km = np.maximum(_f(d2d_m), 1000.0) / 1000.0
    lb = math.log10(h_bs_m)
    base = 69.55 + 26.16 * math.log10(freq_mhz) - 13.82 * lb - _a_hm(freq_mhz, h_ut_m)
    base += _hata_env_correction(freq_mhz, environment)
    return base + (44.9 - 6.55 * lb) * np.log10(d_km)


def cost231_hata_db(d2d_m: Any, *, freq_mhz: float, h_bs_m: float, h_ut_m: float,
                    environment: str = "urban") -> np.ndarray:
    """COST-231 Hata median loss (1500–2000 MHz).

    ``46.3 + 33.9·log f − 13.82·log h_b − a(h_m) + (44.9 − 6.55·log h_b)·log d_km + C_m`` with
    ``a(h_m) = (1.1 log f − 0.7) h_m − (1.56 log f − 0.8)``; ``C_m = 3`` dB for
    ``environment="metropolitan"``, 0 for ``"urban"``; ``"suburban"`` and ``"rural"`` (open)
    apply the Okumura–Hata area corrections to the urban value. Distances below 1 km are
    clamped to 1 km.
    """
    d_km = np.maximum(_f(d2d_m), 1000.0) / 1000.0
    lb = math.log10(h_bs_m)
    c_m = 3.0 if environment == "metropolitan" else 0.0
    base = 46.3 + 33.9 * math.log10(freq_mhz) - 13.82 * lb - _a_hm(freq_mhz, h_ut_m) + c_m
    base += _hata_env_correction(freq_mhz, environment)
    return base + (44.9 - 6.55 * lb) * np.log10(d_km)


def _d3d(d2d: np.ndarray, h_bs_m: float, h_ut_m: float) -> np.ndarray:
    dh = float(h_bs_m - h_ut_m)
    return np.sqrt(d2d * d2d + dh * dh)


def _combine_los(pl_los: np.ndarray, pl_nlos: np.ndarray, d2d: np.ndarray, los: str, scenario: str,
                 h_ut_m: float) -> np.ndarray:
    if los == "los":
        return pl_los
    if los == "nlos":
        return pl_nlos
    p = los_probability(d2d, scenario=scenario, h_ut_m=h_ut_m)
    if los == "prob":  # expected loss in dB
        return p * pl_los + (1.0 - p) * pl_nlos
    if los == "prob_power":  # probability-weighted received power
        lin = p * np.power(10.0, -pl_los / 10.0) + (1.0 - p) * np.power(10.0, -pl_nlos / 10.0)
        return -10.0 * np.log10(lin)
    raise InputValidationError(f"unknown los mode {los!r}; use one of {', '.join(LOS_MODES)}.")


def rma_db(d2d_m: Any, *, freq_mhz: float, h_bs_m: float = 35.0, h_ut_m: float = 1.5, los: str = "nlos",
           avg_building_height_m: float = 5.0, street_width_m: float = 20.0) -> np.ndarray:
    """3GPP TR 38.901 Table 7.4.1-1 Rural Macro (RMa) path loss, dB.

    LOS: ``PL1 = 20 log10(40π d3D fc/3) + min(0.03 h^1.72, 10) log10(d3D) − min(0.044 h^1.72, 14.77)
    + 0.002 log10(h) d3D`` up to the breakpoint ``d_BP = 2π h_BS h_UT fc/c`` and
    ``PL2 = PL1(d_BP) + 40 log10(d3D/d_BP)`` beyond. NLOS: ``max(PL_LOS, PL'_NLOS)`` with
    ``PL'_NLOS = 161.04 − 7.1 log10 W + 7.5 log10 h − (24.37 − 3.7 (h/h_BS)²) log10 h_BS
    + (43.42 − 3.1 log10 h_BS)(log10 d3D − 3) + 20 log10 fc − (3.2 (log10 11.75 h_UT)² − 4.97)``.
    ``fc`` in GHz. Distances below 10 m are clamped to 10 m.
    """
    d2d = np.maximum(_f(d2d_m), 10.0)
    d3d = _d3d(d2d, h_bs_m, h_ut_m)
    fc = freq_mhz / 1000.0
    h, w = avg_building_height_m, street_width_m
    d_bp = 2.0 * math.pi * h_bs_m * h_ut_m * fc * 1e9 / C_M_S
    a1 = min(0.03 * h**1.72, 10.0)
    a0 = 20.0 * math.log10(40.0 * math.pi * fc / 3.0) - min(0.044 * h**1.72, 14.77)
    c_lin = 0.002 * math.log10(h)

    def pl1(d: Any) -> Any:
        return a0 + (20.0 + a1) * np.log10(d) + c_lin * d

    pl_bp = float(pl1(d_bp))
    logd = np.log10(d3d)
    pl_los = np.where(d2d <= d_bp, pl1(d3d), pl_bp + 40.0 * (logd - math.log10(d_bp)))
    pl_los = pl_los.astype(d3d.dtype, copy=False)
    if los == "los":
        return pl_los
    lh = math.log10(h_bs_m)
    nl0 = (161.04 - 7.1 * math.log10(w) + 7.5 * math.log10(h) - (24.37 - 3.7 * (h / h_bs_m) ** 2) * lh
           + 20.0 * math.log10(fc) - (3.2 * math.log10(11.75 * h_ut_m) ** 2 - 4.97))
    pl_nlos = np.maximum(pl_los, nl0 + (43.42 - 3.1 * lh) * (logd - 3.0))
    return _combine_los(pl_los, pl_nlos, d2d, los, "rma", h_ut_m)


def _uma_umi(d2d_m: Any, *, freq_mhz: float, h_bs_m: float, h_ut_m: float, los: str, scenario: str) -> np.ndarray:
    d2d = np.maximum(_f(d2d_m), 10.0)
    d3d = _d3d(d2d, h_bs_m, h_ut_m)
    fc = freq_mhz / 1000.0
    h_e = 1.0
    d_bp = 4.0 * (h_bs_m - h_e) * (h_ut_m - h_e) * fc * 1e9 / C_M_S
    logd = np.log10(d3d)
    lf = 20.0 * math.log10(fc)
    dh2 = (h_bs_m - h_ut_m) ** 2
    if scenario == "uma":
        pl1 = 28.0 + 22.0 * logd + lf
        pl2 = 28.0 + 40.0 * logd + lf - 9.0 * math.log10(d_bp**2 + dh2)
    else:
        pl1 = 32.4 + 21.0 * logd + lf
        pl2 = 32.4 + 40.0 * logd + lf - 9.5 * math.log10(d_bp**2 + dh2)
    pl_los = np.where(d2d <= d_bp, pl1, pl2).astype(d3d.dtype, copy=False)
    if los == "los":
        return pl_los
    if scenario == "uma":
        nl = 13.54 + 39.08 * logd + lf - 0.6 * (h_ut_m - 1.5)
    else:
        nl = 22.4 + 35.3 * logd + 21.3 * math.log10(fc) - 0.3 * (h_ut_m - 1.5)
    pl_nlos = np.maximum(pl_los, nl)
    return _combine_los(pl_los, pl_nlos, d2d, los, scenario, h_ut_m)


def uma_db(d2d_m: Any, *, freq_mhz: float, h_bs_m: float = 25.0, h_ut_m: float = 1.5, los: str = "nlos") -> np.ndarray:
    """3GPP TR 38.901 Table 7.4.1-1 Urban Macro (UMa), dB.

    LOS: ``28 + 22 log10 d3D + 20 log10 fc`` to the breakpoint ``d'_BP = 4 h'_BS h'_UT fc/c``
    (effective heights minus ``h_E = 1`` m), then ``28 + 40 log10 d3D + 20 log10 fc −
    9 log10(d'_BP² + (h_BS − h_UT)²)``. NLOS: ``max(PL_LOS, 13.54 + 39.08 log10 d3D +
    20 log10 fc − 0.6 (h_UT − 1.5))``. ``fc`` in GHz; ``h_E = 1`` m (exact for h_UT ≤ 13 m).
    Distances below 10 m are clamped to 10 m.
    """
    return _uma_umi(d2d_m, freq_mhz=freq_mhz, h_bs_m=h_bs_m, h_ut_m=h_ut_m, los=los, scenario="uma")


def umi_db(d2d_m: Any, *, freq_mhz: float, h_bs_m: float = 10.0, h_ut_m: float = 1.5, los: str = "nlos") -> np.ndarray:
    """3GPP TR 38.901 Table 7.4.1-1 UMi-Street Canyon, dB.

    LOS: ``32.4 + 21 log10 d3D + 20 log10 fc`` to ``d'_BP``, then ``32.4 + 40 log10 d3D +
    20 log10 fc − 9.5 log10(d'_BP² + (h_BS − h_UT)²)``. NLOS: ``max(PL_LOS, 35.3 log10 d3D +
    22.4 + 21.3 log10 fc − 0.3 (h_UT − 1.5))``. Distances below 10 m are clamped to 10 m.
    """
    return _uma_umi(d2d_m, freq_mhz=freq_mhz, h_bs_m=h_bs_m, h_ut_m=h_ut_m, los=los, scenario="umi")


def los_probability(d2d_m: Any, *, scenario: str, h_ut_m: float = 1.5) -> np.ndarray:
    """LOS probability of 3GPP TR 38.901 Table 7.4.2-1 (outdoor users).

    RMa: ``1`` for d ≤ 10 m, else ``exp(−(d − 10)/1000)``. UMi: ``1`` for d ≤ 18 m, else
    ``18/d + exp(−d/36)(1 − 18/d)``. UMa: ``1`` for d ≤ 18 m, else
    ``[18/d + exp(−d/63)(1 − 18/d)]·(1 + C'(h_UT)·5/4·(d/100)³·exp(−d/150))`` with
    ``C' = 0`` for h_UT ≤ 13 m and ``((h_UT − 13)/10)^1.5`` up to 23 m.
    """
    d = _f(d2d_m)
    scenario = scenario.removeprefix("38901_")
    if scenario == "rma":
        return np.where(d <= 10.0, 1.0, np.exp(-(d - 10.0) / 1000.0)).astype(d.dtype, copy=False)
    ds = np.maximum(d, 18.0)
    if scenario == "umi":
        p = 18.0 / ds + np.exp(-ds / 36.0) * (1.0 - 18.0 / ds)
    elif scenario == "uma":
        c = 0.0 if h_ut_m <= 13.0 else ((h_ut_m - 13.0) / 10.0) ** 1.5
        p = (18.0 / ds + np.exp(-ds / 63.0) * (1.0 - 18.0 / ds)) * (1.0 + c * 1.25 * (ds / 100.0) ** 3 * np.exp(-ds / 150.0))
    else:
        raise InputValidationError(f"no LOS probability for scenario {scenario!r}; use rma, uma or umi.")
    return np.where(d <= 18.0, 1.0, p).astype(d.dtype, copy=False)


def path_loss_db(d2d_m: Any, *, model: str, freq_mhz: float, h_bs_m: float, h_ut_m: float = 1.5,
                 environment: str = "urban", los: str = "nlos", avg_building_height_m: float = 5.0,
                 street_width_m: float = 20.0, strict: bool = False) -> np.ndarray:
    """Median path loss (dB) of a model over an array of horizontal distances (m).

    Parameters
    ----------
    d2d_m
        Horizontal distances in metres (any shape; float32 stays float32).
    model
        One of :data:`MODELS`: ``fspl``, ``hata``, ``cost231``, ``38901_rma``,
        ``38901_uma``, ``38901_umi``.
    freq_mhz, h_bs_m, h_ut_m
        Carrier frequency (MHz), base-station and user antenna heights above ground (m).
    environment
        Hata / COST-231 area: ``metropolitan`` (COST-231 ``C_m = 3`` dB), ``urban``,
        ``suburban``, ``rural`` (open area). Ignored by the 3GPP models and free space.
    los
        3GPP models: ``los``, ``nlos``, ``prob`` (expected loss ``P·PL_LOS + (1−P)·PL_NLOS``
        with the Table 7.4.2-1 LOS probability) or ``prob_power`` (probability-weighted
        received power).
    strict
        Raise instead of extrapolating outside the published validity range.

    Returns
    -------
    numpy.ndarray
        Loss in dB, same shape as ``d2d_m``.

    Raises
    ------
    InputValidationError
        Unknown model, environment or LOS mode; negative distances; with ``strict=True``,
        any distance, frequency or height outside :data:`MODEL_VALIDITY`.

    Notes
    -----
    Below the model's minimum distance the distance is clamped (the loss is flat there).
    Beyond the maximum, the formula is extrapolated; :func:`outside_validity` flags those.
    """
    d = _f(d2d_m)
    if model not in MODELS:
        raise InputValidationError(f"unknown path-loss model {model!r}; use one of {', '.join(MODELS)}.")
    if d.size and np.nanmin(d) < 0:
        raise InputValidationError(f"distances must be ≥ 0 m; got a minimum of {np.nanmin(d):g} m.")
    if strict:
        bad = outside_validity(d, model=model, freq_mhz=freq_mhz, h_bs_m=h_bs_m, h_ut_m=h_ut_m, los=los)
        if bad.any():
            v = MODEL_VALIDITY[model]
            raise InputValidationError(
                f"{int(bad.sum())} of {bad.size} evaluation(s) fall outside the validity of {v['source']} "
                f"(d2d {v['d2d_m']} m, f {v['freq_mhz']} MHz, h_BS {v['h_bs_m']} m, h_UT {v['h_ut_m']} m; "
                f"asked f={freq_mhz:g} MHz, h_BS={h_bs_m:g} m, h_UT={h_ut_m:g} m, d up to {np.nanmax(d):g} m). "
                "Use strict=False to extrapolate, or choose a model valid for this case."
            )
    if model == "fspl":
        return fspl_db(np.sqrt(d * d + (h_bs_m - h_ut_m) ** 2), freq_mhz=freq_mhz)
    if model == "hata":
        return hata_db(d, freq_mhz=freq_mhz, h_bs_m=h_bs_m, h_ut_m=h_ut_m, environment=environment)
    if model == "cost231":
        return cost231_hata_db(d, freq_mhz=freq_mhz, h_bs_m=h_bs_m, h_ut_m=h_ut_m, environment=environment)
    if model == "38901_rma":
        return rma_db(d, freq_mhz=freq_mhz, h_bs_m=h_bs_m, h_ut_m=h_ut_m, los=los,
                      avg_building_height_m=avg_building_height_m, street_width_m=street_width_m)
    if model == "38901_uma":
        return uma_db(d, freq_mhz=freq_mhz, h_bs_m=h_bs_m, h_ut_m=h_ut_m, los=los)
    return umi_db(d, freq_mhz=freq_mhz, h_bs_m=h_bs_m, h_ut_m=h_ut_m, los=los)


def outside_validity(d2d_m: Any, *, model: str, freq_mhz: float, h_bs_m: float, h_ut_m: float,
                     los: str = "nlos") -> np.ndarray:
    """Boolean mask of evaluations outside the model's published validity range.

    Distances below the minimum are not flagged (they are clamped, a documented choice);
    distances beyond the maximum are, and every evaluation is flagged when the frequency
    or a height is out of range.
    """
    v = MODEL_VALIDITY[model]
    d = _f(d2d_m)
    dmax = v["d2d_m"][1]
    if model == "38901_rma" and los != "los":
        dmax = v["d2d_nlos_max_m"]
    out = np.zeros(d.shape, dtype=bool) if dmax is None else d > dmax
    scalar_bad = False
    for key, val in (("freq_mhz", freq_mhz), ("h_bs_m", h_bs_m), ("h_ut_m", h_ut_m)):
        lo, hi = v[key]
        if (lo is not None and val < lo) or (hi is not None and val > hi):
            scalar_bad = True
    return out | scalar_bad


def range_m(max_path_loss_db: Any, *, model: str, freq_mhz: float, h_bs_m: Any, h_ut_m: float = 1.5,
            environment: str = "urban", los: str = "nlos", avg_building_height_m: float = 5.0,
            street_width_m: float = 20.0, max_range_m: float = 100_000.0) -> np.ndarray:
    """Largest horizontal distance (m) at which the path loss is ≤ ``max_path_loss_db``.

    Solved by bisection on the (non-decreasing) loss curve, per element of
    ``max_path_loss_db`` / ``h_bs_m`` (broadcast). Returns 0 where even the minimum-distance
    loss is too high and ``max_range_m`` where the loss never reaches the limit.
    """
    pl_max, hb = np.broadcast_arrays(np.asarray(max_path_loss_db, float), np.asarray(h_bs_m, float))
    out = np.empty(pl_max.shape)
    # group by height (few distinct heights in practice)
    flat_pl, flat_h, flat_out = pl_max.ravel(), hb.ravel(), out.ravel()
    for h in np.unique(flat_h):
        sel = flat_h == h
        target = flat_pl[sel]

        def pl(d: np.ndarray, h: float = float(h)) -> np.ndarray:
            return path_loss_db(d, model=model, freq_mhz=freq_mhz, h_bs_m=h, h_ut_m=h_ut_m,
                                environment=environment, los=los, avg_building_height_m=avg_building_height_m,
                                street_width_m=street_width_m)

        lo = np.zeros(target.shape)
        hi = np.full(target.shape, max_range_m)
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            ok = pl(mid) <= target
            lo = np.where(ok, mid, lo)
            hi = np.where(ok, hi, mid)
        res = lo
        res = np.where(pl(np.zeros_like(target)) > target, 0.0, res)
        res = np.where(pl(np.full(target.shape, max_range_m)) <= target, max_range_m, res)
        flat_out[sel] = res
    return out

