"""Environment per cell: TR 38.901 UMa in urban cells, RMa elsewhere (path loss, σ, validity)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
import pytest
from affine import Affine

from ictplan import cellload, coverage, radio
from ictplan import engine as eng
from ictplan.grid import Grid, Population

REPO = Path(__file__).resolve().parents[1]
PROFILES = radio.load_profiles(REPO / "data" / "profiles" / "default.toml")
C = 299_792_458.0


def lte(**kw):
    return dataclasses.replace(radio.profile_for(PROFILES, "Viettel", "4G", "B3"), **kw)


@pytest.mark.parametrize("d2d", [100.0, 1000.0])
def test_uma_by_hand(d2d):
    """TR 38.901 Table 7.4.1-1 UMa at 3.5 GHz, h_BS 25 m, h_UT 1.5 m: before and beyond d'_BP (560 m)."""
    fc, hb, hu = 3.5, 25.0, 1.5
    d3 = math.sqrt(d2d**2 + (hb - hu) ** 2)
    d_bp = 4 * (hb - 1) * (hu - 1) * fc * 1e9 / C
    assert 560 < d_bp < 561
    if d2d <= d_bp:
        los = 28 + 22 * math.log10(d3) + 20 * math.log10(fc)
    else:
        los = 28 + 40 * math.log10(d3) + 20 * math.log10(fc) - 9 * math.log10(d_bp**2 + (hb - hu) ** 2)
    nlos = max(los, 13.54 + 39.08 * math.log10(d3) + 20 * math.log10(fc) - 0.6 * (hu - 1.5))
    kw = {"model": "38901_uma", "freq_mhz": 3500.0, "h_bs_m": hb, "h_ut_m": hu}
    assert float(radio.path_loss_db(np.array([d2d]), los="los", **kw)[0]) == pytest.approx(los, abs=1e-9)
    assert float(radio.path_loss_db(np.array([d2d]), los="nlos", **kw)[0]) == pytest.approx(nlos, abs=1e-9)


def test_urban_mask_from_commune_type_and_density():
    g = Grid(Affine(100.0, 0, 0.0, 0, -100.0, 4000.0), 40, 40, pyproj.CRS(32648))
    counts = np.full(g.shape, 2.0)  # 200 people per km²: rural
    counts[5:25, 5:25] = 30.0  # 3,000 per km² over 2 × 2 km: dense
    pop = Population(grid=g, counts=counts, nodata_mask=np.zeros(g.shape, bool))
    share = np.zeros(g.shape)
    share[30:, 30:] = 1.0  # a ward
    share[30:, :5] = 0.4  # mostly outside an urban commune
    m = coverage.urban_mask(pop, density_per_km2=1500.0, urban_share=share)
    assert m[10:20, 10:20].all()  # inside the dense block (its 1 km mean is 3,000)
    assert m[30:, 30:].all()  # the ward
    assert not m[30:, :4].any() and not m[0:2, 30:].any()  # 40 % urban share, sparse land
    # the 1 km window (10 cells, columns i−5 … i+4): column 25 holds dense columns 20–24, so
    # 0.5 × 3,000 + 0.5 × 200 = 1,600 /km² (urban); column 26 holds 21–24: 0.4 × 3,000 + 0.6 × 200 = 1,320
    assert m[15, 25] and not m[15, 26]


def _one_site():
    g = Grid(Affine(100.0, 0, 0.0, 0, -100.0, 14_000.0), 140, 140, pyproj.CRS(32648))
    sec = pd.DataFrame({"x": [7000.0], "y": [7000.0], "height_m": 30.0, "tilt_deg": 4.0, "tx_power_dbm": 60.0,
                        "azimuth_deg": np.nan}, index=[0])
    urban = np.zeros(g.shape, dtype=bool)
    urban[:, :70] = True  # the western half is urban
    return g, sec, urban


def test_engine_uses_uma_only_in_urban_cells():
    g, sec, urban = _one_site()
    prof = lte(pattern="omni")
    uprof = dataclasses.replace(prof, model="38901_uma")
    kw = {"clutter": None, "margin_db": 20.0, "window_rows": 32, "n_jobs": 1}
    r, _, _ = eng.run_carrier(sec, g, prof, urban=urban, urban_prof=uprof, **kw)
    xc, yc = g.cell_centres()
    d = np.hypot(xc - 7000.0, yc - 7000.0)
    want = {}
    for name, p in (("rma", prof), ("uma", uprof)):
        pl = radio.path_loss_db(d, model=p.model, freq_mhz=p.freq_mhz, h_bs_m=30.0, h_ut_m=1.5, los=p.los)
        want[name] = prof.rsrp_offset_db + 60.0 - prof.tx_power_dbm - pl
    brute = np.where(urban, want["uma"], want["rma"])
    ok = np.isfinite(r) & (brute > prof.rsrp_threshold_dbm - 19.0)
    assert ok[:, :70].sum() > 100 and ok[:, 70:].sum() > 100
    np.testing.assert_allclose(r[ok], brute[ok], atol=0.02)  # tables: ≤ 0.01 dB
    # the urban σ: UMa NLOS 6 dB, RMa NLOS 8 dB (TR 38.901 Table 7.4.1-1)
    assert uprof.shadow_sigma_db == 6.0 and prof.shadow_sigma_db == 8.0


