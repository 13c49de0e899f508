"""``backstep treadmill probe|set`` through app.cli.main, against the simulator on a real pty."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import serial

from app.cli import main
from hardware.treadmill.protocol import Cmd, State, Unit
from hardware.treadmill.simulator import SimulatedTreadmillPort

MPH = 1.609344


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[safety]\nunits = "mph"\nbackward_speed = 2.0\nforward_speed = 4.0\nbackward_incline = 5\n')
    return str(path)


@pytest.fixture
def treadmill():
    with SimulatedTreadmillPort(units="mph", accel_kmh_per_s=10.0) as port:
        yield port


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *words):
    assert code != 0
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("backstep: ")
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], lines[0]


def test_probe_prints_state_speed_incline_distance(capsys, config, treadmill):
    code, out, err = run(capsys, "--config", config, "treadmill", "probe", "--port", treadmill.path)
    assert code == 0, err
    assert "state Ready" in out and "speed 0.0 mph" in out and "incline 0.0 %" in out and "distance 0 m" in out


def test_probe_json(capsys, config, treadmill):
    code, out, _ = run(capsys, "--config", config, "treadmill", "probe", "--port", treadmill.path, "--json")
    assert code == 0
    result = json.loads(out)
    assert result["state"] == "Ready"
    assert {"speed_kmh", "incline_pct", "distance_m", "port"} <= set(result)
    assert result["units"]["speed"] == Unit.TENTH_MPH.name.lower()


def test_set_in_mph_runs_the_belt_and_probe_sees_it(capsys, config, treadmill):
    sim = treadmill.simulator
    code, out, err = run(capsys, "--config", config, "treadmill", "set", "--port", treadmill.path,
                         "--speed", "1.5", "--units", "mph", "--incline", "2")
    assert code == 0, err
    assert "--speed 0" in out                      # tells the installer how to stop it
    assert sim.state == State.IN_USE
    assert sim.target_speed_kmh == pytest.approx(1.5 * MPH, abs=0.01)
    sent = [c for r in sim.received for c in r.commands if c.id == Cmd.SET_SPEED]
    assert sent and all(c.data[2] == Unit.TENTH_MPH for c in sent)   # in the treadmill's own unit
    code, out, _ = run(capsys, "--config", config, "treadmill", "probe", "--port", treadmill.path, "--json")
    assert json.loads(out)["state"] == "InUse"


def test_set_zero_stops_the_belt(capsys, config, treadmill):
    sim = treadmill.simulator
    assert run(capsys, "--config", config, "treadmill", "set", "--port", treadmill.path,
               "--speed", "2", "--units", "kmh")[0] == 0
    code, out, _ = run(capsys, "--config", config, "treadmill", "set", "--port", treadmill.path,
                       "--speed", "0", "--units", "mph")
    assert code == 0 and "stop" in out
    assert sim.target_speed_kmh == 0.0 and sim.state == State.FINISHED


def test_value_above_the_cap_is_refused_not_clamped(capsys, config, treadmill):
    sim = treadmill.simulator
    code, _, err = run(capsys, "--config", config, "treadmill", "set", "--port", treadmill.path,
                       "--speed", "2.5", "--units", "mph")
    assert_one_line_error(code, err, "2.5 mph", "cap of 2.0 mph", "backward_speed", config)
    assert sim.commanded_speeds() == [] and sim.state == State.READY
    # The forward cap is looser, and chosen on purpose.
    code, _, err = run(capsys, "--config", config, "treadmill", "set", "--port", treadmill.path,
                       "--speed", "2.5", "--units", "mph", "--direction", "forward")
    assert code == 0, err
    code, _, err = run(capsys, "--config", config, "treadmill", "set", "--port", treadmill.path,
                       "--speed", "1", "--units", "mph", "--incline", "6")
    assert_one_line_error(code, err, "--incline 6", "backward_incline")


def test_a_cap_in_kmh_against_a_cap_in_mph(capsys, config, treadmill):
    # 3.3 km/h is 2.05 mph: above the 2.0 mph backward cap, though the number looks small.
    code, _, err = run(capsys, "--config", config, "treadmill", "set", "--port", treadmill.path,
                       "--speed", "3.3", "--units", "kmh")
    assert_one_line_error(code, err, "3.3 km/h", "cap")
    # Exactly at the cap is allowed.
    code, _, err = run(capsys, "--config", config, "treadmill", "set", "--port", treadmill.path,
                       "--speed", "2.0", "--units", "mph")
    assert code == 0, err


@pytest.mark.parametrize("value", ["-1", "nan", "inf"])
def test_nonsense_speed_is_refused(capsys, config, treadmill, value):
    code, _, err = run(capsys, "--config", config, "treadmill", "set", "--port", treadmill.path,
                       "--speed", value, "--units", "mph")
    assert_one_line_error(code, err, "--speed")


def test_missing_port(capsys, config, tmp_path):
    code, _, err = run(capsys, "--config", config, "treadmill", "probe", "--port", str(tmp_path / "ttyUSB7"))
    assert_one_line_error(code, err, "no such serial port")
    code, _, err = run(capsys, "--config", config, "treadmill", "set", "--port", str(tmp_path / "ttyUSB7"),
                       "--speed", "1", "--units", "mph")
    assert_one_line_error(code, err, "no such serial port")


def test_port_in_use(capsys, config, treadmill):
    holder = serial.serial_for_url(treadmill.path, exclusive=True)
    try:
        code, _, err = run(capsys, "--config", config, "treadmill", "probe", "--port", treadmill.path)
    finally:
        holder.close()
    assert_one_line_error(code, err, "in use")


def test_silent_treadmill(capsys, config, treadmill):
    treadmill.simulator.pull_cable()
    code, _, err = run(capsys, "--config", config, "treadmill", "probe", "--port", treadmill.path, "--timeout", "0.5")
    assert_one_line_error(code, err, "did not answer within 0.5 s")
    code, _, err = run(capsys, "--config", config, "treadmill", "set", "--port", treadmill.path,
                       "--speed", "1", "--units", "mph", "--timeout", "0.5")
    assert_one_line_error(code, err, "did not answer")


def test_garbled_treadmill(capsys, config, treadmill):
    treadmill.simulator.corrupt_answers(True)
    code, _, err = run(capsys, "--config", config, "treadmill", "probe", "--port", treadmill.path, "--timeout", "0.5")
    assert_one_line_error(code, err, "garbled", "9600")


def test_bad_url(capsys, config):
    code, _, err = run(capsys, "--config", config, "treadmill", "probe", "--port", "nope://x")
    assert_one_line_error(code, err, "nope://x")


def test_port_defaults_to_the_config(capsys, tmp_path, treadmill):
    path = tmp_path / "config.toml"
    path.write_text(f'[treadmill]\nmode = "csafe"\nport = "{treadmill.path}"\n')
    code, out, err = run(capsys, "--config", str(path), "treadmill", "probe")
    assert code == 0, err
    assert treadmill.path in out


def test_help_lists_both_commands(capsys):
    with pytest.raises(SystemExit):
        main(["treadmill", "--help"])
    out = capsys.readouterr().out
    assert "probe" in out and "set" in out


def test_installer_can_run_the_simulator_by_hand_and_probe_it(capsys, config):
    """``python -m hardware.treadmill.simulator --pty`` prints a port the commands can use."""
    process = subprocess.Popen([sys.executable, "-m", "hardware.treadmill.simulator", "--pty", "--units", "mph"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        path = process.stdout.readline().strip()
        assert path.startswith("/dev/")
        code, out, err = run(capsys, "--config", config, "treadmill", "probe", "--port", path, "--json")
        assert code == 0, err
        assert json.loads(out)["units"]["speed"] == "tenth_mph"
    finally:
        process.terminate()
        process.wait(timeout=5)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("setpriv"),
                    reason="needs root to run the command as an unprivileged user")
def test_permission_denied_names_the_dialout_group(treadmill):
    """A real EACCES: the port belongs to root (as /dev/ttyUSB0 belongs to root:dialout), and the
    command runs as a user outside the group."""
    os.chmod(treadmill.path, 0o600)
    env = {k: v for k, v in os.environ.items() if k != "BACKSTEP_CONFIG"}
    env["HOME"] = "/nonexistent"
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-m", "app", "treadmill", "probe", "--port", treadmill.path],
        capture_output=True, text=True, cwd="/", env=env, timeout=30)
    assert_one_line_error(result.returncode, result.stderr, "permission denied", "dialout",
                          "sudo usermod -aG dialout $USER")


def test_probe_json_failure_is_a_json_error_object(capsys, config, tmp_path):
    """A script reading --json gets an object saying what went wrong, and a non-zero exit status."""
    missing = str(tmp_path / "no-such-port")
    code, out, err = run(capsys, "--config", config, "treadmill", "probe", "--port", missing, "--json", "--timeout", "0.5")
    assert code != 0
    result = json.loads(out)
    assert result["ok"] is False and result["port"] == missing and missing in result["error"]
    assert_one_line_error(code, err, missing)  # and the usual one line for a person


def test_set_json_failure_is_a_json_error_object(capsys, config):
    code, out, err = run(capsys, "--config", config, "treadmill", "set", "--port", "loop://", "--speed", "99",
                         "--units", "mph", "--json")
    assert code != 0
    result = json.loads(out)
    assert result["ok"] is False and "cap" in result["error"]


def test_probe_json_failure_names_the_port_taken_from_the_config(capsys, tmp_path):
    """With no --port, the JSON error names the config's port: the one that was tried."""
    missing = str(tmp_path / "no-such-port")
    config = tmp_path / "config.toml"
    config.write_text(f'[treadmill]\nport = "{missing}"\n')
    code, out, _ = run(capsys, "--config", str(config), "treadmill", "probe", "--json", "--timeout", "0.5")
    assert code != 0
    result = json.loads(out)
    assert result["ok"] is False and result["port"] == missing
