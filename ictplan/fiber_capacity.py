"""PON capacity: access-point ports and the busy-hour speed a household can get.

The plan's speed targets (F3: "90 % of users can access fixed Internet at an average
200 Mb/s"; X1: "100 % of users ... more than 1 Gb/s by 2030") are about the speed a user
gets in the busy hour, not the technology's headline rate. This module turns the fiber
reach of :mod:`ictplan.fiber` into that speed.

Model
-----
1. **Ports.** An access point (splitter / FAT) has ``ports`` drop ports (its layer's
   ``ports`` column, else ``ports_per_access_point``). Subscribers take ports: at take-up
   ``t`` an access point with ``P`` ports serves at most ``P / t`` households. Each
   household goes to its nearest access point within the drop limit (network distance,
   drops included); where an access point's demand ``t × households`` exceeds its free
   ports, it accepts the same share of every household row and refuses the rest, which try
   the nearest access point that still has free ports (``port_rounds`` passes). What is
   left is **reachable, port-limited**: within the drop limit of fiber but without a port.
2. **PON load.** An access point hangs off a PON (OLT) port shared by ``split_ratio``
   ONTs (its layer's ``split_ratio`` column, else the parameter). The PON's other
   splitters are assumed as full as this one: the PON carries
   ``split_ratio × subscribers / ports`` subscribers. Without access points (fiber routes
   only) a PON passes ``split_ratio`` homes of which a share ``t`` subscribe.
3. **Busy hour.** A share ``a`` of the PON's subscribers (``busy_hour_active_*_frac``)
   transfer at once, each at its plan rate (``plan_mix_*``: plan speeds and their shares).
   The PON's payload is ``line rate × pon_efficiency_frac`` (:data:`PON_LINE_RATE_MBPS`).
   Capacity is shared max-min fairly (water-filling): users below the water level ``L``
   get their plan, the others get ``L``.
4. **The household's speed** (``busy_hour_mbps``) is what a household on the top plan of
   its technology (:data:`ictplan.fiber_reach.SPEEDS_MBPS` maximum: GPON 1 Gb/s, the
   ONT's Ethernet port; XGS-PON 10 Gb/s) gets when it is one of the active users:
   ``min(top plan, L)``. It is what the household *can access* in the busy hour. F3
   counts households with ``busy_hour_mbps ≥ 200`` under the 2025 assumptions, X1 those
   with ``> 1000`` under the 2030 assumptions.

5. **OLT uplink.** The PON's OLT has an uplink (``olt_uplink_mbps``, per access point or
   the parameter per technology) shared by its PONs. With an ``olt_id`` column the access points of one
   OLT share it, each counting for ``ports / split_ratio`` of a PON (its share of its
   PON); without, the OLT carries ``pons_per_olt`` PONs as loaded as this one. The
   water-filling then has two levels (max-min fair on a tree): a PON's level is the
   smaller of its own (step 3) and its OLT's, the largest level ``L_o`` at which the OLT's
   PONs, each at ``min(L_o, its own level)``, fit in the uplink (:func:`olt_limited_mbps`).

Downstream only (the targets are download speeds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import network as _nw
from ._errors import InputValidationError
from .fiber_reach import SPEEDS_MBPS

__all__ = ["PON_LINE_RATE_MBPS", "Demand", "demand", "busy_hour_mbps", "pon_load_mbps", "olt_limited_mbps",
           "assign_ports", "PortAssignment"]

#: PON line rates (downstream, upstream) in Mb/s: ITU-T G.984 (GPON) and G.9807.1 (XGS-PON).
PON_LINE_RATE_MBPS: dict[str, tuple[float, float]] = {
    "GPON": (2488.32, 1244.16),
    "XGS-PON": (9953.28, 9953.28),
}


@dataclass(frozen=True)
class Demand:
    """Busy-hour demand of one planning year: take-up, active share and plan mix."""

    year: int
    take_up_frac: float
    active_frac: float
    plan_mbps: np.ndarray
    plan_share: np.ndarray


def _share(value: Any, name: str, *, zero_ok: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and (0 <= value <= 1)
    if not ok or (value == 0 and not zero_ok):
        raise InputValidationError(f"{name} must be a share in (0, 1], got {value!r}.")
    return float(value)


def demand(prm: Any, year: int) -> Demand:
    """The :class:`Demand` of ``year`` (2025 or 2030) from fiber parameters.

    Raises
    ------
    InputValidationError
        A share outside (0, 1], or a plan mix that is not (Mb/s > 0, share ≥ 0) pairs with
        shares summing to 1 (± 1 %).
    """
    take = _share(getattr(prm, f"take_up_{year}_frac"), f"take_up_{year}_frac")
    act = _share(getattr(prm, f"busy_hour_active_{year}_frac"), f"busy_hour_active_{year}_frac")
    mix = getattr(prm, f"plan_mix_{year}")
    try:
        arr = np.asarray([[float(s), float(f)] for s, f in mix], dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise InputValidationError(f"plan_mix_{year} must be [[Mb/s, share], ...], got {mix!r}.") from None
    if len(arr) == 0 or (arr[:, 0] <= 0).any() or (arr[:, 1] < 0).any() or abs(arr[:, 1].sum() - 1.0) > 0.01:
        raise InputValidationError(f"plan_mix_{year} must be (Mb/s > 0, share >= 0) pairs whose shares sum to 1, "
                                   f"got {mix!r}.")
    return Demand(year, take, act, arr[:, 0], arr[:, 1] / arr[:, 1].sum())


def busy_hour_mbps(technology: str, subscribers: np.ndarray | float, *, active_frac: float,
                   plan_mbps: Sequence[float] | np.ndarray, plan_share: Sequence[float] | np.ndarray,
                   efficiency_frac: float, top_plan_mbps: float | None = None) -> np.ndarray:
    """Busy-hour download (Mb/s) of a top-plan subscriber on a PON with ``subscribers``.

    Parameters
    ----------
    technology
        ``GPON`` or ``XGS-PON`` (line rate from :data:`PON_LINE_RATE_MBPS`).
    subscribers
        Subscribers on the PON port (may be fractional, an expected count).
    active_frac
        Share of them transferring at once; the active users are ``max(1, active_frac ×
        subscribers)``, the household itself one of them.
    plan_mbps, plan_share
        The other active users' plan speeds and their shares (sum 1).
    efficiency_frac
        Payload share of the line rate.
    top_plan_mbps
        The household's own demand (default: the technology's top plan,
        ``SPEEDS_MBPS[technology][1]``).

    Returns
    -------
    numpy.ndarray
        ``min(top_plan, L)``, ``L`` the max-min fair (water-filling) level:
        ``others × Σ_k share_k min(plan_k, L) + min(top, L) = capacity``.
    """
    cap = PON_LINE_RATE_MBPS[technology][0] * float(efficiency_frac)
    top = float(SPEEDS_MBPS[technology][1] if top_plan_mbps is None else top_plan_mbps)
    n = np.atleast_1d(np.asarray(subscribers, np.float64))
    others = np.maximum(1.0, float(active_frac) * n) - 1.0
    s = np.asarray(plan_mbps, np.float64)
    f = np.asarray(plan_share, np.float64)
    b = np.unique(np.r_[s[s < top], top])  # breakpoints of the load curve, up to the top plan

    def g(level: np.ndarray) -> np.ndarray:  # mean demand of one other user at water level L
        return (f[None, :] * np.minimum(s[None, :], level[:, None])).sum(axis=1)

    gb = g(b)
    load = others[:, None] * gb[None, :] + b[None, :]  # total at each breakpoint
    over = load > cap + 1e-9
    j = np.where(over.any(axis=1), over.argmax(axis=1), len(b))
    out = np.full(len(n), top)
    cong = j < len(b)
    if cong.any():
        jj = j[cong]
        b0 = np.where(jj > 0, b[np.maximum(jj - 1, 0)], 0.0)
        l0 = np.where(jj > 0, load[cong, np.maximum(jj - 1, 0)], 0.0)
        above = (f[None, :] * (s[None, :] >= b[jj][:, None] - 1e-9)).sum(axis=1)  # plans still growing in the segment
        slope = others[cong] * above + 1.0
        out[cong] = b0 + (cap - l0) / slope
    return out


def _others(subscribers: np.ndarray, active_frac: float) -> np.ndarray:
    """Active users besides the household itself: ``max(1, active_frac × subscribers) − 1``."""
    return np.maximum(1.0, float(active_frac) * np.asarray(subscribers, np.float64)) - 1.0


def pon_load_mbps(level_mbps: np.ndarray, others: np.ndarray, *, plan_mbps: Sequence[float] | np.ndarray,
                  plan_share: Sequence[float] | np.ndarray) -> np.ndarray:
    """Busy-hour traffic (Mb/s) of a PON at water level ``L``: ``others × Σ_k share_k min(plan_k, L) + L``
    (the other active users on their plans, the household at ``L``; ``L`` ≤ the top plan)."""
    lv = np.asarray(level_mbps, np.float64)
    s, f = np.asarray(plan_mbps, np.float64), np.asarray(plan_share, np.float64)
    return np.asarray(others, np.float64) * (f[None, :] * np.minimum(s[None, :], lv[:, None])).sum(axis=1) + lv


def olt_limited_mbps(pon_mbps: np.ndarray, others: np.ndarray, *, group: np.ndarray, weight: np.ndarray,
                     uplink_mbps: np.ndarray, plan_mbps: Sequence[float] | np.ndarray,
                     plan_share: Sequence[float] | np.ndarray, iterations: int = 64) -> np.ndarray:
    """The PONs' busy-hour levels capped by their OLT's uplink (two-level water-filling).

    Parameters
    ----------
    pon_mbps
        Each PON's own level (:func:`busy_hour_mbps`), ``others`` its other active users.
    group
        The OLT of each PON (any labels); ``weight`` how many PONs each stands for on it;
        ``uplink_mbps`` the OLT's uplink (per PON; the first of each OLT is used).
    plan_mbps, plan_share
        The plan mix (as :func:`busy_hour_mbps`).
    iterations
        Bisection steps on each binding OLT's level.

    Returns
    -------
    numpy.ndarray
        ``min(pon_mbps, L_o)``, ``L_o`` the largest level with ``Σ weight × load(min(L_o,
        pon_mbps)) ≤ uplink`` (:func:`pon_load_mbps`); ``L_o = ∞`` where the uplink does not bind.
    """
    pon = np.asarray(pon_mbps, np.float64)
    oth, w = np.asarray(others, np.float64), np.asarray(weight, np.float64)
    _, first, inv = np.unique(np.asarray(group), return_index=True, return_inverse=True)
    inv = inv.reshape(-1)
    cap = np.asarray(uplink_mbps, np.float64)[first]
    m = len(first)

    def load(level: np.ndarray) -> np.ndarray:
        lv = np.minimum(level[inv], pon)
        return np.bincount(inv, weights=w * pon_load_mbps(lv, oth, plan_mbps=plan_mbps, plan_share=plan_share),
                           minlength=m)

    hi = np.zeros(m)
    np.maximum.at(hi, inv, np.where(np.isfinite(pon), pon, 0.0))
    binding = load(hi) > cap + 1e-9
    lo = np.zeros(m)
    for _ in range(int(iterations)):
        mid = 0.5 * (lo + hi)
        fits = load(mid) <= cap
        lo, hi = np.where(fits, mid, lo), np.where(fits, hi, mid)
    level = np.where(binding, lo, np.inf)
    return np.minimum(pon, level[inv])


@dataclass
class PortAssignment:
    """Which access point serves the households of each row, and who is left without a port.

    ``served``: rows × access points, households served; ``port_limited``: per row,
    households within the drop limit of an access point but refused for lack of ports;
    ``subscribers``: per access point, ``take_up × served`` (≤ its ports).
    """

    served: sp.csr_matrix
    port_limited: np.ndarray
    subscribers: np.ndarray


def assign_ports(network: _nw.EdgeNetwork, snap: dict[str, np.ndarray], households: np.ndarray,
                 ap_snap: pd.DataFrame, ports: np.ndarray, *, take_up_frac: float, drop_limit_m: float,
                 weight: str = "cost_m", rounds: int = 4) -> PortAssignment:
    """Households to access points with free ports (see the module docstring, step 1).

    Parameters
    ----------
    network, snap
        The network and the households' snapping (:func:`ictplan.network.snap_xy`).
    households
        Households per row.
    ap_snap
        Access points on the network: ``edge_id``, ``start_m`` (along), ``offset_m``
        (their own drop), as :func:`ictplan.fiber_reach.access_sources` gives.
    ports
        Free ports per access point (≥ 0).
    take_up_frac
        Share of households that subscribe (each subscriber takes a port).
    drop_limit_m, weight
        As the fiber analysis.
    rounds
        Passes: after each, refused households try the nearest access point with ports left.

    Returns
    -------
    PortAssignment
    """
    hh = np.asarray(households, np.float64)
    k = len(ap_snap)
    free = np.asarray(ports, np.float64).copy()
    left = hh.copy()
    within = np.zeros(len(hh), bool)
    r_parts, c_parts, v_parts = [], [], []
    edge = ap_snap["edge_id"].to_numpy(np.int64)
    along = ap_snap["start_m"].to_numpy(np.float64)
    off = ap_snap["offset_m"].to_numpy(np.float64)
    for _ in range(max(int(rounds), 1)):
        live_ap = np.flatnonzero(free > 1e-9)
        todo = np.flatnonzero(left > 1e-12)
        if len(live_ap) == 0 or len(todo) == 0:
            break
        sub = {key: snap[key][todo] for key in ("edge_id", "along_m", "drop_m")}
        _, src = _nw.nearest_source(network, sub, source_edge=edge[live_ap], source_along_m=along[live_ap],
                                    source_offset_m=off[live_ap], weight=weight, limit_m=drop_limit_m)
        hit = src >= 0
        if not hit.any():
            break
        rows, ap = todo[hit], live_ap[src[hit]]
        within[rows] = True
        want = np.bincount(ap, weights=take_up_frac * left[rows], minlength=k)
        accept = np.divide(free, want, out=np.ones(k), where=want > 0)
        accept = np.minimum(accept, 1.0)
        got = left[rows] * accept[ap]
        r_parts.append(rows)
        c_parts.append(ap)
        v_parts.append(got)
        free -= np.bincount(ap, weights=take_up_frac * got, minlength=k)
        np.maximum(free, 0.0, out=free)
        left[rows] -= got
    if r_parts:
        served = sp.csr_matrix((np.concatenate(v_parts), (np.concatenate(r_parts), np.concatenate(c_parts))),
                               shape=(len(hh), k))
    else:
        served = sp.csr_matrix((len(hh), k))
    port_limited = np.where(within, np.maximum(left, 0.0), 0.0)
    subs = take_up_frac * np.asarray(served.sum(axis=0)).reshape(-1)
    return PortAssignment(served=served, port_limited=port_limited, subscribers=subs)


def _per_ap(values: pd.Series | None, default: float, n: int, name: str) -> np.ndarray:
    """A per-access-point column with the default where missing; refuses values < 1."""
    if values is None:
        return np.full(n, float(default))
    v = pd.to_numeric(values, errors="coerce").to_numpy(np.float64)
    v = np.where(np.isfinite(v), v, float(default))
    if (v < 0).any() or (name == "split_ratio" and (v < 1).any()):
        raise InputValidationError(f"the access points' {name} must be >= {0 if name == 'ports' else 1}; "
                                   f"got {float(v.min()):g}.")
    return v


def _speeds(tech: np.ndarray, pon_subs: np.ndarray, d: Demand, efficiency: float,
            olt: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Busy-hour speed per PON under the PON and its OLT's uplink, and the PON-only speed.
    ``olt`` = (OLT label, PONs each stands for, uplink Mb/s) per PON."""
    pon = np.full(len(tech), np.nan)
    for t in PON_LINE_RATE_MBPS:
        m = tech == t
        if m.any():
            pon[m] = busy_hour_mbps(t, pon_subs[m], active_frac=d.active_frac, plan_mbps=d.plan_mbps,
                                    plan_share=d.plan_share, efficiency_frac=efficiency)
    ok = np.isfinite(pon)
    out = pon.copy()
    if ok.any():
        group, weight, uplink = olt
        out[ok] = olt_limited_mbps(pon[ok], _others(pon_subs[ok], d.active_frac), group=group[ok],
                                   weight=weight[ok], uplink_mbps=uplink[ok], plan_mbps=d.plan_mbps,
                                   plan_share=d.plan_share)
    return out, pon