def test_serve_covered_margin_and_validity_per_model():
    g, sec, urban = _one_site()
    prof = lte(pattern="omni")
    n = g.width * g.height
    opts = cellload.ServeOptions(location_probability=0.9, load_iterations=0, mbps_per_user=0.1)
    kw = {"clutter": None, "margin_db": 20.0, "window_rows": 32, "n_jobs": 1, "urban": urban}
    out = cellload.serve([(sec, prof)], g, np.ones(n), np.ones(n), opts, engine_kw=kw, keep_rasters=True)
    rsrp = out.rsrp_dbm
    z = 1.2815515655446004
    want = np.where(urban, rsrp - z * 6.0, rsrp - z * 8.0) >= prof.rsrp_threshold_dbm
    np.testing.assert_array_equal(out.covered, want)
    val = pd.DataFrame(out.validity).set_index("model")
    assert set(val.index) == {"38901_rma", "38901_uma"}
    xc, yc = g.cell_centres()
    d = np.hypot(xc - 7000.0, yc - 7000.0)
    served = rsrp >= prof.rsrp_threshold_dbm
    for model, mask in (("38901_uma", urban), ("38901_rma", ~urban)):
        assert val.loc[model, "cells_covered"] == int((served & mask).sum())
        assert val.loc[model, "cells_outside_validity"] == int((served & mask & (d > 5000.0)).sum())
    assert val.loc["38901_rma", "cells_outside_validity"] > 0  # RMa NLOS holds to 5 km; this site reaches beyond


# ---------------------------------------------------------------- built-up clutter where UMa is used
def test_clutter_in_urban_model_zeroes_only_built_up_in_urban_cells():
    lc = np.array([[50, 10, 95, 40], [50, 10, 95, 40]], dtype=np.uint8)
    urban = np.array([[True] * 4, [False] * 4])
    cl = coverage.clutter_loss_db(lc, PROFILES)
    got = coverage.clutter_in_urban_model(cl, lc, PROFILES, urban)
    loss = PROFILES["clutter_loss_db"]
    # urban row: built-up 0 dB (UMa includes it), trees and mangroves keep theirs; rural row unchanged
    np.testing.assert_allclose(got[0], [0.0, loss["tree_cover"], loss["mangroves"], 0.0], atol=1e-6)
    np.testing.assert_allclose(got[1], [loss["built_up"], loss["tree_cover"], loss["mangroves"], 0.0], atol=1e-6)
    assert loss["built_up"] > 0 and cl[0, 0] == pytest.approx(loss["built_up"])


def test_built_up_clutter_not_added_where_uma_is_used():
    """All built-up land, the western half urban (UMa): there RSRP is UMa's without clutter; in the
    rural half RMa's minus the built-up loss; a carrier without an urban model keeps the loss everywhere."""
    g, sec, urban = _one_site()
    sec = sec.assign(sector_id="s0", operator="Viettel", technology="4G", band="B3")
    lc = np.full(g.shape, 50, dtype=np.uint8)
    lc[:20, :20] = 10  # urban trees keep their loss
    cl = coverage.clutter_loss_db(lc, PROFILES)
    cu = coverage.clutter_in_urban_model(cl, lc, PROFILES, urban)
    prof = lte(pattern="omni")
    opts = cellload.ServeOptions(location_probability=0.5, load_iterations=0, mbps_per_user=0.1)
    n = g.width * g.height
    base = {"margin_db": 20.0, "window_rows": 32, "n_jobs": 1, "urban": urban}
    a = cellload.serve([(sec, prof)], g, np.ones(n), np.ones(n), opts, engine_kw={**base, "clutter": cl,
                       "clutter_urban": cu}, keep_rasters=True).rsrp_dbm
    none = cellload.serve([(sec, prof)], g, np.ones(n), np.ones(n), opts, engine_kw={**base, "clutter": None},
                          keep_rasters=True).rsrp_dbm
    b_up = PROFILES["clutter_loss_db"]["built_up"]
    ok = np.isfinite(a) & np.isfinite(none)
    u_ok, r_ok = ok & urban & (lc == 50), ok & ~urban
    assert u_ok.sum() > 100 and r_ok.sum() > 100
    np.testing.assert_allclose(a[u_ok], none[u_ok], atol=1e-4)
    np.testing.assert_allclose(a[r_ok], none[r_ok] - b_up, atol=1e-4)
    t_ok = ok & (lc == 10)
    np.testing.assert_allclose(a[t_ok], none[t_ok] - PROFILES["clutter_loss_db"]["tree_cover"], atol=1e-4)
    # no urban model (another path-loss model): the built-up loss stays in the urban cells too
    hata = lte(pattern="omni", model="hata")
    c = cellload.serve([(sec, hata)], g, np.ones(n), np.ones(n), opts, engine_kw={**base, "clutter": cl,
                       "clutter_urban": cu}, keep_rasters=True).rsrp_dbm
    c0 = cellload.serve([(sec, hata)], g, np.ones(n), np.ones(n), opts, engine_kw={**base, "clutter": None},
                        keep_rasters=True).rsrp_dbm
    okh = np.isfinite(c) & np.isfinite(c0) & urban & (lc == 50)
    assert okh.sum() > 100
    np.testing.assert_allclose(c[okh], c0[okh] - b_up, atol=1e-4)
