"""A member's history screen data with 500 sessions: budget under 100 ms (docs/architecture.md, Budgets).

Builds a database as a busy station would have it after a few years: the member with 500 sessions
of 6 minutes (1 Hz samples: 180,000 rows) and other members' sessions around it (another 500
sessions, 180,000 samples), events with early releases and pauses. Then measures:

- the per-session stats computed once at close (what the station hook does), per session;
- the history screen's data for the member (``Members.history``: one indexed query over sessions
  joined with session_stats; samples are never read), cold (fresh connection) and warm;
- the same with one session still lacking stats (the backfill path);
- the progression suggestion after the last session.

Prints the numbers; the budget is checked by eye (docs/architecture.md, Budgets: budgets are measured, not asserted).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.shell.history import History  # noqa: E402
from app.shell.members import Members  # noqa: E402
from app.shell.store import Store  # noqa: E402

MEMBER_SESSIONS = 500
OTHER_MEMBERS = 10
OTHER_SESSIONS = 50           # each
SESSION_SECONDS = 360
BUDGET_MS = 100.0
RUNS = 30


def build(store: Store, members: Members) -> int:
    target = members.add("Bench member", code="B1", goal=3).id
    others = [members.add(f"Other {i}").id for i in range(OTHER_MEMBERS)]
    owners = [target] * MEMBER_SESSIONS + [o for o in others for _ in range(OTHER_SESSIONS)]
    start = datetime(2023, 1, 2, 9, 0, tzinfo=timezone.utc)
    db = store.db
    with db.atomic():
        for n, member_id in enumerate(owners):
            when = start + timedelta(hours=13 * n)
            session_id = db["sessions"].insert({
                "station_id": "bench", "member_id": member_id, "member_name": "m", "program_id": "rx",
                "program_name": "Prescription", "program_units": "mph", "program_snapshot": "{}",
                "status": "completed", "started_at": when.isoformat(), "ended_at": when.isoformat(),
                "active_seconds": SESSION_SECONDS, "elapsed_seconds": SESSION_SECONDS, "phases_total": 2,
                "phases_completed": 2, "pain_before": n % 4, "pain_after": (n * 7) % 5, "effort": 5,
                "source": "bench"}).last_pk
            db["phases"].insert_all([
                {"session_id": session_id, "idx": 0, "name": "Warm-up", "direction": "backward", "rails": "required", "t": 0},
                {"session_id": session_id, "idx": 1, "name": "Main", "direction": "backward", "rails": "optional", "t": 60}])
            db["samples"].insert_all(
                {"session_id": session_id, "t": float(t), "at": when.isoformat(), "mode": "running",
                 "phase_idx": 0 if t < 60 else 1, "target_speed_kmh": 0.8 if t < 60 else 1.2 + (n % 10) * 0.05,
                 "actual_speed_kmh": 1.0, "incline_pct": 0.0, "rails_held": int(not (100 < t < 100 + n % 40)),
                 "lanyard_clipped": 1, "distance_m": t * 0.3} for t in range(SESSION_SECONDS))
            if n % 5 == 0:
                db["events"].insert_all([
                    {"session_id": session_id, "at": when.isoformat(), "clock_s": 30.0, "t": 30.0, "kind": "rails_released",
                     "safety": 0, "detail": json.dumps({"early": True, "phase": 0})},
                    {"session_id": session_id, "at": when.isoformat(), "clock_s": 31.0, "t": 31.0, "kind": "pause",
                     "safety": 1, "detail": json.dumps({"reason": "rails released"})}])
    return target


def ms(f) -> float:
    started = time.perf_counter()
    f()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        store = Store(path)
        members = Members(store)
        started = time.perf_counter()
        member_id = build(store, members)
        print(f"built {MEMBER_SESSIONS + OTHER_MEMBERS * OTHER_SESSIONS} sessions, "
              f"{(MEMBER_SESSIONS + OTHER_MEMBERS * OTHER_SESSIONS) * SESSION_SECONDS} samples in {time.perf_counter() - started:.1f} s")

        history = History(store)
        started = time.perf_counter()
        filled = history.backfill()
        per_session = (time.perf_counter() - started) * 1000 / filled
        print(f"stats at close (once per session, reads its samples): {per_session:.2f} ms per session ({filled} sessions)")
        store.close()

        # Cold: a fresh connection, as when the history screen opens after a restart.
        store = Store(path)
        cold = ms(lambda: Members(store).history(member_id))
        members = Members(store)
        warm = [ms(lambda: members.history(member_id)) for _ in range(RUNS)]
        data = members.history(member_id)
        assert len(data.sessions) == MEMBER_SESSIONS
        print(f"history for a member with {len(data.sessions)} sessions, {len(data.weeks)} weeks: "
              f"cold {cold:.1f} ms, warm median {statistics.median(warm):.1f} ms, worst {max(warm):.1f} ms "
              f"(budget {BUDGET_MS:.0f} ms)")

        store.db.execute("delete from session_stats where session_id = (select max(id) from sessions where member_id = ?)", [member_id])
        store.db.conn.commit()
        one_missing = ms(lambda: members.history(member_id))
        print(f"history with one session lacking stats (backfilled on the way): {one_missing:.1f} ms")

        suggest = [ms(lambda: members.compute_suggestion(member_id)) for _ in range(RUNS)]
        print(f"progression suggestion after the last session: median {statistics.median(suggest):.2f} ms")

        plan = "; ".join(r["detail"] for r in store.db.query(
            "explain query plan select s.id, s.pain_after, st.hands_free_share from sessions s "
            "left join session_stats st on st.session_id = s.id where s.member_id = ? order by s.started_at desc", [member_id]))
        print(f"query plan: {plan}")
        verdict = "within" if max(cold, statistics.median(warm), one_missing) < BUDGET_MS else "OVER"
        print(f"{verdict} the {BUDGET_MS:.0f} ms budget")
        store.close()


if __name__ == "__main__":
    main()
