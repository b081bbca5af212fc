"""Busy-hour demand and cell load: subscribers, 5G uptake, processor-sharing throughput.

Subscribers
-----------
Every person is a subscriber of one operator: people × ``subscribers_per_person`` split
among the operators of the sites layer in proportion to their profiles' ``market_share``
(shares renormalised over the modelled operators, so nobody is left without one). A
share ``uptake_5g`` of them have a 5G device and plan: they are served by their
operator's 5G where it covers them, and fall back to its 4G elsewhere. Everyone else
loads 4G.

Market shares per commune
-------------------------
A study may give each commune its own operator shares (:func:`commune_market_shares`): a
CSV named by ``[parameters.coverage] market_shares_table`` (``commune_code`` and one
``share_<operator>`` column per operator), else ``share_<operator>`` columns on the
communes layer; elsewhere (and for a commune without figures) the province default, the
profiles' ``[<Operator>] market_share``. Shares may be fractions or percentages: each
commune's are renormalised over the modelled operators (an operator a commune does not
list has share 0 there). :func:`cell_market_shares` spreads them onto the grid through
the zone weights the coverage uses: a cell's share of an operator is
``Σ_z w(z, cell) · share(z) + outside(cell) · default``, so the people of a cell split
between two communes subscribe by each commune's shares, and every cell's shares sum to 1.

Demand
------
Busy-hour demand per subscriber (Mb/s) =
``GB per month × 8,000 Mb/GB ÷ 30 days × busy-hour share ÷ 3,600 s``. The 2025 and 2030
values are parameters (:class:`ictplan.parameters.CoverageParameters`); other years are
interpolated linearly between them (held constant outside).

Cell load (flow-level processor sharing)
----------------------------------------
Bonald & Proutière (2003), "Wireless downlink data channels: user performance and cell
dimensioning": a sector whose users at location ``c`` would get the peak rate ``R_c``
alone, with offered traffic ``λ_c`` (Mb/s), has utilisation ``ρ = Σ_c λ_c / R_c`` and
mean flow throughput ``R_c (1 − ρ)`` at ``c`` when ``ρ < 1``. A sector with ``ρ ≥ 1``
cannot carry its busy-hour demand: it is **congested**, its users' flow throughput is 0
(the queue grows without bound), and congested sectors and their users are counted and
reported, never floored. Users where the peak rate is 0 (SINR below the link's minimum)
get nothing and load nothing. The link mapping (SINR → peak rate) is the attenuated
Shannon bound of 3GPP TR 36.942 Annex A (:func:`ictplan.radio.peak_rate_mbps`).

Interference is load-coupled: a neighbour's interference is weighted by its utilisation
``η = clip(ρ, min_utilisation, 1)``, and SINR → rates → ρ → η is iterated to a fixed
point (:func:`utilisation_step`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._errors import InputValidationError, MissingColumnError

if TYPE_CHECKING:  # pragma: no cover
    from .zones import ZoneWeights

__all__ = ["Demand", "demand_for", "busy_hour_mbps", "processor_sharing", "utilisation_step", "operator_shares",
           "commune_market_shares", "cell_market_shares"]

SHARE_PREFIX = "share_"

_ANCHORS = (2025, 2030)


@dataclass(frozen=True)
class Demand:
    """The busy-hour demand of one year (every quantity with its unit)."""

    year: int
    subscribers_per_person: float
    gb_per_month: float
    busy_hour_share: float
    uptake_5g: float

    @property
    def mbps_per_subscriber(self) -> float:
        """Busy-hour offered traffic of one subscriber (Mb/s)."""
        return busy_hour_mbps(self.gb_per_month, self.busy_hour_share)


def busy_hour_mbps(gb_per_month: float, busy_hour_share: float, *, days: float = 30.0) -> float:
    """Mean busy-hour traffic (Mb/s) of a subscriber using ``gb_per_month`` GB a month:
    ``GB × 8,000 ÷ days × busy_hour_share ÷ 3,600``."""
    return gb_per_month * 8000.0 / days * busy_hour_share / 3600.0


def _at_year(prm: Any, name: str, year: int) -> float:
    a, b = (float(getattr(prm, f"{name}_{y}")) for y in _ANCHORS)
    t = min(max((year - _ANCHORS[0]) / (_ANCHORS[1] - _ANCHORS[0]), 0.0), 1.0)
    return a + t * (b - a)


def demand_for(prm: Any, /, year: int | None = None) -> Demand:
    """The :class:`Demand` of ``year`` (default ``prm.year``) from coverage parameters.

    Raises
    ------
    InputValidationError
        A share outside [0, 1] or a negative volume.
    """
    y = int(prm.year if year is None else year)
    d = Demand(year=y, subscribers_per_person=float(prm.subscribers_per_person),
               gb_per_month=_at_year(prm, "gb_per_month", y), busy_hour_share=float(prm.busy_hour_share),
               uptake_5g=_at_year(prm, "uptake_5g", y))
    if not (0 <= d.uptake_5g <= 1 and 0 <= d.busy_hour_share <= 1 and d.gb_per_month >= 0
            and 0 <= d.subscribers_per_person <= 5):
        raise InputValidationError(f"implausible demand {d} (shares in [0, 1], volumes ≥ 0).")
    return d


def operator_shares(shares: Mapping[str, float], /) -> dict[str, float]:
    """Market shares renormalised over the given operators (sum 1; all zero: equal shares)."""
    total = float(sum(max(0.0, v) for v in shares.values()))
    if total <= 0:
        return {k: 1.0 / len(shares) for k in shares}
    return {k: max(0.0, v) / total for k, v in shares.items()}


def processor_sharing(peak_mbps: np.ndarray, users: np.ndarray, server: np.ndarray, n_sectors: int,
                      mbps_per_user: float) -> tuple[np.ndarray, np.ndarray]:
    """Flow throughput per cell and utilisation per sector (Bonald & Proutière 2003).

    Parameters
    ----------
    peak_mbps
        Single-user rate at each served cell (Mb/s).
    users
        Users at each cell on this carrier.
    server
        Serving sector of each cell (0..n_sectors−1).
    mbps_per_user
        Busy-hour offered traffic per user (Mb/s).

    Returns
    -------
    (tput_mbps, rho)
        ``peak × max(0, 1 − ρ[server])`` per cell and ``ρ = Σ users·demand/peak`` per
        sector (cells with peak 0 add no load and get 0).
    """
    peak = np.asarray(peak_mbps, float)
    ok = peak > 0
    t = np.zeros(peak.shape)
    np.divide(np.asarray(users, float) * mbps_per_user, peak, out=t, where=ok)
    rho = np.bincount(server, weights=t, minlength=n_sectors)
    tput = np.where(ok, peak * np.maximum(0.0, 1.0 - rho[server]), 0.0)
    return tput, rho


def utilisation_step(rho: np.ndarray, *, min_utilisation: float) -> np.ndarray:
    """The interference weight of each sector: ``clip(ρ, min_utilisation, 1)``."""
    return np.clip(np.asarray(rho, float), min_utilisation, 1.0)


def _share_columns(frame: pd.DataFrame, operators: Sequence[str]) -> dict[str, str]:
    """``{operator: column}`` of the ``share_<operator>`` columns (case-insensitive)."""
    cols = {str(c).casefold(): str(c) for c in frame.columns}
    return {op: cols[f"{SHARE_PREFIX}{op}".casefold()] for op in operators if f"{SHARE_PREFIX}{op}".casefold() in cols}


def commune_market_shares(communes: pd.DataFrame, operators: Sequence[str], default: Mapping[str, float], /, *,
                          table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Operator market shares per commune (index ``commune_code``, a column per operator, rows sum to 1).

    Parameters
    ----------
    communes
        The communes layer (``commune_code``; ``share_<operator>`` columns used when no
        ``table`` is given).
    operators
        The modelled operators (the sites layer's).
    default
        The province default per operator (the profiles' ``market_share``), renormalised.
    table
        Optional table with ``commune_code`` and ``share_<operator>`` columns (fractions or
        percentages).

    Raises
    ------
    MissingColumnError
        The table has no ``commune_code`` or no ``share_<operator>`` column of a modelled operator.
    InputValidationError
        A share that is not a number ≥ 0, or a table's commune that is not in the layer.
    """
    codes = communes["commune_code"].astype(str).to_numpy()
    base = operator_shares({op: float(default.get(op, 0.0)) for op in operators})
    out = pd.DataFrame({op: np.full(codes.size, base[op]) for op in operators}, index=pd.Index(codes, name="commune_code"))
    src = communes if table is None else table
    cols = _share_columns(src, operators)
    if table is not None and ("commune_code" not in table.columns or not cols):
        raise MissingColumnError(f"the market-shares table needs commune_code and share_<operator> columns (e.g. "
                                 f"{SHARE_PREFIX}{operators[0] if operators else 'Viettel'}); it has "
                                 f"{', '.join(map(str, table.columns))}.")
    if not cols:
        return out
    vals = pd.DataFrame({op: pd.to_numeric(src[c], errors="coerce") for op, c in cols.items()})
    bad = (vals < 0).to_numpy() | (vals.isna() & src[list(cols.values())].notna().to_numpy()).to_numpy()
    if bad.any():
        raise InputValidationError(f"{int(bad.sum())} market share(s) are not numbers ≥ 0; give fractions or "
                                   "percentages, or leave the cell empty for the province default.")
    vals.index = pd.Index(src["commune_code"].astype(str).to_numpy(), name="commune_code")
    unknown = sorted(set(vals.index) - set(codes))
    if unknown:
        raise InputValidationError(f"the market-shares table names commune(s) {', '.join(unknown[:5])} that the "
                                   "communes layer does not have; fix the codes.")
    vals = vals.reindex(columns=list(operators)).fillna(0.0)
    total = vals.sum(axis=1)
    given = total[total > 0].index
    out.loc[given] = vals.loc[given].div(total[given], axis=0).to_numpy()
    return out


