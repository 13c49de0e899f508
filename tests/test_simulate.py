"""``backstep simulate`` (docs/commands.md, Simulation scripts): the real core, store and simulated GPIO on a script clock."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from app.cli import main
from conftest import wait_for

FIXTURES = Path(__file__).parent / "fixtures"
PROGRAM = str(FIXTURES / "two-phase.toml")
START = "0 lanyard clipped\n0 rails held\n1 tap start\n"  # countdown 3 s: the session starts at 4


def simulate(tmp_path, script: str, capsys, *extra) -> dict:
    path = tmp_path / "script.txt"
    path.write_text(script)
    code = main(["simulate", "--program", PROGRAM, "--script", str(path), "--db", str(tmp_path / "s.db"), "--json", *extra])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_a_clean_run_completes_every_phase(tmp_path, capsys):
    result = simulate(tmp_path, START, capsys)
    assert result["status"] == "completed"
    assert result["phases_completed"] == result["phases_total"] == 3
    assert result["active_seconds"] == pytest.approx(240)
    assert result["pauses"] == [] and result["emergency_stops"] == []
    # 1 Hz samples for the whole session, stored in the database
    assert result["samples"] >= 240


@pytest.mark.parametrize("release_at, regrip_at", [(30, 35), (70, 80), (100, 101.5)])
def test_releasing_the_rails_too_early_pauses_then_resumes_on_time(tmp_path, capsys, release_at, regrip_at):
    script = START + f"{release_at} rails released\n{regrip_at} rails held\n"
    result = simulate(tmp_path, script, capsys)
    grace, hold, countdown = 1.0, 2.0, 3.0  # SafetyConfig defaults
    assert result["pauses"] == [{"reason": "rails released", "at": release_at + grace,
                                 "resumed_at": regrip_at + hold + countdown}]
    assert result["status"] == "completed"
    # program time excludes the pause
    paused = (regrip_at + hold + countdown) - (release_at + grace)
    assert result["elapsed_seconds"] == pytest.approx(240 + paused, abs=1.0)


def test_a_regrip_within_the_grace_time_does_not_pause(tmp_path, capsys):
    result = simulate(tmp_path, START + "30 rails released\n30.5 rails held\n", capsys)
    assert result["pauses"] == []
    kinds = [e["kind"] for e in result["events"]]
    assert "rails_released" in kinds and "rails_held" in kinds


def test_releasing_the_rails_in_an_optional_phase_never_pauses(tmp_path, capsys):
    # the optional phase runs from 184 to 244 on the script clock
    result = simulate(tmp_path, START + "200 rails released\n", capsys)
    assert result["pauses"] == [] and result["status"] == "completed"


def test_a_lanyard_pull_is_an_emergency_stop_that_ends_the_session(tmp_path, capsys):
    result = simulate(tmp_path, START + "50 lanyard pulled\n60 tap confirm\n61 lanyard clipped\n62 tap confirm\n70 end\n", capsys)
    assert result["status"] == "emergency_stop"
    assert result["emergency_stops"] == [{"at": 50.0}]
    kinds = [e["kind"] for e in result["events"]]
    # the first confirm, with the lanyard still out, is refused; the second clears the latch
    assert kinds.index("confirm_refused") < kinds.index("lanyard_clipped") < kinds.index("estop_cleared")
    assert result["active_seconds"] == pytest.approx(46)


def test_a_lost_link_pauses_and_waits_for_a_person(tmp_path, capsys):
    result = simulate(tmp_path, START + "100 link lost\n105 link restored\n150 tap resume\n", capsys)
    assert result["pauses"] == [{"reason": "link lost", "at": 100.0, "resumed_at": 153.0}]
    assert result["status"] == "completed"


def test_a_rails_pause_that_loses_the_link_is_listed_once_with_its_reason_change(tmp_path, capsys):
    script = START + "30 rails released\n32 rails held\n33 link lost\n40 link restored\n41 tap resume\n"
    result = simulate(tmp_path, script, capsys)
    assert result["pauses"] == [{"reason": "rails released", "at": 31.0, "resumed_at": 44.0,
                                 "reason_changes": [{"at": 33.0, "reason": "link lost"}]}]
    changed = [e for e in result["events"] if e["kind"] == "pause_reason_changed"]
    assert [(e["at"], e["detail"]["was"], e["detail"]["reason"]) for e in changed] == [
        (33.0, "rails released", "link lost")]
    assert result["status"] == "completed"


@pytest.mark.parametrize("line", ["4 lanyard pulled", "4 rails released"])
def test_a_stop_event_exactly_as_the_start_countdown_ends_never_starts_the_session(tmp_path, capsys, line):
    """The countdown ends at 4: an event at that very instant is ordered before the start (the
    safe outcome wins a tie), so the belt is never told to move."""
    result = simulate(tmp_path, START + line + "\n10 end\n", capsys)
    kinds = [e["kind"] for e in result["events"]]
    assert result["status"] == "not_started" and "session_started" not in kinds
    assert ("emergency_stop" if "lanyard" in line else "start_cancelled") in kinds


def test_start_is_refused_without_the_lanyard(tmp_path, capsys):
    result = simulate(tmp_path, "0 rails held\n1 tap start\n10 end\n", capsys)
    assert result["status"] == "not_started" and result["session_id"] is None
    refused = [e for e in result["events"] if e["kind"] == "start_refused"]
    assert refused and "lanyard not clipped" in refused[0]["detail"]["reasons"]


def test_the_script_ending_mid_session_leaves_it_interrupted(tmp_path, capsys):
    result = simulate(tmp_path, START + "20 end\n", capsys)
    assert result["status"] == "interrupted"
    assert result["active_seconds"] == pytest.approx(16)


def test_a_bad_script_names_file_and_line(tmp_path, capsys):
    path = tmp_path / "bad.txt"
    path.write_text("0 lanyard clipped\nten rails held\n5 rails sideways\n3 tap start\n4 jump\n")
    code = main(["simulate", "--program", PROGRAM, "--script", str(path), "--db", str(tmp_path / "s.db")])
    err = capsys.readouterr().err
    assert code != 0
    assert f"{path}:2: 'ten' is not a time" in err
    assert f"{path}:3: 'rails' needs one of: held | released" in err
    assert f"{path}:5: unknown command 'jump'" in err
    assert "Traceback" not in err


def test_a_missing_script_is_one_line(tmp_path, capsys):
    code = main(["simulate", "--program", PROGRAM, "--script", str(tmp_path / "nope.txt"), "--db", str(tmp_path / "s.db")])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1 and "script not found" in err


@pytest.mark.slow
def test_kill_9_mid_session_loses_at_most_about_two_seconds(tmp_path):
    """A real-time simulation killed with SIGKILL leaves a sound database; the session is marked
    interrupted the next time the store opens, with its samples up to the last second or two."""
    db = tmp_path / "crash.db"
    script = tmp_path / "script.txt"
    script.write_text(START + "400 end\n")
    env = {**os.environ, "BACKSTEP_CONFIG": str(tmp_path / "none.toml")}
    env.pop("BACKSTEP_CONFIG")
    proc = subprocess.Popen([sys.executable, "-m", "app", "simulate", "--program", PROGRAM, "--script", str(script),
                             "--db", str(db), "--speed", "1"], env=env, cwd=Path(__file__).parent.parent)
    try:
        def samples() -> int:
            if not db.exists():
                return 0
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                    return conn.execute("select count(*) from samples").fetchone()[0]
            except sqlite3.Error:
                return 0

        assert wait_for(lambda: samples() >= 4, 30, interval=0.25), "the simulation never got going"
        time.sleep(1.3)
        proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("select status from sessions").fetchone()[0] == "running"
    from app.shell.store import Store

    store = Store(db)
    row = next(store.sessions())
    assert row["status"] == "interrupted"
    last = store.samples(row["id"])[-1]
    last_at = datetime.fromisoformat(last["at"]).timestamp()
    assert killed_at - last_at <= 2.5, f"{killed_at - last_at:.2f} s of samples lost"
    # no gaps: one sample per second up to the last one
    assert [s["t"] for s in store.samples(row["id"])] == list(range(int(last["t"]) + 1))


def builtin_ids():
    from app.shell.library import load_library

    return [p.id for p in load_library(include_user_dir=False).programs]


@pytest.mark.slow
@pytest.mark.parametrize("program_id", builtin_ids())
def test_every_builtin_program_runs_to_the_end_in_the_simulator(tmp_path, capsys, program_id):
    """Every built-in program runs, each built-in through the simulator to the end. Turnarounds between
    directions stop the belt; holding the rails resumes after them."""
    path = tmp_path / "script.txt"
    path.write_text(START)
    code = main(["simulate", "--program", program_id, "--script", str(path), "--db", str(tmp_path / "s.db"), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert result["status"] == "completed", result["status"]
    assert result["phases_completed"] == result["phases_total"] > 0
    assert result["emergency_stops"] == [] and result["pauses"] == []


# --- hostile scripts (finding 4) ---------------------------------------------------------------


def run_bad(tmp_path, capsys, content, name="bad.txt"):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    code = main(["simulate", "--program", PROGRAM, "--script", str(path), "--db", str(tmp_path / "s.db")])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err, path


@pytest.mark.parametrize("time_text", ["1e308", "1e400", "inf", "nan", "-1", "1_0", "١٠", "１０", "0x10", "1e3", "+5"])
def test_a_time_that_is_not_plain_digits_or_too_large_is_one_line(tmp_path, capsys, time_text):
    """1e308 gave an OverflowError traceback when stored; 1_0 and Arabic-Indic digits were accepted."""
    code, err, path = run_bad(tmp_path, capsys, f"0 lanyard clipped\n{time_text} tap start\n")
    assert code != 0
    assert err.count("\n") == 1 and f"{path}:2: " in err and "time" in err


def test_tabs_after_the_time_and_a_byte_order_mark_are_fine(tmp_path, capsys):
    """A tab after the time and a UTF-8 BOM were refused as "not a time"."""
    script = "\ufeff0\tlanyard clipped\n0 \t rails held\n1\ttap\tstart\n"
    result = simulate(tmp_path, script, capsys)
    assert result["status"] == "completed"


def test_a_bad_score_says_what_is_allowed_not_pythons_message(tmp_path, capsys):
    code, err, path = run_bad(tmp_path, capsys, START + "2 score before ten\n3 score after 11\n4 score effort ٣\n")
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 3
    for line in lines:
        assert "whole number 0-10" in line and "invalid literal" not in line


def test_an_error_line_echoes_a_short_value(tmp_path, capsys):
    huge = "x" * 100_000
    code, err, _ = run_bad(tmp_path, capsys, f"0 lanyard clipped\n{huge} tap start\n1 tap {huge}\n2 {huge}\n")
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 3 and all(len(line) < 300 for line in lines)


def test_a_flood_of_bad_lines_lists_twenty_then_a_count(tmp_path, capsys):
    code, err, _ = run_bad(tmp_path, capsys, "nope\n" * 1000)
    lines = err.strip().splitlines()
    assert code != 0 and len(lines) == 21 and "980 more problems" in lines[-1]


def test_a_script_must_be_a_regular_file_of_bounded_size(tmp_path, capsys):
    from app.shell.script import MAX_SCRIPT_BYTES

    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    start = time.monotonic()
    code = main(["simulate", "--program", PROGRAM, "--script", str(fifo), "--db", str(tmp_path / "s.db")])
    err = capsys.readouterr().err
    assert time.monotonic() - start < 5 and code != 0 and "not a regular file" in err
    code, err, _ = run_bad(tmp_path, capsys, START + "#" * MAX_SCRIPT_BYTES + "\n")
    assert code != 0 and err.count("\n") == 1 and f"{MAX_SCRIPT_BYTES:,} bytes" in err


def test_a_paused_session_ends_after_the_maximum_pause_not_at_a_late_end(tmp_path, capsys):
    """A paused session followed by a very late ``end`` wrote samples for the whole script time."""
    from app.shell.simulate import MAX_PAUSE_S

    result = simulate(tmp_path, START + "10 tap pause\n80000 end\n", capsys)
    assert result["status"] == "interrupted"
    assert result["elapsed_seconds"] == pytest.approx(6 + MAX_PAUSE_S, abs=1.0)
    assert result["samples"] <= 6 + MAX_PAUSE_S + 2
    closing = [e for e in result["events"] if "paused for more than" in json.dumps(e)]
    assert closing or result["status"] == "interrupted"


def test_a_pause_shorter_than_the_limit_resumes_as_before(tmp_path, capsys):
    from app.shell.simulate import MAX_PAUSE_S

    resume_at = 10 + MAX_PAUSE_S - 60
    result = simulate(tmp_path, START + f"10 tap pause\n{resume_at:g} tap resume\n", capsys)
    assert result["status"] == "completed"


# --- one number rule and the script parser, as properties ---------------------------------------

from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from app.core.numbers import NumberError, parse_decimal, parse_whole  # noqa: E402
from app.shell.script import MAX_SCRIPT_SECONDS, Command, ScriptError, parse_command, parse_script  # noqa: E402

_SCRIPT_WORDS = st.sampled_from(["0", "1.5", "95", "1e308", "1_0", "١٠", "\ufeff3", "\t", " ", "tap", "start",
                                 "rails", "held", "score", "after", "7", "11", "end", "#", "lanyard", "pulled",
                                 "x" * 200, "-1", "nan", ".5", "5.", "\u00a0", "\x00"])
_TIMES = st.one_of(_SCRIPT_WORDS, st.sampled_from(["1e308", "1_0", "١٠", "inf", "1e3", "86401", "0.25"]),
                   st.integers(0, 10**400).map(str))
_COMMANDS = st.sampled_from(["tap start", "rails held", "score after 7", "score before ٣", "end", "link lost"])
_SCRIPT_LINES = st.one_of(
    st.text(max_size=80),
    st.lists(_SCRIPT_WORDS, max_size=6).map(" ".join),
    st.tuples(_TIMES, st.sampled_from([" ", "\t", " \t "]), _COMMANDS).map("".join),
)


@settings(max_examples=400, deadline=None)
@given(line=_SCRIPT_LINES)
def test_any_script_line_is_a_command_or_one_short_line_of_error(line):
    try:
        parsed = parse_script(line, "s.txt")  # (a Unicode line break makes two lines: fine)
    except ScriptError as exc:
        assert len(exc.problems) >= 1
        for problem in exc.problems:
            assert problem.startswith("s.txt") and "\n" not in problem and len(problem) < 300
            assert "Traceback" not in problem and "invalid literal" not in problem
        return
    for item in parsed:
        assert 0 <= item.seconds <= MAX_SCRIPT_SECONDS
        assert isinstance(item.command, Command)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
@example(text="0" * 19 + "\x1b" * 6 + "\U0001123f" * 8)   # escapes made the echo 200 characters long
def test_any_sim_control_command_is_a_command_or_a_short_value_error(text):
    try:
        command = parse_command(text)
    except ValueError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 200
        return
    assert command.what


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=40))
def test_the_number_rule_accepts_only_ascii_digits_with_a_fraction(text):
    try:
        value = parse_decimal(text, maximum=1000.0)
    except NumberError as exc:
        assert "\n" not in str(exc)
        return
    core = text.strip().lstrip("\ufeff").strip()
    assert core and set(core) <= set("0123456789.") and core.count(".") <= 1
    assert 0 <= value <= 1000.0 and value == float(core)


@pytest.mark.parametrize("text, value", [("95", 95.0), (" 0.5\t", 0.5), ("\ufeff12", 12.0), (".5", 0.5), ("5.", 5.0)])
def test_the_number_rule_examples(text, value):
    assert parse_decimal(text, maximum=100) == value


@pytest.mark.parametrize("text", ["1_0", "١٠", "1e3", "inf", "nan", "-1", "+1", "", ".", "1.2.3", "101", "9" * 400])
def test_the_number_rule_refusals(text):
    with pytest.raises(NumberError):
        parse_decimal(text, maximum=100)


def test_whole_numbers_for_scores():
    assert parse_whole(" 7 ", minimum=0, maximum=10) == 7
    for bad in ("11", "7.0", "٣", "-1", "x"):
        with pytest.raises(NumberError, match="whole number 0-10"):
            parse_whole(bad, minimum=0, maximum=10)
