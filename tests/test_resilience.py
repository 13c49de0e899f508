"""Safe mode after failed starts, and the service screen for config errors."""

from __future__ import annotations

import pytest

from app.config import Config
from app.shell.resilience import (
    COUNTER_NAME,
    StartupGuard,
    apply_safe_mode,
    load_config_or_service,
    started_by_systemd,
)

#: What systemd puts in the environment of a Type=notify service it starts (systemd.exec(5)).
BY_SYSTEMD = {"INVOCATION_ID": "0f3c2d1e8a9b4c5d6e7f8091a2b3c4d5", "NOTIFY_SOCKET": "/run/systemd/notify"}


def test_two_starts_without_ready_give_safe_mode(tmp_path):
    guard = StartupGuard(tmp_path)
    assert not guard.begin().safe_mode      # first start
    assert not StartupGuard(tmp_path).begin().safe_mode  # crashed once before READY
    third = StartupGuard(tmp_path).begin()  # crashed twice in a row
    assert third.safe_mode
    assert third.failed_starts == 2
    assert "SAFE MODE" in third.banner and third.status_line == "safe mode"


def test_ready_resets_the_counter(tmp_path):
    for _ in range(2):
        StartupGuard(tmp_path).begin()
    guard = StartupGuard(tmp_path)
    assert guard.begin().safe_mode
    guard.reached_ready()                   # safe mode itself came up: the next start is normal
    assert (tmp_path / COUNTER_NAME).read_text().strip() == "0"
    assert not StartupGuard(tmp_path).begin().safe_mode


def test_a_start_that_reaches_ready_every_time_never_enters_safe_mode(tmp_path):
    for _ in range(5):
        guard = StartupGuard(tmp_path)
        assert not guard.begin().safe_mode
        guard.reached_ready()


def test_garbage_counter_errs_towards_safe_mode(tmp_path):
    (tmp_path / COUNTER_NAME).write_text("\x00\x00garbage")
    assert StartupGuard(tmp_path).begin().safe_mode


def test_unwritable_state_dir_turns_the_guard_off(tmp_path):
    # A plain file where the state folder should be: no counter can be written there, even as root.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    guard = StartupGuard(blocker)
    check = guard.begin()
    assert not check.safe_mode
    assert not guard.enabled
    guard.reached_ready()  # and nothing raises


def test_missing_state_dir_is_created(tmp_path):
    guard = StartupGuard(tmp_path / "state" / "backstep")
    guard.begin()
    assert (tmp_path / "state" / "backstep" / COUNTER_NAME).read_text().strip() == "1"


def test_safe_mode_sends_no_treadmill_commands():
    from app.config import parse_config

    config = parse_config('[treadmill]\nmode = "csafe"\nport = "/dev/treadmill"\n')
    safe = apply_safe_mode(config)
    assert safe.treadmill.mode == "cue"
    assert safe.treadmill.port == "/dev/treadmill"  # everything else kept
    assert config.treadmill.mode == "csafe"         # frozen original untouched


def test_config_errors_give_a_service_screen_not_a_crash(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text('[gpio]\nlanyard_pin = "seventeen"\n[kiosk]\nfullscreen = 3\n[bogus]\nx = 1\n')
    config, screen = load_config_or_service(bad)
    assert isinstance(config, Config)       # defaults, only to draw the screen
    assert screen is not None
    assert len(screen.messages) == 3
    assert any("[gpio] lanyard_pin" in m for m in screen.messages)
    assert any("[kiosk] fullscreen" in m for m in screen.messages)
    assert any("[bogus]" in m for m in screen.messages)
    assert str(bad) in screen.hint
    assert screen.status_line.startswith("service: 3 config problems")
    assert "\n" not in screen.status_line


def test_good_config_gives_no_service_screen(tmp_path):
    good = tmp_path / "config.toml"
    good.write_text('[station]\nid = "gym-2"\n')
    config, screen = load_config_or_service(good)
    assert screen is None
    assert config.station.id == "gym-2"


def test_toml_syntax_error_gives_a_service_screen(tmp_path):
    bad = tmp_path / "config.toml"
    bad.write_text("[station\nid = 1\n")
    _, screen = load_config_or_service(bad)
    assert screen is not None and "TOML syntax" in screen.messages[0]


def test_begin_startup_counts_beside_the_database_and_picks_safe_mode(tmp_path):
    from app.shell.resilience import begin_startup

    config = tmp_path / "config.toml"
    config.write_text('[treadmill]\nmode = "csafe"\n')
    db = tmp_path / "state" / "backstep.db"
    first = begin_startup(config, db, environ=BY_SYSTEMD)
    assert not first.safe_mode and first.service is None
    assert first.config.treadmill.mode == "csafe"
    assert first.status_line("idle: home screen") == "idle: home screen"
    begin_startup(config, db, environ=BY_SYSTEMD)                # died before READY again
    third = begin_startup(config, db, environ=BY_SYSTEMD)
    assert third.safe_mode and third.config.treadmill.mode == "cue"
    assert third.banner.startswith("SAFE MODE")
    assert third.status_line("idle: home screen") == "idle: home screen [safe mode]"
    third.ready()
    assert (tmp_path / "state" / COUNTER_NAME).read_text().strip() == "0"


def test_begin_startup_with_a_broken_config_gives_the_service_status(tmp_path):
    from app.shell.resilience import begin_startup

    config = tmp_path / "config.toml"
    config.write_text("[gpio]\nlanyard_pin = -1\n")
    startup = begin_startup(config, tmp_path / "backstep.db", environ=BY_SYSTEMD)
    assert startup.service is not None
    assert startup.status_line("idle: home screen").startswith("service: 1 config problem ")


@pytest.mark.parametrize("environ", [
    {},                                                   # a shell over SSH
    {"NOTIFY_SOCKET": "/tmp/n"},                          # a hand-made notify socket (the tests do this)
    {"INVOCATION_ID": "0f3c2d1e8a9b4c5d6e7f8091a2b3c4d5"},  # a terminal that is itself a user service
])
def test_a_start_by_hand_is_not_a_start_by_systemd(environ):
    assert not started_by_systemd(environ)
    assert started_by_systemd(BY_SYSTEMD)


def test_running_the_kiosk_by_hand_never_counts_towards_safe_mode(tmp_path):
    """Staff debugging with `backstep run` over SSH must not push the live service into safe mode."""
    from app.shell.resilience import begin_startup

    config = tmp_path / "config.toml"
    config.write_text('[treadmill]\nmode = "csafe"\n')
    db = tmp_path / "state" / "backstep.db"
    for _ in range(5):  # five debugging runs that were killed before READY
        by_hand = begin_startup(config, db, environ={"NOTIFY_SOCKET": "/tmp/n"})
        assert not by_hand.safe_mode and by_hand.config.treadmill.mode == "csafe"
    assert not (tmp_path / "state" / COUNTER_NAME).exists()
    service = begin_startup(config, db, environ=BY_SYSTEMD)
    assert not service.safe_mode and service.check.failed_starts == 0


def test_a_run_by_hand_leaves_the_services_count_alone(tmp_path):
    """Two failed service starts stay counted through a debugging run that reaches READY."""
    from app.shell.resilience import begin_startup

    config = tmp_path / "config.toml"
    config.write_text("")
    db = tmp_path / "backstep.db"
    for _ in range(2):
        begin_startup(config, db, environ=BY_SYSTEMD)
    begin_startup(config, db, environ={}).ready()
    assert (tmp_path / COUNTER_NAME).read_text().strip() == "2"
    assert begin_startup(config, db, environ=BY_SYSTEMD).safe_mode
