"""The station config: every accepted value is finite and inside its documented hard range; the caps
can be lowered, never raised past their ceilings; every problem is one line naming section and option."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pytest

from app.cli import main
from app.config import (
    CAP_CEILINGS_KMH,
    CAP_CEILINGS_PCT,
    OPTIONS,
    Config,
    ConfigError,
    load_config,
    option_default,
    parse_config,
)
from app.core.units import to_kmh

DOCS = Path(__file__).resolve().parent.parent / "docs" / "config.md"


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "station.toml")
    return caught.value.problems


@pytest.mark.parametrize("value", ["inf", "1000", "1e308", "nan", "-inf", "4.6", "0", "-1"])
def test_the_backward_speed_cap_cannot_be_lifted_or_made_meaningless(value):
    [problem] = problems_of(f"[safety]\nunits = \"mph\"\nbackward_speed = {value}\n")
    assert problem.startswith("station.toml: [safety] backward_speed:"), problem


def test_a_cap_in_kmh_is_checked_against_the_same_ceiling():
    ceiling = CAP_CEILINGS_KMH["backward_speed"]
    assert parse_config(f"[safety]\nunits = \"kmh\"\nbackward_speed = {ceiling:.3f}\n").safety.caps.backward_speed_kmh <= ceiling
    [problem] = problems_of(f"[safety]\nunits = \"kmh\"\nbackward_speed = {ceiling + 0.1:.3f}\n")
    assert "ceiling" in problem and "km/h" in problem


def test_caps_can_be_lowered():
    config = parse_config('[safety]\nunits = "mph"\nbackward_speed = 2.0\nforward_incline = 0\n')
    assert config.safety.caps.backward_speed_kmh == pytest.approx(to_kmh(2.0, "mph"))
    assert config.safety.caps.forward_incline_pct == 0


@pytest.mark.parametrize("option", ["rails_grace_s", "rails_hold_s", "resume_countdown_s", "start_countdown_s",
                                    "turnaround_s", "phase_warning_s", "cooldown_s"])
@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1", "3600", "1" + "0" * 400])
def test_safety_timers_are_finite_positive_and_not_hours(option, value):
    [problem] = problems_of(f"[safety]\n{option} = {value}\n")
    assert problem.startswith(f"station.toml: [safety] {option}:"), problem


@pytest.mark.parametrize("section, option, value", [
    ("treadmill", "silence_timeout_s", "nan"), ("treadmill", "silence_timeout_s", "0"),
    ("treadmill", "silence_timeout_s", "3600"), ("treadmill", "poll_interval_s", "inf"),
    ("treadmill", "ramp_kmh_per_s", "1e9"), ("treadmill", "baudrate", "12345"),
    ("gpio", "rearm_debounce_s", "nan"), ("gpio", "rearm_debounce_s", "-0.1"), ("gpio", "rearm_debounce_s", "60"),
    ("gpio", "lanyard_pin", "99999999999999999999"), ("gpio", "roller_circumference_mm", "inf"),
    ("gpio", "pulses_per_revolution", "0"), ("gpio", "rail_pins", "[]"), ("gpio", "rail_pins", "[1e3]"),
    ("station", "id", '"../../etc"'), ("station", "name", '""'), ("kiosk", "staff_pin_hash", '"0000"'),
    ("kiosk", "staff_pin_hash", '"pbkdf2_sha256$999999999999$00$00"'), ("export", "mount_dir", '"relative"'),
    ("kiosk", "sound", '"yes"'), ("kiosk", "fullscreen", "1"), ("station", "units", "1"),
])
def test_every_option_has_a_type_and_a_range(section, option, value):
    [problem] = problems_of(f"[{section}]\n{option} = {value}\n")
    assert problem.startswith(f"station.toml: [{section}] {option}:"), problem
    assert "\n" not in problem and len(problem) < 300


def test_the_link_timeout_must_leave_room_for_polls():
    [problem] = problems_of("[treadmill]\npoll_interval_s = 1.5\nsilence_timeout_s = 2.0\n")
    assert "[treadmill] silence_timeout_s" in problem and "poll_interval_s" in problem


def test_all_problems_at_once_one_line_each():
    problems = problems_of('[safety]\nbackward_speed = inf\nrails_grace_s = nan\nbogus = 1\n'
                           '[gpio]\nlanyard_pin = "x"\n[kiosk]\nsound = 1\n[nope]\na = 1\n')
    assert len(problems) == 6
    assert any("[safety] bogus: unknown option" in p for p in problems)
    assert any("[nope]: unknown section" in p for p in problems)
    assert all("\n" not in p for p in problems)


def test_the_default_config_is_inside_every_range():
    for (section, option), spec in OPTIONS.items():
        value = option_default(section, option)
        if spec.kind == "number":
            assert spec.low <= value <= spec.high, (section, option, value)
        elif spec.kind == "cap":
            ceiling = {**CAP_CEILINGS_KMH, **CAP_CEILINGS_PCT}[option]
            assert 0 <= value <= ceiling, (option, value)


def test_a_long_value_is_not_echoed_in_full():
    [problem] = problems_of(f'[station]\nid = "{"x" * 5000}"\n')
    assert len(problem) < 300


@pytest.mark.parametrize("text", ["a = " + "[" * 2000 + "]" * 2000, "a = 1" + "0" * 5000, "\x00", "[[x]]\n" * 3])
def test_hostile_toml_is_a_config_error(text):
    with pytest.raises(ConfigError):
        parse_config(text, "station.toml")


def test_a_fifo_or_a_huge_file_is_refused_not_read(tmp_path):
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(fifo)
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * 2_000_000 + "\n")
    with pytest.raises(ConfigError, match="too large"):
        load_config(big)


# -- every consumer loads through the same validated loader ---------------------------------------

BAD = "[safety]\nbackward_speed = inf\n"


@pytest.mark.parametrize("argv", [
    ["doctor"], ["programs", "list"], ["programs", "check", "beginner-flat"], ["sessions"],
    ["simulate", "--program", "beginner-flat", "--script", "{script}"], ["export", "--to", "{tmp}"],
    ["treadmill", "probe", "--port", "loop://"], ["members", "list"], ["demo", "--headless", "--screenshots", "{tmp}/s"],
])
def test_every_command_refuses_a_config_that_lifts_a_cap(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BACKSTEP_DB", str(tmp_path / "x.db"))
    config = tmp_path / "config.toml"
    config.write_text(BAD)
    script = tmp_path / "s.txt"
    script.write_text("0 lanyard clipped\n0 rails held\n1 tap start\n30 end\n")
    argv = [a.format(script=script, tmp=tmp_path) for a in argv]
    code = main(["--config", str(config), *argv])
    out = capsys.readouterr()
    assert code == 1
    assert "[safety] backward_speed" in out.out + out.err
    assert "Traceback" not in out.err


def test_the_kiosk_gets_a_service_screen_for_a_config_that_lifts_a_cap(tmp_path):
    from app.shell.resilience import load_config_or_service

    path = tmp_path / "config.toml"
    path.write_text(BAD)
    config, screen = load_config_or_service(path)
    assert screen is not None and any("[safety] backward_speed" in m for m in screen.messages)
    assert config == Config()


# -- docs/config.md documents every option with its range -----------------------------------------

def test_docs_list_every_option_with_its_range():
    text = DOCS.read_text(encoding="utf-8")
    for (section, option), spec in OPTIONS.items():
        row = re.search(rf"^\|\s*`{option}`\s*\|.*$", text[text.index(f"## [{section}]"):], re.M)
        assert row, f"[{section}] {option} is not in docs/config.md"
        if spec.kind == "number":
            assert spec.range_text() in row.group(0), (section, option, spec.range_text())
