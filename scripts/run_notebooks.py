"""Execute every notebook top to bottom in a fresh kernel (``make notebooks``).

    python scripts/run_notebooks.py notebooks [--timeout 600] [--only 03]

Each notebook runs in its own new Python kernel (nbclient) with the notebook's folder as
the working directory; outputs are kept in memory only, so the committed notebooks stay
without outputs. The script also checks that the committed files *have* no outputs.
Exit code 1 when a notebook fails or carries outputs; the failing cell is printed.
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


def run(path: Path, *, timeout_s: int) -> tuple[bool, float, str]:
    nb = nbformat.read(path, as_version=4)
    if has_outputs(nb):
        return False, 0.0, f"{path.name} is committed with outputs: clear them (scripts/make_notebooks.py writes clean ones)."
    t0 = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout_s, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute()
    except CellExecutionError as err:
        return False, time.perf_counter() - t0, re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    return True, time.perf_counter() - t0, ""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path, nargs="?", default=Path("notebooks"))
    ap.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    ap.add_argument("--only", default=None, help="run only notebooks whose name contains this")
    args = ap.parse_args(argv)
    paths = sorted(p for p in args.folder.glob("*.ipynb") if not args.only or args.only in p.name)
    if not paths:
        print(f"no notebooks in {args.folder}", file=sys.stderr)
        return 1
    failed = 0
    for p in paths:
        ok, secs, msg = run(p, timeout_s=args.timeout)
        print(f"{'ok  ' if ok else 'FAIL'} {p.name:<40} {secs:6.1f} s", flush=True)
        if not ok:
            failed += 1
            print(msg[-4000:], file=sys.stderr)
    print(f"{len(paths) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
