"""The store's cost per committed second of a session, its peak memory over a two-hour session, and
what opening a station's database with years of history costs before READY=1.

Replays what the main loop does each second: one 1 Hz sample, a progress update and one commit
(WAL, synchronous=FULL: every commit is fsynced), plus a safety event now and then. Prints the
median and worst cost of a committed second and the peak Python memory (tracemalloc) and resident
set size for 7,200 seconds.

Then the open: on a database of 1,000 sessions of 600 samples (600,000 samples), the kiosk's open
(before READY=1: header and schema only; app.shell.db_check) beside a command's open (every page
checked, as every open did before) and SQLite's ``PRAGMA quick_check`` alone, alternated, medians
(the file is in the page cache: a cold SD card reads it slower still).
"""

from __future__ import annotations

import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from app.core.program import parse_program_text  # noqa: E402
from app.shell.store import Store  # noqa: E402

PROGRAM = """
id = "bench"
name = "Bench"
units = "mph"
[[phases]]
direction = "backward"
minutes = 120
speed = 1.0
rails = "required"
"""
SECONDS = 7200
#: The open: a station's history of 1,000 sessions of ten minutes, opened this many times each way.
HISTORY_SESSIONS, HISTORY_SECONDS, OPENS = 1000, 600, 9


def opening(folder: Path) -> None:
    from test_export_fixtures import make_bulk

    path = folder / "history.db"
    samples = make_bulk(path, HISTORY_SESSIONS, HISTORY_SECONDS)

    def kiosk() -> None:
        Store(path, full_check=False).close()

    def command() -> None:
        Store(path).close()

    def quick_check() -> None:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        assert conn.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        conn.close()

    ways = {"kiosk's open before READY=1 (header and schema)": kiosk,
            "a command's open (every page; every open before)": command,
            "PRAGMA quick_check alone": quick_check}
    costs: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(OPENS):  # alternated, so a change in the machine's load touches all three alike
        for name, way in ways.items():
            started = time.perf_counter()
            way()
            costs[name].append((time.perf_counter() - started) * 1000)
    print(f"store: opening a database of {samples:,} samples ({path.stat().st_size / 2**20:.0f} MiB), "
          f"median of {OPENS}, page cache warm:")
    for name, values in costs.items():
        print(f"  {name:52} median {statistics.median(values):7.2f} ms  worst {max(values):7.2f} ms")


def main() -> None:
    program, _ = parse_program_text(PROGRAM, "bench.toml")
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        tracemalloc.start()
        wall = time.time()
        sid = store.open_session(program=program, member=None, wall=wall, clock_s=0.0)
        costs = []
        for second in range(SECONDS):
            started = time.perf_counter()
            store.add_sample(sid, t=second, wall=wall + second, mode="running", phase_idx=0,
                             target_speed_kmh=1.609, actual_speed_kmh=1.6, incline_pct=0.0,
                             rails_held=1, lanyard_clipped=1, distance_m=second * 0.45)
            if second % 300 == 150:
                store.add_event("pause", session_id=sid, wall=wall + second, clock_s=second, t=second,
                                detail={"reason": "rails released"})
            store.update_session(sid, active_seconds=second, elapsed_seconds=second, phases_completed=0)
            store.flush(saved_wall=wall + second)
            costs.append((time.perf_counter() - started) * 1000)
        _, peak = tracemalloc.get_traced_memory()
        store.close_session(sid, status="completed", wall=wall + SECONDS, active_seconds=SECONDS,
                            elapsed_seconds=SECONDS, phases_completed=1)
        store.close()
        size = (Path(folder) / "bench.db").stat().st_size
    costs.sort()
    print(f"store: cost per committed second (sample + progress + fsynced commit), {SECONDS} seconds:")
    print(f"  median {statistics.median(costs):.3f} ms, p99 {costs[int(len(costs) * 0.99)]:.3f} ms, worst {costs[-1]:.3f} ms")
    print(f"  peak Python memory during the 2-hour session: {peak / 1024:.0f} KiB (tracemalloc)")
    print(f"  resident set size at the end: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
    print(f"  database size: {size / 1024:.0f} KiB")
    with tempfile.TemporaryDirectory() as folder:
        opening(Path(folder))


if __name__ == "__main__":
    main()
