"""USB export: formats read by real tools, incremental bookkeeping, privacy, the database left alone."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from app.config import Config, ExportSection, StationSection
from app.core.member import Member
from app.shell.export import ExportJob, Exporter, ExportError
from app.shell.store import Store
from test_export_fixtures import T0, add_session, make_sessions

ROOT = Path(__file__).resolve().parent.parent
#: A copy of Garmin's TrainingCenterDatabasev2.xsd kept with the tests, so every clone
#: validates its TCX files (the shared folder is not part of the repository).
XSD = ROOT / "tests" / "fixtures" / "schemas" / "TrainingCenterDatabasev2.xsd"


@pytest.fixture(scope="module")
def schema():
    if not XSD.exists():
        pytest.skip(f"TCX schema not found at {XSD}")
    return etree.XMLSchema(etree.parse(str(XSD)))


def config(station: str = "backstep-1", **export) -> Config:
    return Config(station=StationSection(id=station), export=ExportSection(**export))


def export(db: Path, stick: Path, **kwargs):
    stick.mkdir(exist_ok=True)
    selection = kwargs.pop("selection", "incremental")
    since = kwargs.pop("since", None)
    result = ExportJob(db, stick, config(**kwargs), selection=selection, since=since).run()
    assert result.ok, result.message
    return result


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def db_fingerprint(path: Path) -> str:
    """A hash of everything the kiosk owns in the database (not the export's own tables)."""
    conn = sqlite3.connect(path)
    digest = hashlib.sha256()
    for table in ("sessions", "phases", "samples", "events"):
        for row in conn.execute(f"select * from {table} order by id"):
            digest.update(repr(row).encode())
    conn.close()
    return digest.hexdigest()


def station_dir(stick: Path, station: str = "backstep-1") -> Path:
    return stick / "Backstep" / station


def batch_dir(result) -> Path:
    """This export's own folder (``exports/<time>``): its samples, events and JSON Lines."""
    return Path(result.export_folder)


def test_export_writes_every_format_and_tools_read_them(tmp_path, schema):
    tcxparser = pytest.importorskip("tcxparser", reason="pip install python-tcxparser (the third-party TCX reader)")
    db = tmp_path / "b.db"
    make_sessions(db, 4)
    result = export(db, tmp_path / "stick")
    out = station_dir(tmp_path / "stick")
    assert result.sessions == 4 and result.samples == 240
    assert {p.name for p in out.iterdir()} == {"sessions.csv", "exports", "README.txt", "manifest.json",
                                               ".backstep-export.json", "tcx"}
    batch = batch_dir(result)
    assert batch.parent == out / "exports"
    assert {p.name for p in batch.iterdir()} == {"sessions.csv", "samples.csv", "events.csv", "backstep.jsonl"}
    assert (batch / "sessions.csv").read_bytes() == (out / "sessions.csv").read_bytes()  # a first export

    sessions = read_csv(out / "sessions.csv")
    assert [int(r["session_id"]) for r in sessions] == [1, 2, 3, 4]
    first = sessions[0]
    assert first["member"] == "Ada Lovelace" and first["program_name"] == "Beginner flat"
    assert first["status"] == "completed" and first["pauses"] == "1" and first["emergency_stops"] == "0"
    assert first["pain_before"] == "3" and first["pain_after"] == "2"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d", first["started_at"])
    assert sessions[1]["member"] == "guest" and sessions[1]["emergency_stops"] == "1"
    # In phase 2 the fixture holds the rails every other second: 15 of the 30 seconds (25 walking
    # seconds paused off in session 1) -> hands-free share of the walking samples.
    assert float(sessions[1]["hands_free_percent"]) == pytest.approx(100 * 15 / 60, abs=0.1)
    assert sessions[2]["member"].startswith("'=")  # a formula typed as a name is not run by a spreadsheet
    assert sessions[1]["distance_source"] == "treadmill" and sessions[0]["distance_source"] == "estimated"

    samples = read_csv(batch / "samples.csv")
    assert len(samples) == 240 and samples[0]["mode"] == "running"
    events = read_csv(batch / "events.csv")
    assert {"pause", "emergency_stop", "phase_started", "start_refused"} <= {e["kind"] for e in events}
    assert any(e["session_id"] == "" and e["kind"] == "start_refused" for e in events)  # a station event

    lines = [json.loads(line) for line in (batch / "backstep.jsonl").read_text(encoding="utf-8").splitlines()]
    assert lines[0]["type"] == "export"
    kinds = [line["type"] for line in lines]
    assert kinds.count("session") == 4 and kinds.count("sample") == 240 and kinds.count("event") == len(events)
    session_line = next(line for line in lines if line["type"] == "session")
    assert session_line["program"]["id"] == "beginner-flat" and len(session_line["phases"]) == 2

    tcx_files = sorted((out / "tcx").iterdir())
    assert [p.name for p in tcx_files] == [
        "2026-11-21T08-00-00_session-1_beginner-flat.tcx", "2026-11-21T09-00-00_session-2_beginner-flat.tcx",
        "2026-11-21T10-00-00_session-3_beginner-flat.tcx", "2026-11-21T11-00-00_session-4_beginner-flat.tcx"]
    for path in tcx_files:
        doc = etree.parse(str(path))
        assert schema.validate(doc), schema.error_log.last_error
        parsed = tcxparser.TCXParser(str(path))
        assert parsed.activity_type == "other"
        assert len(parsed.time_values()) == 60
        assert len(parsed.activity.Lap) == 2
    measured = tcxparser.TCXParser(str(tcx_files[1]))
    assert measured.distance == pytest.approx(float(sessions[1]["distance_m"]), abs=0.01)
    assert measured.duration == 60  # seconds walked; this one had no pause
    assert measured.started_at.startswith("2026-11-21T09:00:00")

    manifest = json.loads((out / "manifest.json").read_text())
    listed = {f["path"]: f for f in manifest["files"]}
    in_batch = batch.relative_to(out).as_posix()
    assert set(listed) == {"sessions.csv", "README.txt", *(f"{in_batch}/{name}" for name in (
                           "sessions.csv", "samples.csv", "events.csv", "backstep.jsonl")),
                           *(f"tcx/{p.name}" for p in tcx_files)}
    for rel, entry in listed.items():
        data = (out / rel).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"] and len(data) == entry["bytes"]

    readme = (out / "README.txt").read_text()
    for name in ("sessions.csv", "samples.csv", "events.csv", "backstep.jsonl", "tcx/", "exports/", "manifest.json"):
        assert name in readme
    assert not list(out.rglob("*.partial"))


def test_xmllint_accepts_the_tcx_when_installed(tmp_path):
    """The CLI validator a therapist's IT person would use (apt: libxml2-utils)."""
    xmllint = subprocess.run(["which", "xmllint"], capture_output=True, text=True).stdout.strip()
    if not xmllint or not XSD.exists():
        pytest.skip("xmllint not installed (apt install libxml2-utils); lxml validates in the test above")
    db = tmp_path / "b.db"
    make_sessions(db, 2)
    export(db, tmp_path / "stick")
    files = sorted(str(p) for p in (station_dir(tmp_path / "stick") / "tcx").iterdir())
    done = subprocess.run([xmllint, "--noout", "--schema", str(XSD), *files], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_incremental_then_all_and_per_stick(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 3)
    stick_a, stick_b = tmp_path / "a", tmp_path / "b"
    assert export(db, stick_a).sessions == 3

    store = Store(db)
    add_session(store, start=T0 + 10 * 3600)
    add_session(store, start=T0 + 11 * 3600)
    store.close()
    second = export(db, stick_a)
    assert second.sessions == 2 and second.selection == "incremental"
    assert [r["session_id"] for r in read_csv(batch_dir(second) / "sessions.csv")] == ["4", "5"]
    # TCX files of the earlier export stay on the stick.
    assert len(list((station_dir(stick_a) / "tcx").iterdir())) == 5

    before = {p: p.stat().st_mtime_ns for p in station_dir(stick_a).rglob("*")}
    third = export(db, stick_a)
    assert third.nothing_new and third.sessions == 0 and "--all" in third.message
    assert {p: p.stat().st_mtime_ns for p in station_dir(stick_a).rglob("*")} == before  # nothing rewritten

    everything = export(db, stick_a, selection="all")
    assert everything.sessions == 5
    assert len(read_csv(station_dir(stick_a) / "sessions.csv")) == 5
    # Another stick has its own history: it gets everything.
    assert export(db, stick_b).sessions == 5
    # Deleting the marker makes a stick new again.
    (station_dir(stick_b) / ".backstep-export.json").unlink()
    assert export(db, stick_b).sessions == 5


def test_since_by_id_and_time_does_not_change_what_is_new(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 4)
    stick = tmp_path / "s"
    by_id = export(db, stick, selection="since", since="3")
    assert [r["session_id"] for r in read_csv(station_dir(stick) / "sessions.csv")] == ["3", "4"]
    assert by_id.sessions == 2
    by_time = export(db, stick, selection="since", since="2026-11-21T09:30:00+00:00")
    assert by_time.sessions == 2
    # --since is a one-off: the next plain export still brings everything to this stick.
    assert export(db, stick).sessions == 4
    with pytest.raises(ExportError, match="--since"):
        Exporter(db).export(stick, selection="since", since="last tuesday")


def test_running_session_waits_for_the_next_export(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 2)
    store = Store(db)
    running = add_session(store, start=T0 + 5 * 3600, close=False)
    store.flush()
    stick = tmp_path / "s"
    assert export(db, stick).sessions == 2
    # The export did not open the Store: the kiosk's session is still running, not "interrupted".
    conn = sqlite3.connect(db)
    assert conn.execute("select status from sessions where id = ?", (running,)).fetchone()[0] == "running"
    conn.close()
    store.close_session(running, status="completed", wall=T0 + 5 * 3600 + 60, active_seconds=60,
                        elapsed_seconds=60, phases_completed=2)
    store.close()
    later = export(db, stick)
    assert later.sessions == 1 and read_csv(batch_dir(later) / "sessions.csv")[0]["session_id"] == str(running)


def test_database_is_never_changed_beyond_the_export_tables(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 3)
    before = db_fingerprint(db)
    export(db, tmp_path / "s")
    export(db, tmp_path / "s", selection="all")
    assert db_fingerprint(db) == before
    conn = sqlite3.connect(db)
    tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
    assert {"exports", "export_keys"} <= tables
    assert conn.execute("select count(*) from exports").fetchone()[0] == 2
    conn.close()


def test_pseudonymized_members_are_stable_and_names_never_leave(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 4)  # members 7 (twice), a guest, member 9
    stick = tmp_path / "s"
    export(db, stick, pseudonymize_members=True)
    rows = read_csv(station_dir(stick) / "sessions.csv")
    members = [r["member"] for r in rows]
    assert re.fullmatch(r"M-[0-9A-F]{10}", members[0]) and members[0] == members[3]
    assert members[1] == "guest" and members[2] != members[0]
    assert all(r["member_id"] == "" for r in rows)
    for path in station_dir(stick).rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8-sig")
            assert "Lovelace" not in text and "HYPERLINK" not in text, path
    assert "pseudonymous" in (station_dir(stick) / "README.txt").read_text()
    # Same station, another export: the same ids.
    export(db, tmp_path / "t", pseudonymize_members=True)
    assert [r["member"] for r in read_csv(station_dir(tmp_path / "t") / "sessions.csv")] == members


def test_progress_and_cancel(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 4)
    stick = tmp_path / "s"
    stick.mkdir()
    seen = []
    ExportJob(db, stick, config()).run(lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 4) and seen[-1] == (4, 4) and [d for d, _ in seen] == sorted(d for d, _ in seen)

    other = tmp_path / "other"
    other.mkdir()
    job = ExportJob(db, other, config())

    def cancel_after_two(done, total):
        if done == 2:
            job.cancel()

    result = job.run(cancel_after_two)
    assert not result.ok and result.cancelled and "cancelled" in result.message
    leftovers = [p for p in other.rglob("*") if p.is_file()]
    assert leftovers == []  # nothing under a final name, and the .partial files were removed
    assert export(db, other).sessions == 4  # a cancelled export did not count


def test_pin_flag_is_exposed_and_on_by_default(tmp_path):
    assert ExportJob(tmp_path / "b.db", tmp_path, Config()).requires_pin is True
    assert ExportJob(tmp_path / "b.db", tmp_path, config(require_pin=False)).requires_pin is False


def test_links_on_the_stick_are_never_followed(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 2)
    elsewhere = tmp_path / "station-files"
    elsewhere.mkdir()
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "Backstep").symlink_to(elsewhere, target_is_directory=True)
    result = ExportJob(db, stick, config()).run()
    assert not result.ok and "link" in result.message and "\n" not in result.message
    assert list(elsewhere.iterdir()) == []

    # A marker that is a link to a file elsewhere is neither read nor written through.
    (stick / "Backstep").unlink()
    secret = tmp_path / "secret.json"
    secret.write_text('{"stick_id": "' + "a" * 32 + '"}')
    out = station_dir(stick)
    out.mkdir(parents=True)
    (out / ".backstep-export.json").symlink_to(secret)
    result = ExportJob(db, stick, config()).run()
    assert result.ok and result.stick_id != "a" * 32
    assert secret.read_text() == '{"stick_id": "' + "a" * 32 + '"}'
    assert not (out / ".backstep-export.json").is_symlink()

    # A link planted under a temporary name is removed, never written through.
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    (out / ".sessions.csv.partial").symlink_to(victim)
    # ...also under a TCX's temporary name (a TCX is created only when finished, on another thread).
    tcx = sorted((out / "tcx").glob("*.tcx"))[0]
    (tcx.parent / f".{tcx.name}.partial").symlink_to(victim)
    assert ExportJob(db, stick, config(), selection="all").run().ok
    assert victim.read_text() == "keep me"
    assert not list(out.rglob("*.partial"))


def test_station_folder_name_is_fat_safe(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 1, station_id='front desk: "A"?')
    result = export(db, tmp_path / "s", station='front desk: "A"?')
    assert Path(result.folder).name == "front desk_ _A__"
    assert (tmp_path / "s" / "Backstep" / "front desk_ _A__" / "sessions.csv").exists()


def test_missing_database_and_target_are_one_line_errors(tmp_path):
    result = ExportJob(tmp_path / "none.db", tmp_path, config()).run()
    assert not result.ok and "no database" in result.message
    db = tmp_path / "b.db"
    make_sessions(db, 1)
    result = ExportJob(db, tmp_path / "not-mounted", config()).run()
    assert not result.ok and "does not exist" in result.message
    assert not (tmp_path / "not-mounted").exists()  # never created: it could be the station's own disk


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=120)


