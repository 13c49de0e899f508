"""The clinic hub against a real PostgreSQL server started in a temporary folder (tests/pgserver.py).

Stations are separate SQLite files and configs; sessions come from the real simulator through the
CLI, exactly as at a station.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

psycopg = pytest.importorskip("psycopg", reason="the hub tests need psycopg (./dev installs backstep[hub])")

from conftest import wait_for  # noqa: E402
from pgserver import PostgresServer, find_pg_bin  # noqa: E402

from app.hub.admin import add_station, hub_status, init_hub  # noqa: E402
from app.hub.connection import HubError  # noqa: E402
from app.hub.sync import StationSync  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(find_pg_bin() is None, reason="PostgreSQL's server binaries are not installed")

WALK = "0 lanyard clipped\n0 rails held\n1 tap start\n{end} end\n"
_names = itertools.count(1)


@pytest.fixture(scope="module")
def pg():
    with PostgresServer() as server:
        yield server


@pytest.fixture
def hub(pg):
    """A fresh clinic database on the shared server; returns its owner DSN."""
    name = f"clinic{next(_names)}"
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    dsn = pg.dsn(name)
    init_hub(dsn)
    return dsn


class Station:
    """One station: its own config and SQLite file, driven through the real CLI."""

    def __init__(self, folder: Path, station_id: str, dsn: str | None):
        self.id = station_id
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.db = folder / "station.db"
        self.config = folder / "config.toml"
        hub = f'[hub]\ndsn = "{dsn}"\n' if dsn else ""
        self.config.write_text(f'[station]\nid = "{station_id}"\n{hub}')

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "BACKSTEP_CONFIG": str(self.config), "BACKSTEP_DB": str(self.db)}
        done = subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def walk(self, member: str | None = None, seconds: int = 60) -> None:
        script = self.folder / f"walk{seconds}.txt"
        script.write_text(WALK.format(end=seconds))
        args = ["simulate", "--program", "beginner-flat", "--script", str(script)]
        self.cli(*args, *(["--member", member] if member else []))

    def sync(self) -> dict:
        return json.loads(self.cli("sync", "--once", "--json").stdout)

    def sql(self, query: str, *params):
        import sqlite3

        with sqlite3.connect(self.db) as conn:
            return conn.execute(query, params).fetchall()


def station(tmp_path, hub, station_id) -> Station:
    return Station(tmp_path / station_id, station_id, add_station(hub, station_id))


def hub_rows(dsn: str, query: str, *params):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


# --- schema and commands -----------------------------------------------------------------------------

def test_init_is_idempotent_and_add_station_prints_a_least_privilege_login(pg, hub, tmp_path):
    assert init_hub(hub) == []                                   # already up to date
    done = Station(tmp_path / "owner", "owner", None)
    out = done.cli("hub", "init", "--dsn", hub).stdout
    assert "already up to date" in out
    made = json.loads(done.cli("hub", "add-station", "front-1", "--dsn", hub, "--json").stdout)
    assert "user=backstep_st_front_1" in made["dsn"] and "password=" in made["dsn"]
    role = hub_rows(hub, "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = 'backstep_st_front_1'")
    assert role == [(False, False, False)]
    statuses = hub_status(hub)
    assert [s.station_id for s in statuses] == ["front-1"] and statuses[0].last_sync is None


def test_a_bad_station_id_and_an_unreachable_hub_are_one_line_errors(pg, hub, tmp_path):
    owner = Station(tmp_path / "owner", "owner", None)
    bad = owner.cli("hub", "add-station", "Front 1!", "--dsn", hub, check=False)
    assert bad.returncode != 0 and "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert "station id" in bad.stderr
    nowhere = Station(tmp_path / "lost", "lost-1", f"host=127.0.0.1 port=1 dbname=x user=u password=secret")
    done = nowhere.cli("sync", "--once", check=False)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert "cannot reach the hub" in done.stderr and "secret" not in done.stderr


# --- least privilege -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_station_login_can_neither_rewrite_nor_erase_nor_write_as_another_station(tmp_path, hub):
    front = station(tmp_path, hub, "front-1")
    back = station(tmp_path, hub, "back-2")
    front.walk(seconds=30)
    back.walk(seconds=30)
    front.sync()
    back.sync()
    back_dsn = back.config.read_text().split('dsn = "')[1].split('"')[0]
    refused = [
        "UPDATE backstep.sessions SET status = 'completed'",
        "DELETE FROM backstep.sessions WHERE station_id = 'front-1'",
        "DELETE FROM backstep.samples",
        "TRUNCATE backstep.events",
        "UPDATE backstep.member_versions SET name = 'x'",
        "DROP TABLE backstep.samples",
        "INSERT INTO backstep.sessions (station_id, station_session_id, program_id, status, started_at) "
        "VALUES ('front-1', 999, 'x', 'completed', now())",
        "INSERT INTO backstep.stations (station_id, role_name) VALUES ('evil', 'evil')",
    ]
    for statement in refused:
        with psycopg.connect(back_dsn) as conn:
            with pytest.raises(psycopg.Error) as caught:
                conn.execute(statement)
            assert isinstance(caught.value, (psycopg.errors.InsufficientPrivilege,)), statement
    # ...while everything front-1 sent is still there, and back-2 can read it for histories.
    assert hub_rows(back_dsn, "SELECT count(*) FROM backstep.sessions WHERE station_id = 'front-1'") == [(1,)]


# --- sessions up, exactly once ---------------------------------------------------------------------------

@pytest.mark.slow
def test_sessions_samples_and_events_arrive_once_even_when_sent_again(tmp_path, hub):
    front = station(tmp_path, hub, "front-1")
    for seconds in (40, 50):
        front.walk(seconds=seconds)
    first = front.sync()
    assert first["sessions_sent"] == 2
    local_samples = front.sql("SELECT count(*) FROM samples")[0][0]
    assert first["samples_sent"] == local_samples > 0
    # A pass cut off after the hub committed but before the station noted it: send again.
    front.sql("DELETE FROM hub_sent")
    again = front.sync()
    assert again["sessions_sent"] == 2
    for table in ("sessions", "samples", "events", "phases"):
        here = front.sql(f"SELECT count(*) FROM {table}")[0][0]
        there = hub_rows(hub, f"SELECT count(*) FROM backstep.{table} WHERE station_id = 'front-1'")[0][0]
        if table == "events":                                    # events outside any session too
            there += hub_rows(hub, "SELECT count(*) FROM backstep.station_events")[0][0]
        assert there == here, table
    assert front.sync()["sessions_sent"] == 0                    # nothing left waiting


def _backlog(station: Station, sessions: int, samples: int) -> None:
    """A station that walked *sessions* sessions while the hub was away: closed sessions with 1 Hz
    samples and an event each, written as the store writes them (a simulation per session would
    take minutes)."""
    from app.shell.store import Store

    store = Store(station.db, station_id=station.id)
    try:
        conn = store.conn
        for n in range(sessions):
            started = f"2026-11-{1 + n // 24:02d}T{n % 24:02d}:00:00+00:00"
            sid = conn.execute("INSERT INTO sessions (station_id, program_id, program_name, status, started_at, "
                               "ended_at, active_seconds, elapsed_seconds, phases_total, phases_completed, source) "
                               "VALUES (?, 'steady-10', 'Steady 10', 'completed', ?, ?, ?, ?, 1, 1, 'test')",
                               (station.id, started, started, samples, samples)).lastrowid
            conn.execute("INSERT INTO phases (session_id, idx, name, direction, rails, t) "
                         "VALUES (?, 0, 'Main', 'backward', 'required', 0)", (sid,))
            conn.execute("INSERT INTO events (session_id, at, clock_s, t, kind, safety, detail) "
                         "VALUES (?, ?, 0, 0, 'session_started', 1, '{}')", (sid, started))
            conn.executemany("INSERT INTO samples (session_id, t, at, mode, phase_idx, target_speed_kmh, "
                             "actual_speed_kmh, incline_pct, rails_held, lanyard_clipped, distance_m) "
                             "VALUES (?, ?, ?, 'running', 0, 1.6, 1.6, 0, 1, 1, ?)",
                             [(sid, float(t), started, t * 0.44) for t in range(samples)])
        conn.commit()
    finally:
        store.close()


def _assert_every_row_once(station: Station, hub: str) -> None:
    for table in ("sessions", "samples", "events", "phases"):
        here = station.sql(f"SELECT count(*) FROM {table}")[0][0]
        there, distinct = hub_rows(hub, f"SELECT count(*), count(DISTINCT (station_session_id, "
                                        f"{'station_row_id' if table != 'sessions' else 'station_session_id'})) "
                                        f"FROM backstep.{table}")[0]
        if table == "events":
            outside = hub_rows(hub, "SELECT count(*) FROM backstep.station_events")[0][0]
            there, distinct = there + outside, distinct + outside
        assert there == distinct == here, table


@pytest.mark.slow
def test_kill_9_mid_sync_then_a_sync_loses_and_doubles_nothing(tmp_path, pg):
    """A pass killed between two of its hub transactions: what the station noted as sent is on
    the hub, and the next pass sends the rest, each row once."""
    from app.hub.sync import BATCH_SESSIONS

    total = 6 * BATCH_SESSIONS
    for attempt in range(5):
        name = f"kill{next(_names)}"
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        hub = pg.dsn(name)
        init_hub(hub)
        front = station(tmp_path / name, hub, "front-1")
        _backlog(front, total, 120)
        env = {**os.environ, "BACKSTEP_CONFIG": str(front.config), "BACKSTEP_DB": str(front.db)}
        proc = subprocess.Popen([sys.executable, "-m", "app", "sync", "--once"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: hub_rows(hub, "SELECT count(*) FROM backstep.sessions")[0][0] > 0 or proc.poll() is not None,
                 interval=0.001)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        on_hub = {row[0] for row in hub_rows(hub, "SELECT station_session_id FROM backstep.sessions")}
        noted = {row[0] for row in front.sql("SELECT session_id FROM hub_sent")}
        # Never believe the hub holds what it does not: that would be a session lost for good.
        assert noted <= on_hub
        if len(on_hub) < total:
            break                                                 # killed mid-pass, as wanted
    else:
        pytest.fail("five passes in a row finished before the kill; the test could not cut one short")
    front.sync()
    assert front.sync()["sessions_sent"] == 0
    _assert_every_row_once(front, hub)


def test_a_pain_score_given_after_the_session_went_up_follows_it(tmp_path, hub):
    front = station(tmp_path, hub, "front-1")
    front.walk(seconds=30)
    front.sync()
    front.sql("UPDATE sessions SET pain_after = 3")
    front.sync()
    assert hub_rows(hub, "SELECT kind, value FROM backstep.scores") == [("pain_after", 3)]


# --- the hub away ------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_station_carries_on_while_the_hub_is_down_and_catches_up(tmp_path, pg, hub):
    front = station(tmp_path, hub, "front-1")
    front.walk(seconds=30)
    front.sync()
    pg.stop()
    try:
        front.walk(seconds=45)                                   # the station works alone
        down = front.cli("sync", "--once", check=False)
        assert down.returncode != 0 and "cannot reach the hub" in down.stderr
        assert "Traceback" not in down.stderr
    finally:
        pg.start_again()
    caught_up = front.sync()
    assert caught_up["sessions_sent"] == 1
    assert hub_rows(hub, "SELECT count(*) FROM backstep.sessions")[0][0] == 2
    state = dict(front.sql("SELECT key, value FROM hub_state"))
    assert state["last_success_at"] and not state.get("last_error")


# --- members down, and one history ------------------------------------------------------------------------

def _ada_walked_at_front(tmp_path, hub) -> tuple[Station, Station]:
    """Two stations; member Ada (code A1) added and walked once at front-1, then both synced."""
    front = station(tmp_path, hub, "front-1")
    back = station(tmp_path, hub, "back-2")
    front.cli("members", "add", "Ada", "--code", "A1")
    front.walk(member="A1", seconds=60)
    front.sync()
    back.sync()
    return front, back


@pytest.mark.slow
def test_two_stations_share_a_members_history(tmp_path, hub):
    front, back = _ada_walked_at_front(tmp_path, hub)
    assert back.sql("SELECT name, code FROM members") == [("Ada", "A1")]
    back.walk(member="A1", seconds=90)
    back.sync()
    front.sync()
    walked_elsewhere = front.sql("SELECT station_id, active_seconds FROM hub_sessions")
    assert [row[0] for row in walked_elsewhere] == ["back-2"]
    uuid_front = front.sql("SELECT hub_uuid FROM members")[0][0]
    assert back.sql("SELECT hub_uuid FROM members")[0][0] == uuid_front
    assert hub_rows(hub, "SELECT count(DISTINCT station_id) FROM backstep.sessions WHERE member_uuid = %s",
                    uuid_front) == [(2,)]


@pytest.mark.slow
def test_a_member_changed_at_two_stations_keeps_the_first_change_and_logs_the_other(tmp_path, hub):
    front = station(tmp_path, hub, "front-1")
    back = station(tmp_path, hub, "back-2")
    front.cli("members", "add", "Ada", "--code", "A1")
    front.sync()
    back.sync()
    front.cli("members", "set", "A1", "--goal", "3")
    back.cli("members", "set", "A1", "--goal", "2")
    front.sync()                                                  # front's change reaches the hub first
    result = back.sync()
    assert any("was kept" in c for c in result["conflicts"])
    assert back.sql("SELECT goal_per_week, hub_dirty FROM members") == [(3, 0)]
    assert "member conflict" in [row[0] for row in back.sql("SELECT kind FROM hub_log")]
    assert hub_rows(hub, "SELECT version, goal_per_week, station_id FROM backstep.members_current") == [(2, 3, "front-1")]


def test_a_code_claimed_first_at_another_station_is_refused_in_words(tmp_path, hub):
    front = station(tmp_path, hub, "front-1")
    back = station(tmp_path, hub, "back-2")
    front.cli("members", "add", "Ada", "--code", "K7")
    back.cli("members", "add", "Bob", "--code", "k7")
    front.sync()
    result = back.sync()
    assert any("belongs to another member" in c for c in result["conflicts"])
    # Bob keeps everything but the code; Ada arrives with hers.
    assert sorted(back.sql("SELECT name, code FROM members")) == [("Ada", "K7"), ("Bob", None)]


def test_doctor_checks_the_hub_with_the_stations_login(tmp_path, pg, hub):
    front = station(tmp_path, hub, "front-1")
    good = front.cli("doctor", "--sim", "--json", check=False)
    hub_line = [c for c in json.loads(good.stdout)["checks"] if c["check"] == "hub"][0]
    assert hub_line["status"] == "OK" and "last sync: never" in hub_line["message"]
    wrong = Station(tmp_path / "wrong", "back-2", front.config.read_text().split('dsn = "')[1].split('"')[0])
    bad = wrong.cli("doctor", "--sim", "--json", check=False)
    hub_line = [c for c in json.loads(bad.stdout)["checks"] if c["check"] == "hub"][0]
    assert hub_line["status"] == "PROBLEM" and "front-1" in hub_line["message"] and "back-2" in hub_line["message"]
    assert bad.returncode == 1


@pytest.mark.slow
def test_a_members_history_and_suggestion_include_the_other_stations_sessions(tmp_path, hub):
    front, back = _ada_walked_at_front(tmp_path, hub)
    for seconds in (90, 120):
        back.walk(member="A1", seconds=seconds)
    back.sync()
    front.sync()
    history = json.loads(front.cli("members", "history", "A1", "--json").stdout)
    walked = [(s["station_id"], round(s["active_seconds"])) for s in history["sessions"]]
    assert [w[0] for w in walked] == [None, "back-2", "back-2"]          # oldest first, marked by station
    assert sum(w["sessions"] for w in history["weeks"]) == 3
    table = front.cli("members", "history", "A1").stdout
    assert table.count("back-2") == 2 and "here" in table
    # The progression suggestion sees all three sessions, and is kept at this station.
    suggestion = json.loads(front.cli("members", "suggestion", "A1", "--json").stdout)
    assert suggestion["status"] == "pending"


def test_the_staff_sensors_page_shows_the_last_sync_and_what_is_waiting(tmp_path, hub):
    """The kiosk reads what `backstep sync` wrote beside it: no network on the kiosk's side."""
    import pygame
    from test_ui_support import make_kiosk, views

    from app.core.view import Screen
    from app.kiosk.data import StoreData
    from app.shell.store import Store
    from app.ui.intents import Intent, IntentKind, Overlay

    front = station(tmp_path, hub, "front-1")
    front.walk(seconds=30)
    front.sync()
    front.walk(seconds=40)                                       # not sent yet
    store = Store(front.db, station_id="front-1")
    try:
        kiosk, _ = make_kiosk(data=StoreData([], store, hub=True))
        kiosk.update(views()[Screen.HOME], 0.0)
        kiosk.staff_unlocked = True
        kiosk.act(Intent(IntentKind.OPEN, Overlay.SENSORS))
        status = kiosk.ui.hub
        assert status is not None and status.last_success and status.last_error is None
        assert status.waiting_sessions == 1
        surface = pygame.Surface((800, 480))
        kiosk.render(surface)                                    # the row draws at the smallest screen
        assert StoreData([], store).hub_status() is None          # a station without a hub shows no row
    finally:
        store.close()


