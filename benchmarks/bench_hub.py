"""The clinic hub: how fast a station's backlog reaches PostgreSQL, alone and with 19 others.

Starts a throw-away PostgreSQL server (Debian's postgresql package, as the tests do), then:

1. one station with a backlog of 1,000 sessions of 10 minutes (600,000 samples) catches up;
2. 20 stations, each with a backlog of 50 such sessions (600,000 samples in all), catch up at
   the same time, each in its own process as at a clinic;

and checks that every row arrived exactly once. Budget (docs/hub.md): under 15 s to catch up in
both cases. Numbers are printed, not asserted.
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

import psycopg  # noqa: E402
from pgserver import PostgresServer  # noqa: E402

from app.hub.admin import add_station, init_hub  # noqa: E402
from app.hub.sync import StationSync  # noqa: E402
from app.shell.store import Store  # noqa: E402

SESSION_SECONDS = 600
BUDGET_S = 15.0


def build_station(path: Path, station_id: str, sessions: int) -> int:
    """A station database with *sessions* closed sessions of 1 Hz samples; returns the sample count."""
    store = Store(path, station_id=station_id)
    db = store.db
    start = datetime(2026, 1, 5, 8, 0, tzinfo=timezone.utc)
    with db.atomic():
        for n in range(sessions):
            when = start + timedelta(hours=n)
            session_id = db["sessions"].insert({
                "station_id": station_id, "program_id": "steady-10", "program_name": "Steady 10",
                "program_units": "mph", "program_snapshot": "{}", "status": "completed",
                "started_at": when.isoformat(), "ended_at": (when + timedelta(seconds=SESSION_SECONDS)).isoformat(),
                "active_seconds": SESSION_SECONDS, "elapsed_seconds": SESSION_SECONDS, "phases_total": 1,
                "phases_completed": 1, "pain_before": 2, "pain_after": 1, "source": "bench"}).last_pk
            db["phases"].insert({"session_id": session_id, "idx": 0, "name": "Main", "direction": "backward",
                                 "rails": "required", "t": 0})
            db["events"].insert({"session_id": session_id, "at": when.isoformat(), "clock_s": 0.0, "t": 0.0,
                                 "kind": "session_started", "safety": 0, "detail": "{}"})
            db.execute("INSERT INTO samples (session_id, t, at, mode, phase_idx, target_speed_kmh, actual_speed_kmh, "
                       "incline_pct, rails_held, lanyard_clipped, distance_m) "
                       "SELECT ?, value, ?, 'running', 0, 1.6, 1.6, 0, 1, 1, value * 0.44 FROM generate_series(0, ?)",
                       [session_id, when.isoformat(), SESSION_SECONDS - 1]) if _has_series(db) else \
                db["samples"].insert_all(({"session_id": session_id, "t": float(t), "at": when.isoformat(),
                                           "mode": "running", "phase_idx": 0, "target_speed_kmh": 1.6,
                                           "actual_speed_kmh": 1.6, "incline_pct": 0.0, "rails_held": 1,
                                           "lanyard_clipped": 1, "distance_m": t * 0.44}
                                          for t in range(SESSION_SECONDS)), batch_size=1000)
    count = db.execute("SELECT count(*) FROM samples").fetchone()[0]
    store.close()
    return count


def _has_series(db) -> bool:
    try:
        db.execute("SELECT value FROM generate_series(0, 1)").fetchall()
        return True
    except Exception:  # noqa: BLE001 - SQLite built without the series extension
        return False


def sync_station(args: tuple[str, str, str]) -> tuple[str, float, int]:
    path, station_id, dsn = args
    store = Store(path, station_id=station_id)
    started = time.perf_counter()
    result = StationSync(store.db, station_id, dsn).run_once()
    took = time.perf_counter() - started
    store.close()
    return station_id, took, result.samples_sent


def hub_counts(dsn: str) -> tuple[int, int, int]:
    with psycopg.connect(dsn) as conn:
        return conn.execute("SELECT (SELECT count(*) FROM backstep.sessions), (SELECT count(*) FROM backstep.samples), "
                            "(SELECT count(DISTINCT (station_id, station_session_id, station_row_id)) "
                            "FROM backstep.samples)").fetchone()


def fresh_hub(pg: PostgresServer, name: str) -> str:
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    dsn = pg.dsn(name)
    init_hub(dsn)
    return dsn


def main() -> None:
    with PostgresServer() as pg, tempfile.TemporaryDirectory() as folder:
        # PostgreSQL here runs with fsync off (a throw-away cluster); a clinic's server syncs to disk.
        print("server: a throw-away local PostgreSQL with fsync=off; the station side writes SQLite as usual")
        dsn = fresh_hub(pg, "one")
        station_dsn = add_station(dsn, "front-1")
        path = Path(folder) / "front-1.db"
        samples = build_station(path, "front-1", 1000)
        _, took, sent = sync_station((str(path), "front-1", station_dsn))
        sessions, rows, distinct = hub_counts(dsn)
        print(f"one station, backlog of 1,000 sessions ({samples:,} samples): caught up in {took:.2f} s "
              f"(budget {BUDGET_S:.0f} s), {sent / took:,.0f} samples/s")
        print(f"   hub holds {sessions:,} sessions, {rows:,} samples ({distinct:,} distinct): "
              f"{'none lost or doubled' if rows == distinct == samples and sessions == 1000 else 'MISMATCH'}")

        dsn = fresh_hub(pg, "many")
        jobs = []
        for n in range(20):
            station_id = f"st-{n + 1}"
            path = Path(folder) / f"{station_id}.db"
            build_station(path, station_id, 50)
            jobs.append((str(path), station_id, add_station(dsn, station_id)))
        started = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(20) as pool:
            results = pool.map(sync_station, jobs)
        wall = time.perf_counter() - started
        total = sum(r[2] for r in results)
        sessions, rows, distinct = hub_counts(dsn)
        slowest = max(r[1] for r in results)
        print(f"20 stations at once, 50 sessions each ({total:,} samples): all caught up in {wall:.2f} s "
              f"(budget {BUDGET_S:.0f} s; slowest station {slowest:.2f} s), {total / wall:,.0f} samples/s")
        print(f"   hub holds {sessions:,} sessions, {rows:,} samples ({distinct:,} distinct): "
              f"{'none lost or doubled' if rows == distinct == total and sessions == 1000 else 'MISMATCH'}")


if __name__ == "__main__":
    main()
