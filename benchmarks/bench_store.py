"""The store's cost per committed second of a session, and its peak memory over a two-hour session.

Replays what the main loop does each second: one 1 Hz sample, a progress update and one commit
(WAL, synchronous=FULL: every commit is fsynced), plus a safety event now and then. Prints the
median and worst cost of a committed second and the peak Python memory (tracemalloc) and resident
set size for 7,200 seconds.
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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


if __name__ == "__main__":
    main()
