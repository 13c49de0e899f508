"""The command line behaves as sqlite-utils' (click's) does: --json is one JSON array, --nl is one
object per line, a bare ``backstep`` is a usage error on stderr, and a display that cannot open is one
line saying what to do, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from test_export_fixtures import make_sessions

ROOT = Path(__file__).resolve().parent.parent


def _backstep(*argv: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *argv], capture_output=True, text=True, cwd=ROOT,
                          env=env or dict(os.environ), timeout=timeout)


def test_bare_backstep_is_a_usage_error_on_stderr():
    result = _backstep()
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("usage: backstep") and "sessions" in result.stderr


def test_help_asked_for_goes_to_stdout():
    result = _backstep("--help")
    assert result.returncode == 0 and result.stdout.startswith("usage: backstep") and result.stderr == ""


def test_bare_command_group_is_a_usage_error_on_stderr(capsys):
    assert main(["members"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "usage: backstep members" in out.err


@pytest.fixture
def sessions_db(tmp_path) -> Path:
    db = tmp_path / "s.db"
    make_sessions(db, count=3)
    return db


def test_sessions_json_is_one_array(capsys, sessions_db):
    assert main(["sessions", "--db", str(sessions_db), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert isinstance(rows, list) and len(rows) == 3 and {"id", "program", "status"} <= set(rows[0])


def test_sessions_nl_is_one_object_per_line(capsys, sessions_db):
    assert main(["sessions", "--db", str(sessions_db), "--nl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(isinstance(json.loads(line), dict) for line in lines)


def test_sessions_json_with_no_sessions_is_an_empty_array(capsys, tmp_path):
    db = tmp_path / "s.db"
    make_sessions(db, count=0)
    assert main(["sessions", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_a_display_that_cannot_open_is_one_line_saying_what_to_do(tmp_path):
    (tmp_path / "c.toml").write_text("")
    env = dict(os.environ, SDL_VIDEODRIVER="no-such-driver", SDL_AUDIODRIVER="dummy",
               BACKSTEP_DB=str(tmp_path / "b.db"), BACKSTEP_CONFIG=str(tmp_path / "c.toml"))
    result = _backstep("run", "--sim", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("backstep: ")]
    assert len(lines) == 1 and "display" in lines[0] and "SDL_VIDEODRIVER" in lines[0], result.stderr


def test_gpio_work_folder_is_writable_when_the_current_one_is_not(tmp_path):
    """`sudo -u backstep backstep doctor` from an administrator's home: lgpio gets a folder it can write."""
    python = Path("/usr/bin/python3")
    if os.geteuid() != 0 or not python.exists() or not shutil.which("setpriv"):
        pytest.skip("needs root, setpriv and the system python to run as an unprivileged user")
    def as_nobody(code: str) -> subprocess.CompletedProcess:
        return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", str(python), "-c",
                               "import sys; sys.path.insert(0, sys.argv[1]); " + code, str(ROOT)],
                              capture_output=True, text=True, cwd="/", timeout=60)

    if as_nobody("import app").returncode != 0:
        pytest.skip("the checkout is not readable by an unprivileged user")
    result = as_nobody("from app.cli import prepare_environment; env = {}; prepare_environment(env); "
                       "print(env.get('LG_WD', '-'))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/tmp"                         # / is not writable for that user
    env = {"LG_WD": "/run/backstep"}
    from app.cli import prepare_environment
    prepare_environment(env)
    assert env == {"LG_WD": "/run/backstep"}                       # the unit's own setting stays
