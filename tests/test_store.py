"""The session store: WAL + synchronous=FULL, crash recovery, damaged or newer files moved aside."""

from __future__ import annotations

import sqlite3
import time

import pytest

from app.core.program import parse_program_text
from app.shell.schema_version import SCHEMA_VERSION
from app.shell.store import Store

PROGRAM_TOML = """
id = "store-test"
name = "Store test"
units = "mph"
[[phases]]
direction = "backward"
seconds = 60
speed = 0.5
rails = "required"
"""


@pytest.fixture
def program():
    program, problems = parse_program_text(PROGRAM_TOML, "store-test.toml")
    assert program is not None, problems
    return program


def test_new_database_uses_wal_and_full_sync(tmp_path):
    store = Store(tmp_path / "b.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # 2 == FULL
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert {"sessions", "phases", "samples", "events"} <= set(store.db.table_names())
    assert store.notices == []


def test_session_samples_and_events_round_trip(tmp_path, program):
    store = Store(tmp_path / "b.db", station_id="bench-2")
    wall = time.time()
    sid = store.open_session(program=program, member=None, wall=wall, clock_s=10.0)
    for t in range(5):
        store.add_sample(sid, t=t, wall=wall + t, mode="running", phase_idx=0, target_speed_kmh=0.8,
                         actual_speed_kmh=None, incline_pct=0.0, rails_held=1, lanyard_clipped=1, distance_m=None)
    store.add_event("rails_released", session_id=sid, wall=wall + 2, clock_s=12.0, t=2.0, detail={"early": True})
    store.close_session(sid, status="completed", wall=wall + 60, active_seconds=60, elapsed_seconds=60,
                        phases_completed=1)
    store.close()

    again = Store(tmp_path / "b.db")
    row = again.session(sid)
    assert row["status"] == "completed" and row["station_id"] == "bench-2"
    assert row["program_id"] == "store-test"
    assert '"store-test"' in row["program_snapshot"]  # the program as it ran is kept with the session
    assert [s["t"] for s in again.samples(sid)] == [0, 1, 2, 3, 4]
    assert [e["kind"] for e in again.events(sid)] == ["rails_released"]
    assert row["started_at"].endswith(("+00:00", "Z")) or row["started_at"][-6] in "+-"


def test_safety_event_is_committed_at_once(tmp_path, program):
    store = Store(tmp_path / "b.db")
    sid = store.open_session(program=program, member=None, wall=time.time(), clock_s=0)
    store.add_sample(sid, t=0, wall=time.time(), mode="running", phase_idx=0, target_speed_kmh=0.8,
                     actual_speed_kmh=None, incline_pct=0, rails_held=1, lanyard_clipped=1, distance_m=None)
    store.add_event("emergency_stop", session_id=sid, wall=time.time(), clock_s=1.0, t=1.0)
    # A second connection sees it without any flush call: it was committed.
    other = sqlite3.connect(tmp_path / "b.db")
    assert other.execute("select kind from events").fetchall() == [("emergency_stop",)]
    assert other.execute("select count(*) from samples").fetchone()[0] == 1


def test_open_session_left_by_a_crash_is_marked_interrupted_with_samples_kept(tmp_path, program):
    store = Store(tmp_path / "b.db")
    sid = store.open_session(program=program, member=None, wall=time.time(), clock_s=0)
    for t in range(3):
        store.add_sample(sid, t=t, wall=time.time(), mode="running", phase_idx=0, target_speed_kmh=0.8,
                         actual_speed_kmh=None, incline_pct=0, rails_held=1, lanyard_clipped=1, distance_m=None)
    store.flush()
    store.db.close()  # no close_session: as if the power went

    reopened = Store(tmp_path / "b.db")
    assert reopened.session(sid)["status"] == "interrupted"
    assert len(reopened.samples(sid)) == 3
    assert any("interrupted" in n for n in reopened.notices)


def test_damaged_file_is_moved_aside_never_overwritten(tmp_path):
    path = tmp_path / "b.db"
    path.write_bytes(b"this is not a database at all" * 100)
    store = Store(path)
    assert len(store.notices) == 1 and "moved it aside" in store.notices[0]
    aside = [p for p in tmp_path.iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")
    assert "sessions" in store.db.table_names()


def test_database_from_a_newer_backstep_is_moved_aside(tmp_path):
    path = tmp_path / "b.db"
    conn = sqlite3.connect(path)
    conn.execute("create table future (x)")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 5}")
    conn.commit()
    conn.close()
    store = Store(path)
    assert "newer Backstep" in store.notices[0]
    assert any(".newer-" in p.name for p in tmp_path.iterdir())
    assert "future" not in store.db.table_names()


def test_unwritable_folder_is_one_clear_error(tmp_path):
    from app.shell.store import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the database folder"):
        Store(blocker / "sub" / "b.db")


def _old_schema_database(path):
    """A database as the previous Backstep left it: every table, no links to members."""
    from sqlite_utils import Database

    from app.shell.schema import history_migrations, members_migrations, session_migrations

    db = Database(path)
    session_migrations.apply(db)
    history_migrations.apply(db)
    members_migrations.apply(db)
    db.execute("PRAGMA user_version=1")
    db["members"].insert({"id": 1, "name": "Ada", "units": "mph", "created_at": "x", "updated_at": "x"})
    for sid, member in ((1, 1), (2, 7), (3, None)):  # member 7 has no members row (kept elsewhere)
        db["sessions"].insert({"id": sid, "member_id": member, "member_name": f"walker {member}", "program_id": "p",
                               "status": "completed", "started_at": f"2026-11-2{sid}T08:00:00+00:00"})
        db["samples"].insert_all({"session_id": sid, "t": float(t), "mode": "running"} for t in range(5))
        db["session_stats"].insert({"session_id": sid, "member_id": member, "version": 1})
    db["suggestions"].insert({"id": 1, "member_id": 1, "session_id": 1, "status": "pending"})
    db.conn.commit()
    db.close()


def test_links_to_members_and_sessions_are_foreign_keys_after_migrating_an_old_database(tmp_path):
    path = tmp_path / "old.db"
    _old_schema_database(path)
    store = Store(path)
    db = store.db
    links = {(fk.table, fk.column, fk.other_table, fk.other_column)
             for name in ("sessions", "session_stats", "suggestions") for fk in db[name].foreign_keys}
    assert {("sessions", "member_id", "members", "id"), ("session_stats", "member_id", "members", "id"),
            ("suggestions", "session_id", "sessions", "id")} <= links
    assert ("samples", "session_id", "sessions", "id") in {
        (fk.table, fk.column, fk.other_table, fk.other_column) for fk in db["samples"].foreign_keys}
    # No row lost or changed; the member without a row got an archived placeholder.
    assert [(r["id"], r["member_id"]) for r in db.query("select id, member_id from sessions order by id")] == [
        (1, 1), (2, 7), (3, None)]
    assert db["samples"].count == 15 and db["session_stats"].count == 3 and db["suggestions"].count == 1
    placeholder = db["members"].get(7)
    assert placeholder["name"] == "walker 7" and placeholder["archived"] == 1
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    assert {"idx_sessions_started_at", "idx_sessions_member_id_started_at"} <= {i.name for i in db["sessions"].indexes}
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()


def test_a_session_of_a_member_missing_from_the_members_table_is_still_saved(tmp_path, program):
    from app.core.member import Member

    store = Store(tmp_path / "b.db")
    sid = store.open_session(program=program, member=Member(id=42, name="Walk-in"), wall=time.time(), clock_s=0.0)
    assert store.session(sid)["member_id"] == 42
    assert store.db["members"].get(42)["archived"] == 1
    store.close()


def test_a_start_with_nothing_to_migrate_does_not_import_sqlite_utils(tmp_path, program):
    """sqlite-utils (click, dateutil, pluggy) is a large share of the kiosk's start-up; the store's
    own work is plain sqlite3, and sqlite-utils comes only with the first use of ``Store.db``."""
    import subprocess
    import sys

    path = tmp_path / "b.db"
    Store(path).close()  # the first start creates the schema (with sqlite-utils' migrations)
    script = ("import sys, time; from app.shell.store import Store; s = Store(sys.argv[1]); "
              "sid = s.open_session(program=type('P', (), dict(id='p', name='P', units='mph', snapshot={}, phases=[]))(), "
              "member=None, wall=time.time(), clock_s=0.0); "
              "s.add_event('lanyard_pulled', session_id=sid, wall=time.time(), clock_s=1.0); "
              "s.close_session(sid, status='stopped', wall=time.time(), active_seconds=1, elapsed_seconds=1, phases_completed=0); "
              "print('sqlite_utils' in sys.modules); s.db.table_names(); print('sqlite_utils' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
    again = Store(path)
    assert [e["kind"] for e in again.events()] == ["lanyard_pulled"]
    assert again.sessions()  # generator
    assert [s["status"] for s in again.sessions()] == ["stopped"]


def test_nested_transactions_roll_back_only_the_inner_part(tmp_path):
    store = Store(tmp_path / "b.db")
    with store.atomic():
        store.add_event("note", session_id=None, wall=time.time(), clock_s=0.0)
        store.flush()
        with pytest.raises(ValueError):
            with store.atomic():
                store.conn.execute("insert into events (kind, at, safety, detail) values ('inner', 'x', 0, '{}')")
                raise ValueError
    assert [e["kind"] for e in Store(tmp_path / "b.db").events()] == ["note"]
