"""``backstep doctor``: one plain line per check, exit 1 on any problem, never a traceback."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest

from app.cli import main
from app.shell.store import Store
from app.ui.pin import hash_pin
from hardware.gpio import NoGpio, make_pin_factory
from hardware.treadmill.simulator import SimulatedTreadmillPort


@pytest.fixture(autouse=True)
def quiet_places(tmp_path, monkeypatch):
    """Keep the doctor off this machine's own config and database."""
    monkeypatch.setenv("BACKSTEP_DB", str(tmp_path / "data" / "backstep.db"))
    monkeypatch.delenv("BACKSTEP_CONFIG", raising=False)
    monkeypatch.delenv("BACKSTEP_ASSETS", raising=False)
    monkeypatch.setenv("BACKSTEP_PROGRAMS", str(tmp_path / "no-own-programs"))
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")  # the sound check opens a mixer: never this machine's device


#: A staff PIN (not the factory one), so checks about other things can pass.
PIN_SET = f'\n[kiosk]\nstaff_pin_hash = "{hash_pin("2468", iterations=1000)}"\n'


def doctor(tmp_path, capsys, config_text: str | None = None, *extra: str, pin: bool = True) -> tuple[int, list[str]]:
    path = tmp_path / "config.toml"
    text = config_text if config_text is not None else ""
    path.write_text(text + (PIN_SET if pin and "[kiosk]" not in text else ""))
    code = main(["--config", str(path), "doctor", *extra])
    out = capsys.readouterr().out
    return code, out.splitlines()


def skip_if_this_machine_has_gpio() -> None:
    try:
        make_pin_factory("")
    except NoGpio:
        return
    pytest.skip("this machine has a working pin factory")


def lines_of(lines: list[str], status: str, check: str) -> list[str]:
    return [line for line in lines if line.split()[:2] == [status, f"{check}:"]]


def test_simulated_station_passes_every_check(tmp_path, capsys):
    code, lines = doctor(tmp_path, capsys, None, "--sim")
    assert code == 0, lines
    assert lines_of(lines, "OK", "config") and lines_of(lines, "OK", "pins")
    assert "reads pulled on GPIO17" in lines_of(lines, "OK", "lanyard")[0]
    assert "GPIO27 released, GPIO22 released" in lines_of(lines, "OK", "rails")[0]
    assert lines_of(lines, "OK", "simulation")
    assert lines_of(lines, "SKIPPED", "treadmill"), "cue mode has no link to probe"
    assert "not created yet" in lines_of(lines, "OK", "database")[0]
    assert lines[-1] == "All checks passed."
    for line in lines[:-1]:
        assert line.split()[0] in ("OK", "PROBLEM", "SKIPPED")


def test_off_a_pi_the_live_sensors_are_skipped(tmp_path, capsys):
    skip_if_this_machine_has_gpio()
    code, lines = doctor(tmp_path, capsys)
    assert code == 0
    assert lines_of(lines, "SKIPPED", "sensors") == [
        "SKIPPED  sensors: no GPIO here: skipped (use --sim to try the simulated station)"]


def test_a_named_pin_factory_that_does_not_load_is_a_problem(tmp_path, capsys):
    code, lines = doctor(tmp_path, capsys, '[gpio]\npin_factory = "abacus"\n')
    assert code == 1
    assert "pin_factory = \"abacus\" does not load" in lines_of(lines, "PROBLEM", "sensors")[0]


def test_config_problems_are_listed_and_the_rest_still_runs(tmp_path, capsys):
    code, lines = doctor(tmp_path, capsys, '[gpio]\nlanyard_pin = "seventeen"\nrail_pin = 3\n')
    assert code == 1
    problems = lines_of(lines, "PROBLEM", "config")
    assert len(problems) == 2
    assert "config.toml: [gpio] lanyard_pin: must be a whole number" in problems[0]
    assert "[gpio] rail_pin: unknown option" in problems[1]
    assert lines_of(lines, "SKIPPED", "config"), "says the rest uses the defaults"
    assert lines_of(lines, "OK", "programs")
    assert lines[-1] == "2 problems found."


def test_shared_and_invalid_pins(tmp_path, capsys):
    code, lines = doctor(tmp_path, capsys, "[gpio]\nlanyard_pin = 22\nrail_pins = [1, 22, 40]\n")
    assert code == 1
    text = "\n".join(lines_of(lines, "PROBLEM", "pins"))
    assert "rail_pins[0] = 1: GPIO1 is ID_SC (HAT EEPROM)" in text
    assert "rail_pins[2] = 40: not a GPIO on the Pi's header" in text
    assert "GPIO22 is used by lanyard_pin and rail_pins[1]" in text
    assert "one or two rails" in text


