"""Radio engine: technology profiles, path loss, antenna patterns, link budget, SINR → rate.

Everything here is vectorised over numpy arrays of distances (or angles) and keeps the
dtype of its input (float32 in, float32 out), so :mod:`ictplan.coverage` can evaluate
millions of cell–sector pairs per call.

Conventions
-----------
* **Distances** are horizontal (2-D) ground distances in metres, ``d2d_m``; models that
  need the 3-D distance compute it from the antenna heights.
* **RSRP is per resource element** (one 15/30 kHz subcarrier), in dBm::

      RSRP = P_tx − 10·log10(12·N_RB) + G_max + A(φ, θ) − L_feeder − PL − L_clutter − L_extra

  where ``P_tx`` is the sector's total transmit power over the carrier (dBm), ``N_RB``
  the number of resource blocks of the carrier, ``A ≤ 0`` the antenna pattern
  attenuation and the UE antenna gain is 0 dBi.
* **Noise per resource element**: ``N_RE = −174 + 10·log10(SCS_Hz) + NF`` dBm, so the
  SINR is ``RSRP_best / (load · Σ RSRP_others + N_RE)``, which equals the full-band SINR
  when the power is spread evenly over the ``12·N_RB`` subcarriers.
* **Rate**: attenuated Shannon bound of 3GPP TR 36.942 Annex A:
  ``SE = 0`` below ``sinr_min_db``, ``α·log2(1 + SINR)`` above, capped at
  ``max_se_bps_hz``; the rate is ``SE × B × layers × (1 − overhead)``.
* **Median path loss**: no shadow fading, no fast fading.

Validity limits of the propagation models (see :data:`MODEL_VALIDITY`): below the
minimum distance the distance is **clamped** to the minimum (the loss never drops below
``PL(d_min)``); beyond the maximum distance, or with a frequency or height outside the
published range, the formula is **extrapolated** and the pairs can be flagged with
:func:`outside_validity`; ``strict=True`` raises :class:`~ictplan.errors.InputValidationError`
instead.
"""

from __future__ import annotations

import logging
import math
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ._errors import InputValidationError, MissingFileError, ProfileError

logger = logging.getLogger(__name__)

__all__ = [
    "C_M_S",
    "MODELS",
    "MODEL_VALIDITY",
    "TechProfile",
    "load_profiles",
    "parse_profiles",
    "profile_for",
    "n_resource_blocks",
    "fspl_db",
    "hata_db",
    "cost231_hata_db",
    "rma_db",
    "uma_db",
    "umi_db",
    "los_probability",
    "path_loss_db",
    "outside_validity",
    "range_m",
    "sector_attenuation_db",
    "antenna_gain_dbi",
    "rsrp_offset_db",
    "thermal_noise_dbm",
    "noise_per_re_dbm",
    "spectral_efficiency",
    "throughput_mbps",
]

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


# ============================================================================ profiles
@dataclass(frozen=True)
class TechProfile:
    """One operator × technology × band carrier (all quantities carry their unit)."""

    operator: str
    technology: str
    band: str
    freq_mhz: float
    bandwidth_mhz: float
    scs_khz: float
    n_rb: int
    mimo_layers: int
    tx_power_dbm: float
    antenna_gain_dbi: float
    pattern: str
    beamwidth_deg: float
    front_to_back_db: float
    vertical_beamwidth_deg: float
    sla_v_db: float
    feeder_loss_db: float
    ue_height_m: float
    ue_noise_figure_db: float
    rsrp_threshold_dbm: float
    model: str
    environment: str
    los: str
    load_factor: float
    shannon_alpha: float
    sinr_min_db: float
    max_se_bps_hz: float
    activity_ratio: float
    market_share: float
    overhead: float
    target_mbps: float
    extra_loss_db: float = 0.0
    avg_building_height_m: float = 5.0
    street_width_m: float = 20.0
    source: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.operator, self.technology, self.band)

    @property
    def rsrp_offset_db(self) -> float:
        """``P_tx − 10·log10(12·N_RB) + G_max − L_feeder − L_extra`` (dB): RSRP = this − PL − clutter + A."""
        return rsrp_offset_db(self.tx_power_dbm, n_rb=self.n_rb, antenna_gain_dbi=self.antenna_gain_dbi,
                              feeder_loss_db=self.feeder_loss_db) - self.extra_loss_db

    @property
    def noise_re_dbm(self) -> float:
        """Thermal noise per resource element at the UE (dBm)."""
        return noise_per_re_dbm(self.scs_khz, noise_figure_db=self.ue_noise_figure_db)


