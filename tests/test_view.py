"""The view (app.core.view): one screen per safety state, typed fields (Link, PauseReason) the scenes
compare, and the STATUS line (docs/architecture.md, systemd)."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings

from app.core import record
from app.core.events import (
    LanyardClipped,
    LanyardPulled,
    LinkLost,
    PauseTapped,
    ProgramChosen,
    RailsHeld,
    ResumeTapped,
    StartTapped,
    StopTapped,
    TreadmillReported,
)
from app.core.member import Member
from app.core.safety import Link, Mode, PauseReason, step
from app.core.view import ACTIVE_SCREENS, SAFETY_SCREENS, Screen, build_view, status_line

try:
    from tests.strategies import scenarios
    from tests.test_safety_rules import CFG, Station, make_program
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from strategies import scenarios
    from test_safety_rules import CFG, Station, make_program

PROGRAM = make_program({"name": "Warm-up", "seconds": 120, "speed": 0.5},
                       {"name": "Climb", "seconds": 60, "speed": 0.8, "incline": 2},
                       {"name": "Turn", "seconds": 60, "speed": 1.0, "direction": "forward"})


def view_of(station, at=None):
    return build_view(station.state, station.now if at is None else at, CFG)


def test_home_screen():
    view = view_of(Station())
    assert view.screen is Screen.HOME
    assert view.status_line == "idle: home screen"
    assert view.program_id is None and view.phase is None
    assert not view.start_enabled


def test_preflight_lists_live_checks_and_enables_start_only_when_all_pass():
    station = Station(link=Link.UP)
    station.send(ProgramChosen(PROGRAM), 0.0)
    view = view_of(station)
    assert view.screen is Screen.PREFLIGHT
    assert view.status_line == "ready: Test"
    checks = {c.key: c for c in view.checks}
    assert not checks["check_lanyard"].ok and not checks["check_rails"].ok
    assert checks["check_link"].ok and checks["check_link"].live
    assert not checks["check_facing"].live and not checks["check_speed"].live
    assert not view.start_enabled
    station.send(LanyardClipped())
    assert not view_of(station).start_enabled
    station.send(RailsHeld())
    view = view_of(station)
    assert view.start_enabled
    assert view.session_left_s == PROGRAM.total_seconds and view.progress == 0
    assert view.phase.name == "Warm-up" and view.next_phase.name == "Climb"
    station.send(LinkLost())
    assert not view_of(station).start_enabled


def test_cue_mode_link_check_is_not_live_but_passes():
    station = Station(link=Link.NONE)
    station.send(ProgramChosen(PROGRAM), 0.0)
    check = {c.key: c for c in view_of(station).checks}["check_link"]
    assert check.ok and not check.live


def test_countdown_shows_whole_seconds_left():
    station = Station()
    station.ready(PROGRAM)
    station.send(StartTapped(), 0.0)
    assert view_of(station, 0.0).countdown == 3
    assert view_of(station, 0.2).countdown == 3
    assert view_of(station, 1.0).countdown == 2
    assert view_of(station, 2.9).countdown == 1
    view = view_of(station, 1.5)
    assert view.screen is Screen.COUNTDOWN and view.screen in ACTIVE_SCREENS
    assert view.status_line == "starting: Test"


def test_running_view_and_status_line():
    station = Station()
    t0 = station.start(PROGRAM)
    view = view_of(station, t0 + 40.0)
    assert view.screen is Screen.RUNNING and view.screen in ACTIVE_SCREENS
    assert view.status_line == "running: Warm-up 1:20 left"
    assert view.phase.name == "Warm-up" and view.phase.speed == 0.5 and view.phase.direction == "backward"
    assert view.phase_left_s == pytest.approx(80.0)
    assert view.session_left_s == pytest.approx(200.0)
    assert view.active_s == pytest.approx(40.0)
    assert view.progress == pytest.approx(40 / 240)
    assert view.phase_progress == pytest.approx(40 / 120)
    assert not view.warning
    assert view_of(station, t0 + 39.5).status_line == "running: Warm-up 1:21 left"
    warned = view_of(station, t0 + 111.0)
    assert warned.warning, "within the last phase_warning_s seconds before a change"
    station.tick(t0 + 120.0)
    assert view_of(station).status_line == "running: Climb 1:00 left"


def test_running_view_in_the_members_units():
    station = Station()
    t0 = station.start(PROGRAM, Member(3, "Kim", units="kmh"))
    view = view_of(station, t0 + 1)
    assert view.units == "kmh" and view.unit_label == "km/h"
    assert view.phase.speed == pytest.approx(0.8)    # 0.5 mph
    station.send(TreadmillReported(speed_kmh=0.8), t0 + 2)
    assert view_of(station).actual_speed == pytest.approx(0.8)


def test_rails_grace_flag_then_paused_rails_screen_with_hold_progress():
    station = Station()
    t0 = station.start(PROGRAM)
    from app.core.events import RailsReleased

    station.send(RailsReleased(), t0 + 10.0)
    assert view_of(station).rails_grace
    station.tick(t0 + 11.0)
    view = view_of(station)
    assert view.screen is Screen.PAUSED_RAILS and view.screen in SAFETY_SCREENS
    assert view.status_line == "paused: rails released"
    assert view.pause_reason is PauseReason.RAILS
    assert view.pauses == 1
    assert view.hold_progress == 0.0
    station.send(RailsHeld(), t0 + 20.0)
    assert view_of(station, t0 + 21.0).hold_progress == pytest.approx(0.5)
    station.tick(t0 + 22.0)
    view = view_of(station, t0 + 22.0)
    assert view.screen is Screen.RESUMING and view.status_line == "resuming"
    assert view.countdown == 3


def test_paused_by_the_user_and_by_the_link():
    station = Station(link=Link.UP)
    t0 = station.start(PROGRAM)
    station.send(PauseTapped(), t0 + 5.0)
    view = view_of(station)
    assert view.screen is Screen.PAUSED_USER and view.status_line == "paused: by the user"
    assert view.active_s == pytest.approx(5.0)
    assert view_of(station, t0 + 500.0).active_s == pytest.approx(5.0), "paused time is not program time"
    station.send(ResumeTapped(), t0 + 6.0)
    station.tick(t0 + 9.0)
    station.send(LinkLost(), t0 + 10.0)
    view = view_of(station)
    assert view.screen is Screen.PAUSED_LINK and view.screen in SAFETY_SCREENS
    assert view.status_line == "paused: treadmill link lost"
    assert view.link is Link.DOWN


def test_turnaround_screen():
    station = Station()
    t0 = station.start(PROGRAM)
    station.tick(t0 + 180.0)
    view = view_of(station)
    assert view.screen is Screen.TURNAROUND
    assert view.status_line == "paused: turn around"
    assert view.phase.name == "Turn" and view.phase.direction == "forward"


def test_estop_screen_and_status_line():
    station = Station()
    t0 = station.start(PROGRAM)
    station.send(LanyardPulled(), t0 + 30.0)
    view = view_of(station)
    assert view.screen is Screen.ESTOP and view.screen in SAFETY_SCREENS
    assert view.status_line == "emergency stop: lanyard pulled"
    assert view.outcome == "emergency_stop"
    assert not view.lanyard_clipped


def test_cooldown_then_summary():
    station = Station()
    t0 = station.start(PROGRAM)
    station.send(StopTapped(), t0 + 130.0)
    view = view_of(station)
    assert view.screen is Screen.COOLDOWN and view.status_line == "cooling down: stopped"
    assert view.phases_completed == 1 and view.phases_total == 3
    station.tick(t0 + 130.0 + CFG.cooldown_s)
    view = view_of(station)
    assert view.screen is Screen.SUMMARY and view.status_line == "finished: stopped"
    assert view.active_s == pytest.approx(130.0)
    assert view.phases_completed == 1


def test_fault_screen_status_line_is_one_short_line():
    station = Station()
    t0 = station.start(PROGRAM)
    broken = record.replace(station.state, program="garbage\nwith a newline" * 20)
    state, _ = step(broken, StopTapped(), t0 + 1, CFG)
    assert state.mode is Mode.FAULT
    view = build_view(state, t0 + 1, CFG)
    assert view.screen is Screen.FAULT and view.screen in SAFETY_SCREENS
    assert view.status_line.startswith("fault: ")
    assert len(view.status_line) <= 120


def test_status_line_is_derived_from_the_view():
    station = Station()
    t0 = station.start(PROGRAM)
    view = view_of(station, t0 + 1)
    assert status_line(view) == view.status_line


MODE_SCREENS = {
    Mode.IDLE: {Screen.HOME}, Mode.READY: {Screen.PREFLIGHT}, Mode.COUNTDOWN: {Screen.COUNTDOWN},
    Mode.RUNNING: {Screen.RUNNING}, Mode.RESUMING: {Screen.RESUMING}, Mode.ESTOP: {Screen.ESTOP},
    Mode.COOLDOWN: {Screen.COOLDOWN}, Mode.SUMMARY: {Screen.SUMMARY}, Mode.FAULT: {Screen.FAULT},
    Mode.PAUSED: {Screen.PAUSED_RAILS, Screen.PAUSED_LINK, Screen.PAUSED_USER, Screen.TURNAROUND},
}
STATUS = re.compile(r"^(running: .+ \d+:\d\d(:\d\d)? left|paused: .+|emergency stop: lanyard pulled|"
                    r"starting: .+|resuming|ready: .+|cooling down: \w+|finished: \w+|idle: home screen)$")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(max_events=30))
def test_every_reachable_state_has_one_screen_and_a_one_line_status(scenario):
    program, member, timed = scenario
    station = Station()
    for now, event in timed:
        station.send(event, now)
        for at in (now, now + 0.5):
            view = build_view(station.state, at, CFG)
            assert view.screen in MODE_SCREENS[station.mode]
            assert STATUS.match(view.status_line), view.status_line
            assert 0.0 <= view.progress <= 1.0 and 0.0 <= view.phase_progress <= 1.0
            assert 0.0 <= view.hold_progress <= 1.0
            assert view.phase_left_s >= 0 and view.session_left_s >= 0
            if view.countdown is not None:
                assert view.countdown >= 1
            if view.screen in ACTIVE_SCREENS:
                assert view.phase is not None
            # The typed boundary: scenes compare members, so a string here would be a silent bug.
            assert view.link is station.state.link
            assert view.pause_reason is station.state.pause_reason


def test_sensor_fault_pause_status_line():
    from app.core.events import SensorFault

    station = Station()
    t0 = station.start(PROGRAM)
    station.send(SensorFault("left rail stuck"), t0 + 5.0)
    view = view_of(station)
    assert view.screen is Screen.PAUSED_USER
    assert view.status_line == "paused: sensor fault"
    assert view.pause_reason is PauseReason.SENSOR


@pytest.mark.parametrize("field, value", [("link", "down"), ("link", None), ("pause_reason", "sensor fault"),
                                          ("pause_reason", "rails released")])
def test_a_view_refuses_a_spelling_where_an_enum_belongs(field, value):
    view = view_of(Station())
    with pytest.raises(TypeError, match=f"View.{field} {value!r}: use a"):
        record.replace(view, **{field: value})


@pytest.mark.parametrize("link, pause_reason", [("up", None), (Link.UP, "user"), (None, PauseReason.USER),
                                                (3, 0)])
def test_a_state_with_an_untyped_link_or_pause_reason_shows_the_fault_screen(link, pause_reason):
    station = Station(link=Link.UP)
    station.start(PROGRAM)
    state = record.replace(station.state, link=link, pause_reason=pause_reason)
    view = build_view(state, station.now, CFG)
    assert view.screen is Screen.FAULT
    assert view.link is (link if isinstance(link, Link) else Link.DOWN)
    assert view.pause_reason is None
