"""Databases for the export tests and benchmark, built through the real Store schema.

- :func:`make_sessions` goes through the :class:`~app.shell.store.Store` API, as the kiosk does
  (phases, 1 Hz samples, pauses, an emergency stop, pain scores, members and guests).
- :func:`make_bulk` inserts many sessions fast with sqlite-utils ``insert_all`` into the same
  tables (the benchmark's 600,000 samples take seconds, not minutes).

Imported by the other ``test_export*`` modules and by ``benchmarks/bench_export.py``; the one test
here checks the builders themselves.
"""

from __future__ import annotations

import random
from pathlib import Path

from sqlite_utils import Database

from app.core.member import Member
from app.core.program import parse_program_text
from app.shell.store import Store, iso

PROGRAM_TOML = """
id = "beginner-flat"
name = "{name}"
units = "mph"
[[phases]]
name = "Step on"
direction = "backward"
seconds = {a}
speed = 0.5
rails = "required"
[[phases]]
name = "Hands off"
direction = "backward"
seconds = {b}
speed = 0.6
rails = "optional"
"""

#: A fixed start: 2026-11-21 08:00 UTC, so names and times in the tests are predictable.
T0 = 1795248000.0


def program(name: str = "Beginner flat", a: int = 30, b: int = 30):
    prog, problems = parse_program_text(PROGRAM_TOML.format(name=name.replace('"', '\\"'), a=a, b=b), "fixture.toml",
                                        check_rules=False)  # seconds-long sessions keep the export tests quick
    assert prog is not None, problems
    return prog


def add_session(store: Store, *, start: float, member: Member | None = None, name: str = "Beginner flat",
                seconds: tuple[int, int] = (30, 30), pause_at: int | None = None, estop_at: int | None = None,
                measured: bool = False, status: str = "completed", pain: tuple[int | None, int | None] = (3, 2),
                close: bool = True) -> int:
    """One session through the Store API: phases, 1 Hz samples, events, scores; returns its id."""
    prog = program(name, *seconds)
    sid = store.open_session(program=prog, member=member, wall=start, clock_s=0.0)
    store.add_event("session_started", session_id=sid, wall=start, clock_s=0.0, t=0.0, detail={"program": prog.id})
    if pain[0] is not None:
        store.score(sid, "before", pain[0])
    distance = 0.0
    t = 0
    for idx, (phase, length) in enumerate(zip(prog.phases, seconds)):
        speed_kmh = 0.8 if idx == 0 else 0.97
        store.add_phase(sid, {"index": idx, "name": phase.name, "direction": "backward", "seconds": length,
                              "speed_kmh": speed_kmh, "incline_pct": 0.0, "rails": "required" if idx == 0 else "optional"},
                        wall=start + t, t=float(t))
        store.add_event("phase_started", session_id=sid, wall=start + t, clock_s=float(t), t=float(t), detail={"index": idx})
        for _ in range(length):
            mode = "running"
            if pause_at is not None and pause_at <= t < pause_at + 5:
                mode = "paused"
                if t == pause_at:
                    store.add_event("pause", session_id=sid, wall=start + t, clock_s=float(t), t=float(t),
                                    detail={"reason": "rails released", "phase": idx})
            if estop_at is not None and t == estop_at:
                store.add_event("emergency_stop", session_id=sid, wall=start + t, clock_s=float(t), t=float(t),
                                detail={"mode": "running"})
            if mode == "running":
                distance += speed_kmh / 3.6
            store.add_sample(sid, t=float(t), wall=start + t, mode=mode, phase_idx=idx,
                             target_speed_kmh=speed_kmh if mode == "running" else 0.0,
                             actual_speed_kmh=(speed_kmh if mode == "running" else 0.0) if measured else None,
                             incline_pct=0.0, rails_held=int(idx == 0 or t % 2 == 0), lanyard_clipped=1,
                             distance_m=round(distance, 3) if measured else None)
            t += 1
        store.flush()
    if not close:
        return sid
    store.close_session(sid, status=status, wall=start + t, active_seconds=float(t), elapsed_seconds=float(t),
                        phases_completed=len(seconds), reason="" if status == "completed" else "stopped on screen",
                        distance_m=round(distance, 3) if measured else None)
    if pain[1] is not None:
        store.score(sid, "after", pain[1])
    return sid


def make_sessions(path: Path, count: int = 3, *, station_id: str = "backstep-1", **kwargs) -> list[int]:
    """*count* sessions a minute long each, alternating members, a guest, pauses and an e-stop."""
    store = Store(path, station_id=station_id)
    members = [Member(id=7, name="Ada Lovelace"), None, Member(id=9, name="=HYPERLINK(\"http://x\")")]
    ids = []
    try:
        for i in range(count):
            ids.append(add_session(store, start=T0 + i * 3600, member=members[i % 3],
                                   pause_at=10 if i % 2 == 0 else None, estop_at=50 if i % 3 == 1 else None,
                                   measured=i % 2 == 1, **kwargs))
        store.add_event("start_refused", session_id=None, wall=T0 + count * 3600, clock_s=0.0,
                        detail={"reasons": ["lanyard not clipped"]})
    finally:
        store.close()
    return ids


