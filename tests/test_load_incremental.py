"""Incremental load passes: the SINR at new utilisations from the stored interference split,
against the full engine recomputation; the beam-average interference of 5G."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
from affine import Affine

from ictplan import cellload, demand, radio
from ictplan import engine as eng
from ictplan.grid import Grid
from ictplan.radio import beams

REPO = Path(__file__).resolve().parents[1]
PROFILES = radio.load_profiles(REPO / "data" / "profiles" / "default.toml")
KW = {"clutter": None, "margin_db": 20.0, "window_rows": 16, "n_jobs": 1}


def lte(**kw):
    return dataclasses.replace(radio.profile_for(PROFILES, "Viettel", "4G", "B3"), **kw)


def grid(n=60):
    return Grid(Affine(100.0, 0, 0.0, 0, -100.0, n * 100.0), n, n, pyproj.CRS(32648))


def sectors(n_sites, seed, n=60):
    rng = np.random.default_rng(seed)
    sx, sy = rng.uniform(0, n * 100.0, n_sites), rng.uniform(0, n * 100.0, n_sites)
    rep = np.repeat(np.arange(n_sites), 3)
    return pd.DataFrame({"x": sx[rep], "y": sy[rep], "height_m": rng.choice([25.0, 35.0], n_sites)[rep],
                         "tilt_deg": 4.0, "tx_power_dbm": 46.0,
                         "azimuth_deg": (rng.uniform(0, 120, n_sites)[rep] + np.tile([0.0, 120.0, 240.0], n_sites)) % 360})


def test_tracked_first_pass_equals_the_engine():
    g, sec, prof = grid(), sectors(12, 1), lte()
    r, s, q, inter = eng.run_carrier_tracked(sec, g, prof, interferers=2, **KW)
    r0, s0, q0 = eng.run_carrier(sec, g, prof, **KW)
    np.testing.assert_array_equal(s, s0)
    np.testing.assert_array_equal(r, r0)
    np.testing.assert_allclose(q, q0, atol=1e-4, equal_nan=True)
    # the stored split adds up: S / (η₀ (Σ p_k + rest) + N) is the first pass's SINR
    cells = np.flatnonzero(s.reshape(-1) >= 0)
    tot = sum(p.reshape(-1)[cells] for p in inter.p_mw) + inter.rest_mw.reshape(-1)[cells]
    want = r.reshape(-1)[cells] - 10 * np.log10(prof.load_factor * tot + inter.noise_mw)
    np.testing.assert_allclose(q.reshape(-1)[cells], want, atol=1e-3)
    assert (inter.p_mw[0] >= inter.p_mw[1]).all()  # strongest first


def test_incremental_sinr_exact_when_the_interferers_are_kept():
    """Three omni sites: every cell has at most two interferers, so K = 2 is exact at any utilisation."""
    g = grid(50)
    sec = pd.DataFrame({"x": [1000.0, 4000.0, 2500.0], "y": [1000.0, 1500.0, 4000.0], "height_m": 30.0,
                        "tilt_deg": 4.0, "tx_power_dbm": 46.0, "azimuth_deg": np.nan})
    prof = lte(pattern="omni")
    r, s, _, inter = eng.run_carrier_tracked(sec, g, prof, interferers=2, **KW)
    cells = np.flatnonzero(s.reshape(-1) >= 0)
    assert (inter.rest_mw == 0).all()
    for eta in ([0.1, 0.9, 0.4], [1.0, 0.2, 0.7]):
        _, _, exact = eng.run_carrier(sec, g, prof, utilisation=np.array(eta), **KW)
        got = inter.sinr_db(r.reshape(-1)[cells], cells, np.array(eta))
        np.testing.assert_allclose(got, exact.reshape(-1)[cells], atol=2e-3)


def test_incremental_sinr_exact_at_uniform_load_and_bounded_otherwise():
    g, sec, prof = grid(), sectors(25, 2), lte()
    r, s, _, inter = eng.run_carrier_tracked(sec, g, prof, interferers=2, **KW)
    cells = np.flatnonzero(s.reshape(-1) >= 0)
    rs = r.reshape(-1)[cells]
    assert (inter.rest_mw.reshape(-1)[cells] > 0).mean() > 0.5  # many cells have more than two interferers
    _, _, exact = eng.run_carrier(sec, g, prof, utilisation=np.full(len(sec), 0.3), **KW)
    np.testing.assert_allclose(inter.sinr_db(rs, cells, np.full(len(sec), 0.3)), exact.reshape(-1)[cells], atol=2e-3)
    rng = np.random.default_rng(5)
    eta = rng.uniform(0.1, 1.0, len(sec))  # independent loads: the worst case for the rest's mean weight
    _, _, exact = eng.run_carrier(sec, g, prof, utilisation=eta, **KW)
    e = exact.reshape(-1)[cells]
    lo, hi = inter.sinr_bounds_db(rs, cells, eta, 0.1)
    assert (e >= lo - 2e-3).all() and (e <= hi + 2e-3).all()
    err = np.abs(inter.sinr_db(rs, cells, eta) - e)
    # the approximation error measured (documented in ictplan.engine.Interference): small on average
    assert err.mean() < 0.6 and np.percentile(err, 99) < 3.0


def test_serve_incremental_equals_full_recomputation_when_exact():
    """serve() with the interference split (K = 2 exact here) gives what rerunning the engine gives."""
    g = grid(50)
    sec = pd.DataFrame({"x": [1000.0, 4000.0, 2500.0], "y": [1000.0, 1500.0, 4000.0], "height_m": 30.0,
                        "tilt_deg": 4.0, "tx_power_dbm": 46.0, "azimuth_deg": np.nan}, index=[0, 1, 2])
    prof = lte(pattern="omni")
    users = np.full(g.width * g.height, 3.0)
    users[: g.width * 10] = 40.0  # a busy strip loads one site
    out = {}
    for k in (2, 0):
        opts = cellload.ServeOptions(location_probability=0.9, load_iterations=6, load_tolerance=1e-4,
                                     mbps_per_user=demand.busy_hour_mbps(15.0, 0.07), load_interferers=k)
        out[k] = cellload.serve([(sec, prof)], g, np.ones(users.size), users, opts, engine_kw=dict(KW),
                                keep_rasters=True)
    a, b = out[2], out[0]
    np.testing.assert_allclose(a.tput_mbps, b.tput_mbps, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(a.sector_stats["utilisation"], b.sector_stats["utilisation"], rtol=1e-3)
    np.testing.assert_allclose(a.sinr_db, b.sinr_db, atol=2e-3, equal_nan=True)
    assert a.load[0]["load_iterations"] == b.load[0]["load_iterations"] >= 1
    assert a.load[0]["load_deltas"] == pytest.approx(b.load[0]["load_deltas"], abs=1e-3)


# ---------------------------------------------------------------- 5G gain against its pattern
def test_directivity_of_a_narrow_gaussian_beam_by_hand():
    """Without caps the 3GPP beam is Gaussian, 10^(−1.2 (x/x3)²): D ≈ 4π / (x3 y3 π / (1.2 ln 10))."""
    x3 = math.radians(10.0)
    want = 10 * math.log10(4 * math.pi * 1.2 * math.log(10) / (math.pi * x3 * x3))
    got = beams.pattern_directivity_dbi(beamwidth_deg=10.0, vertical_beamwidth_deg=10.0, front_to_back_db=80.0,
                                        sla_v_db=80.0)
    assert got == pytest.approx(want, abs=0.05)


def test_5g_gain_is_a_sweep_envelope_and_interference_uses_the_average():
    four, five = lte(), radio.profile_for(PROFILES, "Viettel", "5G", "n78")
    d = beams.pattern_directivity_dbi(beamwidth_deg=65.0, vertical_beamwidth_deg=10.0, front_to_back_db=30.0,
                                      sla_v_db=30.0)
    assert 17.0 < d < 17.6  # the 65° × 10° sector pattern
    assert beams.interference_offset_db(four) == 0.0  # 17 dBi: one beam of that pattern
    off = beams.interference_offset_db(five)
    assert off == pytest.approx(24.0 - d)
    # two 5G sectors facing each other: RSRP unchanged, interference lowered by the offset
    g = grid(40)
    sec = pd.DataFrame({"x": [1000.0, 3000.0], "y": [2000.0, 2000.0], "height_m": 30.0, "tilt_deg": 4.0,
                        "tx_power_dbm": 50.0, "azimuth_deg": [90.0, 270.0]})
    kw = {**KW, "margin_db": 60.0}  # no signal cut in either run
    r, s, q = eng.run_carrier(sec, g, five, **kw)
    r4, _, q4 = eng.run_carrier(sec, g, dataclasses.replace(five, antenna_gain_dbi=d), **kw)
    np.testing.assert_allclose(r - r4, 24.0 - d, atol=1e-4, equal_nan=True)  # SS-RSRP on the envelope
    lin, noise = 10 ** (r / 10), 10 ** (five.noise_re_dbm / 10)
    i_d = 10 ** (r4 / 10) / 10 ** (q4 / 10) - noise  # interference of a single beam of gain D (no offset)
    i_env = i_d * 10 ** ((24.0 - d) / 10)  # the same at the envelope gain
    want = 10 * np.log10(lin / (i_env * 10 ** (-off / 10) + noise))
    ok = np.isfinite(q)
    np.testing.assert_allclose(q[ok], want[ok], atol=1e-3)


# ---------------------------------------------------------------- the damped load fixed point
def _three_sites():
    g = grid(50)
    sec = pd.DataFrame({"x": [1000.0, 4000.0, 2500.0], "y": [1000.0, 1500.0, 4000.0], "height_m": 30.0,
                        "tilt_deg": 4.0, "tx_power_dbm": 46.0, "azimuth_deg": np.nan}, index=[0, 1, 2])
    users = np.full(g.width * g.height, 0.2)
    users[: g.width * 12] = 0.9  # a busy strip in the north
    return g, sec, lte(pattern="omni"), users


def _brute_fixed_point(g, sec, prof, users, opts, start):
    """η = clip(ρ(η)) by the full engine at every step (no interference split), slowly damped."""
    eta = np.full(len(sec), start)
    for _ in range(3000):
        r, s, q = eng.run_carrier(sec, g, prof, utilisation=eta, **KW)
        cells = np.flatnonzero(r.reshape(-1) >= prof.rsrp_threshold_dbm)
        peak = radio.peak_rate_mbps(q.reshape(-1)[cells], bandwidth_mhz=prof.bandwidth_mhz, max_layers=prof.mimo_layers,
                                    alpha=prof.shannon_alpha, sinr_min_db=prof.sinr_min_db,
                                    max_se_bps_hz=prof.max_se_bps_hz, overhead=prof.overhead, dl_share=prof.dl_share,
                                    rank_thresholds_db=opts.rank_sinr_db)
        rho = np.bincount(s.reshape(-1)[cells], weights=users[cells] * opts.mbps_per_user / peak, minlength=len(sec))
        f = np.clip(rho, opts.min_utilisation, 1.0)
        if np.abs(f - eta).max() < 1e-9:
            return eta
        eta = 0.8 * eta + 0.2 * f
    raise AssertionError("the brute-force iteration did not settle")


@pytest.mark.parametrize("alpha", [1.0, 0.5])
def test_damped_fixed_point_equals_a_brute_force_fixed_point(alpha):
    g, sec, prof, users = _three_sites()
    base = cellload.ServeOptions(location_probability=0.5, load_iterations=200, load_tolerance=1e-7,
                                 mbps_per_user=demand.busy_hour_mbps(15.0, 0.07), load_damping=alpha)
    lo = _brute_fixed_point(g, sec, prof, users, base, base.min_utilisation)
    hi = _brute_fixed_point(g, sec, prof, users, base, 1.0)
    np.testing.assert_allclose(lo, hi, atol=1e-6)  # one fixed point, from below and from above
    assert 0.2 < lo.max() < 0.95 and lo.min() < lo.max() - 0.1  # loads inside (floor, 1): not a clipped case
    out = cellload.serve([(sec, prof)], g, np.ones(users.size), users, base, engine_kw=dict(KW), keep_rasters=False)
    rec = out.load[0]
    assert rec["converged"] and rec["last_change"] < 1e-7 and rec["damping"] == alpha
    np.testing.assert_allclose(out.sector_stats["utilisation"].to_numpy(), lo, atol=1e-5)
    # the default tolerance stops within it of the fixed point, in fewer updates without damping
    loose = dataclasses.replace(base, load_tolerance=0.05)
    got = cellload.serve([(sec, prof)], g, np.ones(users.size), users, loose, engine_kw=dict(KW), keep_rasters=False)
    assert got.load[0]["converged"]
    assert np.abs(got.sector_stats["utilisation"].to_numpy() - lo).max() < 0.05 / alpha
    assert got.load[0]["load_iterations"] <= (3 if alpha == 1.0 else 8)


def test_fixed_point_rises_monotonically_from_the_floor(monkeypatch):
    """The map is monotone and starts at the floor: every iterate η, damped or not, is ≥ the one
    before (no oscillation), the first is the floor, the last is the fixed point; α outside (0, 1]
    is refused."""
    g, sec, prof, users = _three_sites()
    seen = []
    real = cellload._rerun

    def spy(*args):
        seen.append(np.array(args[-1][0]))
        return real(*args)

    monkeypatch.setattr(cellload, "_rerun", spy)
    for alpha in (1.0, 0.5):
        seen.clear()
        opts = cellload.ServeOptions(location_probability=0.5, load_iterations=60, load_tolerance=1e-7,
                                     mbps_per_user=demand.busy_hour_mbps(15.0, 0.07), load_damping=alpha)
        out = cellload.serve([(sec, prof)], g, np.ones(users.size), users, opts, engine_kw=dict(KW), keep_rasters=False)
        assert out.load[0]["converged"] and len(seen) == out.load[0]["load_iterations"] + 1
        np.testing.assert_array_equal(seen[0], np.full(len(sec), opts.min_utilisation))
        steps = np.diff(np.stack(seen), axis=0)
        assert (steps >= -1e-12).all() and steps.max() > 0.1
        np.testing.assert_allclose(out.sector_stats["utilisation"].to_numpy(), seen[-1], atol=1e-6)
    for bad in (0.0, 1.5):
        with pytest.raises(Exception, match="load_damping"):
            cellload.ServeOptions(load_damping=bad)


def test_convergence_in_the_result_meta_and_its_lines():
    import geopandas as gpd

    from ictplan import coverage, parameters
    from ictplan.grid import Population

    g, sec, _, users = _three_sites()
    pop = Population(grid=g, counts=users.reshape(g.shape) * 20.0, nodata_mask=np.zeros(g.shape, bool))
    gdf = gpd.GeoDataFrame(sec.assign(sector_id=["a", "b", "c"], operator="Viettel", technology="4G", band="B3",
                                      azimuth_deg=[0.0, 120.0, 240.0]),
                           geometry=gpd.points_from_xy(sec.x, sec.y), crs=g.crs).drop(columns=["x", "y"])
    prm = dataclasses.replace(parameters.COVERAGE, load_iterations=1, load_tolerance=1e-9)
    res = coverage.compute(gdf, pop, PROFILES, parameters=prm)
    (rec,) = res.meta["load_convergence"]
    assert rec["operator"] == "Viettel" and rec["band"] == "B3" and rec["load_iterations"] == 1
    assert rec["converged"] is False and rec["last_change"] > 1e-9 and rec["max_iterations"] == 1
    (line,) = coverage.convergence_lines(res)
    assert "NOT converged" in line and "1 of ≤ 1" in line


def test_compacted_split_gives_the_same_sinr():
    g, sec, prof = grid(), sectors(25, 2), lte()
    r, s, _, inter = eng.run_carrier_tracked(sec, g, prof, interferers=2, **KW)
    cells = np.flatnonzero(s.reshape(-1) >= 0)[::3].astype(np.int32)
    eta = np.random.default_rng(1).uniform(0.1, 1.0, len(sec))
    want = inter.sinr_db(r.reshape(-1)[cells], cells, eta)
    small = inter.compact(cells)
    assert small is inter and inter.rest_mw.shape == (cells.size,) and all(a.shape == (cells.size,) for a in inter.ids)
    np.testing.assert_array_equal(small.sinr_db(r.reshape(-1)[cells], None, eta), want)


def test_sinr_raster_at_the_floor_when_the_fixed_point_stops_at_once():
    """No demand: ρ = 0, so the fixed point stops at its start, every sector at the floor η =
    min_utilisation, with no update. The kept SINR raster is then the engine's at that floor
    (what the throughputs used), not the first pass's at the profile's load factor."""
    g, sec, prof, users = _three_sites()
    opts = cellload.ServeOptions(location_probability=0.5, load_iterations=6, load_tolerance=1e-4,
                                 mbps_per_user=0.0, load_interferers=2)
    out = cellload.serve([(sec, prof)], g, np.ones(users.size), users, opts, engine_kw=dict(KW), keep_rasters=True)
    assert out.load[0]["load_iterations"] == 0 and out.load[0]["converged"]
    r, _, q = eng.run_carrier(sec, g, prof, utilisation=np.full(len(sec), opts.min_utilisation), **KW)
    served = r.reshape(-1) >= prof.rsrp_threshold_dbm
    assert served.sum() > 100 and prof.load_factor > 2 * opts.min_utilisation  # the two loads differ
    np.testing.assert_allclose(out.sinr_db.reshape(-1)[served], q.reshape(-1)[served], atol=2e-3)