def test_wiring_that_is_not_fail_safe_is_a_problem(tmp_path, capsys):
    code, lines = doctor(tmp_path, capsys, '[gpio]\nlanyard_active_when = "open"\n', "--sim")
    assert code == 1
    [problem] = lines_of(lines, "PROBLEM", "wiring")
    assert "lanyard_active_when" in problem and "not fail-safe" in problem and '"lanyard pulled"' in problem


CSAFE = '[treadmill]\nmode = "csafe"\nport = "{port}"\n'


def test_simulated_treadmill_answers(tmp_path, capsys):
    code, lines = doctor(tmp_path, capsys, CSAFE.format(port="/nowhere"), "--sim")
    assert code == 0, lines
    [ok] = lines_of(lines, "OK", "treadmill")
    assert "answers: Ready, 0 km/h" in ok


def test_a_real_port_with_a_treadmill_on_it(tmp_path, capsys):
    with SimulatedTreadmillPort(units="mph") as port:
        code, lines = doctor(tmp_path, capsys, CSAFE.format(port=port.path))
    assert code == 0, lines
    assert port.path in lines_of(lines, "OK", "treadmill")[0]


def test_missing_port(tmp_path, capsys):
    code, lines = doctor(tmp_path, capsys, CSAFE.format(port=tmp_path / "ttyUSB9"))
    assert code == 1
    [problem] = lines_of(lines, "PROBLEM", "treadmill")
    assert "no such serial port" in problem and "/dev/serial/by-id" in problem