def make_bulk(path: Path, sessions: int, seconds: int = 600, *, station_id: str = "backstep-1",
              seed: int = 1, start_id: int = 1) -> int:
    """*sessions* sessions of *seconds* 1 Hz samples each, inserted in bulk; returns samples written.

    The schema comes from :class:`Store` (its migrations); rows go straight in with ``insert_all``.
    """
    Store(path, station_id=station_id).close()
    db = Database(path)
    db.execute("PRAGMA synchronous=OFF")  # a fixture, not the station: speed over durability
    rng = random.Random(seed)
    phase_len = seconds // 3 or 1
    total = 0
    snapshot = '{"id": "speed-ladder", "name": "Speed ladder", "phases": []}'

    def session_rows():
        for n in range(sessions):
            start = T0 + n * 7200
            yield {"id": start_id + n, "station_id": station_id, "member_id": n % 40, "member_name": f"Member {n % 40}",
                   "program_id": "speed-ladder", "program_name": "Speed ladder", "program_units": "mph",
                   "program_snapshot": snapshot, "status": "completed", "stop_reason": "", "started_at": iso(start),
                   "ended_at": iso(start + seconds), "last_saved_at": iso(start + seconds), "started_clock_s": 0.0,
                   "active_seconds": float(seconds), "elapsed_seconds": float(seconds), "phases_total": 3,
                   "phases_completed": 3, "distance_m": None, "pain_before": rng.randint(0, 5), "pain_after": rng.randint(0, 5),
                   "effort": None, "source": "bulk"}

    def phase_rows():
        for n in range(sessions):
            start = T0 + n * 7200
            for idx in range(3):
                yield {"session_id": start_id + n, "idx": idx, "name": f"Level {idx + 1}", "direction": "backward",
                       "planned_seconds": phase_len, "target_speed_kmh": 0.8 + 0.16 * idx, "incline_pct": 0.0,
                       "rails": "required", "round_label": "", "started_at": iso(start + idx * phase_len), "t": float(idx * phase_len)}

    def sample_rows():
        nonlocal total
        for n in range(sessions):
            start = T0 + n * 7200
            distance = 0.0
            for t in range(seconds):
                idx = min(t // phase_len, 2)
                speed = 0.8 + 0.16 * idx
                distance += speed / 3.6
                total += 1
                yield {"session_id": start_id + n, "t": float(t), "at": iso(start + t), "mode": "running", "phase_idx": idx,
                       "target_speed_kmh": speed, "actual_speed_kmh": speed, "incline_pct": 0.0,
                       "rails_held": int(rng.random() < 0.7), "lanyard_clipped": 1, "distance_m": round(distance, 3)}

    def event_rows():
        for n in range(sessions):
            start = T0 + n * 7200
            yield {"session_id": start_id + n, "at": iso(start), "clock_s": 0.0, "t": 0.0, "kind": "session_started",
                   "safety": 1, "detail": '{"program": "speed-ladder"}'}
            for idx in range(3):
                yield {"session_id": start_id + n, "at": iso(start + idx * phase_len), "clock_s": float(idx * phase_len),
                       "t": float(idx * phase_len), "kind": "phase_started", "safety": 0, "detail": f'{{"index": {idx}}}'}
            yield {"session_id": start_id + n, "at": iso(start + seconds), "clock_s": float(seconds), "t": float(seconds),
                   "kind": "completed", "safety": 1, "detail": "{}"}

    with db.atomic():
        # sessions.member_id links to members (backstep-links in app.shell.schema): the members exist.
        db["members"].insert_all(({"id": m, "name": f"Member {m}", "units": "mph", "archived": 0, "created_at": iso(T0),
                                   "updated_at": iso(T0)} for m in range(min(sessions, 40))), replace=True)
        db["sessions"].insert_all(session_rows(), batch_size=500)
        db["phases"].insert_all(phase_rows(), batch_size=2000)
        db["samples"].insert_all(sample_rows(), batch_size=5000)
        db["events"].insert_all(event_rows(), batch_size=2000)
    db.close()
    return total


def test_builders_write_through_the_store_schema(tmp_path):
    ids = make_sessions(tmp_path / "a.db", 3)
    db = Database(tmp_path / "a.db")
    assert [r["status"] for r in db.query("select status from sessions order by id")] == ["completed"] * 3
    assert db["samples"].count == 3 * 60
    assert db.execute("select count(*) from events where kind = 'pause'").fetchone()[0] == 2
    assert ids == [1, 2, 3]
    assert make_bulk(tmp_path / "b.db", 2, 30) == 60
    assert Database(tmp_path / "b.db")["samples"].count == 60
