"""Execute every notebook top to bottom in a fresh kernel (``make notebooks``).

    python scripts/run_notebooks.py notebooks [--out out/notebooks] [--timeout 600] [--only 03]

Each notebook runs in its own new Python kernel (nbclient) with the notebook's folder as
the working directory. The executed copy, with every cell's output (tables, maps,
figures), is written to ``--out`` (default ``out/notebooks/``, under the ignored ``out/``)
for a planner to open in JupyterLab; a notebook that fails is written too, up to the cell
that failed. The committed notebooks are never written: they stay without outputs, and the
script checks that they *have* none. Exit code 1 when a notebook fails or carries outputs;
the failing cell is printed.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError


def has_outputs(nb) -> bool:
    return any(c.get("outputs") or c.get("execution_count") is not None for c in nb.cells if c.cell_type == "code")


def run(path: Path, *, timeout_s: int, out: Path | None = None) -> tuple[bool, float, str]:
    """Execute ``path`` in a fresh kernel; write the executed copy to ``out`` (a folder) when given."""
    nb = nbformat.read(path, as_version=4)
    if has_outputs(nb):
        return False, 0.0, f"{path.name} is committed with outputs: clear them (scripts/make_notebooks.py writes clean ones)."
    t0 = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    ok, msg = True, ""
    try:
        client.execute()
    except CellExecutionError as err:
        ok, msg = False, re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    if out is not None:
        write_copy(nb, out / path.name, source=path)
    return ok, time.perf_counter() - t0, msg


def write_copy(nb, target: Path, *, source: Path) -> Path:
    """Write an executed notebook to ``target`` (never onto the committed ``source``)."""
    if target.resolve() == source.resolve():
        raise SystemExit(f"--out must not be the notebooks' own folder ({source.parent}): they stay without outputs.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, nargs="?", default=Path("notebooks"))
    ap.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    ap.add_argument("--only", default=None, help="run only notebooks whose name contains this")
    ap.add_argument("--out", type=Path, default=Path("out") / "notebooks",
                    help="folder for the executed copies with their outputs (default: out/notebooks)")
    args = ap.parse_args(argv)
    paths = sorted(p for p in args.folder.glob("*.ipynb") if not args.only or args.only in p.name)
    if not paths:
        print(f"no notebooks in {args.folder}", file=sys.stderr)
        return 1
    failed = 0
    for p in paths:
        ok, secs, msg = run(p, timeout_s=args.timeout, out=args.out)
        print(f"{'ok  ' if ok else 'FAIL'} {p.name:<40} {secs:6.1f} s", flush=True)
        if not ok:
            failed += 1
            print(msg[-4000:], file=sys.stderr)
    print(f"executed copies with outputs: {args.out}/")
    print(f"{len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
