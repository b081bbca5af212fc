"""The ``ictplan`` command: thin wrappers over library functions, one subcommand per job.

Errors print as one clean line and exit with code 1 (``-vv`` shows the traceback).
Outputs are never overwritten without ``--overwrite``.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path  # noqa: F811
from typing import TYPE_CHECKING, Any

import click

from .._errors import IctplanError, OutputExistsError
from ..parameters import FIBER

if TYPE_CHECKING:  # pragma: no cover
    from ..study import LayerCheck, StudyCheck

log = logging.getLogger("ictplan")


class _Ctx:
    verbosity = 0


def progress() -> bool | None:
    """Progress bars: off with -q, else shown when standard error is a terminal."""
    return False if _Ctx.verbosity < 0 else None


def echo(msg: str = "", *, err: bool = False) -> None:
    """Print unless -q (errors always print)."""
    if _Ctx.verbosity >= 0 or err:
        click.echo(msg, err=err)


#: output folders this command made (out_dir); a command that fails removes those still empty
_CREATED: list[Path] = []


def out_dir(path: Path, overwrite: bool) -> Path:
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise OutputExistsError(f"the output folder {path} is not empty. Pass --overwrite to replace its files, or choose another --out.")
    _CREATED.extend(p for p in (path, *path.parents) if not p.exists())
    path.mkdir(parents=True, exist_ok=True)
    return path


def _drop_empty_outputs() -> None:
    """A failed command leaves no empty output folder behind: the folders out_dir made, deepest first, if still empty."""
    for p in sorted(set(_CREATED), key=lambda q: len(q.parts), reverse=True):
        try:
            p.rmdir()  # only an empty folder
        except OSError:
            pass
    _CREATED.clear()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More output (-vv: tracebacks).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors.")
@click.version_option(package_name="ictplan")
def cli(verbose: int, quiet: bool) -> None:
    """ictplan — plan a province's ICT infrastructure from real geodata."""
    _Ctx.verbosity = -1 if quiet else verbose
    logging.basicConfig(level=logging.DEBUG if verbose >= 2 else logging.INFO if verbose else logging.WARNING, format="%(message)s")


study_arg = click.argument("study", type=click.Path(path_type=Path), default="data/camau")
out_opt = click.option("--out", "out", type=click.Path(path_type=Path), default=Path("out"), show_default=True, help="Output folder.")
overwrite_opt = click.option("--overwrite", is_flag=True, help="Replace existing outputs.")
# the fiber parameters a planner changes most, for every command that runs fiber reach
drop_limit_opt = click.option(
    "--drop-limit-m", type=float, default=None,
    help=f"Longest drop (network distance) from a household to fiber access (default: the study's "
         f"[parameters.fiber], else {FIBER.drop_limit_m:g}).")
# reporting units for the commands that go through the workflow to a map or report
units_opt = click.option(
    "--units", "units", type=click.Choice(["2019", "2025", "old", "new"]), default=None,
    help="Report in the communes of the 2019 census and the plan (2019, old) or in the units since "
         "1 July 2025 (2025, new). Default: the study's [study] units.")


