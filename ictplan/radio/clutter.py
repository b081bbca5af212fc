"""Clutter loss per cell from a land-cover raster with ESA WorldCover class codes.

The land-cover raster (on the population grid, :func:`ictplan.io.read_landcover`) holds
ESA WorldCover codes (:data:`WORLDCOVER_CLASSES`; WorldCover v200 product user manual,
Zanaga et al. 2022). The profiles map each code to a class (``[clutter_classes]``) and each
class to a loss (``[clutter_loss_db]``), optionally per band (``"<class>@<band>"`` keys, e.g.
``"tree_cover@n78"``); a band without its own key takes the class's plain value. The table
is data: :func:`clutter_loss_db` only looks it up.

What the loss means
-------------------
The loss is the **excess over the path-loss model's own terminal surroundings**. The
profiles' TR 38.901 RMa model already predicts the median loss to a 1.5 m terminal in open
rural land (rice fields, grass, water, wetland), so those classes add 0 dB. Classes with
taller clutter around the terminal (trees, mangroves, built-up) add the ITU-R P.2108-1 §3.1
height-gain terminal correction of their clutter type and representative height (P.2108
Table 3: trees/forest and urban R = 15 m, suburban and open/rural R = 10 m, street width
27 m) **minus** that of open/rural land (R = 10 m) at the same frequency
(:func:`p2108_excess_db`). §3.1 holds for 0.03–3 GHz; above 3 GHz (n78, 3.5–3.7 GHz) the
excess is taken at 3 GHz plus the increase of the P.2108 §3.2 median terrestrial clutter
loss (valid 0.5–67 GHz) from 3 GHz to the frequency, at its 2 km cap (an assumption: §3.2
is a path statistic for urban/suburban ends, used here only for its frequency trend).
:func:`worldcover_table` derives the whole table; ``data/profiles/default.toml`` holds its
values, and ``tests/test_clutter.py`` checks that they agree and that §3.1 and §3.2 match
the ITU's reference code (NTIA ``proplib-p2108``) to 1e-6 dB.

Codes absent from ``[clutter_classes]`` raise :class:`~ictplan.errors.InputValidationError`
naming them (never a silent 0 dB). WorldCover's no-data code 0 is a class like any other
when the profiles map it (the default profiles map it to ``no_data``, 0 dB); its cells are
counted in a :class:`~ictplan.errors.NodataWarning`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._errors import InputValidationError, NodataWarning
from .margins import P2108_CLUTTER_TYPES, p2108_height_gain_db

__all__ = ["WORLDCOVER_CLASSES", "WORLDCOVER_NODATA", "P2108_TERMINAL", "P2108_REFERENCE",
           "TERMINAL_HEIGHT_M", "STREET_WIDTH_M", "p2108_statistical_median_db", "p2108_excess_db",
           "worldcover_table", "class_losses_db", "clutter_loss_db", "class_counts", "clutter_in_urban_model"]

WORLDCOVER_CLASSES: dict[int, str] = {
    10: "tree_cover", 20: "shrubland", 30: "grassland", 40: "cropland", 50: "built_up",
    60: "bare", 70: "snow_ice", 80: "water", 90: "herbaceous_wetland", 95: "mangroves",
    100: "moss_lichen",
}
"""ESA WorldCover 10 m v100/v200 class codes (product user manual, Table 1) → class names."""

WORLDCOVER_NODATA = 0
"""WorldCover's no-data value."""

P2108_TERMINAL: dict[str, tuple[str, float]] = {
    "tree_cover": ("trees_forest", 15.0),   # P.2108 Table 3: trees/forest, R = 15 m
    "shrubland": ("open_rural", 10.0),      # no shrub type in P.2108: open/rural (assumption)
    "grassland": ("open_rural", 10.0),
    "cropland": ("open_rural", 10.0),
    "built_up": ("urban", 15.0),            # Table 3 urban, R = 15 m (3–4-storey tube houses)
    "bare": ("open_rural", 10.0),
    "snow_ice": ("open_rural", 10.0),
    "water": ("water_sea", 10.0),           # Table 3 water/sea: same formula as open/rural
    "herbaceous_wetland": ("open_rural", 10.0),
    "mangroves": ("trees_forest", 15.0),    # no mangrove type: trees/forest, R = 15 m (assumption)
    "moss_lichen": ("open_rural", 10.0),
    "no_data": ("open_rural", 10.0),
}
"""P.2108 §3.1 clutter type and representative height R (m) of each WorldCover class."""

P2108_REFERENCE: tuple[str, float] = ("open_rural", 10.0)
"""The terminal surroundings the path-loss model already includes (RMa: open rural land)."""

TERMINAL_HEIGHT_M = 1.5
STREET_WIDTH_M = 27.0  # P.2108 §3.1 default street width
_F_MAX_31_MHZ = 3000.0
_STAT_D_KM = 2.0  # P.2108 §3.2, Eq. (6): the loss never exceeds its 2 km value


