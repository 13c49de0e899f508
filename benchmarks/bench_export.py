"""Export benchmark: 100 and 1,000 sessions of 1 Hz samples (60,000 and 600,000 samples).

Prints each figure beside its budget (docs/export.md) and the floor measured in the same run:
reading every sample row from SQLite plus writing as many bytes into as many files, each fsynced,
as the export wrote. Also: peak memory (resident and traced Python allocations: flat when the
sessions grow tenfold), a weekly incremental export (50 new sessions onto a stick that holds the
rest), and a full export with every member's chart PNG (drawn again, then unchanged).

The databases are built like a station's: sessions, then each session's statistics kept as the
station keeps them when a session closes (``session_stats``), timed separately.

    .venv/bin/python benchmarks/bench_export.py [--sessions 100 1000] [--seconds 600] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

BUDGET_FULL_S = 5.0
BUDGET_INCREMENTAL_S = 0.5


def child(db: str, out: str, trace: bool, selection: str, charts: bool) -> None:
    """Run one export in this (fresh) process and print what it cost."""
    if trace:
        import tracemalloc

        tracemalloc.start()
    from app.shell.export import Exporter

    renderer = None
    if charts:
        from app.commands.export import chart_png as renderer
    started, cpu = time.perf_counter(), time.process_time()
    result = Exporter(db, charts=renderer).export(out, selection=selection)
    report = {"seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu,
              "sessions": result.sessions, "samples": result.samples, "files": len(result.files),
              "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if trace:
        report["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
    print(json.dumps(report))


def run_child(db: Path, out: Path, *, trace: bool = False, selection: str = "all", charts: bool = False,
              fresh: bool = True) -> dict:
    if fresh:
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
    done = subprocess.run([sys.executable, __file__, "--child", str(db), str(out), "--selection", selection,
                           *(["--trace"] if trace else []), *(["--charts"] if charts else [])],
                          capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout)


def folder_files(path: Path) -> list[Path]:
    return [p for p in path.rglob("*") if p.is_file()]


def floor(db: Path, out: Path, work: Path) -> tuple[float, float]:
    """(read s, write s): every sample row read as the export reads it, and the export's bytes
    written again into as many files, each fsynced (the least any export of this data costs)."""
    started = time.perf_counter()
    conn = sqlite3.connect(db)
    ids = [r[0] for r in conn.execute("select id from sessions order by id")]
    rows = 0
    for session_id in ids:
        cursor = conn.execute("select t, at, mode, phase_idx, target_speed_kmh, actual_speed_kmh, incline_pct, "
                              "rails_held, lanyard_clipped, distance_m from samples where session_id = ? order by t",
                              (session_id,))
        while chunk := cursor.fetchmany(2000):
            rows += len(chunk)
    conn.close()
    read = time.perf_counter() - started
    sizes = [p.stat().st_size for p in folder_files(out)]
    target = work / "floor"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    block = b"x" * (1 << 20)
    started = time.perf_counter()
    for n, size in enumerate(sizes):
        fd = os.open(target / f"f{n}", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        while size > 0:
            size -= os.write(fd, block[:min(size, len(block))])
        os.fsync(fd)
        os.close(fd)
    write = time.perf_counter() - started
    shutil.rmtree(target, ignore_errors=True)
    return read, write


def build(db: Path, sessions: int, seconds: int, start_id: int = 1) -> tuple[float, float]:
    from sqlite_utils import Database
    from test_export_fixtures import make_bulk

    from app.shell.history import History

    started = time.perf_counter()
    make_bulk(db, sessions, seconds, start_id=start_id)
    built = time.perf_counter() - started
    started = time.perf_counter()
    History(Database(db)).backfill()
    return built, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--seconds", type=int, default=600, help="samples per session (1 Hz)")
    parser.add_argument("--keep", metavar="DIR", help="build in DIR and keep it (default: a temporary folder)")
    parser.add_argument("--child", nargs=2, metavar=("DB", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--selection", default="all", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--charts", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child, trace=args.trace, selection=args.selection, charts=args.charts)
        return

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench-export-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"export benchmark: {args.seconds} samples (1 Hz) per session; python {sys.version.split()[0]}; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; work dir {work}")
    print(f"{'sessions':>8} {'samples':>9} {'build s':>8} {'stats s':>8} {'export s':>9} {'cpu s':>6} {'floor s':>8} "
          f"{'(read+write)':>13} {'output MB':>10} {'maxrss MB':>10} {'traced MB':>10}")
    rows = []
    for count in args.sessions:
        db = work / f"bench-{count}x{args.seconds}.db"
        built = stats = 0.0
        if not db.exists():
            built, stats = build(db, count, args.seconds)
        out = work / f"out-{count}"
        plain = run_child(db, out)
        size = sum(p.stat().st_size for p in folder_files(out))
        read, write = floor(db, out, work)
        traced = run_child(db, out, trace=True)
        rows.append((count, plain, traced, db, out))
        print(f"{count:>8} {plain['samples']:>9} {built:>8.1f} {stats:>8.1f} {plain['seconds']:>9.2f} "
              f"{plain['cpu_seconds']:>6.2f} {read + write:>8.2f} {f'({read:.2f}+{write:.2f})':>13} {size / 2**20:>10.1f} "
              f"{plain['maxrss_mb']:>10.1f} {traced['traced_peak_mb']:>10.2f}")
    count, plain, _, db, out = rows[-1]
    print(f"full export of {count} sessions: {plain['seconds']:.2f} s (budget < {BUDGET_FULL_S:g} s) "
          f"{'OK' if plain['seconds'] < BUDGET_FULL_S else 'OVER'}")
    if len(rows) >= 2:
        small, large = rows[0], rows[-1]
        print(f"memory flat? maxrss {small[1]['maxrss_mb']:.1f} -> {large[1]['maxrss_mb']:.1f} MB, "
              f"traced peak {small[2]['traced_peak_mb']:.2f} -> {large[2]['traced_peak_mb']:.2f} MB "
              f"for {large[0] // small[0]}x the sessions")

    # A weekly export: 50 new sessions onto the stick that holds the rest.
    weekly = work / f"weekly-{count}.db"
    shutil.copyfile(db, weekly)
    stick = work / "weekly-stick"
    run_child(weekly, stick, selection="incremental")
    build(weekly, 50, args.seconds, start_id=count + 1)
    incremental = run_child(weekly, stick, selection="incremental", fresh=False)
    print(f"weekly incremental export ({incremental['sessions']} new sessions, {incremental['files']} files): "
          f"{incremental['seconds']:.2f} s (budget < {BUDGET_INCREMENTAL_S:g} s) "
          f"{'OK' if incremental['seconds'] < BUDGET_INCREMENTAL_S else 'OVER'}")

    # With every member's chart: drawn on a new stick, then not drawn again (nothing changed).
    charts_stick = work / "charts-stick"
    drawn = run_child(db, charts_stick, charts=True)
    again = run_child(db, charts_stick, charts=True, fresh=False)
    pngs = len(list((charts_stick).rglob("*.png")))
    per_png = (drawn["seconds"] - plain["seconds"]) / max(1, pngs)
    print(f"full export with charts ({pngs} member PNGs): {drawn['seconds']:.2f} s (about {per_png * 1000:.0f} ms "
          f"a chart); again with the histories unchanged: {again['seconds']:.2f} s")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