_NUM = (int, float)
_FIELD_SPEC: dict[str, tuple[tuple[type, ...], tuple[float | None, float | None] | tuple[str, ...] | None]] = {
    "freq_mhz": (_NUM, (30.0, 100000.0)),
    "bandwidth_mhz": (_NUM, (0.1, 400.0)),
    "scs_khz": (_NUM, (15.0, 240.0)),
    "n_rb": ((int,), (1.0, 3300.0)),
    "mimo_layers": ((int,), (1.0, 16.0)),
    "tx_power_dbm": (_NUM, (0.0, 70.0)),
    "antenna_gain_dbi": (_NUM, (-10.0, 40.0)),
    "pattern": ((str,), ("omni", "sector3gpp")),
    "beamwidth_deg": (_NUM, (1.0, 360.0)),
    "front_to_back_db": (_NUM, (0.0, 60.0)),
    "vertical_beamwidth_deg": (_NUM, (1.0, 180.0)),
    "sla_v_db": (_NUM, (0.0, 60.0)),
    "feeder_loss_db": (_NUM, (0.0, 20.0)),
    "ue_height_m": (_NUM, (0.5, 50.0)),
    "ue_noise_figure_db": (_NUM, (0.0, 20.0)),
    "rsrp_threshold_dbm": (_NUM, (-160.0, -40.0)),
    "model": ((str,), MODELS),
    "environment": ((str,), ("metropolitan", "urban", "suburban", "rural")),
    "los": ((str,), LOS_MODES),
    "load_factor": (_NUM, (0.0, 1.0)),
    "shannon_alpha": (_NUM, (0.01, 1.0)),
    "sinr_min_db": (_NUM, (-30.0, 30.0)),
    "max_se_bps_hz": (_NUM, (0.1, 15.0)),
    "activity_ratio": (_NUM, (0.0, 1.0)),
    "market_share": (_NUM, (0.0, 1.0)),
    "overhead": (_NUM, (0.0, 0.9)),
    "target_mbps": (_NUM, (0.0, 100000.0)),
    "extra_loss_db": (_NUM, (0.0, 60.0)),
    "avg_building_height_m": (_NUM, (5.0, 50.0)),
    "street_width_m": (_NUM, (5.0, 50.0)),
}
_OPTIONAL_DEFAULTS: dict[str, Any] = {
    "sla_v_db": 30.0, "extra_loss_db": 0.0, "avg_building_height_m": 5.0, "street_width_m": 20.0,
    "market_share": 1.0, "sinr_min_db": -10.0, "n_rb": None,
}
_DTT_SPEC: dict[str, tuple[tuple[type, ...], Any]] = {
    "freq_mhz": (_NUM, (30.0, 3000.0)),
    "threshold_dbm": (_NUM, (-160.0, -20.0)),
    "model": ((str,), MODELS),
    "environment": ((str,), ("metropolitan", "urban", "suburban", "rural")),
    "ue_height_m": (_NUM, (0.5, 50.0)),
    "antenna_gain_dbi": (_NUM, (-10.0, 40.0)),
    "feeder_loss_db": (_NUM, (0.0, 20.0)),
    "bandwidth_mhz": (_NUM, (0.1, 100.0)),
}
_TECHNOLOGIES = ("4G", "5G")

# 3GPP TS 36.101 Table 5.6-1 and TS 38.101-1 Table 5.3.2-1 (max transmission bandwidth, N_RB)
_NRB_TABLE: dict[tuple[float, float], int] = {
    **{(bw, 15.0): n for bw, n in {1.4: 6, 3: 15, 5: 25, 10: 50, 15: 75, 20: 100}.items()},
    **{(bw, 15.0): n for bw, n in {25: 133, 30: 160, 40: 216, 50: 270}.items()},
    **{(bw, 30.0): n for bw, n in {5: 11, 10: 24, 15: 38, 20: 51, 25: 65, 30: 78, 40: 106, 50: 133,
                                       60: 162, 70: 189, 80: 217, 90: 245, 100: 273}.items()},
    **{(bw, 60.0): n for bw, n in {10: 11, 15: 18, 20: 24, 25: 31, 30: 38, 40: 51, 50: 65, 60: 79,
                                       70: 93, 80: 107, 90: 121, 100: 135}.items()},
}


