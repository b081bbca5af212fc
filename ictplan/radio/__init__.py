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

The package, one concern per module (every name is re-exported here, so
``ictplan.radio.path_loss_db`` and the others work as before):

* :mod:`~ictplan.radio.profiles`: technology profiles (:class:`TechProfile`, :func:`load_profiles`);
* :mod:`~ictplan.radio.propagation`: path-loss models and their validity;
* :mod:`~ictplan.radio.antennas`: antenna patterns;
* :mod:`~ictplan.radio.link`: link budget, noise, SINR → rate (TDD downlink share, MIMO rank by SINR);
* :mod:`~ictplan.radio.margins`: shadow fading, location probability, O2I, P.2108 terminal clutter;
* :mod:`~ictplan.radio.dtt`: the digital-TV received field (:func:`dtt_received_dbm`).
"""

from __future__ import annotations

from . import p1546
from .antennas import antenna_gain_dbi, sector_attenuation_db
from .dtt import DBD_TO_DBI, DTT_MODEL, dtt_model_name, dtt_received_dbm, sea_fraction, sea_mask
from .link import (
    RANK_SINR_DB,
    mimo_rank,
    noise_per_re_dbm,
    peak_rate_mbps,
    rsrp_offset_db,
    spectral_efficiency,
    tdd_dl_share,
    thermal_noise_dbm,
    throughput_mbps,
)
from .margins import (
    O2I_SIGMA_DB,
    SHADOW_SIGMA_DB,
    location_margin_db,
    o2i_loss_db,
    p2108_height_gain_db,
    shadow_sigma_db,
)
from .profiles import TechProfile, load_profiles, n_resource_blocks, parse_profiles, profile_for
from .propagation import (
    C_M_S,
    HATA_ENVIRONMENTS,
    LOS_MODES,
    MODEL_VALIDITY,
    MODELS,
    Model,
    cost231_hata_db,
    fspl_db,
    hata_db,
    los_probability,
    outside_validity,
    path_loss_db,
    range_m,
    rma_db,
    uma_db,
    umi_db,
)

__all__ = [
    "C_M_S",
    "MODELS",
    "MODEL_VALIDITY",
    "LOS_MODES",
    "HATA_ENVIRONMENTS",
    "Model",
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
    "peak_rate_mbps",
    "mimo_rank",
    "tdd_dl_share",
    "RANK_SINR_DB",
    "SHADOW_SIGMA_DB",
    "O2I_SIGMA_DB",
    "shadow_sigma_db",
    "location_margin_db",
    "o2i_loss_db",
    "p2108_height_gain_db",
    "DBD_TO_DBI",
    "dtt_received_dbm",
    "dtt_model_name",
    "sea_mask",
    "sea_fraction",
    "DTT_MODEL",
    "p1546",
]
