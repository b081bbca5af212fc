"""Refresh the README's pictures: the report's first screen and the map, on a 1366 × 768 laptop screen.

    python scripts/screenshots.py [--demo out/demo] [--out docs/img]

Runs ``ictplan demo`` on the sample (in Vietnamese) unless ``--demo`` names a folder that
already holds its ``report_vi.html`` and ``map.html``; opens both in headless Chromium
(Debian's ``chromium`` package; every network request blocked, as in tests/test_browser.py)
and writes ``report.png`` and ``map.png``. ``make screenshot`` runs it; the tests never do.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests._cdp import Browser, find_chromium  # noqa: E402


def _write(path: Path, png: bytes) -> None:
    tmp = path.with_suffix(".png.tmp")
    tmp.write_bytes(png)
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--demo", type=Path, default=None, help="a demo output folder to reuse (report_vi.html, map.html)")
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = ap.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print("Chromium is not installed (apt-get install chromium).", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="ictplan-shots-") as tmp:
        demo = args.demo
        if demo is None or not (demo / "report_vi.html").exists() or not (demo / "map.html").exists():
            from ictplan.cli import main as ictplan

            demo = Path(tmp) / "demo"
            if ictplan(["demo", str(REPO / "data" / "camau"), "--out", str(demo), "--lang", "vi"]) != 0:
                return 1
        args.out.mkdir(parents=True, exist_ok=True)
        with Browser(chromium, width=1366, height=768) as b:
            for name, page_file, settle in (("report", "report_vi.html", 2.0), ("map", "map.html", 3.0)):
                page = b.open(demo / page_file, settle_s=settle)
                _write(args.out / f"{name}.png", page.screenshot())
                print(f"wrote {args.out / f'{name}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
