"""ITU-R P.1546-6 point-to-area field strength: 50 % of locations, 50 % of time.

The recommendation's method for broadcasting (DVB-T2 planning, GE06), implemented from
its Annex 5 on the tabulated curves of its digital supplement (Annex 1 Figures 1, 4, 9,
12, 17 and 20, transcribed with their source in ``ictplan/data/itu/p1546_50pct.csv``).
Everything is vectorised over numpy arrays of distances (one call per transmitter over
all grid cells).

What is implemented (section numbers of Annex 5):

* §2 maximum field strength (free space, ``106.9 − 20 log d``; at 50 % time the sea
  excess ``Ese`` is zero);
* §3 the transmitting height ``h1`` from the mast height ``ha`` and the effective
  height ``heff`` without a terrain database (eqs 4, 5, 7; :func:`transmitting_height_m`);
* §4.1 interpolation in ``h1`` between the nominal heights 10 … 1200 m (eq 8, above 1200 m
  extrapolated from 600/1200 m, valid below 3000 m); §4.2 ``0 ≤ h1 < 10`` m on land
  (eq 9, with the −10 m correction of eq 12) and ``1 ≤ h1 < 10`` m at sea (eqs 10, 11, with
  the 0.6-Fresnel-clearance distances of §18);
* §5 interpolation in distance between the 78 nominal distances (eq 13; beyond 1000 km the
  last segment is extrapolated); §15 paths shorter than 1 km (free space on the slope
  distance at 40 m, log-interpolated to the 1 km value);
* §6 interpolation in frequency between 100, 600 and 2000 MHz (eq 14, extrapolated from
  the nearest pair below 100 or above 2000 MHz; the special sea case below 100 MHz, eq 15,
  is not implemented);
* §8 mixed land–sea paths (the RRC-06 method: ``A = A0^V``, ``A0 = 1 − (1 − Fsea)^(2/3)``,
  ``V = max(1, 1 + Δ/40)``); warm and cold sea share the 50 % time curve;
* §9 the receiving-antenna height correction (rural/open: ``R' = 10`` m; urban: the
  clutter-angle formula with the representative clutter height ``R``; receivers adjacent
  to the sea);
* §14 the slope-path correction ``20 log(d/d_slope)``; §2/Step 19 the final limit to ``Emax``.

Not implemented: terrain clearance angle (§11), tropospheric scatter (§13), the
transmitter clutter correction (§10), percentages of time or locations other than 50 %.
Validity: 30–4000 MHz and ``h1`` < 3000 m are enforced (an error); distances outside
1–1000 km are computed (§15 below 1 km, extrapolation above 1000 km) and can be counted
with :func:`outside_curves`.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np

from .._errors import InputValidationError

__all__ = [
    "MODEL_NAME", "NOMINAL_FREQ_MHZ", "NOMINAL_H1_M", "NOMINAL_D_KM", "FREQ_RANGE_MHZ", "DIST_RANGE_KM",
    "curves", "free_space_dbuvm", "d06_km", "transmitting_height_m", "tabulated_dbuvm", "field_dbuvm",
    "rx_height_correction_db", "outside_curves", "received_dbm",
]

MODEL_NAME = "ITU-R P.1546-6 (50 % locations, 50 % time)"
NOMINAL_FREQ_MHZ = (100.0, 600.0, 2000.0)
NOMINAL_H1_M = np.array([10.0, 20.0, 37.5, 75.0, 150.0, 300.0, 600.0, 1200.0])
FREQ_RANGE_MHZ = (30.0, 4000.0)
DIST_RANGE_KM = (1.0, 1000.0)
H1_MAX_M = 3000.0
_K_NU = {100.0: 1.35, 600.0: 3.31, 2000.0: 6.00}  # eq (12c): K_nu per nominal frequency
_TABLE = "data/itu/p1546_50pct.csv"


@functools.cache
def curves() -> dict[tuple[float, str], np.ndarray]:
    """The tabulated 50 %-time curves: ``{(freq_mhz, "land" | "sea"): E[78 distances, 8 heights]}``
    in dB(µV/m) for 1 kW e.r.p. (distances :data:`NOMINAL_D_KM`, heights :data:`NOMINAL_H1_M`)."""
    text = resources.files("ictplan").joinpath(_TABLE).read_text(encoding="utf-8")
    rows = [ln.split(",") for ln in text.splitlines() if ln and not ln.startswith("#")][1:]
    out: dict[tuple[float, str], list[list[float]]] = {}
    for r in rows:
        out.setdefault((float(r[0]), r[1]), []).append([float(v) for v in r[2:]])
    return {k: np.asarray(v) for k, v in out.items()}


NOMINAL_D_KM = curves()[(100.0, "land")][:, 0].copy()
"""The 78 nominal distances of Annex 5 Table 1 (km)."""


def free_space_dbuvm(d_km: np.ndarray | float) -> np.ndarray:
    """Free-space field strength for 1 kW e.r.p. (Annex 5 §2, eq 2): ``106.9 − 20 log10 d``."""
    return 106.9 - 20.0 * np.log10(np.asarray(d_km, dtype=float))


def d06_km(freq_mhz: float, h1_m: np.ndarray | float, h2_m: float) -> np.ndarray:
    """Path length just achieving 0.6 Fresnel clearance over a smooth Earth (§18, eq 41)."""
    h1 = np.maximum(np.asarray(h1_m, dtype=float), 0.0)
    df = 0.0000389 * freq_mhz * h1 * h2_m
    dh = 4.1 * (np.sqrt(h1) + np.sqrt(h2_m))
    with np.errstate(invalid="ignore", divide="ignore"):
        d = np.where(df + dh > 0, df * dh / (df + dh), 0.0)
    return np.maximum(d, 0.001)


def transmitting_height_m(d_km: np.ndarray, ha_m: float, heff_m: float | None = None) -> np.ndarray:
    """``h1`` for land paths without a terrain database (§3.1–3.2, eqs 4, 5, 7).

    ``ha_m`` is the mast height above ground, ``heff_m`` the height above the average
    ground 3–15 km towards the receiver (None: flat terrain, ``heff = ha``). ``h1 = ha`` up to
    3 km, ``ha + (heff − ha)(d − 3)/12`` between 3 and 15 km, ``heff`` beyond.
    """
    d = np.asarray(d_km, dtype=float)
    heff = float(ha_m) if heff_m is None else float(heff_m)
    mid = ha_m + (heff - ha_m) * (d - 3.0) / 12.0
    return np.where(d <= 3.0, float(ha_m), np.where(d < 15.0, mid, heff))


def _distance_interp(table: np.ndarray, d_km: np.ndarray) -> np.ndarray:
    """Eq (13): the 8 height curves at each distance, log-interpolated between the nominal
    distances (1 km for shorter paths; the 975–1000 km segment extrapolated beyond)."""
    dist = NOMINAL_D_KM
    d = np.clip(np.asarray(d_km, dtype=float), dist[0], None)
    i = np.clip(np.searchsorted(dist, d, side="right") - 1, 0, dist.size - 2)
    w = np.log10(d / dist[i]) / np.log10(dist[i + 1] / dist[i])
    e = table[:, 1:]
    return e[i] + w[:, None] * (e[i + 1] - e[i])


def _ch1_neg10_db(fnom: float) -> float:
    """Eq (12) for ``h1 = −10`` m without terrain data: ``6.03 − J(ν)``, ``ν = K_ν θ``,
    ``θ = arctan(10/9000)`` degrees."""
    nu = _K_NU[fnom] * np.degrees(np.arctan(10.0 / 9000.0))
    return float(6.03 - _j(nu))


def _j(nu: np.ndarray | float) -> np.ndarray:
    """The knife-edge loss of eq (12a) (0 where ``ν ≤ −0.7806``)."""
    nu = np.asarray(nu, dtype=float)
    val = 6.9 + 20.0 * np.log10(np.sqrt((nu - 0.1) ** 2 + 1.0) + nu - 0.1)
    return np.where(nu > -0.7806, val, 0.0)


def _low_land(e10: np.ndarray, e20: np.ndarray, h1: np.ndarray, fnom: float) -> np.ndarray:
    """Eq (9): ``0 ≤ h1 < 10`` m on land, between ``E_zero`` (eq 9a) and the 10 m curve."""
    ezero = e10 + 0.5 * ((e10 - e20) + _ch1_neg10_db(fnom))
    return ezero + 0.1 * h1 * (e10 - ezero)


def _low_sea(table: np.ndarray, e10: np.ndarray, e20: np.ndarray, h1: np.ndarray, d: np.ndarray,
             fnom: float) -> np.ndarray:
    """Eqs (10), (11): ``1 ≤ h1 < 10`` m at sea, by the 0.6-Fresnel-clearance distances
    ``D_h1 = D06(f, h1, 10)`` and ``D20 = D06(f, 20, 10)``."""
    h1 = np.maximum(h1, 1.0)
    dh1, d20 = d06_km(fnom, h1, 10.0), float(d06_km(fnom, 20.0, 10.0))
    at20 = _distance_interp(table, np.array([d20]))[0]
    ed20 = at20[0] + (at20[1] - at20[0]) * np.log10(h1 / 10.0) / np.log10(2.0)
    edh1 = free_space_dbuvm(dh1)
    with np.errstate(divide="ignore", invalid="ignore"):
        near = edh1 + (ed20 - edh1) * np.log10(d / dh1) / np.log10(d20 / dh1)
    e1 = e10 + (e20 - e10) * np.log10(h1 / 10.0) / np.log10(2.0)
    fs = np.clip((d - d20) / d, 0.0, 1.0)
    far = e1 * (1.0 - fs) + _low_land(e10, e20, h1, fnom) * fs
    return np.where(d <= dh1, free_space_dbuvm(d), np.where(d < d20, near, far))


def tabulated_dbuvm(fnom: float, path: str, d_km: np.ndarray, h1_m: np.ndarray | float) -> np.ndarray:
    """Field strength on one nominal frequency's curves (§4 and §5, eqs 8–13), limited to
    ``Emax``; ``d`` ≥ 1 km (shorter distances read the 1 km value: see :func:`field_dbuvm`)."""
    table = curves()[(float(fnom), path)]
    d = np.maximum(np.asarray(d_km, dtype=float), 1.0)
    h1 = np.broadcast_to(np.asarray(h1_m, dtype=float), d.shape)
    e = _distance_interp(table, d)
    hs = NOMINAL_H1_M
    k = np.clip(np.searchsorted(hs, h1, side="right") - 1, 0, hs.size - 2)
    rows = np.arange(d.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.log10(np.maximum(h1, 1e-9) / hs[k]) / np.log10(hs[k + 1] / hs[k])
    out = e[rows, k] + w * (e[rows, k + 1] - e[rows, k])
    low = h1 < hs[0]
    if low.any():
        lo = (_low_land(e[:, 0], e[:, 1], np.maximum(h1, 0.0), fnom) if path == "land"
              else _low_sea(table, e[:, 0], e[:, 1], h1, d, fnom))
        out = np.where(low, lo, out)
    return np.minimum(out, free_space_dbuvm(d))


def _frequency_pair(freq_mhz: float) -> tuple[float, float]:
    return (100.0, 600.0) if freq_mhz < 600.0 else (600.0, 2000.0)


def _one_path(path: str, d: np.ndarray, h1: np.ndarray, freq_mhz: float) -> np.ndarray:
    """Eq (14): interpolation (extrapolation) in frequency between nominal curves, limited to ``Emax``."""
    if freq_mhz in NOMINAL_FREQ_MHZ:
        return tabulated_dbuvm(freq_mhz, path, d, h1)
    f_lo, f_hi = _frequency_pair(freq_mhz)
    e_lo, e_hi = tabulated_dbuvm(f_lo, path, d, h1), tabulated_dbuvm(f_hi, path, d, h1)
    e = e_lo + (e_hi - e_lo) * np.log10(freq_mhz / f_lo) / np.log10(f_hi / f_lo)
    return np.minimum(e, free_space_dbuvm(np.maximum(d, 1.0)))


def rx_height_correction_db(d_km: np.ndarray, *, freq_mhz: float, h1_m: np.ndarray | float, h2_m: float,
                            environment: str = "rural", clutter_height_m: float | None = None,
                            at_sea: np.ndarray | bool = False) -> np.ndarray:
    """§9: correction for a receiving antenna ``h2_m`` above ground (0 for 10 m in rural areas).

    On land, rural/open (``environment`` ``"rural"``): ``K_h2 log10(h2/10)``, ``K_h2 = 3.2 +
    6.2 log10 f`` (eq 28b with ``R' = 10``). Urban (``"suburban"``, ``"urban"``, ``"metropolitan"``):
    the representative clutter height ``R`` (default 10, 20, 30 m) is tilted by the arrival
    angle, ``R' = (1000 d R − 15 h1)/(1000 d − 15)`` (≥ 1 m, eq 27); below ``R'`` the clutter
    diffraction of eq (28a), above it eq (28b), reduced by ``K_h2 log10(10/R')`` where
    ``R' < 10``. Adjacent to sea (``at_sea``): eq (28b) with ``R' = 10`` for ``h2 ≥ 10`` m,
    the 0.6-Fresnel method (eq 29) below.
    """
    d = np.maximum(np.asarray(d_km, dtype=float), 1e-3)
    f, h2 = float(freq_mhz), float(h2_m)
    if h2 < 1.0:
        raise InputValidationError(f"P.1546 receiving height h2 = {h2} m: the recommendation needs h2 ≥ 1 m "
                                   "(3 m next to the sea). Raise ue_height_m in the [dtt] profile.")
    kh2 = 3.2 + 6.2 * np.log10(f)
    h1 = np.broadcast_to(np.asarray(h1_m, dtype=float), d.shape)
    if environment == "rural":
        land = np.full(d.shape, kh2 * np.log10(h2 / 10.0))
    else:
        r = float(clutter_height_m or {"suburban": 10.0, "urban": 20.0, "metropolitan": 30.0}.get(environment, 10.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            rp = np.maximum((1000.0 * d * r - 15.0 * h1) / (1000.0 * d - 15.0), 1.0)
        hdif = np.maximum(rp - h2, 0.0)
        nu = 0.0108 * np.sqrt(f) * np.sqrt(hdif * np.degrees(np.arctan(hdif / 27.0)))
        land = np.where(h2 < rp, 6.03 - _j(nu), kh2 * np.log10(h2 / rp))
        land = land - np.where(rp < 10.0, kh2 * np.log10(10.0 / rp), 0.0)
    sea = np.full(d.shape, kh2 * np.log10(h2 / 10.0))
    if h2 < 10.0:
        d10, dh2 = d06_km(f, h1, 10.0), d06_km(f, h1, h2)
        with np.errstate(divide="ignore", invalid="ignore"):
            part = sea * np.log10(d / dh2) / np.log10(d10 / dh2)
        sea = np.where(d >= d10, sea, np.where(d <= dh2, 0.0, part))
    return np.where(np.asarray(at_sea, dtype=bool), sea, land)


def _short_paths(e1km: np.ndarray, d: np.ndarray, ha_m: float, h2_m: float) -> np.ndarray:
    """§15 (eq 38): below 1 km, free space on the slope distance at 0.04 km, log-interpolated
    (in slope distance) to the field at 1 km; at 0.04 km or less, free space."""
    def slope(x: np.ndarray | float) -> np.ndarray:
        return np.sqrt(np.asarray(x, dtype=float) ** 2 + 1e-6 * (ha_m - h2_m) ** 2)

    ds, dinf, dsup = slope(np.maximum(d, 1e-6)), slope(0.04), slope(1.0)
    einf = free_space_dbuvm(dinf)
    mid = einf + (e1km - einf) * np.log10(ds / dinf) / np.log10(dsup / dinf)
    return np.where(d <= 0.04, free_space_dbuvm(ds), mid)


def field_dbuvm(d_km: np.ndarray, /, *, freq_mhz: float, h1_m: np.ndarray | float,
                sea_fraction: np.ndarray | float = 0.0, h2_m: float = 10.0, ha_m: float | None = None,
                environment: str = "rural", clutter_height_m: float | None = None,
                receiver_at_sea: np.ndarray | bool = False) -> np.ndarray:
    """Field strength (dB(µV/m)) for 1 kW e.r.p., 50 % locations, 50 % time.

    Parameters
    ----------
    d_km
        Horizontal path lengths (km), any shape.
    freq_mhz
        Frequency, 30–4000 MHz (else :class:`~ictplan.errors.InputValidationError`).
    h1_m
        Transmitting height ``h1`` (§3, :func:`transmitting_height_m`), < 3000 m; scalar or per path.
    sea_fraction
        Share of each path over sea (0: all land, 1: all sea; between: §8 mixed path). On the
        sea part ``h1`` is at least 3 m.
    h2_m, environment, clutter_height_m, receiver_at_sea
        The receiving antenna: §9 (:func:`rx_height_correction_db`).
    ha_m
        Mast height above ground for the slope-path correction (§14) and paths below 1 km
        (§15); default ``h1``.

    Returns
    -------
    numpy.ndarray
        Field strength, limited to free space (``Emax``, §2).
    """
    f = float(freq_mhz)
    if not FREQ_RANGE_MHZ[0] <= f <= FREQ_RANGE_MHZ[1]:
        raise InputValidationError(f"P.1546 frequency {f} MHz is outside the recommendation's 30–4000 MHz. "
                                   "Use a DTT channel frequency in the VHF/UHF bands.")
    d = np.asarray(d_km, dtype=float)
    shape = d.shape
    d = d.reshape(-1)
    h1 = np.broadcast_to(np.asarray(h1_m, dtype=float), shape).reshape(-1)
    if np.any(h1 >= H1_MAX_M):
        raise InputValidationError(f"P.1546 transmitting height h1 up to {h1.max():g} m: the recommendation is valid "
                                   f"below {H1_MAX_M:g} m. Check the transmitters' height_m.")
    fsea = np.broadcast_to(np.clip(np.asarray(sea_fraction, dtype=float), 0.0, 1.0), shape).reshape(-1)
    dd = np.maximum(d, 1.0)
    e = _one_path("land", dd, h1, f)
    mixed = fsea > 0
    if mixed.any():
        es = _one_path("sea", dd[mixed], np.maximum(h1[mixed], 3.0), f)
        el = e[mixed]
        a0 = 1.0 - (1.0 - fsea[mixed]) ** (2.0 / 3.0)
        a = a0 ** np.maximum(1.0, 1.0 + (es - el) / 40.0)
        e[mixed] = (1.0 - a) * el + a * es
    at_sea = np.broadcast_to(np.asarray(receiver_at_sea, dtype=bool), shape).reshape(-1)
    e = e + rx_height_correction_db(dd, freq_mhz=f, h1_m=h1, h2_m=h2_m, environment=environment,
                                    clutter_height_m=clutter_height_m, at_sea=at_sea)
    ha = h1 if ha_m is None else np.full(d.shape, float(ha_m))
    slope_dd = np.sqrt(dd**2 + 1e-6 * (ha - h2_m) ** 2)
    e = e + 20.0 * np.log10(dd / slope_dd)  # §14 slope-path correction
    short = d < 1.0
    if short.any():
        e[short] = _short_paths(e[short], d[short], float(np.mean(ha[short])), h2_m)
    emax = free_space_dbuvm(np.sqrt(np.maximum(d, 1e-6) ** 2 + 1e-6 * (ha - h2_m) ** 2))
    return np.minimum(e, emax).reshape(shape)


def outside_curves(d_km: np.ndarray, /) -> dict[str, int]:
    """How many paths lie outside the curves' 1–1000 km: ``{"below_1_km": n, "beyond_1000_km": n}``
    (below 1 km the §15 extension applies, beyond 1000 km the curves are extrapolated)."""
    d = np.asarray(d_km, dtype=float)
    return {"below_1_km": int((d < DIST_RANGE_KM[0]).sum()), "beyond_1000_km": int((d > DIST_RANGE_KM[1]).sum())}


def received_dbm(field_dbuvm_1kw: np.ndarray, *, erp_dbm: float, freq_mhz: float,
                 antenna_gain_dbi: float = 0.0, feeder_loss_db: float = 0.0) -> np.ndarray:
    """Received power (dBm) from the 1 kW field strength: ``E + (ERP − 60 dBm) − 20 log10 f − 77.2
    + G_rx − L_feeder`` (ITU-R P.525: an isotropic antenna's effective area at ``f``)."""
    return (np.asarray(field_dbuvm_1kw) + (float(erp_dbm) - 60.0) - 20.0 * np.log10(float(freq_mhz)) - 77.2
            + float(antenna_gain_dbi) - float(feeder_loss_db))