def cell_market_shares(weights: ZoneWeights, shares: pd.DataFrame, default: Mapping[str, float], /) -> dict[str, np.ndarray]:
    """Each operator's market share per grid cell (flat, row-major): ``Σ_z w(z, cell) · share(z, op)``
    plus ``outside(cell) · default(op)``, with the zone weights the coverage uses.

    ``shares`` is :func:`commune_market_shares`'s (its rows matched to ``weights.codes``);
    ``default`` is renormalised over the operators. Every cell's shares sum to 1.
    """
    ops = list(shares.columns)
    base = operator_shares({op: float(default.get(op, 0.0)) for op in ops})
    z = shares.reindex(pd.Index(weights.codes.astype(str)))
    z = z.fillna(pd.Series(base))
    wt = weights.matrix.T.tocsr()
    return {op: np.asarray(wt @ z[op].to_numpy(float)).reshape(-1) + weights.outside * base[op] for op in ops}


def study_cell_shares(study: Any, operators: Sequence[str], default: Mapping[str, float], /, *,
                      table: str | None = None, method: str = "exact") -> dict[str, np.ndarray] | None:
    """The per-cell market shares of a study (:func:`cell_market_shares` on its communes'
    zone weights), from ``table`` (a CSV relative to the study folder, i.e.
    ``[parameters.coverage] market_shares_table``) or the communes' ``share_<operator>``
    columns; ``None`` when the study gives neither (the province default applies everywhere).

    Raises
    ------
    MissingFileError, MissingColumnError, InputValidationError
        See :func:`ictplan.io.read_table_file` and :func:`commune_market_shares`.
    """
    from . import io as _io
    from . import zones as _zones

    communes = study.layer("communes")
    tab = _io.read_table_file(study.root / table, what="market-shares table") if table else None
    if tab is None and not _share_columns(communes, operators):
        return None
    shares = commune_market_shares(communes, operators, default, table=tab)
    return cell_market_shares(_zones.for_study(study, "communes", method=method), shares, default)