def old_or_new(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    return {"2019": "old", "2025": "new"}.get(value, value) if value is not None else None


#: ``--units`` choices for the commands that write old-unit tables and, with "new", the new units too.
UNIT_CHOICE = click.Choice(["old", "new", "2019", "2025"])


def with_units(study: Any, units: str | None) -> Any:
    """The study reported in ``units`` (``--units``), or as it is when ``units`` is None."""
    if units is None:
        return study
    code = {"old": "2019", "new": "2025"}.get(units, units)
    if study.parts and code != "2025":
        raise click.UsageError(f"{study.name} is made of parts (old provinces) and is reported only in the units "
                               "since 1 July 2025: drop --units or use --units 2025.")
    return dataclasses.replace(study, units=code, _cache={})


hamlet_threshold_opt = click.option(
    "--hamlet-threshold", type=float, default=None,
    help=f"A hamlet is reached when this share of its households is reachable (default: the study's, "
         f"else {FIBER.hamlet_threshold_frac:g}).")


@cli.command()
@study_arg
def info(study: Path) -> None:
    """What a study holds: its layers, files and CRS."""
    from .. import study as _study

    s = _study.load(study)
    echo(f"{s.name}  ({s.root})")
    if s.province:
        echo(f"province: {s.province}")
    echo(f"working CRS: EPSG:{s.crs.to_epsg()}  bounds (lon/lat): {s.bounds_lonlat}  synthetic: {s.synthetic}")
    for name, spec in s.layer_specs.items():
        cols = spec.get("columns")
        mapped = f"  columns: {', '.join(f'{v}→{k}' for k, v in cols.items())}" if cols else ""
        echo(f"  {name:<17} {spec['path']}{':' + spec['layer'] if 'layer' in spec else ''}{mapped}")
    for label, path in (("profiles", s.profiles_path), ("targets", s.targets_path)):
        echo(f"  {label:<17} {path if path is not None else '(none)'}")


def _print_checks(checks: Sequence[LayerCheck]) -> bool:
    """The layer table of ``check`` and ``demo``; False when a layer has an error."""
    ok = True
    echo(f"{'layer':<17} {'features':>9} {'load s':>7}  notes")
    for c in checks:
        notes = "; ".join(f"{k}={v}" for k, v in c.report.items())
        if c.error:
            ok = False
            notes = f"ERROR: {c.error}"
        elif c.warnings:
            notes = (notes + "; " if notes else "") + f"{len(c.warnings)} warning(s): " + " | ".join(c.warnings[:2])
        echo(f"{c.name:<17} {c.n_features if c.n_features is not None else '-':>9} {c.seconds:>7.2f}  {notes}")
    return ok


def _print_study_check(result: StudyCheck) -> None:
    """Everything after the layer table: mapped columns, files, jobs, overlaps."""
    mapped = [(c.name, c.columns) for c in result.layers if c.columns]
    if mapped:
        echo("\ncolumns mapped (file → schema):")
        for name, cols in mapped:
            echo(f"  {name:<17} {', '.join(f'{src}→{dst}' for src, dst in cols.items())}")
    if result.files:
        echo("\nfiles:")
        for f in result.files:
            echo(f"  {f.name:<17} {'OK' if f.ok else 'ERROR'}: {f.detail}  ({f.path})")
    echo("\njobs:")
    for job in result.jobs:
        echo(f"  {job}")
    if result.overlaps:
        echo("\noverlapping zones:")
        for line in result.overlaps:
            echo(f"  {line}")


@cli.command()
@study_arg
def check(study: Path) -> None:
    """Load and validate every layer, the profiles, the targets and [parameters]; say what
    each job needs. Exits 1 on any error; the last line is the verdict."""
    from .. import study as _study

    try:
        s = _study.load(study)
    except IctplanError as err:
        click.echo(f"error: {err}", err=True)
        click.echo("check: FAILED — 1 error (the study did not load)")
        raise click.exceptions.Exit(1) from None
    result = s.check_all()
    _print_checks(result.layers)
    _print_study_check(result)
    click.echo(result.verdict())
    if not result.ok:
        raise click.exceptions.Exit(1)


def _register_subcommands() -> None:
    """Import every module of ``ictplan.cli``: each adds its subcommand to ``cli``."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not info.name.startswith("_"):
            importlib.import_module(f"ictplan.cli.{info.name}")


def main(argv: list[str] | None = None) -> int:
    """Entry point: one clean line per error, exit code 1 (traceback with -vv); a command that
    fails leaves no empty output folder."""
    code = 1
    try:
        code = _main(argv)
        return code
    finally:
        if code != 0:
            _drop_empty_outputs()
        _CREATED.clear()


def _main(argv: list[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    _register_subcommands()

    def show_warning(message, category, filename, lineno, file=None, line=None):  # one clean line, not a source dump
        if _Ctx.verbosity >= 0:
            click.echo(f"warning: {message}", err=True)

    warnings.showwarning = show_warning
    try:
        # click 8: without standalone mode, main() *returns* the exit code of ctx.exit() / Exit(n)
        rv = cli.main(args=argv, prog_name="ictplan", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return 1
    except (IctplanError, OSError, ValueError) as e:
        if _Ctx.verbosity >= 2:
            raise
        click.echo(f"error: {e}", err=True)
        return 1
    return rv if isinstance(rv, int) and not isinstance(rv, bool) else 0


if __name__ == "__main__":  # pragma: no cover
    warnings.simplefilter("default")
    sys.exit(main())
