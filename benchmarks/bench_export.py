"""Export benchmark: 100 vs 1,000 sessions of 1 Hz samples (60,000 vs 600,000 samples).

Prints, for each size: database build time, export time, samples per second, output size, the
child process's peak resident memory (ru_maxrss) and the peak of Python allocations (tracemalloc,
a separate run because tracing slows the export). Memory must stay flat: the 1,000-session export
should need about what the 100-session one does, because samples are streamed, never collected.

    .venv/bin/python benchmarks/bench_export.py [--sessions 100 1000] [--seconds 600] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def child(db: str, out: str, trace: bool) -> None:
    """Run one export in this (fresh) process and print what it cost."""
    if trace:
        import tracemalloc

        tracemalloc.start()
    from app.shell.export import Exporter

    started = time.perf_counter()
    result = Exporter(db).export(out, selection="all")
    seconds = time.perf_counter() - started
    report = {"seconds": seconds, "sessions": result.sessions, "samples": result.samples,
              "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if trace:
        report["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    print(json.dumps(report))


def run_child(db: Path, out: Path, trace: bool) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    done = subprocess.run([sys.executable, __file__, "--child", str(db), str(out), *(["--trace"] if trace else [])],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout)


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--seconds", type=int, default=600, help="samples per session (1 Hz)")
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (default: a temporary folder)")
    parser.add_argument("--child", nargs=2, metavar=("DB", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, trace=args.trace)
        return

    from test_export_fixtures import make_bulk

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-export-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"export benchmark: {args.seconds} samples (1 Hz) per session; python {sys.version.split()[0]}; work dir {work}")
    print(f"{'sessions':>8} {'samples':>9} {'build s':>8} {'export s':>9} {'samples/s':>10} {'output MB':>10} "
          f"{'maxrss MB':>10} {'traced peak MB':>15}")
    rows = []
    for count in args.sessions:
        db = work / f"bench-{count}x{args.seconds}.db"
        built = 0.0
        if not db.exists():
            started = time.perf_counter()
            make_bulk(db, count, args.seconds)
            built = time.perf_counter() - started
        out = work / f"out-{count}"
        plain = run_child(db, out, trace=False)
        size = folder_size(out)
        traced = run_child(db, out, trace=True)
        rows.append((count, plain, traced))
        print(f"{count:>8} {plain['samples']:>9} {built:>8.1f} {plain['seconds']:>9.1f} "
              f"{plain['samples'] / plain['seconds']:>10.0f} {size / 2**20:>10.1f} {plain['maxrss_mb']:>10.1f} "
              f"{traced['traced_peak_mb']:>15.2f}")
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        print(f"memory flat? maxrss {small[1]['maxrss_mb']:.1f} -> {large[1]['maxrss_mb']:.1f} MB, "
              f"traced peak {small[2]['traced_peak_mb']:.2f} -> {large[2]['traced_peak_mb']:.2f} MB "
              f"for {large[0] // small[0]}x the sessions")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