def test_cli_exports_and_reports_in_one_line(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 2)
    stick = tmp_path / "stick"
    stick.mkdir()
    done = run_cli("export", "--to", str(stick), "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["ok"] and payload["sessions"] == 2 and payload["folder"].endswith("Backstep/backstep-1")
    again = run_cli("export", "--to", str(stick), "--db", str(db))
    assert again.returncode == 0 and "nothing new" in again.stdout
    everything = run_cli("export", "--to", str(stick), "--db", str(db), "--all")
    assert everything.returncode == 0 and "exported 2 session(s)" in everything.stdout
    missing = run_cli("export", "--to", str(tmp_path / "gone"), "--db", str(db))
    assert missing.returncode != 0 and missing.stderr.count("\n") == 1 and "Traceback" not in missing.stderr
    bad = run_cli("export", "--to", str(stick), "--db", str(db), "--since", "soon")
    assert bad.returncode != 0 and bad.stderr.startswith("backstep: --since") and "Traceback" not in bad.stderr


def test_member_without_id_keeps_a_stable_pseudonym(tmp_path):
    db = tmp_path / "b.db"
    store = Store(db)
    add_session(store, start=T0, member=Member(id=None, name="Walk-in Bob"))  # type: ignore[arg-type]
    store.close()
    result = export(db, tmp_path / "s", pseudonymize_members=True)
    row = read_csv(station_dir(tmp_path / "s") / "sessions.csv")[0]
    assert row["member"].startswith("M-")
    assert "Bob" not in io.open(batch_dir(result) / "backstep.jsonl", encoding="utf-8").read()


def test_count_new_tells_the_screen_what_an_export_would_bring(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 3)
    stick = tmp_path / "s"
    stick.mkdir()
    job = ExportJob(db, stick, config())
    assert job.count_new() == 3
    assert list(stick.iterdir()) == []  # looking wrote nothing
    job.run()
    assert ExportJob(db, stick, config()).count_new() == 0
    assert ExportJob(db, tmp_path / "missing", config()).count_new() is None


def test_a_file_in_the_way_is_a_one_line_error(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 1)
    stick = tmp_path / "s"
    stick.mkdir()
    (stick / "Backstep").write_text("not a folder")
    result = ExportJob(db, stick, config()).run()
    assert not result.ok and "in the way" in result.message and "\n" not in result.message
    assert (stick / "Backstep").read_text() == "not a folder"


def test_weekly_exports_keep_every_session_on_the_stick(tmp_path):
    """Two incremental exports to one stick: sessions.csv lists every session once; the first
    export's samples and events are still on the stick next to the second's."""
    db = tmp_path / "b.db"
    make_sessions(db, 3)
    stick = tmp_path / "stick"
    first = export(db, stick)
    store = Store(db)
    add_session(store, start=T0 + 10 * 3600)
    add_session(store, start=T0 + 11 * 3600)
    store.close()
    second = export(db, stick)
    assert second.sessions == 2
    rows = read_csv(station_dir(stick) / "sessions.csv")
    assert [r["session_id"] for r in rows] == ["1", "2", "3", "4", "5"]
    # Each row names the folder holding that session's samples and events.
    for result, ids in ((first, {"1", "2", "3"}), (second, {"4", "5"})):
        folder = batch_dir(result)
        relative = folder.relative_to(station_dir(stick)).as_posix()
        assert {r["session_id"] for r in rows if r["export_folder"] == relative} == ids
        assert {r["session_id"] for r in read_csv(folder / "samples.csv")} == ids
        assert {r["session_id"] for r in read_csv(folder / "events.csv") if r["session_id"]} == ids
    # An export of everything again: still one row per session.
    export(db, stick, selection="all")
    assert [r["session_id"] for r in read_csv(station_dir(stick) / "sessions.csv")] == ["1", "2", "3", "4", "5"]


def test_sessions_from_an_older_database_stay_on_the_stick(tmp_path):
    """The stick may hold sessions from a database since replaced (ids start again at 1): their
    rows are kept; a session is the same only with the same id *and* start time."""
    old_db, new_db = tmp_path / "old.db", tmp_path / "new.db"
    make_sessions(old_db, 2)
    stick = tmp_path / "stick"
    export(old_db, stick)
    store = Store(new_db)
    add_session(store, start=T0 + 30 * 24 * 3600)
    store.close()
    export(new_db, stick)
    rows = read_csv(station_dir(stick) / "sessions.csv")
    assert [r["session_id"] for r in rows] == ["1", "2", "1"]
    assert len({r["started_at"] for r in rows}) == 3


def test_a_sessions_file_that_cannot_be_read_is_kept_aside(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 1)
    out = station_dir(tmp_path / "stick")
    out.mkdir(parents=True)
    (out / "sessions.csv").write_bytes(b"not,our,header\r\n1,2,3\r\n")
    export(db, tmp_path / "stick")
    assert [r["session_id"] for r in read_csv(out / "sessions.csv")] == ["1"]
    (kept,) = out.glob("sessions-kept-*.csv")
    assert kept.read_bytes() == b"not,our,header\r\n1,2,3\r\n"


def test_every_figure_in_the_export_is_the_one_the_database_holds(tmp_path):
    """sessions.csv, the TCX laps and the stored session statistics tell the same numbers."""
    db = tmp_path / "b.db"
    make_sessions(db, 4)
    conn = sqlite3.connect(db)
    with conn:  # as the station records it: a sample at each end, so 61 samples for a 60 s session
        for sid in (1, 2):
            conn.execute("insert into samples (session_id, t, at, mode, phase_idx, target_speed_kmh, "
                         "actual_speed_kmh, incline_pct, rails_held, lanyard_clipped, distance_m) "
                         "select session_id, t + 1, at, mode, phase_idx, target_speed_kmh, actual_speed_kmh, "
                         "incline_pct, rails_held, lanyard_clipped, distance_m from samples "
                         "where session_id = ? order by t desc limit 1", (sid,))
    conn.close()
    result = export(db, tmp_path / "stick")
    rows = {int(r["session_id"]): r for r in read_csv(station_dir(tmp_path / "stick") / "sessions.csv")}
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    ns = {"t": "http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2"}
    for sid, row in rows.items():
        session = conn.execute("select * from sessions where id = ?", (sid,)).fetchone()
        stats = conn.execute("select * from session_stats where session_id = ?", (sid,)).fetchone()
        assert stats["distance_m"] == pytest.approx(float(row["distance_m"]))
        assert row["distance_source"] == stats["distance_source"]
        if session["distance_m"] is not None:
            assert float(row["distance_m"]) == pytest.approx(session["distance_m"])
        assert float(row["hands_free_percent"]) == pytest.approx(round(100 * stats["hands_free_share"], 1))
        assert int(row["emergency_stops"]) == stats["emergency_stops"]
        laps = etree.parse(str(station_dir(tmp_path / "stick") / row["tcx_file"])).findall(".//t:Lap", ns)
        lap_seconds = sum(float(lap.find("t:TotalTimeSeconds", ns).text) for lap in laps)
        lap_meters = sum(float(lap.find("t:DistanceMeters", ns).text) for lap in laps)
        assert lap_seconds == pytest.approx(session["active_seconds"], abs=0.002)
        assert lap_meters == pytest.approx(float(row["distance_m"]), abs=0.002)
    assert result.sessions == 4


def test_charts_of_unchanged_histories_are_not_drawn_again(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 3)  # members 7 and 9 and a guest
    stick = tmp_path / "stick"
    stick.mkdir()
    drawn = []

    def renderer(history, title):
        drawn.append(title)
        return b"\x89PNG " + title.encode()

    def export_all():
        result = Exporter(db, charts=renderer).export(stick, selection="all")
        assert result.ok, result.message

    export_all()
    assert sorted(drawn) == ["=HYPERLINK(\"http://x\")", "Ada Lovelace"]
    export_all()
    assert len(drawn) == 2  # the same histories: the charts on the stick stay as they are
    charts = station_dir(stick) / "charts"
    assert {p.name for p in charts.iterdir()} == {"member-7.png", "member-9.png"}
    (charts / "member-7.png").unlink()  # removed on a computer: drawn again
    store = Store(db)
    add_session(store, start=T0 + 20 * 3600, member=Member(id=9, name="=HYPERLINK(\"http://x\")"))
    store.close()
    export_all()
    assert sorted(drawn[2:]) == ["=HYPERLINK(\"http://x\")", "Ada Lovelace"]  # 7: file gone; 9: a new session
    assert (charts / "member-7.png").exists()
