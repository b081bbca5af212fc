"""Technology profiles: one validated :class:`TechProfile` per operator × technology × band,
the ``[dtt]`` broadcast profile and the clutter losses, read from a profiles TOML file."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from .._errors import ProfileError
from ..io import read_toml
from .link import noise_per_re_dbm, rsrp_offset_db, tdd_dl_share
from .margins import shadow_sigma_db
from .propagation import LOS_MODES, MODELS

logger = logging.getLogger(__name__)


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
    tdd_pattern: str = ""
    special_dl_symbols: int = 10
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
    def dl_share(self) -> float:
        """Downlink share of the TDD frame (:func:`~ictplan.radio.link.tdd_dl_share`; FDD: 1)."""
        return tdd_dl_share(self.tdd_pattern, special_dl_symbols=self.special_dl_symbols)

    @property
    def shadow_sigma_db(self) -> float:
        """Shadow-fading σ of the profile's model and LOS mode (:func:`~ictplan.radio.margins.shadow_sigma_db`)."""
        return shadow_sigma_db(self.model, self.los)

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
    "tdd_pattern": ((str,), None),  # e.g. "DDDSU"; "" = FDD
    "special_dl_symbols": ((int,), (0.0, 14.0)),  # downlink symbols of a special slot (of 14)
}
_OPTIONAL_DEFAULTS: dict[str, Any] = {
    "sla_v_db": 30.0, "extra_loss_db": 0.0, "avg_building_height_m": 5.0, "street_width_m": 20.0,
    "market_share": 1.0, "sinr_min_db": -10.0, "n_rb": None,
    "tdd_pattern": "", "special_dl_symbols": 10,
}
_DTT_SPEC: dict[str, tuple[tuple[type, ...], Any]] = {
    "freq_mhz": (_NUM, (30.0, 4000.0)),  # ITU-R P.1546: 30-4000 MHz
    "threshold_dbm": (_NUM, (-160.0, -20.0)),
    "model": ((str,), (*MODELS, "p1546")),  # p1546: ITU-R P.1546-6 field strength (the DTT default)
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
    data = read_toml(path, "profiles")
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
    carriers = _carriers(operators, source)
    dtt_out = None if dtt is None else _parse_dtt(dtt, source)
    clutter_out, classes_out = _parse_clutter(clutter, classes, source)
    logger.info("loaded %d carrier profiles from %s", len(carriers), source)
    return {"carriers": carriers, "dtt": dtt_out, "clutter_loss_db": clutter_out,
            "clutter_classes": classes_out, "source": source}


def _split_operator(table: dict[str, Any], where: str,
                    source: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """An operator table's scalars and its ``{technology: {band: table}}``."""
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


def _carriers(operators: dict[str, Any], source: str) -> dict[tuple[str, str, str], TechProfile]:
    """Every operator × technology × band profile, resolved in the documented order."""
    def_scalars, def_techs = _split_operator(operators["default"], "default", source)
    resolved_keys: set[tuple[str, str, str]] = {("default", t, b) for t, bands in def_techs.items() for b in bands}
    op_parts = {}
    for op, table in operators.items():
        scalars, techs = _split_operator(table, op, source)
        op_parts[op] = (scalars, techs)
        resolved_keys |= {(op, t, b) for t, bands in techs.items() for b in bands}
    # operators inherit every default band too
    for op in operators:
        resolved_keys |= {(op, t, b) for t, bands in def_techs.items() for b in bands}
    carriers: dict[tuple[str, str, str], TechProfile] = {}
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
    return carriers


def _parse_dtt(dtt: dict[str, Any], source: str) -> dict[str, Any]:
    """The validated ``[dtt]`` broadcast profile."""
    dtt_out = {}
    for key, val in dtt.items():
        if key not in _DTT_SPEC:
            raise ProfileError(f"{source}: unknown key `dtt.{key}`. Known: {', '.join(sorted(_DTT_SPEC))}.")
        dtt_out[key] = _check_value(key, val, _DTT_SPEC[key], f"{source} [dtt]")
    missing = sorted(set(_DTT_SPEC) - set(dtt_out) - {"bandwidth_mhz", "feeder_loss_db", "antenna_gain_dbi"})
    if missing:
        raise ProfileError(f"{source} [dtt]: missing key(s) {', '.join(missing)}.")
    return dtt_out


def _parse_clutter(clutter: dict[str, Any], classes: dict[str, Any],
                   source: str) -> tuple[dict[str, float], dict[int, str]]:
    """``[clutter_loss_db]`` (dB per class) and ``[clutter_classes]`` (land-cover code → class)."""
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
    return clutter_out, classes_out


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
    if set(str(values.get("tdd_pattern", "")).upper()) - set("DSU"):
        raise ProfileError(f"{where}: `tdd_pattern` = {values['tdd_pattern']!r}: use the letters D, S, U "
                           "(e.g. \"DDDSU\"), or \"\" for FDD.")
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

