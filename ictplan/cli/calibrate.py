"""``ictplan calibrate STUDY --measurements FILE``: the coverage model against measurements.

Drive-test / crowd-sourced points (CSV with lon/lat, GeoPackage, ...) give the RSRP bias,
RMSE, fitted offset and σ per operator × band and a calibrated profiles file; Ookla
open-data performance tiles (Parquet, Shapefile, GeoPackage; recognised by their
columns, or given with ``--ookla``) give modelled vs measured download speed per tile.
Ookla's data is CC BY-NC-SA 4.0: ictplan never ships it (see :mod:`ictplan.calibration`).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click

from ._main import cli, echo, out_dir, out_opt, overwrite_opt, study_arg
from ._run import run_job


def _points(s: Any, res: Any, raw: Any, out: Path, min_points: int | None) -> dict[str, Path]:
    from .. import calibration as cal
    from .. import io as _io
    from .. import parameters, radio

    prm = parameters.resolve("calibration", s, min_points=min_points)
    pts = cal.prepare_measurements(raw, operators=sorted(set(res.sectors["operator"].astype(str))), grid=res.grid)
    profiles = radio.parse_profiles(s.profiles, source=str(s.profiles_path or "profiles"))
    fit = cal.calibrate_rsrp(res, pts, profiles)
    paths = {"fit": _io.write_table(fit, out / "calibration_rsrp.csv", overwrite=True),
             "residuals": _io.write_table(cal.rsrp_residuals(res, pts), out / "calibration_points.csv", overwrite=True)}
    echo(f"{len(pts)} point(s) on the grid ({pts.attrs.get('n_outside', 0)} outside left out)")
    echo(f"  {'operator':<10} {'tech':<4} {'band':<5} {'n':>6} {'no sig':>6} {'bias dB':>8} {'RMSE dB':>8} "
         f"{'σ dB':>6} {'model σ':>7}")
    for r in fit.itertuples():
        if r.n == 0:
            echo(f"  {r.operator:<10} {r.technology:<4} {'–':<5} {0:>6} {r.n_no_signal:>6}  no modelled signal at "
                 "any point (are this operator's sites of this technology in the study?)")
            continue
        echo(f"  {r.operator:<10} {r.technology:<4} {r.band:<5} {r.n:>6} {r.n_no_signal:>6} {r.bias_db:>8.2f} "
             f"{r.rmse_db:>8.2f} {r.sigma_db:>6.2f} {r.model_sigma_db:>7.2f}")
    overrides = cal.calibrated_overrides(fit, profiles, min_points=prm.min_points)
    if not overrides:
        echo(f"\nNo operator × band has {prm.min_points} points with a modelled signal: no calibrated profiles "
             "written (lower --min-points or add measurements).")
        return paths
    merged = cal.calibrated_profiles(s.profiles, overrides)
    text = cal.profiles_toml(merged, header=f"ictplan calibrate: {s.profiles_path} with antenna_gain_dbi shifted by "
                                             f"the fitted RSRP offset (groups of ≥ {prm.min_points} points)")
    path = out / "profiles_calibrated.toml"
    with _io.atomic_path(path, overwrite=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
    paths["profiles"] = path
    rel = Path(os.path.relpath(path.resolve(), s.root.resolve())).as_posix()
    echo(f"\nCalibrated profiles: {path} ({sum(len(b) for t in overrides.values() for b in t.values())} carrier(s) "
         f"shifted). To adopt them, set in {s.root / 'study.toml'}:\n\n  [profiles]\n  path = \"{rel}\"\n")
    return paths


def _ookla(s: Any, res: Any, raw: Any, out: Path) -> dict[str, Path]:
    from .. import calibration as cal
    from .. import io as _io

    tiles = cal.prepare_ookla_tiles(raw)
    per_tile, summary = cal.compare_ookla(res, tiles, s.population)
    r = summary.iloc[0]
    echo(f"Ookla tiles: {int(r.n_tiles)} on the study's populated cells, {int(r.n_tiles_compared)} compared "
         f"({int(r.n_tiles_not_served)} where the model serves nobody), {r.tests:,.0f} tests")
    echo(f"  measured {r.mean_measured_mbps:.1f} Mb/s vs modelled {r.mean_modelled_mbps:.1f} Mb/s (test-weighted); "
         f"bias (measured − modelled) {r.bias_mbps:+.1f} Mb/s, RMSE {r.rmse_mbps:.1f} Mb/s, "
         f"Spearman {r.spearman:.2f} (unweighted {r.spearman_unweighted:.2f})")
    echo(f"  {cal.OOKLA_LICENCE}")
    return {"ookla_tiles": _io.write_table(per_tile, out / "ookla_tiles.csv", overwrite=True),
            "ookla_summary": _io.write_table(summary, out / "ookla_summary.csv", overwrite=True)}


@cli.command()
@study_arg
@out_opt
@overwrite_opt
@click.option("--measurements", "measurements", type=click.Path(path_type=Path), default=None,
              help="Drive-test / crowd-sourced points: CSV (lon, lat, operator, technology, rsrp_dbm; optional "
                   "sinr_db, dl_mbps) or a point layer (GeoPackage, ...). Ookla tiles are recognised too.")
@click.option("--ookla", "ookla", type=click.Path(path_type=Path), default=None,
              help="Ookla open-data performance tiles as published (Parquet, Shapefile or GeoPackage). "
                   "Licensed CC BY-NC-SA 4.0: never shipped with ictplan.")
@click.option("--layer", default=None, help="Layer of a GeoPackage (default: its first).")
@click.option("--min-points", type=int, default=None,
              help="Fewest points of an operator × band for its offset to enter the calibrated profiles "
                   "(default: the study's [parameters.calibration], else 30).")
def calibrate(study: Path, out: Path, overwrite: bool, measurements: Path | None, ookla: Path | None,
              layer: str | None, min_points: int | None) -> None:
    """The coverage model against measurements: RSRP bias, RMSE, fitted offset and σ per operator ×
    band, and a calibrated profiles file; or modelled vs measured speed per Ookla tile (Ookla open
    data is CC BY-NC-SA 4.0: download it yourself, it is never shipped)."""
    from .. import calibration as cal
    from .. import io as _io
    from .. import study as _study
    from .._errors import ConfigError

    if measurements is None and ookla is None:
        raise ConfigError("give --measurements FILE (drive-test points or Ookla tiles) and/or --ookla FILE.")
    t0 = time.perf_counter()
    s = _study.load(study)
    files = [(p, None) for p in (measurements, ookla) if p is not None]
    raws = [(_io.read_table_file(p, layer=layer, what="measurements"), p) for p, _ in files]  # bad files fail before the model runs
    out = out_dir(out, overwrite)
    res = run_job(s, "coverage", coverage={"keep_rasters": True})
    paths: dict[str, Path] = {}
    for raw, p in raws:
        echo(f"\n{p}:")
        paths.update(_ookla(s, res, raw, out) if (p == ookla or cal.is_ookla(raw)) else
                     _points(s, res, raw, out, min_points))
    echo(f"Wrote {', '.join(str(v) for v in paths.values())} in {time.perf_counter() - t0:.1f} s.")
