"""Run every benchmark (scripts/bench_*.py) and write one results file.

Each ``scripts/bench_<topic>.py`` exposes ``main(scale) -> list[dict]``; this runner calls
each in a fresh Python process (so peak memory figures are its own) and writes
``out/bench/results.json``: one record per workload and scale with ``workload``,
``scale``, ``ictplan_s``, ``conventional_s``, ``ratio``, ``peak_mb``, ``answers_agree``,
``tolerance`` and ``notes``.

    python scripts/bench.py [--scale small|full] [--only coverage,fiber] [--out out/bench/results.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
KEYS = ("workload", "scale", "ictplan_s", "conventional_s", "ratio", "peak_mb", "answers_agree", "tolerance", "notes")


def run_one(module: str, scale: str) -> list[dict]:
    code = (
        f"import json, sys; sys.path.insert(0, {str(HERE)!r}); sys.path.insert(0, {str(REPO)!r}); import {module} as m; "
        f"print('@@RESULT@@' + json.dumps(m.main({scale!r}), default=float))"
    )
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    sys.stderr.write(proc.stderr[-4000:])
    for line in proc.stdout.splitlines()[::-1]:
        if line.startswith("@@RESULT@@"):
            return json.loads(line[len("@@RESULT@@"):])
    return [{"workload": module, "scale": scale, "ictplan_s": None, "conventional_s": None, "ratio": None, "peak_mb": None,
             "answers_agree": False, "tolerance": "", "notes": f"FAILED after {time.perf_counter() - t0:.0f} s (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:] }"}]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="full", choices=["small", "full"])
    ap.add_argument("--only", default="", help="comma-separated topics (e.g. io,coverage)")
    ap.add_argument("--out", default=str(REPO / "out" / "bench" / "results.json"))
    args = ap.parse_args()
    topics = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if args.only:
        wanted = {f"bench_{t.strip()}" for t in args.only.split(",")}
        topics = [t for t in topics if t in wanted]
    records: list[dict] = []
    for t in topics:
        print(f"== {t} ({args.scale})", flush=True)
        for rec in run_one(t, args.scale):
            rec = {k: rec.get(k) for k in KEYS} | {k: v for k, v in rec.items() if k not in KEYS}
            records.append(rec)
            r = rec
            fmt = lambda v, f: (f % v) if isinstance(v, (int, float)) else "-"  # noqa: E731
            print(f"  {r['workload']:<44} {r['scale']:<9} ictplan {fmt(r['ictplan_s'], '%.3f')} s  conventional {fmt(r['conventional_s'], '%.3f')} s  "
                  f"ratio {fmt(r['ratio'], '%.1f')}x  peak {fmt(r['peak_mb'], '%.0f')} MB  agree={r['answers_agree']}  {r.get('notes') or ''}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(records, indent=2, ensure_ascii=False), encoding="utf-8")
    tmp.replace(out)
    print(f"wrote {out}")
    return 0 if all(r.get("ictplan_s") is not None for r in records) else 1


if __name__ == "__main__":
    sys.exit(main())