def n_resource_blocks(bandwidth_mhz: float, *, scs_khz: float, technology: str = "5G") -> int:
    """Number of resource blocks of a carrier (3GPP TS 36.101 / 38.101-1 tables).

    Raises
    ------
    ProfileError
        When the bandwidth / subcarrier spacing pair is not in the tables (give ``n_rb``).
    """
    key = (float(bandwidth_mhz), float(scs_khz))
    if key not in _NRB_TABLE:
        raise ProfileError(
            f"no standard resource-block count for {bandwidth_mhz:g} MHz at {scs_khz:g} kHz subcarrier spacing. "
            "Give `n_rb` explicitly in the profile."
        )
    return _NRB_TABLE[key]


def _check_value(name: str, value: Any, spec: tuple, where: str) -> Any:
    types, allowed = spec
    if isinstance(value, bool) or not isinstance(value, types):
        kinds = " or ".join(t.__name__ for t in types)
        raise ProfileError(f"{where}: `{name}` must be {kinds}, got {value!r}.")
    if allowed is None:
        return value
    if isinstance(allowed[0], str):
        if value not in allowed:
            raise ProfileError(f"{where}: `{name}` = {value!r} is not one of {', '.join(allowed)}.")
        return value
    lo, hi = allowed
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ProfileError(f"{where}: `{name}` = {value!r} is outside the plausible range [{lo:g}, {hi:g}].")
    return float(value) if float in types else value