def test_a_file_that_is_not_a_serial_device(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    code, lines = doctor(tmp_path, capsys, CSAFE.format(port=tmp_path / "notes.txt"))
    assert code == 1
    assert "not a serial device" in lines_of(lines, "PROBLEM", "treadmill")[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may open any file")
def test_a_port_this_user_may_not_open_names_the_group(tmp_path, capsys):
    import grp

    port = tmp_path / "ttyUSB0"
    port.write_text("")
    port.chmod(0)
    code, lines = doctor(tmp_path, capsys, CSAFE.format(port=port))
    assert code == 1
    group = grp.getgrgid(port.stat().st_gid).gr_name
    assert f"permission denied; add the user to the {group} group" in lines_of(lines, "PROBLEM", "treadmill")[0]


def test_a_silent_treadmill(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("app.shell.doctor.PROBE_TIMEOUT_S", 0.5)  # silence is silence; no need to wait 3 s
    with SimulatedTreadmillPort() as port:
        port.simulator.pull_cable()
        code, lines = doctor(tmp_path, capsys, CSAFE.format(port=port.path))
    assert code == 1
    assert "did not answer" in lines_of(lines, "PROBLEM", "treadmill")[0]


def test_an_existing_database_is_checked(tmp_path, capsys, monkeypatch):
    db = tmp_path / "data" / "backstep.db"
    db.parent.mkdir()
    Store(db).close()
    code, lines = doctor(tmp_path, capsys)
    assert code == 0
    assert "writable, intact, 0 sessions" in lines_of(lines, "OK", "database")[0]


def test_a_damaged_database_is_a_problem(tmp_path, capsys):
    db = tmp_path / "data" / "backstep.db"
    db.parent.mkdir()
    db.write_bytes(b"this is not SQLite" * 100)
    code, lines = doctor(tmp_path, capsys)
    assert code == 1
    assert "not a readable SQLite database" in lines_of(lines, "PROBLEM", "database")[0]


def test_a_database_the_kiosk_found_damaged_is_a_problem(tmp_path, capsys):
    """The kiosk's full check after READY=1 marked it; the doctor says so, and what the next start does."""
    from app.shell.db_check import marker_of

    db = tmp_path / "data" / "backstep.db"
    db.parent.mkdir()
    Store(db).close()
    marker_of(db).write_text("2026-11-21T16:45:28 the database is damaged (Tree 5 page 812: btreeInitPage() returns error code 11)\n")
    code, lines = doctor(tmp_path, capsys)
    assert code == 1
    [line] = lines_of(lines, "PROBLEM", "database")
    assert "found damaged by the station's full check" in line and "Tree 5 page 812" in line
    assert "next start moves it aside" in line


def test_a_database_path_under_a_file(tmp_path, capsys, monkeypatch):
    (tmp_path / "afile").write_text("")
    code, lines = doctor(tmp_path, capsys, None, "--db", str(tmp_path / "afile" / "sub" / "b.db"))
    assert code == 1
    assert "is a file, not a folder" in lines_of(lines, "PROBLEM", "database")[0]


def test_missing_assets(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "assets"
    (empty / "programs").mkdir(parents=True)
    monkeypatch.setenv("BACKSTEP_ASSETS", str(empty))
    code, lines = doctor(tmp_path, capsys)
    assert code == 1
    text = "\n".join(lines_of(lines, "PROBLEM", "assets") + lines_of(lines, "PROBLEM", "programs"))
    assert "no fonts" in text and "no sounds" in text and "no program loads" in text


def test_json_output(tmp_path, capsys):
    code, lines = doctor(tmp_path, capsys, "[gpio]\nlanyard_pin = 27\n", "--json", "--sim")
    data = json.loads("\n".join(lines))
    assert code == 1 and data["ok"] is False and data["problems"] == 1 and data["sim"] is True
    assert {"check", "status", "message"} <= set(data["checks"][0])
    assert [c for c in data["checks"] if c["status"] == "PROBLEM"][0]["check"] == "pins"


def test_doctor_never_creates_the_database(tmp_path, capsys):
    doctor(tmp_path, capsys, None, "--sim")
    assert not (tmp_path / "data" / "backstep.db").exists()
    assert not (tmp_path / "data").exists()


def test_sqlite_check_is_read_only(tmp_path, capsys):
    db = tmp_path / "data" / "backstep.db"
    db.parent.mkdir()
    Store(db).close()
    before = db.stat().st_mtime_ns
    doctor(tmp_path, capsys)
    assert db.stat().st_mtime_ns == before
    sqlite3.connect(db).close()


def test_gpio_that_is_there_but_unusable_is_a_problem_not_a_skip(tmp_path, capsys, monkeypatch):
    from app.shell import doctor as doctor_module

    chip = tmp_path / "gpiochip0"
    chip.write_text("")
    monkeypatch.setattr(doctor_module, "gpio_chips", lambda: [chip])
    skip_if_this_machine_has_gpio()
    code, lines = doctor(tmp_path, capsys)
    assert code == 1
    [problem] = lines_of(lines, "PROBLEM", "sensors")
    assert "this machine has GPIO" in problem and "lgpio" in problem


def test_gpio_chips_lists_the_character_devices(tmp_path):
    from app.shell.doctor import gpio_chips, gpio_fix

    assert gpio_chips(tmp_path) == []
    (tmp_path / "gpiochip4").write_text("")
    (tmp_path / "gpiochip0").write_text("")
    chips = gpio_chips(tmp_path)
    assert [c.name for c in chips] == ["gpiochip0", "gpiochip4"]
    assert "pip install 'backstep[pi]'" in gpio_fix(chips)  # readable here: the library is what is missing


# -- the staff PIN ---------------------------------------------------------------------------------

def test_the_factory_pin_is_a_problem_on_a_real_station(tmp_path, capsys):
    code, lines = doctor(tmp_path, capsys, "", pin=False)
    assert code == 1
    [problem] = lines_of(lines, "PROBLEM", "staff-pin")
    assert "factory PIN 0000" in problem and "staff-pin --write" in problem
    assert lines[-1] != "All checks passed."


def test_the_simulated_station_may_keep_the_factory_pin(tmp_path, capsys):
    code, lines = doctor(tmp_path, capsys, "", "--sim", pin=False)
    assert code == 0 and lines_of(lines, "SKIPPED", "staff-pin")


def test_a_pin_set_on_the_kiosk_counts(tmp_path, capsys):
    from app.shell.staff_pin import pin_file, save_pin_file

    save_pin_file(pin_file(tmp_path / "data" / "backstep.db"), hash_pin("97531", iterations=1000))
    code, lines = doctor(tmp_path, capsys, "", pin=False)
    assert lines_of(lines, "OK", "staff-pin"), lines


# -- which files, and whose ------------------------------------------------------------------------

@pytest.fixture
def installed_station(tmp_path, monkeypatch):
    """An installed station's layout (/etc/backstep, /var/lib/backstep) under tmp_path."""
    from app import paths

    etc, state = tmp_path / "etc" / "backstep", tmp_path / "var" / "lib" / "backstep"
    etc.mkdir(parents=True)
    state.mkdir(parents=True)
    (etc / "config.toml").write_text('[station]\nid = "clinic-1"\n' + PIN_SET)
    store = Store(state / "backstep.db")
    store.close()
    monkeypatch.setattr(paths, "APPLIANCE_CONFIG", etc / "config.toml")
    monkeypatch.setattr(paths, "APPLIANCE_STATE_DIR", state)
    monkeypatch.delenv("BACKSTEP_DB", raising=False)
    return etc / "config.toml", state / "backstep.db"


def test_doctor_says_it_checked_the_kiosks_config_and_database(installed_station, capsys):
    config, db = installed_station
    assert main(["doctor"]) in (0, 1)
    lines = capsys.readouterr().out.splitlines()
    [loaded] = lines_of(lines, "OK", "config")
    assert str(config) in loaded and "the kiosk's config" in loaded
    [database] = lines_of(lines, "OK", "database")
    assert str(db) in database and "the kiosk's database" in database


def test_doctor_says_when_it_checked_someone_elses_files(installed_station, tmp_path, capsys):
    other = tmp_path / "mine.toml"
    other.write_text(PIN_SET)
    main(["--config", str(other), "doctor", "--db", str(tmp_path / "mine.db")])
    lines = capsys.readouterr().out.splitlines()
    assert "NOT the kiosk's config" in lines_of(lines, "OK", "config")[0]
    assert "NOT the kiosk's database" in lines_of(lines, "OK", "database")[0]


AS_NOBODY = """
import sys
from pathlib import Path
import app.paths as paths
paths.APPLIANCE_CONFIG = Path(sys.argv[1])
paths.APPLIANCE_STATE_DIR = Path(sys.argv[2])
from app.cli import main
sys.argv = ["backstep", *sys.argv[3:]]
sys.exit(main(sys.argv[1:]))
"""


def run_as_nobody(config, state, *args):
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root to drop to an unprivileged user (setpriv)")
    root = Path(__file__).resolve().parent.parent
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "PYTHONPATH": str(root), "BACKSTEP_PROGRAMS": "/nonexistent",
           "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    return subprocess.run(["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups",
                           sys.executable, "-c", AS_NOBODY, str(config), str(state), *args],
                          capture_output=True, text=True, env=env, cwd="/", timeout=60)


@pytest.fixture
def locked_station():
    """An installed station's files as install.sh leaves them, in a folder anyone may enter: the
    config 0640 and the state folder 0700, neither readable by `nobody`."""
    import shutil
    import tempfile
    from pathlib import Path

    top = Path(tempfile.mkdtemp(prefix="backstep-station-", dir="/tmp"))
    os.chmod(top, 0o755)
    config, state = top / "config.toml", top / "state"
    config.write_text(PIN_SET)
    os.chmod(config, 0o640)
    state.mkdir(mode=0o700)
    Store(state / "backstep.db").close()
    yield config, state
    shutil.rmtree(top)


def test_an_admin_who_may_not_read_the_config_is_told_what_to_do(locked_station):
    config, state = locked_station
    result = run_as_nobody(config, state, "doctor")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    [problem] = lines_of(lines, "PROBLEM", "config")
    assert f"{config}: user nobody may not read the config" in problem
    assert "sudo -u backstep backstep doctor" in problem
    [database] = lines_of(lines, "PROBLEM", "database")
    assert str(state / "backstep.db") in database and "may not enter" in database, database
    assert "Traceback" not in result.stderr


def test_sessions_as_an_admin_names_the_file_the_user_and_the_fix(locked_station):
    config, state = locked_station
    os.chmod(config, 0o644)  # readable config: the database is what stops this user
    result = run_as_nobody(config, state, "sessions")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert str(state / "backstep.db") in line and "user nobody" in line
    assert "sudo -u backstep backstep sessions" in line


def test_root_does_not_create_the_kiosks_database(installed_station, capsys):
    """A database made by `sudo backstep simulate` would be root's: the kiosk could not write it."""
    if os.geteuid() != 0:
        pytest.skip("only root creates files owned by root")
    _, db = installed_station
    db.unlink()
    assert main(["members", "list"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert str(db) in line and "sudo -u backstep" in line
    assert not db.exists()


def test_a_database_from_a_newer_backstep_is_a_problem(tmp_path, capsys):
    """The doctor gives the store's verdict: a file a start would move aside is never called intact."""
    import sqlite3

    from app.shell.schema_version import SCHEMA_VERSION

    db = tmp_path / "data" / "backstep.db"
    db.parent.mkdir()
    Store(db).close()
    with sqlite3.connect(db) as conn:
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    code, lines = doctor(tmp_path, capsys)
    assert code == 1
    [line] = lines_of(lines, "PROBLEM", "database")
    assert "newer Backstep" in line and "moves it aside" in line
