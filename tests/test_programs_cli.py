"""``backstep programs list | show | check``: what a therapist sees, and the exit codes scripts rely on."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import main
from app.shell.library import builtin_programs_dir

FIXTURES = Path(__file__).parent / "fixtures" / "programs"
LINE = re.compile(r"^(?P<file>[^:]+):(?:(?P<line>\d+):)? (?P<sev>error|warning): (?P<field>[^:]+): (?P<msg>.+)$")


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Defaults for config and the station's own programs, whatever the developer's machine holds."""
    monkeypatch.delenv("BACKSTEP_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("BACKSTEP_PROGRAMS", str(tmp_path / "user-programs"))


def run(capsys, *argv):
    code = main(["programs", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def problems_in(out: str) -> list[dict]:
    found = []
    for line in out.splitlines():
        if line.startswith("OK: "):
            continue
        match = LINE.match(line)
        assert match, f"not a one-line problem: {line!r}"
        found.append(match.groupdict())
    return found


# --------------------------------------------------------------------------------------------
# check


def test_check_every_builtin_exits_zero():
    files = sorted(str(p) for p in builtin_programs_dir().glob("*.toml"))
    assert main(["programs", "check", *files]) == 0


def test_check_a_good_file_says_ok_with_phases_and_minutes(capsys):
    path = str(builtin_programs_dir() / "forward-backward-intervals.toml")
    code, out, _ = run(capsys, "check", path)
    assert code == 0
    assert out.strip() == f"OK: {path} (13 phases, 17 min)"


# (fixture, expected (line, field) of the first error, words the message must hold)
BROKEN = [
    ("syntax-error.toml", 13, "TOML", "syntax"),
    ("unknown-field.toml", 5, "level", "unknown field"),
    ("missing-field.toml", None, "units", "missing"),
    ("wrong-type.toml", 10, "phases[1].speed", "must be a number"),
    ("bad-direction.toml", 8, "phases[1].direction", '"backward" or "forward"'),
    ("speed-above-cap.toml", 18, "phases[2].speed", "at most 4.5 mph"),
    ("zero-duration.toml", 9, "phases[1].seconds", "at least 10 seconds"),
    ("over-two-hours.toml", 9, "phases[1].minutes", "2 hours"),
]


@pytest.mark.parametrize("name, line, field, words", BROKEN, ids=[b[0] for b in BROKEN])
def test_check_a_broken_file_names_file_line_field_and_what_is_allowed(capsys, name, line, field, words):
    path = str(FIXTURES / name)
    code, out, err = run(capsys, "check", path)
    assert code == 1
    assert "OK:" not in out and err == ""
    problems = problems_in(out)
    first = problems[0]
    assert first["file"] == path and first["sev"] == "error"
    assert (int(first["line"]) if first["line"] else None, first["field"]) == (line, field)
    assert words in first["msg"]


def test_check_reports_every_problem_sorted_by_line(capsys):
    code, out, _ = run(capsys, "check", str(FIXTURES / "unknown-field.toml"))
    assert code == 1
    problems = problems_in(out)
    assert [(p["line"], p["field"]) for p in problems] == [("5", "level"), ("7", "phases[1].speed"), ("13", "phases[1].sped")]
    code, out, _ = run(capsys, "check", str(FIXTURES / "bad-direction.toml"))
    assert [p["field"] for p in problems_in(out)] == ["phases[1].direction", "phases[1].rails"]


def test_check_warnings_alone_exit_zero(capsys):
    path = str(FIXTURES / "warnings-only.toml")
    code, out, _ = run(capsys, "check", path)
    assert code == 0
    problems = problems_in(out)
    assert [(p["line"], p["sev"]) for p in problems] == [("11", "warning")]
    assert out.splitlines()[-1] == f"OK: {path} (1 phase, 2 min)"


@pytest.mark.parametrize("kind", ["missing", "folder", "latin-1", "unreadable"])
def test_check_a_file_it_cannot_read_gives_one_line(capsys, tmp_path, kind):
    if kind == "missing":
        path, words = tmp_path / "nope.toml", "not found"
    elif kind == "folder":
        path, words = tmp_path / "empty", "no .toml"
        path.mkdir()
    elif kind == "latin-1":
        path, words = tmp_path / "latin1.toml", "not UTF-8"
        path.write_bytes('id = "x"\nname = "Caf\u00e9"\n'.encode("latin-1"))
    else:
        path, words = tmp_path / "locked.toml", "permission"
        path.write_text('id = "x"\n')
        path.chmod(0)
        try:
            path.read_bytes()
            pytest.skip("running as root: permissions do not stop reading")
        except PermissionError:
            pass
    code, out, err = run(capsys, "check", str(path))
    assert code == 1
    lines = (out + err).strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and words in lines[0]


def test_check_several_files_exits_nonzero_if_any_has_an_error(capsys):
    good = str(builtin_programs_dir() / "beginner-flat.toml")
    bad = str(FIXTURES / "zero-duration.toml")
    code, out, _ = run(capsys, "check", good, bad)
    assert code == 1
    assert f"OK: {good} (3 phases, 4 min)" in out
    assert out.splitlines()[-1] == "1 of 2 files have errors"


def test_check_a_folder_checks_each_file_in_it(capsys):
    code, out, _ = run(capsys, "check", str(builtin_programs_dir()))
    assert code == 0
    assert out.count("OK: ") == len(list(builtin_programs_dir().glob("*.toml")))


def test_check_uses_the_station_caps_from_the_config(capsys, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[safety]\nunits = "mph"\nbackward_speed = 3.0\n')
    path = str(builtin_programs_dir() / "backward-jog-intervals.toml")
    code = main(["--config", str(config), "programs", "check", path])
    out, _ = capsys.readouterr()
    assert code == 1 and "at most 3.0 mph" in out


def test_the_installed_command_prints_no_traceback(tmp_path):
    # The console script end to end: one line per problem, exit 1, nothing on stderr.
    result = subprocess.run(
        [sys.executable, "-m", "app", "programs", "check", str(FIXTURES / "syntax-error.toml")],
        capture_output=True, text=True, cwd=Path(__file__).parent.parent, timeout=60,
        env={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path), "HOME": str(tmp_path)},
    )
    assert result.returncode == 1
    assert result.stderr == ""
    assert result.stdout.count("\n") == 1 and "syntax-error.toml:13: error: TOML:" in result.stdout


# --------------------------------------------------------------------------------------------
# list


def test_list_shows_id_name_minutes_units_and_audience(capsys):
    code, out, err = run(capsys, "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "MIN", "UNITS", "FOR"]
    assert lines[1].startswith("beginner-flat ")
    assert re.search(r"^beginner-flat\s+Beginner flat\s+4\s+mph\s+New to backward walking$", out, re.M)
    assert re.search(r"^knee-oa-10\s+.*\s10\s+km/h\s+", out, re.M)
    assert re.search(r"^backward-jog-intervals\s+Backward jogging intervals \(advanced\)", out, re.M)


def test_list_json_is_a_list_of_programs(capsys):
    code, out, _ = run(capsys, "list", "--json")
    assert code == 0
    programs = json.loads(out)
    assert programs[0]["id"] == "beginner-flat"
    first = programs[0]
    assert first["units"] == "mph" and first["minutes"] == 4 and first["phases"] == 3
    assert first["audience"] == "New to backward walking" and first["advanced"] is False
    assert all(p["description"] and p["audience"] for p in programs)


def test_list_warns_about_a_broken_file_and_still_lists_the_rest(capsys, tmp_path, monkeypatch):
    folder = tmp_path / "user-programs"
    folder.mkdir()
    (folder / "wrong-type.toml").write_text((FIXTURES / "wrong-type.toml").read_text())
    code, out, err = run(capsys, "list", "--json")
    assert code == 0
    assert "beginner-flat" in [p["id"] for p in json.loads(out)]
    [warning] = err.strip().splitlines()
    assert "not loaded" in warning and "wrong-type.toml:10" in warning and "programs check" in warning


# --------------------------------------------------------------------------------------------
# show


def test_show_lists_phases_in_the_program_units(capsys):
    code, out, _ = run(capsys, "show", "incline-ladder")
    assert code == 0
    assert out.startswith("Incline ladder (incline-ladder)\nFor: Comfortable at 2 km/h")
    assert re.search(r"^\s*1\s+Warm-up\s+backward\s+2:00\s+1\.2 km/h\s+0 %\s+required\s+Toes first", out, re.M)
    assert re.search(r"^\s*7\s+Up to 5 %\s+backward\s+1:00\s+2\.0 km/h\s+5 %\s+required", out, re.M)


def test_show_a_repeat_program_as_rounds(capsys):
    code, out, _ = run(capsys, "show", "forward-backward-intervals")
    assert code == 0
    assert "Intervals: 3 rounds of 5:00 (15:00 in all):" in out
    # One round's steps, once each, after the heading, indented under it.
    table = out[out.index("PHASE"):].splitlines()
    heading = next(i for i, line in enumerate(table) if "rounds of" in line)
    rows = [line for line in table if re.match(r"^\s*\d+  ", line)]
    assert len(rows) == 5  # warm-up, then one round's four steps once each
    assert table[heading + 1] == rows[1]
    assert re.match(r"^2    Backward walk\s+backward\s+2:00\s+1\.0 mph\s+0 %\s+required\s+Toes first", rows[1])
    assert re.match(r"^3    Slow down to turn\s+backward\s+0:30\s+0\.6 mph", rows[2])
    assert re.match(r"^5    Slow down to turn\s+forward\s+0:30\s+1\.0 mph", rows[4])


def test_show_json_keeps_repeat_blocks(capsys):
    code, out, _ = run(capsys, "show", "backward-jog-intervals", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["advanced"] is True and data["seconds"] == 21 * 60
    block = data["entries"][2]
    assert block["name"] == "Intervals" and block["repeat"] == 5
    assert [s["name"] for s in block["steps"]] == ["Jog", "Recover"]
    assert block["steps"][0]["speed"] == 3.8 and block["steps"][0]["rails"] == "optional"


def test_show_a_file_by_path(capsys):
    path = str(builtin_programs_dir() / "knee-oa-10.toml")
    code, out, _ = run(capsys, "show", path)
    assert code == 0 and out.startswith("Knee OA: 10 minutes (knee-oa-10)")


def test_show_an_unknown_id_lists_the_ids_there_are(capsys):
    code, out, err = run(capsys, "show", "beginer-flat")
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert "'beginer-flat'" in err and "beginner-flat" in err and "knee-oa-10" in err


def test_show_a_broken_file_prints_its_problems(capsys):
    code, out, err = run(capsys, "show", str(FIXTURES / "speed-above-cap.toml"))
    assert code == 1 and out == ""
    assert "speed-above-cap.toml:18: error: phases[2].speed" in err


def test_programs_without_a_subcommand_prints_help(capsys):
    code, out, _ = run(capsys)
    assert code == 2 and "check" in out and "list" in out


# --------------------------------------------------------------------------------------------
# hostile files (findings 1-3)


def test_check_a_fifo_says_so_at_once_instead_of_hanging(capsys, tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    start = time.monotonic()
    code, out, err = run(capsys, "check", str(fifo))
    assert time.monotonic() - start < 5
    assert code == 1
    [line] = (out + err).strip().splitlines()
    assert str(fifo) in line and "not a regular file" in line


def test_check_a_200000_phase_file_is_refused_quickly_in_one_line(capsys, tmp_path):
    """Finding 3: a 200,000-phase file was accepted after 10.8 s and 450 MB."""
    phase = '[[phases]]\ndirection = "backward"\nseconds = 10\nspeed = 0.5\nrails = "required"\n'
    path = tmp_path / "huge.toml"
    path.write_text('id = "huge"\nname = "Huge"\nunits = "mph"\n' + phase * 200_000)
    start = time.monotonic()
    code, out, _ = run(capsys, "check", str(path))
    assert time.monotonic() - start < 2
    assert code == 1
    [problem] = problems_in(out)
    assert problem["field"] == "file" and "65,536 bytes" in problem["msg"]
    # Under the size bound, a repeat that unrolls to thousands of phases is refused before unrolling.
    path.write_text('id = "huge"\nname = "Huge"\nunits = "mph"\n' + phase.replace("seconds = 10", "seconds = 60")
                    + "[[phases]]\nrepeat = 50\n" + phase.replace("[[phases]]", "[[phases.steps]]") * 100)
    start = time.monotonic()
    code, out, _ = run(capsys, "check", str(path))
    assert time.monotonic() - start < 2
    [problem] = problems_in(out)
    assert code == 1 and problem["field"] == "phases" and "5,001 phases" in problem["msg"]


def test_check_exits_nonzero_with_one_line_per_problem_for_the_start_rule_bypass(capsys, tmp_path):
    """Finding 1: 0.001 s at 0.5 mph then 4.5 mph backward passed `check` with only a warning."""
    path = tmp_path / "bypass.toml"
    path.write_text('id = "bypass"\nname = "Bypass"\nunits = "mph"\n'
                    '[[phases]]\ndirection = "backward"\nseconds = 0.001\nspeed = 0.5\nrails = "required"\n'
                    '[[phases]]\ndirection = "backward"\nminutes = 10\nspeed = 4.5\nrails = "required"\n')
    code, out, _ = run(capsys, "check", str(path))
    assert code == 1 and "OK:" not in out
    problems = problems_in(out)
    assert problems and all(p["sev"] == "error" for p in problems)
    assert problems[0]["line"] == "6" and problems[0]["field"] == "phases[1].seconds"


@pytest.mark.parametrize("value", ["9" * 401, "nan", "inf", "[" * 500 + "]" * 500])
def test_list_and_check_survive_an_absurd_number_in_the_programs_folder(capsys, tmp_path, value):
    """Finding 2: such a file in the station's folder crashed `programs list` (and `run`)."""
    folder = tmp_path / "user-programs"
    folder.mkdir()
    text = (builtin_programs_dir() / "beginner-flat.toml").read_text()
    path = folder / "bad.toml"
    path.write_text(text.replace('id = "beginner-flat"', 'id = "bad"').replace("speed = 0.5", f"speed = {value}", 1))
    code, out, err = run(capsys, "list")
    assert code == 0 and "beginner-flat" in out and "bad" not in out.split()
    [warning] = err.strip().splitlines()
    assert "bad.toml" in warning and len(warning) < 400
    code, out, err = run(capsys, "check", str(path))
    assert code == 1
    assert len(out.strip().splitlines()) == 1 and len(out) < 400