def load_profiles(path: str | Path, /) -> dict[str, Any]:
    """Load and validate a technology-profiles TOML file.

    The file holds a ``[default.<technology>.<band>]`` table per carrier and, per
    operator, ``[<Operator>]`` scalars (e.g. ``market_share``) and
    ``[<Operator>.<technology>.<band>]`` overrides. A profile is resolved as
    ``default`` scalars < ``default.<tech>.<band>`` < operator scalars <
    ``<Operator>.<tech>.<band>``. ``[dtt]`` holds the broadcast profile and
    ``[clutter_loss_db]`` the loss per land-cover class.

    Parameters
    ----------
    path
        The TOML file.

    Returns
    -------
    dict
        ``{"carriers": {(operator, technology, band): TechProfile}, "dtt": dict | None,
        "clutter_loss_db": {class: dB}, "clutter_classes": {code: class}, "source": str}``.
        Operator ``"default"`` holds the defaults that unknown operators inherit.

    Raises
    ------
    MissingFileError
        The file does not exist.
    ProfileError
        A key is unknown, missing, of the wrong type or out of range; the message names
        the key and the file.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"profiles file {path} does not exist. Point [profiles] path in study.toml at it.")
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ProfileError(f"{path}: not valid TOML: {err}.") from err
    return parse_profiles(data, source=str(path))


def parse_profiles(data: dict[str, Any], /, *, source: str = "<dict>") -> dict[str, Any]:
    """Validate already-parsed profile data (e.g. ``study.profiles``); see :func:`load_profiles`.

    Raises
    ------
    ProfileError
        A key is unknown, missing, of the wrong type or out of range.
    """
    data = dict(data)
    data.pop("schema_version", None)
    dtt = data.pop("dtt", None)
    clutter = data.pop("clutter_loss_db", {}) or {}
    classes = data.pop("clutter_classes", {}) or {}
    if "default" not in data:
        raise ProfileError(f"{source}: no [default.<technology>.<band>] tables; every profile inherits from them.")
    operators = {k: v for k, v in data.items()}
    for op, table in operators.items():
        if not isinstance(table, dict):
            raise ProfileError(f"{source}: top-level key `{op}` must be an operator table ([{op}...]), got {table!r}.")
    carriers: dict[tuple[str, str, str], TechProfile] = {}

    def split(table: dict[str, Any], where: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        scalars, techs = {}, {}
        for key, val in table.items():
            if key in _TECHNOLOGIES:
                if not isinstance(val, dict) or not all(isinstance(b, dict) for b in val.values()):
                    raise ProfileError(f"{source}: [{where}.{key}] must hold band tables like [{where}.{key}.B3].")
                techs[key] = val
            elif key in _FIELD_SPEC:
                scalars[key] = val
            else:
                hint = " (technologies are 4G and 5G)" if key.upper().endswith("G") else ""
                raise ProfileError(f"{source}: unknown key `{where}.{key}`{hint}. Known fields: "
                                   f"{', '.join(sorted(_FIELD_SPEC))}.")
        return scalars, techs

    def_scalars, def_techs = split(operators["default"], "default")
    resolved_keys: set[tuple[str, str, str]] = {("default", t, b) for t, bands in def_techs.items() for b in bands}
    op_parts = {}
    for op, table in operators.items():
        scalars, techs = split(table, op)
        op_parts[op] = (scalars, techs)
        resolved_keys |= {(op, t, b) for t, bands in techs.items() for b in bands}
    # operators inherit every default band too
    for op in operators:
        resolved_keys |= {(op, t, b) for t, bands in def_techs.items() for b in bands}
    for op, tech, band in sorted(resolved_keys):
        merged: dict[str, Any] = dict(_OPTIONAL_DEFAULTS)
        merged.update(def_scalars)
        merged.update(def_techs.get(tech, {}).get(band, {}))
        scalars, techs = op_parts[op]
        if op != "default":
            merged.update(scalars)
        merged.update(techs.get(tech, {}).get(band, {}))
        where = f"{source} [{op}.{tech}.{band}]"
        carriers[(op, tech, band)] = _build_profile(merged, op, tech, band, where, source)
    dtt_out = None
    if dtt is not None:
        dtt_out = {}
        for key, val in dtt.items():
            if key not in _DTT_SPEC:
                raise ProfileError(f"{source}: unknown key `dtt.{key}`. Known: {', '.join(sorted(_DTT_SPEC))}.")
            dtt_out[key] = _check_value(key, val, _DTT_SPEC[key], f"{source} [dtt]")
        missing = sorted(set(_DTT_SPEC) - set(dtt_out) - {"bandwidth_mhz", "feeder_loss_db", "antenna_gain_dbi"})
        if missing:
            raise ProfileError(f"{source} [dtt]: missing key(s) {', '.join(missing)}.")
    clutter_out: dict[str, float] = {}
    for name, val in clutter.items():
        clutter_out[str(name)] = _check_value(name, val, (_NUM, (0.0, 60.0)), f"{source} [clutter_loss_db]")
    classes_out: dict[int, str] = {}
    for code, name in classes.items():
        try:
            icode = int(code)
        except ValueError as err:
            raise ProfileError(f"{source} [clutter_classes]: key `{code}` must be an integer land-cover code.") from err
        if name not in clutter_out:
            raise ProfileError(f"{source} [clutter_classes]: class {name!r} (code {code}) has no loss in "
                               f"[clutter_loss_db] (it has: {', '.join(clutter_out) or 'nothing'}).")
        classes_out[icode] = name
    logger.info("loaded %d carrier profiles from %s", len(carriers), source)
    return {"carriers": carriers, "dtt": dtt_out, "clutter_loss_db": clutter_out,
            "clutter_classes": classes_out, "source": source}


def _build_profile(merged: dict[str, Any], op: str, tech: str, band: str, where: str, source: str) -> TechProfile:
    values: dict[str, Any] = {}
    for name, spec in _FIELD_SPEC.items():
        if name not in merged:
            continue
        if merged[name] is None:
            values[name] = None
            continue
        values[name] = _check_value(name, merged[name], spec, where)
    if values.get("n_rb") is None:
        if "bandwidth_mhz" in values and "scs_khz" in values:
            values["n_rb"] = n_resource_blocks(values["bandwidth_mhz"], scs_khz=values["scs_khz"], technology=tech)
    required = [f.name for f in fields(TechProfile) if f.name not in ("operator", "technology", "band", "source")]
    missing = [k for k in required if values.get(k) is None and k not in _OPTIONAL_DEFAULTS]
    if missing:
        raise ProfileError(f"{where}: missing key(s) {', '.join(missing)}. Add them to [{op}.{tech}.{band}] "
                           f"or [default.{tech}.{band}] in {source}.")
    return TechProfile(operator=op, technology=tech, band=band, source=source, **values)


def profile_for(profiles: dict[str, Any], operator: str, technology: str, band: str) -> TechProfile:
    """The carrier profile for a sector, falling back to the ``default`` operator.

    Raises
    ------
    ProfileError
        No profile for this technology and band (for the operator or the default).
    """
    carriers = profiles["carriers"]
    prof = carriers.get((operator, technology, band))
    if prof is None:
        prof = carriers.get(("default", technology, band))
        if prof is not None:
            prof = replace(prof, operator=operator)
    if prof is None:
        known = sorted({f"{t}/{b}" for (_, t, b) in carriers})
        raise ProfileError(
            f"no profile for technology {technology!r} band {band!r} (operator {operator!r}) in "
            f"{profiles.get('source', 'the profiles')}; known: {', '.join(known)}. Add a "
            f"[default.{technology}.{band}] table or fix the sites' band."
        )
    return prof


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


# ============================================================================ antennas
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


# ============================================================================ link budget
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