def test_a_therapists_program_on_the_hub_reaches_every_station(tmp_path, hub):
    front = station(tmp_path, hub, "front-1")
    owner = Station(tmp_path / "owner", "owner", None)
    program = tmp_path / "clinic-walk.toml"
    program.write_text('id = "clinic-walk"\nname = "Clinic walk"\nunits = "mph"\n\n'
                       '[[phases]]\ndirection = "backward"\nseconds = 120\nspeed = 0.5\nrails = "required"\n')
    added = owner.cli("hub", "add-program", str(program), "--dsn", hub).stdout
    assert "version 1" in added
    assert "clinic-walk" not in front.cli("programs", "list").stdout
    assert front.sync()["programs_received"] == 1
    assert "clinic-walk" in front.cli("programs", "list").stdout
    # A stricter station (lower caps) refuses a program beyond them, and says so in its log.
    fast = tmp_path / "fast.toml"
    fast.write_text('id = "clinic-walk"\nname = "Clinic walk"\nunits = "mph"\n\n'
                    '[[phases]]\ndirection = "backward"\nseconds = 120\nspeed = 1.0\nrails = "required"\n')
    assert "version 2" in owner.cli("hub", "add-program", str(fast), "--dsn", hub).stdout
    front.config.write_text(front.config.read_text() + "\n[safety]\nbackward_speed = 0.8\n")
    result = front.sync()
    assert result["programs_received"] == 0 and any("left out" in c for c in result["conflicts"])
    # A file that breaks the program rules never reaches the hub.
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "bad"\nname = "Bad"\nunits = "mph"\n\n[[phases]]\ndirection = "backward"\nseconds = 1\n'
                   'speed = 4.5\nrails = "required"\n')
    refused = owner.cli("hub", "add-program", str(bad), "--dsn", hub, check=False)
    assert refused.returncode != 0 and "not put on the hub" in refused.stderr and "Traceback" not in refused.stderr


def test_the_usb_export_lists_the_members_sessions_from_other_stations(tmp_path, hub):
    import csv

    front, back = _ada_walked_at_front(tmp_path, hub)
    back.walk(member="A1", seconds=90)
    back.sync()
    front.sync()
    stick = tmp_path / "stick"
    stick.mkdir()
    front.cli("export", "--to", str(stick))
    clinic = next(stick.rglob("clinic-sessions.csv"))
    rows = list(csv.DictReader(clinic.read_text(encoding="utf-8-sig").splitlines()))
    assert [(r["station_id"], r["member"]) for r in rows] == [("back-2", "Ada")]
    assert "clinic-sessions.csv" in next(stick.rglob("README.txt")).read_text()
    own = list(csv.DictReader(next(stick.rglob("Backstep/front-1/sessions.csv")).read_text(encoding="utf-8-sig").splitlines()))
    assert len(own) == 1                                          # this station's own record stays its own