def _uplink_by_technology(prm: Any, tech: np.ndarray) -> np.ndarray:
    """``[parameters.fiber] olt_uplink_mbps`` ((technology, Mb/s) pairs, or one number for all) per PON."""
    val = prm.olt_uplink_mbps
    if isinstance(val, (int, float)) and not isinstance(val, bool):
        return np.full(len(tech), float(val))
    try:
        table = {str(t): float(m) for t, m in val}
    except (TypeError, ValueError):
        raise InputValidationError(f"olt_uplink_mbps must be [[technology, Mb/s], ...] or a number, got {val!r}.") from None
    missing = sorted(set(tech) - set(table) - {"nan", "None"})
    if any(t in PON_LINE_RATE_MBPS for t in missing):
        raise InputValidationError(f"olt_uplink_mbps has no uplink for {', '.join(missing)}; add [\"{missing[0]}\", "
                                   "Mb/s] to [parameters.fiber] olt_uplink_mbps.")
    return np.array([table.get(t, np.inf) for t in tech], np.float64)


def _olt_of_access_points(sources: pd.DataFrame, ports: np.ndarray, split: np.ndarray,
                          prm: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(OLT label, PONs each access point stands for, uplink) per access point: with an
    ``olt_id``, the OLT's access points share it, each ``ports / split_ratio`` of a PON;
    without (or where missing), its own OLT of ``pons_per_olt`` PONs like it."""
    k = len(sources)
    n_pons = int(prm.pons_per_olt)
    if n_pons < 1:
        raise InputValidationError(f"pons_per_olt must be >= 1, got {n_pons!r}.")
    default = _uplink_by_technology(prm, sources["technology"].astype(str).to_numpy())
    col = sources.get("olt_uplink_mbps")
    uplink = default if col is None else np.where(np.isfinite(v := pd.to_numeric(col, errors="coerce").to_numpy(
        np.float64)), v, default)
    if (uplink <= 0).any():
        raise InputValidationError("the OLT uplink (olt_uplink_mbps) must be > 0 Mb/s; fix the access points' "
                                   "olt_uplink_mbps column or [parameters.fiber] olt_uplink_mbps.")
    own = np.array([f"ap:{i}" for i in range(k)], dtype=object)
    weight = np.full(k, float(n_pons))
    if "olt_id" in sources:
        ids = sources["olt_id"].astype("string")
        has = ids.notna().to_numpy()
        own[has] = ("olt:" + ids[has]).to_numpy(dtype=object)
        weight[has] = np.divide(ports[has], split[has], out=np.zeros(int(has.sum())), where=split[has] > 0)
    return own, weight, uplink


def household_capacity(network: _nw.EdgeNetwork, snap: dict[str, np.ndarray], households: np.ndarray,
                       reachable: np.ndarray, offer_tech: np.ndarray, sources: pd.DataFrame, mode: str, prm: Any,
                       *, drop_limit_m: float, weight: str) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """Per household row, for the 2025 and 2030 demand: the share with a port, the share
    port-limited, the share whose busy-hour speed is ≥ 200 Mb/s (2025) or > 1 Gb/s (2030),
    and the mean busy-hour speed of its households with a port. Also the per-access-point
    table (ports, split, subscribers, PON subscribers, speeds).

    ``mode`` is the fiber analysis's access mode: ``access_points`` (ports and PONs per
    access point), ``routes`` (no ports: every reachable household has one; a PON passes
    ``split_ratio`` homes) or ``none``.
    """
    hh = np.asarray(households, np.float64)
    n = len(hh)
    split = int(prm.split_ratio)
    eff = _share(prm.pon_efficiency_frac, "pon_efficiency_frac")
    if split < 1:
        raise InputValidationError(f"split_ratio must be >= 1, got {split!r}.")
    out: dict[str, np.ndarray] = {}
    ap_table = pd.DataFrame()
    for year in (2025, 2030):
        d = demand(prm, year)
        if mode == "access_points" and len(sources):
            k = len(sources)
            ports = _per_ap(sources.get("ports"), prm.ports_per_access_point, k, "ports")
            sr = _per_ap(sources.get("split_ratio"), split, k, "split_ratio")
            pa = assign_ports(network, snap, hh, sources, ports, take_up_frac=d.take_up_frac,
                              drop_limit_m=drop_limit_m, weight=weight, rounds=prm.port_rounds)
            fill = np.divide(pa.subscribers, ports, out=np.zeros(k), where=ports > 0)
            pon_subs = sr * fill
            tech = sources["technology"].astype(str).to_numpy()
            v, v_pon = _speeds(tech, pon_subs, d, eff, _olt_of_access_points(sources, ports, sr, prm))
            served_row = np.asarray(pa.served.sum(axis=1)).reshape(-1)
            ge = np.asarray(pa.served @ (v >= 200.0 - 1e-9).astype(np.float64)).reshape(-1)
            gt = np.asarray(pa.served @ (v > 1000.0 + 1e-9).astype(np.float64)).reshape(-1)
            mean_v = np.divide(np.asarray(pa.served @ v).reshape(-1), served_row, out=np.full(n, np.nan),
                               where=served_row > 0)
            limited = pa.port_limited
            ap_table[f"subscribers_{year}"] = pa.subscribers
            ap_table[f"pon_subscribers_{year}"] = pon_subs
            ap_table[f"busy_hour_mbps_{year}"] = v
            ap_table[f"uplink_limited_{year}"] = v < v_pon - 1e-9
            if year == 2025:
                ap_table.insert(0, "technology", tech)
                ap_table.insert(1, "ports", ports)
                ap_table.insert(2, "split_ratio", sr)
        else:
            tech = np.asarray(offer_tech, dtype=object).astype(str)
            olt = (np.arange(n), np.full(n, float(prm.pons_per_olt)), _uplink_by_technology(prm, tech))
            v, _ = _speeds(tech, np.full(n, split * d.take_up_frac), d, eff, olt)
            served_row = np.where(reachable, hh, 0.0)
            ok = np.isfinite(v) & reachable
            ge = np.where(ok & (v >= 200.0 - 1e-9), hh, 0.0)
            gt = np.where(ok & (v > 1000.0 + 1e-9), hh, 0.0)
            mean_v = np.where(ok, v, np.nan)
            limited = np.zeros(n)
        frac = np.divide(1.0, hh, out=np.zeros(n), where=hh > 0)
        out[f"port_frac_{year}"] = served_row * frac
        out[f"port_limited_frac_{year}"] = limited * frac
        out[f"busy_hour_mbps_{year}"] = mean_v
        out[f"ge_200mbps_frac_{year}"] = ge * frac
        out[f"gt_1gbps_frac_{year}"] = gt * frac
    return out, ap_table