def p2108_statistical_median_db(freq_mhz: float, d_km: float = _STAT_D_KM) -> float:
    """Median (50 % of locations) P.2108-1 §3.2 terrestrial clutter loss at one end (dB).

    ``L_l = −2 log10(10^(−5 log10 f − 12.5) + 10^(−16.5))``,
    ``L_s = 32.98 + 23.9 log10 d + 3 log10 f`` (f in GHz, d in km),
    ``L = −5 log10(10^(−0.2 L_l) + 10^(−0.2 L_s))``, capped at its value for d = 2 km.

    Raises
    ------
    InputValidationError
        Frequency outside 0.5–67 GHz or distance under 0.25 km.
    """
    f = freq_mhz / 1000.0
    if not 0.5 <= f <= 67.0 or d_km < 0.25:
        raise InputValidationError(f"P.2108 §3.2 holds for 0.5–67 GHz and d ≥ 0.25 km, not {f:g} GHz, {d_km:g} km.")

    def at(d: float) -> float:
        ll = -2.0 * math.log10(10 ** (-5.0 * math.log10(f) - 12.5) + 10 ** -16.5)
        ls = 32.98 + 23.9 * math.log10(d) + 3.0 * math.log10(f)
        return -5.0 * math.log10(10 ** (-0.2 * ll) + 10 ** (-0.2 * ls))

    return min(at(_STAT_D_KM), at(d_km))


def p2108_excess_db(freq_mhz: float, clutter_type: str, r_m: float, *, h_m: float = TERMINAL_HEIGHT_M,
                    street_width_m: float = STREET_WIDTH_M) -> float:
    """Excess terminal clutter loss (dB) of ``clutter_type`` (height ``r_m``) over open/rural land.

    ``A_h(type, R) − A_h(open_rural, 10 m)`` with ``A_h`` the P.2108-1 §3.1 height-gain
    terminal correction (:func:`ictplan.radio.p2108_height_gain_db`) at ``freq_mhz``. Above
    3 GHz: the excess at 3 GHz plus ``L_§3.2(f) − L_§3.2(3 GHz)`` (median, 2 km cap) for
    clutter types other than open/rural and water/sea (which stay at 0 dB excess).

    Raises
    ------
    InputValidationError
        Frequency below 30 MHz or above 67 GHz, or an unknown clutter type.
    """
    if clutter_type not in P2108_CLUTTER_TYPES:
        raise InputValidationError(f"unknown P.2108 clutter type {clutter_type!r}; use {', '.join(P2108_CLUTTER_TYPES)}.")
    f31 = min(float(freq_mhz), _F_MAX_31_MHZ)
    ref_type, ref_r = P2108_REFERENCE
    kw = {"h_m": h_m, "street_width_m": street_width_m}
    excess = (p2108_height_gain_db(f31, clutter_type=clutter_type, r_m=r_m, **kw)
              - p2108_height_gain_db(f31, clutter_type=ref_type, r_m=ref_r, **kw))
    if freq_mhz > _F_MAX_31_MHZ and clutter_type not in ("open_rural", "water_sea"):
        excess += p2108_statistical_median_db(freq_mhz) - p2108_statistical_median_db(_F_MAX_31_MHZ)
    return max(excess, 0.0)


def worldcover_table(band_freqs_mhz: Mapping[str, float], /, *,
                     reference_band: str | None = None) -> dict[str, float]:
    """The ``[clutter_loss_db]`` table for the WorldCover classes, derived from P.2108.

    One ``"<class>@<band>"`` value per band in ``band_freqs_mhz`` and class with a non-zero
    excess, plus the plain ``"<class>"`` value at ``reference_band`` (default: the lowest
    frequency), rounded to 0.01 dB. This is how ``data/profiles/default.toml`` was made.
    """
    if not band_freqs_mhz:
        raise InputValidationError("worldcover_table needs at least one band and its frequency.")
    ref = reference_band or min(band_freqs_mhz, key=lambda b: band_freqs_mhz[b])
    out: dict[str, float] = {}
    for name, (ctype, r_m) in P2108_TERMINAL.items():
        out[name] = round(p2108_excess_db(band_freqs_mhz[ref], ctype, r_m), 2)
        for band, f in band_freqs_mhz.items():
            val = round(p2108_excess_db(f, ctype, r_m), 2)
            if val != 0.0 and band != ref:
                out[f"{name}@{band}"] = val
    return out


def class_losses_db(profiles: Mapping[str, Any], /, *, band: str | None = None) -> dict[int, float]:
    """Land-cover code → loss (dB) from the profiles, for ``band`` (plain values when None).

    Raises
    ------
    InputValidationError
        The profiles map no code, or a class has no loss.
    """
    classes: Mapping[int, str] = profiles.get("clutter_classes") or {}
    losses: Mapping[str, float] = profiles.get("clutter_loss_db") or {}
    source = profiles.get("source", "the profiles")
    if not classes:
        raise InputValidationError(f"{source} has no [clutter_classes] (land-cover code → class); add the "
                                   "WorldCover codes, as in data/profiles/default.toml.")
    out: dict[int, float] = {}
    for code, name in classes.items():
        key = f"{name}@{band}" if band is not None and f"{name}@{band}" in losses else name
        if key not in losses:
            raise InputValidationError(f"{source} [clutter_loss_db] has no loss for class {name!r} (code {code}).")
        out[int(code)] = float(losses[key])
    return out


def _lookup(lc: np.ndarray, table: Mapping[int, float], source: str) -> np.ndarray:
    codes = np.array(sorted(table), dtype=np.int64)
    vals = np.array([table[int(c)] for c in codes], dtype=np.float32)
    flat = lc.astype(np.int64, copy=False)
    idx = np.clip(np.searchsorted(codes, flat), 0, len(codes) - 1)
    known = codes[idx] == flat
    if not known.all():
        bad, n = np.unique(flat[~known], return_counts=True)
        listed = ", ".join(f"{int(c)} ({int(k)} cells)" for c, k in zip(bad[:10], n[:10], strict=True))
        raise InputValidationError(
            f"the land-cover raster holds {len(bad)} code(s) with no class in [clutter_classes] of {source}: "
            f"{listed}{' …' if len(bad) > 10 else ''}. Known codes: {', '.join(str(int(c)) for c in codes)}. "
            "Reclassify the raster to ESA WorldCover codes, or add the codes to [clutter_classes] with a loss "
            "in [clutter_loss_db]."
        )
    return vals[idx]


def clutter_loss_db(landcover: np.ndarray, profiles: Mapping[str, Any], /, *,
                    band: str | None = None) -> np.ndarray:
    """Per-cell clutter loss (dB, float32, ≥ 0) from land-cover codes on the grid.

    Parameters
    ----------
    landcover
        Integer class codes (e.g. :attr:`ictplan.study.Study.landcover`).
    profiles
        Parsed profiles (:func:`ictplan.radio.parse_profiles`) with ``clutter_classes`` and
        ``clutter_loss_db``.
    band
        Take the ``"<class>@<band>"`` losses where the profiles give them (e.g. ``"n78"``);
        None: the plain per-class values.

    Raises
    ------
    InputValidationError
        Codes the profiles do not map (listed, with their cell counts).

    Warns
    -----
    NodataWarning
        Cells holding WorldCover's no-data code 0 (counted; they get its class's loss).
    """
    lc = np.asarray(landcover)
    if not np.issubdtype(lc.dtype, np.integer):
        raise InputValidationError(f"land-cover codes must be integers, got {lc.dtype}; use the classified raster.")
    table = class_losses_db(profiles, band=band)
    out = _lookup(lc, table, str(profiles.get("source", "the profiles")))
    n_nodata = int(np.count_nonzero(lc == WORLDCOVER_NODATA))
    if n_nodata:
        warnings.warn(f"{n_nodata} land-cover cell(s) hold the WorldCover no-data code 0; they get "
                      f"{table[WORLDCOVER_NODATA]:g} dB clutter loss.", NodataWarning, stacklevel=2)
    return out


def class_counts(landcover: np.ndarray, profiles: Mapping[str, Any], /) -> dict[str, int]:
    """Cells per class name (codes the profiles do not map under ``"unmapped <code>"``)."""
    classes: Mapping[int, str] = profiles.get("clutter_classes") or {}
    codes, n = np.unique(np.asarray(landcover), return_counts=True)
    out: dict[str, int] = {}
    for c, k in zip(codes, n, strict=True):
        name = classes.get(int(c), f"unmapped {int(c)}")
        out[name] = out.get(name, 0) + int(k)
    return out


def clutter_in_urban_model(clutter_loss: np.ndarray, landcover: np.ndarray, profiles: Mapping[str, Any],
                           urban: np.ndarray, /, *, classes: Sequence[str] = ("built_up",)) -> np.ndarray:
    """The clutter loss (dB, float32) where the urban path-loss model is used: 0 dB in the
    ``urban`` cells whose land-cover class (the profiles' ``[clutter_classes]``) is one of
    ``classes``, ``clutter_loss`` elsewhere.

    TR 38.901 UMa is fitted to terminals among urban buildings, so its loss already holds
    the built-up clutter that ITU-R P.2108 §3.1 adds over open land (WorldCover 50); adding
    it again would count it twice. Trees and mangroves in an urban cell keep their loss
    (UMa has no vegetation), as do the rural (RMa) cells, built-up or not.
    """
    names: Mapping[Any, str] = profiles.get("clutter_classes") or {}
    codes = [int(c) for c, n in names.items() if n in set(classes)]
    out = np.array(clutter_loss, dtype=np.float32, copy=True)
    lc = np.asarray(landcover)
    u = np.asarray(urban, dtype=bool)
    if out.shape != lc.shape or out.shape != u.shape:
        raise InputValidationError(f"the clutter loss {out.shape}, land cover {lc.shape} and urban mask {u.shape} "
                                   "must be on one grid (the population grid).")
    out[u & np.isin(lc, codes)] = 0.0
    return out
